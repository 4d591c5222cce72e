//! Replies on Messenger and WhatsApp end to end: the real daemon, signed
//! webhooks for the person's messages (their provider timestamps set the
//! windows, nothing sleeps), agents replying through the API, and a
//! loopback Graph API receiving the sends or answering the documented
//! errors. Covers each window rule at its boundary (23h59m, 24h01m, 6d23h,
//! 7d01m), WhatsApp templates, `reply_window` in the conversation, token
//! errors making a channel unhealthy, and throttling retried.

mod common;

use std::time::Duration;

use common::graph_send::{GraphSend, Reply};
use common::{create_token, eventually, Daemon};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const MINUTE: i64 = 60 * 1000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

const APP_SECRET: &str = "outbound-app-secret";
const TAG_PAGE: &str = "3001";
const PLAIN_PAGE: &str = "3002";
const PHONE_NUMBER_ID: &str = "5550100";
const TAG_TOKEN: &str = "page-token-tag-7f3a";
const PLAIN_TOKEN: &str = "page-token-plain-9c1e";
const WA_TOKEN: &str = "wa-token-4d2b";

/// Two Pages (one allowed to use the HUMAN_AGENT tag) and a WhatsApp number
/// in the `social` inbox, email in `support` and `sales`; a fast outbox.
fn config(graph: &str) -> String {
    format!(
        r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "mx.switchboard.test"

[http]
listen = "127.0.0.1:0"

[outbox]
max_attempts = 5
initial_backoff_ms = 100
max_backoff_ms = 400

[[teams]]
id = "support"
name = "Support"

[[teams]]
id = "sales"
name = "Sales"

[[agents]]
id = "alice"
name = "Alice Admin"
email = "alice@example.com"
role = "admin"
teams = ["support"]

[[agents]]
id = "bob"
name = "Bob Seller"
email = "bob@example.com"
role = "agent"
teams = ["sales"]

[[inboxes]]
id = "social"
name = "Social"
teams = ["support"]

[[inboxes]]
id = "support"
name = "Support"
teams = ["support"]

[[inboxes]]
id = "sales"
name = "Sales"
teams = ["sales"]

[[channels]]
id = "fb-tag"
inbox = "social"
kind = "messenger"
page_id = "{TAG_PAGE}"
app_id = "4001"
app_secret_file = "app_secret"
verify_token = "verify-tag"
page_token_file = "page_token_tag"
human_agent_tag = true
graph_base_url = "{graph}"
api_version = "v21.0"

[[channels]]
id = "fb-plain"
inbox = "social"
kind = "messenger"
page_id = "{PLAIN_PAGE}"
app_id = "4001"
app_secret_file = "app_secret"
verify_token = "verify-plain"
page_token_file = "page_token_plain"
graph_base_url = "{graph}"
api_version = "v21.0"

[[channels]]
id = "wa"
inbox = "social"
kind = "whatsapp"
phone_number_id = "{PHONE_NUMBER_ID}"
app_secret_file = "app_secret"
verify_token = "verify-wa"
access_token_file = "wa_token"
graph_base_url = "{graph}"
api_version = "v21.0"

[[channels]]
id = "support-email"
inbox = "support"
kind = "email"
address = "support@example.com"

[[channels]]
id = "sales-email"
inbox = "sales"
kind = "email"
address = "sales@example.com"
"#
    )
}

fn start() -> (tempfile::TempDir, GraphSend, Daemon) {
    let graph = GraphSend::start();
    let dir = tempfile::tempdir().unwrap();
    for (file, secret) in [
        ("app_secret", APP_SECRET),
        ("page_token_tag", TAG_TOKEN),
        ("page_token_plain", PLAIN_TOKEN),
        ("wa_token", WA_TOKEN),
    ] {
        std::fs::write(dir.path().join(file), format!("{secret}\n")).unwrap();
    }
    let daemon = Daemon::start_with_config(dir.path(), &config(&graph.base_url()));
    (dir, graph, daemon)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn rfc3339(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .unwrap()
        .to_string()
}

/// POSTs a webhook signed with the app secret as Meta does: `sha256=` and
/// the hex HMAC-SHA256 of the raw body.
fn post_webhook(daemon: &Daemon, channel: &str, payload: &Value) {
    let body = payload.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let response = common::http()
        .post(daemon.url(&format!("/webhooks/{channel}")))
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .body(body)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        status,
        200,
        "webhook: {}",
        response.text().unwrap_or_default()
    );
}

