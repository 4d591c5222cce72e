//! Website chat channels (`kind = "chat"`): the widget the daemon serves
//! (`/widget.js`) and its visitor socket (`/ws/chat`). Their validated
//! settings: branding, greeting and instant reply, office hours in an IANA
//! time zone, availability, when to ask for an email address, consent, the
//! sites allowed to embed the widget, the identity-verification secret,
//! the email fallback for replies a visitor did not see, and the limits per
//! client address (`chat_limits`).

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::chat_limits::{self, PerAddress, RawPerAddress};
use super::raw::{Consent, RawRouting, RawTickets};
use super::secret::{self, Secret};
use super::workspace::{Channel, ChannelKind};

/// When the widget asks the visitor for an email address.
#[derive(Debug, Deserialize, Serialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AskEmail {
    Never,
    /// When nobody is available (outside office hours, everyone away).
    #[default]
    WhenAway,
    Always,
}

/// One `[[channels]]` entry with `kind = "chat"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChatChannel {
    pub id: String,
    pub inbox: String,
    /// Shown in the widget's header (default: the inbox name).
    pub team_name: Option<String>,
    /// The launcher's and header's colour, `#rrggbb`.
    pub color: Option<String>,
    pub avatar_url: Option<String>,
    /// Shown when the chat opens.
    pub greeting: Option<String>,
    /// Sent automatically after the visitor's first message.
    pub instant_reply: Option<String>,
    /// Shown while nobody is available.
    pub away_message: Option<String>,
    pub office_hours: Option<RawOfficeHours>,
    /// Away when no agent of the channel's routing (or inbox) is available.
    #[serde(default)]
    pub only_when_available: bool,
    #[serde(default)]
    pub ask_email: AskEmail,
    #[serde(default)]
    pub consent: Consent,
    pub consent_text: Option<String>,
    /// The sites allowed to embed the widget (`https://www.example.org`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The secret sites sign `data-user-email` with (identity verification).
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
    /// How long an agent reply may stay unseen before it is emailed to a
    /// visitor who left an address (default 5; fractions allowed).
    pub email_fallback_minutes: Option<f64>,
    /// The email channel the fallback is sent from (default: an email
    /// channel of the same inbox).
    pub email_channel: Option<String>,
    /// The longest visitor message, in characters (default 4000).
    pub max_message_chars: Option<usize>,
    /// Messages one visitor may send per minute (default 30).
    pub messages_per_minute: Option<u32>,
    /// Reverse proxies whose `X-Forwarded-For` names the visitor's address
    /// (default: loopback).
    pub trusted_proxies: Option<Vec<String>>,
    /// Limits per visitor address (`chat_limits`).
    pub per_address: Option<RawPerAddress>,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}

/// `[channels.office_hours]`: a time zone and per-weekday ranges such as
/// `mon = ["09:00-12:30", "13:30-17:00"]`; a day not listed is closed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOfficeHours {
    pub time_zone: String,
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
}

/// Opening hours in one time zone; minutes since midnight, end exclusive.
#[derive(Debug, Clone)]
pub struct OfficeHours {
    pub zone: jiff::tz::TimeZone,
    pub zone_name: String,
    /// Monday first.
    pub days: [Vec<(u16, u16)>; 7],
}

impl OfficeHours {
    /// Whether `at` (ms since the epoch) falls inside the opening hours.
    pub fn is_open(&self, at: i64) -> bool {
        let Ok(timestamp) = jiff::Timestamp::from_millisecond(at) else {
            return false;
        };
        let local = timestamp.to_zoned(self.zone.clone());
        let day = local.weekday().to_monday_zero_offset() as usize;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.days[day]
            .iter()
            .any(|&(start, end)| minute >= start && minute < end)
    }
}

#[derive(Debug, Clone)]
pub struct ChatChannel {
    pub team_name: String,
    pub color: String,
    pub avatar_url: Option<String>,
    pub greeting: Option<String>,
    pub instant_reply: Option<String>,
    pub away_message: String,
    pub office_hours: Option<OfficeHours>,
    pub only_when_available: bool,
    pub ask_email: AskEmail,
    pub consent: Consent,
    pub consent_text: Option<String>,
    /// Normalised `scheme://host[:port]`, lower case.
    pub allowed_origins: Vec<String>,
    pub identity_secret: Option<Secret>,
    pub email_fallback: Duration,
    pub email_channel: Option<String>,
    pub max_message_chars: usize,
    pub messages_per_minute: u32,
    /// Whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    pub per_address: PerAddress,
    /// Where the channel sits in the file, for cross-reference errors.
    config_path: String,
}

