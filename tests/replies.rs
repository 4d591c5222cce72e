//! End-to-end: agents answer through the API and the customer gets a proper
//! email through the relay, which threads both ways; the outbox retries while
//! the relay is down (also across a restart) and reports failures; notes
//! never leave; conversations change status and assignee.

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::relay::{Mode, Relay, REJECT_TEXT};
use common::smtp::deliver;
use common::ws::{self, EventSocket};
use common::{eventually, mails, reply_config, test_config_with_relay, Daemon};

const WAIT: Duration = Duration::from_secs(30);
const CAROL: &str = "carol@customer.example";

/// A relay, a daemon sending through it, and one customer conversation.
fn setup(dir: &std::path::Path, relay: &Relay) -> (Daemon, String) {
    let daemon = Daemon::start_with_config(dir, &test_config_with_relay(relay.port));
    let conversation = daemon.customer_mail(
        "cust-1@customer.example",
        CAROL,
        "Order 42 missing",
        "Where is it?",
    );
    (daemon, id(&conversation))
}

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

fn crlf_to_lf(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// The bare Message-ID of a relayed mail.
fn message_id_of(received: &common::relay::Received) -> String {
    received
        .parsed()
        .message_id()
        .expect("the reply has a Message-ID")
        .to_string()
}

#[test]
fn an_api_reply_reaches_the_relay_from_the_team_address_with_threading_headers() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);

    let message = daemon.reply(
        &conversation,
        json!({"text": "We are on it: marker-first-reply.", "private": false}),
    );
    assert_eq!(message["conversation"], conversation.as_str());
    assert_eq!(message["direction"], "outbound");
    assert_eq!(message["private"], false);
    assert_eq!(message["author"], json!({"kind": "agent", "id": "alice"}));
    assert_eq!(message["status"]["state"], "queued", "{message}");
    assert_eq!(message["status"]["attempts"], 0, "{message}");
    assert!(message["status"]["reason"].is_null(), "{message}");
    assert!(message["status"]["updated_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(message["created_at"].as_str().is_some());

    let received = relay.wait_for_text("marker-first-reply", WAIT);
    assert_eq!(received.rcpt_to, [CAROL]);
    let mail = received.parsed();
    let from = mail.from().and_then(|f| f.first()).expect("a From address");
    assert_eq!(from.name(), Some("Alice Admin at Example Inc"));
    assert_eq!(from.address(), Some("support@example.com"));
    let to = mail.to().and_then(|t| t.first()).expect("a To address");
    assert_eq!(to.address(), Some(CAROL));
    assert_eq!(mail.subject(), Some("Re: Order 42 missing"));
    let our_id = message_id_of(&received);
    assert!(our_id.ends_with("@mx.switchboard.test"), "{our_id}");
    assert_eq!(
        mail.in_reply_to().as_text(),
        Some("cust-1@customer.example")
    );
    let references = received.header("References").expect("References");
    assert!(
        references.contains("<cust-1@customer.example>"),
        "{references}"
    );
    let reply_to = mail
        .reply_to()
        .and_then(|r| r.first())
        .and_then(|a| a.address())
        .expect("a Reply-To address")
        .to_string();
    assert!(
        reply_to.starts_with("support+c") && reply_to.ends_with("@example.com"),
        "{reply_to}"
    );
    assert_eq!(
        received.header("Auto-Submitted").as_deref(),
        Some("no"),
        "{}",
        received.data
    );
    let text = crlf_to_lf(&mail.body_text(0).expect("a text part"));
    assert!(text.contains("We are on it: marker-first-reply."), "{text}");
    assert!(text.contains("-- \nAlice Admin (Alice)"), "{text:?}");
    assert!(!received.data.contains("{full_name}"), "{}", received.data);
    assert!(!received.data.contains("{first_name}"), "{}", received.data);

    let sent = daemon.wait_for_state(&conversation, &id(&message), "sent");
    assert_eq!(sent["status"]["attempts"], 1, "{sent}");
    assert!(sent["status"]["reason"].is_null(), "{sent}");
    assert_eq!(sent["private"], false);
    assert_eq!(sent["author"]["id"], "alice");
    let messages = daemon.messages(&conversation);
    let directions: Vec<&str> = messages
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["inbound", "outbound"]);
    assert!(
        messages[0]["status"].is_null(),
        "inbound messages carry no delivery status: {}",
        messages[0]
    );
    let (_, view) = daemon.get(&format!("/api/v1/conversations/{conversation}"));
    assert_eq!(view["message_count"], 2);

    // A second reply keeps one `Re:` and still answers the customer's mail.
    daemon.reply(&conversation, json!({"text": "marker-second-reply"}));
    let second = relay.wait_for_text("marker-second-reply", WAIT);
    let mail = second.parsed();
    assert_eq!(mail.subject(), Some("Re: Order 42 missing"));
    assert_eq!(
        mail.in_reply_to().as_text(),
        Some("cust-1@customer.example")
    );
    assert_ne!(message_id_of(&second), our_id);
}

