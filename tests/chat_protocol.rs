//! End-to-end tests of the website chat's visitor socket (`/ws/chat`): the
//! real daemon on port 0, a Rust WebSocket client as the widget.

mod common;

use std::time::Duration;

use common::chat::{chat_config, Next, Visitor, ORIGIN, SECRET, WAIT};
use common::{eventually, test_config, Daemon};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn start(extra: &str) -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let config = chat_config(dir.path(), test_config(1024 * 1024), extra);
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, daemon)
}

/// The conversation holding a message with `text`, and its messages.
fn conversation_with(d: &Daemon, text: &str) -> (String, Vec<Value>) {
    eventually(&format!("a conversation with {text:?}"), WAIT, || {
        for conversation in d.all_conversations("") {
            let id = conversation["id"].as_str().unwrap().to_string();
            let messages = d.messages(&id);
            if messages.iter().any(|m| m["text"] == text) {
                return Ok((id, messages));
            }
        }
        Err("not yet".into())
    })
}

/// Waits until no visitor socket follows the conversation (the daemon saw
/// the close), asking through the typing endpoint, which counts them.
fn wait_until_gone(d: &Daemon, conversation: &str) {
    eventually("the visitor's socket to close", WAIT, || {
        let (status, body) = d.post(
            &format!("/api/v1/conversations/{conversation}/typing"),
            &json!({"typing": false}),
        );
        if status == 202 && body["sockets"] == 0 {
            Ok(())
        } else {
            Err(format!("{status} {body}"))
        }
    });
}

#[test]
fn hello_welcome_ack_after_durable_and_history_on_reconnect() {
    let (dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "web");
    let welcome = visitor.hello(None);
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("v1."), "{welcome}");
    assert_eq!(welcome["conversation"], Value::Null);
    assert_eq!(welcome["history"], json!([]));
    assert_eq!(welcome["branding"]["team_name"], "Example Support");
    assert_eq!(welcome["branding"]["color"], "#0b7285");
    assert_eq!(welcome["branding"]["greeting"], "Hi! Ask us anything.");
    assert_eq!(welcome["availability"]["available"], true);
    assert_eq!(welcome["consent_required"], false);

    let ack = visitor.say("c-1", "Where is my order #1234?");
    let message_id = ack["message_id"].as_str().unwrap().to_string();
    let conversation = ack["conversation"].as_str().unwrap().to_string();
    assert_eq!(ack["duplicate"], false);
    // The instant reply comes live after the first message.
    let instant = visitor.expect_where("message", |f| f["from"] == "bot");
    assert_eq!(instant["text"], "Thanks! Someone will be with you shortly.");
    assert_eq!(instant["author"], "Example Support");

    // Acknowledged means durable: a crash right after the ack loses nothing.
    d.kill();
    let d = Daemon::start(dir.path(), common::create_token(dir.path(), "alice"));
    let messages = d.messages(&conversation);
    let stored = messages.iter().find(|m| m["id"] == message_id).unwrap();
    assert_eq!(stored["text"], "Where is my order #1234?");
    assert_eq!(stored["channel"], "web");
    assert_eq!(stored["direction"], "inbound");

    // The token brings the same visitor back to the same conversation.
    let mut again = Visitor::connect(d.http, "web");
    let welcome = again.hello(Some(&token));
    assert_eq!(welcome["visitor_token"], token);
    assert_eq!(welcome["conversation"], conversation);
    let history = welcome["history"].as_array().unwrap();
    assert_eq!(history[0]["id"], message_id.as_str());
    assert_eq!(history[0]["from"], "visitor");
    assert_eq!(history[0]["client_id"], "c-1");
    assert!(history.iter().any(|m| m["from"] == "bot"), "{history:?}");
    // A second message continues the conversation; no second instant reply.
    let ack = again.say("c-2", "It was due on Monday.");
    assert_eq!(ack["conversation"], conversation);
    let conversation_view = d.get(&format!("/api/v1/conversations/{conversation}")).1;
    assert_eq!(conversation_view["channel"], "web");
    let bots = d
        .messages(&conversation)
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .count();
    assert_eq!(bots, 1, "one instant reply");
}

