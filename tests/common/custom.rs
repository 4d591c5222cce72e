//! Shared by the custom channel tests: a daemon with two custom channels
//! whose webhooks point at a loopback receiver, the integration's requests,
//! and a Standard Webhooks verifier of the tests' own (its HMAC is built from
//! SHA-256 alone, so it shares no code with the daemon's signer).

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::webhook_receiver::{Received, WebhookReceiver};
use super::Daemon;

pub const TOKEN: &str = "app-inbound-token-0123456789abcdef";
pub const GUARDED_TOKEN: &str = "guarded-inbound-token-0123456789";
/// `whsec_` + base64 of the bytes 0..32.
pub const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const MAX_TEXT: usize = 80;

/// HMAC-SHA256 (RFC 2104) built on SHA-256 alone, so the check below shares
/// no code with the daemon's signer.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Verifies a request as a Standard Webhooks consumer does: the timestamp
/// within five minutes, any `v1,` entry matching the HMAC of
/// `{id}.{timestamp}.{body}` keyed with the decoded secret.
pub fn verify(secret: &str, request: &Received) -> Result<(), String> {
    let id = request.header("webhook-id").ok_or("no webhook-id")?;
    let timestamp = request
        .header("webhook-timestamp")
        .ok_or("no webhook-timestamp")?;
    let signatures = request
        .header("webhook-signature")
        .ok_or("no webhook-signature")?;
    let seconds: i64 = timestamp.parse().map_err(|_| "timestamp not a number")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - seconds).abs() > 300 {
        return Err(format!("timestamp {seconds} is {}s off", now - seconds));
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("no prefix")?)
        .map_err(|e| e.to_string())?;
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, &signed));
    if signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .any(|given| given == expected)
    {
        Ok(())
    } else {
        Err(format!("no signature in {signatures:?} matches {expected}"))
    }
}

/// Bind `_dir` too: the daemon's folder lives as long as it.
pub struct Setup {
    pub receiver: WebhookReceiver,
    pub daemon: Daemon,
    pub _dir: tempfile::TempDir,
}

/// The test config plus two custom channels on the support inbox: `app`
/// (webhook on 127.0.0.1, private targets allowed, text up to 80
/// characters, 1 s timeout) and `guarded` (webhook at `localhost`, private
/// targets not allowed); and a fast outbox.
pub fn start() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start();
    std::fs::write(dir.path().join("app-token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.path().join("guarded-token"), GUARDED_TOKEN).unwrap();
    std::fs::write(dir.path().join("app-secret"), format!("{SECRET}\n")).unwrap();
    let port = receiver.port();
    let mut config = super::test_config(1024 * 1024);
    config.push_str(&format!(
        r#"
[outbox]
max_attempts = 4
initial_backoff_ms = 100
max_backoff_ms = 400

[[channels]]
id = "app"
inbox = "support"
kind = "custom"
inbound_token_file = "app-token"
webhook_url = "http://127.0.0.1:{port}/hook?key=path-secret"
webhook_secret_file = "app-secret"
webhook_timeout_secs = 1
allow_private_targets = true
capabilities = {{ max_text_length = {MAX_TEXT}, attachments = true }}

[[channels]]
id = "guarded"
inbox = "support"
kind = "custom"
inbound_token_file = "guarded-token"
webhook_url = "http://localhost:{port}/hook"
webhook_secret_file = "app-secret"
"#
    ));
    let daemon = Daemon::start_with_config(dir.path(), &config);
    Setup {
        receiver,
        daemon,
        _dir: dir,
    }
}

pub fn publish_as(
    daemon: &Daemon,
    channel: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    daemon.send_json_with(
        "POST",
        &format!("/api/v1/channels/{channel}/messages"),
        token,
        body,
    )
}

pub fn publish(daemon: &Daemon, body: &Value) -> (u16, Value) {
    publish_as(daemon, "app", Some(TOKEN), body)
}

/// Publishes and checks the `201`; returns the answer.
pub fn published(daemon: &Daemon, body: Value) -> Value {
    let (status, answer) = publish(daemon, &body);
    assert_eq!(status, 201, "{body}: {answer}");
    assert_eq!(answer["duplicate"], false);
    answer
}

pub fn message(key: &str, sender: &str, text: &str) -> Value {
    json!({"idempotency_key": key, "sender": {"id": sender}, "text": text})
}

pub fn report(daemon: &Daemon, message: &str, body: Value) -> (u16, Value) {
    daemon.send_json_with(
        "PATCH",
        &format!("/api/v1/channels/app/messages/{message}"),
        Some(TOKEN),
        &body,
    )
}
