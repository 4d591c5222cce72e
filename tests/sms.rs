//! SMS channels end to end (PROTOCOLS.md 3): the real daemon behind a
//! "reverse proxy" (its `public_url` is not the address the tests call, so
//! signatures must be computed over the configured URL), signed inbound
//! webhooks, replies sent to a loopback stand-in for the provider's REST
//! API, status callbacks out of order, STOP and START, and MMS media
//! fetched with the account's credentials.

mod common;

use std::time::Duration;

use common::twilio::{self, encode, FakeTwilio, IMAGE};
use common::{eventually, Daemon};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ACCOUNT_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const AUTH_TOKEN: &str = "sms-auth-token-5f1c";
const FROM: &str = "+15005550006";
const PUBLIC_URL: &str = "https://help.example.com/webhooks/sms";
const PERSON: &str = "+14155550123";

/// The SMS channel on the fake provider, which serves media on loopback:
/// `allow_private_targets` as given.
fn config(api: &str) -> String {
    config_allowing(api, true)
}

fn config_allowing(api: &str, allow_private_targets: bool) -> String {
    twilio::sms_config(api, ACCOUNT_SID, FROM, PUBLIC_URL, allow_private_targets)
}

fn start() -> (tempfile::TempDir, FakeTwilio, Daemon) {
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth_token"), format!("{AUTH_TOKEN}\n")).unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &config(&fake.base_url()));
    (dir, fake, daemon)
}

/// POSTs `params` to `path` (on the daemon) signed over `signed_url`.
fn post_signed(
    daemon: &Daemon,
    path: &str,
    signed_url: &str,
    token: &str,
    params: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let answer = twilio::post_signed(daemon, path, signed_url, token, params);
    (answer.status, answer.content_type, answer.body)
}

fn sms_params<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ToCountry", "US"),
        ("ToState", ""),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", body),
        ("To", FROM),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", PERSON),
        ("ApiVersion", "2010-04-01"),
    ]
}

