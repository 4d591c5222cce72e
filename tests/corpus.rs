//! The fuzz seed corpus (`tests/corpus/`) replayed through the real parsers
//! on every test run: each email through `parse` and `to_inbound`, each
//! Messenger and WhatsApp payload through `webhook::parse_payload` (the
//! envelope and the provider's event parser). Every input must give a result
//! or a clear error, never a panic (invariant 4). Inputs too big to commit
//! (a 1,000-part message, a 1 MiB header, 10,000-item arrays, very deep
//! nesting) are generated here.
//!
//! A fuzzer that finds a crash adds the input to the corpus, so the case
//! stays covered here.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use switchboard::channels::email::parse::{self, ParseError};
use switchboard::channels::meta::webhook;
use switchboard::channels::{chat, custom, sms};
use switchboard::config::{self, Channel, ChannelKind, Workspace};

/// The test workspace with an email, a Messenger and a WhatsApp channel.
fn workspace() -> Workspace {
    let dir = tempfile::tempdir().unwrap();
    let text = common::graph::meta_config(dir.path(), "http://127.0.0.1:9");
    config::parse(&text, dir.path()).unwrap().workspace
}

fn corpus(folder: &str, extension: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus {folder} is too small: {files:?}");
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// What one input gave: `Ok(summary)` for a result, `Err(message)` for a
/// clean error. A panic is caught and reported as a failure by the caller.
type Outcome = Result<String, String>;

/// Runs every input through `replay`, and fails listing each input that
/// panicked; returns the outcomes by name.
fn replay_all(
    inputs: &[(String, Vec<u8>)],
    replay: impl Fn(&[u8]) -> Outcome,
) -> Vec<(String, Outcome)> {
    let mut outcomes = Vec::new();
    let mut panics = Vec::new();
    for (name, bytes) in inputs {
        match catch_unwind(AssertUnwindSafe(|| replay(bytes))) {
            Ok(outcome) => {
                eprintln!("{name}: {outcome:?}");
                if let Err(message) = &outcome {
                    assert!(!message.trim().is_empty(), "{name}: empty error message");
                }
                outcomes.push((name.clone(), outcome));
            }
            Err(_) => panics.push(name.clone()),
        }
    }
    assert!(panics.is_empty(), "inputs that panicked: {panics:?}");
    outcomes
}

fn outcome_of<'a>(outcomes: &'a [(String, Outcome)], name: &str) -> &'a Outcome {
    &outcomes
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no corpus input {name}"))
        .1
}

/// One raw mail as the SMTP receiver handles it.
fn replay_email(workspace: &Workspace, raw: &[u8]) -> Outcome {
    let channel = workspace.channel("support-email").expect("support-email");
    let ChannelKind::Email(email) = &channel.kind else {
        panic!("support-email is not an email channel");
    };
    match parse::parse(raw, false) {
        Ok(parsed) => {
            let parsed = parsed.with_envelope_sender(Some("carol@customer.example"));
            let inbound = parsed.to_inbound(
                channel,
                email,
                workspace,
                vec!["support@example.com".to_string()],
                raw,
            );
            assert_eq!(inbound.channel, "support-email");
            assert!(!inbound.sender.identity.handle.is_empty());
            Ok(format!(
                "text {} bytes, {} attachments",
                inbound.text.as_deref().map_or(0, str::len),
                inbound.attachments.len()
            ))
        }
        // The parser's own panic guard fired: a crash all the same.
        Err(ParseError::Panicked) => panic!("the MIME parser panicked"),
        Err(error) => Err(error.to_string()),
    }
}

