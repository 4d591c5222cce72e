//! End-to-end: delivering replies to a custom channel's webhook. Failures
//! are retried with one `webhook-id` and after `Retry-After`, slow webhooks
//! time out and are retried, redirects are failures and never followed,
//! other client errors fail for good (410 marks the channel unhealthy), and
//! webhooks at private addresses are refused unless allowed.

mod common;

use std::time::Duration;

use common::custom::*;
use common::webhook_receiver::Answer;
use serde_json::{json, Value};

#[test]
fn failed_deliveries_are_retried_with_the_same_webhook_id() {
    let Setup {
        receiver,
        daemon,
        _dir,
    } = start();
    receiver.script([
        Answer::status(500).with_body("oops"),
        Answer::status(429).with_header("Retry-After", "2"),
        Answer::status(200),
    ]);
    let answer = published(&daemon, message("m1", "u-1", "hello"));
    let conversation = answer["conversation"]["id"].as_str().unwrap();
    let reply = daemon.reply(conversation, json!({"text": "third time lucky"}));
    let reply_id = reply["id"].as_str().unwrap();
    let requests = receiver.wait_for(3);
    assert_eq!(requests.len(), 3);
    for request in &requests {
        verify(SECRET, request).unwrap();
        assert_eq!(request.header("webhook-id"), Some(reply_id));
        assert_eq!(request.body, requests[0].body, "the same payload");
    }
    // Retry-After: 2 was honoured (the outbox's own backoff is 100-400 ms;
    // the margin absorbs a busy test machine).
    let waited = requests[2].at - requests[1].at;
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    let sent = daemon.wait_for_state(conversation, reply_id, "sent");
    assert_eq!(sent["status"]["attempts"], 3);
    assert_eq!(sent["status"]["reason"], Value::Null);
}

#[test]
fn a_slow_webhook_times_out_and_is_retried() {
    let Setup {
        receiver,
        daemon,
        _dir,
    } = start();
    receiver.script([Answer::status(200).after(Duration::from_millis(2500))]);
    let answer = published(&daemon, message("m1", "u-1", "hello"));
    let conversation = answer["conversation"]["id"].as_str().unwrap();
    let reply = daemon.reply(conversation, json!({"text": "are you there?"}));
    let reply_id = reply["id"].as_str().unwrap();
    let sent = daemon.wait_for_state(conversation, reply_id, "sent");
    assert_eq!(sent["status"]["attempts"], 2, "{sent}");
    let requests = receiver.received();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
}

#[test]
fn redirects_are_not_followed_and_client_errors_fail_for_good() {
    let Setup {
        receiver,
        daemon,
        _dir,
    } = start();
    let elsewhere = format!("http://127.0.0.1:{}/elsewhere", receiver.port());
    receiver.script([
        Answer::status(302).with_header("Location", &elsewhere),
        Answer::status(400).with_body(r#"{"error": "unknown chat"}"#),
    ]);
    let answer = published(&daemon, message("m1", "u-1", "hello"));
    let conversation = answer["conversation"]["id"].as_str().unwrap();
    let first = daemon.reply(conversation, json!({"text": "one"}));
    let failed = daemon.wait_for_state(conversation, first["id"].as_str().unwrap(), "failed");
    let reason = failed["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("302") && reason.contains("redirect"),
        "{reason}"
    );
    let second = daemon.reply(conversation, json!({"text": "two"}));
    let failed = daemon.wait_for_state(conversation, second["id"].as_str().unwrap(), "failed");
    let reason = failed["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("400") && reason.contains("unknown chat"),
        "{reason}"
    );
    assert_eq!(failed["status"]["attempts"], 1, "not retried");
    let requests = receiver.received();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(
        requests.iter().all(|r| r.path.starts_with("/hook")),
        "never /elsewhere"
    );

    // 410 Gone: the webhook refuses the channel as a whole, which agents
    // see until a delivery works again.
    let healthy = || {
        let (_, channels) = daemon.get("/api/v1/channels");
        channels
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "app")
            .unwrap()
            .clone()
    };
    receiver.script([Answer::status(410)]);
    let third = daemon.reply(conversation, json!({"text": "three"}));
    daemon.wait_for_state(conversation, third["id"].as_str().unwrap(), "failed");
    let channel = healthy();
    assert_eq!(channel["healthy"], false, "{channel}");
    assert!(channel["problem"]["reason"]
        .as_str()
        .unwrap()
        .contains("410"));
    let fourth = daemon.reply(conversation, json!({"text": "four"}));
    daemon.wait_for_state(conversation, fourth["id"].as_str().unwrap(), "sent");
    assert_eq!(healthy()["healthy"], true);
}

#[test]
fn private_targets_are_refused_unless_allowed() {
    let Setup {
        receiver,
        daemon,
        _dir,
    } = start();
    let (status, answer) = publish_as(
        &daemon,
        "guarded",
        Some(GUARDED_TOKEN),
        &message("g1", "u-1", "hello"),
    );
    assert_eq!(status, 201, "{answer}");
    let conversation = answer["conversation"]["id"].as_str().unwrap();
    let reply = daemon.reply(conversation, json!({"text": "to localhost?"}));
    let failed = daemon.wait_for_state(conversation, reply["id"].as_str().unwrap(), "failed");
    let reason = failed["status"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("localhost") && reason.contains("allow_private_targets"),
        "{reason}"
    );
    assert_eq!(failed["status"]["attempts"], 1, "refused, not retried");
    // Nothing reached the receiver listening on 127.0.0.1.
    assert!(receiver.received().is_empty());
}
