//! The widget in a real browser: headless Chromium opens a shop page on a
//! loopback server that embeds `widget.js` from the daemon; the visitor
//! opens the launcher, writes, sees the agent's answer live, and finds the
//! same history after a reload. Saves `docs/widget.png`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::browser::Browser;
use common::chat::{chat_config, ORIGIN};
use common::{eventually, test_config, Daemon};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// Serves `html` for every request on a loopback port (a thread per
/// connection, closed after one answer).
fn page_server(html: impl Fn() -> String + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = html();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let path = String::from_utf8_lossy(&request);
            let (status, body) = if path.starts_with("GET / ") {
                ("200 OK", body)
            } else {
                ("404 Not Found", String::new())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn shop_page(daemon_port: u16) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  /* Hostile page CSS: the widget's shadow root must not care. */
  body {{ font-family: Georgia, serif; margin: 0; background: #faf7f2; color: #333; }}
  button {{ background: hotpink !important; font-size: 30px !important; }}
  div {{ border: 2px dashed orange; }}
  header.site {{ background: #222; color: #fff; padding: 18px 40px; font-size: 22px; }}
  main {{ padding: 30px 40px; max-width: 700px; }}
</style></head>
<body>
<header class="site">Example Shop</header>
<main><h1>Trail running shoes</h1>
<p>Light, grippy and made to last. Free returns within 30 days.</p>
<p><strong>€129</strong></p></main>
<script src="http://127.0.0.1:{daemon_port}/widget.js" data-channel="web" async></script>
</body></html>"#
    )
}

/// Blocking daemon calls from the async test.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

const ROOT: &str = "document.querySelector('#switchboard-chat').shadowRoot";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_through_the_widget_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let daemon_port = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
    let port_for_page = daemon_port.clone();
    let page_port =
        page_server(move || shop_page(port_for_page.load(std::sync::atomic::Ordering::SeqCst)));
    let page_origin = format!("http://127.0.0.1:{page_port}");
    let config = chat_config(dir.path(), test_config(1024 * 1024), "").replacen(
        &format!("allowed_origins = [\"{ORIGIN}\"]"),
        &format!("allowed_origins = [\"{ORIGIN}\", \"{page_origin}\"]"),
        1,
    );
    let d = blocking(|| Daemon::start_with_config(dir.path(), &config));
    daemon_port.store(d.http.port(), std::sync::atomic::Ordering::SeqCst);

    let b = Browser::start().await;
    b.client.goto(&format!("{page_origin}/")).await.unwrap();
    // The launcher takes the channel's colour (#0b7285) from the config endpoint.
    b.wait_for_js(
        &format!(
            "const r = {ROOT}; const l = r && r.querySelector('.launcher');\n\
             return l && getComputedStyle(l).backgroundColor === 'rgb(11, 114, 133)' \
             && l.getAttribute('aria-label') === 'Open chat with Example Support';"
        ),
        WAIT,
        "the launcher in the channel's colour",
    )
    .await;
    let host = b
        .client
        .find(Locator::Css("#switchboard-chat"))
        .await
        .unwrap();
    let root = host.shadow_root().await.unwrap();
    root.find(Locator::Css(".launcher"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Focus moves into the panel; the greeting shows.
    b.wait_for_js(
        &format!(
            "const r = {ROOT}; return !r.querySelector('.panel').hidden \
             && r.activeElement && r.activeElement.id === 'sb-input' \
             && r.querySelector('.launcher').getAttribute('aria-expanded') === 'true' \
             && r.querySelector('.log').textContent.includes('Hi! Ask us anything.');"
        ),
        WAIT,
        "the open panel with focus in the message box",
    )
    .await;
    let input = root.find(Locator::Css("#sb-input")).await.unwrap();
    input.send_keys("Do these shoes run small?").await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    b.wait_for_js(
        &format!("return !!{ROOT}.querySelector('.msg.visitor[data-id]:not(.pending)');"),
        WAIT,
        "the message acknowledged",
    )
    .await;

    // The agent sees it through the API and answers.
    let conversation = blocking(|| {
        eventually("the chat in the inbox", WAIT, || {
            d.all_conversations("")
                .into_iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .find(|id| {
                    d.messages(id)
                        .iter()
                        .any(|m| m["text"] == "Do these shoes run small?")
                })
                .ok_or_else(|| "not yet".to_string())
        })
    });
    blocking(|| {
        d.patch(
            &format!("/api/v1/conversations/{conversation}"),
            &json!({"assignee": "alice"}),
        );
        let (status, _) = d.post(
            &format!("/api/v1/conversations/{conversation}/typing"),
            &json!({"typing": true}),
        );
        assert_eq!(status, 202);
    });
    b.wait_for_js(
        &format!(
            "return {ROOT}.querySelector('.typing').textContent.includes('Alice Admin is typing');"
        ),
        WAIT,
        "the typing indicator",
    )
    .await;
    let reply: Value = blocking(|| {
        d.reply(
            &conversation,
            json!({"text": "They run true to size. Take your usual size."}),
        )
    });
    b.wait_for_js(
        &format!(
            "return [...{ROOT}.querySelectorAll('.msg.agent')].some(m => m.textContent.includes('They run true to size'));"
        ),
        WAIT,
        "the agent's reply in the page",
    )
    .await;
    // The widget says it was shown: delivered.
    let id = reply["id"].as_str().unwrap().to_string();
    blocking(|| d.wait_for_state(&conversation, &id, "delivered"));
    b.screenshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/widget.png"))
        .await;

    // Escape closes the panel and gives focus back to the launcher.
    input.send_keys(&Key::Escape.to_string()).await.unwrap();
    b.wait_for_js(
        &format!(
            "const r = {ROOT}; return r.querySelector('.panel').hidden \
             && r.activeElement === r.querySelector('.launcher');"
        ),
        WAIT,
        "focus back on the launcher",
    )
    .await;

    // A reload continues the same conversation, nothing doubled.
    b.client.refresh().await.unwrap();
    b.wait_for_js(
        &format!("const r = {ROOT}; return !!(r && r.querySelector('.launcher'));"),
        WAIT,
        "the launcher after the reload",
    )
    .await;
    let host = b
        .client
        .find(Locator::Css("#switchboard-chat"))
        .await
        .unwrap();
    let root = host.shadow_root().await.unwrap();
    root.find(Locator::Css(".launcher"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let texts = b
        .wait_for_js(
            &format!(
                "const m = [...{ROOT}.querySelectorAll('.msg')].map(e => e.textContent);\n\
                 return m.some(t => t.includes('They run true to size')) ? m : null;"
            ),
            WAIT,
            "the history after the reload",
        )
        .await;
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    let asked = texts
        .iter()
        .filter(|t| t.contains("Do these shoes run small?"))
        .count();
    assert_eq!(asked, 1, "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Thanks! Someone will be with you shortly.")),
        "the instant reply: {texts:?}"
    );

    // On a phone the open panel takes the whole screen.
    b.client.set_window_size(390, 844).await.unwrap();
    b.wait_for_js(
        &format!(
            "const p = {ROOT}.querySelector('.panel').getBoundingClientRect();\n\
             return p.width === window.innerWidth && p.left === 0;"
        ),
        WAIT,
        "a full-screen panel on a phone",
    )
    .await;
    b.close().await;
    blocking(move || drop(d));
}
