//! Turns config text into a validated `Config`, collecting every problem
//! (syntax, unknown keys, wrong types, dangling references, duplicates) with
//! its TOML key path instead of stopping at the first.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::calls;
use super::chat;
use super::custom;
use super::delivery;
use super::form;
use super::meta;
use super::metrics;
use super::raw::*;
use super::routing::{self, Pipeline, RoutingSettings};
use super::sms;
use super::workspace::*;
use super::{Config, SmtpSettings, StorageSettings, TlsFiles};
use crate::email_address;

const DEFAULT_MAX_MESSAGE_BYTES: u64 = 25 * 1024 * 1024;
const DEFAULT_MAX_RECIPIENTS: usize = 100;
const DEFAULT_MAX_SESSIONS: usize = 500;
const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 300;
const DEFAULT_SESSION_TIMEOUT_SECS: u64 = 1800;

const SECTIONS: [&str; 13] = [
    "storage",
    "smtp",
    "http",
    "metrics",
    "outbound_smtp",
    "outbox",
    "routing",
    "limits",
    "pipelines",
    "teams",
    "agents",
    "inboxes",
    "channels",
];

/// Collects problems while the config is read.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, path: impl AsRef<str>, message: impl AsRef<str>) {
        self.0
            .push(format!("{}: {}", path.as_ref(), message.as_ref()));
    }
}

fn decode<T: DeserializeOwned>(
    value: toml::Value,
    path: &str,
    problems: &mut Problems,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(decoded) => Some(decoded),
        Err(error) => {
            let inner = error.path().to_string();
            let full = if inner == "." || inner.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            };
            problems.add(full, error.into_inner().to_string());
            None
        }
    }
}

fn decode_list<T: DeserializeOwned>(
    table: &mut toml::Table,
    key: &str,
    problems: &mut Problems,
) -> Vec<T> {
    match table.remove(key) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| decode(item, &format!("{key}[{i}]"), problems))
            .collect(),
        Some(_) => {
            problems.add(key, "expected an array of tables ([[{key}]])");
            Vec::new()
        }
    }
}

pub(super) fn validate(text: &str, base: &Path) -> Result<Config, Vec<String>> {
    let mut problems = Problems::default();
    let mut table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(error) => return Err(vec![format!("syntax: {}", error.to_string().trim())]),
    };
    for key in table.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            problems.add(
                key,
                format!("unknown key, expected one of {}", SECTIONS.join(", ")),
            );
        }
    }
    let storage: Option<RawStorage> = match table.remove("storage") {
        Some(value) => decode(value, "storage", &mut problems),
        None => {
            problems.add("storage", "missing section [storage] with `path`");
            None
        }
    };
    let smtp: Option<RawSmtp> = table
        .remove("smtp")
        .and_then(|v| decode(v, "smtp", &mut problems));
    let http: Option<RawHttp> = match table.remove("http") {
        Some(value) => decode(value, "http", &mut problems),
        None => {
            problems.add("http", "missing section [http] with `listen`");
            None
        }
    };
    let outbound_smtp: Option<RawOutboundSmtp> = table
        .remove("outbound_smtp")
        .and_then(|v| decode(v, "outbound_smtp", &mut problems));
    let outbox: RawOutbox = table
        .remove("outbox")
        .and_then(|v| decode(v, "outbox", &mut problems))
        .unwrap_or_default();
    let raw_metrics: RawMetrics = table
        .remove("metrics")
        .and_then(|v| decode(v, "metrics", &mut problems))
        .unwrap_or_default();
    let teams: Vec<RawTeam> = decode_list(&mut table, "teams", &mut problems);
    let agents: Vec<RawAgent> = decode_list(&mut table, "agents", &mut problems);
    let inboxes: Vec<RawInbox> = decode_list(&mut table, "inboxes", &mut problems);
    let channels: Vec<RawChannel> = decode_list(&mut table, "channels", &mut problems);
    let raw_pipelines: Vec<RawPipeline> = decode_list(&mut table, "pipelines", &mut problems);
    let limits: RawLimits = table
        .remove("limits")
        .and_then(|v| decode(v, "limits", &mut problems))
        .unwrap_or_default();
    let routing_settings: RawRoutingSettings = table
        .remove("routing")
        .and_then(|v| decode(v, "routing", &mut problems))
        .unwrap_or_default();
    let defaults = RoutingSettings::default();
    let routing_settings = RoutingSettings {
        away_after: routing_settings
            .away_after_minutes
            .map(|m| Duration::from_secs(m * 60))
            .unwrap_or(defaults.away_after),
        max_tickets_per_contact: limits
            .max_tickets_per_contact
            .unwrap_or(defaults.max_tickets_per_contact),
    };
    let mut found = Vec::new();
    let pipelines = routing::pipelines(raw_pipelines, &mut found);

    let mut warnings = Vec::new();
    let workspace = build_workspace(
        (teams, agents, inboxes, channels),
        (pipelines, routing_settings),
        base,
        &mut problems,
        &mut found,
        &mut warnings,
    );
    for (path, message) in found {
        problems.add(path, message);
    }
    let smtp = smtp.and_then(|s| smtp_settings(s, base, &mut problems));
    let largest_message = smtp.as_ref().map(|s| s.max_message_bytes);
    let storage = storage.map(|s| StorageSettings {
        path: base.join(s.path),
        cache_bytes: storage_cache_bytes(s.cache_mib, &mut problems),
        event_retention: event_retention(s.event_retention_days, &mut problems),
        min_free_bytes: storage_min_free_bytes(s.min_free_mib, largest_message, &mut problems),
    });
    let mut delivery_problems = Vec::new();
    let hostname = smtp
        .as_ref()
        .map(|s| s.hostname.clone())
        .unwrap_or_else(|| "switchboard.localhost".to_string());
    let outbound_smtp = outbound_smtp
        .and_then(|r| delivery::relay_settings(r, &hostname, base, &mut delivery_problems));
    let outbox = delivery::outbox_settings(outbox, &mut delivery_problems);
    let metrics =
        metrics::metrics_settings(raw_metrics, base, &mut delivery_problems, &mut warnings);
    for (path, message) in delivery_problems {
        problems.add(path, message);
    }
    let mut listener_problems = Vec::new();
    let http = http.and_then(|h| super::listeners::http_settings(h, &mut listener_problems));
    for (path, message) in listener_problems {
        problems.add(path, message);
    }

    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    match (storage, http) {
        (Some(storage), Some(http)) => Ok(Config {
            storage,
            smtp,
            http,
            outbound_smtp,
            outbox,
            metrics,
            workspace,
            warnings,
        }),
        _ => Err(vec!["config is incomplete".to_string()]),
    }
}

