//! The custom channel's HTTP side, for the integration (not for agents):
//!
//! - `POST /api/v1/channels/{id}/messages` publishes a message the person
//!   sent in the app; answered `201 {message, conversation, duplicate}` once
//!   it is durable, `200` with `duplicate: true` for a key seen before.
//! - `PATCH /api/v1/channels/{id}/messages/{message_id}` reports what
//!   became of a reply (`sent`, `delivered`, `read`, `failed`), applied only
//!   if it moves the message forward.
//!
//! Both take the channel's own token (`Authorization: Bearer`), compared in
//! constant time; agent tokens are not accepted here, and the channel token
//! is not an agent token. An unknown channel, or one that is not a custom
//! channel, is `404`.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::publish::{self, Publish};
use crate::app::App;
use crate::config::{Channel, ChannelKind};
use crate::http::json::JsonBody;
use crate::http::views::{conversation_view, ConversationView, MessageView};
use crate::http::ApiError;
use crate::ids::Id;
use crate::ingest::{ingest, IngestError};
use crate::model::{DeliveryState, DeliveryStatus, Direction};
use crate::store::StoreError;

/// The largest delivery report body.
const MAX_REPORT_BYTES: usize = 16 * 1024;
/// The longest `error` text kept from a report.
const MAX_ERROR_CHARS: usize = 1000;

/// The integration's routes, with their own body limits (a published
/// message carries its attachments).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/v1/channels/{id}/messages",
            post(publish).layer(DefaultBodyLimit::max(publish::MAX_BODY_BYTES)),
        )
        .route(
            "/api/v1/channels/{id}/messages/{message_id}",
            patch(report).layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
}

/// The custom channel `id`, if the request carries its token.
fn authenticate(app: &App, id: &str, headers: &HeaderMap) -> Result<Channel, ApiError> {
    let workspace = app.workspace();
    let channel = workspace
        .channel(id)
        .ok_or(ApiError::NotFound { what: "channel" })?;
    let ChannelKind::Custom(settings) = &channel.kind else {
        return Err(ApiError::NotFound { what: "channel" });
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    // Hashing first makes the comparison independent of both lengths.
    let expected = Sha256::digest(settings.inbound_token.expose().as_bytes());
    let given = Sha256::digest(given.as_bytes());
    if !bool::from(expected.ct_eq(&given)) {
        tracing::info!(channel = %id, "custom channel: wrong or missing token");
        return Err(ApiError::Unauthorized);
    }
    Ok(channel.clone())
}

#[derive(Serialize)]
pub struct Published {
    message: MessageView,
    conversation: ConversationView,
    /// The idempotency key was seen before: nothing new was stored.
    duplicate: bool,
}

/// `POST /api/v1/channels/{id}/messages`. The token is checked before the
/// body is read.
pub async fn publish(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    let channel = authenticate(&app, &id, request.headers())?;
    let JsonBody(body) = JsonBody::<Publish>::from_request(request, &()).await?;
    let inbound = publish::to_inbound(&channel.id, body)?;
    let accepted = ingest(&app, inbound).await.map_err(|error| match error {
        IngestError::UnknownChannel(_) => ApiError::NotFound { what: "channel" },
        IngestError::Store(error) => ApiError::Internal(error),
        IngestError::Task(text) => ApiError::Internal(StoreError::Transaction(text)),
        IngestError::InsufficientStorage(low) => ApiError::InsufficientStorage(low),
    })?;
    tracing::info!(
        channel = %channel.id,
        id = %accepted.message,
        conversation = %accepted.conversation,
        duplicate = accepted.duplicate,
        "custom channel: message published"
    );
    let message = app
        .store
        .message(accepted.message)?
        .ok_or(ApiError::NotFound { what: "message" })?;
    let conversation =
        app.store
            .conversation(accepted.conversation)?
            .ok_or(ApiError::NotFound {
                what: "conversation",
            })?;
    let contact = app.store.contact(conversation.contact)?;
    let status = if accepted.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Published {
            message: message.into(),
            conversation: conversation_view(&app, conversation, contact),
            duplicate: accepted.duplicate,
        }),
    ))
}

/// `{status, error?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    status: String,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Serialize)]
pub struct Reported {
    message: MessageView,
    /// Whether the report moved the message forward (a late `sent` after
    /// `delivered` does not).
    applied: bool,
}

fn reported_state(text: &str) -> Option<DeliveryState> {
    match text {
        "sent" => Some(DeliveryState::Sent),
        "delivered" => Some(DeliveryState::Delivered),
        "read" => Some(DeliveryState::Read),
        "failed" => Some(DeliveryState::Failed),
        _ => None,
    }
}

/// `PATCH /api/v1/channels/{id}/messages/{message_id}`.
pub async fn report(
    State(app): State<Arc<App>>,
    Path((id, message_id)): Path<(String, String)>,
    request: Request,
) -> Result<Json<Reported>, ApiError> {
    let channel = authenticate(&app, &id, request.headers())?;
    let JsonBody(body) = JsonBody::<Report>::from_request(request, &()).await?;
    let state = reported_state(body.status.trim())
        .ok_or_else(|| ApiError::bad("status", "expected sent, delivered, read or failed"))?;
    let error = body
        .error
        .map(|e| e.trim().chars().take(MAX_ERROR_CHARS).collect::<String>())
        .filter(|e| !e.is_empty());
    // Only this channel's outbound messages: anything else is not found.
    let missing = ApiError::NotFound { what: "message" };
    let message_id: Id = message_id.parse().map_err(|_| missing)?;
    let message = app
        .store
        .message(message_id)?
        .filter(|m| m.channel == channel.id && m.direction == Direction::Outbound && !m.private)
        .ok_or(ApiError::NotFound { what: "message" })?;
    let current = message.status.clone();
    let status = DeliveryStatus {
        state,
        reason: match state {
            DeliveryState::Failed => {
                Some(error.unwrap_or_else(|| "the integration reported a failure".into()))
            }
            _ => error,
        },
        attempts: current.as_ref().map_or(0, |s| s.attempts),
        provider_id: current.and_then(|s| s.provider_id),
        updated_at: app.clock.now(),
    };
    let store = app.store.clone();
    let now = app.clock.now();
    let applied =
        tokio::task::spawn_blocking(move || store.apply_delivery_status(message_id, status, now))
            .await
            .map_err(|e| ApiError::Internal(StoreError::Transaction(e.to_string())))??;
    app.store.durable().await?;
    tracing::info!(
        channel = %channel.id,
        id = %message_id,
        state = ?state,
        applied,
        "custom channel: delivery report"
    );
    let message = app
        .store
        .message(message_id)?
        .ok_or(ApiError::NotFound { what: "message" })?;
    Ok(Json(Reported {
        message: message.into(),
        applied,
    }))
}
