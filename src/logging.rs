//! The daemon's log: `RUST_LOG` (default `switchboard=info,warn`) chooses
//! what is written, except that a few libraries never log below `debug`,
//! whatever `RUST_LOG` says, because their `trace` lines carry what must
//! not reach a log: tungstenite prints every WebSocket frame's payload (a
//! visitor's token, agents' events), mailin every SMTP command line (a
//! client's `AUTH PLAIN` credentials), sled every key it touches. Our own
//! code logs no secret at any level (request spans redact secret query
//! values, `http::redacted_uri`; config secrets print as `<redacted>`).

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// What is written when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "switchboard=info,warn";

/// Libraries whose `trace` output carries payloads or credentials.
pub const CAPPED_AT_DEBUG: [&str; 4] = ["tungstenite", "tokio_tungstenite", "mailin", "sled"];

/// The cap on [`CAPPED_AT_DEBUG`]; everything else passes to `RUST_LOG`.
pub fn secret_safe_targets() -> Targets {
    CAPPED_AT_DEBUG.iter().fold(
        Targets::new().with_default(Level::TRACE),
        |targets, name| targets.with_target(*name, Level::DEBUG),
    )
}

/// Logs to stderr as `RUST_LOG` says, within the cap.
pub fn init() {
    let chosen =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(chosen.and(secret_safe_targets()));
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_logging_libraries_stop_at_debug_and_the_rest_follows_rust_log() {
        let targets = secret_safe_targets();
        assert!(!targets.would_enable("tungstenite::protocol", &Level::TRACE));
        assert!(targets.would_enable("tungstenite::protocol", &Level::DEBUG));
        assert!(!targets.would_enable("mailin::fsm", &Level::TRACE));
        assert!(!targets.would_enable("sled::tree", &Level::TRACE));
        assert!(targets.would_enable("switchboard::ingest", &Level::TRACE));
        assert!(targets.would_enable("hyper", &Level::TRACE));
    }
}
