//! From an SMTP transaction to stored messages: parse the mail once, make one
//! `Inbound` per inbox its envelope recipients belong to, ingest each, and
//! tell the SMTP session what to answer. Routing is by envelope recipient,
//! never by the header To.

use std::sync::Arc;

use super::parse::{self, ParseError};
use super::smtp::MailSink;
use super::smtp::INSUFFICIENT_STORAGE;
use super::{Delivery, Envelope};
use crate::app::App;
use crate::config::ChannelKind;
use crate::ingest::{self, IngestError};

/// The SMTP receiver's view of the daemon.
pub struct EmailReceiver {
    app: Arc<App>,
}

impl EmailReceiver {
    pub fn new(app: Arc<App>) -> Self {
        EmailReceiver { app }
    }
}

impl MailSink for EmailReceiver {
    fn accepts_recipient(&self, address: &str) -> bool {
        self.app.workspace().email_channel_for(address).is_some()
    }

    fn has_room(&self) -> bool {
        let room = self.app.disk.check().is_ok();
        if !room {
            self.app.metrics.storage_refused("smtp");
        }
        room
    }

    async fn deliver(&self, envelope: Envelope, raw: Vec<u8>) -> Delivery {
        deliver(&self.app, envelope, raw).await
    }
}

/// Stores a received mail in every inbox it was addressed to.
pub async fn deliver(app: &App, envelope: Envelope, raw: Vec<u8>) -> Delivery {
    let null_sender = envelope.mail_from.is_none();
    let raw = Arc::new(raw);
    let parse_input = raw.clone();
    let mail_from = envelope.mail_from.clone();
    let parse_task = move || {
        parse::parse(&parse_input, null_sender)
            .map(|p| p.with_envelope_sender(mail_from.as_deref()))
    };
    let parsed = match tokio::task::spawn_blocking(parse_task).await {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(error)) => return refused(error),
        Err(error) => {
            tracing::error!(%error, "mail parsing task failed");
            return Delivery::TryLater {
                code: 451,
                message: "4.3.0 Temporary failure, try again later".into(),
            };
        }
    };

    let workspace = app.workspace();
    // One Inbound per inbox: the first channel of that inbox among the
    // recipients receives it, with every recipient of that inbox listed.
    let mut targets: Vec<(&crate::config::Channel, Vec<String>)> = Vec::new();
    for recipient in &envelope.recipients {
        let Some(channel) = workspace.email_channel_for(recipient) else {
            continue;
        };
        match targets.iter_mut().find(|(c, _)| c.inbox == channel.inbox) {
            Some((_, list)) => list.push(recipient.clone()),
            None => targets.push((channel, vec![recipient.clone()])),
        }
    }
    if targets.is_empty() {
        // The workspace changed between RCPT and the end of DATA.
        return Delivery::Rejected {
            code: 550,
            message: "5.1.1 No recipient of this message is served here".into(),
        };
    }

    let mut queue_ids = Vec::new();
    for (channel, recipients) in targets {
        let ChannelKind::Email(email) = &channel.kind else {
            continue;
        };
        let inbound = parsed.to_inbound(channel, email, &workspace, recipients, &raw);
        match ingest::ingest(app, inbound).await {
            Ok(accepted) => queue_ids.push(accepted.message.to_string()),
            Err(IngestError::InsufficientStorage(error)) => {
                tracing::warn!(%error, channel = %channel.id, "mail refused for space");
                return Delivery::TryLater {
                    code: 452,
                    message: INSUFFICIENT_STORAGE.into(),
                };
            }
            Err(error) => {
                tracing::warn!(%error, channel = %channel.id, "could not store mail");
                return Delivery::TryLater {
                    code: 451,
                    message: "4.3.0 Could not store the message, try again later".into(),
                };
            }
        }
    }
    Delivery::Stored {
        queue_id: queue_ids.join(","),
    }
}

fn refused(error: ParseError) -> Delivery {
    tracing::info!(%error, "refused unparseable mail");
    Delivery::Rejected {
        code: 554,
        message: format!("5.6.0 Message refused: {error}"),
    }
}
