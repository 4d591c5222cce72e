//! Group commit measured: for 1, 4, 16 and 64 concurrent SMTP sessions
//! (reused connections), each sending for `GC_SECONDS` (10) seconds, the
//! messages stored per second, the latency from the end of DATA to the
//! `250` (p50/p99/p99.9), how many messages shared each flush, and the
//! flush latency histogram, read from the daemon's own `/metrics`.
//!
//! Reference, measured in the same run and the same folder: a lone
//! `write` + `fdatasync` of 4 KiB, 500 times (what one message would cost
//! with a flush per message and nothing shared).

mod support;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{quantile_ms, Daemon, RawSmtp};

/// `name{le="…"} value` lines of one histogram, cumulative.
fn buckets(text: &str, name: &str) -> Vec<(String, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, value) = rest.split_once("\"} ")?;
            Some((le.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn metrics(daemon: &Daemon) -> String {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(daemon.url("/metrics"))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn mail(session: usize, n: usize) -> String {
    let mut text = format!(
        "From: customer{session}@load.example\r\nTo: support@example.com\r\n\
         Subject: Group commit {session}/{n}\r\nMessage-ID: <gc-{session}-{n}@load.example>\r\n\r\n"
    );
    for line in 0..60 {
        text.push_str(&format!(
            "Line {line:02} of a customer message that explains what went wrong in detail.\r\n"
        ));
    }
    text
}

/// Fsync reference: 4 KiB written and `fdatasync`ed, `n` times.
fn fsync_reference(dir: &std::path::Path, n: usize) -> Vec<Duration> {
    let mut file = std::fs::File::create(dir.join("fsync-reference")).unwrap();
    let block = vec![b'x'; 4096];
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&block).unwrap();
            file.sync_data().unwrap();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

#[tokio::main]
async fn main() {
    let seconds = support::env_usize("GC_SECONDS", 10) as u64;
    let levels: Vec<usize> = std::env::var("LEVELS")
        .unwrap_or_else(|_| "1,4,16,64".into())
        .split(',')
        .map(|l| l.parse().unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let reference = fsync_reference(dir.path(), 500);
    println!(
        "Reference: write + fdatasync of 4 KiB in the same folder, 500 times: p50 {:.2} ms, p99 {:.2} ms \
         (a flush per message could not go faster than ~{:.0} msg/s).\n",
        quantile_ms(&reference, 0.5),
        quantile_ms(&reference, 0.99),
        1000.0 / quantile_ms(&reference, 0.5)
    );
    println!("| sessions | messages | msg/s | DATA→250 p50 | p99 | p99.9 | flushes | messages per flush | flush p50 ≤ | load avg |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut histograms = Vec::new();
    for &sessions in &levels {
        let run = tempfile::tempdir().unwrap();
        let daemon = Arc::new(Daemon::start(
            &support::daemon_bin(),
            run.path(),
            &support::config(""),
        ));
        let before = metrics(&daemon).await;
        let start = Instant::now();
        let deadline = start + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..sessions)
            .map(|session| {
                let daemon = daemon.clone();
                tokio::spawn(async move {
                    let mut smtp = RawSmtp::connect(daemon.smtp).await;
                    let mut latencies = Vec::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let (code, latency) = smtp
                            .send_timed(
                                &format!("customer{session}@load.example"),
                                "support@example.com",
                                &mail(session, n),
                            )
                            .await;
                        assert_eq!(code, 250, "session {session} message {n}");
                        latencies.push(latency);
                        n += 1;
                    }
                    smtp.quit().await;
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = start.elapsed().as_secs_f64();
        latencies.sort();
        let after = metrics(&daemon).await;
        let flush_count = value(&after, "switchboard_store_flush_batch_size_count")
            - value(&before, "switchboard_store_flush_batch_size_count");
        let writers = value(&after, "switchboard_store_flush_batch_size_sum")
            - value(&before, "switchboard_store_flush_batch_size_sum");
        let latency_before = buckets(&before, "switchboard_store_flush_latency_seconds");
        let latency_after = buckets(&after, "switchboard_store_flush_latency_seconds");
        let histogram: Vec<(String, f64)> = latency_after
            .iter()
            .zip(
                latency_before
                    .iter()
                    .map(|b| b.1)
                    .chain(std::iter::repeat(0.0)),
            )
            .map(|((le, a), b)| (le.clone(), a - b))
            .collect();
        let median_bucket = histogram
            .iter()
            .find(|(_, count)| *count >= flush_count / 2.0)
            .map_or("?".to_string(), |(le, _)| format!("{le} s"));
        println!(
            "| {sessions} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {flush_count:.0} | {:.1} | {median_bucket} | {} |",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            quantile_ms(&latencies, 0.5),
            quantile_ms(&latencies, 0.99),
            quantile_ms(&latencies, 0.999),
            writers / flush_count.max(1.0),
            support::load_average(),
        );
        histograms.push((sessions, flush_count, histogram));
    }
    println!(
        "\nFlush latency histogram (flushes completed within each bound, cumulative share):\n"
    );
    let bounds: Vec<String> = histograms[0].2.iter().map(|(le, _)| le.clone()).collect();
    println!(
        "| sessions | {} |",
        bounds
            .iter()
            .map(|b| format!("≤ {b} s"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---|".repeat(bounds.len()));
    for (sessions, count, histogram) in histograms {
        println!(
            "| {sessions} | {} |",
            histogram
                .iter()
                .map(|(_, c)| format!("{:.0}%", 100.0 * c / count.max(1.0)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}
