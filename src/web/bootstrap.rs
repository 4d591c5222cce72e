//! What the page loads once: the signed-in agent, the agents, the inboxes
//! the agent can see with their channels (kind, and for email the From name
//! and the signature this agent's replies get), the ticket pipelines; and a
//! contact's details for the contact panel (for a contact the agent may
//! see, `http::contact_access`): identities on every channel and their
//! other conversations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use crate::app::App;
use crate::channels::email::compose::{fill_signature, from_display_name};
use crate::config::{ChannelKind, Role};
use crate::http::contact_access::visible_contact;
use crate::http::views::{conversation_view, ContactView, ConversationView};
use crate::http::{ApiError, CurrentAgent};

#[derive(Serialize)]
pub struct AgentSummary {
    id: String,
    name: String,
    seat: bool,
}

#[derive(Serialize)]
pub struct EmailPreview {
    /// "Alice Doe at Example Inc" <support@example.com>.
    from_name: String,
    from_address: String,
    /// The text signature filled with this agent's name.
    signature: Option<String>,
}

#[derive(Serialize)]
pub struct ChannelSummary {
    id: String,
    kind: &'static str,
    inbox: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<EmailPreview>,
    /// Why replies on this channel cannot be sent now (no relay for email,
    /// the provider refused our credentials), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    cannot_send: Option<String>,
}

#[derive(Serialize)]
pub struct InboxSummary {
    id: String,
    name: String,
}

#[derive(Serialize)]
pub struct PipelineSummary {
    id: String,
    name: String,
    stages: Vec<String>,
}

#[derive(Serialize)]
pub struct Bootstrap {
    /// The last durable event: the page follows the events socket from
    /// here (`since`), so nothing between this answer and the socket is lost.
    seq: u64,
    me: AgentSummary,
    role: &'static str,
    agents: Vec<AgentSummary>,
    inboxes: Vec<InboxSummary>,
    channels: Vec<ChannelSummary>,
    pipelines: Vec<PipelineSummary>,
}

pub async fn bootstrap(State(app): State<Arc<App>>, agent: CurrentAgent) -> Json<Bootstrap> {
    let seq = *app.store.durable_seq().borrow();
    let workspace = &agent.workspace;
    let summary = |a: &crate::config::Agent| AgentSummary {
        id: a.id.clone(),
        name: a.name.clone(),
        seat: a.seat,
    };
    let channels = workspace
        .channels
        .iter()
        .filter(|c| agent.can_see(&c.inbox))
        .map(|c| ChannelSummary {
            cannot_send: match &c.kind {
                ChannelKind::Email(_) if !app.relay_configured => {
                    Some("No outbound relay is configured: email replies cannot be sent.".into())
                }
                _ => app
                    .channel_health
                    .problem(&c.id)
                    .map(|p| format!("The channel cannot send: {}", p.reason)),
            },
            id: c.id.clone(),
            kind: c.kind.name(),
            inbox: c.inbox.clone(),
            email: match &c.kind {
                ChannelKind::Email(email) => Some(EmailPreview {
                    from_name: from_display_name(email, Some(&agent.agent)),
                    from_address: email.from_address.clone(),
                    signature: email
                        .signature
                        .as_deref()
                        .map(|s| fill_signature(s, Some(&agent.agent))),
                }),
                _ => None,
            },
        })
        .collect();
    Json(Bootstrap {
        seq,
        me: summary(&agent.agent),
        role: match agent.agent.role {
            Role::Admin => "admin",
            Role::Agent => "agent",
        },
        agents: workspace.agents.iter().map(summary).collect(),
        inboxes: workspace
            .accessible_inboxes(&agent.agent)
            .into_iter()
            .map(|i| InboxSummary {
                id: i.id.clone(),
                name: i.name.clone(),
            })
            .collect(),
        channels,
        pipelines: workspace
            .pipelines
            .iter()
            .map(|p| PipelineSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                stages: p.stages.clone(),
            })
            .collect(),
    })
}

#[derive(Serialize)]
pub struct IdentityView {
    kind: String,
    handle: String,
}

#[derive(Serialize)]
pub struct ContactDetails {
    contact: ContactView,
    identities: Vec<IdentityView>,
    /// The latest conversation on each channel the agent can see.
    conversations: Vec<ConversationView>,
}

pub async fn contact_details(
    State(app): State<Arc<App>>,
    agent: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Json<ContactDetails>, ApiError> {
    let id: crate::ids::Id = id
        .parse()
        .map_err(|_| ApiError::NotFound { what: "contact" })?;
    let contact = visible_contact(&app, &agent, id)?;
    let identities = app
        .store
        .contact_identities(id)?
        .into_iter()
        .map(|i| IdentityView {
            kind: i.kind,
            handle: i.handle,
        })
        .collect();
    let conversations = app
        .store
        .contact_conversations(id)?
        .into_iter()
        .filter(|c| agent.can_see(&c.inbox))
        .map(|c| conversation_view(&app, c, Some(contact.clone())))
        .collect();
    Ok(Json(ContactDetails {
        contact: contact.into(),
        identities,
        conversations,
    }))
}