#[test]
fn reply_subjects_do_not_stack_re() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &test_config_with_relay(relay.port));
    for (n, subject) in ["Re: Contract", "RE: Invoice", "re: Re: Offer"]
        .iter()
        .enumerate()
    {
        let conversation = daemon.customer_mail(
            &format!("stack-{n}@customer.example"),
            CAROL,
            subject,
            "see below",
        );
        let marker = format!("marker-stack-{n}");
        daemon.reply(&id(&conversation), json!({"text": marker}));
        let received = relay.wait_for_text(&marker, WAIT);
        let got = received.parsed().subject().unwrap_or_default().to_string();
        assert!(got.starts_with("Re: "), "{subject:?} -> {got:?}");
        let rest = &got[4..];
        assert!(
            !rest.to_ascii_lowercase().starts_with("re:"),
            "{subject:?} -> {got:?}"
        );
    }
}

#[test]
fn an_html_reply_carries_a_text_and_an_html_part() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);
    daemon.reply(
        &conversation,
        json!({"text": "Hello Carol, marker-html", "html": "<p>Hello <b>Carol</b>, marker-html</p>"}),
    );
    let received = relay.wait_for_text("marker-html", WAIT);
    let mail = received.parsed();
    let text = mail.body_text(0).expect("a text part");
    assert!(text.contains("Hello Carol, marker-html"), "{text}");
    assert!(!text.contains("<b>"), "{text}");
    let html = mail.body_html(0).expect("an HTML part");
    assert!(html.contains("<b>Carol</b>"), "{html}");
    let content_type = received.header("Content-Type").unwrap_or_default();
    assert!(
        content_type
            .to_ascii_lowercase()
            .starts_with("multipart/alternative"),
        "{content_type}"
    );
}

