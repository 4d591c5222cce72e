//! Agents' writes on conversations: a reply or an internal note, a status or
//! assignee change, and a new outbound email conversation. A reply is
//! answered only once it and its delivery job are durable.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::CurrentAgent;
use super::conversations::visible_conversation;
use super::error::ApiError;
use super::json::JsonBody;
use super::views::{ConversationView, MessageView};
use crate::app::App;
use crate::config::{Channel, ChannelKind};
use crate::email_address;
use crate::inbound::{Identity, Sender};
use crate::model::{Author, ConversationStatus};
use crate::store::{ConversationPatch, OutboundError, OutboundRequest, StoreError, Target};

/// The largest reply text or HTML accepted, in bytes.
const MAX_BODY_TEXT: usize = 256 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    private: bool,
}

fn checked_text(text: Option<String>, html: &Option<String>) -> Result<String, ApiError> {
    let text = text.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad("text", "must not be empty"));
    }
    if text.len() > MAX_BODY_TEXT {
        return Err(ApiError::bad(
            "text",
            format!("longer than {MAX_BODY_TEXT} bytes"),
        ));
    }
    if html.as_ref().is_some_and(|h| h.len() > MAX_BODY_TEXT) {
        return Err(ApiError::bad(
            "html",
            format!("longer than {MAX_BODY_TEXT} bytes"),
        ));
    }
    Ok(text)
}

/// Whether a message can be sent on this channel now; `422` when not.
fn check_can_send(app: &App, channel: &Channel) -> Result<(), ApiError> {
    match channel.kind {
        ChannelKind::Email(_) if !app.relay_configured => Err(ApiError::Unprocessable(
            "this email channel cannot send: no [outbound_smtp] relay is configured".into(),
        )),
        ChannelKind::Email(_) => Ok(()),
        ChannelKind::Messenger(_) | ChannelKind::Whatsapp(_) => Err(ApiError::Unprocessable(
            "sending on Messenger and WhatsApp channels is not available yet".into(),
        )),
    }
}

fn email_extras(app: &App, channel: &Channel) -> (Option<String>, bool) {
    match channel.kind {
        ChannelKind::Email(_) => (Some(app.hostname.clone()), true),
        ChannelKind::Messenger(_) | ChannelKind::Whatsapp(_) => (None, false),
    }
}

async fn write_outbound(
    app: &Arc<App>,
    request: OutboundRequest,
) -> Result<crate::model::Message, ApiError> {
    let store = app.store.clone();
    let written = tokio::task::spawn_blocking(move || store.append_outbound(request))
        .await
        .map_err(|e| ApiError::Internal(StoreError::Transaction(e.to_string())))?;
    let (message, _conversation) = written.map_err(|error| match error {
        OutboundError::NotFound => ApiError::NotFound {
            what: "conversation",
        },
        OutboundError::AutoReplyLoop => ApiError::Unprocessable(error.to_string()),
        OutboundError::Store(error) => ApiError::Internal(error),
    })?;
    app.store.durable().await?;
    if !message.private {
        app.outbox_wake.notify_one();
    }
    Ok(message)
}

