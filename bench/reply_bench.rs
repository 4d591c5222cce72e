//! Reply benchmark: how long an agent's reply takes from `POST` to the relay,
//! and how fast the outbox drains a backlog into a loopback relay.
//!
//! A loopback SMTP sink in this process stands in for the relay and notes
//! when each reply's DATA is complete (replies carry a `bench-id-N` marker).
//! - Latency: `N_LATENCY` replies, one at a time (POST, wait for the relay);
//!   reference: lettre (the client the daemon uses) sending the same kind of
//!   mail straight to the sink, one at a time over a pooled connection.
//! - Throughput: the sink holds every `MAIL FROM` while `N_THROUGHPUT`
//!   replies are posted (so they are all queued in the outbox), then lets go;
//!   messages/s from then to the last one received. Reference: lettre
//!   straight to the sink with as many concurrent senders as the outbox has.
//! - Both references are repeated with a minimal client that sets
//!   TCP_NODELAY and writes the DATA in one piece: lettre writes the final
//!   `.` separately, and with Nagle's algorithm that write waits for the
//!   relay's delayed ACK (~40 ms on Linux).
//!
//! Run by bench/replies.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use support::{quantile_ms, Daemon, RawSmtp};

/// Outbox deliveries in flight (the daemon's default `outbox.concurrency`).
const OUTBOX_CONCURRENCY: usize = 8;
/// Concurrent HTTP clients posting the backlog.
const POSTERS: usize = 16;
/// Conversations the replies are spread over.
const CONVERSATIONS: usize = 10;
/// Ids of the reference mails start here.
const REFERENCE_IDS: u64 = 1_000_000_000;
const BODY: &str = "Thanks for writing in. We have looked at your order and a replacement \
is on its way; you will receive a tracking number by email within a day.";

type Receipt = (u64, Instant);

