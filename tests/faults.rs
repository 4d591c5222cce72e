//! End-to-end fault test (issue 8, point 3): the store failing. Built only
//! with the test-only cargo feature `fault-injection` (scripts/test runs
//! `cargo test --features fault-injection --test faults`), whose daemon
//! fails every group-commit flush while `<storage>/FAIL_FLUSH` exists.
//!
//! While the store fails, nothing is acknowledged: SMTP answers `451` after
//! DATA (and the session stays usable), a signed Messenger webhook `503`.
//! Once the fault clears, the senders' retries are acknowledged and every
//! message is stored exactly once, durably: it survives a SIGKILL. A
//! website visitor's message gets an `unavailable` error frame and no ack;
//! the widget's resend after the fault is acked and stored once.
#![cfg(feature = "fault-injection")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::chat::{self, Next, Visitor};
use common::graph::{self, fb_message, fb_page, FakeGraph};
use common::mails;
use common::smtp::SmtpClient;
use common::Daemon;
use serde_json::json;

const SUPPORT: &[&str] = &["support@example.com"];

/// How many stored messages carry `external_id`.
fn count(daemon: &Daemon, external_id: &str) -> usize {
    daemon
        .all_messages()
        .iter()
        .filter(|m| m["external_id"] == external_id)
        .count()
}

fn fail_flushes(dir: &Path, on: bool) {
    let switch = dir.join("data").join("FAIL_FLUSH");
    if on {
        std::fs::write(switch, b"test").unwrap();
    } else {
        std::fs::remove_file(switch).unwrap();
    }
}

#[test]
fn a_failing_store_answers_temporary_errors_and_retries_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGraph::start();
    let config = graph::meta_config(dir.path(), &fake.base_url());
    let daemon = Daemon::start_with_config(dir.path(), &config);
    let mail = mails::simple(
        "fault-1@x.example",
        "f@x.example",
        "support@example.com",
        "stored despite a fault",
        "please keep me",
    );
    let webhook = fb_page(vec![
        fb_message("psid-fault", "m-fault-1", "first", 1_700_000_000_000),
        fb_message("psid-fault", "m-fault-2", "second", 1_700_000_000_001),
    ]);

    fail_flushes(dir.path(), true);
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    let reply = client.send_mail("f@x.example", SUPPORT, &mail);
    assert_eq!(reply.code, 451, "{reply:?}");
    assert!(reply.text.starts_with("4.3.0"), "{reply:?}");
    // The session survives the failure.
    assert_eq!(client.command("NOOP").code, 250);
    let (status, body) = graph::post_fb(&daemon, &webhook);
    assert_eq!(status, 503, "{body}");
    assert!(
        daemon.log().contains("injected fault"),
        "the daemon logs the fault"
    );

    // The fault clears; the senders retry the very same messages.
    fail_flushes(dir.path(), false);
    let reply = client.send_mail("f@x.example", SUPPORT, &mail);
    assert_eq!(reply.code, 250, "{reply:?}");
    client.quit();
    assert_eq!(
        graph::post_fb(&daemon, &webhook),
        (200, "EVENT_RECEIVED".into())
    );
    for id in ["fault-1@x.example", "m-fault-1", "m-fault-2"] {
        assert_eq!(count(&daemon, id), 1, "{id} stored once");
    }

    // Acknowledged means durable: a SIGKILL loses none of it.
    let token = daemon.token.clone();
    daemon.kill();
    let daemon = Daemon::start(dir.path(), token);
    for id in ["fault-1@x.example", "m-fault-1", "m-fault-2"] {
        assert_eq!(count(&daemon, id), 1, "{id} after a SIGKILL");
    }
    // A later provider retry is still a duplicate, not a second message.
    assert_eq!(graph::post_fb(&daemon, &webhook).0, 200);
    assert_eq!(count(&daemon, "m-fault-1"), 1);
    assert_eq!(daemon.all_messages().len(), 3);
}

