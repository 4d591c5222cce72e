//! Prometheus metrics: one registry per daemon (held by the `App`, so every
//! test daemon counts alone) and typed handles that call sites bump in one
//! line. `http::metrics` serves [`Metrics::render`] as `GET /metrics`.
//!
//! Every name starts with `switchboard_`. Labels take only values the daemon
//! chooses (channel kinds, configured channel ids, the fixed SMTP rejection
//! reasons), never what a peer sends, so the series stay few. Values known
//! at start-up are pre-set to zero so that a scrape shows every series.
//!
//! The store reports its group-commit flushes through
//! [`store::FlushObserver`](crate::store::FlushObserver), implemented here,
//! so the store itself knows nothing of Prometheus. Process RSS and open file
//! descriptors are read from `/proc/self` at scrape time; the outbox length
//! is given by the caller of `render` (it reads the store).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::config::Workspace;
use crate::model::{Message, Millis};

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Why the SMTP receiver refused something: the `reason` label of
/// `switchboard_smtp_rejections_total`, told by the reply it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpRejection {
    /// `550 5.1.1`: RCPT to an address no email channel serves.
    UnknownRecipient,
    /// `452 4.5.3`: more recipients than `smtp.max_recipients`.
    TooManyRecipients,
    /// `552 5.3.4`: larger than `smtp.max_message_bytes` (sent or declared).
    TooBig,
    /// A line ending in a bare LF (command or DATA).
    BareLf,
    /// A command or DATA line over its length limit.
    LineTooLong,
    /// `421 4.4.2`: idle or session timeout.
    Timeout,
    /// `421 4.3.2`: the session cap was reached.
    Busy,
    /// `421 4.7.0`: the client's address has its share of sessions open.
    AddressBusy,
    /// A temporary failure storing the message (`451`).
    StoreFailure,
    /// `452 4.3.1`: the storage folder is below its free-space reserve.
    InsufficientStorage,
    /// Bad syntax, bad sequence, or a message that is not a mail.
    Malformed,
}

impl SmtpRejection {
    pub const ALL: [SmtpRejection; 11] = [
        SmtpRejection::UnknownRecipient,
        SmtpRejection::TooManyRecipients,
        SmtpRejection::TooBig,
        SmtpRejection::BareLf,
        SmtpRejection::LineTooLong,
        SmtpRejection::Timeout,
        SmtpRejection::Busy,
        SmtpRejection::AddressBusy,
        SmtpRejection::StoreFailure,
        SmtpRejection::InsufficientStorage,
        SmtpRejection::Malformed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SmtpRejection::UnknownRecipient => "unknown_recipient",
            SmtpRejection::TooManyRecipients => "too_many_recipients",
            SmtpRejection::TooBig => "too_big",
            SmtpRejection::BareLf => "bare_lf",
            SmtpRejection::LineTooLong => "line_too_long",
            SmtpRejection::Timeout => "timeout",
            SmtpRejection::Busy => "busy",
            SmtpRejection::AddressBusy => "address_busy",
            SmtpRejection::StoreFailure => "store_failure",
            SmtpRejection::InsufficientStorage => "insufficient_storage",
            SmtpRejection::Malformed => "malformed",
        }
    }
}

/// The `reason` label of `switchboard_form_rejections_total`: spam dropped
/// silently (the first four), then refusals the poster is told about.
pub const FORM_REJECTION_REASONS: [&str; 13] = [
    "honeypot",
    "too_fast",
    "forged_token",
    "missing_token",
    "expired_token",
    "invalid",
    "origin",
    "rate_limited_ip",
    "rate_limited_email",
    "contact_limit",
    "too_large",
    "malformed",
    "unavailable",
];

