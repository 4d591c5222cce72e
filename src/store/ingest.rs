//! The store's side of ingest: given an `Inbound` for an inbox, dedupe it,
//! find or create the contact, thread it into a conversation and persist it
//! all in one transaction. Durability is awaited separately (group commit).
//!
//! Threading: a reference (reply address, In-Reply-To, References) is a
//! hint, not a key. It joins the conversation it names only when the
//! sender belongs to it (`participants`); otherwise the message starts a
//! conversation of its own, linked to the named one as related. An
//! agent's mail from their own client becomes their reply (`agent_mail`).

use super::dedupe::{self, Seen};
use super::participants::SenderRef;
use super::routing::{AssignmentPlan, TicketPlan};
use super::write_set::{TreeId, WriteSet};
use super::{decode, encode, keys, Store, StoreError};
use crate::events::{Event, EventKind};
use crate::ids::Id;
use crate::inbound::Inbound;
use crate::model::{
    Contact, Conversation, ConversationStatus, Direction, Message, Millis, Participation, Party,
    ThreadReason,
};

/// The most related conversations one conversation lists.
const MAX_RELATED: usize = 100;
/// The most stored messages one reference (a Message-ID reused by
/// different messages) leads to.
const MAX_REFS_PER_ID: usize = 16;

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
    /// The message is an agent's own-client reply (recorded as theirs, not
    /// routed, not answered by automations).
    pub agent_reply: bool,
    /// Another, different message had been stored with the same external
    /// id on the channel; this one was stored as its own.
    pub id_collision: bool,
}

/// Where an inbound message goes, as `find_thread` decided.
pub(super) struct Thread {
    /// The conversation it joins; `None` for a new one.
    pub conversation: Option<Conversation>,
    pub reason: ThreadReason,
    /// Why the sender belongs to the conversation joined by reference.
    pub joined_as: Option<Participation>,
    /// For a new conversation: the conversation its references named,
    /// which the sender does not belong to.
    pub related: Option<Conversation>,
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

