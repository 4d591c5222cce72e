//! Routing and ticket rules of a channel, and the pipelines tickets move
//! through: their validated shapes and the checks that build them.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::raw::{AssignTo, RawPipeline, RawRouting, RawTickets};
use super::workspace::{Agent, Team};

/// Who gets a channel's new conversations.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRule {
    pub assign_to: AssignTo,
    /// Named users plus members of named teams, deduplicated, config order.
    pub candidates: Vec<String>,
    pub only_available: bool,
    pub max_open_per_agent: Option<u32>,
}

/// A ticket's urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(text: &str) -> Option<Priority> {
        match text {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }
}

/// Who owns a channel's new tickets.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketOwner {
    /// The conversation's assignee, following it when it changes.
    ConversationOwner,
    Agent(String),
    Nobody,
}

/// Tickets for a channel's new conversations.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRule {
    pub pipeline: String,
    pub stage: String,
    pub owner: TicketOwner,
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub id: String,
    pub name: String,
    pub stages: Vec<String>,
}

/// Workspace-wide routing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingSettings {
    /// An agent with no live event socket for this long counts as away.
    pub away_after: Duration,
    pub max_tickets_per_contact: u32,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        RoutingSettings {
            away_after: Duration::from_secs(15 * 60),
            max_tickets_per_contact: 1000,
        }
    }
}

/// Problems found: (key path, message).
pub(super) type Found = Vec<(String, String)>;

pub(super) fn pipelines(raw: Vec<RawPipeline>, problems: &mut Found) -> Vec<Pipeline> {
    let mut ids = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, p)| {
            if !ids.insert(p.id.clone()) {
                problems.push((
                    format!("pipelines[{i}].id"),
                    format!("duplicate pipeline id \"{}\"", p.id),
                ));
            }
            if p.stages.is_empty() {
                problems.push((
                    format!("pipelines[{i}].stages"),
                    "a pipeline needs at least one stage".into(),
                ));
            }
            let mut seen = HashSet::new();
            for (j, stage) in p.stages.iter().enumerate() {
                if !seen.insert(stage) {
                    problems.push((
                        format!("pipelines[{i}].stages[{j}]"),
                        format!("duplicate stage \"{stage}\""),
                    ));
                }
            }
            Pipeline {
                id: p.id,
                name: p.name,
                stages: p.stages,
            }
        })
        .collect()
}

pub(super) fn routing_rule(
    raw: RawRouting,
    path: &str,
    agents: &[Agent],
    teams: &[Team],
    problems: &mut Found,
    warnings: &mut Vec<String>,
) -> Option<RoutingRule> {
    let mut candidates: Vec<String> = Vec::new();
    for (j, user) in raw.users.iter().enumerate() {
        match agents.iter().find(|a| &a.id == user) {
            Some(agent) => {
                if !agent.seat {
                    warnings.push(format!("{path}.users[{j}]: agent \"{user}\" holds no seat and will not be assigned"));
                }
                if !candidates.contains(user) {
                    candidates.push(user.clone());
                }
            }
            None => problems.push((format!("{path}.users[{j}]"), format!("no agent \"{user}\""))),
        }
    }
    for (j, team) in raw.teams.iter().enumerate() {
        if !teams.iter().any(|t| &t.id == team) {
            problems.push((format!("{path}.teams[{j}]"), format!("no team \"{team}\"")));
            continue;
        }
        for agent in agents.iter().filter(|a| a.teams.contains(team)) {
            if !candidates.contains(&agent.id) {
                candidates.push(agent.id.clone());
            }
        }
    }
    if raw.max_open_per_agent == Some(0) {
        problems.push((
            format!("{path}.max_open_per_agent"),
            "must be at least 1".into(),
        ));
    }
    if raw.auto_assign
        && raw.assign_to == AssignTo::UsersAndTeams
        && raw.users.is_empty()
        && raw.teams.is_empty()
    {
        problems.push((
            format!("{path}.users"),
            "auto_assign to users_and_teams needs users or teams".into(),
        ));
    }
    raw.auto_assign.then_some(RoutingRule {
        assign_to: raw.assign_to,
        candidates,
        only_available: raw.only_available,
        max_open_per_agent: raw.max_open_per_agent,
    })
}

pub(super) fn ticket_rule(
    raw: RawTickets,
    path: &str,
    pipelines: &[Pipeline],
    agents: &[Agent],
    problems: &mut Found,
) -> Option<TicketRule> {
    let Some(pipeline) = pipelines.iter().find(|p| p.id == raw.pipeline) else {
        problems.push((
            format!("{path}.pipeline"),
            format!("no pipeline \"{}\"", raw.pipeline),
        ));
        return None;
    };
    let stage = match raw.stage {
        Some(stage) if pipeline.stages.contains(&stage) => stage,
        Some(stage) => {
            problems.push((
                format!("{path}.stage"),
                format!("pipeline \"{}\" has no stage \"{stage}\"", pipeline.id),
            ));
            return None;
        }
        None => pipeline.stages.first().cloned()?,
    };
    let owner = match raw.owner.as_deref() {
        None | Some("conversation_owner") => TicketOwner::ConversationOwner,
        Some("none") => TicketOwner::Nobody,
        Some(id) if agents.iter().any(|a| a.id == id) => TicketOwner::Agent(id.to_string()),
        Some(id) => {
            problems.push((
                format!("{path}.owner"),
                format!(
                    "expected \"conversation_owner\", \"none\" or an agent id; no agent \"{id}\""
                ),
            ));
            return None;
        }
    };
    let priority = match raw.priority.as_deref() {
        None => Priority::Medium,
        Some(text) => match Priority::parse(text) {
            Some(priority) => priority,
            None => {
                problems.push((
                    format!("{path}.priority"),
                    "expected low, medium, high or urgent".into(),
                ));
                return None;
            }
        },
    };
    raw.enabled.then_some(TicketRule {
        pipeline: pipeline.id.clone(),
        stage,
        owner,
        priority,
    })
}
