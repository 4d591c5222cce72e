//! Soak run: steady mixed load for `SOAK_SECONDS` (1,800), sampling the
//! daemon's RSS and open file descriptors every 10 s.
//!
//! Every second, by default (each amount can be set in the environment):
//! - SMTP: `NEW_MAILS` (1) new mails, `DUPLICATE_MAILS` (8) re-deliveries
//!   of earlier ones and `REFUSED_MAILS` (4) unknown recipients;
//! - Messenger: `NEW_WEBHOOKS` (1) new signed messages, `REPLAYED_WEBHOOKS`
//!   (8) replays and `UNSIGNED_WEBHOOKS` (4) forged signatures;
//! - chat: `VISITORS` (2) website visitors, new and returning, each sending
//!   one message and its resend, then leaving;
//! - `READS` (20) API reads (lists, conversations, messages, contacts,
//!   `/healthz`, `/metrics`) and `REPLIES` (1) agent replies delivered by
//!   the outbox to the relay (`RELAY_PORT`, an `smtp-sink` from
//!   bench/soak.sh); an events subscriber reconnects every 30 s.
//!
//! First `PRELOAD` (20,000) mails are stored as fast as they go, so the
//! store has history larger than its page cache, as after weeks of use;
//! the samples start after that.
//!
//! So about 60 requests a second, of which 5 store a new message (18,000 an
//! hour, more than a large support team receives). `NEW_MAILS=20
//! NEW_WEBHOOKS=20` makes it an ingest soak instead, to see memory follow
//! the store's size. `CACHE_MIB` sets `[storage] cache_mib`.
//!
//! Prints `seconds,rss_kib,fds,stored,requests` lines (CSV) and a summary:
//! the least-squares slope of RSS and of fds over the second half, per hour.

mod soak_load;
mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use soak_load::{Counts, Load, Rates, FB_SECRET, ORIGIN, PAGE_ID};
use support::Daemon;

fn config(relay_port: u16, cache_mib: Option<usize>) -> String {
    let config = support::config(&format!(
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

[[channels]]
id = "web"
inbox = "support"
kind = "chat"
allowed_origins = ["{ORIGIN}"]
# Every simulated visitor comes from loopback.
[channels.per_address]
max_sockets = 50000
new_conversations_per_minute = 50000
messages_per_minute = 100000

[outbound_smtp]
host = "127.0.0.1"
port = {relay_port}
tls = "none"
"#
    ));
    match cache_mib {
        Some(mib) => config.replace(
            "path = \"data\"\n",
            &format!("path = \"data\"\ncache_mib = {mib}\n"),
        ),
        None => config,
    }
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

fn rates() -> Rates {
    let rate = |name, default| support::env_usize(name, default) as u64;
    Rates {
        new_mails: rate("NEW_MAILS", 1),
        duplicate_mails: rate("DUPLICATE_MAILS", 8),
        refused_mails: rate("REFUSED_MAILS", 4),
        new_webhooks: rate("NEW_WEBHOOKS", 1),
        replayed_webhooks: rate("REPLAYED_WEBHOOKS", 8),
        unsigned_webhooks: rate("UNSIGNED_WEBHOOKS", 4),
        visitors: rate("VISITORS", 2),
        reads: rate("READS", 20),
        replies: rate("REPLIES", 1),
        preload: rate("PRELOAD", 20_000),
    }
}

#[tokio::main]
async fn main() {
    let seconds = support::env_usize("SOAK_SECONDS", 1800) as u64;
    let relay_port = support::env_usize("RELAY_PORT", 47025) as u16;
    let cache_mib = std::env::var("CACHE_MIB").ok().and_then(|v| v.parse().ok());

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fb_app_secret"), format!("{FB_SECRET}\n")).unwrap();
    std::fs::write(dir.path().join("fb_page_token"), "soak-page-token\n").unwrap();
    let daemon = Arc::new(Daemon::start(
        &support::daemon_bin(),
        dir.path(),
        &config(relay_port, cache_mib),
    ));
    let rates = rates();
    let preloading = Instant::now();
    soak_load::preload(&daemon, rates.preload).await;
    eprintln!(
        "preloaded {} mails in {:.1} s; RSS {:.1} MiB",
        rates.preload,
        preloading.elapsed().as_secs_f64(),
        daemon.rss_mib()
    );
    let start = Instant::now();
    let load = Arc::new(Load {
        daemon: daemon.clone(),
        counts: Arc::new(Counts::default()),
        rates,
        deadline: start + Duration::from_secs(seconds),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
    });
    let tasks = [
        tokio::spawn(soak_load::mails(load.clone())),
        tokio::spawn(soak_load::webhooks(load.clone())),
        tokio::spawn(soak_load::visitors(load.clone())),
        tokio::spawn(soak_load::reads(load.clone())),
        tokio::spawn(soak_load::replies(load.clone())),
        tokio::spawn(soak_load::events(load.clone())),
    ];

    println!("seconds,rss_kib,fds,stored,requests");
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    while Instant::now() < load.deadline {
        tick.tick().await;
        if tasks.iter().any(|task| task.is_finished()) {
            break; // a load task stopped early: its panic is reported below
        }
        let t = start.elapsed().as_secs_f64();
        let rss_kib = daemon.rss_mib() * 1024.0;
        let open = fds(daemon.pid());
        let stored = load.counts.stored.load(Ordering::Relaxed);
        let requests = load.counts.requests.load(Ordering::Relaxed);
        println!("{t:.0},{rss_kib:.0},{open},{stored},{requests}");
        samples.push((t, rss_kib, open as f64));
    }
    for task in tasks {
        task.await.expect("a load task failed");
    }
    let half: Vec<_> = samples[samples.len() / 2..].to_vec();
    let rss: Vec<(f64, f64)> = half.iter().map(|(t, r, _)| (*t, *r / 1024.0)).collect();
    let fd: Vec<(f64, f64)> = half.iter().map(|(t, _, f)| (*t, *f)).collect();
    let (first, last) = (samples.first().unwrap(), samples.last().unwrap());
    eprintln!(
        "summary: {} s, {} requests, {} new messages stored, RSS {:.1} → {:.1} MiB \
         (second-half slope {:+.2} MiB/h), fds {} → {} (second-half slope {:+.2}/h)",
        seconds,
        load.counts.requests.load(Ordering::Relaxed),
        load.counts.stored.load(Ordering::Relaxed),
        first.1 / 1024.0,
        last.1 / 1024.0,
        slope(&rss) * 3600.0,
        first.2,
        last.2,
        slope(&fd) * 3600.0
    );
}
