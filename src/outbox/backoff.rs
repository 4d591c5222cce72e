//! Retry delays: exponential from the initial backoff, capped, with jitter
//! so that many failed deliveries do not all retry at the same instant.

use std::time::Duration;

use rand::Rng;

use crate::config::OutboxSettings;

/// The delay before attempt `attempts + 1`, after `attempts` failed ones:
/// `initial * 2^(attempts-1)` capped at `max`, then a random point in its
/// upper half ("equal jitter").
pub fn backoff(settings: &OutboxSettings, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let base = settings
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(settings.max_backoff);
    let half = base / 2;
    let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_its_cap_with_jitter() {
        let settings = OutboxSettings {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(1000),
            max_backoff: Duration::from_millis(8000),
            concurrency: 1,
        };
        for _ in 0..100 {
            let first = backoff(&settings, 1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(1000));
            let third = backoff(&settings, 3);
            assert!(third >= Duration::from_millis(2000) && third <= Duration::from_millis(4000));
            let late = backoff(&settings, 20);
            assert!(late >= Duration::from_millis(4000) && late <= Duration::from_millis(8000));
        }
    }
}
