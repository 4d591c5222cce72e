//! Sending outbound email through the configured SMTP relay (smarthost):
//! lettre's SMTP client over connections of our own (TCP_NODELAY, a small
//! pool, see relay_pool.rs) built from `RelaySettings`, and the mapping of
//! the relay's answer to a `SendOutcome`. Success gives the relay's queue
//! id; connection trouble, timeouts and 4xx replies are retried; 5xx replies
//! fail for good (except a refused login, which is the relay's settings, not
//! the message). Reasons are short and never hold the relay password.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::TlsParameters;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error as SmtpError;

use super::compose::compose;
use crate::config::{Channel, ChannelKind, EmailChannel, RelaySettings, RelayTls};
use crate::outbox::{OutboundDelivery, SendOutcome};

#[path = "relay_pool.rs"]
mod pool;

use pool::{Client, Failure, Limits, Pool, Security};

/// Idle connections kept open to the relay between sends, and for how long.
const POOL: Limits = Limits {
    max_idle: 4,
    idle_for: Duration::from_secs(30),
};
/// A whole send may take this many times the per-command timeout.
const SEND_TIMEOUTS: u32 = 4;
/// Longest reason text kept from a relay reply.
const MAX_REASON: usize = 300;

/// Why the relay transport could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot set up TLS for the relay {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("the email sender must be created inside the tokio runtime")]
    NoRuntime,
}

/// Sends email replies through the relay; one per daemon, shared.
pub struct EmailSender {
    pool: Pool,
    /// `host:port`, for reasons.
    relay: String,
    /// Bound on one whole send (connect, login, transfer).
    deadline: Duration,
    /// Kept only to make sure no reason ever shows it.
    password: Option<String>,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("relay", &self.relay)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// Sets up the sender (no connection yet); certificates are checked
    /// against the web PKI roots for `settings.host`. Must run inside the
    /// tokio runtime (the connection pool starts a cleanup task).
    pub fn new(settings: &RelaySettings) -> Result<Self, RelayError> {
        let tls = match settings.tls {
            RelayTls::None => None,
            RelayTls::Tls | RelayTls::Starttls => {
                let parameters =
                    TlsParameters::new(settings.host.clone()).map_err(|e| RelayError::Tls {
                        host: settings.host.clone(),
                        reason: e.to_string(),
                    })?;
                Some(parameters)
            }
        };
        Self::build(settings, tls, POOL)
    }

    /// `new` with given TLS parameters (a test certificate authority).
    #[cfg(test)]
    pub(crate) fn new_with_tls_parameters(
        settings: &RelaySettings,
        parameters: TlsParameters,
    ) -> Result<Self, RelayError> {
        Self::build(settings, Some(parameters), POOL)
    }

    fn build(
        settings: &RelaySettings,
        tls: Option<TlsParameters>,
        limits: Limits,
    ) -> Result<Self, RelayError> {
        tokio::runtime::Handle::try_current().map_err(|_| RelayError::NoRuntime)?;
        let security = match (settings.tls, tls) {
            (RelayTls::Tls, Some(parameters)) => Security::Tls(parameters),
            (RelayTls::Starttls, Some(parameters)) => Security::Starttls(parameters),
            _ => Security::Plain,
        };
        let credentials = match (&settings.username, &settings.password) {
            (Some(username), Some(password)) => {
                Some(Credentials::new(username.clone(), password.clone()))
            }
            _ => None,
        };
        let client = Client {
            host: settings.host.clone(),
            port: settings.port,
            security,
            hello: ClientId::Domain(settings.hostname.clone()),
            credentials,
            timeout: settings.timeout,
        };
        Ok(EmailSender {
            pool: Pool::new(client, limits),
            relay: format!("{}:{}", settings.host, settings.port),
            deadline: settings.timeout.saturating_mul(SEND_TIMEOUTS),
            password: settings.password.clone().filter(|p| !p.is_empty()),
        })
    }

    /// Composes and sends one outbound email.
    pub async fn send(&self, delivery: &OutboundDelivery) -> SendOutcome {
        let Some(email) = email_channel(&delivery.channel) else {
            return SendOutcome::Failed {
                reason: format!("channel {} is not an email channel", delivery.channel.id),
            };
        };
        let message = match compose(delivery, email) {
            Ok(message) => message,
            Err(error) => {
                return SendOutcome::Failed {
                    reason: self.clean(&format!("cannot compose the email: {error}")),
                }
            }
        };
        self.send_message(message).await
    }

