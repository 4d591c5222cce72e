//! End-to-end: a full disk never costs a message (issue 28). The store
//! lives on a small filesystem of its own (a 64 MiB tmpfs the test mounts
//! when it runs as root, as CI does; otherwise the `fault-injection`
//! switch `FREE_BYTES` says how much is free). Mail over SMTP and signed
//! Messenger webhooks are sent until the daemon refuses:
//!
//! - the first refusals are the reserve's (`452 4.3.1` at MAIL FROM, `503`
//!   with `Retry-After`), never an I/O error (`451`) or a lost message;
//! - reads keep working, `/healthz` says `degraded: storage`, `/metrics`
//!   counts the refusals and the free bytes, the log names the folder;
//! - the daemon restarts while the disk is full to the last byte (the
//!   emergency space is released so the store opens) and serves the inbox;
//! - once space returns it accepts again by itself, and every acknowledged
//!   message is there, after another restart too.
//!
//! Built with the test-only feature (scripts/test runs it with the fault
//! tests).
#![cfg(feature = "fault-injection")]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::chat::{self, Next, Visitor};
use common::graph::{self, fb_message, fb_page, FakeGraph};
use common::smtp::SmtpClient;
use common::{eventually, Daemon};
use serde_json::Value;

const SUPPORT: &[&str] = &["support@example.com"];
const MIB: u64 = 1024 * 1024;

/// The filesystem the store is on: a real small one, or the simulated
/// free space of the fault switch.
enum Disk {
    Tmpfs { mount: PathBuf },
    Simulated { storage: PathBuf },
}

impl Disk {
    /// Mounts a 64 MiB tmpfs at `dir/mnt` when allowed, else simulates.
    fn new(dir: &Path) -> Disk {
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        // DISK_FULL_SIMULATED=1 runs the simulated path as root too.
        let simulate = std::env::var_os("DISK_FULL_SIMULATED").is_some();
        let mounted = !simulate
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
                .arg(&mount)
                .output()
                .is_ok_and(|out| out.status.success());
        if mounted {
            Disk::Tmpfs { mount }
        } else {
            eprintln!("cannot mount a tmpfs here: simulating the free space");
            Disk::Simulated {
                storage: mount.join("data"),
            }
        }
    }

    fn storage(&self) -> PathBuf {
        match self {
            Disk::Tmpfs { mount } => mount.join("data"),
            Disk::Simulated { storage } => storage.clone(),
        }
    }

    /// Something else (logs, a backup) takes every byte left.
    fn fill_to_the_last_byte(&self) {
        match self {
            Disk::Tmpfs { mount } => {
                let mut filler = std::fs::File::create(mount.join("filler")).unwrap();
                let chunk = vec![7u8; 64 * 1024];
                while filler.write_all(&chunk).is_ok() {}
                while filler.write_all(&[7u8]).is_ok() {}
                let _ = filler.sync_all();
                let free = fs_free(mount);
                assert!(free < 64 * 1024, "the tmpfs is full: {free} bytes free");
            }
            Disk::Simulated { storage } => std::fs::write(storage.join("FREE_BYTES"), "0").unwrap(),
        }
    }

    /// Something else takes space until 3 MiB are left: the store frees
    /// and takes a MiB or two as it writes, and the checks that follow
    /// must all see the disk below its 8 MiB reserve.
    fn hold_below_reserve(&self) {
        match self {
            Disk::Tmpfs { mount } => {
                let take = fs_free(mount).saturating_sub(3 * MIB);
                let mut pressure = std::fs::File::create(mount.join("pressure")).unwrap();
                let chunk = vec![7u8; 64 * 1024];
                let mut written = 0;
                while written < take {
                    let n = chunk.len().min((take - written) as usize);
                    pressure.write_all(&chunk[..n]).unwrap();
                    written += n as u64;
                }
            }
            Disk::Simulated { storage } => {
                std::fs::write(storage.join("FREE_BYTES"), (3 * MIB).to_string()).unwrap()
            }
        }
    }

    /// The simulation of a disk approaching its reserve as messages come
    /// in (a real filesystem fills by itself).
    fn note_written(&self, messages: usize) {
        if let Disk::Simulated { storage } = self {
            let free = (40 * MIB).saturating_sub(messages as u64 * 256 * 1024);
            std::fs::write(storage.join("FREE_BYTES"), free.to_string()).unwrap();
        }
    }

