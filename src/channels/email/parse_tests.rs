//! Tests of `parse` and `to_inbound` with realistic mails: forwards from
//! the common clients, charsets and transfer encodings, attachments,
//! machine-sent mail and malformed input.

use base64::Engine as _;

use super::*;
use crate::config::{ChannelKind, Config};
use crate::inbound::Inbound;

const CONFIG: &str = r#"
    [storage]
    path = "data"
    [http]
    listen = "127.0.0.1:8080"
    [[agents]]
    id = "alice"
    name = "Alice Agent"
    email = "alice@example.com"
    role = "agent"
    [[inboxes]]
    id = "support"
    name = "Support"
    [[channels]]
    id = "support-email"
    inbox = "support"
    kind = "email"
    address = "support@example.com"
    [[channels]]
    id = "sales-email"
    inbox = "support"
    kind = "email"
    address = "sales@example.com"
    forwarded_sender = "forwarder"
"#;

/// Parses `raw` and builds the Inbound for `channel_id`.
fn inbound_on(raw: &[u8], channel_id: &str) -> Inbound {
    let config: Config = crate::config::parse(CONFIG, std::path::Path::new(".")).unwrap();
    let channel = config.workspace.channel(channel_id).unwrap();
    let ChannelKind::Email(email) = &channel.kind;
    let recipient = email.address.clone();
    parse(raw, false)
        .unwrap()
        .to_inbound(channel, email, &config.workspace, vec![recipient], raw)
}

fn inbound(raw: &str) -> Inbound {
    inbound_on(raw.as_bytes(), "support-email")
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn jane() -> Party {
    Party {
        name: Some("Jane Customer".to_string()),
        address: Some("jane@customer.example".to_string()),
    }
}

fn alice() -> Party {
    Party {
        name: Some("Alice Agent".to_string()),
        address: Some("alice@example.com".to_string()),
    }
}

const GMAIL_FORWARD: &str = r#"MIME-Version: 1.0
Date: Tue, 4 Mar 2025 09:15:02 +0100
Message-ID: <CAF3x+abc123@mail.gmail.com>
Subject: Fwd: Broken widget on order #1234
From: Alice Agent <alice@example.com>
To: support@example.com
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"

Can someone take this one?

---------- Forwarded message ---------
From: Jane Customer <jane@customer.example>
Date: Mon, Mar 3, 2025 at 10:12 AM
Subject: Broken widget on order #1234
To: Alice Agent <alice@example.com>


Hi, the widget arrived broken. Can you send a new one?

Jane

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Can someone take this one?<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: <strong class="gmail_sendername" dir="auto">Jane Customer</strong> <span dir="auto">&lt;<a href="mailto:jane@customer.example">jane@customer.example</a>&gt;</span><br>Date: Mon, Mar 3, 2025 at 10:12 AM<br>Subject: Broken widget on order #1234<br></div><br><div dir="ltr">Hi, the widget arrived broken.</div></div></div>

--000000000000a1b2c3--
"#;

#[test]
fn gmail_forward_is_attributed_to_the_customer() {
    let inbound = inbound(&crlf(GMAIL_FORWARD));
    assert_eq!(inbound.channel, "support-email");
    assert_eq!(inbound.external_id.as_deref(), Some("CAF3x+abc123@mail.gmail.com"));
    assert_eq!(inbound.sender.identity.kind, "email");
    assert_eq!(inbound.sender.identity.handle, "jane@customer.example");
    assert_eq!(inbound.sender.name.as_deref(), Some("Jane Customer"));
    assert_eq!(inbound.sender.email.as_deref(), Some("jane@customer.example"));
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.subject.as_deref(), Some("Broken widget on order #1234"));
    assert_eq!(inbound.flags, vec![MessageFlag::Forwarded]);
    assert_eq!(inbound.to, vec!["support@example.com".to_string()]);
    assert_eq!(inbound.sent_at, Some(1_741_076_102_000));
    assert!(inbound.text.as_deref().unwrap().starts_with("Can someone take this one?"));
    assert!(inbound.html.as_deref().unwrap().starts_with("<div dir=\"ltr\">"));
    assert!(inbound.attachments.is_empty());
    assert!(!inbound.thread_hints.continue_open);
    assert_eq!(inbound.raw.as_deref(), Some(crlf(GMAIL_FORWARD).as_bytes()));
}

