//! Channel adapters: each knows its wire format, verifies and parses what
//! arrives into an `Inbound`, and answers the sender with what ingest returns.

pub mod calls;
pub mod chat;
pub mod custom;
pub mod email;
pub mod form;
pub mod meta;
pub mod sms;
