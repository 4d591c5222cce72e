//! Store tests on a temporary database: dedupe, contacts, threading, the
//! activity index with cursors, the schema check and group commit.

use super::*;
use crate::inbound::{Identity, Inbound, InboundAttachment, Sender, ThreadHints};
use crate::model::{ConversationStatus, ThreadReason};

pub(super) fn inbound(channel: &str, external_id: &str, from: &str) -> Inbound {
    Inbound {
        channel: channel.to_string(),
        external_id: Some(external_id.to_string()),
        sender: Sender {
            identity: Identity {
                kind: "email".into(),
                handle: from.into(),
            },
            name: Some("Sam".into()),
            email: Some(from.into()),
            phone: None,
        },
        forwarded_by: None,
        to: vec!["support@example.com".into()],
        recipients: Vec::new(),
        from_agent: None,
        id_names_message: false,
        thread_hints: ThreadHints::default(),
        subject: Some(format!("subject {external_id}")),
        text: Some("hello".into()),
        html: None,
        attachments: vec![InboundAttachment {
            name: Some("a.bin".into()),
            content_type: "application/octet-stream".into(),
            bytes: vec![0, 1, 2, 255],
        }],
        flags: vec![],
        sent_at: None,
        raw: Some(b"raw bytes".to_vec()),
        postback: None,
    }
}

pub(super) fn request(inbound: Inbound, now: i64) -> IngestRequest {
    IngestRequest {
        inbound,
        inbox: "support".into(),
        now,
        assignment: None,
        ticket: None,
        timeline_channels: Vec::new(),
    }
}

#[tokio::test]
async fn ingest_creates_contact_conversation_and_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = store
        .ingest(request(inbound("mail", "m1", "sam@x.example"), 1_000))
        .unwrap();
    assert!(!first.duplicate && first.new_conversation);
    assert_eq!(first.thread_reason, ThreadReason::New);
    let again = store
        .ingest(request(inbound("mail", "m1", "sam@x.example"), 2_000))
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.message, again.conversation),
        (first.message, first.conversation)
    );
    // The same id on another channel is another message.
    let other = store
        .ingest(request(inbound("other", "m1", "sam@x.example"), 3_000))
        .unwrap();
    assert!(!other.duplicate);
    assert_eq!(other.contact, first.contact, "same identity, same contact");

    let message = store.message(first.message).unwrap().unwrap();
    assert_eq!(message.attachments[0].size, 4);
    assert_eq!(
        store.attachment(first.message, 0).unwrap().unwrap(),
        vec![0, 1, 2, 255]
    );
    assert_eq!(store.raw(first.message).unwrap().unwrap(), b"raw bytes");
    let contact = store.contact(first.contact).unwrap().unwrap();
    assert_eq!(contact.email.as_deref(), Some("sam@x.example"));
    assert_eq!(store.message_total(), 2);
}

#[tokio::test]
async fn replies_thread_and_reopen_and_messages_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let root = store
        .ingest(request(inbound("mail", "root", "a@x.example"), 1_000))
        .unwrap();
    let mut reply = inbound("mail", "reply", "a@x.example");
    reply.thread_hints.references = vec!["unknown".into(), "root".into()];
    let joined = store.ingest(request(reply, 1_000)).unwrap();
    assert_eq!(joined.conversation, root.conversation);
    assert_eq!(joined.thread_reason, ThreadReason::References);
    let mut direct = inbound("mail", "direct", "a@x.example");
    direct.thread_hints.in_reply_to = vec!["reply".into()];
    let joined = store.ingest(request(direct, 1_000)).unwrap();
    assert_eq!(joined.thread_reason, ThreadReason::InReplyTo);
    let ids: Vec<_> = store
        .messages(root.conversation)
        .unwrap()
        .iter()
        .map(|m| m.external_id.clone().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["root", "reply", "direct"],
        "same millisecond, still in order"
    );
    // A reference into another inbox does not thread.
    let mut foreign = inbound("mail", "foreign", "a@x.example");
    foreign.thread_hints.in_reply_to = vec!["root".into()];
    let separate = store
        .ingest(IngestRequest {
            inbound: foreign,
            inbox: "sales".into(),
            now: 2_000,
            assignment: None,
            ticket: None,
            timeline_channels: Vec::new(),
        })
        .unwrap();
    assert!(separate.new_conversation);
}

