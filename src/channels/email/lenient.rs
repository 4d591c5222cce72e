//! Restores the empty line that ends a header block, where a sender left it
//! out, before the mail is parsed: mail clients (and Python's `email`) end
//! a header block at the first line that is neither a header field nor a
//! continuation, and show the rest as the body. mail-parser instead reads
//! such lines as more headers, and the message would be stored with no
//! text. The same holds for the header block of every MIME part (after a
//! `--boundary` line).
//!
//! The rule is Python's: a header line is `name:` with a name of printable
//! ASCII other than `:` (possibly empty), or starts with a space or tab;
//! a first line `From ` (an mbox separator) is passed over. Nothing is
//! inserted before the first header of a message (text that has no header
//! at all is refused later), and nothing changes in a well-formed mail.

use std::borrow::Cow;

/// The mail with a blank line inserted wherever a header block ran into
/// body text; borrowed unchanged when nothing was missing.
pub fn restore_header_separators(raw: &[u8]) -> Cow<'_, [u8]> {
    let boundaries = boundaries(raw);
    let mut inserts = Vec::new();
    let mut state = State::Headers { seen: false };
    let mut offset = 0;
    for (index, line) in raw.split_inclusive(|b| *b == b'\n').enumerate() {
        let start = offset;
        offset += line.len();
        match state {
            State::Headers { seen } => {
                if is_blank(line) {
                    state = State::Body;
                } else if index == 0 && line.starts_with(b"From ") {
                    // An mbox separator line: neither header nor body.
                } else if is_header_field(line) || (seen && is_continuation(line)) {
                    state = State::Headers { seen: true };
                } else if seen || index > 0 {
                    // Body text where the empty line should have been.
                    inserts.push(start);
                    state = State::Body;
                } else {
                    // No header at all: leave it for the parser to refuse.
                    state = State::Body;
                }
            }
            State::Body => {
                if is_part_start(line, &boundaries) {
                    state = State::PartHeaders;
                }
            }
            State::PartHeaders => {
                if is_blank(line) {
                    state = State::Body;
                } else if is_part_start(line, &boundaries) {
                    // An empty part: the next one starts.
                } else if is_header_field(line) || is_continuation(line) {
                    // Part headers go on.
                } else {
                    inserts.push(start);
                    state = State::Body;
                }
            }
        }
    }
    if inserts.is_empty() {
        return Cow::Borrowed(raw);
    }
    let mut repaired = Vec::with_capacity(raw.len() + inserts.len() * 2);
    let mut from = 0;
    for at in inserts {
        repaired.extend_from_slice(&raw[from..at]);
        repaired.extend_from_slice(b"\r\n");
        from = at;
    }
    repaired.extend_from_slice(&raw[from..]);
    Cow::Owned(repaired)
}

#[derive(Clone, Copy)]
enum State {
    /// In the message's header block; `seen` once a header field was read.
    Headers {
        seen: bool,
    },
    /// In a MIME part's header block, right after its boundary line.
    PartHeaders,
    Body,
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

fn is_continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

/// `name:` with a name of printable ASCII except `:` (Python's rule).
fn is_header_field(line: &[u8]) -> bool {
    match line.iter().position(|b| *b == b':') {
        Some(colon) => line[..colon].iter().all(|b| (33..=126).contains(b)),
        None => false,
    }
}

/// A `--boundary` line that opens a part (not the closing `--boundary--`).
fn is_part_start(line: &[u8], boundaries: &[Vec<u8>]) -> bool {
    let Some(rest) = line.strip_prefix(b"--") else {
        return false;
    };
    let rest = rest.trim_ascii_end();
    boundaries.iter().any(|b| rest == b.as_slice())
}

/// Every `boundary=` parameter value in the mail (quoted or not). One
/// found in body text only makes a line that equals it count as a part
/// start, which it then almost surely is.
fn boundaries(raw: &[u8]) -> Vec<Vec<u8>> {
    const KEY: &[u8] = b"boundary=";
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    while let Some(pos) = raw[at..]
        .windows(KEY.len())
        .position(|w| w.eq_ignore_ascii_case(KEY))
    {
        let value_start = at + pos + KEY.len();
        let rest = &raw[value_start..];
        let value = match rest.first() {
            Some(b'"') => rest[1..].split(|b| *b == b'"').next().unwrap_or(&[]),
            _ => rest
                .split(|b| b.is_ascii_whitespace() || *b == b';')
                .next()
                .unwrap_or(&[]),
        };
        if !value.is_empty() && !found.iter().any(|f| f == value) {
            found.push(value.to_vec());
        }
        at = value_start;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(raw: &str) -> String {
        String::from_utf8(restore_header_separators(raw.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn a_well_formed_mail_is_borrowed_unchanged() {
        let raw = "From: a@b.example\r\nSubject: x\r\n  folded\r\n\r\nBody: not a header\r\n";
        assert!(matches!(
            restore_header_separators(raw.as_bytes()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_header_block_ends_at_the_first_body_line() {
        assert_eq!(
            repaired("From: a@b.example\r\nSubject: x\r\nHello there\r\nmore\r\n"),
            "From: a@b.example\r\nSubject: x\r\n\r\nHello there\r\nmore\r\n"
        );
    }

    #[test]
    fn a_part_without_its_blank_line_keeps_its_text() {
        let raw = "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"X Y\"\r\n\r\n\
                   --X Y\r\nContent-Type: text/plain\r\nBody in part\r\n--X Y\r\n\
                   Content-Type: text/plain\r\n\r\nfine\r\n--X Y--\r\n";
        assert_eq!(
            repaired(raw),
            "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"X Y\"\r\n\r\n\
             --X Y\r\nContent-Type: text/plain\r\n\r\nBody in part\r\n--X Y\r\n\
             Content-Type: text/plain\r\n\r\nfine\r\n--X Y--\r\n"
        );
    }

    #[test]
    fn a_part_with_no_headers_starts_its_body_at_once() {
        let raw = "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
                   --B\r\nJust text\r\n--B--\r\n";
        assert!(repaired(raw).contains("--B\r\n\r\nJust text\r\n"));
    }

    #[test]
    fn text_without_any_header_is_left_alone() {
        let raw = "just some words\r\nand more\r\n";
        assert_eq!(repaired(raw), raw);
    }

    #[test]
    fn an_mbox_separator_line_is_passed_over() {
        assert_eq!(
            repaired("From someone Mon Jan  1 00:00:00 2024\r\nSubject: x\r\nBody\r\n"),
            "From someone Mon Jan  1 00:00:00 2024\r\nSubject: x\r\n\r\nBody\r\n"
        );
    }
}
