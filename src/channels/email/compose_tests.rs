//! Tests of `compose`: threading headers and whole composed mails (read
//! back with mail-parser); and the fixtures the other email tests share.

use mail_parser::MessageParser;

use super::*;
use crate::config::{Channel, ChannelKind, ForwardedSender, Role, SenderName};
use crate::ids::Id;
use crate::model::{Contact, Conversation, ConversationStatus, Party, ThreadReason};

pub(crate) fn agent() -> Agent {
    Agent {
        id: "alice".to_string(),
        name: "Alice Doe".to_string(),
        email: "alice@example.com".to_string(),
        addresses: Vec::new(),
        role: Role::Agent,
        seat: true,
        teams: Vec::new(),
    }
}

pub(crate) fn email_channel() -> EmailChannel {
    EmailChannel {
        address: "support@example.com".to_string(),
        receive_addresses: Vec::new(),
        forwarders: Vec::new(),
        forwarded_sender: ForwardedSender::Original,
        sender_name: SenderName::AgentAndCompany,
        company_name: "Example Inc".to_string(),
        from_address: "support@example.com".to_string(),
        signature: Some("Best regards,\n{full_name}\nExample Inc".to_string()),
        signature_html: Some("<p>Best regards,<br>{full_name}</p>".to_string()),
    }
}

pub(crate) fn message(at: i64, direction: Direction, external_id: Option<&str>) -> Message {
    Message {
        id: Id::new_at(at),
        conversation: Id::new_at(1),
        direction,
        channel: "support-email".to_string(),
        from: Party::default(),
        forwarded_by: None,
        to: Vec::new(),
        subject: None,
        text: Some(format!("message at {at}")),
        html: None,
        attachments: Vec::new(),
        flags: Vec::new(),
        thread_reason: ThreadReason::New,
        joined_as: None,
        external_id_shared_with: None,
        recipients: Vec::new(),
        external_id: external_id.map(str::to_string),
        sent_at: None,
        created_at: at,
        author: None,
        private: false,
        status: None,
        template: None,
        thread: None,
        call: None,
    }
}

/// An agent's reply (text and HTML) in a conversation the customer began:
/// customer, agent, customer, then this reply.
pub(crate) fn delivery() -> OutboundDelivery {
    let channel = Channel {
        id: "support-email".to_string(),
        inbox: "support".to_string(),
        kind: ChannelKind::Email(email_channel()),
        routing: None,
        tickets: None,
    };
    let mut reply = message(
        1_700_000_004_000,
        Direction::Outbound,
        Some("reply-4@switchboard.example"),
    );
    reply.text = Some("Thanks, it is fixed.".to_string());
    reply.html = Some("<p>Thanks, it is <b>fixed</b>.</p>".to_string());
    reply.author = Some(Author::Agent {
        id: "alice".to_string(),
    });
    OutboundDelivery {
        message: reply,
        conversation: Conversation {
            id: Id::new_at(1),
            inbox: "support".to_string(),
            channel: "support-email".to_string(),
            contact: Id::new_at(1),
            subject: Some("Printer on fire".to_string()),
            status: ConversationStatus::Open,
            assignee: Some("alice".to_string()),
            created_at: 1_700_000_001_000,
            last_message_at: 1_700_000_003_000,
            message_count: 3,
            reply_token: Some("k3x9q2".to_string()),
            assignment_history: Vec::new(),
            ticket: None,
            ticket_note: None,
            related: Vec::new(),
        },
        contact: Contact {
            id: Id::new_at(1),
            name: Some("Jane Customer".to_string()),
            email: Some("jane@customer.example".to_string()),
            phone: None,
            owner: None,
            consent: None,
            opted_out: None,
            created_at: 1_700_000_001_000,
        },
        history: vec![
            message(
                1_700_000_001_000,
                Direction::Inbound,
                Some("first@customer.example"),
            ),
            message(
                1_700_000_002_000,
                Direction::Outbound,
                Some("reply-2@switchboard.example"),
            ),
            message(
                1_700_000_003_000,
                Direction::Inbound,
                Some("third@customer.example"),
            ),
        ],
        channel,
        author: Some(agent()),
    }
}

/// An automation's text-only acknowledgement in the same conversation.
pub(crate) fn automated_delivery() -> OutboundDelivery {
    let mut delivery = delivery();
    delivery.message.author = Some(Author::Automation {
        name: "instant-reply".to_string(),
    });
    delivery.message.html = None;
    delivery.author = None;
    delivery
}

