//! A loopback fake of Meta's Graph API for the Messenger and WhatsApp
//! tests, plus the config and signing helpers those tests share.
//!
//! It serves what the inbound side calls, as documented:
//! - `GET /{version}/{media_id}` with `Authorization: Bearer <token>`: the
//!   WhatsApp media lookup, answering `{url, mime_type, sha256, file_size,
//!   id, messaging_product}`; a wrong token gets Graph's `190` error (`401`)
//!   and an unknown id its `100`/`33` error (`400`);
//! - `GET /wa-files/{media_id}` (the lookup's `url`), bearer required;
//! - `GET /cdn/{name}`: a Messenger attachment link, no authentication.
//!
//! Any file can be told to fail its first downloads with a `500`. Every
//! request is recorded (method, path and query, `Authorization` header).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use super::Daemon;
use sha2::Sha256;

pub const VERSION: &str = "v21.0";
pub const PAGE_ID: &str = "1001";
pub const APP_ID: &str = "2002";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const FB_APP_SECRET: &str = "fb-app-secret-123";
pub const FB_VERIFY_TOKEN: &str = "meatyhamhock";
pub const WA_APP_SECRET: &str = "wa-app-secret-456";
pub const WA_VERIFY_TOKEN: &str = "wa-verify-789";
pub const WA_ACCESS_TOKEN: &str = "wa-access-token-abc";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
}

struct File {
    content_type: String,
    bytes: Vec<u8>,
    failures_left: u32,
}

#[derive(Default)]
struct Fake {
    /// `cdn/<name>` or `wa/<media id>` -> file.
    files: Mutex<HashMap<String, File>>,
    requests: Mutex<Vec<Recorded>>,
    addr: Mutex<Option<SocketAddr>>,
}

/// The running fake; stops with the test process.
pub struct FakeGraph {
    pub addr: SocketAddr,
    fake: Arc<Fake>,
}

impl FakeGraph {
    pub fn start() -> FakeGraph {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Arc::new(Fake::default());
        *fake.addr.lock().unwrap() = Some(addr);
        let router = Router::new()
            .route("/cdn/{name}", get(cdn))
            .route("/wa-files/{id}", get(wa_file))
            .route("/{version}/{id}", get(media_lookup))
            .with_state(fake.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        FakeGraph { addr, fake }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves a Messenger attachment at `/cdn/{name}`; returns its URL.
    pub fn add_cdn_file(
        &self,
        name: &str,
        content_type: &str,
        bytes: &[u8],
        fail_first: u32,
    ) -> String {
        self.add(format!("cdn/{name}"), content_type, bytes, fail_first);
        format!("{}/cdn/{name}?oh=signed&oe=expires", self.base_url())
    }

    /// Serves a WhatsApp media id through the two-step download.
    pub fn add_wa_media(&self, id: &str, mime_type: &str, bytes: &[u8], fail_first: u32) {
        self.add(format!("wa/{id}"), mime_type, bytes, fail_first);
    }

    fn add(&self, key: String, content_type: &str, bytes: &[u8], failures_left: u32) {
        self.fake.files.lock().unwrap().insert(
            key,
            File {
                content_type: content_type.into(),
                bytes: bytes.to_vec(),
                failures_left,
            },
        );
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.fake.requests.lock().unwrap().clone()
    }

    /// How many requests asked for a path starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.uri.starts_with(prefix))
            .count()
    }
}

fn record(fake: &Fake, uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    fake.requests.lock().unwrap().push(Recorded {
        method: "GET".into(),
        uri: uri.to_string(),
        authorization: authorization.clone(),
    });
    authorization
}

fn graph_error(
    status: StatusCode,
    message: &str,
    kind: &str,
    code: u32,
    subcode: Option<u32>,
) -> Response {
    let mut error =
        json!({"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfG"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn bearer_ok(authorization: &Option<String>) -> bool {
    authorization.as_deref() == Some(&format!("Bearer {WA_ACCESS_TOKEN}"))
}

fn bad_token() -> Response {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "Invalid OAuth access token - Cannot parse access token",
        "OAuthException",
        190,
        None,
    )
}

/// Serves a file, failing it first as many times as it was told to.
fn serve(fake: &Fake, key: &str) -> Response {
    let mut files = fake.files.lock().unwrap();
    let Some(file) = files.get_mut(key) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    if file.failures_left > 0 {
        file.failures_left -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response();
    }
    (
        [(header::CONTENT_TYPE, file.content_type.clone())],
        file.bytes.clone(),
    )
        .into_response()
}

async fn cdn(
    State(fake): State<Arc<Fake>>,
    UrlPath(name): UrlPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&fake, &uri, &headers);
    serve(&fake, &format!("cdn/{name}"))
}

async fn wa_file(
    State(fake): State<Arc<Fake>>,
    UrlPath(id): UrlPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&record(&fake, &uri, &headers)) {
        return bad_token();
    }
    serve(&fake, &format!("wa/{id}"))
}

async fn media_lookup(
    State(fake): State<Arc<Fake>>,
    UrlPath((version, id)): UrlPath<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&record(&fake, &uri, &headers)) {
        return bad_token();
    }
    let files = fake.files.lock().unwrap();
    let Some(file) = files
        .get(&format!("wa/{id}"))
        .filter(|_| version == VERSION)
    else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            &format!("Unsupported get request. Object with ID '{id}' does not exist"),
            "GraphMethodException",
            100,
            Some(33),
        );
    };
    let addr = fake.addr.lock().unwrap().unwrap();
    Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{addr}/wa-files/{id}?ext=1&hash=signed"),
        "mime_type": file.content_type,
        "sha256": "not-checked",
        "file_size": file.bytes.len(),
        "id": id,
    }))
    .into_response()
}

