//! End-to-end: the live event stream. Inbound mail and replies produce their
//! events; every event arrives exactly once across a forced reconnect with
//! `since`; agents see only their inboxes; the token may come in the query;
//! a consumer that does not read is closed (1008) and the daemon's memory
//! stays bounded.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::{json, Value};

use common::relay::Relay;
use common::smtp::{deliver, SmtpClient};
use common::ws::{self, Auth, EventSocket, Next};
use common::{create_token, mails, reply_config, test_config_with_relay, Daemon};

const WAIT: Duration = Duration::from_secs(30);

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(ws::kind).collect()
}

fn count(events: &[Value], kind: &str, inbox: &str) -> usize {
    events
        .iter()
        .filter(|e| ws::kind(e) == kind && e["inbox"] == inbox)
        .count()
}

fn assert_strictly_increasing(events: &[Value]) {
    let seqs: Vec<u64> = events.iter().map(ws::seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs not strictly increasing: {seqs:?}"
    );
}

fn mail_to(daemon: &Daemon, n: usize, inbox: &str) {
    let to = format!("{inbox}@example.com");
    let mail = mails::simple(
        &format!("ev-{inbox}-{n}@customer.example"),
        "erin@customer.example",
        &to,
        &format!("{inbox} question {n}"),
        "hello",
    );
    let reply = deliver(daemon.smtp, "erin@customer.example", &[&to], &mail);
    assert_eq!(reply.code, 250, "{reply:?}");
}

#[test]
fn inbound_mail_and_a_reply_produce_their_events() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &test_config_with_relay(relay.port));
    let mut socket = EventSocket::connect(daemon.http, &daemon.token, None);

    let conversation = daemon.customer_mail(
        "events-1@customer.example",
        "carol@customer.example",
        "Events please",
        "hi",
    );
    let conversation = conversation["id"].as_str().unwrap().to_string();
    let events = socket.read_until("the inbound message event", WAIT, |seen| {
        seen.iter().any(|e| ws::kind(e) == "message.created")
    });
    assert_eq!(
        kinds(&events),
        ["conversation.created", "message.created"],
        "{events:#?}"
    );
    for event in &events {
        assert_eq!(event["inbox"], "support", "{event}");
        assert_eq!(event["conversation"], conversation.as_str(), "{event}");
        assert!(event["payload"].is_object(), "{event}");
        assert!(
            event["at"].as_str().is_some_and(|at| at.ends_with('Z')),
            "{event}"
        );
    }
    assert_strictly_increasing(&events);

    let message = daemon.reply(&conversation, json!({"text": "marker-events"}));
    let message = message["id"].as_str().unwrap().to_string();
    let more = socket.read_until("the reply's sent status", WAIT, |seen| {
        seen.iter()
            .any(|e| ws::kind(e) == "message.status" && ws::status_state(e) == Some("sent"))
    });
    let created = more
        .iter()
        .position(|e| ws::kind(e) == "message.created")
        .unwrap_or_else(|| panic!("no message.created for the reply: {more:#?}"));
    let sent = more
        .iter()
        .position(|e| ws::kind(e) == "message.status" && ws::status_state(e) == Some("sent"))
        .unwrap();
    assert!(created < sent, "{more:#?}");
    for event in &more {
        assert_eq!(event["conversation"], conversation.as_str(), "{event}");
        if ws::kind(event).starts_with("message.") {
            assert_eq!(ws::message_id(event), Some(message.as_str()), "{event}");
        }
    }
    assert!(ws::seq(&more[0]) > ws::seq(events.last().unwrap()));
    assert_strictly_increasing(&more);
    relay.wait_for_text("marker-events", WAIT);

    let (status, _) = daemon.patch(
        &format!("/api/v1/conversations/{conversation}"),
        &json!({"status": "pending"}),
    );
    assert_eq!(status, 200);
    let updated = socket.read_until("conversation.updated", WAIT, |seen| {
        seen.iter().any(|e| ws::kind(e) == "conversation.updated")
    });
    let event = updated.last().unwrap();
    assert_eq!(event["conversation"], conversation.as_str());
    assert_eq!(event["payload"]["id"], conversation.as_str(), "{event}");
    assert_eq!(event["payload"]["status"], "pending", "{event}");
}

