//! Group commit: many concurrent writers share one flush. A writer commits its
//! transaction in memory, then waits here; the flusher takes every waiter that
//! has arrived, runs one `fsync`-ing flush, and answers them all. A waiter is
//! only answered by a flush that started after it asked, so its write is
//! covered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

type Waiter = oneshot::Sender<Result<(), String>>;

/// The handle writers use to wait for durability.
#[derive(Clone)]
pub struct GroupCommit {
    requests: mpsc::UnboundedSender<Waiter>,
    flushes: Arc<AtomicU64>,
}

impl GroupCommit {
    /// Starts the flusher task for `db` on the current tokio runtime.
    pub fn start(db: sled::Db) -> Self {
        let (requests, receiver) = mpsc::unbounded_channel();
        let flushes = Arc::new(AtomicU64::new(0));
        tokio::spawn(flusher(db, receiver, flushes.clone()));
        GroupCommit { requests, flushes }
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
}

async fn flusher(
    db: sled::Db,
    mut receiver: mpsc::UnboundedReceiver<Waiter>,
    flushes: Arc<AtomicU64>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = receiver.try_recv() {
            batch.push(next);
        }
        let db = db.clone();
        let result = match tokio::task::spawn_blocking(move || db.flush()).await {
            Ok(Ok(_bytes)) => Ok(()),
            Ok(Err(error)) => Err(format!("flush failed: {error}")),
            Err(error) => Err(format!("flush task failed: {error}")),
        };
        flushes.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = &result {
            tracing::error!(%error, waiters = batch.len(), "store flush failed");
        }
        for waiter in batch {
            let _ = waiter.send(result.clone());
        }
    }
}
