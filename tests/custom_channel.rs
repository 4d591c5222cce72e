//! End-to-end: the custom channel API against the real daemon, the
//! integration's side. It publishes messages with the channel's token
//! (stored once per key, threaded by `thread_id` or one open conversation
//! per sender, clear errors otherwise); agents' replies reach a loopback
//! webhook that checks our Standard Webhooks signature with its own HMAC;
//! the integration reports deliveries back. Retries, redirects and private
//! targets are in `custom_channel_delivery.rs`.

mod common;

use base64::Engine;
use common::custom::*;
use common::webhook_receiver::Received;
use serde_json::{json, Value};

#[test]
fn the_independent_verifier_accepts_the_reference_vector() {
    let request = Received {
        method: "POST".into(),
        path: "/".into(),
        headers: vec![
            ("webhook-id".into(), "msg_p5jXN8AQM9LWM0D4loKWxJek".into()),
            ("webhook-timestamp".into(), "1614265330".into()),
            (
                "webhook-signature".into(),
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".into(),
            ),
        ],
        body: br#"{"test": 2432232314}"#.to_vec(),
        at: std::time::Instant::now(),
    };
    // Only the clock check fails for a 2021 vector: the HMAC matches.
    let error = verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &request).unwrap_err();
    assert!(error.contains("off"), "{error}");
    let key = base64::engine::general_purpose::STANDARD
        .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    let mac = hmac_sha256(
        &key,
        br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#,
    );
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(mac),
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn a_round_trip_with_a_signed_webhook_and_delivery_reports() {
    let Setup {
        receiver,
        daemon,
        _dir,
    } = start();
    let answer = published(
        &daemon,
        json!({
            "idempotency_key": "tg-update-1",
            "sender": {"id": "tg-23", "name": "Sojan Jose", "email": "sojan@example.com"},
            "text": "Hello from the app",
            "attachments": [{"name": "note.txt", "content_type": "text/plain",
                             "data_base64": base64::engine::general_purpose::STANDARD.encode("a file")}],
            "timestamp": 1631132077,
        }),
    );
    let conversation = answer["conversation"]["id"].as_str().unwrap().to_string();
    assert_eq!(answer["conversation"]["channel"], "app");
    assert_eq!(answer["conversation"]["inbox"], "support");
    assert_eq!(answer["conversation"]["contact"]["name"], "Sojan Jose");
    assert_eq!(answer["message"]["text"], "Hello from the app");
    assert_eq!(answer["message"]["external_id"], "tg-update-1");
    assert_eq!(answer["message"]["sent_at"], "2021-09-08T20:14:37Z");
    // Durable before the answer: the agent API has it, attachment included.
    let stored = daemon.messages(&conversation);
    assert_eq!(stored.len(), 1);
    let url = stored[0]["attachments"][0]["url"].as_str().unwrap();
    let bytes = common::http()
        .get(daemon.url(url))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&bytes[..], b"a file");

    // The agent answers; the webhook gets it, signed.
    let reply = daemon.reply(
        &conversation,
        json!({"text": "Hi Sojan, how can we help?", "html": "<p>Hi <b>Sojan</b></p>"}),
    );
    let reply_id = reply["id"].as_str().unwrap().to_string();
    let request = receiver.wait_for(1).remove(0);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook?key=path-secret");
    assert_eq!(request.header("content-type"), Some("application/json"));
    verify(SECRET, &request).unwrap();
    assert_eq!(request.header("webhook-id"), Some(reply_id.as_str()));
    let payload = request.json();
    assert_eq!(payload["type"], "message.created");
    assert_eq!(payload["channel"], "app");
    assert_eq!(payload["conversation"], conversation);
    assert_eq!(payload["message"]["id"], reply_id);
    assert_eq!(payload["message"]["text"], "Hi Sojan, how can we help?");
    assert!(
        payload["message"].get("html").is_none(),
        "no rich text on this channel: {payload}"
    );
    assert_eq!(
        payload["message"]["author"],
        json!({"kind": "agent", "id": "alice", "name": "Alice Admin"})
    );
    assert!(payload["message"]["created_at"].is_string());
    assert_eq!(
        payload["recipient"],
        json!({"id": "tg-23", "name": "Sojan Jose"})
    );
    assert!(payload.get("thread_id").is_none(), "{payload}");
    let sent = daemon.wait_for_state(&conversation, &reply_id, "sent");
    assert_eq!(sent["status"]["provider_id"], "ext-1");

    // The integration reports delivery; a late `sent` changes nothing.
    let (status, answer) = report(&daemon, &reply_id, json!({"status": "delivered"}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], true);
    assert_eq!(answer["message"]["status"]["state"], "delivered");
    let (status, answer) = report(&daemon, &reply_id, json!({"status": "sent"}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], false);
    assert_eq!(
        daemon.message(&conversation, &reply_id)["status"]["state"],
        "delivered"
    );
    let (_, answer) = report(&daemon, &reply_id, json!({"status": "read"}));
    assert_eq!(answer["applied"], true);
    let read = daemon.message(&conversation, &reply_id);
    assert_eq!(read["status"]["state"], "read");
    assert_eq!(read["status"]["provider_id"], "ext-1", "kept from the send");
    // A failure after `read` is not believed either.
    let (_, answer) = report(
        &daemon,
        &reply_id,
        json!({"status": "failed", "error": "blocked"}),
    );
    assert_eq!(answer["applied"], false);

    // Agents see the channel and what it can show.
    let (_, channels) = daemon.get("/api/v1/channels");
    let app = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "app")
        .unwrap()
        .clone();
    assert_eq!(app["kind"], "custom");
    assert_eq!(
        app["capabilities"],
        json!({"max_text_length": MAX_TEXT, "attachments": true, "rich_text": false})
    );
    let (_, inboxes) = daemon.get("/api/v1/inboxes");
    assert!(
        inboxes.to_string().contains(r#""kind":"custom""#),
        "{inboxes}"
    );
    let log = daemon.log();
    for secret in [TOKEN, SECRET, &SECRET[6..], "path-secret"] {
        assert!(!log.contains(secret), "{secret} must never be logged");
    }
}