/// A person's text, signed as the provider does; asserts the TwiML answer.
fn text_in(daemon: &Daemon, sid: &str, body: &str) {
    let (status, content_type, answer) = post_signed(
        daemon,
        "/webhooks/sms",
        PUBLIC_URL,
        AUTH_TOKEN,
        &sms_params(sid, body),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(content_type.as_deref(), Some("text/xml"));
    assert!(answer.contains("<Response/>"), "{answer}");
}

fn only_conversation(daemon: &Daemon) -> Value {
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    conversations[0].clone()
}

#[test]
fn bad_signatures_store_nothing_and_good_ones_are_deduped() {
    let (_dir, _fake, daemon) = start();
    let params = sms_params("SM00000000000000000000000000000001", "Hello");
    // Wrong token; signed over the address we called rather than the
    // public URL; a parameter changed after signing; no header.
    for (signed_url, token) in [
        (PUBLIC_URL, "wrong-token"),
        (daemon.url("/webhooks/sms").as_str(), AUTH_TOKEN),
    ] {
        let (status, _, answer) = post_signed(&daemon, "/webhooks/sms", signed_url, token, &params);
        assert_eq!(status, 403, "{answer}");
    }
    let signature = twilio::signature(AUTH_TOKEN, PUBLIC_URL, &params);
    let tampered = encode(&params).replace("Body=Hello", "Body=Hellp");
    let response = common::http()
        .post(daemon.url("/webhooks/sms"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", &signature)
        .body(tampered)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let response = common::http()
        .post(daemon.url("/webhooks/sms"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encode(&params))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(daemon.all_conversations("").is_empty());
    assert!(daemon.all_messages().is_empty());

    // Signed with the default port the provider sometimes adds.
    let (status, _, answer) = post_signed(
        &daemon,
        "/webhooks/sms",
        "https://help.example.com:443/webhooks/sms",
        AUTH_TOKEN,
        &params,
    );
    assert_eq!(status, 200, "{answer}");
    // The provider's retry of the same MessageSid stores nothing new.
    text_in(&daemon, "SM00000000000000000000000000000001", "Hello");
    let conversation = only_conversation(&daemon);
    let messages = daemon.messages(conversation["id"].as_str().unwrap());
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(messages[0]["text"], "Hello");

    // A JSON body, signed through bodySHA256 in the URL.
    let body = json!({"MessageSid": "SM00000000000000000000000000000002", "From": PERSON,
                      "To": FROM, "Body": "Over JSON", "NumMedia": "0"})
    .to_string();
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let signed_url = format!("{PUBLIC_URL}?bodySHA256={hash}");
    let signature = twilio::signature(AUTH_TOKEN, &signed_url, &[]);
    let post = |body: String| {
        common::http()
            .post(daemon.url(&format!("/webhooks/sms?bodySHA256={hash}")))
            .header("Content-Type", "application/json")
            .header("X-Twilio-Signature", &signature)
            .body(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(body.replace("Over JSON", "Over JSOM")), 403);
    assert_eq!(post(body), 200);
    let messages = daemon.messages(conversation["id"].as_str().unwrap());
    assert_eq!(
        messages.len(),
        2,
        "one conversation per person: {messages:#?}"
    );
}

#[test]
fn a_text_in_a_reply_out_and_statuses_out_of_order() {
    let (_dir, fake, daemon) = start();
    text_in(
        &daemon,
        "SM10000000000000000000000000000001",
        "My order is late",
    );
    let conversation = only_conversation(&daemon);
    let id = conversation["id"].as_str().unwrap();
    assert_eq!(conversation["channel"], "sms");
    let (status, contact) = daemon.get(&format!(
        "/api/v1/contacts/{}",
        conversation["contact"]["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200);
    assert_eq!(contact["phone"], PERSON);

    let reply = daemon.reply(id, json!({"text": "Sorry! It ships today."}));
    let reply_id = reply["id"].as_str().unwrap();
    let sends = fake.wait_for_sends(1);
    let send = &sends[0];
    assert_eq!(send.method, "POST");
    assert_eq!(
        send.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(
        send.authorization.as_deref(),
        Some(fake.expected_basic().as_str())
    );
    let form: Vec<(&str, &str)> = send
        .form
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        vec![
            ("To", PERSON),
            ("From", FROM),
            ("Body", "Sorry! It ships today."),
            (
                "StatusCallback",
                "https://help.example.com/webhooks/sms/status"
            ),
        ]
    );
    let sent = daemon.wait_for_state(id, reply_id, "sent");
    let sid = "SM00000000000000000000000000000001";
    assert_eq!(sent["status"]["state"], "sent");

    let status_url = format!("{PUBLIC_URL}/status");
    let callback = |state: &str| {
        let params = [
            ("SmsSid", sid),
            ("SmsStatus", state),
            ("MessageStatus", state),
            ("To", PERSON),
            ("MessageSid", sid),
            ("AccountSid", ACCOUNT_SID),
            ("From", FROM),
            ("ApiVersion", "2010-04-01"),
        ];
        post_signed(
            &daemon,
            "/webhooks/sms/status",
            &status_url,
            AUTH_TOKEN,
            &params,
        )
    };
    // A callback signed with the wrong token changes nothing.
    let params = [("MessageSid", sid), ("MessageStatus", "failed")];
    let (status, _, _) = post_signed(
        &daemon,
        "/webhooks/sms/status",
        &status_url,
        "nope",
        &params,
    );
    assert_eq!(status, 403);
    // delivered arrives before sent: it ends at delivered.
    for state in ["delivered", "sent", "sending", "undelivered"] {
        let (status, _, answer) = callback(state);
        assert!((200..300).contains(&status), "{state}: {status} {answer}");
    }
    let message = daemon.message(id, reply_id);
    assert_eq!(message["status"]["state"], "delivered", "{message}");
}

#[test]
fn stop_opts_out_and_start_opts_back_in() {
    let (_dir, fake, daemon) = start();
    text_in(&daemon, "SM20000000000000000000000000000001", "Hi there");
    let conversation = only_conversation(&daemon);
    let id = conversation["id"].as_str().unwrap();
    let contact_path = format!(
        "/api/v1/contacts/{}",
        conversation["contact"]["id"].as_str().unwrap()
    );

    text_in(&daemon, "SM20000000000000000000000000000002", "  Stop ");
    let (_, contact) = daemon.get(&contact_path);
    assert_eq!(contact["opted_out"]["keyword"], "STOP", "{contact}");
    assert_eq!(contact["opted_out"]["channel"], "sms");
    let (status, answer) = daemon.post(
        &format!("/api/v1/conversations/{id}/messages"),
        &json!({"text": "Are you sure?"}),
    );
    assert_eq!(status, 422, "{answer}");
    // A private note is still fine.
    let (status, answer) = daemon.post(
        &format!("/api/v1/conversations/{id}/messages"),
        &json!({"text": "they opted out", "private": true}),
    );
    assert_eq!(status, 201, "{answer}");

    text_in(&daemon, "SM20000000000000000000000000000003", "unstop");
    let (_, contact) = daemon.get(&contact_path);
    assert!(contact["opted_out"].is_null(), "{contact}");
    let reply = daemon.reply(id, json!({"text": "Welcome back"}));
    daemon.wait_for_state(id, reply["id"].as_str().unwrap(), "sent");
    let sends = fake.wait_for_sends(1);
    assert_eq!(sends.len(), 1, "nothing was sent while opted out");
    assert!(sends[0]
        .form
        .contains(&("Body".into(), "Welcome back".into())));
}

#[test]
fn mms_media_is_fetched_with_the_account_credentials() {
    let (_dir, fake, daemon) = start();
    let media_url = format!("{}/media/ME1", fake.base_url());
    let sid = "MM30000000000000000000000000000001";
    let mut params = sms_params(sid, "See photo");
    params.retain(|(name, _)| *name != "NumMedia");
    params.extend([
        ("NumMedia", "1"),
        ("MediaUrl0", media_url.as_str()),
        ("MediaContentType0", "image/png"),
    ]);
    let (status, _, answer) =
        post_signed(&daemon, "/webhooks/sms", PUBLIC_URL, AUTH_TOKEN, &params);
    assert_eq!(status, 200, "{answer}");
    let conversation = only_conversation(&daemon);
    let id = conversation["id"].as_str().unwrap().to_string();
    let message = eventually("the MMS image", Duration::from_secs(30), || {
        let message = daemon.messages(&id)[0].clone();
        if message["attachments"][0]["size"].as_u64().unwrap_or(0) > 0 {
            Ok(message)
        } else {
            Err(message["attachments"].to_string())
        }
    });
    assert_eq!(message["text"], "See photo");
    assert_eq!(message["attachments"][0]["content_type"], "image/png");
    assert_eq!(message["attachments"][0]["size"], IMAGE.len());
    let fetch = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/media/ME1")
        .unwrap();
    assert_eq!(
        fetch.authorization.as_deref(),
        Some(fake.expected_basic().as_str())
    );
    let response = common::http()
        .get(daemon.url(&format!(
            "/api/v1/messages/{}/attachments/0",
            message["id"].as_str().unwrap()
        )))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.bytes().unwrap().as_ref(), IMAGE);
}

#[test]
fn a_status_callback_that_overtakes_the_send_answer_is_kept() {
    let (_dir, fake, daemon) = start();
    text_in(
        &daemon,
        "SM40000000000000000000000000000001",
        "Where is it?",
    );
    let conversation = only_conversation(&daemon);
    let id = conversation["id"].as_str().unwrap().to_string();
    // The provider reports `delivered` for the new sid before it answers
    // our send with that sid (so before the daemon has recorded it).
    let base = daemon.url("");
    let callbacks: std::sync::Arc<std::sync::Mutex<Vec<u16>>> = Default::default();
    let seen = callbacks.clone();
    fake.before_answer(move |sid| {
        let params = [
            ("MessageSid", sid),
            ("MessageStatus", "delivered"),
            ("AccountSid", ACCOUNT_SID),
            ("From", FROM),
            ("To", PERSON),
        ];
        let url = format!("{PUBLIC_URL}/status");
        let answer =
            twilio::post_signed_to(&base, "/webhooks/sms/status", &url, AUTH_TOKEN, &params);
        seen.lock().unwrap().push(answer.status);
    });
    let reply = daemon.reply(&id, json!({"text": "Out for delivery"}));
    let reply_id = reply["id"].as_str().unwrap();
    let delivered = daemon.wait_for_state(&id, reply_id, "delivered");
    assert_eq!(
        delivered["status"]["provider_id"],
        "SM00000000000000000000000000000001"
    );
    assert_eq!(*callbacks.lock().unwrap(), vec![204]);
    // A late `sent` for it changes nothing.
    let (status, _, _) = post_signed(
        &daemon,
        "/webhooks/sms/status",
        &format!("{PUBLIC_URL}/status"),
        AUTH_TOKEN,
        &[
            ("MessageSid", "SM00000000000000000000000000000001"),
            ("MessageStatus", "sent"),
        ],
    );
    assert_eq!(status, 204);
    assert_eq!(
        daemon.message(&id, reply_id)["status"]["state"],
        "delivered"
    );
}

#[test]
fn merging_contacts_carries_the_opt_out_over() {
    let (_dir, fake, daemon) = start();
    text_in(&daemon, "SM50000000000000000000000000000001", "STOP");
    let opted_out = only_conversation(&daemon);
    let opted_out_contact = opted_out["contact"]["id"].as_str().unwrap().to_string();
    // The same person from another number: a second contact.
    let mut params = sms_params("SM50000000000000000000000000000002", "Hi, new phone");
    params.retain(|(name, _)| *name != "From");
    params.push(("From", "+14155550999"));
    let (status, _, answer) =
        post_signed(&daemon, "/webhooks/sms", PUBLIC_URL, AUTH_TOKEN, &params);
    assert_eq!(status, 200, "{answer}");
    let other = daemon
        .all_conversations("")
        .into_iter()
        .find(|c| c["contact"]["id"] != opted_out_contact.as_str())
        .unwrap();
    let kept = other["contact"]["id"].as_str().unwrap();
    let (status, merged) = daemon.post(
        &format!("/api/v1/contacts/{kept}/merge"),
        &json!({"other": opted_out_contact}),
    );
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["opted_out"]["keyword"], "STOP", "{merged}");
    let (_, contact) = daemon.get(&format!("/api/v1/contacts/{kept}"));
    assert_eq!(contact["opted_out"]["keyword"], "STOP", "{contact}");
    // Neither conversation may be texted now.
    for conversation in [&other, &opted_out] {
        let (status, answer) = daemon.post(
            &format!(
                "/api/v1/conversations/{}/messages",
                conversation["id"].as_str().unwrap()
            ),
            &json!({"text": "Still there?"}),
        );
        assert_eq!(status, 422, "{answer}");
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[test]
fn two_sms_channels_on_one_number_are_refused_but_sms_and_calls_share_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth_token"), format!("{AUTH_TOKEN}\n")).unwrap();
    let second = |kind: &str, extra: &str| {
        format!(
            "{}\n[[channels]]\nid = \"second\"\ninbox = \"texts\"\nkind = \"{kind}\"\naccount_sid = \"{ACCOUNT_SID}\"\nauth_token_file = \"auth_token\"\nfrom = \"{FROM}\"\npublic_url = \"https://help.example.com/webhooks/second\"\n{extra}",
            config("http://127.0.0.1:9")
        )
    };
    let check = |config: &str| {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };
    let (code, text) = check(&second("sms", ""));
    assert_eq!(code, Some(78), "{text}");
    assert!(
        text.contains(
            "channels[1].from: \"+15005550006\" is already used by the sms channel at channels[0]"
        ),
        "{text}"
    );
    let (code, text) = check(&second("calls", "agent_numbers = [\"+14155550101\"]"));
    assert_eq!(code, Some(0), "{text}");
}
