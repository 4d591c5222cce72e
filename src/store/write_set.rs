//! A write set: the puts and removes one logical change makes, across any
//! trees, applied in one sled transaction. Writers read what they need under
//! the writer lock, build a write set, then commit it atomically.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{Store, StoreError, Trees};

/// The trees a write set can touch, by position in `Trees::all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TreeId {
    Contacts,
    Identities,
    Conversations,
    Messages,
    MessageConversation,
    Activity,
    ExternalRefs,
    Dedupe,
    ContactChannel,
    Attachments,
    Raw,
    Events,
    Outbox,
    ReplyTokens,
    Counters,
    Tickets,
    Participants,
}

impl Trees {
    /// Every tree a write set can touch, in `TreeId` order.
    fn all(&self) -> [&sled::Tree; 17] {
        [
            &self.contacts,
            &self.identities,
            &self.conversations,
            &self.messages,
            &self.message_conversation,
            &self.activity,
            &self.external_refs,
            &self.dedupe,
            &self.contact_channel,
            &self.attachments,
            &self.raw,
            &self.events,
            &self.outbox,
            &self.reply_tokens,
            &self.counters,
            &self.tickets,
            &self.participants,
        ]
    }
}

/// The changes of one logical write.
#[derive(Default)]
pub(super) struct WriteSet {
    ops: Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteSet {
    pub(super) fn put(&mut self, tree: TreeId, key: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        self.ops
            .push((tree, key.as_ref().to_vec(), Some(value.into())));
    }

    pub(super) fn remove(&mut self, tree: TreeId, key: impl AsRef<[u8]>) {
        self.ops.push((tree, key.as_ref().to_vec(), None));
    }
}

impl Store {
    /// Applies a write set atomically. Call under the writer lock.
    pub(super) fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let trees = self.trees.all();
        let result: Result<(), TransactionError<()>> = trees[..].transaction(|views| {
            for (tree, key, value) in &writes.ops {
                let view = &views[*tree as usize];
                match value {
                    Some(value) => {
                        view.insert(key.as_slice(), value.as_slice())?;
                    }
                    None => {
                        view.remove(key.as_slice())?;
                    }
                }
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        result.map_err(|e| StoreError::Transaction(format!("{e:?}")))
    }
}
