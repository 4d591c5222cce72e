//! `/webhooks/{channel_id}` for Messenger and WhatsApp channels: the GET
//! verification handshake and signed POSTs of events.
//!
//! A POST is checked in this order: the channel must exist and be a Meta
//! channel (`404`); `X-Hub-Signature-256` must be the HMAC of the raw bytes
//! with the channel's app secret (`403`, nothing parsed or stored); the body
//! must be a JSON object with an `object` and an `entry` array (`400`). A
//! valid, signed payload for an object this channel does not handle (say
//! `"object": "instagram"` on a Messenger channel) is answered `200` and
//! ignored with a log line: Meta retries non-2xx answers for days and then
//! disables the subscription, and re-sending will not make it ours.
//!
//! The batch's messages are ingested concurrently (one group-commit flush),
//! their attachments queued for download in the same flush, statuses applied;
//! only then is `200 EVENT_RECEIVED` answered. A store failure answers `503`
//! so that Meta retries; the retry dedupes on `mid`/`wamid`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::signature::{self, SignatureError};
use super::{media, messenger_events, whatsapp_events};
use crate::app::App;
use crate::config::{Channel, ChannelKind, Secret};
use crate::inbound::{Identity, Inbound, Sender, ThreadHints};
use crate::ingest::{ingest, IngestError};
use crate::model::{DeliveryState, Millis};
use crate::store::{MediaSource, StoreError};

/// What one POST carried, ready to apply.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<Received>,
    pub statuses: Vec<StatusUpdate>,
}

/// One customer message, and which of its attachments are still to fetch.
#[derive(Debug)]
pub struct Received {
    pub inbound: Inbound,
    /// `(attachment index, where its bytes are)`.
    pub media: Vec<(u32, MediaSource)>,
}

/// A delivery status the provider reports for messages we sent.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusUpdate {
    /// One message, by the id the provider gave it (WhatsApp `statuses[]`,
    /// Messenger `delivery.mids`).
    Provider {
        provider_id: String,
        state: DeliveryState,
        reason: Option<String>,
    },
    /// Every message sent to one person up to a time (Messenger watermarks).
    Watermark {
        identity_kind: &'static str,
        handle: String,
        state: DeliveryState,
        watermark: Millis,
    },
}

/// Why a webhook request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no Messenger or WhatsApp channel \"{0}\" is configured")]
    UnknownChannel(String),
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the body is not a Meta webhook payload: {0}")]
    BadPayload(String),
    #[error("the events could not be stored; try again later")]
    Unavailable,
    /// The storage folder is below its free-space reserve (`503`,
    /// `Retry-After`).
    #[error(transparent)]
    InsufficientStorage(crate::disk_space::LowDiskSpace),
}

