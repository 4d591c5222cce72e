//! Forwarded team email: finding the original sender of a mail a team member
//! forwarded to a channel, and deciding whom the message is attributed to.
//!
//! Detection (EMAIL.md section 5) tries, in order:
//! 1. an attached `message/rfc822` part (forward as attachment), the most
//!    reliable source: its From, Subject and Message-ID;
//! 2. an inline forward block in the text body: a marker line (Gmail
//!    `---------- Forwarded message ---------`, Thunderbird
//!    `-------- Forwarded Message --------`, Apple Mail
//!    `Begin forwarded message:`, some translations of these) followed by a
//!    header block (`From:`, `Date:`, `Subject:`, `To:`), possibly quoted
//!    with `> `. Outlook's `-----Original Message-----` and underscore rule
//!    (and a bare `From:/Sent:/To:/Subject:` block) also open replies, so
//!    they count only when the subject is a forward (`Fwd:`, `FW:`, `WG:`,
//!    `TR:`, `RV:`).
//!
//! Trust rule: only a mail whose sender is a team member (an agent address
//! or one of the channel's `forwarders`) is ever treated as a forward; a
//! forward-looking body from anyone else is attributed to its sender as is.

use mail_parser::Message;

use crate::config::{EmailChannel, ForwardedSender, Workspace};
use crate::email_address;
use crate::model::Party;

/// Marker phrases (between dashes) that open a forwarded message.
const DASHED_FORWARD: [&str; 6] = [
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "doorgestuurd bericht",
];

/// Marker phrases (between dashes) that open a quoted original in both
/// replies and forwards (Outlook).
const DASHED_ORIGINAL: [&str; 6] = [
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
];

/// Apple Mail style marker lines, lower-cased, without the trailing colon.
const BEGIN_FORWARD: [&str; 4] = [
    "begin forwarded message",
    "anfang der weitergeleiteten nachricht",
    "début du message réexpédié",
    "inicio del mensaje reenviado",
];

/// Subject prefixes that mark a forward, lower-cased, without the colon.
const FORWARD_PREFIXES: [&str; 5] = ["fwd", "fw", "wg", "tr", "rv"];

/// Header names of an inline forward block, per language.
const FROM_KEYS: [&str; 7] = ["from", "von", "de", "da", "van", "från", "fra"];
const SUBJECT_KEYS: [&str; 8] = [
    "subject",
    "betreff",
    "objet",
    "asunto",
    "oggetto",
    "onderwerp",
    "assunto",
    "ämne",
];
const OTHER_KEYS: [&str; 20] = [
    "date",
    "sent",
    "datum",
    "gesendet",
    "envoyé",
    "enviado",
    "inviato",
    "verzonden",
    "fecha",
    "data",
    "to",
    "an",
    "à",
    "a",
    "para",
    "aan",
    "till",
    "cc",
    "reply-to",
    "message-id",
];

/// Lines looked at after a marker before giving up on its header block.
const MAX_BLOCK_LINES: usize = 40;

/// How the original was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardStyle {
    /// An attached `message/rfc822` part.
    Attached,
    /// A forward block in the text body.
    Inline,
}

/// The mail a team member forwarded, as far as the forward shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalMail {
    /// The original sender; the address is normalised.
    pub sender: Party,
    pub subject: Option<String>,
    /// The original Message-ID without angle brackets (attached forwards only).
    pub message_id: Option<String>,
    pub style: ForwardStyle,
}

/// Whom a mail is attributed to on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub sender: Party,
    /// The team member, when the sender was re-attributed to the original.
    pub forwarded_by: Option<Party>,
    pub subject: Option<String>,
    /// A team member forwarded this mail (sets `MessageFlag::Forwarded`).
    pub forwarded: bool,
}

/// Finds the original of a forwarded mail: an attached message first, then
/// an inline block in `text` (the mail's plain-text body). Does not apply
/// the trust rule; `attribute` does.
pub fn find_original(
    message: &Message<'_>,
    text: Option<&str>,
    subject: Option<&str>,
) -> Option<OriginalMail> {
    from_attachment(message).or_else(|| text.and_then(|t| from_text(t, subject)))
}

/// The original sender named by the first attached message with a From
/// address.
pub fn from_attachment(message: &Message<'_>) -> Option<OriginalMail> {
    message.attachments().find_map(|part| {
        let inner = part.message()?;
        let addr = inner.from()?.first()?;
        let address = email_address::normalize(addr.address()?)?;
        Some(OriginalMail {
            sender: Party {
                name: clean_name(addr.name(), &address),
                address: Some(address),
            },
            subject: non_empty(inner.subject()),
            message_id: non_empty(inner.message_id().map(|id| id.trim_matches(['<', '>']))),
            style: ForwardStyle::Attached,
        })
    })
}

