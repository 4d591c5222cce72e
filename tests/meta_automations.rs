//! End-to-end: the automations of the Messenger and WhatsApp channels with
//! the real daemon, signed webhooks for the people's messages and a
//! loopback Graph API (`common::graph_send`) receiving the profile call and
//! the sends. The Messenger greeting set at start and again after a SIGHUP
//! that changed it; the instant reply sent once per new contact on both
//! channels; implied consent appended to the instant reply and recorded on
//! the contact; explicit consent asked once, holding the conversation back
//! from agents until the person agrees (by quick reply or postback); and
//! two contacts of one person (Messenger and email) merged.
//!
//! The person's messages carry the current time as the provider's
//! timestamp, so every automated message is inside the 24-hour window.
//! Automations are queued before the webhook is answered, so what the
//! conversation holds after a `200` is final; only the sends are waited
//! for, with deadlines.

mod common;

use std::time::Duration;

use common::graph::{self, post_fb, post_wa, PAGE_ID, PHONE_NUMBER_ID};
use common::graph_send::{GraphSend, Request};
use common::routing::{assignee, Tokens};
use common::{eventually, signal, Daemon};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
const PAGE_TOKEN: &str = "fb-page-token";
const FB_INSTANT: &str = "Thanks for your message! We usually answer within an hour.";
const WA_INSTANT: &str = "Hi! Thanks for writing to us on WhatsApp.";
const CONSENT_TEXT: &str = "We keep this conversation to help you. Reply to agree.";
const AGREE: &str = "SWITCHBOARD_CONSENT_AGREE";

/// A daemon whose `fb-page` and `wa-number` channels call `graph` and carry
/// `messenger` and `whatsapp` (extra channel keys).
fn start(messenger: &str, whatsapp: &str) -> (tempfile::TempDir, GraphSend, Daemon) {
    let graph = GraphSend::start();
    let dir = tempfile::tempdir().unwrap();
    let config = graph::meta_config_with(dir.path(), &graph.base_url(), messenger, whatsapp);
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, graph, daemon)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

/// The person `psid` writes `text` to the Page now, as message `mid`.
fn fb_text(daemon: &Daemon, psid: &str, mid: &str, text: &str) {
    let event = graph::fb_message(psid, mid, text, now_ms() as u64);
    assert_eq!(post_fb(daemon, &graph::fb_page(vec![event])).0, 200);
}

/// The person `psid` taps a quick reply with `payload`.
fn fb_quick_reply(daemon: &Daemon, psid: &str, mid: &str, title: &str, payload: &str) {
    let event = json!({"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms(),
        "message": {"mid": mid, "text": title, "quick_reply": {"payload": payload}}});
    assert_eq!(post_fb(daemon, &graph::fb_page(vec![event])).0, 200);
}

/// The person `wa_id` (digits) writes `text` on WhatsApp now, as `wamid`.
fn wa_text(daemon: &Daemon, wa_id: &str, name: &str, wamid: &str, text: &str) {
    let seconds = (now_ms() / 1000).to_string();
    let mut payload = graph::wa_payload(vec![json!({"from": wa_id, "id": wamid,
        "timestamp": seconds, "type": "text", "text": {"body": text}})]);
    payload["entry"][0]["changes"][0]["value"]["contacts"] =
        json!([{"profile": {"name": name}, "wa_id": wa_id}]);
    assert_eq!(post_wa(daemon, &payload).0, 200);
}

/// The conversation (as `GET /api/v1/conversations/{id}` shows it) holding
/// the message with this provider id.
fn conversation_with(daemon: &Daemon, external_id: &str) -> Value {
    let found = daemon
        .all_conversations("")
        .into_iter()
        .find(|c| {
            daemon
                .messages(id(c))
                .iter()
                .any(|m| m["external_id"] == external_id)
        })
        .unwrap_or_else(|| panic!("no conversation holds {external_id}"));
    daemon.conversation(id(&found))
}

/// The automated messages of a conversation: `(automation name, message)`.
fn automated(daemon: &Daemon, conversation: &str) -> Vec<(String, Value)> {
    daemon
        .messages(conversation)
        .into_iter()
        .filter(|m| m["author"]["kind"] == "automation")
        .map(|m| (m["author"]["name"].as_str().unwrap().to_string(), m))
        .collect()
}

fn names(automated: &[(String, Value)]) -> Vec<&str> {
    automated.iter().map(|(name, _)| name.as_str()).collect()
}

