//! The hosted form page in a real browser (headless Chromium over
//! WebDriver): filled in with the keyboard (Tab to the next field, Enter
//! sends) and by clicking labels, submitted after the token's minimum fill
//! time, and found as a conversation through the API; sent with a required
//! field left empty, the page comes back with the error next to that field
//! and the error summary focused. Saves the screenshot `docs/form.png` (the
//! page with an error). On a phone-sized screen the page fits without
//! horizontal scrolling.

mod common;

use std::path::Path;
use std::time::Duration;

use common::browser::Browser;
use common::relay::Relay;
use common::Daemon;
use fantoccini::Locator;
use serde_json::Value;

/// WebDriver's codes for the Tab and Enter keys.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_page_works_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start();
    let config = common::form::config(dir.path(), relay.port);
    let d = tokio::task::spawn_blocking({
        let path = dir.path().to_path_buf();
        move || Daemon::start_with_config(&path, &config)
    })
    .await
    .unwrap();
    let b = Browser::start_sized(800, 1100).await;
    let c = &b.client;

    // First a submission without the required message, by keyboard only:
    // type the name, Tab to the email, type it, Enter sends the form.
    c.goto(&d.url("/forms/contact?page=%2Fpricing"))
        .await
        .unwrap();
    assert_eq!(c.title().await.unwrap(), "Contact Example Inc");
    c.find(Locator::Css("#field-name"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let name = c.active_element().await.unwrap();
    name.send_keys(&format!("Ann Lee{TAB}")).await.unwrap();
    let focused = c.active_element().await.unwrap().attr("id").await.unwrap();
    assert_eq!(
        focused.as_deref(),
        Some("field-email"),
        "Tab goes to the email"
    );
    let email = c.active_element().await.unwrap();
    email.send_keys("ann@example.com").await.unwrap();
    // A person takes longer than the 2 s minimum fill time.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    email.send_keys(ENTER).await.unwrap();
    b.wait_for_js(
        "return document.querySelector('#field-message-error') !== null",
        Duration::from_secs(20),
        "the error next to the message field",
    )
    .await;
    let error = c
        .find(Locator::Css("#field-message-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(error.contains("Please fill in this field"), "{error}");
    let describedby = c
        .find(Locator::Css("#field-message"))
        .await
        .unwrap()
        .attr("aria-describedby")
        .await
        .unwrap();
    assert_eq!(describedby.as_deref(), Some("field-message-error"));
    let focused = c
        .execute(
            "return document.activeElement && document.activeElement.id",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        focused,
        Value::from("error-summary"),
        "the summary takes focus"
    );
    let kept = c
        .find(Locator::Css("#field-name"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("Ann Lee"));
    // No CSP violation: the stylesheet applied (the honeypot is hidden).
    let honeypot_hidden = c
        .execute(
            "return getComputedStyle(document.querySelector('.hp')).display === 'none'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(honeypot_hidden, Value::Bool(true));
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/form.png");
    b.screenshot(&docs).await;

    // Fix it and send: the thank-you page, then the conversation.
    c.find(Locator::Css("#field-message"))
        .await
        .unwrap()
        .send_keys("My invoice shows the wrong VAT number.")
        .await
        .unwrap();
    c.find(Locator::Css("label[for=field-topic]"))
        .await
        .unwrap();
    c.find(Locator::Css("#field-topic option[value='Billing']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("label[for=field-newsletter]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for_js(
        "return location.pathname === '/forms/contact/thanks'",
        Duration::from_secs(20),
        "the thank-you page",
    )
    .await;
    let status = c
        .find(Locator::Css("[role=status]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("We received your message"), "{status}");
    b.close().await;

    let found = tokio::task::spawn_blocking(move || {
        let conversations: Vec<Value> = d
            .all_conversations("")
            .into_iter()
            .filter(|c| c["channel"] == "contact")
            .collect();
        let messages = d.messages(conversations[0]["id"].as_str().unwrap());
        (conversations, messages)
    })
    .await
    .unwrap();
    let (conversations, messages) = found;
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["contact"]["email"], "ann@example.com");
    let text = messages[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("My invoice shows the wrong VAT number."),
        "{text}"
    );
    assert!(text.contains("Topic: Billing"), "{text}");
    assert!(text.contains("Send me the newsletter: Yes"), "{text}");
    assert!(!text.contains("/pricing"), "hidden fields stay out: {text}");
    drop(relay);
}

/// On a phone-sized screen the page is one column with nothing wider than
/// the screen, and the inputs use the width.
#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_page_fits_a_phone() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start();
    let config = common::form::config(dir.path(), relay.port);
    let d = tokio::task::spawn_blocking({
        let path = dir.path().to_path_buf();
        move || Daemon::start_with_config(&path, &config)
    })
    .await
    .unwrap();
    let b = Browser::start_sized(390, 844).await;
    b.client.goto(&d.url("/forms/contact")).await.unwrap();
    let fits = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, Value::Bool(true), "no horizontal scrolling");
    let widths = b
        .client
        .execute(
            "const w = document.querySelector('#field-email').getBoundingClientRect().width; \
             return [w, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let input = widths[0].as_f64().unwrap();
    let screen = widths[1].as_f64().unwrap();
    assert!(
        input > screen * 0.8,
        "input {input} px on a {screen} px screen"
    );
    b.close().await;
    drop(d);
    drop(relay);
}
