//! The outbound-fetch policy end to end (`src/outbound_fetch`): media links
//! that arrive in signed webhooks and point at this host, in any spelling
//! (`127.0.0.1`, `localhost`, `[::ffff:127.0.0.1]`, `2130706433`,
//! `0x7f.1`), are never requested unless the channel sets
//! `allow_private_targets = true`: the loopback server behind them is not
//! contacted, the message is stored all the same, and each attachment says
//! why its bytes will not come. With the key set, the same links are
//! fetched (an SMS link through a redirect to another origin, which gets no
//! credentials).

mod common;

use std::time::Duration;

use common::graph::{self, fb_page, post_fb, post_wa, wa_payload, FakeGraph};
use common::twilio::{self, FakeTwilio, IMAGE};
use common::{eventually, Daemon};
use serde_json::{json, Value};

/// How each link names the loopback server.
const LOOPBACK_HOSTS: [&str; 5] = [
    "127.0.0.1",
    "localhost",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "0x7f.1",
];

const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 a loopback photo";

/// The message with `external_id` once every one of its `count`
/// attachments is settled: fetched, or marked as given up.
fn settled(daemon: &Daemon, external_id: &str, count: usize) -> Value {
    eventually(
        &format!("the attachments of {external_id} settled"),
        Duration::from_secs(30),
        || {
            let message = daemon
                .message_by_external_id(external_id)
                .ok_or("no message yet")?;
            let attachments = message["attachments"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let done = attachments.len() == count
                && attachments
                    .iter()
                    .all(|a| a["size"].as_u64().unwrap_or(0) > 0 || a["fetch_failed"].is_string());
            if done {
                Ok(message)
            } else {
                Err(message["attachments"].to_string())
            }
        },
    )
}

/// Asserts that every attachment was refused by the policy, not fetched.
fn assert_all_refused(message: &Value) {
    for attachment in message["attachments"].as_array().unwrap() {
        assert_eq!(attachment["size"], 0, "{attachment}");
        let reason = attachment["fetch_failed"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("refused: ") && reason.contains("allow_private_targets"),
            "{attachment}"
        );
    }
}

/// Asserts that the refusals were final at once, and logged with why.
fn assert_given_up_at_once(daemon: &Daemon) {
    let log = daemon.log();
    assert!(log.contains("media: download given up"), "{log}");
    assert!(log.contains("allow_private_targets"), "{log}");
    assert!(!log.contains("media: download failed; will retry"), "{log}");
}

fn messenger_start(allow_private: bool) -> (tempfile::TempDir, FakeGraph, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGraph::start();
    let config = if allow_private {
        graph::meta_config(dir.path(), &fake.base_url())
    } else {
        graph::meta_config_public_only(dir.path(), &fake.base_url())
    };
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, fake, daemon)
}

/// A signed Messenger message with one image per loopback spelling, each
/// a file the fake serves.
fn post_loopback_images(daemon: &Daemon, fake: &FakeGraph) {
    let port = fake.addr.port();
    let attachments: Vec<Value> = LOOPBACK_HOSTS
        .iter()
        .enumerate()
        .map(|(i, host)| {
            fake.add_cdn_file(&format!("photo{i}.jpg"), "image/jpeg", PHOTO, 0);
            let url = format!("http://{host}:{port}/cdn/photo{i}.jpg?oh=signed");
            json!({"type": "image", "payload": {"url": url}})
        })
        .collect();
    let message = json!({"sender": {"id": "U7"}, "recipient": {"id": graph::PAGE_ID},
        "timestamp": 1458692752478u64,
        "message": {"mid": "mid.loopback", "text": "look", "attachments": attachments}});
    assert_eq!(post_fb(daemon, &fb_page(vec![message])).0, 200);
}

