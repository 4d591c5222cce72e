//! `App`: the shared state every adapter and handler works with: the current
//! workspace (swapped on SIGHUP), the store, the clock and the API tokens.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::config::Workspace;
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
}

impl App {
    pub fn new(
        workspace: Workspace,
        store: Store,
        clock: Arc<dyn Clock>,
        tokens: TokenRegistry,
    ) -> Self {
        App {
            workspace: ArcSwap::from_pointee(workspace),
            store,
            event_cache: crate::http::EventCache::default(),
            presence: Presence::new(clock.now()),
            clock,
            tokens,
            outbox_wake: tokio::sync::Notify::new(),
            relay_configured: false,
            hostname: "switchboard.localhost".to_string(),
        }
    }

    /// The workspace in force now. Handlers take it once per request.
    pub fn workspace(&self) -> Arc<Workspace> {
        self.workspace.load_full()
    }

    /// Applies a new workspace atomically; requests in flight keep the old one.
    pub fn replace_workspace(&self, workspace: Workspace) {
        self.workspace.store(Arc::new(workspace));
    }
}