/// The `reason` label of `switchboard_chat_rejections_total`: a visitor
/// socket's refusals for its address's limits (`too_many_sockets` before the
/// upgrade, `new_conversations` for a token-less hello, `messages`), and for
/// the visitor's own `messages_per_minute` (`visitor_messages`).
pub const CHAT_REJECTION_REASONS: [&str; 4] = [
    "too_many_sockets",
    "new_conversations",
    "messages",
    "visitor_messages",
];

/// Every metric of the daemon.
pub struct Metrics {
    registry: Registry,
    ingested: IntCounterVec,
    duplicates: IntCounterVec,
    id_collisions: IntCounterVec,
    agent_replies: IntCounterVec,
    pub smtp: SmtpMetrics,
    webhook_verification_failures: IntCounterVec,
    form_rejections: IntCounterVec,
    chat_rejections: IntCounterVec,
    outbox_pending: IntGauge,
    outbox_sent: IntCounter,
    outbox_failed: IntCounter,
    events_pruned: IntCounter,
    delivery_latency: Histogram,
    event_subscribers: IntGauge,
    widget_sockets: IntGauge,
    flushes: Arc<FlushMetrics>,
    resident_memory: IntGauge,
    open_fds: IntGauge,
    storage_free: IntGauge,
    storage_min_free: IntGauge,
    storage_refusals: IntCounterVec,
    connections: ConnectionMetrics,
}

/// The listeners, as the `listener` label of `switchboard_connections_*`.
pub const LISTENERS: [&str; 3] = ["http", "smtp", "metrics"];

/// Open and refused connections per listener, and HTTP connections closed
/// by the header-read timeout.
struct ConnectionMetrics {
    open: prometheus::IntGaugeVec,
    refused: IntCounterVec,
    header_timeouts: IntCounterVec,
}

/// The `door` label of `switchboard_storage_refusals_total`: where a
/// message was refused because the storage folder is below its reserve.
pub const STORAGE_REFUSAL_DOORS: [&str; 3] = ["smtp", "http", "ingest"];

/// The SMTP receiver's metrics; cheap to clone (handles share the values).
#[derive(Clone)]
pub struct SmtpMetrics {
    sessions: IntCounter,
    open: IntGauge,
    rejections: IntCounterVec,
}

/// Group-commit flushes, fed by the store.
struct FlushMetrics {
    batch_size: Histogram,
    latency: Histogram,
}

