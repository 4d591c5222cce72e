//! End-to-end: no secret reaches the log at any level. The daemon runs at
//! `RUST_LOG=trace` and is used through every door with known secrets: the
//! API (bearer token, `?token=` on the event socket), Meta's subscription
//! check (`hub.verify_token`) and a signed webhook, the chat widget (the
//! visitor's token), SMTP (a client trying `AUTH PLAIN`), the web inbox's
//! sign-in (password, session cookie) and a metrics scrape. Then the whole
//! log is searched for each secret.

mod common;
#[path = "inbox_support/mod.rs"]
mod support;

use base64::Engine;

use common::chat::{chat_config, Visitor};
use common::graph::{
    fb_message, fb_page, meta_config, post_fb, sign, verify, FB_APP_SECRET, FB_VERIFY_TOKEN,
    WA_ACCESS_TOKEN, WA_APP_SECRET,
};
use common::smtp::{deliver, SmtpClient};
use common::ws::{Auth, EventSocket};
use common::{create_token, http, read_log, Daemon};

const METRICS_TOKEN: &str = "metrics-scrape-token-5150";
const SMTP_PASSWORD: &str = "smtp-client-password-8080";

#[test]
fn a_daemon_at_trace_logs_no_secret_through_any_door() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("metrics.token"), METRICS_TOKEN).unwrap();
    let config = chat_config(
        dir.path(),
        meta_config(dir.path(), "http://127.0.0.1:9"),
        "",
    ) + "\n[metrics]\ntoken_file = \"metrics.token\"\n";
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let out = support::set_password(dir.path(), "alice", support::PASSWORD);
    assert!(out.status.success(), "{out:?}");
    let token = create_token(dir.path(), "alice");
    let daemon = Daemon::start_with_env(dir.path(), token.clone(), &[("RUST_LOG", "trace")]);
    let mut secrets: Vec<(&str, String)> = vec![
        ("API token", token.clone()),
        ("Messenger verify token", FB_VERIFY_TOKEN.into()),
        ("Messenger app secret", FB_APP_SECRET.into()),
        ("Messenger page token", "fb-page-token".into()),
        ("WhatsApp app secret", WA_APP_SECRET.into()),
        ("WhatsApp access token", WA_ACCESS_TOKEN.into()),
        ("chat identity secret", common::chat::SECRET.into()),
        ("metrics token", METRICS_TOKEN.into()),
        ("web password", support::PASSWORD.into()),
        ("SMTP client password", SMTP_PASSWORD.into()),
    ];

    // The API, with the token in the header and in the query.
    let (status, _) = daemon.get("/api/v1/conversations");
    assert_eq!(status, 200);
    let events = EventSocket::try_connect(daemon.http, Auth::Query(&token), None, None)
        .unwrap_or_else(|status| panic!("event socket refused with {status}"));
    drop(events);

    // Meta: the subscription check and a signed message.
    let challenge =
        format!("hub.mode=subscribe&hub.verify_token={FB_VERIFY_TOKEN}&hub.challenge=31337");
    assert_eq!(
        verify(&daemon, "fb-page", &challenge),
        (200, "31337".into())
    );
    let page = fb_page(vec![fb_message(
        "psid-1",
        "m-secret-1",
        "hello there",
        1_700_000_000_000,
    )]);
    let signature = sign(FB_APP_SECRET, &serde_json::to_vec(&page).unwrap());
    assert_eq!(post_fb(&daemon, &page).0, 200);
    secrets.push((
        "webhook signature",
        signature.trim_start_matches("sha256=").into(),
    ));

    // The widget: a new visitor gets a token and comes back with it.
    let mut visitor = Visitor::connect(daemon.http, "web");
    let welcome = visitor.hello(None);
    let visitor_token = welcome["visitor_token"]
        .as_str()
        .expect("a visitor token")
        .to_string();
    visitor.say("c-1", "is anyone there?");
    visitor.close();
    let mut back = Visitor::connect(daemon.http, "web");
    back.hello(Some(&visitor_token));
    back.close();
    secrets.push(("visitor token", visitor_token));

    // SMTP: a client offering credentials the receiver never asks for.
    let plain =
        base64::engine::general_purpose::STANDARD.encode(format!("\0mailer\0{SMTP_PASSWORD}"));
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    let refused = client.command(&format!("AUTH PLAIN {plain}"));
    assert!(refused.code >= 500, "{refused:?}");
    client.quit();
    let mail = "From: Flo <flo@example.net>\r\nTo: support@example.com\r\nSubject: hi\r\n\
                Message-ID: <secrets-1@example.net>\r\n\r\nHello.\r\n";
    assert_eq!(
        deliver(
            daemon.smtp,
            "flo@example.net",
            &["support@example.com"],
            mail
        )
        .code,
        250
    );
    secrets.push(("SMTP AUTH PLAIN", plain));

    // The web inbox: sign in, use the session, scrape the metrics.
    let session = support::sign_in(&daemon, "alice", support::PASSWORD);
    let page = support::client()
        .get(daemon.url("/api/v1/conversations"))
        .header("cookie", &session.cookie)
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let cookie_value = session.cookie.trim_start_matches("sb_session=").to_string();
    secrets.push(("session cookie", cookie_value));
    secrets.push(("CSRF token", session.csrf.clone()));
    let scrape = http()
        .get(daemon.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .unwrap();
    assert_eq!(scrape.status().as_u16(), 200);

    daemon.terminate();
    let log = read_log(dir.path());
    // Everything below the cap was written: the request spans and the
    // libraries' own debug lines.
    assert!(
        log.contains("tower_http::trace::on_request") && log.contains("DEBUG sled::"),
        "the daemon did not log below info"
    );
    // The secrets' requests were logged, with the values redacted.
    for redacted in ["token=[redacted]", "hub.verify_token=[redacted]"] {
        assert!(log.contains(redacted), "no {redacted} in the log");
    }
    for (what, secret) in &secrets {
        assert!(
            secret.len() >= 8,
            "{what} is too short to search for: {secret:?}"
        );
        let hex = hex::encode(secret.as_bytes());
        for (line_number, line) in log.lines().enumerate() {
            assert!(
                !line.contains(secret.as_str()) && !line.contains(&hex),
                "the {what} is in log line {}: {line}",
                line_number + 1
            );
        }
    }
    eprintln!(
        "{} secrets checked against {} log lines ({} KiB) at trace",
        secrets.len(),
        log.lines().count(),
        log.len() / 1024
    );
}