    /// Sends an already composed email through the relay.
    pub async fn send_message(&self, message: lettre::Message) -> SendOutcome {
        let email = message.formatted();
        let send = self.pool.send(message.envelope(), &email);
        match tokio::time::timeout(self.deadline, send).await {
            Ok(Ok(response)) => SendOutcome::Delivered {
                provider_id: provider_id(&response),
            },
            Ok(Err(error)) => self.outcome_of(&error),
            Err(_) => SendOutcome::Retry {
                reason: format!("the relay {} did not finish in time", self.relay),
                after: None,
            },
        }
    }

    /// What a failed send means for the outbox.
    fn outcome_of(&self, failure: &Failure) -> SendOutcome {
        match failure {
            Failure::Smtp(error) => self.smtp_outcome(error),
            Failure::TimedOut => SendOutcome::Retry {
                reason: format!("the relay {} timed out", self.relay),
                after: None,
            },
            Failure::Connect(error) => SendOutcome::Retry {
                reason: self.clean(&format!("cannot reach the relay {}: {error}", self.relay)),
                after: None,
            },
        }
    }

    /// What lettre's error means for the outbox.
    fn smtp_outcome(&self, error: &SmtpError) -> SendOutcome {
        let reply = error
            .status()
            .map(|code| (code.to_string(), source_text(error)));
        match reply {
            Some((code, text)) if error.is_permanent() && !is_login_refusal(&code) => {
                SendOutcome::Failed {
                    reason: self.clean(&format!("the relay refused the message: {code} {text}")),
                }
            }
            Some((code, text)) => SendOutcome::Retry {
                reason: self.clean(&format!("the relay answered {code} {text}")),
                after: None,
            },
            None => SendOutcome::Retry {
                reason: self.clean(&self.failure_text(error)),
                after: None,
            },
        }
    }

    fn failure_text(&self, error: &SmtpError) -> String {
        let detail = source_text(error);
        let relay = &self.relay;
        if error.is_timeout() {
            format!("the relay {relay} timed out")
        } else if error.is_tls() {
            format!("TLS with the relay {relay} failed: {detail}")
        } else if error.is_client() {
            format!("cannot send through the relay {relay}: {detail}")
        } else if error.is_response() {
            format!("the relay {relay} gave an unreadable answer")
        } else {
            format!("cannot reach the relay {relay}: {detail}")
        }
    }

    /// One line, not too long, without the password.
    fn clean(&self, reason: &str) -> String {
        let mut reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(password) = &self.password {
            reason = reason.replace(password.as_str(), "<redacted>");
        }
        if reason.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push('…');
        }
        reason
    }
}

/// The email settings of a channel, when it is an email channel.
#[allow(irrefutable_let_patterns)]
fn email_channel(channel: &Channel) -> Option<&EmailChannel> {
    if let ChannelKind::Email(email) = &channel.kind {
        Some(email)
    } else {
        None
    }
}

/// 530, 534, 535 and 538 refuse the login: the relay settings are wrong or
/// the account is locked, which an operator fixes; the message is fine.
fn is_login_refusal(code: &str) -> bool {
    matches!(code, "530" | "534" | "535" | "538")
}

/// The text of the error's cause (a relay's reply text, an I/O error).
fn source_text(error: &SmtpError) -> String {
    std::error::Error::source(error)
        .map(|source| source.to_string())
        .unwrap_or_default()
}

/// The queue id from a relay's "250 2.0.0 Ok: queued as 4Xyz" reply, else
/// the reply text; `None` when the relay said nothing more.
fn provider_id(response: &Response) -> Option<String> {
    let text = response.message().collect::<Vec<_>>().join(" ");
    let text = text.trim();
    let queued = text
        .to_ascii_lowercase()
        .find("queued as ")
        .and_then(|at| text.get(at + "queued as ".len()..))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|id| id.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|id| !id.is_empty());
    match queued {
        Some(id) => Some(id.to_string()),
        None if text.is_empty() => None,
        None => Some(text.chars().take(MAX_REASON).collect()),
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
