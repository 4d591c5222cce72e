//! Tests of the Graph sends: request bodies, recipients, limits and the
//! window re-check at send time.

use super::*;
use crate::config::{Channel, Consent, MessengerChannel, Secret, WhatsappChannel};
use crate::ids::Id;
use crate::model::{Contact, Conversation, ConversationStatus, Party, ThreadReason};

const HOUR: Millis = 60 * 60 * 1000;
const NOW: Millis = 1_750_000_000_000;

fn graph() -> GraphApi {
    GraphApi {
        base_url: "http://127.0.0.1:9".into(),
        version: "v21.0".into(),
    }
}

fn messenger(human_agent_tag: bool) -> Channel {
    Channel {
        id: "fb".into(),
        inbox: "support".into(),
        kind: ChannelKind::Messenger(MessengerChannel {
            page_id: "1234".into(),
            app_id: "app".into(),
            app_secret: Secret::new("secret"),
            verify_token: Secret::new("verify"),
            page_token: Secret::new("page-token"),
            greeting: None,
            instant_reply: None,
            consent: Consent::None,
            consent_text: None,
            human_agent_tag,
            graph: graph(),
            allow_private_targets: false,
        }),
        routing: None,
        tickets: None,
    }
}

fn whatsapp() -> Channel {
    Channel {
        id: "wa".into(),
        inbox: "support".into(),
        kind: ChannelKind::Whatsapp(WhatsappChannel {
            phone_number_id: "5550001".into(),
            app_secret: Secret::new("secret"),
            verify_token: Secret::new("verify"),
            access_token: Secret::new("wa-token"),
            instant_reply: None,
            graph: graph(),
            allow_private_targets: false,
        }),
        routing: None,
        tickets: None,
    }
}

fn message(direction: Direction, from: Option<&str>, at: Millis, text: &str) -> Message {
    Message {
        id: Id::new_at(at),
        conversation: Id::new_at(0),
        direction,
        channel: "fb".into(),
        from: Party {
            name: None,
            address: from.map(str::to_string),
        },
        forwarded_by: None,
        to: Vec::new(),
        subject: None,
        text: Some(text.into()),
        html: None,
        attachments: Vec::new(),
        flags: Vec::new(),
        thread_reason: ThreadReason::Continued,
        joined_as: None,
        external_id_shared_with: None,
        recipients: Vec::new(),
        external_id: None,
        sent_at: (direction == Direction::Inbound).then_some(at),
        created_at: at,
        author: (direction == Direction::Outbound).then(|| Author::Agent { id: "alice".into() }),
        private: false,
        status: None,
        template: None,
        thread: None,
        call: None,
    }
}

/// A reply by Alice on `channel` to a person who wrote `ago` before NOW
/// from `from`.
fn delivery(channel: Channel, from: &str, ago: Millis, text: &str) -> OutboundDelivery {
    let contact = Contact {
        id: Id::new_at(0),
        name: None,
        email: None,
        phone: None,
        owner: None,
        consent: None,
        opted_out: None,
        created_at: 0,
    };
    OutboundDelivery {
        message: message(Direction::Outbound, None, NOW, text),
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
            message(Direction::Inbound, Some(from), NOW - 30 * 24 * HOUR, "old"),
            message(Direction::Inbound, Some(from), NOW - ago, "hello"),
        ],
        channel,
        author: None,
    }
}

#[test]
fn messenger_reply_inside_the_day() {
    let d = delivery(messenger(false), "1234:psid-9", HOUR, "Hi there");
    let (request, token) = prepare(&d, NOW).unwrap();
    assert_eq!(token, "page-token");
    assert_eq!(request.url, "http://127.0.0.1:9/v21.0/1234/messages");
    assert_eq!(
        request.body,
        json!({"recipient": {"id": "psid-9"}, "messaging_type": "RESPONSE",
               "message": {"text": "Hi there"}})
    );
}

