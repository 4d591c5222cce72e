//! Attachments fetched after their message was stored. Messaging providers
//! send links (that expire) instead of bytes, so the adapter stores the
//! message at once with the attachment's metadata (size 0: pending) and a
//! media job here; a worker downloads the bytes and `set_attachment` puts
//! them in place. Jobs are keyed by due time, like the outbox, and name
//! their message by channel and external id, so they can be written before
//! the message itself (in the same group-commit flush) and survive a restart.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{decode, encode, keys, Store, StoreError};
use crate::events::Event;
use crate::ids::Id;
use crate::model::{Message, Millis};

/// Where an attachment's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MediaSource {
    /// A plain URL, fetched as it is (Messenger's CDN links).
    Url { url: String },
    /// A provider's media id, resolved through the channel's API first
    /// (WhatsApp's two-step download).
    ProviderMedia { id: String },
}

/// One attachment to fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaJob {
    pub channel: String,
    /// The message's external id on the channel (`mid`, `wamid`).
    pub external_id: String,
    /// The attachment's position in the message.
    pub index: u32,
    pub source: MediaSource,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub due: Millis,
}

impl MediaJob {
    /// `due ++ channel NUL external id NUL index`: jobs sort by due time.
    fn key(&self) -> Vec<u8> {
        let mut key = (self.due.max(0) as u64).to_be_bytes().to_vec();
        key.extend_from_slice(&keys::join(&[
            self.channel.as_bytes(),
            self.external_id.as_bytes(),
            &self.index.to_be_bytes(),
        ]));
        key
    }
}

impl Store {
    /// Writes media jobs. Awaiting `durable()` afterwards covers them.
    pub fn queue_media(&self, jobs: &[MediaJob]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for job in jobs {
            batch.insert(job.key(), encode(job));
        }
        self.trees.media_jobs.apply_batch(batch)?;
        Ok(())
    }

    /// Up to `limit` media jobs due at `now`, earliest first.
    pub fn due_media_jobs(&self, now: Millis, limit: usize) -> Result<Vec<MediaJob>, StoreError> {
        let end = (now.max(0) as u64 + 1).to_be_bytes();
        self.trees
            .media_jobs
            .range(..end)
            .take(limit)
            .map(|entry| decode(&entry?.1))
            .collect()
    }

    /// When the earliest media job is due, if there is one.
    pub fn next_media_due(&self) -> Result<Option<Millis>, StoreError> {
        Ok(match self.trees.media_jobs.first()? {
            Some((_, value)) => Some(decode::<MediaJob>(&value)?.due),
            None => None,
        })
    }

    /// Ends a media job (done, or given up); with `next`, moves it there.
    pub fn update_media_job(
        &self,
        job: &MediaJob,
        next: Option<&MediaJob>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        batch.remove(job.key());
        if let Some(next) = next {
            batch.insert(next.key(), encode(next));
        }
        self.trees.media_jobs.apply_batch(batch)?;
        Ok(())
    }

