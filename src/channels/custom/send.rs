//! Delivering replies on custom channels: each outbound message is POSTed
//! as JSON to the channel's `webhook_url`, signed per Standard Webhooks
//! (`signature`), to a public address unless the channel allows private
//! ones (the `outbound_fetch` policy).
//!
//! What the answer means (PROTOCOLS.md 9.5): any `2xx` is delivered (the
//! message becomes `sent`; a JSON `{"id": ...}` in the answer is kept as
//! the provider id); a `3xx` is a failure and never followed; `408`, `429`
//! and `5xx`, timeouts and connection errors are retried by the outbox
//! with backoff and jitter, after `Retry-After` when the webhook sends one;
//! any other `4xx` fails the message for good. `401`, `403` and `410` also
//! mark the channel unhealthy until a delivery succeeds again. The
//! `webhook-id` is the message id, the same on every attempt, so the
//! integration can drop duplicates; the timestamp and signature are fresh
//! on each attempt.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::signature::{self, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::app::ChannelHealth;
use crate::clock::{rfc3339, Clock, SystemClock};
use crate::config::{ChannelKind, CustomChannel};
use crate::model::{Author, Direction, Message};
use crate::outbound_fetch::{self, Clients, Timeouts};
use crate::outbox::{retry_after, OutboundDelivery, SendOutcome};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a webhook's answer read (for its id, or an error excerpt).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How much of an error answer goes into the message's failure reason.
const REASON_EXCERPT_CHARS: usize = 200;

/// The JSON POSTed for each reply.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the event happened (the message was written), RFC 3339, as
    /// Standard Webhooks suggests; the same on every attempt, like the body.
    pub timestamp: String,
    pub channel: &'a str,
    pub conversation: String,
    pub message: PayloadMessage<'a>,
    pub recipient: Recipient<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct PayloadMessage<'a> {
    pub id: String,
    pub text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<&'a str>,
    pub author: PayloadAuthor<'a>,
    pub created_at: String,
}

/// `{"kind": "agent", "id", "name"}` or `{"kind": "automation", "name"}`.
#[derive(Debug, Serialize)]
pub struct PayloadAuthor<'a> {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

/// The person the reply is for: the sender id their messages came with.
#[derive(Debug, Serialize)]
pub struct Recipient<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

/// Why a reply cannot be sent at all (no request is made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error("{0} channels are not sent through a custom webhook")]
    NotCustom(&'static str),
    #[error("no recipient: the conversation has no message from the person")]
    NoRecipient,
    #[error("the message has no text")]
    NoText,
    #[error("the text is {len} characters long; the channel takes at most {max}")]
    TooLong { len: usize, max: usize },
}

/// Builds the payload of a delivery, after the channel's capabilities.
pub fn payload(delivery: &OutboundDelivery) -> Result<Payload<'_>, PrepareError> {
    let ChannelKind::Custom(settings) = &delivery.channel.kind else {
        return Err(PrepareError::NotCustom(delivery.channel.kind.name()));
    };
    let message = &delivery.message;
    let text = message
        .text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or(PrepareError::NoText)?;
    if let Some(max) = settings.capabilities.max_text_length {
        let len = text.chars().count();
        if len > max {
            return Err(PrepareError::TooLong { len, max });
        }
    }
    let from_person = latest_inbound(&delivery.history).ok_or(PrepareError::NoRecipient)?;
    let recipient_id = from_person
        .from
        .address
        .as_deref()
        .ok_or(PrepareError::NoRecipient)?;
    let recipient_name = from_person
        .from
        .name
        .as_deref()
        .or(delivery.contact.name.as_deref());
    let thread_id = delivery
        .history
        .iter()
        .rev()
        .filter(|m| m.direction == Direction::Inbound)
        .find_map(|m| m.thread.as_deref());
    let author = match &message.author {
        Some(Author::Agent { id }) => PayloadAuthor {
            kind: "agent",
            id: Some(id),
            name: delivery
                .author
                .as_ref()
                .map(|agent| agent.name.as_str())
                .or(message.from.name.as_deref()),
        },
        Some(Author::Automation { name }) => PayloadAuthor {
            kind: "automation",
            id: None,
            name: Some(name),
        },
        None => PayloadAuthor {
            kind: "unknown",
            id: None,
            name: None,
        },
    };
    Ok(Payload {
        kind: "message.created",
        timestamp: rfc3339(message.created_at),
        channel: &delivery.channel.id,
        conversation: delivery.conversation.id.to_string(),
        message: PayloadMessage {
            id: message.id.to_string(),
            text,
            html: message
                .html
                .as_deref()
                .filter(|_| settings.capabilities.rich_text),
            author,
            created_at: rfc3339(message.created_at),
        },
        recipient: Recipient {
            id: recipient_id,
            name: recipient_name,
        },
        thread_id,
    })
}

/// The person's latest message (by their own time, else arrival).
fn latest_inbound(history: &[Message]) -> Option<&Message> {
    history
        .iter()
        .filter(|m| m.direction == Direction::Inbound && !m.private && m.from.address.is_some())
        .max_by_key(|m| m.sent_at.unwrap_or(m.created_at))
}

/// Sends custom-channel replies through the outbound-fetch policy's
/// clients (one per setting of `allow_private_targets`).
pub struct CustomSender {
    clients: Result<Clients, String>,
    clock: Arc<dyn Clock>,
    health: ChannelHealth,
}

impl Default for CustomSender {
    fn default() -> Self {
        CustomSender::new(Arc::new(SystemClock), ChannelHealth::default())
    }
}