#[test]
fn a_resend_after_reconnect_is_stored_once_and_gets_the_same_ack() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "web");
    let token = visitor.hello(None)["visitor_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Sent, then the connection drops before the ack is read.
    visitor.send(json!({"type": "message", "client_id": "m-1", "text": "first try"}));
    drop(visitor);
    let (conversation, _) = conversation_with(&d, "first try");

    let mut visitor = Visitor::connect(d.http, "web");
    visitor.hello(Some(&token));
    let first = visitor.say("m-1", "first try");
    assert_eq!(first["duplicate"], true, "{first}");
    let again = visitor.say("m-1", "first try");
    assert_eq!(again["message_id"], first["message_id"]);
    assert_eq!(again["conversation"], conversation);
    // The same client_id from another visitor is another message.
    let mut other = Visitor::connect(d.http, "web");
    other.hello(None);
    let theirs = other.say("m-1", "first try");
    assert_ne!(theirs["message_id"], first["message_id"]);
    assert_ne!(theirs["conversation"], conversation);

    let copies = d
        .messages(&conversation)
        .iter()
        .filter(|m| m["text"] == "first try")
        .count();
    assert_eq!(copies, 1, "nothing doubled");
}

#[test]
fn forged_and_foreign_tokens_are_refused_and_visitors_see_only_their_own() {
    let (_dir, d) = start("");
    let mut ann = Visitor::connect(d.http, "web");
    let ann_token = ann.hello(None)["visitor_token"]
        .as_str()
        .unwrap()
        .to_string();
    ann.say("a-1", "Ann's private question");
    let mut bob = Visitor::connect(d.http, "web");
    let welcome = bob.hello(None);
    assert_eq!(welcome["history"], json!([]), "Bob sees nothing of Ann's");
    let bob_token = welcome["visitor_token"].as_str().unwrap().to_string();

    let ann_id = ann_token.split('.').nth(1).unwrap();
    let bob_mac = bob_token.split('.').nth(2).unwrap();
    let forged = [
        format!("v1.{ann_id}.{bob_mac}"),
        format!("v1.{ann_id}.{}", "0".repeat(64)),
        "v1.nonsense".to_string(),
        format!("{ann_token}x"),
    ];
    for token in &forged {
        let mut thief = Visitor::connect(d.http, "web");
        thief.send(json!({"type": "hello", "visitor_token": token}));
        let error = thief.expect("error");
        assert_eq!(error["code"], "invalid_token", "{token}");
        match thief.next(WAIT) {
            Next::Closed(Some((4401, _))) => {}
            other => panic!("expected a 4401 close for {token}: {other:?}"),
        }
    }
    // Ann's token is for the `web` channel only.
    let mut elsewhere = Visitor::connect(d.http, "strict");
    elsewhere.send(json!({"type": "hello", "visitor_token": ann_token}));
    assert_eq!(elsewhere.expect("error")["code"], "invalid_token");
    // The daemon keeps serving Ann.
    let mut ann = Visitor::connect(d.http, "web");
    let history = ann.hello(Some(&ann_token))["history"].clone();
    assert_eq!(history[0]["text"], "Ann's private question");
}

#[test]
fn only_allowed_origins_may_open_the_socket_or_read_the_config() {
    let (_dir, d) = start("");
    for origin in [
        None,
        Some("https://evil.example"),
        Some("http://shop.example.org"),
    ] {
        let refused = Visitor::try_connect(d.http, "web", origin).err();
        assert_eq!(refused, Some(403), "{origin:?}");
    }
    assert_eq!(
        Visitor::try_connect(d.http, "nope", Some(ORIGIN)).err(),
        Some(404)
    );
    assert_eq!(
        Visitor::try_connect(d.http, "support-email", Some(ORIGIN)).err(),
        Some(404),
        "not a chat channel"
    );
    let client = common::http();
    let config = |origin: &str| {
        client
            .get(d.url("/chat/web/config"))
            .header("Origin", origin)
            .send()
            .unwrap()
    };
    assert_eq!(config("https://evil.example").status(), 403);
    let allowed = config(ORIGIN);
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        ORIGIN,
        "CORS for the widget"
    );
    let body: Value = allowed.json().unwrap();
    assert_eq!(body["branding"]["color"], "#0b7285");
    assert_eq!(body["availability"]["available"], true);
    assert!(Visitor::try_connect(d.http, "web", Some(ORIGIN)).is_ok());
}

