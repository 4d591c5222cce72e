//! Token-bucket rate limits per key (a client address, an email address),
//! sans-IO and in memory, for the channels that limit their senders (web
//! forms, the website chat). A key holds up to `max` takes that refill
//! evenly over `window`, so a sender gets `max` at once and then one every
//! `window / max`; a refused take learns how long until one would pass
//! (`Retry-After`, `retry_after_ms`).
//!
//! The table is bounded. A bucket that has refilled is the same as no
//! bucket, so such entries are dropped once a minute (idle keys expire).
//! When a flood of new keys still fills the table to its cap, the least
//! recently used quarter is evicted: an evicted key starts afresh, but a
//! sender who can bring that many fresh keys has that allowance anyway.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::model::Millis;

/// The most keys one limiter tracks.
const MAX_KEYS: usize = 100_000;
/// How often refilled buckets are swept out.
const SWEEP_EVERY: Millis = 60_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Takes left, in thousandths.
    milli_tokens: u64,
    at: Millis,
    /// When the bucket will be full again (and may be forgotten).
    full_at: Millis,
}

#[derive(Debug, Default)]
struct Table {
    buckets: HashMap<String, Bucket>,
    swept_at: Millis,
}

impl Table {
    /// Forgets the buckets that are full again.
    fn sweep(&mut self, now: Millis) {
        self.buckets.retain(|_, bucket| bucket.full_at > now);
        self.swept_at = now;
    }

    /// Makes room for one more key below `max_keys`.
    fn make_room(&mut self, now: Millis, max_keys: usize) {
        self.sweep(now);
        if self.buckets.len() < max_keys {
            return;
        }
        let mut last_used: Vec<Millis> = self.buckets.values().map(|b| b.at).collect();
        let quarter = last_used.len() / 4;
        let (_, &mut threshold, _) = last_used.select_nth_unstable(quarter);
        self.buckets.retain(|_, bucket| bucket.at > threshold);
    }
}

/// One limiter (e.g. per address of one form); shared across requests.
#[derive(Debug)]
pub struct Limiter {
    table: Mutex<Table>,
    max_keys: usize,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::with_max_keys(MAX_KEYS)
    }
}

impl Limiter {
    /// A limiter tracking at most `max_keys` keys (at least one).
    pub fn with_max_keys(max_keys: usize) -> Limiter {
        Limiter {
            table: Mutex::new(Table::default()),
            max_keys: max_keys.max(1),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keys tracked now.
    pub fn tracked(&self) -> usize {
        self.table().buckets.len()
    }

    /// Takes one for `key` at `now` if `max` per `window` allow it;
    /// otherwise `Err(wait)` until one would. `max == 0` is no limit.
    pub fn take(&self, key: &str, max: u32, window: Duration, now: Millis) -> Result<(), Duration> {
        if max == 0 {
            return Ok(());
        }
        let capacity = u64::from(max) * 1000;
        let window_ms = window.as_millis().clamp(1, u128::from(u32::MAX)) as u64;
        let mut table = self.table();
        if now - table.swept_at >= SWEEP_EVERY {
            table.sweep(now);
        }
        if table.buckets.len() >= self.max_keys && !table.buckets.contains_key(key) {
            table.make_room(now, self.max_keys);
        }
        let current = table.buckets.get(key).map_or(capacity, |bucket| {
            let elapsed = (now - bucket.at).max(0) as u64;
            let gained = elapsed.saturating_mul(capacity) / window_ms;
            bucket.milli_tokens.saturating_add(gained).min(capacity)
        });
        if current < 1000 {
            let missing = 1000 - current;
            let wait_ms =
                (u128::from(missing) * u128::from(window_ms)).div_ceil(u128::from(capacity)) as u64;
            return Err(Duration::from_millis(wait_ms.max(1)));
        }
        let left = current - 1000;
        let refill_ms =
            (u128::from(capacity - left) * u128::from(window_ms)).div_ceil(u128::from(capacity));
        table.buckets.insert(
            key.to_string(),
            Bucket {
                milli_tokens: left,
                at: now,
                full_at: now.saturating_add(refill_ms as Millis),
            },
        );
        Ok(())
    }
}

/// Seconds for `Retry-After`, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_slice_of_the_window() {
        let limiter = Limiter::default();
        let window = Duration::from_secs(600);
        for _ in 0..3 {
            assert_eq!(limiter.take("1.2.3.4", 3, window, 0), Ok(()));
        }
        let wait = limiter.take("1.2.3.4", 3, window, 0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(200));
        assert_eq!(retry_after_secs(wait), 200);
        assert_eq!(limiter.take("5.6.7.8", 3, window, 0), Ok(()), "other key");
        let wait = limiter.take("1.2.3.4", 3, window, 150_000).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(limiter.take("1.2.3.4", 3, window, 200_000), Ok(()));
        assert!(limiter.take("1.2.3.4", 3, window, 200_000).is_err());
        assert_eq!(limiter.take("x", 0, window, 0), Ok(()), "0 is no limit");
    }

    #[test]
    fn a_refused_take_does_not_count() {
        let limiter = Limiter::default();
        let minute = Duration::from_secs(60);
        assert_eq!(limiter.take("a", 1, minute, 0), Ok(()));
        for _ in 0..5 {
            assert!(limiter.take("a", 1, minute, 30_000).is_err());
        }
        assert_eq!(limiter.take("a", 1, minute, 60_000), Ok(()));
    }

    #[test]
    fn idle_keys_expire_once_refilled() {
        let limiter = Limiter::default();
        let minute = Duration::from_secs(60);
        limiter.take("idle", 3, minute, 0).unwrap();
        limiter
            .take("busy", 1, Duration::from_secs(3600), 0)
            .unwrap();
        assert_eq!(limiter.tracked(), 2);
        // "idle" is full again after 20 s; the sweep a minute on drops it.
        limiter.take("new", 3, minute, SWEEP_EVERY).unwrap();
        assert_eq!(limiter.tracked(), 2, "busy and new remain");
        assert!(limiter
            .take("busy", 1, Duration::from_secs(3600), SWEEP_EVERY)
            .is_err());
    }

    #[test]
    fn a_flood_of_keys_stays_within_the_cap() {
        let limiter = Limiter::with_max_keys(8);
        let hour = Duration::from_secs(3600);
        for i in 0..8 {
            limiter.take(&format!("k{i}"), 1, hour, i).unwrap();
        }
        assert!(limiter.take("k7", 1, hour, 8).is_err());
        // A ninth key evicts the least recently used quarter (k0, k1, k2).
        limiter.take("k8", 1, hour, 8).unwrap();
        assert!(limiter.tracked() <= 8);
        assert!(limiter.take("k0", 1, hour, 9).is_ok(), "evicted: afresh");
        assert!(limiter.take("k7", 1, hour, 9).is_err(), "recent: kept");
        for i in 0..1000 {
            let _ = limiter.take(&format!("flood{i}"), 1, hour, 10 + i);
            assert!(limiter.tracked() <= 8);
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }
}
