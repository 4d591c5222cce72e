//! The HTTP accept loop: hyper's HTTP/1 connection driver with a header-read
//! timeout, behind a [`ConnectionGate`]. axum's own `serve` has neither, so a
//! client that sends half a request and waits (or trickles a header line
//! every few seconds) would hold its connection for ever.
//!
//! The header-read timeout runs whenever hyper waits for a request head:
//! from the connection's opening, and again from the end of each response
//! on a kept-alive connection, so it is the idle timeout as well. It does
//! not run while a response streams (the live event stream) or after an
//! upgrade (WebSockets), which own their connection. The time a handler may
//! take, request body included, is bounded by the router's timeout layer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::IntCounter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tracing::Instrument;

use super::gate::{Admission, ConnectionGate, Refusal};

/// How one HTTP listener treats its connections.
#[derive(Clone)]
pub struct HttpListener {
    /// The listener's name in logs and metric labels (`http`, `metrics`).
    pub name: &'static str,
    pub gate: Arc<ConnectionGate>,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// Connections closed by the header-read timeout.
    pub header_timeouts: Option<IntCounter>,
}

/// What a refused connection is told before it is closed.
const RETRY_AFTER_SECS: u64 = 5;
/// How long a refused connection is read from (and its bytes dropped)
/// after the refusal, so that closing it does not reset the connection
/// before the client has read the answer.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// Refused connections lingering at once; beyond, a refusal is written
/// (if the socket takes it at once) and the connection closed at once, so a
/// flood of refused connections holds few file descriptors.
const MAX_LINGERING: usize = 256;

/// Serves `router` on `listener` until `shutdown` is cancelled, then asks
/// every connection to finish its request in flight and waits for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: HttpListener,
    shutdown: CancellationToken,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    let builder = Arc::new(builder);
    let connections = TaskTracker::new();
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING));
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                super::accept_failed(settings.name, error).await;
                continue;
            }
        };
        match settings.gate.admit(peer.ip()) {
            Ok(admission) => {
                let span = tracing::debug_span!("http_connection", listener = settings.name, %peer);
                let connection = connection(
                    builder.clone(),
                    stream,
                    peer,
                    router.clone(),
                    admission,
                    settings.header_timeouts.clone(),
                    shutdown.clone(),
                );
                connections.spawn(connection.instrument(span));
            }
            Err(refusal) => {
                tracing::debug!(listener = settings.name, %peer, reason = refusal.label(), "connection refused");
                match lingering.clone().try_acquire_owned() {
                    Ok(permit) => {
                        connections.spawn(async move {
                            refuse(stream, refusal).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        let _ = stream.try_write(refusal_response(refusal).as_bytes());
                    }
                }
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn connection(
    builder: Arc<http1::Builder>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    admission: Admission,
    header_timeouts: Option<IntCounter>,
    shutdown: CancellationToken,
) {
    let _admission = admission;
    let _ = stream.set_nodelay(true);
    // What `into_make_service_with_connect_info` gives handlers: the peer.
    let service = router.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    match served {
        Ok(()) => {}
        Err(error) if error.is_timeout() => {
            if let Some(counter) = header_timeouts {
                counter.inc();
            }
            tracing::debug!("closed: no complete request head within the header-read timeout");
        }
        // Peers that reset or leave mid-request are normal traffic.
        Err(error) => tracing::debug!(%error, "connection ended with an error"),
    }
}

/// The `503` a refused connection gets, with `Retry-After`.
fn refusal_response(refusal: Refusal) -> String {
    let message = match refusal {
        Refusal::ListenerFull => "too many connections; try again shortly",
        Refusal::AddressFull => "too many connections from your address; try again shortly",
    };
    let body = serde_json::json!({"error": "busy", "message": message}).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Answers `503` and closes the connection once the client has had time to
/// read it.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let response = refusal_response(refusal);
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}
