//! Whether a chat channel shows as available: inside its office hours (in
//! their time zone) and, with `only_when_available`, while an agent who
//! could take the conversation is available for routing (said so and is
//! connected). The widget shows the away message otherwise and asks for an
//! email address as the channel says.

use serde_json::{json, Value};

use crate::app::App;
use crate::config::{AskEmail, Channel, ChatChannel, Workspace};
use crate::routing;

/// Why a channel is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Away {
    /// Outside office hours.
    Closed,
    /// Nobody who could answer is available.
    NobodyAvailable,
}

/// `None`: available; `Some(why)`: away.
pub fn away(
    app: &App,
    workspace: &Workspace,
    channel: &Channel,
    chat: &ChatChannel,
) -> Option<Away> {
    if let Some(hours) = &chat.office_hours {
        if !hours.is_open(app.clock.now()) {
            return Some(Away::Closed);
        }
    }
    if chat.only_when_available && !anyone_available(app, workspace, channel) {
        return Some(Away::NobodyAvailable);
    }
    None
}

/// The channel's routing candidates, or everyone with a seat who may work
/// its inbox when it does not route.
fn anyone_available(app: &App, workspace: &Workspace, channel: &Channel) -> bool {
    let candidates: Vec<&str> = match &channel.routing {
        Some(rule) => rule.candidates.iter().map(String::as_str).collect(),
        None => {
            let Some(inbox) = workspace.inbox(&channel.inbox) else {
                return false;
            };
            workspace
                .agents
                .iter()
                .filter(|a| a.seat && workspace.can_access(a, inbox))
                .map(|a| a.id.as_str())
                .collect()
        }
    };
    candidates
        .into_iter()
        .any(|id| routing::is_available(app, workspace, id).unwrap_or(false))
}

/// The `availability` object of `welcome`, the config endpoint and pushes.
pub fn view(away: Option<Away>, chat: &ChatChannel) -> Value {
    let ask_email = match chat.ask_email {
        AskEmail::Never => false,
        AskEmail::Always => true,
        AskEmail::WhenAway => away.is_some(),
    };
    json!({
        "available": away.is_none(),
        "reason": match away {
            None => None,
            Some(Away::Closed) => Some("closed"),
            Some(Away::NobodyAvailable) => Some("nobody_available"),
        },
        "away_message": away.map(|_| chat.away_message.clone()),
        "ask_email": ask_email,
        "time_zone": chat.office_hours.as_ref().map(|h| h.zone_name.clone()),
    })
}

/// The channel's look and texts, as `welcome` and the config endpoint give them.
pub fn branding(chat: &ChatChannel) -> Value {
    json!({
        "team_name": chat.team_name,
        "color": chat.color,
        "avatar_url": chat.avatar_url,
        "greeting": chat.greeting,
        "consent": chat.consent,
        "consent_text": chat.consent_text,
        "ask_email": chat.ask_email,
        "max_message_chars": chat.max_message_chars,
    })
}
