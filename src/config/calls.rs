//! Phone-call channels (`kind = "calls"`): a voice number on a
//! Twilio-compatible provider (PROTOCOLS.md 4). They take the SMS channel's
//! provider keys (validated by `sms::sms`, so both kinds read alike) plus
//! the agents' phones to ring, how long to ring them, and the voicemail.
//!
//! Also here: the rule that one business number belongs to at most one SMS
//! channel and one calls channel (an SMS channel and a calls channel share
//! it: it is the same number), and which channels of a workspace share a
//! person's timeline.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::raw::{RawRouting, RawSmsChannel, RawTickets};
use super::sms::{self, SmsChannel, SmsSender};
use super::workspace::{Channel, ChannelKind, Workspace};

/// How long agents' phones ring unless configured.
pub const DEFAULT_DIAL_TIMEOUT_SECS: u64 = 20;
/// The longest voicemail unless configured (the provider transcribes
/// recordings up to about two minutes).
pub const DEFAULT_VOICEMAIL_MAX_SECS: u64 = 120;
/// What callers hear when nobody answers, unless configured.
pub const DEFAULT_GREETING: &str =
    "Sorry, nobody can take your call right now. Please leave a message after the tone.";

/// A Twilio-compatible voice number (PROTOCOLS.md 4).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCallsChannel {
    pub id: String,
    pub inbox: String,
    /// The `AC…` account the number belongs to.
    pub account_sid: String,
    /// The account's auth token: signs the provider's webhooks.
    pub auth_token_file: Option<String>,
    pub auth_token_env: Option<String>,
    /// The business number callers dial (E.164).
    pub from: String,
    /// The exact URL the provider calls (`…/webhooks/{id}`), for signatures.
    pub public_url: String,
    /// The REST API (default `https://api.twilio.com`).
    pub api_base_url: Option<String>,
    /// Fetch voicemail recordings even from private, loopback or
    /// link-local addresses (`outbound_fetch`; default false).
    #[serde(default)]
    pub allow_private_targets: bool,
    /// The phones to ring: E.164 numbers or `sip:` addresses.
    #[serde(default)]
    pub agent_numbers: Vec<String>,
    /// How long they ring before the caller gets the voicemail.
    pub dial_timeout_secs: Option<u64>,
    #[serde(default)]
    pub voicemail: RawVoicemail,
    pub routing: Option<RawRouting>,
    pub tickets: Option<RawTickets>,
}

/// `[channels.voicemail]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVoicemail {
    /// Take a message when nobody answers (else the greeting, then hang up).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What the caller hears before the tone.
    pub greeting: Option<String>,
    /// The provider's `<Say voice>` and `language`.
    pub voice: Option<String>,
    pub language: Option<String>,
    /// The longest message, in seconds.
    pub max_length_secs: Option<u64>,
    /// Ask the provider to transcribe the message.
    #[serde(default = "yes")]
    pub transcribe: bool,
}