impl ChatChannel {
    /// Whether a page at `origin` may embed this channel's widget.
    pub fn allows_origin(&self, origin: &str) -> bool {
        normalize_origin(origin).is_some_and(|o| self.allowed_origins.contains(&o))
    }
}

pub const DEFAULT_COLOR: &str = "#2563eb";
pub const DEFAULT_AWAY: &str =
    "We're away right now. Leave us a message and we'll get back to you.";
const DEFAULT_FALLBACK_MINUTES: f64 = 5.0;
const DEFAULT_MAX_CHARS: usize = 4000;
const DEFAULT_PER_MINUTE: u32 = 30;
/// The longest message a visitor socket reads at all (see `channels::chat`).
pub const MAX_CHARS_LIMIT: usize = 16_000;

type Found = Vec<(String, String)>;

/// Validates one chat channel; every problem goes to `found` with its path.
pub(super) fn chat(
    raw: &RawChatChannel,
    inbox_name: Option<&str>,
    path: &str,
    base: &Path,
    found: &mut Found,
) -> Option<ChatChannel> {
    let before = found.len();
    let bad = |key: &str, message: String, found: &mut Found| {
        found.push((format!("{path}.{key}"), message));
    };
    let color = raw.color.clone().unwrap_or_else(|| DEFAULT_COLOR.into());
    let hex = color.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        bad(
            "color",
            format!("\"{color}\" is not a colour such as #2563eb"),
            found,
        );
    }
    if let Some(url) = &raw.avatar_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            bad(
                "avatar_url",
                "must be an http:// or https:// URL".into(),
                found,
            );
        }
    }
    if raw.consent != Consent::None && raw.consent_text.as_deref().is_none_or(str::is_empty) {
        bad(
            "consent_text",
            "required when consent is implied or explicit".into(),
            found,
        );
    }
    let mut allowed_origins = Vec::new();
    if raw.allowed_origins.is_empty() {
        bad(
            "allowed_origins",
            "list the sites that embed the widget, e.g. [\"https://www.example.org\"]".into(),
            found,
        );
    }
    for (i, origin) in raw.allowed_origins.iter().enumerate() {
        match normalize_origin(origin) {
            Some(o) => allowed_origins.push(o),
            None => bad(
                &format!("allowed_origins[{i}]"),
                format!("\"{origin}\" is not an origin such as https://www.example.org"),
                found,
            ),
        }
    }
    let identity_secret = if raw.secret_file.is_some() || raw.secret_env.is_some() {
        let secret = secret::load(
            raw.secret_file.as_deref(),
            raw.secret_env.as_deref(),
            base,
            path,
            "secret",
            found,
        );
        secret
    } else {
        None
    };
    let minutes = raw
        .email_fallback_minutes
        .unwrap_or(DEFAULT_FALLBACK_MINUTES);
    if !minutes.is_finite() || minutes <= 0.0 || minutes > 7.0 * 24.0 * 60.0 {
        bad(
            "email_fallback_minutes",
            "must be more than 0 and at most a week (10080)".into(),
            found,
        );
    }
    let max_message_chars = raw.max_message_chars.unwrap_or(DEFAULT_MAX_CHARS);
    if max_message_chars == 0 || max_message_chars > MAX_CHARS_LIMIT {
        bad(
            "max_message_chars",
            format!("must be between 1 and {MAX_CHARS_LIMIT}"),
            found,
        );
    }
    let messages_per_minute = raw.messages_per_minute.unwrap_or(DEFAULT_PER_MINUTE);
    if messages_per_minute == 0 {
        bad("messages_per_minute", "must be at least 1".into(), found);
    }
    let trusted_proxies = chat_limits::trusted_proxies(raw.trusted_proxies.as_deref(), path, found);
    let per_address = chat_limits::per_address(raw.per_address.as_ref(), path, found);
    let office_hours = raw
        .office_hours
        .as_ref()
        .and_then(|hours| office_hours(hours, &format!("{path}.office_hours"), found));
    if found.len() > before {
        return None;
    }
    Some(ChatChannel {
        team_name: raw
            .team_name
            .clone()
            .or(inbox_name.map(str::to_string))
            .unwrap_or_else(|| raw.id.clone()),
        color: color.to_ascii_lowercase(),
        avatar_url: raw.avatar_url.clone(),
        greeting: raw.greeting.clone(),
        instant_reply: raw.instant_reply.clone(),
        away_message: raw
            .away_message
            .clone()
            .unwrap_or_else(|| DEFAULT_AWAY.into()),
        office_hours,
        only_when_available: raw.only_when_available,
        ask_email: raw.ask_email,
        consent: raw.consent,
        consent_text: raw.consent_text.clone(),
        allowed_origins,
        identity_secret,
        email_fallback: Duration::from_secs_f64(minutes * 60.0),
        email_channel: raw.email_channel.clone(),
        max_message_chars,
        messages_per_minute,
        trusted_proxies,
        per_address,
        config_path: path.to_string(),
    })
}

