//! Event fan-out benchmark: events/s delivered to `SOCKETS` (100) connected
//! agent sockets while `MAILS` inbound mails arrive over SMTP (each makes a
//! `conversation.created` and a `message.created` event).
//!
//! - Ingest alone: the same mails with no socket connected, for the cost of
//!   fanning out.
//! - With sockets: from the first mail sent until every socket has every
//!   event; and how long after the last `250` the last socket was served.
//! - Reference: a bare tokio-tungstenite server in this process pushing the
//!   same number of frames of the same size to the same number of clients
//!   through a `tokio::sync::broadcast` channel, as fast as it can.
//!
//! Run by bench/replies.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Message as Frame, Utf8Bytes};

use support::{Daemon, RawSmtp};

/// Concurrent SMTP sessions delivering the mails.
const SENDERS: usize = 10;

#[tokio::main]
async fn main() {
    let sockets = support::env_usize("SOCKETS", 100);
    let mails = support::env_usize("MAILS", 2000);
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&support::daemon_bin(), dir.path(), &support::config(""));

    // Ingest alone.
    let start = Instant::now();
    send_mails(daemon.smtp, 0, mails).await;
    let alone = start.elapsed();

    // Ingest with every socket following live.
    let expected = 2 * mails;
    let mut clients = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let mut request = format!("ws://{}/api/v1/events", daemon.http)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {}", daemon.token).parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        clients.push(tokio::spawn(follow(socket, expected)));
    }
    let rss_before = daemon.rss_mib();
    let start = Instant::now();
    send_mails(daemon.smtp, mails, mails).await;
    let sent = Instant::now();
    let (last, bytes) = finish(clients).await;
    let rss_after = daemon.rss_mib();
    let delivered = (sockets * expected) as f64;
    let event_bytes = bytes / (sockets * expected).max(1);

    // Reference: a bare broadcast server, same clients, same frames.
    let reference = bare_broadcast(sockets, expected, event_bytes).await;

    let load = support::load_average();
    println!(
        "| measurement | sockets | events | seconds | mails/s | events/s delivered | load avg |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| switchboard: ingest, no socket | 0 | {expected} | {:.2} | {:.0} | – | {load} |",
        alone.as_secs_f64(),
        mails as f64 / alone.as_secs_f64()
    );
    let with = last - start;
    println!(
        "| switchboard: ingest + fan-out | {sockets} | {expected} | {:.2} | {:.0} | {:.0} | {load} |",
        with.as_secs_f64(),
        mails as f64 / (sent - start).as_secs_f64(),
        delivered / with.as_secs_f64()
    );
    println!(
        "| reference: bare tokio-tungstenite broadcast | {sockets} | {expected} | {:.2} | – | {:.0} | {load} |",
        reference.as_secs_f64(),
        delivered / reference.as_secs_f64()
    );
    println!();
    println!(
        "Events average {event_bytes} bytes. The last socket had its last event {:.0} ms after \
         the last mail's 250. Daemon RSS {rss_before:.1} MiB before, {rss_after:.1} MiB after.",
        (last.saturating_duration_since(sent)).as_secs_f64() * 1000.0
    );
}

/// Reads `expected` events; returns when the last arrived and the bytes read.
async fn follow<S>(mut socket: S, expected: usize) -> (Instant, usize)
where
    S: futures_util::Stream<Item = Result<Frame, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut count = 0;
    let mut bytes = 0;
    while count < expected {
        let frame = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .unwrap_or_else(|_| panic!("stalled after {count} of {expected} events"));
        match frame {
            Some(Ok(Frame::Text(text))) => {
                bytes += text.len();
                count += 1;
            }
            Some(Ok(Frame::Close(close))) => panic!("closed after {count} events: {close:?}"),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("socket error after {count} events: {error}"),
            None => panic!("socket ended after {count} events"),
        }
    }
    (Instant::now(), bytes)
}

async fn finish(clients: Vec<tokio::task::JoinHandle<(Instant, usize)>>) -> (Instant, usize) {
    let mut last = None::<Instant>;
    let mut bytes = 0;
    for client in clients {
        let (at, read) = client.await.unwrap();
        bytes += read;
        last = Some(last.map_or(at, |l| l.max(at)));
    }
    (last.unwrap_or_else(Instant::now), bytes)
}

async fn send_mails(smtp: SocketAddr, first: usize, count: usize) {
    let tasks: Vec<_> = (0..SENDERS)
        .map(|s| {
            tokio::spawn(async move {
                let mut client = RawSmtp::connect(smtp).await;
                let mut i = s;
                while i < count {
                    let n = first + i;
                    let mail = format!(
                        "From: Customer {n} <c{n}@customer.example>\r\nTo: support@example.com\r\n\
                         Subject: Question {n} about my order\r\nMessage-ID: <fanout-{n}@customer.example>\r\n\
                         Content-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nmy order {n} has \
                         not arrived yet. Could you have a look and tell me when I can expect it?\r\n\r\n\
                         Thanks,\r\nCustomer {n}\r\n"
                    );
                    let code = client
                        .send(&format!("c{n}@customer.example"), "support@example.com", &mail)
                        .await;
                    assert_eq!(code, 250, "mail {n}");
                    i += SENDERS;
                }
                client.quit().await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Time for a bare broadcast server to push `events` frames of `size` bytes
/// to `sockets` clients.
async fn bare_broadcast(sockets: usize, events: usize, size: usize) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, _) = broadcast::channel::<Utf8Bytes>(events.max(1));
    let server = {
        let sender = sender.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let mut receiver = sender.subscribe();
                tokio::spawn(async move {
                    let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
                    while let Ok(text) = receiver.recv().await {
                        if socket.send(Frame::Text(text)).await.is_err() {
                            return;
                        }
                    }
                });
            }
        })
    };
    let mut clients = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        clients.push(tokio::spawn(follow(socket, events)));
    }
    let payload: Utf8Bytes =
        format!("{{\"pad\":\"{}\"}}", "x".repeat(size.saturating_sub(10))).into();
    let start = Instant::now();
    for _ in 0..events {
        sender.send(payload.clone()).unwrap();
    }
    let (last, _) = finish(clients).await;
    server.abort();
    last - start
}