/// The original sender of the first inline forward block in `text`.
/// `subject` is the forwarding mail's subject: Outlook-style blocks, which
/// replies use too, count only under a forward subject.
pub fn from_text(text: &str, subject: Option<&str>) -> Option<OriginalMail> {
    let forward_subject = subject.is_some_and(is_forward_subject);
    let lines: Vec<&str> = text.lines().map(unquote).collect();
    for (index, line) in lines.iter().enumerate() {
        // (first block line, header lines needed, stop here if no block)
        let candidate = match marker(line) {
            Some(Marker::Forward) => Some((index + 1, 1, true)),
            Some(Marker::Original) if forward_subject => Some((index + 1, 2, true)),
            // An underscore rule may just end a signature.
            Some(Marker::Rule) if forward_subject => Some((index + 1, 2, false)),
            None if forward_subject && is_from_line(line) => Some((index, 3, false)),
            _ => None,
        };
        if let Some((start, min_headers, decisive)) = candidate {
            let found = block_at(&lines, start, min_headers);
            if found.is_some() || decisive {
                return found;
            }
        }
    }
    None
}

/// Whether the subject starts with a forward prefix (`Fwd:`, `FW:`, ...).
pub fn is_forward_subject(subject: &str) -> bool {
    strip_forward_prefix(subject).len() != subject.trim_start().len()
}

/// The subject without its leading forward prefixes (`Fwd: FW: x` gives
/// `x`); a `Re:` after them stays.
pub fn strip_forward_prefix(subject: &str) -> &str {
    let mut rest = subject.trim_start();
    while let Some((prefix, after)) = rest.split_once(':') {
        if !FORWARD_PREFIXES.contains(&prefix.trim().to_lowercase().as_str()) {
            break;
        }
        rest = after.trim_start();
    }
    rest
}

/// Whether `address` belongs to a team member whose forwards this channel
/// re-attributes: an agent, or one of the channel's `forwarders`.
pub fn is_trusted_forwarder(address: &str, email: &EmailChannel, workspace: &Workspace) -> bool {
    let Some(normalized) = email_address::normalize(address) else {
        return false;
    };
    workspace.is_agent_address(&normalized)
        || email
            .forwarders
            .iter()
            .any(|f| email_address::normalize(f).as_deref() == Some(normalized.as_str()))
}

/// Applies the trust rule and the channel's `forwarded_sender` setting to
/// a mail from `from` whose detected original (if any) is `original`.
pub fn attribute(
    from: &Party,
    subject: Option<&str>,
    original: Option<&OriginalMail>,
    email: &EmailChannel,
    workspace: &Workspace,
) -> Attribution {
    let unchanged = Attribution {
        sender: from.clone(),
        forwarded_by: None,
        subject: subject.map(str::to_string),
        forwarded: false,
    };
    let (Some(original), Some(address)) = (original, from.address.as_deref()) else {
        return unchanged;
    };
    if !is_trusted_forwarder(address, email, workspace) {
        return unchanged;
    }
    if email.forwarded_sender == ForwardedSender::Forwarder
        || !is_reattributable(original, address, email)
    {
        return Attribution {
            forwarded: true,
            ..unchanged
        };
    }
    Attribution {
        sender: original.sender.clone(),
        forwarded_by: Some(from.clone()),
        subject: original_subject(subject, original),
        forwarded: true,
    }
}

/// The original may become the sender unless it is the forwarder or the
/// channel itself (a forwarded copy of the team's own mail).
fn is_reattributable(original: &OriginalMail, forwarder: &str, email: &EmailChannel) -> bool {
    let Some(address) = original.sender.address.as_deref() else {
        return false;
    };
    let own = std::iter::once(&email.address).chain(&email.receive_addresses);
    email_address::normalize(forwarder).as_deref() != Some(address)
        && !own
            .into_iter()
            .any(|a| email_address::normalize(a).as_deref() == Some(address))
}