#[test]
fn bad_frames_get_error_frames_and_the_socket_and_daemon_survive() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "web");
    let ping = |visitor: &mut Visitor| {
        visitor.send(json!({"type": "ping"}));
        visitor.expect("pong");
    };
    visitor.send(json!({"type": "message", "client_id": "x", "text": "too early"}));
    assert_eq!(visitor.expect("error")["code"], "hello_first");
    visitor.hello(None);
    for (raw, code) in [
        ("{not json", "malformed"),
        ("[]", "malformed"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (r#"{"type":"message","text":"no client id"}"#, "malformed"),
        (r#"{"type":"hello"}"#, "already_hello"),
    ] {
        visitor.send_raw(Message::Text(raw.into()));
        let error = visitor.expect("error");
        assert_eq!(error["code"], code, "{raw}: {error}");
        ping(&mut visitor);
    }
    visitor.send_raw(Message::Binary(vec![1, 2, 3].into()));
    assert_eq!(visitor.expect("error")["code"], "malformed");
    // Longer than the channel's 500 characters: refused, named by client_id.
    visitor.send(json!({"type": "message", "client_id": "big", "text": "x".repeat(501)}));
    let error = visitor.expect("error");
    assert_eq!(error["code"], "too_long");
    assert_eq!(error["client_id"], "big");
    visitor.send(json!({"type": "message", "client_id": "blank", "text": "  "}));
    assert_eq!(visitor.expect("error")["code"], "empty");
    visitor.send(json!({"type": "message", "client_id": "y".repeat(65), "text": "hi"}));
    assert_eq!(visitor.expect("error")["code"], "bad_client_id");
    ping(&mut visitor);
    let ack = visitor.say("ok", "x".repeat(500).as_str());
    assert!(ack["message_id"].is_string());

    // A frame beyond the socket's 64 KiB limit closes that socket only.
    let mut flood = Visitor::connect(d.http, "web");
    flood.hello(None);
    flood.send(json!({"type": "message", "client_id": "huge", "text": "y".repeat(100_000)}));
    loop {
        match flood.next(WAIT) {
            Next::Closed(_) => break,
            Next::Frame(frame) => assert_ne!(frame["type"], "ack", "{frame}"),
            Next::TimedOut => panic!("an oversized frame must close the socket"),
        }
    }
    ping(&mut visitor);
    assert_eq!(d.get("/healthz").0, 200);
}

#[test]
fn a_visitor_is_rate_limited_with_an_error_frame() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "strict");
    visitor.hello(None);
    // 3 a minute, bursts of 1: the second message at once is refused.
    visitor.say("r-1", "one");
    visitor.send(json!({"type": "message", "client_id": "r-2", "text": "two"}));
    let error = visitor.expect("error");
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(error["client_id"], "r-2");
    assert!(error["retry_after_ms"].as_u64().unwrap() > 0);
    visitor.send(json!({"type": "ping"}));
    visitor.expect("pong");
    let (_, messages) = conversation_with(&d, "one");
    assert!(messages.iter().all(|m| m["text"] != "two"));
}

#[test]
fn explicit_consent_is_required_then_stored_on_the_contact() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "consent");
    let welcome = visitor.hello(None);
    assert_eq!(welcome["consent_required"], true);
    assert_eq!(welcome["branding"]["consent"], "explicit");
    assert_eq!(
        welcome["branding"]["consent_text"],
        "I agree that Example stores this chat."
    );
    visitor.send(json!({"type": "message", "client_id": "c1", "text": "hello?"}));
    let error = visitor.expect("error");
    assert_eq!(error["code"], "consent_required");
    assert_eq!(error["client_id"], "c1");
    let token = welcome["visitor_token"].as_str().unwrap().to_string();

    visitor.send(json!({"type": "consent", "accepted": true}));
    visitor.expect("consent_recorded");
    let ack = visitor.say("c1", "hello?");
    let conversation = ack["conversation"].as_str().unwrap();
    let view = d.get(&format!("/api/v1/conversations/{conversation}")).1;
    let contact_id = view["contact"]["id"].as_str().unwrap();
    let contact = d.get(&format!("/api/v1/contacts/{contact_id}")).1;
    assert_eq!(contact["consent"]["mode"], "explicit", "{contact}");
    assert_eq!(
        contact["consent"]["text"],
        "I agree that Example stores this chat."
    );
    assert_eq!(contact["consent"]["channel"], "consent");
    assert!(contact["consent"]["at"].is_string());
    // Back later: consent is remembered.
    let mut again = Visitor::connect(d.http, "consent");
    assert_eq!(again.hello(Some(&token))["consent_required"], false);
    again.say("c2", "still there?");
}

