//! Ticket reads and edits. Tickets are opened with their conversation (see
//! `routing`); here they are listed, read and moved through their pipeline.

use super::write_set::{TreeId, WriteSet};
use super::{decode, encode, Store, StoreError};
use crate::config::Priority;
use crate::ids::Id;
use crate::model::{Millis, Ticket};

/// Which tickets to list; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    /// `Some(None)`: tickets without an owner.
    pub owner: Option<Option<String>>,
    pub allowed_inboxes: Option<Vec<String>>,
    pub limit: usize,
}

/// What to change on a ticket.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub stage: Option<String>,
    /// `Some(None)` removes the owner. Setting an owner stops it following
    /// the conversation's assignee.
    pub owner: Option<Option<String>>,
    pub priority: Option<Priority>,
}

impl Store {
    pub fn ticket(&self, id: Id) -> Result<Option<Ticket>, StoreError> {
        self.trees
            .tickets
            .get(id.to_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Tickets matching `query`, newest first.
    pub fn list_tickets(&self, query: &TicketQuery) -> Result<Vec<Ticket>, StoreError> {
        let mut found = Vec::new();
        for entry in self.trees.tickets.iter().rev() {
            let ticket: Ticket = decode(&entry?.1)?;
            let matches = query
                .pipeline
                .as_ref()
                .is_none_or(|p| &ticket.pipeline == p)
                && query.stage.as_ref().is_none_or(|s| &ticket.stage == s)
                && query.owner.as_ref().is_none_or(|o| &ticket.owner == o)
                && query
                    .allowed_inboxes
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(&ticket.inbox));
            if matches {
                found.push(ticket);
                if found.len() >= query.limit.max(1) {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Applies `patch` (blocking); validation of stage and owner is the
    /// caller's.
    pub fn update_ticket(
        &self,
        id: Id,
        patch: &TicketPatch,
        now: Millis,
    ) -> Result<Ticket, StoreError> {
        let _writer = self.lock_writer();
        let mut ticket = self
            .ticket(id)?
            .ok_or(StoreError::NotFound { what: "ticket" })?;
        if let Some(stage) = &patch.stage {
            ticket.stage = stage.clone();
        }
        if let Some(owner) = &patch.owner {
            ticket.owner = owner.clone();
            ticket.owner_follows_assignee = false;
        }
        if let Some(priority) = patch.priority {
            ticket.priority = priority;
        }
        ticket.updated_at = now;
        let mut writes = WriteSet::default();
        writes.put(TreeId::Tickets, id.to_bytes(), encode(&ticket));
        self.commit(&writes)?;
        Ok(ticket)
    }
}
