//! Web inbox benchmark: the server time of the conversation list the inbox
//! page loads (`GET /api/v1/conversations`, 25 per page, the UI's default
//! query) with `CONVERSATIONS` (10,000) conversations in the store.
//!
//! A release daemon is filled over SMTP (20 sessions, every mail a new
//! sender, so a new contact and conversation), then each query the list
//! view issues is timed `REQUESTS` (500) times, one at a time, over one
//! keep-alive connection with a bearer token: the first page of open
//! conversations of all inboxes, the second page (cursor), one inbox, the
//! email channel kind, and "assigned to me" (which matches none here, so
//! the worst case: it walks the whole activity index). Times are measured
//! at the client on loopback (so they include HTTP and JSON), p50 and p99.
//!
//! Run by bench/inbox.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use support::{Daemon, RawSmtp};

fn mail(n: usize) -> String {
    format!(
        "From: Customer {n} <c{n}@customer.example>\r\nTo: support@example.com\r\n\
         Subject: Question number {n} about my order\r\nMessage-ID: <inbox-bench-{n}@customer.example>\r\n\
         Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello, this is question {n}. When will my order arrive?\r\n"
    )
}

async fn fill(smtp: SocketAddr, sessions: usize, mails: usize) {
    let tasks: Vec<_> = (0..sessions)
        .map(|s| {
            tokio::spawn(async move {
                let mut client = RawSmtp::connect(smtp).await;
                let mut n = s;
                while n < mails {
                    let code = client
                        .send(
                            &format!("c{n}@customer.example"),
                            "support@example.com",
                            &mail(n),
                        )
                        .await;
                    assert_eq!(code, 250, "mail {n}");
                    n += sessions;
                }
                client.quit().await;
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn time(
    client: &reqwest::Client,
    daemon: &Daemon,
    query: &str,
    requests: usize,
) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(requests);
    let mut shown = 0;
    for _ in 0..requests {
        let start = Instant::now();
        let response = client
            .get(daemon.url(&format!("/api/v1/conversations?{query}")))
            .bearer_auth(&daemon.token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{query}: {response:?}");
        let body: Value = response.json().await.unwrap();
        times.push(start.elapsed());
        shown = body["conversations"].as_array().map_or(0, Vec::len);
    }
    times.sort();
    (
        support::quantile_ms(&times, 0.5),
        support::quantile_ms(&times, 0.99),
        shown,
    )
}

#[tokio::main]
async fn main() {
    let conversations = support::env_usize("CONVERSATIONS", 10_000);
    let requests = support::env_usize("REQUESTS", 500);
    let bin = support::daemon_bin();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&bin, dir.path(), &support::config(""));
    let started = Instant::now();
    fill(daemon.smtp, 20, conversations).await;
    let filled = started.elapsed();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let first = daemon
        .get_json(&client, "/api/v1/conversations?limit=25&status=open")
        .await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    println!(
        "{conversations} conversations stored in {:.1} s; {requests} requests per query, one at a time",
        filled.as_secs_f64()
    );
    println!();
    println!("| list query (25 per page) | p50 ms | p99 ms | rows |");
    println!("|---|---:|---:|---:|");
    let queries = [
        (
            "all inboxes, open (the inbox's first view)",
            "limit=25&status=open".to_string(),
        ),
        (
            "second page (cursor)",
            format!("limit=25&status=open&cursor={cursor}"),
        ),
        (
            "one inbox, open",
            "limit=25&status=open&inbox=support".to_string(),
        ),
        (
            "channel kind email, open",
            "limit=25&status=open&kind=email".to_string(),
        ),
        (
            "assigned to me, open (no match: full scan)",
            "limit=25&status=open&assignee=me".to_string(),
        ),
    ];
    for (name, query) in queries {
        let (p50, p99, rows) = time(&client, &daemon, &query, requests).await;
        println!("| {name} | {p50:.2} | {p99:.2} | {rows} |");
    }
    println!();
    println!("Daemon RSS after the run: {:.0} MiB", daemon.rss_mib());
}