fn parse_addr(text: &str, path: &str, problems: &mut Problems) -> Option<SocketAddr> {
    match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.add(
                path,
                format!("\"{text}\" is not an IP address and port (e.g. 127.0.0.1:2525)"),
            );
            None
        }
    }
}

fn smtp_settings(raw: RawSmtp, base: &Path, problems: &mut Problems) -> Option<SmtpSettings> {
    let listen = parse_addr(&raw.listen, "smtp.listen", problems);
    if raw.hostname.trim().is_empty() || raw.hostname.contains(char::is_whitespace) {
        problems.add(
            "smtp.hostname",
            "must be a host name such as mx.example.com",
        );
    }
    let tls = match (raw.tls_cert, raw.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: base.join(cert),
            key: base.join(key),
        }),
        (None, None) => None,
        (Some(_), None) => {
            problems.add("smtp.tls_key", "missing: tls_cert and tls_key go together");
            None
        }
        (None, Some(_)) => {
            problems.add("smtp.tls_cert", "missing: tls_cert and tls_key go together");
            None
        }
    };
    let positive = |value: Option<u64>, default: u64, path: &str, problems: &mut Problems| {
        let value = value.unwrap_or(default);
        if value == 0 {
            problems.add(path, "must be greater than 0");
        }
        value
    };
    let max_message_bytes = positive(
        raw.max_message_bytes,
        DEFAULT_MAX_MESSAGE_BYTES,
        "smtp.max_message_bytes",
        problems,
    );
    let max_recipients = positive(
        raw.max_recipients.map(|v| v as u64),
        DEFAULT_MAX_RECIPIENTS as u64,
        "smtp.max_recipients",
        problems,
    ) as usize;
    let max_sessions = positive(
        raw.max_sessions.map(|v| v as u64),
        DEFAULT_MAX_SESSIONS as u64,
        "smtp.max_sessions",
        problems,
    ) as usize;
    let idle = positive(
        raw.idle_timeout_secs,
        DEFAULT_IDLE_TIMEOUT_SECS,
        "smtp.idle_timeout_secs",
        problems,
    );
    let session = positive(
        raw.session_timeout_secs,
        DEFAULT_SESSION_TIMEOUT_SECS,
        "smtp.session_timeout_secs",
        problems,
    );
    let mut per_address_problems = Vec::new();
    let max_sessions_per_address = super::listeners::smtp_per_address(
        raw.max_sessions_per_address,
        max_sessions,
        &mut per_address_problems,
    );
    for (path, message) in per_address_problems {
        problems.add(path, message);
    }
    Some(SmtpSettings {
        listen: listen?,
        hostname: raw.hostname,
        max_message_bytes,
        max_recipients,
        max_sessions,
        max_sessions_per_address,
        idle_timeout: Duration::from_secs(idle),
        session_timeout: Duration::from_secs(session),
        tls,
    })
}

