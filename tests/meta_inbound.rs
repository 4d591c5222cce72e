//! End-to-end: Messenger and WhatsApp webhooks into the real daemon. The
//! GET handshake, signatures over the raw bytes (nothing stored for a bad
//! one), batches, echoes, dedupe on provider retries, contacts with the
//! WhatsApp profile name, media fetched byte-exact from a loopback fake of
//! the Graph API (after it failed once), and bad input answered clearly.
//! Statuses applied to our outbound messages are tested in the store
//! (`store::provider_ids`), since only the sender learns provider ids.

mod common;

use std::time::Duration;

use common::graph::{
    self, fb_message, fb_page, post_fb, post_raw, post_wa, verify, wa_payload, wa_text, FakeGraph,
};
use common::{eventually, Daemon};
use serde_json::{json, Value};

fn start() -> (tempfile::TempDir, FakeGraph, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGraph::start();
    let config = graph::meta_config(dir.path(), &fake.base_url());
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, fake, daemon)
}

fn texts(daemon: &Daemon) -> Vec<String> {
    let mut texts: Vec<String> = daemon
        .all_messages()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect();
    texts.sort();
    texts
}

#[test]
fn the_verification_handshake_answers_only_the_right_token() {
    let (_dir, _fake, daemon) = start();
    let good = format!(
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={}",
        graph::FB_VERIFY_TOKEN
    );
    assert_eq!(
        verify(&daemon, "fb-page", &good),
        (200, "1158201444".into())
    );
    let wa = format!(
        "hub.mode=subscribe&hub.challenge=42&hub.verify_token={}",
        graph::WA_VERIFY_TOKEN
    );
    assert_eq!(verify(&daemon, "wa-number", &wa), (200, "42".into()));
    // Each channel has its own token.
    assert_eq!(verify(&daemon, "wa-number", &good).0, 403);
    assert_eq!(
        verify(
            &daemon,
            "fb-page",
            "hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope"
        )
        .0,
        403
    );
    assert_eq!(
        verify(
            &daemon,
            "fb-page",
            &good.replace("subscribe", "unsubscribe")
        )
        .0,
        403
    );
    assert_eq!(verify(&daemon, "fb-page", "hub.challenge=1").0, 403);
    // PHP-style names are not ours: the dotted names are the protocol.
    let underscored = good.replace("hub.", "hub_");
    assert_eq!(verify(&daemon, "fb-page", &underscored).0, 403);
    assert_eq!(verify(&daemon, "nowhere", &good).0, 404);
    assert_eq!(
        verify(&daemon, "support-email", &good).0,
        404,
        "not a Meta channel"
    );
    assert!(
        !daemon.log().contains(graph::FB_VERIFY_TOKEN),
        "tokens never logged"
    );
}

#[test]
fn only_correctly_signed_posts_are_stored_and_a_replay_adds_nothing() {
    let (_dir, _fake, daemon) = start();
    let body = serde_json::to_vec(&fb_page(vec![fb_message(
        "U1",
        "mid.s1",
        "signed hello",
        1458692752478,
    )]))
    .unwrap();
    let right = graph::sign(graph::FB_APP_SECRET, &body);
    let refused = [
        None,
        Some(graph::sign("some-other-secret", &body)),
        Some(graph::sign(graph::WA_APP_SECRET, &body)),
        Some(graph::sign(
            graph::FB_APP_SECRET,
            b"{\"object\":\"page\",\"entry\":[]}",
        )),
        Some(right.replace("sha256=", "sha1=")),
        Some("sha256=not-hex".to_string()),
    ];
    for signature in &refused {
        let (status, text) = post_raw(&daemon, "fb-page", &body, signature.as_deref());
        assert_eq!(status, 403, "{signature:?}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"], "bad_signature");
    }
    assert!(
        daemon.all_messages().is_empty(),
        "nothing stored for a bad signature"
    );

    assert_eq!(
        post_raw(&daemon, "fb-page", &body, Some(&right)),
        (200, "EVENT_RECEIVED".into())
    );
    assert_eq!(texts(&daemon), ["signed hello"]);
    // Meta retrying the same delivery: answered, stored once.
    assert_eq!(post_raw(&daemon, "fb-page", &body, Some(&right)).0, 200);
    assert_eq!(daemon.all_messages().len(), 1);

    let log = daemon.log();
    assert!(log.contains("webhook refused"), "a log line per refusal");
    for secret in [
        graph::FB_APP_SECRET,
        graph::WA_APP_SECRET,
        graph::WA_ACCESS_TOKEN,
    ] {
        assert!(!log.contains(secret), "secrets never logged");
    }
}