#[test]
fn every_event_arrives_exactly_once_across_a_forced_reconnect() {
    const MAILS: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let bob = create_token(dir.path(), "bob");
    let sales_mails = MAILS / 2;

    // Mails keep arriving, alternately for support and sales (Bob sees only
    // sales), in three runs of twenty: the second starts when Bob's socket
    // is cut, the third when he reconnects.
    let (progress, sent) = mpsc::channel();
    let (go, runs) = mpsc::channel::<()>();
    let sender = {
        let smtp = daemon.smtp;
        std::thread::spawn(move || {
            let mut client = SmtpClient::connect(smtp);
            client.ehlo();
            for n in 0..MAILS {
                if n > 0 && n % 20 == 0 {
                    runs.recv().unwrap();
                }
                let inbox = if n % 2 == 0 { "sales" } else { "support" };
                let to = format!("{inbox}@example.com");
                let mail = mails::simple(
                    &format!("rc-{n}@customer.example"),
                    "erin@customer.example",
                    &to,
                    &format!("reconnect {n}"),
                    "hello",
                );
                let reply = client.send_mail("erin@customer.example", &[&to], &mail);
                assert_eq!(reply.code, 250, "{reply:?}");
                let _ = progress.send(n + 1);
            }
            client.quit();
        })
    };

    let mut first = EventSocket::connect(daemon.http, &bob, Some(0));
    let mut seen = first.read_until("the first sales messages", WAIT, |events| {
        count(events, "message.created", "sales") >= 5
    });
    // Cut the connection without a close handshake while mails arrive.
    drop(first);
    go.send(()).unwrap();
    while sent.recv_timeout(WAIT).unwrap() < 30 {}
    go.send(()).unwrap();
    let last = ws::seq(seen.last().unwrap());
    let mut second = EventSocket::connect(daemon.http, &bob, Some(last));
    let rest = second.read_until("every sales message", Duration::from_secs(60), |events| {
        count(&seen, "message.created", "sales") + count(events, "message.created", "sales")
            >= sales_mails
    });
    seen.extend(rest);
    sender.join().unwrap();
    // Nothing more for Bob after the last sales mail (the last mail is
    // for support).
    seen.extend(second.drain(Duration::from_millis(300)));

    assert_strictly_increasing(&seen);
    assert!(
        seen.iter().all(|e| e["inbox"] == "sales"),
        "Bob sees only sales: {seen:#?}"
    );
    assert_eq!(count(&seen, "conversation.created", "sales"), sales_mails);
    assert_eq!(count(&seen, "message.created", "sales"), sales_mails);

    // A full replay from the start is exactly what the two sockets gave.
    let max = ws::seq(seen.last().unwrap());
    let mut replay_socket = EventSocket::connect(daemon.http, &bob, Some(0));
    let replay = replay_socket.read_until("the full replay", WAIT, |events| {
        events.last().is_some_and(|e| ws::seq(e) >= max)
    });
    let got: Vec<u64> = seen.iter().map(ws::seq).collect();
    let want: Vec<u64> = replay.iter().map(ws::seq).collect();
    assert_eq!(got, want, "no gap, no duplicate");

    // And it is the admin's log filtered to the sales inbox.
    let mut admin = EventSocket::connect(daemon.http, &daemon.token, Some(0));
    let all = admin.read_until("the admin's replay", WAIT, |events| {
        count(events, "message.created", "support") + count(events, "message.created", "sales")
            >= MAILS
    });
    assert_strictly_increasing(&all);
    let sales_in_log: Vec<u64> = all
        .iter()
        .filter(|e| e["inbox"] == "sales")
        .map(ws::seq)
        .filter(|s| *s <= max)
        .collect();
    assert_eq!(got, sales_in_log);
    assert_eq!(
        count(&all, "message.created", "support"),
        MAILS - sales_mails
    );
}

#[test]
fn sequence_numbers_continue_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    mail_to(&daemon, 1, "support");
    let mut socket = EventSocket::connect(daemon.http, &daemon.token, Some(0));
    let before = socket.read_until("the first mail", WAIT, |seen| seen.len() == 2);
    drop(socket);
    let token = daemon.token.clone();
    assert_eq!(daemon.terminate(), Some(0));

    let daemon = Daemon::start(dir.path(), token);
    mail_to(&daemon, 2, "support");
    let mut socket = EventSocket::connect(daemon.http, &daemon.token, Some(0));
    let all = socket.read_until("both mails", WAIT, |seen| seen.len() == 4);
    assert_eq!(all[..2], before[..], "the log is replayed as it was");
    assert_strictly_increasing(&all);
    let last_before = ws::seq(&before[1]);
    let mut resumed = EventSocket::connect(daemon.http, &daemon.token, Some(last_before));
    let after = resumed.read_until("the second mail", WAIT, |seen| seen.len() == 2);
    assert_eq!(after[..], all[2..]);
    assert_eq!(kinds(&after), ["conversation.created", "message.created"]);
}