fn check_id(id: &str, path: &str, seen: &mut HashSet<String>, what: &str, problems: &mut Problems) {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid {
        problems.add(
            path,
            format!("\"{id}\" is not a valid id (letters, digits, '-', '_', '.')"),
        );
    }
    if !seen.insert(id.to_string()) {
        problems.add(path, format!("duplicate {what} id \"{id}\""));
    }
}

type RawPeople = (Vec<RawTeam>, Vec<RawAgent>, Vec<RawInbox>, Vec<RawChannel>);

fn build_workspace(
    (raw_teams, raw_agents, raw_inboxes, raw_channels): RawPeople,
    (pipelines, routing_settings): (Vec<Pipeline>, RoutingSettings),
    base: &Path,
    problems: &mut Problems,
    found: &mut routing::Found,
    warnings: &mut Vec<String>,
) -> Workspace {
    let mut team_ids = HashSet::new();
    let teams: Vec<Team> = raw_teams
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            check_id(
                &t.id,
                &format!("teams[{i}].id"),
                &mut team_ids,
                "team",
                problems,
            );
            Team {
                id: t.id,
                name: t.name,
            }
        })
        .collect();

    let mut agent_ids = HashSet::new();
    let mut agent_emails = HashSet::new();
    let agents: Vec<Agent> = raw_agents
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            check_id(
                &a.id,
                &format!("agents[{i}].id"),
                &mut agent_ids,
                "agent",
                problems,
            );
            let email = match email_address::normalize(&a.email) {
                Some(email) => email,
                None => {
                    problems.add(
                        format!("agents[{i}].email"),
                        format!("\"{}\" is not an email address", a.email),
                    );
                    a.email.clone()
                }
            };
            if !agent_emails.insert(email.clone()) {
                problems.add(
                    format!("agents[{i}].email"),
                    format!("\"{email}\" is used by another agent"),
                );
            }
            let mut addresses = Vec::new();
            for (j, address) in a.addresses.iter().enumerate() {
                let field = format!("agents[{i}].addresses[{j}]");
                match email_address::normalize(address) {
                    Some(normalized) if agent_emails.insert(normalized.clone()) => {
                        addresses.push(normalized)
                    }
                    Some(normalized) => {
                        problems.add(field, format!("\"{normalized}\" is used by another agent"))
                    }
                    None => problems.add(field, format!("\"{address}\" is not an email address")),
                }
            }
            for (j, team) in a.teams.iter().enumerate() {
                if !team_ids.contains(team) {
                    problems.add(
                        format!("agents[{i}].teams[{j}]"),
                        format!("no team \"{team}\""),
                    );
                }
            }
            Agent {
                id: a.id,
                name: a.name,
                email,
                addresses,
                role: a.role,
                seat: a.seat,
                teams: a.teams,
            }
        })
        .collect();

    let mut inbox_ids = HashSet::new();
    let inboxes: Vec<Inbox> = raw_inboxes
        .into_iter()
        .enumerate()
        .map(|(i, inbox)| {
            check_id(
                &inbox.id,
                &format!("inboxes[{i}].id"),
                &mut inbox_ids,
                "inbox",
                problems,
            );
            for (j, agent) in inbox.agents.iter().enumerate() {
                if !agent_ids.contains(agent) {
                    problems.add(
                        format!("inboxes[{i}].agents[{j}]"),
                        format!("no agent \"{agent}\""),
                    );
                }
            }
            for (j, team) in inbox.teams.iter().enumerate() {
                if !team_ids.contains(team) {
                    problems.add(
                        format!("inboxes[{i}].teams[{j}]"),
                        format!("no team \"{team}\""),
                    );
                }
            }
            Inbox {
                id: inbox.id,
                name: inbox.name,
                agents: inbox.agents,
                teams: inbox.teams,
            }
        })
        .collect();

    let mut channel_ids = HashSet::new();
    let mut addresses = HashSet::new();
    let mut accounts = meta::Accounts::default();
    let mut numbers = calls::Numbers::default();
    let mut channels = Vec::new();
    for (i, raw) in raw_channels.into_iter().enumerate() {
        let path = format!("channels[{i}]");
        let mut raw = raw;
        let (id, inbox, raw_routing, raw_tickets) = match &mut raw {
            RawChannel::Email(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Messenger(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Whatsapp(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Custom(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Sms(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Calls(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Form(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
            RawChannel::Chat(c) => (
                c.id.clone(),
                c.inbox.clone(),
                c.routing.take(),
                c.tickets.take(),
            ),
        };
        let routing = raw_routing.and_then(|rule| {
            let at = format!("{path}.routing");
            routing::routing_rule(rule, &at, &agents, &teams, found, warnings)
        });
        let tickets = raw_tickets.and_then(|rule| {
            let at = format!("{path}.tickets");
            routing::ticket_rule(rule, &at, &pipelines, &agents, found)
        });
        check_id(
            &id,
            &format!("{path}.id"),
            &mut channel_ids,
            "channel",
            problems,
        );
        if !inbox_ids.contains(&inbox) {
            problems.add(format!("{path}.inbox"), format!("no inbox \"{inbox}\""));
        }
        let email = match raw {
            RawChannel::Email(email) => email,
            RawChannel::Messenger(raw) => {
                if let Some(settings) = meta::messenger(&raw, &path, base, &mut accounts, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Messenger(settings),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
            RawChannel::Whatsapp(raw) => {
                if let Some(settings) = meta::whatsapp(&raw, &path, base, &mut accounts, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Whatsapp(settings),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
            RawChannel::Custom(raw) => {
                if let Some(settings) = custom::custom(&raw, &path, base, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Custom(settings),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
            RawChannel::Sms(raw) => {
                if let Some(from) = &raw.from {
                    numbers.claim("sms", "from", from, &path, found);
                }
                if let Some(service) = &raw.messaging_service_sid {
                    numbers.claim("sms", "messaging_service_sid", service, &path, found);
                }
                if let Some(settings) = sms::sms(&raw, &path, base, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Sms(settings),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
            RawChannel::Calls(raw) => {
                numbers.claim("calls", "from", &raw.from, &path, found);
                if let Some(settings) = calls::calls(&raw, &path, base, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Calls(settings),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
            RawChannel::Form(raw) => {
                if let Some(settings) = form::form(raw, &path, base, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Form(Box::new(settings)),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
            RawChannel::Chat(raw) => {
                let inbox_name = inboxes
                    .iter()
                    .find(|i| i.id == inbox)
                    .map(|i| i.name.as_str());
                if let Some(settings) = chat::chat(&raw, inbox_name, &path, base, found) {
                    channels.push(Channel {
                        id,
                        inbox,
                        kind: ChannelKind::Chat(Box::new(settings)),
                        routing,
                        tickets,
                    });
                }
                continue;
            }
        };
        let mut address_at = |text: &str, key: String, problems: &mut Problems| -> String {
            match email_address::normalize(text) {
                Some(normalized) => {
                    if !addresses.insert(normalized.clone()) {
                        problems.add(
                            &key,
                            format!("\"{normalized}\" already delivers to another channel"),
                        );
                    }
                    normalized
                }
                None => {
                    problems.add(&key, format!("\"{text}\" is not an email address"));
                    text.to_string()
                }
            }
        };
        let address = address_at(&email.address, format!("{path}.address"), problems);
        let from_address = match &email.from_address {
            Some(text) => email_address::normalize(text).unwrap_or_else(|| {
                problems.add(
                    format!("{path}.from_address"),
                    format!("\"{text}\" is not an email address"),
                );
                text.clone()
            }),
            None => address.clone(),
        };
        let company_name = email.company_name.clone().unwrap_or_else(|| {
            inboxes
                .iter()
                .find(|candidate| candidate.id == inbox)
                .map(|inbox| inbox.name.clone())
                .unwrap_or_default()
        });
        let receive_addresses = email
            .receive_addresses
            .iter()
            .enumerate()
            .map(|(j, a)| address_at(a, format!("{path}.receive_addresses[{j}]"), problems))
            .collect();
        let forwarders = email
            .forwarders
            .iter()
            .enumerate()
            .filter_map(|(j, a)| {
                let normalized = email_address::normalize(a);
                if normalized.is_none() {
                    problems.add(
                        format!("{path}.forwarders[{j}]"),
                        format!("\"{a}\" is not an email address"),
                    );
                }
                normalized
            })
            .collect();
        channels.push(Channel {
            id,
            inbox,
            kind: ChannelKind::Email(EmailChannel {
                address,
                receive_addresses,
                forwarders,
                forwarded_sender: email.forwarded_sender,
                sender_name: email.sender_name,
                company_name,
                from_address,
                signature: email.signature,
                signature_html: email.signature_html,
            }),
            routing,
            tickets,
        });
    }
    form::link_reply_channels(&mut channels, found, warnings);
    chat::check_email_channels(&channels, found);
    for inbox in &inboxes {
        if !channels.iter().any(|c| c.inbox == inbox.id) {
            warnings.push(format!("inbox \"{}\" has no channel yet", inbox.id));
        }
    }
    for agent in &agents {
        if !agent.seat {
            warnings.push(format!(
                "agent \"{}\" holds no seat and is never assigned conversations",
                agent.id
            ));
        }
    }
    Workspace::new(
        teams,
        agents,
        inboxes,
        channels,
        pipelines,
        routing_settings,
    )
}

/// `[storage] event_retention_days`: 1 to 3650 days, 30 when not set.
fn event_retention(days: Option<u32>, problems: &mut Problems) -> Duration {
    let days = match days {
        None => 30,
        Some(days @ 1..=3650) => days,
        Some(_) => {
            problems.add("storage.event_retention_days", "must be between 1 and 3650");
            30
        }
    };
    Duration::from_secs(u64::from(days) * 24 * 3600)
}

/// `[storage] cache_mib`: 4 MiB to 64 GiB, else the store's default.
fn storage_cache_bytes(cache_mib: Option<u64>, problems: &mut Problems) -> u64 {
    match cache_mib {
        None => crate::store::DEFAULT_CACHE_BYTES,
        Some(mib @ 4..=65_536) => mib * 1024 * 1024,
        Some(_) => {
            problems.add("storage.cache_mib", "must be between 4 and 65536");
            crate::store::DEFAULT_CACHE_BYTES
        }
    }
}

/// The reserve when `[storage] min_free_mib` is not set: 256 MiB, or four
/// of the largest mails SMTP accepts when that is more (a mail is stored at
/// up to about twice its size, raw and decoded, and several are written at
/// once).
const DEFAULT_MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;

/// `[storage] min_free_mib`: 0 (no reserve) or at least twice the largest
/// mail SMTP accepts, so that the mail being written always fits; default
/// the larger of 256 MiB and 4 × `smtp.max_message_bytes`.
fn storage_min_free_bytes(
    min_free_mib: Option<u64>,
    largest_message: Option<u64>,
    problems: &mut Problems,
) -> u64 {
    let largest = largest_message.unwrap_or(0);
    match min_free_mib {
        None => DEFAULT_MIN_FREE_BYTES.max(largest.saturating_mul(4)),
        Some(0) => 0,
        Some(mib) if mib > 16 * 1024 * 1024 => {
            problems.add("storage.min_free_mib", "must be at most 16777216 (16 TiB)");
            DEFAULT_MIN_FREE_BYTES
        }
        Some(mib) => {
            let bytes = mib * 1024 * 1024;
            if bytes < largest.saturating_mul(2) {
                problems.add(
                    "storage.min_free_mib",
                    format!(
                        "must be 0 or at least twice smtp.max_message_bytes ({} MiB)",
                        (largest * 2).div_ceil(1024 * 1024)
                    ),
                );
            }
            bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [storage]
        path = "data"
        [smtp]
        listen = "127.0.0.1:2525"
        hostname = "mx.example.test"
        [http]
        listen = "127.0.0.1:8080"
        [[teams]]
        id = "support"
        name = "Support"
        [[agents]]
        id = "alice"
        name = "Alice"
        email = "Alice@Example.com"
        role = "admin"
        teams = ["support"]
        [[inboxes]]
        id = "support"
        name = "Support"
        [[channels]]
        id = "support-email"
        inbox = "support"
        kind = "email"
        address = "Support@Example.com"
    "#;

    #[test]
    fn accepts_a_good_config() {
        let config = validate(GOOD, Path::new("/etc/switchboard")).unwrap();
        assert_eq!(config.storage.path, Path::new("/etc/switchboard/data"));
        let smtp = config.smtp.unwrap();
        assert_eq!(smtp.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
        let channel = config
            .workspace
            .email_channel_for("support+x@EXAMPLE.com")
            .unwrap();
        assert_eq!(channel.id, "support-email");
        assert!(config
            .workspace
            .email_channel_for("sales@example.com")
            .is_none());
        assert!(config.workspace.is_agent_address("alice@example.COM"));
    }

    #[test]
    fn lists_every_error_with_its_path() {
        let text = GOOD
            .replace("inbox = \"support\"", "inbox = \"sales\"")
            .replace(
                "teams = [\"support\"]",
                "teams = [\"nobody\"]\n        colour = \"red\"",
            )
            .replace("listen = \"127.0.0.1:8080\"", "listen = \"nowhere\"");
        let errors = validate(&text, Path::new(".")).unwrap_err();
        let joined = errors.join("\n");
        assert!(
            joined.contains("channels[0].inbox: no inbox \"sales\""),
            "{joined}"
        );
        assert!(joined.contains("agents[0]"), "{joined}");
        assert!(joined.contains("colour"), "{joined}");
        assert!(joined.contains("http.listen"), "{joined}");
    }

    /// `GOOD` with `line` added to its `[storage]` section.
    fn with_storage(line: &str) -> String {
        GOOD.replace(
            "path = \"data\"",
            &format!("path = \"data\"\n        {line}"),
        )
    }

    #[test]
    fn the_store_cache_and_event_retention_default_and_are_bounded() {
        let config = validate(GOOD, Path::new(".")).unwrap();
        assert_eq!(
            config.storage.cache_bytes,
            crate::store::DEFAULT_CACHE_BYTES
        );
        let day = Duration::from_secs(86_400);
        assert_eq!(config.storage.event_retention, 30 * day);
        let config = validate(&with_storage("cache_mib = 16"), Path::new(".")).unwrap();
        assert_eq!(config.storage.cache_bytes, 16 * 1024 * 1024);
        let config = validate(&with_storage("event_retention_days = 7"), Path::new(".")).unwrap();
        assert_eq!(config.storage.event_retention, 7 * day);
        let mib = 1024 * 1024;
        // The reserve: 256 MiB, more for large mail, 0 turns it off.
        assert_eq!(config.storage.min_free_bytes, 256 * mib);
        let big_mail = GOOD.replace(
            "hostname = \"mx.example.test\"",
            "hostname = \"mx.example.test\"\nmax_message_bytes = 104857600",
        );
        let config = validate(&big_mail, Path::new(".")).unwrap();
        assert_eq!(config.storage.min_free_bytes, 400 * mib);
        let config = validate(&with_storage("min_free_mib = 0"), Path::new(".")).unwrap();
        assert_eq!(config.storage.min_free_bytes, 0);
        let config = validate(&with_storage("min_free_mib = 64"), Path::new(".")).unwrap();
        assert_eq!(config.storage.min_free_bytes, 64 * mib);
        for (bad, key) in [
            // Less than twice the default 25 MiB mail.
            ("min_free_mib = 49", "storage.min_free_mib"),
            ("cache_mib = 0", "storage.cache_mib"),
            ("cache_mib = 3", "storage.cache_mib"),
            ("cache_mib = 65537", "storage.cache_mib"),
            ("event_retention_days = 0", "storage.event_retention_days"),
            (
                "event_retention_days = 3651",
                "storage.event_retention_days",
            ),
        ] {
            let errors = validate(&with_storage(bad), Path::new(".")).unwrap_err();
            assert!(
                errors.iter().any(|e| e.starts_with(key)),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn unknown_channel_kind_is_named() {
        let text = GOOD.replace("kind = \"email\"", "kind = \"pigeon\"");
        let errors = validate(&text, Path::new(".")).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("channels[0]") && e.contains("pigeon")),
            "{errors:?}"
        );
    }

    #[test]
    fn duplicate_addresses_are_refused() {
        let text = format!(
            "{GOOD}\n[[channels]]\nid = \"other\"\ninbox = \"support\"\nkind = \"email\"\naddress = \"support@example.com\"\n"
        );
        let errors = validate(&text, Path::new(".")).unwrap_err();
        assert!(
            errors.iter().any(|e| e.starts_with("channels[1].address")),
            "{errors:?}"
        );
    }
}
