//! The other reads: inboxes the agent can work, contacts, and attachment
//! bytes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::Json;
use serde::Serialize;

use super::auth::CurrentAgent;
use super::conversations::{parse_id, visible_conversation};
use super::error::ApiError;
use crate::app::App;
use crate::config::ChannelKind;

#[derive(Serialize)]
pub struct ChannelSummary {
    id: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

#[derive(Serialize)]
pub struct InboxView {
    id: String,
    name: String,
    channels: Vec<ChannelSummary>,
}

pub async fn inboxes(agent: CurrentAgent) -> Json<Vec<InboxView>> {
    let workspace = &agent.workspace;
    let list = workspace
        .accessible_inboxes(&agent.agent)
        .into_iter()
        .map(|inbox| InboxView {
            id: inbox.id.clone(),
            name: inbox.name.clone(),
            channels: workspace
                .channels
                .iter()
                .filter(|c| c.inbox == inbox.id)
                .map(|c| ChannelSummary {
                    id: c.id.clone(),
                    kind: c.kind.name(),
                    address: match &c.kind {
                        ChannelKind::Email(email) => Some(email.address.clone()),
                        ChannelKind::Messenger(page) => Some(page.page_id.clone()),
                        ChannelKind::Whatsapp(number) => Some(number.phone_number_id.clone()),
                        ChannelKind::Custom(_) => None,
                        ChannelKind::Form(_) => Some(format!("/forms/{}", c.id)),
                        ChannelKind::Chat(_) => None,
                        ChannelKind::Sms(sms) => Some(match &sms.sender {
                            crate::config::SmsSender::From(number) => number.clone(),
                            crate::config::SmsSender::MessagingService(sid) => sid.clone(),
                        }),
                        ChannelKind::Calls(calls) => Some(calls.number.clone()),
                    },
                })
                .collect(),
        })
        .collect();
    Json(list)
}

/// The attachment's bytes, served as a download that the browser will not
/// render in the API's origin.
pub async fn attachment(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path((message, index)): Path<(String, String)>,
) -> Result<Response<Body>, ApiError> {
    let missing = || ApiError::NotFound { what: "attachment" };
    let message_id = parse_id(&message, "message")?;
    let message = app
        .store
        .message(message_id)?
        .ok_or(ApiError::NotFound { what: "message" })?;
    visible_conversation(&app, &agent, &message.conversation.to_string())
        .map_err(|_| ApiError::NotFound { what: "message" })?;
    let index: u32 = index.parse().map_err(|_| missing())?;
    let meta = message
        .attachments
        .get(index as usize)
        .ok_or_else(missing)?;
    let bytes = app
        .store
        .attachment(message_id, index)?
        .ok_or_else(missing)?;
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let file_name: String = meta
        .name
        .as_deref()
        .unwrap_or("attachment")
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    Ok(response)
}
