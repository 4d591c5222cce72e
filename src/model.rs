//! The records Switchboard keeps: contacts, conversations, messages and their
//! attachments. These are the stored shapes and, serialised, what the API returns.

use serde::{Deserialize, Serialize};

use crate::ids::Id;

/// Milliseconds since the Unix epoch, UTC. Serialised as RFC 3339 in the API.
pub type Millis = i64;

/// A person or organisation that talks to the team on any channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: Id,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The agent who owns this contact, if any (used by routing).
    #[serde(default)]
    pub owner: Option<String>,
    /// The person's consent to be contacted, when a channel asked for it.
    #[serde(default)]
    pub consent: Option<ConsentRecord>,
    /// The person texted STOP (or another opt-out keyword) on an SMS
    /// channel: nothing more is sent to them until they text START.
    #[serde(default)]
    pub opted_out: Option<OptOutRecord>,
    pub created_at: Millis,
}

/// An SMS opt-out: the keyword the person sent, on which channel, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptOutRecord {
    pub keyword: String,
    pub channel: String,
    pub at: Millis,
}

/// A consent given on a channel: how it was asked, what was shown, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub mode: crate::config::Consent,
    pub text: String,
    pub channel: String,
    pub at: Millis,
}

/// Where a conversation stands in the team's workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Open,
    Pending,
    Closed,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 3] = [Self::Open, Self::Pending, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A thread of messages with one contact, in one inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: Id,
    pub inbox: String,
    /// The channel the conversation started on; replies go out on it.
    pub channel: String,
    pub contact: Id,
    pub subject: Option<String>,
    pub status: ConversationStatus,
    pub assignee: Option<String>,
    pub created_at: Millis,
    pub last_message_at: Millis,
    pub message_count: u64,
    /// The token in this conversation's reply address (`local+c<token>@domain`),
    /// set when the first email reply goes out.
    #[serde(default)]
    pub reply_token: Option<String>,
    /// Every assignment, oldest first.
    #[serde(default)]
    pub assignment_history: Vec<AssignmentRecord>,
    /// The ticket opened with this conversation, if any.
    #[serde(default)]
    pub ticket: Option<Id>,
    /// Why no ticket was opened although the channel opens tickets.
    #[serde(default)]
    pub ticket_note: Option<String>,
    /// Conversations linked to this one: someone who does not belong here
    /// answered a message of it (their mail started the other one), or
    /// this one was started that way. Oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Id>,
}

/// One assignment of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    /// The assignee; `None` when unassigned.
    pub agent: Option<String>,
    pub at: Millis,
    /// Which rule or who: `users_and_teams`, `contact_owner`,
    /// `contact_owner_fallback`, `became_available`, `agent:alice`.
    pub by: String,
}

/// A ticket: a conversation's work item in a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: Id,
    pub conversation: Id,
    pub contact: Id,
    pub inbox: String,
    pub pipeline: String,
    pub stage: String,
    pub owner: Option<String>,
    /// The owner follows the conversation's assignee.
    pub owner_follows_assignee: bool,
    pub priority: crate::config::Priority,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Which way a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Why an inbound message joined the conversation it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadReason {
    /// It started a new conversation.
    New,
    /// Its In-Reply-To named a stored message.
    InReplyTo,
    /// One of its References named a stored message.
    References,
    /// It was addressed to a conversation's reply address.
    ReplyToken,
    /// The channel continues the sender's open conversation (chat, messaging).
    Continued,
    /// Its channel thread id (a custom channel's `thread_id`) named the
    /// conversation.
    Thread,
    /// Its references (In-Reply-To, References, reply address) named a
    /// conversation its sender does not belong to: it started a new one,
    /// linked to that one as related.
    Related,
}

/// Why the sender of a message that joined a conversation by reference
/// belongs to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Participation {
    /// The sender is the conversation's contact.
    Contact,
    /// The sender's address was a recipient (To or Cc) of a message in it.
    Recipient,
    /// The sender is an agent.
    Agent,
}