#[test]
fn an_agent_sees_no_events_of_inboxes_they_cannot_access() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &test_config_with_relay(relay.port));
    let bob = create_token(dir.path(), "bob");
    let mut live = EventSocket::connect(daemon.http, &bob, None);

    // Activity in support: a mail, a reply, a note, an assignment.
    let conversation = daemon.customer_mail(
        "secret@customer.example",
        "carol@customer.example",
        "Support only",
        "hi",
    );
    let support = conversation["id"].as_str().unwrap().to_string();
    let reply = daemon.reply(&support, json!({"text": "marker-private-inbox"}));
    daemon.reply(&support, json!({"text": "a note", "private": true}));
    let (status, _) = daemon.patch(
        &format!("/api/v1/conversations/{support}"),
        &json!({"assignee": "alice"}),
    );
    assert_eq!(status, 200);
    daemon.wait_for_state(&support, reply["id"].as_str().unwrap(), "sent");
    // Then one sales mail: once Bob has its events, any support event
    // (all earlier in the log) would have reached him.
    mail_to(&daemon, 1, "sales");

    let check = |events: &[Value]| {
        for event in events {
            assert_eq!(event["inbox"], "sales", "{event}");
            assert_ne!(event["conversation"], support.as_str(), "{event}");
        }
    };
    let events = live.read_until("the sales mail", WAIT, |seen| {
        count(seen, "message.created", "sales") == 1
    });
    check(&events);
    check(&live.drain(Duration::from_millis(300)));
    let mut replay = EventSocket::connect(daemon.http, &bob, Some(0));
    let replayed = replay.read_until("the sales mail again", WAIT, |seen| {
        count(seen, "message.created", "sales") == 1
    });
    check(&replayed);
    assert_eq!(
        kinds(&replayed),
        ["conversation.created", "message.created"]
    );

    // Nor the conversation itself.
    let (status, _) = daemon.get_with(&format!("/api/v1/conversations/{support}"), Some(&bob));
    assert_eq!(status, 404);
    let (status, _) = daemon.get_with(
        &format!("/api/v1/conversations/{support}/messages"),
        Some(&bob),
    );
    assert_eq!(status, 404);
    let (status, _) = daemon.send_json_with(
        "POST",
        &format!("/api/v1/conversations/{support}/messages"),
        Some(&bob),
        &json!({"text": "hi", "private": true}),
    );
    assert_eq!(status, 404);
}

#[test]
fn the_token_may_come_in_the_query_and_a_wrong_one_is_refused_before_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    for auth in [Auth::None, Auth::Header("sb_0000"), Auth::Query("sb_0000")] {
        match EventSocket::try_connect(daemon.http, auth, None, None) {
            Err(status) => assert_eq!(status, 401, "{auth:?}"),
            Ok(_) => panic!("{auth:?} was upgraded"),
        }
    }
    let mut socket =
        EventSocket::try_connect(daemon.http, Auth::Query(&daemon.token), Some(0), None)
            .unwrap_or_else(|status| panic!("query token refused with {status}"));
    mail_to(&daemon, 1, "support");
    let events = socket.read_until("the mail's events", WAIT, |seen| {
        seen.iter().any(|e| ws::kind(e) == "message.created")
    });
    assert_eq!(kinds(&events), ["conversation.created", "message.created"]);
    assert!(
        !daemon.log().contains(&daemon.token),
        "the query token is never logged"
    );
}

#[test]
fn a_bad_since_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let response = common::http()
        .get(daemon.url("/api/v1/events?since=yesterday"))
        .bearer_auth(&daemon.token)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["field"], "since", "{body}");
}

/// Whether the daemon still holds its end of the HTTP connection from
/// `client_port` (an orphaned socket, closed by its process but still
/// flushing, has inode 0 in /proc/net/tcp).
fn daemon_holds_connection(http_port: u16, client_port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{http_port:04X}");
    let remote = format!("0100007F:{client_port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 9 && fields[1] == local && fields[2] == remote && fields[9] != "0"
    })
}

