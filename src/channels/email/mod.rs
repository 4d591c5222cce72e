//! Team email: the SMTP receiver, MIME parsing into `Inbound`s (one per inbox
//! addressed), forwarded-mail attribution and auto-reply/bounce flags.

pub mod auto_reply;
pub mod compose;
pub mod forwarded;
pub mod lenient;
pub mod notify;
pub mod parse;
pub mod receive;
pub mod relay;
pub mod smtp;

use std::net::SocketAddr;

/// What the SMTP envelope says about one message.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub peer: SocketAddr,
    /// The HELO/EHLO name the client gave.
    pub helo: String,
    /// The reverse path; `None` for the null sender `MAIL FROM:<>`.
    pub mail_from: Option<String>,
    /// Accepted recipients (each belongs to a configured email channel).
    pub recipients: Vec<String>,
}

/// The answer to give the SMTP client at the end of DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Durably stored: answer `250`.
    Stored { queue_id: String },
    /// Refused for good: answer this `5xx`.
    Rejected { code: u16, message: String },
    /// Could not be stored now: answer this `4xx` so the client retries.
    TryLater { code: u16, message: String },
}
