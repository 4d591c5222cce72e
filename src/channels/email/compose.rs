//! Composing an outbound email reply, without I/O: From, To and Reply-To,
//! the subject, threading headers (In-Reply-To, References), loop-protection
//! headers (Auto-Submitted, X-Auto-Response-Suppress) and the MIME body with
//! the channel's signature. The text pieces (subject, display name,
//! signatures, reply address) are in `compose_text.rs`, re-exported here.
//!
//! Message ids are handled without angle brackets (as stored); `compose`
//! adds them in the headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Address;
use mail_parser::decoders::html::html_to_text;

use crate::config::{Agent, EmailChannel};
use crate::model::{Author, Direction, Message};
use crate::outbox::OutboundDelivery;

#[path = "compose_text.rs"]
mod text;

use text::{collapse_whitespace, escape_html, is_token};
pub use text::{
    fill_signature, fill_signature_html, from_display_name, reply_address, reply_subject,
    reply_token_of, MAX_TOKEN_LEN,
};

/// At most this many ids go in References: the first of the thread and the
/// most recent ones (relays refuse huge header blocks).
pub const MAX_REFERENCES: usize = 20;

/// The longest message id put in a threading header.
const MAX_ID_LEN: usize = 250;

/// Why a reply could not be turned into an email; all permanent.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("the contact has no email address")]
    NoRecipient,
    #[error("invalid {field} address {address:?}")]
    InvalidAddress {
        field: &'static str,
        address: String,
    },
    #[error("the message has no Message-ID")]
    NoMessageId,
    #[error("the message has no text")]
    EmptyBody,
    #[error("cannot build the email: {0}")]
    Build(#[from] lettre::error::Error),
}

/// In-Reply-To and References for a reply after `history` (oldest first),
/// ids without angle brackets. In-Reply-To is the latest inbound message's
/// id, else the latest id at all. References holds every id once, oldest
/// first, capped to `MAX_REFERENCES`: the first, the In-Reply-To and the
/// most recent. Private notes and ids unfit for a header are skipped.
pub fn thread_headers(history: &[Message]) -> (Option<String>, Vec<String>) {
    let id_of = |m: &Message| {
        (!m.private)
            .then_some(m.external_id.as_deref())
            .flatten()
            .and_then(clean_message_id)
    };
    let in_reply_to = history
        .iter()
        .rev()
        .filter(|m| m.direction == Direction::Inbound)
        .find_map(id_of)
        .or_else(|| history.iter().rev().find_map(id_of));
    let mut all: Vec<String> = Vec::new();
    for id in history.iter().filter_map(id_of) {
        if !all.contains(&id) {
            all.push(id);
        }
    }
    let references = cap_references(all, in_reply_to.as_deref());
    (in_reply_to, references)
}

/// Keeps the first id, `keep` and the most recent ones, in their order.
fn cap_references(ids: Vec<String>, keep: Option<&str>) -> Vec<String> {
    if ids.len() <= MAX_REFERENCES {
        return ids;
    }
    let keep_index = keep.and_then(|k| ids.iter().position(|id| id == k));
    let mut recent = MAX_REFERENCES - 1;
    if keep_index.is_some_and(|i| i > 0 && i < ids.len() - recent) {
        recent -= 1;
    }
    let first_recent = ids.len() - recent;
    ids.into_iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || *i >= first_recent || Some(*i) == keep_index)
        .map(|(_, id)| id)
        .collect()
}

/// A message id without angle brackets, when it can go in a header:
/// printable ASCII without spaces or brackets, not too long.
fn clean_message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let fits = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    fits.then(|| id.to_string())
}

