//! Verified-webhook benchmark: how many signed Messenger and WhatsApp
//! webhook POSTs, signed SMS webhooks (`X-Twilio-Signature`) and web form
//! posts (each with a signed render token) a release daemon takes per
//! second, each carrying one new message and answered only once that
//! message is on disk, against `GET /healthz` of the same daemon, same run,
//! same load generator.
//!
//! The load generator is in this process: `CONNECTIONS` (32) keep-alive
//! HTTP/1.1 connections with TCP_NODELAY, each writing one prepared request
//! and reading its answer, over and over, until `N` (20000) requests have
//! been answered. Every request is built before the clock starts: the
//! webhook bodies are distinct (a fresh `mid` or `wamid` and a new person
//! each, so every one is a new message, a new contact and a new
//! conversation), alternately Messenger (`object: page`, PROTOCOLS.md 1.2)
//! and WhatsApp (`whatsapp_business_account`, 2.2), carry the current time
//! as the provider's timestamp, and are signed with `X-Hub-Signature-256`
//! (HMAC-SHA256 of the raw bytes with the channel's app secret), so the
//! generator computes nothing while it runs. The SMS requests are the
//! provider's urlencoded inbound webhook (PROTOCOLS.md 3.1), each from a new
//! number with a new `MessageSid`, signed over the channel's `public_url`
//! and the sorted parameters (HMAC-SHA1); answered `200` with empty TwiML.
//! The form requests are urlencoded posts of a three-field contact form
//! from a new email address each, carrying a render token minted with the
//! form's secret ten seconds "before" (the form requires one), asking for
//! JSON: answered `201`. `/healthz` and the targets alternate for `ROUNDS`
//! (2) rounds against one daemon (its store grows from round to round).
//! `TARGETS` picks targets (default `meta,sms,form`).
//!
//! Every answer must be the target's success status; afterwards the stored
//! messages are counted through the API, per channel, and must equal the
//! requests sent. Prints markdown tables: requests/s and latency per round,
//! the totals and each target's ratio to `/healthz`.
//!
//! Run by bench/webhooks.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use support::{quantile_ms, Daemon};

const PAGE_ID: &str = "104758912345678";
const PHONE_NUMBER_ID: &str = "106540352242922";
const FB_SECRET: &str = "bench-messenger-app-secret";
const WA_SECRET: &str = "bench-whatsapp-app-secret";
const SMS_TOKEN: &str = "bench-sms-auth-token";
const SMS_ACCOUNT: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SMS_NUMBER: &str = "+15005550006";
/// The URL the provider signs (the daemon sits "behind a proxy").
const SMS_PUBLIC_URL: &str = "https://help.example.com/webhooks/sms";
const FORM_SECRET: &str = "bench-form-token-secret-0123456789";
/// A customer's message of a realistic length (~170 characters).
const TEXT: &str = "Hi! I ordered a pair of running shoes last Tuesday (order 48213) and the \
tracking page has not moved since Friday. Could you check where the parcel is?";

/// The workspace: an admin, one inbox, a Messenger Page and a WhatsApp
/// number. No automations, greeting or routing: nothing is sent, so the
/// Graph API is never called (its URL points at a closed port).
fn config() -> String {
    format!(
        r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "bench.switchboard.test"

[http]
listen = "127.0.0.1:0"

[[agents]]
id = "admin"
name = "Ada Admin"
email = "admin@example.com"
role = "admin"

[[inboxes]]
id = "social"
name = "Social"

[[channels]]
id = "fb"
inbox = "social"
kind = "messenger"
page_id = "{PAGE_ID}"
app_id = "2002"
app_secret_file = "fb_app_secret"
verify_token = "bench-verify-fb"
page_token_file = "fb_page_token"
graph_base_url = "http://127.0.0.1:9"

[[channels]]
id = "wa"
inbox = "social"
kind = "whatsapp"
phone_number_id = "{PHONE_NUMBER_ID}"
app_secret_file = "wa_app_secret"
verify_token = "bench-verify-wa"
access_token_file = "wa_access_token"
graph_base_url = "http://127.0.0.1:9"

[[channels]]
id = "sms"
inbox = "social"
kind = "sms"
account_sid = "{SMS_ACCOUNT}"
auth_token_file = "sms_auth_token"
from = "{SMS_NUMBER}"
public_url = "{SMS_PUBLIC_URL}"
api_base_url = "http://127.0.0.1:9"

[[channels]]
id = "mail"
inbox = "social"
kind = "email"
address = "support@example.com"

# The web form: every post must carry a signed render token; no rate
# limits (one client address sends everything).
[[channels]]
id = "web"
inbox = "social"
kind = "form"
email_field = "email"
name_field = "name"
message_field = "message"
reply_via = "mail"
honeypot_field = "website"
require_form_token = true
token_secret_file = "form_secret"

[channels.rate_limits]
per_ip = 0
per_email = 0

[[channels.fields]]
name = "name"
label = "Name"
required = true

[[channels.fields]]
name = "email"
label = "Email"
type = "email"

[[channels.fields]]
name = "message"
label = "Message"
type = "textarea"
required = true
"#
    )
}