/// The person `psid` writes to `page` at `timestamp` (ms, the provider's
/// time); returns the conversation it landed in.
fn messenger_message(
    daemon: &Daemon,
    channel: &str,
    page: &str,
    psid: &str,
    timestamp: i64,
) -> Value {
    let mid = format!("mid.{psid}.{timestamp}");
    let payload = json!({"object": "page", "entry": [{"id": page, "time": timestamp, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page}, "timestamp": timestamp,
        "message": {"mid": mid, "text": format!("hello from {psid}")}}]}]});
    post_webhook(daemon, channel, &payload);
    conversation_with(daemon, &mid)
}

/// The person with WhatsApp id `wa_id` writes at `timestamp` (ms; sent as
/// the documented string of seconds); returns the conversation.
fn whatsapp_message(daemon: &Daemon, wa_id: &str, timestamp: i64) -> Value {
    let wamid = format!("wamid.{wa_id}.{timestamp}");
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": "9009", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": (timestamp / 1000).to_string(),
                          "type": "text", "text": {"body": "hi there"}}]}}]}]});
    post_webhook(daemon, "wa", &payload);
    conversation_with(daemon, &wamid)
}

fn conversation_with(daemon: &Daemon, external_id: &str) -> Value {
    let found = daemon.all_conversations("").into_iter().find(|c| {
        daemon
            .messages(c["id"].as_str().unwrap())
            .iter()
            .any(|m| m["external_id"] == external_id)
    });
    let found = found.unwrap_or_else(|| panic!("no conversation holds {external_id}"));
    let (status, body) = daemon.get(&format!(
        "/api/v1/conversations/{}",
        found["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200, "{body}");
    body
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

/// POSTs a reply; returns status and body.
fn try_reply(daemon: &Daemon, conversation: &Value, body: Value) -> (u16, Value) {
    daemon.post(
        &format!("/api/v1/conversations/{}/messages", id(conversation)),
        &body,
    )
}

fn assert_window(conversation: &Value, kind: &str, ends_at: i64) {
    assert_eq!(
        conversation["reply_window"],
        json!({"kind": kind, "ends_at": rfc3339(ends_at)}),
        "{conversation:#}"
    );
}

#[test]
fn a_messenger_reply_inside_the_day_reaches_the_send_api_and_becomes_sent() {
    let (_dir, graph, daemon) = start();
    let written = now_ms() - (23 * HOUR + 59 * MINUTE);
    let conversation = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U100", written);
    assert_window(&conversation, "standard", written + DAY);

    let message = daemon.reply(id(&conversation), json!({"text": "Hello from Alice"}));
    let sends = graph.wait_for_sends(1);
    let send = &sends[0];
    assert_eq!(send.method, "POST");
    assert_eq!(send.path, format!("/v21.0/{PLAIN_PAGE}/messages"));
    assert_eq!(
        send.authorization.as_deref(),
        Some(format!("Bearer {PLAIN_TOKEN}").as_str())
    );
    assert_eq!(send.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        send.body,
        json!({"recipient": {"id": "U100"}, "messaging_type": "RESPONSE",
               "message": {"text": "Hello from Alice"}})
    );
    let sent = daemon.wait_for_state(id(&conversation), id(&message), "sent");
    assert_eq!(sent["status"]["provider_id"], "m_FAKE1");
    assert_eq!(sent["status"]["attempts"], 1);
    assert!(
        !daemon.log().contains(PLAIN_TOKEN),
        "the page token must never be logged"
    );
}

#[test]
fn each_messenger_window_rule_holds_at_its_boundary() {
    let (_dir, graph, daemon) = start();
    let now = now_ms();

    // 24h01m with the HUMAN_AGENT tag allowed: tagged.
    let written = now - (DAY + MINUTE);
    let tagged = messenger_message(&daemon, "fb-tag", TAG_PAGE, "U201", written);
    assert_window(&tagged, "human_agent", written + 7 * DAY);
    let reply = daemon.reply(id(&tagged), json!({"text": "Sorry for the wait"}));
    let sends = graph.wait_for_sends(1);
    assert_eq!(sends[0].path, format!("/v21.0/{TAG_PAGE}/messages"));
    assert_eq!(
        sends[0].authorization.as_deref(),
        Some(format!("Bearer {TAG_TOKEN}").as_str())
    );
    assert_eq!(
        sends[0].body,
        json!({"recipient": {"id": "U201"}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
               "message": {"text": "Sorry for the wait"}})
    );
    daemon.wait_for_state(id(&tagged), id(&reply), "sent");

    // 24h01m without it: refused, with when the day ended.
    let written = now - (DAY + MINUTE);
    let plain = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U202", written);
    assert_window(&plain, "closed", written + DAY);
    let (status, body) = try_reply(&daemon, &plain, json!({"text": "Still there?"}));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "cannot_send");
    assert_eq!(body["ends_at"], rfc3339(written + DAY));
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("human_agent_tag"), "{message}");
    assert!(message.contains(&rfc3339(written + DAY)), "{message}");
    assert_eq!(body["reply_window"]["kind"], "closed");

    // 6d23h with the tag: still tagged.
    let written = now - (6 * DAY + 23 * HOUR);
    let late = messenger_message(&daemon, "fb-tag", TAG_PAGE, "U203", written);
    assert_window(&late, "human_agent", written + 7 * DAY);
    let reply = daemon.reply(id(&late), json!({"text": "Here is your answer"}));
    let sends = graph.wait_for_sends(2);
    assert_eq!(sends[1].body["recipient"]["id"], "U203");
    assert_eq!(sends[1].body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(sends[1].body["tag"], "HUMAN_AGENT");
    daemon.wait_for_state(id(&late), id(&reply), "sent");

    // 7d01m: refused even with the tag.
    let written = now - (7 * DAY + MINUTE);
    let gone = messenger_message(&daemon, "fb-tag", TAG_PAGE, "U204", written);
    assert_window(&gone, "closed", written + 7 * DAY);
    let (status, body) = try_reply(&daemon, &gone, json!({"text": "Hello?"}));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["ends_at"], rfc3339(written + 7 * DAY));
    assert!(
        body["message"].as_str().unwrap().contains("7-day"),
        "{body}"
    );

    // Notes are never sent, so no window applies to them.
    let (status, body) = try_reply(
        &daemon,
        &gone,
        json!({"text": "call them", "private": true}),
    );
    assert_eq!(status, 201, "{body}");

    // 23h59m on the Page without the tag: a plain RESPONSE.
    let written = now - (23 * HOUR + 59 * MINUTE);
    let fresh = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U205", written);
    let reply = daemon.reply(id(&fresh), json!({"text": "Right away"}));
    let sends = graph.wait_for_sends(3);
    assert_eq!(sends[2].body["messaging_type"], "RESPONSE");
    assert!(sends[2].body.get("tag").is_none());
    daemon.wait_for_state(id(&fresh), id(&reply), "sent");

    // The refused replies never reached the provider.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(graph.sends().len(), 3);
    // A person who writes again opens a new day.
    let again = messenger_message(&daemon, "fb-tag", TAG_PAGE, "U204", now_ms() - MINUTE);
    assert_eq!(id(&again), id(&gone), "the same conversation continues");
    assert_eq!(again["reply_window"]["kind"], "standard");
}

#[test]
fn whatsapp_outside_the_day_takes_only_a_template() {
    let (_dir, graph, daemon) = start();
    let now = now_ms();

    // 23h59m: free text, in the documented shape.
    let written = now - (23 * HOUR + 59 * MINUTE);
    let inside = whatsapp_message(&daemon, "16505551234", written);
    // The provider's timestamp is in seconds.
    let written_s = written / 1000 * 1000;
    assert_window(&inside, "standard", written_s + DAY);
    let reply = daemon.reply(id(&inside), json!({"text": "Hi Sheena"}));
    let sends = graph.wait_for_sends(1);
    assert_eq!(sends[0].path, format!("/v21.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(
        sends[0].authorization.as_deref(),
        Some(format!("Bearer {WA_TOKEN}").as_str())
    );
    assert_eq!(
        sends[0].body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "+16505551234", "type": "text",
               "text": {"preview_url": false, "body": "Hi Sheena"}})
    );
    let sent = daemon.wait_for_state(id(&inside), id(&reply), "sent");
    assert_eq!(sent["status"]["provider_id"], "wamid.FAKE1");

    // 24h01m: free text refused, a template accepted and sent.
    let written = now - (DAY + MINUTE);
    let outside = whatsapp_message(&daemon, "4915112345678", written);
    let written_s = written / 1000 * 1000;
    assert_window(&outside, "template_only", written_s + DAY);
    let (status, body) = try_reply(&daemon, &outside, json!({"text": "Are you there?"}));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["ends_at"], rfc3339(written_s + DAY));
    assert!(
        body["message"].as_str().unwrap().contains("template"),
        "{body}"
    );

    let template =
        json!({"name": "order_update_v1", "language": "en_US", "params": ["Alex", "#1042"]});
    let (status, message) = try_reply(&daemon, &outside, json!({"template": template}));
    assert_eq!(status, 201, "{message}");
    assert_eq!(message["template"], template);
    let sends = graph.wait_for_sends(2);
    assert_eq!(
        sends[1].body,
        json!({"messaging_product": "whatsapp", "to": "+4915112345678", "type": "template",
               "template": {"name": "order_update_v1", "language": {"code": "en_US"},
                            "components": [{"type": "body", "parameters": [
                                {"type": "text", "text": "Alex"},
                                {"type": "text", "text": "#1042"}]}]}})
    );
    let sent = daemon.wait_for_state(id(&outside), id(&message), "sent");
    assert_eq!(sent["status"]["provider_id"], "wamid.FAKE2");
    assert!(
        sent["text"].as_str().unwrap().contains("order_update_v1"),
        "{sent}"
    );

    // Bad templates and templates elsewhere are 400s naming the field.
    let (status, body) = try_reply(
        &daemon,
        &outside,
        json!({"template": {"name": "", "language": "en_US"}}),
    );
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("template.name")),
        "{body}"
    );
    let (status, body) = try_reply(&daemon, &outside, json!({"template": {"name": "x"}}));
    assert_eq!(status, 400, "{body}");
    let fb = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U300", now_ms() - HOUR);
    let (status, body) = try_reply(&daemon, &fb, json!({"template": template}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("template")),
        "{body}"
    );
    // Over Messenger's 2000 characters: a 400 on the text, nothing sent.
    let (status, body) = try_reply(&daemon, &fb, json!({"text": "x".repeat(2001)}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("text")),
        "{body}"
    );
    assert_eq!(graph.sends().len(), 2);
}

