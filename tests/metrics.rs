//! End-to-end: `GET /metrics` on the real daemon. Mail delivered and refused
//! over SMTP, an event socket, a reply through the relay and a forged
//! webhook move the counters; a scrape needs the configured token (or, with
//! no token, an admin's API token); `[metrics] listen` serves it on an
//! address of its own, named in the ready line.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use common::relay::Relay;
use common::smtp::deliver;
use common::ws::EventSocket;
use common::{create_token, eventually, graph, http, mails, Daemon};

const METRICS_TOKEN: &str = "scrape-me-0123456789";
const WAIT: Duration = Duration::from_secs(30);

/// One scrape: status, content type and the samples by series
/// (`name{labels}`).
struct Scrape {
    status: u16,
    content_type: String,
    samples: HashMap<String, f64>,
    text: String,
}

fn scrape(addr: SocketAddr, token: Option<&str>) -> Scrape {
    let mut request = http().get(format!("http://{addr}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().unwrap();
    let samples = if status == 200 {
        parse_exposition(&text)
    } else {
        HashMap::new()
    };
    Scrape {
        status,
        content_type,
        samples,
        text,
    }
}

/// `series value` lines of the text format (comments skipped).
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line:?}"));
            (series.to_string(), value)
        })
        .collect()
}

impl Scrape {
    fn value(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("{series} missing from the scrape:\n{}", self.text))
    }
}

/// The Meta test config (email, Messenger and WhatsApp channels) with the
/// relay, a fast outbox and `metrics` as the `[metrics]` section.
fn config(dir: &std::path::Path, relay_port: u16, metrics: &str) -> String {
    let mut config = graph::meta_config(dir, "http://127.0.0.1:9");
    config.push_str(&format!(
        r#"
[outbound_smtp]
host = "127.0.0.1"
port = {relay_port}
tls = "none"

[outbox]
initial_backoff_ms = 100
max_backoff_ms = 400

[metrics]
{metrics}
"#
    ));
    config
}

