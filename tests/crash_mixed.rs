//! End-to-end crash test under mixed load (issue 8, point 3): four SMTP
//! senders, four signed Messenger webhook senders and four website-chat
//! visitors run concurrently until the daemon is SIGKILLed; after a restart
//! every acknowledged Message-ID, `mid` and chat message is stored exactly
//! once, and `switchboard store check` finds nothing wrong in the store the
//! SIGKILL left.

mod common;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::chat::{self as chat, Next, Visitor};
use common::graph::{self, fb_message, fb_page, FakeGraph};
use common::mails;
use common::smtp::SmtpClient;
use common::Daemon;

const SUPPORT: &[&str] = &["support@example.com"];

type Acked = Arc<Mutex<Vec<String>>>;

/// Sends mails over one reused session (a new one after a failure) until
/// told to stop or the daemon is gone; records every Message-ID that got `250`.
fn smtp_sender(i: usize, smtp: std::net::SocketAddr, acked: Acked, stop: Arc<AtomicBool>) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = std::net::TcpStream::connect(smtp) else {
            return;
        };
        drop(stream);
        let session = catch_unwind(|| {
            let mut client = SmtpClient::connect(smtp);
            client.ehlo();
            client
        });
        let Ok(mut client) = session else { return };
        while !stop.load(Ordering::Relaxed) {
            let id = format!("mixed-{i}-{n}@x.example");
            n += 1;
            let mail = mails::simple(
                &id,
                "m@x.example",
                "support@example.com",
                &format!("mixed {i}-{n}"),
                "payload",
            );
            match catch_unwind(AssertUnwindSafe(|| {
                client.send_mail("m@x.example", SUPPORT, &mail)
            })) {
                Ok(reply) if reply.code == 250 => acked.lock().unwrap().push(id),
                Ok(reply) if reply.code == 0 => return,
                // A temporary failure or a broken session: start a new one.
                _ => break,
            }
        }
    }
}

/// Posts signed Messenger webhooks, one unique `mid` each, until told to
/// stop or the daemon is gone; records every `mid` that got `200`.
fn webhook_sender(i: usize, daemon: &Daemon, acked: Acked, stop: Arc<AtomicBool>) {
    let client = common::http();
    let url = daemon.url("/webhooks/fb-page");
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mid = format!("m-mixed-{i}-{n}");
        let body = serde_json::to_vec(&fb_page(vec![fb_message(
            &format!("psid-mixed-{i}"),
            &mid,
            "payload",
            1_700_000_000_000 + n,
        )]))
        .unwrap();
        n += 1;
        let response = client
            .post(&url)
            .header("Content-Type", "application/json")
            .header(
                "X-Hub-Signature-256",
                graph::sign(graph::FB_APP_SECRET, &body),
            )
            .body(body)
            .send();
        match response {
            Ok(r) if r.status().as_u16() == 200 => acked.lock().unwrap().push(mid),
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// `name` from the environment, else `default` (the CI figures; the long
/// run in bench/crash_loop.sh sets more rounds and longer load).
fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every acknowledged id (`external_id`, or the message id of a chat ack)
/// must be stored exactly once.
fn check_store(daemon: &Daemon, acked: &[(&str, &Vec<String>)], chats: &[String]) {
    let mut stored: HashMap<String, usize> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for message in daemon.all_messages() {
        if let Some(id) = message["external_id"].as_str() {
            *stored.entry(id.to_string()).or_default() += 1;
        }
        ids.insert(message["id"].as_str().unwrap().to_string());
    }
    let lost: Vec<&String> = chats.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged chat messages lost: {lost:?}",
        lost.len(),
        chats.len()
    );
    let duplicated: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    for (kind, acked) in acked {
        let lost: Vec<&String> = acked
            .iter()
            .filter(|id| !stored.contains_key(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged {kind} lost: {lost:?}",
            lost.len(),
            acked.len()
        );
    }
}

/// A website visitor sending messages one after another, each waiting for
/// its ack, on new sockets (a new visitor each) until told to stop or the
/// daemon is gone; records the `message_id` of every acknowledged message.
fn widget_sender(i: usize, http: std::net::SocketAddr, acked: Acked, stop: Arc<AtomicBool>) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(Ok(mut visitor)) =
            catch_unwind(|| Visitor::try_connect(http, "web", Some(chat::ORIGIN)))
        else {
            return;
        };
        visitor.send(serde_json::json!({"type": "hello"}));
        match visitor.next(Duration::from_secs(10)) {
            Next::Frame(frame) if frame["type"] == "welcome" => {}
            _ => return,
        }
        for _ in 0..50 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let client_id = format!("w-{i}-{n}");
            n += 1;
            visitor.send(
                serde_json::json!({"type": "message", "client_id": client_id, "text": "hello"}),
            );
            loop {
                match visitor.next(Duration::from_secs(10)) {
                    Next::Frame(frame)
                        if frame["type"] == "ack" && frame["client_id"] == client_id =>
                    {
                        let id = frame["message_id"].as_str().unwrap().to_string();
                        acked.lock().unwrap().push(id);
                        break;
                    }
                    Next::Frame(_) => continue,
                    _ => return,
                }
            }
        }
    }
}

