//! Web forms end to end (issue 7): the real daemon with three forms, posted
//! to as browsers, sites' scripts and bots do: urlencoded, multipart with a
//! file, and JSON; hidden fields kept out of the text but shown by the API;
//! validation errors per field; the honeypot, too-fresh, forged and missing
//! tokens dropped silently; rate limits and the per-contact limit; CORS;
//! malformed and oversized bodies; replays stored once; and an agent's
//! answer reaching the loopback relay as an email.

mod common;

use std::time::Duration;

use common::form::{self, multipart, Part, BOUNDARY};
use common::relay::Relay;
use common::{http, Daemon};
use reqwest::blocking::Response;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

fn start() -> (tempfile::TempDir, Relay, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start();
    let config = form::config(dir.path(), relay.port);
    let daemon = Daemon::start_with_config(dir.path(), &config);
    (dir, relay, daemon)
}

/// A client that does not follow redirects (to see the `303`).
fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn urlencoded(d: &Daemon, path: &str, pairs: &[(&str, &str)]) -> Response {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    browser()
        .post(d.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap()
}

fn post_json(d: &Daemon, path: &str, body: &Value) -> (u16, Value) {
    let response = browser().post(d.url(path)).json(body).send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn post_multipart(d: &Daemon, path: &str, body: Vec<u8>, json: bool) -> Response {
    let mut request = browser().post(d.url(path)).header(
        "Content-Type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if json {
        request = request.header("Accept", "application/json");
    }
    request.body(body).send().unwrap()
}

/// Conversations on `channel`.
fn on_channel(d: &Daemon, channel: &str) -> Vec<Value> {
    d.all_conversations("")
        .into_iter()
        .filter(|c| c["channel"] == channel)
        .collect()
}

fn only_message(d: &Daemon, channel: &str) -> Value {
    let conversations = on_channel(d, channel);
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    let messages = d.messages(conversations[0]["id"].as_str().unwrap());
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages.into_iter().next().unwrap()
}

fn good_json(email: &str) -> Value {
    json!({"name": "Ann Lee", "email": email, "subject": "Invoice 1042",
           "message": "The invoice shows the wrong VAT number.",
           "_form_token": form::token("contact", 10_000)})
}

/// The hosted page, then a browser's urlencoded post of it once the token
/// is old enough: `303` to the thank-you page, one conversation with the
/// contact, subject and text, hidden fields kept apart.
#[test]
fn the_hosted_page_posts_urlencoded_into_a_conversation() {
    let (_dir, _relay, d) = start();
    let page = browser()
        .get(d.url("/forms/contact?page=%2Fpricing&utm=x"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().unwrap();
    assert!(
        html.contains("<label for=\"field-email\">Email address"),
        "{html}"
    );
    assert!(
        html.contains("aria-describedby=\"field-email-help\""),
        "{html}"
    );
    assert!(html.contains("<input type=\"hidden\" name=\"page\" value=\"/pricing\">"));
    assert!(html.contains("<input type=\"hidden\" name=\"campaign\" value=\"none\">"));
    assert!(
        !html.contains("name=\"utm\""),
        "only configured hidden fields"
    );
    assert!(!html.contains("<script"), "no script at all");
    assert!(
        html.contains("enctype=\"multipart/form-data\""),
        "it has a file field"
    );
    let token = form::page_token(&html);
    let css = http().get(d.url("/forms/assets/form.css")).send().unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));

    // A person takes longer than the 2 s minimum to fill the form in.
    std::thread::sleep(Duration::from_millis(2_200));
    let response = urlencoded(
        &d,
        "/forms/contact",
        &[
            ("name", "Ann Lee"),
            ("email", "Ann.Lee@Example.com"),
            ("subject", "Wrong invoice"),
            ("topic", "Billing"),
            ("phone", "+44 20 7946 0958"),
            ("message", "Invoice 1042 has the wrong VAT number."),
            ("newsletter", "on"),
            ("page", "/pricing"),
            ("campaign", "none"),
            ("website", ""),
            ("_form_token", &token),
        ],
    );
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/forms/contact/thanks");
    let thanks = http().get(d.url("/forms/contact/thanks")).send().unwrap();
    assert_eq!(thanks.status(), 200);
    assert!(thanks.text().unwrap().contains("We received your message"));

    let conversations = on_channel(&d, "contact");
    assert_eq!(conversations.len(), 1);
    let conversation = &conversations[0];
    assert_eq!(conversation["subject"], "Wrong invoice");
    assert_eq!(conversation["inbox"], "support");
    assert_eq!(conversation["contact"]["email"], "ann.lee@example.com");
    assert_eq!(conversation["contact"]["name"], "Ann Lee");
    let message = only_message(&d, "contact");
    assert_eq!(
        message["text"],
        "Invoice 1042 has the wrong VAT number.\n\nTopic: Billing\nPhone: +44 20 7946 0958\n\
         Send me the newsletter: Yes"
    );
    assert!(!message["text"].as_str().unwrap().contains("/pricing"));
    let (status, submission) = d.get(&format!(
        "/api/v1/messages/{}/submission",
        message["id"].as_str().unwrap()
    ));
    assert_eq!(status, 200, "{submission}");
    let page_field = submission["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "page")
        .unwrap();
    assert_eq!(page_field["hidden"], true);
    assert_eq!(page_field["value"], "/pricing");
    assert_eq!(submission["form"], "contact");
}

/// Multipart with a file: stored as an attachment and downloadable; JSON
/// answer when asked for.
#[test]
fn a_multipart_upload_is_stored_and_downloadable() {
    let (_dir, _relay, d) = start();
    let token = form::token("contact", 10_000);
    let pdf = b"%PDF-1.4 a small test document";
    let body = multipart(&[
        Part::Field("name", "Bo Chen"),
        Part::Field("email", "bo@example.org"),
        Part::Field("message", "Screenshot of the error attached."),
        Part::Field("topic", "Technical problem"),
        Part::File("attachment", "error report.pdf", "application/pdf", pdf),
        Part::Field("_form_token", &token),
    ]);
    let response = post_multipart(&d, "/forms/contact", body, true);
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["status"], "received");
    let message = only_message(&d, "contact");
    assert_eq!(answer["id"], message["id"]);
    assert_eq!(
        message["subject"], "Contact Example Inc",
        "no subject: the title"
    );
    assert!(message["text"]
        .as_str()
        .unwrap()
        .contains("Screenshot or document: error report.pdf (attached)"));
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["name"], "error report.pdf");
    assert_eq!(attachment["content_type"], "application/pdf");
    let download = http()
        .get(d.url(&format!(
            "/api/v1/messages/{}/attachments/0",
            message["id"].as_str().unwrap()
        )))
        .bearer_auth(&d.token)
        .send()
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().unwrap().as_ref(), pdf);
    let submission = d
        .get(&format!(
            "/api/v1/messages/{}/submission",
            message["id"].as_str().unwrap()
        ))
        .1;
    assert_eq!(submission["files"][0]["size"], pdf.len());
    // An empty file input (no file chosen) is no attachment.
    let body = multipart(&[
        Part::Field("name", "Bo Chen"),
        Part::Field("email", "bo2@example.org"),
        Part::Field("message", "No file this time."),
        Part::File("attachment", "", "application/octet-stream", b""),
        Part::Field("_form_token", &form::token("contact", 10_000)),
    ]);
    assert_eq!(
        post_multipart(&d, "/forms/contact", body, false).status(),
        303
    );
}

