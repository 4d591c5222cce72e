//! The provider-id index: `channel NUL provider id` -> the stored ref
//! (`conversation ++ message`) of an outbound message, so that a status a
//! provider reports later (a WhatsApp `statuses[]` entry naming the wamid
//! our send got back, a Messenger delivery listing `mids`) finds its
//! message. `finish_job` records the id in the same transaction as the
//! job's end; `record_provider_id` is for callers that learn it otherwise.
//!
//! A status can arrive before its id is recorded (an SMS provider's
//! callback overtakes its own answer to our send). With
//! `apply_or_keep_provider_status` it is kept, durably, as a pending status
//! under the same channel and id, and `finish_job` applies it (if it moves
//! the message forward) in the transaction that records the id. One whose
//! id never comes (a callback for a message another system sent from the
//! same number) is pruned after a day.

use serde::{Deserialize, Serialize};

use super::{decode, encode, keys, Store, StoreError};
use crate::ids::Id;
use crate::model::{DeliveryState, DeliveryStatus, Direction, Message, Millis};

/// `channel NUL provider id`.
pub(super) fn key(channel: &str, provider_id: &str) -> Vec<u8> {
    keys::join(&[channel.as_bytes(), provider_id.as_bytes()])
}

/// `NUL pending NUL channel NUL provider id`: a leading NUL, which no
/// channel id has, keeps pending statuses apart from recorded ids.
pub(super) fn pending_key(channel: &str, provider_id: &str) -> Vec<u8> {
    let mut pending = b"\0pending\0".to_vec();
    pending.extend_from_slice(&key(channel, provider_id));
    pending
}

/// A status reported for a provider id that no message had yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PendingStatus {
    pub state: DeliveryState,
    pub reason: Option<String>,
    pub at: Millis,
}