fn email_of(delivery: &OutboundDelivery) -> EmailChannel {
    let ChannelKind::Email(email) = &delivery.channel.kind else {
        panic!("an email channel")
    };
    email.clone()
}

/// A decoded body with CRLF line ends as LF, without trailing line breaks.
pub(crate) fn lf(body: std::borrow::Cow<'_, str>) -> String {
    body.replace("\r\n", "\n")
        .trim_end_matches('\n')
        .to_string()
}

/// A mail's text with folded header lines unfolded.
pub(crate) fn unfolded(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
}

fn composed(delivery: &OutboundDelivery) -> String {
    let message = compose(delivery, &email_of(delivery)).unwrap();
    unfolded(&message.formatted())
}

#[test]
fn in_reply_to_is_the_latest_inbound_message() {
    let history = delivery().history;
    let (in_reply_to, references) = thread_headers(&history);
    assert_eq!(in_reply_to.as_deref(), Some("third@customer.example"));
    assert_eq!(
        references,
        [
            "first@customer.example",
            "reply-2@switchboard.example",
            "third@customer.example"
        ]
    );
}

#[test]
fn in_reply_to_falls_back_to_the_latest_id() {
    let history = vec![
        message(1, Direction::Inbound, None),
        message(2, Direction::Outbound, Some("<ours-2@switchboard.example>")),
        message(3, Direction::Outbound, Some("ours-3@switchboard.example")),
        message(4, Direction::Outbound, Some("ours-3@switchboard.example")),
        message(5, Direction::Outbound, Some("has space@x")),
    ];
    let (in_reply_to, references) = thread_headers(&history);
    assert_eq!(in_reply_to.as_deref(), Some("ours-3@switchboard.example"));
    assert_eq!(
        references,
        ["ours-2@switchboard.example", "ours-3@switchboard.example"]
    );
    assert_eq!(thread_headers(&[]), (None, Vec::new()));
}

#[test]
fn references_are_capped_keeping_first_replied_and_recent() {
    let mut history = vec![message(0, Direction::Inbound, Some("m0@x"))];
    history.push(message(1, Direction::Inbound, Some("m1@x")));
    for at in 2..40 {
        history.push(message(at, Direction::Outbound, Some(&format!("m{at}@x"))));
    }
    let (in_reply_to, references) = thread_headers(&history);
    assert_eq!(in_reply_to.as_deref(), Some("m1@x"));
    assert_eq!(references.len(), MAX_REFERENCES);
    let mut expected = vec!["m0@x".to_string(), "m1@x".to_string()];
    expected.extend((22..40).map(|at| format!("m{at}@x")));
    assert_eq!(references, expected);

    // When the replied-to message is recent, the 19 most recent are kept.
    history.push(message(40, Direction::Inbound, Some("m40@x")));
    let (_, references) = thread_headers(&history);
    let mut expected = vec!["m0@x".to_string()];
    expected.extend((22..41).map(|at| format!("m{at}@x")));
    assert_eq!(references, expected);
}

#[test]
fn agent_reply_has_threading_and_both_parts_signed() {
    let raw = composed(&delivery());
    for header in [
        "From: \"Alice Doe at Example Inc\" <support@example.com>\r\n",
        "To: \"Jane Customer\" <jane@customer.example>\r\n",
        "Reply-To: support+ck3x9q2@example.com\r\n",
        "Subject: Re: Printer on fire\r\n",
        "Message-ID: <reply-4@switchboard.example>\r\n",
        "In-Reply-To: <third@customer.example>\r\n",
        "References: <first@customer.example> <reply-2@switchboard.example> <third@customer.example>\r\n",
        "Auto-Submitted: no\r\n",
        "Date: Tue, 14 Nov 2023 22:13:24 +0000\r\n",
    ] {
        assert!(raw.contains(header), "missing {header:?} in\n{raw}");
    }
    assert!(!raw.contains("X-Auto-Response-Suppress"), "{raw}");

    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(
        lf(parsed.body_text(0).unwrap()),
        "Thanks, it is fixed.\n\nBest regards,\nAlice Doe\nExample Inc"
    );
    assert_eq!(
        lf(parsed.body_html(0).unwrap()),
        "<p>Thanks, it is <b>fixed</b>.</p>\n<p>Best regards,<br>Alice Doe</p>"
    );
}

