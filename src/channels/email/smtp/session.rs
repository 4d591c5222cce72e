//! One SMTP connection: the loop that reads lines, drives `mailin::Session`,
//! reads DATA itself, awaits the sink, writes replies and upgrades to TLS.
//!
//! The loop is generic over the stream, so the same code runs on TCP, on a
//! TLS stream after STARTTLS, and on in-memory pipes in tests. mailin keeps
//! the protocol state; [`command`](super::command) and [`data`](super::data)
//! do the byte-level work; [`reply`](super::reply) words every answer.
//! Every read is bounded in length and time (idle and whole-session limits).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mailin::{Action, Session, SessionBuilder};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};

use super::command::{self, Prepared, Verb};
use super::data::{self, Body, Refusal, MAX_DATA_LINE};
use super::handler::{DataStart, SinkHandler, Slot};
use super::line::{read_line, LineRead};
use super::reply::{self, Reply};
use super::MailSink;
use crate::channels::email::{Delivery, Envelope};
use crate::config::SmtpSettings;
use crate::metrics::SmtpMetrics;

/// Longest command line kept, CRLF included (RFC 5321 asks for 512; long
/// addresses and parameters get some room).
pub(crate) const MAX_COMMAND_LINE: usize = 2048;

/// What every session of one listener shares.
pub(crate) struct Context<S> {
    pub(crate) settings: SmtpSettings,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) sink: Arc<S>,
    /// Sessions and refusals are counted here.
    pub(crate) metrics: SmtpMetrics,
    builder: SessionBuilder,
    next_session: AtomicU64,
}

impl<S: MailSink> Context<S> {
    pub(crate) fn new(
        settings: SmtpSettings,
        tls: Option<TlsAcceptor>,
        sink: Arc<S>,
        metrics: SmtpMetrics,
    ) -> Self {
        let mut builder = SessionBuilder::new(settings.hostname.clone());
        if tls.is_some() {
            builder.enable_start_tls();
        }
        Context {
            settings,
            tls,
            sink,
            metrics,
            builder,
            next_session: AtomicU64::new(1),
        }
    }
}

/// Why a session ended other than by QUIT, a timeout or the peer closing.
/// All of these are the peer's doing as far as we can tell, so they are
/// logged at debug level.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("TLS handshake failed: {0}")]
    Handshake(io::Error),
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
    #[error("write timed out: the client stopped reading")]
    WriteTimeout,
}

/// Runs one session on `stream` until it ends, inside its own tracing span.
/// `shutdown` makes a session waiting for a command say `421` and close.
pub(crate) async fn run<S, T>(
    ctx: Arc<Context<S>>,
    stream: T,
    peer: SocketAddr,
    shutdown: CancellationToken,
) where
    S: MailSink,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let id = ctx.next_session.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("smtp_session", %peer, session = id);
    let _open = ctx.metrics.session();
    async move {
        debug!("session started");
        let mut conn = Conn::new(ctx, peer, shutdown);
        match conn.serve(stream).await {
            Ok(()) => debug!("session ended"),
            Err(error) => debug!(%error, "session ended"),
        }
    }
    .instrument(span)
    .await;
}

/// What the loop does after one command (or one DATA phase).
enum Step {
    Reply(Reply),
    /// Write this, then close.
    Close(Reply),
    /// The peer is gone; nothing to write.
    Gone,
    /// mailin answered 354: the session reads the message.
    Data,
    /// mailin agreed to STARTTLS.
    StartTls,
}

/// What one bounded read produced.
enum Input {
    Line,
    TooLong { crlf: bool, length: u64 },
    Eof,
    Timeout(Reply),
}

/// How a run of commands on one stream ended.
enum Next<T> {
    Close,
    StartTls(T),
}

struct Conn<S: MailSink> {
    ctx: Arc<Context<S>>,
    peer: SocketAddr,
    session: Session<SinkHandler<S>>,
    slot: Slot,
    /// Whether the last accepted `MAIL FROM` was the null sender `<>`.
    null_sender: bool,
    tls_active: bool,
    deadline: Instant,
    shutdown: CancellationToken,
    /// The line being processed (reused between reads).
    line: Vec<u8>,
}

impl<S: MailSink> Conn<S> {
    fn new(ctx: Arc<Context<S>>, peer: SocketAddr, shutdown: CancellationToken) -> Self {
        let slot = Slot::default();
        let handler = SinkHandler::new(ctx.sink.clone(), ctx.settings.max_recipients, slot.clone());
        let session = ctx.builder.build(peer.ip(), handler);
        let deadline = Instant::now() + ctx.settings.session_timeout;
        Conn {
            ctx,
            peer,
            session,
            slot,
            null_sender: false,
            tls_active: false,
            deadline,
            shutdown,
            line: Vec::with_capacity(256),
        }
    }