#[test]
fn the_customers_answer_joins_the_conversation_by_in_reply_to_and_by_reply_token() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);
    daemon.reply(&conversation, json!({"text": "marker-thread"}));
    let received = relay.wait_for_text("marker-thread", WAIT);
    let ours = message_id_of(&received);
    let reply_address = received
        .parsed()
        .reply_to()
        .and_then(|r| r.first())
        .and_then(|a| a.address())
        .expect("Reply-To")
        .to_string();

    // The customer's client answers with In-Reply-To our Message-ID.
    let answer = mails::reply(
        "answer-1@customer.example",
        CAROL,
        "Re: Order 42 missing",
        Some(&ours),
        &["cust-1@customer.example", &ours],
    );
    assert_eq!(
        deliver(daemon.smtp, CAROL, &["support@example.com"], &answer).code,
        250
    );
    // A client that drops the threading headers, writing to the Reply-To
    // address under a new subject.
    let bare = format!(
        "From: Carol Customer <{CAROL}>\r\nTo: {reply_address}\r\nSubject: One more thing\r\n\
         Message-ID: <answer-2@customer.example>\r\n\r\nAnd the invoice too.\r\n"
    );
    let code = deliver(daemon.smtp, CAROL, &[&reply_address], &bare).code;
    assert_eq!(code, 250, "RCPT/DATA to {reply_address}");

    let conversations = daemon.all_conversations("");
    assert_eq!(
        conversations.len(),
        1,
        "both answers join the one conversation: {conversations:#?}"
    );
    let messages = daemon.messages(&conversation);
    let summary: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            (
                m["external_id"].as_str().unwrap_or("-").to_string(),
                m["thread_reason"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(messages.len(), 4, "{summary:?}");
    assert_eq!(messages[2]["external_id"], "answer-1@customer.example");
    assert_eq!(messages[2]["thread_reason"], "in_reply_to", "{summary:?}");
    assert_eq!(messages[3]["external_id"], "answer-2@customer.example");
    assert_eq!(messages[3]["thread_reason"], "reply_token", "{summary:?}");

    // The next reply answers the customer's latest mail.
    daemon.reply(&conversation, json!({"text": "marker-after-answers"}));
    let next = relay.wait_for_text("marker-after-answers", WAIT);
    let mail = next.parsed();
    assert_eq!(
        mail.in_reply_to().as_text(),
        Some("answer-2@customer.example")
    );
    let references = next.header("References").unwrap_or_default();
    assert!(
        references.contains("<cust-1@customer.example>"),
        "{references}"
    );
    assert_eq!(mail.subject(), Some("Re: Order 42 missing"));
}

#[test]
fn a_reply_waits_while_the_relay_is_down_and_is_delivered_when_it_returns() {
    let mut relay = Relay::start();
    relay.stop();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(Some(relay.port), 1000));
    let conversation = id(&daemon.customer_mail("down-1@customer.example", CAROL, "Down", "hello"));
    let message = id(&daemon.reply(&conversation, json!({"text": "marker-down"})));
    let retried = eventually("two failed attempts", WAIT, || {
        let m = daemon.message(&conversation, &message);
        if m["status"]["attempts"].as_u64().unwrap_or(0) >= 2 {
            Ok(m)
        } else {
            Err(m["status"].to_string())
        }
    });
    assert_eq!(retried["status"]["state"], "queued", "{retried}");
    assert!(
        retried["status"]["reason"].is_string(),
        "the reason of the last failed attempt is shown: {retried}"
    );

    relay.resume();
    relay.wait_for_text("marker-down", WAIT);
    let sent = daemon.wait_for_state(&conversation, &message, "sent");
    assert!(sent["status"]["attempts"].as_u64().unwrap() >= 3, "{sent}");
    let copies = relay
        .received()
        .iter()
        .filter(|r| r.data.contains("marker-down"))
        .count();
    assert_eq!(copies, 1);
}

#[test]
fn a_deferring_relay_is_retried_until_it_accepts() {
    let relay = Relay::start();
    relay.set_mode(Mode::Defer);
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(Some(relay.port), 1000));
    let conversation =
        id(&daemon.customer_mail("defer-1@customer.example", CAROL, "Deferred", "hello"));
    let message = id(&daemon.reply(&conversation, json!({"text": "marker-defer"})));
    relay.wait_for_mail_commands(2, WAIT);
    assert_eq!(
        daemon.message(&conversation, &message)["status"]["state"],
        "queued",
        "451 is temporary"
    );
    relay.set_mode(Mode::Accept);
    relay.wait_for_text("marker-defer", WAIT);
    let sent = daemon.wait_for_state(&conversation, &message, "sent");
    assert!(sent["status"]["attempts"].as_u64().unwrap() >= 3, "{sent}");
}

