//! `GET /api/v1/channels`: the channels of the inboxes the agent can see,
//! and whether each can send (a provider that refused the channel's access
//! token makes it unhealthy until a send succeeds again); custom channels
//! also show their capabilities.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::auth::CurrentAgent;
use crate::app::App;
use crate::clock::rfc3339;
use crate::config::{Capabilities, ChannelKind};

#[derive(Serialize)]
pub struct ProblemView {
    reason: String,
    at: String,
}

#[derive(Serialize)]
pub struct ChannelView {
    id: String,
    kind: &'static str,
    inbox: String,
    healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<ProblemView>,
    /// What a custom channel's app can show (replies are checked against it).
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Capabilities>,
}

pub async fn list(State(app): State<Arc<App>>, agent: CurrentAgent) -> Json<Vec<ChannelView>> {
    let channels = agent
        .workspace
        .channels
        .iter()
        .filter(|channel| agent.can_see(&channel.inbox))
        .map(|channel| {
            let problem = app.channel_health.problem(&channel.id);
            ChannelView {
                id: channel.id.clone(),
                kind: channel.kind.name(),
                inbox: channel.inbox.clone(),
                healthy: problem.is_none(),
                problem: problem.map(|p| ProblemView {
                    reason: p.reason,
                    at: rfc3339(p.at),
                }),
                capabilities: match &channel.kind {
                    ChannelKind::Custom(custom) => Some(custom.capabilities),
                    _ => None,
                },
            }
        })
        .collect();
    Json(channels)
}