/// One webhook body as a verified POST to `channel` is handled.
fn replay_webhook(channel: &Channel, body: &[u8]) -> Outcome {
    match webhook::parse_payload(channel, body) {
        Ok(Some(batch)) => {
            for received in &batch.messages {
                assert_eq!(received.inbound.channel, channel.id);
                assert!(received
                    .inbound
                    .external_id
                    .as_deref()
                    .is_some_and(|id| !id.is_empty()));
            }
            Ok(format!(
                "{} messages, {} statuses",
                batch.messages.len(),
                batch.statuses.len()
            ))
        }
        Ok(None) => Ok("ignored: another object".to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// Messages of `n` parts, one `text/plain` each.
fn many_parts(n: usize) -> Vec<u8> {
    let mut mail = String::from(
        "From: carol@customer.example\r\nTo: support@example.com\r\n\
         Message-ID: <parts@customer.example>\r\nSubject: many parts\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"P\"\r\n\r\n",
    );
    for i in 0..n {
        mail.push_str(&format!(
            "--P\r\nContent-Type: text/plain; name=\"part{i}.txt\"\r\n\
             Content-Disposition: attachment; filename=\"part{i}.txt\"\r\n\r\npart {i}\r\n"
        ));
    }
    mail.push_str("--P--\r\n");
    mail.into_bytes()
}

/// A multipart nested `depth` levels deep.
fn deep_multipart(depth: usize) -> Vec<u8> {
    let mut mail =
        String::from("From: carol@customer.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n");
    for level in 0..depth {
        mail.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"L{level}\"\r\n\r\n--L{level}\r\n"
        ));
    }
    mail.push_str("Content-Type: text/plain\r\n\r\ninnermost\r\n");
    for level in (0..depth).rev() {
        mail.push_str(&format!("--L{level}--\r\n"));
    }
    mail.into_bytes()
}

#[test]
fn email_corpus_gives_a_result_or_a_clear_error() {
    let workspace = workspace();
    let mut inputs = corpus("email", "eml");
    inputs.push(("generated: 1,000 parts".into(), many_parts(1000)));
    let subject: String = (0..100_000).map(|i| format!("w{i} ")).collect();
    let folded = subject
        .as_bytes()
        .chunks(76)
        .collect::<Vec<_>>()
        .join(&b"\r\n "[..]);
    let mut giant = b"From: carol@customer.example\r\nSubject: ".to_vec();
    giant.extend_from_slice(&folded);
    giant.extend_from_slice(b"\r\n\r\nbody\r\n");
    assert!(giant.len() > 600_000);
    inputs.push(("generated: giant header".into(), giant));
    inputs.push(("generated: 400 levels deep".into(), deep_multipart(400)));
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    inputs.push(("generated: noise".into(), noise));

    let outcomes = replay_all(&inputs, |raw| replay_email(&workspace, raw));
    assert!(outcome_of(&outcomes, "empty.eml").is_err());
    assert!(outcome_of(&outcomes, "only_whitespace.eml").is_err());
    for readable in [
        "giant_headers.eml",
        "invalid_utf8.eml",
        "truncated_multipart.eml",
        "deep_nesting_multipart.eml",
        "eight_bit_garbage.eml",
        "bad_base64.eml",
    ] {
        assert!(
            outcome_of(&outcomes, readable).is_ok(),
            "{readable} should still be read as a mail"
        );
    }
    let parts = outcome_of(&outcomes, "generated: 1,000 parts");
    assert!(
        parts
            .as_ref()
            .is_ok_and(|s| s.ends_with("1000 attachments")),
        "{parts:?}"
    );
}

#[test]
fn messenger_corpus_gives_a_result_or_a_clear_error() {
    let workspace = workspace();
    let channel = workspace.channel("fb-page").expect("fb-page").clone();
    let mut inputs = corpus("webhooks/messenger", "json");
    let events: Vec<String> = (0..10_000)
        .map(|i| {
            format!(r#"{{"sender":{{"id":"P{i}"}},"timestamp":1458692752478,"message":{{"mid":"m_{i}","text":"t"}}}}"#)
        })
        .collect();
    let huge = format!(
        r#"{{"object":"page","entry":[{{"id":"1001","messaging":[{}]}}]}}"#,
        events.join(",")
    );
    inputs.push(("generated: 10,000 events".into(), huge.into_bytes()));
    let deep = format!(r#"{{"object":"page","entry":{}}}"#, "[".repeat(100_000));
    inputs.push(("generated: 100,000 levels deep".into(), deep.into_bytes()));

    let outcomes = replay_all(&inputs, |body| replay_webhook(&channel, body));
    let expect = |name: &str, want: Outcome| assert_eq!(outcome_of(&outcomes, name), &want);
    expect("valid_text.json", Ok("1 messages, 0 statuses".into()));
    expect("huge_array.json", Ok("100 messages, 0 statuses".into()));
    expect("other_object.json", Ok("ignored: another object".into()));
    expect("other_page.json", Ok("0 messages, 0 statuses".into()));
    expect(
        "generated: 10,000 events",
        Ok("10000 messages, 0 statuses".into()),
    );
    for refused in [
        "empty.json",
        "truncated.json",
        "deep_nesting.json",
        "invalid_utf8.json",
        "null.json",
        "entry_wrong_type.json",
        "generated: 100,000 levels deep",
    ] {
        let outcome = outcome_of(&outcomes, refused);
        assert!(
            outcome
                .as_ref()
                .is_err_and(|e| e.starts_with("the body is not a Meta webhook payload")),
            "{refused}: {outcome:?}"
        );
    }
}

#[test]
fn whatsapp_corpus_gives_a_result_or_a_clear_error() {
    let workspace = workspace();
    let channel = workspace.channel("wa-number").expect("wa-number").clone();
    let mut inputs = corpus("webhooks/whatsapp", "json");
    let messages: Vec<String> = (0..10_000)
        .map(|i| {
            format!(r#"{{"from":"1650555{i:04}","id":"wamid.g{i}","timestamp":"1739321024","type":"text","text":{{"body":"t"}}}}"#)
        })
        .collect();
    let huge = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"106540352242922"}},"messages":[{}]}}}}]}}]}}"#,
        messages.join(",")
    );
    inputs.push(("generated: 10,000 messages".into(), huge.into_bytes()));

    let outcomes = replay_all(&inputs, |body| replay_webhook(&channel, body));
    let expect = |name: &str, want: Outcome| assert_eq!(outcome_of(&outcomes, name), &want);
    expect("valid_text.json", Ok("1 messages, 0 statuses".into()));
    expect("huge_array.json", Ok("100 messages, 0 statuses".into()));
    expect("other_number.json", Ok("0 messages, 0 statuses".into()));
    expect(
        "generated: 10,000 messages",
        Ok("10000 messages, 0 statuses".into()),
    );
    for refused in [
        "empty.json",
        "truncated.json",
        "deep_nesting.json",
        "invalid_utf8.json",
        "just_a_string.json",
    ] {
        let outcome = outcome_of(&outcomes, refused);
        assert!(outcome.is_err(), "{refused}: {outcome:?}");
    }
}