fn office_hours(raw: &RawOfficeHours, path: &str, found: &mut Found) -> Option<OfficeHours> {
    let zone = match jiff::tz::TimeZone::get(&raw.time_zone) {
        Ok(zone) => Some(zone),
        Err(error) => {
            found.push((
                format!("{path}.time_zone"),
                format!(
                    "\"{}\" is not an IANA time zone such as Europe/Berlin: {error}",
                    raw.time_zone
                ),
            ));
            None
        }
    };
    let mut days: [Vec<(u16, u16)>; 7] = Default::default();
    let mut ok = true;
    let lists = [
        ("mon", &raw.mon),
        ("tue", &raw.tue),
        ("wed", &raw.wed),
        ("thu", &raw.thu),
        ("fri", &raw.fri),
        ("sat", &raw.sat),
        ("sun", &raw.sun),
    ];
    for (day, (name, ranges)) in lists.into_iter().enumerate() {
        for (i, text) in ranges.iter().enumerate() {
            match range(text) {
                Some(r) => days[day].push(r),
                None => {
                    ok = false;
                    found.push((
                        format!("{path}.{name}[{i}]"),
                        format!("\"{text}\" is not a range such as \"09:00-17:30\""),
                    ));
                }
            }
        }
    }
    Some(OfficeHours {
        zone: zone?,
        zone_name: raw.time_zone.clone(),
        days,
    })
    .filter(|_| ok)
}

/// `"09:00-17:30"` -> minutes since midnight; `24:00` ends a day.
fn range(text: &str) -> Option<(u16, u16)> {
    let (start, end) = text.trim().split_once('-')?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (minutes(start)?, minutes(end)?);
    (start < end).then_some((start, end))
}

