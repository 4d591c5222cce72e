//! SMS and MMS through a Twilio-compatible provider (PROTOCOLS.md 3): the
//! signed inbound webhook and status callbacks, sending replies through the
//! REST API, and STOP/START opt-outs.

pub mod send;
pub mod signature;
pub mod webhook;

/// The longest `Body` the provider takes, in characters.
pub const MAX_TEXT: usize = 1600;

/// The identity namespace of SMS senders: E.164 numbers, shared with
/// WhatsApp so that one person is one contact.
pub const IDENTITY_KIND: &str = crate::channels::meta::whatsapp_events::IDENTITY_KIND;

/// What an inbound text asks for, by the provider's standard keywords
/// (trimmed, any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

/// The opt-out or opt-in keyword a text is, if it is one.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text.trim().to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::OptOut),
        "START" | "UNSTOP" => Some(Keyword::OptIn),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_trimmed_and_case_insensitive() {
        for word in ["STOP", " stop ", "Unsubscribe", "cancel\n", "END", "quit"] {
            assert_eq!(keyword(word), Some(Keyword::OptOut), "{word:?}");
        }
        for word in ["START", "unstop", " Start "] {
            assert_eq!(keyword(word), Some(Keyword::OptIn), "{word:?}");
        }
        for word in ["stop it", "please stop", "", "starting", "yes"] {
            assert_eq!(keyword(word), None, "{word:?}");
        }
    }
}
