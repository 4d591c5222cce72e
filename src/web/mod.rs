//! The web inbox: agents sign in with a password and work from a browser.
//!
//! - [`passwords`]: Argon2id hashes set by `switchboard agent set-password`.
//! - [`sessions`]: durable, revocable browser sessions with a CSRF token.
//! - [`limiter`]: failed sign-ins counted per account and per address.
//! - [`cookies`]: reading the session cookie, writing `Set-Cookie`.
//! - [`login`]: the sign-in page, sign-in, sign-out and the session API.
//! - [`pages`]: the single-page app and its assets (compiled into the
//!   binary), served with a Content-Security-Policy.
//! - [`bootstrap`]: what the page needs once (who am I, inboxes, channels,
//!   pipelines) and contact details (identities, other conversations).
//!
//! The JSON API accepts the session cookie as well as bearer tokens
//! (`http::auth`); with the cookie, every change must carry the session's
//! CSRF token in `X-CSRF-Token`.

mod bootstrap;
pub mod cookies;
pub mod limiter;
mod login;
mod pages;
pub mod passwords;
pub mod sessions;

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use axum::routing::{delete, get, post};
use axum::Router;

use crate::app::App;
use crate::http::ApiError;

/// The web inbox's state in `App`.
pub struct WebState {
    pub passwords: passwords::PasswordFile,
    pub sessions: sessions::SessionStore,
    pub limiter: limiter::LoginLimiter,
}

impl WebState {
    /// Reads passwords and sessions kept in the storage folder.
    pub fn open(storage_dir: &Path) -> Self {
        WebState {
            passwords: passwords::PasswordFile::new(storage_dir),
            sessions: sessions::SessionStore::open(storage_dir),
            limiter: limiter::LoginLimiter::default(),
        }
    }
}

/// The web inbox's routes, merged into the main router.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(pages::index))
        .route("/assets/{*file}", get(pages::asset))
        .route("/login", get(login::page).post(login::sign_in))
        .route("/logout", post(login::sign_out))
        .route("/api/v1/session", get(login::current))
        .route("/api/v1/sessions", get(login::list))
        .route("/api/v1/sessions/{id}", delete(login::revoke))
        .route("/api/v1/web/bootstrap", get(bootstrap::bootstrap))
        .route(
            "/api/v1/contacts/{id}/details",
            get(bootstrap::contact_details),
        )
}

/// The session a request's cookie belongs to, if it is live and the
/// agent's password has not changed since it was opened.
pub fn session_of(app: &App, headers: &HeaderMap) -> Option<sessions::Session> {
    let cookie = cookies::session_cookie(headers)?;
    let session = app.web.sessions.find(&cookie, app.clock.now())?;
    let set_at = app.web.passwords.set_at(&session.agent)?;
    (set_at <= session.created_at).then_some(session)
}

/// Authenticates a request by its session cookie: `Ok(None)` without one,
/// the agent id with a live one. A change (any method but GET, HEAD and
/// OPTIONS) must carry the session's CSRF token in `X-CSRF-Token`: `403`
/// otherwise.
pub fn authenticate(
    app: &App,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<String>, ApiError> {
    if cookies::session_cookie(headers).is_none() {
        return Ok(None);
    }
    let session = session_of(app, headers).ok_or(ApiError::Unauthorized)?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !csrf_matches(&session, headers.get("x-csrf-token")) {
        tracing::info!(agent = %session.agent, %method, "change refused: missing or wrong CSRF token");
        return Err(ApiError::Forbidden("missing or wrong CSRF token"));
    }
    Ok(Some(session.agent))
}

/// Whether `given` is the session's CSRF token (constant time).
pub fn csrf_matches(session: &sessions::Session, given: Option<&axum::http::HeaderValue>) -> bool {
    given.is_some_and(|value| {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            value.as_bytes(),
            session.csrf.as_bytes(),
        ))
    })
}

/// Whether a browser request comes from our own pages: its `Origin` (when
/// the browser sends one) names the host it was sent to. Guards sign-in and
/// the event socket, which cookies alone would let other sites use.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .trim_end_matches('/');
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}
