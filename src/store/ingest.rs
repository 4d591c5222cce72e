//! The store's side of ingest: given an `Inbound` for an inbox, dedupe it,
//! find or create the contact, thread it into a conversation and persist it
//! all in one transaction. Durability is awaited separately (group commit).

use super::routing::{AssignmentPlan, TicketPlan};
use super::write_set::{TreeId, WriteSet};
use super::{decode, encode, keys, Store, StoreError};
use crate::events::{Event, EventKind};
use crate::ids::Id;
use crate::inbound::Inbound;
use crate::model::{
    AttachmentMeta, Contact, Conversation, ConversationStatus, Direction, Message, Millis, Party,
    ThreadReason,
};

/// One inbound message, bound for one inbox.
pub struct IngestRequest {
    pub inbound: Inbound,
    pub inbox: String,
    pub now: Millis,
    /// How to assign the conversation if the message starts one.
    pub assignment: Option<AssignmentPlan>,
    /// The ticket to open if the message starts a conversation.
    pub ticket: Option<TicketPlan>,
    /// Other channels whose open conversation with the sender the message
    /// continues (with `continue_open`): an SMS and a calls channel on one
    /// business number share a person's timeline.
    pub timeline_channels: Vec<String>,
}

/// What ingest did with a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub message: Id,
    pub conversation: Id,
    pub contact: Id,
    /// The message had been stored before (same channel and external id).
    pub duplicate: bool,
    pub new_conversation: bool,
    /// The sender was not known before this message.
    pub new_contact: bool,
    pub thread_reason: ThreadReason,
}