/// Waits until the automated message is sent; returns it.
fn wait_sent(daemon: &Daemon, conversation: &str, message: &Value) -> Value {
    assert_eq!(message["direction"], "outbound", "{message}");
    daemon.wait_for_state(conversation, id(message), "sent")
}

/// The Messenger sends to `psid` so far.
fn sends_to_psid(graph: &GraphSend, psid: &str) -> Vec<Request> {
    graph
        .sends()
        .into_iter()
        .filter(|r| r.body["recipient"]["id"] == psid)
        .collect()
}

/// The WhatsApp sends to `+digits` so far.
fn sends_to_number(graph: &GraphSend, number: &str) -> Vec<Request> {
    graph
        .sends()
        .into_iter()
        .filter(|r| r.body["to"] == number)
        .collect()
}

fn contact(daemon: &Daemon, contact_id: &str) -> Value {
    let (status, body) = daemon.get(&format!("/api/v1/contacts/{contact_id}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn contact_of(conversation: &Value) -> &str {
    conversation["contact"]["id"].as_str().unwrap()
}

/// The calls to the Messenger Profile API so far.
fn profile_calls(graph: &GraphSend) -> Vec<Request> {
    graph
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/me/messenger_profile"))
        .collect()
}

fn greeting_body(text: &str) -> Value {
    json!({"greeting": [{"locale": "default", "text": text}]})
}

#[test]
fn the_greeting_is_set_at_start_and_again_after_a_reload_that_changed_it() {
    let (dir, graph, daemon) = start("greeting = \"Hello! Ask us anything.\"\n", "");
    let first = eventually("the greeting at start", WAIT, || {
        profile_calls(&graph)
            .into_iter()
            .next()
            .ok_or_else(|| format!("{:#?}", graph.requests()))
    });
    assert_eq!(first.method, "POST");
    assert_eq!(
        first.path,
        format!("/{}/me/messenger_profile", graph::VERSION)
    );
    assert_eq!(
        first.authorization.as_deref(),
        Some(format!("Bearer {PAGE_TOKEN}").as_str())
    );
    assert!(
        first
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/json")),
        "{first:?}"
    );
    assert_eq!(first.body, greeting_body("Hello! Ask us anything."));

    let path = dir.path().join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let changed = config.replace("Hello! Ask us anything.", "Welcome back! We answer 9–17.");
    assert_ne!(config, changed);
    std::fs::write(&path, changed).unwrap();
    signal(daemon.pid(), "HUP");
    let second = eventually("the greeting after the reload", WAIT, || {
        profile_calls(&graph)
            .into_iter()
            .find(|r| r.body != greeting_body("Hello! Ask us anything."))
            .ok_or_else(|| format!("{:#?}", profile_calls(&graph)))
    });
    assert_eq!(second.body, greeting_body("Welcome back! We answer 9–17."));
    assert_eq!(
        second.authorization.as_deref(),
        Some(format!("Bearer {PAGE_TOKEN}").as_str())
    );
    assert!(
        graph
            .requests()
            .iter()
            .all(|r| r.path.ends_with("/me/messenger_profile")),
        "only the profile API was called: {:#?}",
        graph.requests()
    );
    assert!(!daemon.log().contains(PAGE_TOKEN), "tokens never logged");
}

#[test]
fn the_instant_reply_goes_once_to_each_new_messenger_contact() {
    let (_dir, graph, daemon) = start(&format!("instant_reply = \"{FB_INSTANT}\"\n"), "");
    fb_text(&daemon, "U1", "mid.u1.1", "Hello, is anyone there?");
    fb_text(&daemon, "U1", "mid.u1.2", "My order is late.");
    let conversation = conversation_with(&daemon, "mid.u1.1");
    assert_eq!(
        id(&conversation_with(&daemon, "mid.u1.2")),
        id(&conversation)
    );
    let replies = automated(&daemon, id(&conversation));
    assert_eq!(names(&replies), ["instant_reply"], "{replies:#?}");
    let reply = &replies[0].1;
    assert_eq!(reply["text"], FB_INSTANT);
    assert_eq!(
        reply["author"],
        json!({"kind": "automation", "name": "instant_reply"})
    );
    let sent = wait_sent(&daemon, id(&conversation), reply);
    assert!(sent["status"]["provider_id"].is_string(), "{sent}");

    let to_u1 = sends_to_psid(&graph, "U1");
    assert_eq!(
        to_u1.len(),
        1,
        "one instant reply for two messages: {to_u1:#?}"
    );
    assert_eq!(to_u1[0].method, "POST");
    assert_eq!(
        to_u1[0].path,
        format!("/{}/{PAGE_ID}/messages", graph::VERSION)
    );
    assert_eq!(
        to_u1[0].authorization.as_deref(),
        Some(format!("Bearer {PAGE_TOKEN}").as_str())
    );
    assert_eq!(
        to_u1[0].body,
        json!({"recipient": {"id": "U1"}, "messaging_type": "RESPONSE",
               "message": {"text": FB_INSTANT}})
    );

    // A second person gets their own, once.
    fb_text(&daemon, "U2", "mid.u2.1", "Hi");
    fb_text(&daemon, "U2", "mid.u2.2", "Hi again");
    let other = conversation_with(&daemon, "mid.u2.1");
    assert_ne!(id(&other), id(&conversation));
    let replies = automated(&daemon, id(&other));
    assert_eq!(names(&replies), ["instant_reply"], "{replies:#?}");
    wait_sent(&daemon, id(&other), &replies[0].1);
    let to_u2 = sends_to_psid(&graph, "U2");
    assert_eq!(to_u2.len(), 1, "{to_u2:#?}");
    assert_eq!(to_u2[0].body["message"]["text"], FB_INSTANT);

    // The first person writing again later still gets nothing more.
    fb_text(&daemon, "U1", "mid.u1.3", "Any news?");
    assert_eq!(
        names(&automated(&daemon, id(&conversation))),
        ["instant_reply"]
    );
    assert_eq!(graph.sends().len(), 2, "{:#?}", graph.sends());

    // A new person's first two messages in one batch: one instant reply.
    let now = now_ms() as u64;
    let batch = graph::fb_page(vec![
        graph::fb_message("U3", "mid.u3.1", "Hello", now),
        graph::fb_message("U3", "mid.u3.2", "Hello again", now + 1),
    ]);
    assert_eq!(post_fb(&daemon, &batch).0, 200);
    let third = conversation_with(&daemon, "mid.u3.1");
    let replies = automated(&daemon, id(&third));
    assert_eq!(names(&replies), ["instant_reply"], "{replies:#?}");
    wait_sent(&daemon, id(&third), &replies[0].1);
    assert_eq!(sends_to_psid(&graph, "U3").len(), 1);
    assert_eq!(graph.sends().len(), 3, "{:#?}", graph.sends());
    assert_eq!(
        contact(&daemon, contact_of(&conversation))["consent"],
        Value::Null,
        "no consent asked on this channel"
    );
}

#[test]
fn the_instant_reply_goes_once_to_each_new_whatsapp_contact() {
    let (_dir, graph, daemon) = start("", &format!("instant_reply = \"{WA_INSTANT}\"\n"));
    wa_text(&daemon, "16505551234", "Sheena Nelson", "wamid.S1", "hello");
    wa_text(
        &daemon,
        "16505551234",
        "Sheena Nelson",
        "wamid.S2",
        "are you there?",
    );
    let conversation = conversation_with(&daemon, "wamid.S1");
    assert_eq!(
        id(&conversation_with(&daemon, "wamid.S2")),
        id(&conversation)
    );
    let replies = automated(&daemon, id(&conversation));
    assert_eq!(names(&replies), ["instant_reply"], "{replies:#?}");
    assert_eq!(replies[0].1["text"], WA_INSTANT);
    wait_sent(&daemon, id(&conversation), &replies[0].1);

    let to_sheena = sends_to_number(&graph, "+16505551234");
    assert_eq!(to_sheena.len(), 1, "{to_sheena:#?}");
    assert_eq!(
        to_sheena[0].path,
        format!("/{}/{PHONE_NUMBER_ID}/messages", graph::VERSION)
    );
    assert_eq!(
        to_sheena[0].authorization.as_deref(),
        Some(format!("Bearer {}", graph::WA_ACCESS_TOKEN).as_str())
    );
    assert_eq!(
        to_sheena[0].body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "+16505551234", "type": "text",
               "text": {"preview_url": false, "body": WA_INSTANT}})
    );

    wa_text(&daemon, "4915112345678", "Jonas", "wamid.J1", "hallo");
    wa_text(&daemon, "4915112345678", "Jonas", "wamid.J2", "noch da?");
    let other = conversation_with(&daemon, "wamid.J1");
    assert_ne!(id(&other), id(&conversation));
    let replies = automated(&daemon, id(&other));
    assert_eq!(names(&replies), ["instant_reply"], "{replies:#?}");
    wait_sent(&daemon, id(&other), &replies[0].1);
    let to_jonas = sends_to_number(&graph, "+4915112345678");
    assert_eq!(to_jonas.len(), 1, "{to_jonas:#?}");
    assert_eq!(to_jonas[0].body["text"]["body"], WA_INSTANT);
    assert_eq!(graph.sends().len(), 2, "{:#?}", graph.sends());
    assert!(
        profile_calls(&graph).is_empty(),
        "no greeting configured, none set"
    );
}

