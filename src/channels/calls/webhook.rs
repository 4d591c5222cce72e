//! `POST /webhooks/{channel_id}` for calls channels: the incoming-call
//! webhook and every callback our TwiML points at the same URL.
//!
//! A request is checked in this order: `X-Twilio-Signature` must sign the
//! channel's `public_url` with the request's exact query and every
//! parameter (`403`, nothing stored); the callback must name its call and
//! what it tells (`400`). The call item is created through ingest the first
//! time a call is seen (whatever callback comes first), then the callback
//! is folded into it; a recording is queued for download into the store.
//! Only once all of that is durable is the TwiML answered; a store failure
//! answers `503` so the provider retries, and the retry changes nothing
//! twice.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tracing::Instrument;

use super::callback::{self, Answer, Callback, CallbackError};
use super::item::CallDetails;
use super::twiml;
use crate::app::App;
use crate::channels::meta::media;
use crate::channels::meta::webhook::inbound;
use crate::channels::sms::signature::SignatureError;
use crate::channels::sms::webhook::{signed_url, verified_params, SmsWebhookError};
use crate::config::CallsChannel;
use crate::inbound::Identity;
use crate::ingest::{ingest, IngestError};
use crate::store::{CallChange, MediaJob, MediaSource, StoreError};

/// The identity namespace of callers: E.164 numbers, shared with SMS and
/// WhatsApp, so a person's calls and texts are one contact.
const IDENTITY_KIND: &str = crate::channels::sms::IDENTITY_KIND;
/// Callers who withhold their number: one contact per call.
const WITHHELD_KIND: &str = "withheld-caller";

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallsWebhookError {
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the body is not a voice webhook: {0}")]
    BadPayload(String),
    #[error("the call could not be stored; try again later")]
    Unavailable,
}

impl From<CallbackError> for CallsWebhookError {
    fn from(error: CallbackError) -> Self {
        CallsWebhookError::BadPayload(error.to_string())
    }
}

impl From<SmsWebhookError> for CallsWebhookError {
    fn from(error: SmsWebhookError) -> Self {
        match error {
            SmsWebhookError::Signature(error) => CallsWebhookError::Signature(error),
            SmsWebhookError::Unavailable | SmsWebhookError::InsufficientStorage(_) => {
                CallsWebhookError::Unavailable
            }
            other => CallsWebhookError::BadPayload(other.to_string()),
        }
    }
}