/// JSON: `201`, hidden fields through the API only, the hidden default.
#[test]
fn a_json_post_keeps_hidden_fields_out_of_the_text() {
    let (_dir, _relay, d) = start();
    let mut body = good_json("cy@example.net");
    body["page"] = json!("/checkout?step=2");
    body["newsletter"] = json!(false);
    let (status, answer) = post_json(&d, "/forms/contact", &body);
    assert_eq!(status, 201, "{answer}");
    let message = only_message(&d, "contact");
    assert_eq!(message["id"], answer["id"]);
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("The invoice shows the wrong VAT number."),
        "{text}"
    );
    assert!(text.contains("Send me the newsletter: No"), "{text}");
    assert!(
        !text.contains("checkout") && !text.contains("none"),
        "{text}"
    );
    let (_, submission) = d.get(&format!(
        "/api/v1/messages/{}/submission",
        message["id"].as_str().unwrap()
    ));
    let value = |name: &str| {
        submission["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["value"].clone())
    };
    assert_eq!(value("page"), Some(json!("/checkout?step=2")));
    assert_eq!(value("campaign"), Some(json!("none")), "the default value");
    // Not a form message: no submission.
    let (status, _) = d.get("/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/submission");
    assert_eq!(status, 404);
}

/// Invalid fields: `422` with one message per field; a browser gets the
/// page back with each error next to its field and the values kept.
#[test]
fn validation_errors_are_given_per_field() {
    let (_dir, _relay, d) = start();
    let body = json!({"name": "Visit http://spam.example", "email": "not-an-email",
        "topic": "Free money", "phone": "call me", "_form_token": form::token("contact", 10_000)});
    let (status, answer) = post_json(&d, "/forms/contact", &body);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "invalid");
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "email", "topic", "phone", "message"]);
    assert!(on_channel(&d, "contact").is_empty());

    let token = form::token("contact", 10_000);
    let response = urlencoded(
        &d,
        "/forms/contact",
        &[
            ("name", "Dee"),
            ("email", "dee@example"),
            ("message", ""),
            ("_form_token", &token),
        ],
    );
    assert_eq!(response.status(), 422);
    let html = response.text().unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("id=\"field-email-error\""), "{html}");
    assert!(html.contains("aria-describedby=\"field-email-help field-email-error\""));
    assert!(html.contains("id=\"field-message-error\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(html.contains("value=\"Dee\""), "values are kept");
    assert_eq!(form::page_token(&html), token, "the page keeps its token");
    assert!(on_channel(&d, "contact").is_empty());
}