#[test]
fn implied_consent_is_appended_to_the_instant_reply_and_recorded_on_the_contact() {
    let (_dir, graph, daemon) = start(
        &format!(
            "instant_reply = \"{FB_INSTANT}\"\nconsent = \"implied\"\n\
             consent_text = \"{CONSENT_TEXT}\"\n"
        ),
        "",
    );
    fb_text(&daemon, "U1", "mid.i1", "Hello");
    let conversation = conversation_with(&daemon, "mid.i1");
    let replies = automated(&daemon, id(&conversation));
    assert_eq!(names(&replies), ["instant_reply"], "{replies:#?}");
    let text = replies[0].1["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with(FB_INSTANT) && text.ends_with(CONSENT_TEXT),
        "the instant reply, then the consent text: {text:?}"
    );
    wait_sent(&daemon, id(&conversation), &replies[0].1);
    let sends = sends_to_psid(&graph, "U1");
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(sends[0].body["message"]["text"], text.as_str());
    assert!(
        sends[0].body["message"].get("quick_replies").is_none(),
        "implied consent asks nothing: {:?}",
        sends[0].body
    );

    let person = contact(&daemon, contact_of(&conversation));
    let consent = &person["consent"];
    assert_eq!(consent["mode"], "implied", "{person}");
    assert_eq!(consent["text"], CONSENT_TEXT);
    assert_eq!(consent["channel"], "fb-page");
    let at = consent["at"].as_str().expect("consent time");
    assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");

    // Given once: the next message changes nothing.
    fb_text(&daemon, "U1", "mid.i2", "Still there?");
    assert_eq!(
        names(&automated(&daemon, id(&conversation))),
        ["instant_reply"]
    );
    assert_eq!(
        contact(&daemon, contact_of(&conversation))["consent"],
        person["consent"]
    );
    assert_eq!(graph.sends().len(), 1, "{:#?}", graph.sends());
}

