//! A client of the live event stream (`GET /api/v1/events`), over
//! tokio-tungstenite, with blocking methods: each socket owns a
//! current-thread runtime that runs only while the test waits on it, so a
//! socket nobody reads from really does not read.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// How a client sends its token.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Header(&'a str),
    Query(&'a str),
    None,
}

/// What the socket gave next.
#[derive(Debug)]
pub enum Next {
    Event(Value),
    /// A close frame (`code`, `reason`), or the stream ended (`None`).
    Closed(Option<(u16, String)>),
    TimedOut,
}

pub struct EventSocket {
    runtime: tokio::runtime::Runtime,
    socket: WebSocketStream<tokio::net::TcpStream>,
}

impl EventSocket {
    /// Connects with the token in the `Authorization` header; `since` asks
    /// for a replay of everything after that sequence number.
    pub fn connect(http: SocketAddr, token: &str, since: Option<u64>) -> EventSocket {
        EventSocket::try_connect(http, Auth::Header(token), since, None)
            .unwrap_or_else(|status| panic!("event socket refused with {status}"))
    }

    /// Connects, or returns the HTTP status that refused the upgrade.
    /// `receive_buffer` shrinks the client's kernel receive buffer (a slow
    /// consumer then backs up into the daemon quickly).
    pub fn try_connect(
        http: SocketAddr,
        auth: Auth<'_>,
        since: Option<u64>,
        receive_buffer: Option<u32>,
    ) -> Result<EventSocket, u16> {
        let mut query = Vec::new();
        if let Some(since) = since {
            query.push(format!("since={since}"));
        }
        if let Auth::Query(token) = auth {
            query.push(format!("token={token}"));
        }
        let mut url = format!("ws://{http}/api/v1/events");
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let mut request = url.into_client_request().unwrap();
        if let Auth::Header(token) = auth {
            request
                .headers_mut()
                .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let connected = runtime.block_on(async {
            let tcp = tokio::net::TcpSocket::new_v4().unwrap();
            if let Some(size) = receive_buffer {
                tcp.set_recv_buffer_size(size).unwrap();
            }
            let stream = tcp.connect(http).await.unwrap();
            tokio::time::timeout(
                Duration::from_secs(30),
                tokio_tungstenite::client_async(request, stream),
            )
            .await
            .expect("WebSocket handshake timed out")
        });
        match connected {
            Ok((socket, response)) => {
                assert_eq!(response.status().as_u16(), 101);
                Ok(EventSocket { runtime, socket })
            }
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(error) => panic!("WebSocket handshake failed: {error}"),
        }
    }

    /// The client's port, to find the connection in /proc/net/tcp.
    pub fn local_port(&self) -> u16 {
        self.socket.get_ref().local_addr().unwrap().port()
    }

    /// The next event, close, or nothing within `timeout`.
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
                Ok(None) => return Next::Closed(None),
                Ok(Some(Err(error))) => {
                    eprintln!("event socket error: {error}");
                    return Next::Closed(None);
                }
                Ok(Some(Ok(Message::Text(text)))) => {
                    let event: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("event is not JSON ({e}): {text}"));
                    return Next::Event(event);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Next::Closed(
                        frame.map(|f| (u16::from(f.code), f.reason.as_str().to_string())),
                    )
                }
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    panic!("events are text frames; got {} binary bytes", bytes.len())
                }
                // Ping, Pong, raw frames: tungstenite answers pings itself.
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Reads events until `done` holds for all read so far; panics on a
    /// close or after `timeout`.
    pub fn read_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        while !done(&events) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left) {
                Next::Event(event) => events.push(event),
                Next::Closed(close) => {
                    panic!("socket closed ({close:?}) waiting for {what}; read {events:#?}")
                }
                Next::TimedOut => panic!("timed out waiting for {what}; read {events:#?}"),
            }
        }
        events
    }

    /// Everything that arrives until the socket is quiet for `quiet`.
    pub fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut events = Vec::new();
        while let Next::Event(event) = self.next(quiet) {
            events.push(event);
        }
        events
    }
}

pub fn kind(event: &Value) -> &str {
    event["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("event without kind: {event}"))
}

pub fn seq(event: &Value) -> u64 {
    event["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("event without seq: {event}"))
}

/// The delivery state a `message.status` event carries (its payload is
/// `{"message": id, "status": {...}}`).
pub fn status_state(event: &Value) -> Option<&str> {
    event["payload"]["status"]["state"].as_str()
}

/// The message a `message.created` (payload: the message) or
/// `message.status` (payload: `{"message": id, ...}`) event is about.
pub fn message_id(event: &Value) -> Option<&str> {
    match kind(event) {
        "message.created" => event["payload"]["id"].as_str(),
        "message.status" => event["payload"]["message"].as_str(),
        _ => None,
    }
}
