//! Events: every change agents should see live (a conversation created or
//! updated, a message created, a delivery status changed) is appended to a
//! durable log in the same transaction as the change, with a sequence
//! number. Subscribers read the log from where they left off, so a client
//! that reconnects with `since` gets everything after it: no gap, no
//! duplicate. Only events the flusher has made durable are handed out.

use serde::{Deserialize, Serialize};

use crate::ids::Id;
use crate::model::{Conversation, DeliveryStatus, Message, Millis};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    #[serde(rename = "conversation.updated")]
    ConversationUpdated,
    #[serde(rename = "message.created")]
    MessageCreated,
    #[serde(rename = "message.status")]
    MessageStatus,
}

/// The record an event carries, as stored at the time of the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventPayload {
    Conversation(Box<Conversation>),
    Message(Box<Message>),
    Status { message: Id, status: DeliveryStatus },
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub kind: EventKind,
    pub inbox: String,
    pub conversation: Id,
    pub payload: EventPayload,
    pub at: Millis,
}

impl Event {
    /// An event for a conversation record (created or updated).
    pub fn conversation(kind: EventKind, conversation: &Conversation, at: Millis) -> Event {
        Event {
            seq: 0,
            kind,
            inbox: conversation.inbox.clone(),
            conversation: conversation.id,
            payload: EventPayload::Conversation(Box::new(conversation.clone())),
            at,
        }
    }

    /// A `message.created` event.
    pub fn message(conversation: &Conversation, message: &Message, at: Millis) -> Event {
        Event {
            seq: 0,
            kind: EventKind::MessageCreated,
            inbox: conversation.inbox.clone(),
            conversation: conversation.id,
            payload: EventPayload::Message(Box::new(message.clone())),
            at,
        }
    }

    /// A `message.status` event.
    pub fn status(inbox: &str, message: &Message, status: &DeliveryStatus, at: Millis) -> Event {
        Event {
            seq: 0,
            kind: EventKind::MessageStatus,
            inbox: inbox.to_string(),
            conversation: message.conversation,
            payload: EventPayload::Status {
                message: message.id,
                status: status.clone(),
            },
            at,
        }
    }
}
