//! The web inbox in headless Chromium, channel rules and tickets: a
//! WhatsApp conversation outside its window offers only templates; ticket
//! cards move between stages and new ones appear live; attachments
//! download; a failed reply shows its reason and Retry sends it.

mod common;
#[path = "inbox_support/mod.rs"]
mod support;

use serde_json::{json, Value};

use common::browser::Browser;
use common::graph;
use common::smtp;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_outside_its_window_offers_only_templates_ticket_cards_move_attachments_download()
{
    let w = world();
    // A WhatsApp message written 25 hours ago: only templates may be sent.
    let written = (jiff::Timestamp::now().as_second() - 25 * 3600).to_string();
    let payload = json!({"object": "whatsapp_business_account", "entry": [{"id": "9009", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100", "phone_number_id": graph::PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "4915112345678"}],
            "messages": [{"from": "4915112345678", "id": "wamid.old.1", "timestamp": written,
                          "type": "text", "text": {"body": "Where is my order?"}}]}}]}]});
    let (status, body) = blocking(|| graph::post_wa(&w.daemon, &payload));
    assert_eq!(status, 200, "{body}");
    mail(
        &w.daemon,
        "ticket@example.net",
        "Broken hinge",
        "The hinge broke.",
    );
    mail(
        &w.daemon,
        "refund@example.net",
        "Refund for order 1042",
        "Please refund.",
    );
    mail(
        &w.daemon,
        "login@example.net",
        "Cannot log in",
        "Password reset fails.",
    );

    let b = Browser::start().await;
    browser_sign_in(&b, &w.daemon, "alice", PASSWORD).await;
    // Filter the list by channel kind: only the WhatsApp conversation.
    choose(&b, "#filter-kind", "whatsapp").await;
    wait_for_row(&b, "Sheena Nelson").await;
    let rows = b
        .client
        .execute(
            "return document.querySelectorAll('#conversations li[data-id]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rows, json!(1));
    open_row(&b, "Sheena Nelson").await;
    let composer = b
        .wait_for_js(
            "const t = document.getElementById('composer-text'); const n = document.getElementById('template-name');
             return n && [t.disabled, document.getElementById('send').disabled,
                          document.getElementById('send-reason').textContent,
                          document.getElementById('reply-window').textContent]",
            WAIT,
            "the template picker",
        )
        .await;
    assert_eq!(
        composer[0],
        json!(true),
        "free text is disabled: {composer}"
    );
    assert_eq!(
        composer[1],
        json!(false),
        "a template can be sent: {composer}"
    );
    assert!(
        composer[2].as_str().unwrap().contains("template"),
        "{composer}"
    );
    assert!(
        composer[3].as_str().unwrap().contains("window ended"),
        "{composer}"
    );
    // A private note is still possible.
    click(&b, "input[name=mode][value=note]").await;
    let note_enabled = b
        .client
        .execute("return !document.getElementById('composer-text').disabled && !document.getElementById('send').disabled", vec![])
        .await
        .unwrap();
    assert_eq!(note_enabled, json!(true));

    // The ticket board: each email opened a ticket in "new"; move one.
    b.client
        .goto(&w.daemon.url("/#/tickets/support"))
        .await
        .unwrap();
    let card = "[...document.querySelectorAll('.card')].find((c) => c.querySelector('a').textContent === 'Broken hinge')";
    let select = b
        .wait_for_js(
            &format!(
                "const card = {card}; return document.querySelectorAll('.column[data-stage=new] .card').length === 3 \
                 && card && card.closest('.column').dataset.stage === 'new' && card.querySelector('select').id"
            ),
            WAIT,
            "three ticket cards in stage new",
        )
        .await;
    let select = format!("#{}", select.as_str().unwrap());
    assert_accessible(&accessibility_violations(&b).await, "the ticket board");
    choose(&b, &select, "waiting_on_us").await;
    b.wait_for_js(
        &format!("const card = {card}; return card && card.closest('.column').dataset.stage === 'waiting_on_us'"),
        WAIT,
        "the card in its new column",
    )
    .await;
    b.screenshot(&screenshot_path("inbox-tickets.png")).await;
    let (_, tickets) = blocking(|| w.daemon.get("/api/v1/tickets?pipeline=support"));
    let moved: Vec<&Value> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["stage"] == "waiting_on_us")
        .collect();
    assert_eq!(moved.len(), 1, "{tickets}");
    let conversation = moved[0]["conversation"].as_str().unwrap().to_string();
    let (_, moved_conversation) = blocking(|| {
        w.daemon
            .get(&format!("/api/v1/conversations/{conversation}"))
    });
    assert_eq!(moved_conversation["subject"], "Broken hinge");
    // A new email's ticket appears on the open board without a reload.
    mail(
        &w.daemon,
        "live-ticket@example.net",
        "Screen flickers",
        "Flicker.",
    );
    b.wait_for_js(
        "return [...document.querySelectorAll('.column[data-stage=new] .card a')].some((a) => a.textContent === 'Screen flickers')",
        WAIT,
        "the new ticket on the board",
    )
    .await;

    // Attachments are links the agent can download with their session.
    let bytes: Vec<u8> = (0..3000u32).map(|n| (n % 251) as u8).collect();
    let with_file = common::mails::with_attachment(
        "file@customer.example",
        "Invoice attached",
        "invoice.pdf",
        &bytes,
    );
    let reply = blocking(|| {
        smtp::deliver(
            w.daemon.smtp,
            "dan@customer.example",
            &["support@example.com"],
            &with_file,
        )
    });
    assert_eq!(reply.code, 250);
    b.client.goto(&w.daemon.url("/#/inbox/all")).await.unwrap();
    wait_for_row(&b, "Invoice attached").await;
    open_row(&b, "Invoice attached").await;
    let download = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const a = document.querySelector('#timeline .attachments a');
             fetch(a.href).then((r) => r.arrayBuffer().then((buf) => done([a.getAttribute('download'), a.textContent, r.status, buf.byteLength])))
               .catch((e) => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(download, json!(["invoice.pdf", "invoice.pdf", 200, 3000]));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reply_shows_its_reason_and_retry_sends_it() {
    let w = world();
    w.relay.set_mode(common::relay::Mode::Reject);
    mail(
        &w.daemon,
        "retry@example.net",
        "Where is my parcel",
        "Still waiting.",
    );
    let b = Browser::start().await;
    browser_sign_in(&b, &w.daemon, "alice", PASSWORD).await;
    wait_for_row(&b, "Where is my parcel").await;
    open_row(&b, "Where is my parcel").await;
    fill(&b, "#composer-text", "It ships today. Retry-3141").await;
    click(&b, "#send").await;
    let reason = b
        .wait_for_js(
            "const li = [...document.querySelectorAll('#timeline li.msg')].find((li) => li.textContent.includes('Retry-3141') && li.querySelector('[data-state=failed]'));
             return li && li.querySelector('button.retry') && li.querySelector('.reason').textContent",
            WAIT,
            "the reply to fail with a reason and a Retry button",
        )
        .await;
    assert!(
        reason.as_str().unwrap().contains("relay policy"),
        "{reason}"
    );
    w.relay.set_mode(common::relay::Mode::Accept);
    click(&b, "button.retry").await;
    blocking(|| w.relay.wait_for_text("Retry-3141", WAIT));
    b.wait_for_js(
        "return [...document.querySelectorAll('#timeline li.msg')].some((li) => li.textContent.includes('Retry-3141') && li.querySelector('[data-state=sent], [data-state=delivered]'))",
        WAIT,
        "the retried reply to be sent",
    )
    .await;
    b.close().await;
}
