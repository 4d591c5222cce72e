//! Validation of the delivery settings: the outbound SMTP relay (with its
//! password read from a file or an environment variable, never inline) and
//! the outbox's retry policy.

use std::path::Path;
use std::time::Duration;

use super::raw::{RawOutboundSmtp, RawOutbox, RelayTls};
use super::{OutboxSettings, RelaySettings};

type Problems = Vec<(String, String)>;

pub(super) fn relay_settings(
    raw: RawOutboundSmtp,
    hostname: &str,
    base: &Path,
    problems: &mut Problems,
) -> Option<RelaySettings> {
    if raw.host.trim().is_empty() {
        problems.push((
            "outbound_smtp.host".into(),
            "must name the relay host".into(),
        ));
    }
    let password = match (&raw.password_file, &raw.password_env) {
        (Some(_), Some(_)) => {
            problems.push((
                "outbound_smtp.password_env".into(),
                "give password_file or password_env, not both".into(),
            ));
            None
        }
        (Some(file), None) => {
            let path = base.join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(text.lines().next().unwrap_or("").to_string()),
                Err(error) => {
                    problems.push((
                        "outbound_smtp.password_file".into(),
                        format!("cannot read {}: {error}", path.display()),
                    ));
                    None
                }
            }
        }
        (None, Some(name)) => match std::env::var(name) {
            Ok(value) => Some(value),
            Err(_) => {
                problems.push((
                    "outbound_smtp.password_env".into(),
                    format!("environment variable {name} is not set"),
                ));
                None
            }
        },
        (None, None) => None,
    };
    if password.is_some() && raw.username.is_none() {
        problems.push((
            "outbound_smtp.username".into(),
            "a password needs a username".into(),
        ));
    }
    let default_port = match raw.tls {
        RelayTls::Tls => 465,
        RelayTls::Starttls => 587,
        RelayTls::None => 25,
    };
    Some(RelaySettings {
        host: raw.host,
        port: raw.port.unwrap_or(default_port),
        tls: raw.tls,
        username: raw.username,
        password,
        timeout: Duration::from_secs(raw.timeout_secs.unwrap_or(60).max(1)),
        hostname: hostname.to_string(),
    })
}

pub(super) fn outbox_settings(raw: RawOutbox, problems: &mut Problems) -> OutboxSettings {
    let defaults = OutboxSettings::default();
    let settings = OutboxSettings {
        max_attempts: raw.max_attempts.unwrap_or(defaults.max_attempts),
        initial_backoff: raw
            .initial_backoff_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.initial_backoff),
        max_backoff: raw
            .max_backoff_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.max_backoff),
        concurrency: raw.concurrency.unwrap_or(defaults.concurrency),
    };
    if settings.max_attempts == 0 {
        problems.push(("outbox.max_attempts".into(), "must be at least 1".into()));
    }
    if settings.concurrency == 0 {
        problems.push(("outbox.concurrency".into(), "must be at least 1".into()));
    }
    if settings.initial_backoff.is_zero() {
        problems.push((
            "outbox.initial_backoff_ms".into(),
            "must be greater than 0".into(),
        ));
    }
    if settings.max_backoff < settings.initial_backoff {
        problems.push((
            "outbox.max_backoff_ms".into(),
            "must not be less than initial_backoff_ms".into(),
        ));
    }
    settings
}
