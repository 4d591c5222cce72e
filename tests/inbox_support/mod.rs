//! What the web inbox tests share: the workspace (the reply config with a
//! WhatsApp channel, a colleague and a ticket pipeline), setting passwords
//! with the real `agent set-password` command, signing in over HTTP and in
//! a browser, and the axe-core accessibility check.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::browser::Browser;
use crate::common::graph::FakeGraph;
use crate::common::relay::Relay;
use crate::common::{graph, smtp, Daemon, BIN};

pub const PASSWORD: &str = "correct horse battery staple";

/// The reply config (relay on `relay_port`, Alice's signature) with Carol
/// (a colleague in the support team), a WhatsApp channel calling the fake
/// Graph API at `graph_url`, and tickets for support email in a pipeline.
pub fn config(dir: &Path, relay_port: u16, graph_url: &str) -> String {
    let base = crate::common::test_config(1024 * 1024);
    let meta = graph::meta_config(dir, graph_url);
    let meta_channels = meta
        .strip_prefix(&base)
        .expect("meta config extends the test config");
    let mut config = crate::common::reply_config(Some(relay_port), 4);
    let sales = "\n[[channels]]\nid = \"sales-email\"";
    assert!(config.contains(sales), "test_config changed shape");
    config = config.replacen(
        sales,
        &format!("\n[channels.tickets]\nenabled = true\npipeline = \"support\"\n{sales}"),
        1,
    );
    config.push_str(
        r#"
[[agents]]
id = "carol"
name = "Carol Colleague"
email = "carol@example.com"
role = "agent"
teams = ["support"]

[[pipelines]]
id = "support"
name = "Support pipeline"
stages = ["new", "waiting_on_us", "done"]
"#,
    );
    config.push_str(meta_channels);
    config
}

/// Runs `switchboard agent set-password` with `password` on stdin.
pub fn set_password(dir: &Path, agent: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["agent", "set-password", "--agent", agent, "--config"])
        .arg(dir.join("config.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may refuse (an unknown agent) and exit before it reads
    // stdin: a broken pipe here is that refusal, which the caller checks.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes());
    child.wait_with_output().unwrap()
}

/// A client that does not follow redirects (to see `Set-Cookie`).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A signed-in HTTP session: the cookie and the CSRF token.
pub struct WebSession {
    pub cookie: String,
    pub csrf: String,
    pub id: String,
}

/// POSTs the login form; returns the response.
pub fn post_login(
    daemon: &Daemon,
    agent: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::blocking::Response {
    let mut request = client().post(daemon.url("/login")).form(&[
        ("agent", agent),
        ("password", password),
        ("next", "/"),
    ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().unwrap()
}

/// Signs in over HTTP and reads the CSRF token the page would read.
pub fn sign_in(daemon: &Daemon, agent: &str, password: &str) -> WebSession {
    let response = post_login(daemon, agent, password, &[]);
    assert_eq!(response.status().as_u16(), 303, "sign-in of {agent}");
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me: Value = client()
        .get(daemon.url("/api/v1/session"))
        .header("Cookie", &cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    WebSession {
        cookie,
        csrf: me["csrf_token"].as_str().unwrap().to_string(),
        id: me["session"].as_str().unwrap().to_string(),
    }
}

/// Runs `f` (blocking HTTP, SMTP) from inside an async browser test.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Signs in through the login page and waits for the inbox to load.
pub async fn browser_sign_in(b: &Browser, daemon: &Daemon, agent: &str, password: &str) {
    b.client.goto(&daemon.url("/")).await.unwrap();
    b.wait_for_js(
        "return location.pathname === '/login' && !!document.getElementById('password')",
        Duration::from_secs(60),
        "the login page",
    )
    .await;
    fill(b, "#agent", agent).await;
    fill(b, "#password", password).await;
    click(b, "button[type=submit]").await;
    b.wait_for_js(
        "return document.querySelector('#connection') && document.querySelector('#connection').dataset.state === 'live'",
        Duration::from_secs(60),
        "the inbox, live",
    )
    .await;
}

pub async fn fill(b: &Browser, selector: &str, text: &str) {
    let element = b
        .client
        .find(fantoccini::Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"));
    element.clear().await.unwrap();
    element.send_keys(text).await.unwrap();
}

pub async fn click(b: &Browser, selector: &str) {
    b.client
        .find(fantoccini::Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"))
        .click()
        .await
        .unwrap();
}

/// Sets a `<select>` to `value` as a person would (change event).
pub async fn choose(b: &Browser, selector: &str, value: &str) {
    let element = b
        .client
        .find(fantoccini::Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"));
    element
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("cannot choose {value} in {selector}: {e}"));
}

/// Runs axe-core (from tests/browser/node_modules, installed by
/// scripts/test) on the page and returns the serious and critical
/// violations.
pub async fn accessibility_violations(b: &Browser) -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser/node_modules/axe-core/axe.min.js"
    );
    let source = std::fs::read_to_string(path)
        .expect("axe-core is installed: npm ci --prefix tests/browser (scripts/test does it)");
    b.client
        .execute(&format!("{source}\nreturn true;"), vec![])
        .await
        .expect("axe-core loads");
    let result = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
               .then((r) => done({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id,
                  impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })) }))
               .catch((e) => done({ passes: 0, violations: [{ id: 'axe-error', impact: 'critical', help: String(e) }] }));",
            vec![],
        )
        .await
        .expect("axe runs");
    // axe really looked at the page: it found rules that pass.
    assert!(
        result["passes"].as_u64().unwrap_or(0) > 10,
        "axe did not run: {result}"
    );
    result["violations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v["impact"] == json!("serious") || v["impact"] == json!("critical"))
        .collect()
}

/// Where the tests write the README's screenshots: `docs/<name>`.
pub fn screenshot_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name)
}

