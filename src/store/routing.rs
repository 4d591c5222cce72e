//! Assignment and tickets inside the store's writes: per-agent load counters
//! (open assigned conversations, last assignment time) kept in the same
//! transaction as every conversation change, the balanced choice among
//! candidates, and tickets opened with new conversations. Deciding under the
//! writer lock with counters updated in the same commit makes concurrent
//! arrivals balance exactly.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::outbox::{Job, Notification};
use super::write_set::{TreeId, WriteSet};
use super::{decode, encode, keys, Store, StoreError};
use crate::config::{Priority, TicketOwner};
use crate::ids::Id;
use crate::model::{AssignmentRecord, Contact, Conversation, ConversationStatus, Millis, Ticket};

/// How to assign a new conversation, worked out from the workspace before
/// the write (who holds a seat, who is available).
#[derive(Debug, Clone)]
pub struct AssignmentPlan {
    /// Try the contact's owner first.
    pub contact_owner: bool,
    /// Eligible candidates in config order (seat, availability when asked).
    pub candidates: Vec<String>,
    pub capacity: Option<u32>,
    /// Agents who may own this conversation (seat and inbox access), with
    /// what a notification to them needs.
    pub owners: HashMap<String, OwnerInfo>,
    /// The label recorded for an assignment to a candidate.
    pub rule: String,
}

#[derive(Debug, Clone)]
pub struct OwnerInfo {
    pub available: bool,
    pub email: String,
    pub name: String,
}

/// The ticket to open with a new conversation.
#[derive(Debug, Clone)]
pub struct TicketPlan {
    pub pipeline: String,
    pub stage: String,
    pub owner: TicketOwner,
    pub priority: Priority,
    pub max_per_contact: u32,
}

/// An agent's load, as the balancer sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    /// Assigned conversations that are not closed.
    pub open: u32,
    pub last_assigned_at: Millis,
}

fn load_key(agent: &str) -> Vec<u8> {
    keys::join(&[b"load", agent.as_bytes()])
}

fn ticket_count_key(contact: Id) -> Vec<u8> {
    keys::join(&[b"tickets", &contact.to_bytes()])
}

/// The agent a conversation counts against: its assignee while not closed.
fn counted_against(conversation: &Conversation) -> Option<&str> {
    (conversation.status != ConversationStatus::Closed)
        .then_some(conversation.assignee.as_deref())
        .flatten()
}

impl Store {
    /// An agent's current load.
    pub fn load(&self, agent: &str) -> Result<Load, StoreError> {
        Ok(match self.trees.counters.get(load_key(agent))? {
            Some(bytes) => decode(&bytes)?,
            None => Load::default(),
        })
    }

    /// Records a conversation write: the record, its activity keys, agents'
    /// load counters, its ticket's owner when that follows the assignee, and
    /// the event. Call under the writer lock.
    pub(super) fn put_conversation(
        &self,
        writes: &mut WriteSet,
        old: Option<&Conversation>,
        new: &Conversation,
        now: Millis,
    ) -> Result<(), StoreError> {
        writes.put(TreeId::Conversations, new.id.to_bytes(), encode(new));
        if let Some(old) = old {
            for key in keys::activity_keys(old) {
                writes.remove(TreeId::Activity, key);
            }
        }
        for key in keys::activity_keys(new) {
            writes.put(TreeId::Activity, key, Vec::new());
        }
        let before = old.and_then(counted_against);
        let after = counted_against(new);
        if before != after {
            if let Some(agent) = before {
                let mut load = self.load(agent)?;
                load.open = load.open.saturating_sub(1);
                writes.put(TreeId::Counters, load_key(agent), encode(&load));
            }
            if let Some(agent) = after {
                let mut load = self.load(agent)?;
                load.open += 1;
                if old.and_then(|o| o.assignee.as_deref()) != Some(agent) {
                    load.last_assigned_at = now;
                }
                writes.put(TreeId::Counters, load_key(agent), encode(&load));
            }
        }
        if let (Some(ticket_id), Some(old)) = (new.ticket, old) {
            if old.assignee != new.assignee {
                if let Some(bytes) = self.trees.tickets.get(ticket_id.to_bytes())? {
                    let mut ticket: Ticket = decode(&bytes)?;
                    if ticket.owner_follows_assignee {
                        ticket.owner = new.assignee.clone();
                        ticket.updated_at = now;
                        writes.put(TreeId::Tickets, ticket_id.to_bytes(), encode(&ticket));
                    }
                }
            }
        }
        Ok(())
    }