/// Keeps a gauge one higher while it lives (an open session or socket).
#[must_use = "the gauge goes down when this is dropped"]
pub struct Open(IntGauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn open(gauge: &IntGauge) -> Open {
    gauge.inc();
    Open(gauge.clone())
}

/// Registers one metric built from the static definitions below. Those
/// names, helps and buckets are constants, checked by the unit tests, so a
/// failure here is a programming error caught before release.
fn register<T>(registry: &Registry, metric: prometheus::Result<T>) -> T
where
    T: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric.expect("static metric definitions are valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> prometheus::Result<Histogram> {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let counters = |name: &str, help: &str, label: &str| {
            register(&r, IntCounterVec::new(Opts::new(name, help), &[label]))
        };
        let counter = |name: &str, help: &str| register(&r, IntCounter::new(name, help));
        let gauge = |name: &str, help: &str| register(&r, IntGauge::new(name, help));
        let smtp = SmtpMetrics {
            sessions: counter(
                "switchboard_smtp_sessions_total",
                "SMTP sessions accepted (connections refused at the cap are rejections).",
            ),
            open: gauge("switchboard_smtp_sessions_open", "SMTP sessions open now."),
            rejections: counters(
                "switchboard_smtp_rejections_total",
                "SMTP commands and messages refused, by reason.",
                "reason",
            ),
        };
        for reason in SmtpRejection::ALL {
            smtp.rejections.with_label_values(&[reason.label()]);
        }
        let flushes = Arc::new(FlushMetrics {
            batch_size: register(
                &r,
                histogram(
                    "switchboard_store_flush_batch_size",
                    "Writers made durable by one group-commit flush.",
                    vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                ),
            ),
            latency: register(
                &r,
                histogram(
                    "switchboard_store_flush_latency_seconds",
                    "Duration of one group-commit flush (fsync included).",
                    vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                ),
            ),
        });
        Metrics {
            ingested: counters(
                "switchboard_messages_ingested_total",
                "Inbound messages stored, by channel kind (duplicates not included).",
                "kind",
            ),
            duplicates: counters(
                "switchboard_messages_duplicate_total",
                "Inbound messages recognised as already stored, by channel kind.",
                "kind",
            ),
            id_collisions: counters(
                "switchboard_external_id_collisions_total",
                "Different messages that reused an external id (Message-ID, provider id) already \
                 stored on their channel, each stored as its own, by channel kind.",
                "kind",
            ),
            agent_replies: counters(
                "switchboard_agent_mail_replies_total",
                "Mail agents sent from their own mail clients, recorded as their replies, by \
                 channel kind.",
                "kind",
            ),
            smtp,
            webhook_verification_failures: counters(
                "switchboard_webhook_verification_failures_total",
                "Webhook requests refused for a wrong signature or verify token, by channel.",
                "channel",
            ),
            form_rejections: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "switchboard_form_rejections_total",
                        "Web form submissions dropped as spam or refused, by form and reason.",
                    ),
                    &["channel", "reason"],
                ),
            ),
            chat_rejections: register(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "switchboard_chat_rejections_total",
                        "Website chat sockets, hellos and messages refused for a rate or socket \
                         limit, by channel and reason.",
                    ),
                    &["channel", "reason"],
                ),
            ),
            outbox_pending: gauge(
                "switchboard_outbox_pending",
                "Delivery jobs waiting in the outbox.",
            ),
            outbox_sent: counter(
                "switchboard_outbox_sent_total",
                "Outbox deliveries the channel accepted.",
            ),
            outbox_failed: counter(
                "switchboard_outbox_failed_total",
                "Outbox deliveries given up for good.",
            ),
            events_pruned: counter(
                "switchboard_events_pruned_total",
                "Events deleted from the event log past its retention.",
            ),
            delivery_latency: register(
                &r,
                histogram(
                    "switchboard_outbox_delivery_latency_seconds",
                    "From a message's creation to its delivery by the channel.",
                    vec![
                        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                    ],
                ),
            ),
            event_subscribers: gauge(
                "switchboard_event_subscribers",
                "Agent event sockets open now.",
            ),
            widget_sockets: gauge(
                "switchboard_widget_sockets_open",
                "Visitor widget sockets open now.",
            ),
            flushes,
            resident_memory: gauge(
                "switchboard_process_resident_memory_bytes",
                "Resident set size of the daemon, from /proc/self/status.",
            ),
            open_fds: gauge(
                "switchboard_process_open_fds",
                "Open file descriptors of the daemon, from /proc/self/fd.",
            ),
            storage_free: gauge(
                "switchboard_storage_free_bytes",
                "Free space of the storage folder's filesystem (what the daemon may write).",
            ),
            storage_min_free: gauge(
                "switchboard_storage_min_free_bytes",
                "The free-space reserve ([storage] min_free_mib): below it new messages are \
                 refused.",
            ),
            storage_refusals: {
                let refusals = counters(
                    "switchboard_storage_refusals_total",
                    "Messages and requests refused because the storage folder was below its \
                     free-space reserve, by door (smtp: MAIL FROM or DATA; http: a webhook or \
                     API write; ingest: a message already received, the widget's included).",
                    "door",
                );
                for door in STORAGE_REFUSAL_DOORS {
                    refusals.with_label_values(&[door]);
                }
                refusals
            },
            connections: {
                let connections = ConnectionMetrics {
                    open: register(
                        &r,
                        prometheus::IntGaugeVec::new(
                            Opts::new(
                                "switchboard_connections_open",
                                "Connections open now, by listener.",
                            ),
                            &["listener"],
                        ),
                    ),
                    refused: register(
                        &r,
                        IntCounterVec::new(
                            Opts::new(
                                "switchboard_connections_refused_total",
                                "Connections refused at a listener's cap (listener_full) or at \
                                 its per-address cap (address_full), by listener.",
                            ),
                            &["listener", "reason"],
                        ),
                    ),
                    header_timeouts: counters(
                        "switchboard_http_header_timeouts_total",
                        "HTTP connections closed because no complete request head came within \
                         http.header_read_timeout_secs (idle kept-alive connections included), \
                         by listener.",
                        "listener",
                    ),
                };
                for listener in LISTENERS {
                    connections.open.with_label_values(&[listener]);
                    for reason in ["listener_full", "address_full"] {
                        connections.refused.with_label_values(&[listener, reason]);
                    }
                    if listener != "smtp" {
                        connections.header_timeouts.with_label_values(&[listener]);
                    }
                }
                connections
            },
            registry: r,
        }
    }

    /// The gauges and counters a listener's connection gate keeps.
    pub fn connection_gate(&self, listener: &str) -> crate::listen::GateMetrics {
        let refused = |reason: &str| {
            self.connections
                .refused
                .with_label_values(&[listener, reason])
        };
        crate::listen::GateMetrics {
            open: self.connections.open.with_label_values(&[listener]),
            listener_full: refused("listener_full"),
            address_full: refused("address_full"),
        }
    }

    /// The counter of HTTP connections closed by the header-read timeout.
    pub fn header_timeouts(&self, listener: &str) -> IntCounter {
        self.connections
            .header_timeouts
            .with_label_values(&[listener])
    }

    /// Pre-sets the per-kind and per-channel series of the workspace's
    /// channels to zero (called at start and after a reload).
    pub fn describe(&self, workspace: &Workspace) {
        for channel in &workspace.channels {
            let kind = channel.kind.name();
            self.ingested.with_label_values(&[kind]);
            self.duplicates.with_label_values(&[kind]);
            self.id_collisions.with_label_values(&[kind]);
            if kind == "email" {
                self.agent_replies.with_label_values(&[kind]);
            }
            if kind == "form" {
                for reason in FORM_REJECTION_REASONS {
                    self.form_rejections
                        .with_label_values(&[channel.id.as_str(), reason]);
                }
            }
            if kind == "chat" {
                for reason in CHAT_REJECTION_REASONS {
                    self.chat_rejections
                        .with_label_values(&[channel.id.as_str(), reason]);
                }
            }
            if matches!(kind, "messenger" | "whatsapp") {
                self.webhook_verification_failures
                    .with_label_values(&[channel.id.as_str()]);
            }
        }
    }

    /// One inbound message through ingest.
    pub fn ingested(&self, kind: &str, accepted: &crate::store::Accepted) {
        let counter = if accepted.duplicate {
            &self.duplicates
        } else if accepted.agent_reply {
            &self.agent_replies
        } else {
            &self.ingested
        };
        counter.with_label_values(&[kind]).inc();
        if accepted.id_collision && !accepted.duplicate {
            self.id_collisions.with_label_values(&[kind]).inc();
        }
    }

    /// A webhook request for a configured channel failed verification.
    pub fn webhook_verification_failed(&self, channel: &str) {
        self.webhook_verification_failures
            .with_label_values(&[channel])
            .inc();
    }

    /// A web form submission was dropped as spam (`honeypot`, `too_fast`,
    /// `forged_token`, `missing_token`) or refused (`invalid`,
    /// `rate_limited_ip`, ...).
    pub fn form_rejected(&self, channel: &str, reason: &str) {
        self.form_rejections
            .with_label_values(&[channel, reason])
            .inc();
    }

    /// A website chat socket, hello or message was refused for a limit
    /// (one of `CHAT_REJECTION_REASONS`).
    pub fn chat_rejected(&self, channel: &str, reason: &str) {
        self.chat_rejections
            .with_label_values(&[channel, reason])
            .inc();
    }

    /// An outbox job was delivered; `message` (none for a notification)
    /// gives the latency from its creation to `now`.
    pub fn delivered(&self, message: Option<&Message>, now: Millis) {
        self.outbox_sent.inc();
        if let Some(message) = message {
            let millis = (now - message.created_at).max(0);
            self.delivery_latency.observe(millis as f64 / 1000.0);
        }
    }

    /// `count` old events were pruned from the event log.
    pub fn events_pruned(&self, count: usize) {
        self.events_pruned.inc_by(count as u64);
    }

    /// An outbox job was given up for good.
    pub fn delivery_failed(&self) {
        self.outbox_failed.inc();
    }

    /// Counts an agent event socket while the returned guard lives.
    pub fn event_subscriber(&self) -> Open {
        open(&self.event_subscribers)
    }

    /// Counts a visitor widget socket while the returned guard lives.
    pub fn widget_socket(&self) -> Open {
        open(&self.widget_sockets)
    }

    /// What the store calls after every group-commit flush.
    pub fn flush_observer(&self) -> Arc<dyn crate::store::FlushObserver> {
        self.flushes.clone()
    }

    /// A message or request refused for space at `door` (one of
    /// [`STORAGE_REFUSAL_DOORS`]).
    pub fn storage_refused(&self, door: &str) {
        self.storage_refusals.with_label_values(&[door]).inc();
    }

    /// The storage folder's free space and reserve, as of the scrape.
    pub fn storage_space(&self, status: &crate::disk_space::SpaceStatus) {
        if let Some(free) = status.free_bytes {
            self.storage_free
                .set(i64::try_from(free).unwrap_or(i64::MAX));
        }
        self.storage_min_free
            .set(i64::try_from(status.min_free_bytes).unwrap_or(i64::MAX));
    }

    /// The text exposition of every metric, after reading the values only
    /// known at scrape time. Does blocking file reads (`/proc`): call it off
    /// the async workers.
    pub fn render(&self, outbox_pending: usize) -> Result<String, prometheus::Error> {
        self.outbox_pending
            .set(i64::try_from(outbox_pending).unwrap_or(i64::MAX));
        if let Some(bytes) = process::resident_memory_bytes() {
            self.resident_memory.set(bytes);
        }
        if let Some(count) = process::open_fds() {
            self.open_fds.set(count);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

impl SmtpMetrics {
    /// Counts a session, and keeps it in the open gauge while the guard lives.
    pub fn session(&self) -> Open {
        self.sessions.inc();
        open(&self.open)
    }

    pub fn rejected(&self, reason: SmtpRejection) {
        self.rejections.with_label_values(&[reason.label()]).inc();
    }

    /// How many rejections of this reason were counted.
    pub fn rejections(&self, reason: SmtpRejection) -> u64 {
        self.rejections.with_label_values(&[reason.label()]).get()
    }
}

impl crate::store::FlushObserver for FlushMetrics {
    fn flushed(&self, waiters: usize, elapsed: Duration) {
        self.batch_size.observe(waiters as f64);
        self.latency.observe(elapsed.as_secs_f64());
    }
}

/// This process as Linux shows it in `/proc/self`.
pub(crate) mod process {
    /// `VmRSS` of `/proc/self/status`, in bytes.
    pub fn resident_memory_bytes() -> Option<i64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let kib: i64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(kib.saturating_mul(1024))
    }

    /// Entries of `/proc/self/fd` (the one reading it included).
    pub fn open_fds() -> Option<i64> {
        let entries = std::fs::read_dir("/proc/self/fd").ok()?;
        Some(entries.count() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn every_metric_renders_with_its_prefix() {
        let metrics = Metrics::new();
        metrics
            .flush_observer()
            .flushed(3, Duration::from_millis(2));
        let text = metrics.render(7).unwrap();
        for name in [
            "switchboard_smtp_sessions_total",
            "switchboard_smtp_sessions_open",
            "switchboard_smtp_rejections_total{reason=\"bare_lf\"}",
            "switchboard_outbox_pending",
            "switchboard_outbox_sent_total",
            "switchboard_outbox_failed_total",
            "switchboard_outbox_delivery_latency_seconds_count",
            "switchboard_event_subscribers",
            "switchboard_widget_sockets_open",
            "switchboard_store_flush_batch_size_count",
            "switchboard_store_flush_latency_seconds_count",
            "switchboard_process_resident_memory_bytes",
            "switchboard_process_open_fds",
        ] {
            assert!(value_of(&text, name).is_some(), "{name} missing in\n{text}");
        }
        assert_eq!(value_of(&text, "switchboard_outbox_pending"), Some(7.0));
        assert_eq!(
            value_of(&text, "switchboard_store_flush_batch_size_sum"),
            Some(3.0)
        );
        assert!(value_of(&text, "switchboard_process_resident_memory_bytes").unwrap() > 0.0);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("switchboard_"), "{line}");
        }
    }

    #[test]
    fn guards_count_while_open() {
        let metrics = Metrics::new();
        let first = metrics.smtp.session();
        let second = metrics.smtp.session();
        drop(first);
        let subscriber = metrics.event_subscriber();
        let text = metrics.render(0).unwrap();
        assert_eq!(
            value_of(&text, "switchboard_smtp_sessions_total"),
            Some(2.0)
        );
        assert_eq!(value_of(&text, "switchboard_smtp_sessions_open"), Some(1.0));
        assert_eq!(value_of(&text, "switchboard_event_subscribers"), Some(1.0));
        drop((second, subscriber));
        let text = metrics.render(0).unwrap();
        assert_eq!(value_of(&text, "switchboard_smtp_sessions_open"), Some(0.0));
        assert_eq!(value_of(&text, "switchboard_event_subscribers"), Some(0.0));
    }

    #[test]
    fn ingest_counts_new_and_duplicate_messages_apart() {
        let metrics = Metrics::new();
        let accepted = |duplicate, agent_reply, id_collision| crate::store::Accepted {
            message: crate::ids::Id::new_at(1),
            conversation: crate::ids::Id::new_at(1),
            contact: crate::ids::Id::new_at(1),
            duplicate,
            new_conversation: false,
            new_contact: false,
            thread_reason: crate::model::ThreadReason::New,
            agent_reply,
            id_collision,
        };
        metrics.ingested("email", &accepted(false, false, false));
        metrics.ingested("email", &accepted(false, false, true));
        metrics.ingested("email", &accepted(true, false, false));
        metrics.ingested("email", &accepted(false, true, false));
        metrics.smtp.rejected(SmtpRejection::TooBig);
        let text = metrics.render(0).unwrap();
        let series = |name: &str| value_of(&text, name);
        assert_eq!(
            series("switchboard_messages_ingested_total{kind=\"email\"}"),
            Some(2.0)
        );
        assert_eq!(
            series("switchboard_messages_duplicate_total{kind=\"email\"}"),
            Some(1.0)
        );
        assert_eq!(
            series("switchboard_external_id_collisions_total{kind=\"email\"}"),
            Some(1.0)
        );
        assert_eq!(
            series("switchboard_agent_mail_replies_total{kind=\"email\"}"),
            Some(1.0)
        );
        assert_eq!(
            series("switchboard_smtp_rejections_total{reason=\"too_big\"}"),
            Some(1.0)
        );
        assert_eq!(metrics.smtp.rejections(SmtpRejection::TooBig), 1);
    }

    #[test]
    fn rejection_labels_are_distinct() {
        let labels: std::collections::HashSet<_> =
            SmtpRejection::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), SmtpRejection::ALL.len());
    }
}
