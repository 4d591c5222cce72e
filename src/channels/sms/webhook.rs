//! `POST /webhooks/{channel_id}` and `POST /webhooks/{channel_id}/status`
//! for SMS channels (PROTOCOLS.md 3.1, 3.2, 3.3 and 3.5). The inbound route
//! is shared with Meta's channels: a channel of another kind goes on to
//! `meta::webhook::receive` untouched.
//!
//! A POST is checked in this order: the channel must exist and be an SMS
//! channel (`404`); `X-Twilio-Signature` must sign the channel's
//! `public_url` (plus the request's query, and `/status` for callbacks)
//! and every parameter (`403`, nothing stored); an inbound message must
//! have a `MessageSid` and a `From` (`400`). The message, its media jobs
//! and an opt-out or opt-in it carries are stored, and only once all of it
//! is durable is the empty TwiML `<Response/>` answered. A store failure
//! answers `503` so the provider retries; the retry dedupes on
//! `MessageSid`.
//!
//! A status callback can overtake the provider's answer to our send (its
//! `MessageSid` is not recorded yet): it is kept durably and applied when
//! the send's answer records the sid. Calls channels take their webhook
//! here too (`calls::webhook`), and their replies' status callbacks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::signature::{self, SignatureError};
use super::{keyword, Keyword, IDENTITY_KIND};
use crate::app::App;
use crate::channels::calls;
use crate::channels::meta::webhook::{self as meta_webhook, Received};
use crate::channels::meta::{media, webhook::inbound};
use crate::config::{ChannelKind, SmsChannel};
use crate::inbound::{Identity, InboundAttachment};
use crate::ingest::{ingest, IngestError};
use crate::model::{DeliveryState, OptOutRecord};
use crate::store::{MediaSource, StoreError};

/// The empty TwiML answer: no auto-reply (replies go through REST).
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#;

/// The most media one message may carry (the provider sends at most 10).
const MAX_MEDIA: usize = 10;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum SmsWebhookError {
    #[error("no SMS channel \"{0}\" is configured")]
    UnknownChannel(String),
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("the body is not an SMS webhook: {0}")]
    BadPayload(String),
    #[error("the message could not be stored; try again later")]
    Unavailable,
    /// The storage folder is below its free-space reserve (`503`,
    /// `Retry-After`).
    #[error(transparent)]
    InsufficientStorage(crate::disk_space::LowDiskSpace),
}

