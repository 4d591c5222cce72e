//! One visitor socket's conversation with the daemon, frame by frame:
//! `hello` (token, identity verification, history; a new visitor counts
//! against its address's limit), `message` (checks, consent, the visitor's
//! and the address's rate limits, then ingest: acknowledged only once
//! durable, a resend of the same `client_id` gets the same ack), `email`,
//! `seen` and `consent`. Every refusal is an `error` frame; the socket loop
//! (`socket`) writes what this returns.

use std::sync::Arc;

use serde_json::{json, Value};

use super::availability;
use super::protocol::{self, ClientFrame, FrameError, MAX_CLIENT_ID};
use super::socket::chat_channel;
use super::token;
use crate::app::App;
use crate::config::{ChatChannel, Consent};
use crate::email_address;
use crate::ids::Id;
use crate::inbound::{Identity, Inbound, Sender, ThreadHints};
use crate::ingest;
use crate::model::{ConsentRecord, Contact, DeliveryState, DeliveryStatus, Direction};
use crate::store::ContactPatch;

/// History sent in `welcome`: the latest messages.
const HISTORY: usize = 200;
/// Close code for a token that is not valid (the widget starts afresh).
const CLOSE_BAD_TOKEN: u16 = 4401;
/// Close code for a new visitor over its address's limit: 1013, "try
/// again later" (a passing condition, unlike 1008's policy violation); the
/// widget reconnects after the `retry_after_ms` of the error frame.
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// Who the socket speaks for, once it said hello.
pub(super) struct Visitor {
    id: String,
    identity: Identity,
    /// A verified email from the site (identity verification).
    verified_email: Option<String>,
    contact: Option<Contact>,
}

pub(super) struct Session {
    app: Arc<App>,
    channel: String,
    socket: u64,
    /// The client address's limit key (`limits::address_key`).
    address: String,
    visitor: Option<Visitor>,
    /// The visitor ticked "I agree" on this socket.
    consented_at: Option<i64>,
    /// An address left before the contact existed.
    email: Option<String>,
}

/// What a frame asks the loop to do.
pub(super) enum Reply {
    Frames(Vec<String>),
    Close(String, u16, &'static str),
}

impl Reply {
    pub(super) fn one(frame: String) -> Reply {
        Reply::Frames(vec![frame])
    }
    pub(super) fn error(
        code: &'static str,
        message: impl Into<String>,
        client_id: Option<&str>,
    ) -> Reply {
        Reply::one(protocol::error(&FrameError::new(code, message), client_id))
    }
}

impl Session {
    pub(super) fn new(app: Arc<App>, channel: String, socket: u64, address: String) -> Session {
        Session {
            app,
            channel,
            socket,
            address,
            visitor: None,
            consented_at: None,
            email: None,
        }
    }

    fn chat(&self) -> Option<ChatChannel> {
        chat_channel(&self.app, &self.channel)
    }

    /// Whether the socket said hello.
    pub(super) fn said_hello(&self) -> bool {
        self.visitor.is_some()
    }

    pub(super) async fn handle(&mut self, text: &str) -> Reply {
        let frame = match protocol::parse(text) {
            Ok(frame) => frame,
            Err(error) => return Reply::one(protocol::error(&error, None)),
        };
        let Some(chat) = self.chat() else {
            let frame = protocol::error(
                &FrameError::new("channel_gone", "this chat is no longer configured"),
                None,
            );
            return Reply::Close(frame, 1008, "channel gone");
        };
        match frame {
            ClientFrame::Ping => Reply::one(json!({"type": "pong"}).to_string()),
            ClientFrame::Hello {
                visitor_token,
                user_email,
                user_hash,
            } => {
                if self.visitor.is_some() {
                    return Reply::error("already_hello", "hello was already said", None);
                }
                self.hello(&chat, visitor_token, user_email, user_hash)
                    .await
            }
            _ if self.visitor.is_none() => {
                Reply::error("hello_first", "send hello before anything else", None)
            }
            ClientFrame::Consent { accepted } => {
                if accepted {
                    self.consented_at = Some(self.app.clock.now());
                    Reply::one(json!({"type": "consent_recorded"}).to_string())
                } else {
                    self.consented_at = None;
                    Reply::Frames(Vec::new())
                }
            }
            ClientFrame::Message { client_id, text } => self.message(&chat, client_id, text).await,
            ClientFrame::Email { address } => self.email(address).await,
            ClientFrame::Seen { message_id } => self.seen(&message_id).await,
            ClientFrame::Typing { .. } => Reply::Frames(Vec::new()),
        }
    }