impl WebhookError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            WebhookError::UnknownChannel(_) => (StatusCode::NOT_FOUND, "not_found"),
            WebhookError::Signature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
            WebhookError::BadPayload(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            WebhookError::Unavailable | WebhookError::InsufficientStorage(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        }
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        if let WebhookError::InsufficientStorage(low) = self {
            return crate::http::ApiError::InsufficientStorage(low).into_response();
        }
        let (status, code) = self.status();
        let body = json!({"error": code, "message": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// The envelope every Graph webhook POST shares.
#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Vec<Value>,
}

/// The app secret and verify token of a Meta channel.
fn meta_secrets(channel: &Channel) -> Option<(&Secret, &Secret)> {
    match &channel.kind {
        ChannelKind::Messenger(m) => Some((&m.app_secret, &m.verify_token)),
        ChannelKind::Whatsapp(w) => Some((&w.app_secret, &w.verify_token)),
        _ => None,
    }
}

/// The GET verification handshake: `hub.mode=subscribe` and the channel's
/// verify token echo `hub.challenge` back as plain text; anything else `403`.
pub async fn verify(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let workspace = app.workspace();
    let Some((_, token)) = workspace.channel(&channel).and_then(meta_secrets) else {
        return WebhookError::UnknownChannel(channel).into_response();
    };
    let mode = params.get("hub.mode").map(String::as_str);
    let given = params.get("hub.verify_token").map(String::as_str);
    let accepted = mode == Some("subscribe")
        && given.is_some_and(|g| signature::token_matches(token.expose(), g));
    match (accepted, params.get("hub.challenge")) {
        (true, Some(challenge)) => {
            tracing::info!(%channel, "webhook verification accepted");
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                challenge.clone(),
            )
                .into_response()
        }
        (true, None) => WebhookError::BadPayload("hub.challenge is missing".into()).into_response(),
        (false, _) => {
            app.metrics.webhook_verification_failed(&channel);
            tracing::warn!(%channel, mode = ?mode, "webhook verification refused: wrong mode or verify token");
            let body =
                json!({"error": "forbidden", "message": "wrong hub.mode or hub.verify_token"});
            (StatusCode::FORBIDDEN, Json(body)).into_response()
        }
    }
}

/// A signed POST of events.
pub async fn receive(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, &channel, &headers, &body).await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "EVENT_RECEIVED",
        )
            .into_response(),
        Err(error) => {
            match &error {
                WebhookError::Signature(_) => {
                    tracing::warn!(%channel, bytes = body.len(), %error, "webhook refused")
                }
                WebhookError::Unavailable => {}
                _ => tracing::info!(%channel, %error, "webhook refused"),
            }
            error.into_response()
        }
    }
}

async fn handle(
    app: &Arc<App>,
    channel_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    let workspace = app.workspace();
    let Some((channel, (app_secret, _))) = workspace
        .channel(channel_id)
        .and_then(|c| Some((c, meta_secrets(c)?)))
    else {
        return Err(WebhookError::UnknownChannel(channel_id.to_string()));
    };
    let given = headers.get(signature::HEADER).map(|v| v.as_bytes());
    signature::verify(app_secret.expose(), given, body)
        .inspect_err(|_| app.metrics.webhook_verification_failed(channel_id))?;
    match parse_payload(channel, body)? {
        Some(batch) => apply(app, channel_id, batch).await,
        None => Ok(()),
    }
}

/// Reads a verified POST body for `channel` (sans-IO; the fuzz corpus
/// replays it): `BadPayload` when it is not a Graph webhook envelope,
/// `Ok(None)` when it is for an object this channel does not handle.
pub fn parse_payload(channel: &Channel, body: &[u8]) -> Result<Option<Batch>, WebhookError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))?;
    Ok(match (&channel.kind, envelope.object.as_str()) {
        (ChannelKind::Messenger(settings), "page") => Some(messenger_events::parse(
            &channel.id,
            settings,
            &envelope.entry,
        )),
        (ChannelKind::Whatsapp(settings), "whatsapp_business_account") => Some(
            whatsapp_events::parse(&channel.id, settings, &envelope.entry),
        ),
        (kind, object) => {
            tracing::warn!(
                channel = %channel.id,
                kind = kind.name(),
                object,
                "webhook payload for an object this channel does not handle; ignored"
            );
            None
        }
    })
}

