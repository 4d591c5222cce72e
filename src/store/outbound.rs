//! Outbound messages: an agent's reply, an internal note or an automated
//! message becomes a message and (unless it is a note) an outbox job in one
//! transaction, with its events. A new outbound conversation (an agent
//! writing first) is created in the same transaction as its first message.

use super::outbox::Job;
use super::write_set::{TreeId, WriteSet};
use super::{encode, keys, Store, StoreError};
use crate::events::{Event, EventKind};
use crate::ids::Id;
use crate::inbound::Sender;
use crate::model::{
    AssignmentRecord, Author, Contact, Conversation, ConversationStatus, DeliveryState,
    DeliveryStatus, Direction, Message, MessageFlag, MessageTemplate, Millis, Party, ThreadReason,
};
use rand::distributions::{Alphanumeric, DistString};

/// Where an outbound message goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// An existing conversation.
    Conversation(Id),
    /// A new conversation with `recipient` on `channel` of `inbox`.
    New {
        inbox: String,
        channel: String,
        recipient: Sender,
        subject: Option<String>,
    },
}

/// One outbound message to write.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub target: Target,
    pub author: Author,
    /// The From name shown in the timeline.
    pub author_name: Option<String>,
    pub text: String,
    pub html: Option<String>,
    /// An internal note: stored, never sent.
    pub private: bool,
    /// For email: the domain of the Message-ID the message is sent with.
    pub message_id_domain: Option<String>,
    /// For email: give the conversation a reply-address token if it has none.
    pub reply_token: bool,
    pub now: Millis,
    /// For WhatsApp: the approved template to send instead of the text.
    pub template: Option<MessageTemplate>,
}

