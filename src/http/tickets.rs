//! Tickets: list by pipeline, stage and owner; read one; move it through its
//! pipeline, change its owner or priority.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::CurrentAgent;
use super::conversations::parse_id;
use super::error::ApiError;
use super::json::JsonBody;
use super::views::TicketView;
use crate::app::App;
use crate::config::Priority;
use crate::model::Ticket;
use crate::store::{StoreError, TicketPatch, TicketQuery};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

#[derive(Serialize)]
pub struct TicketList {
    tickets: Vec<TicketView>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<TicketList>, ApiError> {
    let visible: Vec<String> = agent
        .workspace
        .accessible_inboxes(&agent.agent)
        .into_iter()
        .map(|inbox| inbox.id.clone())
        .collect();
    let mut query = TicketQuery {
        pipeline: params.get("pipeline").cloned(),
        stage: params.get("stage").cloned(),
        allowed_inboxes: Some(visible),
        limit: DEFAULT_LIMIT,
        ..TicketQuery::default()
    };
    if let Some(pipeline) = &query.pipeline {
        if agent.workspace.pipeline(pipeline).is_none() {
            return Err(ApiError::bad(
                "pipeline",
                format!("no pipeline \"{pipeline}\""),
            ));
        }
    }
    if let Some(owner) = params.get("owner") {
        query.owner = Some(match owner.as_str() {
            "none" => None,
            "me" => Some(agent.agent.id.clone()),
            id if agent.workspace.agent(id).is_some() => Some(id.to_string()),
            _ => return Err(ApiError::bad("owner", "expected none, me or an agent id")),
        });
    }
    if let Some(limit) = params.get("limit") {
        query.limit = limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad("limit", format!("expected 1 to {MAX_LIMIT}")))?;
    }
    let tickets = app.store.list_tickets(&query)?;
    Ok(Json(TicketList {
        tickets: tickets.into_iter().map(TicketView::from).collect(),
    }))
}

fn visible_ticket(app: &App, agent: &CurrentAgent, id: &str) -> Result<Ticket, ApiError> {
    let id = parse_id(id, "ticket")?;
    match app.store.ticket(id)? {
        Some(ticket) if agent.can_see(&ticket.inbox) => Ok(ticket),
        _ => Err(ApiError::NotFound { what: "ticket" }),
    }
}

pub async fn get(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    Ok(Json(visible_ticket(&app, &agent, &id)?.into()))
}

/// A field that may be absent (unchanged), `null` (cleared) or a value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketChange {
    #[serde(default)]
    stage: Option<String>,
    #[serde(default, deserialize_with = "present")]
    owner: Option<Option<String>>,
    #[serde(default)]
    priority: Option<String>,
}

pub async fn patch(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TicketChange>,
) -> Result<Json<TicketView>, ApiError> {
    let ticket = visible_ticket(&app, &agent, &id)?;
    let workspace = &agent.workspace;
    if let Some(stage) = &body.stage {
        let known = workspace
            .pipeline(&ticket.pipeline)
            .is_some_and(|p| p.stages.contains(stage));
        if !known {
            return Err(ApiError::bad(
                "stage",
                format!("pipeline \"{}\" has no stage \"{stage}\"", ticket.pipeline),
            ));
        }
    }
    if let Some(Some(owner)) = &body.owner {
        if workspace.agent(owner).is_none() {
            return Err(ApiError::bad("owner", format!("no agent \"{owner}\"")));
        }
    }
    let priority = match &body.priority {
        Some(text) => Some(
            Priority::parse(text)
                .ok_or_else(|| ApiError::bad("priority", "expected low, medium, high or urgent"))?,
        ),
        None => None,
    };
    let patch = TicketPatch {
        stage: body.stage,
        owner: body.owner,
        priority,
    };
    let store = app.store.clone();
    let now = app.clock.now();
    let id = ticket.id;
    let updated = tokio::task::spawn_blocking(move || store.update_ticket(id, &patch, now))
        .await
        .map_err(|e| ApiError::Internal(StoreError::Transaction(e.to_string())))??;
    app.store.durable().await?;
    Ok(Json(updated.into()))
}
