//! SMS channels end to end (PROTOCOLS.md 3): the real daemon behind a
//! "reverse proxy" (its `public_url` is not the address the tests call, so
//! signatures must be computed over the configured URL), signed inbound
//! webhooks, replies sent to a loopback stand-in for the provider's REST
//! API, status callbacks out of order, STOP and START, and MMS media
//! fetched with the account's credentials.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::{eventually, Daemon};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

const ACCOUNT_SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const AUTH_TOKEN: &str = "sms-auth-token-5f1c";
const FROM: &str = "+15005550006";
const PUBLIC_URL: &str = "https://help.example.com/webhooks/sms";
const PERSON: &str = "+14155550123";
const IMAGE: &[u8] = b"\x89PNG fake image bytes";

/// One request the fake provider received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
    form: Vec<(String, String)>,
}

/// A loopback stand-in for the provider's REST API: `Messages.json` sends
/// answer `201` with a fresh `sid`; `GET /media/...` answers an image only
/// with the account's Basic credentials.
struct FakeTwilio {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeTwilio {
    fn start() -> FakeTwilio {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let shared = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        FakeTwilio { addr, requests }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn wait_for_sends(&self, n: usize) -> Vec<Request> {
        eventually(&format!("{n} sends"), Duration::from_secs(30), || {
            let sends: Vec<Request> = self
                .requests()
                .into_iter()
                .filter(|r| r.path.ends_with("/Messages.json"))
                .collect();
            if sends.len() >= n {
                Ok(sends)
            } else {
                Err(format!("{sends:?}"))
            }
        })
    }
}

fn expected_basic() -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    format!("Basic {encoded}")
}

fn serve(stream: TcpStream, requests: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let authorized = authorization.as_deref() == Some(expected_basic().as_str());
    let n = {
        let mut guard = requests.lock().unwrap();
        guard.push(Request {
            method: method.clone(),
            path: path.clone(),
            authorization,
            form,
        });
        guard.len()
    };
    let (status, content_type, answer): (u16, &str, Vec<u8>) = if !authorized {
        (
            401,
            "application/json",
            br#"{"code":20003,"message":"Authenticate","status":401}"#.to_vec(),
        )
    } else if method == "POST" && path.ends_with("/Messages.json") {
        let sid = format!("SM{n:032}");
        (
            201,
            "application/json",
            json!({"sid": sid, "status": "queued", "error_code": null, "error_message": null})
                .to_string()
                .into_bytes(),
        )
    } else if method == "GET" && path.starts_with("/media/") {
        (200, "image/png", IMAGE.to_vec())
    } else {
        (404, "application/json", b"{}".to_vec())
    };
    let mut response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    )
    .into_bytes();
    response.extend_from_slice(&answer);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(&response);
}

fn config(api: &str) -> String {
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
max_attempts = 3
initial_backoff_ms = 100
max_backoff_ms = 400

[[agents]]
id = "alice"
name = "Alice Admin"
email = "alice@example.com"
role = "admin"

[[inboxes]]
id = "texts"
name = "Texts"

[[channels]]
id = "sms"
inbox = "texts"
kind = "sms"
account_sid = "{ACCOUNT_SID}"
auth_token_file = "auth_token"
from = "{FROM}"
public_url = "{PUBLIC_URL}"
api_base_url = "{api}"
"#
    )
}

fn start() -> (tempfile::TempDir, FakeTwilio, Daemon) {
    let fake = FakeTwilio::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth_token"), format!("{AUTH_TOKEN}\n")).unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &config(&fake.base_url()));
    (dir, fake, daemon)
}

/// Twilio's signature, computed here independently of the daemon's code.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn encode(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// POSTs `params` to `path` (on the daemon) signed over `signed_url`.
fn post_signed(
    daemon: &Daemon,
    path: &str,
    signed_url: &str,
    token: &str,
    params: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let response = common::http()
        .post(daemon.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            twilio_signature(token, signed_url, params),
        )
        .body(encode(params))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, content_type, response.text().unwrap())
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
    let signature = twilio_signature(AUTH_TOKEN, PUBLIC_URL, &params);
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
    let signature = twilio_signature(AUTH_TOKEN, &signed_url, &[]);
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
        Some(expected_basic().as_str())
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
        Some(expected_basic().as_str())
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
