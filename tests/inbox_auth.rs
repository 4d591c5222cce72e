//! The web inbox's sign-in over plain HTTP against the real daemon: the
//! `agent set-password` command, the session cookie's attributes, CSRF on
//! every change, bearer tokens still working, throttling per account and
//! per address, sessions surviving a restart, sign-out and revocation, and
//! the Content-Security-Policy of the pages.

mod common;
#[path = "inbox_support/mod.rs"]
mod support;

use serde_json::{json, Value};

use common::{reply_config, Daemon};
use support::{client, post_login, set_password, sign_in, PASSWORD};

fn start() -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), reply_config(None, 4)).unwrap();
    let out = set_password(dir.path(), "alice", PASSWORD);
    assert!(out.status.success(), "{out:?}");
    let daemon = Daemon::start_with_config(dir.path(), "");
    (dir, daemon)
}

#[test]
fn set_password_refuses_unknown_agents_and_short_passwords_and_stores_only_a_hash() {
    let (dir, _daemon) = start();
    let unknown = set_password(dir.path(), "mallory", PASSWORD);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no agent \"mallory\""));
    let short = set_password(dir.path(), "bob", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least"));
    let stored = std::fs::read_to_string(dir.path().join("data/agent_passwords")).unwrap();
    assert!(stored.contains("$argon2id$"), "{stored}");
    assert!(!stored.contains(PASSWORD));
}