#[test]
fn reply_window_is_null_for_email_conversations() {
    let (_dir, _graph, daemon) = start();
    let conversation = daemon.customer_mail(
        "window-1@customer.example",
        "carol@customer.example",
        "Invoice",
        "Hello",
    );
    let (status, body) = daemon.get(&format!("/api/v1/conversations/{}", id(&conversation)));
    assert_eq!(status, 200);
    assert!(
        body.get("reply_window").is_some_and(Value::is_null),
        "{body}"
    );
    let messaging = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U400", now_ms() - HOUR);
    let listed = daemon.all_conversations("&inbox=social");
    let shown = listed.iter().find(|c| c["id"] == messaging["id"]).unwrap();
    assert_eq!(shown["reply_window"]["kind"], "standard", "{shown}");
}

#[test]
fn an_invalid_token_fails_the_message_and_marks_the_channel_unhealthy() {
    let (dir, graph, daemon) = start();
    let conversation = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U500", now_ms() - HOUR);
    let (status, channels) = daemon.get("/api/v1/channels");
    assert_eq!(status, 200, "{channels}");
    assert!(
        channels
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["healthy"] == true),
        "{channels}"
    );

    graph.script([Reply::error(
        190,
        Some(460),
        "Error validating access token: The session has been invalidated because the user changed their password.",
    )]);
    let message = daemon.reply(id(&conversation), json!({"text": "Hello"}));
    let failed = daemon.wait_for_state(id(&conversation), id(&message), "failed");
    let reason = failed["status"]["reason"].as_str().unwrap();
    assert!(reason.contains("Error validating access token"), "{reason}");
    assert!(reason.contains("190"), "{reason}");
    assert_eq!(
        failed["status"]["attempts"], 1,
        "a token error is not retried"
    );

    let (status, channels) = daemon.get("/api/v1/channels");
    assert_eq!(status, 200);
    let list = channels.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["fb-tag", "fb-plain", "wa", "support-email", "sales-email"]
    );
    let plain = &list[1];
    assert_eq!(plain["kind"], "messenger");
    assert_eq!(plain["inbox"], "social");
    assert_eq!(plain["healthy"], false, "{plain}");
    let problem = plain["problem"]["reason"].as_str().unwrap();
    assert!(problem.contains("access token"), "{problem}");
    assert!(
        plain["problem"]["at"].as_str().unwrap().ends_with('Z'),
        "{plain}"
    );
    for other in [&list[0], &list[2], &list[3]] {
        assert_eq!(other["healthy"], true, "{other}");
        assert!(other.get("problem").is_none(), "{other}");
    }
    let log = daemon.log();
    assert!(log.contains("channel unhealthy"), "{log}");
    assert!(!log.contains(PLAIN_TOKEN), "the token must never be logged");

    // An agent sees only the channels of inboxes they can work.
    let bob = create_token(dir.path(), "bob");
    let (status, visible) = daemon.get_with("/api/v1/channels", Some(&bob));
    assert_eq!(status, 200);
    assert_eq!(
        visible,
        json!([{"id": "sales-email", "kind": "email", "inbox": "sales", "healthy": true}])
    );
    let (status, _) = daemon.get_with("/api/v1/channels", None);
    assert_eq!(status, 401);

    // Once the token works again, the next send marks the channel healthy.
    let message = daemon.reply(id(&conversation), json!({"text": "Hello again"}));
    daemon.wait_for_state(id(&conversation), id(&message), "sent");
    let (_, channels) = daemon.get("/api/v1/channels");
    assert_eq!(channels[1]["healthy"], true, "{channels}");
    assert!(channels[1].get("problem").is_none(), "{channels}");
}

