//! Sending replies through the Graph API (Messenger Send API, WhatsApp
//! Cloud API messages endpoint).

use crate::outbox::{OutboundDelivery, SendOutcome};

/// Sends Messenger and WhatsApp messages.
#[derive(Default)]
pub struct MetaSender {}

impl MetaSender {
    pub async fn send(&self, delivery: &OutboundDelivery) -> SendOutcome {
        SendOutcome::Failed {
            reason: format!(
                "sending on {} channels is not available yet",
                delivery.channel.kind.name()
            ),
        }
    }
}