#[test]
fn forwarder_setting_keeps_the_agent_as_sender() {
    let inbound = inbound_on(crlf(GMAIL_FORWARD).as_bytes(), "sales-email");
    assert_eq!(inbound.sender.identity.handle, "alice@example.com");
    assert_eq!(inbound.sender.name.as_deref(), Some("Alice Agent"));
    assert_eq!(inbound.forwarded_by, None);
    assert_eq!(inbound.subject.as_deref(), Some("Fwd: Broken widget on order #1234"));
    assert_eq!(inbound.flags, vec![MessageFlag::Forwarded]);
}

#[test]
fn forward_from_a_stranger_is_not_reattributed() {
    let raw = crlf(GMAIL_FORWARD).replace(
        "From: Alice Agent <alice@example.com>",
        "From: \"Alice Agent\" <alice@example.com.evil.example>",
    );
    let inbound = inbound(&raw);
    assert_eq!(inbound.sender.identity.handle, "alice@example.com.evil.example");
    assert_eq!(inbound.forwarded_by, None);
    assert_eq!(inbound.subject.as_deref(), Some("Fwd: Broken widget on order #1234"));
    assert!(inbound.flags.is_empty());
}

const OUTLOOK_CLASSIC: &str = "From: Alice Agent <alice@example.com>
To: \"support@example.com\" <support@example.com>
Subject: FW: Invoice question
Date: Tue, 4 Mar 2025 08:01:10 +0000
Message-ID: <AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.outlook.com>
Content-Type: text/plain; charset=\"us-ascii\"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Please handle.

-----Original Message-----
From: Bob Buyer [mailto:bob@buyer.example]=20
Sent: Monday, March 3, 2025 4:55 PM
To: Alice Agent <alice@example.com>
Subject: Invoice question

Hello, invoice 889 looks wrong.
";

#[test]
fn outlook_original_message_forward() {
    let inbound = inbound(&crlf(OUTLOOK_CLASSIC));
    assert_eq!(inbound.sender.identity.handle, "bob@buyer.example");
    assert_eq!(inbound.sender.name.as_deref(), Some("Bob Buyer"));
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.subject.as_deref(), Some("Invoice question"));
    assert_eq!(inbound.flags, vec![MessageFlag::Forwarded]);
    assert_eq!(inbound.html, None);
}

#[test]
fn outlook_reply_with_original_message_is_not_a_forward() {
    let raw = crlf(OUTLOOK_CLASSIC).replace("Subject: FW: Invoice question", "Subject: RE: Invoice question");
    let inbound = inbound(&raw);
    assert_eq!(inbound.sender.identity.handle, "alice@example.com");
    assert!(inbound.flags.is_empty());
    assert_eq!(inbound.subject.as_deref(), Some("RE: Invoice question"));
}

const OUTLOOK_NEW: &str = "From: Alice Agent <alice@example.com>
To: support@example.com
Subject: Fw: Delivery date
Date: Tue, 4 Mar 2025 08:30:00 +0000
Message-ID: <PAXPR02MB77@PAXPR02MB77.eurprd02.prod.outlook.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=\"_000_PAXPR02MB77_\"

--_000_PAXPR02MB77_
Content-Type: text/plain; charset=\"iso-8859-1\"
Content-Transfer-Encoding: quoted-printable

For you.

Alice Agent
__________________________
Example Ltd.

________________________________
From: Carol Client <carol@client.example>
Sent: Monday, March 3, 2025 17:20
To: Alice Agent <alice@example.com>
Subject: Delivery date

When will my order arrive? Gr=FC=DFe, Carol

--_000_PAXPR02MB77_
Content-Type: text/html; charset=\"iso-8859-1\"
Content-Transfer-Encoding: quoted-printable

<html><body><p>For you.</p><hr><p><b>From:</b> Carol Client &lt;carol@client.example&gt;</p><p>Gr=FC=DFe</p></body></html>

--_000_PAXPR02MB77_--
";

