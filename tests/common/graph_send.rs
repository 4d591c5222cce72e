//! A loopback Graph API standing in for Messenger's Send API and WhatsApp's
//! Cloud API (PROTOCOLS.md 1.5 and 2.4). It records every request (method,
//! path, `Authorization`, JSON body, arrival time) and answers as the Graph
//! API does: `{"recipient_id", "message_id"}` for a Messenger send,
//! `{"messaging_product", "contacts", "messages": [{"id"}]}` for a WhatsApp
//! one, or, when told, one of the documented errors
//! `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//! with its HTTP status and an optional `Retry-After`.
//!
//! It speaks just enough HTTP/1.1 for reqwest: one request per connection,
//! answered with `Connection: close`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
    pub at: Instant,
}

/// What the fake answers to the next send.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The documented success answer, with a fresh id.
    Success,
    /// A Graph error.
    Error {
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
        retry_after: Option<String>,
    },
}

impl Reply {
    /// A Graph error answered with HTTP 400, as Graph does for most.
    pub fn error(code: i64, subcode: Option<i64>, message: &str) -> Reply {
        Reply::Error {
            status: 400,
            code,
            subcode,
            message: message.into(),
            retry_after: None,
        }
    }

    /// HTTP 429 with a `Retry-After` in seconds.
    pub fn too_many_requests(retry_after_seconds: u64) -> Reply {
        Reply::Error {
            status: 429,
            code: 4,
            subcode: None,
            message: "(#4) Application request limit reached".into(),
            retry_after: Some(retry_after_seconds.to_string()),
        }
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    script: VecDeque<Reply>,
    sent: u64,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The running fake; stopped when dropped.
pub struct GraphSend {
    pub addr: SocketAddr,
    state: Shared,
    stop: Arc<AtomicBool>,
}

impl GraphSend {
    pub fn start() -> GraphSend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Shared = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        GraphSend { addr, state, stop }
    }

    /// The `graph_base_url` to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next sends with these replies, in order, then succeeds.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state).script.extend(replies);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state).requests.clone()
    }

    /// The requests to `…/messages` so far.
    pub fn sends(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/messages"))
            .collect()
    }

    /// Waits until at least `n` sends arrived; returns them all.
    pub fn wait_for_sends(&self, n: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mutex, condvar) = &*self.state;
        let mut state = mutex.lock().unwrap();
        loop {
            let sends: Vec<Request> = state
                .requests
                .iter()
                .filter(|r| r.path.ends_with("/messages"))
                .cloned()
                .collect();
            if sends.len() >= n {
                return sends;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "waited for {n} sends, got {sends:#?}");
            state = condvar.wait_timeout(state, left).unwrap().0;
        }
    }
}

impl Drop for GraphSend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.0.lock().unwrap_or_else(|p| p.into_inner())
}

fn serve(stream: TcpStream, state: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut length = 0usize;
    let mut authorization = None;
    let mut content_type = None;
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
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                "content-type" => content_type = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let is_send = method == "POST" && path.ends_with("/messages");
    let (status, answer, retry_after) = {
        let mut guard = lock(state);
        let reply = if is_send {
            guard.script.pop_front().unwrap_or(Reply::Success)
        } else {
            Reply::Success
        };
        let answer = match reply {
            Reply::Success if is_send => {
                guard.sent += 1;
                (200, success(&body, guard.sent), None)
            }
            Reply::Success => (200, json!({"success": true}), None),
            Reply::Error {
                status,
                code,
                subcode,
                message,
                retry_after,
            } => (
                status,
                json!({"error": {"message": message, "type": "OAuthException", "code": code,
                                 "error_subcode": subcode, "fbtrace_id": "AFakeTrace123"}}),
                retry_after,
            ),
        };
        guard.requests.push(Request {
            method,
            path,
            authorization,
            content_type,
            body,
            at: Instant::now(),
        });
        state.1.notify_all();
        answer
    };
    let text = answer.to_string();
    let mut response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        if status == 200 { "OK" } else { "Error" },
        text.len()
    );
    if let Some(after) = retry_after {
        response.push_str(&format!("Retry-After: {after}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&text);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// The documented success answer of the send, by which API was called.
fn success(body: &Value, n: u64) -> Value {
    if body["messaging_product"] == "whatsapp" {
        let to = body["to"].as_str().unwrap_or("");
        json!({"messaging_product": "whatsapp",
               "contacts": [{"input": to, "wa_id": to.trim_start_matches('+')}],
               "messages": [{"id": format!("wamid.FAKE{n}")}]})
    } else {
        json!({"recipient_id": body["recipient"]["id"], "message_id": format!("m_FAKE{n}")})
    }
}