#[test]
fn throttling_is_retried_and_window_errors_fail_with_the_provider_reason() {
    let (_dir, graph, daemon) = start();
    let conversation = messenger_message(&daemon, "fb-tag", TAG_PAGE, "U600", now_ms() - HOUR);

    // 613 twice, then delivered.
    graph.script([
        Reply::error(
            613,
            None,
            "(#613) Calls to this api have exceeded the rate limit.",
        ),
        Reply::error(
            613,
            None,
            "(#613) Calls to this api have exceeded the rate limit.",
        ),
    ]);
    let message = daemon.reply(id(&conversation), json!({"text": "First"}));
    let sent = daemon.wait_for_state(id(&conversation), id(&message), "sent");
    assert_eq!(sent["status"]["attempts"], 3, "{sent}");
    assert_eq!(sent["status"]["provider_id"], "m_FAKE1");
    let sends = graph.wait_for_sends(3);
    assert!(
        sends.iter().all(|s| s.body == sends[0].body),
        "the same message each time"
    );

    // 429 with Retry-After: 1 waits that second, not the 100 ms backoff.
    graph.script([Reply::too_many_requests(1)]);
    let message = daemon.reply(id(&conversation), json!({"text": "Second"}));
    daemon.wait_for_state(id(&conversation), id(&message), "sent");
    let sends = graph.wait_for_sends(5);
    let waited = sends[4].at.duration_since(sends[3].at);
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );

    // A window error (10/2018278) fails at once with Meta's message.
    graph.script([Reply::error(
        10,
        Some(2018278),
        "(#10) This message is sent outside of allowed window.",
    )]);
    let message = daemon.reply(id(&conversation), json!({"text": "Third"}));
    let failed = daemon.wait_for_state(id(&conversation), id(&message), "failed");
    assert_eq!(failed["status"]["attempts"], 1);
    let reason = failed["status"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("(#10) This message is sent outside of allowed window."),
        "{reason}"
    );

    // A person who cannot be reached (551) fails too; the channel stays healthy.
    graph.script([Reply::error(
        551,
        None,
        "This person isn't available right now.",
    )]);
    let message = daemon.reply(id(&conversation), json!({"text": "Fourth"}));
    let failed = daemon.wait_for_state(id(&conversation), id(&message), "failed");
    assert!(failed["status"]["reason"]
        .as_str()
        .unwrap()
        .contains("isn't available"));
    let (_, channels) = daemon.get("/api/v1/channels");
    assert!(
        channels
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["healthy"] == true),
        "{channels}"
    );

    // WhatsApp's re-engagement error (131047) fails with its details.
    let wa = whatsapp_message(&daemon, "16505559999", now_ms() - HOUR);
    graph.script([Reply::error(
        131047,
        None,
        "(#131047) Re-engagement message",
    )]);
    let message = daemon.reply(id(&wa), json!({"text": "Hello"}));
    let failed = daemon.wait_for_state(id(&wa), id(&message), "failed");
    assert!(
        failed["status"]["reason"]
            .as_str()
            .unwrap()
            .contains("Re-engagement"),
        "{failed}"
    );
}

#[test]
fn a_provider_that_is_down_is_retried_until_it_answers() {
    let (_dir, graph, daemon) = start();
    let conversation = messenger_message(&daemon, "fb-plain", PLAIN_PAGE, "U700", now_ms() - HOUR);
    graph.script([Reply::Error {
        status: 503,
        code: 2,
        subcode: None,
        message: "Service temporarily unavailable".into(),
        retry_after: None,
    }]);
    let message = daemon.reply(id(&conversation), json!({"text": "Hello"}));
    let sent = daemon.wait_for_state(id(&conversation), id(&message), "sent");
    assert_eq!(sent["status"]["attempts"], 2);
    eventually("two sends", Duration::from_secs(5), || {
        let n = graph.sends().len();
        if n == 2 {
            Ok(())
        } else {
            Err(n.to_string())
        }
    });
}
