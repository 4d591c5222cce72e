//! `POST /api/v1/conversations/{id}/typing` `{"typing": true|false}`: an
//! agent is typing an answer; relayed to the visitor's open chat sockets as
//! a `typing` frame. Only chat conversations have a typing indicator.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::CurrentAgent;
use super::conversations::visible_conversation;
use super::error::ApiError;
use super::json::JsonBody;
use crate::app::App;
use crate::config::ChannelKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Typing {
    #[serde(default = "yes")]
    typing: bool,
}

fn yes() -> bool {
    true
}

pub async fn typing(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Typing>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let conversation = visible_conversation(&app, &agent, &id)?;
    let is_chat = agent
        .workspace
        .channel(&conversation.channel)
        .is_some_and(|c| matches!(c.kind, ChannelKind::Chat(_)));
    if !is_chat {
        return Err(ApiError::Unprocessable(
            "only chat conversations show a typing indicator".into(),
        ));
    }
    let frame = json!({
        "type": "typing",
        "on": body.typing,
        "agent": {"name": agent.agent.name},
    });
    let sockets = app
        .chat
        .push_to_conversation(conversation.id, &frame.to_string());
    Ok((StatusCode::ACCEPTED, Json(json!({"sockets": sockets}))))
}
