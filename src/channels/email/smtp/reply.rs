//! The replies the receiver writes, all in one place.
//!
//! mailin decides *what* happens (its state machine accepts or refuses a
//! command); this module decides *what the client reads*. We advertise
//! `ENHANCEDSTATUSCODES`, so every 2xx/4xx/5xx reply carries an RFC 3463
//! enhanced code (RFC 2034 exempts only the greeting and the HELO/EHLO
//! replies). mailin's own texts have none, so [`from_mailin`] rewrites them
//! by code and command; texts our handler built already carry one and pass
//! through unchanged.
//!
//! A refusal also carries why it was given ([`SmtpRejection`]), which the
//! session counts in the metrics when it writes the reply.

use mailin::Response;

use super::command::Verb;
use crate::channels::email::Delivery;
use crate::metrics::SmtpRejection;

/// One SMTP reply, single- or multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    code: u16,
    lines: Vec<String>,
    reason: Option<SmtpRejection>,
}

impl Reply {
    /// A one-line reply. CR and LF in `text` become spaces, so no text can
    /// forge a second reply.
    pub(crate) fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![clean(text.into())],
            reason: None,
        }
    }

    /// The same reply, marked as a refusal for `reason`.
    fn because(self, reason: impl Into<Option<SmtpRejection>>) -> Self {
        Reply {
            reason: reason.into(),
            ..self
        }
    }

    /// Why this reply refuses something; `None` for replies that do not.
    pub(crate) fn rejection(&self) -> Option<SmtpRejection> {
        self.reason
    }

    pub(crate) fn code(&self) -> u16 {
        self.code
    }

    /// The text of the first line, for logs.
    pub(crate) fn text(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }

    /// The reply as written on the wire (`250-a\r\n250 b\r\n` for several lines).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}{}\r\n", self.code, sep, line).as_bytes());
        }
        out
    }

    /// The same reply as a mailin `Response`, for handler callbacks.
    pub(crate) fn into_mailin(self) -> Response {
        Response::custom(self.code, self.lines.join(" "))
    }
}

fn clean(text: String) -> String {
    if text.contains(['\r', '\n']) {
        text.replace(['\r', '\n'], " ")
    } else {
        text
    }
}

pub(crate) fn greeting(hostname: &str) -> Reply {
    Reply::new(220, format!("{hostname} ESMTP"))
}

/// The EHLO reply: our extensions, not mailin's (it cannot advertise SIZE).
pub(crate) fn ehlo(hostname: &str, max_message_bytes: u64, offer_starttls: bool) -> Reply {
    let mut lines = vec![
        hostname.to_string(),
        format!("SIZE {max_message_bytes}"),
        "8BITMIME".to_string(),
        "ENHANCEDSTATUSCODES".to_string(),
    ];
    if offer_starttls {
        lines.push("STARTTLS".to_string());
    }
    Reply {
        code: 250,
        lines,
        reason: None,
    }
}

pub(crate) fn helo(hostname: &str) -> Reply {
    Reply::new(250, hostname)
}

pub(crate) fn start_data() -> Reply {
    Reply::new(354, "End data with <CR><LF>.<CR><LF>")
}

pub(crate) fn tls_ready() -> Reply {
    Reply::new(220, "2.0.0 Ready to start TLS")
}

pub(crate) fn unknown_recipient(address: &str) -> Reply {
    Reply::new(550, format!("5.1.1 <{address}>: recipient not found"))
        .because(SmtpRejection::UnknownRecipient)
}

pub(crate) fn too_many_recipients() -> Reply {
    Reply::new(452, "4.5.3 Too many recipients").because(SmtpRejection::TooManyRecipients)
}

pub(crate) fn message_too_big() -> Reply {
    Reply::new(552, "5.3.4 Message too big").because(SmtpRejection::TooBig)
}

pub(crate) fn declared_size_too_big(max_message_bytes: u64) -> Reply {
    Reply::new(
        552,
        format!(
            "5.3.4 Message size exceeds fixed maximum message size of {max_message_bytes} bytes"
        ),
    )
    .because(SmtpRejection::TooBig)
}

pub(crate) fn data_line_too_long(limit: usize) -> Reply {
    Reply::new(554, format!("5.6.0 Message line longer than {limit} bytes"))
        .because(SmtpRejection::LineTooLong)
}

pub(crate) fn command_line_too_long() -> Reply {
    Reply::new(500, "5.5.2 Line too long").because(SmtpRejection::LineTooLong)
}

pub(crate) fn bare_lf_in_command() -> Reply {
    Reply::new(500, "5.5.2 Bare <LF> line endings are not allowed").because(SmtpRejection::BareLf)
}

pub(crate) fn bare_lf_in_data() -> Reply {
    Reply::new(554, "5.5.2 Bare <LF> line endings are not allowed").because(SmtpRejection::BareLf)
}

pub(crate) fn bad_parameter_syntax() -> Reply {
    Reply::new(501, "5.5.4 Syntax error in parameters").because(SmtpRejection::Malformed)
}

