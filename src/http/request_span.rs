//! The span every HTTP request is logged in: method, path and query, with
//! the values of secret query parameters replaced by `[redacted]`. Agents
//! may pass their API token as `?token=` (browsers cannot set headers on a
//! WebSocket), Meta's subscription check carries `hub.verify_token`, and
//! providers and tools put signatures and keys in queries; none of them
//! may reach the log at any level. tower-http's default span records the
//! whole URI.

use axum::http::{Request, Uri};
use tower_http::trace::MakeSpan;

/// Words that mark a query parameter as secret, wherever they appear in
/// its name (`token`, `access_token`, `hub.verify_token`, `signature`...).
const SECRET_WORDS: [&str; 7] = [
    "token",
    "secret",
    "signature",
    "sig",
    "password",
    "key",
    "auth",
];

/// What stands for a secret value.
pub const REDACTED: &str = "[redacted]";

/// Makes the `request` span with the redacted URI.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactedRequestSpan;

impl<B> MakeSpan<B> for RedactedRequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        tracing::debug_span!(
            "request",
            method = %request.method(),
            uri = %redacted_uri(request.uri()),
            version = ?request.version(),
        )
    }
}

/// The path and query of `uri`, with secret query values redacted.
pub fn redacted_uri(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}={REDACTED}"),
            // A bare word may itself be a key (`?abc123`): only known
            // harmless shapes are kept as they are.
            None if is_secret(pair) || pair.len() > 16 => REDACTED.to_string(),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

fn is_secret(name: &str) -> bool {
    let decoded: String = form_urlencoded::parse(name.as_bytes())
        .map(|(name, _)| name.into_owned())
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| decoded.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> String {
        redacted_uri(&text.parse().unwrap())
    }

    #[test]
    fn secret_parameters_lose_their_values_and_the_rest_stays() {
        assert_eq!(
            redacted("/api/v1/events?since=12&token=sb_abcdef"),
            "/api/v1/events?since=12&token=[redacted]"
        );
        assert_eq!(
            redacted("/webhooks/fb?hub.mode=subscribe&hub.verify_token=meaty&hub.challenge=42"),
            "/webhooks/fb?hub.mode=subscribe&hub.verify_token=[redacted]&hub.challenge=42"
        );
        assert_eq!(
            redacted("/x?access_token=a&X-Signature=b&api_key=c&Password=d&auth=e"),
            "/x?access_token=[redacted]&X-Signature=[redacted]&api_key=[redacted]\
             &Password=[redacted]&auth=[redacted]"
        );
        // Percent-encoded names are recognised too.
        assert_eq!(redacted("/x?%74oken=a"), "/x?%74oken=[redacted]");
        assert_eq!(redacted("/healthz"), "/healthz");
        assert_eq!(redacted("/x?channel=web"), "/x?channel=web");
        assert_eq!(redacted("/x?0123456789abcdef0123"), "/x?[redacted]");
    }
}