/// The policy's clients; a 3xx is a failure, never followed (PROTOCOLS.md
/// 9.5), and the timeout is the channel's, set per request.
fn clients() -> Result<Clients, String> {
    let timeouts = Timeouts {
        connect: CONNECT_TIMEOUT,
        request: None,
    };
    Clients::new(timeouts).map_err(|error| {
        tracing::error!(%error, "cannot build the custom channel webhook client");
        error.to_string()
    })
}

impl CustomSender {
    /// A sender that stamps attempts with `clock` and records channels
    /// whose webhook refuses us in `health`.
    pub fn new(clock: Arc<dyn Clock>, health: ChannelHealth) -> Self {
        CustomSender {
            clients: clients(),
            clock,
            health,
        }
    }

    pub async fn send(&self, delivery: &OutboundDelivery) -> SendOutcome {
        let now = self.clock.now();
        let failed = |reason: String| SendOutcome::Failed { reason };
        let ChannelKind::Custom(settings) = &delivery.channel.kind else {
            return failed(PrepareError::NotCustom(delivery.channel.kind.name()).to_string());
        };
        let body = match payload(delivery) {
            Ok(payload) => serde_json::to_vec(&payload).unwrap_or_default(),
            Err(error) => return failed(error.to_string()),
        };
        let fetcher = match &self.clients {
            Ok(clients) => clients.for_channel(settings.allow_private_targets),
            Err(error) => return failed(format!("the HTTP client could not be set up: {error}")),
        };
        if let Err(refused) = fetcher.check(&settings.webhook_url) {
            return failed(refused.to_string());
        }
        // Stable across retries: the integration's idempotency key.
        let webhook_id = delivery.message.id.to_string();
        let timestamp = now.div_euclid(1000);
        let Some(signature) =
            signature::sign(settings.webhook_secret.key(), &webhook_id, timestamp, &body)
        else {
            return failed("the webhook secret cannot key an HMAC".into());
        };
        let response = fetcher
            .client()
            .post(settings.webhook_url.clone())
            .timeout(settings.webhook_timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, &webhook_id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) => {
                let status = response.status().as_u16();
                let outcome = self.answered(response, now).await;
                self.record_health(&delivery.channel.id, status, &outcome, now);
                outcome
            }
            Err(error) => unanswered(error, settings),
        }
    }

    /// What the webhook's answer means.
    async fn answered(&self, mut response: reqwest::Response, now: i64) -> SendOutcome {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), now);
        let mut answer = Vec::new();
        while answer.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                // A cut-off answer still has its status.
                Ok(None) | Err(_) => break,
            }
        }
        classify(status, retry_after, &answer)
    }

    /// A success marks the channel healthy; `401`, `403` and `410` say the
    /// webhook refuses the channel as a whole, so it is marked unhealthy.
    fn record_health(&self, channel: &str, status: u16, outcome: &SendOutcome, now: i64) {
        if (200..300).contains(&status) {
            if let Some(problem) = self.health.mark_healthy(channel) {
                tracing::info!(channel, problem = %problem.reason, "channel healthy again");
            }
        } else if let (401 | 403 | 410, SendOutcome::Failed { reason }) = (status, outcome) {
            if self.health.mark_unhealthy(channel, reason.clone(), now) {
                tracing::error!(
                    channel,
                    %reason,
                    "channel unhealthy: its webhook refuses our deliveries"
                );
            }
        }
    }
}

/// A request that got no answer: refused target, timeout or network error.
fn unanswered(error: reqwest::Error, settings: &CustomChannel) -> SendOutcome {
    if let Some(refused) = outbound_fetch::refused_in(&error) {
        return SendOutcome::Failed {
            reason: refused.to_string(),
        };
    }
    if error.is_timeout() {
        return SendOutcome::Retry {
            reason: format!(
                "the webhook did not answer within {} s",
                settings.webhook_timeout.as_secs()
            ),
            after: None,
        };
    }
    // The client's own text says little ("error sending request"); its
    // causes say what went wrong. The URL stays out of it.
    let error = error.without_url();
    let mut reason = format!("cannot reach the webhook: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    SendOutcome::Retry {
        reason,
        after: None,
    }
}

/// The outcome of an answer with `status` (PROTOCOLS.md 9.5).
pub fn classify(status: u16, retry_after: Option<Duration>, answer: &[u8]) -> SendOutcome {
    match status {
        200..=299 => SendOutcome::Delivered {
            provider_id: provider_id(answer),
        },
        300..=399 => SendOutcome::Failed {
            reason: format!(
                "the webhook answered HTTP {status}, a redirect, which is not followed"
            ),
        },
        408 | 429 | 500..=599 => SendOutcome::Retry {
            reason: format!("the webhook answered HTTP {status}{}", excerpt(answer)),
            after: retry_after,
        },
        400..=499 => SendOutcome::Failed {
            reason: format!("the webhook answered HTTP {status}{}", excerpt(answer)),
        },
        _ => SendOutcome::Retry {
            reason: format!("the webhook answered HTTP {status}"),
            after: retry_after,
        },
    }
}

/// `{"id": "..."}` (a string or number) in a success answer.
fn provider_id(answer: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    match &value["id"] {
        serde_json::Value::String(id) if !id.is_empty() => Some(id.chars().take(256).collect()),
        serde_json::Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// `": <the first characters of the answer>"`, or nothing for an empty one.
fn excerpt(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let text: String = text
        .trim()
        .chars()
        .take(REASON_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;