    async fn hello(
        &mut self,
        chat: &ChatChannel,
        visitor_token: Option<String>,
        user_email: Option<String>,
        user_hash: Option<String>,
    ) -> Reply {
        let app = self.app.clone();
        let key = match visitor_key(&app).await {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(%error, "chat: no visitor key");
                return Reply::error("unavailable", "try again shortly", None);
            }
        };
        let visitor_id = match visitor_token.as_deref().filter(|t| !t.is_empty()) {
            Some(given) => match token::verify(&key, &self.channel, given) {
                Some(id) => id,
                None => {
                    let frame = protocol::error(
                        &FrameError::new("invalid_token", "this visitor token is not valid here"),
                        None,
                    );
                    return Reply::Close(frame, CLOSE_BAD_TOKEN, "invalid token");
                }
            },
            None => {
                let per_minute = chat.per_address.new_conversations_per_minute;
                let now = app.clock.now();
                if let Err(wait) = app.chat.limits.new_visitor(&self.address, per_minute, now) {
                    tracing::debug!("chat: too many new visitors from one address");
                    app.metrics
                        .chat_rejected(&self.channel, "new_conversations");
                    let frame = rate_limited(
                        "too many new chats from your address; try again in a moment",
                        None,
                        wait,
                    );
                    return Reply::Close(frame, CLOSE_TRY_AGAIN_LATER, "too many new chats");
                }
                token::new_visitor_id()
            }
        };
        let mut frames = Vec::new();
        let verified_email = match (user_email, user_hash) {
            (Some(email), Some(hash)) => {
                let verified = chat
                    .identity_secret
                    .as_ref()
                    .is_some_and(|secret| token::verify_identity(secret.expose(), &email, &hash));
                match email_address::normalize(&email).filter(|_| verified) {
                    Some(email) => Some(email),
                    None => {
                        frames.push(protocol::error(
                            &FrameError::new(
                                "identity_not_verified",
                                "the user hash does not match; chatting anonymously",
                            ),
                            None,
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        let identity = match &verified_email {
            Some(email) => Identity {
                kind: "email".into(),
                handle: email.clone(),
            },
            None => Identity {
                kind: "chat".into(),
                handle: visitor_id.clone(),
            },
        };
        let contact = match app
            .store
            .contact_by_identity(&identity.kind, &identity.handle)
        {
            Ok(contact) => contact,
            Err(error) => {
                tracing::error!(%error, "chat: cannot read the visitor's contact");
                return Reply::error("unavailable", "try again shortly", None);
            }
        };
        let conversation = contact.as_ref().and_then(|c| {
            app.store
                .latest_conversation_on(c.id, &self.channel)
                .ok()
                .flatten()
        });
        let history = match &conversation {
            Some(conversation) => app.store.messages(conversation.id).unwrap_or_default(),
            None => Vec::new(),
        };
        app.chat.set_handle(self.socket, &identity.handle);
        if let Some(conversation) = &conversation {
            app.chat
                .set_conversation_of_handle(&identity.handle, conversation.id);
        }
        // The visitor sees every agent reply in the history now.
        let unseen: Vec<Id> = history
            .iter()
            .filter(|m| m.direction == Direction::Outbound && !m.private)
            .filter(|m| {
                m.status
                    .as_ref()
                    .is_some_and(|s| s.state.can_become(DeliveryState::Delivered))
            })
            .map(|m| m.id)
            .collect();
        mark_delivered(&app, unseen).await;
        let skip = history.len().saturating_sub(HISTORY);
        let views: Vec<Value> = history
            .iter()
            .skip(skip)
            .filter_map(|m| protocol::message_view(m, &chat.team_name))
            .collect();
        let workspace = app.workspace();
        let away = workspace
            .channel(&self.channel)
            .and_then(|channel| availability::away(&app, &workspace, channel, chat));
        let assignee = conversation
            .as_ref()
            .and_then(|c| c.assignee.as_deref())
            .map(|id| {
                workspace
                    .agent(id)
                    .map_or(id, |a| a.name.as_str())
                    .to_string()
            });
        let consent_given = contact.as_ref().is_some_and(|c| c.consent.is_some());
        frames.push(
            json!({
                "type": "welcome",
                "visitor_token": token::issue(&key, &self.channel, &visitor_id),
                "conversation": conversation.as_ref().map(|c| c.id.to_string()),
                "history": views,
                "availability": availability::view(away, chat),
                "branding": availability::branding(chat),
                "consent_required": chat.consent == Consent::Explicit && !consent_given,
                "email": contact.as_ref().and_then(|c| c.email.clone()).or(verified_email.clone()),
                "agent": assignee.map(|name| json!({"name": name})),
            })
            .to_string(),
        );
        self.visitor = Some(Visitor {
            id: visitor_id,
            identity,
            verified_email,
            contact,
        });
        Reply::Frames(frames)
    }

    async fn message(&mut self, chat: &ChatChannel, client_id: String, text: String) -> Reply {
        let cid = Some(client_id.as_str());
        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID {
            return Reply::error(
                "bad_client_id",
                format!("client_id must be 1 to {MAX_CLIENT_ID} characters"),
                cid,
            );
        }
        let text = text.trim().to_string();
        if text.is_empty() {
            return Reply::error("empty", "the message is empty", cid);
        }
        let chars = text.chars().count();
        if chars > chat.max_message_chars {
            return Reply::error(
                "too_long",
                format!(
                    "the message has {chars} characters; at most {} are allowed",
                    chat.max_message_chars
                ),
                cid,
            );
        }
        let app = self.app.clone();
        let Some(visitor) = self.visitor.as_ref() else {
            return Reply::error("hello_first", "send hello before anything else", cid);
        };
        let has_consent = visitor
            .contact
            .as_ref()
            .is_some_and(|c| c.consent.is_some());
        if chat.consent == Consent::Explicit && !has_consent && self.consented_at.is_none() {
            return Reply::error(
                "consent_required",
                "tick \"I agree\" before sending a message",
                cid,
            );
        }
        let now = app.clock.now();
        // The visitor's own limit first: a visitor over it does not use up
        // what the other visitors of its address may send.
        if let Err(wait) =
            app.chat
                .take_message(&visitor.identity.handle, chat.messages_per_minute, now)
        {
            app.metrics.chat_rejected(&self.channel, "visitor_messages");
            return Reply::one(rate_limited("too many messages; wait a moment", cid, wait));
        }
        let per_minute = chat.per_address.messages_per_minute;
        if let Err(wait) = app.chat.limits.message(&self.address, per_minute, now) {
            tracing::debug!("chat: too many messages from one address");
            app.metrics.chat_rejected(&self.channel, "messages");
            return Reply::one(rate_limited(
                "too many messages from your address; wait a moment",
                cid,
                wait,
            ));
        }
        let email = visitor
            .verified_email
            .clone()
            .or_else(|| self.email.clone());
        let inbound = Inbound {
            channel: self.channel.clone(),
            external_id: Some(format!("{}/{}", visitor.id, client_id)),
            sender: Sender {
                identity: visitor.identity.clone(),
                name: None,
                email,
                phone: None,
            },
            forwarded_by: None,
            to: Vec::new(),
            recipients: Vec::new(),
            from_agent: None,
            id_names_message: false,
            thread_hints: ThreadHints {
                continue_open: true,
                ..ThreadHints::default()
            },
            subject: None,
            text: Some(text),
            html: None,
            attachments: Vec::new(),
            flags: Vec::new(),
            sent_at: Some(now),
            raw: None,
            postback: None,
        };
        let accepted = match ingest::ingest(&app, inbound).await {
            Ok(accepted) => accepted,
            Err(ingest::IngestError::InsufficientStorage(_)) => {
                // The widget keeps the message and sends it again after
                // the wait (its pending list; dedupe by client_id).
                let frame = serde_json::json!({
                    "type": "error",
                    "code": "unavailable",
                    "message": "we cannot take new messages right now; yours will be sent \
                                again in a minute",
                    "client_id": client_id,
                    "retry_after_ms": crate::disk_space::RETRY_AFTER.as_millis() as u64,
                });
                return Reply::one(frame.to_string());
            }
            Err(error) => {
                tracing::warn!(%error, "chat: message not stored");
                return Reply::error("unavailable", "not stored; send it again", cid);
            }
        };
        let handle = visitor.identity.handle.clone();
        app.chat
            .set_conversation_of_handle(&handle, accepted.conversation);
        // Consent given in the widget goes on the contact before the ack.
        let mut contact = match app.store.contact(accepted.contact) {
            Ok(contact) => contact,
            Err(error) => {
                tracing::warn!(%error, "chat: cannot read the contact");
                None
            }
        };
        if let Some(current) = contact.as_ref().filter(|c| c.consent.is_none()) {
            let record = match chat.consent {
                Consent::None => None,
                Consent::Implied => Some(now),
                Consent::Explicit => self.consented_at,
            }
            .map(|at| ConsentRecord {
                mode: chat.consent,
                text: chat.consent_text.clone().unwrap_or_default(),
                channel: self.channel.clone(),
                at,
            });
            if let Some(record) = record {
                let store = app.store.clone();
                let id = current.id;
                let written =
                    tokio::task::spawn_blocking(move || store.record_consent(id, record)).await;
                match written {
                    Ok(Ok(updated)) => {
                        if app.store.durable().await.is_err() {
                            return Reply::error("unavailable", "not stored; send it again", cid);
                        }
                        contact = Some(updated);
                    }
                    _ => return Reply::error("unavailable", "not stored; send it again", cid),
                }
            }
        }
        if let Some(visitor) = self.visitor.as_mut() {
            visitor.contact = contact;
        }
        Reply::one(
            json!({
                "type": "ack",
                "client_id": client_id,
                "message_id": accepted.message.to_string(),
                "conversation": accepted.conversation.to_string(),
                "duplicate": accepted.duplicate,
            })
            .to_string(),
        )
    }

    async fn email(&mut self, address: String) -> Reply {
        let Some(normalized) = email_address::normalize(&address)
            .filter(|a| a.len() <= 254 && !a.contains(char::is_whitespace))
        else {
            return Reply::error(
                "bad_email",
                format!("\"{address}\" is not an email address"),
                None,
            );
        };
        let contact = self.visitor.as_ref().and_then(|v| v.contact.clone());
        if let Some(contact) = contact {
            let store = self.app.store.clone();
            let patch = ContactPatch {
                email: Some(Some(normalized.clone())),
                ..ContactPatch::default()
            };
            let updated =
                tokio::task::spawn_blocking(move || store.update_contact(contact.id, &patch)).await;
            match updated {
                Ok(Ok(updated)) => {
                    if self.app.store.durable().await.is_err() {
                        return Reply::error("unavailable", "not stored; try again", None);
                    }
                    if let Some(visitor) = self.visitor.as_mut() {
                        visitor.contact = Some(updated);
                    }
                }
                Ok(Err(crate::store::ContactUpdateError::IdentityTaken(_))) => {
                    // Another contact has that address: keep it for this
                    // visit's messages, never link the two.
                    tracing::info!("chat: visitor left an address another contact has");
                }
                _ => return Reply::error("unavailable", "not stored; try again", None),
            }
        }
        self.email = Some(normalized.clone());
        Reply::one(json!({"type": "email_saved", "address": normalized}).to_string())
    }

    /// The widget showed an agent reply: it is delivered.
    async fn seen(&mut self, message_id: &str) -> Reply {
        let Ok(id) = message_id.parse::<Id>() else {
            return Reply::error("bad_message_id", "no such message", None);
        };
        let app = self.app.clone();
        let Some(visitor) = self.visitor.as_ref() else {
            return Reply::Frames(Vec::new());
        };
        let message = app.store.message(id).ok().flatten();
        let conversation = message
            .as_ref()
            .and_then(|m| app.store.conversation(m.conversation).ok().flatten());
        let mine = match (&conversation, &visitor.contact) {
            (Some(conversation), Some(contact)) => {
                conversation.contact == contact.id && conversation.channel == self.channel
            }
            _ => false,
        };
        if !mine {
            return Reply::error("bad_message_id", "no such message", None);
        }
        mark_delivered(&app, vec![id]).await;
        Reply::Frames(Vec::new())
    }
}

/// A `rate_limited` error frame: the widget sends again (a message) or
/// reconnects (a hello) after `retry_after_ms`.
fn rate_limited(message: &str, client_id: Option<&str>, wait: std::time::Duration) -> String {
    let mut frame = json!({
        "type": "error",
        "code": "rate_limited",
        "message": message,
        "retry_after_ms": wait.as_millis() as u64,
    });
    if let Some(id) = client_id {
        frame["client_id"] = json!(id);
    }
    frame.to_string()
}

/// The store's visitor-token key (cached in the hub).
async fn visitor_key(app: &Arc<App>) -> Result<[u8; 32], crate::store::StoreError> {
    if let Some(key) = app.chat.key() {
        return Ok(key);
    }
    let store = app.store.clone();
    let key = tokio::task::spawn_blocking(move || store.chat_visitor_key())
        .await
        .map_err(|e| crate::store::StoreError::Transaction(e.to_string()))??;
    app.chat.set_key(key);
    Ok(key)
}

/// Records agent replies as delivered (the visitor has them on screen).
async fn mark_delivered(app: &Arc<App>, messages: Vec<Id>) {
    if messages.is_empty() {
        return;
    }
    let store = app.store.clone();
    let now = app.clock.now();
    let result = tokio::task::spawn_blocking(move || {
        for id in messages {
            let status = DeliveryStatus {
                state: DeliveryState::Delivered,
                reason: None,
                attempts: 0,
                provider_id: None,
                updated_at: now,
            };
            store.apply_delivery_status(id, status, now)?;
        }
        Ok::<(), crate::store::StoreError>(())
    })
    .await;
    if !matches!(result, Ok(Ok(()))) {
        tracing::warn!("chat: cannot record a delivery");
    }
}
