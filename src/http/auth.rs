//! Authentication: the `CurrentAgent` extractor resolves `Authorization:
//! Bearer TOKEN`, or else the web inbox's session cookie (with its CSRF
//! token on changes, see `web::authenticate`), to a configured agent, or
//! answers `401` (`403` for a change without the CSRF token).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::app::App;
use crate::config::{Agent, Workspace};

/// The agent making the request, and the workspace as of this request.
pub struct CurrentAgent {
    pub agent: Agent,
    pub workspace: Arc<Workspace>,
}

impl FromRequestParts<Arc<App>> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty());
        match token {
            Some(token) => CurrentAgent::from_token(app, token),
            None => match crate::web::authenticate(app, &parts.method, &parts.headers)? {
                Some(agent_id) => CurrentAgent::for_agent(app, &agent_id),
                None => Err(ApiError::Unauthorized),
            },
        }
    }
}

impl CurrentAgent {
    /// The agent a token belongs to, with the current workspace.
    pub fn from_token(app: &App, token: &str) -> Result<CurrentAgent, ApiError> {
        let agent_id = app.tokens.agent_for(token).ok_or(ApiError::Unauthorized)?;
        CurrentAgent::for_agent(app, &agent_id)
    }

    /// The agent with this id, if still configured, with the workspace.
    pub fn for_agent(app: &App, agent_id: &str) -> Result<CurrentAgent, ApiError> {
        let workspace = app.workspace();
        // A token of an agent removed from the config no longer works.
        let agent = workspace
            .agent(agent_id)
            .cloned()
            .ok_or(ApiError::Unauthorized)?;
        Ok(CurrentAgent { agent, workspace })
    }

    /// Whether this agent may see the inbox.
    pub fn can_see(&self, inbox: &str) -> bool {
        self.workspace
            .inbox(inbox)
            .is_some_and(|inbox| self.workspace.can_access(&self.agent, inbox))
    }
}
