//! The config file as written: serde structs that reject unknown keys.
//! `validate` turns them into the runtime `Config`.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub path: String,
    pub cache_mib: Option<u64>,
    pub event_retention_days: Option<u32>,
    pub min_free_mib: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub listen: String,
    pub hostname: String,
    pub max_message_bytes: Option<u64>,
    pub max_recipients: Option<usize>,
    pub max_sessions: Option<usize>,
    pub max_sessions_per_address: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub session_timeout_secs: Option<u64>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: String,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub header_read_timeout_secs: Option<u64>,
}

/// `[metrics]`: who may scrape `GET /metrics`, and where.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// A separate address serving only `/metrics`.
    pub listen: Option<String>,
    /// A file or environment variable holding the scrape bearer token.
    pub token_file: Option<String>,
    pub token_env: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RelayTls {
    /// Implicit TLS from the first byte (usually port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (587).
    Starttls,
    /// No encryption: only for a relay on the same host.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutboundSmtp {
    pub host: String,
    pub port: Option<u16>,
    pub tls: RelayTls,
    pub username: Option<String>,
    /// A file holding the password (first line, trailing newline ignored).
    pub password_file: Option<String>,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOutbox {
    pub max_attempts: Option<u32>,
    pub initial_backoff_ms: Option<u64>,
    pub max_backoff_ms: Option<u64>,
    pub concurrency: Option<usize>,
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
    /// Other addresses the agent writes from (a second mailbox, an old
    /// address): their mail is recognised as theirs, like `email`.
    #[serde(default)]
    pub addresses: Vec<String>,
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
    /// How the From display name of replies is built.
    #[serde(default)]
    pub sender_name: SenderName,
    /// The company in the From name; defaults to the inbox name.
    pub company_name: Option<String>,
    /// The From address of replies; defaults to `address`.
    pub from_address: Option<String>,
    /// Appended to text replies; `{full_name}`, `{first_name}` and
    /// `{last_name}` are filled from the sending agent.
    pub signature: Option<String>,
    /// Appended to HTML replies, with the same tokens.
    pub signature_html: Option<String>,
    /// Who gets this channel's new conversations.
    pub routing: Option<RawRouting>,
    /// Whether new conversations also open tickets.
    pub tickets: Option<RawTickets>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssignTo {
    /// The named users and the members of the named teams.
    #[default]
    UsersAndTeams,
    /// The contact's owner, else the named users and teams.
    ContactOwner,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    #[serde(default)]
    pub auto_assign: bool,
    #[serde(default)]
    pub assign_to: AssignTo,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default = "yes")]
    pub only_available: bool,
    pub max_open_per_agent: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTickets {
    #[serde(default)]
    pub enabled: bool,
    pub pipeline: String,
    pub stage: Option<String>,
    /// "conversation_owner", "none" or an agent id.
    pub owner: Option<String>,
    pub priority: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub id: String,
    pub name: String,
    pub stages: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_tickets_per_contact: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRoutingSettings {
    pub away_after_minutes: Option<u64>,
}

/// The display name on mail sent from an email channel.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SenderName {
    /// "Alice Doe at Example Inc" for an agent's reply, the company name
    /// for automated mail.
    AgentAndCompany,
    /// The company name alone.
    #[default]
    Company,
}

/// One `[[channels]]` entry; `kind` picks the shape.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RawChannel {
    Email(RawEmailChannel),
    Messenger(RawMessengerChannel),
    Whatsapp(RawWhatsappChannel),
    Custom(RawCustomChannel),
    Sms(RawSmsChannel),
    Calls(super::calls::RawCallsChannel),
    /// A web form (src/config/form.rs).
    Form(super::form::RawFormChannel),
    /// The website chat widget (`config/chat.rs`).
    Chat(Box<super::chat::RawChatChannel>),
}

