//! Sans-IO parsing of inbound team email: raw RFC 5322 bytes in, a
//! `ParsedMail` out (ids, sender, subject, bodies decoded to UTF-8,
//! attachments decoded byte-exact, automation flags, forward info), and from
//! it one `Inbound` per channel the mail was delivered to.
//!
//! Parsing uses mail-parser 0.11 inside `catch_unwind`: it has had panics on
//! corrupt input, and one bad mail must never take the daemon down.
//!
//! Sender: the first valid mailbox of the From header. A From header that
//! does not parse as an address list (`tim@a.example concierge@a.example`,
//! `Big Bug bb@bug.com`) gives the first valid mailbox among its words and
//! the message the `malformed_from` flag; one with no valid mailbox at all
//! gives no address (the conversation then says replies cannot be sent).
//! When there is no From header at all: the Sender header, then the
//! envelope reverse path (`with_envelope_sender`), then the Return-Path
//! header. With none of these the identity handle is `"unknown"` and the
//! sender has no email address (one "unknown sender" contact rather than a
//! refused mail).
//!
//! A header block (or a MIME part's) that runs into body text without the
//! empty line is ended there first (`lenient`), as mail clients read it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::html::html_to_text;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Address, Encoding, HeaderName, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};

use super::auto_reply;
use super::compose::reply_token_of;
use super::forwarded::{self, OriginalMail};
use super::lenient;
use crate::config::{Channel, EmailChannel, Workspace};
use crate::email_address;
use crate::inbound::{AgentMail, Identity, Inbound, InboundAttachment, Sender, ThreadHints};
use crate::model::{MessageFlag, Millis, Party};

/// The identity handle of a mail whose sender address is not known.
pub const UNKNOWN_SENDER: &str = "unknown";

/// Everything Switchboard keeps from one inbound mail, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References ids in header order, without angle brackets.
    pub references: Vec<String>,
    /// From (else Sender) header: display name and normalised address
    /// (`None` when the header has no usable address).
    pub from: Party,
    /// The From header is there but is not a valid address list.
    pub from_malformed: bool,
    /// The valid mailboxes of the To and Cc headers, normalised, once each.
    pub recipients: Vec<String>,
    /// The Return-Path header address, normalised; `None` when absent or null.
    pub return_path: Option<String>,
    /// The SMTP envelope reverse path, normalised, if the caller gave it.
    pub envelope_sender: Option<String>,
    pub subject: Option<String>,
    /// The plain-text body; converted from HTML when there is no text part.
    pub text: Option<String>,
    /// The HTML body, only when the mail has a real `text/html` part.
    pub html: Option<String>,
    pub attachments: Vec<InboundAttachment>,
    /// The Date header in ms since the epoch.
    pub sent_at: Option<Millis>,
    /// Auto-reply, bounce and bulk flags (`Forwarded` depends on the channel
    /// and is added by `to_inbound`).
    pub flags: Vec<MessageFlag>,
    /// The original of a forward, whoever sent it; the trust rule is applied
    /// per channel by `to_inbound`.
    pub forward: Option<OriginalMail>,
}

/// Why bytes could not be read as a mail.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// No standard header found: not a mail at all (empty input, junk
    /// bytes, text without From/Date/Subject/... lines).
    #[error("not an email message: no mail header found")]
    NoHeaders,
    /// The MIME parser panicked on this input.
    #[error("the MIME parser failed on this message")]
    Panicked,
}

/// Parses one raw mail. `null_sender` is true when the envelope reverse
/// path was empty (`MAIL FROM:<>`). Never panics.
pub fn parse(raw: &[u8], null_sender: bool) -> Result<ParsedMail, ParseError> {
    guarded(|| parse_unguarded(raw, null_sender))
}

/// Runs `parse` turning a panic into `ParseError::Panicked`.
fn guarded(
    parse: impl FnOnce() -> Result<ParsedMail, ParseError>,
) -> Result<ParsedMail, ParseError> {
    catch_unwind(AssertUnwindSafe(parse)).unwrap_or(Err(ParseError::Panicked))
}

