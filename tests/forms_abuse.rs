//! Web forms under abuse (issue 7): the honeypot, too-fresh, forged and
//! missing tokens dropped silently (and counted), an expired page told;
//! per-IP and per-email rate limits and the per-contact limit; CORS for
//! allowed origins only; malformed and oversized bodies; replays stored
//! once; and a generated token secret that survives a restart.

mod common;

use std::time::Duration;

use common::form::{
    self, browser, good_json, multipart, on_channel, post_json, post_multipart, start, urlencoded,
    Part, BOUNDARY,
};
use common::{http, Daemon};
use serde_json::{json, Value};

/// `switchboard_form_rejections_total` of one form and reason; every
/// series is there from the start (at 0).
fn rejections(d: &Daemon, channel: &str, reason: &str) -> u64 {
    d.metric(&format!(
        "switchboard_form_rejections_total{{channel=\"{channel}\",reason=\"{reason}\"}}"
    )) as u64
}

/// Bots: a filled honeypot, a token younger than 2 s, a forged token and,
/// on a form that requires one, no token: answered like a success, stored
/// nowhere, counted. An expired token is told (the page comes back).
#[test]
fn spam_is_dropped_silently_and_counted() {
    let (_dir, _relay, d) = start();
    assert_eq!(rejections(&d, "contact", "honeypot"), 0);
    let mut honeypot = good_json("bot1@example.com");
    honeypot["website"] = json!("http://cheap.example");
    let (status, answer) = post_json(&d, "/forms/contact", &honeypot);
    assert_eq!((status, answer["status"].as_str()), (201, Some("received")));
    let mut fresh = good_json("bot2@example.com");
    fresh["_form_token"] = json!(form::token("contact", 300));
    assert_eq!(post_json(&d, "/forms/contact", &fresh).0, 201);
    let mut forged = good_json("bot3@example.com");
    forged["_form_token"] = json!(form::token("hosted-only", 10_000));
    assert_eq!(post_json(&d, "/forms/contact", &forged).0, 201);
    let response = urlencoded(
        &d,
        "/forms/hosted-only",
        &[("email", "bot4@example.com"), ("message", "no token")],
    );
    assert_eq!(response.status(), 303, "like a success");
    assert!(d.all_conversations("").is_empty(), "nothing stored");
    assert_eq!(rejections(&d, "contact", "honeypot"), 1);
    assert_eq!(rejections(&d, "contact", "too_fast"), 1);
    assert_eq!(rejections(&d, "contact", "forged_token"), 1);
    assert_eq!(rejections(&d, "hosted-only", "missing_token"), 1);

    let mut old = good_json("late@example.com");
    old["_form_token"] = json!(form::token("contact", 7 * 3600 * 1000));
    let (status, answer) = post_json(&d, "/forms/contact", &old);
    assert_eq!(
        (status, answer["error"].as_str()),
        (422, Some("form_expired"))
    );
    // The hosted-only form takes a post with a good token.
    let response = urlencoded(
        &d,
        "/forms/hosted-only",
        &[
            ("email", "person@example.com"),
            ("message", "A real question"),
            ("_form_token", &form::token("hosted-only", 5_000)),
        ],
    );
    assert_eq!(response.status(), 303);
    assert_eq!(on_channel(&d, "hosted-only").len(), 1);
}

