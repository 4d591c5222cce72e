//! Changes agents make to a conversation: its status and its assignee. Each
//! change moves the conversation in the activity index and appends a
//! `conversation.updated` event in the same transaction.

use super::write_set::WriteSet;
use super::{Store, StoreError};
use crate::events::{Event, EventKind};
use crate::ids::Id;
use crate::model::{AssignmentRecord, Conversation, ConversationStatus, Millis};

/// What to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConversationPatch {
    pub status: Option<ConversationStatus>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    /// Who or what changes it, recorded with an assignment
    /// (`agent:alice`, `became_available`).
    pub by: String,
}

impl Store {
    /// Applies `patch` (blocking). Returns the conversation as it is now;
    /// no event is written when nothing changed.
    pub fn update_conversation(
        &self,
        id: Id,
        patch: &ConversationPatch,
        now: Millis,
    ) -> Result<Conversation, StoreError> {
        let _writer = self.lock_writer();
        let old = self.conversation(id)?.ok_or(StoreError::NotFound {
            what: "conversation",
        })?;
        let mut new = old.clone();
        if let Some(status) = patch.status {
            new.status = status;
        }
        if let Some(assignee) = &patch.assignee {
            if new.assignee != *assignee {
                new.assignee = assignee.clone();
                new.assignment_history.push(AssignmentRecord {
                    agent: assignee.clone(),
                    at: now,
                    by: patch.by.clone(),
                });
            }
        }
        if new == old {
            return Ok(old);
        }
        self.write_conversation(&old, &new, now)?;
        Ok(new)
    }

    /// Replaces a conversation record (with its indexes, load counters and
    /// ticket owner) and logs the event. Call under the writer lock.
    pub(super) fn write_conversation(
        &self,
        old: &Conversation,
        new: &Conversation,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut writes = WriteSet::default();
        let stamped = self.stamp(vec![Event::conversation(
            EventKind::ConversationUpdated,
            new,
            now,
        )]);
        stamped.add_to(&mut writes);
        self.put_conversation(&mut writes, Some(old), new, now)?;
        self.commit(&writes)?;
        self.mark_committed(&stamped);
        Ok(())
    }
}