/// Stores a batch: media jobs, then every message (concurrently, sharing a
/// flush), then statuses; returns once all of it is durable.
async fn apply(app: &Arc<App>, channel: &str, batch: Batch) -> Result<(), WebhookError> {
    let now = app.clock.now();
    let Batch { messages, statuses } = batch;
    let (message_count, status_count) = (messages.len(), statuses.len());
    let jobs =
        media::queue(app, channel, &messages, now).map_err(|error| unavailable(error, "media"))?;
    // One person's messages are stored in the order the provider sent them
    // (they share a conversation); different people's concurrently, so the
    // whole batch shares flushes.
    let mut by_sender: Vec<(String, Vec<crate::inbound::Inbound>)> = Vec::new();
    for received in messages {
        let who = &received.inbound.sender.identity;
        let key = format!("{}\0{}", who.kind, who.handle);
        match by_sender.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(received.inbound),
            None => by_sender.push((key, vec![received.inbound])),
        }
    }
    let results: Vec<_> =
        futures_util::future::join_all(by_sender.into_iter().map(|(_, inbounds)| async move {
            let mut results = Vec::with_capacity(inbounds.len());
            for inbound in inbounds {
                results.push(ingest(app, inbound).await);
            }
            results
        }))
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut duplicates = 0;
    for result in results {
        match result {
            Ok(accepted) => duplicates += usize::from(accepted.duplicate),
            Err(IngestError::UnknownChannel(_)) => {
                return Err(WebhookError::UnknownChannel(channel.to_string()))
            }
            Err(IngestError::InsufficientStorage(low)) => {
                tracing::warn!(%channel, error = %low, "webhook refused for space; answering 503");
                return Err(WebhookError::InsufficientStorage(low));
            }
            Err(error) => {
                tracing::error!(%channel, %error, "webhook message not stored; answering 503");
                return Err(WebhookError::Unavailable);
            }
        }
    }
    let moved = if statuses.is_empty() {
        0
    } else {
        let store = app.store.clone();
        let channel = channel.to_string();
        let now = app.clock.now();
        tokio::task::spawn_blocking(move || apply_statuses(&store, &channel, statuses, now))
            .await
            .map_err(|_| WebhookError::Unavailable)?
            .map_err(|error| unavailable(error, "statuses"))?
    };
    app.store
        .durable()
        .await
        .map_err(|error| unavailable(error, "flush"))?;
    if jobs > 0 {
        media::wake();
    }
    tracing::info!(
        %channel,
        messages = message_count,
        duplicates,
        statuses = status_count,
        statuses_applied = moved,
        media = jobs,
        "webhook batch stored"
    );
    Ok(())
}

fn unavailable(error: StoreError, what: &str) -> WebhookError {
    tracing::error!(%error, what, "webhook batch not stored; answering 503");
    WebhookError::Unavailable
}

/// Applies statuses monotonically; returns how many messages moved.
fn apply_statuses(
    store: &crate::store::Store,
    channel: &str,
    statuses: Vec<StatusUpdate>,
    now: Millis,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    for update in statuses {
        match update {
            StatusUpdate::Provider {
                provider_id,
                state,
                reason,
            } => match store.apply_provider_status(channel, &provider_id, state, reason, now)? {
                Some(changed) => moved += usize::from(changed),
                None => tracing::debug!(
                    %channel,
                    %provider_id,
                    ?state,
                    "status for a message we do not know (not sent by us, or not recorded yet)"
                ),
            },
            StatusUpdate::Watermark {
                identity_kind,
                handle,
                state,
                watermark,
            } => {
                moved += store.apply_watermark(
                    identity_kind,
                    &handle,
                    channel,
                    state,
                    watermark,
                    now,
                )?;
            }
        }
    }
    Ok(moved)
}

/// An inbound message from a messaging channel: continues the person's open
/// conversation; the caller fills in text, attachments and hints.
pub(crate) fn inbound(
    channel: &str,
    external_id: String,
    identity: Identity,
    name: Option<String>,
    phone: Option<String>,
    sent_at: Option<Millis>,
) -> Inbound {
    Inbound {
        channel: channel.to_string(),
        external_id: Some(external_id),
        sender: Sender {
            identity,
            name,
            email: None,
            phone,
        },
        forwarded_by: None,
        to: Vec::new(),
        recipients: Vec::new(),
        from_agent: None,
        id_names_message: false,
        thread_hints: ThreadHints {
            continue_open: true,
            ..ThreadHints::default()
        },
        subject: None,
        text: None,
        html: None,
        attachments: Vec::new(),
        flags: Vec::new(),
        sent_at,
        raw: None,
        postback: None,
    }
}

/// Text of a JSON string or number (Meta prints ids and timestamps as either).
pub(super) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A provider timestamp in milliseconds, from a number or a string, in
/// seconds or milliseconds (values below 10^11 are taken as seconds).
pub(super) fn millis(value: &Value) -> Option<Millis> {
    let number = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    Some(if number.unsigned_abs() < 100_000_000_000 {
        number.saturating_mul(1000)
    } else {
        number
    })
}