/// Facts about a message that automations must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFlag {
    /// Sent by a machine (out-of-office, autoresponder, list or bulk mail):
    /// never answered automatically.
    AutoReply,
    /// A delivery status notification (bounce).
    Bounce,
    /// Forwarded by a team member; see `forwarded_by`.
    Forwarded,
    /// Mail from a list or bulk sender.
    Bulk,
    /// The mail's From header was not a valid address list: the sender is
    /// the first valid mailbox in it, or unknown when it had none.
    MalformedFrom,
}

/// Who a message is from, as the channel names them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Party {
    pub name: Option<String>,
    /// An email address, phone number or channel-specific handle.
    pub address: Option<String>,
}

/// What the API tells about one stored attachment; the bytes are kept apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    /// Why the bytes of a linked attachment will not come (its download
    /// was given up or refused); absent while pending and once fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_failed: Option<String>,
}

/// Who wrote an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Author {
    /// An agent, by id.
    Agent { id: String },
    /// An automation (greeting, instant reply, notification).
    Automation { name: String },
}

/// Where an outbound message stands on its way to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryState {
    /// Statuses only move forward: a late `delivered` never overrides `read`.
    /// `failed` can follow `queued` or `sent` (a provider's late failure).
    pub fn can_become(self, next: DeliveryState) -> bool {
        use DeliveryState::*;
        match (self, next) {
            (Failed, _) => false,
            (_, Failed) => matches!(self, Queued | Sent),
            _ => next.rank() > self.rank(),
        }
    }

    fn rank(self) -> u8 {
        match self {
            DeliveryState::Queued => 0,
            DeliveryState::Sent => 1,
            DeliveryState::Delivered => 2,
            DeliveryState::Read => 3,
            DeliveryState::Failed => 4,
        }
    }
}

/// The delivery status of an outbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    pub state: DeliveryState,
    /// Why it failed, or why the last attempt did not succeed.
    pub reason: Option<String>,
    pub attempts: u32,
    /// The provider's id for the sent message, when it gives one.
    pub provider_id: Option<String>,
    pub updated_at: Millis,
}

/// One message in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Id,
    pub conversation: Id,
    pub direction: Direction,
    pub channel: String,
    pub from: Party,
    /// The team member who forwarded this message, when it was forwarded.
    #[serde(default)]
    pub forwarded_by: Option<Party>,
    pub to: Vec<String>,
    /// Whom the sender addressed (an email's To and Cc headers), when the
    /// channel tells.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<AttachmentMeta>,
    pub flags: Vec<MessageFlag>,
    pub thread_reason: ThreadReason,
    /// For a message that joined by reference: why its sender belongs here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_as: Option<Participation>,
    /// The channel's own id of the message (an email's Message-ID).
    pub external_id: Option<String>,
    /// Another, different message (other sender or content) was stored
    /// before with the same external id on this channel: this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_shared_with: Option<Id>,
    /// When the sender says it was sent (an email's Date header).
    pub sent_at: Option<Millis>,
    pub created_at: Millis,
    /// Who wrote an outbound message or note.
    #[serde(default)]
    pub author: Option<Author>,
    /// An internal note: shown to agents, never sent.
    #[serde(default)]
    pub private: bool,
    /// Delivery status of an outbound message (none for inbound and notes).
    #[serde(default)]
    pub status: Option<DeliveryStatus>,
    /// A WhatsApp template sent instead of the free text (which then only
    /// describes it in the timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<MessageTemplate>,
    /// The channel's thread id an inbound message named (a custom
    /// channel's `thread_id`), so replies can name it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    /// Set on a call item: a phone call shown as one message that its
    /// provider's callbacks update in place (`channels::calls::item`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<crate::channels::calls::item::CallDetails>,
}

/// An approved WhatsApp message template and its body parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTemplate {
    pub name: String,
    /// The template's language code, e.g. `en_US`.
    pub language: String,
    #[serde(default)]
    pub params: Vec<String>,
}
