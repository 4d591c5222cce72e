//! Who belongs to a conversation, which decides whether a message that
//! references it (In-Reply-To, References, a reply address) may join it:
//! the conversation's contact, an address that was a sender or a To/Cc
//! recipient of one of its messages, or an agent. Anyone else who answers
//! one of its messages (a forwarded copy, a mailing, a colleague who was
//! not copied) starts a conversation of their own, linked as related.
//!
//! Participants are kept in the `participants` tree, one key per
//! conversation and address, written with each message.

use super::write_set::{TreeId, WriteSet};
use super::{keys, Store, StoreError};
use crate::ids::Id;
use crate::model::{Conversation, Message, Participation};

/// The sender of an inbound message, as threading needs to know them.
pub(super) struct SenderRef<'a> {
    /// Their contact, when they have one.
    pub contact: Option<Id>,
    /// Their email address, when the channel is email.
    pub address: Option<&'a str>,
    /// They are an agent writing from their own mail client.
    pub agent: bool,
}

impl Store {
    /// Records the addresses of `message` (its sender, its envelope and
    /// header recipients) as participants of its conversation.
    pub(super) fn put_participants(&self, writes: &mut WriteSet, message: &Message) {
        let addresses = message
            .from
            .address
            .iter()
            .chain(&message.to)
            .chain(&message.recipients)
            .filter(|a| a.contains('@'));
        for address in addresses {
            writes.put(
                TreeId::Participants,
                keys::participant(message.conversation, address),
                Vec::new(),
            );
        }
    }

    /// Why `sender` belongs to `conversation`, or `None` when they do not.
    pub(super) fn participation(
        &self,
        conversation: &Conversation,
        sender: &SenderRef<'_>,
    ) -> Result<Option<Participation>, StoreError> {
        if sender.contact == Some(conversation.contact) {
            return Ok(Some(Participation::Contact));
        }
        if sender.agent {
            return Ok(Some(Participation::Agent));
        }
        if let Some(address) = sender.address {
            let key = keys::participant(conversation.id, address);
            if self.trees.participants.contains_key(key)? {
                return Ok(Some(Participation::Recipient));
            }
        }
        Ok(None)
    }
}
