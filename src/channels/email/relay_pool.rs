//! The connections to the relay behind `EmailSender`: opened here, so the
//! socket gets TCP_NODELAY (lettre 0.11's own tokio connector never sets it,
//! and lettre writes the DATA terminator on its own, so every message would
//! wait for the relay's delayed ACK), then spoken to with lettre's
//! `AsyncSmtpConnection`, and kept in a small pool of idle connections.
//!
//! Mirrors lettre's `AsyncSmtpTransport` and pool: EHLO, STARTTLS (required
//! when configured) or TLS from the first byte, AUTH, then per message MAIL,
//! RCPT, DATA; a parked connection must answer NOOP before it is reused; a
//! connection that erred is never parked; connections leaving the pool
//! (too many idle, idle too long, sender dropped) get a QUIT.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
#[allow(deprecated)] // lettre's only way to hand it a socket of our own
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error as SmtpError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

/// How the connection to the relay is secured.
pub(super) enum Security {
    Plain,
    /// TLS from the first byte (port 465).
    Tls(TlsParameters),
    /// STARTTLS, required: no message goes out over plain text.
    Starttls(TlsParameters),
}

/// Where and how to connect.
pub(super) struct Client {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub hello: ClientId,
    pub credentials: Option<Credentials>,
    /// Bound on each step of setting up a connection (connect, TLS,
    /// greeting and EHLO, STARTTLS, AUTH) and on the NOOP before reuse.
    pub timeout: Duration,
}

/// How many idle connections are kept, and for how long.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_idle: usize,
    pub idle_for: Duration,
}

/// Why a send did not go through.
#[derive(Debug)]
pub(super) enum Failure {
    /// The relay could not be reached (name lookup, TCP connect, socket).
    Connect(io::Error),
    /// A connection step got no answer within the timeout.
    TimedOut,
    /// What lettre reported: a relay reply, TLS, I/O during the session.
    Smtp(SmtpError),
}

/// One open SMTP session with the relay.
struct Connection {
    smtp: AsyncSmtpConnection,
    /// TCP_NODELAY as read back from the socket after setting it.
    #[cfg_attr(not(test), allow(dead_code))]
    nodelay: bool,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

struct Shared {
    client: Client,
    limits: Limits,
    /// Parked connections, oldest first; a connection in use is in no list,
    /// so two sends never share one.
    idle: Mutex<Vec<Idle>>,
}

/// The relay connections of one `EmailSender`.
pub(super) struct Pool {
    shared: Arc<Shared>,
    /// Drops connections idle too long even when nothing is sent.
    reaper: JoinHandle<()>,
}

impl Pool {
    /// Must run inside the tokio runtime (it starts the reaper task).
    pub fn new(client: Client, limits: Limits) -> Pool {
        let shared = Arc::new(Shared {
            client,
            limits,
            idle: Mutex::new(Vec::new()),
        });
        let reaper = tokio::spawn(reap(Arc::downgrade(&shared)));
        Pool { shared, reaper }
    }

    /// Sends one message over a parked connection that still answers, else
    /// over a new one; parks the connection again when all went well.
    pub async fn send(&self, envelope: &Envelope, email: &[u8]) -> Result<Response, Failure> {
        let mut connection = match self.shared.reuse().await {
            Some(connection) => connection,
            None => self.shared.client.open().await?,
        };
        match connection.smtp.send(envelope, email).await {
            Ok(response) => {
                self.shared.park(connection);
                Ok(response)
            }
            Err(error) => {
                // lettre has already sent QUIT when the relay refused a
                // command; a client-side refusal (8BITMIME, SMTPUTF8) leaves
                // the session open.
                quit_later(vec![connection], self.shared.client.timeout);
                Err(Failure::Smtp(error))
            }
        }
    }

    #[cfg(test)]
    pub fn idle_count(&self) -> usize {
        self.shared.idle.lock().unwrap().len()
    }

    /// TCP_NODELAY of each parked connection's socket.
    #[cfg(test)]
    pub fn idle_nodelay(&self) -> Vec<bool> {
        let idle = self.shared.idle.lock().unwrap();
        idle.iter().map(|idle| idle.connection.nodelay).collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.reaper.abort();
        let idle = std::mem::take(&mut *self.shared.idle.lock().unwrap_or_else(|e| e.into_inner()));
        quit_later(
            idle.into_iter().map(|idle| idle.connection).collect(),
            self.shared.client.timeout,
        );
    }
}

impl Shared {
    /// The most recently parked connection that answers NOOP; stale and
    /// silent ones are dropped on the way.
    async fn reuse(&self) -> Option<Connection> {
        loop {
            let mut connection = {
                let mut idle = self.idle.lock().unwrap();
                let newest = idle.pop()?;
                if newest.since.elapsed() >= self.limits.idle_for {
                    // The newest is too old, so are all the others.
                    let mut stale: Vec<Connection> = idle.drain(..).map(|i| i.connection).collect();
                    drop(idle);
                    stale.push(newest.connection);
                    quit_later(stale, self.client.timeout);
                    return None;
                }
                newest.connection
            };
            match tokio::time::timeout(self.client.timeout, connection.smtp.test_connected()).await
            {
                Ok(true) => {
                    tracing::debug!("reusing a pooled relay connection");
                    return Some(connection);
                }
                // The relay hung up or stopped answering: no QUIT to send.
                _ => tracing::debug!("dropping a broken pooled relay connection"),
            }
        }
    }