/// The test config with a Messenger channel (`fb-page`) and a WhatsApp
/// channel (`wa-number`) in the support inbox, both calling the fake at
/// `graph_base_url`; their secrets are written to files in `dir`. Both set
/// `allow_private_targets = true`: the fake serves the media on loopback.
pub fn meta_config(dir: &Path, graph_base_url: &str) -> String {
    meta_config_with(dir, graph_base_url, "", "")
}

/// `meta_config` with `messenger` appended to the `fb-page` channel and
/// `whatsapp` to the `wa-number` channel (each: plain keys first, then any
/// sub-table such as `[channels.routing]`).
pub fn meta_config_with(
    dir: &Path,
    graph_base_url: &str,
    messenger: &str,
    whatsapp: &str,
) -> String {
    let allow = "allow_private_targets = true\n";
    meta_config_as(
        dir,
        graph_base_url,
        &format!("{allow}{messenger}"),
        &format!("{allow}{whatsapp}"),
    )
}

/// `meta_config` as the operator writes it by default: the channels fetch
/// media only from public addresses.
pub fn meta_config_public_only(dir: &Path, graph_base_url: &str) -> String {
    meta_config_as(dir, graph_base_url, "", "")
}

fn meta_config_as(dir: &Path, graph_base_url: &str, messenger: &str, whatsapp: &str) -> String {
    for (file, value) in [
        ("fb_app_secret", FB_APP_SECRET),
        ("fb_page_token", "fb-page-token"),
        ("wa_app_secret", WA_APP_SECRET),
        ("wa_access_token", WA_ACCESS_TOKEN),
    ] {
        std::fs::write(dir.join(file), format!("{value}\n")).unwrap();
    }
    let mut config = super::test_config(1024 * 1024);
    config.push_str(&format!(
        r#"
[[channels]]
id = "fb-page"
inbox = "support"
kind = "messenger"
page_id = "{PAGE_ID}"
app_id = "{APP_ID}"
app_secret_file = "fb_app_secret"
verify_token = "{FB_VERIFY_TOKEN}"
page_token_file = "fb_page_token"
graph_base_url = "{graph_base_url}"
api_version = "{VERSION}"
{messenger}
[[channels]]
id = "wa-number"
inbox = "support"
kind = "whatsapp"
phone_number_id = "{PHONE_NUMBER_ID}"
app_secret_file = "wa_app_secret"
verify_token = "{WA_VERIFY_TOKEN}"
access_token_file = "wa_access_token"
graph_base_url = "{graph_base_url}"
api_version = "{VERSION}"
{whatsapp}
"#
    ));
    config
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, computed here independently of
/// the daemon's code.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs raw bytes to a channel's webhook with an optional signature header.
pub fn post_raw(
    daemon: &Daemon,
    channel: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (u16, String) {
    let mut request = super::http()
        .post(daemon.url(&format!("/webhooks/{channel}")))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    let response = request.send().unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

pub fn post_fb(daemon: &Daemon, body: &Value) -> (u16, String) {
    let bytes = serde_json::to_vec(body).unwrap();
    post_raw(
        daemon,
        "fb-page",
        &bytes,
        Some(&sign(FB_APP_SECRET, &bytes)),
    )
}

pub fn post_wa(daemon: &Daemon, body: &Value) -> (u16, String) {
    let bytes = serde_json::to_vec(body).unwrap();
    post_raw(
        daemon,
        "wa-number",
        &bytes,
        Some(&sign(WA_APP_SECRET, &bytes)),
    )
}

pub fn fb_message(psid: &str, mid: &str, text: &str, timestamp: u64) -> Value {
    json!({"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": timestamp,
           "message": {"mid": mid, "text": text}})
}

pub fn fb_page(events: Vec<Value>) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE_ID, "time": 1458692752478u64, "messaging": events}]})
}

pub fn wa_payload(messages: Vec<Value>) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                  "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                  "messages": messages}}]}]})
}

pub fn wa_text(id: &str, body: &str) -> Value {
    json!({"from": "16505551234", "id": id, "timestamp": "1739321024", "type": "text", "text": {"body": body}})
}

/// The GET handshake with `query`; returns status and body.
pub fn verify(daemon: &Daemon, channel: &str, query: &str) -> (u16, String) {
    let response = super::http()
        .get(daemon.url(&format!("/webhooks/{channel}?{query}")))
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}
