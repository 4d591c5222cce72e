//! What a contact is linked to: their identities on every channel kind
//! (email address, phone number, Page-scoped id, ...) and their
//! conversations (the latest on each channel), for the contact panel.

use super::{Store, StoreError};
use crate::ids::Id;
use crate::model::Conversation;

/// One identity of a contact: its kind (`email`, `phone`, `messenger`, ...)
/// and handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactIdentity {
    pub kind: String,
    pub handle: String,
}

impl Store {
    /// The contact's identities. Scans the identity index: fine for the
    /// contact panel (one contact at a time), not for bulk use.
    pub fn contact_identities(&self, contact: Id) -> Result<Vec<ContactIdentity>, StoreError> {
        let wanted = contact.to_bytes();
        let mut found = Vec::new();
        for entry in self.trees.identities.iter() {
            let (key, value) = entry?;
            if value.as_ref() != wanted.as_slice() {
                continue;
            }
            let mut parts = key.splitn(2, |b| *b == 0);
            let kind = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let handle = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            found.push(ContactIdentity { kind, handle });
        }
        Ok(found)
    }

    /// The contact's latest conversation on each channel, newest first.
    pub fn contact_conversations(&self, contact: Id) -> Result<Vec<Conversation>, StoreError> {
        let mut conversations = Vec::new();
        for entry in self.trees.contact_channel.scan_prefix(contact.to_bytes()) {
            let (_, value) = entry?;
            let Some(id) = Id::from_bytes(&value) else {
                continue;
            };
            if let Some(conversation) = self.conversation(id)? {
                conversations.push(conversation);
            }
        }
        conversations.sort_by_key(|c| std::cmp::Reverse(c.last_message_at));
        Ok(conversations)
    }
}
