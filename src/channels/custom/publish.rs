//! What an integration publishes on `POST /api/v1/channels/{id}/messages`:
//! the JSON body, checked field by field (a `400` or `413` names the field)
//! and turned into an `Inbound`. Sans-IO: no store, no sockets.
//!
//! Attachments come as base64 in `data_base64`; `url` attachments are
//! refused with a clear error rather than fetched, so that the daemon never
//! fetches an address an integration names (the integration downloads the
//! file itself, where it has the credentials anyway).

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::email_address;
use crate::http::ApiError;
use crate::inbound::{Identity, Inbound, InboundAttachment, Sender, ThreadHints};
use crate::model::Millis;

/// The largest request body taken (attachments travel in it as base64).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The largest attachment, decoded.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// The most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 10;
/// The largest `text` or `html`, in bytes.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// Ids, keys and names: at most this many characters.
const MAX_ID_CHARS: usize = 256;
const MAX_PHONE_CHARS: usize = 64;
const MAX_CONTENT_TYPE_CHARS: usize = 255;

/// Base64 with or without `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The integration's id for the message: the same key twice stores
    /// one message.
    pub idempotency_key: String,
    pub sender: PublishSender,
    /// The app's thread (a chat, a ticket): messages naming the same
    /// thread share one conversation.
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub attachments: Vec<PublishAttachment>,
    /// When the person sent it: RFC 3339 text or Unix seconds.
    #[serde(default)]
    pub timestamp: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSender {
    /// The person's id in the app: replies are addressed to it.
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishAttachment {
    #[serde(default)]
    pub name: Option<String>,
    pub content_type: String,
    #[serde(default)]
    pub data_base64: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// The identity namespace of a channel's senders: ids are the app's own,
/// so one app's `42` is not another's.
pub fn identity_kind(channel: &str) -> String {
    format!("custom:{channel}")
}

/// Checks a published message and makes it an `Inbound` for `channel`.
pub fn to_inbound(channel: &str, publish: Publish) -> Result<Inbound, ApiError> {
    let idempotency_key = id_text(&publish.idempotency_key, "idempotency_key")?;
    let sender_id = id_text(&publish.sender.id, "sender.id")?;
    let name = optional_text(publish.sender.name, "sender.name", MAX_ID_CHARS)?;
    let email = match optional_text(publish.sender.email, "sender.email", MAX_ID_CHARS)? {
        Some(text) => Some(
            email_address::normalize(&text)
                .ok_or_else(|| ApiError::bad("sender.email", "not an email address"))?,
        ),
        None => None,
    };
    let phone = optional_text(publish.sender.phone, "sender.phone", MAX_PHONE_CHARS)?;
    if let Some(phone) = &phone {
        let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
        if !phone.chars().all(allowed) || !phone.chars().any(|c| c.is_ascii_digit()) {
            return Err(ApiError::bad("sender.phone", "not a phone number"));
        }
    }
    let thread = match &publish.thread_id {
        Some(thread) => Some(id_text(thread, "thread_id")?),
        None => None,
    };
    let text = body_text(publish.text, "text")?;
    let html = body_text(publish.html, "html")?;
    let attachments = attachments(publish.attachments)?;
    if text.is_none() && attachments.is_empty() {
        return Err(ApiError::bad(
            "text",
            "must not be empty unless attachments are given",
        ));
    }
    let sent_at = match &publish.timestamp {
        Some(value) => Some(timestamp(value)?),
        None => None,
    };
    Ok(Inbound {
        channel: channel.to_string(),
        external_id: Some(idempotency_key),
        sender: Sender {
            identity: Identity {
                kind: identity_kind(channel),
                handle: sender_id,
            },
            name,
            email,
            phone,
        },
        forwarded_by: None,
        to: Vec::new(),
        recipients: Vec::new(),
        from_agent: None,
        id_names_message: true,
        thread_hints: ThreadHints {
            // Without a thread, one open conversation per sender.
            continue_open: thread.is_none(),
            thread,
            ..ThreadHints::default()
        },
        subject: None,
        text,
        html,
        attachments,
        flags: Vec::new(),
        sent_at,
        raw: None,
        postback: None,
    })
}

/// A required id: not blank, at most `MAX_ID_CHARS`, no control characters.
fn id_text(value: &str, field: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad(field, "must not be empty"));
    }
    if value.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::bad(
            field,
            format!("at most {MAX_ID_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// An optional short text; blank counts as absent.
fn optional_text(
    value: Option<String>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(ApiError::bad(field, format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::bad(field, "must not contain control characters"));
    }
    Ok(Some(value))
}

/// `text` or `html`: blank counts as absent; at most `MAX_TEXT_BYTES`.
fn body_text(value: Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_TEXT_BYTES {
        return Err(ApiError::too_large(
            field,
            format!("{} bytes; at most {MAX_TEXT_BYTES}", value.len()),
        ));
    }
    Ok(Some(value))
}

fn attachments(list: Vec<PublishAttachment>) -> Result<Vec<InboundAttachment>, ApiError> {
    if list.len() > MAX_ATTACHMENTS {
        return Err(ApiError::bad(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} attachments"),
        ));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, attachment)| decode_attachment(i, attachment))
        .collect()
}

fn decode_attachment(
    i: usize,
    attachment: PublishAttachment,
) -> Result<InboundAttachment, ApiError> {
    let at = |field: &str| format!("attachments[{i}].{field}");
    let data = match (attachment.data_base64, attachment.url) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                format!("attachments[{i}]"),
                "give data_base64 or url, not both",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::bad(
                at("url"),
                "URL attachments are not fetched: send the file's bytes in data_base64",
            ))
        }
        (None, None) => return Err(ApiError::bad(at("data_base64"), "required")),
        (Some(data), None) => data,
    };
    let content_type = attachment.content_type.trim().to_ascii_lowercase();
    let valid_type = content_type
        .split_once('/')
        .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty())
        && content_type.len() <= MAX_CONTENT_TYPE_CHARS
        && content_type
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' ');
    if !valid_type {
        return Err(ApiError::bad(
            at("content_type"),
            "expected a media type such as image/png",
        ));
    }
    let name = optional_text(attachment.name, &at("name"), MAX_ID_CHARS)?;
    // Base64 is 4 characters per 3 bytes: refuse what cannot fit before
    // decoding it.
    if data.len() / 4 * 3 > MAX_ATTACHMENT_BYTES + 3 {
        return Err(too_large_attachment(i, data.len() / 4 * 3));
    }
    let data = if data.bytes().any(|b| b.is_ascii_whitespace()) {
        // Line-wrapped (MIME-style) base64 is fine too.
        data.split_ascii_whitespace().collect::<String>()
    } else {
        data
    };
    let bytes = BASE64
        .decode(data.as_bytes())
        .map_err(|_| ApiError::bad(at("data_base64"), "not valid base64"))?;
    if bytes.is_empty() {
        return Err(ApiError::bad(at("data_base64"), "the file is empty"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(too_large_attachment(i, bytes.len()));
    }
    Ok(InboundAttachment {
        name,
        content_type,
        bytes,
    })
}

fn too_large_attachment(i: usize, size: usize) -> ApiError {
    ApiError::too_large(
        format!("attachments[{i}].data_base64"),
        format!("about {size} bytes; an attachment takes at most {MAX_ATTACHMENT_BYTES}"),
    )
}

/// RFC 3339 text or Unix seconds (a number), as milliseconds.
fn timestamp(value: &Value) -> Result<Millis, ApiError> {
    let bad = || ApiError::bad("timestamp", "expected RFC 3339 text or Unix seconds");
    match value {
        Value::String(text) => text
            .trim()
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .map_err(|_| bad()),
        Value::Number(number) => {
            let seconds = number.as_f64().ok_or_else(bad)?;
            // Between 1970 and 9999: a plain range check on seconds.
            if !(0.0..253_402_300_800.0).contains(&seconds) {
                return Err(bad());
            }
            Ok((seconds * 1000.0).round() as Millis)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