impl IntoResponse for SmsWebhookError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            SmsWebhookError::InsufficientStorage(low) => {
                return crate::http::ApiError::InsufficientStorage(*low).into_response()
            }
            SmsWebhookError::UnknownChannel(_) => (StatusCode::NOT_FOUND, "not_found"),
            SmsWebhookError::Signature(_) => (StatusCode::FORBIDDEN, "bad_signature"),
            SmsWebhookError::BadPayload(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            SmsWebhookError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let body = json!({"error": code, "message": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// An SMS message, with what else it asks for.
#[derive(Debug)]
pub struct SmsMessage {
    pub received: Received,
    /// STOP, START and the like.
    pub keyword: Option<Keyword>,
    /// The keyword as the person wrote it (trimmed, upper case).
    pub keyword_text: String,
}

/// A delivery status callback.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsStatus {
    pub message_sid: String,
    pub state: DeliveryState,
    pub reason: Option<String>,
}

/// The inbound webhook: SMS channels here, Meta's channels as before.
pub async fn receive(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let settings = match app.workspace().channel(&channel).map(|c| &c.kind) {
        Some(ChannelKind::Sms(settings)) => settings.clone(),
        Some(ChannelKind::Calls(settings)) => {
            let settings = settings.clone();
            return calls::webhook::receive(app, channel, settings, query, headers, body).await;
        }
        _ => return meta_webhook::receive(State(app), Path(channel), headers, body).await,
    };
    let result = async {
        let url = signed_url(&settings.public_url, query.as_deref());
        let params = verified_params(&app, &channel, &settings, &url, &headers, &body)?;
        let message = parse_inbound(&channel, &params)?;
        store_inbound(&app, &channel, message).await
    }
    .await;
    match result {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml")],
            EMPTY_TWIML,
        )
            .into_response(),
        Err(error) => refused(&channel, error),
    }
}

/// Delivery status callbacks for our sends.
pub async fn status(
    State(app): State<Arc<App>>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        // A calls channel's replies are texts too (sent from its number).
        let settings = match app.workspace().channel(&channel).map(|c| &c.kind) {
            Some(ChannelKind::Sms(settings)) => settings.clone(),
            Some(ChannelKind::Calls(calls)) => calls.provider.clone(),
            _ => return Err(SmsWebhookError::UnknownChannel(channel.clone())),
        };
        let url = signed_url(&settings.status_url(), query.as_deref());
        let params = verified_params(&app, &channel, &settings, &url, &headers, &body)?;
        let Some(update) = parse_status(&params)? else {
            return Ok(());
        };
        let store = app.store.clone();
        let (id, now) = (channel.clone(), app.clock.now());
        let moved = tokio::task::spawn_blocking(move || {
            store.apply_or_keep_provider_status(
                &id,
                &update.message_sid,
                update.state,
                update.reason,
                now,
            )
        })
        .await
        .map_err(|_| SmsWebhookError::Unavailable)?
        .map_err(|error| unavailable(error, "status"))?;
        app.store
            .durable()
            .await
            .map_err(|error| unavailable(error, "flush"))?;
        tracing::debug!(%channel, applied = ?moved, "SMS status callback");
        Ok(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused(&channel, error),
    }
}

fn refused(channel: &str, error: SmsWebhookError) -> Response {
    match &error {
        SmsWebhookError::Signature(_) => tracing::warn!(%channel, %error, "SMS webhook refused"),
        SmsWebhookError::Unavailable => {}
        _ => tracing::info!(%channel, %error, "SMS webhook refused"),
    }
    error.into_response()
}

fn unavailable(error: StoreError, what: &str) -> SmsWebhookError {
    tracing::error!(%error, what, "SMS webhook not stored; answering 503");
    SmsWebhookError::Unavailable
}

/// The URL the provider signed: the configured public URL with the
/// request's query string (`bodySHA256`, or the operator's own).
pub fn signed_url(base: &str, query: Option<&str>) -> String {
    match query.filter(|q| !q.is_empty()) {
        Some(query) if base.contains('?') => format!("{base}&{query}"),
        Some(query) => format!("{base}?{query}"),
        None => base.to_string(),
    }
}

/// The request's parameters once its signature checks out: a form body's
/// pairs, or a JSON object's fields (signed through `bodySHA256`).
pub(crate) fn verified_params(
    app: &App,
    channel: &str,
    settings: &SmsChannel,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, SmsWebhookError> {
    let given = headers.get(signature::HEADER).map(|v| v.as_bytes());
    let token = settings.auth_token.expose();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let checked = if is_json {
        signature::verify_json(token, url, body, given).map(|()| json_params(body))
    } else {
        let params = form_params(body);
        signature::verify(token, url, &params, given).map(|()| Ok(params))
    };
    checked.inspect_err(|_| app.metrics.webhook_verification_failed(channel))?
}

/// A form body's decoded pairs, in order, duplicates kept.
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// A JSON object's scalar fields as parameters.
fn json_params(body: &[u8]) -> Result<Vec<(String, String)>, SmsWebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| SmsWebhookError::BadPayload(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| SmsWebhookError::BadPayload("not a JSON object".into()))?;
    Ok(object
        .iter()
        .filter_map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((name.clone(), text))
        })
        .collect())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A number as the provider writes it: E.164 (`+` and 3 to 15 digits) or
/// a short code (digits only). Anything else is not a number the provider
/// sent (a fuzzer found `%2` read as `+2` by a digits-only filter).
pub(crate) fn provider_number(text: &str) -> Option<String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let valid = (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| format!("+{digits}"))
}

