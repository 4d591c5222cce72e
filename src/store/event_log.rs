//! The durable event log: `seq` (8 bytes, big-endian) -> event. Writers
//! number their events under the writer lock and insert them in the same
//! transaction as the change; readers page through it by sequence number.
//! Events older than the retention are pruned from the front; the newest
//! is always kept, since it is where numbering resumes after a restart.

use std::sync::atomic::Ordering;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{decode, encode, Store, StoreError};
use crate::events::Event;
use crate::model::Millis;

/// The highest sequence number in the log (0 when empty).
pub(super) fn last_seq(events: &sled::Tree) -> Result<u64, StoreError> {
    Ok(match events.last()? {
        Some((key, _)) => <[u8; 8]>::try_from(key.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt("event log key".into()))?,
        None => 0,
    })
}

/// Events numbered and encoded, ready to insert in a transaction.
pub(super) struct Stamped {
    entries: Vec<([u8; 8], Vec<u8>)>,
    pub last: u64,
}

impl Stamped {
    pub(super) fn insert(
        &self,
        tree: &TransactionalTree,
    ) -> Result<(), ConflictableTransactionError<()>> {
        for (key, value) in &self.entries {
            tree.insert(&key[..], value.as_slice())?;
        }
        Ok(())
    }
}

impl Store {
    /// Numbers `events` after the last committed one. Call under the writer
    /// lock, and `mark_committed(last)` once the transaction succeeded.
    pub(super) fn stamp(&self, events: Vec<Event>) -> Stamped {
        let mut seq = self.committed_seq.load(Ordering::SeqCst);
        let entries = events
            .into_iter()
            .map(|mut event| {
                seq += 1;
                event.seq = seq;
                (seq.to_be_bytes(), encode(&event))
            })
            .collect();
        Stamped { entries, last: seq }
    }

    pub(super) fn mark_committed(&self, stamped: &Stamped) {
        self.committed_seq.fetch_max(stamped.last, Ordering::SeqCst);
    }

    /// The oldest sequence number still in the log (`None` when empty).
    pub fn oldest_event_seq(&self) -> Result<Option<u64>, StoreError> {
        match self.trees.events.first()? {
            Some((key, _)) => <[u8; 8]>::try_from(key.as_ref())
                .map(|bytes| Some(u64::from_be_bytes(bytes)))
                .map_err(|_| StoreError::Corrupt("event log key".into())),
            None => Ok(None),
        }
    }

    /// Deletes up to `limit` of the oldest events that happened before
    /// `before`, never the newest event; returns how many went. Blocking.
    /// Readers past the pruned part are not disturbed: writers only append.
    pub fn prune_events(&self, before: Millis, limit: usize) -> Result<usize, StoreError> {
        let newest = last_seq(&self.trees.events)?;
        let mut doomed = Vec::new();
        for entry in self.trees.events.iter().take(limit) {
            let (key, value) = entry?;
            let event: Event = decode(&value)?;
            if event.seq >= newest || event.at >= before {
                break;
            }
            doomed.push(key);
        }
        let mut batch = sled::Batch::default();
        for key in &doomed {
            batch.remove(key);
        }
        self.trees.events.apply_batch(batch)?;
        Ok(doomed.len())
    }

    /// Up to `limit` events with `from <= seq <= to`, in order.
    pub fn events(&self, from: u64, to: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        self.trees
            .events
            .range(from.to_be_bytes()..=to.to_be_bytes())
            .take(limit)
            .map(|entry| decode(&entry?.1))
            .collect()
    }
}

impl Stamped {
    /// Adds the events to a write set.
    pub(super) fn add_to(&self, writes: &mut super::write_set::WriteSet) {
        for (key, value) in &self.entries {
            writes.put(super::write_set::TreeId::Events, key, value.clone());
        }
    }
}