/// The forwarding subject without its prefix, else the original's subject.
fn original_subject(subject: Option<&str>, original: &OriginalMail) -> Option<String> {
    non_empty(subject.map(strip_forward_prefix)).or_else(|| original.subject.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// Opens a forwarded message (Gmail, Thunderbird, Apple Mail).
    Forward,
    /// Opens a quoted original, in replies as in forwards (old Outlook).
    Original,
    /// An underscore rule before a header block (new Outlook).
    Rule,
}

/// A line with its quoting (`> `, `>> `) and surrounding space removed.
fn unquote(line: &str) -> &str {
    line.trim()
        .trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

fn marker(line: &str) -> Option<Marker> {
    if line.len() >= 10 && line.chars().all(|c| c == '_') {
        return Some(Marker::Rule);
    }
    if line.starts_with("--") {
        let phrase = line
            .trim_matches(|c: char| c == '-' || c.is_whitespace())
            .to_lowercase();
        if DASHED_FORWARD.contains(&phrase.as_str()) {
            return Some(Marker::Forward);
        }
        if DASHED_ORIGINAL.contains(&phrase.as_str()) {
            return Some(Marker::Original);
        }
        return None;
    }
    let phrase = line.strip_suffix(':')?.trim_end().to_lowercase();
    BEGIN_FORWARD
        .contains(&phrase.as_str())
        .then_some(Marker::Forward)
}

/// Splits `Key: value` (also `*Key:* value`, as HTML-to-text renders bold
/// labels) into the lower-cased key and the value.
fn header_line(line: &str) -> Option<(String, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim().trim_matches('*').trim().to_lowercase();
    if key.is_empty() || key.chars().count() > 12 || key.contains(char::is_whitespace) {
        return None;
    }
    let known = FROM_KEYS.contains(&key.as_str())
        || SUBJECT_KEYS.contains(&key.as_str())
        || OTHER_KEYS.contains(&key.as_str());
    known.then(|| (key, value.trim().trim_start_matches('*').trim()))
}

fn is_from_line(line: &str) -> bool {
    header_line(line).is_some_and(|(key, _)| FROM_KEYS.contains(&key.as_str()))
}

/// Reads the header block starting at `start` (after blank lines) and
/// returns the original when it has a From address and at least
/// `min_headers` header lines.
fn block_at(lines: &[&str], start: usize, min_headers: usize) -> Option<OriginalMail> {
    let mut from = None;
    let mut subject: Option<String> = None;
    let mut count = 0;
    let mut last_was_subject = false;
    for line in lines.iter().skip(start).take(MAX_BLOCK_LINES) {
        if line.is_empty() {
            if count > 0 {
                break;
            }
            continue;
        }
        match header_line(line) {
            Some((key, value)) => {
                count += 1;
                last_was_subject = SUBJECT_KEYS.contains(&key.as_str());
                if FROM_KEYS.contains(&key.as_str()) && from.is_none() {
                    from = parse_party(value);
                } else if last_was_subject {
                    subject = Some(value.to_string());
                }
            }
            // A wrapped value: only a long subject is worth keeping.
            None if count > 0 => {
                if let (true, Some(s)) = (last_was_subject, subject.as_mut()) {
                    s.push(' ');
                    s.push_str(line);
                }
            }
            None => return None,
        }
    }
    if count < min_headers {
        return None;
    }
    Some(OriginalMail {
        sender: from?,
        subject: non_empty(subject.as_deref()),
        message_id: None,
        style: ForwardStyle::Inline,
    })
}

/// Parses `Name <addr>`, `"Name" <addr>`, `Name [mailto:addr]`, `addr`
/// or `addr (Name)`.
fn parse_party(value: &str) -> Option<Party> {
    let (start, end) = address_span(value)?;
    let address = email_address::normalize(value.get(start..end)?)?;
    let before = value.get(..start)?.trim_end_matches(['<', '[', ' ']);
    let before = before
        .trim_end_matches("mailto:")
        .trim_end_matches(['<', '[', ' ']);
    let name = if before.trim().is_empty() {
        let after = value.get(end..)?.trim();
        after.strip_prefix('(').and_then(|a| a.strip_suffix(')'))
    } else {
        Some(before)
    };
    Some(Party {
        name: clean_name(name, &address),
        address: Some(address),
    })
}

/// Byte range of the first `local@domain` in `value`.
fn address_span(value: &str) -> Option<(usize, usize)> {
    value
        .match_indices('@')
        .find_map(|(at, _)| address_span_at(value, at))
}

/// Byte range of the address around the `@` at byte `at`.
fn address_span_at(value: &str, at: usize) -> Option<(usize, usize)> {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let start = value
        .get(..at)?
        .char_indices()
        .rev()
        .take_while(|(_, c)| local_char(*c))
        .last()
        .map(|(i, _)| i)?;
    let domain = value.get(at + 1..)?;
    let len = domain
        .char_indices()
        .take_while(|(_, c)| domain_char(*c))
        .last()
        .map(|(i, c)| i + c.len_utf8())?;
    let end = at + 1 + domain.get(..len)?.trim_end_matches('.').len();
    (end > at + 1).then_some((start, end))
}

/// A display name without quotes; `None` when empty or just the address.
fn clean_name(name: Option<&str>, address: &str) -> Option<String> {
    let name = name?.trim().trim_matches(['"', '\'', '*']).trim();
    let is_address = email_address::normalize(name).as_deref() == Some(address);
    (!name.is_empty() && !is_address).then(|| name.to_string())
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
#[path = "forwarded_tests.rs"]
mod tests;
