//! Keeps what only ever accumulates from growing forever, when the daemon
//! starts and then every hour, a batch at a time:
//! - events older than `[storage] event_retention_days` leave the event log
//!   (a subscriber resuming from before the oldest kept event is told
//!   `gap` and reloads instead);
//! - delivery statuses kept for a provider id that was never recorded (a
//!   callback for a message another system sent from the same number) go
//!   after a day: our own sends record their id within seconds.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::model::Millis;
use crate::store::{Store, StoreError};

const EVERY: Duration = Duration::from_secs(3600);
const BATCH: usize = 10_000;
const PENDING_STATUS_DAYS: u64 = 1;

pub async fn run(app: Arc<App>, event_retention: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = app.clock.now();
        let events = prune(
            &app,
            &shutdown,
            before(now, event_retention),
            Store::prune_events,
        )
        .await;
        app.metrics.events_pruned(events);
        let pending_for = Duration::from_secs(PENDING_STATUS_DAYS * 86_400);
        let statuses = prune(
            &app,
            &shutdown,
            before(now, pending_for),
            Store::prune_pending_statuses,
        )
        .await;
        if events + statuses > 0 {
            tracing::info!(
                events,
                statuses,
                "pruned old events and stray delivery statuses"
            );
        }
    }
}

fn before(now: Millis, age: Duration) -> Millis {
    now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

/// Runs one pruning in batches until a batch comes back short; returns how
/// many entries went.
async fn prune(
    app: &App,
    shutdown: &CancellationToken,
    before: Millis,
    step: fn(&Store, Millis, usize) -> Result<usize, StoreError>,
) -> usize {
    let mut pruned = 0;
    loop {
        let store = app.store.clone();
        match tokio::task::spawn_blocking(move || step(&store, before, BATCH)).await {
            Ok(Ok(count)) => {
                pruned += count;
                if count < BATCH || shutdown.is_cancelled() {
                    return pruned;
                }
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot prune the store");
                return pruned;
            }
            Err(error) => {
                tracing::error!(%error, "store pruning stopped");
                return pruned;
            }
        }
    }
}