#[test]
fn the_outbox_survives_a_restart_while_the_relay_is_down() {
    let mut relay = Relay::start();
    relay.stop();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(Some(relay.port), 1000));
    let conversation =
        id(&daemon.customer_mail("restart-1@customer.example", CAROL, "Restart", "hello"));
    let message = id(&daemon.reply(&conversation, json!({"text": "marker-restart"})));
    eventually("a failed attempt", WAIT, || {
        let m = daemon.message(&conversation, &message);
        if m["status"]["attempts"].as_u64().unwrap_or(0) >= 1 {
            Ok(())
        } else {
            Err(m["status"].to_string())
        }
    });
    let token = daemon.token.clone();
    assert_eq!(daemon.terminate(), Some(0), "SIGTERM exits cleanly");

    let daemon = Daemon::start(dir.path(), token);
    assert_eq!(
        daemon.message(&conversation, &message)["status"]["state"],
        "queued"
    );
    relay.resume();
    relay.wait_for_text("marker-restart", WAIT);
    daemon.wait_for_state(&conversation, &message, "sent");
    let copies = relay
        .received()
        .iter()
        .filter(|r| r.data.contains("marker-restart"))
        .count();
    assert_eq!(copies, 1);
}

#[test]
fn a_permanent_refusal_fails_the_reply_with_the_reason_and_an_event() {
    let relay = Relay::start();
    relay.set_mode(Mode::Reject);
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);
    let mut events = EventSocket::connect(daemon.http, &daemon.token, Some(0));
    let message = id(&daemon.reply(&conversation, json!({"text": "marker-550"})));

    let failed = daemon.wait_for_state(&conversation, &message, "failed");
    let reason = failed["status"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("550") || reason.contains(REJECT_TEXT),
        "the relay's answer is the reason: {failed}"
    );
    assert_eq!(
        failed["status"]["attempts"], 1,
        "a permanent error is not retried: {failed}"
    );
    assert_eq!(relay.mail_commands(), 1);
    assert!(relay.received().is_empty());

    let seen = events.read_until("a failed message.status event", WAIT, |seen| {
        seen.iter()
            .any(|e| ws::kind(e) == "message.status" && ws::status_state(e) == Some("failed"))
    });
    let event = seen
        .iter()
        .find(|e| ws::kind(e) == "message.status" && ws::status_state(e) == Some("failed"))
        .unwrap();
    assert_eq!(event["conversation"], conversation.as_str(), "{event}");
    assert_eq!(event["inbox"], "support", "{event}");
    assert_eq!(ws::message_id(event), Some(message.as_str()), "{event}");
    assert_eq!(event["payload"]["status"]["attempts"], 1, "{event}");
    assert!(
        event["payload"]["status"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("550") || r.contains(REJECT_TEXT)),
        "{event}"
    );
}

#[test]
fn a_relay_down_longer_than_max_attempts_fails_the_reply() {
    let mut relay = Relay::start();
    relay.stop();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);
    let message = id(&daemon.reply(&conversation, json!({"text": "marker-gone"})));
    let failed = daemon.wait_for_state(&conversation, &message, "failed");
    assert_eq!(failed["status"]["attempts"], 4, "{failed}");
    assert!(
        failed["status"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{failed}"
    );
    // Back up: a new reply goes out, the failed one stays failed.
    relay.resume();
    let next = id(&daemon.reply(&conversation, json!({"text": "marker-back"})));
    relay.wait_for_text("marker-back", WAIT);
    daemon.wait_for_state(&conversation, &next, "sent");
    assert_eq!(
        daemon.message(&conversation, &message)["status"]["state"],
        "failed"
    );
    assert!(relay
        .received()
        .iter()
        .all(|r| !r.data.contains("marker-gone")));
}

#[test]
fn a_private_note_never_reaches_the_relay() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);
    let note = daemon.reply(
        &conversation,
        json!({"text": "marker-note: customer is a reseller", "private": true}),
    );
    assert_eq!(note["private"], true);
    assert!(note["status"].is_null(), "{note}");
    assert_eq!(note["author"], json!({"kind": "agent", "id": "alice"}));
    // A reply posted after the note is delivered; the note never is.
    let reply = id(&daemon.reply(&conversation, json!({"text": "marker-public"})));
    relay.wait_for_text("marker-public", WAIT);
    daemon.wait_for_state(&conversation, &reply, "sent");
    let received = relay.received();
    assert_eq!(received.len(), 1);
    assert!(!received[0].data.contains("marker-note"));
    let stored = daemon.message(&conversation, note["id"].as_str().unwrap());
    assert_eq!(stored["private"], true);
    assert!(stored["status"].is_null(), "{stored}");
}

