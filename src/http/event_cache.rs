//! Events rendered once for every subscriber: the live socket renders an
//! event (with its contact looked up) the first time any subscriber needs
//! it and shares the text with the others. Bounded by total size; older
//! events fall out and are read and rendered again if someone catches up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;

use crate::events::Event;
use crate::store::{Store, StoreError};

/// The most rendered text the cache keeps.
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// One rendered event: its inbox (for access checks) and its JSON text.
#[derive(Clone)]
pub struct Rendered {
    pub seq: u64,
    pub inbox: Arc<str>,
    /// Cheap to clone: every socket sends the same bytes.
    pub text: Utf8Bytes,
}

#[derive(Default)]
struct Entries {
    by_seq: BTreeMap<u64, Rendered>,
    bytes: usize,
}

#[derive(Default)]
pub struct EventCache {
    entries: Mutex<Entries>,
}

impl EventCache {
    /// Up to `limit` rendered events with `from <= seq <= to`, in order.
    pub fn batch(
        &self,
        store: &Store,
        from: u64,
        to: u64,
        limit: usize,
        render: impl Fn(Event) -> String,
    ) -> Result<Vec<Rendered>, StoreError> {
        if let Some(hit) = self.cached(from, to, limit) {
            return Ok(hit);
        }
        let rendered: Vec<Rendered> = store
            .events(from, to, limit)?
            .into_iter()
            .map(|event| Rendered {
                seq: event.seq,
                inbox: event.inbox.as_str().into(),
                text: Utf8Bytes::from(render(event)),
            })
            .collect();
        let mut entries = self.lock();
        for item in &rendered {
            if entries.by_seq.insert(item.seq, item.clone()).is_none() {
                entries.bytes += item.text.len();
            }
        }
        while entries.bytes > MAX_BYTES {
            let Some((_, oldest)) = entries.by_seq.pop_first() else {
                break;
            };
            entries.bytes -= oldest.text.len();
        }
        Ok(rendered)
    }

    /// The events from `from` on, if the cache holds them without a hole.
    fn cached(&self, from: u64, to: u64, limit: usize) -> Option<Vec<Rendered>> {
        let entries = self.lock();
        let mut out = Vec::new();
        let mut expected = from;
        for (seq, item) in entries.by_seq.range(from..=to) {
            if *seq != expected || out.len() == limit {
                break;
            }
            out.push(item.clone());
            expected += 1;
        }
        (out.len() == limit || expected > to)
            .then_some(out)
            .filter(|o| !o.is_empty())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