    /// The admin frees the space again (and grows the filesystem).
    fn free_space(&self) {
        match self {
            Disk::Tmpfs { mount } => {
                std::fs::remove_file(mount.join("filler")).unwrap();
                std::fs::remove_file(mount.join("pressure")).unwrap();
                let grown = Command::new("mount")
                    .args(["-o", "remount,size=300m"])
                    .arg(mount)
                    .status()
                    .unwrap();
                assert!(grown.success());
            }
            Disk::Simulated { storage } => {
                std::fs::write(storage.join("FREE_BYTES"), (300 * MIB).to_string()).unwrap()
            }
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Disk::Tmpfs { mount } = self {
            let _ = Command::new("umount").arg("-l").arg(&*mount).status();
        }
    }
}

fn fs_free(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A ~100 KB mail.
fn big_mail(i: usize) -> String {
    let line = "All work and no play makes a full disk; keep every message.\r\n";
    common::mails::simple(
        &format!("full-{i}@x.example"),
        &format!("sender{i}@x.example"),
        "support@example.com",
        &format!("mail {i}"),
        &line.repeat(100_000 / line.len()),
    )
}

fn hook(i: usize) -> Value {
    fb_page(vec![fb_message(
        &format!("psid-full-{i}"),
        &format!("m-full-{i}"),
        &format!("webhook message {i} {}", "x".repeat(2000)),
        1_700_000_000_000 + i as u64,
    )])
}

/// POSTs a signed webhook; returns the status and the `Retry-After` header.
fn post_hook(daemon: &Daemon, body: &Value) -> (u16, Option<String>) {
    let bytes = serde_json::to_vec(body).unwrap();
    let response = common::http()
        .post(daemon.url("/webhooks/fb-page"))
        .header("Content-Type", "application/json")
        .header(
            "X-Hub-Signature-256",
            graph::sign(graph::FB_APP_SECRET, &bytes),
        )
        .body(bytes)
        .send()
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), retry_after)
}

fn stored_external_ids(daemon: &Daemon) -> Vec<String> {
    daemon
        .all_messages()
        .iter()
        .filter_map(|m| m["external_id"].as_str().map(str::to_string))
        .collect()
}

fn assert_all_present(daemon: &Daemon, acknowledged: &[String], when: &str) {
    let stored = stored_external_ids(daemon);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{when}: {} of {} acknowledged messages missing: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
}

