//! Events rendered once for every subscriber: the live socket renders an
//! event (with its contact looked up) the first time any subscriber needs
//! it and shares the text with the others. Bounded by total size; older
//! events fall out and are read and rendered again if someone catches up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;

use crate::events::Event;
use crate::store::{Store, StoreError};

/// The most memory the cache keeps: rendered text plus per-entry upkeep.
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// What one entry costs beyond its text (map node share, inbox name,
/// shared-bytes header), so many small events cannot exceed the bound.
const ENTRY_OVERHEAD: usize = 128;

/// One rendered event: its inbox (for access checks) and its JSON text.
#[derive(Clone)]
pub struct Rendered {
    pub seq: u64,
    pub inbox: Arc<str>,
    /// Cheap to clone: every socket sends the same bytes.
    pub text: Utf8Bytes,
}

impl Rendered {
    /// The memory this entry holds while cached.
    fn cost(&self) -> usize {
        self.text.len() + self.inbox.len() + ENTRY_OVERHEAD
    }
}

#[derive(Default)]
struct Entries {
    by_seq: BTreeMap<u64, Rendered>,
    bytes: usize,
}

impl Entries {
    /// Adds `items`, then drops the oldest entries until `max_bytes` hold.
    fn keep(&mut self, items: &[Rendered], max_bytes: usize) {
        for item in items {
            if let Some(replaced) = self.by_seq.insert(item.seq, item.clone()) {
                self.bytes -= replaced.cost();
            }
            self.bytes += item.cost();
        }
        while self.bytes > max_bytes {
            let Some((_, oldest)) = self.by_seq.pop_first() else {
                break;
            };
            self.bytes -= oldest.cost();
        }
    }
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
            .map(|event| {
                let seq = event.seq;
                let inbox = event.inbox.as_str().into();
                // A rendered string may hold up to twice its length in
                // spare capacity; the cache keeps only what it counts.
                let mut text = render(event);
                text.shrink_to_fit();
                Rendered {
                    seq,
                    inbox,
                    text: Utf8Bytes::from(text),
                }
            })
            .collect();
        self.lock().keep(&rendered, MAX_BYTES);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(seq: u64, len: usize) -> Rendered {
        Rendered {
            seq,
            inbox: "support".into(),
            text: Utf8Bytes::from("x".repeat(len)),
        }
    }

    #[test]
    fn many_small_events_stay_within_the_bound_counting_their_upkeep() {
        let mut entries = Entries::default();
        let items: Vec<_> = (1..=10_000).map(|seq| rendered(seq, 10)).collect();
        entries.keep(&items, 100_000);
        let per_entry = 10 + "support".len() + ENTRY_OVERHEAD;
        assert_eq!(entries.by_seq.len(), 100_000 / per_entry);
        assert_eq!(entries.bytes, entries.by_seq.len() * per_entry);
        assert_eq!(entries.by_seq.keys().last(), Some(&10_000), "newest kept");
    }

    #[test]
    fn an_event_rendered_again_is_counted_once() {
        let mut entries = Entries::default();
        entries.keep(&[rendered(1, 50)], 1_000_000);
        entries.keep(&[rendered(1, 50), rendered(2, 50)], 1_000_000);
        assert_eq!(entries.bytes, 2 * rendered(1, 50).cost());
    }
}
