//! The soak's load: one task per kind of client, each paced once a second,
//! each checking every answer (a wrong status stops the run). Most of what
//! they do stores nothing new (duplicates, replays, refusals, reads), so a
//! run does many requests while the store grows at a helpdesk's pace.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Daemon, RawSmtp};

pub const PAGE_ID: &str = "104758912345678";
pub const FB_SECRET: &str = "soak-messenger-app-secret";
pub const ORIGIN: &str = "http://soak.example";

/// Per-second amounts, from the environment (see bench/soak.rs).
#[derive(Clone, Copy)]
pub struct Rates {
    pub new_mails: u64,
    pub duplicate_mails: u64,
    pub refused_mails: u64,
    pub new_webhooks: u64,
    pub replayed_webhooks: u64,
    pub unsigned_webhooks: u64,
    pub visitors: u64,
    pub reads: u64,
    pub replies: u64,
    /// Mails stored before the load starts (the store's history).
    pub preload: u64,
}

/// What the load did: new messages acknowledged, and every request.
#[derive(Default)]
pub struct Counts {
    pub stored: AtomicU64,
    pub requests: AtomicU64,
}

impl Counts {
    fn stored(&self) {
        self.stored.fetch_add(1, Ordering::Relaxed);
        self.request();
    }

    fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// Shared by the tasks.
pub struct Load {
    pub daemon: Arc<Daemon>,
    pub counts: Arc<Counts>,
    pub rates: Rates,
    pub deadline: Instant,
    pub client: reqwest::Client,
}

/// A small deterministic generator, so runs are repeatable.
struct Pick(u64);

impl Pick {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn every_second() -> tokio::time::Interval {
    tokio::time::interval(Duration::from_secs(1))
}

fn mail(n: u64) -> String {
    let person = n % 500;
    let mut text = format!(
        "From: \"Customer {person}\" <customer{person}@soak.example>\r\nTo: support@example.com\r\n\
         Subject: Soak message {n}\r\nMessage-ID: <soak-{n}@soak.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    );
    for line in 0..40 {
        text.push_str(&format!(
            "Line {line:02} of a customer message that explains what went wrong.\r\n"
        ));
    }
    text
}

/// SMTP: new mails, re-deliveries of earlier ones (same Message-ID: `250`,
/// stored once) and recipients that do not exist (`550`), on connections
/// reused for 50 transactions.
pub async fn mails(load: Arc<Load>) {
    let (rates, counts) = (load.rates, &load.counts);
    let mut pick = Pick(0x5eed_0001);
    let mut sent = rates.preload;
    let mut transactions = 0u64;
    let mut smtp = RawSmtp::connect(load.daemon.smtp).await;
    let mut tick = every_second();
    while Instant::now() < load.deadline {
        tick.tick().await;
        for kind in 0..rates.new_mails + rates.duplicate_mails + rates.refused_mails {
            if kind < rates.new_mails || sent == 0 {
                let from = format!("customer{}@soak.example", sent % 500);
                let code = smtp.send(&from, "support@example.com", &mail(sent)).await;
                assert_eq!(code, 250, "new mail {sent}");
                counts.stored();
                sent += 1;
            } else if kind < rates.new_mails + rates.duplicate_mails {
                let n = pick.below(sent);
                let from = format!("customer{}@soak.example", n % 500);
                let code = smtp.send(&from, "support@example.com", &mail(n)).await;
                assert_eq!(code, 250, "re-delivered mail {n}");
                counts.request();
            } else {
                assert_eq!(smtp.command("MAIL FROM:<someone@soak.example>").await, 250);
                let code = smtp.command("RCPT TO:<nobody@example.com>").await;
                assert_eq!(code, 550, "unknown recipient");
                assert_eq!(smtp.command("RSET").await, 250);
                counts.request();
            }
            transactions += 1;
            if transactions % 50 == 0 {
                smtp.quit().await;
                smtp = RawSmtp::connect(load.daemon.smtp).await;
            }
        }
    }
    smtp.quit().await;
}

/// Stores `count` mails over 16 connections, as fast as they go: a store
/// with history, larger than the page cache, like a daemon that has been
/// running for a while.
pub async fn preload(daemon: &Daemon, count: u64) {
    const CONNECTIONS: u64 = 16;
    let sessions = (0..CONNECTIONS).map(|first| async move {
        let mut smtp = RawSmtp::connect(daemon.smtp).await;
        for n in (first..count).step_by(CONNECTIONS as usize) {
            let from = format!("customer{}@soak.example", n % 500);
            let code = smtp.send(&from, "support@example.com", &mail(n)).await;
            assert_eq!(code, 250, "preloaded mail {n}");
        }
        smtp.quit().await;
    });
    futures_util::future::join_all(sessions).await;
}

fn sign(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(FB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn messenger_body(n: u64) -> Vec<u8> {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    serde_json::to_vec(&json!({"object": "page", "entry": [{
        "id": PAGE_ID, "time": now_ms, "messaging": [{
            "sender": {"id": format!("{}", 7_100_000_000_000_000u64 + n % 500)},
            "recipient": {"id": PAGE_ID}, "timestamp": now_ms,
            "message": {"mid": format!("m_soak_{n:010}"), "text": "Where is my parcel?"}}]}]}))
    .unwrap()
}

/// Signed Messenger webhooks: new messages from 500 people, replays of
/// earlier deliveries (`200`, stored once) and forged signatures (`403`).
pub async fn webhooks(load: Arc<Load>) {
    let (rates, counts) = (load.rates, &load.counts);
    let url = load.daemon.url("/webhooks/fb");
    let mut pick = Pick(0x5eed_0002);
    let mut sent = 0u64;
    let mut tick = every_second();
    let post = |body: Vec<u8>, signature: String| {
        load.client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    };
    while Instant::now() < load.deadline {
        tick.tick().await;
        for kind in 0..rates.new_webhooks + rates.replayed_webhooks + rates.unsigned_webhooks {
            let (n, expected) = if kind < rates.new_webhooks || sent == 0 {
                sent += 1;
                (sent - 1, 200)
            } else if kind < rates.new_webhooks + rates.replayed_webhooks {
                (pick.below(sent), 200)
            } else {
                (sent, 403)
            };
            let body = messenger_body(n);
            let signature = if expected == 403 {
                sign(b"another body")
            } else {
                sign(&body)
            };
            let response = post(body, signature).await.unwrap();
            assert_eq!(response.status().as_u16(), expected, "webhook {n}");
            if kind < rates.new_webhooks {
                counts.stored();
            } else {
                counts.request();
            }
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn chat_socket(load: &Load) -> Socket {
    let url = format!("ws://{}/ws/chat?channel=web", load.daemon.http);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", ORIGIN.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
}

/// The next frame of `wanted` type, skipping pushes (availability, typing).
async fn frame_of(socket: &mut Socket, wanted: &str) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {wanted} frame within 10 s"))
            .expect("socket closed")
            .unwrap();
        if let Ok(text) = frame.to_text() {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_ne!(value["type"], "error", "{value}");
            if value["type"] == wanted {
                return value;
            }
        }
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// Website visitors, new and returning (a pool of 200 tokens): each opens a
/// socket, says hello, sends one message, sends it again as a resend after
/// a lost ack (same `client_id`: the same ack, stored once), and leaves.
pub async fn visitors(load: Arc<Load>) {
    let counts = &load.counts;
    let mut pick = Pick(0x5eed_0003);
    let mut tokens: Vec<String> = Vec::new();
    let mut sent = 0u64;
    let mut tick = every_second();
    while Instant::now() < load.deadline {
        tick.tick().await;
        for _ in 0..load.rates.visitors {
            let returning = tokens.len() >= 200 || (!tokens.is_empty() && pick.below(2) == 0);
            let token = returning.then(|| tokens[pick.below(tokens.len() as u64) as usize].clone());
            let mut socket = chat_socket(&load).await;
            let hello = match &token {
                Some(token) => json!({"type": "hello", "visitor_token": token}),
                None => json!({"type": "hello"}),
            };
            send(&mut socket, hello).await;
            let welcome = frame_of(&mut socket, "welcome").await;
            if token.is_none() {
                tokens.push(welcome["visitor_token"].as_str().unwrap().to_string());
            }
            let message = json!({"type": "message", "client_id": format!("soak-{sent}"),
                                 "text": format!("Visitor question {sent}")});
            send(&mut socket, message.clone()).await;
            let first = frame_of(&mut socket, "ack").await;
            send(&mut socket, message).await;
            let again = frame_of(&mut socket, "ack").await;
            assert_eq!(
                first["message_id"], again["message_id"],
                "a resend is the same message"
            );
            counts.stored();
            counts.request();
            sent += 1;
            let _ = socket.close(None).await;
        }
    }
}

/// What agents' browsers and monitoring read: the conversation list, one
/// conversation and its messages, contacts, `/healthz` and `/metrics`.
pub async fn reads(load: Arc<Load>) {
    let daemon = &load.daemon;
    let mut tick = every_second();
    let get = |path: String| {
        load.client
            .get(daemon.url(&path))
            .bearer_auth(&daemon.token)
            .send()
    };
    let mut round = 0u64;
    while Instant::now() < load.deadline {
        tick.tick().await;
        let list = daemon
            .get_json(&load.client, "/api/v1/conversations?limit=20")
            .await;
        load.counts.request();
        let ids: Vec<String> = list["conversations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect();
        for i in 1..load.rates.reads {
            round += 1;
            let path = match (round % 5, ids.get(i as usize % ids.len().max(1))) {
                (0, _) | (_, None) => "/healthz".to_string(),
                (1, Some(id)) => format!("/api/v1/conversations/{id}"),
                (2, Some(id)) => format!("/api/v1/conversations/{id}/messages"),
                (3, _) => "/api/v1/contacts?q=customer".to_string(),
                (_, _) => "/metrics".to_string(),
            };
            let response = get(path.clone()).await.unwrap();
            assert_eq!(response.status().as_u16(), 200, "GET {path}");
            let _ = response.bytes().await.unwrap();
            load.counts.request();
        }
    }
}

/// Agent replies to the newest email conversations, which the outbox
/// delivers to the relay.
pub async fn replies(load: Arc<Load>) {
    let daemon = &load.daemon;
    let mut tick = every_second();
    while Instant::now() < load.deadline {
        tick.tick().await;
        let path = format!(
            "/api/v1/conversations?limit={}&inbox=support",
            load.rates.replies
        );
        let list = daemon.get_json(&load.client, &path).await;
        for conversation in list["conversations"].as_array().into_iter().flatten() {
            let id = conversation["id"].as_str().unwrap();
            let response = load
                .client
                .post(daemon.url(&format!("/api/v1/conversations/{id}/messages")))
                .bearer_auth(&daemon.token)
                .json(&json!({"text": "Thanks, we are looking into it."}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201, "reply to {id}");
            load.counts.stored();
        }
    }
}

/// An events subscriber that reconnects every 30 s, resuming with `since`.
pub async fn events(load: Arc<Load>) {
    let daemon = &load.daemon;
    let mut since: u64 = 0;
    while Instant::now() < load.deadline {
        let url = format!(
            "ws://{}/api/v1/events?since={since}&token={}",
            daemon.http, daemon.token
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        load.counts.request();
        let until = Instant::now() + Duration::from_secs(30);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until.into(), socket.next()).await {
            if let Ok(text) = frame.to_text() {
                if let Ok(event) = serde_json::from_str::<Value>(text) {
                    if let Some(seq) = event["seq"].as_u64() {
                        since = since.max(seq);
                    }
                }
            }
        }
        let _ = socket.close(None).await;
    }
}
