//! The hub's background task: follows the durable event log to tell
//! visitors when an agent joins their conversation (it got an assignee) and
//! to show a visitor's own messages on their other open tabs; and checks
//! every chat channel's availability each second, pushing `availability`
//! to its sockets when it changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::availability;
use crate::app::App;
use crate::config::{ChannelKind, Workspace};
use crate::events::{Event, EventPayload};
use crate::ids::Id;
use crate::model::{Conversation, ConversationStatus, Direction};

const BATCH: usize = 256;
const AVAILABILITY_EVERY: Duration = Duration::from_secs(1);

pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let mut durable = app.store.durable_seq();
    let mut next = *durable.borrow() + 1;
    let mut assignees: HashMap<Id, String> = HashMap::new();
    let mut shown: HashMap<String, bool> = HashMap::new();
    let mut tick = tokio::time::interval(AVAILABILITY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = durable.changed() => {
                if changed.is_err() {
                    return;
                }
                let last = *durable.borrow_and_update();
                while next <= last {
                    match app.store.events(next, last, BATCH) {
                        Ok(events) if !events.is_empty() => {
                            for event in &events {
                                relay(&app, event, &mut assignees);
                            }
                            next = events.last().map_or(last, |e| e.seq) + 1;
                        }
                        Ok(_) => next = last + 1,
                        Err(error) => {
                            tracing::error!(%error, "chat: cannot read the event log");
                            break;
                        }
                    }
                }
            }
            _ = tick.tick() => check_availability(&app, &mut shown),
        }
    }
}

fn relay(app: &App, event: &Event, assignees: &mut HashMap<Id, String>) {
    let workspace = app.workspace();
    let is_chat = |channel: &str| {
        matches!(
            workspace.channel(channel).map(|c| &c.kind),
            Some(ChannelKind::Chat(_))
        )
    };
    match &event.payload {
        EventPayload::Conversation(conversation) if is_chat(&conversation.channel) => {
            announce(app, &workspace, conversation, assignees);
        }
        EventPayload::Message(message)
            if message.direction == Direction::Inbound && is_chat(&message.channel) =>
        {
            let Some(ChannelKind::Chat(chat)) =
                workspace.channel(&message.channel).map(|c| &c.kind)
            else {
                return;
            };
            let Some(handle) = &message.from.address else {
                return;
            };
            app.chat
                .set_conversation_of_handle(handle, message.conversation);
            if let Some(frame) = super::protocol::message_frame(message, &chat.team_name) {
                app.chat.push_to_handle(handle, &frame);
            }
            // A conversation assigned as it started: its sockets follow it
            // only from its first message on.
            if let Ok(Some(conversation)) = app.store.conversation(message.conversation) {
                announce(app, &workspace, &conversation, assignees);
            }
        }
        _ => {}
    }
}

/// Tells the conversation's sockets who joined, once per assignee; a
/// conversation nobody follows yet is told when someone does.
fn announce(
    app: &App,
    workspace: &Workspace,
    conversation: &Conversation,
    assignees: &mut HashMap<Id, String>,
) {
    let Some(agent_id) = &conversation.assignee else {
        assignees.remove(&conversation.id);
        return;
    };
    if conversation.status == ConversationStatus::Closed {
        assignees.remove(&conversation.id);
        return;
    }
    if assignees.get(&conversation.id) == Some(agent_id) {
        return;
    }
    let name = workspace
        .agent(agent_id)
        .map_or_else(|| agent_id.clone(), |a| a.name.clone());
    let frame = json!({"type": "agent_joined", "agent": {"name": name}}).to_string();
    if app.chat.push_to_conversation(conversation.id, &frame) > 0 {
        assignees.insert(conversation.id, agent_id.clone());
    }
}

fn check_availability(app: &App, shown: &mut HashMap<String, bool>) {
    let workspace = app.workspace();
    for channel in &workspace.channels {
        let ChannelKind::Chat(chat) = &channel.kind else {
            continue;
        };
        let away = availability::away(app, &workspace, channel, chat);
        let available = away.is_none();
        // The first look only records the state: every visitor already got
        // it in their `welcome`. Pushing it then raced a visitor's hello.
        let before = shown.insert(channel.id.clone(), available);
        if before.is_none_or(|before| before == available) {
            continue;
        }
        let mut frame = availability::view(away, chat);
        frame["type"] = json!("availability");
        app.chat.push_to_channel(&channel.id, &frame.to_string());
    }
}