#[tokio::main]
async fn main() {
    let n_latency = support::env_usize("N_LATENCY", 1000);
    let n_throughput = support::env_usize("N_THROUGHPUT", 5000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_port = listener.local_addr().unwrap().port();
    let (receipts_tx, mut receipts) = mpsc::unbounded_channel::<Receipt>();
    let (gate, gate_rx) = watch::channel(true);
    tokio::spawn(sink(listener, receipts_tx, gate_rx));

    let dir = tempfile::tempdir().unwrap();
    let config = support::config(&format!(
        r#"
[outbound_smtp]
host = "127.0.0.1"
port = {sink_port}
tls = "none"
timeout_secs = 600

[outbox]
max_attempts = 3
initial_backoff_ms = 1000
max_backoff_ms = 5000
concurrency = {OUTBOX_CONCURRENCY}
"#
    ));
    let daemon = Daemon::start(&support::daemon_bin(), dir.path(), &config);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let rss_idle = daemon.rss_mib();

    // Conversations to answer: outbound ones, started through the API.
    let mut conversations = Vec::new();
    for i in 0..CONVERSATIONS {
        let (status, body) = post(
            &http,
            &daemon,
            "/api/v1/conversations",
            json!({"channel": "support-email", "to": format!("customer{i}@customer.example"),
                   "name": format!("Customer {i}"), "subject": format!("Order {i}"),
                   "text": "Hello"}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        conversations.push(body["conversation"]["id"].as_str().unwrap().to_string());
    }
    // The opening mails reach the sink too; wait for them (unmarked).
    drain_unmarked(&mut receipts, CONVERSATIONS).await;

    // Latency, one reply at a time.
    let mut post_times = Vec::with_capacity(n_latency);
    let mut relay_times = Vec::with_capacity(n_latency);
    for i in 0..n_latency as u64 {
        let conversation = &conversations[i as usize % CONVERSATIONS];
        let start = Instant::now();
        let (status, body) = post(
            &http,
            &daemon,
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"text": format!("{BODY}\nbench-id-{i}")}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        post_times.push(start.elapsed());
        let at = wait_for(&mut receipts, i).await;
        relay_times.push(at - start);
    }

    // Reference latency: lettre straight to the sink.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink_port)
        .pool_config(PoolConfig::new().max_size(OUTBOX_CONCURRENCY as u32))
        .build();
    let mut direct_times = Vec::with_capacity(n_latency);
    for i in 0..n_latency as u64 {
        let id = REFERENCE_IDS + i;
        let start = Instant::now();
        transport.send(mail(id)).await.unwrap();
        let at = wait_for(&mut receipts, id).await;
        direct_times.push(at - start);
    }

    // Reference latency: a minimal client with TCP_NODELAY.
    let sink_addr = SocketAddr::from(([127, 0, 0, 1], sink_port));
    let mut raw = RawSmtp::connect(sink_addr).await;
    let mut raw_times = Vec::with_capacity(n_latency);
    for i in 0..n_latency as u64 {
        let id = 3 * REFERENCE_IDS + i;
        let start = Instant::now();
        assert_eq!(raw.send(FROM, TO, &raw_mail(id)).await, 250);
        let at = wait_for(&mut receipts, id).await;
        raw_times.push(at - start);
    }
    raw.quit().await;

    // Throughput: a backlog of replies, queued while the sink holds MAIL FROM.
    gate.send(false).unwrap();
    let base = n_latency as u64;
    let post_start = Instant::now();
    let posters: Vec<_> = (0..POSTERS)
        .map(|p| {
            let http = http.clone();
            let url = daemon.url("");
            let token = daemon.token.clone();
            let conversations = conversations.clone();
            tokio::spawn(async move {
                let mut i = p;
                while i < n_throughput {
                    let conversation = &conversations[i % CONVERSATIONS];
                    let response = http
                        .post(format!(
                            "{url}/api/v1/conversations/{conversation}/messages"
                        ))
                        .bearer_auth(&token)
                        .json(&json!({"text": format!("{BODY}\nbench-id-{}", base + i as u64)}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 201);
                    i += POSTERS;
                }
            })
        })
        .collect();
    for poster in posters {
        poster.await.unwrap();
    }
    let post_elapsed = post_start.elapsed();
    let rss_queued = daemon.rss_mib();
    let release = Instant::now();
    gate.send(true).unwrap();
    let wanted: HashSet<u64> = (base..base + n_throughput as u64).collect();
    let last = wait_for_all(&mut receipts, wanted, Duration::from_secs(600)).await;
    let drain = last - release;
    let rss_drained = daemon.rss_mib();

    // Reference throughput: lettre straight to the sink, same concurrency.
    let start = Instant::now();
    let transport = Arc::new(transport);
    let senders: Vec<_> = (0..OUTBOX_CONCURRENCY)
        .map(|s| {
            let transport = transport.clone();
            tokio::spawn(async move {
                let mut i = s;
                while i < n_throughput {
                    transport
                        .send(mail(2 * REFERENCE_IDS + i as u64))
                        .await
                        .unwrap();
                    i += OUTBOX_CONCURRENCY;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let wanted: HashSet<u64> =
        (2 * REFERENCE_IDS..2 * REFERENCE_IDS + n_throughput as u64).collect();
    let last = wait_for_all(&mut receipts, wanted, Duration::from_secs(600)).await;
    let direct = last - start;

    // Reference throughput: the minimal client, same concurrency.
    let start = Instant::now();
    let senders: Vec<_> = (0..OUTBOX_CONCURRENCY)
        .map(|s| {
            tokio::spawn(async move {
                let mut raw = RawSmtp::connect(sink_addr).await;
                let mut i = s;
                while i < n_throughput {
                    let id = 4 * REFERENCE_IDS + i as u64;
                    assert_eq!(raw.send(FROM, TO, &raw_mail(id)).await, 250);
                    i += OUTBOX_CONCURRENCY;
                }
                raw.quit().await;
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let wanted: HashSet<u64> =
        (4 * REFERENCE_IDS..4 * REFERENCE_IDS + n_throughput as u64).collect();
    let last = wait_for_all(&mut receipts, wanted, Duration::from_secs(600)).await;
    let raw_direct = last - start;

    post_times.sort();
    raw_times.sort();
    relay_times.sort();
    direct_times.sort();
    let load = support::load_average();
    println!("| measurement | n | p50 ms | p99 ms | msg/s | load avg |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| POST reply → 201 (durable) | {n_latency} | {:.2} | {:.2} | – | {load} |",
        quantile_ms(&post_times, 0.5),
        quantile_ms(&post_times, 0.99)
    );
    println!(
        "| POST reply → relay has DATA | {n_latency} | {:.2} | {:.2} | – | {load} |",
        quantile_ms(&relay_times, 0.5),
        quantile_ms(&relay_times, 0.99)
    );
    println!(
        "| reference: lettre → relay directly | {n_latency} | {:.2} | {:.2} | – | {load} |",
        quantile_ms(&direct_times, 0.5),
        quantile_ms(&direct_times, 0.99)
    );
    println!(
        "| reference: TCP_NODELAY client → relay directly | {n_latency} | {:.2} | {:.2} | – | {load} |",
        quantile_ms(&raw_times, 0.5),
        quantile_ms(&raw_times, 0.99)
    );
    println!(
        "| posting the backlog ({POSTERS} HTTP clients) | {n_throughput} | – | – | {:.0} | {load} |",
        n_throughput as f64 / post_elapsed.as_secs_f64()
    );
    println!(
        "| outbox drain to relay (concurrency {OUTBOX_CONCURRENCY}) | {n_throughput} | – | – | {:.0} | {load} |",
        n_throughput as f64 / drain.as_secs_f64()
    );
    println!(
        "| reference: lettre → relay directly ({OUTBOX_CONCURRENCY} senders) | {n_throughput} | – | – | {:.0} | {load} |",
        n_throughput as f64 / direct.as_secs_f64()
    );
    println!(
        "| reference: TCP_NODELAY client → relay directly ({OUTBOX_CONCURRENCY} connections) | {n_throughput} | – | – | {:.0} | {load} |",
        n_throughput as f64 / raw_direct.as_secs_f64()
    );
    println!();
    println!(
        "Daemon RSS: {rss_idle:.1} MiB idle, {rss_queued:.1} MiB with {n_throughput} replies queued, \
         {rss_drained:.1} MiB after the drain."
    );
    drop(daemon);
}

async fn post(http: &reqwest::Client, daemon: &Daemon, path: &str, body: Value) -> (u16, Value) {
    let response = http
        .post(daemon.url(path))
        .bearer_auth(&daemon.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const FROM: &str = "support@example.com";
const TO: &str = "customer@customer.example";

/// The same mail as `mail`, written out for the minimal client.
fn raw_mail(id: u64) -> String {
    format!(
        "From: \"Ada Admin at Example Inc\" <{FROM}>\r\nTo: {TO}\r\nSubject: Re: Order\r\n\
         Message-ID: <ref-{id}@bench.switchboard.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {BODY}\r\nbench-id-{id}\r\n\r\n-- \r\nAda Admin\r\n"
    )
}

fn mail(id: u64) -> Message {
    Message::builder()
        .from(
            "Ada Admin at Example Inc <support@example.com>"
                .parse()
                .unwrap(),
        )
        .to("customer@customer.example".parse().unwrap())
        .subject("Re: Order")
        .body(format!("{BODY}\nbench-id-{id}\n\n-- \nAda Admin\n"))
        .unwrap()
}

async fn wait_for(receipts: &mut mpsc::UnboundedReceiver<Receipt>, id: u64) -> Instant {
    loop {
        let (got, at) = tokio::time::timeout(Duration::from_secs(60), receipts.recv())
            .await
            .unwrap_or_else(|_| panic!("reply {id} never reached the relay"))
            .unwrap();
        if got == id {
            return at;
        }
    }
}

async fn wait_for_all(
    receipts: &mut mpsc::UnboundedReceiver<Receipt>,
    mut wanted: HashSet<u64>,
    timeout: Duration,
) -> Instant {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = Instant::now();
    while !wanted.is_empty() {
        let (id, at) = tokio::time::timeout_at(deadline, receipts.recv())
            .await
            .unwrap_or_else(|_| panic!("{} messages never reached the relay", wanted.len()))
            .unwrap();
        if wanted.remove(&id) {
            last = at;
        }
    }
    last
}

async fn drain_unmarked(receipts: &mut mpsc::UnboundedReceiver<Receipt>, count: usize) {
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(60), receipts.recv())
            .await
            .expect("opening mails reach the relay");
    }
}

/// The loopback relay: accepts everything; `gate` false holds `MAIL FROM`.
async fn sink(
    listener: TcpListener,
    receipts: mpsc::UnboundedSender<Receipt>,
    gate: watch::Receiver<bool>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let receipts = receipts.clone();
        let gate = gate.clone();
        tokio::spawn(async move {
            let _ = session(stream, receipts, gate).await;
        });
    }
}

async fn session(
    stream: TcpStream,
    receipts: mpsc::UnboundedSender<Receipt>,
    mut gate: watch::Receiver<bool>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match &verb[..] {
            b"EHLO" => b"250-sink.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            b"HELO" | b"RCPT" | b"RSET" | b"NOOP" => b"250 2.0.0 Ok\r\n",
            b"MAIL" => {
                while !*gate.borrow_and_update() {
                    if gate.changed().await.is_err() {
                        return Ok(());
                    }
                }
                b"250 2.1.0 Ok\r\n"
            }
            b"DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut id = None;
                loop {
                    line.clear();
                    if read.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    if id.is_none() {
                        id = marker(&line);
                    }
                }
                let _ = receipts.send((id.unwrap_or(u64::MAX), Instant::now()));
                b"250 2.0.0 Ok: queued\r\n"
            }
            b"QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 unknown\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The number after `bench-id-` in a line, if any.
fn marker(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = &text[text.find("bench-id-")? + "bench-id-".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
