//! Login throttling: failed sign-ins are counted per account and per client
//! address in a sliding window; over the limit, sign-in answers `429` with
//! `Retry-After` until the oldest failure leaves the window. A successful
//! sign-in clears the account's count. Kept in memory (a restart forgives).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::model::Millis;

/// Failures allowed per account within the window.
pub const PER_ACCOUNT: usize = 5;
/// Failures allowed per client address within the window.
pub const PER_ADDRESS: usize = 20;
/// The window, in milliseconds.
pub const WINDOW_MS: Millis = 15 * 60 * 1000;
/// Keys kept at most, so a flood of made-up accounts cannot grow memory.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Millis>>>,
}

impl LoginLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Millis>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(seconds to wait)` when the account or the address is over its
    /// limit, `None` when a sign-in may be tried.
    pub fn check(&self, account: &str, address: &str, now: Millis) -> Option<u64> {
        let mut failures = self.lock();
        let keys = [
            (format!("account\0{account}"), PER_ACCOUNT),
            (format!("address\0{address}"), PER_ADDRESS),
        ];
        let mut wait: Option<Millis> = None;
        for (key, limit) in keys {
            let Some(times) = failures.get_mut(&key) else {
                continue;
            };
            while times.front().is_some_and(|t| *t + WINDOW_MS <= now) {
                times.pop_front();
            }
            if times.len() >= limit {
                let until = times.front().copied().unwrap_or(now) + WINDOW_MS - now;
                wait = Some(wait.map_or(until, |w| w.max(until)));
            }
        }
        wait.map(|ms| (ms as u64).div_ceil(1000).max(1))
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, account: &str, address: &str, now: Millis) {
        let mut failures = self.lock();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| times.back().is_some_and(|t| *t + WINDOW_MS > now));
        }
        for key in [format!("account\0{account}"), format!("address\0{address}")] {
            failures.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets the account's failures after a successful sign-in.
    pub fn succeeded(&self, account: &str) {
        self.lock().remove(&format!("account\0{account}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_addresses_are_limited_apart() {
        let limiter = LoginLimiter::default();
        for _ in 0..PER_ACCOUNT {
            assert_eq!(limiter.check("alice", "10.0.0.1", 0), None);
            limiter.failed("alice", "10.0.0.1", 0);
        }
        assert_eq!(limiter.check("alice", "10.0.0.2", 1_000), Some(899));
        assert_eq!(limiter.check("bob", "10.0.0.1", 1_000), None);
        assert_eq!(limiter.check("alice", "10.0.0.2", WINDOW_MS), None);
        for n in 0..PER_ADDRESS {
            limiter.failed(&format!("user{n}"), "10.0.0.9", WINDOW_MS);
        }
        assert!(limiter.check("carol", "10.0.0.9", WINDOW_MS).is_some());
        limiter.succeeded("alice");
        assert_eq!(limiter.check("alice", "10.0.0.3", 1_000), None);
    }
}
