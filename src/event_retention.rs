//! Keeps the event log from growing forever: events older than
//! `[storage] event_retention_days` are deleted from its front, a batch at a
//! time, when the daemon starts and then every hour. A subscriber resuming
//! from before the oldest kept event is told (`gap`) and reloads instead.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::App;

const EVERY: Duration = Duration::from_secs(3600);
const BATCH: usize = 10_000;

pub async fn run(app: Arc<App>, retention: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let before = app.clock.now() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let mut pruned = 0;
        loop {
            let store = app.store.clone();
            let batch =
                tokio::task::spawn_blocking(move || store.prune_events(before, BATCH)).await;
            match batch {
                Ok(Ok(count)) => {
                    pruned += count;
                    app.metrics.events_pruned(count);
                    if count < BATCH || shutdown.is_cancelled() {
                        break;
                    }
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "cannot prune the event log");
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, "event log pruning stopped");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(pruned, "pruned old events from the event log");
        }
    }
}
