//! Per-IP and per-email submission limits (sans-IO, in memory): a token
//! bucket per key holding up to `max` submissions that refills evenly over
//! `window`, so a sender gets `max` at once and then one every
//! `window / max`. A refused submission learns how long until it may try
//! again (`Retry-After`). The table is bounded: full buckets (idle keys)
//! are dropped when it grows past `MAX_KEYS`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::Millis;

/// The most keys one limiter tracks before it prunes idle ones.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Submissions left, in thousandths.
    milli_tokens: u64,
    at: Millis,
}

/// One limiter (e.g. per IP of one form); shared across requests.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Takes one submission for `key` at `now` if `max` per `window` allow
    /// it; otherwise `Err(wait)` until one would. `max == 0` is no limit.
    pub fn take(&self, key: &str, max: u32, window: Duration, now: Millis) -> Result<(), Duration> {
        if max == 0 {
            return Ok(());
        }
        let capacity = u64::from(max) * 1000;
        let window_ms = window.as_millis().max(1) as u64;
        let refill = |bucket: Bucket| -> u64 {
            let elapsed = (now - bucket.at).max(0) as u64;
            let gained = elapsed.saturating_mul(capacity) / window_ms;
            (bucket.milli_tokens + gained).min(capacity)
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| refill(*bucket) < capacity);
        }
        let current = buckets
            .get(key)
            .map(|bucket| refill(*bucket))
            .unwrap_or(capacity);
        if current >= 1000 {
            buckets.insert(
                key.to_string(),
                Bucket {
                    milli_tokens: current - 1000,
                    at: now,
                },
            );
            return Ok(());
        }
        let missing = 1000 - current;
        let wait_ms = (missing * window_ms).div_ceil(capacity);
        Err(Duration::from_millis(wait_ms.max(1)))
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
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }
}