/// The Messenger settings of the explicit-consent tests: an instant reply,
/// explicit consent, and routing to Alice when she is available.
fn explicit_consent() -> String {
    format!(
        "instant_reply = \"{FB_INSTANT}\"\nconsent = \"explicit\"\n\
         consent_text = \"{CONSENT_TEXT}\"\n\n\
         [channels.routing]\nauto_assign = true\nusers = [\"alice\"]\n"
    )
}

fn quick_reply_button() -> Value {
    json!([{"content_type": "text", "title": "I agree", "payload": AGREE}])
}

#[test]
fn explicit_consent_is_asked_once_and_routing_waits_until_the_person_agrees() {
    let (_dir, graph, daemon) = start(&explicit_consent(), "");
    let mut tokens = Tokens::new(&daemon);
    daemon.set_available(&tokens.of("alice"), true);
    assert!(daemon.shown_available("alice"));

    fb_text(&daemon, "U1", "mid.e1", "I need help with my invoice");
    let conversation = conversation_with(&daemon, "mid.e1");
    let cid = id(&conversation).to_string();
    assert_eq!(
        assignee(&conversation),
        None,
        "not routed before consent: {conversation}"
    );
    assert_eq!(
        contact(&daemon, contact_of(&conversation))["consent"],
        Value::Null
    );
    let asked = automated(&daemon, &cid);
    assert_eq!(names(&asked), ["consent_request"], "{asked:#?}");
    assert_eq!(asked[0].1["text"], CONSENT_TEXT);
    wait_sent(&daemon, &cid, &asked[0].1);
    let sends = sends_to_psid(&graph, "U1");
    assert_eq!(sends.len(), 1, "{sends:#?}");
    assert_eq!(
        sends[0].body,
        json!({"recipient": {"id": "U1"}, "messaging_type": "RESPONSE",
               "message": {"text": CONSENT_TEXT, "quick_replies": quick_reply_button()}})
    );

    // Writing again before agreeing: stored, still not routed, not re-asked.
    fb_text(&daemon, "U1", "mid.e2", "Hello? Anyone?");
    fb_quick_reply(&daemon, "U1", "mid.e3", "Something else", "NOT_CONSENT");
    let conversation = daemon.conversation(&cid);
    assert_eq!(conversation["message_count"], 4, "{conversation}");
    assert_eq!(assignee(&conversation), None, "{conversation}");
    assert_eq!(names(&automated(&daemon, &cid)), ["consent_request"]);
    assert_eq!(
        contact(&daemon, contact_of(&conversation))["consent"],
        Value::Null
    );
    assert_eq!(sends_to_psid(&graph, "U1").len(), 1);
    assert!(daemon.assigned_to("alice").is_empty());

    // "I agree": consent recorded, conversation routed, instant reply sent.
    fb_quick_reply(&daemon, "U1", "mid.e4", "I agree", AGREE);
    assert_eq!(id(&conversation_with(&daemon, "mid.e4")), cid);
    let conversation = daemon.conversation(&cid);
    assert_eq!(assignee(&conversation), Some("alice"), "{conversation}");
    assert_eq!(daemon.assigned_to("alice"), vec![cid.clone()]);
    let person = contact(&daemon, contact_of(&conversation));
    assert_eq!(person["consent"]["mode"], "explicit", "{person}");
    assert_eq!(person["consent"]["text"], CONSENT_TEXT);
    assert_eq!(person["consent"]["channel"], "fb-page");
    assert!(person["consent"]["at"].is_string(), "{person}");
    let replies = automated(&daemon, &cid);
    assert_eq!(
        names(&replies),
        ["consent_request", "instant_reply"],
        "{replies:#?}"
    );
    assert_eq!(replies[1].1["text"], FB_INSTANT);
    wait_sent(&daemon, &cid, &replies[1].1);
    let sends = sends_to_psid(&graph, "U1");
    assert_eq!(sends.len(), 2, "{sends:#?}");
    assert_eq!(
        sends[1].body,
        json!({"recipient": {"id": "U1"}, "messaging_type": "RESPONSE",
               "message": {"text": FB_INSTANT}})
    );

    // Later messages: nothing automated any more, the assignee kept.
    fb_text(&daemon, "U1", "mid.e5", "Thanks!");
    assert_eq!(
        names(&automated(&daemon, &cid)),
        ["consent_request", "instant_reply"]
    );
    assert_eq!(assignee(&daemon.conversation(&cid)), Some("alice"));
    assert_eq!(
        contact(&daemon, contact_of(&conversation))["consent"],
        person["consent"]
    );

    // Agreeing through a postback button works too.
    fb_text(&daemon, "U2", "mid.p1", "Hi");
    let second = conversation_with(&daemon, "mid.p1");
    assert_eq!(assignee(&second), None);
    assert_eq!(names(&automated(&daemon, id(&second))), ["consent_request"]);
    let postback = json!({"sender": {"id": "U2"}, "recipient": {"id": PAGE_ID}, "timestamp": now_ms(),
        "postback": {"mid": "mid.p2", "title": "I agree", "payload": AGREE}});
    assert_eq!(post_fb(&daemon, &graph::fb_page(vec![postback])).0, 200);
    let second = daemon.conversation(id(&second));
    assert_eq!(assignee(&second), Some("alice"), "{second}");
    assert_eq!(
        contact(&daemon, contact_of(&second))["consent"]["mode"],
        "explicit"
    );
    assert_eq!(
        names(&automated(&daemon, id(&second))),
        ["consent_request", "instant_reply"]
    );
    graph.wait_for_sends(4);
    assert_eq!(sends_to_psid(&graph, "U2").len(), 2);
}

