//! End-to-end: the example Telegram bridge (examples/telegram_bridge.py)
//! between a fake Telegram Bot API and the real daemon. A Telegram update
//! with a document reaches an inbox; an agent's reply reaches `sendMessage`
//! and comes back `delivered`. Keeps the documented example honest; skipped
//! where `python3` is not installed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::webhook_receiver::{Answer, WebhookReceiver};
use common::{eventually, Daemon};
use serde_json::{json, Value};

const INBOUND_TOKEN: &str = "telegram-inbound-token-0123456789";
const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const BOT_TOKEN: &str = "123456:TEST-bot-token";
const TELEGRAM_SECRET: &str = "telegram-secret-token";

struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn json_answer(body: Value) -> Answer {
    Answer::status(200)
        .with_header("Content-Type", "application/json")
        .with_body(&body.to_string())
}

#[test]
fn the_example_bridge_carries_messages_both_ways() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let telegram = WebhookReceiver::start();
    let get_file = || {
        json_answer(
            json!({"ok": true, "result": {"file_id": "doc-1", "file_path": "documents/file_0.txt"}}),
        )
    };
    let file = || Answer::status(200).with_body("hello file");
    telegram.script([get_file(), file()]);
    let bridge_port = free_port();
    std::fs::write(dir.path().join("tg-token"), INBOUND_TOKEN).unwrap();
    std::fs::write(dir.path().join("tg-secret"), SECRET).unwrap();
    let mut config = common::test_config(1024 * 1024);
    config.push_str(&format!(
        r#"
[[channels]]
id = "telegram"
inbox = "support"
kind = "custom"
inbound_token_file = "tg-token"
webhook_url = "http://127.0.0.1:{bridge_port}/switchboard"
webhook_secret_file = "tg-secret"
allow_private_targets = true
capabilities = {{ max_text_length = 4096 }}
"#
    ));
    let daemon = Daemon::start_with_config(dir.path(), &config);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/telegram_bridge.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["--listen", &format!("127.0.0.1:{bridge_port}")])
        .args(["--switchboard-url", &format!("http://{}", daemon.http)])
        .args(["--channel", "telegram"])
        .args(["--telegram-api", &format!("http://{}", telegram.addr)])
        .env("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
        .env("TELEGRAM_SECRET_TOKEN", TELEGRAM_SECRET)
        .env("SWITCHBOARD_INBOUND_TOKEN", INBOUND_TOKEN)
        .env("SWITCHBOARD_WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("bridge.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let _bridge = Bridge(child);
    assert!(ready.contains("listening"), "bridge: {ready:?}");
    let bridge_log = || std::fs::read_to_string(dir.path().join("bridge.log")).unwrap_or_default();

    // Telegram posts an update (PROTOCOLS.md 5.2) with a document.
    let update = json!({
        "update_id": 2342342343242u64,
        "message": {
            "message_id": 1,
            "from": {"id": 23, "is_bot": false, "first_name": "Sojan", "last_name": "Jose"},
            "chat": {"id": 23, "first_name": "Sojan", "type": "private"},
            "date": 1631132077,
            "caption": "my invoice",
            "document": {"file_id": "doc-1", "file_unique_id": "u1", "file_name": "invoice.txt",
                         "mime_type": "text/plain", "file_size": 10}
        }
    });
    let post_update = |secret: &str| {
        common::http()
            .post(format!("http://127.0.0.1:{bridge_port}/telegram"))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&update)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post_update("wrong"), 401);
    assert_eq!(post_update(TELEGRAM_SECRET), 200, "{}", bridge_log());
    let conversations = daemon.all_conversations("");
    assert_eq!(conversations.len(), 1, "{}", bridge_log());
    let conversation = conversations[0]["id"].as_str().unwrap().to_string();
    assert_eq!(conversations[0]["contact"]["name"], "Sojan Jose");
    let messages = daemon.messages(&conversation);
    assert_eq!(messages[0]["text"], "my invoice");
    assert_eq!(messages[0]["external_id"], "tg-update-2342342343242");
    assert_eq!(messages[0]["attachments"][0]["name"], "invoice.txt");
    assert_eq!(messages[0]["attachments"][0]["size"], 10);
    let fetches = telegram.received();
    assert_eq!(fetches[0].path, format!("/bot{BOT_TOKEN}/getFile"));
    assert_eq!(
        fetches[1].path,
        format!("/file/bot{BOT_TOKEN}/documents/file_0.txt")
    );
    // Telegram retries the update: still one message.
    telegram.script([get_file(), file()]);
    assert_eq!(post_update(TELEGRAM_SECRET), 200);
    assert_eq!(daemon.messages(&conversation).len(), 1);

    // The agent answers; the bridge verifies, calls sendMessage, reports.
    telegram.script([json_answer(
        json!({"ok": true, "result": {"message_id": 501, "chat": {"id": 23}}}),
    )]);
    let reply = daemon.reply(&conversation, json!({"text": "Thanks, got it!"}));
    let reply_id = reply["id"].as_str().unwrap();
    let sends = telegram.wait_for(5);
    assert_eq!(sends[4].path, format!("/bot{BOT_TOKEN}/sendMessage"));
    assert_eq!(
        sends[4].json(),
        json!({"chat_id": "23", "text": "Thanks, got it!"})
    );
    let delivered = eventually(
        "the bridge's delivery report",
        Duration::from_secs(30),
        || {
            let message = daemon.message(&conversation, reply_id);
            // The report may land before the webhook's answer is recorded:
            // both end up on the message.
            if message["status"]["state"] == "delivered"
                && message["status"]["provider_id"] == "501"
            {
                Ok(message)
            } else {
                Err(format!("{} / {}", message["status"], bridge_log()))
            }
        },
    );
    assert_eq!(delivered["status"]["attempts"], 1);
}