    /// Parks a connection after a successful send, unless enough are idle.
    fn park(&self, connection: Connection) {
        if connection.smtp.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap();
        if idle.len() >= self.limits.max_idle {
            drop(idle);
            quit_later(vec![connection], self.client.timeout);
        } else {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }

    /// Drops the connections idle for too long.
    fn expire(&self) {
        let stale: Vec<Connection> = {
            let mut idle = self.idle.lock().unwrap();
            let fresh = idle
                .iter()
                .position(|i| i.since.elapsed() < self.limits.idle_for)
                .unwrap_or(idle.len());
            idle.drain(..fresh).map(|i| i.connection).collect()
        };
        if !stale.is_empty() {
            tracing::debug!(count = stale.len(), "closing idle relay connections");
            quit_later(stale, self.client.timeout);
        }
    }
}

async fn reap(shared: Weak<Shared>) {
    let Some(every) = shared
        .upgrade()
        .map(|s| (s.limits.idle_for / 6).max(Duration::from_millis(10)))
    else {
        return;
    };
    loop {
        tokio::time::sleep(every).await;
        match shared.upgrade() {
            Some(shared) => shared.expire(),
            None => return,
        }
    }
}

/// Says QUIT on each connection and closes it, in the background.
fn quit_later(connections: Vec<Connection>, timeout: Duration) {
    if connections.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        for mut connection in connections {
            // `abort` skips the QUIT on a connection lettre saw break.
            let _ = tokio::time::timeout(timeout, connection.smtp.abort()).await;
        }
    });
}

impl Client {
    /// A new session: TCP (TCP_NODELAY), TLS when configured, greeting and
    /// EHLO, STARTTLS when configured, AUTH when there are credentials.
    async fn open(&self) -> Result<Connection, Failure> {
        let tcp = self.connect().await?;
        tcp.set_nodelay(true).map_err(Failure::Connect)?;
        let nodelay = tcp.nodelay().map_err(Failure::Connect)?;
        let stream: Box<dyn AsyncTokioStream> = match &self.security {
            Security::Tls(parameters) => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                self.step(stream.upgrade_tls(parameters.clone())).await?;
                Box::new(ImplicitTls(stream.compat()))
            }
            Security::Plain | Security::Starttls(_) => Box::new(tcp),
        };
        let smtp = self
            .step(AsyncSmtpConnection::connect_with_transport(
                stream,
                &self.hello,
            ))
            .await?;
        let mut connection = Connection { smtp, nodelay };
        match self.start_session(&mut connection).await {
            Ok(()) => {
                tracing::debug!(host = %self.host, port = self.port, "connected to the relay");
                Ok(connection)
            }
            Err(failure) => {
                if let Failure::Smtp(_) = failure {
                    quit_later(vec![connection], self.timeout);
                }
                Err(failure)
            }
        }
    }

    async fn start_session(&self, connection: &mut Connection) -> Result<(), Failure> {
        if let Security::Starttls(parameters) = &self.security {
            // lettre refuses (without sending STARTTLS) when the relay does
            // not offer it.
            self.step(connection.smtp.starttls(parameters.clone(), &self.hello))
                .await?;
        }
        if let Some(credentials) = &self.credentials {
            self.step(connection.smtp.auth(DEFAULT_MECHANISMS, credentials))
                .await?;
        }
        Ok(())
    }

    /// A TCP connection to the first address of the relay that answers.
    async fn connect(&self) -> Result<TcpStream, Failure> {
        let addresses = tokio::time::timeout(
            self.timeout,
            tokio::net::lookup_host((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| Failure::TimedOut)?
        .map_err(Failure::Connect)?;
        let mut last = None;
        for address in addresses {
            match tokio::time::timeout(self.timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(error)) => last = Some(Failure::Connect(error)),
                Err(_) => last = Some(Failure::TimedOut),
            }
        }
        Err(last.unwrap_or_else(|| {
            Failure::Connect(io::Error::new(
                io::ErrorKind::NotFound,
                "the host name has no address",
            ))
        }))
    }

    async fn step<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, SmtpError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, future).await {
            Ok(result) => result.map_err(Failure::Smtp),
            Err(_) => Err(Failure::TimedOut),
        }
    }
}

/// lettre's TLS-upgraded stream (futures-io) as the tokio stream that
/// `AsyncSmtpConnection::connect_with_transport` takes, for TLS from the
/// first byte: lettre only upgrades its own stream type.
#[allow(deprecated)]
#[derive(Debug)]
struct ImplicitTls(Compat<AsyncNetworkStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.get_ref().peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
