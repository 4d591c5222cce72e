//! Bearer-token authentication: the `CurrentAgent` extractor resolves
//! `Authorization: Bearer TOKEN` to a configured agent, or answers `401`.

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
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        CurrentAgent::from_token(app, token)
    }
}

impl CurrentAgent {
    /// The agent a token belongs to, with the current workspace.
    pub fn from_token(app: &App, token: &str) -> Result<CurrentAgent, ApiError> {
        let agent_id = app.tokens.agent_for(token).ok_or(ApiError::Unauthorized)?;
        let workspace = app.workspace();
        // A token of an agent removed from the config no longer works.
        let agent = workspace
            .agent(&agent_id)
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
