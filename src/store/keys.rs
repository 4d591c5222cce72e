//! Key layouts of the sled trees. Ids are 16 big-endian bytes and times 8
//! big-endian bytes, so that range scans run in time order; text parts are
//! separated by a NUL byte, which ids and config names never contain.

use crate::ids::Id;
use crate::model::{Conversation, ConversationStatus, Millis};

pub const SEP: u8 = 0;
/// The scope or status part that matches every inbox or every status.
pub const ANY: &str = "*";

pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push(SEP);
        }
        key.extend_from_slice(part);
    }
    key
}

/// `kind NUL handle` -> contact id.
pub fn identity(kind: &str, handle: &str) -> Vec<u8> {
    join(&[kind.as_bytes(), handle.as_bytes()])
}

/// `conversation ++ message` -> message, so a conversation's messages are
/// one prefix scan, in time order.
pub fn message(conversation: Id, message: Id) -> Vec<u8> {
    let mut key = conversation.to_bytes().to_vec();
    key.extend_from_slice(&message.to_bytes());
    key
}

/// `channel NUL external id` -> stored message (dedupe).
pub fn dedupe(channel: &str, external_id: &str) -> Vec<u8> {
    join(&[channel.as_bytes(), external_id.as_bytes()])
}

/// `inbox NUL external id` -> stored message (threading by reference).
pub fn external_ref(inbox: &str, external_id: &str) -> Vec<u8> {
    join(&[inbox.as_bytes(), external_id.as_bytes()])
}

/// The external id under which a channel's thread is kept in
/// `external_refs`: NUL-delimited, so that no Message-ID or provider id can
/// collide with it.
pub fn thread_ref(channel: &str, thread: &str) -> String {
    format!("\0thread\0{channel}\0{thread}")
}

/// `contact ++ channel` -> the contact's latest conversation on the channel.
pub fn contact_channel(contact: Id, channel: &str) -> Vec<u8> {
    let mut key = contact.to_bytes().to_vec();
    key.extend_from_slice(channel.as_bytes());
    key
}

/// `conversation ++ address` -> (): an address that took part in the
/// conversation (a sender or a To/Cc recipient of one of its messages).
pub fn participant(conversation: Id, address: &str) -> Vec<u8> {
    let mut key = conversation.to_bytes().to_vec();
    key.extend_from_slice(address.as_bytes());
    key
}

/// `message ++ index` -> attachment bytes.
pub fn attachment(message: Id, index: u32) -> Vec<u8> {
    let mut key = message.to_bytes().to_vec();
    key.extend_from_slice(&index.to_be_bytes());
    key
}

/// The prefix of the activity index for one scope (an inbox or `ANY`) and
/// one status (or `ANY`).
pub fn activity_prefix(scope: &str, status: &str) -> Vec<u8> {
    let mut key = join(&[scope.as_bytes(), status.as_bytes()]);
    key.push(SEP);
    key
}

/// `scope NUL status NUL last-activity conversation` -> (): conversations of
/// an inbox by status, latest activity last.
pub fn activity(scope: &str, status: &str, last: Millis, conversation: Id) -> Vec<u8> {
    let mut key = activity_prefix(scope, status);
    key.extend_from_slice(&(last.max(0) as u64).to_be_bytes());
    key.extend_from_slice(&conversation.to_bytes());
    key
}

/// The scope of open conversations nobody is assigned, across inboxes
/// (`~` never occurs in an inbox id).
pub const UNASSIGNED: &str = "~unassigned";

/// Every activity-index key a conversation has: its inbox and every inbox,
/// its status and any status; plus the unassigned scope while it is open
/// and unassigned.
pub fn activity_keys(conversation: &Conversation) -> Vec<Vec<u8>> {
    let c = conversation;
    let mut keys = vec![
        activity(&c.inbox, c.status.as_str(), c.last_message_at, c.id),
        activity(&c.inbox, ANY, c.last_message_at, c.id),
        activity(ANY, c.status.as_str(), c.last_message_at, c.id),
        activity(ANY, ANY, c.last_message_at, c.id),
    ];
    if c.assignee.is_none() && c.status == ConversationStatus::Open {
        keys.push(activity(
            UNASSIGNED,
            c.status.as_str(),
            c.last_message_at,
            c.id,
        ));
    }
    keys
}

/// The conversation id at the end of an activity-index key.
pub fn conversation_of_activity(key: &[u8]) -> Option<Id> {
    key.len()
        .checked_sub(16)
        .and_then(|start| Id::from_bytes(&key[start..]))
}
