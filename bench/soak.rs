//! Soak run: mixed load at a steady, bounded rate for `SOAK_SECONDS` (1,800),
//! sampling the daemon's RSS and open file descriptors every 10 s.
//!
//! Every second: `MAILS` (20) mails over SMTP (a connection reused for 50
//! mails, then a new one), `WEBHOOKS` (20) signed Messenger webhook posts,
//! each from a new person, and `REPLIES` (5) agent replies through the API
//! to earlier mail conversations, which the outbox delivers to the relay
//! (`RELAY_PORT`, an `smtp-sink` started by bench/soak.sh). An events
//! subscriber reconnects every 30 s, resuming with `since`. Every answer is
//! checked: a mail not acknowledged with 250, a webhook not 200 or a reply
//! not 201 stops the run.
//!
//! Prints `seconds,rss_kib,fds,stored` lines (CSV) and a summary: the
//! least-squares slope of RSS and of fds over the second half of the run,
//! in units per hour.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use support::{Daemon, RawSmtp};

const PAGE_ID: &str = "104758912345678";
const FB_SECRET: &str = "soak-messenger-app-secret";

fn config(relay_port: u16) -> String {
    support::config(&format!(
        r#"
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
verify_token = "soak-verify"
page_token_file = "fb_page_token"
graph_base_url = "http://127.0.0.1:9"

[outbound_smtp]
host = "127.0.0.1"
port = {relay_port}
tls = "none"
"#
    ))
}

fn sign(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(FB_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn mail(n: u64) -> String {
    let mut text = format!(
        "From: \"Customer {n}\" <customer{n}@soak.example>\r\nTo: support@example.com\r\n\
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

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[tokio::main]
async fn main() {
    let seconds = support::env_usize("SOAK_SECONDS", 1800) as u64;
    let mails = support::env_usize("MAILS", 20) as u64;
    let webhooks = support::env_usize("WEBHOOKS", 20) as u64;
    let replies = support::env_usize("REPLIES", 5) as u64;
    let relay_port = support::env_usize("RELAY_PORT", 47025) as u16;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fb_app_secret"), format!("{FB_SECRET}\n")).unwrap();
    std::fs::write(dir.path().join("fb_page_token"), "soak-page-token\n").unwrap();
    let daemon = Arc::new(Daemon::start(
        &support::daemon_bin(),
        dir.path(),
        &config(relay_port),
    ));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let stored = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);

    // Mail: one task, paced per second.
    let mail_task = {
        let (daemon, stored) = (daemon.clone(), stored.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            let mut smtp = RawSmtp::connect(daemon.smtp).await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while Instant::now() < deadline {
                tick.tick().await;
                for _ in 0..mails {
                    let code = smtp
                        .send(
                            &format!("customer{n}@soak.example"),
                            "support@example.com",
                            &mail(n),
                        )
                        .await;
                    assert_eq!(code, 250, "mail {n}");
                    stored.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    if n % 50 == 0 {
                        smtp.quit().await;
                        smtp = RawSmtp::connect(daemon.smtp).await;
                    }
                }
            }
        })
    };

    // Webhooks: signed Messenger posts, each a new person.
    let webhook_task = {
        let (daemon, stored, client) = (daemon.clone(), stored.clone(), client.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while Instant::now() < deadline {
                tick.tick().await;
                for _ in 0..webhooks {
                    let now_ms = jiff::Timestamp::now().as_millisecond();
                    let body = serde_json::to_vec(&json!({"object": "page", "entry": [{
                        "id": PAGE_ID, "time": now_ms, "messaging": [{
                            "sender": {"id": format!("{}", 7_100_000_000_000_000u64 + n)},
                            "recipient": {"id": PAGE_ID}, "timestamp": now_ms,
                            "message": {"mid": format!("m_soak_{n:010}"), "text": "Where is my parcel?"}}]}]}))
                    .unwrap();
                    let response = client
                        .post(daemon.url("/webhooks/fb"))
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", sign(&body))
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 200, "webhook {n}");
                    stored.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            }
        })
    };

    // Replies to the newest email conversations, delivered to the relay.
    let reply_task = {
        let (daemon, client) = (daemon.clone(), client.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while Instant::now() < deadline {
                tick.tick().await;
                let list: Value = client
                    .get(daemon.url(&format!(
                        "/api/v1/conversations?limit={replies}&inbox=support"
                    )))
                    .bearer_auth(&daemon.token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for conversation in list["conversations"].as_array().into_iter().flatten() {
                    let id = conversation["id"].as_str().unwrap();
                    let response = client
                        .post(daemon.url(&format!("/api/v1/conversations/{id}/messages")))
                        .bearer_auth(&daemon.token)
                        .json(&json!({"text": "Thanks, we are looking into it."}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 201, "reply to {id}");
                }
            }
        })
    };

    // An events subscriber that reconnects every 30 s, resuming.
    let events_task = {
        let daemon = daemon.clone();
        tokio::spawn(async move {
            let mut since: u64 = 0;
            while Instant::now() < deadline {
                let url = format!(
                    "ws://{}/api/v1/events?since={since}&token={}",
                    daemon.http, daemon.token
                );
                let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                let until = Instant::now() + Duration::from_secs(30);
                while let Ok(Some(Ok(frame))) =
                    tokio::time::timeout_at(until.into(), socket.next()).await
                {
                    if let Ok(text) = frame.to_text() {
                        if let Ok(event) = serde_json::from_str::<Value>(text) {
                            if let Some(seq) = event["seq"].as_u64() {
                                since = since.max(seq);
                            }
                        }
                    }
                }
                drop(socket);
            }
        })
    };

    println!("seconds,rss_kib,fds,stored");
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    while Instant::now() < deadline {
        tick.tick().await;
        let t = start.elapsed().as_secs_f64();
        let rss_kib = daemon.rss_mib() * 1024.0;
        let open = fds(daemon.pid());
        let count = stored.load(Ordering::Relaxed);
        println!("{t:.0},{rss_kib:.0},{open},{count}");
        samples.push((t, rss_kib, open as f64));
    }
    for task in [mail_task, webhook_task, reply_task, events_task] {
        task.await.expect("a load task failed");
    }
    let half: Vec<_> = samples[samples.len() / 2..].to_vec();
    let rss: Vec<(f64, f64)> = half.iter().map(|(t, r, _)| (*t, *r / 1024.0)).collect();
    let fd: Vec<(f64, f64)> = half.iter().map(|(t, _, f)| (*t, *f)).collect();
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    eprintln!(
        "summary: {} s, {} messages stored, RSS {:.1} → {:.1} MiB (second-half slope {:+.2} MiB/h), \
         fds {} → {} (second-half slope {:+.2}/h)",
        seconds,
        stored.load(Ordering::Relaxed),
        first.1 / 1024.0,
        last.1 / 1024.0,
        slope(&rss) * 3600.0,
        first.2,
        last.2,
        slope(&fd) * 3600.0
    );
}
