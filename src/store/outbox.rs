//! The outbox: delivery jobs keyed by due time, so the worker finds what is
//! due with one ordered scan. Finishing or rescheduling a job updates the
//! message's delivery status and logs a `message.status` event in the same
//! transaction, so a job is never lost between the two.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{decode, encode, keys, Store, StoreError};
use crate::events::Event;
use crate::ids::Id;
use crate::model::{DeliveryState, DeliveryStatus, Message, Millis};

/// One pending delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub message: Id,
    pub conversation: Id,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub due: Millis,
    /// Set for an email to an agent that is not a conversation message
    /// (`message` is then only the job's unique id).
    #[serde(default)]
    pub notification: Option<Notification>,
}

/// An email to a team member (e.g. "a conversation was assigned to you").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub to: String,
    pub name: String,
    pub subject: String,
    pub text: String,
}

impl Job {
    /// `due ++ message`: jobs sort by due time.
    pub(super) fn key(&self) -> Vec<u8> {
        let mut key = (self.due.max(0) as u64).to_be_bytes().to_vec();
        key.extend_from_slice(&self.message.to_bytes());
        key
    }
}

impl Store {
    /// Up to `limit` jobs due at `now`, earliest first.
    pub fn due_jobs(&self, now: Millis, limit: usize) -> Result<Vec<Job>, StoreError> {
        let end = (now.max(0) as u64 + 1).to_be_bytes();
        self.trees
            .outbox
            .range(..end)
            .take(limit)
            .map(|entry| decode(&entry?.1))
            .collect()
    }

    /// When the earliest job is due, if there is one.
    pub fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        Ok(match self.trees.outbox.first()? {
            Some((_, value)) => Some(decode::<Job>(&value)?.due),
            None => None,
        })
    }

    /// Whether `job` is still in the outbox as it was read (not finished
    /// or rescheduled since).
    pub fn job_pending(&self, job: &Job) -> Result<bool, StoreError> {
        Ok(self.trees.outbox.contains_key(job.key())?)
    }

    /// How many jobs wait in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.trees.outbox.len()
    }

    /// Ends a job (delivered or failed for good) with the message's new
    /// status; returns the message (none for a notification).
    pub fn finish_job(
        &self,
        job: &Job,
        status: DeliveryStatus,
        now: Millis,
    ) -> Result<Option<Message>, StoreError> {
        self.update_job(job, None, status, now)
    }

    /// Moves a job to `next` (a later due time, one more attempt) and records
    /// why the last attempt failed.
    pub fn reschedule_job(
        &self,
        job: &Job,
        next: &Job,
        status: DeliveryStatus,
        now: Millis,
    ) -> Result<Option<Message>, StoreError> {
        self.update_job(job, Some(next), status, now)
    }

    fn update_job(
        &self,
        job: &Job,
        next: Option<&Job>,
        status: DeliveryStatus,
        now: Millis,
    ) -> Result<Option<Message>, StoreError> {
        let _writer = self.lock_writer();
        let t = &self.trees;
        if job.notification.is_some() {
            let mut writes = super::write_set::WriteSet::default();
            writes.remove(super::write_set::TreeId::Outbox, job.key());
            if let Some(next) = next {
                writes.put(super::write_set::TreeId::Outbox, next.key(), encode(next));
            }
            self.commit(&writes)?;
            return Ok(None);
        }
        let stored_ref = keys::message(job.conversation, job.message);
        let mut message: Message = self.required(&t.messages, &stored_ref, "message")?;
        let inbox = self
            .conversation(job.conversation)?
            .map(|c| c.inbox)
            .ok_or(StoreError::NotFound {
                what: "conversation",
            })?;
        // A report that arrived while the attempt was in flight (the
        // integration's `delivered` before our own `sent`) is not undone;
        // the attempt still adds what it learnt (count, provider id).
        let status = match &message.status {
            Some(current) if overtaken(current.state, status.state) => DeliveryStatus {
                attempts: status.attempts,
                provider_id: status.provider_id.or_else(|| current.provider_id.clone()),
                ..current.clone()
            },
            _ => status,
        };
        // A status the provider reported before this id was recorded.
        let pending_key = status
            .provider_id
            .as_deref()
            .map(|id| super::provider_ids::pending_key(&message.channel, id));
        let pending = match &pending_key {
            Some(key) => self.pending_status(key)?,
            None => None,
        };
        let status = match pending {
            Some(pending) if status.state.can_become(pending.state) => DeliveryStatus {
                state: pending.state,
                reason: pending.reason.or(status.reason),
                ..status
            },
            _ => status,
        };
        message.status = Some(status.clone());
        let stamped = self.stamp(vec![Event::status(&inbox, &message, &status, now)]);
        let message_bytes = encode(&message);
        // The provider's id for the sent message, so its later statuses find it.
        let provider_key = status
            .provider_id
            .as_deref()
            .map(|id| super::provider_ids::key(&message.channel, id));
        let result: Result<(), TransactionError<()>> =
            (&t.outbox, &t.messages, &t.events, &t.provider_ids).transaction(
                |(outbox, messages, events, provider_ids)| {
                    outbox.remove(job.key())?;
                    if let Some(next) = next {
                        outbox.insert(next.key(), encode(next))?;
                    }
                    messages.insert(stored_ref.as_slice(), message_bytes.as_slice())?;
                    stamped.insert(events)?;
                    if let Some(key) = &provider_key {
                        provider_ids.insert(key.as_slice(), stored_ref.as_slice())?;
                    }
                    if let Some(key) = &pending_key {
                        provider_ids.remove(key.as_slice())?;
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                },
            );
        result.map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        self.mark_committed(&stamped);
        Ok(Some(message))
    }

    /// Applies a status reported later by a provider (delivered, read,
    /// failed) if it moves the message forward; returns whether it did.
    pub fn apply_delivery_status(
        &self,
        message: Id,
        status: DeliveryStatus,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let _writer = self.lock_writer();
        let t = &self.trees;
        let Some(stored) = self.message(message)? else {
            return Err(StoreError::NotFound { what: "message" });
        };
        let current = stored.status.as_ref().map(|s| s.state);
        if current.is_some_and(|state| !state.can_become(status.state)) {
            return Ok(false);
        }
        let inbox = self
            .conversation(stored.conversation)?
            .map(|c| c.inbox)
            .ok_or(StoreError::NotFound {
                what: "conversation",
            })?;
        // What the attempts learnt (their count, the provider's id) stays,
        // even if the reporter read the message before the last attempt
        // was recorded.
        let status = match &stored.status {
            Some(current) => DeliveryStatus {
                attempts: status.attempts.max(current.attempts),
                provider_id: status.provider_id.or_else(|| current.provider_id.clone()),
                ..status
            },
            None => status,
        };
        let mut updated = stored;
        updated.status = Some(status.clone());
        let stamped = self.stamp(vec![Event::status(&inbox, &updated, &status, now)]);
        let bytes = encode(&updated);
        let stored_ref = keys::message(updated.conversation, updated.id);
        let result: Result<(), TransactionError<()>> =
            (&t.messages, &t.events).transaction(|(messages, events)| {
                messages.insert(stored_ref.as_slice(), bytes.as_slice())?;
                stamped.insert(events)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        result.map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        self.mark_committed(&stamped);
        Ok(true)
    }
}

/// Whether a status already recorded is ahead of what a delivery attempt
/// reports (a provider's report came first), so the attempt must keep it.
fn overtaken(current: DeliveryState, attempt: DeliveryState) -> bool {
    current != DeliveryState::Queued && current != attempt && !current.can_become(attempt)
}