fn parse_unguarded(raw: &[u8], null_sender: bool) -> Result<ParsedMail, ParseError> {
    let repaired = lenient::restore_header_separators(raw);
    let raw: &[u8] = &repaired;
    let message = MessageParser::default()
        .parse(raw)
        .filter(has_standard_header)
        .ok_or(ParseError::NoHeaders)?;
    // The first Subject header, as mail clients show it (mail-parser's
    // `subject()` takes the last of repeated ones).
    let subject = non_empty(
        message
            .header_values(HeaderName::Subject)
            .next()
            .and_then(HeaderValue::as_text),
    );
    let body = BodyParts::of(&message);
    let text = text_body(&message, &body);
    let forward = forwarded::find_original(&message, text.as_deref(), subject.as_deref());
    let (from, from_malformed) = header_party(&message);
    let mut flags = auto_reply::flags(&message, null_sender);
    if from_malformed {
        auto_reply::add_flag(&mut flags, MessageFlag::MalformedFrom);
    }
    Ok(ParsedMail {
        message_id: message.message_id().and_then(clean_id),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        from,
        from_malformed,
        recipients: recipients(&message),
        return_path: return_path(message.return_path()),
        envelope_sender: None,
        subject,
        text,
        html: html_body(&message, &body),
        attachments: attachments(&message, &body, raw),
        sent_at: sent_at(&message),
        flags,
        forward,
    })
}

/// Whether any header is one mail-parser knows (From, Date, Subject,
/// Received, Content-Type, ...): text with only unknown `Name: value`
/// lines, or none, is not a mail.
fn has_standard_header(message: &Message<'_>) -> bool {
    message.headers().iter().any(|h| !h.name.is_other())
}

impl ParsedMail {
    /// Records the SMTP envelope reverse path (`None` for the null sender),
    /// used as the sender when the headers name none.
    pub fn with_envelope_sender(mut self, mail_from: Option<&str>) -> Self {
        self.envelope_sender = mail_from.and_then(email_address::normalize);
        self
    }

    /// Who sent the mail as far as its headers and envelope tell, before
    /// forward attribution.
    pub fn sender_party(&self) -> Party {
        if self.from.address.is_some() || self.from_malformed {
            return self.from.clone();
        }
        Party {
            name: self.from.name.clone(),
            address: self
                .envelope_sender
                .clone()
                .or_else(|| self.return_path.clone()),
        }
    }

    /// Builds the Inbound for one channel this mail was delivered to; the
    /// thread hints carry the reply token of the first of `recipients`
    /// addressed `local+c<token>@domain`.
    pub fn to_inbound(
        &self,
        channel: &Channel,
        email: &EmailChannel,
        workspace: &Workspace,
        recipients: Vec<String>,
        raw: &[u8],
    ) -> Inbound {
        let attribution = forwarded::attribute(
            &self.sender_party(),
            self.subject.as_deref(),
            self.forward.as_ref(),
            email,
            workspace,
        );
        // The first recipient with a conversation's reply address `+c<token>`.
        let reply_token = recipients.iter().find_map(|r| reply_token_of(r));
        let mut flags = self.flags.clone();
        if attribution.forwarded {
            auto_reply::add_flag(&mut flags, MessageFlag::Forwarded);
        }
        // An agent's own mail (not a forward of someone else's).
        let from_agent = attribution
            .sender
            .address
            .as_deref()
            .filter(|_| !attribution.forwarded)
            .and_then(|address| workspace.agent_by_address(address))
            .map(|agent| AgentMail {
                agent: agent.id.clone(),
                recipient: self.first_outside_recipient(workspace),
            });
        Inbound {
            channel: channel.id.clone(),
            external_id: self.message_id.clone(),
            sender: sender(&attribution.sender),
            forwarded_by: attribution.forwarded_by,
            to: recipients,
            recipients: self.recipients.clone(),
            from_agent,
            id_names_message: false,
            thread_hints: ThreadHints {
                reply_token,
                in_reply_to: self.in_reply_to.clone(),
                references: self.references.clone(),
                continue_open: false,
                thread: None,
            },
            subject: attribution.subject,
            text: self.text.clone(),
            html: self.html.clone(),
            attachments: self.attachments.clone(),
            flags,
            sent_at: self.sent_at,
            raw: Some(raw.to_vec()),
            postback: None,
        }
    }
}

