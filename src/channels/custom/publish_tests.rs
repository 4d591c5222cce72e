//! Tests of published messages: the `Inbound` they make, and a field-named
//! error for each kind of bad input.

use super::*;
use serde_json::json;

fn parse(body: Value) -> Result<Inbound, ApiError> {
    let publish: Publish = serde_json::from_value(body).expect("the shape parses");
    to_inbound("tg", publish)
}

fn field_of(error: ApiError) -> (u16, String) {
    match error {
        ApiError::BadParameter { field, .. } => (400, field),
        ApiError::TooLarge { field, .. } => (413, field),
        other => panic!("unexpected {other:?}"),
    }
}

fn minimal() -> Value {
    json!({"idempotency_key": "k1", "sender": {"id": "u1"}, "text": "hello"})
}

#[test]
fn a_full_message_becomes_an_inbound() {
    let inbound = parse(json!({
        "idempotency_key": " update-1 ",
        "sender": {"id": "42", "name": "Sam Jones", "email": "Sam@Example.COM", "phone": "+1 (555) 010-0000"},
        "thread_id": "chat-7",
        "text": "hello",
        "html": "<p>hello</p>",
        "attachments": [{"name": "a.txt", "content_type": "Text/Plain", "data_base64": "aGk="}],
        "timestamp": "2024-05-01T10:00:00Z",
    }))
    .unwrap();
    assert_eq!(inbound.channel, "tg");
    assert_eq!(inbound.external_id.as_deref(), Some("update-1"));
    assert_eq!(inbound.sender.identity.kind, "custom:tg");
    assert_eq!(inbound.sender.identity.handle, "42");
    assert_eq!(inbound.sender.name.as_deref(), Some("Sam Jones"));
    assert_eq!(inbound.sender.email.as_deref(), Some("sam@example.com"));
    assert_eq!(inbound.thread_hints.thread.as_deref(), Some("chat-7"));
    assert!(!inbound.thread_hints.continue_open);
    assert_eq!(inbound.html.as_deref(), Some("<p>hello</p>"));
    assert_eq!(inbound.attachments[0].bytes, b"hi");
    assert_eq!(inbound.attachments[0].content_type, "text/plain");
    assert_eq!(inbound.sent_at, Some(1_714_557_600_000));
}

#[test]
fn without_a_thread_the_senders_open_conversation_continues() {
    let inbound = parse(minimal()).unwrap();
    assert!(inbound.thread_hints.continue_open);
    assert_eq!(inbound.thread_hints.thread, None);
    assert_eq!(inbound.sent_at, None);
}

#[test]
fn timestamps_are_rfc3339_or_unix_seconds() {
    let mut body = minimal();
    body["timestamp"] = json!(1_700_000_000);
    assert_eq!(
        parse(body.clone()).unwrap().sent_at,
        Some(1_700_000_000_000)
    );
    body["timestamp"] = json!(1_700_000_000.5);
    assert_eq!(
        parse(body.clone()).unwrap().sent_at,
        Some(1_700_000_000_500)
    );
    for bad in [json!("yesterday"), json!(-5), json!(true), json!(1e15)] {
        body["timestamp"] = bad.clone();
        assert_eq!(
            field_of(parse(body.clone()).unwrap_err()),
            (400, "timestamp".into()),
            "{bad}"
        );
    }
}

#[test]
fn bad_fields_are_named() {
    let cases = [
        (
            json!({"idempotency_key": "  ", "sender": {"id": "u"}, "text": "x"}),
            "idempotency_key",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": ""}, "text": "x"}),
            "sender.id",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "a\u{0}b"}, "text": "x"}),
            "sender.id",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u", "email": "nope"}, "text": "x"}),
            "sender.email",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u", "phone": "call me"}, "text": "x"}),
            "sender.phone",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "thread_id": "", "text": "x"}),
            "thread_id",
        ),
        (
            json!({"idempotency_key": "k", "sender": {"id": "u"}, "text": " "}),
            "text",
        ),
        (
            json!({"idempotency_key": "k".repeat(257), "sender": {"id": "u"}, "text": "x"}),
            "idempotency_key",
        ),
    ];
    for (body, field) in cases {
        assert_eq!(
            field_of(parse(body.clone()).unwrap_err()),
            (400, field.to_string()),
            "{body}"
        );
    }
}

#[test]
fn attachments_are_base64_and_capped() {
    let with = |attachment: Value| {
        let mut body = minimal();
        body["attachments"] = json!([attachment]);
        parse(body)
    };
    let refused = |attachment: Value| field_of(with(attachment).unwrap_err());
    assert_eq!(
        refused(json!({"content_type": "image/png", "url": "https://x.example/a.png"})),
        (400, "attachments[0].url".into())
    );
    assert_eq!(
        refused(json!({"content_type": "image/png", "url": "https://x", "data_base64": "aGk="})),
        (400, "attachments[0]".into())
    );
    assert_eq!(
        refused(json!({"content_type": "image/png"})),
        (400, "attachments[0].data_base64".into())
    );
    assert_eq!(
        refused(json!({"content_type": "image/png", "data_base64": "not base64!"})),
        (400, "attachments[0].data_base64".into())
    );
    assert_eq!(
        refused(json!({"content_type": "png", "data_base64": "aGk="})),
        (400, "attachments[0].content_type".into())
    );
    let big = base64::engine::general_purpose::STANDARD.encode(vec![1u8; MAX_ATTACHMENT_BYTES + 1]);
    assert_eq!(
        refused(json!({"content_type": "application/octet-stream", "data_base64": big})),
        (413, "attachments[0].data_base64".into())
    );
    // Unpadded and line-wrapped base64 are both taken.
    let ok = with(json!({"content_type": "text/plain", "data_base64": "aGVs\nbG8"})).unwrap();
    assert_eq!(ok.attachments[0].bytes, b"hello");
    // Attachments alone need no text.
    let mut body = json!({"idempotency_key": "k", "sender": {"id": "u"}});
    body["attachments"] = json!([{"content_type": "text/plain", "data_base64": "aGk="}]);
    assert!(parse(body).unwrap().text.is_none());
    let mut body = minimal();
    body["attachments"] = json!(vec![
        json!({"content_type": "text/plain", "data_base64": "aGk="});
        MAX_ATTACHMENTS + 1
    ]);
    assert_eq!(
        field_of(parse(body).unwrap_err()),
        (400, "attachments".into())
    );
}

#[test]
fn oversized_text_is_too_large() {
    let mut body = minimal();
    body["text"] = json!("x".repeat(MAX_TEXT_BYTES + 1));
    assert_eq!(field_of(parse(body).unwrap_err()), (413, "text".into()));
}
