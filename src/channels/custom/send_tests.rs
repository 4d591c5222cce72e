//! Tests of custom-channel sends: the payload, capabilities, what answers
//! mean, and the private-target refusal through the real HTTP client.

use super::*;
use crate::config::{Agent, Capabilities, Channel, Role, Secret, WebhookSecret};
use crate::ids::Id;
use crate::model::{Contact, Conversation, ConversationStatus, Millis, Party, ThreadReason};

const NOW: Millis = 1_750_000_000_000;

fn channel(url: &str, capabilities: Capabilities, allow_private_targets: bool) -> Channel {
    Channel {
        id: "tg".into(),
        inbox: "support".into(),
        kind: ChannelKind::Custom(CustomChannel {
            inbound_token: Secret::new("inbound-token-0123456789"),
            webhook_url: reqwest::Url::parse(url).unwrap(),
            webhook_secret: WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            webhook_timeout: Duration::from_secs(2),
            capabilities,
            allow_private_targets,
        }),
        routing: None,
        tickets: None,
    }
}

fn message(
    direction: Direction,
    from: Option<(&str, &str)>,
    at: Millis,
    thread: Option<&str>,
) -> Message {
    Message {
        id: Id::new_at(at),
        conversation: Id::new_at(0),
        direction,
        channel: "tg".into(),
        from: Party {
            name: from.map(|(_, name)| name.to_string()),
            address: from.map(|(id, _)| id.to_string()),
        },
        forwarded_by: None,
        to: Vec::new(),
        subject: None,
        text: Some("text".into()),
        html: None,
        attachments: Vec::new(),
        flags: Vec::new(),
        thread_reason: ThreadReason::Continued,
        joined_as: None,
        external_id_shared_with: None,
        recipients: Vec::new(),
        external_id: None,
        sent_at: None,
        created_at: at,
        author: (direction == Direction::Outbound).then(|| Author::Agent { id: "alice".into() }),
        private: false,
        status: None,
        template: None,
        thread: thread.map(str::to_string),
        call: None,
    }
}

fn delivery(channel: Channel, text: &str, html: Option<&str>) -> OutboundDelivery {
    let contact = Contact {
        id: Id::new_at(0),
        name: Some("Contact Name".into()),
        email: None,
        phone: None,
        owner: None,
        consent: None,
        opted_out: None,
        created_at: 0,
    };
    let mut reply = message(Direction::Outbound, None, NOW, None);
    reply.text = Some(text.into());
    reply.html = html.map(str::to_string);
    OutboundDelivery {
        message: reply,
        conversation: Conversation {
            id: Id::new_at(0),
            inbox: "support".into(),
            channel: channel.id.clone(),
            contact: contact.id,
            subject: None,
            status: ConversationStatus::Open,
            assignee: None,
            created_at: 0,
            last_message_at: 0,
            message_count: 0,
            reply_token: None,
            assignment_history: Vec::new(),
            ticket: None,
            ticket_note: None,
            related: Vec::new(),
        },
        contact,
        history: vec![
            message(
                Direction::Inbound,
                Some(("u-1", "Old Name")),
                NOW - 2000,
                Some("chat-9"),
            ),
            message(Direction::Inbound, Some(("u-2", "Sam")), NOW - 1000, None),
        ],
        channel,
        author: Some(Agent {
            id: "alice".into(),
            name: "Alice Admin".into(),
            email: "alice@example.com".into(),
            addresses: Vec::new(),
            role: Role::Admin,
            seat: true,
            teams: Vec::new(),
        }),
    }
}

