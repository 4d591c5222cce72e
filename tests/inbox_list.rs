//! The web inbox in headless Chromium, working the list: the keys (j/k,
//! Enter, r, a, e), the availability toggle, the contact panel (owner,
//! merge), paging with the API's cursor; and on a phone-sized screen: the
//! login page, wrong passwords and CSRF-less changes refused, sign-out.

mod common;
#[path = "inbox_support/mod.rs"]
mod support;

use serde_json::json;

use common::browser::Browser;
use common::smtp;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_assign_and_close_and_the_contact_panel_edits_the_owner_and_merges() {
    let w = world();
    mail(
        &w.daemon,
        "keys@example.net",
        "Printer jammed",
        "Paper stuck.",
    );
    let duplicate = common::mails::simple(
        "dup@example.org",
        "other@example.org",
        "support@example.com",
        "Same person, other address",
        "It is me again.",
    );
    let reply = blocking(|| {
        smtp::deliver(
            w.daemon.smtp,
            "other@example.org",
            &["support@example.com"],
            &duplicate,
        )
    });
    assert_eq!(reply.code, 250);
    let b = Browser::start().await;
    browser_sign_in(&b, &w.daemon, "alice", PASSWORD).await;
    wait_for_row(&b, "Printer jammed").await;
    wait_for_row(&b, "Same person, other address").await;

    // Availability toggle in the header.
    let before = b
        .client
        .execute(
            "return document.getElementById('availability').getAttribute('aria-pressed')",
            vec![],
        )
        .await
        .unwrap();
    click(&b, "#availability").await;
    let after = if before == json!("true") {
        "false"
    } else {
        "true"
    };
    b.wait_for_js(
        &format!("return document.getElementById('availability').getAttribute('aria-pressed') === '{after}'"),
        WAIT,
        "the availability to toggle",
    )
    .await;
    let (_, agents) = blocking(|| w.daemon.get("/api/v1/agents"));
    let alice = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "alice")
        .unwrap();
    assert_eq!(alice["available"], json!(after == "true"));

    // `a` assigns the selected (newest) conversation to me, `e` closes it.
    let body = b
        .client
        .find(fantoccini::Locator::Css("body"))
        .await
        .unwrap();
    body.send_keys("a").await.unwrap();
    b.wait_for_js(
        "const s = document.querySelector('#conversations li.selected'); return s && s.textContent.includes('Alice Admin')",
        WAIT,
        "a to assign the selected conversation to me",
    )
    .await;
    body.send_keys("e").await.unwrap();
    b.wait_for_js(
        "return ![...document.querySelectorAll('#conversations li')].some((li) => li.textContent.includes('Same person, other address'))",
        WAIT,
        "e to close it (it leaves the open list)",
    )
    .await;
    let closed = blocking(|| w.daemon.all_conversations("&status=closed"));
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["subject"], "Same person, other address");
    assert_eq!(closed[0]["assignee"], "alice");

    // `r` opens the selected conversation with the reply box focused.
    body.send_keys("r").await.unwrap();
    b.wait_for_js(
        "return document.querySelector('.conv-head h1') && document.querySelector('.conv-head h1').textContent === 'Printer jammed' && document.activeElement && document.activeElement.id === 'composer-text'",
        WAIT,
        "r to open the reply box",
    )
    .await;

    // The contact panel: owner, then merge the other address in.
    b.wait_for_js(
        "return !!document.getElementById('contact-owner')",
        WAIT,
        "the contact panel",
    )
    .await;
    choose(&b, "#contact-owner", "carol").await;
    let (_, conversation) = blocking(|| w.daemon.get("/api/v1/conversations?status=open"));
    let contact = conversation["conversations"][0]["contact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = blocking(|| {
        common::eventually("the owner to change", WAIT, || {
            let (_, c) = w.daemon.get(&format!("/api/v1/contacts/{contact}"));
            if c["owner"] == "carol" {
                Ok(c)
            } else {
                Err(c.to_string())
            }
        })
    });
    assert_eq!(owner["owner"], "carol");
    fill(&b, "#merge-search", "other@example.org").await;
    b.client
        .execute(
            "document.querySelector('#merge-search').form.requestSubmit(); return true;",
            vec![],
        )
        .await
        .unwrap();
    b.wait_for_js(
        "return !!document.querySelector('#merge-results button')",
        WAIT,
        "a merge candidate",
    )
    .await;
    click(&b, "#merge-results button").await;
    b.wait_for_js(
        "const ids = document.getElementById('identities'); return ids && ids.textContent.includes('other@example.org') && ids.textContent.includes('customer@example.net')",
        WAIT,
        "both addresses on the merged contact",
    )
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_pages_with_the_api_cursor() {
    let w = world();
    for n in 0..27 {
        mail(
            &w.daemon,
            &format!("page{n}@example.net"),
            &format!("Paged question {n:02}"),
            "Hello.",
        );
    }
    let b = Browser::start().await;
    browser_sign_in(&b, &w.daemon, "alice", PASSWORD).await;
    let first = b
        .wait_for_js(
            "const rows = document.querySelectorAll('#conversations li[data-id]'); return rows.length === 25 && !!document.getElementById('load-more') && rows[0].textContent",
            WAIT,
            "the first page of 25 with Load more",
        )
        .await;
    assert!(
        first.as_str().unwrap().contains("Paged question 26"),
        "newest first: {first}"
    );
    click(&b, "#load-more").await;
    let last = b
        .wait_for_js(
            "const rows = document.querySelectorAll('#conversations li[data-id]'); return rows.length === 27 && !document.getElementById('load-more') && rows[26].textContent",
            WAIT,
            "all 27 after Load more, and no more button",
        )
        .await;
    assert!(
        last.as_str().unwrap().contains("Paged question 00"),
        "{last}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_sign_in_refuses_wrong_passwords_and_csrf_less_changes_and_signs_out() {
    let w = world();
    mail(
        &w.daemon,
        "phone@example.net",
        "Small screen",
        "Hello from a phone.",
    );
    let b = Browser::start_sized(390, 844).await;
    // A wrong password keeps the agent on the login page with the reason.
    b.client.goto(&w.daemon.url("/login")).await.unwrap();
    fill(&b, "#agent", "alice").await;
    fill(&b, "#password", "not my password").await;
    click(&b, "button[type=submit]").await;
    let refused = b
        .wait_for_js(
            "const e = document.getElementById('login-error'); return e && [location.pathname, e.textContent]",
            WAIT,
            "the sign-in error",
        )
        .await;
    assert_eq!(refused, json!(["/login", "Wrong agent or password."]));
    assert_accessible(&accessibility_violations(&b).await, "the login page");
    browser_sign_in(&b, &w.daemon, "alice", PASSWORD).await;
    wait_for_row(&b, "Small screen").await;
    // The page's own cookie without the CSRF header cannot change anything.
    let statuses = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const id = document.querySelector('#conversations li[data-id]').dataset.id;
             const send = (headers) => fetch('/api/v1/conversations/' + id, { method: 'PATCH', credentials: 'same-origin',
               headers: Object.assign({ 'Content-Type': 'application/json' }, headers), body: JSON.stringify({ assignee: 'alice' }) });
             send({}).then((a) => fetch('/api/v1/session').then((r) => r.json()).then((me) =>
               send({ 'X-CSRF-Token': me.csrf_token }).then((b) => done([a.status, b.status]))));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(statuses, json!([403, 200]));
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, json!(true), "no sideways scrolling on the list");
    open_row(&b, "Small screen").await;
    let fits = b
        .client
        .execute(
            "const r = document.getElementById('composer-text').getBoundingClientRect(); return r.width > 200 && r.right <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the composer fits the screen");
    assert_accessible(
        &accessibility_violations(&b).await,
        "the conversation on a phone",
    );
    // Sign out: back to the login page, and the app needs signing in again.
    click(&b, "#sign-out").await;
    b.wait_for_js(
        "return location.pathname === '/login' && !!document.getElementById('password')",
        WAIT,
        "the login page after signing out",
    )
    .await;
    b.client.goto(&w.daemon.url("/")).await.unwrap();
    b.wait_for_js(
        "return location.pathname === '/login'",
        WAIT,
        "the app to send a signed-out browser to the login page",
    )
    .await;
    b.close().await;
}