#[test]
fn a_batch_of_entries_and_events_is_stored_whole_and_echoes_are_skipped() {
    let (_dir, _fake, daemon) = start();
    let echo = json!({"sender": {"id": graph::PAGE_ID}, "recipient": {"id": "U1"}, "timestamp": 1458692752500u64,
        "message": {"mid": "mid.echo", "is_echo": true, "app_id": 2002, "text": "our own reply"}});
    let postback = json!({"sender": {"id": "U2"}, "recipient": {"id": graph::PAGE_ID}, "timestamp": "1527459824",
        "postback": {"mid": "mid.pb", "title": "Get Started", "payload": "GET_STARTED"}});
    let quick = json!({"sender": {"id": "U2"}, "recipient": {"id": graph::PAGE_ID}, "timestamp": 1527459825000u64,
        "message": {"mid": "mid.qr", "text": "Yes please", "quick_reply": {"payload": "CONSENT_YES"}}});
    let delivery = json!({"sender": {"id": "U1"}, "recipient": {"id": graph::PAGE_ID},
        "delivery": {"mids": ["mid.unknown"], "watermark": 1458668856253u64}});
    let read = json!({"sender": {"id": "U1"}, "recipient": {"id": graph::PAGE_ID}, "read": {"watermark": 1458668856253u64}});
    let body = json!({"object": "page", "entry": [
        {"id": graph::PAGE_ID, "time": 1, "messaging": [
            fb_message("U1", "mid.b1", "first from one", 1458692752478),
            echo, delivery, read,
            fb_message("U1", "mid.b2", "second from one", 1458692752479)]},
        {"id": graph::PAGE_ID, "time": 2, "messaging": [postback, quick]},
        {"id": graph::PAGE_ID, "time": 3, "standby": [fb_message("U3", "mid.b3", "while in standby", 1458692752480)]},
    ]});
    assert_eq!(post_fb(&daemon, &body).0, 200);
    assert_eq!(
        texts(&daemon),
        [
            "Get Started",
            "Yes please",
            "first from one",
            "second from one",
            "while in standby"
        ]
    );
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 3, "one per person: U1, U2, U3");
    for conversation in &conversations {
        assert_eq!(conversation["channel"], "fb-page");
        assert_eq!(conversation["inbox"], "support");
    }
    let one = conversations
        .iter()
        .find(|c| {
            c["message_count"] == 2
                && daemon.messages(c["id"].as_str().unwrap())[0]["text"] == "first from one"
        })
        .expect("U1's two messages in one conversation");
    let messages = daemon.messages(one["id"].as_str().unwrap());
    assert_eq!(
        messages[0]["from"]["address"],
        format!("{}:U1", graph::PAGE_ID)
    );
    assert_eq!(messages[0]["sent_at"], "2016-03-23T00:25:52.478Z");
    assert_eq!(messages[1]["thread_reason"], "continued");
    assert!(
        !texts(&daemon).iter().any(|t| t.contains("our own reply")),
        "echoes never ingested"
    );
}