#[test]
fn a_fault_under_concurrent_senders_acknowledges_nothing_until_it_clears() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGraph::start();
    let config = graph::meta_config(dir.path(), &fake.base_url());
    let daemon = Daemon::start_with_config(dir.path(), &config);
    let mail = |i: usize| {
        mails::simple(
            &format!("burst-{i}@x.example"),
            &format!("b{i}@x.example"),
            "support@example.com",
            &format!("burst {i}"),
            "body",
        )
    };
    let hook = |i: usize| {
        fb_page(vec![fb_message(
            &format!("psid-burst-{i}"),
            &format!("m-burst-{i}"),
            "hello",
            1_700_000_000_000 + i as u64,
        )])
    };

    // Several writers share the failing flushes: every one of them is told.
    fail_flushes(dir.path(), true);
    std::thread::scope(|scope| {
        for i in 0..6 {
            let (daemon, mail, hook) = (&daemon, &mail, &hook);
            scope.spawn(move || {
                let reply = common::smtp::deliver(daemon.smtp, "b@x.example", SUPPORT, &mail(i));
                assert_eq!(reply.code, 451, "mail {i}: {reply:?}");
                let (status, body) = graph::post_fb(daemon, &hook(i));
                assert_eq!(status, 503, "webhook {i}: {body}");
            });
        }
    });

    fail_flushes(dir.path(), false);
    std::thread::scope(|scope| {
        for i in 0..6 {
            let (daemon, mail, hook) = (&daemon, &mail, &hook);
            scope.spawn(move || {
                let reply = common::smtp::deliver(daemon.smtp, "b@x.example", SUPPORT, &mail(i));
                assert_eq!(reply.code, 250, "mail {i} retried: {reply:?}");
                let (status, body) = graph::post_fb(daemon, &hook(i));
                assert_eq!(status, 200, "webhook {i} retried: {body}");
            });
        }
    });

    let token = daemon.token.clone();
    daemon.kill();
    let daemon = Daemon::start(dir.path(), token);
    let messages = daemon.all_messages();
    assert_eq!(messages.len(), 12, "{messages:#?}");
    for i in 0..6 {
        assert_eq!(count(&daemon, &format!("burst-{i}@x.example")), 1);
        assert_eq!(count(&daemon, &format!("m-burst-{i}")), 1);
    }
}

#[test]
fn a_visitor_message_during_a_fault_gets_no_ack_and_its_resend_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGraph::start();
    let config = chat::chat_config(
        dir.path(),
        graph::meta_config(dir.path(), &fake.base_url()),
        "",
    );
    let daemon = Daemon::start_with_config(dir.path(), &config);
    let mut visitor = Visitor::connect(daemon.http, "web");
    let welcome = visitor.hello(None);
    let token = welcome["visitor_token"].as_str().unwrap().to_string();

    fail_flushes(dir.path(), true);
    visitor.send(json!({"type": "message", "client_id": "c-fault", "text": "during the fault"}));
    let refused = visitor.expect_where("error", |f| f["client_id"] == "c-fault");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    // No ack follows the refusal.
    match visitor.next(Duration::from_millis(500)) {
        Next::Frame(frame) => assert_ne!(frame["type"], "ack", "{frame}"),
        Next::Closed(close) => panic!("socket closed: {close:?}"),
        Next::TimedOut => {}
    }

    // The widget resends after the fault clears: one ack, one message.
    fail_flushes(dir.path(), false);
    let ack = visitor.say("c-fault", "during the fault");
    let id = ack["message_id"].as_str().unwrap().to_string();
    visitor.close();
    let token_for_restart = daemon.token.clone();
    daemon.kill();
    let daemon = Daemon::start(dir.path(), token_for_restart);
    let stored: Vec<_> = daemon
        .all_messages()
        .into_iter()
        .filter(|m| m["text"] == "during the fault")
        .collect();
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0]["id"], id.as_str());
    // The same visitor, back after the restart, sees it once in its history.
    let mut visitor = Visitor::connect(daemon.http, "web");
    let welcome = visitor.hello(Some(&token));
    let history = welcome["history"].as_array().unwrap();
    let shown = history
        .iter()
        .filter(|m| m["text"] == "during the fault")
        .count();
    assert_eq!(shown, 1, "{welcome}");
}
