//! Store tests of the way out: outbound messages with their jobs and events,
//! the outbox's reschedule and finish, monotonic statuses, the event log.

use super::tests::{inbound, request};
use super::*;
use crate::events::{EventKind, EventPayload};
use crate::model::{Author, DeliveryState, DeliveryStatus, MessageFlag};

fn reply(conversation: crate::ids::Id, author: Author, now: i64) -> OutboundRequest {
    OutboundRequest {
        target: Target::Conversation(conversation),
        author,
        author_name: Some("Alice".into()),
        text: "Thanks, on it".into(),
        html: None,
        private: false,
        message_id_domain: Some("mx.example.test".into()),
        reply_token: true,
        now,
        template: None,
    }
}

fn agent() -> Author {
    Author::Agent { id: "alice".into() }
}

fn status(state: DeliveryState, now: i64) -> DeliveryStatus {
    DeliveryStatus {
        state,
        reason: None,
        attempts: 1,
        provider_id: None,
        updated_at: now,
    }
}

#[tokio::test]
async fn a_reply_is_a_message_a_job_and_events_in_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let accepted = store
        .ingest(request(inbound("mail", "m1", "c@x.example"), 1_000))
        .unwrap();
    let (message, conversation) = store
        .append_outbound(reply(accepted.conversation, agent(), 2_000))
        .unwrap();
    assert_eq!(
        message.status.as_ref().unwrap().state,
        DeliveryState::Queued
    );
    assert!(message
        .external_id
        .as_ref()
        .unwrap()
        .ends_with("@mx.example.test"));
    assert_eq!(conversation.message_count, 2);
    let token = conversation.reply_token.clone().unwrap();
    assert_eq!(token.len(), 20);
    assert_eq!(store.due_jobs(2_000, 10).unwrap().len(), 1);
    assert!(store.due_jobs(1_999, 10).unwrap().is_empty());

    // The customer's answer threads by our Message-ID and by the token.
    let mut answer = inbound("mail", "m2", "c@x.example");
    answer.thread_hints.in_reply_to = vec![message.external_id.clone().unwrap()];
    assert_eq!(
        store.ingest(request(answer, 3_000)).unwrap().conversation,
        conversation.id
    );
    let mut by_token = inbound("mail", "m3", "c@x.example");
    by_token.thread_hints.reply_token = Some(token);
    let joined = store.ingest(request(by_token, 4_000)).unwrap();
    assert_eq!(joined.conversation, conversation.id);
    assert_eq!(joined.thread_reason, crate::model::ThreadReason::ReplyToken);

    let kinds: Vec<EventKind> = store
        .events(1, u64::MAX, 100)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::ConversationCreated,
            EventKind::MessageCreated,
            EventKind::ConversationUpdated,
            EventKind::MessageCreated,
            EventKind::ConversationUpdated,
            EventKind::MessageCreated,
            EventKind::ConversationUpdated,
            EventKind::MessageCreated,
        ]
    );
    let seqs: Vec<u64> = store
        .events(1, u64::MAX, 100)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
}

#[tokio::test]
async fn private_notes_have_no_job_and_no_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let accepted = store
        .ingest(request(inbound("mail", "m1", "c@x.example"), 1_000))
        .unwrap();
    let mut note = reply(accepted.conversation, agent(), 2_000);
    note.private = true;
    let (message, conversation) = store.append_outbound(note).unwrap();
    assert!(message.private && message.status.is_none() && message.external_id.is_none());
    assert!(conversation.reply_token.is_none());
    assert_eq!(store.outbox_len(), 0);
}

#[tokio::test]
async fn automations_never_answer_an_auto_reply_or_a_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut ooo = inbound("mail", "ooo", "c@x.example");
    ooo.flags = vec![MessageFlag::AutoReply];
    let accepted = store.ingest(request(ooo, 1_000)).unwrap();
    let automated = reply(
        accepted.conversation,
        Author::Automation {
            name: "instant_reply".into(),
        },
        2_000,
    );
    assert!(matches!(
        store.append_outbound(automated),
        Err(OutboundError::AutoReplyLoop)
    ));
    // An agent may still answer.
    assert!(store
        .append_outbound(reply(accepted.conversation, agent(), 2_000))
        .is_ok());
}

