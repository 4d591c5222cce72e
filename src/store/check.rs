//! `switchboard store check`: an offline check of the whole store (the
//! daemon stopped, or a copy). Every record is read and decoded, every
//! index entry is followed to what it points at, and every record's index
//! entries are looked for; counts are cross-checked (a conversation's
//! `message_count` against its messages, an attachment's size against its
//! bytes). Problems are reported with the key they were found at.
//!
//! With `repair`, what can be rebuilt from the records is: index entries
//! that point at nothing are removed, missing ones (a message's
//! conversation pointer, a conversation's activity entries) are written
//! again. Records themselves are never changed or deleted: a problem in a
//! record (a message whose conversation is missing, a record that does not
//! decode) is reported as not repaired, with the data left in place.

use std::collections::{HashMap, HashSet};

use super::{decode, dedupe, keys, Store, StoreError};
use crate::events::Event;
use crate::ids::Id;
use crate::model::{Contact, Conversation, Message, Ticket};
use crate::store::{Job, MediaJob};

/// One problem: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub tree: &'static str,
    /// The key, readable: ids as ULIDs, text as text.
    pub key: String,
    pub what: String,
    /// `Some` once `repair` fixed it (what was done); `None` when it
    /// cannot be repaired from the records, or repair was not asked for.
    pub repaired: Option<&'static str>,
}

/// What the check read and found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Records read, by kind, in a fixed order.
    pub counts: Vec<(&'static str, u64)>,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Problems not repaired.
    pub fn left(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.repaired.is_none())
            .count()
    }
}

/// A fix to apply once everything was read: the entry at `key` in `tree`
/// set to `value`, or removed.
struct Fix {
    problem: usize,
    tree: sled::Tree,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    done: &'static str,
}

/// Shows a key as its tree lays it out: ids as ULIDs, text as text, times
/// and indexes as numbers, parts separated by `/`.
fn show(tree: &str, key: &[u8]) -> String {
    let id = |bytes: &[u8]| {
        Id::from_bytes(bytes)
            .map(|id| id.to_string())
            .unwrap_or_else(|| hex::encode(bytes))
    };
    let number = |bytes: &[u8]| {
        let mut value = 0u64;
        for &b in bytes {
            value = (value << 8) | u64::from(b);
        }
        value.to_string()
    };
    match (tree, key.len()) {
        (_, 16) => id(key),
        ("messages", 32) => format!("{}/{}", id(&key[..16]), id(&key[16..])),
        ("attachments", 20) => format!("{}/{}", id(&key[..16]), number(&key[16..])),
        ("contact_channel" | "participants", n) if n > 16 => {
            format!("{}/{}", id(&key[..16]), text(&key[16..]))
        }
        ("activity", n) if n > 25 => {
            let (scope, rest) = key.split_at(n - 24);
            format!(
                "{}/{}/{}",
                text(scope.strip_suffix(&[0]).unwrap_or(scope)),
                number(&rest[..8]),
                id(&rest[8..])
            )
        }
        ("events", 8) => number(key),
        ("media_jobs" | "outbox", n) if n > 8 => {
            format!("{}/{}", number(&key[..8]), text(&key[8..]))
        }
        _ => text(key),
    }
}

/// Text with NUL separators as `/` and other unprintable bytes escaped.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c {
            '\0' => "/".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

struct Checker<'a> {
    store: &'a Store,
    report: CheckReport,
    fixes: Vec<Fix>,
}

impl Store {
    /// Checks every record and index entry; with `repair`, rebuilds what
    /// the records allow. Run it with the daemon stopped.
    pub fn check(&self, repair: bool) -> Result<CheckReport, StoreError> {
        let mut checker = Checker {
            store: self,
            report: CheckReport::default(),
            fixes: Vec::new(),
        };
        checker.run()?;
        if repair {
            checker.apply()?;
        }
        Ok(checker.report)
    }
}