    /// The message stored with this external id on `channel` (the latest,
    /// when different messages reused the id).
    pub fn message_by_external_id(
        &self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<Message>, StoreError> {
        let Some(entries) = self.trees.dedupe.get(keys::dedupe(channel, external_id))? else {
            return Ok(None);
        };
        let Some(stored_ref) = super::dedupe::stored_keys(&entries).last() else {
            return Ok(None);
        };
        self.trees
            .messages
            .get(stored_ref)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Puts an attachment's bytes in place: the message's attachment record
    /// gets the size and content type, the bytes go to the attachments tree,
    /// and a `message.created` event with the updated message (same id:
    /// clients replace the message they have) is logged, in one
    /// transaction. Returns the updated message.
    pub fn set_attachment(
        &self,
        message: Id,
        index: u32,
        content_type: &str,
        bytes: &[u8],
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.update_attachment(message, index, now, Some(bytes), |meta| {
            meta.size = bytes.len() as u64;
            meta.content_type = content_type.to_string();
            meta.fetch_failed = None;
        })
    }

    /// Records that an attachment's bytes will not come (its download was
    /// given up) and why; the message itself stays as it is, and a
    /// `message.created` event tells clients. Returns the updated message.
    pub fn fail_attachment(
        &self,
        message: Id,
        index: u32,
        reason: &str,
        now: Millis,
    ) -> Result<Message, StoreError> {
        self.update_attachment(message, index, now, None, |meta| {
            meta.fetch_failed = Some(reason.to_string());
        })
    }

    /// Changes one attachment's record (and puts its bytes when given), with
    /// the event telling clients, in one transaction.
    fn update_attachment(
        &self,
        message: Id,
        index: u32,
        now: Millis,
        bytes: Option<&[u8]>,
        change: impl FnOnce(&mut crate::model::AttachmentMeta),
    ) -> Result<Message, StoreError> {
        let _writer = self.lock_writer();
        let t = &self.trees;
        let mut stored = self
            .message(message)?
            .ok_or(StoreError::NotFound { what: "message" })?;
        let meta = stored
            .attachments
            .get_mut(index as usize)
            .ok_or(StoreError::NotFound { what: "attachment" })?;
        change(meta);
        let conversation = self
            .conversation(stored.conversation)?
            .ok_or(StoreError::NotFound {
                what: "conversation",
            })?;
        let stamped = self.stamp(vec![Event::message(&conversation, &stored, now)]);
        let stored_ref = keys::message(stored.conversation, stored.id);
        let record = encode(&stored);
        let attachment_key = keys::attachment(message, index);
        let result: Result<(), TransactionError<()>> = (&t.messages, &t.attachments, &t.events)
            .transaction(|(messages, attachments, events)| {
                messages.insert(stored_ref.as_slice(), record.as_slice())?;
                if let Some(bytes) = bytes {
                    attachments.insert(attachment_key.as_slice(), bytes)?;
                }
                stamped.insert(events)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        result.map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        self.mark_committed(&stamped);
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{inbound, request};
    use super::*;

    fn job(external_id: &str, due: Millis) -> MediaJob {
        MediaJob {
            channel: "fb".into(),
            external_id: external_id.into(),
            index: 0,
            source: MediaSource::Url {
                url: "http://cdn.example/a.jpg".into(),
            },
            attempts: 0,
            due,
        }
    }

    #[tokio::test]
    async fn jobs_come_due_in_order_and_move_on_reschedule() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .queue_media(&[job("b", 2_000), job("a", 1_000)])
            .unwrap();
        assert_eq!(store.next_media_due().unwrap(), Some(1_000));
        let due = store.due_media_jobs(1_500, 10).unwrap();
        assert_eq!(due, vec![job("a", 1_000)]);
        let mut later = due[0].clone();
        later.attempts = 1;
        later.due = 3_000;
        store.update_media_job(&due[0], Some(&later)).unwrap();
        let all = store.due_media_jobs(5_000, 10).unwrap();
        assert_eq!(all, vec![job("b", 2_000), later.clone()]);
        store.update_media_job(&later, None).unwrap();
        store.update_media_job(&all[0], None).unwrap();
        assert_eq!(store.next_media_due().unwrap(), None);
    }

    #[tokio::test]
    async fn bytes_arrive_after_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut pending = inbound("fb", "mid.1", "someone");
        pending.attachments[0].bytes.clear();
        let accepted = store.ingest(request(pending, 1_000)).unwrap();
        let stored = store
            .message_by_external_id("fb", "mid.1")
            .unwrap()
            .unwrap();
        assert_eq!(stored.id, accepted.message);
        assert_eq!(stored.attachments[0].size, 0);
        assert!(store
            .message_by_external_id("fb", "mid.2")
            .unwrap()
            .is_none());

        let updated = store
            .set_attachment(accepted.message, 0, "image/png", b"\x89PNG..", 2_000)
            .unwrap();
        assert_eq!(updated.attachments[0].size, 6);
        assert_eq!(updated.attachments[0].content_type, "image/png");
        assert_eq!(store.message(accepted.message).unwrap().unwrap(), updated);
        let last = store.events(1, u64::MAX, 100).unwrap().pop().unwrap();
        assert_eq!(last.kind, crate::events::EventKind::MessageCreated);
        assert_eq!(
            last.payload,
            crate::events::EventPayload::Message(Box::new(updated.clone()))
        );
        assert_eq!(
            store.attachment(accepted.message, 0).unwrap().unwrap(),
            b"\x89PNG..".to_vec()
        );
        assert!(matches!(
            store.set_attachment(accepted.message, 5, "x/y", b"", 2_000),
            Err(StoreError::NotFound { what: "attachment" })
        ));
    }

    #[tokio::test]
    async fn a_given_up_attachment_keeps_its_message_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut pending = inbound("fb", "mid.1", "someone");
        pending.attachments[0].bytes.clear();
        let accepted = store.ingest(request(pending, 1_000)).unwrap();
        let updated = store
            .fail_attachment(accepted.message, 0, "refused: not public", 2_000)
            .unwrap();
        assert_eq!(
            updated.attachments[0].fetch_failed.as_deref(),
            Some("refused: not public")
        );
        assert_eq!(updated.attachments[0].size, 0);
        let stored = store.message(accepted.message).unwrap().unwrap();
        assert_eq!(stored, updated);
        let last = store.events(1, u64::MAX, 100).unwrap().pop().unwrap();
        assert_eq!(
            last.payload,
            crate::events::EventPayload::Message(Box::new(updated))
        );
        assert!(store
            .attachment(accepted.message, 0)
            .unwrap()
            .unwrap_or_default()
            .is_empty());
    }
}
