//! Custom channels (`kind = "custom"`): any other messaging app connected
//! through Switchboard's own channel API. Their validated settings: the
//! integration's inbound token, the webhook replies are POSTed to with its
//! Standard Webhooks secret (PROTOCOLS.md 9.3), and what the app can show.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::Serialize;

use super::raw::RawCustomChannel;
use super::secret::{self, Secret};

/// How long one webhook request may take unless configured (Standard
/// Webhooks suggests 15–30 s).
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_WEBHOOK_TIMEOUT_SECS: u64 = 60;
/// The shortest inbound token taken: it is the integration's only proof.
const MIN_TOKEN_CHARS: usize = 16;
/// The prefix of a Standard Webhooks symmetric secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The decoded key length the Standard Webhooks spec asks for.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// Standard base64 that, like the reference library, also takes the
/// secret without its `=` padding.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone)]
pub struct CustomChannel {
    /// The bearer token the integration presents on the channel API.
    pub inbound_token: Secret,
    /// Where replies are POSTed (`http` or `https`).
    pub webhook_url: reqwest::Url,
    pub webhook_secret: WebhookSecret,
    pub webhook_timeout: Duration,
    pub capabilities: Capabilities,
    /// Whether the webhook may resolve to private, loopback or link-local
    /// addresses.
    pub allow_private_targets: bool,
}

/// What the integration's app can show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The longest reply text in characters (`None`: no limit of its own).
    pub max_text_length: Option<usize>,
    /// Whether the app shows attachments.
    pub attachments: bool,
    /// Whether the app shows HTML; a reply's `html` is sent only then.
    pub rich_text: bool,
}

/// The HMAC key of a Standard Webhooks secret: the base64-decoded bytes
/// after `whsec_`. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Parses `whsec_<base64 of 24 to 64 bytes>`.
    pub fn parse(text: &str) -> Result<WebhookSecret, String> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("the secret must start with \"{SECRET_PREFIX}\""))?;
        let key = BASE64_ANY_PADDING
            .decode(encoded)
            .map_err(|_| format!("the part after \"{SECRET_PREFIX}\" is not base64"))?;
        if !SECRET_BYTES.contains(&key.len()) {
            return Err(format!(
                "the secret decodes to {} bytes; use {} to {} random bytes \
                 (e.g. whsec_$(openssl rand -base64 32))",
                key.len(),
                SECRET_BYTES.start(),
                SECRET_BYTES.end()
            ));
        }
        Ok(WebhookSecret(key))
    }

    /// The key bytes, for signing only.
    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

type Found = Vec<(String, String)>;

/// Validates one custom channel; every problem goes to `found` with its
/// key path.
pub(super) fn custom(
    raw: &RawCustomChannel,
    path: &str,
    base: &Path,
    found: &mut Found,
) -> Option<CustomChannel> {
    let token_key = key_given(&raw.inbound_token_file, "inbound_token");
    let inbound_token = secret::load(
        raw.inbound_token_file.as_deref(),
        raw.inbound_token_env.as_deref(),
        base,
        path,
        "inbound_token",
        found,
    )
    .and_then(|token| {
        let value = token.expose();
        if value.chars().count() < MIN_TOKEN_CHARS {
            found.push((
                format!("{path}.{token_key}"),
                format!("the token must be at least {MIN_TOKEN_CHARS} characters long"),
            ));
            None
        } else if !value.chars().all(|c| c.is_ascii_graphic()) {
            found.push((
                format!("{path}.{token_key}"),
                "the token must be printable ASCII without spaces (it travels in a header)".into(),
            ));
            None
        } else {
            Some(token)
        }
    });
    let secret_key = key_given(&raw.webhook_secret_file, "webhook_secret");
    let webhook_secret = secret::load(
        raw.webhook_secret_file.as_deref(),
        raw.webhook_secret_env.as_deref(),
        base,
        path,
        "webhook_secret",
        found,
    )
    .and_then(|secret| match WebhookSecret::parse(secret.expose()) {
        Ok(parsed) => Some(parsed),
        Err(message) => {
            found.push((format!("{path}.{secret_key}"), message));
            None
        }
    });
    let webhook_url = match webhook_url(&raw.webhook_url) {
        Ok(url) => Some(url),
        Err(message) => {
            found.push((format!("{path}.webhook_url"), message));
            None
        }
    };
    let timeout_secs = raw
        .webhook_timeout_secs
        .unwrap_or(DEFAULT_WEBHOOK_TIMEOUT.as_secs());
    if !(1..=MAX_WEBHOOK_TIMEOUT_SECS).contains(&timeout_secs) {
        found.push((
            format!("{path}.webhook_timeout_secs"),
            format!("must be between 1 and {MAX_WEBHOOK_TIMEOUT_SECS}"),
        ));
    }
    if raw.capabilities.max_text_length == Some(0) {
        found.push((
            format!("{path}.capabilities.max_text_length"),
            "must be greater than 0".into(),
        ));
    }
    Some(CustomChannel {
        inbound_token: inbound_token?,
        webhook_url: webhook_url?,
        webhook_secret: webhook_secret?,
        webhook_timeout: Duration::from_secs(timeout_secs),
        capabilities: Capabilities {
            max_text_length: raw.capabilities.max_text_length,
            attachments: raw.capabilities.attachments,
            rich_text: raw.capabilities.rich_text,
        },
        allow_private_targets: raw.allow_private_targets,
    })
}

