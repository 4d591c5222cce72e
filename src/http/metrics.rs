//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics`].
//!
//! Who may scrape: with `[metrics] token`, whoever presents that bearer
//! token, wherever `/metrics` is served. Without it, on the main listener an
//! admin's API token (every agent and admin endpoint needs a credential);
//! on a separate `[metrics] listen` address, whoever can reach it (the
//! operator chose that address; `check-config` warns when it is not
//! loopback). With `listen` set, the main listener has no `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use subtle::ConstantTimeEq;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use super::auth::CurrentAgent;
use super::error::ApiError;
use super::REQUEST_TIMEOUT;
use crate::app::App;
use crate::config::Role;

/// What a scrape needs when no `[metrics] token` is configured.
#[derive(Clone, Copy)]
enum WithoutToken {
    /// An admin's API token (the main listener).
    Admin,
    /// Nothing (a listener of its own).
    Open,
}

/// `/metrics` for the main router, unless it has a listener of its own.
pub(super) fn on_main_listener(app: &App) -> Router<Arc<App>> {
    if app.metrics_settings.listen.is_some() {
        return Router::new();
    }
    Router::new().route(
        "/metrics",
        get(|State(app): State<Arc<App>>, headers: HeaderMap| {
            scrape(app, headers, WithoutToken::Admin)
        }),
    )
}

/// The router of the `[metrics] listen` address: `/metrics` and nothing else.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>, headers: HeaderMap| {
                scrape(app, headers, WithoutToken::Open)
            }),
        )
        .fallback(|| async { ApiError::NotFound { what: "route" } })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(super::request_span::RedactedRequestSpan))
        .with_state(app)
}

async fn scrape(
    app: Arc<App>,
    headers: HeaderMap,
    without_token: WithoutToken,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, without_token)?;
    // The outbox length scans a store tree and the process figures read
    // /proc: both blocking.
    let rendered = tokio::task::spawn_blocking(move || {
        app.metrics.storage_space(&app.disk.status());
        app.metrics.render(app.store.outbox_len())
    })
    .await;
    Ok(match rendered {
        Ok(Ok(text)) => {
            ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot render the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(error) => {
            tracing::error!(%error, "the metrics task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    })
}

fn authorize(app: &App, headers: &HeaderMap, without_token: WithoutToken) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    match (&app.metrics_settings.token, without_token) {
        (Some(token), _) => {
            let matches = given
                .is_some_and(|given| bool::from(token.expose().as_bytes().ct_eq(given.as_bytes())));
            matches.then_some(()).ok_or(ApiError::Unauthorized)
        }
        (None, WithoutToken::Open) => Ok(()),
        (None, WithoutToken::Admin) => {
            let agent = CurrentAgent::from_token(app, given.ok_or(ApiError::Unauthorized)?)?;
            if agent.agent.role == Role::Admin {
                Ok(())
            } else {
                Err(ApiError::Forbidden("metrics are for admins"))
            }
        }
    }
}
