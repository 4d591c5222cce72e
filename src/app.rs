//! `App`: the shared state every adapter and handler works with: the current
//! workspace (swapped on SIGHUP), the store, the clock, the API tokens and
//! the metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::config::{MetricsSettings, Workspace};
use crate::disk_space::DiskSpace;
use crate::metrics::Metrics;
use crate::model::Millis;
use crate::presence::Presence;
use crate::store::Store;
use crate::tokens::TokenRegistry;

pub struct App {
    workspace: ArcSwap<Workspace>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenRegistry,
    /// Events rendered once for all live sockets.
    pub event_cache: crate::http::EventCache,
    /// Who has a live event socket, for routing.
    pub presence: Presence,
    /// Wakes the outbox worker when a job is queued.
    pub outbox_wake: tokio::sync::Notify,
    /// Whether email can be sent (an `[outbound_smtp]` relay is configured).
    pub relay_configured: bool,
    /// This daemon's host name: the domain of outgoing Message-IDs.
    pub hostname: String,
    /// Channels whose provider refused our credentials (shared with the
    /// senders that find out).
    pub channel_health: ChannelHealth,
    /// The Prometheus metrics call sites bump (`GET /metrics`).
    pub metrics: Arc<Metrics>,
    /// Who may scrape `/metrics`, and whether it has its own listener.
    pub metrics_settings: MetricsSettings,
    /// Web forms' rate limits and token secret.
    pub forms: crate::channels::form::FormState,
    /// Open website-chat visitor sockets, for pushes.
    pub chat: crate::channels::chat::ChatHub,
    /// The web inbox: passwords, browser sessions, sign-in throttling.
    pub web: crate::web::WebState,
    /// The storage folder's free space against its reserve: every door
    /// asks before taking a message.
    pub disk: Arc<DiskSpace>,
}

impl App {
    pub fn new(
        workspace: Workspace,
        store: Store,
        clock: Arc<dyn Clock>,
        tokens: TokenRegistry,
    ) -> Self {
        let metrics = Arc::new(Metrics::new());
        metrics.describe(&workspace);
        store.observe_flushes(metrics.flush_observer());
        let web = crate::web::WebState::open(tokens.storage_dir());
        let disk = Arc::new(DiskSpace::new(tokens.storage_dir(), 0));
        App {
            disk,
            web,
            workspace: ArcSwap::from_pointee(workspace),
            store,
            event_cache: crate::http::EventCache::default(),
            presence: Presence::new(clock.now()),
            clock,
            tokens,
            outbox_wake: tokio::sync::Notify::new(),
            relay_configured: false,
            hostname: "switchboard.localhost".to_string(),
            channel_health: ChannelHealth::default(),
            metrics,
            metrics_settings: MetricsSettings::default(),
            forms: crate::channels::form::FormState::default(),
            chat: crate::channels::chat::ChatHub::default(),
        }
    }

    /// The workspace in force now. Handlers take it once per request.
    pub fn workspace(&self) -> Arc<Workspace> {
        self.workspace.load_full()
    }

    /// Applies a new workspace atomically; requests in flight keep the old one.
    pub fn replace_workspace(&self, workspace: Workspace) {
        self.metrics.describe(&workspace);
        self.workspace.store(Arc::new(workspace));
    }
}

/// Why a channel cannot send, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelProblem {
    pub reason: String,
    pub at: Millis,
}

/// Which channels are unhealthy (e.g. the provider says the access token is
/// invalid). Kept in memory: after a restart a channel is healthy until a
/// send says otherwise. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct ChannelHealth(Arc<Mutex<HashMap<String, ChannelProblem>>>);

impl ChannelHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ChannelProblem>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the channel unhealthy; returns whether it was healthy before.
    pub fn mark_unhealthy(&self, channel: &str, reason: String, at: Millis) -> bool {
        self.lock()
            .insert(channel.to_string(), ChannelProblem { reason, at })
            .is_none()
    }

    /// Marks the channel healthy; returns the problem it had, if any.
    pub fn mark_healthy(&self, channel: &str) -> Option<ChannelProblem> {
        self.lock().remove(channel)
    }

    /// The channel's problem; `None` when it is healthy.
    pub fn problem(&self, channel: &str) -> Option<ChannelProblem> {
        self.lock().get(channel).cloned()
    }
}
