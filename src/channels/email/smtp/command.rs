//! Sans-IO pre-parsing of SMTP command lines before mailin sees them.
//!
//! mailin's parser is strict and small: it refuses the null sender
//! `MAIL FROM:<>` (bounces and auto-replies use it), any parameter other than
//! `BODY=`, and a space after the colon. [`prepare`] classifies each line,
//! refuses bare-LF lines and bad `MAIL`/`RCPT` parameters with our own reply,
//! enforces a declared `SIZE=` against the limit before any data is sent, and
//! rewrites `MAIL`/`RCPT` into the canonical form mailin accepts. Lines we do
//! not understand are passed on unchanged: mailin stays the judge of syntax.

use std::borrow::Cow;

use super::reply::{self, Reply};

/// The reverse path mailin is given in place of the null sender `<>`. The
/// session remembers that the sender was null; this value never leaves it.
pub(crate) const NULL_SENDER_PLACEHOLDER: &str = "null-sender@switchboard.invalid";

/// The command a line starts with, enough to word the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    StartTls,
    Other,
}

/// What to do with one command line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Prepared<'a> {
    /// Give `line` to mailin. For `MAIL`, `null_sender` says whether the
    /// client sent `<>` (and `line` carries the placeholder instead).
    Forward {
        verb: Verb,
        line: Cow<'a, [u8]>,
        null_sender: bool,
    },
    /// Answer this without involving mailin; its state does not change.
    Refuse(Reply),
}

/// Classifies and, where needed, rewrites one command line (terminator
/// included, at most the command line limit long).
pub(crate) fn prepare(line: &[u8], max_message_bytes: u64) -> Prepared<'_> {
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Prepared::Refuse(reply::bare_lf_in_command());
    };
    let word_end = body.iter().position(|&b| b == b' ').unwrap_or(body.len());
    let (word, rest) = body.split_at(word_end);
    let verb = verb_of(word);
    let forward = |verb| Prepared::Forward {
        verb,
        line: Cow::Borrowed(line),
        null_sender: false,
    };
    match verb {
        Verb::Mail => match split_path(rest, b"FROM:") {
            Some((path, params)) => mail(path, params, max_message_bytes),
            None => forward(verb),
        },
        Verb::Rcpt => match split_path(rest, b"TO:") {
            Some((_, params)) if !params.is_empty() => {
                Prepared::Refuse(reply::unsupported_parameter())
            }
            Some((path, _)) => Prepared::Forward {
                verb,
                line: Cow::Owned([b"RCPT TO:<", path, b">\r\n"].concat()),
                null_sender: false,
            },
            None => forward(verb),
        },
        _ => forward(verb),
    }
}

fn verb_of(word: &[u8]) -> Verb {
    const VERBS: [(&[u8], Verb); 10] = [
        (b"HELO", Verb::Helo),
        (b"EHLO", Verb::Ehlo),
        (b"MAIL", Verb::Mail),
        (b"RCPT", Verb::Rcpt),
        (b"DATA", Verb::Data),
        (b"RSET", Verb::Rset),
        (b"NOOP", Verb::Noop),
        (b"QUIT", Verb::Quit),
        (b"VRFY", Verb::Vrfy),
        (b"STARTTLS", Verb::StartTls),
    ];
    VERBS
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map_or(Verb::Other, |(_, verb)| *verb)
}

/// Splits ` FROM:<path> params` (or `TO:`) into the path and the parameter
/// text after `>`. Tolerates extra spaces before the keyword and after the
/// colon. `None` if the line does not have that shape.
fn split_path<'a>(rest: &'a [u8], keyword: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let rest = trim_start(rest);
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = trim_start(&rest[keyword.len()..]).strip_prefix(b"<")?;
    let close = rest.iter().position(|&b| b == b'>')?;
    let path = &rest[..close];
    if path.iter().any(|&b| matches!(b, b' ' | b'\t' | b'<')) {
        return None;
    }
    Some((path, &rest[close + 1..]))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