#[test]
fn sigkill_under_mixed_smtp_and_webhook_load_loses_and_duplicates_nothing() {
    let rounds = env_or("CRASH_ROUNDS", 1);
    let load = Duration::from_millis(env_or("CRASH_LOAD_MS", 1500));
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeGraph::start();
    let config = chat::chat_config(
        dir.path(),
        graph::meta_config(dir.path(), &fake.base_url()),
        "messages_per_minute = 1000000",
    );
    let mut daemon = Daemon::start_with_config(dir.path(), &config);
    let token = daemon.token.clone();
    let (mails_acked, hooks_acked, chats_acked): (Acked, Acked, Acked) = Default::default();

    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let (mails_before, hooks_before, chats_before) = (
            mails_acked.lock().unwrap().len(),
            hooks_acked.lock().unwrap().len(),
            chats_acked.lock().unwrap().len(),
        );
        std::thread::scope(|scope| {
            for i in 0..4 {
                let sender = round as usize * 4 + i;
                let (acked, halt, smtp) = (mails_acked.clone(), stop.clone(), daemon.smtp);
                scope.spawn(move || smtp_sender(sender, smtp, acked, halt));
                let (acked, halt, daemon) = (hooks_acked.clone(), stop.clone(), &daemon);
                scope.spawn(move || webhook_sender(sender, daemon, acked, halt));
                let (acked, halt, http) = (chats_acked.clone(), stop.clone(), daemon.http);
                scope.spawn(move || widget_sender(sender, http, acked, halt));
            }
            std::thread::sleep(load);
            // SIGKILL mid-flow (the handle stays until the senders are done).
            common::signal(daemon.pid(), "KILL");
            stop.store(true, Ordering::Relaxed);
        });
        daemon.kill();

        let mails = mails_acked.lock().unwrap().clone();
        let hooks = hooks_acked.lock().unwrap().clone();
        let chats = chats_acked.lock().unwrap().clone();
        let (new_mails, new_hooks, new_chats) = (
            mails.len() - mails_before,
            hooks.len() - hooks_before,
            chats.len() - chats_before,
        );
        eprintln!(
            "round {}/{rounds}: acknowledged before the SIGKILL: {new_mails} mails, \
             {new_hooks} webhooks, {new_chats} chat messages",
            round + 1
        );
        assert!(
            new_mails > 20 && new_hooks > 20 && new_chats > 20,
            "the test must catch the daemon mid-flow ({new_mails} mails, {new_hooks} webhooks, \
             {new_chats} chat messages acked)"
        );
        // The store the SIGKILL left checks clean, record by record.
        let checked = std::process::Command::new(common::BIN)
            .args(["store", "check", "--config"])
            .arg(dir.path().join("config.toml"))
            .output()
            .unwrap();
        assert!(
            checked.status.success(),
            "store check after round {}: {}",
            round + 1,
            String::from_utf8_lossy(&checked.stdout)
        );
        daemon = Daemon::start(dir.path(), token.clone());
        check_store(&daemon, &[("mails", &mails), ("webhooks", &hooks)], &chats);
    }
}
