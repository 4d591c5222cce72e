//! The one interface every channel's delivery implements: given an outbound
//! message with its conversation, contact and history, send it and say how
//! it went. Messaging-window rules are checked before a job exists, not here.

use std::time::Duration;

use crate::config::{Agent, Channel};
use crate::model::{Contact, Conversation, Message};

/// What a channel sender reports for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted by the relay or provider.
    Delivered { provider_id: Option<String> },
    /// A temporary failure: try again (after `after`, if the provider said).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// A permanent failure: do not try again.
    Failed { reason: String },
}

/// Everything a channel sender needs to deliver one outbound message.
#[derive(Debug, Clone)]
pub struct OutboundDelivery {
    /// The outbound message; for email its `external_id` is the Message-ID
    /// to send it with.
    pub message: Message,
    pub conversation: Conversation,
    pub contact: Contact,
    /// The conversation's earlier messages, oldest first (for threading).
    pub history: Vec<Message>,
    pub channel: Channel,
    /// The agent who wrote it, when an agent did.
    pub author: Option<Agent>,
}