/// Reads an inbound message (sans-IO).
pub fn parse_inbound(
    channel: &str,
    params: &[(String, String)],
) -> Result<SmsMessage, SmsWebhookError> {
    let sid = param(params, "MessageSid")
        .or_else(|| param(params, "SmsMessageSid"))
        .or_else(|| param(params, "SmsSid"))
        .ok_or_else(|| SmsWebhookError::BadPayload("MessageSid is missing".into()))?;
    let from = param(params, "From")
        .ok_or_else(|| SmsWebhookError::BadPayload("From is missing".into()))?;
    let address = from.strip_prefix("whatsapp:").unwrap_or(from);
    let phone = provider_number(address)
        .ok_or_else(|| SmsWebhookError::BadPayload(format!("From \"{from}\" is not a number")))?;
    let identity = Identity {
        kind: IDENTITY_KIND.into(),
        handle: phone.clone(),
    };
    let name = param(params, "ProfileName").map(str::to_string);
    let mut inbound = inbound(channel, sid.to_string(), identity, name, Some(phone), None);
    let text = param(params, "Body").map(str::to_string);
    let num_media = param(params, "NumMedia")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_MEDIA);
    let mut media = Vec::new();
    for i in 0..num_media {
        let Some(url) = param(params, &format!("MediaUrl{i}")) else {
            continue;
        };
        let content_type = param(params, &format!("MediaContentType{i}"))
            .unwrap_or("application/octet-stream")
            .to_string();
        media.push((
            inbound.attachments.len() as u32,
            MediaSource::Url {
                url: url.to_string(),
            },
        ));
        inbound.attachments.push(InboundAttachment {
            name: None,
            content_type,
            bytes: Vec::new(),
        });
    }
    let keyword_text = text
        .as_deref()
        .map(|t| t.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let keyword = text.as_deref().and_then(keyword);
    inbound.text = match text {
        Some(text) => Some(text),
        None if !inbound.attachments.is_empty() => None,
        None => Some("[empty message]".into()),
    };
    Ok(SmsMessage {
        received: Received { inbound, media },
        keyword,
        keyword_text,
    })
}

/// Reads a status callback (sans-IO); `None` for statuses that say nothing
/// about delivery (`receiving`, `received`).
pub fn parse_status(params: &[(String, String)]) -> Result<Option<SmsStatus>, SmsWebhookError> {
    let sid = param(params, "MessageSid")
        .or_else(|| param(params, "SmsSid"))
        .ok_or_else(|| SmsWebhookError::BadPayload("MessageSid is missing".into()))?;
    let status = param(params, "MessageStatus")
        .or_else(|| param(params, "SmsStatus"))
        .ok_or_else(|| SmsWebhookError::BadPayload("MessageStatus is missing".into()))?;
    let state = match status.to_ascii_lowercase().as_str() {
        "queued" | "accepted" | "scheduled" | "sending" => DeliveryState::Queued,
        "sent" | "partially_delivered" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" | "undelivered" | "canceled" => DeliveryState::Failed,
        other => {
            tracing::debug!(status = other, "SMS status not about delivery; ignored");
            return Ok(None);
        }
    };
    let reason = (state == DeliveryState::Failed).then(|| {
        let code = param(params, "ErrorCode");
        let message = param(params, "ErrorMessage");
        match (code, message) {
            (Some(code), Some(message)) => format!("{status}: {message} (error {code})"),
            (Some(code), None) => format!("{status} (error {code})"),
            (None, Some(message)) => format!("{status}: {message}"),
            (None, None) => status.to_string(),
        }
    });
    Ok(Some(SmsStatus {
        message_sid: sid.to_string(),
        state,
        reason,
    }))
}

