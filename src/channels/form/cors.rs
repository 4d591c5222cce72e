//! Which sites may post to a form, and the CORS headers that let their
//! scripts read our answer. A request without `Origin` (a server, curl) or
//! from the daemon's own origin (the hosted page) needs no permission; any
//! other origin must be one of the form's `allowed_origins`, else the post
//! is refused (`403`) before anything is read or stored. Preflights get the
//! allowed methods and headers; nothing is sent with credentials.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::config::FormChannel;

/// The request headers a site's script may send.
pub const ALLOWED_HEADERS: &str = "Content-Type, Accept, Idempotency-Key, X-Requested-With";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE: &str = "600";

/// Where a request comes from, as far as CORS goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// No `Origin` header: not a browser's cross-site request.
    Absent,
    /// The daemon's own origin (the hosted page).
    Same,
    /// An origin in `allowed_origins`, as sent.
    Allowed(String),
    /// Any other origin (including `null`).
    Refused(String),
}

impl Origin {
    pub fn is_refused(&self) -> bool {
        matches!(self, Origin::Refused(_))
    }
}

/// Classifies the request's `Origin`.
pub fn origin(form: &FormChannel, headers: &HeaderMap) -> Origin {
    let Some(value) = headers.get(header::ORIGIN) else {
        return Origin::Absent;
    };
    let Ok(text) = value.to_str() else {
        return Origin::Refused("(not text)".into());
    };
    let given = text.trim().trim_end_matches('/').to_ascii_lowercase();
    if form.allowed_origins.contains(&given) {
        return Origin::Allowed(text.trim().to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let authority = given.split_once("://").map(|(_, rest)| rest);
    match (authority, host) {
        (Some(authority), Some(host)) if authority == host => Origin::Same,
        _ => Origin::Refused(text.trim().to_string()),
    }
}

/// Adds `Access-Control-Allow-Origin` (and `Vary`) for an allowed origin.
pub fn allow(headers: &mut HeaderMap, origin: &Origin) {
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Origin::Allowed(origin) = origin {
        if let Ok(value) = HeaderValue::from_str(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
    }
}

/// Adds the preflight answer's headers for an allowed origin.
pub fn allow_preflight(headers: &mut HeaderMap, origin: &Origin) {
    allow(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
}
