//! The chat channel's outbox sender. A reply reaches the visitor's open
//! sockets at once (`sent`; the widget's `seen` makes it `delivered`). With
//! no socket open it waits `email_fallback_minutes` (a retry at that time):
//! seen meanwhile (the visitor came back and got it in the history) it is
//! done; otherwise it is emailed when the visitor left an address, or kept
//! for their next visit.

use std::sync::Arc;
use std::time::Duration;

use super::fallback;
use super::protocol;
use crate::app::App;
use crate::channels::email::relay::EmailSender;
use crate::config::ChannelKind;
use crate::model::{DeliveryState, Direction};
use crate::outbox::{OutboundDelivery, SendOutcome};

#[derive(Default)]
pub struct ChatSender {
    app: Option<Arc<App>>,
}

impl ChatSender {
    pub fn new(app: Arc<App>) -> Self {
        ChatSender { app: Some(app) }
    }

    pub async fn send(
        &self,
        delivery: &OutboundDelivery,
        email: Option<&EmailSender>,
    ) -> SendOutcome {
        let Some(app) = &self.app else {
            return SendOutcome::Failed {
                reason: "the chat sender is not running".into(),
            };
        };
        let ChannelKind::Chat(chat) = &delivery.channel.kind else {
            return SendOutcome::Failed {
                reason: "not a chat channel".into(),
            };
        };
        let message = &delivery.message;
        if message
            .status
            .as_ref()
            .is_some_and(|s| matches!(s.state, DeliveryState::Delivered | DeliveryState::Read))
        {
            // The visitor saw it in their history.
            return SendOutcome::Delivered { provider_id: None };
        }
        let handle = delivery
            .history
            .iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound)
            .and_then(|m| m.from.address.clone());
        let Some(frame) = protocol::message_frame(message, &chat.team_name) else {
            return SendOutcome::Failed {
                reason: "an internal note is never sent".into(),
            };
        };
        if let Some(handle) = &handle {
            if app.chat.push_to_handle(handle, &frame) > 0 {
                return SendOutcome::Delivered { provider_id: None };
            }
        }
        let age = Duration::from_millis((app.clock.now() - message.created_at).max(0) as u64);
        if age < chat.email_fallback {
            return SendOutcome::Retry {
                reason: "the visitor is not connected; emailed if still unseen later".into(),
                after: Some(chat.email_fallback - age),
            };
        }
        let Some(to) = delivery.contact.email.clone() else {
            // Nothing else to do: it waits in the history for their visit.
            return SendOutcome::Delivered { provider_id: None };
        };
        let workspace = app.workspace();
        let (Some(from), Some(sender)) = (
            fallback::email_channel(&workspace, &delivery.channel, chat),
            email,
        ) else {
            return SendOutcome::Failed {
                reason: "unseen by the visitor, and no email channel and relay to email it".into(),
            };
        };
        let message_id = format!(
            "chat.{}@{}",
            message.id.to_string().to_lowercase(),
            app.hostname
        );
        match fallback::compose(&from, chat, &to, message, &message_id) {
            Ok(mail) => match sender.send_message(mail).await {
                SendOutcome::Delivered { .. } => SendOutcome::Delivered {
                    provider_id: Some(format!("email:<{message_id}>")),
                },
                other => other,
            },
            Err(reason) => SendOutcome::Failed { reason },
        }
    }
}
