//! Sending replies through the Graph API: Messenger's Send API
//! (`POST {graph}/{version}/{page_id}/messages`) and WhatsApp's Cloud API
//! (`POST {graph}/{version}/{phone_number_id}/messages`), PROTOCOLS.md 1.5
//! and 2.4.
//!
//! The API refuses replies outside the messaging windows before they are
//! queued; a queued message may still age out before its turn, so the
//! window is checked again here. The provider's refusals are sorted by
//! `graph_errors`; an invalid token also marks the channel unhealthy, and
//! the next successful send marks it healthy again.

use crate::automations;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::graph_errors::{self, GraphError, Verdict};
use super::window::{self, Outgoing, Provider, Refusal, SendMode};
use crate::app::ChannelHealth;
use crate::clock::{Clock, SystemClock};
use crate::config::{ChannelKind, GraphApi};
use crate::model::{Author, Direction, Message, MessageTemplate, Millis};
use crate::outbox::{retry_after, OutboundDelivery, SendOutcome};

/// Messenger's limit on `message.text`, in characters.
pub const MESSENGER_MAX_TEXT: usize = 2000;
/// WhatsApp's limit on `text.body`, in characters.
pub const WHATSAPP_MAX_TEXT: usize = 4096;

/// The whole request, answer included (Messenger's webhook budget is 20 s;
/// PROTOCOLS.md 9.5 suggests 15–30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest text a channel's provider takes; `None` for email.
pub fn max_text_chars(kind: &ChannelKind) -> Option<usize> {
    match kind {
        ChannelKind::Messenger(_) => Some(MESSENGER_MAX_TEXT),
        ChannelKind::Whatsapp(_) => Some(WHATSAPP_MAX_TEXT),
        ChannelKind::Sms(_) | ChannelKind::Calls(_) => Some(crate::channels::sms::MAX_TEXT),
        ChannelKind::Chat(_) => Some(crate::channels::chat::MAX_REPLY_CHARS),
        ChannelKind::Email(_) | ChannelKind::Custom(_) | ChannelKind::Form(_) => None,
    }
}

/// Why a message cannot be sent at all (no request is made).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Window(#[from] Refusal),
    #[error("no recipient: the person's {0} is not known from their messages")]
    NoRecipient(&'static str),
    #[error("the message has no text")]
    NoText,
    #[error("the text is {len} characters long; {provider} takes at most {max}")]
    TooLong {
        len: usize,
        max: usize,
        provider: &'static str,
    },
    #[error("{0} channels are not sent through the Graph API")]
    NotGraph(&'static str),
    #[error("the HTTP client could not be set up: {0}")]
    Client(String),
}

/// One request to the Graph API.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphRequest {
    pub url: String,
    pub body: Value,
    /// Which JSON path holds the provider's id of the sent message.
    pub provider: Provider,
}

/// Sends Messenger and WhatsApp messages.
pub struct MetaSender {
    client: Result<reqwest::Client, String>,
    clock: Arc<dyn Clock>,
    health: ChannelHealth,
}

impl Default for MetaSender {
    fn default() -> Self {
        MetaSender::new(Arc::new(SystemClock), ChannelHealth::default())
    }
}

impl MetaSender {
    /// A sender that reads the time from `clock` (for the window re-check)
    /// and records token problems in `health`.
    pub fn new(clock: Arc<dyn Clock>, health: ChannelHealth) -> Self {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // 3xx is a failure, never followed (PROTOCOLS.md 9.5).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                tracing::error!(%error, "cannot build the Graph API client");
                error.to_string()
            });
        MetaSender {
            client,
            clock,
            health,
        }
    }

    pub async fn send(&self, delivery: &OutboundDelivery) -> SendOutcome {
        let (request, token) = match prepare(delivery, self.clock.now()) {
            Ok(prepared) => prepared,
            Err(error) => {
                return SendOutcome::Failed {
                    reason: error.to_string(),
                }
            }
        };
        let client = match &self.client {
            Ok(client) => client,
            Err(error) => {
                return SendOutcome::Failed {
                    reason: SendError::Client(error.clone()).to_string(),
                }
            }
        };
        let channel = delivery.channel.id.as_str();
        let response = client
            .post(&request.url)
            .bearer_auth(token)
            .json(&request.body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return SendOutcome::Retry {
                    reason: format!("cannot reach the Graph API: {}", error.without_url()),
                    after: None,
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers(), self.clock.now());
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return SendOutcome::Retry {
                    reason: format!(
                        "the Graph API's answer was cut off: {}",
                        error.without_url()
                    ),
                    after: None,
                }
            }
        };
        if (200..300).contains(&status) {
            if let Some(problem) = self.health.mark_healthy(channel) {
                tracing::info!(channel, problem = %problem.reason, "channel healthy again");
            }
            let provider_id = provider_id(request.provider, &body);
            if provider_id.is_none() {
                tracing::warn!(
                    channel,
                    status,
                    "the Graph API accepted a message without an id"
                );
            }
            return SendOutcome::Delivered { provider_id };
        }
        let error = GraphError::parse(&body);
        match graph_errors::classify(status, error.as_ref(), retry_after) {
            Verdict::Retry { reason, after } => SendOutcome::Retry { reason, after },
            Verdict::Failed { reason } => SendOutcome::Failed { reason },
            Verdict::InvalidToken { reason } => {
                let now = self.clock.now();
                if self.health.mark_unhealthy(channel, reason.clone(), now) {
                    tracing::error!(
                        channel,
                        %reason,
                        "channel unhealthy: the provider refused its access token; \
                         replace the token and reload"
                    );
                } else {
                    tracing::warn!(channel, %reason, "channel still unhealthy");
                }
                SendOutcome::Failed { reason }
            }
        }
    }
}

