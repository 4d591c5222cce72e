//! `Inbound`: what every channel adapter produces, and the only thing ingest takes.

use sha2::{Digest, Sha256};

use crate::model::{MessageFlag, Millis, Party};

/// How a sender is identified on a channel kind (an email address, a phone
/// number, a page-scoped id, a widget visitor id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The identity namespace, e.g. `"email"`, `"phone"`, `"messenger"`.
    pub kind: String,
    /// The handle within that namespace, normalised by the adapter
    /// (email addresses lower-cased).
    pub handle: String,
}

/// The sender of an inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub identity: Identity,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Hints the adapter found for which conversation a message belongs to,
/// tried in the order of the fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadHints {
    /// A conversation reply token (from a reply address), if any.
    pub reply_token: Option<String>,
    /// External ids the message answers directly (email In-Reply-To).
    pub in_reply_to: Vec<String>,
    /// External ids of earlier messages in the thread (email References).
    pub references: Vec<String>,
    /// Continue the sender's latest open conversation on this channel
    /// (chat and messaging channels, where there is no subject line).
    pub continue_open: bool,
    /// The channel's own thread id (a custom channel's `thread_id`): every
    /// message naming it joins the conversation its first message started.
    pub thread: Option<String>,
}

/// An attachment as received.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundAttachment {
    pub name: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One message received on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub channel: String,
    /// The channel's id for the message (Message-ID, `mid`, `wamid`...):
    /// the key that makes ingest idempotent.
    pub external_id: Option<String>,
    pub sender: Sender,
    /// The team member who forwarded the message, when the channel saw one.
    pub forwarded_by: Option<Party>,
    pub to: Vec<String>,
    /// Whom the sender wrote to (an email's To and Cc headers), as
    /// normalised addresses: they become participants of the conversation,
    /// so their own replies to it may join it.
    pub recipients: Vec<String>,
    /// Set when the sender is an agent writing from their own mail client.
    pub from_agent: Option<AgentMail>,
    /// The external id is a key the sender chose for one message (a custom
    /// channel's idempotency key, a form's single-use render token): the
    /// same id from the same sender is that message whatever it says now;
    /// from another sender it is another message. Otherwise (Message-IDs,
    /// provider ids) the content must match too.
    pub id_names_message: bool,
    pub thread_hints: ThreadHints,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<InboundAttachment>,
    pub flags: Vec<MessageFlag>,
    pub sent_at: Option<Millis>,
    /// The bytes as received, kept for audit where the channel has them.
    pub raw: Option<Vec<u8>>,
    /// A button's payload the person chose (a quick reply or postback),
    /// which automations act on (e.g. consent).
    pub postback: Option<String>,
}

/// An email an agent sent from their own mail client with the team address
/// among the recipients: where it threads into a conversation it is that
/// agent's reply (recorded, not sent again, not routed).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentMail {
    /// The agent's id.
    pub agent: String,
    /// The first recipient outside the team: for a mail that threads
    /// nowhere, the person the agent wrote to (a new outbound conversation).
    pub recipient: Option<Sender>,
}

impl Inbound {
    /// A digest of what the message says and who says it (only who, for
    /// `id_names_message`): the sender's
    /// identity, subject, text (line ends and trailing spaces normalised),
    /// HTML, attachments (name, type, bytes), button payload and channel
    /// thread. Two deliveries of one message have the same digest however
    /// their transports differ (an email's added `Received:` lines, its
    /// transfer encoding); a different message with a reused external id
    /// has another.
    pub fn content_digest(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(self.sender.identity.kind.as_bytes());
        field(self.sender.identity.handle.as_bytes());
        if self.id_names_message {
            return hash.finalize().into();
        }
        field(normalized_text(self.subject.as_deref()).as_bytes());
        field(normalized_text(self.text.as_deref()).as_bytes());
        field(normalized_text(self.html.as_deref()).as_bytes());
        for attachment in &self.attachments {
            field(attachment.name.as_deref().unwrap_or("").as_bytes());
            field(attachment.content_type.as_bytes());
            field(&Sha256::digest(&attachment.bytes));
        }
        field(self.postback.as_deref().unwrap_or("").as_bytes());
        field(self.thread_hints.thread.as_deref().unwrap_or("").as_bytes());
        hash.finalize().into()
    }
}

/// Text with `\r\n` line ends, trailing spaces and surrounding blank lines
/// taken away: what differs between two transports of the same text.
pub fn normalized_text(text: Option<&str>) -> String {
    let text = text.unwrap_or("");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Inbound {
        Inbound {
            channel: "support-email".into(),
            external_id: Some("m1@example.com".into()),
            sender: Sender {
                identity: Identity {
                    kind: "email".into(),
                    handle: "mia@customer.example".into(),
                },
                name: None,
                email: Some("mia@customer.example".into()),
                phone: None,
            },
            forwarded_by: None,
            to: vec!["support@example.com".into()],
            recipients: Vec::new(),
            from_agent: None,
            id_names_message: false,
            thread_hints: ThreadHints::default(),
            subject: Some("Printer".into()),
            text: Some(text.into()),
            html: None,
            attachments: Vec::new(),
            flags: Vec::new(),
            sent_at: None,
            raw: Some(b"Received: by relay one".to_vec()),
            postback: None,
        }
    }

    #[test]
    fn the_same_message_through_another_transport_has_the_same_digest() {
        let mut relayed = message("Help  \r\nplease\r\n\r\n");
        relayed.raw = Some(b"Received: by relay two".to_vec());
        relayed.to = vec!["support+x@example.com".into()];
        assert_eq!(
            message("Help\nplease").content_digest(),
            relayed.content_digest()
        );
    }

    #[test]
    fn another_sender_or_text_has_another_digest() {
        let first = message("Help").content_digest();
        assert_ne!(first, message("Help!").content_digest());
        let mut other = message("Help");
        other.sender.identity.handle = "ivy@other.example".into();
        assert_ne!(first, other.content_digest());
        let mut attached = message("Help");
        attached.attachments.push(InboundAttachment {
            name: Some("a.pdf".into()),
            content_type: "application/pdf".into(),
            bytes: vec![1, 2, 3],
        });
        assert_ne!(first, attached.content_digest());
    }
}