pub(crate) fn unsupported_parameter() -> Reply {
    Reply::new(555, "5.5.4 Unsupported parameter").because(SmtpRejection::Malformed)
}

pub(crate) fn idle_timeout() -> Reply {
    Reply::new(421, "4.4.2 Idle timeout, closing connection").because(SmtpRejection::Timeout)
}

pub(crate) fn session_timeout() -> Reply {
    Reply::new(421, "4.4.2 Session timeout, closing connection").because(SmtpRejection::Timeout)
}

pub(crate) fn too_many_connections() -> Reply {
    Reply::new(421, "4.3.2 Too many connections, try again later").because(SmtpRejection::Busy)
}

pub(crate) fn too_many_from_address() -> Reply {
    Reply::new(
        421,
        "4.7.0 Too many connections from your address, try again later",
    )
    .because(SmtpRejection::AddressBusy)
}

pub(crate) fn shutting_down() -> Reply {
    Reply::new(421, "4.3.0 Server shutting down, try again later")
}

pub(crate) fn internal_error() -> Reply {
    Reply::new(421, "4.3.0 Internal error, closing connection")
}

/// The storage folder is below its free-space reserve: the client keeps
/// the message and tries again (RFC 3463 4.3.1, as Postfix's
/// `queue_minfree`).
pub(crate) fn insufficient_storage() -> Reply {
    Reply::new(452, INSUFFICIENT_STORAGE).because(SmtpRejection::InsufficientStorage)
}

/// The text of [`insufficient_storage`], also what the sink answers at the
/// end of DATA when the reserve was reached meanwhile.
pub const INSUFFICIENT_STORAGE: &str = "4.3.1 Insufficient system storage, try again later";

pub(crate) fn local_error() -> Reply {
    Reply::new(451, "4.3.0 Local error in processing, try again later")
}

/// The reply at the end of DATA, from what the sink said. A code of the wrong
/// class (a "temporary" 5xx, say) is corrected so the client's retry logic
/// does what the sink meant, and a message without an enhanced code gets a
/// generic one, so that every reply keeps the promise of EHLO.
pub(crate) fn from_delivery(delivery: &Delivery) -> Reply {
    let (code, message) = match delivery {
        Delivery::Stored { queue_id } => {
            return Reply::new(250, format!("2.0.0 Ok: queued as {queue_id}"))
        }
        Delivery::Rejected { code, message } if (500..600).contains(code) => (*code, message),
        Delivery::Rejected { message, .. } => (554, message),
        Delivery::TryLater { code, message } if (400..500).contains(code) => (*code, message),
        Delivery::TryLater { message, .. } => (451, message),
    };
    let reply = if has_enhanced_code(message) {
        Reply::new(code, message.clone())
    } else {
        Reply::new(code, format!("{}.0.0 {message}", code / 100))
    };
    let reason = match delivery {
        Delivery::TryLater { .. } if reply.text().starts_with("4.3.1 ") => {
            SmtpRejection::InsufficientStorage
        }
        Delivery::TryLater { .. } => SmtpRejection::StoreFailure,
        _ if reply.text().starts_with("5.1.1 ") => SmtpRejection::UnknownRecipient,
        _ => SmtpRejection::Malformed,
    };
    reply.because(reason)
}

/// Rewrites a one-line mailin response to `verb` with an enhanced code.
/// (EHLO, HELO and DATA's 354 are answered by the session itself.)
pub(crate) fn from_mailin(verb: Verb, response: &Response) -> Reply {
    let code = response.code;
    let written = response.buffer().unwrap_or_default();
    let written = String::from_utf8_lossy(&written);
    let text = written
        .lines()
        .next()
        .and_then(|line| line.get(4..))
        .unwrap_or("");
    if has_enhanced_code(text) {
        // Our handler's refusals, which lost their reason inside mailin.
        let reason = match (code, text.split(' ').next()) {
            (550, Some("5.1.1")) => Some(SmtpRejection::UnknownRecipient),
            (452, Some("4.5.3")) => Some(SmtpRejection::TooManyRecipients),
            (452, Some("4.3.1")) => Some(SmtpRejection::InsufficientStorage),
            _ => None,
        };
        return Reply::new(code, text).because(reason);
    }
    let reason = (500..=504)
        .contains(&code)
        .then_some(SmtpRejection::Malformed);
    let text = match (code, verb) {
        (250, Verb::Mail) => "2.1.0 Sender ok",
        (250, Verb::Rcpt) => "2.1.5 Recipient ok",
        (250, _) => "2.0.0 Ok",
        (221, _) => "2.0.0 Bye",
        (252, _) => "2.5.0 Cannot VRFY user, but will accept message",
        (421, _) => "4.3.0 Service not available, closing connection",
        (451, _) => "4.3.0 Local error in processing",
        (500, _) => "5.5.2 Syntax error",
        (502, _) => "5.5.4 Missing parameter",
        (503, _) => "5.5.1 Bad sequence of commands",
        (550, _) => "5.7.1 Refused",
        (554, _) => "5.0.0 Transaction failed",
        (400..=499, _) => return Reply::new(code, format!("4.0.0 {text}")),
        (500..=599, _) => return Reply::new(code, format!("5.0.0 {text}")).because(reason),
        _ => return Reply::new(code, format!("2.0.0 {text}")),
    };
    Reply::new(code, text).because(reason)
}