#[test]
fn outlook_underscore_forward_with_latin1_body() {
    let inbound = inbound(&crlf(OUTLOOK_NEW));
    assert_eq!(inbound.sender.identity.handle, "carol@client.example");
    assert_eq!(inbound.sender.name.as_deref(), Some("Carol Client"));
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.subject.as_deref(), Some("Delivery date"));
    assert!(inbound.text.as_deref().unwrap().contains("Grüße, Carol"));
    assert!(inbound.html.as_deref().unwrap().contains("<p>Grüße</p>"));
}

const APPLE_FORWARD: &str = "From: Alice Agent <alice@example.com>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Subject: Fwd: Refund please
Message-Id: <5E2A9C1B-1111-2222-3333-444455556666@example.com>
Date: Tue, 4 Mar 2025 10:00:00 +0100
To: support@example.com

FYI

> Begin forwarded message:
>=20
> From: Jane Customer <jane@customer.example>
> Subject: Refund please
> Date: 3 March 2025 at 18:40:11 CET
> To: alice@example.com
>=20
> I=E2=80=99d like a refund for order 77.
";

#[test]
fn apple_mail_forward() {
    let inbound = inbound(&crlf(APPLE_FORWARD));
    assert_eq!(inbound.sender.identity.handle, "jane@customer.example");
    assert_eq!(inbound.sender.name.as_deref(), Some("Jane Customer"));
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.subject.as_deref(), Some("Refund please"));
    assert_eq!(
        inbound.external_id.as_deref(),
        Some("5E2A9C1B-1111-2222-3333-444455556666@example.com")
    );
    assert!(inbound.text.as_deref().unwrap().contains("I\u{2019}d like a refund"));
}

const THUNDERBIRD_FORWARD: &str = "Message-ID: <0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0@example.com>
Date: Tue, 4 Mar 2025 11:11:11 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Fwd: Warranty claim
References: <kettle-1@example.org>
From: Alice Agent <alice@example.com>
To: support@example.com
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Please check.


-------- Forwarded Message --------
Subject: \tWarranty claim
Date: \tMon, 3 Mar 2025 19:02:33 +0100
From: \tJane Customer <jane@customer.example>
To: \talice@example.com

My kettle broke after a week.
";

#[test]
fn thunderbird_forward() {
    let inbound = inbound(&crlf(THUNDERBIRD_FORWARD));
    assert_eq!(inbound.sender.identity.handle, "jane@customer.example");
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.subject.as_deref(), Some("Warranty claim"));
    assert_eq!(inbound.thread_hints.references, vec!["kettle-1@example.org".to_string()]);
}

const ATTACHED_FORWARD: &str = "From: Alice Agent <alice@example.com>
To: support@example.com
Subject: Fwd: Question about my account
Date: Tue, 4 Mar 2025 12:00:00 +0000
Message-ID: <outer-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"fwd-boundary\"

--fwd-boundary
Content-Type: text/plain; charset=utf-8

See attached.

--fwd-boundary
Content-Type: message/rfc822
Content-Disposition: attachment; filename=\"Question about my account.eml\"

From: Jane Customer <Jane@Customer.example>
To: alice@example.com
Subject: Question about my account
Message-ID: <orig-42@customer.example>
Date: Mon, 3 Mar 2025 12:00:00 +0000

How do I reset my password?

--fwd-boundary--
";

#[test]
fn attached_rfc822_forward() {
    let raw = crlf(ATTACHED_FORWARD);
    let parsed = parse(raw.as_bytes(), false).unwrap();
    let original = parsed.forward.clone().unwrap();
    assert_eq!(original.style, forwarded::ForwardStyle::Attached);
    assert_eq!(original.sender, jane());
    assert_eq!(original.message_id.as_deref(), Some("orig-42@customer.example"));
    assert_eq!(original.subject.as_deref(), Some("Question about my account"));

    let inbound = inbound(&raw);
    assert_eq!(inbound.sender.identity.handle, "jane@customer.example");
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.external_id.as_deref(), Some("outer-1@example.com"));
    assert_eq!(inbound.subject.as_deref(), Some("Question about my account"));
    assert_eq!(inbound.text.as_deref().map(str::trim), Some("See attached."));
    assert_eq!(inbound.attachments.len(), 1);
    let eml = &inbound.attachments[0];
    assert_eq!(eml.content_type, "message/rfc822");
    assert_eq!(eml.name.as_deref(), Some("Question about my account.eml"));
    let eml_text = String::from_utf8(eml.bytes.clone()).unwrap();
    assert!(eml_text.starts_with("From: Jane Customer <Jane@Customer.example>\r\n"));
    assert!(eml_text.contains("How do I reset my password?"));
}

