//! Changes agents make to a conversation: its status and its assignee. Each
//! change moves the conversation in the activity index and appends a
//! `conversation.updated` event in the same transaction.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{encode, keys, Store, StoreError};
use crate::events::{Event, EventKind};
use crate::ids::Id;
use crate::model::{Conversation, ConversationStatus, Millis};

/// What to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConversationPatch {
    pub status: Option<ConversationStatus>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
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
            new.assignee = assignee.clone();
        }
        if new == old {
            return Ok(old);
        }
        self.write_conversation(&old, &new, now)?;
        Ok(new)
    }

    /// Replaces a conversation record, its activity keys and logs the event.
    /// Call under the writer lock.
    pub(super) fn write_conversation(
        &self,
        old: &Conversation,
        new: &Conversation,
        now: Millis,
    ) -> Result<(), StoreError> {
        let t = &self.trees;
        let stamped = self.stamp(vec![Event::conversation(
            EventKind::ConversationUpdated,
            new,
            now,
        )]);
        let old_keys = keys::activity_keys(&old.inbox, old.status, old.last_message_at, old.id);
        let new_keys = keys::activity_keys(&new.inbox, new.status, new.last_message_at, new.id);
        let bytes = encode(new);
        let result: Result<(), TransactionError<()>> = (&t.conversations, &t.activity, &t.events)
            .transaction(|(conversations, activity, events)| {
                conversations.insert(&new.id.to_bytes(), bytes.as_slice())?;
                for key in &old_keys {
                    activity.remove(key.as_slice())?;
                }
                for key in &new_keys {
                    activity.insert(key.as_slice(), &[])?;
                }
                stamped.insert(events)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        result.map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        self.mark_committed(&stamped);
        Ok(())
    }
}