/// `https://Example.org:443/` -> `https://example.org`; `None` unless it is
/// an http(s) origin (scheme, host, optional port, nothing else).
pub fn normalize_origin(text: &str) -> Option<String> {
    let url = reqwest::Url::parse(text.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !(url.path() == "/" || url.path().is_empty())
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return None;
    }
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Checks every chat channel's `email_channel` against the other channels.
pub(super) fn check_email_channels(channels: &[Channel], found: &mut Found) {
    for channel in channels {
        let ChannelKind::Chat(chat) = &channel.kind else {
            continue;
        };
        let Some(name) = &chat.email_channel else {
            continue;
        };
        let is_email = channels
            .iter()
            .any(|c| &c.id == name && matches!(c.kind, ChannelKind::Email(_)));
        if !is_email {
            found.push((
                format!("{}.email_channel", chat.config_path),
                format!("no email channel \"{name}\""),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChannelKind;

    const BASE: &str = r#"
        [[channels]]
        id = "mail"
        inbox = "support"
        kind = "email"
        address = "support@example.com"
        [[channels]]
        id = "web"
        inbox = "support"
        kind = "chat"
    "#;

    fn parse(extra: &str) -> Result<crate::config::Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chat-secret"), "s3cret\n").unwrap();
        crate::config::parse(
            &format!("{}{BASE}{extra}", crate::config::TEST_WORKSPACE),
            dir.path(),
        )
        .map_err(|e| e.problems().join("\n"))
    }

    fn chat(config: &crate::config::Config) -> ChatChannel {
        match &config.workspace.channel("web").unwrap().kind {
            ChannelKind::Chat(chat) => (**chat).clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_chat_channel_is_validated_into_its_settings() {
        let config = parse(
            r##"
        color = "#FF5500"
        greeting = "Hi!"
        allowed_origins = ["https://WWW.Example.org/", "http://127.0.0.1:8080"]
        secret_file = "chat-secret"
        email_fallback_minutes = 0.5
        email_channel = "mail"
        consent = "explicit"
        consent_text = "We store what you write."
        ask_email = "always"
        trusted_proxies = ["10.0.0.1"]
        [channels.office_hours]
        time_zone = "Europe/Berlin"
        mon = ["09:00-12:00", "13:00-17:00"]
        sat = ["10:00-24:00"]
        [channels.per_address]
        max_sockets = 3
        "##,
        )
        .unwrap();
        let chat = chat(&config);
        assert_eq!(chat.team_name, "Support");
        assert_eq!(chat.color, "#ff5500");
        assert_eq!(
            chat.allowed_origins,
            ["https://www.example.org", "http://127.0.0.1:8080"]
        );
        assert!(chat.allows_origin("https://www.example.org"));
        assert!(!chat.allows_origin("https://evil.example.org"));
        assert_eq!(chat.identity_secret.unwrap().expose(), "s3cret");
        assert_eq!(chat.email_fallback, Duration::from_secs(30));
        assert_eq!(chat.ask_email, AskEmail::Always);
        assert_eq!(chat.away_message, DEFAULT_AWAY);
        assert_eq!(
            chat.trusted_proxies,
            ["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(chat.per_address.max_sockets, 3);
        assert_eq!(
            chat.per_address.messages_per_minute,
            chat_limits::DEFAULT_PER_ADDRESS.messages_per_minute
        );
        let hours = chat.office_hours.unwrap();
        assert_eq!(hours.days[0], [(540, 720), (780, 1020)]);
        assert_eq!(hours.days[5], [(600, 1440)]);
    }

    #[test]
    fn office_hours_follow_the_named_zone() {
        let config = parse(
            r#"
        allowed_origins = ["https://example.org"]
        [channels.office_hours]
        time_zone = "America/New_York"
        mon = ["09:00-17:00"]
        "#,
        )
        .unwrap();
        let hours = chat(&config).office_hours.unwrap();
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        // Monday 2026-01-05, 09:30 in New York (EST, UTC-5) is 14:30 UTC.
        assert!(hours.is_open(at("2026-01-05T14:30:00Z")));
        // 09:30 UTC is 04:30 in New York: closed, though open in UTC terms.
        assert!(!hours.is_open(at("2026-01-05T09:30:00Z")));
        // Summer time (EDT, UTC-4): Monday 2026-07-06 16:59 local = 20:59 UTC.
        assert!(hours.is_open(at("2026-07-06T20:59:00Z")));
        assert!(!hours.is_open(at("2026-07-06T21:00:00Z")));
        // Tuesday: closed all day.
        assert!(!hours.is_open(at("2026-01-06T15:00:00Z")));
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let errors = parse(
            r#"
        color = "blue"
        consent = "explicit"
        allowed_origins = ["example.org", "https://ok.example/path"]
        email_fallback_minutes = 0
        email_channel = "nope"
        max_message_chars = 0
        secret_file = "missing-file"
        [channels.office_hours]
        time_zone = "Mars/Olympus"
        tue = ["17:00-09:00"]
        "#,
        )
        .unwrap_err();
        for expected in [
            "channels[1].color: \"blue\" is not a colour",
            "channels[1].consent_text: required",
            "channels[1].allowed_origins[0]: \"example.org\" is not an origin",
            "channels[1].allowed_origins[1]:",
            "channels[1].email_fallback_minutes: must be more than 0",
            "channels[1].max_message_chars: must be between",
            "channels[1].secret_file: cannot read",
            "channels[1].office_hours.time_zone: \"Mars/Olympus\" is not an IANA time zone",
            "channels[1].office_hours.tue[0]: \"17:00-09:00\" is not a range",
        ] {
            assert!(errors.contains(expected), "{expected} in:\n{errors}");
        }
        let errors = parse("allowed_origins = [\"https://a.example\"]\nemail_channel = \"web\"\n")
            .unwrap_err();
        assert!(
            errors.contains("channels[1].email_channel: no email channel \"web\""),
            "{errors}"
        );
        let errors = parse(
            "allowed_origins = [\"https://a.example\"]\ntrusted_proxies = [\"nginx\"]\n\
             [channels.per_address]\nmax_sockets = 0\nmessages_per_minute = 1000000\n",
        )
        .unwrap_err();
        for expected in [
            "channels[1].trusted_proxies[0]: \"nginx\" is not an IP address",
            "channels[1].per_address.max_sockets: must be between 1 and 50000 (got 0)",
            "channels[1].per_address.messages_per_minute: must be between 1 and 100000",
        ] {
            assert!(errors.contains(expected), "{expected} in:\n{errors}");
        }
        let errors = parse(
            "allowed_origins = [\"https://a.example\"]\n[channels.per_address]\nsockets = 3\n",
        )
        .unwrap_err();
        assert!(errors.contains("sockets"), "{errors}");
        let errors = parse("").unwrap_err();
        assert!(errors.contains("channels[1].allowed_origins: list the sites"));
        let errors = parse("allowed_origins = [\"https://a.example\"]\nwelcome = 1\n").unwrap_err();
        assert!(errors.contains("welcome"), "{errors}");
    }
}
