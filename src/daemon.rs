//! The daemon: opens the store, binds nothing itself (listeners are passed in,
//! so tests bind port 0), starts the SMTP and HTTP servers, tells systemd when
//! it is ready, reloads the workspace on SIGHUP and drains on SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::channels::custom::send::CustomSender;
use crate::channels::email::receive::EmailReceiver;
use crate::channels::email::relay::{EmailSender, RelayError};
use crate::channels::email::smtp::{self, SmtpServer};
use crate::channels::meta::media;
use crate::channels::meta::profile;
use crate::channels::meta::send::MetaSender;
use crate::clock::SystemClock;
use crate::config::{self, Config, HttpSettings};
use crate::disk_space::{self, DiskSpace};
use crate::listen::{self, http::HttpListener, ConnectionGate, ConnectionLimits};
use crate::outbox::{OutboxWorker, Senders};
use crate::store::{Store, StoreError};
use crate::tokens::TokenRegistry;

/// How long sessions in flight may take to finish after SIGTERM.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot load the SMTP certificate: {0}")]
    Tls(#[from] smtp::TlsError),
    #[error("cannot set up the outbound SMTP relay: {0}")]
    Relay(#[from] RelayError),
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The sockets the daemon serves on.
pub struct Listeners {
    pub smtp: Option<TcpListener>,
    pub http: TcpListener,
    /// `metrics.listen`: `/metrics` alone, off the main HTTP listener.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses the config names.
    pub async fn bind(config: &Config) -> Result<Listeners, DaemonError> {
        let smtp = match &config.smtp {
            Some(settings) => Some(bind("SMTP", settings.listen).await?),
            None => None,
        };
        let http = bind("HTTP", config.http.listen).await?;
        let metrics = match config.metrics.listen {
            Some(addr) => Some(bind("metrics", addr).await?),
            None => None,
        };
        Ok(Listeners {
            smtp,
            http,
            metrics,
        })
    }
}

/// Connections the kernel completes and queues before the daemon accepts
/// them. The standard library's 128 overflows in a burst (a reconnecting
/// crowd of widgets, a flood being refused), and every connection over it
/// waits a second for its SYN to be sent again; the kernel caps this at
/// `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    let bound = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    bound().map_err(|source| DaemonError::Bind { what, addr, source })
}

/// Installs the process-wide rustls crypto provider (aws-lc-rs) once, so a
/// second provider enabled by another crate cannot make rustls panic.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Runs the daemon until `shutdown` is cancelled, then drains and flushes.
/// `config_path` is re-read on SIGHUP when given.
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    install_crypto_provider();
    listen::file_limit::ensure(connection_caps(&config));
    std::fs::create_dir_all(&config.storage.path)?;
    let min_free = config.storage.min_free_bytes;
    disk_space::emergency::release_if_low(&config.storage.path, min_free);
    let store = Store::open_with_cache(&config.storage.path, config.storage.cache_bytes)?;
    let tokens = TokenRegistry::new(&config.storage.path);
    let mut app = App::new(
        config.workspace.clone(),
        store.clone(),
        Arc::new(SystemClock),
        tokens,
    );
    let mut senders = Senders {
        email: config
            .outbound_smtp
            .as_ref()
            .map(EmailSender::new)
            .transpose()?,
        meta: MetaSender::new(app.clock.clone(), app.channel_health.clone()),
        custom: CustomSender::new(app.clock.clone(), app.channel_health.clone()),
        sms: crate::channels::sms::send::SmsSender::new(app.clock.clone()),
        chat: Default::default(),
    };
    app.relay_configured = senders.email.is_some();
    app.metrics_settings = config.metrics.clone();
    app.disk = Arc::new(DiskSpace::new(&config.storage.path, min_free));
    // Logs at once when the daemon starts below the reserve.
    app.disk.status();
    if let Some(smtp) = &config.smtp {
        app.hostname = smtp.hostname.clone();
    }
    let app = Arc::new(app);
    app.chat.set_shutdown(shutdown.clone());

    let tasks = tokio_util::task::TaskTracker::new();
    let mut ready = Vec::new();
    if let (Some(settings), Some(listener)) = (&config.smtp, listeners.smtp) {
        let tls = settings.tls.as_ref().map(smtp::load_tls).transpose()?;
        ready.push(format!("smtp={}", listener.local_addr()?));
        let server = SmtpServer::new(
            settings.clone(),
            tls,
            Arc::new(EmailReceiver::new(app.clone())),
            app.metrics.smtp.clone(),
        )
        .with_connection_metrics(app.metrics.connection_gate("smtp"));
        tasks.spawn(server.serve(listener, shutdown.clone(), DRAIN_DEADLINE));
    }
    ready.push(format!("http={}", listeners.http.local_addr()?));
    let router = crate::http::router(app.clone());
    let http = http_listener(&app, "http", &config.http, http_limits(&config.http));
    tasks.spawn(listen::http::serve(
        listeners.http,
        router,
        http,
        shutdown.clone(),
    ));
    if let Some(listener) = listeners.metrics {
        ready.push(format!("metrics={}", listener.local_addr()?));
        let router = crate::http::metrics_router(app.clone());
        let metrics = http_listener(&app, "metrics", &config.http, METRICS_LIMITS);
        tasks.spawn(listen::http::serve(
            listener,
            router,
            metrics,
            shutdown.clone(),
        ));
    }
    tasks.spawn(reload_on_sighup(app.clone(), config_path, shutdown.clone()));
    let greetings = app.workspace();
    tasks.spawn(async move { profile::set_greetings(&greetings).await });
    senders.chat = crate::channels::chat::send::ChatSender::new(app.clone());
    tasks.spawn(crate::channels::chat::follow::run(
        app.clone(),
        shutdown.clone(),
    ));
    let outbox = OutboxWorker::new(app.clone(), senders, config.outbox.clone());
    tasks.spawn(outbox.run(shutdown.clone()));
    tasks.spawn(media::run(app.clone(), shutdown.clone()));
    tasks.spawn(crate::memory_trim::run(shutdown.clone()));
    tasks.spawn(disk_space::watch(app.disk.clone(), shutdown.clone()));
    tasks.spawn(crate::retention::run(
        app.clone(),
        config.storage.event_retention,
        shutdown.clone(),
    ));
    tasks.close();

    // One line on stdout says where the daemon listens (tests read it).
    println!("switchboard ready {}", ready.join(" "));
    tracing::info!(listeners = %ready.join(" "), "ready");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);

    shutdown.cancelled().await;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down: draining sessions");
    if tokio::time::timeout(DRAIN_DEADLINE + Duration::from_secs(5), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sessions did not finish before the deadline");
    }
    store.flush_now()?;
    tracing::info!(flushes = store.flush_count(), "stopped");
    Ok(())
}