/// The signed SMS webhook of message `n`: a new number and `MessageSid`.
fn sms_request(n: usize) -> Vec<u8> {
    let params = [
        ("AccountSid", SMS_ACCOUNT.to_string()),
        ("ApiVersion", "2010-04-01".to_string()),
        ("Body", TEXT.to_string()),
        ("From", format!("+1555{n:07}")),
        ("MessageSid", format!("SM{n:032x}")),
        ("NumMedia", "0".to_string()),
        ("NumSegments", "2".to_string()),
        ("SmsStatus", "received".to_string()),
        ("To", SMS_NUMBER.to_string()),
    ];
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(SMS_TOKEN.as_bytes()).unwrap();
    mac.update(SMS_PUBLIC_URL.as_bytes());
    for (name, value) in &params {
        // Already sorted by name.
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let mut request = format!(
        "POST /webhooks/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: TwilioProxy/1.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// The form post of submission `n`: a new person, a render token minted
/// with the form's secret as if the page was rendered 10 s before `now_ms`.
fn form_request(n: usize, now_ms: i64) -> Vec<u8> {
    let issued = now_ms - 10_000;
    let nonce = format!("{n:032x}");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(FORM_SECRET.as_bytes()).unwrap();
    mac.update(format!("v1\nweb\n{issued}\n{nonce}").as_bytes());
    let signature =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let token = format!("v1.{issued}.{nonce}.{signature}");
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", &format!("Customer {n}"))
        .append_pair("email", &format!("customer{n}@example.com"))
        .append_pair("message", TEXT)
        .append_pair("website", "")
        .append_pair("_form_token", &token)
        .finish();
    let mut request = format!(
        "POST /forms/web HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The webhook payload of message `n`: even `n` Messenger, odd WhatsApp,
/// each from its own person.
fn payload(n: usize, now_ms: i64) -> (&'static str, &'static str, Value) {
    if n % 2 == 0 {
        let psid = format!("{}", 7_000_000_000_000_000u64 + n as u64);
        let body = json!({"object": "page", "entry": [{"id": PAGE_ID, "time": now_ms, "messaging": [{
            "sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms,
            "message": {"mid": format!("m_bench_{n:08}_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
                        "text": TEXT}}]}]});
        ("fb", FB_SECRET, body)
    } else {
        let wa_id = format!("1555{n:08}");
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": format!("Customer {n}")}, "wa_id": wa_id}],
                "messages": [{"from": wa_id,
                              "id": format!("wamid.HBgLMTU1NTAwMDAwMDAVAgASGBQzQUJF{n:08}QkVOQ0gA"),
                              "timestamp": (now_ms / 1000).to_string(), "type": "text",
                              "text": {"body": TEXT}}]}}]}]});
        ("wa", WA_SECRET, body)
    }
}

