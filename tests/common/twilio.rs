//! A loopback stand-in for a Twilio-compatible provider (PROTOCOLS.md 3
//! and 4), and the provider's side of its webhooks: requests signed with
//! `X-Twilio-Signature` computed here, independently of the daemon's code.
//!
//! The fake answers, with the account's Basic credentials only:
//! `POST …/Messages.json` with `201` and a fresh `sid` (after running the
//! test's `before_answer` hook, which can post a status callback first, as
//! the provider sometimes does); `GET /media/…` with an image;
//! `GET /media-redirect/{name}` with a `307` to `http://localhost:{port}/
//! cdn/{name}` (another origin, as the provider's CDN is); and
//! `GET /Recordings/{sid}.mp3` with audio. `GET /cdn/…` answers the image
//! to anyone (a signed CDN link needs no credentials).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha1::Sha1;

use super::{eventually, Daemon};

pub const IMAGE: &[u8] = b"\x89PNG fake image bytes";
pub const AUDIO: &[u8] = b"ID3\x04fake mp3 voicemail bytes";

/// One request the fake provider received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

type Hook = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone)]
struct Shared {
    port: u16,
    account_sid: String,
    auth_token: String,
    requests: Arc<Mutex<Vec<Request>>>,
    before_answer: Arc<Mutex<Option<Hook>>>,
}

pub struct FakeTwilio {
    addr: SocketAddr,
    shared: Shared,
}

impl FakeTwilio {
    pub fn start(account_sid: &str, auth_token: &str) -> FakeTwilio {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            port: addr.port(),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            requests: Arc::default(),
            before_answer: Arc::default(),
        };
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        FakeTwilio { addr, shared }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Runs `hook` with the new message's sid before a send is answered.
    pub fn before_answer(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        *self.shared.before_answer.lock().unwrap() = Some(Arc::new(hook));
    }

    pub fn expected_basic(&self) -> String {
        basic(&self.shared.account_sid, &self.shared.auth_token)
    }

    pub fn wait_for_sends(&self, n: usize) -> Vec<Request> {
        eventually(&format!("{n} sends"), Duration::from_secs(30), || {
            let sends: Vec<Request> = self
                .requests()
                .into_iter()
                .filter(|r| r.path.ends_with("/Messages.json"))
                .collect();
            if sends.len() >= n {
                Ok(sends)
            } else {
                Err(format!("{sends:?}"))
            }
        })
    }
}

fn basic(account_sid: &str, auth_token: &str) -> String {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{account_sid}:{auth_token}"));
    format!("Basic {encoded}")
}

fn serve(stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    let authorized =
        authorization.as_deref() == Some(basic(&shared.account_sid, &shared.auth_token).as_str());
    let n = {
        let mut guard = shared.requests.lock().unwrap();
        guard.push(Request {
            method: method.clone(),
            path: path.clone(),
            authorization,
            form,
        });
        guard.len()
    };
    let mut location = None;
    let (status, content_type, answer): (u16, &str, Vec<u8>) =
        if method == "GET" && path.starts_with("/cdn/") {
            (200, "image/png", IMAGE.to_vec())
        } else if !authorized {
            (
                401,
                "application/json",
                br#"{"code":20003,"message":"Authenticate","status":401}"#.to_vec(),
            )
        } else if method == "POST" && path.ends_with("/Messages.json") {
            let sid = format!("SM{n:032}");
            let hook = shared.before_answer.lock().unwrap().clone();
            if let Some(hook) = hook {
                hook(&sid);
            }
            (
                201,
                "application/json",
                json!({"sid": sid, "status": "queued", "error_code": null, "error_message": null})
                    .to_string()
                    .into_bytes(),
            )
        } else if method == "GET" && path.starts_with("/media/") {
            (200, "image/png", IMAGE.to_vec())
        } else if let Some(name) = path.strip_prefix("/media-redirect/") {
            location = Some(format!("http://localhost:{}/cdn/{name}", shared.port));
            (307, "text/plain", b"see the CDN".to_vec())
        } else if method == "GET" && path.starts_with("/Recordings/") && path.ends_with(".mp3") {
            (200, "audio/mpeg", AUDIO.to_vec())
        } else {
            (404, "application/json", b"{}".to_vec())
        };
    let location = location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let mut response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    )
    .into_bytes();
    response.extend_from_slice(&answer);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(&response);
}

/// The start of a Twilio channel test's config: listeners, an outbox that
/// retries quickly, and the admin Alice; each test adds its agents, inbox
/// and channel.
pub const CONFIG_HEAD: &str = r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "mx.switchboard.test"

[http]
listen = "127.0.0.1:0"

[outbox]
max_attempts = 3
initial_backoff_ms = 100
max_backoff_ms = 400

[[agents]]
id = "alice"
name = "Alice Admin"
email = "alice@example.com"
role = "admin"
"#;

/// `CONFIG_HEAD` plus the inbox `texts` with one SMS channel `sms` on the
/// provider API at `api`, its auth token read from `auth_token` (which the
/// caller writes); `allow_private_targets` as given.
pub fn sms_config(
    api: &str,
    account_sid: &str,
    from: &str,
    public_url: &str,
    allow_private_targets: bool,
) -> String {
    format!(
        r#"{CONFIG_HEAD}
[[inboxes]]
id = "texts"
name = "Texts"

[[channels]]
id = "sms"
inbox = "texts"
kind = "sms"
account_sid = "{account_sid}"
auth_token_file = "auth_token"
from = "{from}"
public_url = "{public_url}"
api_base_url = "{api}"
allow_private_targets = {allow_private_targets}
"#
    )
}

/// Twilio's signature of `url` and `params`.
pub fn signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn encode(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// What the daemon answered a webhook.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// POSTs `params` to `path` (on the daemon at `base`) signed over
/// `signed_url` with `token`.
pub fn post_signed_to(
    base: &str,
    path: &str,
    signed_url: &str,
    token: &str,
    params: &[(&str, &str)],
) -> Answer {
    let response = super::http()
        .post(format!("{base}{path}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature(token, signed_url, params))
        .body(encode(params))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        content_type,
        body: response.text().unwrap(),
    }
}

/// `post_signed_to` the daemon.
pub fn post_signed(
    daemon: &Daemon,
    path: &str,
    signed_url: &str,
    token: &str,
    params: &[(&str, &str)],
) -> Answer {
    post_signed_to(&daemon.url(""), path, signed_url, token, params)
}