#[test]
fn plain_customer_mail_with_threading_headers() {
    let raw = crlf(
        "From: =?UTF-8?Q?Jos=C3=A9_Mu=C3=B1oz?= <Jose.Munoz@Customer.Example>
To: Support <support@example.com>
Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5nIA==?= =?ISO-8859-1?Q?f=FCr_M=E4rz?=
Date: Mon, 3 Mar 2025 23:30:00 -0800
Message-ID: <reply-9@customer.example>
In-Reply-To: <sb-msg-2@example.com>
References: <sb-msg-1@example.com>
 <sb-msg-2@example.com>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

R3LDvMOfZSBhdXMgTcO8bmNoZW4g4oCUIGFsbGVzIGd1dD8K
",
    );
    let inbound = inbound(&raw);
    assert_eq!(inbound.sender.identity.handle, "jose.munoz@customer.example");
    assert_eq!(inbound.sender.name.as_deref(), Some("José Muñoz"));
    assert_eq!(inbound.subject.as_deref(), Some("Überweisung für März"));
    assert_eq!(inbound.text.as_deref(), Some("Grüße aus München — alles gut?\n"));
    assert_eq!(inbound.thread_hints.in_reply_to, vec!["sb-msg-2@example.com".to_string()]);
    assert_eq!(
        inbound.thread_hints.references,
        vec!["sb-msg-1@example.com".to_string(), "sb-msg-2@example.com".to_string()]
    );
    // 2025-03-04T07:30:00Z
    assert_eq!(inbound.sent_at, Some(1_741_073_400_000));
    assert!(inbound.flags.is_empty() && inbound.forwarded_by.is_none());
}

#[test]
fn windows_1252_and_iso_8859_1_bodies_are_decoded() {
    let mut raw = crlf(
        "From: a@customer.example\nSubject: price\nContent-Type: text/plain; charset=windows-1252\n\
         Content-Transfer-Encoding: 8bit\n\n",
    )
    .into_bytes();
    raw.extend_from_slice(b"Price: \x80 5 \x93quoted\x94 na\xefve\r\n");
    let parsed = parse(&raw, false).unwrap();
    assert_eq!(parsed.text.as_deref(), Some("Price: € 5 “quoted” naïve\r\n"));

    let mut latin1 = crlf("From: a@customer.example\nSubject: x\nContent-Type: text/plain; charset=ISO-8859-1\n\n")
        .into_bytes();
    latin1.extend_from_slice(b"Gr\xfc\xdfe aus K\xf6ln\r\n");
    assert_eq!(parse(&latin1, false).unwrap().text.as_deref(), Some("Grüße aus Köln\r\n"));
}

#[test]
fn html_only_mail_has_text_converted_and_text_only_mail_has_no_html() {
    let html_only = crlf("From: a@customer.example\nContent-Type: text/html; charset=utf-8\n\n<p>Hello <b>there</b></p>\n");
    let parsed = parse(html_only.as_bytes(), false).unwrap();
    assert!(parsed.html.as_deref().unwrap().contains("<b>there</b>"));
    assert!(parsed.text.as_deref().unwrap().contains("Hello there"));
    let text_only = crlf("From: a@customer.example\nContent-Type: text/plain\n\nHello\n");
    assert_eq!(parse(text_only.as_bytes(), false).unwrap().html, None);
}

fn pdf_bytes() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend((0..=255u8).cycle().take(3000));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

fn wrapped_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    lines.join("\r\n")
}

