//! Writing a new message record with its pointers, shared by every write
//! that adds a message (inbound ingest, agents' own-client mail, outbound
//! replies and notes).

use super::write_set::{TreeId, WriteSet};
use super::{encode, keys, Store, StoreError};
use crate::ids::Id;
use crate::inbound::Inbound;
use crate::model::AttachmentMeta;
use crate::model::{Conversation, Message};

impl Store {
    /// Records a new message: the record, its conversation pointer, its
    /// external id (Message-ID, mid) for threading within the inbox, and
    /// its addresses as the conversation's participants. Returns the
    /// message's stored key.
    pub(super) fn put_message(
        &self,
        writes: &mut WriteSet,
        conversation: &Conversation,
        message: &Message,
    ) -> Result<Vec<u8>, StoreError> {
        let stored_ref = keys::message(conversation.id, message.id);
        writes.put(TreeId::Messages, &stored_ref, encode(message));
        writes.put(
            TreeId::MessageConversation,
            message.id.to_bytes(),
            conversation.id.to_bytes(),
        );
        if let Some(external_id) = &message.external_id {
            let key = keys::external_ref(&conversation.inbox, external_id);
            let value = self.external_refs_with(&key, &stored_ref)?;
            writes.put(TreeId::ExternalRefs, key, value);
        }
        self.put_participants(writes, message);
        Ok(stored_ref)
    }

    /// Writes the bytes an inbound message came with: its attachments and,
    /// where the channel has them, the raw bytes as received.
    pub(super) fn put_inbound_bytes(&self, writes: &mut WriteSet, message: Id, inbound: &Inbound) {
        for (index, attachment) in inbound.attachments.iter().enumerate() {
            writes.put(
                TreeId::Attachments,
                keys::attachment(message, index as u32),
                attachment.bytes.clone(),
            );
        }
        if let Some(bytes) = &inbound.raw {
            writes.put(TreeId::Raw, message.to_bytes(), bytes.clone());
        }
    }
}

/// What a message record keeps of an inbound message's attachments (the
/// bytes go to `put_inbound_bytes`).
pub(super) fn attachment_meta(inbound: &Inbound) -> Vec<AttachmentMeta> {
    inbound
        .attachments
        .iter()
        .map(|a| AttachmentMeta {
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.bytes.len() as u64,
            fetch_failed: None,
        })
        .collect()
}
