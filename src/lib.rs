//! Switchboard: a self-hosted daemon that connects a team's customer channels
//! to shared inboxes.
//!
//! Modules, in the order a message flows through them:
//! - [`config`]: the config file, validated into a [`config::Workspace`].
//! - [`channels`]: adapters at the edge (team email over SMTP, Messenger and
//!   WhatsApp webhooks, the custom channel API), each turning its wire format
//!   into an [`inbound::Inbound`] and sending replies back out.
//! - [`ingest`]: the only way a message enters the store: dedupe, contact,
//!   thread, persist, acknowledge once durable.
//! - [`automations`]: instant replies and consent on messaging channels,
//!   sent through the outbox like any reply.
//! - [`routing`]: who gets a new conversation and which ticket it opens
//!   (plans applied by the store), with [`presence`] for availability.
//! - [`store`]: the sled-backed store behind one narrow typed interface,
//!   with group commit.
//! - [`outbox`]: the only way a message leaves: durable delivery jobs, the
//!   worker that sends them through each channel's sender, retries.
//! - [`outbound_fetch`]: the policy for URLs others can influence (media
//!   links in webhooks, custom webhooks): public addresses only unless a
//!   channel allows private ones, checked where the connection is made.
//! - [`events`]: the durable event log agents follow live.
//! - [`http`]: the agent API and its live event socket.
//! - [`web`]: the web inbox: agents' sign-in, sessions, the browser app.
//! - [`daemon`]: listeners, signals, shutdown, systemd notification.
//! - [`listen`]: what every listener does alike: connection caps in all
//!   and per client address, the HTTP accept loop with its header-read
//!   timeout, the open-file limit that fits the caps.
//! - [`logging`]: the log, with the libraries that print payloads capped.
//! - [`metrics`]: the Prometheus registry and the typed handles call sites
//!   bump; served as `GET /metrics` by [`http`].
//! - [`model`], [`ids`], [`clock`], [`email_address`], [`tokens`], [`app`]:
//!   shared types and helpers; [`rate_limit`] and [`client_addr`]: the
//!   per-address limits channels share (who a request is from, buckets).

pub mod app;
pub mod automations;
pub mod channels;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod disk_space;
pub mod email_address;
pub mod events;
pub mod http;
pub mod ids;
pub mod inbound;
pub mod ingest;
pub mod listen;
pub mod logging;
pub mod memory_trim;
pub mod metrics;
pub mod model;
pub mod outbound_fetch;
pub mod outbox;
pub mod presence;
pub mod rate_limit;
pub mod retention;
pub mod routing;
pub mod store;
pub mod tokens;
pub mod web;