#[test]
fn office_hours_are_read_in_the_named_time_zone() {
    // A zone where it is not close to midnight now, and today's weekday there.
    let now = jiff::Timestamp::now();
    let zone = ["Asia/Tokyo", "America/New_York"]
        .into_iter()
        .find(|zone| {
            let hour = now.in_tz(zone).unwrap().hour();
            (1..23).contains(&hour)
        })
        .unwrap();
    let today = now.in_tz(zone).unwrap().weekday().to_monday_zero_offset() as usize;
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let open_today = format!(
        "[channels.office_hours]\ntime_zone = \"{zone}\"\n{} = [\"00:00-24:00\"]\n",
        days[today]
    );
    let (_dir, d) = start(&open_today);
    let mut visitor = Visitor::connect(d.http, "web");
    let availability = visitor.hello(None)["availability"].clone();
    assert_eq!(availability["available"], true, "{zone}: {availability}");
    assert_eq!(availability["time_zone"], zone);
    drop(d);

    let closed_today: String = days
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != today)
        .map(|(_, day)| format!("{day} = [\"00:00-24:00\"]\n"))
        .collect();
    let (_dir, d) = start(&format!(
        "away_message = \"Back tomorrow.\"\n[channels.office_hours]\ntime_zone = \"{zone}\"\n{closed_today}"
    ));
    let mut visitor = Visitor::connect(d.http, "web");
    let availability = visitor.hello(None)["availability"].clone();
    assert_eq!(availability["available"], false, "{zone}: {availability}");
    assert_eq!(availability["reason"], "closed");
    assert_eq!(availability["away_message"], "Back tomorrow.");
    assert_eq!(availability["ask_email"], true, "ask_email = when_away");
    // Away is no reason to refuse a message.
    visitor.say("late", "Are you there?");
}

#[test]
fn availability_follows_the_agents_and_is_pushed_when_it_changes() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "staffed");
    let welcome = visitor.hello(None);
    assert_eq!(welcome["availability"]["available"], false);
    assert_eq!(welcome["availability"]["reason"], "nobody_available");
    assert_eq!(
        welcome["availability"]["away_message"],
        "Nobody is here right now."
    );
    let (status, _) = d.put(
        "/api/v1/agents/me/availability",
        &json!({"available": true}),
    );
    assert!(status < 300, "{status}");
    let pushed = visitor.expect("availability");
    assert_eq!(pushed["available"], true);
    d.put(
        "/api/v1/agents/me/availability",
        &json!({"available": false}),
    );
    let pushed = visitor.expect("availability");
    assert_eq!(pushed["available"], false);
}

#[test]
fn agent_replies_typing_and_joining_reach_the_visitor_live() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "web");
    visitor.hello(None);
    let ack = visitor.say("q", "Can I change my delivery address?");
    let conversation = ack["conversation"].as_str().unwrap().to_string();
    visitor.expect_where("message", |f| f["from"] == "bot");

    let (status, _) = d.patch(
        &format!("/api/v1/conversations/{conversation}"),
        &json!({"assignee": "alice"}),
    );
    assert_eq!(status, 200);
    let joined = visitor.expect("agent_joined");
    assert_eq!(joined["agent"]["name"], "Alice Admin");

    let (status, body) = d.post(
        &format!("/api/v1/conversations/{conversation}/typing"),
        &json!({"typing": true}),
    );
    assert_eq!(status, 202, "{body}");
    let typing = visitor.expect("typing");
    assert_eq!(typing["on"], true);
    assert_eq!(typing["agent"]["name"], "Alice Admin");

    let note = d.reply(
        &conversation,
        json!({"text": "internal: check DHL", "private": true}),
    );
    let reply = d.reply(&conversation, json!({"text": "Yes, tell me the new one."}));
    let pushed = visitor.expect("message");
    assert_eq!(pushed["id"], reply["id"], "the note is never pushed");
    assert_eq!(pushed["from"], "agent");
    assert_eq!(pushed["author"], "Alice Admin");
    assert_eq!(pushed["text"], "Yes, tell me the new one.");
    let id = reply["id"].as_str().unwrap();
    d.wait_for_state(&conversation, id, "sent");
    visitor.send(json!({"type": "seen", "message_id": id}));
    d.wait_for_state(&conversation, id, "delivered");
    // Another visitor cannot mark it, and notes never reach history.
    let mut other = Visitor::connect(d.http, "web");
    other.hello(None);
    other.send(json!({"type": "seen", "message_id": note["id"]}));
    assert_eq!(other.expect("error")["code"], "bad_message_id");
    visitor.close();

    // Typing on a non-chat conversation is refused.
    let email = d.customer_mail("t1@example.net", "carol@example.net", "Hi", "Hello");
    let (status, _) = d.post(
        &format!(
            "/api/v1/conversations/{}/typing",
            email["id"].as_str().unwrap()
        ),
        &json!({}),
    );
    assert_eq!(status, 422);
}