impl Store {
    /// Writes one inbound message (blocking; call from `spawn_blocking`).
    /// The caller must await `durable()` before acknowledging it.
    pub fn ingest(&self, request: IngestRequest) -> Result<Accepted, StoreError> {
        let _writer = self.lock_writer();
        let IngestRequest {
            inbound,
            inbox,
            now,
            assignment,
            ticket,
            timeline_channels,
        } = request;
        let t = &self.trees;

        if let Some(external_id) = &inbound.external_id {
            if let Some(existing) = t.dedupe.get(keys::dedupe(&inbound.channel, external_id))? {
                return self.duplicate(&existing);
            }
        }

        let identity_key = keys::identity(
            &inbound.sender.identity.kind,
            &inbound.sender.identity.handle,
        );
        let known = t.identities.get(&identity_key)?;
        let new_contact = known.is_none();
        let (contact, contact_changed) = match known {
            Some(id_bytes) => {
                let mut contact: Contact = self.required(&t.contacts, &id_bytes, "contact")?;
                let changed = fill_contact(&mut contact, &inbound);
                (contact, changed)
            }
            None => (
                Contact {
                    id: self.ids.next(now),
                    name: inbound.sender.name.clone(),
                    email: inbound.sender.email.clone(),
                    phone: inbound.sender.phone.clone(),
                    owner: None,
                    consent: None,
                    opted_out: None,
                    created_at: now,
                },
                true,
            ),
        };

        let (existing, thread_reason) =
            self.find_thread(&inbound, &inbox, contact.id, &timeline_channels)?;
        let new_conversation = existing.is_none();
        let message_id = self.ids.next(now);
        let old_conversation = existing.clone();
        let mut conversation = existing.unwrap_or_else(|| Conversation {
            id: self.ids.next(now),
            inbox: inbox.clone(),
            channel: inbound.channel.clone(),
            contact: contact.id,
            subject: inbound.subject.clone(),
            status: ConversationStatus::Open,
            assignee: None,
            created_at: now,
            last_message_at: now,
            message_count: 0,
            reply_token: None,
            assignment_history: Vec::new(),
            ticket: None,
            ticket_note: None,
        });
        conversation.last_message_at = conversation.last_message_at.max(now);
        conversation.message_count += 1;
        if conversation.status == ConversationStatus::Closed {
            conversation.status = ConversationStatus::Open;
        }

        let message = Message {
            id: message_id,
            conversation: conversation.id,
            direction: Direction::Inbound,
            channel: inbound.channel.clone(),
            from: Party {
                name: inbound.sender.name.clone(),
                address: Some(inbound.sender.identity.handle.clone()),
            },
            forwarded_by: inbound.forwarded_by.clone(),
            to: inbound.to.clone(),
            subject: inbound.subject.clone(),
            text: inbound.text.clone(),
            html: inbound.html.clone(),
            attachments: inbound
                .attachments
                .iter()
                .map(|a| AttachmentMeta {
                    name: a.name.clone(),
                    content_type: a.content_type.clone(),
                    size: a.bytes.len() as u64,
                })
                .collect(),
            flags: inbound.flags.clone(),
            thread_reason,
            external_id: inbound.external_id.clone(),
            sent_at: inbound.sent_at,
            created_at: now,
            author: None,
            private: false,
            status: None,
            template: None,
            thread: inbound.thread_hints.thread.clone(),
            call: None,
        };

        let mut writes = WriteSet::default();
        let mut notify_owner = None;
        if new_conversation {
            if let Some(plan) = &assignment {
                if let Some((record, notify)) = self.choose_assignee(plan, &contact, now)? {
                    conversation.assignee = record.agent.clone();
                    conversation.assignment_history.push(record);
                    notify_owner = notify;
                }
            }
            if let Some(plan) = &ticket {
                self.open_ticket(&mut writes, plan, &mut conversation, now)?;
            }
        }
        if let Some(owner) = &notify_owner {
            self.queue_owner_notification(&mut writes, &conversation, owner, now);
        }

        let kind = if new_conversation {
            EventKind::ConversationCreated
        } else {
            EventKind::ConversationUpdated
        };
        let stamped = self.stamp(vec![
            Event::conversation(kind, &conversation, now),
            Event::message(&conversation, &message, now),
        ]);
        stamped.add_to(&mut writes);
        if contact_changed {
            writes.put(TreeId::Contacts, contact.id.to_bytes(), encode(&contact));
            writes.put(TreeId::Identities, &identity_key, contact.id.to_bytes());
        }
        self.put_conversation(&mut writes, old_conversation.as_ref(), &conversation, now)?;
        let stored_ref = self.put_message(&mut writes, &conversation, &message);
        if let Some(thread) = &inbound.thread_hints.thread {
            // The thread's first message registers it; later ones found it.
            if thread_reason != ThreadReason::Thread {
                writes.put(
                    TreeId::ExternalRefs,
                    keys::external_ref(&inbox, &keys::thread_ref(&inbound.channel, thread)),
                    stored_ref.clone(),
                );
            }
        }
        if let Some(external_id) = &inbound.external_id {
            writes.put(
                TreeId::Dedupe,
                keys::dedupe(&inbound.channel, external_id),
                stored_ref.clone(),
            );
        }
        writes.put(
            TreeId::ContactChannel,
            keys::contact_channel(contact.id, &inbound.channel),
            conversation.id.to_bytes(),
        );
        for (index, attachment) in inbound.attachments.iter().enumerate() {
            writes.put(
                TreeId::Attachments,
                keys::attachment(message_id, index as u32),
                attachment.bytes.clone(),
            );
        }
        if let Some(bytes) = &inbound.raw {
            writes.put(TreeId::Raw, message_id.to_bytes(), bytes.clone());
        }
        self.commit(&writes)?;
        self.mark_committed(&stamped);

        Ok(Accepted {
            message: message_id,
            conversation: conversation.id,
            contact: contact.id,
            duplicate: false,
            new_conversation,
            new_contact,
            thread_reason,
        })
    }

