//! Validation of `[metrics]`: an optional scrape token (read from a file or
//! an environment variable, never inline) and an optional separate listen
//! address for `GET /metrics`.

use std::net::SocketAddr;
use std::path::Path;

use super::raw::RawMetrics;
use super::secret::{self, Secret};

type Problems = Vec<(String, String)>;

/// Who may scrape `GET /metrics`, and where it is served.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// When set, `/metrics` is served only on this address, by itself.
    pub listen: Option<SocketAddr>,
    /// When set, a scrape must present it as a bearer token. Without it, the
    /// main listener asks for an admin's API token and a separate `listen`
    /// address is open to whoever can reach it.
    pub token: Option<Secret>,
}

pub(super) fn metrics_settings(
    raw: RawMetrics,
    base: &Path,
    problems: &mut Problems,
    warnings: &mut Vec<String>,
) -> MetricsSettings {
    let listen = raw
        .listen
        .as_deref()
        .and_then(|text| match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                problems.push((
                    "metrics.listen".into(),
                    format!("\"{text}\" is not an IP address and port (e.g. 127.0.0.1:9187)"),
                ));
                None
            }
        });
    let token = match (&raw.token_file, &raw.token_env) {
        (None, None) => None,
        (file, env) => secret::load(
            file.as_deref(),
            env.as_deref(),
            base,
            "metrics",
            "token",
            problems,
        ),
    };
    if let (Some(addr), None) = (listen, &token) {
        if !addr.ip().is_loopback() {
            warnings.push(format!(
                "metrics.listen {addr} has no token: anyone who reaches it can read the metrics"
            ));
        }
    }
    MetricsSettings { listen, token }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(raw: RawMetrics, base: &Path) -> (MetricsSettings, Problems, Vec<String>) {
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let settings = metrics_settings(raw, base, &mut problems, &mut warnings);
        (settings, problems, warnings)
    }

    #[test]
    fn token_comes_from_a_file_and_listen_is_parsed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scrape.token"), "s3cret\n").unwrap();
        let raw = RawMetrics {
            listen: Some("127.0.0.1:9187".into()),
            token_file: Some("scrape.token".into()),
            token_env: None,
        };
        let (settings, problems, warnings) = settings(raw, dir.path());
        assert!(problems.is_empty() && warnings.is_empty(), "{problems:?}");
        assert_eq!(settings.listen, Some("127.0.0.1:9187".parse().unwrap()));
        assert_eq!(settings.token.unwrap().expose(), "s3cret");
    }

    #[test]
    fn bad_address_and_missing_file_are_reported_with_their_keys() {
        let raw = RawMetrics {
            listen: Some("everywhere".into()),
            token_file: Some("nope.token".into()),
            token_env: None,
        };
        let (_, problems, _) = settings(raw, Path::new("/nonexistent"));
        let keys: Vec<&str> = problems.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["metrics.listen", "metrics.token_file"]);
    }

    #[test]
    fn an_open_non_loopback_listener_is_warned_about() {
        let raw = RawMetrics {
            listen: Some("0.0.0.0:9187".into()),
            ..RawMetrics::default()
        };
        let (settings, problems, warnings) = settings(raw, Path::new("."));
        assert!(problems.is_empty());
        assert!(settings.token.is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