/// Per-email and per-IP limits: `429` with `Retry-After`; the page says
/// so to a browser.
#[test]
fn rate_limits_answer_429_with_retry_after() {
    let (_dir, _relay, d) = start();
    let post = |email: &str, text: &str| {
        post_json(
            &d,
            "/forms/limited",
            &json!({"email": email, "message": text}),
        )
    };
    assert_eq!(post("a@example.com", "first question").0, 201);
    assert_eq!(post("a@example.com", "second question").0, 201);
    let response = browser()
        .post(d.url("/forms/limited"))
        .json(&json!({"email": "a@example.com", "message": "third"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert!(
        body["message"].as_str().unwrap().contains("email address"),
        "{body}"
    );
    // The fourth post from this IP is over its limit of 3 per hour.
    let response = urlencoded(
        &d,
        "/forms/limited",
        &[("email", "b@example.com"), ("message", "hello")],
    );
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let html = response.text().unwrap();
    assert!(
        html.contains("Too many submissions from this address"),
        "{html}"
    );
    assert!(html.contains("role=\"alert\""), "{html}");
    assert_eq!(on_channel(&d, "limited").len(), 2);
}

/// Past `max_submissions_per_contact` (3 a day) the submission is refused
/// with a clear message; a replay of an earlier one and another person are
/// not affected.
#[test]
fn the_per_contact_limit_refuses_with_a_clear_message() {
    let (_dir, _relay, d) = start();
    let mut sent = Vec::new();
    for n in 0..3 {
        let mut body = good_json("eve@example.com");
        body["message"] = json!(format!("question {n}"));
        let (status, answer) = post_json(&d, "/forms/contact", &body);
        assert_eq!(status, 201);
        sent.push((body, answer));
    }
    let mut body = good_json("EVE@example.com");
    body["message"] = json!("question 4");
    let response = browser()
        .post(d.url("/forms/contact"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["error"], "submission_limit");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("3 times in the last 24 hours"),
        "{message}"
    );
    assert_eq!(on_channel(&d, "contact").len(), 3, "one conversation each");
    // A replay of a stored submission is still answered like the first time.
    let (first, answer) = &sent[0];
    assert_eq!(
        post_json(&d, "/forms/contact", first),
        (201, answer.clone())
    );
    assert_eq!(
        post_json(&d, "/forms/contact", &good_json("fay@example.com")).0,
        201
    );
}

/// CORS: an allowed origin's preflight and post get the headers; another
/// origin is refused before anything is stored.
#[test]
fn cors_is_for_allowed_origins_only() {
    let (_dir, _relay, d) = start();
    let preflight = |origin: &str| {
        http()
            .request(reqwest::Method::OPTIONS, d.url("/forms/contact"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .unwrap()
    };
    let allowed = preflight("https://www.example.com");
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://www.example.com"
    );
    assert!(allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("content-type"));
    let refused = preflight("https://evil.example");
    assert_eq!(refused.status(), 403);
    assert!(!refused
        .headers()
        .contains_key("access-control-allow-origin"));

    let response = browser()
        .post(d.url("/forms/contact"))
        .header("Origin", "https://www.example.com")
        .json(&good_json("site@example.com"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://www.example.com"
    );
    let response = browser()
        .post(d.url("/forms/contact"))
        .header("Origin", "https://evil.example")
        .json(&good_json("victim@example.com"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    let conversations = on_channel(&d, "contact");
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["contact"]["email"], "site@example.com");
}

/// Bad bodies get clear errors and the daemon keeps serving.
#[test]
fn malformed_and_oversized_bodies_are_refused_clearly() {
    let (_dir, _relay, d) = start();
    let raw = |content_type: &str, body: Vec<u8>| {
        let response = browser()
            .post(d.url("/forms/contact"))
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    assert_eq!(raw("application/json", b"{\"email\": ".to_vec()).0, 400);
    assert_eq!(raw("application/json", b"[1, 2]".to_vec()).0, 400);
    assert_eq!(raw("text/plain", b"email=x".to_vec()).0, 415);
    let (status, body) = raw(
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        b"--nonsense\r\nno headers".to_vec(),
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = post_json(&d, "/forms/nope", &good_json("x@example.com"));
    assert_eq!(status, 404);
    assert_eq!(
        http().get(d.url("/forms/nope")).send().unwrap().status(),
        404
    );

    // A file over max_file_bytes (4096): 413 naming the field.
    let big = vec![b'x'; 5000];
    let body = multipart(&[
        Part::Field("name", "Gus"),
        Part::Field("email", "gus@example.com"),
        Part::Field("message", "big file"),
        Part::File("attachment", "big.bin", "application/octet-stream", &big),
        Part::Field("_form_token", &form::token("contact", 10_000)),
    ]);
    let response = post_multipart(&d, "/forms/contact", body.clone(), true);
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["error"], "too_large");
    assert_eq!(answer["field"], "attachment");
    let response = post_multipart(&d, "/forms/contact", body, false);
    assert_eq!(response.status(), 413);
    let html = response.text().unwrap();
    assert!(html.contains("id=\"field-attachment-error\""), "{html}");
    assert!(html.contains("The file is too large"), "{html}");
    // A body over max_body_bytes (64 KiB).
    let (status, body) = raw("application/json", vec![b' '; 70_000]);
    assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));
    assert!(on_channel(&d, "contact").is_empty());
    assert_eq!(
        post_json(&d, "/forms/contact", &good_json("ok@example.com")).0,
        201
    );
    assert_eq!(http().get(d.url("/healthz")).send().unwrap().status(), 200);
}

/// A replayed post (same token, or same idempotency key, or the same
/// content the same day) is stored once and answered the same.
#[test]
fn replays_are_stored_once() {
    let (_dir, _relay, d) = start();
    let body = good_json("hal@example.com");
    let first = post_json(&d, "/forms/contact", &body);
    let again = post_json(&d, "/forms/contact", &body);
    assert_eq!(first.0, 201);
    assert_eq!(first, again, "the same answer");
    let mut changed = body.clone();
    changed["message"] = json!("A bot replaying the token with other text");
    assert_eq!(
        post_json(&d, "/forms/contact", &changed).1["id"],
        first.1["id"]
    );
    let keyed = |text: &str| {
        browser()
            .post(d.url("/forms/contact"))
            .header("Idempotency-Key", "order-77-retry")
            .json(&json!({"name": "Ida", "email": "ida@example.com", "message": text}))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap()
    };
    assert_eq!(keyed("first")["id"], keyed("second")["id"]);
    let plain = json!({"name": "Jo", "email": "jo@example.com", "message": "same text"});
    assert_eq!(
        post_json(&d, "/forms/contact", &plain).1["id"],
        post_json(&d, "/forms/contact", &plain).1["id"]
    );
    assert_eq!(on_channel(&d, "contact").len(), 3);
    let total: u64 = d
        .all_conversations("")
        .iter()
        .map(|c| c["message_count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);
}

/// Without `token_secret_file` the secret is generated once and kept in the
/// store: a page rendered before a restart still submits after it.
#[test]
fn a_generated_token_secret_survives_a_restart() {
    let (dir, _relay, d) = start();
    let page = http()
        .get(d.url("/forms/limited"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let token = form::page_token(&page);
    let admin = d.token.clone();
    assert_eq!(d.terminate(), Some(0));
    let d = Daemon::start(dir.path(), admin);
    std::thread::sleep(Duration::from_millis(2_200));
    let (status, answer) = post_json(
        &d,
        "/forms/limited",
        &json!({"email": "lee@example.com", "message": "after a restart", "_form_token": token}),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        on_channel(&d, "limited").len(),
        1,
        "stored, not dropped as forged"
    );
    let again = http()
        .get(d.url("/forms/limited"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_ne!(form::page_token(&again), token, "a fresh token per render");
}
