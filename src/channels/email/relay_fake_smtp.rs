//! A tiny loopback SMTP relay for the relay tests: it speaks enough SMTP
//! for lettre (EHLO, optional STARTTLS or implicit TLS, AUTH, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT), can refuse MAIL FROM or AUTH with a given
//! reply, stay silent, or hang up after each message, and records what it
//! receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How the fake relay behaves.
#[derive(Clone, Default)]
pub(super) struct Behaviour {
    /// The reply to MAIL FROM instead of `250`.
    pub mail_reply: Option<&'static str>,
    /// The reply to AUTH instead of `235`.
    pub auth_reply: Option<&'static str>,
    /// TLS from the first byte (implicit TLS, port 465 style).
    pub implicit_tls: Option<TlsAcceptor>,
    /// Offers STARTTLS with this certificate.
    pub starttls: Option<TlsAcceptor>,
    /// Accepts connections but never says a word.
    pub silent: bool,
    /// Closes the connection right after answering a message's DATA.
    pub hang_up_after_data: bool,
}

/// What the relay saw.
#[derive(Debug, Default, Clone)]
pub(super) struct Log {
    /// TCP connections accepted.
    pub connections: usize,
    /// QUIT commands received.
    pub quits: usize,
    pub ehlo: Vec<String>,
    pub auth: Vec<String>,
    pub mails: Vec<Received>,
    /// Whether any command arrived inside TLS.
    pub encrypted: bool,
}

/// One accepted transaction.
#[derive(Debug, Default, Clone)]
pub(super) struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
}

pub(super) struct FakeRelay {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    task: JoinHandle<()>,
}

impl FakeRelay {
    pub async fn start(behaviour: Behaviour) -> FakeRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(connection(stream, behaviour.clone(), shared.clone()));
            }
        });
        FakeRelay { addr, log, task }
    }

    pub fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum End<S> {
    Closed,
    StartTls(BufReader<S>),
}

async fn connection(stream: TcpStream, behaviour: Behaviour, log: Arc<Mutex<Log>>) {
    log.lock().unwrap().connections += 1;
    if behaviour.silent {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        return;
    }
    if let Some(acceptor) = &behaviour.implicit_tls {
        let Ok(tls) = acceptor.accept(stream).await else {
            return;
        };
        session(BufReader::new(tls), &behaviour, &log, true).await;
        return;
    }
    let plain = session(BufReader::new(stream), &behaviour, &log, false).await;
    if let (End::StartTls(reader), Some(acceptor)) = (plain, &behaviour.starttls) {
        let Ok(tls) = acceptor.accept(reader.into_inner()).await else {
            return;
        };
        session(BufReader::new(tls), &behaviour, &log, true).await;
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: BufReader<S>,
    behaviour: &Behaviour,
    log: &Mutex<Log>,
    encrypted: bool,
) -> End<S> {
    let after_starttls = encrypted && behaviour.starttls.is_some();
    if !after_starttls && !write(&mut io, "220 fake.test ESMTP\r\n").await {
        return End::Closed;
    }
    let mut mail = Received::default();
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
            return End::Closed;
        }
        let line = line.trim_end().to_string();
        log.lock().unwrap().encrypted |= encrypted;
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let argument = line.get(verb.len()..).unwrap_or("").trim().to_string();
        let answer = match verb.as_str() {
            "EHLO" => {
                log.lock().unwrap().ehlo.push(argument);
                let tls = if behaviour.starttls.is_some() && !encrypted {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                format!("250-fake.test\r\n250-8BITMIME\r\n{tls}250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n")
            }
            "STARTTLS" if behaviour.starttls.is_some() && !encrypted => {
                write(&mut io, "220 2.0.0 Ready to start TLS\r\n").await;
                return End::StartTls(io);
            }
            "AUTH" => {
                log.lock().unwrap().auth.push(argument);
                reply(behaviour.auth_reply, "235 2.7.0 Authentication successful")
            }
            "MAIL" => {
                mail = Received {
                    mail_from: argument,
                    ..Received::default()
                };
                reply(behaviour.mail_reply, "250 2.1.0 Ok")
            }
            "RCPT" => {
                mail.rcpt_to.push(argument);
                "250 2.1.5 Ok\r\n".to_string()
            }
            "DATA" => {
                if !write(&mut io, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return End::Closed;
                }
                mail.data = read_data(&mut io).await;
                log.lock().unwrap().mails.push(std::mem::take(&mut mail));
                if behaviour.hang_up_after_data {
                    write(&mut io, "250 2.0.0 Ok: queued as FAKE123\r\n").await;
                    return End::Closed;
                }
                "250 2.0.0 Ok: queued as FAKE123\r\n".to_string()
            }
            "RSET" | "NOOP" => "250 2.0.0 Ok\r\n".to_string(),
            "QUIT" => {
                log.lock().unwrap().quits += 1;
                write(&mut io, "221 2.0.0 Bye\r\n").await;
                return End::Closed;
            }
            _ => "500 5.5.2 Unknown command\r\n".to_string(),
        };
        if !write(&mut io, &answer).await {
            return End::Closed;
        }
    }
}

fn reply(configured: Option<&'static str>, default: &str) -> String {
    format!("{}\r\n", configured.unwrap_or(default))
}

/// The message up to the lone dot, dot-stuffing undone, CRLF kept.
async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if io.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 || line == b".\r\n" {
            return data;
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(line);
    }
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, text: &str) -> bool {
    io.get_mut().write_all(text.as_bytes()).await.is_ok()
}
