//! The web inbox in headless Chromium against the real daemon, the core
//! flow: an agent signs in, sees an email arrive live, replies (the
//! loopback relay gets the mail), adds a private note, assigns a colleague
//! and closes while the colleague's browser follows live; hostile email
//! HTML neither runs its script nor loads its remote image until asked;
//! after a lost connection the page resumes from the last event it saw.
//! axe-core finds no serious or critical problem; screenshots go to docs/.

mod common;
#[path = "inbox_support/mod.rs"]
mod support;

use std::io::Read;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use common::browser::Browser;
use common::graph::FakeGraph;
use common::relay::Relay;
use common::{smtp, Daemon};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_an_email_and_a_colleague_sees_the_assignment_live() {
    let w = world();
    let alice = Browser::start().await;
    browser_sign_in(&alice, &w.daemon, "alice", PASSWORD).await;
    // A marker that a reload would wipe.
    alice
        .client
        .execute("window.__notReloaded = true; return true;", vec![])
        .await
        .unwrap();

    mail(
        &w.daemon,
        "first@example.net",
        "Printer on fire",
        "It is smoking.\nHelp!",
    );
    mail(
        &w.daemon,
        "second@example.net",
        "Invoice question",
        "Why two invoices?",
    );
    wait_for_row(&alice, "Printer on fire").await;
    wait_for_row(&alice, "Invoice question").await;
    let not_reloaded = alice
        .client
        .execute("return window.__notReloaded === true", vec![])
        .await
        .unwrap();
    assert_eq!(
        not_reloaded,
        json!(true),
        "the list updated without a reload"
    );
    // Newest activity first, both unread.
    let order = alice
        .client
        .execute(
            "return [...document.querySelectorAll('#conversations li')].map((li) => [li.querySelector('.subject').textContent, li.classList.contains('unread')])",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(order[0], json!(["Invoice question", true]), "{order}");
    assert_eq!(order[1], json!(["Printer on fire", true]), "{order}");
    assert_accessible(&accessibility_violations(&alice).await, "the inbox list");
    alice.screenshot(&screenshot_path("inbox-list.png")).await;

    // Keyboard: j moves to the second row, Enter opens it.
    alice
        .client
        .find(fantoccini::Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("j")
        .await
        .unwrap();
    alice
        .wait_for_js(
            "const s = document.querySelector('#conversations li.selected'); return s && s.textContent.includes('Printer on fire')",
            WAIT,
            "j to select the second row",
        )
        .await;
    alice
        .client
        .execute(
            "document.querySelector('#conversations li.selected a').click(); return true;",
            vec![],
        )
        .await
        .unwrap();
    alice
        .wait_for_js(
            "return document.querySelector('.conv-head h1') && document.querySelector('.conv-head h1').textContent === 'Printer on fire'",
            WAIT,
            "the conversation to open",
        )
        .await;
    let hash = alice
        .client
        .execute("return location.hash", vec![])
        .await
        .unwrap();
    let conversation = hash
        .as_str()
        .unwrap()
        .trim_start_matches("#/c/")
        .to_string();

    // Carol opens the same conversation by its URL.
    let carol = Browser::start().await;
    browser_sign_in(&carol, &w.daemon, "carol", PASSWORD).await;
    carol
        .client
        .goto(&w.daemon.url(&format!("/#/c/{conversation}")))
        .await
        .unwrap();
    carol
        .wait_for_js(
            "return !!document.getElementById('assignee') && document.querySelector('#connection').dataset.state === 'live'",
            WAIT,
            "Carol's view of the conversation",
        )
        .await;

    // The composer previews the email's From name and signature.
    let preview = alice
        .client
        .execute(
            "return document.getElementById('email-preview').textContent",
            vec![],
        )
        .await
        .unwrap();
    let preview = preview.as_str().unwrap();
    assert!(
        preview.contains("Alice Admin at Example Inc <support@example.com>"),
        "{preview}"
    );
    assert!(preview.contains("Alice Admin (Alice)"), "{preview}");

    // Reply: the relay receives it; the status follows live to "sent".
    fill(
        &alice,
        "#composer-text",
        "We are sending a technician. Marker-7781",
    )
    .await;
    click(&alice, "#send").await;
    let sent = blocking(|| w.relay.wait_for_text("Marker-7781", WAIT));
    assert_eq!(sent.rcpt_to, vec!["customer@example.net".to_string()]);
    alice
        .wait_for_js(
            "return [...document.querySelectorAll('#timeline li.msg')].some((li) => li.textContent.includes('Marker-7781') && li.querySelector('[data-state=sent], [data-state=delivered]'))",
            WAIT,
            "the reply's status to become sent",
        )
        .await;
    // Shown once, even though it came back as an API answer and an event.
    let copies = alice
        .client
        .execute(
            "return [...document.querySelectorAll('#timeline li.msg')].filter((li) => li.textContent.includes('Marker-7781')).length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(copies, json!(1));

    // A private note, set apart, never mailed.
    click(&alice, "input[name=mode][value=note]").await;
    fill(
        &alice,
        "#composer-text",
        "Customer sounds upset; call back. Note-5521",
    )
    .await;
    click(&alice, "#send").await;
    alice
        .wait_for_js(
            "return [...document.querySelectorAll('#timeline li.msg.note')].some((li) => li.dataset.id && !li.dataset.id.startsWith('pending') && li.textContent.includes('Note-5521') && li.textContent.includes('Private note'))",
            WAIT,
            "the private note",
        )
        .await;
    let stored = blocking(|| w.daemon.messages(&conversation));
    let note = stored
        .iter()
        .find(|m| m["text"].as_str().unwrap_or("").contains("Note-5521"))
        .expect("the note is stored");
    assert_eq!(note["private"], true);
    // Carol sees the reply and the note arrive live.
    carol
        .wait_for_js(
            "return document.querySelector('#timeline').textContent.includes('Note-5521') && document.querySelector('#timeline').textContent.includes('Marker-7781')",
            WAIT,
            "Carol to see the reply and the note",
        )
        .await;

    // Assign to Carol and close; Carol's browser follows live.
    choose(&alice, "#assignee", "carol").await;
    alice
        .wait_for_js(
            "return document.getElementById('assignment-history') && document.getElementById('assignment-history').textContent.includes('Carol Colleague')",
            WAIT,
            "the assignment history",
        )
        .await;
    click(&alice, "#close").await;
    carol
        .wait_for_js(
            "return document.getElementById('assignee').value === 'carol' && document.getElementById('status').value === 'closed'",
            WAIT,
            "Carol to see the assignment and the close live",
        )
        .await;
    let final_state = blocking(|| {
        w.daemon
            .get(&format!("/api/v1/conversations/{conversation}"))
    })
    .1;
    assert_eq!(final_state["assignee"], "carol");
    assert_eq!(final_state["status"], "closed");
    // Only the reply went out by mail, not the note.
    assert!(blocking(|| w.relay.received())
        .iter()
        .all(|m| !m.data.contains("Note-5521")));

    assert_accessible(&accessibility_violations(&alice).await, "the conversation");
    alice
        .screenshot(&screenshot_path("inbox-conversation.png"))
        .await;

    // The back button returns to the list.
    alice.client.back().await.unwrap();
    alice
        .wait_for_js(
            "return !!document.getElementById('conversations')",
            WAIT,
            "the list after going back",
        )
        .await;
    carol.close().await;
    alice.close().await;
}

/// Counts the requests a loopback listener gets, by first line.
fn tripwire() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 2048];
            let n = stream.read(&mut buffer).unwrap_or(0);
            let request = String::from_utf8_lossy(&buffer[..n]);
            seen.lock()
                .unwrap()
                .push(request.lines().next().unwrap_or("").to_string());
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_html_runs_no_script_and_loads_no_remote_image_until_asked() {
    let w = world();
    let (port, hits) = tripwire();
    let html = format!(
        "<p id=\"hello\">Hello <b>agent</b></p>\
         <script>fetch('http://127.0.0.1:{port}/script'); parent.document.title = 'owned';</script>\
         <img src=\"http://127.0.0.1:{port}/pixel.gif\" alt=\"tracker\">\
         <img src=\"x\" onerror=\"fetch('http://127.0.0.1:{port}/onerror')\">"
    );
    let message = format!(
        "From: \"Eve Sender\" <eve@example.net>\r\nTo: support@example.com\r\nSubject: Hostile HTML\r\n\
         Message-ID: <hostile@example.net>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello agent\r\n\
         --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b1--\r\n"
    );
    let reply = blocking(|| {
        smtp::deliver(
            w.daemon.smtp,
            "eve@example.net",
            &["support@example.com"],
            &message,
        )
    });
    assert_eq!(reply.code, 250);

    let b = Browser::start().await;
    browser_sign_in(&b, &w.daemon, "alice", PASSWORD).await;
    wait_for_row(&b, "Hostile HTML").await;
    open_row(&b, "Hostile HTML").await;
    let frame = b
        .wait_for_js(
            "const f = document.querySelector('iframe.email-html'); return f && [f.getAttribute('sandbox'), f.srcdoc.includes('hello')]",
            WAIT,
            "the email's frame",
        )
        .await;
    let sandbox = frame[0].as_str().unwrap();
    assert!(
        !sandbox.contains("allow-scripts") && !sandbox.contains("allow-same-origin"),
        "{sandbox}"
    );
    // Give the frame time to load (and the tracker time to be requested,
    // were it allowed); the positive control below shows the frame does
    // load images once asked.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        hits.lock().unwrap().is_empty(),
        "{:?}",
        hits.lock().unwrap()
    );
    click(&b, "button.show-images").await;
    let deadline = std::time::Instant::now() + WAIT;
    while !hits
        .lock()
        .unwrap()
        .iter()
        .any(|h| h.contains("/pixel.gif"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the image never loaded after Show images"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = hits.lock().unwrap().clone();
    assert!(
        hits.iter()
            .all(|h| !h.contains("/script") && !h.contains("/onerror")),
        "{hits:?}"
    );
    let title = b
        .client
        .execute("return document.title", vec![])
        .await
        .unwrap();
    assert_ne!(title, json!("owned"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_connection_the_page_resumes_without_missing_or_doubling() {
    // The daemon restarts on the same HTTP port, as after an upgrade; the
    // page keeps its session (sessions are durable) and its place in the
    // event log.
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = blocking(Relay::start);
    let graph = blocking(FakeGraph::start);
    let config = support::config(dir.path(), relay.addr().port(), &graph.base_url());
    let http = "[http]\nlisten = \"127.0.0.1:0\"";
    assert!(config.contains(http));
    let config = config.replacen(http, &format!("[http]\nlisten = \"127.0.0.1:{port}\""), 1);
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    assert!(set_password(dir.path(), "alice", PASSWORD).status.success());
    let daemon = blocking(|| Daemon::start_with_config(dir.path(), ""));
    mail(&daemon, "before@example.net", "Before the restart", "one");

    let b = Browser::start().await;
    browser_sign_in(&b, &daemon, "alice", PASSWORD).await;
    wait_for_row(&b, "Before the restart").await;
    b.client
        .execute("window.__notReloaded = true; return true;", vec![])
        .await
        .unwrap();

    let token = daemon.token.clone();
    blocking(|| daemon.terminate());
    b.wait_for_js(
        "return document.querySelector('#connection').dataset.state !== 'live'",
        WAIT,
        "the page to notice the lost connection",
    )
    .await;
    let daemon = blocking(|| Daemon::start(dir.path(), token));
    // Written while the page may still be disconnected: it must arrive by
    // the replay from `since` or live, once either way.
    mail(&daemon, "during@example.net", "While reconnecting", "two");
    mail(
        &daemon,
        "during2@example.net",
        "Also while reconnecting",
        "three",
    );
    b.wait_for_js(
        "return document.querySelector('#connection').dataset.state === 'live'",
        WAIT,
        "the page to reconnect",
    )
    .await;
    wait_for_row(&b, "While reconnecting").await;
    wait_for_row(&b, "Also while reconnecting").await;
    mail(&daemon, "after@example.net", "After the reconnect", "four");
    wait_for_row(&b, "After the reconnect").await;
    let rows = b
        .client
        .execute(
            "return [window.__notReloaded === true, [...document.querySelectorAll('#conversations li[data-id]')].map((li) => li.querySelector('.subject').textContent)]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        json!([
            true,
            [
                "After the reconnect",
                "Also while reconnecting",
                "While reconnecting",
                "Before the restart"
            ]
        ]),
        "each conversation once, newest first, no reload"
    );
    b.close().await;
    drop(daemon);
}