fn metric(daemon: &Daemon, line_start: &str) -> f64 {
    let text = common::http()
        .get(daemon.url("/metrics"))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_full_disk_is_refused_early_survives_restarts_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Disk::new(dir.path());
    let storage = disk.storage();
    std::fs::create_dir_all(&storage).unwrap();
    disk.note_written(0);
    let fake = FakeGraph::start();
    let base = graph::meta_config(dir.path(), &fake.base_url());
    let config = chat::chat_config(dir.path(), base, "messages_per_minute = 100000").replacen(
        "path = \"data\"",
        &format!("path = \"{}\"\nmin_free_mib = 8", storage.display()),
        1,
    );
    let daemon = Daemon::start_with_config(dir.path(), &config);
    let emergency = storage.join("EMERGENCY_SPACE");
    eventually(
        "the emergency space is set aside",
        Duration::from_secs(10),
        || emergency.exists().then_some(()).ok_or("not yet".into()),
    );

    // A website visitor says hello while there is room.
    let mut visitor = Visitor::connect(daemon.http, "web");
    visitor.hello(None);
    visitor.say("before", "there is room");

    // Fill the disk with mail and webhooks until the daemon refuses both.
    let mut acknowledged = Vec::new();
    let mut smtp_refusal = None;
    let mut hook_refusal = None;
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    for i in 0..2_000 {
        disk.note_written(acknowledged.len());
        if smtp_refusal.is_none() {
            let reply = client.send_mail("sender@x.example", SUPPORT, &big_mail(i));
            match reply.code {
                250 => acknowledged.push(format!("full-{i}@x.example")),
                _ => smtp_refusal = Some(reply),
            }
        }
        if hook_refusal.is_none() {
            match post_hook(&daemon, &hook(i)) {
                (200, _) => acknowledged.push(format!("m-full-{i}")),
                refused => hook_refusal = Some(refused),
            }
        }
        if smtp_refusal.is_some() && hook_refusal.is_some() {
            break;
        }
    }
    let smtp_refusal = smtp_refusal.expect("SMTP refused before 2,000 mails");
    assert_eq!(smtp_refusal.code, 452, "{smtp_refusal:?}");
    assert!(smtp_refusal.text.starts_with("4.3.1 "), "{smtp_refusal:?}");
    let (status, retry_after) = hook_refusal.expect("webhooks refused");
    assert_eq!(status, 503);
    assert_eq!(retry_after.as_deref(), Some("60"));
    assert!(
        acknowledged.len() > 20,
        "{} acknowledged",
        acknowledged.len()
    );
    eprintln!(
        "{} messages acknowledged before the reserve",
        acknowledged.len()
    );
    disk.hold_below_reserve();
    // MAIL FROM itself is refused now, and the session stays usable.
    let reply = client.command("MAIL FROM:<late@x.example>");
    assert_eq!(reply.code, 452, "{reply:?}");
    assert_eq!(client.command("NOOP").code, 250);
    client.quit();
    // So is a webhook, before its body is read.
    assert_eq!(post_hook(&daemon, &hook(5_000)), (503, Some("60".into())));

    // The visitor is told to wait, and the widget will send it again.
    visitor
        .send(serde_json::json!({"type": "message", "client_id": "while-full", "text": "full?"}));
    let frame = loop {
        match visitor.next(Duration::from_secs(10)) {
            Next::Frame(frame) if frame["type"] == "error" => break frame,
            Next::Frame(frame) => assert_ne!(frame["type"], "ack", "{frame}"),
            other => panic!("no error frame: {other:?}"),
        }
    };
    assert_eq!(frame["code"], "unavailable", "{frame}");
    assert_eq!(frame["client_id"], "while-full");
    assert_eq!(frame["retry_after_ms"], 60_000);
    assert!(
        frame["message"].as_str().unwrap().contains("again"),
        "{frame}"
    );
    visitor.close();

    // Reads work; writes are refused; the state is visible.
    assert_all_present(&daemon, &acknowledged, "below the reserve");
    let (status, health) = daemon.get("/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["degraded"][0], "storage");
    assert!(health["storage"]["free_bytes"].as_u64().unwrap() < 8 * MIB);
    let conversation = daemon.all_conversations("")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = daemon.post(
        &format!("/api/v1/conversations/{conversation}/messages"),
        &serde_json::json!({"text": "an answer"}),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "insufficient_storage");
    assert!(metric(&daemon, "switchboard_storage_refusals_total{door=\"smtp\"}") >= 1.0);
    assert!(metric(&daemon, "switchboard_storage_refusals_total{door=\"http\"}") >= 2.0);
    assert!(metric(&daemon, "switchboard_storage_free_bytes") < (8 * MIB) as f64);
    assert_eq!(
        metric(&daemon, "switchboard_storage_min_free_bytes"),
        (8 * MIB) as f64
    );
    let log = daemon.log();
    assert!(
        log.contains("below its free-space reserve") && log.contains(&*storage.to_string_lossy()),
        "the warning names the folder"
    );
    assert!(!log.contains("could not store mail"), "no write failed");

    // Something else takes the last byte; the daemon is killed and
    // started again on the full disk.
    disk.fill_to_the_last_byte();
    let token = daemon.token.clone();
    daemon.kill();
    let daemon = Daemon::start(dir.path(), token.clone());
    assert!(!emergency.exists(), "released at start");
    assert!(daemon.log().contains("released the emergency space"));
    assert_all_present(&daemon, &acknowledged, "started on a full disk");
    assert_eq!(daemon.get("/healthz").1["status"], "degraded");
    let reply = common::smtp::deliver(daemon.smtp, "a@x.example", SUPPORT, &big_mail(9_000));
    assert_eq!(reply.code, 452, "{reply:?}");
    assert_eq!(post_hook(&daemon, &hook(9_000)).0, 503);
    // A clean stop on the full disk, and a start again: still readable.
    let _ = daemon.terminate();
    let daemon = Daemon::start(dir.path(), token.clone());
    assert_all_present(&daemon, &acknowledged, "restarted on a full disk");

    // Space returns: accepting resumes without a restart.
    disk.free_space();
    eventually("healthy again", Duration::from_secs(10), || {
        match daemon.get("/healthz").1["status"].as_str() {
            Some("ok") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let reply = common::smtp::deliver(daemon.smtp, "a@x.example", SUPPORT, &big_mail(9_000));
    assert_eq!(reply.code, 250, "{reply:?}");
    acknowledged.push("full-9000@x.example".into());
    assert_eq!(post_hook(&daemon, &hook(9_000)).0, 200);
    acknowledged.push("m-full-9000".into());
    let mut visitor = Visitor::connect(daemon.http, "web");
    visitor.hello(None);
    let ack = visitor.say("while-full", "full?");
    assert!(ack["message_id"].is_string(), "{ack}");
    visitor.close();
    eventually(
        "the emergency space is back",
        Duration::from_secs(10),
        || emergency.exists().then_some(()).ok_or("not yet".into()),
    );
    daemon.kill();
    let daemon = Daemon::start(dir.path(), token);
    assert_all_present(&daemon, &acknowledged, "after space returned");
    let stored = stored_external_ids(&daemon);
    for id in &acknowledged {
        assert_eq!(stored.iter().filter(|s| *s == id).count(), 1, "{id} once");
    }
    let _ = daemon.terminate();
}