#[test]
fn automated_reply_is_marked_and_signed_by_the_company() {
    let raw = composed(&automated_delivery());
    assert!(raw.contains("Auto-Submitted: auto-replied\r\n"), "{raw}");
    assert!(raw.contains("X-Auto-Response-Suppress: All\r\n"), "{raw}");
    assert!(
        raw.contains("From: \"Example Inc\" <support@example.com>\r\n"),
        "{raw}"
    );
    assert!(raw.contains("Content-Type: text/plain"), "{raw}");
    assert!(!raw.contains("multipart"), "{raw}");
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(
        lf(parsed.body_text(0).unwrap()),
        "Thanks, it is fixed.\n\nBest regards,\nExample Inc"
    );
}

#[test]
fn text_signature_is_escaped_into_html_when_no_html_signature() {
    let mut delivery = delivery();
    let ChannelKind::Email(email) = &mut delivery.channel.kind else {
        panic!("an email channel")
    };
    email.signature_html = None;
    email.signature = Some("{full_name} <support@example.com>\nExample & Co".to_string());
    delivery.message.html = Some("<html><body><p>Hi</p></body></html>".to_string());
    let raw = composed(&delivery);
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(
        lf(parsed.body_html(0).unwrap()),
        "<html><body><p>Hi</p><p>Alice Doe &lt;support@example.com&gt;<br>\nExample &amp; Co</p>\n</body></html>"
    );
}

#[test]
fn conversation_started_by_us_keeps_its_subject() {
    let mut delivery = delivery();
    delivery.conversation.subject = Some("Your order 1234".to_string());
    delivery.conversation.reply_token = None;
    delivery.history[0].direction = Direction::Outbound;
    let raw = composed(&delivery);
    assert!(raw.contains("Subject: Your order 1234\r\n"), "{raw}");
    assert!(!raw.contains("\r\nReply-To:"), "{raw}");

    delivery.history.clear();
    delivery.conversation.subject = None;
    let raw = composed(&delivery);
    assert!(raw.contains("Subject: (no subject)\r\n"), "{raw}");
    assert!(!raw.contains("In-Reply-To:"), "{raw}");
    assert!(!raw.contains("References:"), "{raw}");
}

#[test]
fn history_holding_the_message_itself_is_ignored() {
    let mut delivery = delivery();
    delivery.history.push(delivery.message.clone());
    let raw = composed(&delivery);
    assert!(
        raw.contains("In-Reply-To: <third@customer.example>\r\n"),
        "{raw}"
    );
    assert!(!raw.contains("References: <reply-4"), "{raw}");
    assert_eq!(
        raw.matches("reply-4@switchboard.example").count(),
        1,
        "{raw}"
    );
}

#[test]
fn html_only_message_gets_a_text_part() {
    let mut delivery = delivery();
    delivery.message.text = None;
    let raw = composed(&delivery);
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let text = lf(parsed.body_text(0).unwrap());
    assert!(text.starts_with("Thanks, it is fixed."), "{text}");
    assert!(
        text.ends_with("Best regards,\nAlice Doe\nExample Inc"),
        "{text}"
    );
}

#[test]
fn non_ascii_names_and_subjects_are_encoded() {
    let mut delivery = delivery();
    delivery.contact.name = Some("Jürgen Groß".to_string());
    delivery.conversation.subject = Some("Drucker brennt\r\nBcc: evil@x".to_string());
    let raw = composed(&delivery);
    assert!(raw.is_ascii(), "{raw}");
    assert!(!raw.contains("\r\nBcc:"), "{raw}");
    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(parsed.subject(), Some("Re: Drucker brennt Bcc: evil@x"));
    let to = parsed.to().and_then(|to| to.first()).unwrap();
    assert_eq!(to.name(), Some("Jürgen Groß"));
}

#[test]
fn compose_errors() {
    let mut no_email = delivery();
    no_email.contact.email = None;
    let email = email_channel();
    assert!(matches!(
        compose(&no_email, &email),
        Err(ComposeError::NoRecipient)
    ));

    let mut bad_email = delivery();
    bad_email.contact.email = Some("not an address".to_string());
    assert!(matches!(
        compose(&bad_email, &email),
        Err(ComposeError::InvalidAddress { field: "To", .. })
    ));

    let mut no_id = delivery();
    no_id.message.external_id = None;
    assert!(matches!(
        compose(&no_id, &email),
        Err(ComposeError::NoMessageId)
    ));

    let mut empty = delivery();
    empty.message.text = Some("  ".to_string());
    empty.message.html = None;
    assert!(matches!(
        compose(&empty, &email),
        Err(ComposeError::EmptyBody)
    ));
}
