//! `Inbound`: what every channel adapter produces, and the only thing ingest takes.

use crate::model::{MessageFlag, Millis, Party};

/// How a sender is identified on a channel kind (an email address, a phone
/// number, a page-scoped id, a widget visitor id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The identity namespace, e.g. `"email"`, `"phone"`, `"messenger"`.
    pub kind: String,
    /// The handle within that namespace, normalised by the adapter
    /// (email addresses lower-cased).
    pub handle: String,
}

/// The sender of an inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub identity: Identity,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Hints the adapter found for which conversation a message belongs to,
/// tried in the order of the fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadHints {
    /// A conversation reply token (from a reply address), if any.
    pub reply_token: Option<String>,
    /// External ids the message answers directly (email In-Reply-To).
    pub in_reply_to: Vec<String>,
    /// External ids of earlier messages in the thread (email References).
    pub references: Vec<String>,
    /// Continue the sender's latest open conversation on this channel
    /// (chat and messaging channels, where there is no subject line).
    pub continue_open: bool,
    /// The channel's own thread id (a custom channel's `thread_id`): every
    /// message naming it joins the conversation its first message started.
    pub thread: Option<String>,
}

/// An attachment as received.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundAttachment {
    pub name: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One message received on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub channel: String,
    /// The channel's id for the message (Message-ID, `mid`, `wamid`...):
    /// the key that makes ingest idempotent.
    pub external_id: Option<String>,
    pub sender: Sender,
    /// The team member who forwarded the message, when the channel saw one.
    pub forwarded_by: Option<Party>,
    pub to: Vec<String>,
    pub thread_hints: ThreadHints,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<InboundAttachment>,
    pub flags: Vec<MessageFlag>,
    pub sent_at: Option<Millis>,
    /// The bytes as received, kept for audit where the channel has them.
    pub raw: Option<Vec<u8>>,
    /// A button's payload the person chose (a quick reply or postback),
    /// which automations act on (e.g. consent).
    pub postback: Option<String>,
}