/// Why an outbound message was not written.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("conversation not found")]
    NotFound,
    #[error(
        "the customer's last message was an auto-reply or a bounce; automations do not answer it"
    )]
    AutoReplyLoop,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes an outbound message and its delivery job (blocking). The
    /// caller must await `durable()` before reporting it accepted.
    pub fn append_outbound(
        &self,
        request: OutboundRequest,
    ) -> Result<(Message, Conversation), OutboundError> {
        let _writer = self.lock_writer();
        self.append_locked(request)
    }

    /// Like `append_outbound`, for an automation that a conversation gets at
    /// most once (a consent request): checked and written under one lock, so
    /// messages arriving together cannot both trigger it. `None` when the
    /// conversation already has one.
    pub fn append_automation_once(
        &self,
        request: OutboundRequest,
    ) -> Result<Option<(Message, Conversation)>, OutboundError> {
        let _writer = self.lock_writer();
        if let (Target::Conversation(id), Author::Automation { name }) =
            (&request.target, &request.author)
        {
            let sent = self.messages(*id)?.iter().any(
                |m| matches!(&m.author, Some(Author::Automation { name: other }) if other == name),
            );
            if sent {
                return Ok(None);
            }
        }
        self.append_locked(request).map(Some)
    }

    fn append_locked(
        &self,
        request: OutboundRequest,
    ) -> Result<(Message, Conversation), OutboundError> {
        let now = request.now;
        let (old, contact) = match &request.target {
            Target::Conversation(id) => {
                let conversation = self.conversation(*id)?.ok_or(OutboundError::NotFound)?;
                let contact = self
                    .contact(conversation.contact)?
                    .ok_or(OutboundError::NotFound)?;
                (Some(conversation), contact)
            }
            Target::New { recipient, .. } => (None, self.contact_for(recipient, now)?),
        };
        if matches!(request.author, Author::Automation { .. }) {
            if let Some(conversation) = &old {
                self.refuse_auto_reply_loop(conversation.id)?;
            }
        }
        let mut conversation = match (&old, &request.target) {
            (Some(conversation), _) => conversation.clone(),
            (
                None,
                Target::New {
                    inbox,
                    channel,
                    subject,
                    ..
                },
            ) => Conversation {
                id: self.ids.next(now),
                inbox: inbox.clone(),
                channel: channel.clone(),
                contact: contact.id,
                subject: subject.clone(),
                status: ConversationStatus::Open,
                assignee: match &request.author {
                    Author::Agent { id } => Some(id.clone()),
                    Author::Automation { .. } => None,
                },
                created_at: now,
                last_message_at: now,
                message_count: 0,
                reply_token: None,
                assignment_history: Vec::new(),
                ticket: None,
                ticket_note: None,
                related: Vec::new(),
            },
            (None, Target::Conversation(_)) => return Err(OutboundError::NotFound),
        };
        let new_token = (request.reply_token
            && !request.private
            && conversation.reply_token.is_none())
        .then(|| {
            Alphanumeric
                .sample_string(&mut rand::thread_rng(), 20)
                .to_lowercase()
        });
        if new_token.is_some() {
            conversation.reply_token = new_token.clone();
        }
        conversation.last_message_at = conversation.last_message_at.max(now);
        conversation.message_count += 1;

        let message_id = self.ids.next(now);
        let message = Message {
            id: message_id,
            conversation: conversation.id,
            direction: Direction::Outbound,
            channel: conversation.channel.clone(),
            from: Party {
                name: request.author_name.clone(),
                address: None,
            },
            forwarded_by: None,
            to: contact
                .email
                .iter()
                .chain(contact.phone.iter())
                .take(1)
                .cloned()
                .collect(),
            recipients: Vec::new(),
            subject: conversation.subject.clone(),
            text: Some(request.text.clone()),
            html: request.html.clone(),
            attachments: Vec::new(),
            flags: Vec::new(),
            thread_reason: if old.is_some() {
                ThreadReason::Continued
            } else {
                ThreadReason::New
            },
            joined_as: None,
            external_id_shared_with: None,
            external_id: match (&request.message_id_domain, request.private) {
                (Some(domain), false) => Some(format!(
                    "{}@{domain}",
                    message_id.to_string().to_lowercase()
                )),
                _ => None,
            },
            sent_at: None,
            created_at: now,
            author: Some(request.author.clone()),
            private: request.private,
            status: (!request.private).then_some(DeliveryStatus {
                state: DeliveryState::Queued,
                reason: None,
                attempts: 0,
                provider_id: None,
                updated_at: now,
            }),
            template: request.template.clone(),
            thread: None,
            call: None,
        };
        let job = (!request.private).then_some(Job {
            message: message_id,
            conversation: conversation.id,
            attempts: 0,
            due: now,
            notification: None,
        });

        if old.is_none() {
            if let Author::Agent { id } = &request.author {
                conversation.assignment_history.push(AssignmentRecord {
                    agent: Some(id.clone()),
                    at: now,
                    by: format!("agent:{id}"),
                });
            }
        }
        let kind = if old.is_some() {
            EventKind::ConversationUpdated
        } else {
            EventKind::ConversationCreated
        };
        let stamped = self.stamp(vec![
            Event::conversation(kind, &conversation, now),
            Event::message(&conversation, &message, now),
        ]);
        let mut writes = WriteSet::default();
        stamped.add_to(&mut writes);
        self.put_conversation(&mut writes, old.as_ref(), &conversation, now)?;
        self.put_message(&mut writes, &conversation, &message)?;
        if let Some(job) = &job {
            writes.put(TreeId::Outbox, job.key(), encode(job));
        }
        if let Some(token) = &new_token {
            writes.put(
                TreeId::ReplyTokens,
                token.as_bytes(),
                conversation.id.to_bytes(),
            );
        }
        if let Target::New { recipient, .. } = &request.target {
            let identity = keys::identity(&recipient.identity.kind, &recipient.identity.handle);
            writes.put(TreeId::Contacts, contact.id.to_bytes(), encode(&contact));
            writes.put(TreeId::Identities, identity, contact.id.to_bytes());
            writes.put(
                TreeId::ContactChannel,
                keys::contact_channel(contact.id, &conversation.channel),
                conversation.id.to_bytes(),
            );
        }
        self.commit(&writes)?;
        self.mark_committed(&stamped);
        Ok((message, conversation))
    }

    /// The contact with this identity, or a new one (not yet written).
    pub(super) fn contact_for(
        &self,
        recipient: &Sender,
        now: Millis,
    ) -> Result<Contact, StoreError> {
        let key = keys::identity(&recipient.identity.kind, &recipient.identity.handle);
        match self.trees.identities.get(key)? {
            Some(id) => self.required(&self.trees.contacts, &id, "contact"),
            None => Ok(Contact {
                id: self.ids.next(now),
                name: recipient.name.clone(),
                email: recipient.email.clone(),
                phone: recipient.phone.clone(),
                owner: None,
                consent: None,
                opted_out: None,
                created_at: now,
            }),
        }
    }

    /// Refuses automated mail to a conversation whose latest inbound message
    /// was an auto-reply or a bounce (mail loops, backscatter).
    fn refuse_auto_reply_loop(&self, conversation: Id) -> Result<(), OutboundError> {
        let last_inbound = self
            .messages(conversation)?
            .into_iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound);
        match last_inbound {
            Some(message)
                if message
                    .flags
                    .iter()
                    .any(|f| matches!(f, MessageFlag::AutoReply | MessageFlag::Bounce)) =>
            {
                Err(OutboundError::AutoReplyLoop)
            }
            _ => Ok(()),
        }
    }
}
