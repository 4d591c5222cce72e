//! An agent's reply from their own mail client. Mail whose sender is an
//! agent (their configured `email` or one of their `addresses`) that
//! threads into a conversation is recorded as that agent's outbound
//! message: authored by them, already sent (their mail server sent it), no
//! outbox job, no routing, no contact. A mail of theirs that threads
//! nowhere but names someone outside the team starts a new outbound
//! conversation with that person, as if the agent had written it in the
//! inbox. Anything else (their mail to the team alone) is left to ordinary
//! ingest.

use super::ingest::{Accepted, Thread};
use super::participants::SenderRef;
use super::write_set::{TreeId, WriteSet};
use super::{keys, Store, StoreError};
use crate::events::{Event, EventKind};
use crate::ids::Id;
use crate::inbound::{AgentMail, Inbound};
use crate::model::{
    AssignmentRecord, Author, Conversation, ConversationStatus, DeliveryState, DeliveryStatus,
    Direction, Message, Millis, Participation, Party, ThreadReason,
};

/// One agent mail to record.
pub(super) struct AgentMailRequest<'a> {
    pub inbound: &'a Inbound,
    pub agent: &'a AgentMail,
    pub inbox: &'a str,
    pub now: Millis,
    pub digest: &'a [u8; 32],
    /// The first message stored before under the same external id, when
    /// this one is a different message.
    pub shared_with: Option<Id>,
}

impl Store {
    /// Records an agent's own-client mail as their reply; `None` when it
    /// threads nowhere and names nobody outside the team. Call under the
    /// writer lock.
    pub(super) fn ingest_agent_mail(
        &self,
        request: AgentMailRequest<'_>,
    ) -> Result<Option<Accepted>, StoreError> {
        let AgentMailRequest {
            inbound,
            agent,
            inbox,
            now,
            digest,
            shared_with,
        } = request;
        let sender = SenderRef {
            contact: None,
            address: inbound.sender.email.as_deref(),
            agent: true,
        };
        let Thread {
            conversation: found,
            reason,
            ..
        } = self.find_thread(inbound, inbox, &sender, &[])?;
        let mut writes = WriteSet::default();
        let (old, mut conversation, contact) = match found {
            Some(conversation) => {
                let contact = conversation.contact;
                (Some(conversation.clone()), conversation, contact)
            }
            None => {
                let Some(recipient) = &agent.recipient else {
                    return Ok(None);
                };
                let contact = self.contact_for(recipient, now)?;
                let identity = keys::identity(&recipient.identity.kind, &recipient.identity.handle);
                writes.put(
                    TreeId::Contacts,
                    contact.id.to_bytes(),
                    super::encode(&contact),
                );
                writes.put(TreeId::Identities, identity, contact.id.to_bytes());
                let conversation = Conversation {
                    id: self.ids.next(now),
                    inbox: inbox.to_string(),
                    channel: inbound.channel.clone(),
                    contact: contact.id,
                    subject: inbound.subject.clone(),
                    status: ConversationStatus::Open,
                    assignee: Some(agent.agent.clone()),
                    created_at: now,
                    last_message_at: now,
                    message_count: 0,
                    reply_token: None,
                    assignment_history: vec![AssignmentRecord {
                        agent: Some(agent.agent.clone()),
                        at: now,
                        by: format!("agent:{}", agent.agent),
                    }],
                    ticket: None,
                    ticket_note: None,
                    related: Vec::new(),
                };
                writes.put(
                    TreeId::ContactChannel,
                    keys::contact_channel(contact.id, &inbound.channel),
                    conversation.id.to_bytes(),
                );
                (None, conversation, contact.id)
            }
        };
        conversation.last_message_at = conversation.last_message_at.max(now);
        conversation.message_count += 1;

        let joined = old.is_some();
        let message = Message {
            id: self.ids.next(now),
            conversation: conversation.id,
            direction: Direction::Outbound,
            channel: inbound.channel.clone(),
            from: Party {
                name: inbound.sender.name.clone(),
                address: inbound.sender.email.clone(),
            },
            forwarded_by: None,
            // Whom the agent wrote to, without the team's own addresses.
            to: inbound
                .recipients
                .iter()
                .filter(|r| !inbound.to.contains(r))
                .cloned()
                .collect(),
            recipients: inbound.recipients.clone(),
            subject: inbound.subject.clone(),
            text: inbound.text.clone(),
            html: inbound.html.clone(),
            attachments: super::records::attachment_meta(inbound),
            flags: inbound.flags.clone(),
            thread_reason: if joined { reason } else { ThreadReason::New },
            joined_as: joined.then_some(Participation::Agent),
            external_id: inbound.external_id.clone(),
            external_id_shared_with: shared_with,
            sent_at: inbound.sent_at,
            created_at: now,
            author: Some(Author::Agent {
                id: agent.agent.clone(),
            }),
            private: false,
            // Their own mail server sent it; nothing is left to deliver.
            status: Some(DeliveryStatus {
                state: DeliveryState::Sent,
                reason: None,
                attempts: 0,
                provider_id: None,
                updated_at: now,
            }),
            template: None,
            thread: None,
            call: None,
        };
        let kind = if old.is_some() {
            EventKind::ConversationUpdated
        } else {
            EventKind::ConversationCreated
        };
        let stamped = self.stamp(vec![
            Event::conversation(kind, &conversation, now),
            Event::message(&conversation, &message, now),
        ]);
        stamped.add_to(&mut writes);
        self.put_conversation(&mut writes, old.as_ref(), &conversation, now)?;
        let stored_ref = self.put_message(&mut writes, &conversation, &message)?;
        self.put_dedupe(&mut writes, inbound, &stored_ref, digest)?;
        self.put_inbound_bytes(&mut writes, message.id, inbound);
        self.commit(&writes)?;
        self.mark_committed(&stamped);
        Ok(Some(Accepted {
            message: message.id,
            conversation: conversation.id,
            contact,
            duplicate: false,
            new_conversation: old.is_none(),
            new_contact: false,
            thread_reason: message.thread_reason,
            agent_reply: true,
            id_collision: shared_with.is_some(),
        }))
    }
}