#[test]
fn notes_never_appear_in_the_visitors_history() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "web");
    let token = visitor.hello(None)["visitor_token"]
        .as_str()
        .unwrap()
        .to_string();
    let conversation = visitor.say("n", "hello")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    visitor.close();
    d.reply(
        &conversation,
        json!({"text": "secret note", "private": true}),
    );
    d.reply(&conversation, json!({"text": "public answer"}));
    let mut visitor = Visitor::connect(d.http, "web");
    let history = visitor.hello(Some(&token))["history"].clone();
    let texts: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"public answer"), "{texts:?}");
    assert!(!texts.contains(&"secret note"), "{texts:?}");
}

#[test]
fn identity_verification_links_the_visitor_to_the_contact() {
    let (_dir, d) = start("");
    let email = "Ann.Lee@Example.org";
    let hash = switchboard::channels::chat::token::identity_hash(SECRET, email);
    let mut first = Visitor::connect(d.http, "web");
    first.send(json!({"type": "hello", "user_email": email, "user_hash": hash}));
    let welcome = first.expect("welcome");
    assert_eq!(welcome["email"], "ann.lee@example.org");
    let ack = first.say("i1", "Signed-in question");
    let conversation = ack["conversation"].as_str().unwrap();
    let view = d.get(&format!("/api/v1/conversations/{conversation}")).1;
    let contact_id = view["contact"]["id"].as_str().unwrap();
    let contact = d.get(&format!("/api/v1/contacts/{contact_id}")).1;
    assert_eq!(contact["email"], "ann.lee@example.org");

    // Another browser (no token), same signed-in user: same conversation.
    let mut second = Visitor::connect(d.http, "web");
    second.send(json!({"type": "hello", "user_email": email, "user_hash": hash}));
    let welcome = second.expect("welcome");
    assert_eq!(welcome["conversation"], conversation);
    assert_eq!(welcome["history"][0]["text"], "Signed-in question");

    // A wrong hash is said so, and the visitor stays anonymous.
    let mut wrong = Visitor::connect(d.http, "web");
    wrong.send(json!({"type": "hello", "user_email": email, "user_hash": "00ff"}));
    assert_eq!(wrong.expect("error")["code"], "identity_not_verified");
    let welcome = wrong.expect("welcome");
    assert_eq!(welcome["history"], json!([]));
    assert_eq!(welcome["email"], Value::Null);
}

#[test]
fn an_unseen_reply_is_emailed_to_the_address_the_visitor_left() {
    let relay = common::relay::Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let base = common::test_config_with_relay(relay.addr().port());
    let config = chat_config(dir.path(), base, "email_fallback_minutes = 0.01");
    let d = Daemon::start_with_config(dir.path(), &config);
    let mut visitor = Visitor::connect(d.http, "web");
    visitor.hello(None);
    let conversation = visitor.say("e1", "Please call me back")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    visitor.send(json!({"type": "email", "address": "not an address"}));
    assert_eq!(visitor.expect("error")["code"], "bad_email");
    visitor.send(json!({"type": "email", "address": "Visitor@Example.net"}));
    assert_eq!(
        visitor.expect("email_saved")["address"],
        "visitor@example.net"
    );
    visitor.close();
    wait_until_gone(&d, &conversation);
    let view = d.get(&format!("/api/v1/conversations/{conversation}")).1;
    let contact = d
        .get(&format!(
            "/api/v1/contacts/{}",
            view["contact"]["id"].as_str().unwrap()
        ))
        .1;
    assert_eq!(
        contact["email"], "visitor@example.net",
        "the address is on the contact"
    );

    let reply = d.reply(&conversation, json!({"text": "We will call you at 3pm."}));
    let mail = relay.wait_for_text("We will call you at 3pm.", Duration::from_secs(30));
    assert_eq!(mail.rcpt_to, ["visitor@example.net"]);
    assert!(
        mail.header("Subject")
            .unwrap()
            .contains("a reply to your chat"),
        "{:?}",
        mail.header("Subject")
    );
    let sent = d.wait_for_state(&conversation, reply["id"].as_str().unwrap(), "sent");
    assert!(
        sent["status"]["provider_id"]
            .as_str()
            .unwrap()
            .starts_with("email:"),
        "{sent}"
    );
}

