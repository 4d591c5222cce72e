//! Web form helpers: a config with three forms (a full contact form, a
//! hosted-page-only form that requires its token, and one with tight rate
//! limits), render tokens minted with the configured secret in the
//! documented format (README.md, "Web forms"), and raw multipart bodies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::blocking::Response;
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use sha2::Sha256;

use super::relay::Relay;
use super::Daemon;

/// The token secret of every test form (`form_secret` in the test folder).
pub const SECRET: &str = "test-form-token-secret-0123456789";

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A render token for `channel` as if the page was rendered `age_ms` ago.
pub fn token(channel: &str, age_ms: i64) -> String {
    let issued = now_ms() - age_ms;
    let nonce = format!("{:032x}", rand_nonce());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v1\n{channel}\n{issued}\n{nonce}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("v1.{issued}.{nonce}.{signature}")
}

fn rand_nonce() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    ((now_ms() as u128) << 64) | NEXT.fetch_add(1, Ordering::Relaxed) as u128
}

/// The test config (`super::reply_config` with the relay on `relay_port`)
/// plus the forms; writes the token secret into `dir`.
pub fn config(dir: &std::path::Path, relay_port: u16) -> String {
    std::fs::write(dir.join("form_secret"), format!("{SECRET}\n")).unwrap();
    let mut config = super::test_config_with_relay(relay_port);
    config.push_str(FORMS);
    config
}

pub const FORMS: &str = r#"
[[channels]]
id = "contact"
inbox = "support"
kind = "form"
title = "Contact Example Inc"
description = "We answer within one working day."
email_field = "email"
name_field = "name"
subject_field = "subject"
message_field = "message"
reply_via = "support-email"
allowed_origins = ["https://www.example.com"]
honeypot_field = "website"
token_secret_file = "form_secret"
max_submissions_per_contact = 3
max_file_bytes = 4096
max_body_bytes = 65536

[channels.rate_limits]
per_ip = 1000
per_email = 1000

[[channels.fields]]
name = "name"
label = "Your name"
required = true

[[channels.fields]]
name = "email"
label = "Email address"
type = "email"
help = "We answer to this address."

[[channels.fields]]
name = "subject"
label = "Subject"

[[channels.fields]]
name = "topic"
label = "Topic"
type = "select"
options = ["Billing", "Technical problem", "Something else"]

[[channels.fields]]
name = "phone"
label = "Phone"
type = "tel"

[[channels.fields]]
name = "message"
label = "How can we help?"
type = "textarea"
required = true

[[channels.fields]]
name = "newsletter"
label = "Send me the newsletter"
type = "checkbox"

[[channels.fields]]
name = "attachment"
label = "Screenshot or document"
type = "file"

[[channels.fields]]
name = "page"
type = "hidden"

[[channels.fields]]
name = "campaign"
type = "hidden"
value = "none"

[[channels]]
id = "hosted-only"
inbox = "support"
kind = "form"
email_field = "email"
message_field = "message"
reply_via = "support-email"
require_form_token = true
token_secret_file = "form_secret"

[[channels.fields]]
name = "email"
label = "Email"
type = "email"

[[channels.fields]]
name = "message"
label = "Message"
type = "textarea"

[[channels]]
id = "limited"
inbox = "support"
kind = "form"
email_field = "email"
message_field = "message"
reply_via = "support-email"

[channels.rate_limits]
per_ip = 3
per_email = 2
window_secs = 3600

[[channels.fields]]
name = "email"
label = "Email"
type = "email"

[[channels.fields]]
name = "message"
label = "Message"
type = "textarea"
"#;

/// A part of a multipart body: a field, or a file with its name and type.
pub enum Part<'a> {
    Field(&'a str, &'a str),
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

pub const BOUNDARY: &str = "----switchboard-test-boundary";

/// A `multipart/form-data` body with `BOUNDARY`.
pub fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Field(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, file, content_type, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The value of the hidden render token in a hosted page.
pub fn page_token(html: &str) -> String {
    let marker = "name=\"_form_token\" value=\"";
    let start = html.find(marker).expect("a token in the page") + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_string()
}

/// A fresh daemon with the test forms and a loopback relay.
pub fn start() -> (tempfile::TempDir, Relay, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start();
    let config = config(dir.path(), relay.port);
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, relay, daemon)
}

/// A client that does not follow redirects (to see the `303`).
pub fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn urlencoded(d: &Daemon, path: &str, pairs: &[(&str, &str)]) -> Response {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    browser()
        .post(d.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap()
}

pub fn post_json(d: &Daemon, path: &str, body: &Value) -> (u16, Value) {
    let response = browser().post(d.url(path)).json(body).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

pub fn post_multipart(d: &Daemon, path: &str, body: Vec<u8>, json: bool) -> Response {
    let mut request = browser().post(d.url(path)).header(
        "Content-Type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if json {
        request = request.header("Accept", "application/json");
    }
    request.body(body).send().unwrap()
}

/// Conversations on `channel`.
pub fn on_channel(d: &Daemon, channel: &str) -> Vec<Value> {
    d.all_conversations("")
        .into_iter()
        .filter(|c| c["channel"] == channel)
        .collect()
}

pub fn only_message(d: &Daemon, channel: &str) -> Value {
    let conversations = on_channel(d, channel);
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    let messages = d.messages(conversations[0]["id"].as_str().unwrap());
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages.into_iter().next().unwrap()
}

pub fn good_json(email: &str) -> Value {
    json!({"name": "Ann Lee", "email": email, "subject": "Invoice 1042",
           "message": "The invoice shows the wrong VAT number.",
           "_form_token": token("contact", 10_000)})
}
