//! A website-chat visitor for the end-to-end tests: a tokio-tungstenite
//! client of `/ws/chat` with blocking methods (each socket owns a
//! current-thread runtime), plus the chat channel config the tests use.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// The site the test chat channels allow.
pub const ORIGIN: &str = "https://shop.example.org";
/// The identity-verification secret of the `web` channel.
pub const SECRET: &str = "chat-identity-secret";
pub const WAIT: Duration = Duration::from_secs(20);

/// The test config plus chat channels on the support inbox: `web` (instant
/// reply, identity secret), `strict` (3 messages a minute), `consent`
/// (explicit consent) and `staffed` (away unless an agent is available).
/// `extra` is appended to the `web` channel's table.
pub fn chat_config(dir: &std::path::Path, base: String, extra: &str) -> String {
    std::fs::write(dir.join("chat-secret"), SECRET).unwrap();
    format!(
        r##"{base}
[[channels]]
id = "web"
inbox = "support"
kind = "chat"
team_name = "Example Support"
color = "#0b7285"
greeting = "Hi! Ask us anything."
instant_reply = "Thanks! Someone will be with you shortly."
allowed_origins = ["{ORIGIN}"]
secret_file = "chat-secret"
max_message_chars = 500
{extra}

[[channels]]
id = "strict"
inbox = "support"
kind = "chat"
allowed_origins = ["{ORIGIN}"]
messages_per_minute = 3

[[channels]]
id = "consent"
inbox = "support"
kind = "chat"
allowed_origins = ["{ORIGIN}"]
consent = "explicit"
consent_text = "I agree that Example stores this chat."

[[channels]]
id = "staffed"
inbox = "support"
kind = "chat"
allowed_origins = ["{ORIGIN}"]
only_when_available = true
away_message = "Nobody is here right now."
"##
    )
}

/// What the socket gave next.
#[derive(Debug)]
pub enum Next {
    Frame(Value),
    Closed(Option<(u16, String)>),
    TimedOut,
}

pub struct Visitor {
    runtime: tokio::runtime::Runtime,
    socket: WebSocketStream<tokio::net::TcpStream>,
}

impl Visitor {
    /// Connects to `channel` from `ORIGIN`.
    pub fn connect(http: SocketAddr, channel: &str) -> Visitor {
        Visitor::try_connect(http, channel, Some(ORIGIN))
            .unwrap_or_else(|status| panic!("chat socket refused with {status}"))
    }

    /// Connects with `origin` (or none), or returns the refusing status.
    pub fn try_connect(
        http: SocketAddr,
        channel: &str,
        origin: Option<&str>,
    ) -> Result<Visitor, u16> {
        Visitor::try_connect_with(http, channel, origin, None).map_err(|(status, _)| status)
    }

    /// Connects from `ORIGIN` as the client `forwarded_for` names (the
    /// test daemon's peer is loopback, which chat channels trust as a
    /// proxy by default), or returns the refusal's status and JSON body.
    pub fn try_connect_from(
        http: SocketAddr,
        channel: &str,
        forwarded_for: &str,
    ) -> Result<Visitor, (u16, Value)> {
        Visitor::try_connect_with(http, channel, Some(ORIGIN), Some(forwarded_for))
    }

    /// Connects with `origin` and `X-Forwarded-For` (when given), or
    /// returns the refusal's status and JSON body (`null` when none).
    pub fn try_connect_with(
        http: SocketAddr,
        channel: &str,
        origin: Option<&str>,
        forwarded_for: Option<&str>,
    ) -> Result<Visitor, (u16, Value)> {
        let mut request = format!("ws://{http}/ws/chat?channel={channel}")
            .into_client_request()
            .unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", origin.parse().unwrap());
        }
        if let Some(forwarded_for) = forwarded_for {
            request
                .headers_mut()
                .insert("X-Forwarded-For", forwarded_for.parse().unwrap());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let connected = runtime.block_on(async {
            let stream = tokio::net::TcpStream::connect(http).await.unwrap();
            tokio_tungstenite::client_async(request, stream).await
        });
        match connected {
            Ok((socket, _)) => Ok(Visitor { runtime, socket }),
            Err(tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .and_then(|bytes| serde_json::from_slice(bytes).ok())
                    .unwrap_or(Value::Null);
                Err((response.status().as_u16(), body))
            }
            Err(error) => panic!("WebSocket handshake failed: {error}"),
        }
    }

    pub fn send(&mut self, frame: Value) {
        self.send_raw(Message::Text(frame.to_string().into()));
    }

    pub fn send_raw(&mut self, message: Message) {
        let socket = &mut self.socket;
        self.runtime
            .block_on(async { socket.send(message).await })
            .expect("send a frame");
    }

    pub fn next(&mut self, timeout: Duration) -> Next {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let socket = &mut self.socket;
            let frame = self
                .runtime
                .block_on(async { tokio::time::timeout(left, socket.next()).await });
            match frame {
                Err(_) => return Next::TimedOut,
                Ok(None) | Ok(Some(Err(_))) => return Next::Closed(None),
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Next::Frame(serde_json::from_str(text.as_str()).unwrap())
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Next::Closed(
                        frame.map(|f| (u16::from(f.code), f.reason.as_str().to_string())),
                    )
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Reads until a frame of `kind` (for which `matches` holds) arrives;
    /// returns it. Panics on close or timeout, showing what was read.
    pub fn expect_where(&mut self, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            match self.next(deadline.saturating_duration_since(Instant::now())) {
                Next::Frame(frame) if frame["type"] == kind && matches(&frame) => return frame,
                Next::Frame(frame) => seen.push(frame),
                other => panic!("waiting for {kind}: {other:?}; read {seen:#?}"),
            }
        }
    }

    pub fn expect(&mut self, kind: &str) -> Value {
        self.expect_where(kind, |_| true)
    }

    /// Says hello (with a token when given) and returns the welcome.
    pub fn hello(&mut self, token: Option<&str>) -> Value {
        self.send(json!({"type": "hello", "visitor_token": token}));
        self.expect("welcome")
    }

    /// Sends a message and returns its ack.
    pub fn say(&mut self, client_id: &str, text: &str) -> Value {
        self.send(json!({"type": "message", "client_id": client_id, "text": text}));
        self.expect_where("ack", |f| f["client_id"] == client_id)
    }

    /// Closes the socket politely.
    pub fn close(mut self) {
        let socket = &mut self.socket;
        let _ = self.runtime.block_on(async { socket.close(None).await });
    }
}