impl Default for RawVoicemail {
    fn default() -> Self {
        RawVoicemail {
            enabled: true,
            greeting: None,
            voice: None,
            language: None,
            max_length_secs: None,
            transcribe: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// One phone to ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentNumber {
    /// An E.164 number: `<Number>`.
    Phone(String),
    /// A SIP address: `<Sip>`.
    Sip(String),
}

/// The voicemail, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    pub enabled: bool,
    pub greeting: String,
    pub voice: Option<String>,
    pub language: Option<String>,
    pub max_length: Duration,
    pub transcribe: bool,
}

#[derive(Debug, Clone)]
pub struct CallsChannel {
    /// The provider keys, as an SMS channel on the same number has them
    /// (the sender is `From` = the business number). Replies in a
    /// conversation a call started go out as texts through them.
    pub provider: SmsChannel,
    /// The business number, E.164.
    pub number: String,
    pub agent_numbers: Vec<AgentNumber>,
    pub dial_timeout: Duration,
    pub voicemail: Voicemail,
}

type Found = Vec<(String, String)>;

/// Validates one calls channel; every problem goes to `found` with its path.
pub(super) fn calls(
    raw: &RawCallsChannel,
    path: &str,
    base: &Path,
    found: &mut Found,
) -> Option<CallsChannel> {
    let as_sms = RawSmsChannel {
        id: raw.id.clone(),
        inbox: raw.inbox.clone(),
        account_sid: raw.account_sid.clone(),
        auth_token_file: raw.auth_token_file.clone(),
        auth_token_env: raw.auth_token_env.clone(),
        from: Some(raw.from.clone()),
        messaging_service_sid: None,
        public_url: raw.public_url.clone(),
        api_base_url: raw.api_base_url.clone(),
        allow_private_targets: raw.allow_private_targets,
        routing: None,
        tickets: None,
    };
    let provider = sms::sms(&as_sms, path, base, found);
    if raw.agent_numbers.is_empty() {
        found.push((
            format!("{path}.agent_numbers"),
            "missing: list the phones to ring (E.164 numbers or sip: addresses)".into(),
        ));
    }
    let agent_numbers: Vec<AgentNumber> = raw
        .agent_numbers
        .iter()
        .enumerate()
        .filter_map(|(j, text)| {
            let parsed = agent_number(text);
            if parsed.is_none() {
                found.push((
                    format!("{path}.agent_numbers[{j}]"),
                    format!(
                        "\"{text}\" is neither an E.164 number (+14155550100) nor a SIP address (sip:alice@pbx.example.com)"
                    ),
                ));
            }
            parsed
        })
        .collect();
    let dial_timeout = raw.dial_timeout_secs.unwrap_or(DEFAULT_DIAL_TIMEOUT_SECS);
    if !(5..=600).contains(&dial_timeout) {
        found.push((
            format!("{path}.dial_timeout_secs"),
            "must be between 5 and 600 seconds".into(),
        ));
    }
    let voicemail = &raw.voicemail;
    let max_length = voicemail
        .max_length_secs
        .unwrap_or(DEFAULT_VOICEMAIL_MAX_SECS);
    if !(1..=14_400).contains(&max_length) {
        found.push((
            format!("{path}.voicemail.max_length_secs"),
            "must be between 1 and 14400 seconds".into(),
        ));
    }
    let greeting = voicemail
        .greeting
        .as_deref()
        .map(str::trim)
        .unwrap_or(DEFAULT_GREETING);
    if greeting.is_empty() {
        found.push((
            format!("{path}.voicemail.greeting"),
            "must not be empty (leave it out for the default)".into(),
        ));
    }
    let provider = provider?;
    let SmsSender::From(number) = provider.sender.clone() else {
        return None;
    };
    if agent_numbers.len() != raw.agent_numbers.len() || agent_numbers.is_empty() {
        return None;
    }
    Some(CallsChannel {
        provider,
        number,
        agent_numbers,
        dial_timeout: Duration::from_secs(dial_timeout),
        voicemail: Voicemail {
            enabled: voicemail.enabled,
            greeting: greeting.to_string(),
            voice: voicemail.voice.clone().filter(|v| !v.trim().is_empty()),
            language: voicemail.language.clone().filter(|v| !v.trim().is_empty()),
            max_length: Duration::from_secs(max_length),
            transcribe: voicemail.transcribe,
        },
    })
}

/// An E.164 number or a `sip:` address.
fn agent_number(text: &str) -> Option<AgentNumber> {
    let text = text.trim();
    if let Some(digits) = text.strip_prefix('+') {
        let valid = (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
        return valid.then(|| AgentNumber::Phone(text.to_string()));
    }
    let lower = text.to_ascii_lowercase();
    let address = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"))?;
    let (user, host) = address.split_once('@')?;
    let valid = !user.is_empty()
        && !host.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"');
    valid.then(|| AgentNumber::Sip(text.to_string()))
}

/// The business numbers already taken, per channel kind, so that two SMS
/// channels (or two calls channels) cannot claim one number: the
/// provider's webhooks for it can only go to one of them.
#[derive(Default)]
pub(super) struct Numbers(HashMap<(&'static str, String), String>);

impl Numbers {
    /// Claims `number` for a channel of `kind` at `path` (`channels[i]`).
    pub(super) fn claim(
        &mut self,
        kind: &'static str,
        key: &str,
        number: &str,
        path: &str,
        found: &mut Found,
    ) {
        let number = number.trim().to_string();
        if number.is_empty() {
            return;
        }
        match self.0.get(&(kind, number.clone())) {
            Some(first) => found.push((
                format!("{path}.{key}"),
                format!(
                    "\"{number}\" is already used by the {kind} channel at {first}; one number takes one {kind} channel (an sms and a calls channel may share it)"
                ),
            )),
            None => {
                self.0.insert((kind, number), path.to_string());
            }
        }
    }
}

impl Workspace {
    /// The other channels whose conversations a message on `channel`
    /// continues: SMS and calls channels of the same inbox on the same
    /// business number, so that a person's texts and calls are one
    /// timeline. Empty for other kinds.
    pub fn timeline_channels(&self, channel: &Channel) -> Vec<String> {
        let Some(number) = business_number(&channel.kind) else {
            return Vec::new();
        };
        self.channels
            .iter()
            .filter(|other| other.id != channel.id && other.inbox == channel.inbox)
            .filter(|other| business_number(&other.kind) == Some(number))
            .map(|other| other.id.clone())
            .collect()
    }
}

/// The number an SMS or calls channel answers on.
fn business_number(kind: &ChannelKind) -> Option<&str> {
    match kind {
        ChannelKind::Sms(sms) => match &sms.sender {
            SmsSender::From(number) => Some(number),
            SmsSender::MessagingService(_) => None,
        },
        ChannelKind::Calls(calls) => Some(&calls.number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::calls::AgentNumber;
    use crate::config::ChannelKind;

    fn channel(id: &str, kind: &str, from: &str, extra: &str) -> String {
        format!(
            r#"
        [[channels]]
        id = "{id}"
        inbox = "support"
        kind = "{kind}"
        account_sid = "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        auth_token_file = "token"
        from = "{from}"
        public_url = "https://help.example.com/webhooks/{id}"
        {extra}
        "#
        )
    }

    fn parse(channels: &str) -> Result<crate::config::Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "12345\n").unwrap();
        crate::config::parse(
            &format!("{}{channels}", crate::config::TEST_WORKSPACE),
            dir.path(),
        )
        .map_err(|e| e.problems().join("\n"))
    }

    #[test]
    fn a_calls_channel_is_validated_with_its_defaults() {
        let config = parse(&channel(
            "phone",
            "calls",
            "+15005550006",
            r#"agent_numbers = ["+14155550101", "sip:alice@pbx.example.com"]"#,
        ))
        .unwrap();
        let ChannelKind::Calls(calls) = &config.workspace.channel("phone").unwrap().kind else {
            panic!()
        };
        assert_eq!(calls.number, "+15005550006");
        assert_eq!(
            calls.agent_numbers,
            vec![
                AgentNumber::Phone("+14155550101".into()),
                AgentNumber::Sip("sip:alice@pbx.example.com".into())
            ]
        );
        assert_eq!(calls.dial_timeout, Duration::from_secs(20));
        assert!(calls.voicemail.enabled && calls.voicemail.transcribe);
        assert_eq!(calls.voicemail.max_length, Duration::from_secs(120));
        assert_eq!(
            calls.provider.public_url,
            "https://help.example.com/webhooks/phone"
        );
    }

    #[test]
    fn media_links_are_public_only_unless_the_channel_allows_private_ones() {
        let numbers = r#"agent_numbers = ["+14155550101"]"#;
        let config = parse(&format!(
            "{}{}",
            channel("sms", "sms", "+15005550006", "allow_private_targets = true"),
            channel("phone", "calls", "+15005550006", numbers),
        ))
        .unwrap();
        let kind = |id: &str| &config.workspace.channel(id).unwrap().kind;
        let (ChannelKind::Sms(sms), ChannelKind::Calls(calls)) = (kind("sms"), kind("phone"))
        else {
            panic!()
        };
        assert!(sms.allow_private_targets);
        assert!(!calls.provider.allow_private_targets, "false by default");
        let config = parse(&channel(
            "phone",
            "calls",
            "+15005550006",
            &format!("{numbers}\nallow_private_targets = true"),
        ))
        .unwrap();
        let ChannelKind::Calls(calls) = &config.workspace.channel("phone").unwrap().kind else {
            panic!()
        };
        assert!(calls.provider.allow_private_targets);
        let errors = parse(&channel(
            "sms",
            "sms",
            "+15005550006",
            "allow_private_target = true",
        ))
        .unwrap_err();
        assert!(errors.contains("allow_private_target"), "{errors}");
    }

    #[test]
    fn bad_calls_settings_are_named_by_key() {
        let errors = parse(&channel(
            "phone",
            "calls",
            "+15005550006",
            "agent_numbers = [\"555-0101\", \"sip:nohost\"]\ndial_timeout_secs = 1\nvoicemail = { max_length_secs = 0, greeting = \" \" }",
        ))
        .unwrap_err();
        for expected in [
            "channels[0].agent_numbers[0]: \"555-0101\" is neither",
            "channels[0].agent_numbers[1]",
            "channels[0].dial_timeout_secs: must be between 5 and 600",
            "channels[0].voicemail.max_length_secs",
            "channels[0].voicemail.greeting",
        ] {
            assert!(errors.contains(expected), "{expected} in:\n{errors}");
        }
        let errors = parse(&channel("phone", "calls", "+15005550006", "")).unwrap_err();
        assert!(
            errors.contains("channels[0].agent_numbers: missing"),
            "{errors}"
        );
    }

    #[test]
    fn one_number_takes_one_sms_and_one_calls_channel() {
        let agents = r#"agent_numbers = ["+14155550101"]"#;
        let config = parse(&format!(
            "{}{}",
            channel("texts", "sms", "+15005550006", ""),
            channel("phone", "calls", "+15005550006", agents)
        ))
        .unwrap();
        let workspace = &config.workspace;
        let phone = workspace.channel("phone").unwrap();
        assert_eq!(
            workspace.timeline_channels(phone),
            vec!["texts".to_string()]
        );

        let errors = parse(&format!(
            "{}{}{}{}",
            channel("texts", "sms", "+15005550006", ""),
            channel("texts2", "sms", "+15005550006", ""),
            channel("phone", "calls", "+15005550006", agents),
            channel("phone2", "calls", " +15005550006", agents),
        ))
        .unwrap_err();
        assert!(
            errors.contains("channels[1].from: \"+15005550006\" is already used by the sms channel at channels[0]"),
            "{errors}"
        );
        assert!(
            errors.contains("channels[3].from: \"+15005550006\" is already used by the calls channel at channels[2]"),
            "{errors}"
        );
        let errors = parse(&format!(
            "{}{}",
            channel("a", "sms", "+15005550006", "")
                .replace("from = \"+15005550006\"", "messaging_service_sid = \"MG1\""),
            channel("b", "sms", "+15005550006", "")
                .replace("from = \"+15005550006\"", "messaging_service_sid = \"MG1\""),
        ))
        .unwrap_err();
        assert!(
            errors.contains("channels[1].messaging_service_sid"),
            "{errors}"
        );
    }
}
