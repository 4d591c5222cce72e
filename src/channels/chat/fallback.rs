//! The email fallback: an agent reply a chat visitor did not see within
//! the channel's `email_fallback_minutes` goes to the address they left, from
//! the channel's email channel (its `email_channel`, else an email channel
//! of the same inbox), through the relay.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;

use crate::config::{Channel, ChannelKind, ChatChannel, EmailChannel, Workspace};
use crate::model::Message;

/// The email channel a chat channel's fallback is sent from.
pub fn email_channel(
    workspace: &Workspace,
    channel: &Channel,
    chat: &ChatChannel,
) -> Option<EmailChannel> {
    let email_of = |c: &Channel| match &c.kind {
        ChannelKind::Email(email) => Some(email.clone()),
        _ => None,
    };
    match &chat.email_channel {
        Some(id) => workspace.channel(id).and_then(email_of),
        None => workspace
            .channels
            .iter()
            .filter(|c| c.inbox == channel.inbox)
            .find_map(email_of),
    }
}

/// The fallback email for one reply; `message_id` without angle brackets.
pub fn compose(
    from: &EmailChannel,
    chat: &ChatChannel,
    to: &str,
    reply: &Message,
    message_id: &str,
) -> Result<lettre::Message, String> {
    let from_mailbox = Mailbox::new(
        Some(chat.team_name.clone()),
        from.from_address
            .parse()
            .map_err(|e| format!("the From address {}: {e}", from.from_address))?,
    );
    let to_mailbox: Mailbox = to
        .parse()
        .map_err(|e| format!("the visitor's address {to}: {e}"))?;
    let author = reply
        .from
        .name
        .clone()
        .unwrap_or_else(|| chat.team_name.clone());
    let body = format!(
        "{author} answered your chat with {team}:\n\n{text}\n\n\
         Open the chat on our website to continue the conversation.\n",
        team = chat.team_name,
        text = reply.text.as_deref().unwrap_or_default(),
    );
    lettre::Message::builder()
        .from(from_mailbox)
        .to(to_mailbox)
        .subject(format!("{}: a reply to your chat", chat.team_name))
        .message_id(Some(format!("<{message_id}>")))
        .header(ContentType::TEXT_PLAIN)
        .raw_header(lettre::message::header::HeaderValue::new(
            lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_string(),
        ))
        .body(body)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ChannelKind, Config};

    fn config() -> Config {
        let channels = r#"
            [[channels]]
            id = "mail"
            inbox = "support"
            kind = "email"
            address = "help@example.com"
            [[channels]]
            id = "web"
            inbox = "support"
            kind = "chat"
            team_name = "Example Help"
            allowed_origins = ["https://example.com"]
        "#;
        let text = format!("{}{channels}", crate::config::TEST_WORKSPACE);
        crate::config::parse(&text, std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn the_fallback_comes_from_the_inbox_email_channel_with_the_reply() {
        let config = config();
        let workspace = &config.workspace;
        let channel = workspace.channel("web").unwrap();
        let ChannelKind::Chat(chat) = &channel.kind else {
            panic!()
        };
        let from = email_channel(workspace, channel, chat).unwrap();
        assert_eq!(from.from_address, "help@example.com");
        let reply: Message = serde_json::from_value(serde_json::json!({
            "id": "01JAAAAAAAAAAAAAAAAAAAAAAA",
            "conversation": "01JAAAAAAAAAAAAAAAAAAAAAAB",
            "direction": "outbound",
            "channel": "web",
            "from": {"name": "Alice", "address": null},
            "to": [],
            "subject": null,
            "text": "Your parcel left today.",
            "html": null,
            "attachments": [],
            "flags": [],
            "thread_reason": "new",
            "external_id": null,
            "sent_at": null,
            "created_at": 0
        }))
        .unwrap();
        let mail = compose(&from, chat, "ann@example.org", &reply, "chat.1@host").unwrap();
        let text = String::from_utf8(mail.formatted()).unwrap();
        for expected in [
            "From: \"Example Help\" <help@example.com>",
            "To: ann@example.org",
            "Subject: Example Help: a reply to your chat",
            "Message-ID: <chat.1@host>",
            "Auto-Submitted: auto-generated",
            "Alice answered your chat with Example Help:",
            "Your parcel left today.",
        ] {
            assert!(text.contains(expected), "{expected} in:\n{text}");
        }
    }
}
