//! Phone calls through a Twilio-compatible provider (PROTOCOLS.md 4): the
//! incoming-call webhook answers TwiML that rings the agents' phones, then
//! takes a voicemail; every callback comes back to the channel's one URL
//! and updates one call item in the caller's conversation, the same
//! conversation and contact as their texts on the same number.

pub mod callback;
pub mod item;
pub mod twiml;
pub mod view;
pub mod webhook;
