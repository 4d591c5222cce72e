//! Calls channels end to end (PROTOCOLS.md 4): the real daemon behind a
//! "reverse proxy" (signatures are computed over the configured
//! `public_url`, with each callback's exact query), voice webhooks signed
//! as the provider signs them, the TwiML answered parsed element by
//! element, one call item updated in place through every callback (in any
//! order, replayed), the voicemail fetched from a loopback provider into
//! the store, and one contact and one conversation for a person's texts
//! and calls on the same number.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::twilio::{self, FakeTwilio, AUDIO};
use common::ws::{self, EventSocket};
use common::{eventually, Daemon};
use quick_xml::events::Event as XmlEvent;
use serde_json::{json, Value};

const ACCOUNT_SID: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const AUTH_TOKEN: &str = "voice-auth-token-77e1";
const NUMBER: &str = "+15005550006";
const PUBLIC_URL: &str = "https://help.example.com/webhooks/phone";
const SMS_URL: &str = "https://help.example.com/webhooks/sms";
const CALLER: &str = "+14155550123";
const AGENT_PHONE: &str = "+14155550101";
const AGENT_SIP: &str = "sip:bob@pbx.example.com";

fn config(api: &str) -> String {
    let head = twilio::CONFIG_HEAD;
    format!(
        r#"{head}
[[agents]]
id = "bob"
name = "Bob Agent"
email = "bob@example.com"
role = "agent"

[[inboxes]]
id = "phones"
name = "Phones"

[[channels]]
id = "sms"
inbox = "phones"
kind = "sms"
account_sid = "{ACCOUNT_SID}"
auth_token_file = "auth_token"
from = "{NUMBER}"
public_url = "{SMS_URL}"
api_base_url = "{api}"

[[channels]]
id = "phone"
inbox = "phones"
kind = "calls"
account_sid = "{ACCOUNT_SID}"
auth_token_file = "auth_token"
from = "{NUMBER}"
public_url = "{PUBLIC_URL}"
api_base_url = "{api}"
# The fake provider serves the recordings on loopback.
allow_private_targets = true
agent_numbers = ["{AGENT_PHONE}", "{AGENT_SIP}"]
dial_timeout_secs = 25
routing = {{ auto_assign = true, users = ["bob"], only_available = false }}

[channels.voicemail]
greeting = "Thanks for calling Example & Co. Please leave a message."
max_length_secs = 90
"#
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    fake: FakeTwilio,
    daemon: Daemon,
}

fn start() -> Setup {
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth_token"), format!("{AUTH_TOKEN}\n")).unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &config(&fake.base_url()));
    Setup {
        _dir: dir,
        fake,
        daemon,
    }
}

/// One XML element of a TwiML answer.
#[derive(Debug, Clone, PartialEq)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("<{}> has no {name}: {self:#?}", self.name))
    }

    fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }
}

/// Parses a TwiML document into its root element (`<Response>`).
fn parse_twiml(xml: &str) -> Element {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let element = |start: &quick_xml::events::BytesStart| Element {
        name: String::from_utf8(start.name().as_ref().to_vec()).unwrap(),
        attrs: start
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().unwrap().into_owned(),
                )
            })
            .collect(),
        text: String::new(),
        children: Vec::new(),
    };
    loop {
        match reader.read_event().unwrap() {
            XmlEvent::Start(start) => stack.push(element(&start)),
            XmlEvent::Empty(start) => {
                let done = element(&start);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return done,
                }
            }
            XmlEvent::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.unescape().unwrap());
                }
            }
            XmlEvent::End(_) => {
                let done = stack.pop().unwrap();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return done,
                }
            }
            XmlEvent::Eof => panic!("TwiML ended early: {xml}"),
            _ => {}
        }
    }
}