/// The request for a delivery and the token to send it with, after the
/// window check at `now`.
pub fn prepare(
    delivery: &OutboundDelivery,
    now: Millis,
) -> Result<(GraphRequest, &str), SendError> {
    let channel = &delivery.channel;
    let provider = Provider::of(channel).ok_or_else(|| SendError::NotGraph(channel.kind.name()))?;
    let outgoing = Outgoing {
        automated: matches!(delivery.message.author, Some(Author::Automation { .. })),
        template: delivery.message.template.is_some(),
    };
    let mode = window::check(
        provider,
        window::last_inbound_at(&delivery.history),
        now,
        outgoing,
    )?;
    let sender = latest_inbound_address(&delivery.history);
    match &channel.kind {
        ChannelKind::Messenger(page) => {
            let psid = sender
                .map(|address| psid(&page.page_id, address))
                .filter(|psid| !psid.is_empty())
                .ok_or(SendError::NoRecipient("page-scoped id"))?;
            let text = checked_text(&delivery.message, MESSENGER_MAX_TEXT, "Messenger")?;
            let mut body = messenger_body(psid, mode, text);
            if is_consent_request(&delivery.message) {
                body["message"]["quick_replies"] = json!([{
                    "content_type": "text",
                    "title": "I agree",
                    "payload": automations::CONSENT_AGREE,
                }]);
            }
            Ok((
                GraphRequest {
                    url: messages_url(&page.graph, &page.page_id),
                    body,
                    provider,
                },
                page.page_token.expose(),
            ))
        }
        ChannelKind::Whatsapp(number) => {
            let to = sender
                .or(delivery.contact.phone.as_deref())
                .and_then(whatsapp_number)
                .ok_or(SendError::NoRecipient("WhatsApp number"))?;
            let body = match &delivery.message.template {
                Some(template) => whatsapp_template_body(&to, template),
                None => whatsapp_text_body(
                    &to,
                    checked_text(&delivery.message, WHATSAPP_MAX_TEXT, "WhatsApp")?,
                ),
            };
            Ok((
                GraphRequest {
                    url: messages_url(&number.graph, &number.phone_number_id),
                    body,
                    provider,
                },
                number.access_token.expose(),
            ))
        }
        ChannelKind::Email(_)
        | ChannelKind::Custom(_)
        | ChannelKind::Sms(_)
        | ChannelKind::Calls(_)
        | ChannelKind::Form(_)
        | ChannelKind::Chat(_) => Err(SendError::NotGraph(channel.kind.name())),
    }
}

fn messages_url(graph: &GraphApi, account: &str) -> String {
    graph.url(&format!("{account}/messages"))
}

fn checked_text<'m>(
    message: &'m Message,
    max: usize,
    provider: &'static str,
) -> Result<&'m str, SendError> {
    let text = message
        .text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or(SendError::NoText)?;
    let len = text.chars().count();
    if len > max {
        return Err(SendError::TooLong { len, max, provider });
    }
    Ok(text)
}

/// The address of the person's latest message (by provider time): the
/// identity handle the channel gave them.
fn latest_inbound_address(history: &[Message]) -> Option<&str> {
    history
        .iter()
        .filter(|m| m.direction == Direction::Inbound && !m.private)
        .filter_map(|m| {
            Some((
                m.sent_at.unwrap_or(m.created_at),
                m.from.address.as_deref()?,
            ))
        })
        .max_by_key(|(at, _)| *at)
        .map(|(_, address)| address)
}

/// The PSID in a Messenger identity handle `"<page_id>:<psid>"` (a bare
/// PSID is taken as it is).
fn psid<'a>(page_id: &str, handle: &'a str) -> &'a str {
    handle
        .strip_prefix(page_id)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or(handle)
}

/// Whether the message asks the person for consent (it then carries the
/// "I agree" quick reply whose payload the automations wait for).
fn is_consent_request(message: &crate::model::Message) -> bool {
    matches!(&message.author, Some(Author::Automation { name }) if name == automations::CONSENT_REQUEST)
}

/// `+<digits>` from a WhatsApp id or phone number; `None` without digits.
fn whatsapp_number(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("+{digits}"))
}

/// The Send API body: `RESPONSE` inside the day, `MESSAGE_TAG` with
/// `HUMAN_AGENT` after it.
pub fn messenger_body(psid: &str, mode: SendMode, text: &str) -> Value {
    let mut body = json!({
        "recipient": {"id": psid},
        "messaging_type": "RESPONSE",
        "message": {"text": text},
    });
    if mode == SendMode::HumanAgentTag {
        body["messaging_type"] = json!("MESSAGE_TAG");
        body["tag"] = json!("HUMAN_AGENT");
    }
    body
}

/// A WhatsApp free-form text message.
pub fn whatsapp_text_body(to: &str, text: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": false, "body": text},
    })
}

/// A WhatsApp template message; the parameters fill the body in order.
pub fn whatsapp_template_body(to: &str, template: &MessageTemplate) -> Value {
    let mut content = json!({
        "name": template.name,
        "language": {"code": template.language},
    });
    if !template.params.is_empty() {
        let parameters: Vec<Value> = template
            .params
            .iter()
            .map(|text| json!({"type": "text", "text": text}))
            .collect();
        content["components"] = json!([{"type": "body", "parameters": parameters}]);
    }
    json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": content,
    })
}

/// The provider's id of the sent message: Messenger's `message_id`,
/// WhatsApp's `messages[0].id`.
fn provider_id(provider: Provider, body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let id = match provider {
        Provider::Messenger { .. } => &value["message_id"],
        Provider::Whatsapp => &value["messages"][0]["id"],
    };
    id.as_str().map(str::to_string)
}

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;