#[test]
fn the_same_idempotency_key_stores_one_message() {
    let Setup { daemon, _dir, .. } = start();
    let body = message("key-1", "u-1", "only once");
    let first = published(&daemon, body.clone());
    let (status, again) = publish(&daemon, &body);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    assert_eq!(again["conversation"]["id"], first["conversation"]["id"]);
    // Even with other content, the key decides.
    let (status, changed) = publish(&daemon, &message("key-1", "u-1", "edited"));
    assert_eq!(status, 200);
    assert_eq!(changed["message"]["text"], "only once");
    assert_eq!(daemon.all_messages().len(), 1);
}

#[test]
fn threads_keep_their_messages_and_senders_keep_one_open_conversation() {
    let Setup {
        receiver,
        daemon,
        _dir,
    } = start();
    let conversation_of =
        |answer: &Value| answer["conversation"]["id"].as_str().unwrap().to_string();
    // Without a thread: one open conversation per sender.
    let a1 = published(&daemon, message("a1", "alice-app", "first"));
    let a2 = published(&daemon, message("a2", "alice-app", "second"));
    assert_eq!(conversation_of(&a1), conversation_of(&a2));
    assert_eq!(a2["message"]["thread_reason"], "continued");
    let b1 = published(&daemon, message("b1", "bob-app", "other person"));
    assert_ne!(conversation_of(&b1), conversation_of(&a1));

    // A thread is its own conversation, whoever writes in it.
    let mut t1 = message("t1", "alice-app", "in the group");
    t1["thread_id"] = json!("group-7");
    let t1 = published(&daemon, t1);
    assert_ne!(conversation_of(&t1), conversation_of(&a1));
    let mut t2 = message("t2", "bob-app", "me too");
    t2["thread_id"] = json!("group-7");
    t2["sender"]["name"] = json!("Bob App");
    let t2 = published(&daemon, t2);
    assert_eq!(conversation_of(&t2), conversation_of(&t1));
    assert_eq!(t2["message"]["thread_reason"], "thread");
    // Alice's own conversation is untouched.
    assert_eq!(daemon.messages(&conversation_of(&a1)).len(), 2);

    // A reply in the thread names it, and goes to whoever wrote last.
    daemon.reply(&conversation_of(&t1), json!({"text": "Hello group"}));
    let payload = receiver.wait_for(1).remove(0).json();
    assert_eq!(payload["thread_id"], "group-7");
    assert_eq!(
        payload["recipient"],
        json!({"id": "bob-app", "name": "Bob App"})
    );

    // Closed, the sender's conversation stays closed: the next message
    // starts a new one. A closed thread reopens (the thread names it).
    for id in [conversation_of(&a1), conversation_of(&t1)] {
        let (status, body) = daemon.patch(
            &format!("/api/v1/conversations/{id}"),
            &json!({"status": "closed"}),
        );
        assert_eq!(status, 200, "{body}");
    }
    let a3 = published(&daemon, message("a3", "alice-app", "new topic"));
    assert_ne!(conversation_of(&a3), conversation_of(&a1));
    let mut t3 = message("t3", "alice-app", "back in the group");
    t3["thread_id"] = json!("group-7");
    let t3 = published(&daemon, t3);
    assert_eq!(conversation_of(&t3), conversation_of(&t1));
    assert_eq!(t3["conversation"]["status"], "open");
}

