//! `GET /api/v1/messages/{id}/submission`: the web form submission a
//! message was made from, every field included: the visible ones (also in
//! the message text), the hidden ones (kept only here, e.g. the page or
//! campaign a site's form sets), the files with their attachment index, and
//! where it came from (origin, page, user agent).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::Value;

use super::auth::CurrentAgent;
use super::conversations::{parse_id, visible_conversation};
use super::error::ApiError;
use crate::app::App;
use crate::store::StoreError;

pub async fn submission(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(message): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let message_id = parse_id(&message, "message")?;
    let message = app
        .store
        .message(message_id)?
        .ok_or(ApiError::NotFound { what: "message" })?;
    visible_conversation(&app, &agent, &message.conversation.to_string())
        .map_err(|_| ApiError::NotFound { what: "message" })?;
    let is_form = agent
        .workspace
        .channel(&message.channel)
        .is_some_and(|c| c.kind.name() == "form");
    let missing = ApiError::NotFound {
        what: "form submission",
    };
    if !is_form {
        return Err(missing);
    }
    let raw = app.store.raw(message_id)?.ok_or(missing)?;
    let mut record: Value = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::Internal(StoreError::Corrupt(e.to_string())))?;
    record["message"] = Value::String(message_id.to_string());
    record["conversation"] = Value::String(message.conversation.to_string());
    Ok(Json(record))
}
