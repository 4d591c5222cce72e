//! Custom channels (`kind = "custom"`, docs/custom-channels.md): any other
//! messaging app (Telegram, Slack, an in-house app) connects through
//! Switchboard's own API. The integration publishes the person's messages
//! with the channel's token (`api`, checked by `publish`) and receives the
//! agents' replies on its webhook, signed per Standard Webhooks
//! (`send`, `signature`), only at public addresses unless allowed
//! (`crate::outbound_fetch`); it reports what became of each reply (`api`).

pub mod api;
pub mod publish;
pub mod send;
pub mod signature;

use crate::config::CustomChannel;

/// Whether a reply's text fits what the channel's app shows; the reason
/// when not (the reply API answers `422` with it).
pub fn check_reply_text(settings: &CustomChannel, text: &str) -> Result<(), String> {
    let Some(max) = settings.capabilities.max_text_length else {
        return Ok(());
    };
    let len = text.chars().count();
    if len > max {
        return Err(format!(
            "the text is {len} characters long; this channel takes at most {max}"
        ));
    }
    Ok(())
}
