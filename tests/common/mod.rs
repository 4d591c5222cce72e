//! Test harness: starts the real `switchboard` binary on port 0 with a test
//! config, and talks to it as its users do: SMTP over TCP and HTTP with a
//! bearer token.
#![allow(dead_code)]

pub mod browser;
pub mod chat;
pub mod custom;
pub mod form;
pub mod graph;
pub mod graph_send;
pub mod mails;
pub mod relay;
pub mod routing;
pub mod smtp;
pub mod twilio;
pub mod webhook_receiver;
pub mod ws;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The config every end-to-end test runs with: two inboxes with one email
/// channel each, an admin and a restricted agent.
pub fn test_config(max_message_bytes: u64) -> String {
    format!(
        r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "mx.switchboard.test"
max_message_bytes = {max_message_bytes}
max_recipients = 5

[http]
listen = "127.0.0.1:0"

[[teams]]
id = "support"
name = "Support"

[[teams]]
id = "sales"
name = "Sales"

[[agents]]
id = "alice"
name = "Alice Admin"
email = "alice@example.com"
role = "admin"
teams = ["support"]

[[agents]]
id = "bob"
name = "Bob Seller"
email = "bob@example.com"
role = "agent"
teams = ["sales"]

[[inboxes]]
id = "support"
name = "Support"
teams = ["support"]

[[inboxes]]
id = "sales"
name = "Sales"
teams = ["sales"]

[[channels]]
id = "support-email"
inbox = "support"
kind = "email"
address = "support@example.com"
receive_addresses = ["fwd-support@mx.switchboard.test"]

[[channels]]
id = "sales-email"
inbox = "sales"
kind = "email"
address = "sales@example.com"
forwarders = ["relay@partner.example"]
forwarded_sender = "forwarder"
"#
    )
}

/// A running daemon; killed when dropped.
pub struct Daemon {
    child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    pub dir: PathBuf,
    pub token: String,
    /// The `switchboard ready ...` line the daemon printed.
    pub ready: String,
}

/// Writes the test config into `dir` (once) and creates an admin token.
pub fn prepare(dir: &Path, max_message_bytes: u64) -> String {
    let config = dir.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, test_config(max_message_bytes)).unwrap();
    }
    create_token(dir, "alice")
}

