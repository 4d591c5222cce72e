//! Presence: who has a live event socket open. An agent who said they are
//! available but has had no socket for `away_after` counts as away for
//! routing (they closed the tab and went home).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::Millis;

#[derive(Debug, Clone, Copy)]
struct Seen {
    sockets: usize,
    /// When the last socket closed (or the daemon started).
    since: Millis,
}

pub struct Presence {
    started: Millis,
    agents: Mutex<HashMap<String, Seen>>,
}

impl Presence {
    pub fn new(started: Millis) -> Self {
        Presence {
            started,
            agents: Mutex::new(HashMap::new()),
        }
    }

    fn agents(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A socket of `agent` opened.
    pub fn connected(&self, agent: &str, now: Millis) {
        let mut agents = self.agents();
        let seen = agents.entry(agent.to_string()).or_insert(Seen {
            sockets: 0,
            since: now,
        });
        seen.sockets += 1;
    }

    /// A socket of `agent` closed.
    pub fn disconnected(&self, agent: &str, now: Millis) {
        if let Some(seen) = self.agents().get_mut(agent) {
            seen.sockets = seen.sockets.saturating_sub(1);
            if seen.sockets == 0 {
                seen.since = now;
            }
        }
    }

    /// Whether the agent has a socket open, or had one (or the daemon
    /// started) less than `away_after` ago.
    pub fn is_present(&self, agent: &str, now: Millis, away_after: Duration) -> bool {
        let seen = self.agents().get(agent).copied().unwrap_or(Seen {
            sockets: 0,
            since: self.started,
        });
        seen.sockets > 0 || now - seen.since < away_after.as_millis() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn away_after_the_last_socket_closed_for_long_enough() {
        let away = Duration::from_secs(60);
        let presence = Presence::new(0);
        assert!(
            presence.is_present("alice", 59_000, away),
            "grace after start"
        );
        assert!(!presence.is_present("alice", 61_000, away));
        presence.connected("alice", 61_000);
        presence.connected("alice", 62_000);
        presence.disconnected("alice", 63_000);
        assert!(
            presence.is_present("alice", 500_000, away),
            "one socket still open"
        );
        presence.disconnected("alice", 500_000);
        assert!(presence.is_present("alice", 559_000, away));
        assert!(!presence.is_present("alice", 561_000, away));
    }
}
