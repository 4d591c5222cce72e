//! The visitor socket, `GET /ws/chat?channel=ID`: the upgrade checks the
//! channel, the page's `Origin` and the client address's socket limit
//! (`limits`), with small tungstenite buffers so that thousands of idle
//! widgets fit; then one task per socket reads frames, has `session` answer
//! them, and writes the answers and the hub's pushes. A visitor message is
//! acknowledged only after ingest made it durable; a resend of
//! the same `client_id` is the same message (ingest dedupes it) and gets
//! the same ack. Every refusal after the upgrade is an `error` frame; the
//! socket stays open unless the visitor cannot go on (a bad token, a new
//! visitor over its address's limit, no hello).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::limits::{address_key, SocketRefused, SocketSlot};
use super::protocol::{self, FrameError};
use super::session::{Reply, Session};
use crate::app::App;
use crate::client_addr::client_ip;
use crate::config::ChatChannel;

/// tungstenite's read and write buffers per socket (its defaults of
/// 128 KiB each cost ~130 KB per idle socket; PERF.md section 2).
const BUFFER: usize = 4 * 1024;
/// The largest frame read at all; longer visitor texts inside it are
/// refused with an error frame, larger frames close the socket.
const MAX_FRAME: usize = 64 * 1024;
/// Visitor sockets open at once; more are refused with `503`.
pub const MAX_SOCKETS: usize = crate::config::MAX_SOCKETS_LIMIT as usize;
/// How long a new socket may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one frame may take to leave before the socket counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Refusals before the upgrade, as JSON.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

/// The chat channel `id`, if it is one.
pub fn chat_channel(app: &App, id: &str) -> Option<ChatChannel> {
    match &app.workspace().channel(id)?.kind {
        crate::config::ChannelKind::Chat(chat) => Some((**chat).clone()),
        _ => None,
    }
}

/// Whether the request's `Origin` may embed the channel.
pub fn origin_allowed(chat: &ChatChannel, headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| chat.allows_origin(origin))
}

pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(channel) = params.get("channel").cloned() else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "give ?channel=ID");
    };
    let Some(chat) = chat_channel(&app, &channel) else {
        return refuse(StatusCode::NOT_FOUND, "not_found", "no such chat channel");
    };
    if !origin_allowed(&chat, &headers) {
        tracing::info!(%channel, origin = ?headers.get("origin"), "chat: origin refused");
        return refuse(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this site may not embed the chat",
        );
    }
    if app.chat.socket_count() >= MAX_SOCKETS {
        tracing::warn!(%channel, "chat: visitor socket limit reached");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many chats at once; try again shortly",
        );
    }
    let address = client_ip(Some(peer.ip()), &headers, &chat.trusted_proxies).unwrap_or(peer.ip());
    let address = address_key(&channel, address);
    let max = chat.per_address.max_sockets;
    let slot = match app.chat.limits.open_socket(&address, max) {
        Ok(slot) => slot,
        Err(SocketRefused::TooMany) => {
            tracing::debug!(%channel, "chat: too many sockets from one address");
            app.metrics.chat_rejected(&channel, "too_many_sockets");
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sockets",
                &format!(
                    "at most {max} chats may be open at once from one address; close one and \
                     try again"
                ),
            );
        }
        Err(SocketRefused::Full) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many chats at once; try again shortly",
            )
        }
    };
    upgrade
        .read_buffer_size(BUFFER)
        .write_buffer_size(BUFFER)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| {
            let span = tracing::debug_span!("chat_socket", %channel);
            let session = session(app, channel, address, slot, socket);
            tracing::Instrument::instrument(session, span)
        })
}

/// One socket's life; `slot` (its place in the address's count) is given
/// back when it ends, or when the upgrade fails and the closure is dropped.
async fn session(
    app: Arc<App>,
    channel: String,
    address: String,
    slot: SocketSlot,
    mut socket: WebSocket,
) {
    let _slot = slot;
    let _open = app.metrics.widget_socket();
    let (id, mut pushes) = app.chat.register(&channel);
    let shutdown = app.chat.shutdown();
    let hello_by = tokio::time::Instant::now() + HELLO_TIMEOUT;
    let mut session = Session::new(app.clone(), channel, id, address);
    loop {
        let outgoing = tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(WsMessage::Text(text))) => session.handle(text.as_str()).await,
                Some(Ok(WsMessage::Binary(_))) => Reply::error("malformed", "send text frames with JSON", None),
                Some(Ok(WsMessage::Close(_))) | None => break,
                Some(Ok(_)) => continue,
                Some(Err(error)) => {
                    tracing::debug!(%error, "chat socket failed");
                    break;
                }
            },
            Some(frame) = pushes.recv() => Reply::one(frame.to_string()),
            () = tokio::time::sleep_until(hello_by), if !session.said_hello() => {
                let frame = protocol::error(
                    &FrameError::new("hello_timeout", "no hello within 30 seconds"),
                    None,
                );
                Reply::Close(frame, 1008, "no hello")
            }
            () = shutdown.cancelled() => {
                let frame = protocol::error(
                    &FrameError::new("going_away", "the server is restarting; reconnect shortly"),
                    None,
                );
                Reply::Close(frame, 1001, "going away")
            }
        };
        match outgoing {
            Reply::Frames(frames) => {
                let mut failed = false;
                for frame in frames {
                    let send = socket.send(WsMessage::Text(frame.into()));
                    if !matches!(tokio::time::timeout(SEND_TIMEOUT, send).await, Ok(Ok(()))) {
                        failed = true;
                        break;
                    }
                }
                if failed {
                    break;
                }
            }
            Reply::Close(frame, code, reason) => {
                let _ = socket.send(WsMessage::Text(frame.into())).await;
                let close = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = socket.send(WsMessage::Close(Some(close))).await;
                break;
            }
        }
    }
    app.chat.unregister(id);
}