/// Builds the email for one outbound message on an email channel.
pub fn compose(
    delivery: &OutboundDelivery,
    email: &EmailChannel,
) -> Result<lettre::Message, ComposeError> {
    let message = &delivery.message;
    let conversation = &delivery.conversation;
    let automated = matches!(message.author, Some(Author::Automation { .. }));
    let agent = delivery.author.as_ref().filter(|_| !automated);

    let from = mailbox(
        Some(from_display_name(email, agent)),
        &email.from_address,
        "From",
    )?;
    let contact_email = delivery.contact.email.as_deref().map(str::trim);
    let contact_email = contact_email
        .filter(|e| !e.is_empty())
        .ok_or(ComposeError::NoRecipient)?;
    let contact_name = delivery.contact.name.as_deref().map(collapse_whitespace);
    let to = mailbox(contact_name.filter(|n| !n.is_empty()), contact_email, "To")?;
    let message_id = message
        .external_id
        .as_deref()
        .and_then(clean_message_id)
        .ok_or(ComposeError::NoMessageId)?;

    // The history should not hold the message itself; drop it if it does.
    let history = match delivery.history.split_last() {
        Some((last, earlier)) if last.id == message.id => earlier,
        _ => &delivery.history[..],
    };
    let started_by_us = history
        .first()
        .is_none_or(|m| m.direction == Direction::Outbound);
    let subject = if started_by_us {
        let subject = collapse_whitespace(conversation.subject.as_deref().unwrap_or(""));
        if subject.is_empty() {
            "(no subject)".to_string()
        } else {
            subject
        }
    } else {
        reply_subject(conversation.subject.as_deref())
    };
    let (in_reply_to, mut references) = thread_headers(history);
    references.retain(|id| *id != message_id);

    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{message_id}>")))
        .date(system_time(message.created_at));
    if let Some(token) = conversation.reply_token.as_deref().filter(|t| is_token(t)) {
        let address = reply_address(&email.address, token);
        builder = builder.reply_to(mailbox(None, &address, "Reply-To")?);
    }
    if let Some(id) = in_reply_to.filter(|id| *id != message_id) {
        builder = builder.in_reply_to(format!("<{id}>"));
    }
    if !references.is_empty() {
        let list: Vec<String> = references.iter().map(|id| format!("<{id}>")).collect();
        builder = builder.references(list.join(" "));
    }
    let auto_submitted = if automated { "auto-replied" } else { "no" };
    builder = builder.raw_header(raw_header("Auto-Submitted", auto_submitted));
    if automated {
        builder = builder.raw_header(raw_header("X-Auto-Response-Suppress", "All"));
    }

    let (text, html) = bodies(message, email, agent)?;
    let built = match html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(text, html))?,
        None => builder.singlepart(SinglePart::plain(text))?,
    };
    Ok(built)
}

/// The text body and, when the message has HTML, the HTML body, each with
/// the channel's signature filled in.
fn bodies(
    message: &Message,
    email: &EmailChannel,
    agent: Option<&Agent>,
) -> Result<(String, Option<String>), ComposeError> {
    let html = message.html.as_deref().filter(|h| !h.trim().is_empty());
    let text = match message.text.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(text) => text.to_string(),
        None => html.map(html_to_text).ok_or(ComposeError::EmptyBody)?,
    };
    let signature = email
        .signature
        .as_deref()
        .map(|s| fill_signature(s, agent))
        .filter(|s| !s.trim().is_empty());
    let text = match &signature {
        Some(signature) => format!("{}\n\n{signature}", text.trim_end()),
        None => text,
    };
    let html = html.map(|html| {
        let signature = match email.signature_html.as_deref() {
            Some(template) => Some(fill_signature_html(template, agent)),
            None => signature
                .as_deref()
                .map(|s| format!("<p>{}</p>", escape_html(s).replace('\n', "<br>\n"))),
        };
        match signature.filter(|s| !s.trim().is_empty()) {
            Some(signature) => append_to_html(html, &signature),
            None => html.to_string(),
        }
    });
    Ok((text, html))
}

/// `html` with `addition` before its closing `</body>`, or at the end.
fn append_to_html(html: &str, addition: &str) -> String {
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{addition}\n{}", &html[..at], &html[at..]),
        None => format!("{}\n{addition}", html.trim_end()),
    }
}

fn mailbox(
    name: Option<String>,
    address: &str,
    field: &'static str,
) -> Result<Mailbox, ComposeError> {
    let parsed: Address = address
        .trim()
        .parse()
        .map_err(|_| ComposeError::InvalidAddress {
            field,
            address: address.to_string(),
        })?;
    Ok(Mailbox::new(name, parsed))
}

fn raw_header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

fn system_time(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

#[cfg(test)]
#[path = "compose_tests.rs"]
pub(crate) mod tests;