/// One SMS webhook body (form-encoded) as a verified POST is read: as an
/// inbound message, and as a status callback.
fn replay_sms(body: &[u8]) -> Outcome {
    let params = sms::webhook::form_params(body);
    let status = match sms::webhook::parse_status(&params) {
        Ok(Some(status)) => format!("status {:?}", status.state),
        Ok(None) => "status: nothing".to_string(),
        Err(error) => format!("status: {error}"),
    };
    match sms::webhook::parse_inbound("sms", &params) {
        Ok(message) => {
            let inbound = &message.received.inbound;
            assert!(inbound
                .external_id
                .as_deref()
                .is_some_and(|id| !id.is_empty()));
            assert!(inbound.sender.identity.handle.starts_with('+'));
            assert!(message.received.media.len() <= inbound.attachments.len());
            Ok(format!(
                "message, {} media, keyword {:?}; {status}",
                message.received.media.len(),
                message.keyword
            ))
        }
        Err(error) => Err(format!("{error}; {status}")),
    }
}

#[test]
fn sms_corpus_gives_a_result_or_a_clear_error() {
    let mut inputs = corpus("webhooks/sms", "form");
    let many: String = (0..10_000)
        .map(|i| format!("MediaUrl{i}=http%3A%2F%2F127.0.0.1%3A9%2F{i}&"))
        .collect();
    inputs.push((
        "generated: 10,000 media".into(),
        format!("{many}MessageSid=SMg&From=%2B15551234567&NumMedia=10000").into_bytes(),
    ));
    inputs.push((
        "generated: 1 MiB body".into(),
        format!(
            "MessageSid=SMb&From=%2B15551234567&Body={}",
            "a".repeat(1 << 20)
        )
        .into_bytes(),
    ));
    let outcomes = replay_all(&inputs, replay_sms);
    let ok = |name: &str| {
        let outcome = outcome_of(&outcomes, name);
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
        outcome.clone().unwrap()
    };
    assert!(ok("valid_text.form").starts_with("message, 0 media"));
    assert!(ok("mms_two_media.form").starts_with("message, 2 media"));
    assert!(ok("stop_keyword.form").contains("Some("));
    assert!(ok("whatsapp_prefix.form").starts_with("message"));
    // A provider's absurd media count is capped, not trusted.
    assert!(ok("generated: 10,000 media").starts_with("message"));
    ok("generated: 1 MiB body");
    for refused in [
        "empty.form",
        "missing_sid.form",
        "missing_from.form",
        "from_not_a_number.form",
        "truncated.form",
        "broken_percent_escapes.form",
        "only_separators.form",
        "binary_noise.form",
    ] {
        let outcome = outcome_of(&outcomes, refused);
        assert!(outcome.is_err(), "{refused}: {outcome:?}");
    }
    let status = outcome_of(&outcomes, "status_delivered.form");
    assert!(
        format!("{status:?}").contains("status Delivered"),
        "{status:?}"
    );
}

