//! WhatsApp Cloud API webhook events (`object: "whatsapp_business_account"`)
//! into inbound messages and delivery statuses. Only `changes[]` with
//! `field == "messages"` for this channel's `phone_number_id` are read; a
//! change for another number is skipped with a warning. Senders are phone
//! identities in E.164 (`+<wa_id>`), shared with SMS, named from
//! `value.contacts[].profile.name`. Every documented message type becomes a
//! message: text, button, interactive replies, reactions, locations, shared
//! contacts, and media (image, document, audio, video, sticker) fetched by
//! media id through the two-step Graph download.

use std::collections::HashMap;

use serde_json::Value;

use super::webhook::{inbound, millis, text_of, Batch, Received, StatusUpdate};
use crate::config::WhatsappChannel;
use crate::inbound::{Identity, InboundAttachment};
use crate::model::DeliveryState;
use crate::store::MediaSource;

/// The identity namespace of WhatsApp senders (shared with SMS).
pub const IDENTITY_KIND: &str = "phone";

const MEDIA_TYPES: [&str; 5] = ["image", "document", "audio", "video", "sticker"];

/// The messages and statuses of one POST's entries for `settings`' number.
pub fn parse(channel: &str, settings: &WhatsappChannel, entries: &[Value]) -> Batch {
    let mut batch = Batch::default();
    let changes = entries
        .iter()
        .filter_map(|entry| entry["changes"].as_array())
        .flatten();
    for change in changes {
        let field = change["field"].as_str().unwrap_or_default();
        if field != "messages" {
            tracing::debug!(%channel, field, "WhatsApp change not handled; skipped");
            continue;
        }
        let value = &change["value"];
        let number = text_of(&value["metadata"]["phone_number_id"]).unwrap_or_default();
        if number != settings.phone_number_id {
            tracing::warn!(%channel, %number, "WhatsApp change for another number; ignored");
            continue;
        }
        let names: HashMap<String, String> = value["contacts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((text_of(&c["wa_id"])?, text_of(&c["profile"]["name"])?)))
            .collect();
        for message in value["messages"].as_array().into_iter().flatten() {
            match parse_message(channel, message, &names) {
                Some(received) => batch.messages.push(received),
                None => {
                    tracing::warn!(%channel, "WhatsApp message without an id or sender; skipped")
                }
            }
        }
        for status in value["statuses"].as_array().into_iter().flatten() {
            if let Some(update) = parse_status(status) {
                batch.statuses.push(update);
            }
        }
    }
    batch
}

/// `+` and the digits of a WhatsApp id.
pub fn e164(wa_id: &str) -> Option<String> {
    let digits: String = wa_id.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("+{digits}"))
}

fn parse_message(
    channel: &str,
    message: &Value,
    names: &HashMap<String, String>,
) -> Option<Received> {
    let wamid = text_of(&message["id"])?;
    let from = text_of(&message["from"])?;
    let phone = e164(&from)?;
    let identity = Identity {
        kind: IDENTITY_KIND.into(),
        handle: phone.clone(),
    };
    let name = names.get(&from).cloned();
    let sent_at = millis(&message["timestamp"]);
    let mut inbound = inbound(channel, wamid, identity, name, Some(phone), sent_at);
    if let Some(context) = text_of(&message["context"]["id"]) {
        inbound.thread_hints.in_reply_to.push(context);
    }
    let kind = message["type"].as_str().unwrap_or("unknown");
    let mut media = Vec::new();
    let body = &message[kind];
    inbound.text = match kind {
        "text" => text_of(&body["body"]),
        "button" => {
            inbound.postback = text_of(&body["payload"]);
            text_of(&body["text"]).or_else(|| inbound.postback.clone())
        }
        "interactive" => {
            let reply_kind = body["type"].as_str().unwrap_or_default();
            let reply = &body[reply_kind];
            inbound.postback = text_of(&reply["id"]);
            let title = text_of(&reply["title"]);
            match (title, text_of(&reply["description"])) {
                (Some(title), Some(description)) => Some(format!("{title} ({description})")),
                (title, _) => title.or_else(|| text_of(&body["nfm_reply"]["body"])),
            }
        }
        "reaction" => {
            if let Some(target) = text_of(&body["message_id"]) {
                inbound.thread_hints.in_reply_to.insert(0, target);
            }
            Some(match text_of(&body["emoji"]) {
                Some(emoji) => format!("reacted {emoji} to a message"),
                None => "removed a reaction".to_string(),
            })
        }
        "location" => Some(location(body)),
        "contacts" => Some(shared_contacts(&message["contacts"])),
        "system" => text_of(&body["body"]).or_else(|| Some("[system message]".into())),
        "order" => {
            let items = body["product_items"].as_array().map_or(0, Vec::len);
            Some(format!("[order] {items} item(s)"))
        }
        _ if MEDIA_TYPES.contains(&kind) => match text_of(&body["id"]) {
            Some(id) => {
                media.push((0, MediaSource::ProviderMedia { id }));
                inbound.attachments.push(InboundAttachment {
                    name: text_of(&body["filename"]),
                    content_type: text_of(&body["mime_type"])
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    bytes: Vec::new(),
                });
                text_of(&body["caption"])
            }
            None => Some(format!("[{kind} without a media id]")),
        },
        _ => {
            let error = message["errors"][0]["title"]
                .as_str()
                .map(|t| format!(": {t}"))
                .unwrap_or_default();
            Some(format!("[unsupported message{error}]"))
        }
    };
    inbound.raw = serde_json::to_vec(message).ok();
    Some(Received { inbound, media })
}