/// How a messaging channel asks for consent before people are answered.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consent {
    #[default]
    None,
    /// The consent text goes with the first automated message.
    Implied,
    /// The person must agree (a quick reply) before agents get the conversation.
    Explicit,
}

/// A Facebook Page connected through the Messenger Platform.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessengerChannel {
    pub id: String,
    pub inbox: String,
    pub page_id: String,
    pub app_id: String,
    pub app_secret_file: Option<String>,
    pub app_secret_env: Option<String>,
    pub verify_token: String,
    pub page_token_file: Option<String>,
    pub page_token_env: Option<String>,
    pub greeting: Option<String>,
    pub instant_reply: Option<String>,
    #[serde(default)]
    pub consent: Consent,
    pub consent_text: Option<String>,
    #[serde(default)]
    pub human_agent_tag: bool,
    pub graph_base_url: Option<String>,
    pub api_version: Option<String>,
    /// Fetch media links from webhooks even when they point at private,
    /// loopback or link-local addresses (`outbound_fetch`; default false).
    #[serde(default)]
    pub allow_private_targets: bool,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}

/// A WhatsApp Business number connected through the Cloud API.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhatsappChannel {
    pub id: String,
    pub inbox: String,
    pub phone_number_id: String,
    pub app_secret_file: Option<String>,
    pub app_secret_env: Option<String>,
    pub verify_token: String,
    pub access_token_file: Option<String>,
    pub access_token_env: Option<String>,
    pub instant_reply: Option<String>,
    pub graph_base_url: Option<String>,
    pub api_version: Option<String>,
    /// Fetch media links from webhooks even when they point at private,
    /// loopback or link-local addresses (`outbound_fetch`; default false).
    #[serde(default)]
    pub allow_private_targets: bool,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}

/// Any other messaging app, connected through Switchboard's own channel API
/// (docs/custom-channels.md): the integration posts messages in with its
/// token and receives replies on its signed webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomChannel {
    pub id: String,
    pub inbox: String,
    /// The bearer token the integration presents.
    pub inbound_token_file: Option<String>,
    pub inbound_token_env: Option<String>,
    /// Where agents' replies are POSTed.
    pub webhook_url: String,
    /// A `whsec_`-prefixed base64 secret that signs the webhook.
    pub webhook_secret_file: Option<String>,
    pub webhook_secret_env: Option<String>,
    /// How long one webhook request may take (default 15 s).
    pub webhook_timeout_secs: Option<u64>,
    #[serde(default)]
    pub capabilities: RawCapabilities,
    /// Allow a webhook URL that resolves to a private, loopback or
    /// link-local address (an integration on the same host or LAN).
    #[serde(default)]
    pub allow_private_targets: bool,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}

/// What the integration's app can show, so replies are checked before
/// they are queued.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCapabilities {
    /// The longest reply text, in characters; no limit when absent.
    pub max_text_length: Option<usize>,
    /// Whether the app can show attachments.
    #[serde(default)]
    pub attachments: bool,
    /// Whether the app can show HTML (the reply's `html` is sent only then).
    #[serde(default)]
    pub rich_text: bool,
}

/// A Twilio-compatible SMS/MMS number (PROTOCOLS.md 3).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmsChannel {
    pub id: String,
    pub inbox: String,
    /// The `AC…` account the number belongs to.
    pub account_sid: String,
    /// The account's auth token: signs webhooks, authenticates sends.
    pub auth_token_file: Option<String>,
    pub auth_token_env: Option<String>,
    /// The sending number (E.164); or `messaging_service_sid`.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// The exact URL the provider calls (`…/webhooks/{id}`), for signatures.
    pub public_url: String,
    /// The REST API (default `https://api.twilio.com`).
    pub api_base_url: Option<String>,
    /// Fetch media links from webhooks even when they point at private,
    /// loopback or link-local addresses (`outbound_fetch`; default false).
    #[serde(default)]
    pub allow_private_targets: bool,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}
