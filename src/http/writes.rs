//! Agents' writes on conversations: a reply or an internal note, a status or
//! assignee change, and a new outbound email conversation. A reply is
//! answered only once it and its delivery job are durable. Replies on
//! Messenger and WhatsApp must fit the providers' messaging windows (a
//! WhatsApp template outside the 24 hours); otherwise `422` says why and
//! when the window ended.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::CurrentAgent;
use super::conversations::visible_conversation;
use super::error::ApiError;
use super::json::JsonBody;
use super::views::{conversation_view, ConversationView, MessageView, ReplyWindowView};
use crate::app::App;
use crate::channels::meta::send::max_text_chars;
use crate::channels::meta::window::{self, Outgoing, Provider, Refusal};
use crate::clock::rfc3339;
use crate::config::{Channel, ChannelKind};
use crate::email_address;
use crate::ids::Id;
use crate::inbound::{Identity, Sender};
use crate::model::{Author, ConversationStatus, MessageTemplate};
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
    /// WhatsApp only: an approved template, sent instead of the text.
    #[serde(default)]
    template: Option<TemplateRequest>,
}

/// `"template": {"name", "language", "params": [..]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    name: String,
    language: String,
    #[serde(default)]
    params: Vec<String>,
}

/// The most body parameters a template may take.
const MAX_TEMPLATE_PARAMS: usize = 100;

impl TemplateRequest {
    fn checked(self, channel: Option<&Channel>) -> Result<MessageTemplate, ApiError> {
        if !channel.is_some_and(|c| matches!(c.kind, ChannelKind::Whatsapp(_))) {
            return Err(ApiError::bad(
                "template",
                "templates can only be sent on WhatsApp channels",
            ));
        }
        let name = self.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad("template.name", "must not be empty"));
        }
        let language = self.language.trim();
        if language.is_empty() {
            return Err(ApiError::bad(
                "template.language",
                "must be a language code such as en_US",
            ));
        }
        if self.params.len() > MAX_TEMPLATE_PARAMS {
            return Err(ApiError::bad(
                "template.params",
                format!("at most {MAX_TEMPLATE_PARAMS} parameters"),
            ));
        }
        if self.params.iter().any(|p| p.trim().is_empty()) {
            return Err(ApiError::bad(
                "template.params",
                "parameters must not be empty",
            ));
        }
        Ok(MessageTemplate {
            name: name.to_string(),
            language: language.to_string(),
            params: self.params,
        })
    }

    /// What the timeline shows for a template sent without text.
    fn describe(template: &MessageTemplate) -> String {
        let mut text = format!("[template {} ({})]", template.name, template.language);
        if !template.params.is_empty() {
            text.push(' ');
            text.push_str(&template.params.join(", "));
        }
        text
    }
}

/// A reply the messaging window does not allow: `422` with the reason, the
/// window's end (RFC 3339) and the window as the conversation shows it.
#[derive(Debug)]
pub struct WindowRefused {
    refusal: Refusal,
    window: Option<window::ReplyWindow>,
}