    fn duplicate(&self, stored_ref: &[u8]) -> Result<Accepted, StoreError> {
        let message: Message = self.required(&self.trees.messages, stored_ref, "message")?;
        let conversation: Conversation = self.required(
            &self.trees.conversations,
            &message.conversation.to_bytes(),
            "conversation",
        )?;
        Ok(Accepted {
            message: message.id,
            conversation: conversation.id,
            contact: conversation.contact,
            duplicate: true,
            new_conversation: false,
            new_contact: false,
            thread_reason: message.thread_reason,
        })
    }

    /// The conversation an inbound message joins, and why; `None` for a new one.
    fn find_thread(
        &self,
        inbound: &Inbound,
        inbox: &str,
        contact: Id,
        timeline_channels: &[String],
    ) -> Result<(Option<Conversation>, ThreadReason), StoreError> {
        let hints = &inbound.thread_hints;
        if let Some(token) = &hints.reply_token {
            if let Some(id) = self.trees.reply_tokens.get(token.as_bytes())? {
                let conversation: Conversation =
                    self.required(&self.trees.conversations, &id, "conversation")?;
                if conversation.inbox == inbox {
                    return Ok((Some(conversation), ThreadReason::ReplyToken));
                }
            }
        }
        if let Some(thread) = &hints.thread {
            let reference = keys::thread_ref(&inbound.channel, thread);
            if let Some(conversation) = self.conversation_by_ref(inbox, &reference)? {
                return Ok((Some(conversation), ThreadReason::Thread));
            }
        }
        for id in &hints.in_reply_to {
            if let Some(conversation) = self.conversation_by_ref(inbox, id)? {
                return Ok((Some(conversation), ThreadReason::InReplyTo));
            }
        }
        for id in hints.references.iter().rev() {
            if let Some(conversation) = self.conversation_by_ref(inbox, id)? {
                return Ok((Some(conversation), ThreadReason::References));
            }
        }
        if hints.continue_open {
            // The latest open one among the channel's and its timeline
            // siblings' conversations with this contact.
            let mut latest: Option<Conversation> = None;
            let channels = std::iter::once(&inbound.channel).chain(timeline_channels);
            for channel in channels {
                let Some(id) = self
                    .trees
                    .contact_channel
                    .get(keys::contact_channel(contact, channel))?
                else {
                    continue;
                };
                let conversation: Conversation =
                    self.required(&self.trees.conversations, &id, "conversation")?;
                let open = conversation.status != ConversationStatus::Closed
                    && conversation.inbox == inbox;
                if open
                    && latest
                        .as_ref()
                        .is_none_or(|l| l.last_message_at < conversation.last_message_at)
                {
                    latest = Some(conversation);
                }
            }
            if let Some(conversation) = latest {
                return Ok((Some(conversation), ThreadReason::Continued));
            }
        }
        Ok((None, ThreadReason::New))
    }

    fn conversation_by_ref(
        &self,
        inbox: &str,
        external_id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let Some(stored_ref) = self
            .trees
            .external_refs
            .get(keys::external_ref(inbox, external_id))?
        else {
            return Ok(None);
        };
        let conversation_id = &stored_ref[..16.min(stored_ref.len())];
        self.trees
            .conversations
            .get(conversation_id)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    pub(super) fn required<T: serde::de::DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        what: &str,
    ) -> Result<T, StoreError> {
        let bytes = tree.get(key)?.ok_or_else(|| {
            StoreError::Corrupt(format!("{what} referenced by an index is missing"))
        })?;
        decode(&bytes)
    }
}

/// Fills in what the contact lacked from what this message tells.
fn fill_contact(contact: &mut Contact, inbound: &Inbound) -> bool {
    let mut changed = false;
    let sender = &inbound.sender;
    for (field, value) in [
        (&mut contact.name, &sender.name),
        (&mut contact.email, &sender.email),
        (&mut contact.phone, &sender.phone),
    ] {
        if field.is_none() && value.is_some() {
            *field = value.clone();
            changed = true;
        }
    }
    changed
}