/// The caps of the separate `/metrics` listener: a scraper or two.
const METRICS_LIMITS: ConnectionLimits = ConnectionLimits {
    max_open: 64,
    max_per_address: 16,
};

fn http_limits(settings: &HttpSettings) -> ConnectionLimits {
    ConnectionLimits {
        max_open: settings.max_connections,
        max_per_address: settings.max_connections_per_address,
    }
}

/// The connections all listeners may hold at once, each one a file.
fn connection_caps(config: &Config) -> u64 {
    let http = config.http.max_connections;
    let smtp = config.smtp.as_ref().map_or(0, |smtp| smtp.max_sessions);
    let metrics = config.metrics.listen.map_or(0, |_| METRICS_LIMITS.max_open);
    (http + smtp + metrics) as u64
}

fn http_listener(
    app: &App,
    name: &'static str,
    settings: &HttpSettings,
    limits: ConnectionLimits,
) -> HttpListener {
    HttpListener {
        name,
        gate: ConnectionGate::new(limits, Some(app.metrics.connection_gate(name))),
        header_read_timeout: settings.header_read_timeout,
        header_timeouts: Some(app.metrics.header_timeouts(name)),
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
pub fn cancel_on_signals(shutdown: CancellationToken) -> Result<(), std::io::Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        shutdown.cancel();
    });
    Ok(())
}

/// Re-reads the config on SIGHUP and applies its workspace; an invalid file
/// is logged and the running workspace kept. Listener and storage changes
/// need a restart.
async fn reload_on_sighup(
    app: Arc<App>,
    config_path: Option<PathBuf>,
    shutdown: CancellationToken,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Some(path) = config_path else {
        return;
    };
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; reload disabled");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hangup.recv() => {}
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
        match config::load(&path) {
            Ok(config) => {
                app.replace_workspace(config.workspace);
                let greetings = app.workspace();
                tokio::spawn(async move { profile::set_greetings(&greetings).await });
                tracing::info!(path = %path.display(), "workspace reloaded");
            }
            Err(error) => {
                for problem in error.problems() {
                    tracing::error!(%problem, "config reload refused; keeping the running workspace");
                }
            }
        }
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    }
}
