//! What the website chat keeps in the store beyond messages: the key that
//! signs visitor tokens (generated once, kept in `meta`), and the lookup of
//! a visitor's latest conversation on a chat channel.

use rand::RngCore;

use super::{keys, Store, StoreError};
use crate::ids::Id;
use crate::model::Conversation;

/// `meta` key of the visitor-token signing key.
const VISITOR_KEY: &[u8] = b"chat_visitor_key";

impl Store {
    /// The key visitor tokens are signed with: made on first use, flushed
    /// before it is handed out (a token must outlive a crash), then kept.
    /// Blocking.
    pub fn chat_visitor_key(&self) -> Result<[u8; 32], StoreError> {
        if let Some(key) = self.trees.meta.get(VISITOR_KEY)? {
            return key_bytes(&key);
        }
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        // Two first uses at once: one key wins, both read it back.
        let _ = self.trees.meta.compare_and_swap(
            VISITOR_KEY,
            None as Option<&[u8]>,
            Some(&fresh[..]),
        )?;
        self.db.flush()?;
        let stored = self
            .trees
            .meta
            .get(VISITOR_KEY)?
            .ok_or(StoreError::NotFound { what: "chat key" })?;
        key_bytes(&stored)
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

fn key_bytes(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("the chat visitor key is not 32 bytes".into()))
}
