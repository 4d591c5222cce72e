//! What the website chat keeps in the store beyond messages: the key that
//! signs visitor tokens (generated once, kept in `meta`), and the lookup of
//! a visitor's latest conversation on a chat channel.

use super::{keys, Store, StoreError};
use crate::ids::Id;
use crate::model::Conversation;

/// `meta` key of the visitor-token signing key.
const VISITOR_KEY: &[u8] = b"chat_visitor_key";

impl Store {
    /// The key visitor tokens are signed with (made on first use).
    /// Blocking.
    pub fn chat_visitor_key(&self) -> Result<[u8; 32], StoreError> {
        self.generated_secret(VISITOR_KEY)
    }

    /// The contact's latest conversation on `channel`, if any.
    pub fn latest_conversation_on(
        &self,
        contact: Id,
        channel: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        match self
            .trees
            .contact_channel
            .get(keys::contact_channel(contact, channel))?
        {
            Some(id) => Ok(Some(self.required(
                &self.trees.conversations,
                &id,
                "conversation",
            )?)),
            None => Ok(None),
        }
    }
}