#[test]
fn an_agent_becoming_available_does_not_take_a_conversation_waiting_for_consent() {
    let (_dir, _graph, daemon) = start(&explicit_consent(), "");
    let mut tokens = Tokens::new(&daemon);
    fb_text(&daemon, "U7", "mid.w1", "Hello");
    let conversation = conversation_with(&daemon, "mid.w1");
    let cid = id(&conversation).to_string();
    assert_eq!(assignee(&conversation), None);

    // Alice comes online: waiting conversations are handed to her, but not
    // one whose person has not agreed yet.
    daemon.set_available(&tokens.of("alice"), true);
    let conversation = daemon.conversation(&cid);
    assert_eq!(
        assignee(&conversation),
        None,
        "routed to an agent before the person agreed: {conversation}"
    );

    fb_quick_reply(&daemon, "U7", "mid.w2", "I agree", AGREE);
    assert_eq!(assignee(&daemon.conversation(&cid)), Some("alice"));
}

#[test]
fn several_messages_in_one_batch_before_consent_get_one_consent_request() {
    let (_dir, graph, daemon) = start(&explicit_consent(), "");
    let now = now_ms() as u64;
    // New people's first messages, batched by Meta into one POST (the
    // daemon ingests a batch's messages concurrently): four each from ten
    // people, interleaved.
    let people = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10"];
    let mut events = Vec::new();
    for n in 0..4u64 {
        for psid in people {
            let mid = format!("mid.{psid}.{n}");
            events.push(graph::fb_message(
                psid,
                &mid,
                &format!("message {n}"),
                now + n,
            ));
        }
    }
    assert_eq!(post_fb(&daemon, &graph::fb_page(events)).0, 200);
    for psid in people {
        let conversation = conversation_with(&daemon, &format!("mid.{psid}.0"));
        let asked = automated(&daemon, id(&conversation));
        assert_eq!(names(&asked), ["consent_request"], "{psid}: {asked:#?}");
        assert_eq!(conversation["message_count"], 4 + 1, "{conversation}");
        assert_eq!(assignee(&conversation), None);
        wait_sent(&daemon, id(&conversation), &asked[0].1);
        assert_eq!(sends_to_psid(&graph, psid).len(), 1, "{:#?}", graph.sends());
    }
}

