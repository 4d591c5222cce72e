//! Sample mails, as real clients and servers write them.

/// A plain customer mail.
pub fn simple(message_id: &str, from: &str, to: &str, subject: &str, body: &str) -> String {
    format!(
        "From: \"Carol Customer\" <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// A reply naming its parent in In-Reply-To and/or References.
pub fn reply(
    message_id: &str,
    from: &str,
    subject: &str,
    in_reply_to: Option<&str>,
    references: &[&str],
) -> String {
    let mut headers = format!(
        "From: <{from}>\r\nTo: support@example.com\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
    );
    if let Some(parent) = in_reply_to {
        headers.push_str(&format!("In-Reply-To: <{parent}>\r\n"));
    }
    if !references.is_empty() {
        let list: Vec<String> = references.iter().map(|r| format!("<{r}>")).collect();
        headers.push_str(&format!("References: {}\r\n", list.join("\r\n ")));
    }
    format!("{headers}Content-Type: text/plain\r\n\r\nThanks!\r\n")
}

/// A multipart mail with a binary attachment, base64-encoded in 76-char lines.
pub fn with_attachment(message_id: &str, subject: &str, name: &str, bytes: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Dan <dan@customer.example>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n\
         --XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\
         --XYZ\r\nContent-Type: application/pdf; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--XYZ--\r\n",
        lines.join("\r\n")
    )
}

/// Gmail's inline forward by a team member.
pub fn gmail_forward(message_id: &str, forwarder: &str, to: &str) -> String {
    format!(
        "From: Alice Admin <{forwarder}>\r\nTo: {to}\r\nSubject: Fwd: Broken invoice\r\n\
         Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
         Can you take this one?\r\n\r\n\
         ---------- Forwarded message ---------\r\n\
         From: Erin Example <erin@customer.example>\r\n\
         Date: Wed, 25 Nov 2026 at 09:12\r\nSubject: Broken invoice\r\n\
         To: Alice Admin <{forwarder}>\r\n\r\nMy invoice total is wrong.\r\n"
    )
}

/// Outlook's inline forward (underscore rule and a header block).
pub fn outlook_forward(message_id: &str, forwarder: &str, to: &str) -> String {
    format!(
        "From: Alice Admin <{forwarder}>\r\nTo: {to}\r\nSubject: FW: Delivery question\r\n\
         Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\n\
         Please answer.\r\n\r\n________________________________\r\n\
         From: Frank Fields <frank@customer.example>\r\nSent: Wednesday, November 25, 2026 9:12 AM\r\n\
         To: Alice Admin <{forwarder}>\r\nSubject: Delivery question\r\n\r\nWhere is my parcel?\r\n"
    )
}

/// Apple Mail's inline forward.
pub fn apple_forward(message_id: &str, forwarder: &str, to: &str) -> String {
    format!(
        "From: Alice Admin <{forwarder}>\r\nTo: {to}\r\nSubject: Fwd: Refund\r\n\
         Message-ID: <{message_id}>\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         FYI\r\n\r\nBegin forwarded message:\r\n\r\n\
         From: Grace Green <grace@customer.example>\r\nSubject: Refund\r\n\
         Date: 25 November 2026 at 09:12:00 CET\r\nTo: {forwarder}\r\n\r\nI want my money back.\r\n"
    )
}

/// A forward with the original attached as message/rfc822.
pub fn attached_forward(message_id: &str, forwarder: &str, to: &str) -> String {
    format!(
        "From: Alice Admin <{forwarder}>\r\nTo: {to}\r\nSubject: Fwd: Login fails\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"B1\"\r\n\r\n\
         --B1\r\nContent-Type: text/plain\r\n\r\nForwarding as attachment.\r\n\
         --B1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"original.eml\"\r\n\r\n\
         From: Heidi Hill <heidi@customer.example>\r\nTo: {forwarder}\r\nSubject: Login fails\r\n\
         Message-ID: <orig-{message_id}>\r\n\r\nI cannot log in.\r\n\
         --B1--\r\n"
    )
}
