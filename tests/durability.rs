//! End-to-end: nothing acknowledged is lost. Concurrent sessions are all
//! stored; a restart keeps everything; a SIGKILL while clients send loses
//! no message that got `250`.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::mails;
use common::smtp::{deliver, SmtpClient};
use common::Daemon;

const SUPPORT: &[&str] = &["support@example.com"];

fn stored_subjects(daemon: &Daemon) -> HashSet<String> {
    daemon
        .all_conversations("")
        .iter()
        .map(|c| c["subject"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fifty_concurrent_sessions_are_all_stored() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let smtp = daemon.smtp;
    let threads: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = SmtpClient::connect(smtp);
                client.ehlo();
                for j in 0..4 {
                    let subject = format!("concurrent {i}-{j}");
                    let mail = mails::simple(
                        &format!("c{i}-{j}@x.example"),
                        &format!("u{i}@x.example"),
                        "support@example.com",
                        &subject,
                        "hi",
                    );
                    let reply = client.send_mail(&format!("u{i}@x.example"), SUPPORT, &mail);
                    assert_eq!(reply.code, 250, "{subject}: {reply:?}");
                }
                client.quit();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(stored_subjects(&daemon).len(), 200);
}

#[test]
fn a_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    for i in 0..10 {
        let mail = mails::simple(
            &format!("keep{i}@x.example"),
            "k@x.example",
            "support@example.com",
            &format!("keep {i}"),
            "body",
        );
        assert_eq!(
            deliver(daemon.smtp, "k@x.example", SUPPORT, &mail).code,
            250
        );
    }
    let before = daemon.all_conversations("");
    let token = daemon.token.clone();
    assert_eq!(daemon.terminate(), Some(0), "SIGTERM exits cleanly");

    let daemon = Daemon::start(dir.path(), token);
    let after = daemon.all_conversations("");
    assert_eq!(before, after);
    // Ids keep threading working across the restart.
    let reply = mails::reply(
        "keep-reply@x.example",
        "k@x.example",
        "Re: keep 3",
        Some("keep3@x.example"),
        &[],
    );
    assert_eq!(
        deliver(daemon.smtp, "k@x.example", SUPPORT, &reply).code,
        250
    );
    assert_eq!(daemon.all_conversations("").len(), 10);
}

#[test]
fn sigkill_while_clients_send_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let smtp = daemon.smtp;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..8)
        .map(|i| {
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(stream) = std::net::TcpStream::connect(smtp) else {
                        return;
                    };
                    drop(stream);
                    let subject = format!("crash {i}-{n}");
                    let mail = mails::simple(
                        &format!("k{i}-{n}@x.example"),
                        "c@x.example",
                        "support@example.com",
                        &subject,
                        "payload",
                    );
                    let result = std::panic::catch_unwind(|| {
                        let mut client = SmtpClient::connect(smtp);
                        client.ehlo();
                        client.send_mail("c@x.example", SUPPORT, &mail)
                    });
                    match result {
                        Ok(reply) if reply.code == 250 => {
                            acknowledged.lock().unwrap().push(subject)
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let token = daemon.token.clone();
    daemon.kill();
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        let _ = sender.join();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the test must catch the daemon mid-flow ({} acked)",
        acknowledged.len()
    );

    let daemon = Daemon::start(dir.path(), token);
    let stored = stored_subjects(&daemon);
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|s| !stored.contains(*s))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}