    /// Picks the assignee of a new conversation. Returns the record to add
    /// and, when the contact's owner is away, the notification to send.
    pub(super) fn choose_assignee(
        &self,
        plan: &AssignmentPlan,
        contact: &Contact,
        now: Millis,
    ) -> Result<Option<(AssignmentRecord, Option<OwnerInfo>)>, StoreError> {
        if plan.contact_owner {
            if let Some(owner) = contact.owner.as_deref() {
                if let Some(info) = plan.owners.get(owner) {
                    let record = AssignmentRecord {
                        agent: Some(owner.to_string()),
                        at: now,
                        by: "contact_owner".into(),
                    };
                    let notify = (!info.available).then(|| info.clone());
                    return Ok(Some((record, notify)));
                }
            }
        }
        let mut best: Option<(&str, Load)> = None;
        for candidate in &plan.candidates {
            let load = self.load(candidate)?;
            if plan.capacity.is_some_and(|cap| load.open >= cap) {
                continue;
            }
            let better = match best {
                None => true,
                Some((_, current)) => {
                    (load.open, load.last_assigned_at) < (current.open, current.last_assigned_at)
                }
            };
            if better {
                best = Some((candidate, load));
            }
        }
        let by = if plan.contact_owner {
            "contact_owner_fallback".to_string()
        } else {
            plan.rule.clone()
        };
        Ok(best.map(|(agent, _)| {
            (
                AssignmentRecord {
                    agent: Some(agent.to_string()),
                    at: now,
                    by,
                },
                None,
            )
        }))
    }

    /// Opens the ticket of a new conversation, unless the contact reached the
    /// limit (then the reason is noted on the conversation).
    pub(super) fn open_ticket(
        &self,
        writes: &mut WriteSet,
        plan: &TicketPlan,
        conversation: &mut Conversation,
        now: Millis,
    ) -> Result<(), StoreError> {
        let count_key = ticket_count_key(conversation.contact);
        let count: u32 = match self.trees.counters.get(&count_key)? {
            Some(bytes) => decode(&bytes)?,
            None => 0,
        };
        if count >= plan.max_per_contact {
            let note = format!(
                "no ticket: the contact already has {count} tickets (limit {})",
                plan.max_per_contact
            );
            tracing::info!(conversation = %conversation.id, %note, "ticket not opened");
            conversation.ticket_note = Some(note);
            return Ok(());
        }
        let (owner, follows) = match &plan.owner {
            TicketOwner::ConversationOwner => (conversation.assignee.clone(), true),
            TicketOwner::Agent(id) => (Some(id.clone()), false),
            TicketOwner::Nobody => (None, false),
        };
        let ticket = Ticket {
            id: self.ids.next(now),
            conversation: conversation.id,
            contact: conversation.contact,
            inbox: conversation.inbox.clone(),
            pipeline: plan.pipeline.clone(),
            stage: plan.stage.clone(),
            owner,
            owner_follows_assignee: follows,
            priority: plan.priority,
            created_at: now,
            updated_at: now,
        };
        conversation.ticket = Some(ticket.id);
        writes.put(TreeId::Tickets, ticket.id.to_bytes(), encode(&ticket));
        writes.put(TreeId::Counters, count_key, encode(&(count + 1)));
        Ok(())
    }

