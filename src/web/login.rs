//! Signing in and out: the login page (a plain form, no script), `POST
//! /login` (rate-limited per account and per address; a session cookie on
//! success), `POST /logout`, and the session API the page and admins use:
//! `GET /api/v1/session` (who am I, the CSRF token), `GET /api/v1/sessions`
//! and `DELETE /api/v1/sessions/{id}` (revoke).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};

use super::pages::{escape_html, secure_headers};
use super::sessions::{Session, LIFETIME_MS};
use super::{cookies, session_of};
use crate::app::App;
use crate::clock::rfc3339;
use crate::config::Role;
use crate::http::{ApiError, CurrentAgent};
use crate::store::StoreError;

const LOGIN_HTML: &str = include_str!("assets/login.html");

/// The client's address: the peer, or, when the peer is a reverse proxy on
/// this machine, the last address it put in `X-Forwarded-For`.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let address = match (peer, forwarded) {
            (Some(ip), Some(forwarded)) if ip.is_loopback() => forwarded,
            (Some(ip), _) => ip.to_string(),
            (None, _) => "unknown".to_string(),
        };
        Ok(ClientAddr(address))
    }
}

/// The login page with an optional error and the values to refill.
fn login_page(status: StatusCode, error: &str, agent: &str, next: &str) -> Response {
    let error_html = if error.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>",
            escape_html(error)
        )
    };
    let html = LOGIN_HTML
        .replace("{{error}}", &error_html)
        .replace("{{agent}}", &escape_html(agent))
        .replace("{{next}}", &escape_html(next));
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    secure_headers(response.headers_mut());
    response
}

/// Only same-site paths are followed after sign-in.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<LoginQuery>,
) -> Response {
    if session_of(&app, &headers).is_some() {
        return redirect(safe_next(&query.next));
    }
    login_page(StatusCode::OK, "", "", safe_next(&query.next))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn sign_in(
    State(app): State<Arc<App>>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    let typed = form.agent.trim().chars().take(200).collect::<String>();
    if !super::same_origin(&headers) {
        tracing::info!(%address, "sign-in refused: posted from another site");
        return login_page(
            StatusCode::FORBIDDEN,
            "Sign in from this site's own page.",
            &typed,
            &next,
        );
    }
    let workspace = app.workspace();
    let agent = workspace
        .agents
        .iter()
        .find(|a| a.id == typed || a.email.eq_ignore_ascii_case(&typed))
        .cloned();
    let account = agent
        .as_ref()
        .map(|a| a.id.clone())
        .unwrap_or_else(|| typed.to_lowercase());
    let now = app.clock.now();
    if let Some(seconds) = app.web.limiter.check(&account, &address, now) {
        tracing::info!(%account, %address, "sign-in throttled");
        let mut response = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many failed sign-ins. Try again in {} minutes.",
                seconds.div_ceil(60)
            ),
            &typed,
            &next,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let password = form.password;
    let checking = app.clone();
    let account_id = account.clone();
    let valid =
        tokio::task::spawn_blocking(move || checking.web.passwords.verify(&account_id, &password))
            .await
            .unwrap_or(false);
    let Some(agent) = agent.filter(|_| valid) else {
        app.web.limiter.failed(&account, &address, now);
        tracing::info!(%account, %address, "sign-in failed");
        return login_page(
            StatusCode::UNAUTHORIZED,
            "Wrong agent or password.",
            &typed,
            &next,
        );
    };
    app.web.limiter.succeeded(&account);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let creating = app.clone();
    let agent_id = agent.id.clone();
    let created = tokio::task::spawn_blocking(move || {
        creating
            .web
            .sessions
            .create(&agent_id, now, &address, &user_agent)
    })
    .await;
    match created {
        Ok(Ok((cookie, session))) => {
            tracing::info!(agent = %agent.id, session = %session.id, "signed in");
            let mut response = redirect(&next);
            let value = cookies::set(&headers, &cookie, LIFETIME_MS / 1000);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot store the session");
            login_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot sign in right now; try again.",
                &typed,
                &next,
            )
        }
        Err(error) => {
            tracing::error!(%error, "sign-in task failed");
            login_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Cannot sign in right now; try again.",
                &typed,
                &next,
            )
        }
    }
}

/// Ends the session; the CSRF token comes in `X-CSRF-Token` or the form.
pub async fn sign_out(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let session = session_of(&app, &headers).ok_or(ApiError::Unauthorized)?;
    let from_form = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "csrf")
        .and_then(|(_, value)| HeaderValue::from_str(&value).ok());
    let given = headers.get("x-csrf-token").cloned().or(from_form);
    if !super::csrf_matches(&session, given.as_ref()) {
        return Err(ApiError::Forbidden("missing or wrong CSRF token"));
    }
    if let Some(cookie) = cookies::session_cookie(&headers) {
        app.web
            .sessions
            .end(&cookie)
            .map_err(|error| ApiError::Internal(StoreError::NotDurable(error.to_string())))?;
    }
    tracing::info!(agent = %session.agent, session = %session.id, "signed out");
    let mut response = redirect("/login");
    if let Ok(value) = HeaderValue::from_str(&cookies::clear(&headers)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Serialize)]
pub struct Me {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    /// The CSRF token for `X-CSRF-Token` (`null` with a bearer token).
    csrf_token: Option<String>,
    session: Option<String>,
}

pub async fn current(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    agent: CurrentAgent,
) -> Json<Me> {
    let session = session_of(&app, &headers).filter(|s| s.agent == agent.agent.id);
    Json(Me {
        id: agent.agent.id.clone(),
        name: agent.agent.name.clone(),
        email: agent.agent.email.clone(),
        role: match agent.agent.role {
            Role::Admin => "admin",
            Role::Agent => "agent",
        },
        csrf_token: session.as_ref().map(|s| s.csrf.clone()),
        session: session.map(|s| s.id),
    })
}

#[derive(Serialize)]
pub struct SessionView {
    id: String,
    agent: String,
    created_at: String,
    expires_at: String,
    ip: String,
    user_agent: String,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            id: s.id,
            agent: s.agent,
            created_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.expires_at),
            ip: s.ip,
            user_agent: s.user_agent,
        }
    }
}

fn scope(agent: &CurrentAgent) -> Option<&str> {
    match agent.agent.role {
        Role::Admin => None,
        Role::Agent => Some(agent.agent.id.as_str()),
    }
}

/// Live sessions: the agent's own; an admin's sees everyone's.
pub async fn list(State(app): State<Arc<App>>, agent: CurrentAgent) -> Json<Vec<SessionView>> {
    let sessions = app.web.sessions.list(scope(&agent), app.clock.now());
    Json(sessions.into_iter().map(SessionView::from).collect())
}

/// Revokes a session (an agent their own, an admin anyone's).
pub async fn revoke(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed = app
        .web
        .sessions
        .revoke(&id, scope(&agent))
        .map_err(|error| ApiError::Internal(StoreError::NotDurable(error.to_string())))?;
    if removed {
        tracing::info!(by = %agent.agent.id, session = %id, "session revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound { what: "session" })
    }
}