#[tokio::test]
async fn a_channel_thread_id_keeps_its_messages_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let in_thread = |channel: &str, id: &str, from: &str, thread: &str| {
        let mut message = inbound(channel, id, from);
        message.thread_hints.thread = Some(thread.into());
        message
    };
    let first = store
        .ingest(request(in_thread("app", "t1", "u1", "chat-1"), 1_000))
        .unwrap();
    assert!(first.new_conversation);
    // Another person in the same thread joins it, as does a later message.
    let other = store
        .ingest(request(in_thread("app", "t2", "u2", "chat-1"), 2_000))
        .unwrap();
    assert_eq!(other.conversation, first.conversation);
    assert_eq!(other.thread_reason, ThreadReason::Thread);
    let later = store
        .ingest(request(in_thread("app", "t3", "u1", "chat-1"), 3_000))
        .unwrap();
    assert_eq!(later.conversation, first.conversation);
    let stored = store.message(later.message).unwrap().unwrap();
    assert_eq!(stored.thread.as_deref(), Some("chat-1"));
    // Another thread, or the same thread id on another channel, is another
    // conversation; so is a Message-ID that merely looks like the thread.
    let second = store
        .ingest(request(in_thread("app", "t4", "u1", "chat-2"), 4_000))
        .unwrap();
    assert!(second.new_conversation);
    let elsewhere = store
        .ingest(request(in_thread("other-app", "t5", "u1", "chat-1"), 5_000))
        .unwrap();
    assert!(elsewhere.new_conversation);
    let mut lookalike = inbound("mail", "m1", "a@x.example");
    lookalike.thread_hints.in_reply_to = vec!["chat-1".into()];
    assert!(
        store
            .ingest(request(lookalike, 6_000))
            .unwrap()
            .new_conversation
    );
}

#[tokio::test]
async fn continue_open_joins_the_open_conversation_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut first = inbound("chat", "c1", "visitor-1");
    first.thread_hints.continue_open = true;
    let first = store.ingest(request(first, 1_000)).unwrap();
    let mut second = inbound("chat", "c2", "visitor-1");
    second.thread_hints.continue_open = true;
    let second = store.ingest(request(second, 2_000)).unwrap();
    assert_eq!(second.conversation, first.conversation);
    assert_eq!(second.thread_reason, ThreadReason::Continued);
    let conversation = store.conversation(first.conversation).unwrap().unwrap();
    assert_eq!(conversation.message_count, 2);
    assert_eq!(conversation.last_message_at, 2_000);
}

#[tokio::test]
async fn lists_by_latest_activity_with_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .ingest(request(
                    inbound("mail", &format!("m{i}"), "a@x.example"),
                    1_000 + i,
                ))
                .unwrap()
                .conversation,
        );
    }
    // New activity on the oldest moves it to the front.
    let mut bump = inbound("mail", "bump", "a@x.example");
    bump.thread_hints.in_reply_to = vec!["m0".into()];
    store.ingest(request(bump, 9_000)).unwrap();
    let mut query = ConversationQuery {
        inbox: Some("support".into()),
        status: Some(ConversationStatus::Open),
        limit: 2,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list_conversations(&query).unwrap().unwrap();
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, vec![ids[0], ids[4], ids[3], ids[2], ids[1]]);
    query.inbox = Some("sales".into());
    assert!(
        store.list_conversations(&query).unwrap().is_err(),
        "cursor of another query"
    );
    let closed = ConversationQuery {
        status: Some(ConversationStatus::Closed),
        limit: 10,
        ..Default::default()
    };
    assert!(store
        .list_conversations(&closed)
        .unwrap()
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn a_different_schema_version_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert(b"schema_version", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let error = Store::open(dir.path()).err().unwrap().to_string();
    assert!(
        error.contains("schema version 99") && error.contains("needs 1"),
        "{error}"
    );
}

#[tokio::test]
async fn concurrent_writers_share_flushes_and_all_become_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let before = store.flush_count();
    let writers: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let s = store.clone();
                tokio::task::spawn_blocking(move || {
                    s.ingest(request(
                        inbound("mail", &format!("g{i}"), "g@x.example"),
                        1_000,
                    ))
                })
                .await
                .unwrap()
                .unwrap();
                store.durable().await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let flushes = store.flush_count() - before;
    assert!(
        (1..=64).contains(&flushes),
        "{flushes} flushes for 64 writes"
    );
    assert_eq!(store.message_total(), 64);
}

#[tokio::test]
async fn pruning_drops_old_events_keeps_the_newest_and_numbering_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (n, at) in [(1, 1_000), (2, 2_000), (3, 3_000)] {
        let mail = inbound("mail", &format!("m{n}"), &format!("p{n}@x.example"));
        store.ingest(request(mail, at)).unwrap();
    }
    let all = store.events(1, u64::MAX, 100).unwrap();
    let newest = all.last().unwrap().seq;
    let first_recent = all.iter().find(|e| e.at >= 2_500).unwrap().seq;

    assert_eq!(
        store.prune_events(2_500, 1).unwrap(),
        1,
        "at most the limit"
    );
    let pruned = store.prune_events(2_500, 100).unwrap();
    assert_eq!(pruned + 1, usize::try_from(first_recent - 1).unwrap());
    assert_eq!(store.oldest_event_seq().unwrap(), Some(first_recent));
    assert_eq!(
        store.prune_events(2_500, 100).unwrap(),
        0,
        "nothing left to do"
    );

    store.prune_events(i64::MAX, 100).unwrap();
    assert_eq!(
        store.oldest_event_seq().unwrap(),
        Some(newest),
        "newest kept"
    );
    // A restart numbers on from the log's last key, which is still there.
    assert_eq!(event_log::last_seq(&store.trees.events).unwrap(), newest);
    let mail = inbound("mail", "m4", "p4@x.example");
    store.ingest(request(mail, 4_000)).unwrap();
    let events = store.events(1, u64::MAX, 100).unwrap();
    assert_eq!(events[0].seq, newest);
    assert_eq!(events[1].seq, newest + 1);
}