/// POSTs a voice webhook to the channel's URL with `query`, signed as the
/// provider signs it; returns the answer.
fn voice(daemon: &Daemon, query: &str, params: &[(&str, &str)]) -> twilio::Answer {
    let (path, signed) = if query.is_empty() {
        ("/webhooks/phone".to_string(), PUBLIC_URL.to_string())
    } else {
        (
            format!("/webhooks/phone?{query}"),
            format!("{PUBLIC_URL}?{query}"),
        )
    };
    twilio::post_signed(daemon, &path, &signed, AUTH_TOKEN, params)
}

/// Like `voice`, and the answer must be `200` TwiML; returns its root.
fn voice_ok(daemon: &Daemon, query: &str, params: &[(&str, &str)]) -> Element {
    let answer = voice(daemon, query, params);
    assert_eq!(answer.status, 200, "{query}: {answer:?}");
    assert_eq!(answer.content_type.as_deref(), Some("text/xml"));
    let root = parse_twiml(&answer.body);
    assert_eq!(root.name, "Response", "{}", answer.body);
    root
}

fn call_params<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("CallStatus", status),
        ("Called", NUMBER),
        ("Caller", CALLER),
        ("Direction", "inbound"),
        ("From", CALLER),
        ("FromCountry", "US"),
        ("To", NUMBER),
        ("ToCountry", "US"),
    ]
}

fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    params.extend_from_slice(extra);
    params
}

/// The one call item of the only conversation holding it.
fn call_item(daemon: &Daemon, sid: &str) -> (Value, Value) {
    let mut found = Vec::new();
    for conversation in daemon.all_conversations("") {
        let id = conversation["id"].as_str().unwrap();
        for message in daemon.messages(id) {
            if message["call"]["call_sid"] == sid {
                found.push((conversation.clone(), message));
            }
        }
    }
    assert_eq!(found.len(), 1, "one item for {sid}: {found:#?}");
    found.remove(0)
}

