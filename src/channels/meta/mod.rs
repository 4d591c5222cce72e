//! Facebook Messenger and WhatsApp Business (Meta's Graph platform): the
//! verified webhook both post to, their inbound events, and sending through
//! the Graph API within the providers' messaging windows.

pub mod graph_errors;
pub mod media;
pub mod messenger_events;
pub mod profile;
pub mod send;
pub mod signature;
pub mod webhook;
pub mod whatsapp_events;
pub mod window;
