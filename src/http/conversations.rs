//! Conversation reads: the list (by inbox, status, assignee and channel
//! kind, latest activity first, with an opaque cursor), one conversation,
//! and its messages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::auth::CurrentAgent;
use super::error::ApiError;
use super::views::{ConversationView, MessageView};
use crate::app::App;
use crate::ids::Id;
use crate::model::{Conversation, ConversationStatus};
use crate::store::{AssigneeFilter, ConversationQuery};

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

#[derive(Serialize)]
pub struct ConversationList {
    conversations: Vec<ConversationView>,
    next_cursor: Option<String>,
}

pub fn parse_id(text: &str, what: &'static str) -> Result<Id, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound { what })
}

/// Loads a conversation the agent may see; others are reported as missing.
pub fn visible_conversation(
    app: &App,
    agent: &CurrentAgent,
    id: &str,
) -> Result<Conversation, ApiError> {
    let missing = ApiError::NotFound {
        what: "conversation",
    };
    let id = parse_id(id, "conversation")?;
    match app.store.conversation(id)? {
        Some(conversation) if agent.can_see(&conversation.inbox) => Ok(conversation),
        _ => Err(missing),
    }
}

fn view(app: &App, conversation: Conversation) -> Result<ConversationView, ApiError> {
    let contact = app.store.contact(conversation.contact)?;
    Ok(super::views::conversation_view(app, conversation, contact))
}

pub async fn list(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ConversationList>, ApiError> {
    let mut query = ConversationQuery {
        limit: DEFAULT_LIMIT,
        ..ConversationQuery::default()
    };
    if let Some(inbox) = params.get("inbox") {
        if !agent.can_see(inbox) {
            return Err(ApiError::bad(
                "inbox",
                format!("no inbox \"{inbox}\" you can access"),
            ));
        }
        query.inbox = Some(inbox.clone());
    } else {
        let visible: Vec<String> = agent
            .workspace
            .accessible_inboxes(&agent.agent)
            .into_iter()
            .map(|inbox| inbox.id.clone())
            .collect();
        if visible.len() != agent.workspace.inboxes.len() {
            query.allowed_inboxes = Some(visible);
        }
    }
    if let Some(assignee) = params.get("assignee") {
        query.assignee = Some(match assignee.as_str() {
            "none" => AssigneeFilter::Nobody,
            "me" => AssigneeFilter::Agent(agent.agent.id.clone()),
            id if agent.workspace.agent(id).is_some() => AssigneeFilter::Agent(id.to_string()),
            _ => {
                return Err(ApiError::bad(
                    "assignee",
                    "expected none, me or an agent id",
                ))
            }
        });
    }
    if let Some(kind) = params.get("kind") {
        // A channel kind (`email`, `whatsapp`, ...): the agent's channels of it.
        query.channels = Some(
            agent
                .workspace
                .channels
                .iter()
                .filter(|c| c.kind.name() == kind.as_str())
                .map(|c| c.id.clone())
                .collect(),
        );
    }
    if let Some(status) = params.get("status") {
        query.status = Some(
            ConversationStatus::parse(status)
                .ok_or_else(|| ApiError::bad("status", "expected open, pending or closed"))?,
        );
    }
    if let Some(limit) = params.get("limit") {
        query.limit = limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad(
                    "limit",
                    format!("expected a whole number from 1 to {MAX_LIMIT}"),
                )
            })?;
    }
    if let Some(cursor) = params.get("cursor") {
        query.cursor = Some(
            URL_SAFE_NO_PAD
                .decode(cursor)
                .map_err(|_| ApiError::bad("cursor", "not a cursor this API returned"))?,
        );
    }
    let page = app
        .store
        .list_conversations(&query)?
        .map_err(|_| ApiError::bad("cursor", "the cursor belongs to another query"))?;
    let conversations = page
        .items
        .into_iter()
        .map(|c| view(&app, c))
        .collect::<Result<_, _>>()?;
    Ok(Json(ConversationList {
        conversations,
        next_cursor: page.next_cursor.map(|c| URL_SAFE_NO_PAD.encode(c)),
    }))
}

pub async fn get(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let conversation = visible_conversation(&app, &agent, &id)?;
    Ok(Json(view(&app, conversation)?))
}

#[derive(Serialize)]
pub struct MessageList {
    messages: Vec<MessageView>,
}

pub async fn messages(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Json<MessageList>, ApiError> {
    let conversation = visible_conversation(&app, &agent, &id)?;
    let messages = app.store.messages(conversation.id)?;
    Ok(Json(MessageList {
        messages: messages.into_iter().map(MessageView::from).collect(),
    }))
}