fn text_in(daemon: &Daemon, sid: &str, body: &str) {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", CALLER),
        ("To", NUMBER),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    let answer = twilio::post_signed(daemon, "/webhooks/sms", SMS_URL, AUTH_TOKEN, &params);
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn an_incoming_call_rings_every_agent_phone_then_the_voicemail() {
    let Setup { _dir, daemon, .. } = start();
    let root = voice_ok(
        &daemon,
        "",
        &call_params("CA10000000000000000000000000000001", "ringing"),
    );
    assert_eq!(root.names(), vec!["Dial"]);
    let dial = &root.children[0];
    assert_eq!(dial.attr("timeout"), "25");
    assert_eq!(dial.attr("action"), format!("{PUBLIC_URL}?event=dial"));
    assert_eq!(dial.attr("method"), "POST");
    assert_eq!(dial.names(), vec!["Number", "Sip"]);
    assert_eq!(dial.children[0].text, AGENT_PHONE);
    assert_eq!(dial.children[1].text, AGENT_SIP);
    for agent in &dial.children {
        assert_eq!(
            agent.attr("statusCallback"),
            format!("{PUBLIC_URL}?event=agent")
        );
        assert_eq!(agent.attr("statusCallbackEvent"), "answered completed");
        assert!(agent.children.is_empty());
    }

    // Nobody answered: the greeting, then the recording, then hang up.
    let params = with(
        call_params("CA10000000000000000000000000000001", "in-progress"),
        &[("DialCallStatus", "no-answer")],
    );
    let root = voice_ok(&daemon, "event=dial", &params);
    assert_eq!(root.names(), vec!["Say", "Record", "Hangup"]);
    assert_eq!(
        root.children[0].text,
        "Thanks for calling Example & Co. Please leave a message."
    );
    let record = &root.children[1];
    assert_eq!(record.attr("maxLength"), "90");
    assert_eq!(record.attr("playBeep"), "true");
    assert_eq!(record.attr("transcribe"), "true");
    assert_eq!(
        record.attr("action"),
        format!("{PUBLIC_URL}?event=voicemail")
    );
    assert_eq!(
        record.attr("recordingStatusCallback"),
        format!("{PUBLIC_URL}?event=recording")
    );
    assert_eq!(
        record.attr("transcribeCallback"),
        format!("{PUBLIC_URL}?event=transcription")
    );

    // An agent answered: nothing more for the caller.
    let params = with(
        call_params("CA10000000000000000000000000000002", "in-progress"),
        &[("DialCallStatus", "completed"), ("DialCallDuration", "12")],
    );
    let root = voice_ok(&daemon, "event=dial", &params);
    assert_eq!(root.names(), vec!["Hangup"]);
    // The voicemail's own action ends the call too.
    let params = with(
        call_params("CA10000000000000000000000000000001", "in-progress"),
        &[
            ("RecordingSid", "RE10000000000000000000000000000001"),
            ("RecordingUrl", "http://127.0.0.1:9/Recordings/RE1"),
            ("RecordingDuration", "7"),
            ("Digits", "hangup"),
        ],
    );
    let root = voice_ok(&daemon, "event=voicemail", &params);
    assert_eq!(root.names(), vec!["Hangup"]);
}

#[test]
fn an_answered_call_is_one_item_that_moves_forward_and_inboxes_see_each_step() {
    let Setup { _dir, daemon, .. } = start();
    let sid = "CA20000000000000000000000000000001";
    voice_ok(&daemon, "", &call_params(sid, "ringing"));
    let (conversation, item) = call_item(&daemon, sid);
    assert_eq!(item["call"]["status"], "ringing");
    assert_eq!(item["call"]["direction"], "inbound");
    assert_eq!(item["call"]["from"], CALLER);
    assert_eq!(item["call"]["to"], NUMBER);
    assert_eq!(item["direction"], "inbound");
    assert_eq!(conversation["channel"], "phone");
    assert_eq!(
        conversation["assignee"], "bob",
        "routed as a new conversation"
    );

    // The agent's leg: answered, then over after 95 seconds.
    let agent = |status: &str, duration: Option<&str>| {
        let mut params = vec![
            ("AccountSid", ACCOUNT_SID),
            ("CallSid", "CA2000000000000000000000000000agent"),
            ("ParentCallSid", sid),
            ("CallStatus", status),
            ("Direction", "outbound-dial"),
            ("From", CALLER),
            ("To", AGENT_PHONE),
        ];
        if let Some(duration) = duration {
            params.push(("CallDuration", duration));
        }
        voice_ok(&daemon, "event=agent", &params);
    };
    agent("in-progress", None);
    let (_, item) = call_item(&daemon, sid);
    assert_eq!(item["call"]["status"], "in_progress");
    assert_eq!(item["call"]["answered_by"], AGENT_PHONE);
    agent("completed", Some("95"));
    let dial = with(
        call_params(sid, "in-progress"),
        &[("DialCallStatus", "completed"), ("DialCallDuration", "95")],
    );
    voice_ok(&daemon, "event=dial", &dial);
    let status = with(call_params(sid, "completed"), &[("CallDuration", "110")]);
    voice_ok(&daemon, "event=status", &status);
    // Replays and a late `ringing` change nothing.
    voice_ok(&daemon, "event=dial", &dial);
    voice_ok(&daemon, "", &call_params(sid, "ringing"));
    agent("in-progress", None);

    let (conversation, item) = call_item(&daemon, sid);
    assert_eq!(item["call"]["status"], "completed", "{item:#}");
    assert_eq!(item["call"]["duration_secs"], 95);
    assert!(item["call"]["recording"].is_null());
    assert_eq!(item["text"], "Call answered (1:35)");
    let id = conversation["id"].as_str().unwrap();
    assert_eq!(daemon.messages(id).len(), 1, "one item, updated in place");

    // Each change went out live: the item's statuses in event order.
    let mut socket = EventSocket::connect(daemon.http, &daemon.token, Some(0));
    let item_id = item["id"].as_str().unwrap().to_string();
    let events = socket.read_until("the completed call item", Duration::from_secs(30), |seen| {
        seen.iter().any(|e| {
            ws::message_id(e) == Some(item_id.as_str())
                && e["payload"]["call"]["status"] == "completed"
        })
    });
    let more = socket.drain(Duration::from_millis(500));
    let item_events: Vec<&Value> = events
        .iter()
        .chain(&more)
        .filter(|e| ws::message_id(e) == Some(item_id.as_str()))
        .collect();
    let mut statuses: Vec<&str> = item_events
        .iter()
        .filter_map(|e| e["payload"]["call"]["status"].as_str())
        .collect();
    statuses.dedup();
    assert_eq!(statuses, vec!["ringing", "in_progress", "completed"]);
    // Every event is a change: the replays logged nothing.
    for pair in item_events.windows(2) {
        assert_ne!(pair[0]["payload"], pair[1]["payload"], "{item_events:#?}");
    }
}

#[test]
fn a_missed_call_with_a_voicemail_whose_callbacks_come_late_and_out_of_order() {
    let Setup { _dir, fake, daemon } = start();
    // The person texted first: the call joins their open conversation.
    text_in(
        &daemon,
        "SM30000000000000000000000000000001",
        "Can someone call me?",
    );
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 1);
    let texted = conversations[0].clone();
    assert!(
        texted["assignee"].is_null(),
        "the SMS channel routes nobody"
    );
    let id = texted["id"].as_str().unwrap().to_string();
    let (status, _) = daemon.patch(
        &format!("/api/v1/conversations/{id}"),
        &json!({"status": "pending"}),
    );
    assert_eq!(status, 200);

    let sid = "CA30000000000000000000000000000001";
    voice_ok(&daemon, "", &call_params(sid, "ringing"));
    let (conversation, _) = call_item(&daemon, sid);
    assert_eq!(conversation["id"], texted["id"], "one timeline");
    assert_eq!(conversation["contact"]["id"], texted["contact"]["id"]);
    assert!(
        conversation["assignee"].is_null(),
        "ringing routes nothing yet"
    );

    voice_ok(
        &daemon,
        "event=dial",
        &with(
            call_params(sid, "in-progress"),
            &[("DialCallStatus", "no-answer")],
        ),
    );
    let (conversation, item) = call_item(&daemon, sid);
    assert_eq!(item["call"]["status"], "missed");
    assert_eq!(item["call"]["missed_reason"], "no-answer");
    assert_eq!(item["call"]["duration_secs"], 0);
    assert_eq!(conversation["status"], "open", "someone must call back");
    assert_eq!(conversation["assignee"], "bob", "routed like a new message");

    // The transcription overtakes the recording's own callbacks.
    let recording_sid = "RE30000000000000000000000000000001";
    let recording_url = format!("{}/Recordings/{recording_sid}", fake.base_url());
    let transcription = with(
        call_params(sid, "completed"),
        &[
            ("TranscriptionSid", "TR30000000000000000000000000000001"),
            ("TranscriptionStatus", "completed"),
            (
                "TranscriptionText",
                "Hi, this is Ann, please call me back about order 42.",
            ),
            ("TranscriptionType", "fast"),
            ("TranscriptionUrl", "https://api.example/Transcriptions/TR3"),
            ("RecordingSid", recording_sid),
            ("RecordingUrl", recording_url.as_str()),
            ("url", PUBLIC_URL),
        ],
    );
    voice_ok(&daemon, "event=transcription", &transcription);
    let recording = with(
        call_params(sid, "completed"),
        &[
            ("RecordingSid", recording_sid),
            ("RecordingUrl", recording_url.as_str()),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "14"),
            ("RecordingChannels", "1"),
            ("RecordingSource", "RecordVerb"),
        ],
    );
    voice_ok(&daemon, "event=recording", &recording);
    voice_ok(
        &daemon,
        "event=voicemail",
        &with(
            call_params(sid, "in-progress"),
            &[
                ("RecordingSid", recording_sid),
                ("RecordingUrl", recording_url.as_str()),
                ("RecordingDuration", "14"),
            ],
        ),
    );
    voice_ok(
        &daemon,
        "event=status",
        &with(call_params(sid, "completed"), &[("CallDuration", "48")]),
    );
    // Replayed, all of it.
    voice_ok(&daemon, "event=recording", &recording);
    voice_ok(&daemon, "event=transcription", &transcription);

    let item = eventually("the voicemail audio", Duration::from_secs(30), || {
        let (_, item) = call_item(&daemon, sid);
        if item["attachments"][0]["size"].as_u64().unwrap_or(0) > 0 {
            Ok(item)
        } else {
            Err(item.to_string())
        }
    });
    let call = &item["call"];
    assert_eq!(call["status"], "missed", "{item:#}");
    assert_eq!(call["recording"]["sid"], recording_sid);
    assert_eq!(call["recording"]["duration_secs"], 14);
    assert_eq!(call["recording"]["attachment"], 0);
    assert_eq!(
        call["transcript"],
        "Hi, this is Ann, please call me back about order 42."
    );
    assert_eq!(
        item["text"],
        "Missed call; voicemail (0:14)\n\nHi, this is Ann, please call me back about order 42."
    );
    let attachments = item["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "one recording: {attachments:#?}");
    assert_eq!(attachments[0]["content_type"], "audio/mpeg");
    assert_eq!(attachments[0]["size"], AUDIO.len());
    let fetch = fake
        .requests()
        .into_iter()
        .find(|r| r.path == format!("/Recordings/{recording_sid}.mp3"))
        .unwrap();
    assert_eq!(
        fetch.authorization.as_deref(),
        Some(fake.expected_basic().as_str())
    );
    let response = common::http()
        .get(daemon.url(&format!(
            "/api/v1/messages/{}/attachments/0",
            item["id"].as_str().unwrap()
        )))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.bytes().unwrap().as_ref(), AUDIO);

    let messages = daemon.messages(&id);
    assert_eq!(
        messages.len(),
        2,
        "the text and one call item: {messages:#?}"
    );
    assert_eq!(daemon.all_conversations("").len(), 1);
}

