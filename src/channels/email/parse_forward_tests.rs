//! Tests of `parse` and `to_inbound` with forwards as the common mail
//! clients send them: Gmail, Outlook (both styles), Apple Mail,
//! Thunderbird and forward-as-attachment, under both `forwarded_sender`
//! settings and from a sender who is not a team member.

use super::tests::{alice, crlf, inbound, inbound_on, jane};
use super::*;

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
    assert_eq!(
        inbound.external_id.as_deref(),
        Some("CAF3x+abc123@mail.gmail.com")
    );
    assert_eq!(inbound.sender.identity.kind, "email");
    assert_eq!(inbound.sender.identity.handle, "jane@customer.example");
    assert_eq!(inbound.sender.name.as_deref(), Some("Jane Customer"));
    assert_eq!(
        inbound.sender.email.as_deref(),
        Some("jane@customer.example")
    );
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(
        inbound.subject.as_deref(),
        Some("Broken widget on order #1234")
    );
    assert_eq!(inbound.flags, vec![MessageFlag::Forwarded]);
    assert_eq!(inbound.to, vec!["support@example.com".to_string()]);
    assert_eq!(inbound.sent_at, Some(1_741_076_102_000));
    assert!(inbound
        .text
        .as_deref()
        .unwrap()
        .starts_with("Can someone take this one?"));
    assert!(inbound
        .html
        .as_deref()
        .unwrap()
        .starts_with("<div dir=\"ltr\">"));
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
    assert_eq!(
        inbound.subject.as_deref(),
        Some("Fwd: Broken widget on order #1234")
    );
    assert_eq!(inbound.flags, vec![MessageFlag::Forwarded]);
}

#[test]
fn forward_from_a_stranger_is_not_reattributed() {
    let raw = crlf(GMAIL_FORWARD).replace(
        "From: Alice Agent <alice@example.com>",
        "From: \"Alice Agent\" <alice@example.com.evil.example>",
    );
    let inbound = inbound(&raw);
    assert_eq!(
        inbound.sender.identity.handle,
        "alice@example.com.evil.example"
    );
    assert_eq!(inbound.forwarded_by, None);
    assert_eq!(
        inbound.subject.as_deref(),
        Some("Fwd: Broken widget on order #1234")
    );
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
    let raw = crlf(OUTLOOK_CLASSIC).replace(
        "Subject: FW: Invoice question",
        "Subject: RE: Invoice question",
    );
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
    assert!(inbound
        .text
        .as_deref()
        .unwrap()
        .contains("I\u{2019}d like a refund"));
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
    assert_eq!(
        inbound.thread_hints.references,
        vec!["kettle-1@example.org".to_string()]
    );
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
    assert_eq!(
        original.message_id.as_deref(),
        Some("orig-42@customer.example")
    );
    assert_eq!(
        original.subject.as_deref(),
        Some("Question about my account")
    );

    let inbound = inbound(&raw);
    assert_eq!(inbound.sender.identity.handle, "jane@customer.example");
    assert_eq!(inbound.forwarded_by, Some(alice()));
    assert_eq!(inbound.external_id.as_deref(), Some("outer-1@example.com"));
    assert_eq!(
        inbound.subject.as_deref(),
        Some("Question about my account")
    );
    assert_eq!(
        inbound.text.as_deref().map(str::trim),
        Some("See attached.")
    );
    assert_eq!(inbound.attachments.len(), 1);
    let eml = &inbound.attachments[0];
    assert_eq!(eml.content_type, "message/rfc822");
    assert_eq!(eml.name.as_deref(), Some("Question about my account.eml"));
    let eml_text = String::from_utf8(eml.bytes.clone()).unwrap();
    assert!(eml_text.starts_with("From: Jane Customer <Jane@Customer.example>\r\n"));
    assert!(eml_text.contains("How do I reset my password?"));
}
