//! Messenger webhook events (`object: "page"`) into inbound messages and
//! delivery statuses. Every `entry[]` and every item of its `messaging[]`
//! and `standby[]` is read; each item is one event, told apart by its key:
//! `message` (text, quick reply, attachments), `postback`, `delivery` and
//! `read` watermarks. Echoes of the Page's own messages (`is_echo`) are
//! never ingested. Items this adapter does not handle (referrals,
//! opt-ins, handover) are skipped with a debug line; an item missing what it
//! needs (a `mid`, a sender) is skipped with a warning, never failing the
//! batch.

use serde_json::Value;

use super::webhook::{inbound, millis, text_of, Batch, Received, StatusUpdate};
use crate::config::MessengerChannel;
use crate::inbound::{Identity, InboundAttachment};
use crate::model::DeliveryState;
use crate::store::MediaSource;

/// The identity namespace of Messenger senders; handles are
/// `"<page_id>:<psid>"` (PSIDs are page-scoped).
pub const IDENTITY_KIND: &str = "messenger";

/// Attachment types whose `payload.url` is the file itself.
const MEDIA_TYPES: [&str; 6] = ["image", "video", "audio", "file", "reel", "ig_reel"];

/// The events of one POST's entries for the Page of `settings`.
pub fn parse(channel: &str, settings: &MessengerChannel, entries: &[Value]) -> Batch {
    let mut batch = Batch::default();
    for entry in entries {
        if let Some(page) = text_of(&entry["id"]) {
            if page != settings.page_id {
                tracing::warn!(%channel, %page, "Messenger entry for another page; ignored");
                continue;
            }
        }
        let items = ["messaging", "standby"]
            .into_iter()
            .filter_map(|key| entry[key].as_array())
            .flatten();
        for item in items {
            parse_event(channel, &settings.page_id, item, &mut batch);
        }
    }
    batch
}

fn parse_event(channel: &str, page_id: &str, item: &Value, batch: &mut Batch) {
    let sender = text_of(&item["sender"]["id"]).or_else(|| {
        text_of(&item["sender"]["user_ref"]).map(|user_ref| format!("user_ref:{user_ref}"))
    });
    if is_true(&item["message"]["is_echo"]) {
        tracing::debug!(%channel, "Messenger echo of the Page's own message; skipped");
        return;
    }
    let Some(psid) = sender else {
        tracing::warn!(%channel, "Messenger event without a sender; skipped");
        return;
    };
    let handle = format!("{page_id}:{psid}");
    let sent_at = millis(&item["timestamp"]);
    if let Some(message) = item.get("message") {
        match message_event(channel, &handle, sent_at, message) {
            Some(mut received) => {
                received.inbound.raw = serde_json::to_vec(item).ok();
                batch.messages.push(received);
            }
            None => tracing::warn!(%channel, "Messenger message without a mid; skipped"),
        }
    } else if let Some(postback) = item.get("postback") {
        let mut received = postback_event(channel, &handle, &psid, sent_at, item, postback);
        received.inbound.raw = serde_json::to_vec(item).ok();
        batch.messages.push(received);
    } else if let Some(reaction) = item.get("reaction") {
        let mut received = reaction_event(channel, &handle, &psid, sent_at, item, reaction);
        received.inbound.raw = serde_json::to_vec(item).ok();
        batch.messages.push(received);
    } else if let Some(delivery) = item.get("delivery") {
        for mid in delivery["mids"].as_array().into_iter().flatten() {
            if let Some(provider_id) = text_of(mid) {
                batch.statuses.push(StatusUpdate::Provider {
                    provider_id,
                    state: DeliveryState::Delivered,
                    reason: None,
                });
            }
        }
        push_watermark(
            batch,
            handle,
            DeliveryState::Delivered,
            &delivery["watermark"],
        );
    } else if let Some(read) = item.get("read") {
        push_watermark(batch, handle, DeliveryState::Read, &read["watermark"]);
    } else {
        let kind = item
            .as_object()
            .and_then(|o| {
                o.keys()
                    .find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp"))
            })
            .cloned()
            .unwrap_or_default();
        tracing::debug!(%channel, %kind, "Messenger event not handled; skipped");
    }
}