#[test]
fn a_caller_is_texted_back_from_the_same_number_in_the_same_conversation() {
    let Setup { _dir, fake, daemon } = start();
    let sid = "CA40000000000000000000000000000001";
    voice_ok(&daemon, "", &call_params(sid, "ringing"));
    voice_ok(&daemon, "event=status", &call_params(sid, "busy"));
    let (conversation, item) = call_item(&daemon, sid);
    assert_eq!(item["call"]["status"], "missed");
    assert_eq!(item["call"]["missed_reason"], "busy");
    // A text after the call joins the call's conversation.
    text_in(
        &daemon,
        "SM40000000000000000000000000000001",
        "I just called",
    );
    assert_eq!(daemon.all_conversations("").len(), 1);
    let id = conversation["id"].as_str().unwrap();
    assert_eq!(daemon.messages(id).len(), 2);
    let (_, contact) = daemon.get(&format!(
        "/api/v1/contacts/{}",
        conversation["contact"]["id"].as_str().unwrap()
    ));
    assert_eq!(contact["phone"], CALLER);

    // An agent's answer goes out as a text from the business number.
    let reply = daemon.reply(
        id,
        json!({"text": "Sorry we missed you! Calling back now."}),
    );
    daemon.wait_for_state(id, reply["id"].as_str().unwrap(), "sent");
    let sends = fake.wait_for_sends(1);
    let form: Vec<(&str, &str)> = sends[0]
        .form
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        vec![
            ("To", CALLER),
            ("From", NUMBER),
            ("Body", "Sorry we missed you! Calling back now."),
            (
                "StatusCallback",
                "https://help.example.com/webhooks/phone/status"
            ),
        ]
    );
    let status = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("MessageStatus", "delivered"),
    ];
    let answer = twilio::post_signed(
        &daemon,
        "/webhooks/phone/status",
        &format!("{PUBLIC_URL}/status"),
        AUTH_TOKEN,
        &status,
    );
    assert_eq!(answer.status, 204, "{answer:?}");
    daemon.wait_for_state(id, reply["id"].as_str().unwrap(), "delivered");
}