impl IntoResponse for CallsWebhookError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            CallsWebhookError::Signature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
            CallsWebhookError::BadPayload(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            CallsWebhookError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let body = json!({"error": code, "message": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// Handles one voice webhook of the calls channel `channel`.
pub async fn receive(
    app: Arc<App>,
    channel: String,
    settings: CallsChannel,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let span = tracing::info_span!("calls_webhook", %channel);
    let result = async {
        let url = signed_url(&settings.provider.public_url, query.as_deref());
        let params = verified_params(&app, &channel, &settings.provider, &url, &headers, &body)?;
        let event = callback::event_of(query.as_deref())?;
        let callback = callback::read(event, &params)?;
        if callback.outbound {
            tracing::debug!(%channel, "callback of an outbound call; not a call item");
        } else {
            store(&app, &channel, &settings, &callback).await?;
        }
        Ok::<_, CallsWebhookError>(answer(&settings, callback.answer))
    }
    .instrument(span)
    .await;
    match result {
        Ok(twiml) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], twiml).into_response(),
        Err(error) => {
            match &error {
                CallsWebhookError::Signature(_) => {
                    tracing::warn!(%channel, %error, "voice webhook refused")
                }
                CallsWebhookError::BadPayload(_) => {
                    tracing::info!(%channel, %error, "voice webhook refused")
                }
                CallsWebhookError::Unavailable => {}
            }
            error.into_response()
        }
    }
}

fn answer(settings: &CallsChannel, answer: Answer) -> String {
    match answer {
        Answer::Dial => twiml::dial(settings),
        Answer::AfterDial { answered } => twiml::after_dial(settings, answered),
        Answer::Hangup => twiml::hangup(),
        Answer::Empty => twiml::empty(),
    }
}

fn unavailable(error: impl std::fmt::Display, what: &str) -> CallsWebhookError {
    tracing::error!(%error, what, "voice webhook not stored; answering 503");
    CallsWebhookError::Unavailable
}

/// Creates the call item if this is the first word of the call, folds the
/// callback into it, queues its recording; returns once all is durable.
async fn store(
    app: &Arc<App>,
    channel: &str,
    settings: &CallsChannel,
    callback: &Callback,
) -> Result<(), CallsWebhookError> {
    let now = app.clock.now();
    let sid = callback.call_sid.as_str();
    let known = app
        .store
        .message_by_external_id(channel, sid)
        .map_err(|error| unavailable(error, "lookup"))?;
    if known.is_none() {
        create(app, channel, settings, callback).await?;
    }
    let workspace = app.workspace();
    let plan = match workspace.channel(channel) {
        Some(config) => crate::routing::assignment_plan(app, &workspace, config)
            .map_err(|error| unavailable(error, "routing"))?,
        None => None,
    };
    let initial = details(settings, callback, now);
    let (store, id, update) = (
        app.store.clone(),
        channel.to_string(),
        callback.update.clone(),
    );
    let change: Option<CallChange> = tokio::task::spawn_blocking(move || {
        store.update_call(&id, &initial, &update, plan.as_ref(), now)
    })
    .await
    .map_err(|error| unavailable(error, "task"))?
    .map_err(|error: StoreError| unavailable(error, "call item"))?;
    let Some(change) = change else {
        // Ingest stored it (or found it) just before; only a store that
        // lost its dedupe entry gets here.
        return Err(unavailable("the call item is missing", "call item"));
    };
    let mut queued = false;
    if let Some((index, url)) = &change.applied.fetch {
        let job = MediaJob {
            channel: channel.to_string(),
            external_id: sid.to_string(),
            index: *index,
            source: MediaSource::Url { url: url.clone() },
            attempts: 0,
            due: now,
        };
        app.store
            .queue_media(&[job])
            .map_err(|error| unavailable(error, "recording"))?;
        queued = true;
    }
    app.store
        .durable()
        .await
        .map_err(|error| unavailable(error, "flush"))?;
    if queued {
        media::wake();
    }
    if change.applied.follow_up {
        // Routing may have queued a notification (an away contact owner).
        app.outbox_wake.notify_one();
    }
    let call = change.message.call.as_ref();
    tracing::info!(
        %channel,
        call = %sid,
        status = ?call.map(|c| c.status),
        changed = change.applied.changed,
        "call item updated"
    );
    Ok(())
}

/// A new call item's details.
fn details(settings: &CallsChannel, callback: &Callback, now: crate::model::Millis) -> CallDetails {
    let caller = callback.caller.as_deref().unwrap_or("withheld");
    CallDetails::inbound(&callback.call_sid, caller, &settings.number, now)
}

/// The call item's first version, through ingest: the caller's contact
/// (by E.164, shared with SMS), their open conversation on this number or
/// a new one, routed as any new conversation.
async fn create(
    app: &Arc<App>,
    channel: &str,
    settings: &CallsChannel,
    callback: &Callback,
) -> Result<(), CallsWebhookError> {
    let sid = &callback.call_sid;
    let identity = match &callback.caller {
        Some(number) => Identity {
            kind: IDENTITY_KIND.into(),
            handle: number.clone(),
        },
        None => Identity {
            kind: WITHHELD_KIND.into(),
            handle: sid.clone(),
        },
    };
    let mut message = inbound(
        channel,
        sid.clone(),
        identity,
        callback.caller_name.clone(),
        callback.caller.clone(),
        None,
    );
    message.to = vec![settings.number.clone()];
    message.text = Some(details(settings, callback, app.clock.now()).summary());
    if callback.caller.is_none() {
        message
            .sender
            .name
            .get_or_insert_with(|| "Withheld number".into());
    }
    match ingest(app, message).await {
        Ok(accepted) => {
            tracing::info!(
                %channel,
                call = %sid,
                conversation = %accepted.conversation,
                new_conversation = accepted.new_conversation,
                "call item created"
            );
            Ok(())
        }
        Err(IngestError::UnknownChannel(_)) => Err(CallsWebhookError::BadPayload(
            "the channel is no longer configured".into(),
        )),
        Err(error) => Err(unavailable(error, "ingest")),
    }
}
