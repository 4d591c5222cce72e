//! Session and server tests for the SMTP receiver, with a recording sink
//! and a minimal SMTP client that asserts reply codes.
//!
//! - `session`: the connection loop over `tokio::io::duplex` pipes.
//! - `lifetime`: timeouts and shutdown of a session.
//! - `server`: the accept loop on a loopback port (session cap, shutdown).
//! - `starttls`: the TLS upgrade, with a raw tokio-rustls client and lettre.

mod lifetime;
mod server;
mod session;
mod starttls;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::session::{run as run_session, Context};
use super::MailSink;
use crate::channels::email::{Delivery, Envelope};
use crate::config::SmtpSettings;
use crate::metrics::{Metrics, SmtpMetrics};

/// Limits small enough to reach in a test.
pub(super) fn settings() -> SmtpSettings {
    SmtpSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        hostname: "mx.test".into(),
        max_message_bytes: 1000,
        max_recipients: 3,
        max_sessions: 2,
        max_sessions_per_address: 2,
        idle_timeout: Duration::from_secs(5),
        session_timeout: Duration::from_secs(60),
        tls: None,
    }
}

/// Accepts `*@example.com` only; records deliveries; answers from a queue
/// of scripted deliveries, then `Stored`.
#[derive(Default)]
pub(super) struct TestSink {
    delivered: Mutex<Vec<(Envelope, Vec<u8>)>>,
    scripted: Mutex<VecDeque<Delivery>>,
}

impl TestSink {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(TestSink::default())
    }

    pub(super) fn answer_next(&self, delivery: Delivery) {
        self.scripted.lock().unwrap().push_back(delivery);
    }

    pub(super) fn delivered(&self) -> Vec<(Envelope, Vec<u8>)> {
        self.delivered.lock().unwrap().clone()
    }
}

impl MailSink for TestSink {
    fn accepts_recipient(&self, address: &str) -> bool {
        address.to_ascii_lowercase().ends_with("@example.com")
    }

    async fn deliver(&self, envelope: Envelope, raw: Vec<u8>) -> Delivery {
        let mut delivered = self.delivered.lock().unwrap();
        delivered.push((envelope, raw));
        let scripted = self.scripted.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| Delivery::Stored {
            queue_id: format!("Q{}", delivered.len()),
        })
    }
}

/// One reply as the client read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Answer {
    pub code: u16,
    /// The text of every line, joined by `\n`.
    pub text: String,
}

/// A line-oriented SMTP client for tests.
pub(super) struct Client<T> {
    io: BufReader<T>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Client<T> {
    pub(super) fn new(stream: T) -> Self {
        Client {
            io: BufReader::new(stream),
        }
    }

    pub(super) async fn write(&mut self, bytes: impl AsRef<[u8]>) {
        self.io.get_mut().write_all(bytes.as_ref()).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// Reads one (possibly multi-line) reply.
    pub(super) async fn reply(&mut self) -> Answer {
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            let read = tokio::time::timeout(
                Duration::from_secs(30),
                self.io.read_until(b'\n', &mut line),
            )
            .await
            .expect("no reply within 30 s")
            .unwrap();
            assert!(
                read > 0,
                "connection closed while waiting for a reply (after {lines:?})"
            );
            let line = String::from_utf8(line).unwrap();
            let line = line.strip_suffix("\r\n").expect("reply line without CRLF");
            let code: u16 = line[..3].parse().unwrap();
            lines.push(line[4..].to_string());
            if &line[3..4] == " " {
                return Answer {
                    code,
                    text: lines.join("\n"),
                };
            }
        }
    }

    /// Sends `line` with CRLF and reads the reply.
    pub(super) async fn cmd(&mut self, line: &str) -> Answer {
        self.write(format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Whether the server has closed the connection (after any reply).
    pub(super) async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            self.io.read_until(b'\n', &mut rest),
        )
        .await;
        matches!(read, Ok(Ok(0)) | Ok(Err(_)))
    }

    /// Greeting, EHLO, MAIL, one RCPT, DATA, the body, and the final reply.
    pub(super) async fn send_mail(&mut self, from: &str, to: &str, body: &[u8]) -> Answer {
        assert_eq!(self.cmd(&format!("MAIL FROM:<{from}>")).await.code, 250);
        assert_eq!(self.cmd(&format!("RCPT TO:<{to}>")).await.code, 250);
        assert_eq!(self.cmd("DATA").await.code, 354);
        self.write(body).await;
        self.write(b".\r\n").await;
        self.reply().await
    }

    pub(super) fn into_inner(self) -> T {
        self.io.into_inner()
    }
}

pub(super) fn peer() -> SocketAddr {
    "192.0.2.7:40000".parse().unwrap()
}

/// A session over an in-memory pipe; returns the client end (greeting not
/// yet read), the session task and its shutdown token.
pub(super) fn start(
    settings: SmtpSettings,
    sink: Arc<TestSink>,
) -> (
    Client<tokio::io::DuplexStream>,
    JoinHandle<()>,
    CancellationToken,
) {
    start_with_tls(settings, None, sink)
}

pub(super) fn start_with_tls(
    settings: SmtpSettings,
    tls: Option<tokio_rustls::TlsAcceptor>,
    sink: Arc<TestSink>,
) -> (
    Client<tokio::io::DuplexStream>,
    JoinHandle<()>,
    CancellationToken,
) {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let shutdown = CancellationToken::new();
    let ctx = Arc::new(Context::new(settings, tls, sink, Metrics::new().smtp));
    let task = tokio::spawn(run_session(ctx, server, peer(), shutdown.clone()));
    (Client::new(client), task, shutdown)
}

/// Reads the greeting and says EHLO; returns the EHLO reply.
pub(super) async fn hello<T: AsyncRead + AsyncWrite + Unpin>(client: &mut Client<T>) -> Answer {
    let greeting = client.reply().await;
    assert_eq!(greeting.code, 220);
    let ehlo = client.cmd("EHLO client.test").await;
    assert_eq!(ehlo.code, 250);
    ehlo
}

/// A server on a loopback port, as the daemon runs it.
pub(super) struct Running {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<()>,
    pub sink: Arc<TestSink>,
    pub metrics: SmtpMetrics,
}

pub(super) async fn serve(
    settings: SmtpSettings,
    tls: Option<tokio_rustls::TlsAcceptor>,
    drain: Duration,
) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = TestSink::new();
    let metrics = Metrics::new().smtp;
    let server = super::SmtpServer::new(settings, tls, sink.clone(), metrics.clone());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.serve(listener, shutdown.clone(), drain));
    Running {
        addr,
        shutdown,
        task,
        sink,
        metrics,
    }
}

pub(super) async fn connect(addr: SocketAddr) -> Client<tokio::net::TcpStream> {
    Client::new(tokio::net::TcpStream::connect(addr).await.unwrap())
}