#[test]
fn replies_need_a_relay_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let conversation =
        id(&daemon.customer_mail("norelay@customer.example", CAROL, "No relay", "hi"));
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let (status, body) = daemon.post(&path, &json!({"text": "hello"}));
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
    // Notes need no relay.
    let (status, note) = daemon.post(&path, &json!({"text": "a note", "private": true}));
    assert_eq!(status, 201, "{note}");
    let (status, body) = daemon.post(&path, &json!({"text": "", "private": true}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("text")),
        "{body}"
    );
    let (status, body) = daemon.post(
        "/api/v1/conversations/01JAAAAAAAAAAAAAAAAAAAAAAA/messages",
        &json!({"text": "x", "private": true}),
    );
    assert_eq!(status, 404, "{body}");
    let (status, _) = daemon.send_json_with("POST", &path, None, &json!({"text": "x"}));
    assert_eq!(status, 401);
    assert_eq!(daemon.messages(&conversation).len(), 2);
    // Nor can a new email conversation be started.
    let (status, body) = daemon.post(
        "/api/v1/conversations",
        &json!({"channel": "support-email", "to": "zed@customer.example",
                "subject": "Hello", "text": "Hi"}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(daemon.all_conversations("").len(), 1);
}

#[test]
fn empty_replies_are_refused_naming_the_text_field() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let (daemon, conversation) = setup(dir.path(), &relay);
    let path = format!("/api/v1/conversations/{conversation}/messages");
    for body in [json!({"text": ""}), json!({"text": "   \n "}), json!({})] {
        let (status, answer) = daemon.post(&path, &body);
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["field"], "text", "{body} -> {answer}");
    }
    assert_eq!(daemon.messages(&conversation).len(), 1);
}

#[test]
fn patch_changes_status_and_assignee_and_refuses_illegal_changes() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let conversation = id(&daemon.customer_mail("patch@customer.example", CAROL, "Patch me", "hi"));
    let path = format!("/api/v1/conversations/{conversation}");

    let (status, body) = daemon.patch(&path, &json!({"status": "pending"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["id"], conversation.as_str());
    let (status, body) = daemon.patch(&path, &json!({"assignee": "alice"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignee"], "alice");
    assert_eq!(body["status"], "pending", "status untouched");
    let (_, stored) = daemon.get(&path);
    assert_eq!(
        (stored["status"].as_str(), stored["assignee"].as_str()),
        (Some("pending"), Some("alice"))
    );
    let pending = daemon.all_conversations("&status=pending");
    assert_eq!(pending.len(), 1);

    let (status, body) = daemon.patch(&path, &json!({"assignee": null, "status": "closed"}));
    assert_eq!(status, 200, "{body}");
    assert!(body["assignee"].is_null(), "{body}");
    assert_eq!(body["status"], "closed");

    let (status, body) = daemon.patch(&path, &json!({"assignee": "zoe"}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("assignee")),
        "{body}"
    );
    let (status, body) = daemon.patch(&path, &json!({"status": "sleeping"}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("status")),
        "{body}"
    );
    // Bob cannot work the support inbox; Dora holds no seat.
    let (status, body) = daemon.patch(&path, &json!({"assignee": "bob"}));
    assert_eq!(status, 409, "{body}");
    let (status, body) = daemon.patch(&path, &json!({"assignee": "dora"}));
    assert_eq!(status, 409, "{body}");
    let (_, stored) = daemon.get(&path);
    assert!(
        stored["assignee"].is_null(),
        "refused changes change nothing: {stored}"
    );
    assert_eq!(stored["status"], "closed");

    // Bob cannot see the conversation at all.
    let bob = common::create_token(dir.path(), "bob");
    let (status, _) = daemon.send_json_with("PATCH", &path, Some(&bob), &json!({"status": "open"}));
    assert_eq!(status, 404);
    let (status, _) = daemon.patch(
        "/api/v1/conversations/01JAAAAAAAAAAAAAAAAAAAAAAA",
        &json!({"status": "open"}),
    );
    assert_eq!(status, 404);
}

#[test]
fn a_new_mail_reopens_a_closed_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &reply_config(None, 4));
    let conversation =
        id(&daemon.customer_mail("reopen-1@customer.example", CAROL, "Reopen", "hi"));
    let path = format!("/api/v1/conversations/{conversation}");
    let (status, body) = daemon.patch(&path, &json!({"status": "closed"}));
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("closed")),
        "{body}"
    );
    let again = mails::reply(
        "reopen-2@customer.example",
        CAROL,
        "Re: Reopen",
        Some("reopen-1@customer.example"),
        &["reopen-1@customer.example"],
    );
    assert_eq!(
        deliver(daemon.smtp, CAROL, &["support@example.com"], &again).code,
        250
    );
    let (_, view) = daemon.get(&path);
    assert_eq!(view["status"], "open", "{view}");
    assert_eq!(view["message_count"], 2);
    assert!(daemon.all_conversations("&status=closed").is_empty());
}