impl Checker<'_> {
    fn problem(&mut self, tree: &'static str, key: &[u8], what: String) {
        self.report.problems.push(Problem {
            tree,
            key: show(tree, key),
            what,
            repaired: None,
        });
    }

    /// A problem the records can fix: the entry at `key` of `tree` set
    /// to `value` (removed when `None`); `done` says what that does.
    fn fixable(
        &mut self,
        name: &'static str,
        tree: &sled::Tree,
        key: &[u8],
        what: String,
        value: Option<Vec<u8>>,
        done: &'static str,
    ) {
        self.problem(name, key, what);
        self.fixes.push(Fix {
            problem: self.report.problems.len() - 1,
            tree: tree.clone(),
            key: key.to_vec(),
            value,
            done,
        });
    }

    /// Every entry of an index tree that `sound` rejects (given its key and
    /// value) is a problem whose repair removes it.
    fn dangling(
        &mut self,
        name: &'static str,
        tree: &sled::Tree,
        what: &str,
        sound: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        for entry in tree.iter() {
            let (key, value) = entry?;
            if !sound(&key, &value) {
                self.fixable(name, tree, &key, what.to_string(), None, "removed");
            }
        }
        Ok(())
    }

    fn count(&mut self, what: &'static str, n: u64) {
        self.report.counts.push((what, n));
    }

    fn apply(&mut self) -> Result<(), StoreError> {
        for fix in std::mem::take(&mut self.fixes) {
            match fix.value {
                Some(value) => fix.tree.insert(fix.key, value)?,
                None => fix.tree.remove(fix.key)?,
            };
            self.report.problems[fix.problem].repaired = Some(fix.done);
        }
        self.store.flush_now()
    }

    fn run(&mut self) -> Result<(), StoreError> {
        let t = self.store.trees.clone();

        // Contacts.
        let mut contacts = HashSet::new();
        for entry in t.contacts.iter() {
            let (key, value) = entry?;
            match decode::<Contact>(&value) {
                Ok(contact) if contact.id.to_bytes() == *key => {
                    contacts.insert(contact.id);
                }
                Ok(contact) => {
                    self.problem("contacts", &key, format!("holds contact {}", contact.id))
                }
                Err(error) => self.problem("contacts", &key, format!("does not decode: {error}")),
            }
        }
        self.count("contacts", contacts.len() as u64);

        // Conversations.
        let mut conversations: HashMap<Id, Conversation> = HashMap::new();
        for entry in t.conversations.iter() {
            let (key, value) = entry?;
            match decode::<Conversation>(&value) {
                Ok(conversation) if conversation.id.to_bytes() == *key => {
                    if !contacts.contains(&conversation.contact) {
                        self.problem(
                            "conversations",
                            &key,
                            format!("its contact {} is missing", conversation.contact),
                        );
                    }
                    conversations.insert(conversation.id, conversation);
                }
                Ok(other) => self.problem(
                    "conversations",
                    &key,
                    format!("holds conversation {}", other.id),
                ),
                Err(error) => {
                    self.problem("conversations", &key, format!("does not decode: {error}"))
                }
            }
        }
        self.count("conversations", conversations.len() as u64);

        // Messages, with their pointers and bytes.
        let mut messages: HashSet<Vec<u8>> = HashSet::new();
        let mut message_ids: HashMap<Id, Id> = HashMap::new();
        let mut per_conversation: HashMap<Id, u64> = HashMap::new();
        let mut attachments = 0u64;
        for entry in t.messages.iter() {
            let (key, value) = entry?;
            let message = match decode::<Message>(&value) {
                Ok(message) => message,
                Err(error) => {
                    self.problem("messages", &key, format!("does not decode: {error}"));
                    continue;
                }
            };
            if keys::message(message.conversation, message.id) != *key {
                self.problem("messages", &key, format!("holds message {}", message.id));
                continue;
            }
            messages.insert(key.to_vec());
            message_ids.insert(message.id, message.conversation);
            *per_conversation.entry(message.conversation).or_default() += 1;
            if !conversations.contains_key(&message.conversation) {
                self.problem(
                    "messages",
                    &key,
                    format!(
                        "its conversation {} is missing (the message is kept; it is not \
                         listed in any inbox)",
                        message.conversation
                    ),
                );
            }
            let pointer = t.message_conversation.get(message.id.to_bytes())?;
            if pointer.as_deref() != Some(&message.conversation.to_bytes()[..]) {
                self.fixable(
                    "message_conversation",
                    &t.message_conversation,
                    &message.id.to_bytes(),
                    "missing or wrong pointer to the message's conversation".into(),
                    Some(message.conversation.to_bytes().to_vec()),
                    "written from the message",
                );
            }
            for (index, meta) in message.attachments.iter().enumerate() {
                let attachment_key = keys::attachment(message.id, index as u32);
                match t.attachments.get(&attachment_key)? {
                    Some(bytes) => {
                        attachments += 1;
                        if bytes.len() as u64 != meta.size {
                            self.problem(
                                "attachments",
                                &attachment_key,
                                format!("{} bytes, the message says {}", bytes.len(), meta.size),
                            );
                        }
                    }
                    // A size of 0: bytes not fetched yet, or given up on.
                    None if meta.size > 0 => self.problem(
                        "attachments",
                        &attachment_key,
                        format!("missing ({} bytes expected)", meta.size),
                    ),
                    None => {}
                }
            }
        }
        self.count("messages", messages.len() as u64);
        self.count("attachments", attachments);
        for (id, conversation) in &conversations {
            let stored = per_conversation.get(id).copied().unwrap_or(0);
            if stored != conversation.message_count {
                self.problem(
                    "conversations",
                    &id.to_bytes(),
                    format!(
                        "message_count is {}, {stored} messages are stored",
                        conversation.message_count
                    ),
                );
            }
            for key in keys::activity_keys(conversation) {
                if !t.activity.contains_key(&key)? {
                    self.fixable(
                        "activity",
                        &t.activity,
                        &key,
                        format!("conversation {id} is missing from an inbox list"),
                        Some(Vec::new()),
                        "written from the conversation",
                    );
                }
            }
        }

        // Index entries, each followed to what it points at.
        let message_exists = |key: &[u8]| messages.contains(key);
        // A pointer for a stored message that names the wrong conversation
        // was rewritten above; one for no stored message goes.
        self.dangling(
            "message_conversation",
            &t.message_conversation,
            "points to no message",
            |key, _| Id::from_bytes(key).is_some_and(|m| message_ids.contains_key(&m)),
        )?;
        self.dangling(
            "activity",
            &t.activity,
            "lists a conversation that is missing or has moved",
            |key, _| {
                keys::conversation_of_activity(key)
                    .and_then(|id| conversations.get(&id))
                    .is_some_and(|c| keys::activity_keys(c).iter().any(|k| k == key))
            },
        )?;
        let id_in = |bytes: &[u8], set: &dyn Fn(Id) -> bool| Id::from_bytes(bytes).is_some_and(set);
        let is_contact = |id: Id| contacts.contains(&id);
        let is_conversation = |id: Id| conversations.contains_key(&id);
        self.dangling(
            "identities",
            &t.identities,
            "points to no contact",
            |_, value| id_in(value, &is_contact),
        )?;
        self.dangling(
            "contact_channel",
            &t.contact_channel,
            "names a contact or conversation that is missing",
            |key, value| {
                id_in(key.get(..16).unwrap_or_default(), &is_contact)
                    && id_in(value, &is_conversation)
            },
        )?;
        self.dangling(
            "reply_tokens",
            &t.reply_tokens,
            "points to no conversation",
            |_, value| id_in(value, &is_conversation),
        )?;
        self.dangling(
            "participants",
            &t.participants,
            "names a conversation that is missing",
            |key, _| id_in(key.get(..16).unwrap_or_default(), &is_conversation),
        )?;
        self.dangling(
            "provider_ids",
            &t.provider_ids,
            "points to no message",
            |_, value| message_exists(value),
        )?;
        for entry in t.external_refs.iter() {
            let (key, value) = entry?;
            if value.len() % 32 != 0 || value.is_empty() {
                self.problem(
                    "external_refs",
                    &key,
                    format!("a value of {} bytes", value.len()),
                );
                continue;
            }
            let kept: Vec<u8> = value
                .chunks(32)
                .filter(|r| message_exists(r))
                .flatten()
                .copied()
                .collect();
            if kept.len() != value.len() {
                self.fixable(
                    "external_refs",
                    &t.external_refs,
                    &key,
                    "points to a message that is missing".into(),
                    (!kept.is_empty()).then_some(kept),
                    "the missing message's reference removed",
                );
            }
        }
        for entry in t.dedupe.iter() {
            let (key, value) = entry?;
            let stored: Vec<&[u8]> = dedupe::stored_keys(&value).collect();
            if stored.is_empty() {
                self.problem("dedupe", &key, format!("a value of {} bytes", value.len()));
            } else if !stored.iter().all(|k| message_exists(k)) {
                // Entries are a stored key and a digest each; the ones for
                // missing messages go, the rest stay as they are.
                let kept = dedupe::without_keys(&value, &|k| !message_exists(k));
                self.fixable(
                    "dedupe",
                    &t.dedupe,
                    &key,
                    "points to a message that is missing".into(),
                    (!kept.is_empty()).then_some(kept),
                    "the missing message's entry removed",
                );
            }
        }

        // Bytes kept for messages.
        let mut raw = 0u64;
        for entry in t.raw.iter() {
            let (key, _) = entry?;
            raw += 1;
            if !Id::from_bytes(&key).is_some_and(|id| message_ids.contains_key(&id)) {
                self.problem("raw", &key, "raw bytes of a message that is missing".into());
            }
        }
        self.count("raw bodies", raw);
        for entry in t.attachments.iter() {
            let (key, _) = entry?;
            let message = Id::from_bytes(key.get(..16).unwrap_or_default());
            if !message.is_some_and(|id| message_ids.contains_key(&id)) {
                self.problem(
                    "attachments",
                    &key,
                    "bytes of a message that is missing".into(),
                );
            }
        }

        // Work queues, tickets and the event log.
        let mut jobs = 0u64;
        for entry in t.outbox.iter() {
            let (key, value) = entry?;
            match decode::<Job>(&value) {
                Ok(job) => {
                    jobs += 1;
                    if job.notification.is_none() && !message_ids.contains_key(&job.message) {
                        self.problem(
                            "outbox",
                            &key,
                            format!("sends message {}, which is missing", job.message),
                        );
                    }
                }
                Err(error) => self.problem("outbox", &key, format!("does not decode: {error}")),
            }
        }
        self.count("outbox jobs", jobs);
        let mut media = 0u64;
        for entry in t.media_jobs.iter() {
            let (key, value) = entry?;
            match decode::<MediaJob>(&value) {
                Ok(_) => media += 1,
                Err(error) => self.problem("media_jobs", &key, format!("does not decode: {error}")),
            }
        }
        self.count("media jobs", media);
        let mut tickets = 0u64;
        for entry in t.tickets.iter() {
            let (key, value) = entry?;
            match decode::<Ticket>(&value) {
                Ok(ticket) => {
                    tickets += 1;
                    if !conversations.contains_key(&ticket.conversation) {
                        self.problem(
                            "tickets",
                            &key,
                            format!("its conversation {} is missing", ticket.conversation),
                        );
                    }
                }
                Err(error) => self.problem("tickets", &key, format!("does not decode: {error}")),
            }
        }
        self.count("tickets", tickets);
        let mut events = 0u64;
        for entry in t.events.iter() {
            let (key, value) = entry?;
            let seq = <[u8; 8]>::try_from(key.as_ref()).map(u64::from_be_bytes);
            match (seq, decode::<Event>(&value)) {
                (Ok(seq), Ok(event)) if event.seq == seq => events += 1,
                (_, Ok(event)) => {
                    self.problem("events", &key, format!("holds event {}", event.seq))
                }
                (_, Err(error)) => {
                    self.problem("events", &key, format!("does not decode: {error}"))
                }
            }
        }
        self.count("events", events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_shown_readably() {
        let id = Id::from_bytes(&[1; 16]).unwrap();
        assert_eq!(show("conversations", &id.to_bytes()), id.to_string());
        assert_eq!(
            show("messages", &keys::message(id, id)),
            format!("{id}/{id}")
        );
        assert_eq!(
            show("activity", &keys::activity("support", "open", 1_000, id)),
            format!("support/open/1000/{id}")
        );
        assert_eq!(
            show("participants", &keys::participant(id, "a@b.example")),
            format!("{id}/a@b.example")
        );
        assert_eq!(
            show("attachments", &keys::attachment(id, 2)),
            format!("{id}/2")
        );
        assert_eq!(show("dedupe", b"support\0<a@b>\x01"), "support/<a@b>\\u{1}");
    }
}