#[test]
fn a_stopping_daemon_says_goodbye_to_visitors() {
    let (_dir, d) = start("");
    let mut visitor = Visitor::connect(d.http, "web");
    visitor.hello(None);
    visitor.say("bye", "one last thing");
    common::signal(d.pid(), "TERM");
    assert_eq!(visitor.expect("error")["code"], "going_away");
    match visitor.next(WAIT) {
        Next::Closed(Some((1001, _))) => {}
        other => panic!("expected a 1001 close: {other:?}"),
    }
    assert_eq!(d.wait_exit(), Some(0));
}

#[test]
fn the_widget_is_served_with_a_content_hash() {
    let (_dir, d) = start("");
    let client = common::http();
    let response = client.get(d.url("/widget.js")).send().unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let etag = headers["etag"].to_str().unwrap().to_string();
    let body = response.text().unwrap();
    assert!(body.contains("attachShadow"), "the widget itself");
    let not_modified = client
        .get(d.url("/widget.js"))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    // The config endpoint names the hashed URL, cached for good.
    let config: Value = client
        .get(d.url("/chat/web/config"))
        .header("Origin", ORIGIN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let hashed = config["widget"].as_str().unwrap();
    assert_eq!(format!("\"{}\"", &hashed[8..hashed.len() - 3]), etag);
    let immutable = client.get(d.url(hashed)).send().unwrap();
    assert_eq!(immutable.status(), 200);
    assert_eq!(
        immutable.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(immutable.text().unwrap(), body);
    let stale = client
        .get(d.url("/widget/0000000000000000.js"))
        .send()
        .unwrap();
    assert_eq!(stale.status(), 404);
}

#[test]
fn implied_consent_is_recorded_with_the_first_message() {
    let (_dir, d) = start("consent = \"implied\"\nconsent_text = \"Chats are kept for a year.\"");
    let mut visitor = Visitor::connect(d.http, "web");
    let welcome = visitor.hello(None);
    assert_eq!(welcome["consent_required"], false);
    assert_eq!(welcome["branding"]["consent"], "implied");
    let ack = visitor.say("i", "hello");
    let conversation = ack["conversation"].as_str().unwrap();
    let view = d.get(&format!("/api/v1/conversations/{conversation}")).1;
    let contact = d
        .get(&format!(
            "/api/v1/contacts/{}",
            view["contact"]["id"].as_str().unwrap()
        ))
        .1;
    assert_eq!(contact["consent"]["mode"], "implied", "{contact}");
    assert_eq!(contact["consent"]["text"], "Chats are kept for a year.");
}

#[test]
fn a_conversation_assigned_as_it_starts_tells_the_visitor_who_joined() {
    let (_dir, d) = start(
        "[channels.routing]\nauto_assign = true\nassign_to = \"users_and_teams\"\n\
         users = [\"alice\"]\nonly_available = false\n",
    );
    let mut visitor = Visitor::connect(d.http, "web");
    visitor.hello(None);
    let ack = visitor.say("first", "Hello, anyone?");
    let joined = visitor.expect("agent_joined");
    assert_eq!(joined["agent"]["name"], "Alice Admin");
    let view = d.get(&format!(
        "/api/v1/conversations/{}",
        ack["conversation"].as_str().unwrap()
    ));
    assert_eq!(view.1["assignee"], "alice");
    // Said once: a second message announces nobody.
    visitor.say("second", "Thanks");
    visitor.send(json!({"type": "ping"}));
    let frames: Vec<Value> = std::iter::from_fn(|| match visitor.next(WAIT) {
        Next::Frame(frame) if frame["type"] != "pong" => Some(frame),
        _ => None,
    })
    .collect();
    assert!(
        frames.iter().all(|f| f["type"] != "agent_joined"),
        "{frames:#?}"
    );
}