fn mail<'a>(path: &[u8], params: &[u8], max_message_bytes: u64) -> Prepared<'a> {
    if !params.is_empty() && !params.starts_with(b" ") {
        return Prepared::Refuse(reply::bad_parameter_syntax());
    }
    let mut body = None;
    for param in params.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
        let (key, value) = match param.iter().position(|&b| b == b'=') {
            Some(eq) => (&param[..eq], Some(&param[eq + 1..])),
            None => (param, None),
        };
        if key.eq_ignore_ascii_case(b"SIZE") {
            let declared = value
                .and_then(|v| std::str::from_utf8(v).ok())
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .map(str::parse::<u64>);
            match declared {
                // Too many digits to fit: certainly over the limit.
                Some(Ok(size)) if size <= max_message_bytes => {}
                Some(_) => {
                    return Prepared::Refuse(reply::declared_size_too_big(max_message_bytes))
                }
                None => return Prepared::Refuse(reply::bad_parameter_syntax()),
            }
        } else if key.eq_ignore_ascii_case(b"BODY") {
            match value {
                Some(v) if v.eq_ignore_ascii_case(b"8BITMIME") => body = Some("8BITMIME"),
                Some(v) if v.eq_ignore_ascii_case(b"7BIT") => body = Some("7BIT"),
                _ => return Prepared::Refuse(reply::unsupported_parameter()),
            }
        } else {
            return Prepared::Refuse(reply::unsupported_parameter());
        }
    }
    let null_sender = path.is_empty();
    let path = if null_sender {
        NULL_SENDER_PLACEHOLDER.as_bytes()
    } else {
        path
    };
    let mut line = [b"MAIL FROM:<", path, b">"].concat();
    if let Some(body) = body {
        line.extend_from_slice(b" BODY=");
        line.extend_from_slice(body.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    Prepared::Forward {
        verb: Verb::Mail,
        line: Cow::Owned(line),
        null_sender,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1000;

    fn forwarded(line: &[u8]) -> (Verb, String, bool) {
        match prepare(line, MAX) {
            Prepared::Forward {
                verb,
                line,
                null_sender,
            } => (
                verb,
                String::from_utf8(line.into_owned()).unwrap(),
                null_sender,
            ),
            Prepared::Refuse(reply) => panic!("refused: {reply:?}"),
        }
    }

    fn refused(line: &[u8]) -> u16 {
        match prepare(line, MAX) {
            Prepared::Refuse(reply) => reply.code(),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn null_sender_gets_the_placeholder() {
        let (verb, line, null) = forwarded(b"MAIL FROM:<>\r\n");
        assert_eq!(verb, Verb::Mail);
        assert_eq!(line, format!("MAIL FROM:<{NULL_SENDER_PLACEHOLDER}>\r\n"));
        assert!(null);
    }

    #[test]
    fn ordinary_sender_is_kept_and_not_null() {
        let (_, line, null) = forwarded(b"mail from:<a@b.example>\r\n");
        assert_eq!(line, "MAIL FROM:<a@b.example>\r\n");
        assert!(!null);
    }

    #[test]
    fn size_within_limit_is_stripped() {
        let (_, line, _) = forwarded(b"MAIL FROM:<a@b> SIZE=1000\r\n");
        assert_eq!(line, "MAIL FROM:<a@b>\r\n");
    }

    #[test]
    fn size_over_limit_is_refused_with_552() {
        assert_eq!(refused(b"MAIL FROM:<a@b> SIZE=1001\r\n"), 552);
        assert_eq!(
            refused(b"MAIL FROM:<a@b> size=99999999999999999999999\r\n"),
            552
        );
    }

    #[test]
    fn malformed_size_is_a_syntax_error() {
        assert_eq!(refused(b"MAIL FROM:<a@b> SIZE=\r\n"), 501);
        assert_eq!(refused(b"MAIL FROM:<a@b> SIZE=12k\r\n"), 501);
        assert_eq!(refused(b"MAIL FROM:<a@b> SIZE\r\n"), 501);
        assert_eq!(refused(b"MAIL FROM:<a@b>SIZE=1\r\n"), 501);
    }

    #[test]
    fn body_passes_through_with_size_removed() {
        let (_, line, null) = forwarded(b"MAIL FROM:<> SIZE=12 BODY=8bitmime\r\n");
        assert_eq!(
            line,
            format!("MAIL FROM:<{NULL_SENDER_PLACEHOLDER}> BODY=8BITMIME\r\n")
        );
        assert!(null);
    }

    #[test]
    fn unknown_parameters_are_refused() {
        assert_eq!(refused(b"MAIL FROM:<a@b> SMTPUTF8\r\n"), 555);
        assert_eq!(refused(b"MAIL FROM:<a@b> BODY=BINARYMIME\r\n"), 555);
        assert_eq!(refused(b"RCPT TO:<a@b> NOTIFY=NEVER\r\n"), 555);
    }

    #[test]
    fn space_after_colon_is_tolerated() {
        let (_, line, _) = forwarded(b"MAIL FROM: <a@b>\r\n");
        assert_eq!(line, "MAIL FROM:<a@b>\r\n");
        let (verb, line, _) = forwarded(b"rcpt to: <support@example.com>\r\n");
        assert_eq!(verb, Verb::Rcpt);
        assert_eq!(line, "RCPT TO:<support@example.com>\r\n");
    }

    #[test]
    fn unparsable_lines_go_to_mailin_unchanged() {
        let (verb, line, _) = forwarded(b"MAIL TO:<a@b>\r\n");
        assert_eq!((verb, line.as_str()), (Verb::Mail, "MAIL TO:<a@b>\r\n"));
        let (verb, line, _) = forwarded(b"MAIL FROM:<a b@c>\r\n");
        assert_eq!((verb, line.as_str()), (Verb::Mail, "MAIL FROM:<a b@c>\r\n"));
        let (verb, _, _) = forwarded(b"XCLIENT foo\r\n");
        assert_eq!(verb, Verb::Other);
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(forwarded(b"ehlo x\r\n").0, Verb::Ehlo);
        assert_eq!(forwarded(b"StartTLS\r\n").0, Verb::StartTls);
        assert_eq!(forwarded(b"DATA\r\n").0, Verb::Data);
        assert_eq!(forwarded(b"\r\n").0, Verb::Other);
    }

    #[test]
    fn bare_lf_command_is_refused() {
        assert_eq!(refused(b"NOOP\n"), 500);
        assert_eq!(refused(b"MAIL FROM:<>\n"), 500);
    }
}
