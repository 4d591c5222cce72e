//! HTTP's side of the free-space reserve (`crate::disk_space`): while the
//! storage folder is below it, every request that would write (any method
//! but GET, HEAD and OPTIONS: webhooks, the custom channel, the API's
//! writes) is answered `503` with `Retry-After` before its body is read, so
//! providers retry later and nothing half-written reaches the store. Reads
//! keep working, and so do signing in and out of the web inbox (a small
//! session file), so agents can still read their inboxes. Web forms answer
//! with their own page (`channels::form`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::App;

/// Paths that write without being a message or a change to one.
fn exempt(method: &Method, path: &str) -> bool {
    matches!(path, "/login" | "/logout")
        || (method == Method::DELETE && path.starts_with("/api/v1/sessions/"))
        || path.starts_with("/forms/")
}

pub async fn refuse_writes_below_reserve(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method();
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if reads || exempt(method, request.uri().path()) {
        return next.run(request).await;
    }
    match app.disk.check() {
        Ok(()) => next.run(request).await,
        Err(low) => {
            app.metrics.storage_refused("http");
            tracing::debug!(path = request.uri().path(), "write refused for space");
            ApiError::InsufficientStorage(low).into_response()
        }
    }
}
