//! Ingest: the only way a message enters the store. An adapter hands over an
//! `Inbound`; ingest checks the channel, lets the store dedupe, find the
//! contact, thread and persist it in one transaction, then waits for the
//! group-commit flush that covers the write. Only then does the adapter
//! acknowledge the sender.

use crate::app::App;
use crate::automations;
use crate::disk_space::LowDiskSpace;
use crate::inbound::Inbound;
use crate::routing;
use crate::store::{Accepted, IngestRequest, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no channel \"{0}\" is configured")]
    UnknownChannel(String),
    /// The store failed; the sender should retry later.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the ingest task failed: {0}")]
    Task(String),
    /// The storage folder is below its free-space reserve; the sender
    /// should retry later.
    #[error(transparent)]
    InsufficientStorage(#[from] LowDiskSpace),
}

impl IngestError {
    /// Whether the sender should try again later (a temporary failure).
    pub fn is_temporary(&self) -> bool {
        !matches!(self, IngestError::UnknownChannel(_))
    }
}

/// Stores one inbound message durably. Returns only after the write is on
/// disk, so the caller may acknowledge it.
pub async fn ingest(app: &App, inbound: Inbound) -> Result<Accepted, IngestError> {
    let workspace = app.workspace();
    let channel = workspace
        .channel(&inbound.channel)
        .ok_or_else(|| IngestError::UnknownChannel(inbound.channel.clone()))?;
    if let Err(low) = app.disk.check_now() {
        app.metrics.storage_refused("ingest");
        return Err(low.into());
    }
    let identity = &inbound.sender.identity;
    let assignment = if automations::routing_waits_for_consent(
        app,
        channel,
        &identity.kind,
        &identity.handle,
    )? {
        None
    } else {
        routing::assignment_plan(app, &workspace, channel)?
    };
    let postback = inbound.postback.clone();
    let request = IngestRequest {
        inbox: channel.inbox.clone(),
        now: app.clock.now(),
        assignment,
        ticket: routing::ticket_plan(&workspace, channel),
        timeline_channels: workspace.timeline_channels(channel),
        inbound,
    };
    let store = app.store.clone();
    let accepted = tokio::task::spawn_blocking(move || store.ingest(request))
        .await
        .map_err(|e| IngestError::Task(e.to_string()))??;
    app.store.durable().await?;
    app.metrics.ingested(channel.kind.name(), &accepted);
    tracing::debug!(
        message = %accepted.message,
        conversation = %accepted.conversation,
        duplicate = accepted.duplicate,
        agent_reply = accepted.agent_reply,
        id_collision = accepted.id_collision,
        reason = ?accepted.thread_reason,
        "ingested"
    );
    if accepted.agent_reply {
        // An agent's own reply: nothing to route or answer.
        return Ok(accepted);
    }
    if accepted.new_conversation {
        // Routing may have queued a notification (an away contact owner).
        app.outbox_wake.notify_one();
    }
    // The message is safe; an automation that fails is logged, not an
    // error for the sender.
    if let Err(error) =
        automations::after_ingest(app, channel, postback.as_deref(), &accepted).await
    {
        tracing::warn!(%error, channel = %channel.id, "automation failed");
    }
    Ok(accepted)
}
