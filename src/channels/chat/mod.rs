//! The website chat channel: the widget the daemon serves (`GET /widget.js`,
//! `widget`), its config endpoint, and the visitor WebSocket (`/ws/chat`,
//! `socket`) speaking the JSON protocol of docs/chat-protocol.md
//! (`protocol`). Visitors are known by a token the daemon signs (`token`);
//! their messages go through ingest and are acknowledged only once durable.
//! Agents' replies reach the visitor's open sockets through the outbox
//! (`send`), or by email when unseen (`fallback`); typing, `agent_joined`
//! and availability changes are pushed by the `hub`. One address may hold
//! only so many sockets, start only so many visitors and send only so many
//! messages a minute (`limits`).

pub mod availability;
pub mod fallback;
pub mod follow;
pub mod hub;
pub mod limits;
pub mod protocol;
pub mod send;
mod session;
pub mod socket;
pub mod token;
pub mod widget;

pub use hub::ChatHub;

/// The longest agent reply a chat channel takes, in characters.
pub const MAX_REPLY_CHARS: usize = 16_000;