/// A consumer that never reads must not make the daemon buffer without
/// bound. Events here are conversation updates of conversations with long
/// subjects (so each event is a few KB while the store grows little per
/// event); ten silent sockets get them all.
#[test]
fn a_slow_consumer_is_disconnected_and_memory_stays_bounded() {
    const SILENT: usize = 10;
    const WRITERS: usize = 8;
    const PER_CONSUMER_BYTES: usize = 16 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));

    // One conversation per writer, each with a ~2 KB subject.
    let long_subject: String = (0..40)
        .map(|i| format!("word{i:02} padding the subject of this conversation"))
        .collect::<Vec<_>>()
        .join(" ");
    let conversations: Vec<String> = (0..WRITERS)
        .map(|n| {
            let c = daemon.customer_mail(
                &format!("slow-{n}@customer.example"),
                "carol@customer.example",
                &format!("{n} {long_subject}"),
                "hi",
            );
            c["id"].as_str().unwrap().to_string()
        })
        .collect();

    // Measure an event's size with a socket that reads.
    let mut reader = EventSocket::connect(daemon.http, &daemon.token, None);
    let path = format!("/api/v1/conversations/{}", conversations[0]);
    assert_eq!(daemon.patch(&path, &json!({"status": "pending"})).0, 200);
    let sample = reader.read_until("an update", WAIT, |seen| {
        seen.iter().any(|e| ws::kind(e) == "conversation.updated")
    });
    let event_bytes = sample.last().unwrap().to_string().len();
    drop(reader);
    let updates = (PER_CONSUMER_BYTES / event_bytes).clamp(2_000, 40_000);
    eprintln!("event of {event_bytes} bytes; {updates} updates");

    let silent: Vec<EventSocket> = (0..SILENT)
        .map(|_| {
            EventSocket::try_connect(daemon.http, Auth::Header(&daemon.token), None, Some(4096))
                .unwrap()
        })
        .collect();
    for socket in &silent {
        assert!(
            daemon_holds_connection(daemon.http.port(), socket.local_port()),
            "connection from port {} not found in /proc/net/tcp",
            socket.local_port()
        );
    }
    let baseline = daemon.rss_kib();

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        let pid = daemon.pid();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::SeqCst) {
                peak = peak.max(common::rss_kib(pid));
                std::thread::sleep(Duration::from_millis(25));
            }
            peak.max(common::rss_kib(pid))
        })
    };
    let writers: Vec<_> = conversations
        .iter()
        .map(|conversation| {
            let url = daemon.url(&format!("/api/v1/conversations/{conversation}"));
            let token = daemon.token.clone();
            let per_writer = updates / WRITERS;
            std::thread::spawn(move || {
                let client = common::http();
                for i in 0..per_writer {
                    let status = if i % 2 == 0 { "open" } else { "pending" };
                    let response = client
                        .patch(&url)
                        .bearer_auth(&token)
                        .json(&json!({"status": status}))
                        .send()
                        .unwrap();
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!(
        "RSS baseline {} MiB, peak {} MiB, growth {growth_mib} MiB",
        baseline / 1024,
        peak / 1024
    );

    assert!(
        growth_mib < 50,
        "RSS grew by {growth_mib} MiB with {SILENT} silent consumers \
         ({updates} events of {event_bytes} bytes each)"
    );

    // The daemon gives up on each silent socket (its end of the connection
    // is closed) without any help from the client: reading would unstick it.
    let ports: Vec<u16> = silent.iter().map(EventSocket::local_port).collect();
    common::eventually(
        "the daemon to drop every silent consumer",
        Duration::from_secs(90),
        || {
            let held: Vec<u16> = ports
                .iter()
                .copied()
                .filter(|port| daemon_holds_connection(daemon.http.port(), *port))
                .collect();
            if held.is_empty() {
                Ok(())
            } else {
                Err(format!("still held: {held:?}"))
            }
        },
    );
    let after = daemon.rss_kib();
    assert!(
        after.saturating_sub(baseline) / 1024 < 50,
        "RSS {} MiB after dropping the consumers, baseline {} MiB",
        after / 1024,
        baseline / 1024
    );

    // Read at last, each socket gives what was already on its way, then
    // ends: with a 1008 close frame if it could still be written, else the
    // connection just closes (a peer that reads nothing cannot be sent one).
    for (n, mut socket) in silent.into_iter().enumerate() {
        let mut received = 0usize;
        let close = loop {
            match socket.next(WAIT) {
                Next::Event(_) => received += 1,
                Next::Closed(close) => break close,
                Next::TimedOut => panic!("silent socket {n} still open after {received} events"),
            }
        };
        assert!(
            received < updates,
            "socket {n} got all {received} events: never dropped"
        );
        eprintln!("silent socket {n}: {received} events, then {close:?}");
        if let Some(close) = close {
            assert_eq!(close, (1008, "consumer too slow".to_string()), "socket {n}");
        }
    }

    // The daemon keeps serving, and new sockets work.
    let mut fresh = EventSocket::connect(daemon.http, &daemon.token, None);
    mail_to(&daemon, 2, "support");
    let seen: HashSet<String> = fresh
        .read_until("a new mail", WAIT, |seen| {
            seen.iter().any(|e| ws::kind(e) == "message.created")
        })
        .iter()
        .map(|e| ws::kind(e).to_string())
        .collect();
    assert!(seen.contains("conversation.created"));
}
