//! Web forms end to end (issue 7): the real daemon with three forms, posted
//! to as browsers and sites' scripts do: urlencoded from the hosted page,
//! multipart with a file, and JSON; hidden fields kept out of the text but
//! shown by the API; validation errors per field; and an agent's answer
//! reaching the loopback relay as an email. Spam, limits, CORS and bad
//! input are in tests/forms_abuse.rs; the page in a browser in
//! tests/forms_browser.rs.

mod common;

use std::time::Duration;

use common::form::{
    self, browser, good_json, multipart, on_channel, only_message, post_json, post_multipart,
    start, urlencoded, Part,
};
use common::http;
use serde_json::{json, Value};

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
    let contact = conversation["contact"]["id"].as_str().unwrap();
    let (_, contact) = d.get(&format!("/api/v1/contacts/{contact}"));
    assert_eq!(contact["phone"], "+44 20 7946 0958", "{contact}");
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
