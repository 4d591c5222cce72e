//! Configuration: one `config.toml` declares listeners, storage and the
//! workspace (agents, teams, inboxes, channels). `load` parses and validates
//! it, reporting every error with its key path; the validated `Workspace` is
//! what handlers read, swapped atomically on SIGHUP.

mod raw;
mod validate;
mod workspace;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::{ForwardedSender, Role};
pub use workspace::{Agent, Channel, ChannelKind, EmailChannel, Inbox, Team, Workspace};

/// Everything in the config file, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub storage: StorageSettings,
    pub smtp: Option<SmtpSettings>,
    pub http: HttpSettings,
    pub workspace: Workspace,
    /// Things worth telling the operator that are not errors.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub listen: SocketAddr,
    pub hostname: String,
    pub max_message_bytes: u64,
    pub max_recipients: usize,
    pub max_sessions: usize,
    pub idle_timeout: Duration,
    pub session_timeout: Duration,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
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
