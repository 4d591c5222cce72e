//! Configuration: one `config.toml` declares listeners, storage and the
//! workspace (agents, teams, inboxes, channels). `load` parses and validates
//! it, reporting every error with its key path; the validated `Workspace` is
//! what handlers read, swapped atomically on SIGHUP.

mod calls;
mod chat;
mod chat_limits;
mod custom;
mod delivery;
mod form;
mod listeners;
mod meta;
mod metrics;
mod raw;
mod routing;
mod secret;
mod sms;
mod validate;
mod workspace;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use calls::{AgentNumber, CallsChannel, Voicemail};
pub use chat::{normalize_origin, AskEmail, ChatChannel, OfficeHours};
pub use chat_limits::{PerAddress, MAX_SOCKETS_LIMIT};
pub use custom::{Capabilities, CustomChannel, WebhookSecret};
pub use form::{FieldType, FormChannel, FormField, FormRateLimits, CONTACT_WINDOW};
pub use listeners::{
    DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_HTTP_MAX_CONNECTIONS, DEFAULT_HTTP_MAX_PER_ADDRESS,
    DEFAULT_SMTP_MAX_SESSIONS_PER_ADDRESS,
};
pub use meta::{GraphApi, MessengerChannel, WhatsappChannel};
pub use metrics::MetricsSettings;
pub use raw::{AssignTo, Consent, ForwardedSender, RelayTls, Role, SenderName};
pub use routing::{Pipeline, Priority, RoutingRule, RoutingSettings, TicketOwner, TicketRule};
pub use secret::Secret;
pub use sms::{SmsChannel, SmsSender, DEFAULT_TWILIO_API};
pub use workspace::{Agent, Channel, ChannelKind, EmailChannel, Inbox, Team, Workspace};

/// The workspace the channel config tests build on: storage, a listener,
/// the admin Alice and the inbox `support`.
#[cfg(test)]
pub(crate) const TEST_WORKSPACE: &str = r#"
    [storage]
    path = "data"
    [http]
    listen = "127.0.0.1:8080"
    [[agents]]
    id = "alice"
    name = "Alice"
    email = "alice@example.com"
    role = "admin"
    [[inboxes]]
    id = "support"
    name = "Support"
"#;

/// Everything in the config file, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub storage: StorageSettings,
    pub smtp: Option<SmtpSettings>,
    pub http: HttpSettings,
    /// The relay replies are sent through; `None` when not configured.
    pub outbound_smtp: Option<RelaySettings>,
    pub outbox: OutboxSettings,
    /// Who may scrape `GET /metrics`, and where (`[metrics]`).
    pub metrics: MetricsSettings,
    pub workspace: Workspace,
    /// Things worth telling the operator that are not errors.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub path: PathBuf,
    /// What the database may keep in memory, in bytes (`cache_mib`).
    pub cache_bytes: u64,
    /// How long the event log keeps events (`event_retention_days`).
    pub event_retention: std::time::Duration,
    /// Free space the storage folder's filesystem must keep: below it new
    /// messages are refused (`min_free_mib`; 0 turns the reserve off).
    pub min_free_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub listen: SocketAddr,
    pub hostname: String,
    pub max_message_bytes: u64,
    pub max_recipients: usize,
    pub max_sessions: usize,
    /// Sessions open at once from one client address or IPv6 /64.
    pub max_sessions_per_address: usize,
    pub idle_timeout: Duration,
    pub session_timeout: Duration,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The SMTP relay (smarthost) outbound email goes through.
#[derive(Clone)]
pub struct RelaySettings {
    pub host: String,
    pub port: u16,
    pub tls: RelayTls,
    pub username: Option<String>,
    /// Read from `password_file` or `password_env` at load; never logged.
    pub password: Option<String>,
    pub timeout: Duration,
    /// The EHLO name and the domain of outgoing Message-IDs.
    pub hostname: String,
}

impl std::fmt::Debug for RelaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelaySettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Delivery retries of the outbox.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            concurrency: 8,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// Connections open at once on the listener (`max_connections`).
    pub max_connections: usize,
    /// Connections open at once from one client address or IPv6 /64.
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request head, also the idle
    /// time of a kept-alive connection (`header_read_timeout_secs`).
    pub header_read_timeout: Duration,
}

/// Every problem found in a config file, each with its key path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl ConfigError {
    /// The individual problems, one per line of the message.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Read { .. } => vec![self.to_string()],
            ConfigError::Invalid(list) => list.clone(),
        }
    }
}

/// Reads and validates the config file. Relative paths in it are taken
/// relative to the file's folder.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&text, base)
}

/// Parses and validates config text; relative paths resolve against `base`.
pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
    validate::validate(text, base).map_err(ConfigError::Invalid)
}
