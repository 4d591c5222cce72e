//! Reads: single records by id, a conversation's messages in order, attachment
//! bytes, and conversation lists by inbox and status, latest activity first,
//! paginated with a cursor.

use super::{decode, keys, Store, StoreError};
use crate::ids::Id;
use crate::model::{Contact, Conversation, ConversationStatus, Message};

/// Which conversations to list.
#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    /// One inbox, or every inbox when `None`.
    pub inbox: Option<String>,
    pub status: Option<ConversationStatus>,
    /// When set, only conversations of these inboxes are returned.
    pub allowed_inboxes: Option<Vec<String>>,
    pub assignee: Option<AssigneeFilter>,
    /// When set, only conversations on these channels (a channel kind
    /// filter, resolved to channel ids by the caller).
    pub channels: Option<Vec<String>>,
    pub limit: usize,
    /// Where the previous page ended (`Page::next_cursor`).
    pub cursor: Option<Vec<u8>>,
}

/// Conversations by assignee.
#[derive(Debug, Clone, PartialEq)]
pub enum AssigneeFilter {
    /// Nobody is assigned.
    Nobody,
    Agent(String),
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<Vec<u8>>,
}

/// A cursor that does not belong to the query it was given with.
#[derive(Debug, thiserror::Error)]
#[error("the cursor does not belong to this query")]
pub struct BadCursor;

impl Store {
    pub fn conversation(&self, id: Id) -> Result<Option<Conversation>, StoreError> {
        self.get(&self.trees.conversations, &id.to_bytes())
    }

    pub fn contact(&self, id: Id) -> Result<Option<Contact>, StoreError> {
        self.get(&self.trees.contacts, &id.to_bytes())
    }

    pub fn message(&self, id: Id) -> Result<Option<Message>, StoreError> {
        let Some(conversation) = self.trees.message_conversation.get(id.to_bytes())? else {
            return Ok(None);
        };
        let Some(conversation) = Id::from_bytes(&conversation) else {
            return Err(StoreError::Corrupt("message index entry".into()));
        };
        self.get(&self.trees.messages, &keys::message(conversation, id))
    }

    /// A conversation's messages, oldest first.
    pub fn messages(&self, conversation: Id) -> Result<Vec<Message>, StoreError> {
        self.trees
            .messages
            .scan_prefix(conversation.to_bytes())
            .map(|entry| decode(&entry?.1))
            .collect()
    }

    /// The bytes of a message's attachment, by its position in the message.
    pub fn attachment(&self, message: Id, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .trees
            .attachments
            .get(keys::attachment(message, index))?
            .map(|bytes| bytes.to_vec()))
    }

    /// The message as received, where the channel keeps it (email).
    pub fn raw(&self, message: Id) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees.raw.get(message.to_bytes())?.map(|b| b.to_vec()))
    }

    /// How many messages are stored in all.
    pub fn message_total(&self) -> usize {
        self.trees.message_conversation.len()
    }

    /// Conversations matching `query`, latest activity first.
    pub fn list_conversations(
        &self,
        query: &ConversationQuery,
    ) -> Result<Result<Page<Conversation>, BadCursor>, StoreError> {
        let scope = query.inbox.as_deref().unwrap_or(keys::ANY);
        let status = query.status.map(|s| s.as_str()).unwrap_or(keys::ANY);
        let prefix = keys::activity_prefix(scope, status);
        let mut end = prefix.clone();
        if let Some(cursor) = &query.cursor {
            if !cursor.starts_with(&prefix) || cursor.len() != prefix.len() + 24 {
                return Ok(Err(BadCursor));
            }
            end = cursor.clone();
        } else {
            end.push(0xff);
        }
        let limit = query.limit.max(1);
        let mut items = Vec::with_capacity(limit);
        let mut last_key = None;
        let mut more = false;
        for entry in self
            .trees
            .activity
            .range(prefix.as_slice()..end.as_slice())
            .rev()
        {
            let (key, _) = entry?;
            if items.len() == limit {
                more = true;
                break;
            }
            let id = keys::conversation_of_activity(&key)
                .ok_or_else(|| StoreError::Corrupt("activity index key".into()))?;
            last_key = Some(key.to_vec());
            let Some(conversation) = self.conversation(id)? else {
                continue;
            };
            if let Some(allowed) = &query.allowed_inboxes {
                if !allowed.contains(&conversation.inbox) {
                    continue;
                }
            }
            if let Some(channels) = &query.channels {
                if !channels.contains(&conversation.channel) {
                    continue;
                }
            }
            match &query.assignee {
                Some(AssigneeFilter::Nobody) if conversation.assignee.is_some() => continue,
                Some(AssigneeFilter::Agent(id)) if conversation.assignee.as_ref() != Some(id) => {
                    continue
                }
                _ => {}
            }
            items.push(conversation);
        }
        Ok(Ok(Page {
            items,
            next_cursor: if more { last_key } else { None },
        }))
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        tree.get(key)?.map(|bytes| decode(&bytes)).transpose()
    }
}
