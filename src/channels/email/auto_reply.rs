//! Machine-sent mail detection for team email: the `AutoReply`, `Bulk` and
//! `Bounce` flags that keep automations (greetings, instant replies) from
//! answering out-of-office notices, list mail and bounces, and so from
//! starting mail loops (RFC 3834; rule set in EMAIL.md section 6).
//!
//! `Bulk` and `Bounce` always come with `AutoReply`: nothing a machine sent
//! is answered automatically.

use mail_parser::{Message, MessagePart, MimeHeaders};

use crate::model::MessageFlag;

/// Headers whose presence alone marks an autoresponder (de facto).
const AUTORESPONDER_HEADERS: [&str; 3] = ["X-Autoreply", "X-Autorespond", "X-Autoresponder"];

/// Headers that mark mailing-list mail (RFC 2369, RFC 2919).
const LIST_HEADERS: [&str; 2] = ["List-Id", "List-Unsubscribe"];

/// Local parts of addresses that send delivery status notifications.
const DSN_SENDERS: [&str; 2] = ["mailer-daemon", "postmaster"];

/// Adds `flag` unless it is already in `flags`.
pub fn add_flag(flags: &mut Vec<MessageFlag>, flag: MessageFlag) {
    if !flags.contains(&flag) {
        flags.push(flag);
    }
}

/// The automation flags of a parsed mail, without duplicates, in the order
/// `AutoReply`, `Bounce`, `Bulk`. `null_sender` is true when the envelope
/// reverse path was empty (`MAIL FROM:<>`).
pub fn flags(message: &Message<'_>, null_sender: bool) -> Vec<MessageFlag> {
    let null_sender = null_sender || has_null_return_path(message);
    let bounce = is_bounce(message, null_sender);
    let bulk = precedence_is_bulk(message) || is_list_mail(message);
    let auto_reply = bounce
        || bulk
        || null_sender
        || is_auto_submitted(message)
        || has_autoresponder_header(message)
        || precedence_is_auto_reply(message)
        || is_report(message);

    let mut flags = Vec::new();
    for (set, flag) in [
        (auto_reply, MessageFlag::AutoReply),
        (bounce, MessageFlag::Bounce),
        (bulk, MessageFlag::Bulk),
    ] {
        if set {
            add_flag(&mut flags, flag);
        }
    }
    flags
}

/// The raw values of every header called `name` (case-insensitive), trimmed.
fn header_values<'a>(message: &'a Message<'_>, name: &'a str) -> impl Iterator<Item = &'a str> {
    message
        .headers_raw()
        .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// The first token of a header value (`auto-replied; owner=x` gives