    /// Queues the email telling an away owner that a conversation is theirs.
    pub(super) fn queue_owner_notification(
        &self,
        writes: &mut WriteSet,
        conversation: &Conversation,
        owner: &OwnerInfo,
        now: Millis,
    ) {
        let subject = conversation
            .subject
            .clone()
            .unwrap_or_else(|| "(no subject)".into());
        let job = Job {
            message: self.ids.next(now),
            conversation: conversation.id,
            attempts: 0,
            due: now,
            notification: Some(Notification {
                to: owner.email.clone(),
                name: owner.name.clone(),
                subject: format!("New conversation assigned to you: {subject}"),
                text: format!(
                    "Hello {},\n\na new conversation from one of your contacts was assigned to you \
                     while you are away:\n\n  {subject}\n  inbox: {}\n  conversation: {}\n",
                    owner.name, conversation.inbox, conversation.id
                ),
            }),
        };
        writes.put(TreeId::Outbox, job.key(), encode(&job));
    }
}

impl Store {
    /// Assigns `agent` the oldest open unassigned conversations of
    /// `channels`, up to `capacity` open conversations in all (blocking).
    /// Used when an agent becomes available.
    pub fn assign_waiting(
        &self,
        agent: &str,
        channels: &[String],
        capacity: Option<u32>,
        now: Millis,
        may_route: &dyn Fn(&Conversation) -> bool,
    ) -> Result<Vec<Conversation>, StoreError> {
        let _writer = self.lock_writer();
        let mut assigned = Vec::new();
        let prefix = keys::activity_prefix(keys::UNASSIGNED, ConversationStatus::Open.as_str());
        for entry in self.trees.activity.scan_prefix(&prefix) {
            if capacity.is_some_and(|cap| self.load(agent).map(|l| l.open).unwrap_or(cap) >= cap) {
                break;
            }
            let (key, _) = entry?;
            let Some(id) = keys::conversation_of_activity(&key) else {
                continue;
            };
            let Some(old) = self.conversation(id)? else {
                continue;
            };
            if old.assignee.is_some() || !channels.contains(&old.channel) || !may_route(&old) {
                continue;
            }
            let mut new = old.clone();
            new.assignee = Some(agent.to_string());
            new.assignment_history.push(AssignmentRecord {
                agent: Some(agent.to_string()),
                at: now,
                by: "became_available".into(),
            });
            self.write_conversation(&old, &new, now)?;
            assigned.push(new);
        }
        Ok(assigned)
    }
}

impl Store {
    /// Assigns an existing unassigned conversation by `plan` (blocking), for
    /// conversations whose routing waited (e.g. for consent). Returns the
    /// conversation as it is now.
    pub fn assign_conversation(
        &self,
        id: Id,
        plan: &AssignmentPlan,
        now: Millis,
    ) -> Result<Conversation, StoreError> {
        let _writer = self.lock_writer();
        let old = self.conversation(id)?.ok_or(StoreError::NotFound {
            what: "conversation",
        })?;
        if old.assignee.is_some() {
            return Ok(old);
        }
        let contact = self
            .contact(old.contact)?
            .ok_or(StoreError::NotFound { what: "contact" })?;
        let Some((record, notify)) = self.choose_assignee(plan, &contact, now)? else {
            return Ok(old);
        };
        let mut new = old.clone();
        new.assignee = record.agent.clone();
        new.assignment_history.push(record);
        let mut writes = WriteSet::default();
        if let Some(owner) = &notify {
            self.queue_owner_notification(&mut writes, &new, owner, now);
        }
        let stamped = self.stamp(vec![crate::events::Event::conversation(
            crate::events::EventKind::ConversationUpdated,
            &new,
            now,
        )]);
        stamped.add_to(&mut writes);
        self.put_conversation(&mut writes, Some(&old), &new, now)?;
        self.commit(&writes)?;
        self.mark_committed(&stamped);
        Ok(new)
    }
}
