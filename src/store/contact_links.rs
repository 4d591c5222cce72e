//! What a contact is linked to: their identities on every channel kind
//! (email address, phone number, Page-scoped id, ...) and their
//! conversations (the latest on each channel), for the contact panel and
//! for deciding which agents may see the contact.

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

    /// Whether the contact has a conversation in an inbox `accepts` (asked
    /// for each conversation's inbox until it says yes). Reads only the
    /// contact's per-channel pointers, a prefix of the `contact_channel`
    /// index: a channel belongs to one inbox, so the latest conversation on
    /// each channel names every inbox the contact has conversations in.
    pub fn contact_has_conversation_in(
        &self,
        contact: Id,
        mut accepts: impl FnMut(&str) -> bool,
    ) -> Result<bool, StoreError> {
        for entry in self.trees.contact_channel.scan_prefix(contact.to_bytes()) {
            let (_, value) = entry?;
            let Some(id) = Id::from_bytes(&value) else {
                continue;
            };
            if let Some(conversation) = self.conversation(id)? {
                if accepts(&conversation.inbox) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{inbound, request};
    use super::*;

    #[tokio::test]
    async fn a_contact_is_in_the_inboxes_of_its_conversations_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let support = store
            .ingest(request(inbound("mail", "m1", "ann@x.example"), 1_000))
            .unwrap();
        let mut to_sales = request(inbound("sales-mail", "m2", "ann@x.example"), 2_000);
        to_sales.inbox = "sales".into();
        let sales = store.ingest(to_sales).unwrap();
        assert_eq!(support.contact, sales.contact, "one person, two inboxes");
        let mut only_sales = request(inbound("sales-mail", "m3", "bo@x.example"), 3_000);
        only_sales.inbox = "sales".into();
        let bo = store.ingest(only_sales).unwrap().contact;

        let is = |contact, wanted: &'static str| {
            store
                .contact_has_conversation_in(contact, |inbox| inbox == wanted)
                .unwrap()
        };
        assert!(is(support.contact, "support") && is(support.contact, "sales"));
        assert!(is(bo, "sales") && !is(bo, "support"));
        assert!(!is(Id::from_bytes(&[7; 16]).unwrap(), "support"));

        // Search asks about matches before the limit counts them.
        let in_support = |c: &crate::model::Contact| {
            store.contact_has_conversation_in(c.id, |inbox| inbox == "support")
        };
        let found = store.search_contacts("x.example", 1, in_support).unwrap();
        let ids: Vec<Id> = found.iter().map(|c| c.id).collect();
        assert_eq!(ids, [support.contact], "bo is newer but not in support");
    }
}