#[test]
fn bad_requests_get_a_clear_status_and_store_nothing() {
    let Setup { daemon, _dir, .. } = start();
    let good = message("k", "u", "hello");
    // Credentials: the channel's token only, and only here.
    assert_eq!(publish_as(&daemon, "app", None, &good).0, 401);
    assert_eq!(
        publish_as(&daemon, "app", Some("wrong-token"), &good).0,
        401
    );
    let agent_token = daemon.token.clone();
    let (status, body) = publish_as(&daemon, "app", Some(&agent_token), &good);
    assert_eq!(status, 401, "agent tokens are not channel tokens: {body}");
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(
        publish_as(&daemon, "app", Some(GUARDED_TOKEN), &good).0,
        401,
        "each channel has its own token"
    );
    assert_eq!(daemon.get_with("/api/v1/conversations", Some(TOKEN)).0, 401);
    assert_eq!(daemon.get_with("/api/v1/channels", Some(TOKEN)).0, 401);
    // Channels: unknown, or not custom.
    assert_eq!(publish_as(&daemon, "nowhere", Some(TOKEN), &good).0, 404);
    assert_eq!(
        publish_as(&daemon, "support-email", Some(TOKEN), &good).0,
        404
    );

    // Bodies: each error names its field.
    let raw = |body: &str, content_type: &str| {
        let response = common::http()
            .post(daemon.url("/api/v1/channels/app/messages"))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    let (status, body) = raw("{not json", "application/json");
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("body")),
        "{body}"
    );
    let (status, body) = raw(&good.to_string(), "text/plain");
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("body")),
        "{body}"
    );
    let cases = [
        (json!({"sender": {"id": "u"}, "text": "x"}), "body"),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "text": 5}),
            "text",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "text": "x", "colour": 1}),
            "body",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": " "}, "text": "x"}),
            "sender.id",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u", "email": "no"}, "text": "x"}),
            "sender.email",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}}),
            "text",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "text": "x", "timestamp": "soon"}),
            "timestamp",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "text": "x",
                   "attachments": [{"content_type": "image/png", "url": "https://cdn.example/a.png"}]}),
            "attachments[0].url",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "text": "x",
                   "attachments": [{"content_type": "image/png", "data_base64": "@@@"}]}),
            "attachments[0].data_base64",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = publish(&daemon, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], "bad_request");
        let named = answer["field"].as_str().unwrap_or_default();
        assert!(
            named == field || (field == "body" && !named.is_empty()),
            "{body}: expected field {field}, got {answer}"
        );
    }
    // A missing field is named in the message.
    let (_, answer) = publish(&daemon, &json!({"sender": {"id": "u"}, "text": "x"}));
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("idempotency_key"),
        "{answer}"
    );

    // Sizes: an attachment over 10 MiB, a body over 16 MiB.
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 10 * 1024 * 1024 + 1]);
    let (status, answer) = publish(
        &daemon,
        &json!({"idempotency_key": "big", "sender": {"id": "u"}, "text": "x",
                "attachments": [{"content_type": "application/octet-stream", "data_base64": big}]}),
    );
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["field"], "attachments[0].data_base64");
    let huge = "x".repeat(17 * 1024 * 1024);
    let (status, answer) = raw(
        &json!({"idempotency_key": "huge", "sender": {"id": "u"}, "text": huge}).to_string(),
        "application/json",
    );
    assert_eq!(status, 413, "{answer}");
    assert!(daemon.all_messages().is_empty(), "nothing stored");

    // Replies longer than the app shows cannot be sent.
    let answer = published(&daemon, good);
    let conversation = answer["conversation"]["id"].as_str().unwrap();
    let (status, body) = daemon.post(
        &format!("/api/v1/conversations/{conversation}/messages"),
        &json!({"text": "x".repeat(MAX_TEXT + 1)}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("at most 80"),
        "{body}"
    );

    // Reports: only this channel's outbound messages.
    let inbound_id = answer["message"]["id"].as_str().unwrap();
    assert_eq!(
        report(&daemon, inbound_id, json!({"status": "read"})).0,
        404,
        "not an outbound message"
    );
    assert_eq!(
        report(
            &daemon,
            "01J00000000000000000000000",
            json!({"status": "read"})
        )
        .0,
        404
    );
    assert_eq!(
        report(&daemon, "not-an-id", json!({"status": "read"})).0,
        404
    );
    let reply = daemon.reply(conversation, json!({"text": "short"}));
    let reply_id = reply["id"].as_str().unwrap();
    let (status, body) = report(&daemon, reply_id, json!({"status": "lost"}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("status")),
        "{body}"
    );
    let (status, _) = daemon.send_json_with(
        "PATCH",
        &format!("/api/v1/channels/guarded/messages/{reply_id}"),
        Some(GUARDED_TOKEN),
        &json!({"status": "read"}),
    );
    assert_eq!(status, 404, "another channel's message");
    let (status, _) = daemon.send_json_with(
        "PATCH",
        &format!("/api/v1/channels/app/messages/{reply_id}"),
        Some(&agent_token),
        &json!({"status": "read"}),
    );
    assert_eq!(status, 401);
}