/// One custom-channel publish body as `POST /api/v1/channels/{id}/messages`
/// reads it.
fn replay_custom(body: &[u8]) -> Outcome {
    let publish: custom::publish::Publish =
        serde_json::from_slice(body).map_err(|e| format!("not a publish body: {e}"))?;
    match custom::publish::to_inbound("bridge", publish) {
        Ok(inbound) => {
            assert_eq!(inbound.channel, "bridge");
            assert!(!inbound.sender.identity.handle.is_empty());
            Ok(format!(
                "message, {} attachments",
                inbound.attachments.len()
            ))
        }
        Err(error) => Err(error.to_string()),
    }
}

#[test]
fn custom_channel_corpus_gives_a_result_or_a_clear_error() {
    let mut inputs = corpus("webhooks/custom", "json");
    let deep = format!(
        r#"{{"idempotency_key":"d","sender":{{"id":"1"}},"text":"x","timestamp":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    inputs.push(("generated: 10,000 levels deep".into(), deep.into_bytes()));
    let many: Vec<String> = (0..1000)
        .map(|i| format!(r#"{{"content_type":"text/plain","data_base64":"aGk{i}"}}"#))
        .collect();
    inputs.push((
        "generated: 1,000 attachments".into(),
        format!(
            r#"{{"idempotency_key":"a","sender":{{"id":"1"}},"attachments":[{}]}}"#,
            many.join(",")
        )
        .into_bytes(),
    ));
    let outcomes = replay_all(&inputs, replay_custom);
    let expect = |name: &str, want: &str| {
        assert_eq!(outcome_of(&outcomes, name), &Ok(want.to_string()), "{name}")
    };
    expect("valid.json", "message, 0 attachments");
    expect("attachment_only.json", "message, 1 attachments");
    for refused in [
        "bad_base64.json",
        "url_attachment.json",
        "unknown_field.json",
        "bad_email.json",
        "bad_phone.json",
        "blank_key.json",
        "control_char_id.json",
        "bad_timestamp.json",
        "empty_text.json",
        "truncated.json",
        "not_an_object.json",
        "null.json",
        "empty.json",
        "invalid_utf8.json",
        "lone_surrogate.json",
        "generated: 10,000 levels deep",
        "generated: 1,000 attachments",
    ] {
        let outcome = outcome_of(&outcomes, refused);
        assert!(outcome.is_err(), "{refused}: {outcome:?}");
    }
}

/// One visitor socket frame as the chat session reads it; a refusal must
/// render as a JSON `error` frame.
fn replay_chat(bytes: &[u8]) -> Outcome {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    match chat::protocol::parse(text) {
        Ok(frame) => Ok(format!("{frame:?}")),
        Err(error) => {
            let frame: serde_json::Value =
                serde_json::from_str(&chat::protocol::error(&error, None)).unwrap();
            assert_eq!(frame["type"], "error");
            assert_eq!(frame["code"], error.code);
            Err(format!("{}: {}", error.code, error.message))
        }
    }
}

#[test]
fn chat_frame_corpus_gives_a_frame_or_an_error_frame() {
    let mut inputs = corpus("chat", "json");
    inputs.push((
        "generated: 1 MiB text".into(),
        format!(
            r#"{{"type":"message","client_id":"big","text":"{}"}}"#,
            "a".repeat(1 << 20)
        )
        .into_bytes(),
    ));
    inputs.push((
        "generated: 10,000 levels deep".into(),
        format!(
            r#"{{"type":"hello","visitor_token":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        )
        .into_bytes(),
    ));
    let outcomes = replay_all(&inputs, replay_chat);
    for accepted in [
        "hello.json",
        "hello_forged_token.json",
        "message.json",
        "consent.json",
        "email.json",
        "seen.json",
        "typing.json",
        "ping.json",
        "generated: 1 MiB text",
    ] {
        let outcome = outcome_of(&outcomes, accepted);
        assert!(outcome.is_ok(), "{accepted}: {outcome:?}");
    }
    assert!(outcome_of(&outcomes, "unknown_type.json")
        .as_ref()
        .is_err_and(|e| e.starts_with("unknown_type")));
    for refused in [
        "message_without_text.json",
        "client_id_not_string.json",
        "consent_wrong_type.json",
        "no_type.json",
        "array.json",
        "truncated.json",
        "empty.json",
        "null_type.json",
        "lone_surrogate.json",
        "generated: 10,000 levels deep",
    ] {
        let outcome = outcome_of(&outcomes, refused);
        assert!(
            outcome.as_ref().is_err_and(|e| e.starts_with("malformed")),
            "{refused}: {outcome:?}"
        );
    }
}

#[test]
fn corpus_stays_small() {
    fn size(path: &Path) -> u64 {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
                .unwrap()
                .map(|entry| size(&entry.unwrap().path()))
                .sum(),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        }
    }
    let total = size(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"));
    assert!(total < 200 * 1024, "tests/corpus is {total} bytes");
}
