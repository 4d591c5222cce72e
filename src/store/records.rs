//! Writing a new message record with its pointers, shared by every write
//! that adds a message (inbound ingest, outbound replies and notes).

use super::write_set::{TreeId, WriteSet};
use super::{encode, keys, Store};
use crate::model::{Conversation, Message};

impl Store {
    /// Records a new message: the record, its conversation pointer, and its
    /// external id (Message-ID, mid) for threading within the inbox. Returns
    /// the message's stored key.
    pub(super) fn put_message(
        &self,
        writes: &mut WriteSet,
        conversation: &Conversation,
        message: &Message,
    ) -> Vec<u8> {
        let stored_ref = keys::message(conversation.id, message.id);
        writes.put(TreeId::Messages, &stored_ref, encode(message));
        writes.put(
            TreeId::MessageConversation,
            message.id.to_bytes(),
            conversation.id.to_bytes(),
        );
        if let Some(external_id) = &message.external_id {
            writes.put(
                TreeId::ExternalRefs,
                keys::external_ref(&conversation.inbox, external_id),
                stored_ref.clone(),
            );
        }
        stored_ref
    }
}