/// `key_file` when a file was named, else `key_env` (where a problem with
/// the loaded value is reported).
fn key_given(file: &Option<String>, key: &str) -> String {
    match file {
        Some(_) => format!("{key}_file"),
        None => format!("{key}_env"),
    }
}

/// An absolute `http`/`https` URL with a host and no credentials.
fn webhook_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.host().is_none() {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (user:password@)".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChannelKind;

    #[test]
    fn secrets_need_the_prefix_base64_and_a_sane_length() {
        let good = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(good.key().len(), 24);
        assert!(!format!("{good:?}").contains("MfKQ"));
        // Padding may be left out, as the reference library allows.
        let padded = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(WebhookSecret::parse(&format!("whsec_{padded}")).is_ok());
        let unpadded = padded.trim_end_matches('=');
        assert!(WebhookSecret::parse(&format!("whsec_{unpadded}")).is_ok());

        let error = WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(error.contains("whsec_"), "{error}");
        let error = WebhookSecret::parse("whsec_not base64!").unwrap_err();
        assert!(error.contains("not base64"), "{error}");
        let error = WebhookSecret::parse("whsec_c2hvcnQ=").unwrap_err();
        assert!(error.contains("5 bytes"), "{error}");
    }

    #[test]
    fn webhook_urls_are_http_with_a_host_and_no_credentials() {
        assert!(webhook_url("https://bridge.example.com/hook").is_ok());
        assert!(webhook_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(webhook_url("ftp://bridge.example.com/").is_err());
        assert!(webhook_url("/hook").is_err());
        assert!(webhook_url("https://user:pw@bridge.example.com/").is_err());
    }

    const BASE: &str = r#"
        [[channels]]
        id = "tg"
        inbox = "support"
        kind = "custom"
    "#;

    fn with_files(extra: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "tg-inbound-token-0123456789\n").unwrap();
        std::fs::write(
            dir.path().join("secret"),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        )
        .unwrap();
        (
            dir,
            format!("{}{BASE}{extra}", crate::config::TEST_WORKSPACE),
        )
    }

    #[test]
    fn a_custom_channel_is_validated_into_its_settings() {
        let (dir, text) = with_files(
            r#"
        inbound_token_file = "token"
        webhook_url = "https://bridge.example.com/switchboard"
        webhook_secret_file = "secret"
        capabilities = { max_text_length = 4096, rich_text = true }
        [channels.routing]
        auto_assign = true
        users = ["alice"]
        "#,
        );
        let config = crate::config::parse(&text, dir.path()).unwrap();
        let channel = config.workspace.channel("tg").unwrap();
        assert!(
            channel.routing.is_some(),
            "routing is read like other kinds"
        );
        let ChannelKind::Custom(custom) = &channel.kind else {
            panic!("{channel:?}")
        };
        assert_eq!(custom.inbound_token.expose(), "tg-inbound-token-0123456789");
        assert_eq!(custom.webhook_secret.key().len(), 24);
        assert_eq!(custom.webhook_timeout, DEFAULT_WEBHOOK_TIMEOUT);
        assert_eq!(custom.capabilities.max_text_length, Some(4096));
        assert!(custom.capabilities.rich_text && !custom.capabilities.attachments);
        assert!(!custom.allow_private_targets);
    }

    #[test]
    fn every_custom_channel_problem_is_named() {
        let (dir, text) = with_files(
            r#"
        inbound_token_env = "SWITCHBOARD_TEST_SHORT_TOKEN_UNSET"
        webhook_url = "ftp://bridge.example.com/"
        webhook_secret_file = "token"
        webhook_timeout_secs = 0
        capabilities = { max_text_length = 0, emoji = true }
        "#,
        );
        let errors = crate::config::parse(&text, dir.path())
            .unwrap_err()
            .problems()
            .join("\n");
        // (Inside a `kind`-tagged table the path stops at the channel.)
        assert!(
            errors.contains("channels[0]") && errors.contains("unknown field `emoji`"),
            "{errors}"
        );
        let text = text.replace("emoji = true", "attachments = true");
        let errors = crate::config::parse(&text, dir.path())
            .unwrap_err()
            .problems()
            .join("\n");
        for expected in [
            "channels[0].inbound_token_env: environment variable",
            "channels[0].webhook_url: must be an http",
            "channels[0].webhook_secret_file: the secret must start with \"whsec_\"",
            "channels[0].webhook_timeout_secs",
            "channels[0].capabilities.max_text_length",
        ] {
            assert!(errors.contains(expected), "{expected} in:\n{errors}");
        }
    }
}
