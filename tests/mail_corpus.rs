//! End-to-end: every mail of the odd-mail corpus (`tests/mail_corpus/`) is
//! delivered over SMTP to one daemon, and what it stored (subject, sender,
//! first line of text) or the 5xx it answered is compared by
//! `tests/mail_corpus/compare.py` with what Python's `email` package finds
//! in the same bytes. The rules are in `tests/mail_corpus/README.md`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::smtp::{Reply, SmtpClient};
use common::Daemon;
use serde_json::{json, Value};

/// The envelope reverse path of every corpus mail; no corpus header names it.
const ENVELOPE_FROM: &str = "relay@mx.example";
const SUPPORT: &str = "support@example.com";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail_corpus")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "mail corpus too small: {files:?}");
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// The corpus rules the SMTP receiver depends on: CRLF only, no NUL, lines
/// of at most 998 bytes, and a CRLF at the end.
fn check_wire_form(name: &str, raw: &[u8]) {
    assert!(raw.ends_with(b"\r\n"), "{name}: must end with CRLF");
    assert!(!raw.contains(&0), "{name}: NUL byte");
    let lines: Vec<&[u8]> = raw.split(|&b| b == b'\n').collect();
    for (number, line) in lines[..lines.len() - 1].iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or_else(|| {
            panic!("{name}: bare LF ending line {}", number + 1);
        });
        assert!(
            !line.contains(&b'\r'),
            "{name}: bare CR in line {}",
            number + 1
        );
        assert!(line.len() <= 998, "{name}: line {} too long", number + 1);
    }
}

/// Dot-stuffs a CRLF message (bytes, any charset) for DATA and adds the end
/// marker.
fn dot_stuff_bytes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let body = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// One transaction with raw bytes as the message; the reply to the end of
/// DATA, or the first failing reply before it.
fn deliver_bytes(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut client = SmtpClient::connect(addr);
    client.ehlo();
    for command in [
        format!("MAIL FROM:<{ENVELOPE_FROM}>"),
        format!("RCPT TO:<{SUPPORT}>"),
    ] {
        let reply = client.command(&command);
        if reply.code != 250 {
            return reply;
        }
    }
    let reply = client.command("DATA");
    if reply.code != 354 {
        return reply;
    }
    client.send_raw(&dot_stuff_bytes(raw));
    let reply = client.reply().unwrap_or(Reply {
        code: 0,
        text: "connection closed".into(),
    });
    client.quit();
    reply
}

/// The stored message id from `2.0.0 Ok: queued as ID`.
fn queued_id(reply: &Reply) -> Option<String> {
    reply
        .text
        .split_once("queued as ")
        .map(|(_, id)| id.trim().to_string())
}

#[test]
fn odd_mail_is_stored_as_python_reads_it_or_refused_with_a_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let corpus = corpus();
    let mut replies = Vec::new();
    for (name, raw) in &corpus {
        check_wire_form(name, raw);
        let reply = deliver_bytes(daemon.smtp, raw);
        replies.push((name.clone(), reply));
    }

    let stored = daemon.all_messages();
    let results: Vec<Value> = replies
        .iter()
        .map(|(name, reply)| {
            let message = (reply.code == 250)
                .then(|| queued_id(reply))
                .flatten()
                .and_then(|id| stored.iter().find(|m| m["id"] == id.as_str()));
            if reply.code == 250 {
                assert!(message.is_some(), "{name}: {reply:?} but no such message");
            }
            let field = |key: &str| message.map_or(Value::Null, |m| m[key].clone());
            json!({
                "file": name,
                "code": reply.code,
                "reply": reply.text,
                "subject": field("subject"),
                "from": field("from"),
                "text": field("text"),
                "envelope_from": ENVELOPE_FROM,
            })
        })
        .collect();
    let results_path = dir.path().join("mail_corpus_results.json");
    std::fs::write(&results_path, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
    // To look at what the daemon stored: MAIL_CORPUS_RESULTS=/tmp/results.json
    if let Some(copy) = std::env::var_os("MAIL_CORPUS_RESULTS") {
        std::fs::copy(&results_path, copy).unwrap();
    }

    let output = Command::new("python3")
        .arg(corpus_dir().join("compare.py"))
        .arg(&results_path)
        .arg(corpus_dir())
        .output()
        .unwrap_or_else(|e| panic!("python3 (needed for the mail corpus check): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.lines().any(|l| l.starts_with("mail corpus: ")),
        "compare.py gave no summary"
    );
    assert!(
        output.status.success(),
        "the daemon and Python's email package disagree (the MISMATCH lines above)"
    );
}