#[test]
fn bad_signatures_are_refused_and_store_nothing() {
    let Setup { _dir, daemon, .. } = start();
    let sid = "CA50000000000000000000000000000001";
    let params = call_params(sid, "ringing");
    let post = |path: &str, signed: &str, token: &str| {
        twilio::post_signed(&daemon, path, signed, token, &params).status
    };
    // Wrong token; the internal address signed instead of the public URL;
    // the query left out of the signed URL; another channel's URL.
    assert_eq!(post("/webhooks/phone", PUBLIC_URL, "wrong-token"), 403);
    assert_eq!(
        post(
            "/webhooks/phone",
            &daemon.url("/webhooks/phone"),
            AUTH_TOKEN
        ),
        403
    );
    assert_eq!(
        post("/webhooks/phone?event=dial", PUBLIC_URL, AUTH_TOKEN),
        403
    );
    assert_eq!(post("/webhooks/phone", SMS_URL, AUTH_TOKEN), 403);
    // Tampered after signing, and unsigned.
    let signature = twilio::signature(AUTH_TOKEN, PUBLIC_URL, &params);
    let tampered = twilio::encode(&params).replace("CallStatus=ringing", "CallStatus=completed");
    for header in [Some(signature.as_str()), None] {
        let mut request = common::http()
            .post(daemon.url("/webhooks/phone"))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(header) = header {
            request = request.header("X-Twilio-Signature", header);
        }
        let body = if header.is_some() {
            tampered.clone()
        } else {
            twilio::encode(&params)
        };
        assert_eq!(request.body(body).send().unwrap().status().as_u16(), 403);
    }
    assert!(daemon.all_conversations("").is_empty());
    assert!(daemon.all_messages().is_empty());
    // Signed with the default port the provider sometimes adds.
    let answer = twilio::post_signed(
        &daemon,
        "/webhooks/phone",
        "https://help.example.com:443/webhooks/phone",
        AUTH_TOKEN,
        &params,
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    call_item(&daemon, sid);
}

#[test]
fn malformed_oversized_and_withheld_callers_get_clear_answers_and_the_daemon_keeps_serving() {
    let Setup { _dir, daemon, .. } = start();
    // Signed, but no CallSid; an event we never asked for; a dial outcome
    // without its status.
    let answer = voice(&daemon, "", &[("From", CALLER), ("CallStatus", "ringing")]);
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("CallSid is missing"),
        "{}",
        answer.body
    );
    let answer = voice(&daemon, "event=party", &call_params("CA6", "ringing"));
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.body.contains("unknown event"), "{}", answer.body);
    let answer = voice(&daemon, "event=dial", &[("CallSid", "CA6")]);
    assert_eq!(answer.status, 400, "{answer:?}");
    // A body past the limit is refused before anything is read.
    let signature = twilio::signature(AUTH_TOKEN, PUBLIC_URL, &[("CallSid", "CA6")]);
    let status = common::post_declaring_length(
        daemon.http,
        "/webhooks/phone",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", &signature),
        ],
        2 * 1024 * 1024,
    );
    assert_eq!(status, 413);
    // Not a form and not JSON, signed over the URL: nothing to read.
    let response = common::http()
        .post(daemon.url("/webhooks/phone"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            twilio::signature(AUTH_TOKEN, PUBLIC_URL, &[]),
        )
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(daemon.all_messages().is_empty());

    // Still serving: a caller who withholds their number gets a contact of
    // their own for this call.
    let sid = "CA60000000000000000000000000000001";
    let mut params = call_params(sid, "ringing");
    params.retain(|(name, _)| !matches!(*name, "From" | "Caller"));
    params.extend([("From", "anonymous"), ("Caller", "anonymous")]);
    let root = voice_ok(&daemon, "", &params);
    assert_eq!(root.names(), vec!["Dial"]);
    let (conversation, item) = call_item(&daemon, sid);
    assert_eq!(item["call"]["from"], "withheld");
    assert_eq!(conversation["contact"]["name"], "Withheld number");
}