/// The raw bytes of the signed POST of message `n`.
fn webhook_request(n: usize, now_ms: i64) -> Vec<u8> {
    let (channel, secret, payload) = payload(n, now_ms);
    let body = serde_json::to_vec(&payload).unwrap();
    let mut request = format!(
        "POST /webhooks/{channel} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: facebookexternalua\r\n\
         Content-Type: application/json\r\nX-Hub-Signature-256: {}\r\nContent-Length: {}\r\n\r\n",
        sign(secret, &body),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    line: String,
    body: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (read, writer) = stream.into_split();
        Connection {
            reader: BufReader::new(read),
            writer,
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// Writes `request`, reads the answer; returns its status (the body is
    /// left in `self.body`).
    async fn exchange(&mut self, request: &[u8]) -> u16 {
        self.writer.write_all(request).await.unwrap();
        self.line.clear();
        self.reader.read_line(&mut self.line).await.unwrap();
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {:?}", self.line));
        let mut length = None;
        loop {
            self.line.clear();
            let read = self.reader.read_line(&mut self.line).await.unwrap();
            assert!(read > 0, "connection closed mid-answer");
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.expect("a Content-Length in every answer");
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).await.unwrap();
        status
    }
}

/// What one load run measured.
struct Load {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

/// Sends every request over `connections` connections; each answer must
/// have `status`, and `expect` as its body (when given).
async fn load(
    addr: SocketAddr,
    connections: usize,
    requests: Arc<Vec<Vec<u8>>>,
    status: u16,
    expect: Option<&'static [u8]>,
) -> Load {
    let mut open = Vec::new();
    for _ in 0..connections {
        open.push(Connection::open(addr).await);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = open
        .into_iter()
        .map(|mut connection| {
            let (next, requests) = (next.clone(), requests.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(n) else {
                        return latencies;
                    };
                    let sent = Instant::now();
                    let got = connection.exchange(request).await;
                    latencies.push(sent.elapsed());
                    assert_eq!(
                        got,
                        status,
                        "request {n}: {}",
                        String::from_utf8_lossy(&connection.body)
                    );
                    if let Some(expect) = expect {
                        assert_eq!(connection.body, expect, "request {n}");
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests.len());
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort();
    Load {
        requests: requests.len(),
        seconds,
        latencies,
    }
}

/// Messages stored per channel, summed over every conversation, and the
/// number of conversations.
async fn stored(daemon: &Daemon) -> (std::collections::BTreeMap<String, u64>, usize) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut per_channel = std::collections::BTreeMap::new();
    let mut conversations = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/api/v1/conversations?limit=100".to_string();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let body = daemon.get_json(&client, &url).await;
        for conversation in body["conversations"].as_array().unwrap() {
            conversations += 1;
            let count = conversation["message_count"].as_u64().unwrap();
            let channel = conversation["channel"].as_str().unwrap().to_string();
            *per_channel.entry(channel).or_insert(0) += count;
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (per_channel, conversations),
        }
    }
}

fn row(round: usize, target: &str, load: &Load, load_average: &str) {
    println!(
        "| {round} | {target} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {load_average} |",
        load.requests,
        load.seconds,
        load.requests as f64 / load.seconds,
        quantile_ms(&load.latencies, 0.5),
        quantile_ms(&load.latencies, 0.99),
    );
}

/// One kind of request under test.
struct Target {
    /// The `TARGETS` name.
    key: &'static str,
    label: &'static str,
    /// The totals table's description.
    summary: &'static str,
    status: u16,
    expect: Option<&'static [u8]>,
    /// The channels its messages land on.
    channels: &'static [&'static str],
    build: fn(usize, i64) -> Vec<u8>,
    /// Requests and seconds over every round.
    total: (usize, f64),
}

#[tokio::main]
async fn main() {
    let n = support::env_usize("N", 20_000);
    let connections = support::env_usize("CONNECTIONS", 32);
    let rounds = support::env_usize("ROUNDS", 2);
    let wanted = std::env::var("TARGETS").unwrap_or_else(|_| "meta,sms,form".into());

    let dir = tempfile::tempdir().unwrap();
    for (file, secret) in [
        ("fb_app_secret", FB_SECRET),
        ("fb_page_token", "bench-page-token"),
        ("wa_app_secret", WA_SECRET),
        ("wa_access_token", "bench-wa-token"),
        ("sms_auth_token", SMS_TOKEN),
        ("form_secret", FORM_SECRET),
    ] {
        std::fs::write(dir.path().join(file), format!("{secret}\n")).unwrap();
    }
    let daemon = Daemon::start(&support::daemon_bin(), dir.path(), &config());
    let rss_idle = daemon.rss_mib();

    let mut targets: Vec<Target> = vec![
        Target {
            key: "meta",
            label: "signed webhook POST (durable)",
            summary: "signed Messenger/WhatsApp webhook POST, one new message each, 200 after fsync",
            status: 200,
            expect: Some(b"EVENT_RECEIVED"),
            channels: &["fb", "wa"],
            build: webhook_request,
            total: (0, 0.0),
        },
        Target {
            key: "sms",
            label: "signed SMS webhook POST (durable)",
            summary: "signed SMS webhook POST (X-Twilio-Signature), one new message each, 200 after fsync",
            status: 200,
            expect: None,
            channels: &["sms"],
            build: |n, _| sms_request(n),
            total: (0, 0.0),
        },
        Target {
            key: "form",
            label: "form POST (durable)",
            summary: "web form POST (urlencoded, signed render token), one new conversation each, 201 after fsync",
            status: 201,
            expect: None,
            channels: &["web"],
            build: form_request,
            total: (0, 0.0),
        },
    ];
    targets.retain(|t| wanted.split(',').any(|w| w.trim() == t.key));

    // Every request of every round, built and signed before any clock runs.
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let prepared = Instant::now();
    let requests: Vec<Vec<Arc<Vec<Vec<u8>>>>> = targets
        .iter()
        .map(|target| {
            (0..rounds)
                .map(|round| {
                    Arc::new(
                        (round * n..(round + 1) * n)
                            .map(|i| (target.build)(i, now_ms))
                            .collect(),
                    )
                })
                .collect()
        })
        .collect();
    let healthz = Arc::new(vec![HEALTHZ.to_vec(); n]);
    eprintln!(
        "prepared {} signed requests in {:.2} s",
        n * rounds * targets.len(),
        prepared.elapsed().as_secs_f64()
    );

    println!("| round | target | requests | seconds | req/s | p50 ms | p99 ms | load avg |");
    println!("|---|---|---|---|---|---|---|---|");
    let (mut health_n, mut health_s) = (0, 0.0);
    for round in 0..rounds {
        let health = load(daemon.http, connections, healthz.clone(), 200, None).await;
        row(round + 1, "GET /healthz", &health, &support::load_average());
        health_n += health.requests;
        health_s += health.seconds;
        for (target, requests) in targets.iter_mut().zip(&requests) {
            let measured = load(
                daemon.http,
                connections,
                requests[round].clone(),
                target.status,
                target.expect,
            )
            .await;
            row(round + 1, target.label, &measured, &support::load_average());
            target.total.0 += measured.requests;
            target.total.1 += measured.seconds;
        }
    }
    let rss_loaded = daemon.rss_mib();
    let (per_channel, conversations) = stored(&daemon).await;
    let health_rate = health_n as f64 / health_s;
    println!();
    println!("| target | requests | req/s | ratio to /healthz |");
    println!("|---|---|---|---|");
    println!("| GET /healthz (same daemon, same generator) | {health_n} | {health_rate:.0} | 1 |");
    let mut stored_total = 0;
    for target in &targets {
        let rate = target.total.0 as f64 / target.total.1;
        println!(
            "| {} | {} | {rate:.0} | {:.3} |",
            target.summary,
            target.total.0,
            rate / health_rate
        );
        let stored: u64 = target
            .channels
            .iter()
            .map(|c| per_channel.get(*c).copied().unwrap_or(0))
            .sum();
        assert_eq!(
            stored as usize, target.total.0,
            "every acknowledged {} request's message is stored",
            target.key
        );
        stored_total += stored;
    }
    println!();
    println!(
        "{connections} keep-alive connections. Stored afterwards: **{stored_total} messages** \
         ({per_channel:?}) in {conversations} conversations, one for every acknowledged request. \
         Daemon RSS {rss_idle:.1} MiB idle, {rss_loaded:.1} MiB after the load."
    );
}
