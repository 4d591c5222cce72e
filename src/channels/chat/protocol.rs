//! The visitor protocol, sans IO: JSON text frames, each an object with a
//! `type` (docs/chat-protocol.md). `parse` turns a frame from the widget
//! into a `ClientFrame` or a clear error; the functions below render what
//! the server sends.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::rfc3339;
use crate::model::{Author, Direction, Message};

/// The longest `client_id` a widget may choose.
pub const MAX_CLIENT_ID: usize = 64;

/// A frame from the widget.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame on every socket.
    Hello {
        #[serde(default)]
        visitor_token: Option<String>,
        #[serde(default)]
        user_email: Option<String>,
        #[serde(default)]
        user_hash: Option<String>,
    },
    /// The visitor ticked "I agree" (explicit consent).
    Consent {
        accepted: bool,
    },
    Message {
        client_id: String,
        text: String,
    },
    /// An address to answer by email.
    Email {
        address: String,
    },
    /// The widget showed an agent's message.
    Seen {
        message_id: String,
    },
    /// The visitor is typing (accepted, not relayed yet).
    Typing {
        #[serde(default)]
        on: Option<bool>,
    },
    Ping,
}

/// Why a frame was refused: a code the widget acts on, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl FrameError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        FrameError {
            code,
            message: message.into(),
        }
    }
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FrameError::new("malformed", format!("not JSON: {e}")))?;
    let Some(kind) = value
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Err(FrameError::new(
            "malformed",
            "a frame is a JSON object with a \"type\"",
        ));
    };
    const KNOWN: [&str; 7] = [
        "hello", "consent", "message", "email", "seen", "typing", "ping",
    ];
    if !KNOWN.contains(&kind.as_str()) {
        return Err(FrameError::new(
            "unknown_type",
            format!("unknown frame type \"{kind}\""),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| FrameError::new("malformed", format!("bad \"{kind}\" frame: {e}")))
}

/// An `error` frame; `client_id` names the message it refuses.
pub fn error(error: &FrameError, client_id: Option<&str>) -> String {
    let mut frame = json!({"type": "error", "code": error.code, "message": error.message});
    if let Some(id) = client_id {
        frame["client_id"] = json!(id);
    }
    frame.to_string()
}

/// Who a message is from, as the widget shows it.
fn from(message: &Message) -> &'static str {
    match (&message.direction, &message.author) {
        (Direction::Inbound, _) => "visitor",
        (Direction::Outbound, Some(Author::Agent { .. })) => "agent",
        (Direction::Outbound, _) => "bot",
    }
}

/// The client id a visitor message was sent with (`visitor/client_id`).
pub fn client_id_of(message: &Message) -> Option<&str> {
    let external = message.external_id.as_deref()?;
    external.split_once('/').map(|(_, id)| id)
}

/// A message as the visitor sees it; `None` for what they must not see
/// (internal notes).
pub fn message_view(message: &Message, team_name: &str) -> Option<Value> {
    if message.private {
        return None;
    }
    let from = from(message);
    let author = match from {
        "agent" => message.from.name.clone(),
        "bot" => Some(team_name.to_string()),
        _ => None,
    };
    let mut view = json!({
        "id": message.id.to_string(),
        "from": from,
        "author": author,
        "text": message.text.clone().unwrap_or_default(),
        "at": rfc3339(message.created_at),
    });
    if let Some(client_id) = client_id_of(message).filter(|_| from == "visitor") {
        view["client_id"] = json!(client_id);
    }
    Some(view)
}

/// A pushed `message` frame.
pub fn message_frame(message: &Message, team_name: &str) -> Option<String> {
    let mut view = message_view(message, team_name)?;
    view["type"] = json!("message");
    Some(view.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse(r#"{"type":"message","client_id":"c1","text":"hi"}"#),
            Ok(ClientFrame::Message {
                client_id: "c1".into(),
                text: "hi".into()
            })
        );
        assert_eq!(
            parse(r#"{"type":"hello"}"#),
            Ok(ClientFrame::Hello {
                visitor_token: None,
                user_email: None,
                user_hash: None
            })
        );
        assert_eq!(parse("{nope").unwrap_err().code, "malformed");
        assert_eq!(parse("[1,2]").unwrap_err().code, "malformed");
        assert_eq!(
            parse(r#"{"type":"dance"}"#).unwrap_err().code,
            "unknown_type"
        );
        let error = parse(r#"{"type":"message","text":"no id"}"#).unwrap_err();
        assert_eq!(error.code, "malformed");
        assert!(error.message.contains("client_id"), "{}", error.message);
    }
}