impl IntoResponse for WindowRefused {
    fn into_response(self) -> Response {
        tracing::info!(reason = %self.refusal, "reply refused by the messaging window");
        let body = json!({
            "error": "cannot_send",
            "message": self.refusal.reason,
            "ends_at": self.refusal.ends_at.map(rfc3339),
            "reply_window": self.window.map(ReplyWindowView::from),
        });
        (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
    }
}

/// The reply endpoint's errors.
#[derive(Debug)]
pub enum PostError {
    Api(ApiError),
    Window(WindowRefused),
}

impl From<ApiError> for PostError {
    fn from(error: ApiError) -> Self {
        PostError::Api(error)
    }
}

impl From<StoreError> for PostError {
    fn from(error: StoreError) -> Self {
        PostError::Api(error.into())
    }
}

impl IntoResponse for PostError {
    fn into_response(self) -> Response {
        match self {
            PostError::Api(error) => error.into_response(),
            PostError::Window(refused) => refused.into_response(),
        }
    }
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

/// Whether an email channel can send; `422` when not.
fn check_email_can_send(app: &App, channel: &Channel) -> Result<(), ApiError> {
    match channel.kind {
        ChannelKind::Email(_) if !app.relay_configured => Err(ApiError::Unprocessable(
            "this email channel cannot send: no [outbound_smtp] relay is configured".into(),
        )),
        ChannelKind::Form(_) if !app.relay_configured => Err(ApiError::Unprocessable(
            "answers to forms go by email: no [outbound_smtp] relay is configured".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether an agent's reply may go out in `conversation` on `channel` now:
/// the relay for email, the messaging window for Messenger and WhatsApp.
fn check_can_send(
    app: &App,
    channel: &Channel,
    conversation: Id,
    template: bool,
) -> Result<(), PostError> {
    check_email_can_send(app, channel)?;
    check_recipient(app, channel, conversation)?;
    check_sms_opt_out(app, channel, conversation)?;
    let Some(provider) = Provider::of(channel) else {
        return Ok(());
    };
    let messages = app.store.messages(conversation)?;
    let last = window::last_inbound_at(&messages);
    let now = app.clock.now();
    let outgoing = Outgoing {
        automated: false,
        template,
    };
    window::check(provider, last, now, outgoing)
        .map(|_| ())
        .map_err(|refusal| {
            PostError::Window(WindowRefused {
                refusal,
                window: Some(window::window_at(provider, last, now)),
            })
        })
}

/// An email reply needs one valid address to go to: `422` instead of a
/// delivery job that could only fail.
fn check_recipient(app: &App, channel: &Channel, conversation: Id) -> Result<(), PostError> {
    let contact = match app.store.conversation(conversation)? {
        Some(conversation) => app.store.contact(conversation.contact)?,
        None => None,
    };
    match super::views::reply_problem(&channel.kind, contact.as_ref()) {
        Some(problem) => Err(ApiError::Unprocessable(problem).into()),
        None => Ok(()),
    }
}

/// A person who texted STOP on an SMS channel gets no more messages
/// until they text START: `422`.
fn check_sms_opt_out(app: &App, channel: &Channel, conversation: Id) -> Result<(), PostError> {
    if !matches!(channel.kind, ChannelKind::Sms(_) | ChannelKind::Calls(_)) {
        return Ok(());
    }
    let contact = match app.store.conversation(conversation)? {
        Some(conversation) => app.store.contact(conversation.contact)?,
        None => None,
    };
    match contact.and_then(|c| c.opted_out) {
        Some(record) => Err(ApiError::Unprocessable(format!(
            "the person opted out of SMS (texted {}); they must text START before they can be messaged again",
            record.keyword
        ))
        .into()),
        None => Ok(()),
    }
}

/// The provider's limit on a message's text; `400` over it. Over a custom
/// channel's `capabilities.max_text_length` the reply cannot be sent: `422`.
fn check_text_length(channel: &Channel, text: &str) -> Result<(), ApiError> {
    if let ChannelKind::Custom(custom) = &channel.kind {
        return crate::channels::custom::check_reply_text(custom, text)
            .map_err(ApiError::Unprocessable);
    }
    let Some(max) = max_text_chars(&channel.kind) else {
        return Ok(());
    };
    let len = text.chars().count();
    if len > max {
        return Err(ApiError::bad(
            "text",
            format!(
                "{len} characters; {} messages take at most {max}",
                channel.kind.name()
            ),
        ));
    }
    Ok(())
}

fn email_extras(app: &App, channel: &Channel) -> (Option<String>, bool) {
    match channel.kind {
        // A form's answers are emails (through its `reply_via` channel).
        ChannelKind::Email(_) | ChannelKind::Form(_) => (Some(app.hostname.clone()), true),
        ChannelKind::Messenger(_)
        | ChannelKind::Whatsapp(_)
        | ChannelKind::Custom(_)
        | ChannelKind::Sms(_)
        | ChannelKind::Calls(_)
        | ChannelKind::Chat(_) => (None, false),
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
) -> Result<(StatusCode, Json<MessageView>), PostError> {
    let conversation = visible_conversation(&app, &agent, &id)?;
    let channel = agent.workspace.channel(&conversation.channel);
    let template = match body.template {
        Some(_) if body.private => {
            return Err(ApiError::bad("template", "a note cannot be a template").into())
        }
        Some(template) => Some(template.checked(channel)?),
        None => None,
    };
    let text = match (&template, body.text) {
        (Some(template), None) => TemplateRequest::describe(template),
        (_, text) => checked_text(text, &body.html)?,
    };
    let (domain, reply_token) = match channel {
        Some(channel) => {
            if !body.private {
                if template.is_none() {
                    check_text_length(channel, &text)?;
                }
                check_can_send(&app, channel, conversation.id, template.is_some())?;
            }
            email_extras(&app, channel)
        }
        None if body.private => (None, false),
        None => {
            return Err(ApiError::Unprocessable(
                "the conversation's channel is no longer configured".into(),
            )
            .into())
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
        template,
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
    Ok(Json(conversation_view(&app, updated, contact)))
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
    if !matches!(channel.kind, ChannelKind::Email(_)) {
        return Err(ApiError::Unprocessable(format!(
            "conversations cannot be started on {} channels: the person writes first",
            channel.kind.name()
        )));
    }
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
    check_email_can_send(&app, &channel)?;
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
        template: None,
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
            conversation: conversation_view(&app, conversation, contact),
            message: message.into(),
        }),
    ))
}
