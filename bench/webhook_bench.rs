//! Verified-webhook benchmark: how many signed Messenger and WhatsApp
//! webhook POSTs a release daemon takes per second, each carrying one new
//! message and answered `200` only once that message is on disk, against
//! `GET /healthz` of the same daemon, same run, same load generator.
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
//! generator computes nothing while it runs. `/healthz` and the webhooks
//! alternate for `ROUNDS` (2) rounds against one daemon (its store grows
//! from round to round).
//!
//! Every answer must be `200` (`EVENT_RECEIVED` for a webhook); afterwards
//! the stored messages are counted through the API and must equal the
//! webhooks sent. Prints markdown tables: requests/s and latency per round,
//! the totals and the ratio webhook/healthz.
//!
//! Run by bench/webhooks.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use support::{quantile_ms, Daemon};

const PAGE_ID: &str = "104758912345678";
const PHONE_NUMBER_ID: &str = "106540352242922";
const FB_SECRET: &str = "bench-messenger-app-secret";
const WA_SECRET: &str = "bench-whatsapp-app-secret";
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
"#
    )
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
/// be `200` with `expect` as its body (when given).
async fn load(
    addr: SocketAddr,
    connections: usize,
    requests: Arc<Vec<Vec<u8>>>,
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
                    let status = connection.exchange(request).await;
                    latencies.push(sent.elapsed());
                    assert_eq!(
                        status,
                        200,
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

/// Messages stored, by channel, summed over every conversation.
async fn stored(daemon: &Daemon) -> (u64, u64, usize) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (mut fb, mut wa, mut conversations) = (0, 0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let mut url = daemon.url("/api/v1/conversations?limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let body: Value = client
            .get(url)
            .bearer_auth(&daemon.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for conversation in body["conversations"].as_array().unwrap() {
            conversations += 1;
            let count = conversation["message_count"].as_u64().unwrap();
            match conversation["channel"].as_str() {
                Some("fb") => fb += count,
                Some("wa") => wa += count,
                other => panic!("conversation on channel {other:?}"),
            }
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (fb, wa, conversations),
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

#[tokio::main]
async fn main() {
    let n = support::env_usize("N", 20_000);
    let connections = support::env_usize("CONNECTIONS", 32);
    let rounds = support::env_usize("ROUNDS", 2);

    let dir = tempfile::tempdir().unwrap();
    for (file, secret) in [
        ("fb_app_secret", FB_SECRET),
        ("fb_page_token", "bench-page-token"),
        ("wa_app_secret", WA_SECRET),
        ("wa_access_token", "bench-wa-token"),
    ] {
        std::fs::write(dir.path().join(file), format!("{secret}\n")).unwrap();
    }
    let daemon = Daemon::start(&support::daemon_bin(), dir.path(), &config());
    let rss_idle = daemon.rss_mib();

    // Every request of every round, built and signed before any clock runs.
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let prepared = Instant::now();
    let webhooks: Vec<Arc<Vec<Vec<u8>>>> = (0..rounds)
        .map(|round| {
            Arc::new(
                (round * n..(round + 1) * n)
                    .map(|i| webhook_request(i, now_ms))
                    .collect(),
            )
        })
        .collect();
    let healthz = Arc::new(vec![HEALTHZ.to_vec(); n]);
    let bytes: usize = webhooks.iter().flat_map(|r| r.iter()).map(Vec::len).sum();
    eprintln!(
        "prepared {} signed webhooks ({:.0} bytes each on average) in {:.2} s",
        n * rounds,
        bytes as f64 / (n * rounds) as f64,
        prepared.elapsed().as_secs_f64()
    );

    println!("| round | target | requests | seconds | req/s | p50 ms | p99 ms | load avg |");
    println!("|---|---|---|---|---|---|---|---|");
    let (mut health_n, mut health_s, mut hook_n, mut hook_s) = (0, 0.0, 0, 0.0);
    for (round, requests) in webhooks.into_iter().enumerate() {
        let health = load(daemon.http, connections, healthz.clone(), None).await;
        row(round + 1, "GET /healthz", &health, &support::load_average());
        health_n += health.requests;
        health_s += health.seconds;
        let hooks = load(daemon.http, connections, requests, Some(b"EVENT_RECEIVED")).await;
        row(
            round + 1,
            "signed webhook POST (durable)",
            &hooks,
            &support::load_average(),
        );
        hook_n += hooks.requests;
        hook_s += hooks.seconds;
    }
    let rss_loaded = daemon.rss_mib();
    let (fb, wa, conversations) = stored(&daemon).await;
    let health_rate = health_n as f64 / health_s;
    let hook_rate = hook_n as f64 / hook_s;
    println!();
    println!("| target | requests | req/s |");
    println!("|---|---|---|");
    println!("| GET /healthz (same daemon, same generator) | {health_n} | {health_rate:.0} |");
    println!("| signed webhook POST, one new message each, 200 after fsync | {hook_n} | {hook_rate:.0} |");
    println!();
    println!(
        "Ratio webhook/healthz: **{:.3}**. {connections} keep-alive connections. \
         Stored afterwards: **{} messages** ({fb} Messenger, {wa} WhatsApp) in {conversations} \
         conversations, for {hook_n} webhooks answered 200. Daemon RSS {rss_idle:.1} MiB idle, \
         {rss_loaded:.1} MiB after the load.",
        hook_rate / health_rate,
        fb + wa,
    );
    assert_eq!(
        (fb + wa) as usize,
        hook_n,
        "every acknowledged webhook's message is stored"
    );
}
