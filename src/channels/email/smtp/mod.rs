//! The SMTP receiver: our own tokio accept loop and connection loop driving
//! the `mailin` session engine (not mailin-embedded's blocking server).
//!
//! - [`SmtpServer`] accepts connections through a connection gate (over
//!   `smtp.max_sessions` in all they get `421 4.3.2`, over
//!   `smtp.max_sessions_per_address` from one address `421 4.7.0`, at once),
//!   runs one session task each and drains them on shutdown.
//! - `session`: the per-connection loop, generic over the stream (TCP, TLS
//!   after STARTTLS, in-memory pipes in tests).
//! - `command`, `data`, `line`, `reply`: sans-IO pieces: command pre-parsing
//!   (null sender, `SIZE=`), DATA collection (dot-unstuffing, size limit,
//!   bare-LF refusal), bounded line reading, and the wording of every reply.
//! - `handler`: the `mailin::Handler` deciding recipients.
//! - [`load_tls`]: the STARTTLS certificate and key.
//!
//! The receiver stores nothing itself: it hands each message to a
//! [`MailSink`] and answers `250` only when the sink says it is stored.

mod command;
mod data;
mod handler;
mod line;
mod reply;
mod session;
#[cfg(test)]
mod tests;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub use reply::INSUFFICIENT_STORAGE;
pub use tls::{load_tls, TlsError};

use crate::config::SmtpSettings;
use crate::listen::{ConnectionGate, ConnectionLimits, GateMetrics, Refusal};
use crate::metrics::SmtpMetrics;
use session::Context;

/// What the rest of the daemon provides to the SMTP receiver.
pub trait MailSink: Send + Sync + 'static {
    /// Whether `RCPT TO:<address>` is accepted (a configured email channel's address).
    fn accepts_recipient(&self, address: &str) -> bool;
    /// Whether there is room to store a message now (`MAIL FROM` and
    /// `DATA` are refused with `452 4.3.1` otherwise).
    fn has_room(&self) -> bool {
        true
    }
    /// Stores one received message durably and says what to answer.
    fn deliver(
        &self,
        envelope: super::Envelope,
        raw: Vec<u8>,
    ) -> impl std::future::Future<Output = super::Delivery> + Send;
}

/// The SMTP listener's accept loop.
pub struct SmtpServer<S: MailSink> {
    ctx: Arc<Context<S>>,
    gate: Arc<ConnectionGate>,
}

impl<S: MailSink> SmtpServer<S> {
    /// `tls` enables STARTTLS (see [`load_tls`]); sessions and refusals are
    /// counted in `metrics`.
    pub fn new(
        settings: SmtpSettings,
        tls: Option<TlsAcceptor>,
        sink: Arc<S>,
        metrics: SmtpMetrics,
    ) -> Self {
        let gate = ConnectionGate::new(limits(&settings), None);
        SmtpServer {
            ctx: Arc::new(Context::new(settings, tls, sink, metrics)),
            gate,
        }
    }

    /// Counts open and refused connections in `metrics`
    /// (`switchboard_connections_*{listener="smtp"}`).
    pub fn with_connection_metrics(mut self, metrics: GateMetrics) -> Self {
        self.gate = ConnectionGate::new(limits(&self.ctx.settings), Some(metrics));
        self
    }

    /// Accepts sessions until `shutdown` is cancelled, then stops accepting, lets sessions in
    /// flight finish for up to `drain` (sessions idle at a command prompt get `421 4.3.0` at
    /// once), and returns.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken, drain: Duration) {
        let mut tasks = JoinSet::new();
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "SMTP receiver listening");
        }
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(finished) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(failure) = finished {
                        if failure.is_panic() {
                            error!("an SMTP session task panicked");
                        }
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        match self.gate.admit(peer.ip()) {
                            Ok(admission) => {
                                let ctx = self.ctx.clone();
                                let shutdown = shutdown.clone();
                                tasks.spawn(async move {
                                    session::run(ctx, stream, peer, shutdown).await;
                                    drop(admission);
                                });
                            }
                            Err(refusal) => {
                                let reply = match refusal {
                                    Refusal::ListenerFull => reply::too_many_connections(),
                                    Refusal::AddressFull => reply::too_many_from_address(),
                                };
                                if let Some(reason) = reply.rejection() {
                                    self.ctx.metrics.rejected(reason);
                                }
                                tasks.spawn(refuse(stream, peer, reply));
                            }
                        }
                    }
                    Err(error) => crate::listen::accept_failed("smtp", error).await,
                },
            }
        }
        drop(listener);
        let open = tasks.len();
        if open > 0 {
            info!(open, ?drain, "SMTP receiver stopping, draining sessions");
        }
        let drained =
            tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            warn!(
                aborted = tasks.len(),
                "SMTP sessions still running after the drain period were aborted"
            );
            tasks.shutdown().await;
        }
        info!("SMTP receiver stopped");
    }
}

fn limits(settings: &SmtpSettings) -> ConnectionLimits {
    ConnectionLimits {
        max_open: settings.max_sessions,
        max_per_address: settings.max_sessions_per_address,
    }
}

/// Tells a connection over a session cap to come back later, and closes it.
async fn refuse(mut stream: TcpStream, peer: SocketAddr, reply: reply::Reply) {
    debug!(%peer, reply = %reply.text(), "session cap reached, refusing a connection");
    let bytes = reply.to_bytes();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await;
}