#[test]
fn wrong_passwords_are_refused_and_the_cookie_is_locked_down() {
    let (_dir, daemon) = start();
    let wrong = post_login(&daemon, "alice", "not the password", &[]);
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let page = wrong.text().unwrap();
    assert!(page.contains("Wrong agent or password"), "{page}");
    // An agent without a password cannot sign in at all.
    assert_eq!(
        post_login(&daemon, "bob", PASSWORD, &[]).status().as_u16(),
        401
    );

    let right = post_login(&daemon, "alice@example.com", PASSWORD, &[]);
    assert_eq!(right.status().as_u16(), 303);
    assert_eq!(right.headers()["location"], "/");
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("sb_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    // Behind a TLS-terminating proxy the cookie is Secure.
    let proxied = post_login(
        &daemon,
        "alice",
        PASSWORD,
        &[("X-Forwarded-Proto", "https")],
    );
    let cookie = proxied.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // A login form posted from another site is refused.
    let foreign = post_login(
        &daemon,
        "alice",
        PASSWORD,
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(foreign.status().as_u16(), 403);
    assert!(foreign.headers().get("set-cookie").is_none());
}

#[test]
fn the_api_takes_the_session_cookie_with_csrf_on_changes_and_bearer_tokens_still() {
    let (_dir, daemon) = start();
    let session = sign_in(&daemon, "alice", PASSWORD);
    let http = client();
    let list = http
        .get(daemon.url("/api/v1/conversations"))
        .header("Cookie", &session.cookie)
        .send()
        .unwrap();
    assert_eq!(list.status().as_u16(), 200);

    let change = |csrf: Option<&str>| {
        let mut request = http
            .put(daemon.url("/api/v1/agents/me/availability"))
            .header("Cookie", &session.cookie)
            .json(&json!({"available": true}));
        if let Some(csrf) = csrf {
            request = request.header("X-CSRF-Token", csrf);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    let (status, body) = change(None);
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("CSRF"), "{body}");
    assert_eq!(change(Some("0123456789abcdef")).0, 403);
    let (status, body) = change(Some(&session.csrf));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"id": "alice", "available": true}));

    // A CSRF-less POST (sign-out) is refused as well.
    let logout = http
        .post(daemon.url("/logout"))
        .header("Cookie", &session.cookie)
        .send()
        .unwrap();
    assert_eq!(logout.status().as_u16(), 403);

    // Scripts with bearer tokens need no CSRF token.
    let (status, _) = daemon.put(
        "/api/v1/agents/me/availability",
        &json!({"available": false}),
    );
    assert_eq!(status, 200);
    // What the page loads first: who, where, what can be sent.
    let (status, boot) = daemon.get("/api/v1/web/bootstrap");
    assert_eq!(status, 200, "{boot}");
    assert_eq!(boot["me"]["id"], "alice");
    assert!(boot["seq"].as_u64().is_some(), "{boot}");
    let support = boot["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "support-email")
        .unwrap();
    assert_eq!(support["kind"], "email");
    assert_eq!(support["email"]["from_name"], "Alice Admin at Example Inc");
    assert!(
        support["cannot_send"].as_str().unwrap().contains("relay"),
        "no relay in this config: {support}"
    );
    // No credential at all: 401.
    let anonymous = http
        .get(daemon.url("/api/v1/conversations"))
        .send()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // The app page needs a session; without one it sends to the login page.
    let page = http.get(daemon.url("/")).send().unwrap();
    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(page.headers()["location"], "/login");
}

#[test]
fn sign_in_is_throttled_per_account_and_per_address() {
    let (dir, daemon) = start();
    assert!(set_password(dir.path(), "dora", PASSWORD).status.success());
    // Five wrong passwords for Alice from five addresses (a proxy on
    // loopback names them in X-Forwarded-For).
    for n in 0..5 {
        let from = format!("198.51.100.{n}");
        let response = post_login(&daemon, "alice", "wrong", &[("X-Forwarded-For", &from)]);
        assert_eq!(response.status().as_u16(), 401);
    }
    let throttled = post_login(
        &daemon,
        "alice",
        PASSWORD,
        &[("X-Forwarded-For", "198.51.100.9")],
    );
    assert_eq!(
        throttled.status().as_u16(),
        429,
        "even the right password waits"
    );
    assert!(
        throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Other accounts are not affected.
    let dora = post_login(
        &daemon,
        "dora",
        PASSWORD,
        &[("X-Forwarded-For", "198.51.100.9")],
    );
    assert_eq!(dora.status().as_u16(), 303);

    // Twenty failures from one address, on made-up accounts, close that
    // address, for real accounts too; other addresses still get in.
    for n in 0..20 {
        let response = post_login(
            &daemon,
            &format!("guess{n}"),
            "wrong",
            &[("X-Forwarded-For", "203.0.113.7")],
        );
        assert_eq!(response.status().as_u16(), 401, "attempt {n}");
    }
    let blocked = post_login(
        &daemon,
        "dora",
        PASSWORD,
        &[("X-Forwarded-For", "203.0.113.7")],
    );
    assert_eq!(blocked.status().as_u16(), 429);
    let elsewhere = post_login(
        &daemon,
        "dora",
        PASSWORD,
        &[("X-Forwarded-For", "203.0.113.8")],
    );
    assert_eq!(elsewhere.status().as_u16(), 303);
}

#[test]
fn sessions_survive_a_restart_and_end_on_sign_out_revocation_or_password_change() {
    let (dir, daemon) = start();
    let first = sign_in(&daemon, "alice", PASSWORD);
    let second = sign_in(&daemon, "alice", PASSWORD);
    let third = sign_in(&daemon, "alice", PASSWORD);
    let token = daemon.token.clone();
    daemon.terminate();
    let daemon = Daemon::start(dir.path(), token);
    let http = client();
    let status = |cookie: &str| {
        http.get(daemon.url("/api/v1/session"))
            .header("Cookie", cookie)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        status(&first.cookie),
        200,
        "the session survived the restart"
    );

    // The session list shows all three; revoking one ends it.
    let sessions: Vec<Value> = http
        .get(daemon.url("/api/v1/sessions"))
        .header("Cookie", &first.cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let revoked = http
        .delete(daemon.url(&format!("/api/v1/sessions/{}", second.id)))
        .header("Cookie", &first.cookie)
        .header("X-CSRF-Token", &first.csrf)
        .send()
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 204);
    assert_eq!(status(&second.cookie), 401);

    // Sign-out with the CSRF token ends the session and clears the cookie.
    let logout = http
        .post(daemon.url("/logout"))
        .header("Cookie", &first.cookie)
        .header("X-CSRF-Token", &first.csrf)
        .send()
        .unwrap();
    assert_eq!(logout.status().as_u16(), 303);
    assert!(logout.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(status(&first.cookie), 401);

    // A new password signs out the sessions opened before it.
    assert_eq!(status(&third.cookie), 200);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(set_password(dir.path(), "alice", "another good password")
        .status
        .success());
    assert_eq!(status(&third.cookie), 401);
}

#[test]
fn pages_carry_a_policy_without_inline_scripts_and_escape_what_was_typed() {
    let (_dir, daemon) = start();
    let session = sign_in(&daemon, "alice", PASSWORD);
    let http = client();
    for path in ["/", "/assets/js/app.js", "/assets/app.css", "/login"] {
        let response = http
            .get(daemon.url(path))
            .header("Cookie", &session.cookie)
            .send()
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            if path == "/login" { 303 } else { 200 },
            "{path}"
        );
        if path == "/login" {
            continue;
        }
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let scripts = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert_eq!(scripts.trim(), "script-src 'self'", "{path}: {csp}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    // The login page shows what was typed, escaped.
    let page = post_login(&daemon, "<script>alert(1)</script>", "x", &[])
        .text()
        .unwrap();
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert(1)"));
}

/// The status line of a WebSocket handshake to the events socket.
fn handshake(daemon: &Daemon, cookie: &str, origin: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(daemon.http).unwrap();
    let host = daemon.http.to_string();
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Cookie: {cookie}\r\nOrigin: {origin}\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line.trim().to_string()
}

#[test]
fn the_event_socket_takes_the_cookie_only_from_the_inbox_page_itself() {
    let (_dir, daemon) = start();
    let session = sign_in(&daemon, "alice", PASSWORD);
    let own = format!("http://{}", daemon.http);
    assert_eq!(
        handshake(&daemon, &session.cookie, &own),
        "HTTP/1.1 101 Switching Protocols"
    );
    assert!(
        handshake(&daemon, &session.cookie, "https://evil.example").contains(" 403 "),
        "another site's page cannot follow the events with the agent's cookie"
    );
    assert!(handshake(&daemon, "sb_session=forged", &own).contains(" 401 "));
}