impl Store {
    /// Remembers that `provider_id` on `channel` names `message`.
    pub fn record_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
        message: Id,
    ) -> Result<(), StoreError> {
        let conversation = self
            .trees
            .message_conversation
            .get(message.to_bytes())?
            .and_then(|bytes| Id::from_bytes(&bytes))
            .ok_or(StoreError::NotFound { what: "message" })?;
        self.trees.provider_ids.insert(
            key(channel, provider_id),
            keys::message(conversation, message),
        )?;
        Ok(())
    }

    /// The message the provider calls `provider_id` on `channel`.
    pub fn message_by_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let Some(stored_ref) = self.trees.provider_ids.get(key(channel, provider_id))? else {
            return Ok(None);
        };
        self.trees
            .messages
            .get(stored_ref)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Moves the message the provider calls `provider_id` to `state` if that
    /// is forward (monotonic: a late `delivered` never overrides `read`).
    /// `None` when no message has that id; otherwise whether it changed.
    pub fn apply_provider_status(
        &self,
        channel: &str,
        provider_id: &str,
        state: DeliveryState,
        reason: Option<String>,
        now: Millis,
    ) -> Result<Option<bool>, StoreError> {
        let Some(message) = self.message_by_provider_id(channel, provider_id)? else {
            return Ok(None);
        };
        self.advance_status(&message, state, reason, now).map(Some)
    }

    /// Like `apply_provider_status`, but a status for an id not recorded
    /// yet is kept (durably, once the caller awaits `durable()`) and applied
    /// when `finish_job` records the id. For providers that report only
    /// on messages we sent (SMS status callbacks name our own
    /// `StatusCallback`), so that an unknown id is one still in flight.
    pub fn apply_or_keep_provider_status(
        &self,
        channel: &str,
        provider_id: &str,
        state: DeliveryState,
        reason: Option<String>,
        now: Millis,
    ) -> Result<Option<bool>, StoreError> {
        if let Some(message) = self.message_by_provider_id(channel, provider_id)? {
            return self.advance_status(&message, state, reason, now).map(Some);
        }
        {
            // Under the writer lock, so `finish_job` cannot record the id
            // between the check and the write and miss the pending status.
            let _writer = self.lock_writer();
            if !self
                .trees
                .provider_ids
                .contains_key(key(channel, provider_id))?
            {
                let pending_key = pending_key(channel, provider_id);
                let kept = self.pending_status(&pending_key)?;
                // Several early reports: the one the monotonic rule keeps.
                if kept.as_ref().is_none_or(|k| k.state.can_become(state)) {
                    let pending = PendingStatus {
                        state,
                        reason,
                        at: now,
                    };
                    self.trees
                        .provider_ids
                        .insert(pending_key, encode(&pending))?;
                }
                return Ok(None);
            }
        }
        // Recorded in the meantime.
        match self.message_by_provider_id(channel, provider_id)? {
            Some(message) => self.advance_status(&message, state, reason, now).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes up to `limit` pending statuses kept since before `before`
    /// (their id was never recorded); returns how many went. Blocking.
    pub fn prune_pending_statuses(
        &self,
        before: Millis,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let mut doomed = Vec::new();
        for entry in self.trees.provider_ids.scan_prefix(b"\0pending\0") {
            let (key, value) = entry?;
            let pending: PendingStatus = decode(&value)?;
            if pending.at < before {
                doomed.push(key);
                if doomed.len() == limit {
                    break;
                }
            }
        }
        let _writer = self.lock_writer();
        let mut batch = sled::Batch::default();
        for key in &doomed {
            batch.remove(key);
        }
        self.trees.provider_ids.apply_batch(batch)?;
        Ok(doomed.len())
    }

    /// The status kept under `pending_key`, if any.
    pub(super) fn pending_status(
        &self,
        pending_key: &[u8],
    ) -> Result<Option<PendingStatus>, StoreError> {
        self.trees
            .provider_ids
            .get(pending_key)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Applies a watermark (Messenger `delivery`/`read`): every outbound
    /// message the provider accepted for the person with this identity on
    /// `channel`, created at or before `watermark`, moves to `state` if that
    /// is forward. Looks at the person's latest conversation on the channel
    /// (older ones were settled by earlier watermarks). Returns how many moved.
    pub fn apply_watermark(
        &self,
        identity_kind: &str,
        handle: &str,
        channel: &str,
        state: DeliveryState,
        watermark: Millis,
        now: Millis,
    ) -> Result<usize, StoreError> {
        let Some(contact) = self
            .trees
            .identities
            .get(keys::identity(identity_kind, handle))?
            .and_then(|bytes| Id::from_bytes(&bytes))
        else {
            return Ok(0);
        };
        let Some(conversation) = self
            .trees
            .contact_channel
            .get(keys::contact_channel(contact, channel))?
            .and_then(|bytes| Id::from_bytes(&bytes))
        else {
            return Ok(0);
        };
        let mut moved = 0;
        for message in self.messages(conversation)? {
            let sent = message.direction == Direction::Outbound
                && message.created_at <= watermark
                && message
                    .status
                    .as_ref()
                    .is_some_and(|s| s.provider_id.is_some());
            if sent && self.advance_status(&message, state, None, now)? {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// The message's status moved to `state`, keeping its attempts and
    /// provider id, through the monotonic `apply_delivery_status`.
    fn advance_status(
        &self,
        message: &Message,
        state: DeliveryState,
        reason: Option<String>,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let current = message.status.as_ref();
        if current.is_some_and(|s| !s.state.can_become(state)) {
            return Ok(false);
        }
        let status = DeliveryStatus {
            state,
            reason,
            attempts: current.map_or(0, |s| s.attempts),
            provider_id: current.and_then(|s| s.provider_id.clone()),
            updated_at: now,
        };
        self.apply_delivery_status(message.id, status, now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{inbound, request};
    use super::super::{OutboundRequest, Target};
    use super::*;
    use crate::model::Author;

    fn sent(provider_id: &str, now: Millis) -> DeliveryStatus {
        DeliveryStatus {
            state: DeliveryState::Sent,
            reason: None,
            attempts: 1,
            provider_id: Some(provider_id.into()),
            updated_at: now,
        }
    }

    fn reply(store: &Store, conversation: Id, now: Millis) -> Message {
        let (message, _) = store
            .append_outbound(OutboundRequest {
                target: Target::Conversation(conversation),
                author: Author::Agent { id: "alice".into() },
                author_name: None,
                text: "hi".into(),
                html: None,
                private: false,
                message_id_domain: None,
                reply_token: false,
                now,
                template: None,
            })
            .unwrap();
        message
    }

    fn state(store: &Store, id: Id) -> (DeliveryState, Option<String>, u32) {
        let status = store.message(id).unwrap().unwrap().status.unwrap();
        (status.state, status.reason, status.attempts)
    }

    #[tokio::test]
    async fn finishing_a_job_records_its_provider_id_and_statuses_only_move_forward() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let accepted = store
            .ingest(request(inbound("wa", "wamid.in", "+15550001"), 1_000))
            .unwrap();
        let message = reply(&store, accepted.conversation, 2_000);
        let job = store.due_jobs(2_000, 10).unwrap().remove(0);
        store
            .finish_job(&job, sent("wamid.out", 3_000), 3_000)
            .unwrap();

        let found = store.message_by_provider_id("wa", "wamid.out").unwrap();
        assert_eq!(found.map(|m| m.id), Some(message.id));
        assert!(store
            .message_by_provider_id("other", "wamid.out")
            .unwrap()
            .is_none());
        assert!(store
            .message_by_provider_id("wa", "wamid.nope")
            .unwrap()
            .is_none());

        let apply = |state, reason: Option<&str>| {
            store
                .apply_provider_status("wa", "wamid.out", state, reason.map(Into::into), 4_000)
                .unwrap()
        };
        assert_eq!(apply(DeliveryState::Read, None), Some(true));
        // A late `delivered` (and a repeated `read`) never overrides `read`.
        assert_eq!(apply(DeliveryState::Delivered, None), Some(false));
        assert_eq!(apply(DeliveryState::Read, None), Some(false));
        assert_eq!(apply(DeliveryState::Failed, Some("late")), Some(false));
        assert_eq!(state(&store, message.id), (DeliveryState::Read, None, 1));
        assert_eq!(
            store
                .apply_provider_status("wa", "wamid.nope", DeliveryState::Read, None, 4_000)
                .unwrap(),
            None
        );
        let recorded = store.message(message.id).unwrap().unwrap().status.unwrap();
        assert_eq!(recorded.provider_id.as_deref(), Some("wamid.out"));
    }

    #[tokio::test]
    async fn a_status_that_overtakes_the_send_is_kept_until_the_id_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let accepted = store
            .ingest(request(inbound("sms", "SMin", "+15550001"), 1_000))
            .unwrap();
        let message = reply(&store, accepted.conversation, 2_000);
        let early = |state| {
            store
                .apply_or_keep_provider_status("sms", "SMout", state, None, 2_500)
                .unwrap()
        };
        assert_eq!(early(DeliveryState::Delivered), None);
        // A later but lesser report does not replace the kept one.
        assert_eq!(early(DeliveryState::Sent), None);
        let job = store.due_jobs(2_000, 10).unwrap().remove(0);
        store.finish_job(&job, sent("SMout", 3_000), 3_000).unwrap();
        assert_eq!(
            state(&store, message.id),
            (DeliveryState::Delivered, None, 1)
        );
        assert!(store
            .pending_status(&pending_key("sms", "SMout"))
            .unwrap()
            .is_none());
        let last = store.events(1, u64::MAX, 100).unwrap().pop().unwrap();
        assert_eq!(last.kind, crate::events::EventKind::MessageStatus);
    }

    #[tokio::test]
    async fn a_status_whose_id_never_comes_is_pruned_and_recorded_ids_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let accepted = store
            .ingest(request(inbound("sms", "SMin", "+15550001"), 1_000))
            .unwrap();
        let message = reply(&store, accepted.conversation, 2_000);
        store
            .record_provider_id("sms", "SMours", message.id)
            .unwrap();
        for (sid, at) in [("SMelsewhere1", 2_000), ("SMelsewhere2", 9_000)] {
            let kept = store
                .apply_or_keep_provider_status("sms", sid, DeliveryState::Delivered, None, at)
                .unwrap();
            assert_eq!(kept, None);
        }
        assert_eq!(store.prune_pending_statuses(5_000, 100).unwrap(), 1);
        assert!(store
            .pending_status(&pending_key("sms", "SMelsewhere1"))
            .unwrap()
            .is_none());
        assert!(store
            .pending_status(&pending_key("sms", "SMelsewhere2"))
            .unwrap()
            .is_some());
        assert_eq!(store.prune_pending_statuses(i64::MAX, 100).unwrap(), 1);
        assert_eq!(store.prune_pending_statuses(i64::MAX, 100).unwrap(), 0);
        assert_eq!(
            store
                .message_by_provider_id("sms", "SMours")
                .unwrap()
                .map(|m| m.id),
            Some(message.id),
            "recorded ids are not pending statuses"
        );
    }

    #[tokio::test]
    async fn a_failure_after_sent_carries_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let accepted = store
            .ingest(request(inbound("wa", "wamid.in", "+15550001"), 1_000))
            .unwrap();
        let message = reply(&store, accepted.conversation, 2_000);
        store
            .record_provider_id("wa", "wamid.x", message.id)
            .unwrap();
        let job = store.due_jobs(2_000, 10).unwrap().remove(0);
        store
            .finish_job(&job, sent("wamid.x", 3_000), 3_000)
            .unwrap();
        let failed = store
            .apply_provider_status(
                "wa",
                "wamid.x",
                DeliveryState::Failed,
                Some("Re-engagement message".into()),
                4_000,
            )
            .unwrap();
        assert_eq!(failed, Some(true));
        assert_eq!(
            state(&store, message.id),
            (
                DeliveryState::Failed,
                Some("Re-engagement message".into()),
                1
            )
        );
    }

    #[tokio::test]
    async fn watermarks_move_sent_messages_up_to_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut first = inbound("fb", "mid.in", "ignored");
        first.sender.identity.kind = "messenger".into();
        first.sender.identity.handle = "page:psid".into();
        first.thread_hints.continue_open = true;
        let accepted = store.ingest(request(first, 1_000)).unwrap();
        let early = reply(&store, accepted.conversation, 2_000);
        let late = reply(&store, accepted.conversation, 5_000);
        let queued = reply(&store, accepted.conversation, 2_500);
        for (job, id) in store
            .due_jobs(10_000, 10)
            .unwrap()
            .into_iter()
            .zip(["m.e", "m.q", "m.l"])
        {
            if job.message != queued.id {
                store.finish_job(&job, sent(id, 6_000), 6_000).unwrap();
            }
        }
        let moved = |state, mark| {
            store
                .apply_watermark("messenger", "page:psid", "fb", state, mark, 7_000)
                .unwrap()
        };
        assert_eq!(moved(DeliveryState::Delivered, 3_000), 1);
        assert_eq!(state(&store, early.id).0, DeliveryState::Delivered);
        assert_eq!(state(&store, late.id).0, DeliveryState::Sent);
        // Not yet handed to the provider: no watermark applies to it.
        assert_eq!(state(&store, queued.id).0, DeliveryState::Queued);
        assert_eq!(moved(DeliveryState::Read, 9_000), 2);
        assert_eq!(moved(DeliveryState::Delivered, 9_000), 0);
        assert_eq!(state(&store, early.id).0, DeliveryState::Read);
        assert_eq!(state(&store, late.id).0, DeliveryState::Read);
        assert_eq!(
            store
                .apply_watermark(
                    "messenger",
                    "page:other",
                    "fb",
                    DeliveryState::Read,
                    9_000,
                    7_000
                )
                .unwrap(),
            0
        );
    }
}