#[test]
fn a_messenger_contact_and_an_email_contact_merge_into_one() {
    let (_dir, _graph, daemon) = start("", "");
    fb_text(
        &daemon,
        "U5",
        "mid.m1",
        "Hi, it's Ann, I wrote you an email too",
    );
    let chat = conversation_with(&daemon, "mid.m1");
    let mail = daemon.customer_mail(
        "ann-1@customer.example",
        "ann@customer.example",
        "Invoice 42",
        "Please resend my invoice.",
    );
    let (by_chat, by_mail) = (contact_of(&chat).to_string(), contact_of(&mail).to_string());
    assert_ne!(by_chat, by_mail, "two contacts before the merge");
    assert_eq!(contact(&daemon, &by_mail)["email"], "ann@customer.example");

    let merge = |keep: &str, other: &str| {
        daemon.post(
            &format!("/api/v1/contacts/{keep}/merge"),
            &json!({ "other": other }),
        )
    };
    // Refusals first: nothing changes.
    assert_eq!(merge(&by_mail, &by_mail).0, 400, "into itself");
    let unknown = "01J00000000000000000000000";
    assert_eq!(merge(&by_mail, unknown).0, 404);
    assert_eq!(merge(unknown, &by_chat).0, 404);
    let (status, body) = daemon.post(&format!("/api/v1/contacts/{by_mail}/merge"), &json!({}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(contact(&daemon, &by_chat)["id"], by_chat.as_str());

    let (status, kept) = merge(&by_mail, &by_chat);
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["id"], by_mail.as_str());
    assert_eq!(kept["email"], "ann@customer.example");
    assert_eq!(contact(&daemon, &by_mail)["email"], "ann@customer.example");
    let (status, body) = daemon.get(&format!("/api/v1/contacts/{by_chat}"));
    assert_eq!(status, 404, "the merged-in contact is gone: {body}");

    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 2);
    for conversation in &conversations {
        assert_eq!(
            conversation["contact"]["id"],
            by_mail.as_str(),
            "{conversation}"
        );
        assert_eq!(
            daemon.conversation(id(conversation))["contact"]["id"],
            by_mail.as_str()
        );
    }
    let mut channels: Vec<&str> = conversations
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(channels, ["fb-page", "support-email"]);
    let (status, found) = daemon.get("/api/v1/contacts?q=ann%40customer.example");
    assert_eq!(status, 200, "{found}");
    let found: Vec<&str> = found["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [by_mail.as_str()]);

    // The person writing again on Messenger is the merged contact.
    fb_text(&daemon, "U5", "mid.m2", "Did you get my email?");
    let again = conversation_with(&daemon, "mid.m2");
    assert_eq!(contact_of(&again), by_mail);
    assert_eq!(
        id(&again),
        id(&chat),
        "the Messenger conversation continues"
    );
    // Merging again: the other contact no longer exists.
    assert_eq!(merge(&by_mail, &by_chat).0, 404);
}