fn location(body: &Value) -> String {
    let place: Vec<String> = [text_of(&body["name"]), text_of(&body["address"])]
        .into_iter()
        .flatten()
        .collect();
    let mut text = String::from("[location]");
    if !place.is_empty() {
        text.push(' ');
        text.push_str(&place.join(", "));
    }
    if let (Some(lat), Some(long)) = (body["latitude"].as_f64(), body["longitude"].as_f64()) {
        text.push_str(&format!(" ({lat}, {long})"));
    }
    if let Some(url) = text_of(&body["url"]) {
        text.push(' ');
        text.push_str(&url);
    }
    text
}

fn shared_contacts(contacts: &Value) -> String {
    let lines: Vec<String> = contacts
        .as_array()
        .into_iter()
        .flatten()
        .map(|contact| {
            let name = text_of(&contact["name"]["formatted_name"]).unwrap_or_default();
            let phones: Vec<String> = contact["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| text_of(&p["phone"]))
                .collect();
            format!("[contact] {name} {}", phones.join(", "))
                .trim_end()
                .to_string()
        })
        .collect();
    if lines.is_empty() {
        "[contact]".into()
    } else {
        lines.join("\n")
    }
}

fn parse_status(status: &Value) -> Option<StatusUpdate> {
    let provider_id = text_of(&status["id"])?;
    let state = match status["status"].as_str()? {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        _ => return None,
    };
    let reason = (state == DeliveryState::Failed).then(|| {
        let error = &status["errors"][0];
        let title = text_of(&error["title"])
            .or_else(|| text_of(&error["message"]))
            .unwrap_or_else(|| "failed".into());
        match text_of(&error["code"]) {
            Some(code) => format!("{title} ({code})"),
            None => title,
        }
    });
    Some(StatusUpdate::Provider {
        provider_id,
        state,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GraphApi, Secret};
    use serde_json::json;

    fn settings() -> WhatsappChannel {
        WhatsappChannel {
            phone_number_id: "106540352242922".into(),
            app_secret: Secret::new("s"),
            verify_token: Secret::new("v"),
            access_token: Secret::new("t"),
            instant_reply: None,
            graph: GraphApi {
                base_url: "http://graph.test".into(),
                version: "v21.0".into(),
            },
            allow_private_targets: false,
        }
    }

    fn change(number: &str, value: Value) -> Value {
        let mut value = value;
        value["metadata"] =
            json!({"display_phone_number": "15550783881", "phone_number_id": number});
        json!({"id": "WABA", "changes": [{"field": "messages", "value": value}]})
    }

    fn message(id: &str, kind: &str, body: Value) -> Value {
        json!({"from": "16505551234", "id": id, "timestamp": "1739321024", "type": kind, kind: body})
    }

    #[test]
    fn messages_of_every_type_and_statuses() {
        let entries = vec![
            change(
                "106540352242922",
                json!({
                    "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                    "messages": [
                        message("w.text", "text", json!({"body": "hi"})),
                        message("w.img", "image", json!({"id": "M1", "mime_type": "image/jpeg", "caption": "look"})),
                        message("w.doc", "document", json!({"id": "M2", "mime_type": "application/pdf", "filename": "a.pdf"})),
                        message("w.btn", "interactive", json!({"type": "button_reply", "button_reply": {"id": "B1", "title": "Yes"}})),
                        message("w.react", "reaction", json!({"message_id": "w.text", "emoji": "👍"})),
                        message("w.loc", "location", json!({"latitude": 1.5, "longitude": 2.5, "name": "HQ"})),
                        message("w.odd", "unsupported", json!({})),
                    ]
                }),
            ),
            change(
                "999",
                json!({"messages": [message("w.other", "text", json!({"body": "x"}))]}),
            ),
            change(
                "106540352242922",
                json!({"statuses": [
                    {"id": "w.out", "status": "read", "timestamp": "1750857384"},
                    {"id": "w.out2", "status": "failed", "errors": [{"code": 131047, "title": "Re-engagement message"}]},
                    {"id": "w.out3", "status": "deleted"}
                ]}),
            ),
        ];
        let batch = parse("wa", &settings(), &entries);
        let texts: Vec<_> = batch
            .messages
            .iter()
            .map(|r| r.inbound.text.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            texts,
            [
                "hi",
                "look",
                "",
                "Yes",
                "reacted 👍 to a message",
                "[location] HQ (1.5, 2.5)",
                "[unsupported message]"
            ]
        );
        let first = &batch.messages[0].inbound;
        assert_eq!(first.sender.identity.kind, "phone");
        assert_eq!(first.sender.identity.handle, "+16505551234");
        assert_eq!(first.sender.phone.as_deref(), Some("+16505551234"));
        assert_eq!(first.sender.name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(first.sent_at, Some(1_739_321_024_000));
        assert_eq!(first.external_id.as_deref(), Some("w.text"));
        let doc = &batch.messages[2];
        assert_eq!(doc.inbound.attachments[0].name.as_deref(), Some("a.pdf"));
        assert_eq!(doc.inbound.attachments[0].content_type, "application/pdf");
        assert_eq!(
            doc.media,
            [(0, MediaSource::ProviderMedia { id: "M2".into() })]
        );
        assert_eq!(batch.messages[3].inbound.postback.as_deref(), Some("B1"));
        assert_eq!(
            batch.messages[4].inbound.thread_hints.in_reply_to,
            ["w.text"]
        );
        assert_eq!(
            batch.statuses,
            [
                StatusUpdate::Provider {
                    provider_id: "w.out".into(),
                    state: DeliveryState::Read,
                    reason: None
                },
                StatusUpdate::Provider {
                    provider_id: "w.out2".into(),
                    state: DeliveryState::Failed,
                    reason: Some("Re-engagement message (131047)".into())
                },
            ]
        );
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(e164("16505551234").as_deref(), Some("+16505551234"));
        assert_eq!(e164("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(e164("abc"), None);
    }
}
