//! `[http]` and the connection caps of the listeners: how many connections
//! a listener holds at once, in all and from one client address, and how
//! long an HTTP client may take to send a request head. The defaults fit
//! the systemd unit's `LimitNOFILE=65536` with room to spare
//! (`listen::file_limit`).

use std::net::SocketAddr;
use std::time::Duration;

use super::raw::RawHttp;
use super::HttpSettings;

type Problems = Vec<(String, String)>;

/// HTTP connections open at once (widget sockets and event streams are
/// HTTP connections too).
pub const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 30_000;
/// HTTP connections open at once from one address. A reverse proxy on the
/// same host is one address for all its clients: raise it there.
pub const DEFAULT_HTTP_MAX_PER_ADDRESS: usize = 1_000;
/// How long a client may take to send a request head, and how long a
/// kept-alive connection may wait for its next request.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 20;
/// SMTP sessions open at once from one address: above Postfix's 20
/// concurrent deliveries per destination, so a relay in front never hits it.
pub const DEFAULT_SMTP_MAX_SESSIONS_PER_ADDRESS: usize = 50;

pub(super) fn http_settings(raw: RawHttp, problems: &mut Problems) -> Option<HttpSettings> {
    let listen = match raw.listen.parse::<SocketAddr>() {
        Ok(listen) => Some(listen),
        Err(_) => {
            problems.push((
                "http.listen".into(),
                format!(
                    "\"{}\" is not an IP address and port (e.g. 127.0.0.1:8080)",
                    raw.listen
                ),
            ));
            None
        }
    };
    let max_open = raw.max_connections.unwrap_or(DEFAULT_HTTP_MAX_CONNECTIONS);
    let max_per_address = raw
        .max_connections_per_address
        .unwrap_or(DEFAULT_HTTP_MAX_PER_ADDRESS.min(max_open));
    let header_secs = raw
        .header_read_timeout_secs
        .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECS);
    if max_open == 0 {
        problems.push(("http.max_connections".into(), "must be at least 1".into()));
    }
    if max_per_address == 0 || max_per_address > max_open {
        problems.push((
            "http.max_connections_per_address".into(),
            format!("must be between 1 and http.max_connections ({max_open})"),
        ));
    }
    if !(1..=3600).contains(&header_secs) {
        problems.push((
            "http.header_read_timeout_secs".into(),
            "must be between 1 and 3600".into(),
        ));
    }
    Some(HttpSettings {
        listen: listen?,
        max_connections: max_open,
        max_connections_per_address: max_per_address,
        header_read_timeout: Duration::from_secs(header_secs),
    })
}

/// `smtp.max_sessions_per_address`: between 1 and `max_sessions`.
pub(super) fn smtp_per_address(
    raw: Option<usize>,
    max_sessions: usize,
    problems: &mut Problems,
) -> usize {
    let value = raw.unwrap_or(DEFAULT_SMTP_MAX_SESSIONS_PER_ADDRESS.min(max_sessions));
    if value == 0 || value > max_sessions {
        problems.push((
            "smtp.max_sessions_per_address".into(),
            format!("must be between 1 and smtp.max_sessions ({max_sessions})"),
        ));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(extra: &str) -> RawHttp {
        toml::from_str(&format!("listen = \"127.0.0.1:8080\"\n{extra}")).unwrap()
    }

    #[test]
    fn defaults_fit_and_a_per_address_cap_stays_under_the_listener_cap() {
        let mut problems = Vec::new();
        let settings = http_settings(raw(""), &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.max_connections, DEFAULT_HTTP_MAX_CONNECTIONS);
        assert_eq!(
            settings.max_connections_per_address,
            DEFAULT_HTTP_MAX_PER_ADDRESS
        );
        assert_eq!(settings.header_read_timeout, Duration::from_secs(20));
        // A small listener cap brings the default per-address cap down.
        let settings = http_settings(raw("max_connections = 10"), &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.max_connections_per_address, 10);
    }

    #[test]
    fn out_of_range_caps_are_refused_with_their_key() {
        let mut problems = Vec::new();
        http_settings(
            raw("max_connections = 10\nmax_connections_per_address = 11\nheader_read_timeout_secs = 0"),
            &mut problems,
        );
        let keys: Vec<&str> = problems.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "http.max_connections_per_address",
                "http.header_read_timeout_secs"
            ]
        );
        let mut problems = Vec::new();
        assert_eq!(smtp_per_address(None, 10, &mut problems), 10);
        smtp_per_address(Some(0), 10, &mut problems);
        assert_eq!(problems[0].0, "smtp.max_sessions_per_address");
    }
}