impl ParsedMail {
    /// The first To/Cc recipient who is neither a team address (any email
    /// channel's, reply addresses included) nor an agent.
    fn first_outside_recipient(&self, workspace: &Workspace) -> Option<Sender> {
        self.recipients
            .iter()
            .find(|r| workspace.email_channel_for(r).is_none() && !workspace.is_agent_address(r))
            .map(|address| {
                sender(&Party {
                    name: None,
                    address: Some(address.clone()),
                })
            })
    }
}

fn sender(party: &Party) -> Sender {
    Sender {
        identity: Identity {
            kind: "email".to_string(),
            handle: party
                .address
                .clone()
                .unwrap_or_else(|| UNKNOWN_SENDER.to_string()),
        },
        name: party.name.clone(),
        email: party.address.clone(),
        phone: None,
    }
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A message id without angle brackets or space; `None` when empty.
fn clean_id(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// The ids of an In-Reply-To or References header, in order, once each.
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|id| id.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for id in raw.into_iter().filter_map(clean_id) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The From header's first valid mailbox, else the Sender header's, and
/// whether the From header was malformed (there, but its first address
/// not a valid mailbox).
fn header_party(message: &Message<'_>) -> (Party, bool) {
    let from = message.from().map(party).unwrap_or_default();
    let raw_from = message.header_raw("From").map(str::trim).unwrap_or("");
    let first_invalid = message
        .from()
        .and_then(|a| a.first())
        .is_some_and(|first| first.address().and_then(email_address::normalize).is_none());
    if from.address.is_some() {
        return (from, first_invalid);
    }
    // A From header that names nobody readable: the first valid mailbox
    // among its words. A From that is only a name (`From: Jane`) is not
    // malformed: the Sender header says who sent it.
    let malformed = raw_from.contains('@');
    if let Some(address) = email_address::first_valid_mailbox(raw_from) {
        let name = from.name.filter(|n| !n.contains('@'));
        return (
            Party {
                name,
                address: Some(address),
            },
            true,
        );
    }
    let party = match message.sender().map(party) {
        Some(sender) if sender.address.is_some() => Party {
            name: sender.name.or(from.name),
            address: sender.address,
        },
        _ => from,
    };
    (party, malformed)
}

/// The first valid mailbox of an address list, with its display name.
fn party(address: &Address<'_>) -> Party {
    let valid = address.iter().find_map(|addr| {
        let normalized = addr.address().and_then(email_address::normalize)?;
        Some((addr, normalized))
    });
    let Some((addr, normalized)) = valid else {
        let name = address.first().and_then(|a| non_empty(a.name()));
        return Party {
            name,
            address: None,
        };
    };
    let name = non_empty(addr.name())
        .filter(|n| email_address::normalize(n).as_deref() != Some(normalized.as_str()));
    Party {
        name,
        address: Some(normalized),
    }
}

/// The valid mailboxes of the To and Cc headers, normalised, once each.
fn recipients(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in [message.to(), message.cc()].into_iter().flatten() {
        for addr in list.iter() {
            if let Some(address) = addr.address().and_then(email_address::normalize) {
                if !out.contains(&address) {
                    out.push(address);
                }
            }
        }
    }
    out
}

/// The last Return-Path address; `None` for `<>` or none.
fn return_path(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(path) => email_address::normalize(path),
        HeaderValue::TextList(list) => list.last().and_then(|p| email_address::normalize(p)),
        _ => None,
    }
}

fn sent_at(message: &Message<'_>) -> Option<Millis> {
    let date = message.date().filter(|d| d.is_valid())?;
    date.to_timestamp().checked_mul(1000)
}

/// The part ids of a mail's body, in document order: mail-parser's body
/// parts plus the unnamed inline `text/plain` and `text/html` parts it
/// files as attachments (inside `multipart/related`, or undecodable).
struct BodyParts {
    text: Vec<u32>,
    html: Vec<u32>,
}

impl BodyParts {
    fn of(message: &Message<'_>) -> Self {
        let mut text = message.text_body.clone();
        let mut html = message.html_body.clone();
        for &id in &message.attachments {
            match message.parts.get(id as usize) {
                Some(part) if is_inline_text(part) && part.is_text_html() => html.push(id),
                Some(part) if is_inline_text(part) => text.push(id),
                _ => {}
            }
        }
        for ids in [&mut text, &mut html] {
            ids.sort_unstable();
            ids.dedup();
        }
        BodyParts { text, html }
    }

    fn contains(&self, id: u32) -> bool {
        self.text.binary_search(&id).is_ok() || self.html.binary_search(&id).is_ok()
    }
}

/// A text part that reads as part of the message rather than as a file:
/// `text/plain` or `text/html`, no file name, not `attachment`.
fn is_inline_text(part: &MessagePart<'_>) -> bool {
    let plain_or_html = part.content_type().is_none_or(|ct| {
        ct.ctype().eq_ignore_ascii_case("text")
            && ct
                .subtype()
                .is_none_or(|s| s.eq_ignore_ascii_case("plain") || s.eq_ignore_ascii_case("html"))
    });
    part.is_text()
        && plain_or_html
        && part.attachment_name().is_none()
        && part
            .content_disposition()
            .is_none_or(|d| !d.is_attachment())
}

/// The text parts of the body joined; HTML parts that stand in for a
/// missing text alternative are converted to text.
fn text_body(message: &Message<'_>, body: &BodyParts) -> Option<String> {
    join(
        body.text
            .iter()
            .filter_map(|id| match &message.parts.get(*id as usize)?.body {
                PartType::Text(text) => Some(text.to_string()),
                PartType::Html(html) => Some(html_to_text(html)),
                _ => None,
            }),
    )
}

/// The real `text/html` parts of the body joined (never text converted to
/// HTML).
fn html_body(message: &Message<'_>, body: &BodyParts) -> Option<String> {
    join(
        body.html
            .iter()
            .filter_map(|id| match &message.parts.get(*id as usize)?.body {
                PartType::Html(html) => Some(html.to_string()),
                _ => None,
            }),
    )
}

fn join(parts: impl Iterator<Item = String>) -> Option<String> {
    let parts: Vec<String> = parts.filter(|p| !p.trim().is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// The attachments: every part mail-parser lists as one, except body parts.
fn attachments(message: &Message<'_>, body: &BodyParts, raw: &[u8]) -> Vec<InboundAttachment> {
    message
        .attachments
        .iter()
        .filter(|id| !body.contains(**id))
        .filter_map(|id| message.parts.get(*id as usize))
        .filter(|part| !part.is_multipart())
        .map(|part| InboundAttachment {
            name: non_empty(part.attachment_name()),
            content_type: content_type(part),
            bytes: attachment_bytes(part, raw),
        })
        .collect()
}

/// `type/subtype`, lower-case, with a default by part kind.
fn content_type(part: &MessagePart<'_>) -> String {
    let default_subtype = match &part.body {
        PartType::Text(_) => "plain",
        PartType::Html(_) => "html",
        PartType::Message(_) => "rfc822",
        _ => "octet-stream",
    };
    match part.content_type() {
        Some(ct) => format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(default_subtype))
            .to_ascii_lowercase(),
        None => match &part.body {
            PartType::Text(_) => "text/plain".to_string(),
            PartType::Html(_) => "text/html".to_string(),
            PartType::Message(_) => "message/rfc822".to_string(),
            _ => "application/octet-stream".to_string(),
        },
    }
}

/// The decoded bytes of an attachment. Text attachments are decoded from the
/// raw body again: mail-parser converts them to UTF-8, and a file should
/// keep the bytes (and charset) it was sent with.
fn attachment_bytes(part: &MessagePart<'_>, raw: &[u8]) -> Vec<u8> {
    match &part.body {
        PartType::Text(_) | PartType::Html(_) => {
            transfer_decoded(part, raw).unwrap_or_else(|| part.contents().to_vec())
        }
        _ => part.contents().to_vec(),
    }
}

fn transfer_decoded(part: &MessagePart<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    if part.is_encoding_problem {
        return None;
    }
    let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    match part.encoding {
        Encoding::Base64 => base64_decode(body),
        Encoding::QuotedPrintable => quoted_printable_decode(body),
        Encoding::None => Some(body.to_vec()),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "parse_forward_tests.rs"]
mod forward_tests;