#[test]
fn attachments_are_decoded_byte_exact() {
    let pdf = pdf_bytes();
    let latin1_file = b"Gr\xfc\xdfe aus K\xf6ln\r\n".to_vec();
    let raw = crlf(&format!(
        "From: Jane Customer <jane@customer.example>\nTo: support@example.com\nSubject: Invoice\n\
         MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
         Content-Type: multipart/alternative; boundary=\"b2\"\n\n--b2\nContent-Type: text/plain; charset=utf-8\n\n\
         See the invoice.\n--b2\nContent-Type: text/html; charset=utf-8\n\n<p>See the invoice.</p>\n--b2--\n\n\
         --b1\nContent-Type: application/pdf; name=\"invoice 889.pdf\"\nContent-Disposition: attachment; filename=\"invoice 889.pdf\"\n\
         Content-Transfer-Encoding: base64\n\n{}\n--b1\nContent-Type: text/plain; charset=iso-8859-1; name=notes.txt\n\
         Content-Disposition: attachment; filename=notes.txt\nContent-Transfer-Encoding: base64\n\n{}\n\
         --b1\nContent-Type: text/plain; charset=utf-8\n\nA footer added by the list.\n--b1--\n",
        wrapped_base64(&pdf),
        wrapped_base64(&latin1_file),
    ));
    let inbound = inbound(&raw);
    assert_eq!(inbound.attachments.len(), 2, "{:?}", inbound.attachments);
    let invoice = &inbound.attachments[0];
    assert_eq!(invoice.name.as_deref(), Some("invoice 889.pdf"));
    assert_eq!(invoice.content_type, "application/pdf");
    assert_eq!(invoice.bytes, pdf);
    let notes = &inbound.attachments[1];
    assert_eq!(notes.name.as_deref(), Some("notes.txt"));
    assert_eq!(notes.content_type, "text/plain");
    assert_eq!(notes.bytes, latin1_file);
    let text = inbound.text.as_deref().unwrap();
    assert!(text.contains("See the invoice.") && text.contains("A footer added by the list."));
    assert_eq!(inbound.html.as_deref().map(str::trim), Some("<p>See the invoice.</p>"));
}

#[test]
fn inline_image_is_an_attachment_inline_text_is_not() {
    let raw = crlf(
        "From: a@customer.example\nContent-Type: multipart/related; boundary=r\n\n--r\n\
         Content-Type: text/html; charset=utf-8\n\n<img src=\"cid:logo\">\n--r\n\
         Content-Type: image/png\nContent-ID: <logo>\nContent-Transfer-Encoding: base64\n\n\
         iVBORw0KGgo=\n--r\nContent-Type: text/plain\nContent-Disposition: inline\n\nPS\n--r--\n",
    );
    let parsed = parse(raw.as_bytes(), false).unwrap();
    let types: Vec<&str> = parsed.attachments.iter().map(|a| a.content_type.as_str()).collect();
    assert_eq!(types, vec!["image/png"]);
    assert_eq!(parsed.attachments[0].bytes, b"\x89PNG\r\n\x1a\n".to_vec());
}

#[test]
fn mail_without_from_falls_back_to_envelope_then_return_path_then_unknown() {
    let raw = crlf("Return-Path: <Bounces@List.example>\nSubject: no from\n\nbody\n");
    let parsed = parse(raw.as_bytes(), false).unwrap();
    assert_eq!(parsed.from, Party::default());
    assert_eq!(parsed.sender_party().address.as_deref(), Some("bounces@list.example"));
    let with_envelope = parsed.clone().with_envelope_sender(Some("Envelope@Sender.example"));
    assert_eq!(with_envelope.sender_party().address.as_deref(), Some("envelope@sender.example"));

    let anonymous = inbound("Subject: nobody\r\nFrom: undisclosed-recipients:;\r\n\r\nhello\r\n");
    assert_eq!(anonymous.sender.identity.handle, UNKNOWN_SENDER);
    assert_eq!(anonymous.sender.email, None);
    assert_eq!(anonymous.external_id, None);

    let sender_header = parse(b"Sender: Desk <desk@x.example>\r\nFrom: Jane\r\n\r\nhi\r\n", false).unwrap();
    assert_eq!(sender_header.from.address.as_deref(), Some("desk@x.example"));
}

#[test]
fn out_of_office_from_an_agent_is_flagged_but_not_a_forward() {
    let raw = crlf(
        "From: Alice Agent <alice@example.com>\nTo: support@example.com\nSubject: Automatic reply: Hi\n\
         Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n\nI am out of the office.\n",
    );
    let inbound = inbound(&raw);
    assert_eq!(inbound.flags, vec![MessageFlag::AutoReply]);
    assert_eq!(inbound.sender.identity.handle, "alice@example.com");
}

