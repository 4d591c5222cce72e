//! The HTTP API for agents: a router on axum, bearer-token auth, JSON in
//! and out, errors as `{error, message, field?}`; and `GET /metrics`.

mod auth;
mod channels;
pub(crate) mod contact_access;
mod conversations;
mod error;
mod event_cache;
mod events;
pub(crate) mod json;
mod metrics;
mod people;
mod request_span;
mod resources;
mod storage_reserve;
mod submissions;
mod tickets;
mod typing;
pub(crate) mod views;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::json;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::CurrentAgent;
pub use error::ApiError;
pub use event_cache::EventCache;
pub use metrics::metrics_router;
pub use request_span::redacted_uri;

use crate::app::App;

/// The largest request body the API takes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The longest a request may take before it is answered `503`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/api/v1/inboxes", get(resources::inboxes))
        .route("/api/v1/channels", get(channels::list))
        .route(
            "/api/v1/conversations",
            get(conversations::list).post(writes::start_conversation),
        )
        .route(
            "/api/v1/conversations/{id}",
            get(conversations::get).patch(writes::patch_conversation),
        )
        .route(
            "/api/v1/conversations/{id}/messages",
            get(conversations::messages).post(writes::post_message),
        )
        .route(
            "/api/v1/conversations/{id}/typing",
            axum::routing::post(typing::typing),
        )
        .route("/ws/chat", get(crate::channels::chat::socket::upgrade))
        .route("/widget.js", get(crate::channels::chat::widget::script))
        .route("/widget/{file}", get(crate::channels::chat::widget::hashed))
        .route(
            "/chat/{channel_id}/config",
            get(crate::channels::chat::widget::config),
        )
        .route("/api/v1/agents", get(people::agents))
        .route(
            "/api/v1/agents/me/availability",
            put(people::set_availability),
        )
        .route("/api/v1/contacts", get(people::search_contacts))
        .route(
            "/api/v1/contacts/{id}",
            get(people::contact).patch(people::patch_contact),
        )
        .route(
            "/api/v1/contacts/{id}/merge",
            axum::routing::post(people::merge_contacts),
        )
        .route("/api/v1/events", get(events::events))
        .route(
            "/webhooks/{channel_id}",
            get(crate::channels::meta::webhook::verify)
                .post(crate::channels::sms::webhook::receive),
        )
        .route(
            "/webhooks/{channel_id}/status",
            axum::routing::post(crate::channels::sms::webhook::status),
        )
        .route("/api/v1/tickets", get(tickets::list))
        .route(
            "/api/v1/tickets/{id}",
            get(tickets::get).patch(tickets::patch),
        )
        .route(
            "/api/v1/messages/{id}/attachments/{index}",
            get(resources::attachment),
        )
        .route(
            "/api/v1/messages/{id}/submission",
            get(submissions::submission),
        )
        .merge(metrics::on_main_listener(&app))
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::NotFound { what: "route" } })
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        // The custom channel API sets its own body limits (a published
        // message carries its attachments), so it joins after the 1 MiB one.
        .merge(crate::channels::custom::api::routes())
        // Web forms set their own body limits too (file uploads).
        .merge(crate::channels::form::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            storage_reserve::refuse_writes_below_reserve,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span::RedactedRequestSpan))
        .with_state(app)
}

/// `GET /healthz`: `ok`, or `degraded` with what is wrong: `storage` while
/// the storage folder is below its free-space reserve (new messages are
/// refused; reads work). Always `200`: the daemon is up and serving.
async fn health(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> Json<serde_json::Value> {
    let space = app.disk.status();
    if space.low {
        Json(json!({
            "status": "degraded",
            "degraded": ["storage"],
            "storage": {
                "free_bytes": space.free_bytes,
                "min_free_bytes": space.min_free_bytes,
            },
        }))
    } else {
        Json(json!({"status": "ok"}))
    }
}
