//! Sending SMS replies through the provider's REST API (PROTOCOLS.md 3.4):
//! `POST {api}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded
//! `To`, `From` or `MessagingServiceSid`, `Body` and `StatusCallback` (the
//! channel's `public_url` + `/status`), with HTTP Basic auth `AccountSid:
//! AuthToken`. A `2xx` answer's `sid` becomes the provider id the status
//! callbacks name; `429`, `5xx` and network errors are retried by the
//! outbox (after `Retry-After` when given); any other answer fails the
//! message with the provider's code and message. A person who opted out
//! (texted STOP) after the reply was queued is not sent to.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::MAX_TEXT;
use crate::clock::{Clock, SystemClock};
use crate::config::{ChannelKind, SmsChannel, SmsSender as Sender};
use crate::model::{Direction, Message};
use crate::outbox::{retry_after, OutboundDelivery, SendOutcome};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider's error answer: `{"code", "message", "more_info", "status"}`.
#[derive(Debug, Deserialize)]
struct ApiError {
    code: Option<i64>,
    message: Option<String>,
}

/// The provider's answer to a send.
#[derive(Debug, Deserialize)]
struct Created {
    sid: Option<String>,
}

/// Sends SMS replies.
pub struct SmsSender {
    client: Result<reqwest::Client, String>,
    clock: Arc<dyn Clock>,
}

impl Default for SmsSender {
    fn default() -> Self {
        SmsSender::new(Arc::new(SystemClock))
    }
}

/// The form of one send, in the order it is sent.
pub fn form(settings: &SmsChannel, to: &str, text: &str) -> Vec<(&'static str, String)> {
    let mut form = vec![("To", to.to_string())];
    match &settings.sender {
        Sender::From(number) => form.push(("From", number.clone())),
        Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid.clone())),
    }
    form.push(("Body", text.to_string()));
    form.push(("StatusCallback", settings.status_url()));
    form
}

impl SmsSender {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                tracing::error!(%error, "cannot build the SMS API client");
                error.to_string()
            });
        SmsSender { client, clock }
    }

    pub async fn send(&self, delivery: &OutboundDelivery) -> SendOutcome {
        let failed = |reason: String| SendOutcome::Failed { reason };
        let settings = match &delivery.channel.kind {
            ChannelKind::Sms(settings) => settings,
            ChannelKind::Calls(calls) => &calls.provider,
            other => {
                return failed(format!(
                    "{} channels are not sent through the SMS API",
                    other.name()
                ))
            }
        };
        if let Some(record) = &delivery.contact.opted_out {
            return failed(format!(
                "the person opted out of SMS (texted {})",
                record.keyword
            ));
        }
        let Some(to) = recipient(delivery) else {
            return failed("no recipient: the person's phone number is not known".into());
        };
        let Some(text) = delivery
            .message
            .text
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        else {
            return failed("the message has no text".into());
        };
        let len = text.chars().count();
        if len > MAX_TEXT {
            return failed(format!(
                "the text is {len} characters long; SMS takes at most {MAX_TEXT}"
            ));
        }
        let client = match &self.client {
            Ok(client) => client,
            Err(error) => return failed(format!("the HTTP client could not be set up: {error}")),
        };
        let response = client
            .post(settings.messages_url())
            .basic_auth(&settings.account_sid, Some(settings.auth_token.expose()))
            .form(&form(settings, &to, text))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return SendOutcome::Retry {
                    reason: format!("cannot reach the SMS API: {}", error.without_url()),
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
                    reason: format!("the SMS API's answer was cut off: {}", error.without_url()),
                    after: None,
                }
            }
        };
        classify(status, &body, retry_after)
    }
}

/// What an answer of the send API means.
pub fn classify(status: u16, body: &[u8], retry_after: Option<Duration>) -> SendOutcome {
    if (200..300).contains(&status) {
        let provider_id = serde_json::from_slice::<Created>(body)
            .ok()
            .and_then(|created| created.sid);
        if provider_id.is_none() {
            tracing::warn!(status, "the SMS API accepted a message without a sid");
        }
        return SendOutcome::Delivered { provider_id };
    }
    let error = serde_json::from_slice::<ApiError>(body).ok();
    let message = error
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or("the provider gave no message");
    let reason = match error.as_ref().and_then(|e| e.code) {
        Some(code) => format!("{message} (error {code}, HTTP {status})"),
        None => format!("{message} (HTTP {status})"),
    };
    if status == 429 || status >= 500 {
        SendOutcome::Retry {
            reason,
            after: retry_after,
        }
    } else {
        SendOutcome::Failed { reason }
    }
}

/// The person's number: the latest inbound message's sender, else the
/// contact's phone.
fn recipient(delivery: &OutboundDelivery) -> Option<String> {
    let latest = delivery
        .history
        .iter()
        .filter(|m: &&Message| m.direction == Direction::Inbound && !m.private)
        .filter_map(|m| {
            Some((
                m.sent_at.unwrap_or(m.created_at),
                m.from.address.as_deref()?,
            ))
        })
        .max_by_key(|(at, _)| *at)
        .map(|(_, address)| address);
    latest
        .or(delivery.contact.phone.as_deref())
        .and_then(crate::channels::meta::whatsapp_events::e164)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings(sender: Sender) -> SmsChannel {
        SmsChannel {
            account_sid: "AC1".into(),
            auth_token: Secret::new("tok"),
            sender,
            public_url: "https://help.example.com/webhooks/sms".into(),
            api_base_url: "https://api.twilio.com".into(),
            allow_private_targets: false,
        }
    }

    #[test]
    fn the_form_names_the_sender_and_the_status_callback() {
        let form = form(
            &settings(Sender::From("+15005550006".into())),
            "+14155550100",
            "Hi",
        );
        assert_eq!(
            form,
            vec![
                ("To", "+14155550100".to_string()),
                ("From", "+15005550006".to_string()),
                ("Body", "Hi".to_string()),
                (
                    "StatusCallback",
                    "https://help.example.com/webhooks/sms/status".to_string()
                ),
            ]
        );
        let form = super::form(&settings(Sender::MessagingService("MG9".into())), "+1", "x");
        assert_eq!(form[1], ("MessagingServiceSid", "MG9".to_string()));
    }

    #[test]
    fn answers_are_sorted_into_outcomes() {
        assert_eq!(
            classify(201, br#"{"sid":"SM123","status":"queued"}"#, None),
            SendOutcome::Delivered {
                provider_id: Some("SM123".into())
            }
        );
        let body = br#"{"code": 21211, "message": "The 'To' number +1 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        assert_eq!(
            classify(400, body, None),
            SendOutcome::Failed {
                reason: "The 'To' number +1 is not a valid phone number. (error 21211, HTTP 400)"
                    .into()
            }
        );
        let limited = classify(
            429,
            br#"{"code":20429,"message":"Too Many Requests"}"#,
            Some(Duration::from_secs(3)),
        );
        assert!(
            matches!(limited, SendOutcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3)),
            "{limited:?}"
        );
        assert!(matches!(
            classify(503, b"oops", None),
            SendOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify(401, b"", None),
            SendOutcome::Failed { .. }
        ));
    }
}