#[test]
fn messenger_human_agent_tag_after_the_day() {
    let d = delivery(
        messenger(true),
        "1234:psid-9",
        30 * HOUR,
        "Sorry for the wait",
    );
    let (request, _) = prepare(&d, NOW).unwrap();
    assert_eq!(request.body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(request.body["tag"], "HUMAN_AGENT");
    let d = delivery(messenger(false), "1234:p", 30 * HOUR, "x");
    assert!(matches!(prepare(&d, NOW), Err(SendError::Window(_))));
}

#[test]
fn a_queued_message_that_aged_out_is_not_sent() {
    let d = delivery(messenger(false), "1234:psid-9", 23 * HOUR, "late");
    assert!(prepare(&d, NOW).is_ok());
    let error = prepare(&d, NOW + 2 * HOUR).unwrap_err();
    assert!(error.to_string().contains("24-hour"), "{error}");
}

#[test]
fn automated_messages_never_leave_the_day() {
    let mut d = delivery(messenger(true), "1234:psid-9", 30 * HOUR, "Auto");
    d.message.author = Some(Author::Automation {
        name: "instant_reply".into(),
    });
    assert!(prepare(&d, NOW).is_err());
}

#[test]
fn messenger_text_over_2000_characters_is_refused() {
    let long = "é".repeat(MESSENGER_MAX_TEXT + 1);
    let d = delivery(messenger(false), "1234:psid-9", HOUR, &long);
    assert!(matches!(
        prepare(&d, NOW),
        Err(SendError::TooLong {
            len: 2001,
            max: 2000,
            ..
        })
    ));
    let d = delivery(messenger(false), "1234:psid-9", HOUR, &long[2..]);
    assert!(prepare(&d, NOW).is_ok());
}

#[test]
fn whatsapp_text_and_template() {
    let d = delivery(whatsapp(), "+16505551234", HOUR, "Hello");
    let (request, token) = prepare(&d, NOW).unwrap();
    assert_eq!(token, "wa-token");
    assert_eq!(request.url, "http://127.0.0.1:9/v21.0/5550001/messages");
    assert_eq!(
        request.body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "+16505551234", "type": "text",
               "text": {"preview_url": false, "body": "Hello"}})
    );
    let mut d = delivery(whatsapp(), "16505551234", 30 * HOUR, "[template]");
    assert!(prepare(&d, NOW).is_err());
    d.message.template = Some(MessageTemplate {
        name: "order_update_v1".into(),
        language: "en_US".into(),
        params: vec!["Alex".into()],
    });
    let (request, _) = prepare(&d, NOW).unwrap();
    assert_eq!(
        request.body,
        json!({"messaging_product": "whatsapp", "to": "+16505551234", "type": "template",
               "template": {"name": "order_update_v1", "language": {"code": "en_US"},
                            "components": [{"type": "body",
                                            "parameters": [{"type": "text", "text": "Alex"}]}]}})
    );
}

#[test]
fn whatsapp_falls_back_to_the_contact_phone() {
    let mut d = delivery(whatsapp(), "", HOUR, "Hello");
    for m in &mut d.history {
        m.from.address = None;
    }
    assert!(matches!(prepare(&d, NOW), Err(SendError::NoRecipient(_))));
    d.contact.phone = Some("+1 650 555 0000".into());
    let (request, _) = prepare(&d, NOW).unwrap();
    assert_eq!(request.body["to"], "+16505550000");
}

#[test]
fn provider_ids_from_both_answers() {
    let messenger = Provider::Messenger {
        human_agent_tag: false,
    };
    assert_eq!(
        provider_id(
            messenger,
            br#"{"recipient_id":"p","message_id":"m_AG5Hz2U"}"#
        ),
        Some("m_AG5Hz2U".into())
    );
    let answer = br#"{"messaging_product":"whatsapp","contacts":[{"input":"+1","wa_id":"1"}],"messages":[{"id":"wamid.HBgL"}]}"#;
    assert_eq!(
        provider_id(Provider::Whatsapp, answer),
        Some("wamid.HBgL".into())
    );
    assert_eq!(provider_id(Provider::Whatsapp, b"{}"), None);
}
