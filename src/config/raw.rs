//! The config file as written: serde structs that reject unknown keys.
//! `validate` turns them into the runtime `Config`.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub listen: String,
    pub hostname: String,
    pub max_message_bytes: Option<u64>,
    pub max_recipients: Option<usize>,
    pub max_sessions: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub session_timeout_secs: Option<u64>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Agent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    #[serde(default = "yes")]
    pub seat: bool,
    #[serde(default)]
    pub teams: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInbox {
    pub id: String,
    pub name: String,
    /// Agents who may work this inbox (besides admins). With `teams`
    /// empty too, every agent may.
    #[serde(default)]
    pub agents: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ForwardedSender {
    /// Attribute a forwarded message to the customer who wrote it.
    #[default]
    Original,
    /// Attribute it to the team member who forwarded it.
    Forwarder,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmailChannel {
    pub id: String,
    pub inbox: String,
    pub address: String,
    #[serde(default)]
    pub receive_addresses: Vec<String>,
    #[serde(default)]
    pub forwarders: Vec<String>,
    #[serde(default)]
    pub forwarded_sender: ForwardedSender,
    /// The display name on mail sent from this channel.
    pub sender_name: Option<String>,
    /// Appended to replies sent from this channel.
    pub signature: Option<String>,
}

/// One `[[channels]]` entry; `kind` picks the shape.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RawChannel {
    Email(RawEmailChannel),
}
