//! Tests of `parse` and `to_inbound` with realistic mails: charsets and
//! transfer encodings, attachments, senders, machine-sent mail and
//! malformed input (forwards are in `parse_forward_tests.rs`), and the
//! helpers both test files use.

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
pub(super) fn inbound_on(raw: &[u8], channel_id: &str) -> Inbound {
    let config: Config = crate::config::parse(CONFIG, std::path::Path::new(".")).unwrap();
    let channel = config.workspace.channel(channel_id).unwrap();
    let ChannelKind::Email(email) = &channel.kind else {
        panic!("an email channel")
    };
    let recipient = email.address.clone();
    parse(raw, false)
        .unwrap()
        .to_inbound(channel, email, &config.workspace, vec![recipient], raw)
}

pub(super) fn inbound(raw: &str) -> Inbound {
    inbound_on(raw.as_bytes(), "support-email")
}

pub(super) fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

pub(super) fn jane() -> Party {
    Party {
        name: Some("Jane Customer".to_string()),
        address: Some("jane@customer.example".to_string()),
    }
}

pub(super) fn alice() -> Party {
    Party {
        name: Some("Alice Agent".to_string()),
        address: Some("alice@example.com".to_string()),
    }
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
    assert_eq!(
        inbound.sender.identity.handle,
        "jose.munoz@customer.example"
    );
    assert_eq!(inbound.sender.name.as_deref(), Some("José Muñoz"));
    assert_eq!(inbound.subject.as_deref(), Some("Überweisung für März"));
    assert_eq!(
        inbound.text.as_deref(),
        Some("Grüße aus München — alles gut?\n")
    );
    assert_eq!(
        inbound.thread_hints.in_reply_to,
        vec!["sb-msg-2@example.com".to_string()]
    );
    assert_eq!(
        inbound.thread_hints.references,
        vec![
            "sb-msg-1@example.com".to_string(),
            "sb-msg-2@example.com".to_string()
        ]
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
    assert_eq!(
        parsed.text.as_deref(),
        Some("Price: € 5 “quoted” naïve\r\n")
    );

    let mut latin1 = crlf(
        "From: a@customer.example\nSubject: x\nContent-Type: text/plain; charset=ISO-8859-1\n\n",
    )
    .into_bytes();
    latin1.extend_from_slice(b"Gr\xfc\xdfe aus K\xf6ln\r\n");
    assert_eq!(
        parse(&latin1, false).unwrap().text.as_deref(),
        Some("Grüße aus Köln\r\n")
    );
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
    assert_eq!(
        inbound.html.as_deref().map(str::trim),
        Some("<p>See the invoice.</p>")
    );
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
    let types: Vec<&str> = parsed
        .attachments
        .iter()
        .map(|a| a.content_type.as_str())
        .collect();
    assert_eq!(types, vec!["image/png"]);
    assert_eq!(parsed.attachments[0].bytes, b"\x89PNG\r\n\x1a\n".to_vec());
}

#[test]
fn mail_without_from_falls_back_to_envelope_then_return_path_then_unknown() {
    let raw = crlf("Return-Path: <Bounces@List.example>\nSubject: no from\n\nbody\n");
    let parsed = parse(raw.as_bytes(), false).unwrap();
    assert_eq!(parsed.from, Party::default());
    assert_eq!(
        parsed.sender_party().address.as_deref(),
        Some("bounces@list.example")
    );
    let with_envelope = parsed
        .clone()
        .with_envelope_sender(Some("Envelope@Sender.example"));
    assert_eq!(
        with_envelope.sender_party().address.as_deref(),
        Some("envelope@sender.example")
    );

    let anonymous = inbound("Subject: nobody\r\nFrom: undisclosed-recipients:;\r\n\r\nhello\r\n");
    assert_eq!(anonymous.sender.identity.handle, UNKNOWN_SENDER);
    assert_eq!(anonymous.sender.email, None);
    assert_eq!(anonymous.external_id, None);

    let sender_header = parse(
        b"Sender: Desk <desk@x.example>\r\nFrom: Jane\r\n\r\nhi\r\n",
        false,
    )
    .unwrap();
    assert_eq!(
        sender_header.from.address.as_deref(),
        Some("desk@x.example")
    );
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
    assert_eq!(
        parsed.flags,
        vec![MessageFlag::AutoReply, MessageFlag::Bounce]
    );
    let types: Vec<&str> = parsed
        .attachments
        .iter()
        .map(|a| a.content_type.as_str())
        .collect();
    assert_eq!(types, vec!["message/delivery-status"]);
}

/// Parsing must end in Ok or a ParseError, never a panic.
fn survives(raw: &[u8]) -> Result<ParsedMail, ParseError> {
    parse(raw, false)
}

#[test]
fn a_parser_panic_becomes_an_error() {
    let result = guarded(|| panic!("mail-parser bug"));
    assert!(matches!(result, Err(ParseError::Panicked)));
    assert_eq!(
        ParseError::Panicked.to_string(),
        "the MIME parser failed on this message"
    );
}

#[test]
fn empty_and_junk_input() {
    for junk in [
        &b""[..],
        b"\r\n\r\n",
        b"just some words without any header",
        b"hello: world\r\n\r\nbody\r\n",
    ] {
        assert!(
            matches!(survives(junk), Err(ParseError::NoHeaders)),
            "{junk:?}"
        );
    }
    assert!(survives(b"Subject: only a subject\r\n\r\nbody\r\n").is_ok());
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
    // The undecodable PDF is kept as sent; the broken text is still a body.
    assert_eq!(parsed.attachments.len(), 1, "{:?}", parsed.attachments);
    assert_eq!(parsed.attachments[0].content_type, "application/pdf");
    assert!(parsed.attachments[0].bytes.starts_with(b"@@@ not base64"));
    assert!(parsed.text.is_some());
}

#[test]
fn eight_bit_garbage_in_headers() {
    let mut raw =
        b"From: \xff\xfe J\xe4ne <jane@customer.example>\r\nSubject: \x80\x81\x82 caf\xe9\r\n"
            .to_vec();
    raw.extend_from_slice(
        b"Message-ID: <\xc3\x28@bad>\r\nDate: \xff\r\nX-\xff: \xfe\r\n\r\nbody \xff\r\n",
    );
    let parsed = survives(&raw).unwrap();
    assert_eq!(
        parsed.from.address.as_deref(),
        Some("jane@customer.example")
    );
    assert_eq!(parsed.sent_at, None);
    assert!(parsed.subject.is_some());
}

#[test]
fn a_thousand_parts() {
    let mut raw = String::from(
        "From: a@customer.example\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n",
    );
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
        multipart.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=n{i}\r\n\r\n--n{i}\r\n"
        ));
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

#[test]
fn reply_token_comes_from_the_first_tagged_recipient() {
    let raw = crlf(
        "From: Jane <jane@customer.example>\nTo: support@example.com\n\
         Subject: Re: Printer\nMessage-ID: <r1@customer.example>\n\nThanks\n",
    );
    let config: Config = crate::config::parse(CONFIG, std::path::Path::new(".")).unwrap();
    let channel = config.workspace.channel("support-email").unwrap();
    let ChannelKind::Email(email) = &channel.kind else {
        panic!("an email channel")
    };
    let parsed = parse(raw.as_bytes(), false).unwrap();
    let token_of = |recipients: &[&str]| {
        let recipients = recipients.iter().map(|r| r.to_string()).collect();
        parsed
            .to_inbound(
                channel,
                email,
                &config.workspace,
                recipients,
                raw.as_bytes(),
            )
            .thread_hints
            .reply_token
    };
    let tagged = ["support+billing@example.com", "support+ck3x9q2@example.com"];
    assert_eq!(token_of(&tagged).as_deref(), Some("k3x9q2"));
    assert_eq!(token_of(&["support@example.com"]), None);
    assert_eq!(token_of(&["support+c-bad@example.com"]), None);
}
