//! End-to-end: the store always reopens (issue 28). A healthy store gets
//! what a full disk or a crash leaves behind in sled 0.34: an empty
//! `snap.*.generating` file (the unfinished snapshot sled would pick as its
//! newest and fail on with "Read corrupted data"), then a snapshot cut
//! short. Each time the daemon starts, keeps every message, says in its log
//! what it moved aside, and the moved file is kept under `recovered/`.

mod common;

use std::path::{Path, PathBuf};

use common::{mails, Daemon};

const SUPPORT: &[&str] = &["support@example.com"];

fn snapshots(storage: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(storage)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snap."))
        })
        .collect();
    found.sort();
    found
}

fn recovered(storage: &Path) -> Vec<String> {
    let folder = storage.join("recovered");
    let Ok(stamps) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut names: Vec<String> = stamps
        .flat_map(|stamp| std::fs::read_dir(stamp.unwrap().path()).unwrap())
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn subjects(daemon: &Daemon) -> Vec<String> {
    let mut subjects: Vec<String> = daemon
        .all_messages()
        .iter()
        .filter_map(|m| m["subject"].as_str().map(str::to_string))
        .collect();
    subjects.sort();
    subjects
}

fn deliver(daemon: &Daemon, i: usize) {
    let mail = mails::simple(
        &format!("keep-{i}@x.example"),
        &format!("c{i}@x.example"),
        "support@example.com",
        &format!("keep {i}"),
        "a message that must survive",
    );
    let reply = common::smtp::deliver(daemon.smtp, "c@x.example", SUPPORT, &mail);
    assert_eq!(reply.code, 250, "{reply:?}");
}

#[test]
fn unreadable_snapshots_are_moved_aside_and_every_message_kept() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("data");
    let daemon = Daemon::start_fresh(dir.path());
    for i in 0..5 {
        deliver(&daemon, i);
    }
    let expected: Vec<String> = (0..5).map(|i| format!("keep {i}")).collect();
    assert_eq!(subjects(&daemon), expected);
    let token = daemon.token.clone();
    assert_eq!(daemon.terminate(), Some(0));

    // What an interrupted snapshot write leaves: an empty file that sorts
    // after every real snapshot.
    let planted = "snap.7FFFFFFFFFFFFFFF.generating";
    std::fs::write(storage.join(planted), b"").unwrap();
    let daemon = Daemon::start(dir.path(), token.clone());
    assert_eq!(
        subjects(&daemon),
        expected,
        "every message after the planted file"
    );
    let log = daemon.log();
    assert!(
        log.contains("moved an unreadable snapshot aside") && log.contains(planted),
        "the log says what was moved"
    );
    assert_eq!(recovered(&storage), [planted]);
    assert!(!storage.join(planted).exists());
    deliver(&daemon, 5);
    assert_eq!(daemon.terminate(), Some(0));

    // A complete snapshot cut short (a torn write): moved aside too, and
    // the store opens from its log.
    let newest = snapshots(&storage)
        .pop()
        .expect("sled wrote a snapshot on the clean stop");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let daemon = Daemon::start(dir.path(), token.clone());
    let mut expected = expected;
    expected.push("keep 5".into());
    assert_eq!(
        subjects(&daemon),
        expected,
        "every message after a torn snapshot"
    );
    let torn = newest.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        recovered(&storage).contains(&torn),
        "{:?}",
        recovered(&storage)
    );
    assert!(daemon.log().contains("snapshot checksum does not match"));

    // And it keeps working: a new message survives a SIGKILL.
    deliver(&daemon, 6);
    daemon.kill();
    let daemon = Daemon::start(dir.path(), token);
    expected.push("keep 6".into());
    assert_eq!(subjects(&daemon), expected);
}