/// Stores the message, its media jobs and any opt-out; returns once all of
/// it is durable.
async fn store_inbound(
    app: &Arc<App>,
    channel: &str,
    message: SmsMessage,
) -> Result<(), SmsWebhookError> {
    let now = app.clock.now();
    let SmsMessage {
        received,
        keyword,
        keyword_text,
    } = message;
    let messages = [received];
    let jobs =
        media::queue(app, channel, &messages, now).map_err(|error| unavailable(error, "media"))?;
    let [received] = messages;
    let accepted = match ingest(app, received.inbound).await {
        Ok(accepted) => accepted,
        Err(IngestError::UnknownChannel(_)) => {
            return Err(SmsWebhookError::UnknownChannel(channel.to_string()))
        }
        Err(IngestError::InsufficientStorage(low)) => {
            tracing::warn!(%channel, error = %low, "SMS refused for space; answering 503");
            return Err(SmsWebhookError::InsufficientStorage(low));
        }
        Err(error) => {
            tracing::error!(%channel, %error, "SMS not stored; answering 503");
            return Err(SmsWebhookError::Unavailable);
        }
    };
    if let Some(keyword) = keyword.filter(|_| !accepted.duplicate) {
        let record = match keyword {
            Keyword::OptOut => Some(OptOutRecord {
                keyword: keyword_text,
                channel: channel.to_string(),
                at: now,
            }),
            Keyword::OptIn => None,
        };
        let store = app.store.clone();
        let contact = accepted.contact;
        tokio::task::spawn_blocking(move || store.set_opt_out(contact, record))
            .await
            .map_err(|_| SmsWebhookError::Unavailable)?
            .map_err(|error| unavailable(error, "opt-out"))?;
        tracing::info!(%channel, contact = %accepted.contact, ?keyword, "SMS opt-out changed");
    }
    app.store
        .durable()
        .await
        .map_err(|error| unavailable(error, "flush"))?;
    if jobs > 0 {
        media::wake();
    }
    tracing::info!(
        %channel,
        duplicate = accepted.duplicate,
        media = jobs,
        "SMS stored"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// The captured inbound body of PROTOCOLS.md 3.1.
    const CAPTURED: &str = "ToCountry=GB&ToState=&SmsMessageSid=SM2f0c6b8e5a1d4c3b9e7f6a5d4c3b2a10&NumMedia=0&ToCity=&FromZip=&SmsSid=SM2f0c6b8e5a1d4c3b9e7f6a5d4c3b2a10&FromState=&SmsStatus=received&FromCity=&Body=Ack&FromCountry=GB&To=%2B447700900000&ToZip=&NumSegments=1&MessageSid=SM2f0c6b8e5a1d4c3b9e7f6a5d4c3b2a10&AccountSid=ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx&From=%2B447700900513&ApiVersion=2010-04-01";

    #[test]
    fn the_captured_body_parses() {
        let params = form_params(CAPTURED.as_bytes());
        assert_eq!(params.len(), 19);
        let message = parse_inbound("sms", &params).unwrap();
        let inbound = &message.received.inbound;
        assert_eq!(
            inbound.external_id.as_deref(),
            Some("SM2f0c6b8e5a1d4c3b9e7f6a5d4c3b2a10")
        );
        assert_eq!(inbound.sender.identity.kind, "phone");
        assert_eq!(inbound.sender.identity.handle, "+447700900513");
        assert_eq!(inbound.text.as_deref(), Some("Ack"));
        assert!(inbound.thread_hints.continue_open);
        assert!(message.received.media.is_empty());
        assert_eq!(message.keyword, None);
    }

    #[test]
    fn mms_media_and_keywords() {
        let params = pairs(&[
            ("MessageSid", "MM1"),
            ("From", "whatsapp:+14155550100"),
            ("Body", " stop "),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.example/m0"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.example/m1"),
        ]);
        let message = parse_inbound("sms", &params).unwrap();
        assert_eq!(message.keyword, Some(Keyword::OptOut));
        assert_eq!(message.keyword_text, "STOP");
        let inbound = &message.received.inbound;
        assert_eq!(inbound.sender.identity.handle, "+14155550100");
        assert_eq!(inbound.attachments.len(), 2);
        assert_eq!(inbound.attachments[0].content_type, "image/jpeg");
        assert_eq!(
            inbound.attachments[1].content_type,
            "application/octet-stream"
        );
        assert_eq!(
            message.received.media[1],
            (
                1,
                MediaSource::Url {
                    url: "https://api.example/m1".into()
                }
            )
        );
        assert!(parse_inbound("sms", &pairs(&[("From", "+1")])).is_err());
        assert!(parse_inbound("sms", &pairs(&[("MessageSid", "SM1")])).is_err());
    }

    #[test]
    fn statuses_map_to_delivery_states() {
        let status = |s: &str| {
            parse_status(&pairs(&[("MessageSid", "SM1"), ("MessageStatus", s)]))
                .unwrap()
                .map(|u| u.state)
        };
        assert_eq!(status("queued"), Some(DeliveryState::Queued));
        assert_eq!(status("sending"), Some(DeliveryState::Queued));
        assert_eq!(status("sent"), Some(DeliveryState::Sent));
        assert_eq!(status("delivered"), Some(DeliveryState::Delivered));
        assert_eq!(status("read"), Some(DeliveryState::Read));
        assert_eq!(status("undelivered"), Some(DeliveryState::Failed));
        assert_eq!(status("failed"), Some(DeliveryState::Failed));
        assert_eq!(status("received"), None);
        let failed = parse_status(&pairs(&[
            ("MessageSid", "SM1"),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(failed.reason.as_deref(), Some("undelivered (error 30003)"));
    }

    #[test]
    fn the_signed_url_keeps_the_query() {
        assert_eq!(signed_url("https://h/w", None), "https://h/w");
        assert_eq!(signed_url("https://h/w", Some("")), "https://h/w");
        assert_eq!(
            signed_url("https://h/w", Some("bodySHA256=ab")),
            "https://h/w?bodySHA256=ab"
        );
        assert_eq!(
            signed_url("https://h/w?k=1", Some("b=2")),
            "https://h/w?k=1&b=2"
        );
    }
}