pub fn create_token(dir: &Path, agent: &str) -> String {
    let output = Command::new(BIN)
        .args(["token", "create", "--agent", agent, "--config"])
        .arg(dir.join("config.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "token create failed: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

impl Daemon {
    /// A fresh daemon in a new folder.
    pub fn start_fresh(dir: &Path) -> Daemon {
        let token = prepare(dir, 1024 * 1024);
        Daemon::start(dir, token)
    }

    /// Starts the daemon on the config already in `dir` and waits for its
    /// ready line.
    pub fn start(dir: &Path, token: String) -> Daemon {
        Daemon::start_with_env(dir, token, &[])
    }

    /// Like `start`, with extra environment variables for the daemon.
    pub fn start_with_env(dir: &Path, token: String, env: &[(&str, &str)]) -> Daemon {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(dir.join("config.toml"))
            .env("RUST_LOG", "switchboard=debug,warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            for _ in lines {}
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("daemon not ready; log: {}", read_log(dir)));
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in ready line {line:?}"))
                .parse()
                .unwrap()
        };
        Daemon {
            smtp: field("smtp"),
            http: field("http"),
            child,
            dir: dir.to_path_buf(),
            token,
            ready: line,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit; returns the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        signal(self.child.id(), "TERM");
        let status = self.child.wait().unwrap();
        status.code()
    }

    /// Waits for the daemon to exit by itself; returns its exit code.
    pub fn wait_exit(mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// GET with the admin token; returns status and JSON body.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_with(path, Some(&self.token))
    }

    pub fn get_with(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = http().get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let body = response.json().unwrap_or(Value::Null);
        (status, body)
    }

    /// Every conversation visible to the admin, following cursors.
    pub fn all_conversations(&self, query: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/conversations?limit=100{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, body) = self.get(&path);
            assert_eq!(status, 200, "{body}");
            all.extend(body["conversations"].as_array().unwrap().iter().cloned());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return all,
            }
        }
    }

    pub fn messages(&self, conversation: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/v1/conversations/{conversation}/messages"));
        assert_eq!(status, 200, "{body}");
        body["messages"].as_array().unwrap().clone()
    }

    /// Every stored message, with its conversation.
    pub fn all_messages(&self) -> Vec<Value> {
        self.all_conversations("")
            .iter()
            .flat_map(|c| self.messages(c["id"].as_str().unwrap()))
            .collect()
    }

    /// The one message with this subject, panicking if there is not exactly one.
    /// The stored message with this `external_id` (Message-ID, provider
    /// id), if there is one yet.
    pub fn message_by_external_id(&self, external_id: &str) -> Option<Value> {
        self.all_messages()
            .into_iter()
            .find(|m| m["external_id"] == external_id)
    }

    pub fn message_by_subject(&self, subject: &str) -> Value {
        let found: Vec<Value> = self
            .all_messages()
            .into_iter()
            .filter(|m| m["subject"].as_str() == Some(subject))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "messages with subject {subject:?}: {found:#?}"
        );
        found.into_iter().next().unwrap()
    }

    pub fn log(&self) -> String {
        read_log(&self.dir)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap()
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The test config with what replies need: the support channel's sender
/// name, company and signature, a third agent (Dora, in the support team but
/// holding no seat), and, with `relay_port`, the relay and a fast outbox
/// (retries after 100, 200, 400, 400... ms, `max_attempts` in all).
pub fn reply_config(relay_port: Option<u16>, max_attempts: u32) -> String {
    let channel = "receive_addresses = [\"fwd-support@mx.switchboard.test\"]\n";
    let mut config = test_config(1024 * 1024).replacen(
        channel,
        &format!(
            "{channel}sender_name = \"agent_and_company\"\ncompany_name = \"Example Inc\"\n\
             signature = \"-- \\n{{full_name}} ({{first_name}})\"\n"
        ),
        1,
    );
    assert!(config.contains("company_name"), "test_config changed shape");
    config.push_str(
        r#"
[[agents]]
id = "dora"
name = "Dora Seatless"
email = "dora@example.com"
role = "agent"
seat = false
teams = ["support"]
"#,
    );
    if let Some(port) = relay_port {
        config.push_str(&format!(
            r#"
[outbound_smtp]
host = "127.0.0.1"
port = {port}
tls = "none"

[outbox]
max_attempts = {max_attempts}
initial_backoff_ms = 100
max_backoff_ms = 400
"#
        ));
    }
    config
}

/// The config of the issue: replies go to the relay on `relay_port`, four
/// attempts at most.
pub fn test_config_with_relay(relay_port: u16) -> String {
    reply_config(Some(relay_port), 4)
}

impl Daemon {
    /// A fresh daemon in `dir` running `config` (written once), with an
    /// admin token for Alice.
    pub fn start_with_config(dir: &Path, config: &str) -> Daemon {
        let path = dir.join("config.toml");
        if !path.exists() {
            std::fs::write(&path, config).unwrap();
        }
        let token = create_token(dir, "alice");
        Daemon::start(dir, token)
    }

    /// Sends `body` as JSON with `method` and the admin token.
    pub fn send_json(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send_json_with(method, path, Some(&self.token), body)
    }

    pub fn send_json_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http().request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let body = response.json().unwrap_or(Value::Null);
        (status, body)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json("POST", path, body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json("PATCH", path, body)
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json("PUT", path, body)
    }

    /// Posts an agent reply (or note) and checks the `201`; returns the message.
    pub fn reply(&self, conversation: &str, body: Value) -> Value {
        let (status, message) = self.post(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &body,
        );
        assert_eq!(status, 201, "reply {body}: {message}");
        message
    }

    /// One message of a conversation, by id, as the messages endpoint shows it.
    pub fn message(&self, conversation: &str, id: &str) -> Value {
        self.messages(conversation)
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no message {id} in conversation {conversation}"))
    }

    /// Polls the messages endpoint until the message's delivery state is
    /// `state`; returns the message.
    pub fn wait_for_state(&self, conversation: &str, id: &str, state: &str) -> Value {
        eventually(
            &format!("message {id} to become {state}"),
            Duration::from_secs(30),
            || {
                let message = self.message(conversation, id);
                if message["status"]["state"] == state {
                    Ok(message)
                } else {
                    Err(message["status"].to_string())
                }
            },
        )
    }

    /// Polls a conversation until `done` holds for it.
    pub fn wait_for_conversation(
        &self,
        conversation: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(what, Duration::from_secs(30), || {
            let (status, body) = self.get(&format!("/api/v1/conversations/{conversation}"));
            if status == 200 && done(&body) {
                Ok(body)
            } else {
                Err(format!("{status} {body}"))
            }
        })
    }

    /// Delivers one customer mail and returns the conversation it landed in.
    pub fn customer_mail(&self, message_id: &str, from: &str, subject: &str, text: &str) -> Value {
        let mail = mails::simple(message_id, from, "support@example.com", subject, text);
        let reply = smtp::deliver(self.smtp, from, &["support@example.com"], &mail);
        assert_eq!(reply.code, 250, "{reply:?}");
        self.all_conversations("")
            .into_iter()
            .find(|c| {
                let id = c["id"].as_str().unwrap();
                self.messages(id)
                    .iter()
                    .any(|m| m["external_id"] == message_id)
            })
            .unwrap_or_else(|| panic!("no conversation holds {message_id}"))
    }

    /// The daemon's resident set size in KiB, from /proc.
    /// The value of one series of `/metrics` (`name{labels}` as written
    /// there), scraped with the admin token; panics when it is missing.
    pub fn metric(&self, series: &str) -> f64 {
        let text = http()
            .get(self.url("/metrics"))
            .bearer_auth(&self.token)
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|line| {
                line.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {series} in the metrics:\n{text}"))
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Calls `probe` until it answers `Ok`, every 20 ms, for at most `timeout`;
/// then panics with the last `Err` it gave.
pub fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// POSTs only the head of a request that declares a `length`-byte body and
/// returns the status of the answer: a server that refuses oversized bodies
/// by their `Content-Length` answers without reading any. (Writing the
/// whole body races the server's close: the client may get a broken pipe
/// before it can read the `413`.)
pub fn post_declaring_length(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    length: usize,
) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let read = stream.read(&mut buffer).unwrap();
        assert!(read > 0, "connection closed before an answer");
        answer.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&answer);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {line:?}"))
}
