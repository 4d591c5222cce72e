//! Routing: turns a channel's rules and the team's state (seats, inbox
//! access, availability, presence) into the plans the store applies when a
//! conversation starts: who may get it, and which ticket to open. The
//! balanced choice itself happens in the store, under its writer lock, so
//! concurrent arrivals see each other's assignments.

use std::collections::HashMap;

use crate::app::App;
use crate::config::{Agent, AssignTo, Channel, Workspace};
use crate::store::{AssignmentPlan, OwnerInfo, StoreError, TicketPlan};

/// Whether an agent counts as available for routing now: they said so,
/// and they have been connected recently.
pub fn is_available(app: &App, workspace: &Workspace, agent: &str) -> Result<bool, StoreError> {
    Ok(app.store.is_available(agent)?
        && app
            .presence
            .is_present(agent, app.clock.now(), workspace.routing.away_after))
}

/// Whether the agent may be given conversations of the channel's inbox.
fn may_hold(workspace: &Workspace, agent: &Agent, channel: &Channel) -> bool {
    agent.seat
        && workspace
            .inbox(&channel.inbox)
            .is_some_and(|inbox| workspace.can_access(agent, inbox))
}

/// The assignment plan for a new conversation on `channel`, if it routes.
pub fn assignment_plan(
    app: &App,
    workspace: &Workspace,
    channel: &Channel,
) -> Result<Option<AssignmentPlan>, StoreError> {
    let Some(rule) = &channel.routing else {
        return Ok(None);
    };
    let mut candidates = Vec::new();
    for id in &rule.candidates {
        let Some(agent) = workspace.agent(id) else {
            continue;
        };
        if !may_hold(workspace, agent, channel) {
            continue;
        }
        if rule.only_available && !is_available(app, workspace, id)? {
            continue;
        }
        candidates.push(id.clone());
    }
    let mut owners = HashMap::new();
    if rule.assign_to == AssignTo::ContactOwner {
        for agent in workspace
            .agents
            .iter()
            .filter(|a| may_hold(workspace, a, channel))
        {
            owners.insert(
                agent.id.clone(),
                OwnerInfo {
                    available: is_available(app, workspace, &agent.id)?,
                    email: agent.email.clone(),
                    name: agent.name.clone(),
                },
            );
        }
    }
    Ok(Some(AssignmentPlan {
        contact_owner: rule.assign_to == AssignTo::ContactOwner,
        candidates,
        capacity: rule.max_open_per_agent,
        owners,
        rule: "users_and_teams".into(),
    }))
}

/// The ticket plan for a new conversation on `channel`, if it opens tickets.
pub fn ticket_plan(workspace: &Workspace, channel: &Channel) -> Option<TicketPlan> {
    channel.tickets.as_ref().map(|rule| TicketPlan {
        pipeline: rule.pipeline.clone(),
        stage: rule.stage.clone(),
        owner: rule.owner.clone(),
        priority: rule.priority,
        max_per_contact: workspace.routing.max_tickets_per_contact,
    })
}

/// Gives an agent who just became available the oldest unassigned
/// conversations of the channels whose rules include them, up to capacity.
/// Returns how many were assigned.
pub async fn backfill(app: &std::sync::Arc<App>, agent_id: &str) -> Result<usize, StoreError> {
    let workspace = app.workspace();
    let Some(agent) = workspace.agent(agent_id) else {
        return Ok(0);
    };
    if !is_available(app, &workspace, agent_id)? {
        return Ok(0);
    }
    let mut channels = Vec::new();
    let mut capacity: Option<u32> = None;
    for channel in &workspace.channels {
        let Some(rule) = &channel.routing else {
            continue;
        };
        if rule.candidates.iter().any(|c| c == agent_id) && may_hold(&workspace, agent, channel) {
            channels.push(channel.id.clone());
            if let Some(cap) = rule.max_open_per_agent {
                capacity = Some(capacity.map_or(cap, |c| c.min(cap)));
            }
        }
    }
    if channels.is_empty() {
        return Ok(0);
    }
    let store = app.store.clone();
    let agent = agent_id.to_string();
    let now = app.clock.now();
    // A conversation whose sender has not given a consent the channel
    // requires waits for it, not for an agent.
    let check_store = app.store.clone();
    let may_route = move |conversation: &crate::model::Conversation| {
        let Some(channel) = workspace.channel(&conversation.channel) else {
            return false;
        };
        !crate::automations::requires_consent(channel)
            || check_store
                .contact(conversation.contact)
                .ok()
                .flatten()
                .is_some_and(|contact| contact.consent.is_some())
    };
    let assigned = tokio::task::spawn_blocking(move || {
        store.assign_waiting(&agent, &channels, capacity, now, &may_route)
    })
    .await
    .map_err(|e| StoreError::Transaction(e.to_string()))??;
    app.store.durable().await?;
    if !assigned.is_empty() {
        tracing::info!(
            agent = agent_id,
            count = assigned.len(),
            "assigned waiting conversations"
        );
    }
    Ok(assigned.len())
}