fn rejections(d: &Daemon, reason: &str) -> u64 {
    let text = http()
        .get(d.url("/metrics"))
        .bearer_auth(&d.token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with("switchboard_form_rejections_total")
                && l.contains(&format!("reason=\"{reason}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Bots: a filled honeypot, a token younger than 2 s, a forged token and,
/// on a form that requires one, no token: answered like a success, stored
/// nowhere, counted. An expired token is told (the page comes back).
#[test]
fn spam_is_dropped_silently_and_counted() {
    let (_dir, _relay, d) = start();
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
    assert_eq!(rejections(&d, "honeypot"), 1);
    assert_eq!(rejections(&d, "too_fast"), 1);
    assert_eq!(rejections(&d, "forged_token"), 1);
    assert_eq!(rejections(&d, "missing_token"), 1);

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
/// with a clear message; another person is not affected.
#[test]
fn the_per_contact_limit_refuses_with_a_clear_message() {
    let (_dir, _relay, d) = start();
    for n in 0..3 {
        let mut body = good_json("eve@example.com");
        body["message"] = json!(format!("question {n}"));
        assert_eq!(post_json(&d, "/forms/contact", &body).0, 201);
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

/// An agent answers through the reply API: the answer is an email from the
/// `reply_via` channel to the person's address, threaded to the submission.
#[test]
fn an_answer_goes_out_by_email_through_reply_via() {
    let (_dir, relay, d) = start();
    let (status, _) = post_json(&d, "/forms/contact", &good_json("kim@example.com"));
    assert_eq!(status, 201);
    let conversation = on_channel(&d, "contact")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = d.reply(
        &conversation,
        json!({"text": "Thanks Ann, we corrected the VAT number: marker-7f3"}),
    );
    d.wait_for_state(&conversation, reply["id"].as_str().unwrap(), "sent");
    let mail = relay.wait_for_text("marker-7f3", Duration::from_secs(30));
    assert_eq!(mail.rcpt_to, ["kim@example.com"]);
    let from = mail.header("From").unwrap();
    assert!(from.contains("support@example.com"), "{from}");
    assert_eq!(mail.header("Subject").unwrap(), "Re: Invoice 1042");
    let reply_to = mail.header("Reply-To").unwrap();
    assert!(reply_to.contains("support+c"), "{reply_to}");
    assert!(mail
        .header("In-Reply-To")
        .unwrap()
        .contains("@form.invalid"));
    // The person answers the email: it joins the form's conversation.
    let address = reply_to.trim_matches(|c| c == '<' || c == '>').to_string();
    let mail = common::mails::simple(
        "answer-1@example.com",
        "kim@example.com",
        &address,
        "Re: Invoice 1042",
        "Thank you!",
    );
    let answer = common::smtp::deliver(d.smtp, "kim@example.com", &[&address], &mail);
    assert_eq!(answer.code, 250, "{answer:?}");
    assert_eq!(d.messages(&conversation).len(), 3);
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