/// Whether `text` starts with an enhanced status code such as `5.1.1 `.
fn has_enhanced_code(text: &str) -> bool {
    let Some((code, _)) = text.split_once(' ') else {
        return false;
    };
    let parts: Vec<&str> = code.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        String::from_utf8(reply.to_bytes()).unwrap()
    }

    #[test]
    fn ehlo_lists_extensions_last_line_with_space() {
        let text = wire(&ehlo("mx.example.com", 1000, true));
        assert_eq!(
            text,
            "250-mx.example.com\r\n250-SIZE 1000\r\n250-8BITMIME\r\n\
             250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"
        );
        assert!(!wire(&ehlo("h", 1, false)).contains("STARTTLS"));
    }

    #[test]
    fn reply_text_cannot_inject_a_second_reply() {
        let reply = Reply::new(451, "4.3.0 a\r\n250 fake");
        assert_eq!(wire(&reply), "451 4.3.0 a  250 fake\r\n");
    }

    #[test]
    fn mailin_texts_get_enhanced_codes() {
        let bad = from_mailin(Verb::Other, &Response::custom(503, "Bad sequence".into()));
        assert_eq!(wire(&bad), "503 5.5.1 Bad sequence of commands\r\n");
        let ok = from_mailin(Verb::Rcpt, &mailin::response::OK);
        assert_eq!(wire(&ok), "250 2.1.5 Recipient ok\r\n");
        let bye = from_mailin(Verb::Quit, &mailin::response::GOODBYE);
        assert_eq!(wire(&bye), "221 2.0.0 Bye\r\n");
    }

    #[test]
    fn handler_texts_with_enhanced_codes_pass_through() {
        let response = unknown_recipient("a@b.c").into_mailin();
        let reply = from_mailin(Verb::Rcpt, &response);
        assert_eq!(wire(&reply), "550 5.1.1 <a@b.c>: recipient not found\r\n");
    }

    #[test]
    fn delivery_codes_of_the_wrong_class_are_corrected() {
        let later = from_delivery(&Delivery::TryLater {
            code: 554,
            message: "4.3.0 busy".into(),
        });
        assert_eq!(later.code(), 451);
        let bare = from_delivery(&Delivery::Rejected {
            code: 550,
            message: "no such channel".into(),
        });
        assert_eq!(wire(&bare), "550 5.0.0 no such channel\r\n");
        let stored = from_delivery(&Delivery::Stored {
            queue_id: "Q1".into(),
        });
        assert_eq!(wire(&stored), "250 2.0.0 Ok: queued as Q1\r\n");
    }

    #[test]
    fn refusals_say_why() {
        let reason = |reply: Reply| reply.rejection();
        assert_eq!(
            reason(from_mailin(
                Verb::Rcpt,
                &unknown_recipient("a@b.c").into_mailin()
            )),
            Some(SmtpRejection::UnknownRecipient)
        );
        assert_eq!(
            reason(from_mailin(
                Verb::Rcpt,
                &too_many_recipients().into_mailin()
            )),
            Some(SmtpRejection::TooManyRecipients)
        );
        let syntax = from_mailin(Verb::Other, &Response::custom(500, "Syntax".into()));
        assert_eq!(reason(syntax), Some(SmtpRejection::Malformed));
        assert_eq!(reason(from_mailin(Verb::Rcpt, &mailin::response::OK)), None);
        assert_eq!(reason(message_too_big()), Some(SmtpRejection::TooBig));
        assert_eq!(reason(bare_lf_in_data()), Some(SmtpRejection::BareLf));
        assert_eq!(reason(idle_timeout()), Some(SmtpRejection::Timeout));
        assert_eq!(reason(too_many_connections()), Some(SmtpRejection::Busy));
        assert_eq!(reason(shutting_down()), None);
        let later = from_delivery(&Delivery::TryLater {
            code: 451,
            message: "4.3.0 busy".into(),
        });
        assert_eq!(reason(later), Some(SmtpRejection::StoreFailure));
        let unparseable = from_delivery(&Delivery::Rejected {
            code: 554,
            message: "5.6.0 Message refused: not an email".into(),
        });
        assert_eq!(reason(unparseable), Some(SmtpRejection::Malformed));
        let stored = from_delivery(&Delivery::Stored {
            queue_id: "Q".into(),
        });
        assert_eq!(reason(stored), None);
    }

    #[test]
    fn enhanced_code_detection() {
        assert!(has_enhanced_code("5.1.1 <x>"));
        assert!(has_enhanced_code("4.3.0 busy"));
        assert!(!has_enhanced_code("Mailbox unavailable"));
        assert!(!has_enhanced_code("5.1 x"));
        assert!(!has_enhanced_code("2.0.0"));
    }
}
