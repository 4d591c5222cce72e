//! End-to-end: replies thread into the conversation they answer, and a resent
//! mail is stored once.

mod common;

use common::mails;
use common::smtp::deliver;
use common::Daemon;

const SUPPORT: &[&str] = &["support@example.com"];

#[test]
fn replies_join_their_conversation_by_in_reply_to_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let first = mails::simple(
        "root@customer.example",
        "mia@customer.example",
        "support@example.com",
        "Printer on fire",
        "Help",
    );
    assert_eq!(
        deliver(daemon.smtp, "mia@customer.example", SUPPORT, &first).code,
        250
    );
    let by_irt = mails::reply(
        "r1@customer.example",
        "mia@customer.example",
        "Re: Printer on fire",
        Some("root@customer.example"),
        &["root@customer.example"],
    );
    assert_eq!(
        deliver(daemon.smtp, "mia@customer.example", SUPPORT, &by_irt).code,
        250
    );
    // A client that dropped In-Reply-To but kept References (an unknown id last).
    let by_refs = mails::reply(
        "r2@customer.example",
        "mia@customer.example",
        "Re: Printer on fire",
        None,
        &["root@customer.example", "unknown@elsewhere.example"],
    );
    assert_eq!(
        deliver(daemon.smtp, "mia@customer.example", SUPPORT, &by_refs).code,
        250
    );
    // A reply to an unknown message starts a new conversation.
    let stranger = mails::reply(
        "r3@customer.example",
        "mia@customer.example",
        "Re: something else",
        Some("never-seen@x.example"),
        &[],
    );
    assert_eq!(
        deliver(daemon.smtp, "mia@customer.example", SUPPORT, &stranger).code,
        250
    );

    let conversations = daemon.all_conversations("&inbox=support");
    assert_eq!(conversations.len(), 2);
    let thread = conversations
        .iter()
        .find(|c| c["subject"] == "Printer on fire")
        .unwrap();
    assert_eq!(thread["message_count"], 3);
    let messages = daemon.messages(thread["id"].as_str().unwrap());
    let reasons: Vec<&str> = messages
        .iter()
        .map(|m| m["thread_reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, vec!["new", "in_reply_to", "references"]);
    let other = conversations
        .iter()
        .find(|c| c["subject"] == "Re: something else")
        .unwrap();
    assert_eq!(
        daemon.messages(other["id"].as_str().unwrap())[0]["thread_reason"],
        "new"
    );
}

#[test]
fn a_resent_message_id_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mail = mails::simple(
        "dup@customer.example",
        "noah@customer.example",
        "support@example.com",
        "Twice",
        "Same",
    );
    for _ in 0..3 {
        assert_eq!(
            deliver(daemon.smtp, "noah@customer.example", SUPPORT, &mail).code,
            250
        );
    }
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0]["message_count"], 1);
    assert_eq!(daemon.all_messages().len(), 1);
}
