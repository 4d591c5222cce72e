//! End-to-end: the event log is pruned past `[storage] event_retention_days`.
//! A store whose first events are 40 days old is opened by the daemon; the
//! old events are pruned (all but the newest, where numbering resumes), a
//! client resuming from before them is told `gap`, and a client resuming
//! from a kept event gets what follows without one.

mod common;

use std::path::Path;
use std::time::Duration;

use switchboard::inbound::{Identity, Inbound, Sender, ThreadHints};
use switchboard::store::{IngestRequest, Store};

use common::ws::{self, EventSocket, Next};
use common::{eventually, test_config, Daemon};

const DAY_MS: i64 = 86_400_000;
const WAIT: Duration = Duration::from_secs(30);

fn old_mail(n: usize) -> Inbound {
    let address = format!("old{n}@customer.example");
    Inbound {
        channel: "support-email".into(),
        external_id: Some(format!("<old-{n}@customer.example>")),
        sender: Sender {
            identity: Identity {
                kind: "email".into(),
                handle: address.clone(),
            },
            name: Some(format!("Old customer {n}")),
            email: Some(address),
            phone: None,
        },
        forwarded_by: None,
        to: vec!["support@example.com".into()],
        recipients: Vec::new(),
        from_agent: None,
        id_names_message: false,
        thread_hints: ThreadHints::default(),
        subject: Some(format!("Question from last season {n}")),
        text: Some("hello".into()),
        html: None,
        attachments: Vec::new(),
        flags: Vec::new(),
        sent_at: None,
        raw: None,
        postback: None,
    }
}

/// Writes three mails dated 40 days ago into the store under `data`;
/// returns the sequence number of the last of their events.
fn store_old_mails(data: &Path) -> u64 {
    let now = jiff::Timestamp::now().as_millisecond();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Store::open(data).unwrap();
        for n in 0..3 {
            store
                .ingest(IngestRequest {
                    inbound: old_mail(n),
                    inbox: "support".into(),
                    now: now - 40 * DAY_MS,
                    assignment: None,
                    ticket: None,
                    timeline_channels: Vec::new(),
                })
                .unwrap();
        }
        store.flush_now().unwrap();
        store.events(1, u64::MAX, 100).unwrap().last().unwrap().seq
    })
}

fn metric(daemon: &Daemon, name: &str) -> f64 {
    let response = common::http()
        .get(daemon.url("/metrics"))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap();
    let text = response.text().unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

fn next_frame(socket: &mut EventSocket) -> serde_json::Value {
    match socket.next(WAIT) {
        Next::Event(frame) => frame,
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[test]
fn old_events_are_pruned_and_a_client_from_before_them_is_told_gap() {
    let dir = tempfile::tempdir().unwrap();
    let last_old = store_old_mails(&dir.path().join("data"));
    assert!(last_old >= 6, "each mail makes at least two events");
    let daemon = Daemon::start_with_config(dir.path(), &test_config(1_000_000));

    let pruned = eventually("the old events pruned", WAIT, || {
        match metric(&daemon, "switchboard_events_pruned_total") {
            n if n > 0.0 => Ok(n),
            n => Err(format!("pruned {n}")),
        }
    });
    assert_eq!(pruned as u64, last_old - 1, "all but the newest event");

    // The messages themselves are kept; only their live events went.
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 3, "{conversations:#?}");
    let conversation = daemon.customer_mail(
        "new-1@customer.example",
        "new@customer.example",
        "A question today",
        "hi",
    );

    // From the very start: told what was missed, then the kept events.
    let mut socket = EventSocket::connect(daemon.http, &daemon.token, Some(0));
    let gap = next_frame(&mut socket);
    assert_eq!(gap["type"], "gap", "{gap}");
    assert_eq!(gap["missed_from"], 1, "{gap}");
    assert_eq!(gap["oldest_seq"], last_old, "{gap}");
    let kept = next_frame(&mut socket);
    assert_eq!(ws::seq(&kept), last_old, "{kept}");
    let events = socket.read_until("today's message", WAIT, |seen| {
        seen.iter()
            .any(|e| ws::kind(e) == "message.created" && e["conversation"] == conversation["id"])
    });
    assert_eq!(
        ws::seq(&events[0]),
        last_old + 1,
        "numbering went on: {events:#?}"
    );

    // From the kept event on: no gap, just what followed.
    let mut resumed = EventSocket::connect(daemon.http, &daemon.token, Some(last_old));
    let first = next_frame(&mut resumed);
    assert_eq!(ws::seq(&first), last_old + 1, "{first}");
}