    async fn serve<T>(&mut self, stream: T) -> Result<(), SessionError>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let mut io = BufReader::new(stream);
        self.send(&mut io, &reply::greeting(&self.ctx.settings.hostname))
            .await?;
        let stream = match self.commands(io).await? {
            Next::Close => return Ok(()),
            Next::StartTls(stream) => stream,
        };
        // mailin offers STARTTLS only when an acceptor was configured.
        let Some(acceptor) = self.ctx.tls.clone() else {
            return Ok(());
        };
        let handshake_end = (Instant::now() + self.ctx.settings.idle_timeout).min(self.deadline);
        let tls = match timeout_at(handshake_end, acceptor.accept(stream)).await {
            Err(_) => return Err(SessionError::HandshakeTimeout),
            Ok(Err(error)) => return Err(SessionError::Handshake(error)),
            Ok(Ok(tls)) => tls,
        };
        self.session.tls_active();
        self.tls_active = true;
        debug!("TLS established");
        // mailin refuses a second STARTTLS, so only `Close` can come back.
        self.commands(BufReader::new(tls)).await?;
        Ok(())
    }

    /// Reads and answers commands until the session closes or upgrades.
    async fn commands<T>(&mut self, mut io: BufReader<T>) -> Result<Next<T>, SessionError>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let shutdown = self.shutdown.clone();
        loop {
            let input = tokio::select! {
                biased;
                () = shutdown.cancelled() => None,
                input = self.read(&mut io, MAX_COMMAND_LINE) => Some(input?),
            };
            let step = match input {
                None => Step::Close(reply::shutting_down()),
                Some(Input::Line) => match self.command() {
                    Step::Data => self.data(&mut io).await?,
                    step => step,
                },
                Some(Input::TooLong { .. }) => Step::Reply(reply::command_line_too_long()),
                Some(Input::Eof) => Step::Gone,
                Some(Input::Timeout(reply)) => Step::Close(reply),
            };
            match step {
                Step::Reply(reply) => self.send(&mut io, &reply).await?,
                Step::Close(reply) => {
                    debug!(
                        code = reply.code(),
                        reply = reply.text(),
                        "closing the session"
                    );
                    self.send(&mut io, &reply).await?;
                    // Best effort: a FIN (or TLS close_notify) after the reply.
                    let _ = timeout(self.ctx.settings.idle_timeout, io.shutdown()).await;
                    return Ok(Next::Close);
                }
                // (`Data` was replaced by the outcome of the DATA phase above.)
                Step::Gone | Step::Data => return Ok(Next::Close),
                Step::StartTls => {
                    self.send(&mut io, &reply::tls_ready()).await?;
                    let pipelined = io.buffer().len();
                    if pipelined > 0 {
                        debug!(
                            pipelined,
                            "discarding bytes sent ahead of the TLS handshake"
                        );
                    }
                    // `into_inner` drops the read buffer: nothing sent in
                    // plain text can leak into the encrypted session.
                    return Ok(Next::StartTls(io.into_inner()));
                }
            }
        }
    }

    /// Answers the command in `self.line` (mailin does the state keeping).
    fn command(&mut self) -> Step {
        let max = self.ctx.settings.max_message_bytes;
        let (verb, response, null_sender) = match command::prepare(&self.line, max) {
            Prepared::Refuse(reply) => return Step::Reply(reply),
            Prepared::Forward {
                verb,
                line,
                null_sender,
            } => (verb, self.session.process(&line), null_sender),
        };
        if verb == Verb::Mail && response.code == 250 {
            self.null_sender = null_sender;
        }
        let hostname = &self.ctx.settings.hostname;
        match response.action {
            Action::Reply => match (verb, response.code) {
                (Verb::Ehlo, 250) => {
                    let offer_starttls = self.ctx.tls.is_some() && !self.tls_active;
                    Step::Reply(reply::ehlo(hostname, max, offer_starttls))
                }
                (Verb::Helo, 250) => Step::Reply(reply::helo(hostname)),
                (Verb::Data, 354) => Step::Data,
                _ => Step::Reply(reply::from_mailin(verb, &response)),
            },
            Action::Close => Step::Close(reply::from_mailin(verb, &response)),
            Action::UpgradeTls => Step::StartTls,
            Action::NoReply => {
                // Only mailin's DATA state is silent, and the session never
                // leaves mailin in it.
                warn!(?verb, "mailin gave no reply to a command");
                Step::Close(reply::internal_error())
            }
        }
    }

    /// Reads a message after 354, then stores it through the sink.
    async fn data<T>(&mut self, io: &mut BufReader<T>) -> Result<Step, SessionError>
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        self.send(io, &reply::start_data()).await?;
        let started = self.slot.take();
        let mut body = Body::new(self.ctx.settings.max_message_bytes);
        loop {
            let step = match self.read(io, MAX_DATA_LINE).await? {
                Input::Line => body.push_line(&self.line),
                Input::TooLong { crlf, length } => body.push_overlong_line(crlf, length),
                Input::Eof => {
                    debug!("client closed the connection during DATA");
                    return Ok(Step::Gone);
                }
                Input::Timeout(reply) => return Ok(Step::Close(reply)),
            };
            match step {
                data::Step::More => {}
                data::Step::End => break,
                data::Step::BareLf => {
                    debug!("bare LF in DATA, refusing the message");
                    return Ok(Step::Close(reply::bare_lf_in_data()));
                }
            }
        }
        // mailin is still in its DATA state; its end-of-data returns it to
        // the post-HELO state, ready for another transaction.
        let ended = self.session.process(b".\r\n");
        if ended.code != 250 {
            warn!(code = ended.code, "mailin refused the end of data");
        }
        let raw = match body.finish() {
            Ok(raw) => raw,
            Err(Refusal::TooBig) => {
                debug!("message over the size limit refused");
                return Ok(Step::Reply(reply::message_too_big()));
            }
            Err(Refusal::LineTooLong) => {
                debug!("message with an overlong line refused");
                return Ok(Step::Reply(reply::data_line_too_long(MAX_DATA_LINE)));
            }
        };
        let Some(started) = started else {
            warn!("no envelope recorded at the start of DATA");
            return Ok(Step::Reply(reply::local_error()));
        };
        let envelope = self.envelope(started);
        let size = raw.len();
        let delivery = self.ctx.sink.deliver(envelope, raw).await;
        match &delivery {
            Delivery::Stored { queue_id } => info!(%queue_id, size, "message stored"),
            Delivery::Rejected { code, message } => info!(code, %message, "message rejected"),
            Delivery::TryLater { code, message } => warn!(code, %message, "message deferred"),
        }
        Ok(Step::Reply(reply::from_delivery(&delivery)))
    }

    fn envelope(&self, started: DataStart) -> Envelope {
        let mut recipients: Vec<String> = Vec::with_capacity(started.recipients.len());
        for recipient in started.recipients {
            if !recipients
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&recipient))
            {
                recipients.push(recipient);
            }
        }
        Envelope {
            peer: self.peer,
            helo: started.helo,
            mail_from: (!self.null_sender).then_some(started.reverse_path),
            recipients,
        }
    }

    /// Reads one line into `self.line`, within the idle and session limits.
    async fn read<T>(&mut self, io: &mut BufReader<T>, limit: usize) -> Result<Input, SessionError>
    where
        T: AsyncRead + Unpin,
    {
        let idle_end = Instant::now() + self.ctx.settings.idle_timeout;
        let (until, on_timeout): (_, fn() -> Reply) = if self.deadline <= idle_end {
            (self.deadline, reply::session_timeout)
        } else {
            (idle_end, reply::idle_timeout)
        };
        let read = match timeout_at(until, read_line(io, &mut self.line, limit)).await {
            Ok(read) => read?,
            Err(_) => return Ok(Input::Timeout(on_timeout())),
        };
        Ok(match read {
            LineRead::Line => Input::Line,
            LineRead::TooLong { crlf, length } => Input::TooLong { crlf, length },
            LineRead::Eof => Input::Eof,
        })
    }

    /// Writes one reply, giving up if the client stops reading.
    async fn send<T>(&self, io: &mut T, reply: &Reply) -> Result<(), SessionError>
    where
        T: AsyncWrite + Unpin,
    {
        if let Some(reason) = reply.rejection() {
            self.ctx.metrics.rejected(reason);
        }
        let bytes = reply.to_bytes();
        let write = async {
            io.write_all(&bytes).await?;
            io.flush().await
        };
        match timeout(self.ctx.settings.idle_timeout, write).await {
            Ok(written) => Ok(written?),
            Err(_) => Err(SessionError::WriteTimeout),
        }
    }
}