#[tokio::test]
async fn jobs_reschedule_and_finish_with_status_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let accepted = store
        .ingest(request(inbound("mail", "m1", "c@x.example"), 1_000))
        .unwrap();
    store
        .append_outbound(reply(accepted.conversation, agent(), 2_000))
        .unwrap();
    let job = store.due_jobs(2_000, 1).unwrap().remove(0);
    let later = Job {
        attempts: 1,
        due: 5_000,
        ..job.clone()
    };
    let mut retrying = status(DeliveryState::Queued, 2_100);
    retrying.reason = Some("relay down".into());
    store.reschedule_job(&job, &later, retrying, 2_100).unwrap();
    assert!(store.due_jobs(4_999, 10).unwrap().is_empty());
    assert_eq!(store.next_due().unwrap(), Some(5_000));
    let job = store.due_jobs(5_000, 1).unwrap().remove(0);
    assert_eq!(job.attempts, 1);
    let sent = store
        .finish_job(&job, status(DeliveryState::Sent, 5_100), 5_100)
        .unwrap()
        .unwrap();
    assert_eq!(sent.status.unwrap().state, DeliveryState::Sent);
    assert_eq!(store.outbox_len(), 0);
    let last = store.events(1, u64::MAX, 100).unwrap().pop().unwrap();
    assert_eq!(last.kind, EventKind::MessageStatus);
    assert!(matches!(last.payload, EventPayload::Status { .. }));

    // Provider statuses only move forward.
    assert!(store
        .apply_delivery_status(sent.id, status(DeliveryState::Read, 6_000), 6_000)
        .unwrap());
    assert!(!store
        .apply_delivery_status(sent.id, status(DeliveryState::Delivered, 6_100), 6_100)
        .unwrap());
    assert_eq!(
        store
            .message(sent.id)
            .unwrap()
            .unwrap()
            .status
            .unwrap()
            .state,
        DeliveryState::Read
    );
}

#[tokio::test]
async fn a_new_outbound_conversation_creates_its_contact() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let recipient = inbound("mail", "x", "new@x.example").sender;
    let mut first = reply(crate::ids::Id::new_at(0), agent(), 1_000);
    first.target = Target::New {
        inbox: "support".into(),
        channel: "mail".into(),
        recipient,
        subject: Some("Your quote".into()),
    };
    let (message, conversation) = store.append_outbound(first).unwrap();
    assert_eq!(conversation.assignee.as_deref(), Some("alice"));
    assert_eq!(message.to, ["new@x.example"]);
    let contact = store.contact(conversation.contact).unwrap().unwrap();
    assert_eq!(contact.email.as_deref(), Some("new@x.example"));
    // The customer's own mail later joins the same contact.
    let answer = store
        .ingest(request(inbound("mail", "a1", "new@x.example"), 2_000))
        .unwrap();
    assert_eq!(answer.contact, contact.id);
}

#[tokio::test]
async fn the_durable_sequence_follows_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let durable = store.durable_seq();
    store
        .ingest(request(inbound("mail", "m1", "c@x.example"), 1_000))
        .unwrap();
    store.durable().await.unwrap();
    assert_eq!(*durable.borrow(), 2);
}

#[tokio::test]
async fn a_report_that_overtakes_the_attempt_is_not_undone_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let accepted = store
        .ingest(request(inbound("mail", "m1", "c@x.example"), 1_000))
        .unwrap();
    let (message, _) = store
        .append_outbound(reply(accepted.conversation, agent(), 2_000))
        .unwrap();
    let job = store.due_jobs(2_000, 1).unwrap().remove(0);
    // The receiver reports `delivered` before the attempt records `sent`.
    assert!(store
        .apply_delivery_status(message.id, status(DeliveryState::Delivered, 2_050), 2_050)
        .unwrap());
    let mut sent = status(DeliveryState::Sent, 2_100);
    sent.provider_id = Some("ext-1".into());
    assert!(store.job_pending(&job).unwrap());
    store.finish_job(&job, sent, 2_100).unwrap();
    assert_eq!(store.outbox_len(), 0);
    assert!(
        !store.job_pending(&job).unwrap(),
        "a stale read is not sent again"
    );
    let state = |id| store.message(id).unwrap().unwrap().status.unwrap().state;
    assert_eq!(state(message.id), DeliveryState::Delivered);
    let kept = store.message(message.id).unwrap().unwrap().status.unwrap();
    assert_eq!(
        kept.provider_id.as_deref(),
        Some("ext-1"),
        "the attempt's id is kept"
    );

    // A report built from a stale read does not erase the attempt's id.
    let mut stale = status(DeliveryState::Read, 2_200);
    stale.attempts = 0;
    assert!(store
        .apply_delivery_status(message.id, stale, 2_200)
        .unwrap());
    let kept = store.message(message.id).unwrap().unwrap().status.unwrap();
    assert_eq!(kept.state, DeliveryState::Read);
    assert_eq!(
        (kept.attempts, kept.provider_id.as_deref()),
        (1, Some("ext-1"))
    );

    // A plain attempt still moves a queued message on.
    let (second, _) = store
        .append_outbound(reply(accepted.conversation, agent(), 3_000))
        .unwrap();
    let job = store.due_jobs(3_000, 1).unwrap().remove(0);
    store
        .finish_job(&job, status(DeliveryState::Sent, 3_100), 3_100)
        .unwrap();
    assert_eq!(state(second.id), DeliveryState::Sent);
}