/// `auto-replied`), lower-cased.
fn first_token(value: &str) -> String {
    value
        .split(|c: char| c == ';' || c == '(' || c == ',' || c.is_whitespace())
        .find(|token| !token.is_empty())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// `Return-Path: <>`: the final MTA recorded a null envelope sender.
fn has_null_return_path(message: &Message<'_>) -> bool {
    header_values(message, "Return-Path").any(|value| {
        let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        compact == "<>"
    })
}

/// `Auto-Submitted` with any value but `no` (RFC 3834 section 5).
fn is_auto_submitted(message: &Message<'_>) -> bool {
    header_values(message, "Auto-Submitted").any(|value| {
        let token = first_token(value);
        !token.is_empty() && token != "no"
    })
}

/// `X-Autoreply`, `X-Autorespond` or `X-Autoresponder`, unless its value
/// says `no` or `false`.
fn has_autoresponder_header(message: &Message<'_>) -> bool {
    AUTORESPONDER_HEADERS.iter().any(|name| {
        header_values(message, name)
            .any(|value| !matches!(first_token(value).as_str(), "no" | "false"))
    })
}

/// The lower-cased `Precedence` / `X-Precedence` tokens.
fn precedence_tokens(message: &Message<'_>) -> Vec<String> {
    ["Precedence", "X-Precedence"]
        .iter()
        .flat_map(|name| {
            header_values(message, name)
                .map(first_token)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn precedence_is_auto_reply(message: &Message<'_>) -> bool {
    precedence_tokens(message)
        .iter()
        .any(|token| token == "auto_reply" || token == "auto-reply")
}

fn precedence_is_bulk(message: &Message<'_>) -> bool {
    precedence_tokens(message)
        .iter()
        .any(|token| matches!(token.as_str(), "bulk" | "junk" | "list"))
}

/// `List-Id` or `List-Unsubscribe` with a value.
fn is_list_mail(message: &Message<'_>) -> bool {
    LIST_HEADERS
        .iter()
        .any(|name| header_values(message, name).any(|value| !value.is_empty()))
}

/// A `multipart/report` of any kind (DSN, read receipt, feedback report).
fn is_report(message: &Message<'_>) -> bool {
    message.is_content_type("multipart", "report")
}

/// A delivery status notification: a `multipart/report` with
/// `report-type=delivery-status`, any `message/delivery-status` part,
/// `X-Failed-Recipients`, or a mailer-daemon/postmaster From with a null
/// sender.
fn is_bounce(message: &Message<'_>, null_sender: bool) -> bool {
    is_dsn_report(message)
        || message.parts.iter().any(is_delivery_status_part)
        || header_values(message, "X-Failed-Recipients")
            .next()
            .is_some()
        || (null_sender && from_is_dsn_sender(message))
}

fn is_dsn_report(message: &Message<'_>) -> bool {
    message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("delivery-status"))
    })
}

fn is_delivery_status_part(part: &MessagePart<'_>) -> bool {
    part.is_content_type("message", "delivery-status")
        || part.is_content_type("message", "global-delivery-status")
}

fn from_is_dsn_sender(message: &Message<'_>) -> bool {
    message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .and_then(|address| address.rsplit_once('@'))
        .is_some_and(|(local, _)| DSN_SENDERS.iter().any(|d| local.eq_ignore_ascii_case(d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn flags_of(raw: &str, null_sender: bool) -> Vec<MessageFlag> {
        let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
        flags(&message, null_sender)
    }

    fn plain(extra_headers: &str) -> String {
        format!(
            "From: Jane <jane@customer.example>\r\nTo: support@example.com\r\n\
             Subject: Hello\r\nMessage-ID: <a1@customer.example>\r\n{extra_headers}\r\n\
             Body text.\r\n"
        )
    }

    #[test]
    fn ordinary_mail_has_no_flags() {
        assert!(flags_of(&plain(""), false).is_empty());
        assert!(flags_of(&plain("Auto-Submitted: no\r\n"), false).is_empty());
        assert!(flags_of(&plain("Auto-Submitted: No (human)\r\n"), false).is_empty());
        assert!(flags_of(&plain("Return-Path: <jane@customer.example>\r\n"), false).is_empty());
        assert!(flags_of(&plain("X-Autoreply: no\r\n"), false).is_empty());
    }

    #[test]
    fn auto_submitted_values_are_auto_replies() {
        for value in [
            "auto-replied",
            "auto-generated",
            "auto-notified",
            "AUTO-REPLIED; owner-email=\"x@y.z\"",
        ] {
            let got = flags_of(&plain(&format!("Auto-Submitted: {value}\r\n")), false);
            assert_eq!(got, vec![MessageFlag::AutoReply], "{value}");
        }
    }

    #[test]
    fn autoresponder_headers_are_auto_replies() {
        for header in [
            "X-Autoreply: yes",
            "X-Autorespond: 1",
            "X-Autoresponder: vacation",
            "x-autoreply: YES",
        ] {
            let got = flags_of(&plain(&format!("{header}\r\n")), false);
            assert_eq!(got, vec![MessageFlag::AutoReply], "{header}");
        }
    }

    #[test]
    fn precedence_values() {
        let auto = flags_of(&plain("Precedence: auto_reply\r\n"), false);
        assert_eq!(auto, vec![MessageFlag::AutoReply]);
        for value in ["bulk", "junk", "list", "Bulk"] {
            let got = flags_of(&plain(&format!("Precedence: {value}\r\n")), false);
            assert_eq!(
                got,
                vec![MessageFlag::AutoReply, MessageFlag::Bulk],
                "{value}"
            );
        }
        assert!(flags_of(&plain("Precedence: first-class\r\n"), false).is_empty());
    }

    #[test]
    fn list_headers_are_bulk() {
        let list_id = flags_of(
            &plain("List-Id: Announcements <announce.lists.example>\r\n"),
            false,
        );
        assert_eq!(list_id, vec![MessageFlag::AutoReply, MessageFlag::Bulk]);
        let unsubscribe = flags_of(
            &plain("List-Unsubscribe: <mailto:leave@lists.example>, <https://lists.example/u>\r\n"),
            false,
        );
        assert_eq!(unsubscribe, vec![MessageFlag::AutoReply, MessageFlag::Bulk]);
    }

    #[test]
    fn null_sender_is_an_auto_reply() {
        assert_eq!(flags_of(&plain(""), true), vec![MessageFlag::AutoReply]);
        assert_eq!(
            flags_of(&plain("Return-Path: <>\r\n"), false),
            vec![MessageFlag::AutoReply]
        );
        assert_eq!(
            flags_of(&plain("Return-Path: < >\r\n"), false),
            vec![MessageFlag::AutoReply]
        );
    }

    #[test]
    fn failed_recipients_header_is_a_bounce() {
        let got = flags_of(
            &plain("X-Failed-Recipients: nobody@customer.example\r\n"),
            false,
        );
        assert_eq!(got, vec![MessageFlag::AutoReply, MessageFlag::Bounce]);
    }

    #[test]
    fn mailer_daemon_bounces_only_with_a_null_sender() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.customer.example>\r\n\
                   To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n\
                   This is the mail system.\r\n";
        assert_eq!(
            flags_of(raw, true),
            vec![MessageFlag::AutoReply, MessageFlag::Bounce]
        );
        let postmaster = raw.replace("MAILER-DAEMON@", "postmaster@");
        let with_return_path = format!("Return-Path: <>\r\n{postmaster}");
        assert_eq!(
            flags_of(&with_return_path, false),
            vec![MessageFlag::AutoReply, MessageFlag::Bounce]
        );
        assert!(flags_of(raw, false).is_empty());
    }

    const DSN: &str = "Return-Path: <>\r\n\
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n\
To: support@example.com\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Date: Mon, 3 Mar 2025 10:00:00 +0000\r\n\
Message-ID: <20250303100000.ABC@mx.example.com>\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; Report-Type=\"delivery-status\";\r\n\
\tboundary=\"dsn-boundary\"\r\n\
\r\n\
--dsn-boundary\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
\r\n\
<gone@customer.example>: host mx.customer.example said: 550 5.1.1 User unknown\r\n\
\r\n\
--dsn-boundary\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.com\r\n\
\r\n\
Final-Recipient: rfc822; gone@customer.example\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
\r\n\
--dsn-boundary\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: support@example.com\r\n\
To: gone@customer.example\r\n\
Subject: Re: Your order\r\n\
Message-ID: <reply-1@example.com>\r\n\
\r\n\
Thanks for your order.\r\n\
\r\n\
--dsn-boundary--\r\n";

    #[test]
    fn dsn_is_a_bounce() {
        assert_eq!(
            flags_of(DSN, false),
            vec![MessageFlag::AutoReply, MessageFlag::Bounce]
        );
        assert_eq!(
            flags_of(DSN, true),
            vec![MessageFlag::AutoReply, MessageFlag::Bounce]
        );
    }

    #[test]
    fn report_type_alone_or_status_part_alone_is_a_bounce() {
        let no_headers = DSN
            .replace("Return-Path: <>\r\n", "")
            .replace("Auto-Submitted: auto-replied\r\n", "")
            .replace("MAILER-DAEMON@", "mta@");
        let report_only = no_headers.replace(
            "Content-Type: message/delivery-status",
            "Content-Type: text/plain",
        );
        assert_eq!(
            flags_of(&report_only, false),
            vec![MessageFlag::AutoReply, MessageFlag::Bounce]
        );
        let mixed = no_headers.replace(
            "multipart/report; Report-Type=\"delivery-status\"",
            "multipart/mixed",
        );
        assert_eq!(
            flags_of(&mixed, false),
            vec![MessageFlag::AutoReply, MessageFlag::Bounce]
        );
    }

    #[test]
    fn read_receipt_is_an_auto_reply_not_a_bounce() {
        let mdn = DSN
            .replace("Return-Path: <>\r\n", "")
            .replace("Auto-Submitted: auto-replied\r\n", "")
            .replace("MAILER-DAEMON@", "jane@")
            .replace("delivery-status", "disposition-notification");
        assert_eq!(flags_of(&mdn, false), vec![MessageFlag::AutoReply]);
    }

    #[test]
    fn many_signals_give_each_flag_once() {
        let raw = plain(
            "Auto-Submitted: auto-generated\r\nX-Autoreply: yes\r\nPrecedence: bulk\r\n\
             X-Precedence: list\r\nList-Id: <news.example>\r\nReturn-Path: <>\r\n\
             X-Failed-Recipients: a@b.example\r\n",
        );
        assert_eq!(
            flags_of(&raw, true),
            vec![
                MessageFlag::AutoReply,
                MessageFlag::Bounce,
                MessageFlag::Bulk
            ]
        );
    }

    #[test]
    fn add_flag_skips_duplicates() {
        let mut flags = vec![MessageFlag::AutoReply];
        add_flag(&mut flags, MessageFlag::AutoReply);
        add_flag(&mut flags, MessageFlag::Forwarded);
        assert_eq!(flags, vec![MessageFlag::AutoReply, MessageFlag::Forwarded]);
    }
}
