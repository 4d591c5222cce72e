//! The hub: which visitor sockets are open, by visitor (the identity handle
//! their messages carry) and by conversation, so that the outbox, the
//! typing endpoint and the event follower can push frames to them; plus the
//! per-visitor rate limit and the per-address limits (`limits`). Frames go through each socket's bounded queue;
//! a socket that does not keep up loses pushes, never blocks the hub (it
//! gets the full history again when it reconnects).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::ids::Id;
use crate::model::Millis;

/// Frames waiting for one socket.
pub const SOCKET_QUEUE: usize = 64;

struct Socket {
    channel: String,
    handle: Option<String>,
    conversation: Option<Id>,
    tx: mpsc::Sender<Arc<str>>,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<u64, Socket>,
    by_handle: HashMap<String, Vec<u64>>,
    by_conversation: HashMap<Id, Vec<u64>>,
}

/// A token bucket: `per_minute` messages a minute, bursts of up to a third.
#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Millis,
}

#[derive(Default)]
pub struct ChatHub {
    next: AtomicU64,
    inner: Mutex<Inner>,
    rates: Mutex<HashMap<String, Bucket>>,
    /// Sockets, new visitors and messages per client address.
    pub limits: super::limits::AddressLimits,
    key: OnceLock<[u8; 32]>,
    /// Cancelled when the daemon stops: sockets say goodbye (`1001`).
    shutdown: OnceLock<tokio_util::sync::CancellationToken>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ChatHub {
    /// The visitor-token key, cached after the store gave it once.
    pub fn key(&self) -> Option<[u8; 32]> {
        self.key.get().copied()
    }

    pub fn set_key(&self, key: [u8; 32]) {
        let _ = self.key.set(key);
    }

    /// Ties the sockets to the daemon's shutdown.
    pub fn set_shutdown(&self, token: tokio_util::sync::CancellationToken) {
        let _ = self.shutdown.set(token);
    }

    /// The shutdown signal (a token never cancelled before `set_shutdown`).
    pub fn shutdown(&self) -> tokio_util::sync::CancellationToken {
        self.shutdown.get().cloned().unwrap_or_default()
    }

    /// A socket opened on `channel`; returns its id and its queue.
    pub fn register(&self, channel: &str) -> (u64, mpsc::Receiver<Arc<str>>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(SOCKET_QUEUE);
        lock(&self.inner).sockets.insert(
            id,
            Socket {
                channel: channel.to_string(),
                handle: None,
                conversation: None,
                tx,
            },
        );
        (id, rx)
    }

    /// The socket belongs to the visitor known as `handle`.
    pub fn set_handle(&self, socket: u64, handle: &str) {
        let mut inner = lock(&self.inner);
        let Some(entry) = inner.sockets.get_mut(&socket) else {
            return;
        };
        entry.handle = Some(handle.to_string());
        inner
            .by_handle
            .entry(handle.to_string())
            .or_default()
            .push(socket);
    }

    /// The visitor's sockets follow `conversation` (typing, agent joined).
    pub fn set_conversation_of_handle(&self, handle: &str, conversation: Id) {
        let mut inner = lock(&self.inner);
        let sockets = inner.by_handle.get(handle).cloned().unwrap_or_default();
        for socket in sockets {
            let previous = match inner.sockets.get_mut(&socket) {
                Some(entry) if entry.conversation != Some(conversation) => {
                    entry.conversation.replace(conversation)
                }
                _ => continue,
            };
            if let Some(previous) = previous {
                unindex(&mut inner.by_conversation, &previous, socket);
            }
            inner
                .by_conversation
                .entry(conversation)
                .or_default()
                .push(socket);
        }
    }

    /// The socket closed.
    pub fn unregister(&self, socket: u64) {
        let mut inner = lock(&self.inner);
        let Some(entry) = inner.sockets.remove(&socket) else {
            return;
        };
        if let Some(handle) = &entry.handle {
            unindex(&mut inner.by_handle, handle, socket);
        }
        if let Some(conversation) = &entry.conversation {
            unindex(&mut inner.by_conversation, conversation, socket);
        }
    }

    fn push(&self, ids: &[u64], frame: &str) -> usize {
        let inner = lock(&self.inner);
        let frame: Arc<str> = Arc::from(frame);
        ids.iter()
            .filter_map(|id| inner.sockets.get(id))
            .filter(|socket| socket.tx.try_send(frame.clone()).is_ok())
            .count()
    }

    /// Sends `frame` to every open socket of the visitor; how many took it.
    pub fn push_to_handle(&self, handle: &str, frame: &str) -> usize {
        let ids = lock(&self.inner)
            .by_handle
            .get(handle)
            .cloned()
            .unwrap_or_default();
        self.push(&ids, frame)
    }

    /// Sends `frame` to the sockets following the conversation.
    pub fn push_to_conversation(&self, conversation: Id, frame: &str) -> usize {
        let ids = lock(&self.inner)
            .by_conversation
            .get(&conversation)
            .cloned()
            .unwrap_or_default();
        self.push(&ids, frame)
    }

    /// Sends `frame` to every socket on the channel that said hello.
    pub fn push_to_channel(&self, channel: &str, frame: &str) -> usize {
        let ids: Vec<u64> = lock(&self.inner)
            .sockets
            .iter()
            .filter(|(_, s)| s.channel == channel && s.handle.is_some())
            .map(|(id, _)| *id)
            .collect();
        self.push(&ids, frame)
    }

    /// Whether the visitor has a socket open.
    pub fn is_connected(&self, handle: &str) -> bool {
        lock(&self.inner)
            .by_handle
            .get(handle)
            .is_some_and(|ids| !ids.is_empty())
    }

    /// Open sockets (for metrics and benchmarks).
    pub fn socket_count(&self) -> usize {
        lock(&self.inner).sockets.len()
    }

    /// Takes one message from the visitor's allowance: `Err(wait)` when
    /// they sent `per_minute` in the last minute (with bursts of a third).
    pub fn take_message(&self, handle: &str, per_minute: u32, now: Millis) -> Result<(), Duration> {
        let capacity = (f64::from(per_minute) / 3.0).max(1.0);
        let rate = f64::from(per_minute) / 60_000.0; // tokens per ms
        let mut rates = lock(&self.rates);
        if rates.len() > 100_000 {
            rates.retain(|_, b| now - b.at < 60_000);
        }
        let bucket = rates.entry(handle.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = (now - bucket.at).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil() as u64;
            Err(Duration::from_millis(wait))
        }
    }
}

fn unindex<K: std::hash::Hash + Eq>(index: &mut HashMap<K, Vec<u64>>, key: &K, socket: u64) {
    if let Some(ids) = index.get_mut(key) {
        ids.retain(|id| *id != socket);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_reach_the_visitors_sockets_only() {
        let hub = ChatHub::default();
        let (a, mut rx_a) = hub.register("web");
        let (b, mut rx_b) = hub.register("web");
        hub.set_handle(a, "ann");
        hub.set_handle(b, "bob");
        let conversation = Id::from_bytes(&[1; 16]).unwrap();
        hub.set_conversation_of_handle("ann", conversation);
        assert_eq!(hub.push_to_handle("ann", "x"), 1);
        assert_eq!(hub.push_to_conversation(conversation, "y"), 1);
        assert_eq!(hub.push_to_channel("web", "z"), 2);
        assert_eq!(&*rx_a.try_recv().unwrap(), "x");
        assert_eq!(&*rx_a.try_recv().unwrap(), "y");
        assert_eq!(&*rx_b.try_recv().unwrap(), "z");
        hub.unregister(a);
        assert!(!hub.is_connected("ann"));
        assert_eq!(hub.push_to_conversation(conversation, "y"), 0);
    }

    #[test]
    fn the_rate_limit_refills_over_time() {
        let hub = ChatHub::default();
        for _ in 0..10 {
            hub.take_message("ann", 30, 0).unwrap();
        }
        let wait = hub.take_message("ann", 30, 0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        assert!(hub.take_message("bob", 30, 0).is_ok(), "per visitor");
        assert!(hub.take_message("ann", 30, 2_000).is_ok());
    }
}