pub const WAIT: Duration = Duration::from_secs(60);

/// A daemon with the inbox config, its relay and fake Graph API, and
/// passwords for Alice and Carol.
pub struct World {
    pub _dir: tempfile::TempDir,
    pub relay: Relay,
    pub _graph: FakeGraph,
    pub daemon: Daemon,
}

/// Starts a `World` in a new folder.
pub fn world() -> World {
    blocking(|| {
        let dir = tempfile::tempdir().unwrap();
        let relay = Relay::start();
        let graph = FakeGraph::start();
        let config = config(dir.path(), relay.addr().port(), &graph.base_url());
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        for agent in ["alice", "carol"] {
            let out = set_password(dir.path(), agent, PASSWORD);
            assert!(out.status.success(), "{out:?}");
        }
        let daemon = Daemon::start_with_config(dir.path(), "");
        World {
            _dir: dir,
            relay,
            _graph: graph,
            daemon,
        }
    })
}

/// Delivers a customer's email to the support address over SMTP.
pub fn mail(daemon: &Daemon, message_id: &str, subject: &str, text: &str) {
    let message = crate::common::mails::simple(
        message_id,
        "customer@example.net",
        "support@example.com",
        subject,
        text,
    );
    let reply = blocking(|| {
        smtp::deliver(
            daemon.smtp,
            "customer@example.net",
            &["support@example.com"],
            &message,
        )
    });
    assert_eq!(reply.code, 250, "{reply:?}");
}

pub fn js_text(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// Waits for a row of the conversation list that shows `subject`.
pub async fn wait_for_row(b: &Browser, subject: &str) {
    b.wait_for_js(
        &format!(
            "return [...document.querySelectorAll('#conversations li')].some((li) => li.textContent.includes({}))",
            js_text(subject)
        ),
        WAIT,
        &format!("a list row for {subject:?}"),
    )
    .await;
}

/// Opens the list row that shows `subject` and waits for the timeline.
pub async fn open_row(b: &Browser, subject: &str) {
    b.client
        .execute(
            &format!(
                "const li = [...document.querySelectorAll('#conversations li')].find((li) => li.textContent.includes({}));
                 li.querySelector('a').click(); return true;",
                js_text(subject)
            ),
            vec![],
        )
        .await
        .unwrap();
    b.wait_for_js(
        "return document.querySelectorAll('#timeline li.msg').length > 0 && !!document.getElementById('composer-text')",
        WAIT,
        "the conversation",
    )
    .await;
}

/// Fails with axe-core's findings, if any.
pub fn assert_accessible(violations: &[Value], what: &str) {
    assert!(violations.is_empty(), "{what}: {violations:#?}");
}