#[test]
fn an_outbound_conversation_is_delivered_and_its_answer_threads() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &test_config_with_relay(relay.port));
    let (status, body) = daemon.post(
        "/api/v1/conversations",
        &json!({
            "channel": "support-email",
            "to": "zed@customer.example",
            "name": "Zed Zimmer",
            "subject": "Your quote",
            "text": "Here is your quote: marker-outbound",
        }),
    );
    assert_eq!(status, 201, "{body}");
    let conversation = &body["conversation"];
    let message = &body["message"];
    assert_eq!(conversation["channel"], "support-email");
    assert_eq!(conversation["inbox"], "support");
    assert_eq!(conversation["subject"], "Your quote");
    assert_eq!(conversation["contact"]["email"], "zed@customer.example");
    assert_eq!(conversation["contact"]["name"], "Zed Zimmer");
    assert_eq!(message["direction"], "outbound");
    assert_eq!(message["conversation"], conversation["id"]);
    assert_eq!(message["status"]["state"], "queued");

    let received = relay.wait_for_text("marker-outbound", WAIT);
    assert_eq!(received.rcpt_to, ["zed@customer.example"]);
    let mail = received.parsed();
    assert_eq!(mail.subject(), Some("Your quote"));
    let from = mail.from().and_then(|f| f.first()).unwrap();
    assert_eq!(from.name(), Some("Alice Admin at Example Inc"));
    assert_eq!(from.address(), Some("support@example.com"));
    let to = mail.to().and_then(|t| t.first()).unwrap();
    assert_eq!(to.address(), Some("zed@customer.example"));
    assert!(
        received.header("In-Reply-To").is_none(),
        "{}",
        received.data
    );
    let ours = message_id_of(&received);
    assert!(ours.ends_with("@mx.switchboard.test"), "{ours}");
    let conversation_id = id(conversation);
    daemon.wait_for_state(&conversation_id, &id(message), "sent");

    let answer = mails::reply(
        "zed-answer@customer.example",
        "zed@customer.example",
        "Re: Your quote",
        Some(&ours),
        &[&ours],
    );
    assert_eq!(
        deliver(
            daemon.smtp,
            "zed@customer.example",
            &["support@example.com"],
            &answer
        )
        .code,
        250
    );
    let messages = daemon.messages(&conversation_id);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["thread_reason"], "in_reply_to");

    // Bad requests name the field.
    for (body, field) in [
        (
            json!({"channel": "nope", "to": "a@b.example", "subject": "s", "text": "t"}),
            "channel",
        ),
        (
            json!({"channel": "support-email", "to": "not an address", "subject": "s", "text": "t"}),
            "to",
        ),
        (
            json!({"channel": "support-email", "to": "a@b.example", "subject": "s", "text": ""}),
            "text",
        ),
    ] {
        let (status, answer) = daemon.post("/api/v1/conversations", &body);
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{body} -> {answer}"
        );
    }
}
