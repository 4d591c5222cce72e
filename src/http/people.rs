//! Agents and contacts: the team list with availability, an agent's own
//! availability switch, and contact reads, edits and search (each limited
//! to the contacts the agent may see, `contact_access`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::CurrentAgent;
use super::contact_access::{can_see_contact, visible_contact};
use super::conversations::parse_id;
use super::error::ApiError;
use super::json::JsonBody;
use super::views::ContactView;
use crate::app::App;
use crate::config::Role;
use crate::store::{ContactPatch, ContactUpdateError, MergeError};

const SEARCH_LIMIT: usize = 50;

#[derive(Serialize)]
pub struct AgentView {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    teams: Vec<String>,
    seat: bool,
    available: bool,
}

pub async fn agents(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
) -> Result<Json<Vec<AgentView>>, ApiError> {
    let list = agent
        .workspace
        .agents
        .iter()
        .map(|a| {
            Ok(AgentView {
                id: a.id.clone(),
                name: a.name.clone(),
                email: a.email.clone(),
                role: match a.role {
                    Role::Admin => "admin",
                    Role::Agent => "agent",
                },
                teams: a.teams.clone(),
                seat: a.seat,
                available: crate::routing::is_available(&app, &agent.workspace, &a.id)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityChange {
    available: Option<bool>,
}

#[derive(Serialize)]
pub struct AvailabilityView {
    id: String,
    available: bool,
}

pub async fn set_availability(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    JsonBody(body): JsonBody<AvailabilityChange>,
) -> Result<Json<AvailabilityView>, ApiError> {
    let available = body
        .available
        .ok_or_else(|| ApiError::bad("available", "required: true or false"))?;
    app.store.set_availability(&agent.agent.id, available)?;
    app.store.durable().await?;
    if available {
        crate::routing::backfill(&app, &agent.agent.id).await?;
    }
    Ok(Json(AvailabilityView {
        id: agent.agent.id,
        available,
    }))
}

pub async fn contact(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    let id = parse_id(&id, "contact")?;
    Ok(Json(visible_contact(&app, &agent, id)?.into()))
}

#[derive(Serialize)]
pub struct ContactList {
    contacts: Vec<ContactView>,
}

pub async fn search_contacts(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ContactList>, ApiError> {
    let query = params.get("q").map(|q| q.trim()).unwrap_or("");
    if query.is_empty() {
        return Err(ApiError::bad("q", "give some text to search for"));
    }
    let found = app.store.search_contacts(query, SEARCH_LIMIT, |contact| {
        can_see_contact(&app, &agent, contact)
    })?;
    Ok(Json(ContactList {
        contacts: found.into_iter().map(ContactView::from).collect(),
    }))
}

/// A field that may be absent (unchanged), `null` (cleared) or a value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactChange {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    owner: Option<Option<String>>,
}

pub async fn patch_contact(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ContactChange>,
) -> Result<Json<ContactView>, ApiError> {
    let id = parse_id(&id, "contact")?;
    visible_contact(&app, &agent, id)?;
    if let Some(Some(owner)) = &body.owner {
        if agent.workspace.agent(owner).is_none() {
            return Err(ApiError::bad("owner", format!("no agent \"{owner}\"")));
        }
    }
    // One valid mailbox, stored normalised (as every address is).
    let email = match body.email {
        Some(Some(email)) => Some(Some(
            crate::email_address::normalize(&email)
                .ok_or_else(|| ApiError::bad("email", "expected one valid email address"))?,
        )),
        other => other,
    };
    let patch = ContactPatch {
        name: body.name,
        email,
        phone: body.phone,
        owner: body.owner,
    };
    let store = app.store.clone();
    let updated = tokio::task::spawn_blocking(move || store.update_contact(id, &patch))
        .await
        .map_err(|e| ApiError::Internal(crate::store::StoreError::Transaction(e.to_string())))?
        .map_err(|error| match error {
            ContactUpdateError::NotFound => ApiError::NotFound { what: "contact" },
            ContactUpdateError::IdentityTaken(_) => ApiError::Conflict(error.to_string()),
            ContactUpdateError::Store(error) => ApiError::Internal(error),
        })?;
    app.store.durable().await?;
    Ok(Json(updated.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    other: Option<String>,
}

/// `POST /api/v1/contacts/{id}/merge {"other": ID}`: one person, one
/// contact. The agent must be able to see both.
pub async fn merge_contacts(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MergeRequest>,
) -> Result<Json<ContactView>, ApiError> {
    let keep = parse_id(&id, "contact")?;
    let other = body
        .other
        .as_deref()
        .ok_or_else(|| ApiError::bad("other", "required: the id of the contact to merge in"))?
        .parse()
        .map_err(|_| ApiError::bad("other", "not a contact id"))?;
    visible_contact(&app, &agent, keep)?;
    visible_contact(&app, &agent, other)?;
    let store = app.store.clone();
    let merged = tokio::task::spawn_blocking(move || store.merge_contacts(keep, other))
        .await
        .map_err(|e| ApiError::Internal(crate::store::StoreError::Transaction(e.to_string())))?
        .map_err(|error| match error {
            MergeError::NotFound => ApiError::NotFound { what: "contact" },
            MergeError::SameContact => ApiError::bad("other", error.to_string()),
            MergeError::Store(error) => ApiError::Internal(error),
        })?;
    app.store.durable().await?;
    Ok(Json(merged.into()))
}