#[test]
fn every_metric_is_exported_and_the_counters_move() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metrics.token"),
        format!("{METRICS_TOKEN}\n"),
    )
    .unwrap();
    let daemon = Daemon::start_with_config(
        dir.path(),
        &config(dir.path(), relay.port, "token_file = \"metrics.token\""),
    );

    // Two mails stored, one resent (a duplicate), one for a stranger, one
    // too big (the test config allows 1 MiB).
    let conversation = daemon.customer_mail(
        "m1@customer.example",
        "carol@customer.example",
        "First",
        "one",
    );
    let second = mails::simple(
        "m2@customer.example",
        "dave@customer.example",
        "support@example.com",
        "Second",
        "two",
    );
    for _ in 0..2 {
        let reply = deliver(
            daemon.smtp,
            "dave@customer.example",
            &["support@example.com"],
            &second,
        );
        assert_eq!(reply.code, 250, "{reply:?}");
    }
    let stranger = mails::simple(
        "m3@customer.example",
        "eve@customer.example",
        "nobody@example.com",
        "Who?",
        "three",
    );
    let refused = deliver(
        daemon.smtp,
        "eve@customer.example",
        &["nobody@example.com"],
        &stranger,
    );
    assert_eq!(refused.code, 550, "{refused:?}");
    let big = mails::simple(
        "m4@customer.example",
        "eve@customer.example",
        "support@example.com",
        "Big",
        &format!("{}\r\n", "x".repeat(76)).repeat(15_000),
    );
    let too_big = deliver(
        daemon.smtp,
        "eve@customer.example",
        &["support@example.com"],
        &big,
    );
    assert_eq!(too_big.code, 552, "{too_big:?}");

    // A forged webhook.
    let (status, _) = graph::post_raw(&daemon, "fb-page", b"{}", Some("sha256=00"));
    assert_eq!(status, 403);

    // A reply through the relay.
    let id = conversation["id"].as_str().unwrap();
    let message = daemon.reply(id, json!({"text": "metrics-reply", "private": false}));
    relay.wait_for_text("metrics-reply", WAIT);
    daemon.wait_for_state(id, message["id"].as_str().unwrap(), "sent");

    // An agent following events while the scrape runs.
    let _socket = EventSocket::connect(daemon.http, &daemon.token, None);

    assert_eq!(scrape(daemon.http, None).status, 401);
    assert_eq!(scrape(daemon.http, Some(&daemon.token)).status, 401);
    assert_eq!(scrape(daemon.http, Some("wrong")).status, 401);
    let scraped = eventually("an event subscriber in the metrics", WAIT, || {
        let scraped = scrape(daemon.http, Some(METRICS_TOKEN));
        assert_eq!(scraped.status, 200, "{}", scraped.text);
        match scraped.samples.get("switchboard_event_subscribers") {
            Some(n) if *n >= 1.0 => Ok(scraped),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(scraped.content_type, "text/plain; version=0.0.4");

    let at_least = |series: &str, min: f64| {
        let value = scraped.value(series);
        assert!(value >= min, "{series} = {value}, expected at least {min}");
    };
    at_least("switchboard_messages_ingested_total{kind=\"email\"}", 2.0);
    at_least("switchboard_messages_duplicate_total{kind=\"email\"}", 1.0);
    at_least(
        "switchboard_messages_ingested_total{kind=\"messenger\"}",
        0.0,
    );
    at_least("switchboard_smtp_sessions_total", 5.0);
    at_least("switchboard_smtp_sessions_open", 0.0);
    at_least(
        "switchboard_smtp_rejections_total{reason=\"unknown_recipient\"}",
        1.0,
    );
    at_least("switchboard_smtp_rejections_total{reason=\"too_big\"}", 1.0);
    for reason in [
        "too_many_recipients",
        "bare_lf",
        "line_too_long",
        "timeout",
        "busy",
        "store_failure",
        "malformed",
    ] {
        at_least(
            &format!("switchboard_smtp_rejections_total{{reason=\"{reason}\"}}"),
            0.0,
        );
    }
    at_least(
        "switchboard_webhook_verification_failures_total{channel=\"fb-page\"}",
        1.0,
    );
    at_least(
        "switchboard_webhook_verification_failures_total{channel=\"wa-number\"}",
        0.0,
    );
    at_least("switchboard_outbox_pending", 0.0);
    at_least("switchboard_outbox_sent_total", 1.0);
    at_least("switchboard_outbox_failed_total", 0.0);
    at_least("switchboard_outbox_delivery_latency_seconds_count", 1.0);
    at_least("switchboard_outbox_delivery_latency_seconds_sum", 0.0);
    at_least("switchboard_event_subscribers", 1.0);
    at_least("switchboard_events_pruned_total", 0.0);
    assert_eq!(scraped.value("switchboard_widget_sockets_open"), 0.0);
    at_least("switchboard_store_flush_batch_size_count", 1.0);
    at_least("switchboard_store_flush_batch_size_sum", 1.0);
    at_least("switchboard_store_flush_latency_seconds_count", 1.0);
    at_least(
        "switchboard_store_flush_latency_seconds_bucket{le=\"+Inf\"}",
        1.0,
    );
    at_least("switchboard_process_resident_memory_bytes", 1024.0 * 1024.0);
    at_least("switchboard_process_open_fds", 3.0);
    assert!(
        scraped
            .text
            .contains("# TYPE switchboard_store_flush_latency_seconds histogram"),
        "{}",
        scraped.text
    );
}

#[test]
fn without_a_metrics_token_only_admins_may_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let agent = create_token(dir.path(), "bob");

    assert_eq!(scrape(daemon.http, None).status, 401);
    assert_eq!(scrape(daemon.http, Some("not-a-token")).status, 401);
    let forbidden = scrape(daemon.http, Some(&agent));
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    let scraped = scrape(daemon.http, Some(&daemon.token));
    assert_eq!(scraped.status, 200, "{}", scraped.text);
    assert!(scraped.value("switchboard_process_resident_memory_bytes") > 0.0);
}

#[test]
fn a_metrics_listen_address_serves_metrics_alone() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(
        dir.path(),
        &config(dir.path(), relay.port, "listen = \"127.0.0.1:0\""),
    );
    let addr: SocketAddr = daemon
        .ready
        .split_whitespace()
        .find_map(|part| part.strip_prefix("metrics="))
        .unwrap_or_else(|| panic!("no metrics= in {:?}", daemon.ready))
        .parse()
        .unwrap();
    assert!(daemon.ready.contains("smtp=") && daemon.ready.contains("http="));
    assert_ne!(addr, daemon.http);

    daemon.customer_mail("l1@customer.example", "carol@customer.example", "Hi", "x");
    let scraped = scrape(addr, None);
    assert_eq!(scraped.status, 200, "{}", scraped.text);
    assert!(scraped.value("switchboard_messages_ingested_total{kind=\"email\"}") >= 1.0);
    // Only /metrics there, and no /metrics on the API listener.
    let other = http().get(format!("http://{addr}/healthz")).send().unwrap();
    assert_eq!(other.status().as_u16(), 404);
    assert_eq!(scrape(daemon.http, Some(&daemon.token)).status, 404);
}
