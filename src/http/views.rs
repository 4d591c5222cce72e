//! The JSON shapes the API returns for conversations, messages and contacts.

use serde::Serialize;

use crate::app::App;
use crate::channels::meta::window::{self, ReplyWindow, WindowKind};
use crate::clock::rfc3339;
use crate::config::ChannelKind;
use crate::ids::Id;
use crate::model::{
    Author, Contact, Conversation, ConversationStatus, DeliveryState, DeliveryStatus, Direction,
    Message, MessageFlag, MessageTemplate, Participation, Party, ThreadReason,
};

#[derive(Serialize)]
pub struct ContactSummary {
    pub id: Id,
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Serialize)]
pub struct ContactView {
    pub id: Id,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub owner: Option<String>,
    /// The consent the person gave, when a channel asked for it.
    pub consent: Option<ConsentView>,
    /// Set when the person opted out of SMS (texted STOP).
    pub opted_out: Option<OptOutView>,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct OptOutView {
    pub keyword: String,
    pub channel: String,
    pub at: String,
}

#[derive(Serialize)]
pub struct ConsentView {
    pub mode: crate::config::Consent,
    pub text: String,
    pub channel: String,
    pub at: String,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        ContactView {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            owner: c.owner,
            consent: c.consent.map(|r| ConsentView {
                mode: r.mode,
                text: r.text,
                channel: r.channel,
                at: rfc3339(r.at),
            }),
            opted_out: c.opted_out.map(|r| OptOutView {
                keyword: r.keyword,
                channel: r.channel,
                at: rfc3339(r.at),
            }),
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct ConversationView {
    pub id: Id,
    pub inbox: String,
    pub channel: String,
    pub subject: Option<String>,
    pub status: ConversationStatus,
    pub assignee: Option<String>,
    pub contact: ContactSummary,
    pub created_at: String,
    pub last_message_at: String,
    pub message_count: u64,
    pub assignment_history: Vec<AssignmentView>,
    pub ticket: Option<Id>,
    /// Why no ticket was opened, when the channel opens tickets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_note: Option<String>,
    /// What can be sent now on a messaging channel (`null` for email).
    pub reply_window: Option<ReplyWindowView>,
    /// Conversations linked to this one: started by someone who answered
    /// it without belonging to it, or the one this was started from.
    pub related: Vec<Id>,
    /// Why no reply can be sent (an email contact without a valid
    /// address); `null` when replies can go out.
    pub reply_problem: Option<String>,
}

/// A messaging window: `standard`, `human_agent`, `template_only` or
/// `closed`, and when it ends (or ended).
#[derive(Serialize)]
pub struct ReplyWindowView {
    pub kind: WindowKind,
    pub ends_at: Option<String>,
}

impl From<ReplyWindow> for ReplyWindowView {
    fn from(w: ReplyWindow) -> Self {
        ReplyWindowView {
            kind: w.kind,
            ends_at: w.ends_at.map(rfc3339),
        }
    }
}

/// The conversation as the API shows it, with its reply window computed
/// now for Messenger and WhatsApp conversations.
pub fn conversation_view(
    app: &App,
    conversation: Conversation,
    contact: Option<Contact>,
) -> ConversationView {
    let window = app
        .workspace()
        .channel(&conversation.channel)
        .filter(|c| !matches!(c.kind, ChannelKind::Email(_)))
        .and_then(|channel| match app.store.messages(conversation.id) {
            Ok(messages) => window::reply_window(channel, &messages, app.clock.now()),
            Err(error) => {
                tracing::warn!(%error, conversation = %conversation.id, "cannot compute the reply window");
                None
            }
        });
    let problem = app
        .workspace()
        .channel(&conversation.channel)
        .and_then(|channel| reply_problem(&channel.kind, contact.as_ref()));
    let mut view = ConversationView::new(conversation, contact).with_reply_window(window);
    view.reply_problem = problem;
    view
}

/// Why a reply cannot go out to `contact` on a channel of `kind`: email
/// (and forms, answered by email) need one valid address.
pub fn reply_problem(kind: &ChannelKind, contact: Option<&Contact>) -> Option<String> {
    if !matches!(kind, ChannelKind::Email(_) | ChannelKind::Form(_)) {
        return None;
    }
    let email = contact.and_then(|c| c.email.as_deref());
    match email.map(|e| (e, crate::email_address::normalize(e))) {
        Some((_, Some(_))) => None,
        Some((email, None)) => Some(format!(
            "the contact's address \"{email}\" is not a valid mailbox; set a valid email on the contact to reply"
        )),
        None => Some(
            "the sender's address could not be read from the mail (its From header has no valid \
             mailbox); set an email on the contact to reply"
                .to_string(),
        ),
    }
}

#[derive(Serialize)]
pub struct AssignmentView {
    pub agent: Option<String>,
    pub at: String,
    pub by: String,
}

impl ConversationView {
    pub fn new(c: Conversation, contact: Option<Contact>) -> Self {
        let contact = match contact {
            Some(contact) => ContactSummary {
                id: contact.id,
                name: contact.name,
                email: contact.email,
            },
            None => ContactSummary {
                id: c.contact,
                name: None,
                email: None,
            },
        };
        ConversationView {
            id: c.id,
            inbox: c.inbox,
            channel: c.channel,
            subject: c.subject,
            status: c.status,
            assignee: c.assignee,
            contact,
            created_at: rfc3339(c.created_at),
            last_message_at: rfc3339(c.last_message_at),
            message_count: c.message_count,
            assignment_history: c
                .assignment_history
                .into_iter()
                .map(|a| AssignmentView {
                    agent: a.agent,
                    at: rfc3339(a.at),
                    by: a.by,
                })
                .collect(),
            ticket: c.ticket,
            ticket_note: c.ticket_note,
            reply_window: None,
            related: c.related,
            reply_problem: None,
        }
    }

    /// Sets the reply window (see `conversation_view`).
    pub fn with_reply_window(mut self, window: Option<ReplyWindow>) -> Self {
        self.reply_window = window.map(ReplyWindowView::from);
        self
    }
}

#[derive(Serialize)]
pub struct AttachmentView {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub url: String,
    /// Why a linked attachment's bytes will not come; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_failed: Option<String>,
}

#[derive(Serialize)]
pub struct MessageView {
    pub id: Id,
    pub conversation: Id,
    pub direction: Direction,
    pub channel: String,
    pub from: Party,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded_by: Option<Party>,
    pub to: Vec<String>,
    /// Whom the sender addressed (an email's To and Cc headers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<AttachmentView>,
    pub flags: Vec<MessageFlag>,
    pub thread_reason: ThreadReason,
    /// For a message that joined by reference: `contact`, `recipient` or
    /// `agent`, why its sender belongs to the conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_as: Option<Participation>,
    pub external_id: Option<String>,
    /// A different message stored before under the same external id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id_shared_with: Option<Id>,
    pub sent_at: Option<String>,
    pub created_at: String,
    pub private: bool,
    pub author: Option<Author>,
    pub status: Option<StatusView>,
    /// The WhatsApp template sent instead of the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<MessageTemplate>,
    /// A call item's call (calls channels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<crate::channels::calls::view::CallView>,
}

#[derive(Serialize)]
pub struct StatusView {
    pub state: DeliveryState,
    pub reason: Option<String>,
    pub attempts: u32,
    pub provider_id: Option<String>,
    pub updated_at: String,
}

impl From<DeliveryStatus> for StatusView {
    fn from(s: DeliveryStatus) -> Self {
        StatusView {
            state: s.state,
            reason: s.reason,
            attempts: s.attempts,
            provider_id: s.provider_id,
            updated_at: rfc3339(s.updated_at),
        }
    }
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        let attachments = m
            .attachments
            .into_iter()
            .enumerate()
            .map(|(index, a)| AttachmentView {
                url: format!("/api/v1/messages/{}/attachments/{index}", m.id),
                name: a.name,
                content_type: a.content_type,
                size: a.size,
                fetch_failed: a.fetch_failed,
            })
            .collect();
        MessageView {
            id: m.id,
            conversation: m.conversation,
            direction: m.direction,
            channel: m.channel,
            from: m.from,
            forwarded_by: m.forwarded_by,
            to: m.to,
            recipients: m.recipients,
            subject: m.subject,
            text: m.text,
            html: m.html,
            attachments,
            flags: m.flags,
            thread_reason: m.thread_reason,
            joined_as: m.joined_as,
            external_id: m.external_id,
            external_id_shared_with: m.external_id_shared_with,
            sent_at: m.sent_at.map(rfc3339),
            created_at: rfc3339(m.created_at),
            private: m.private,
            author: m.author,
            status: m.status.map(StatusView::from),
            template: m.template,
            call: m
                .call
                .map(|call| crate::channels::calls::view::CallView::new(m.id, call)),
        }
    }
}

#[derive(Serialize)]
pub struct TicketView {
    pub id: Id,
    pub conversation: Id,
    pub contact: Id,
    pub inbox: String,
    pub pipeline: String,
    pub stage: String,
    pub owner: Option<String>,
    pub priority: crate::config::Priority,
    pub created_at: String,
    pub updated_at: String,
}

impl From<crate::model::Ticket> for TicketView {
    fn from(t: crate::model::Ticket) -> Self {
        TicketView {
            id: t.id,
            conversation: t.conversation,
            contact: t.contact,
            inbox: t.inbox,
            pipeline: t.pipeline,
            stage: t.stage,
            owner: t.owner,
            priority: t.priority,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}
