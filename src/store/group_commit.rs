//! Group commit: many concurrent writers share one flush. A writer commits its
//! transaction in memory, then waits here; the flusher takes every waiter that
//! has arrived, notes the last committed event sequence number, runs one
//! `fsync`-ing flush, answers them all and publishes that sequence number as
//! durable. A waiter is only answered by a flush that started after it asked,
//! so its write is covered. A [`FlushObserver`], when set, is told the size
//! and duration of every flush (the metrics module implements it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

type Waiter = oneshot::Sender<Result<(), String>>;

/// Told about every group-commit flush, after it ran.
pub trait FlushObserver: Send + Sync + 'static {
    /// One flush made `waiters` writers durable and took `elapsed`.
    fn flushed(&self, waiters: usize, elapsed: Duration);
}

type Observer = Arc<OnceLock<Arc<dyn FlushObserver>>>;

/// The handle writers use to wait for durability.
#[derive(Clone)]
pub struct GroupCommit {
    requests: mpsc::UnboundedSender<Waiter>,
    flushes: Arc<AtomicU64>,
    durable_seq: watch::Receiver<u64>,
    observer: Observer,
}

impl GroupCommit {
    /// Starts the flusher task for `db` on the current tokio runtime.
    /// `committed_seq` is the last event sequence number written (in memory).
    pub fn start(db: sled::Db, committed_seq: Arc<AtomicU64>) -> Self {
        let (requests, receiver) = mpsc::unbounded_channel();
        let flushes = Arc::new(AtomicU64::new(0));
        let (durable, durable_seq) = watch::channel(committed_seq.load(Ordering::SeqCst));
        let observer = Observer::default();
        tokio::spawn(flusher(
            db,
            receiver,
            flushes.clone(),
            observer.clone(),
            committed_seq,
            durable,
        ));
        GroupCommit {
            requests,
            flushes,
            durable_seq,
            observer,
        }
    }

    /// Sets the observer of every later flush; `false` if one was already set.
    pub fn observe(&self, observer: Arc<dyn FlushObserver>) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Waits until everything written before this call is on disk.
    pub async fn durable(&self) -> Result<(), String> {
        let (sender, answer) = oneshot::channel();
        self.requests
            .send(sender)
            .map_err(|_| "the flusher has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the flusher has stopped".to_string())?
    }

    /// How many flushes have run since start.
    pub fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// The last event sequence number known to be on disk, and its changes.
    pub fn durable_seq(&self) -> watch::Receiver<u64> {
        self.durable_seq.clone()
    }
}

async fn flusher(
    db: sled::Db,
    mut receiver: mpsc::UnboundedReceiver<Waiter>,
    flushes: Arc<AtomicU64>,
    observer: Observer,
    committed_seq: Arc<AtomicU64>,
    durable: watch::Sender<u64>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = receiver.try_recv() {
            batch.push(next);
        }
        // Everything committed up to here is covered by the flush below.
        let covered_seq = committed_seq.load(Ordering::SeqCst);
        let started = Instant::now();
        let result = flush(&db).await;
        flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(observer) = observer.get() {
            observer.flushed(batch.len(), started.elapsed());
        }
        match &result {
            Ok(()) => {
                durable.send_if_modified(|seq| {
                    let advanced = covered_seq > *seq;
                    *seq = (*seq).max(covered_seq);
                    advanced
                });
            }
            Err(error) => tracing::error!(%error, waiters = batch.len(), "store flush failed"),
        }
        for waiter in batch {
            let _ = waiter.send(result.clone());
        }
    }
}

/// One `fsync`-ing flush of the whole store, off the async threads.
async fn flush(db: &sled::Db) -> Result<(), String> {
    // Test builds only (cargo feature `fault-injection`): a switch file
    // makes the flush fail, so the tests can watch every edge answer a
    // temporary error.
    #[cfg(feature = "fault-injection")]
    if let Some(error) = super::fault::injected_flush_error() {
        return Err(error);
    }
    let db = db.clone();
    match tokio::task::spawn_blocking(move || db.flush()).await {
        Ok(Ok(_bytes)) => Ok(()),
        Ok(Err(error)) => Err(format!("flush failed: {error}")),
        Err(error) => Err(format!("flush task failed: {error}")),
    }
}
