//! The live event socket: `GET /api/v1/events?since=SEQ` upgrades to a
//! WebSocket that first replays the durable log after `since`, then follows
//! it live. Each subscriber only keeps its position in the log, never a
//! queue, so memory stays flat however many events it has to catch up on;
//! a consumer that stops reading is closed with `1008`. A `since` from
//! before the oldest event still kept (see `retention`) is answered
//! first with a `gap` frame: the client missed events and should reload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::CurrentAgent;
use super::error::ApiError;
use super::views::{MessageView, StatusView};
use crate::app::App;
use crate::clock::rfc3339;
use crate::events::{Event, EventPayload};

/// Events read from the log per step.
const BATCH: usize = 256;
/// How long one frame may take to leave before the consumer counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Close code for a consumer that does not keep up (policy violation).
const CLOSE_TOO_SLOW: u16 = 1008;
/// Close code when the agent's access ended (token or agent removed).
const CLOSE_UNAUTHORIZED: u16 = 4401;

pub async fn events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .or_else(|| params.get("token").map(String::as_str));
    let agent = match token {
        Some(token) => CurrentAgent::from_token(&app, token)?,
        // The web inbox's session cookie, from our own pages only.
        None => match crate::web::session_of(&app, &headers) {
            Some(session) if crate::web::same_origin(&headers) => {
                CurrentAgent::for_agent(&app, &session.agent)?
            }
            Some(_) => {
                return Err(ApiError::Forbidden(
                    "the event socket is for this site's pages",
                ))
            }
            None => return Err(ApiError::Unauthorized),
        },
    };
    let since = match params.get("since") {
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad("since", "expected an event sequence number"))?,
        ),
        None => None,
    };
    let agent_id = agent.agent.id;
    Ok(upgrade
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .on_upgrade(move |socket| follow(app, agent_id, since, socket)))
}

/// Streams the log to one subscriber until it leaves or falls behind.
async fn follow(app: Arc<App>, agent_id: String, since: Option<u64>, mut socket: WebSocket) {
    let _present = PresenceGuard::new(app.clone(), agent_id.clone());
    let _subscribed = app.metrics.event_subscriber();
    if let Err(error) = crate::routing::backfill(&app, &agent_id).await {
        tracing::error!(%error, "cannot assign waiting conversations");
    }
    let mut durable = app.store.durable_seq();
    let mut next = since.map_or_else(|| *durable.borrow() + 1, |seq| seq + 1);
    tracing::debug!(agent = %agent_id, next, "event subscriber connected");
    match app.store.oldest_event_seq() {
        Ok(Some(oldest)) if since.is_some() && oldest > next => {
            let gap = json!({"type": "gap", "missed_from": next, "oldest_seq": oldest});
            if socket
                .send(WsMessage::Text(gap.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        Ok(_) => {}
        Err(error) => {
            tracing::error!(%error, "cannot read the event log");
            return;
        }
    }
    loop {
        let last = *durable.borrow_and_update();
        if next <= last {
            let batch = match app.event_cache.batch(&app.store, next, last, BATCH, |e| {
                render(&app, e).to_string()
            }) {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "cannot read the event log");
                    return;
                }
            };
            if batch.is_empty() {
                next = last + 1; // pruned meanwhile: nothing left to send
                continue;
            }
            let workspace = app.workspace();
            let Some(agent) = workspace.agent(&agent_id).cloned() else {
                close(
                    &mut socket,
                    CLOSE_UNAUTHORIZED,
                    "agent no longer configured",
                )
                .await;
                return;
            };
            for event in batch {
                next = event.seq + 1;
                let visible = workspace
                    .inbox(&event.inbox)
                    .is_some_and(|inbox| workspace.can_access(&agent, inbox));
                if !visible {
                    continue;
                }
                match tokio::time::timeout(SEND_TIMEOUT, socket.send(WsMessage::Text(event.text)))
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        tracing::info!(agent = %agent_id, "event consumer too slow, disconnecting");
                        close(&mut socket, CLOSE_TOO_SLOW, "consumer too slow").await;
                        return;
                    }
                }
            }
            continue;
        }
        tokio::select! {
            changed = durable.changed() => {
                if changed.is_err() {
                    close(&mut socket, 1001, "shutting down").await;
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Counts the socket in the agent's presence while it is open.
struct PresenceGuard {
    app: Arc<App>,
    agent: String,
}

impl PresenceGuard {
    fn new(app: Arc<App>, agent: String) -> Self {
        app.presence.connected(&agent, app.clock.now());
        PresenceGuard { app, agent }
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.app
            .presence
            .disconnected(&self.agent, self.app.clock.now());
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(frame)).await;
}

/// The event as the API shows it: the payload in the same shape as the
/// REST endpoints return.
fn render(app: &App, event: Event) -> Value {
    let payload = match event.payload {
        EventPayload::Conversation(conversation) => {
            let contact = app.store.contact(conversation.contact).ok().flatten();
            json!(super::views::conversation_view(app, *conversation, contact))
        }
        EventPayload::Message(message) => json!(MessageView::from(*message)),
        EventPayload::Status { message, status } => {
            json!({ "message": message, "status": StatusView::from(status) })
        }
    };
    json!({
        "seq": event.seq,
        "kind": event.kind,
        "inbox": event.inbox,
        "conversation": event.conversation,
        "payload": payload,
        "at": rfc3339(event.at),
    })
}
