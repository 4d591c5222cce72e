//! SMS channels (`kind = "sms"`): a number on a Twilio-compatible provider
//! (PROTOCOLS.md 3). Their validated settings: the account and its auth
//! token (which signs the provider's webhooks and authenticates our sends),
//! the sender (a number or a Messaging Service), the public webhook URL
//! signatures are computed over, and the REST API's base URL.

use std::path::Path;

use super::raw::RawSmsChannel;
use super::secret::{self, Secret};

/// The provider's REST API unless configured.
pub const DEFAULT_TWILIO_API: &str = "https://api.twilio.com";

/// Who replies are sent as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// `From`: a number in E.164.
    From(String),
    /// `MessagingServiceSid` (`MG…`): the service picks the number.
    MessagingService(String),
}

#[derive(Debug, Clone)]
pub struct SmsChannel {
    pub account_sid: String,
    pub auth_token: Secret,
    pub sender: SmsSender,
    /// The exact URL the provider calls for inbound messages, without a
    /// trailing slash; status callbacks go to `{public_url}/status`.
    pub public_url: String,
    /// The REST API, without a trailing slash.
    pub api_base_url: String,
    /// Media links from webhooks (MMS media, voicemail recordings) may
    /// point at non-public addresses.
    pub allow_private_targets: bool,
}

impl SmsChannel {
    /// Where delivery statuses of our sends are reported.
    pub fn status_url(&self) -> String {
        format!("{}/status", self.public_url)
    }

    /// `{api}/2010-04-01/Accounts/{AccountSid}/Messages.json`.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.api_base_url, self.account_sid
        )
    }
}

type Found = Vec<(String, String)>;

/// Validates one SMS channel; every problem goes to `found` with its path.
pub(super) fn sms(
    raw: &RawSmsChannel,
    path: &str,
    base: &Path,
    found: &mut Found,
) -> Option<SmsChannel> {
    let account_sid = raw.account_sid.trim().to_string();
    if account_sid.is_empty() || !account_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        found.push((
            format!("{path}.account_sid"),
            "must be the account's SID (AC followed by 32 hex digits)".into(),
        ));
    }
    let auth_token = secret::load(
        raw.auth_token_file.as_deref(),
        raw.auth_token_env.as_deref(),
        base,
        path,
        "auth_token",
        found,
    );
    let sender = match (&raw.from, &raw.messaging_service_sid) {
        (Some(from), None) => {
            let from = from.trim();
            let digits = from.strip_prefix('+').unwrap_or_default();
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                found.push((
                    format!("{path}.from"),
                    format!("\"{from}\" is not an E.164 number such as +14155550100"),
                ));
                None
            } else {
                Some(SmsSender::From(from.to_string()))
            }
        }
        (None, Some(service)) if !service.trim().is_empty() => {
            Some(SmsSender::MessagingService(service.trim().to_string()))
        }
        (None, Some(_)) => {
            found.push((
                format!("{path}.messaging_service_sid"),
                "must not be empty".into(),
            ));
            None
        }
        (Some(_), Some(_)) => {
            found.push((
                format!("{path}.messaging_service_sid"),
                "give from or messaging_service_sid, not both".into(),
            ));
            None
        }
        (None, None) => {
            found.push((
                format!("{path}.from"),
                "missing: give from or messaging_service_sid".into(),
            ));
            None
        }
    };
    let public_url = match http_url(&raw.public_url) {
        Ok(url) => Some(url),
        Err(message) => {
            found.push((format!("{path}.public_url"), message));
            None
        }
    };
    let api_base_url = match http_url(raw.api_base_url.as_deref().unwrap_or(DEFAULT_TWILIO_API)) {
        Ok(url) => Some(url),
        Err(message) => {
            found.push((format!("{path}.api_base_url"), message));
            None
        }
    };
    Some(SmsChannel {
        account_sid,
        auth_token: auth_token?,
        sender: sender?,
        public_url: public_url?,
        api_base_url: api_base_url?,
        allow_private_targets: raw.allow_private_targets,
    })
}

/// An absolute `http`/`https` URL with a host, as written (no trailing
/// slash): the signature covers the exact text.
fn http_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (user:password@)".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use crate::config::{ChannelKind, SmsSender};

    const BASE: &str = r#"
        [[channels]]
        id = "sms"
        inbox = "support"
        kind = "sms"
        account_sid = "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        auth_token_file = "token"
    "#;

    fn parse(extra: &str) -> Result<crate::config::Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "12345\n").unwrap();
        crate::config::parse(
            &format!("{}{BASE}{extra}", crate::config::TEST_WORKSPACE),
            dir.path(),
        )
        .map_err(|e| e.problems().join("\n"))
    }

    #[test]
    fn an_sms_channel_is_validated_into_its_settings() {
        let config = parse(
            r#"
        from = "+14155550100"
        public_url = "https://help.example.com/webhooks/sms/"
        "#,
        )
        .unwrap();
        let channel = config.workspace.channel("sms").unwrap();
        let ChannelKind::Sms(sms) = &channel.kind else {
            panic!("{channel:?}")
        };
        assert_eq!(sms.auth_token.expose(), "12345");
        assert_eq!(sms.sender, SmsSender::From("+14155550100".into()));
        assert_eq!(sms.public_url, "https://help.example.com/webhooks/sms");
        assert_eq!(
            sms.status_url(),
            "https://help.example.com/webhooks/sms/status"
        );
        assert_eq!(
            sms.messages_url(),
            "https://api.twilio.com/2010-04-01/Accounts/ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/Messages.json"
        );
    }

    #[test]
    fn exactly_one_sender_and_valid_urls() {
        let errors = parse(
            r#"
        from = "+14155550100"
        messaging_service_sid = "MG123"
        public_url = "ftp://x"
        api_base_url = "nope"
        "#,
        )
        .unwrap_err();
        for expected in [
            "channels[0].messaging_service_sid: give from or messaging_service_sid, not both",
            "channels[0].public_url: must be an http",
            "channels[0].api_base_url: not a URL",
        ] {
            assert!(errors.contains(expected), "{expected} in:\n{errors}");
        }
        let errors = parse("public_url = \"https://x.example\"\n").unwrap_err();
        assert!(errors.contains("channels[0].from: missing"), "{errors}");
        let errors =
            parse("from = \"4155550100\"\npublic_url = \"https://x.example\"\n").unwrap_err();
        assert!(errors.contains("E.164"), "{errors}");
        let config =
            parse("messaging_service_sid = \"MG1\"\npublic_url = \"https://x.example\"\n").unwrap();
        let ChannelKind::Sms(sms) = &config.workspace.channel("sms").unwrap().kind else {
            panic!()
        };
        assert_eq!(sms.sender, SmsSender::MessagingService("MG1".into()));
    }
}