fn push_watermark(batch: &mut Batch, handle: String, state: DeliveryState, watermark: &Value) {
    if let Some(watermark) = millis(watermark) {
        batch.statuses.push(StatusUpdate::Watermark {
            identity_kind: IDENTITY_KIND,
            handle,
            state,
            watermark,
        });
    }
}

fn identity(handle: &str) -> Identity {
    Identity {
        kind: IDENTITY_KIND.into(),
        handle: handle.to_string(),
    }
}

/// A `message` event: text, quick reply, attachments, reply-to.
fn message_event(
    channel: &str,
    handle: &str,
    sent_at: Option<i64>,
    message: &Value,
) -> Option<Received> {
    let mid = text_of(&message["mid"])?;
    let mut inbound = inbound(channel, mid, identity(handle), None, None, sent_at);
    let mut lines: Vec<String> = message["text"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(String::from)
        .into_iter()
        .collect();
    inbound.postback = text_of(&message["quick_reply"]["payload"]);
    let mut media = Vec::new();
    for attachment in message["attachments"].as_array().into_iter().flatten() {
        match describe_attachment(attachment) {
            Attachment::Media { pending, url } => {
                media.push((inbound.attachments.len() as u32, MediaSource::Url { url }));
                inbound.attachments.push(pending);
            }
            Attachment::Line(line) => lines.push(line),
        }
    }
    if lines.is_empty() {
        if let Some(payload) = &inbound.postback {
            lines.push(payload.clone());
        }
    }
    inbound.text = (!lines.is_empty()).then(|| lines.join("\n"));
    if let Some(reply_to) = text_of(&message["reply_to"]["mid"]) {
        inbound.thread_hints.in_reply_to.push(reply_to);
    }
    Some(Received { inbound, media })
}

/// A `postback` event (a button, Get Started, the persistent menu): the
/// button's title is the text, its payload goes to automations. Postbacks
/// without a `mid` get a stable id from the sender, time and payload, so a
/// provider retry still dedupes.
fn postback_event(
    channel: &str,
    handle: &str,
    psid: &str,
    sent_at: Option<i64>,
    item: &Value,
    postback: &Value,
) -> Received {
    let payload = text_of(&postback["payload"]);
    let external_id = text_of(&postback["mid"]).unwrap_or_else(|| {
        format!(
            "postback:{psid}:{}:{}",
            text_of(&item["timestamp"]).unwrap_or_default(),
            payload.as_deref().unwrap_or_default()
        )
    });
    let mut inbound = inbound(channel, external_id, identity(handle), None, None, sent_at);
    inbound.text = text_of(&postback["title"]).or_else(|| payload.clone());
    inbound.postback = payload;
    Received {
        inbound,
        media: Vec::new(),
    }
}

/// A `reaction` event (an emoji on a message, or its removal): a short line
/// in the timeline, linked to the message it reacts to. Reactions carry no
/// id of their own, so one is made from the sender, time and target.
fn reaction_event(
    channel: &str,
    handle: &str,
    psid: &str,
    sent_at: Option<i64>,
    item: &Value,
    reaction: &Value,
) -> Received {
    let target = text_of(&reaction["mid"]);
    let emoji = text_of(&reaction["emoji"])
        .or_else(|| text_of(&reaction["reaction"]))
        .unwrap_or_default();
    let removed = text_of(&reaction["action"]).as_deref() == Some("unreact");
    let external_id = format!(
        "reaction:{psid}:{}:{}:{}",
        text_of(&item["timestamp"]).unwrap_or_default(),
        target.as_deref().unwrap_or_default(),
        if removed { "unreact" } else { "react" }
    );
    let mut inbound = inbound(channel, external_id, identity(handle), None, None, sent_at);
    inbound.text = Some(if removed {
        format!("removed the reaction {emoji} from a message")
    } else {
        format!("reacted {emoji} to a message")
    });
    if let Some(target) = target {
        inbound.thread_hints.in_reply_to = vec![target];
    }
    Received {
        inbound,
        media: Vec::new(),
    }
}

enum Attachment {
    /// A file to download; stored now with size 0.
    Media {
        pending: InboundAttachment,
        url: String,
    },
    /// Something that is not a file (a shared link, a template, a
    /// location): a line of the message's text.
    Line(String),
}

fn describe_attachment(attachment: &Value) -> Attachment {
    let kind = attachment["type"].as_str().unwrap_or("attachment");
    let payload = &attachment["payload"];
    let url = text_of(&payload["url"]);
    let title = text_of(&attachment["title"]).or_else(|| text_of(&payload["title"]));
    if let (true, Some(url)) = (MEDIA_TYPES.contains(&kind), &url) {
        return Attachment::Media {
            pending: InboundAttachment {
                name: file_name(url),
                content_type: guessed_type(kind).to_string(),
                bytes: Vec::new(),
            },
            url: url.clone(),
        };
    }
    let line = match kind {
        "location" => {
            let place = title.map(|t| format!("{t} ")).unwrap_or_default();
            let coordinates = &payload["coordinates"];
            match (coordinates["lat"].as_f64(), coordinates["long"].as_f64()) {
                (Some(lat), Some(long)) => format!("[location] {place}({lat}, {long})"),
                _ => format!("[location] {place}").trim_end().to_string(),
            }
        }
        "fallback" => format!("[link] {}", join_some(&[title, url])),
        _ => format!("[{kind}] {}", join_some(&[title, url])),
    };
    Attachment::Line(line.trim_end().to_string())
}

fn join_some(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The file name at the end of a URL's path, if it has an extension.
fn file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    (last.contains('.') && last.len() <= 200 && !path.ends_with("//")).then(|| last.to_string())
}

/// The content type shown until the download tells the real one.
fn guessed_type(kind: &str) -> &'static str {
    match kind {
        "image" => "image/jpeg",
        "video" | "reel" | "ig_reel" => "video/mp4",
        "audio" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

fn is_true(value: &Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Consent, GraphApi, Secret};
    use serde_json::json;

    fn settings() -> MessengerChannel {
        MessengerChannel {
            page_id: "1001".into(),
            app_id: "2002".into(),
            app_secret: Secret::new("s"),
            verify_token: Secret::new("v"),
            page_token: Secret::new("t"),
            greeting: None,
            instant_reply: None,
            consent: Consent::None,
            consent_text: None,
            human_agent_tag: false,
            graph: GraphApi {
                base_url: "http://graph.test".into(),
                version: "v21.0".into(),
            },
            allow_private_targets: false,
        }
    }

    #[test]
    fn reactions_become_short_lines_linked_to_their_message() {
        let entries = json!([{"id": "1001", "time": 1, "messaging": [
            {"sender": {"id": "U1"}, "recipient": {"id": "1001"}, "timestamp": 1700000000000u64,
             "reaction": {"mid": "m.9", "action": "react", "emoji": "👍", "reaction": "like"}},
            {"sender": {"id": "U1"}, "recipient": {"id": "1001"}, "timestamp": 1700000001000u64,
             "reaction": {"mid": "m.9", "action": "unreact", "emoji": "👍"}}
        ]}]);
        let batch = parse("fb", &settings(), entries.as_array().unwrap());
        let texts: Vec<_> = batch
            .messages
            .iter()
            .map(|m| m.inbound.text.clone().unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "reacted 👍 to a message",
                "removed the reaction 👍 from a message"
            ]
        );
        assert_eq!(batch.messages[0].inbound.thread_hints.in_reply_to, ["m.9"]);
        assert_ne!(
            batch.messages[0].inbound.external_id,
            batch.messages[1].inbound.external_id
        );
    }

    #[test]
    fn every_entry_and_event_kind_is_read() {
        let entries = json!([
            {"id": "1001", "time": 1, "messaging": [
                {"sender": {"id": "U1"}, "recipient": {"id": "1001"}, "timestamp": 1458692752478u64,
                 "message": {"mid": "m.1", "text": "hello", "quick_reply": {"payload": "YES"},
                             "reply_to": {"mid": "m.0"}}},
                {"sender": {"id": "1001"}, "recipient": {"id": "U1"}, "timestamp": 1458692752479u64,
                 "message": {"mid": "m.echo", "is_echo": true, "app_id": 2002, "text": "ours"}},
                {"sender": {"id": "U1"}, "recipient": {"id": "1001"}, "timestamp": "1527459824",
                 "postback": {"title": "Get Started", "payload": "START"}},
                {"sender": {"id": "U1"}, "recipient": {"id": "1001"},
                 "delivery": {"mids": ["m.out"], "watermark": 1458668856253u64}},
                {"sender": {"id": "U1"}, "recipient": {"id": "1001"},
                 "read": {"watermark": 1458668856999u64}}
            ]},
            {"id": "1001", "standby": [
                {"sender": {"id": "U2"}, "timestamp": 1458692752480u64,
                 "message": {"mid": "m.2", "attachments": [
                    {"type": "image", "payload": {"url": "https://cdn.test/v/123_n.jpg?sig=x"}},
                    {"type": "fallback", "title": "A page", "payload": {"url": "https://ex.test"}},
                    {"type": "location", "payload": {"coordinates": {"lat": 1.5, "long": 2.0}}}
                 ]}}
            ]},
            {"id": "9999", "messaging": [{"sender": {"id": "U3"}, "message": {"mid": "m.x"}}]}
        ]);
        let batch = parse("fb", &settings(), entries.as_array().unwrap());
        let ids: Vec<_> = batch
            .messages
            .iter()
            .map(|r| r.inbound.external_id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["m.1", "postback:U1:1527459824:START", "m.2"]);
        let first = &batch.messages[0].inbound;
        assert_eq!(first.sender.identity.handle, "1001:U1");
        assert_eq!(first.sender.identity.kind, "messenger");
        assert_eq!(first.sender.name, None);
        assert_eq!(first.text.as_deref(), Some("hello"));
        assert_eq!(first.postback.as_deref(), Some("YES"));
        assert_eq!(first.sent_at, Some(1458692752478));
        assert_eq!(first.thread_hints.in_reply_to, ["m.0"]);
        assert!(first.thread_hints.continue_open);
        let postback = &batch.messages[1].inbound;
        assert_eq!(postback.text.as_deref(), Some("Get Started"));
        assert_eq!(postback.sent_at, Some(1527459824000), "a string in seconds");
        let media = &batch.messages[2];
        assert_eq!(media.inbound.attachments.len(), 1);
        assert_eq!(
            media.inbound.attachments[0].name.as_deref(),
            Some("123_n.jpg")
        );
        assert_eq!(
            media.media,
            [(
                0,
                MediaSource::Url {
                    url: "https://cdn.test/v/123_n.jpg?sig=x".into()
                }
            )]
        );
        assert_eq!(
            media.inbound.text.as_deref(),
            Some("[link] A page https://ex.test\n[location] (1.5, 2)")
        );
        assert_eq!(
            batch.statuses,
            [
                StatusUpdate::Provider {
                    provider_id: "m.out".into(),
                    state: DeliveryState::Delivered,
                    reason: None
                },
                StatusUpdate::Watermark {
                    identity_kind: "messenger",
                    handle: "1001:U1".into(),
                    state: DeliveryState::Delivered,
                    watermark: 1458668856253
                },
                StatusUpdate::Watermark {
                    identity_kind: "messenger",
                    handle: "1001:U1".into(),
                    state: DeliveryState::Read,
                    watermark: 1458668856999
                },
            ]
        );
    }
}