#[test]
fn bounce_with_null_sender() {
    let raw = crlf(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: support@example.com\n\
         Subject: Delivery Status Notification (Failure)\nContent-Type: multipart/report; \
         report-type=delivery-status; boundary=\"r1\"\n\n--r1\nContent-Type: text/plain\n\n\
         Address not found\n--r1\nContent-Type: message/delivery-status\n\n\
         Final-Recipient: rfc822; gone@customer.example\nAction: failed\nStatus: 5.1.1\n\n--r1--\n",
    );
    let parsed = parse(raw.as_bytes(), true).unwrap();
    assert_eq!(parsed.flags, vec![MessageFlag::AutoReply, MessageFlag::Bounce]);
    let types: Vec<&str> = parsed.attachments.iter().map(|a| a.content_type.as_str()).collect();
    assert_eq!(types, vec!["message/delivery-status"]);
}

/// Parsing must end in Ok or a ParseError, never a panic.
fn survives(raw: &[u8]) -> Result<ParsedMail, ParseError> {
    parse(raw, false)
}

#[test]
fn empty_and_junk_input() {
    assert!(matches!(survives(b""), Err(ParseError::NoHeaders)));
    let _ = survives(b"\r\n\r\n");
    let _ = survives(b"just some words without any header");
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let _ = survives(&all_bytes);
    let _ = survives(&[0xff; 4096]);
}

#[test]
fn truncated_multipart_and_broken_base64() {
    let raw = crlf(&format!(
        "From: a@customer.example\nContent-Type: multipart/mixed; boundary=\"cut\"\n\n--cut\n\
         Content-Type: text/plain\n\nstart of body\n--cut\nContent-Type: application/pdf\n\
         Content-Transfer-Encoding: base64\n\n{}",
        &wrapped_base64(&pdf_bytes())[..500]
    ));
    for end in [raw.len(), raw.len() / 2, 120, 60, 10] {
        let parsed = survives(&raw.as_bytes()[..end]);
        assert!(parsed.is_ok() || end < 20, "{end}");
    }
    let broken = crlf(
        "From: a@customer.example\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\
         Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n@@@ not base64 ###\n!!\n--x\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n=ZZ=\n--x--\n",
    );
    let parsed = survives(broken.as_bytes()).unwrap();
    assert_eq!(parsed.from.address.as_deref(), Some("a@customer.example"));
}

#[test]
fn eight_bit_garbage_in_headers() {
    let mut raw = b"From: \xff\xfe J\xe4ne <jane@customer.example>\r\nSubject: \x80\x81\x82 caf\xe9\r\n".to_vec();
    raw.extend_from_slice(b"Message-ID: <\xc3\x28@bad>\r\nDate: \xff\r\nX-\xff: \xfe\r\n\r\nbody \xff\r\n");
    let parsed = survives(&raw).unwrap();
    assert_eq!(parsed.from.address.as_deref(), Some("jane@customer.example"));
    assert_eq!(parsed.sent_at, None);
    assert!(parsed.subject.is_some());
}

#[test]
fn a_thousand_parts() {
    let mut raw = String::from("From: a@customer.example\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n");
    for i in 0..1000 {
        raw.push_str(&format!(
            "--p\r\nContent-Type: application/octet-stream; name=f{i}.bin\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
        ));
    }
    raw.push_str("--p--\r\n");
    let parsed = survives(raw.as_bytes()).unwrap();
    assert_eq!(parsed.attachments.len(), 1000);
    assert!(parsed.attachments.iter().all(|a| a.bytes == [0, 1, 2]));
}

#[test]
fn deeply_nested_parts_and_messages() {
    let mut multipart = String::from("From: a@customer.example\r\n");
    for i in 0..300 {
        multipart.push_str(&format!("Content-Type: multipart/mixed; boundary=n{i}\r\n\r\n--n{i}\r\n"));
    }
    multipart.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
    let _ = survives(multipart.as_bytes());
    let mut nested = String::new();
    for _ in 0..200 {
        nested.push_str("From: x@y.example\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    nested.push_str("Subject: core\r\n\r\nbody\r\n");
    let _ = survives(nested.as_bytes());
}