        let digest = inbound.content_digest();
        let mut shared_with = None;
        if let Some(external_id) = &inbound.external_id {
            match self.seen(&inbound, external_id, &digest)? {
                Seen::New => {}
                Seen::Again(stored) => return self.duplicate(&stored),
                Seen::Collision(first) => shared_with = Some(first),
            }
        }
        let shared_with = shared_with.and_then(|key| Id::from_bytes(&key[16..]));
        if let Some(agent) = &inbound.from_agent {
            let mail = super::agent_mail::AgentMailRequest {
                inbound: &inbound,
                agent,
                inbox: &inbox,
                now,
                digest: &digest,
                shared_with,
            };
            if let Some(accepted) = self.ingest_agent_mail(mail)? {
                return Ok(accepted);
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

        let sender = SenderRef {
            contact: Some(contact.id),
            address: inbound.sender.email.as_deref(),
            agent: false,
        };
        let Thread {
            conversation: existing,
            reason: thread_reason,
            joined_as,
            related,
        } = self.find_thread(&inbound, &inbox, &sender, &timeline_channels)?;
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
            related: related.iter().map(|r| r.id).collect(),
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
            recipients: inbound.recipients.clone(),
            subject: inbound.subject.clone(),
            text: inbound.text.clone(),
            html: inbound.html.clone(),
            attachments: super::records::attachment_meta(&inbound),
            flags: inbound.flags.clone(),
            thread_reason,
            joined_as,
            external_id: inbound.external_id.clone(),
            external_id_shared_with: shared_with,
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
        let mut events = vec![
            Event::conversation(kind, &conversation, now),
            Event::message(&conversation, &message, now),
        ];
        if let Some(old) = &related {
            let linked = self.link_related(&mut writes, old, conversation.id, now)?;
            events.push(Event::conversation(
                EventKind::ConversationUpdated,
                &linked,
                now,
            ));
        }
        let stamped = self.stamp(events);
        stamped.add_to(&mut writes);
        if contact_changed {
            writes.put(TreeId::Contacts, contact.id.to_bytes(), encode(&contact));
            writes.put(TreeId::Identities, &identity_key, contact.id.to_bytes());
        }
        self.put_conversation(&mut writes, old_conversation.as_ref(), &conversation, now)?;
        let stored_ref = self.put_message(&mut writes, &conversation, &message)?;
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
        self.put_dedupe(&mut writes, &inbound, &stored_ref, &digest)?;
        writes.put(
            TreeId::ContactChannel,
            keys::contact_channel(contact.id, &inbound.channel),
            conversation.id.to_bytes(),
        );
        self.put_inbound_bytes(&mut writes, message_id, &inbound);
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
            agent_reply: false,
            id_collision: shared_with.is_some(),
        })
    }

    /// Records `stored_ref` with its content digest under the message's
    /// external id, beside any other message stored under it.
    pub(super) fn put_dedupe(
        &self,
        writes: &mut WriteSet,
        inbound: &Inbound,
        stored_ref: &[u8],
        digest: &[u8; 32],
    ) -> Result<(), StoreError> {
        let Some(external_id) = &inbound.external_id else {
            return Ok(());
        };
        let key = keys::dedupe(&inbound.channel, external_id);
        let existing = self.trees.dedupe.get(&key)?;
        let value = dedupe::with_entry(existing.as_deref(), stored_ref, digest);
        writes.put(TreeId::Dedupe, key, value);
        Ok(())
    }

    /// Adds `new` to the related conversations of `old`; returns `old` as
    /// updated (for its event).
    fn link_related(
        &self,
        writes: &mut WriteSet,
        old: &Conversation,
        new: Id,
        now: Millis,
    ) -> Result<Conversation, StoreError> {
        let mut linked = old.clone();
        if !linked.related.contains(&new) && linked.related.len() < MAX_RELATED {
            linked.related.push(new);
        }
        self.put_conversation(writes, Some(old), &linked, now)?;
        Ok(linked)
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
            agent_reply: message.direction == Direction::Outbound,
            id_collision: message.external_id_shared_with.is_some(),
        })
    }

    /// The conversation an inbound message joins, and why (see the module
    /// doc for who may join by reference).
    pub(super) fn find_thread(
        &self,
        inbound: &Inbound,
        inbox: &str,
        sender: &SenderRef<'_>,
        timeline_channels: &[String],
    ) -> Result<Thread, StoreError> {
        let hints = &inbound.thread_hints;
        let mut related: Option<Conversation> = None;
        if let Some(token) = &hints.reply_token {
            if let Some(id) = self.trees.reply_tokens.get(token.as_bytes())? {
                let conversation: Conversation =
                    self.required(&self.trees.conversations, &id, "conversation")?;
                if conversation.inbox == inbox {
                    let candidates = vec![conversation];
                    let joined =
                        self.admit(candidates, ThreadReason::ReplyToken, sender, &mut related)?;
                    if let Some(thread) = joined {
                        return Ok(thread);
                    }
                }
            }
        }
        if let Some(thread) = &hints.thread {
            // A channel's own thread (a custom channel's group chat) has
            // many speakers by nature: its id alone joins.
            let reference = keys::thread_ref(&inbound.channel, thread);
            if let Some(conversation) = self.conversations_by_ref(inbox, &reference)?.pop() {
                return Ok(Thread {
                    conversation: Some(conversation),
                    reason: ThreadReason::Thread,
                    joined_as: None,
                    related: None,
                });
            }
        }
        for id in &hints.in_reply_to {
            let candidates = self.conversations_by_ref(inbox, id)?;
            if let Some(thread) =
                self.admit(candidates, ThreadReason::InReplyTo, sender, &mut related)?
            {
                return Ok(thread);
            }
        }
        for id in hints.references.iter().rev() {
            let candidates = self.conversations_by_ref(inbox, id)?;
            if let Some(thread) =
                self.admit(candidates, ThreadReason::References, sender, &mut related)?
            {
                return Ok(thread);
            }
        }
        if hints.continue_open {
            if let Some(contact) = sender.contact {
                if let Some(conversation) =
                    self.latest_open(inbound, inbox, contact, timeline_channels)?
                {
                    return Ok(Thread {
                        conversation: Some(conversation),
                        reason: ThreadReason::Continued,
                        joined_as: None,
                        related: None,
                    });
                }
            }
        }
        let reason = if related.is_some() {
            ThreadReason::Related
        } else {
            ThreadReason::New
        };
        Ok(Thread {
            conversation: None,
            reason,
            joined_as: None,
            related,
        })
    }

    /// The first of `candidates` the sender belongs to, as a join; the
    /// first refused one is kept in `related`.
    fn admit(
        &self,
        candidates: Vec<Conversation>,
        reason: ThreadReason,
        sender: &SenderRef<'_>,
        related: &mut Option<Conversation>,
    ) -> Result<Option<Thread>, StoreError> {
        for conversation in candidates {
            match self.participation(&conversation, sender)? {
                Some(joined_as) => {
                    return Ok(Some(Thread {
                        conversation: Some(conversation),
                        reason,
                        joined_as: Some(joined_as),
                        related: None,
                    }))
                }
                None => {
                    related.get_or_insert(conversation);
                }
            }
        }
        Ok(None)
    }

    /// The latest open conversation with `contact` among the channel's and
    /// its timeline siblings' conversations.
    fn latest_open(
        &self,
        inbound: &Inbound,
        inbox: &str,
        contact: Id,
        timeline_channels: &[String],
    ) -> Result<Option<Conversation>, StoreError> {
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
            let open =
                conversation.status != ConversationStatus::Closed && conversation.inbox == inbox;
            if open
                && latest
                    .as_ref()
                    .is_none_or(|l| l.last_message_at < conversation.last_message_at)
            {
                latest = Some(conversation);
            }
        }
        Ok(latest)
    }

    /// The conversations of the messages stored under `external_id` in the
    /// inbox, oldest first, once each.
    fn conversations_by_ref(
        &self,
        inbox: &str,
        external_id: &str,
    ) -> Result<Vec<Conversation>, StoreError> {
        let Some(stored_refs) = self
            .trees
            .external_refs
            .get(keys::external_ref(inbox, external_id))?
        else {
            return Ok(Vec::new());
        };
        let mut found: Vec<Conversation> = Vec::new();
        for stored_ref in stored_refs.chunks(32) {
            let conversation_id = &stored_ref[..16.min(stored_ref.len())];
            if found.iter().any(|c| c.id.to_bytes() == conversation_id) {
                continue;
            }
            if let Some(bytes) = self.trees.conversations.get(conversation_id)? {
                found.push(decode(&bytes)?);
            }
        }
        Ok(found)
    }

    /// The value of an `external_refs` entry with `stored_ref` added:
    /// several different messages may carry one id.
    pub(super) fn external_refs_with(
        &self,
        key: &[u8],
        stored_ref: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let mut value = self
            .trees
            .external_refs
            .get(key)?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        let known = value.chunks(32).any(|r| r == stored_ref);
        if !known && value.len() / 32 < MAX_REFS_PER_ID {
            value.extend_from_slice(stored_ref);
        }
        Ok(value)
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
