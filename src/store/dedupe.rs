//! Dedupe that never drops a different message. The `dedupe` tree maps
//! `channel NUL external id` to every message stored under that id, each
//! with the digest of its content (`Inbound::content_digest`): the same id
//! with the same digest is a second delivery of one message (stored once);
//! the same id with another digest is a different message (another
//! sender, another text) and is stored as its own, marked as a collision.
//!
//! Value layout: entries of 32 bytes of stored message key followed by 32
//! bytes of digest. A store written before digests were kept has a lone
//! 32-byte key first; such an entry is compared by sender and text.

use super::{decode, keys, Store, StoreError};
use crate::inbound::{normalized_text, Inbound};
use crate::model::Message;

/// A stored message key: conversation id ++ message id.
const KEY_LEN: usize = 32;
const DIGEST_LEN: usize = 32;
const ENTRY_LEN: usize = KEY_LEN + DIGEST_LEN;

/// What the dedupe index says about an inbound message.
pub(super) enum Seen {
    /// No message was stored under its external id.
    New,
    /// This very message was stored before: its stored key.
    Again(Vec<u8>),
    /// Different messages were stored under the same id; this is another
    /// one. The first one's stored key.
    Collision(Vec<u8>),
}

/// The stored message keys in a dedupe value, oldest first.
pub(super) fn stored_keys(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (legacy, entries) = value.split_at(value.len() % ENTRY_LEN);
    let legacy = (legacy.len() == KEY_LEN).then_some(legacy);
    legacy
        .into_iter()
        .chain(entries.chunks_exact(ENTRY_LEN).map(|e| &e[..KEY_LEN]))
}

/// The value without the entries (legacy key included) whose stored key
/// `drop` says to drop; the layout of the rest is kept.
pub(super) fn without_keys(value: &[u8], drop: &dyn Fn(&[u8]) -> bool) -> Vec<u8> {
    let (legacy, entries) = value.split_at(value.len() % ENTRY_LEN);
    let mut out = Vec::with_capacity(value.len());
    if legacy.len() == KEY_LEN && !drop(legacy) {
        out.extend_from_slice(legacy);
    }
    for entry in entries.chunks_exact(ENTRY_LEN) {
        if !drop(&entry[..KEY_LEN]) {
            out.extend_from_slice(entry);
        }
    }
    out
}

/// The value with one more entry.
pub(super) fn with_entry(value: Option<&[u8]>, stored_key: &[u8], digest: &[u8; 32]) -> Vec<u8> {
    let mut out = value.map(<[u8]>::to_vec).unwrap_or_default();
    out.extend_from_slice(stored_key);
    out.extend_from_slice(digest);
    out
}

impl Store {
    /// The stored message `inbound` is another delivery of (the same
    /// external id and content), if any.
    pub fn stored_before(&self, inbound: &Inbound) -> Result<Option<Message>, StoreError> {
        let Some(external_id) = &inbound.external_id else {
            return Ok(None);
        };
        match self.seen(inbound, external_id, &inbound.content_digest())? {
            Seen::Again(key) => self
                .trees
                .messages
                .get(key)?
                .map(|bytes| decode(&bytes))
                .transpose(),
            Seen::New | Seen::Collision(_) => Ok(None),
        }
    }

    /// Whether `inbound` (with digest `digest`) was stored before under its
    /// external id on its channel. Call under the writer lock.
    pub(super) fn seen(
        &self,
        inbound: &Inbound,
        external_id: &str,
        digest: &[u8; 32],
    ) -> Result<Seen, StoreError> {
        let Some(value) = self
            .trees
            .dedupe
            .get(keys::dedupe(&inbound.channel, external_id))?
        else {
            return Ok(Seen::New);
        };
        let (legacy, entries) = value.split_at(value.len() % ENTRY_LEN);
        if legacy.len() == KEY_LEN {
            let stored: Message = self.required(&self.trees.messages, legacy, "message")?;
            if same_message(&stored, inbound) {
                return Ok(Seen::Again(legacy.to_vec()));
            }
        }
        for entry in entries.chunks_exact(ENTRY_LEN) {
            if entry[KEY_LEN..] == digest[..] {
                return Ok(Seen::Again(entry[..KEY_LEN].to_vec()));
            }
        }
        let first = stored_keys(&value).next().map(<[u8]>::to_vec);
        Ok(first.map_or(Seen::New, Seen::Collision))
    }
}

/// For entries stored before digests were kept: the same sender and (unless
/// the id names the message) the same text.
fn same_message(stored: &Message, inbound: &Inbound) -> bool {
    stored.from.address.as_deref() == Some(inbound.sender.identity.handle.as_str())
        && (inbound.id_names_message
            || normalized_text(stored.text.as_deref()) == normalized_text(inbound.text.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_legacy_and_new_entries() {
        let legacy = [1u8; KEY_LEN];
        let value = with_entry(Some(&legacy), &[2u8; KEY_LEN], &[9u8; DIGEST_LEN]);
        let value = with_entry(Some(&value), &[3u8; KEY_LEN], &[8u8; DIGEST_LEN]);
        let keys: Vec<&[u8]> = stored_keys(&value).collect();
        assert_eq!(keys, vec![&[1u8; 32][..], &[2u8; 32][..], &[3u8; 32][..]]);
        let fresh = with_entry(None, &[4u8; KEY_LEN], &[7u8; DIGEST_LEN]);
        assert_eq!(
            stored_keys(&fresh).collect::<Vec<_>>(),
            vec![&[4u8; 32][..]]
        );
    }
}