#[test]
fn messenger_links_to_loopback_are_refused_and_the_message_kept() {
    let (_dir, fake, daemon) = messenger_start(false);
    post_loopback_images(&daemon, &fake);
    let message = settled(&daemon, "mid.loopback", LOOPBACK_HOSTS.len());
    assert_eq!(message["text"], "look");
    assert_all_refused(&message);
    let reasons: Vec<&str> = message["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["fetch_failed"].as_str().unwrap())
        .collect();
    // Literals are refused before the request, names when they resolve.
    assert!(reasons[0].contains("127.0.0.1 is not a public address"));
    assert!(reasons[1].contains("the host localhost resolves only to"));
    assert!(reasons[2].contains("is not a public address"));
    assert!(reasons[3].contains("127.0.0.1 is not a public address"));
    assert!(reasons[4].contains("127.0.0.1 is not a public address"));
    assert!(
        fake.requests().is_empty(),
        "the loopback server was contacted: {:?}",
        fake.requests()
    );
    assert_given_up_at_once(&daemon);
}

#[test]
fn messenger_links_to_loopback_are_fetched_when_the_channel_allows_it() {
    let (_dir, fake, daemon) = messenger_start(true);
    post_loopback_images(&daemon, &fake);
    let message = settled(&daemon, "mid.loopback", LOOPBACK_HOSTS.len());
    for attachment in message["attachments"].as_array().unwrap() {
        assert_eq!(attachment["size"], PHOTO.len(), "{attachment}");
        assert!(attachment.get("fetch_failed").is_none(), "{attachment}");
    }
    assert_eq!(fake.count("/cdn/photo"), LOOPBACK_HOSTS.len());
}

#[test]
fn a_whatsapp_download_url_on_loopback_is_refused_after_the_lookup() {
    let (_dir, fake, daemon) = messenger_start(false);
    fake.add_wa_media("4410000000000001", "application/pdf", b"%PDF-1.7", 0);
    let document = json!({"from": "16505551234", "id": "wamid.LOOP", "timestamp": "1739321024",
        "type": "document", "document": {"caption": "invoice", "filename": "invoice.pdf",
        "mime_type": "application/pdf", "sha256": "x", "id": "4410000000000001"}});
    assert_eq!(post_wa(&daemon, &wa_payload(vec![document])).0, 200);
    let message = settled(&daemon, "wamid.LOOP", 1);
    assert_eq!(message["text"], "invoice");
    assert_all_refused(&message);
    // The lookup goes to the configured Graph API base; the URL it answers
    // (on loopback) is a link like any other.
    let lookup = format!("/{}/4410000000000001", graph::VERSION);
    assert_eq!(fake.count(&lookup), 1);
    assert_eq!(fake.count("/wa-files/"), 0);
    assert_given_up_at_once(&daemon);
}

const ACCOUNT_SID: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const AUTH_TOKEN: &str = "sms-policy-token-77";
const FROM: &str = "+15005550006";
const PUBLIC_URL: &str = "https://help.example.com/webhooks/sms";

fn sms_start(allow_private: bool) -> (tempfile::TempDir, FakeTwilio, Daemon) {
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth_token"), format!("{AUTH_TOKEN}\n")).unwrap();
    let config = twilio::sms_config(
        &fake.base_url(),
        ACCOUNT_SID,
        FROM,
        PUBLIC_URL,
        allow_private,
    );
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, fake, daemon)
}

/// A signed MMS with one `MediaUrl` per loopback spelling: the first goes
/// through the fake's redirect to its CDN, the others straight to media.
fn post_loopback_mms(daemon: &Daemon, fake: &FakeTwilio) {
    let port = fake.base_url().rsplit(':').next().unwrap().to_string();
    let urls: Vec<String> = LOOPBACK_HOSTS
        .iter()
        .enumerate()
        .map(|(i, host)| match i {
            0 => format!("http://{host}:{port}/media-redirect/ME0"),
            _ => format!("http://{host}:{port}/media/ME{i}"),
        })
        .collect();
    let names: Vec<(String, String)> = (0..urls.len())
        .map(|i| (format!("MediaUrl{i}"), format!("MediaContentType{i}")))
        .collect();
    let count = urls.len().to_string();
    let mut params = vec![
        ("MessageSid", "MM40000000000000000000000000000001"),
        ("AccountSid", ACCOUNT_SID),
        ("From", "+14155550177"),
        ("To", FROM),
        ("Body", "photos"),
        ("NumMedia", count.as_str()),
    ];
    for ((url_name, type_name), url) in names.iter().zip(&urls) {
        params.push((url_name.as_str(), url.as_str()));
        params.push((type_name.as_str(), "image/png"));
    }
    let answer = twilio::post_signed(daemon, "/webhooks/sms", PUBLIC_URL, AUTH_TOKEN, &params);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn sms_media_on_loopback_is_refused_and_the_message_kept() {
    let (_dir, fake, daemon) = sms_start(false);
    post_loopback_mms(&daemon, &fake);
    let message = settled(
        &daemon,
        "MM40000000000000000000000000000001",
        LOOPBACK_HOSTS.len(),
    );
    assert_eq!(message["text"], "photos");
    assert_all_refused(&message);
    assert!(
        fake.requests().is_empty(),
        "the loopback provider was contacted: {:?}",
        fake.requests()
    );
    assert_given_up_at_once(&daemon);
}

#[test]
fn sms_media_on_loopback_is_fetched_when_allowed_and_redirects_lose_the_credentials() {
    let (_dir, fake, daemon) = sms_start(true);
    post_loopback_mms(&daemon, &fake);
    let message = settled(
        &daemon,
        "MM40000000000000000000000000000001",
        LOOPBACK_HOSTS.len(),
    );
    for attachment in message["attachments"].as_array().unwrap() {
        assert_eq!(attachment["size"], IMAGE.len(), "{attachment}");
        assert_eq!(attachment["content_type"], "image/png");
    }
    let requests = fake.requests();
    let find = |path: &str| {
        requests
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no request for {path}: {requests:?}"))
    };
    let basic = fake.expected_basic();
    assert_eq!(
        find("/media-redirect/ME0").authorization.as_deref(),
        Some(basic.as_str())
    );
    assert_eq!(
        find("/cdn/ME0").authorization,
        None,
        "the CDN is another origin: no account credentials"
    );
    for i in 1..LOOPBACK_HOSTS.len() {
        assert_eq!(
            find(&format!("/media/ME{i}")).authorization.as_deref(),
            Some(basic.as_str())
        );
    }
}