pub async fn post_message(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let conversation = visible_conversation(&app, &agent, &id)?;
    let text = checked_text(body.text, &body.html)?;
    let (domain, reply_token) = match agent.workspace.channel(&conversation.channel) {
        Some(channel) => {
            if !body.private {
                check_can_send(&app, channel)?;
            }
            email_extras(&app, channel)
        }
        None if body.private => (None, false),
        None => {
            return Err(ApiError::Unprocessable(
                "the conversation's channel is no longer configured".into(),
            ))
        }
    };
    let request = OutboundRequest {
        target: Target::Conversation(conversation.id),
        author: Author::Agent {
            id: agent.agent.id.clone(),
        },
        author_name: Some(agent.agent.name.clone()),
        text,
        html: body.html,
        private: body.private,
        message_id_domain: domain,
        reply_token,
        now: app.clock.now(),
    };
    let message = write_outbound(&app, request).await?;
    Ok((StatusCode::CREATED, Json(message.into())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationChange {
    #[serde(default)]
    status: Option<String>,
    /// Absent: unchanged; `null`: unassign; a string: assign.
    #[serde(default, deserialize_with = "present")]
    assignee: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub async fn patch_conversation(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ConversationChange>,
) -> Result<Json<ConversationView>, ApiError> {
    let conversation = visible_conversation(&app, &agent, &id)?;
    let mut patch = ConversationPatch {
        by: format!("agent:{}", agent.agent.id),
        ..ConversationPatch::default()
    };
    if let Some(status) = &body.status {
        patch.status = Some(
            ConversationStatus::parse(status)
                .ok_or_else(|| ApiError::bad("status", "expected open, pending or closed"))?,
        );
    }
    if let Some(assignee) = &body.assignee {
        if let Some(id) = assignee {
            let workspace = &agent.workspace;
            let target = workspace
                .agent(id)
                .ok_or_else(|| ApiError::bad("assignee", format!("no agent \"{id}\"")))?;
            let inbox = workspace
                .inbox(&conversation.inbox)
                .ok_or(ApiError::NotFound {
                    what: "conversation",
                })?;
            if !workspace.can_access(target, inbox) {
                return Err(ApiError::Conflict(format!(
                    "agent \"{id}\" has no access to inbox \"{}\"",
                    inbox.id
                )));
            }
            if !target.seat {
                return Err(ApiError::Conflict(format!(
                    "agent \"{id}\" holds no seat and cannot be assigned conversations"
                )));
            }
        }
        patch.assignee = Some(assignee.clone());
    }
    let store = app.store.clone();
    let now = app.clock.now();
    let id = conversation.id;
    let updated = tokio::task::spawn_blocking(move || store.update_conversation(id, &patch, now))
        .await
        .map_err(|e| ApiError::Internal(StoreError::Transaction(e.to_string())))??;
    app.store.durable().await?;
    let contact = app.store.contact(updated.contact)?;
    Ok(Json(ConversationView::new(updated, contact)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConversation {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html: Option<String>,
}

#[derive(Serialize)]
pub struct StartedConversation {
    conversation: ConversationView,
    message: MessageView,
}

pub async fn start_conversation(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    JsonBody(body): JsonBody<NewConversation>,
) -> Result<(StatusCode, Json<StartedConversation>), ApiError> {
    let channel_id = body
        .channel
        .ok_or_else(|| ApiError::bad("channel", "required"))?;
    let channel = agent
        .workspace
        .channel(&channel_id)
        .filter(|c| agent.can_see(&c.inbox))
        .ok_or_else(|| {
            ApiError::bad(
                "channel",
                format!("no channel \"{channel_id}\" you can use"),
            )
        })?
        .clone();
    let to = body
        .to
        .as_deref()
        .and_then(email_address::normalize)
        .ok_or_else(|| ApiError::bad("to", "expected an email address"))?;
    let subject = body
        .subject
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad("subject", "must not be empty"))?;
    let text = checked_text(body.text, &body.html)?;
    check_can_send(&app, &channel)?;
    let (domain, reply_token) = email_extras(&app, &channel);
    let request = OutboundRequest {
        target: Target::New {
            inbox: channel.inbox.clone(),
            channel: channel.id.clone(),
            recipient: Sender {
                identity: Identity {
                    kind: "email".into(),
                    handle: to.clone(),
                },
                name: body.name,
                email: Some(to),
                phone: None,
            },
            subject: Some(subject),
        },
        author: Author::Agent {
            id: agent.agent.id.clone(),
        },
        author_name: Some(agent.agent.name.clone()),
        text,
        html: body.html,
        private: false,
        message_id_domain: domain,
        reply_token,
        now: app.clock.now(),
    };
    let message = write_outbound(&app, request).await?;
    let conversation = app
        .store
        .conversation(message.conversation)?
        .ok_or(ApiError::NotFound {
            what: "conversation",
        })?;
    let contact = app.store.contact(conversation.contact)?;
    Ok((
        StatusCode::CREATED,
        Json(StartedConversation {
            conversation: ConversationView::new(conversation, contact),
            message: message.into(),
        }),
    ))
}