#[test]
fn the_payload_names_the_recipient_thread_and_author() {
    let d = delivery(
        channel(
            "https://bridge.example/hook",
            Capabilities::default(),
            false,
        ),
        "Hi Sam",
        Some("<p>Hi Sam</p>"),
    );
    let value = serde_json::to_value(payload(&d).unwrap()).unwrap();
    assert_eq!(value["type"], "message.created");
    assert_eq!(value["channel"], "tg");
    assert_eq!(value["conversation"], d.conversation.id.to_string());
    assert_eq!(value["message"]["id"], d.message.id.to_string());
    assert_eq!(value["message"]["text"], "Hi Sam");
    assert_eq!(
        value["message"]["author"],
        serde_json::json!({"kind": "agent", "id": "alice", "name": "Alice Admin"})
    );
    // The latest message's sender; the thread of the conversation.
    assert_eq!(
        value["recipient"],
        serde_json::json!({"id": "u-2", "name": "Sam"})
    );
    assert_eq!(value["thread_id"], "chat-9");
    // No rich text: the HTML stays home.
    assert!(value["message"].get("html").is_none(), "{value}");
}

#[test]
fn html_goes_only_to_rich_text_channels_and_long_text_is_refused() {
    let rich = Capabilities {
        max_text_length: Some(10),
        attachments: false,
        rich_text: true,
    };
    let d = delivery(
        channel("https://bridge.example/hook", rich, false),
        "Hi Sam",
        Some("<b>Hi</b>"),
    );
    let value = serde_json::to_value(payload(&d).unwrap()).unwrap();
    assert_eq!(value["message"]["html"], "<b>Hi</b>");

    let d = delivery(
        channel("https://bridge.example/hook", rich, false),
        "ünïcödé long",
        None,
    );
    assert_eq!(
        payload(&d).unwrap_err(),
        PrepareError::TooLong { len: 12, max: 10 }
    );
    // Ten characters (not bytes) fit.
    let d = delivery(
        channel("https://bridge.example/hook", rich, false),
        "ünïcödé ab",
        None,
    );
    assert!(payload(&d).is_ok());
}

#[test]
fn a_conversation_without_the_persons_message_has_no_recipient() {
    let mut d = delivery(
        channel(
            "https://bridge.example/hook",
            Capabilities::default(),
            false,
        ),
        "Hi",
        None,
    );
    d.history.clear();
    assert_eq!(payload(&d).unwrap_err(), PrepareError::NoRecipient);
}

#[test]
fn answers_are_classified_as_the_conventions_say() {
    let delivered = classify(200, None, br#"{"id": "tg-77"}"#);
    assert_eq!(
        delivered,
        SendOutcome::Delivered {
            provider_id: Some("tg-77".into())
        }
    );
    assert_eq!(
        classify(204, None, b""),
        SendOutcome::Delivered { provider_id: None }
    );
    assert!(
        matches!(classify(301, None, b""), SendOutcome::Failed { reason } if reason.contains("redirect"))
    );
    assert!(matches!(
        classify(302, None, b""),
        SendOutcome::Failed { .. }
    ));
    let wait = Some(Duration::from_secs(7));
    for status in [408, 429, 500, 502, 503, 504] {
        assert!(
            matches!(classify(status, wait, b""), SendOutcome::Retry { after, .. } if after == wait),
            "{status} is retried after Retry-After"
        );
    }
    for status in [400, 401, 403, 404, 410, 422] {
        assert!(
            matches!(classify(status, None, b"nope"), SendOutcome::Failed { reason } if reason.ends_with(": nope")),
            "{status} fails for good"
        );
    }
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let sender = CustomSender::default();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
    ] {
        let d = delivery(channel(url, Capabilities::default(), false), "Hi", None);
        match sender.send(&d).await {
            SendOutcome::Failed { reason } => {
                assert!(reason.contains("allow_private_targets"), "{url}: {reason}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    // Allowed: the request is made (nothing listens on port 9, so it is a
    // network error to retry, not a refusal).
    let d = delivery(
        channel("http://127.0.0.1:9/hook", Capabilities::default(), true),
        "Hi",
        None,
    );
    assert!(matches!(sender.send(&d).await, SendOutcome::Retry { .. }));
}
