//! End-to-end: `switchboard store check` (issue 28). A store the daemon
//! wrote (mail, a threaded reply, an agent's answer in the outbox) checks
//! clean; a running daemon's store is refused with a hint. Then, with the
//! daemon stopped, the store is damaged through sled itself, as a bug or a
//! bad restore would: a conversation record deleted (its message is left
//! without one), a pointer to a message that does not exist, and an inbox
//! list entry lost. The check finds each with its key and exits 1;
//! `--repair` rebuilds the index entries and says what it could not (the
//! message whose conversation is gone stays, reported); a second check
//! finds only that. The daemon then starts on the repaired store.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{mails, Daemon, BIN};
use serde_json::json;

const SUPPORT: &[&str] = &["support@example.com"];

fn store_check(dir: &Path, repair: bool) -> (i32, String) {
    let mut command = Command::new(BIN);
    command
        .args(["store", "check", "--config"])
        .arg(dir.join("config.toml"));
    if repair {
        command.arg("--repair");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().unwrap(), text)
}

fn problem_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.starts_with("problem "))
        .collect()
}

#[test]
fn store_check_finds_planted_problems_and_repair_fixes_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    for (id, from) in [
        ("first@x.example", "ann@x.example"),
        ("second@x.example", "bob@x.example"),
    ] {
        let mail = mails::simple(id, from, "support@example.com", "help", "a question");
        assert_eq!(
            common::smtp::deliver(daemon.smtp, from, SUPPORT, &mail).code,
            250
        );
    }
    let reply = mails::reply(
        "third@x.example",
        "ann@x.example",
        "Re: help",
        Some("first@x.example"),
        &[],
    );
    assert_eq!(
        common::smtp::deliver(daemon.smtp, "ann@x.example", SUPPORT, &reply).code,
        250
    );
    let ann = daemon.message_by_subject("Re: help")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    daemon.reply(&ann, json!({"text": "we are on it", "private": true}));
    let bob = daemon
        .all_conversations("")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .find(|id| *id != ann)
        .unwrap();

    // The running daemon holds the store: the check says so.
    let (code, output) = store_check(dir.path(), false);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("stop it, or check a copy"), "{output}");
    assert_eq!(daemon.terminate(), Some(0));

    let (code, output) = store_check(dir.path(), false);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("ok      no problems"), "{output}");
    assert!(output.contains("conversations 2, messages 4"), "{output}");

    // Damage: through sled, the daemon stopped.
    let bob_bytes = ulid_bytes(&bob);
    let ghost = [7u8; 16];
    {
        let db = sled::open(dir.path().join("data")).unwrap();
        let conversations = db.open_tree("conversations").unwrap();
        assert!(conversations.remove(bob_bytes).unwrap().is_some());
        let pointers = db.open_tree("message_conversation").unwrap();
        pointers.insert(ghost, &ulid_bytes(&ann)[..]).unwrap();
        let activity = db.open_tree("activity").unwrap();
        let ann_entry = activity
            .iter()
            .keys()
            .map(Result::unwrap)
            .find(|k| k.ends_with(&ulid_bytes(&ann)))
            .unwrap();
        activity.remove(&ann_entry).unwrap();
        db.flush().unwrap();
    }

    let (code, output) = store_check(dir.path(), false);
    assert_eq!(code, 1, "{output}");
    let found = problem_lines(&output);
    assert!(
        found.iter().any(|l| l.starts_with("problem messages ")
            && l.contains(&format!("its conversation {bob} is missing"))),
        "{output}"
    );
    let ghost_id = ulid_of(&ghost);
    assert!(
        found.iter().any(|l| l.starts_with(&format!(
            "problem message_conversation {ghost_id}: points to no message"
        ))),
        "{output}"
    );
    assert!(
        found.iter().any(|l| l.starts_with("problem activity ")
            && l.contains(&format!("conversation {ann} is missing from an inbox list"))),
        "{output}"
    );
    assert!(output.contains("`--repair`"), "{output}");

    let (code, output) = store_check(dir.path(), true);
    assert_eq!(
        code, 1,
        "a message without its conversation is left: {output}"
    );
    assert!(output.contains("[repaired: removed]"), "{output}");
    assert!(
        output.contains("[repaired: written from the conversation]"),
        "{output}"
    );
    assert!(output.contains("[not repaired"), "{output}");

    let (code, output) = store_check(dir.path(), false);
    assert_eq!(code, 1, "{output}");
    let left = problem_lines(&output);
    assert!(!left.is_empty());
    assert!(
        left.iter()
            .all(|l| l.starts_with("problem messages ") && l.contains(&bob)),
        "only the message without its conversation is left: {output}"
    );

    // The daemon runs on the repaired store and lists Ann's conversation.
    let daemon = Daemon::start(dir.path(), daemon_token(dir.path()));
    let listed: Vec<String> = daemon
        .all_conversations("")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, std::slice::from_ref(&ann));
    assert_eq!(daemon.messages(&ann).len(), 3);
}

fn daemon_token(dir: &Path) -> String {
    common::create_token(dir, "alice")
}

/// The 16 bytes of an id as the store keys it.
fn ulid_bytes(text: &str) -> [u8; 16] {
    ulid::Ulid::from_string(text).unwrap().0.to_be_bytes()
}

fn ulid_of(bytes: &[u8; 16]) -> String {
    ulid::Ulid(u128::from_be_bytes(*bytes)).to_string()
}
