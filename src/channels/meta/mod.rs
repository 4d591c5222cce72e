//! Facebook Messenger and WhatsApp Business (Meta's Graph platform): the
//! verified webhook both post to, their inbound events, and sending through
//! the Graph API within the providers' messaging windows.

pub mod send;
pub mod webhook;