#[test]
fn whatsapp_messages_become_conversations_with_named_contacts_once() {
    let (_dir, _fake, daemon) = start();
    let first = wa_payload(vec![wa_text("wamid.A1", "this is a text message")]);
    assert_eq!(post_wa(&daemon, &first), (200, "EVENT_RECEIVED".into()));
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 1);
    let conversation = &conversations[0];
    assert_eq!(conversation["channel"], "wa-number");
    assert_eq!(conversation["contact"]["name"], "Sheena Nelson");
    let (status, contact) = daemon.get(&format!(
        "/api/v1/contacts/{}",
        conversation["contact"]["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200);
    assert_eq!(contact["phone"], "+16505551234");

    // The provider retries the first delivery; the person writes again.
    assert_eq!(post_wa(&daemon, &first).0, 200);
    let reaction = json!({"from": "16505551234", "id": "wamid.A2", "timestamp": "1739321030", "type": "reaction",
        "reaction": {"message_id": "wamid.A1", "emoji": "👍"}});
    assert_eq!(
        post_wa(
            &daemon,
            &wa_payload(vec![reaction, wa_text("wamid.A3", "and more")])
        )
        .0,
        200
    );
    let conversations = daemon.all_conversations("");
    assert_eq!(
        conversations.len(),
        1,
        "the same person continues their conversation"
    );
    let messages = daemon.messages(conversations[0]["id"].as_str().unwrap());
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "this is a text message",
            "reacted 👍 to a message",
            "and more"
        ]
    );
    assert_eq!(messages[0]["external_id"], "wamid.A1");
    assert_eq!(messages[0]["sent_at"], "2025-02-12T00:43:44Z");

    // A change for another number is not this channel's: ignored.
    let mut other = wa_payload(vec![wa_text("wamid.X", "not ours")]);
    other["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("999");
    assert_eq!(post_wa(&daemon, &other).0, 200);
    assert_eq!(daemon.all_messages().len(), 3);
}

fn wait_for_attachment(daemon: &Daemon, external_id: &str) -> Value {
    eventually(
        &format!("the attachment of {external_id}"),
        Duration::from_secs(30),
        || {
            let message = daemon
                .message_by_external_id(external_id)
                .ok_or("no message yet")?;
            if message["attachments"][0]["size"].as_u64().unwrap_or(0) > 0 {
                Ok(message)
            } else {
                Err(message["attachments"].to_string())
            }
        },
    )
}

fn download(daemon: &Daemon, message: &Value) -> (String, Vec<u8>) {
    let response = common::http()
        .get(daemon.url(&format!(
            "/api/v1/messages/{}/attachments/0",
            message["id"].as_str().unwrap()
        )))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (content_type, response.bytes().unwrap().to_vec())
}

#[test]
fn media_is_fetched_into_the_store_byte_exact_even_after_a_failure() {
    let (_dir, fake, daemon) = start();
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let url = fake.add_cdn_file("123_456_n.jpg", "image/jpeg", &image, 1);
    let message = json!({"sender": {"id": "U9"}, "recipient": {"id": graph::PAGE_ID}, "timestamp": 1458692752478u64,
        "message": {"mid": "mid.img", "attachments": [{"type": "image", "payload": {"url": url}}]}});
    assert_eq!(post_fb(&daemon, &fb_page(vec![message])).0, 200);
    // Stored and visible at once, the attachment pending.
    let stored = daemon.all_messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["attachments"][0]["name"], "123_456_n.jpg");

    let pdf = b"%PDF-1.7\n\x00\x01\x02 binary \xff\xfe document".to_vec();
    fake.add_wa_media("2754859441498128", "application/pdf", &pdf, 1);
    let document = json!({"from": "16505551234", "id": "wamid.DOC", "timestamp": "1739321024", "type": "document",
        "document": {"caption": "the contract", "filename": "contract.pdf", "mime_type": "application/pdf",
                     "sha256": "x", "id": "2754859441498128"}});
    assert_eq!(post_wa(&daemon, &wa_payload(vec![document])).0, 200);

    let fb = wait_for_attachment(&daemon, "mid.img");
    assert_eq!(
        download(&daemon, &fb),
        ("image/jpeg".to_string(), image.clone())
    );
    assert_eq!(fb["attachments"][0]["size"], image.len());
    let wa = wait_for_attachment(&daemon, "wamid.DOC");
    assert_eq!(wa["text"], "the contract");
    assert_eq!(wa["attachments"][0]["name"], "contract.pdf");
    assert_eq!(download(&daemon, &wa), ("application/pdf".to_string(), pdf));

    assert_eq!(
        fake.count("/cdn/123_456_n.jpg"),
        2,
        "failed once, then fetched"
    );
    assert_eq!(fake.count("/wa-files/2754859441498128"), 2);
    assert!(daemon.log().contains("media: download failed; will retry"));
    let lookups: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.uri
                .starts_with(&format!("/{}/2754859441498128", graph::VERSION))
        })
        .collect();
    assert!(!lookups.is_empty());
    let bearer = format!("Bearer {}", graph::WA_ACCESS_TOKEN);
    assert!(fake
        .requests()
        .iter()
        .filter(|r| !r.uri.starts_with("/cdn/"))
        .all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.uri.starts_with("/cdn/"))
            .all(|r| r.authorization.is_none()),
        "the page's token never goes to a CDN"
    );

    // A replay of the post neither stores nor fetches anything again.
    let before = fake.requests().len();
    let message = json!({"sender": {"id": "U9"}, "recipient": {"id": graph::PAGE_ID}, "timestamp": 1458692752478u64,
        "message": {"mid": "mid.img", "attachments": [{"type": "image", "payload": {"url": url}}]}});
    assert_eq!(post_fb(&daemon, &fb_page(vec![message])).0, 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.requests().len(), before);
    assert_eq!(daemon.all_messages().len(), 2);
}

