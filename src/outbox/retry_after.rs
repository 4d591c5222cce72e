//! `Retry-After`: how long a provider or webhook asks us to wait before the
//! next attempt (seconds, or an HTTP date), read the same way by every
//! channel sender; capped at a day so a bad header cannot park a message.

use std::time::Duration;

use crate::model::Millis;

const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The `Retry-After` of a response, if it has a readable one (`now` in ms).
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: Millis) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now))
}

/// A `Retry-After` value: seconds, or an HTTP date; capped at a day.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = jiff::fmt::rfc2822::DateTimeParser::new()
                .parse_timestamp(value)
                .ok()?;
            let millis = at.as_millisecond().saturating_sub(now).max(0);
            Duration::from_millis(u64::try_from(millis).ok()?)
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after(" 30 ", 0), Some(Duration::from_secs(30)));
        let now = jiff::Timestamp::from_second(784_111_717).unwrap();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now.as_millisecond()),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                now.as_millisecond() + 120_000
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("999999999", 0),
            Some(Duration::from_secs(24 * 60 * 60))
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
