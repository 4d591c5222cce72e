//! Merging two contacts that are one person (Messenger gives no email, so
//! the same customer can arrive twice): identities, conversations, tickets
//! and the per-channel pointers move to the kept contact in one write.

use super::write_set::{TreeId, WriteSet};
use super::{decode, encode, keys, Store, StoreError};
use crate::ids::Id;
use crate::model::{Contact, Conversation, Ticket};

/// Why a merge was refused.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("contact not found")]
    NotFound,
    #[error("a contact cannot be merged into itself")]
    SameContact,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Merges `other` into `keep` (blocking): `keep` takes `other`'s
    /// identities, conversations and tickets and any field it lacks; `other`
    /// is deleted. Returns the kept contact.
    pub fn merge_contacts(&self, keep: Id, other: Id) -> Result<Contact, MergeError> {
        if keep == other {
            return Err(MergeError::SameContact);
        }
        let _writer = self.lock_writer();
        let mut kept = self.contact(keep)?.ok_or(MergeError::NotFound)?;
        let gone = self.contact(other)?.ok_or(MergeError::NotFound)?;
        for (field, value) in [
            (&mut kept.name, gone.name),
            (&mut kept.email, gone.email),
            (&mut kept.phone, gone.phone),
            (&mut kept.owner, gone.owner),
        ] {
            if field.is_none() {
                *field = value;
            }
        }
        if kept.consent.is_none() {
            kept.consent = gone.consent;
        }
        // An SMS opt-out of either is kept (the later one if both opted
        // out): the person said STOP on a number, whichever record it is.
        kept.opted_out = match (kept.opted_out.take(), gone.opted_out) {
            (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
            (a, b) => a.or(b),
        };
        let mut writes = WriteSet::default();
        writes.put(TreeId::Contacts, keep.to_bytes(), encode(&kept));
        writes.remove(TreeId::Contacts, other.to_bytes());
        for entry in self.trees.identities.iter() {
            let (key, value) = entry.map_err(StoreError::from)?;
            if value.as_ref() == other.to_bytes() {
                writes.put(TreeId::Identities, key, keep.to_bytes());
            }
        }
        for entry in self.trees.conversations.iter() {
            let (key, value) = entry.map_err(StoreError::from)?;
            let mut conversation: Conversation = decode(&value)?;
            if conversation.contact == other {
                conversation.contact = keep;
                writes.put(TreeId::Conversations, key, encode(&conversation));
            }
        }
        for entry in self.trees.contact_channel.scan_prefix(other.to_bytes()) {
            let (key, value) = entry.map_err(StoreError::from)?;
            let channel = &key[16..];
            let mut moved = keep.to_bytes().to_vec();
            moved.extend_from_slice(channel);
            // The kept contact's own pointer wins where both have one.
            if self
                .trees
                .contact_channel
                .get(&moved)
                .map_err(StoreError::from)?
                .is_none()
            {
                writes.put(TreeId::ContactChannel, moved, value.to_vec());
            }
            writes.remove(TreeId::ContactChannel, key);
        }
        let mut moved_tickets = 0u32;
        for entry in self.trees.tickets.iter() {
            let (key, value) = entry.map_err(StoreError::from)?;
            let mut ticket: Ticket = decode(&value)?;
            if ticket.contact == other {
                ticket.contact = keep;
                moved_tickets += 1;
                writes.put(TreeId::Tickets, key, encode(&ticket));
            }
        }
        if moved_tickets > 0 {
            let count_key = |id: Id| keys::join(&[b"tickets", &id.to_bytes()]);
            let current: u32 = match self
                .trees
                .counters
                .get(count_key(keep))
                .map_err(StoreError::from)?
            {
                Some(bytes) => decode(&bytes)?,
                None => 0,
            };
            writes.put(
                TreeId::Counters,
                count_key(keep),
                encode(&(current + moved_tickets)),
            );
            writes.remove(TreeId::Counters, count_key(other));
        }
        self.commit(&writes)?;
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{inbound, request};
    use super::*;

    #[tokio::test]
    async fn merging_moves_identities_and_conversations() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let by_mail = store
            .ingest(request(inbound("mail", "m1", "ann@x.example"), 1_000))
            .unwrap();
        let mut chat = inbound("chat", "c1", "page:123");
        chat.sender.identity.kind = "messenger".into();
        chat.sender.email = None;
        let by_chat = store.ingest(request(chat, 2_000)).unwrap();
        assert_ne!(by_mail.contact, by_chat.contact);

        let kept = store
            .merge_contacts(by_mail.contact, by_chat.contact)
            .unwrap();
        assert_eq!(kept.email.as_deref(), Some("ann@x.example"));
        assert!(store.contact(by_chat.contact).unwrap().is_none());
        let moved = store.conversation(by_chat.conversation).unwrap().unwrap();
        assert_eq!(moved.contact, by_mail.contact);
        // A later message on either identity joins the kept contact.
        let mut again = inbound("chat", "c2", "page:123");
        again.sender.identity.kind = "messenger".into();
        assert_eq!(
            store.ingest(request(again, 3_000)).unwrap().contact,
            by_mail.contact
        );
        assert!(matches!(
            store.merge_contacts(by_mail.contact, by_mail.contact),
            Err(MergeError::SameContact)
        ));
        assert!(matches!(
            store.merge_contacts(by_mail.contact, by_chat.contact),
            Err(MergeError::NotFound)
        ));
    }

    #[tokio::test]
    async fn merging_keeps_an_sms_opt_out_of_either_contact() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let by_mail = store
            .ingest(request(inbound("mail", "m1", "ann@x.example"), 1_000))
            .unwrap();
        let mut text = inbound("sms", "SM1", "+15550001");
        text.sender.identity.kind = "phone".into();
        text.sender.email = None;
        let by_text = store.ingest(request(text, 2_000)).unwrap();
        let record = crate::model::OptOutRecord {
            keyword: "STOP".into(),
            channel: "sms".into(),
            at: 2_500,
        };
        store
            .set_opt_out(by_text.contact, Some(record.clone()))
            .unwrap();
        let kept = store
            .merge_contacts(by_mail.contact, by_text.contact)
            .unwrap();
        assert_eq!(kept.opted_out, Some(record.clone()));
        assert_eq!(
            store.contact(by_mail.contact).unwrap().unwrap().opted_out,
            Some(record)
        );
    }
}
