//! The text pieces of an outbound email: the subject that never stacks
//! "Re:", the From display name, signatures with the agent's name filled in,
//! and the conversation's reply address (`local+c<token>@domain`) with its
//! inverse for inbound recipients.

use crate::config::{Agent, EmailChannel, SenderName};

/// The longest reply token `reply_token_of` accepts.
pub const MAX_TOKEN_LEN: usize = 48;

/// "Re: <subject>" with exactly one reply prefix: leading `Re:`, `RE:`,
/// `re :`, `Re[2]:`, `Aw:`, `Sv:` and `Antw:` prefixes are dropped first.
/// Other prefixes (`Fwd:`) are kept: "Fwd: x" becomes "Re: Fwd: x".
pub fn reply_subject(subject: Option<&str>) -> String {
    let subject = collapse_whitespace(subject.unwrap_or(""));
    let mut rest = subject.as_str();
    while let Some(shorter) = strip_reply_prefix(rest) {
        rest = shorter;
    }
    match rest.trim() {
        "" => "Re: (no subject)".to_string(),
        base => format!("Re: {base}"),
    }
}

/// `text` without one leading reply prefix, or `None` when it has none.
fn strip_reply_prefix(text: &str) -> Option<&str> {
    const PREFIXES: [&str; 4] = ["re", "aw", "sv", "antw"];
    let text = text.trim_start();
    let word_len = text
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let word = text.get(..word_len)?;
    if !PREFIXES.iter().any(|p| word.eq_ignore_ascii_case(p)) {
        return None;
    }
    let mut rest = text.get(word_len..)?;
    // A counter as in "Re[2]:" or "Re(2):".
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = rest.strip_prefix(open) {
            let (count, after) = inner.split_once(close)?;
            if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            rest = after;
        }
    }
    rest.trim_start().strip_prefix(':')
}

/// The From display name: "Alice Doe at Example Inc" for an agent's reply
/// when the channel says so, else the company name.
pub fn from_display_name(channel: &EmailChannel, author: Option<&Agent>) -> String {
    let company = collapse_whitespace(&channel.company_name);
    let agent_name = author
        .filter(|_| channel.sender_name == SenderName::AgentAndCompany)
        .map(|agent| collapse_whitespace(&agent.name))
        .filter(|name| !name.is_empty());
    match agent_name {
        Some(name) if company.is_empty() => name,
        Some(name) => format!("{name} at {company}"),
        None => company,
    }
}

/// Fills a text signature: `{full_name}`, `{first_name}` (the first word of
/// the agent's name) and `{last_name}` (the rest). Without an agent the
/// tokens are empty; a line left blank by that is dropped and spaces around
/// an emptied token are collapsed. Unknown `{...}` are kept as they are.
pub fn fill_signature(template: &str, author: Option<&Agent>) -> String {
    fill(template, &NameParts::of(author, false))
}

/// `fill_signature` for an HTML signature: the name is HTML-escaped.
pub fn fill_signature_html(template: &str, author: Option<&Agent>) -> String {
    fill(template, &NameParts::of(author, true))
}

struct NameParts {
    full: String,
    first: String,
    last: String,
}

impl NameParts {
    fn of(author: Option<&Agent>, html: bool) -> Self {
        let full = author
            .map(|a| collapse_whitespace(&a.name))
            .unwrap_or_default();
        let (first, last) = full.split_once(' ').unwrap_or((full.as_str(), ""));
        let escape = |s: &str| if html { escape_html(s) } else { s.to_string() };
        NameParts {
            first: escape(first),
            last: escape(last),
            full: escape(&full),
        }
    }

    fn get(&self, token: &str) -> Option<&str> {
        match token {
            "full_name" => Some(&self.full),
            "first_name" => Some(&self.first),
            "last_name" => Some(&self.last),
            _ => None,
        }
    }
}

fn fill(template: &str, names: &NameParts) -> String {
    let mut lines = Vec::new();
    for line in template.lines() {
        let (filled, substituted) = substitute(line, names);
        if !substituted {
            lines.push(line.to_string());
            continue;
        }
        let tidy = filled.split(' ').filter(|w| !w.is_empty());
        let tidy = tidy.collect::<Vec<_>>().join(" ");
        if !tidy.trim().is_empty() {
            lines.push(tidy);
        }
    }
    lines.join("\n").trim_matches('\n').to_string()
}

/// Replaces the known tokens of one line in a single pass (a name that
/// contains `{last_name}` is not expanded again); says whether any was.
fn substitute(line: &str, names: &NameParts) -> (String, bool) {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut substituted = false;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let value = after
            .split_once('}')
            .and_then(|(token, tail)| Some((names.get(token)?, tail)));
        match value {
            Some((value, tail)) => {
                out.push_str(value);
                substituted = true;
                rest = tail;
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, substituted)
}

/// The conversation's reply address: `local+c<token>@domain`.
pub fn reply_address(channel_address: &str, token: &str) -> String {
    match channel_address.trim().rsplit_once('@') {
        Some((local, domain)) => format!("{local}+c{token}@{domain}"),
        None => channel_address.to_string(),
    }
}

/// The reply token of a recipient `local+c<token>@domain` (the last `+tag`),
/// lower-cased; `None` unless the token is 1 to `MAX_TOKEN_LEN` ASCII letters
/// and digits.
pub fn reply_token_of(recipient: &str) -> Option<String> {
    let address = recipient
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, tag) = local.rsplit_once('+')?;
    let tag = tag.to_ascii_lowercase();
    let token = tag.strip_prefix('c')?;
    is_token(token).then(|| token.to_string())
}

pub(super) fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Runs of whitespace (line breaks included) as one space, trimmed.
pub(super) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(super) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "compose_text_tests.rs"]
mod tests;
