//! Emails to team members (not to customers): e.g. telling a contact's
//! owner who is away that a conversation was assigned to them. They come
//! from the channel's address, are marked automatic, and never carry a
//! reply token.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;

use super::compose::ComposeError;
use crate::config::EmailChannel;
use crate::store::Notification;

/// Builds the notification email; `message_id` is without angle brackets.
pub fn compose_notification(
    channel: &EmailChannel,
    notification: &Notification,
    message_id: &str,
) -> Result<lettre::Message, ComposeError> {
    let invalid = |field: &'static str, address: &str| ComposeError::InvalidAddress {
        field,
        address: address.to_string(),
    };
    let from = Mailbox::new(
        Some(channel.company_name.clone()),
        channel
            .from_address
            .parse()
            .map_err(|_| invalid("from", &channel.from_address))?,
    );
    let to = Mailbox::new(
        Some(notification.name.clone()),
        notification
            .to
            .parse()
            .map_err(|_| invalid("to", &notification.to))?,
    );
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(notification.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .header(ContentType::TEXT_PLAIN)
        .raw_header(lettre::message::header::HeaderValue::new(
            lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_string(),
        ))
        .body(notification.text.clone())
        .map_err(ComposeError::Build)
}