#[test]
fn bad_input_gets_a_clear_error_and_the_daemon_keeps_serving() {
    let (_dir, _fake, daemon) = start();
    let signed = |channel: &str, secret: &str, body: &[u8]| {
        post_raw(&daemon, channel, body, Some(&graph::sign(secret, body)))
    };
    for body in [
        &b"{not json"[..],
        b"[]",
        b"{\"entry\": []}",
        b"{\"object\": \"page\", \"entry\": 5}",
        b"",
    ] {
        let (status, text) = signed("fb-page", graph::FB_APP_SECRET, body);
        assert_eq!(status, 400, "{}: {text}", String::from_utf8_lossy(body));
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["error"],
            "bad_request"
        );
    }
    let (status, text) = signed("nowhere", graph::FB_APP_SECRET, b"{}");
    assert_eq!(status, 404, "{text}");
    assert_eq!(signed("support-email", graph::FB_APP_SECRET, b"{}").0, 404);
    // Signed, valid, but not this channel's object: acknowledged, ignored.
    let instagram = json!({"object": "instagram", "entry": [{"id": "1", "messaging": [fb_message("U1", "mid.ig", "ig", 1)]}]});
    assert_eq!(post_fb(&daemon, &instagram).0, 200);
    let page_on_whatsapp = fb_page(vec![fb_message("U1", "mid.wrong", "wrong channel", 1)]);
    assert_eq!(post_wa(&daemon, &page_on_whatsapp).0, 200);
    // Items missing what they need are skipped, the rest of the batch kept.
    let odd = fb_page(vec![
        json!({"sender": {"id": "U1"}, "message": {"text": "no mid"}}),
        json!({"message": {"mid": "mid.nosender", "text": "no sender"}}),
        json!("not an object"),
        fb_message("U1", "mid.ok", "kept", 1458692752478),
    ]);
    assert_eq!(post_fb(&daemon, &odd).0, 200);
    assert_eq!(texts(&daemon), ["kept"]);
    assert_eq!(daemon.get_with("/healthz", None).0, 200);
}
