//! A verified WhatsApp webhook body -> `Batch`, through the envelope and
//! `whatsapp_events::parse`. Any input must give a batch or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::meta::webhook;

#[path = "workspace.rs"]
mod workspace;

fuzz_target!(|body: &[u8]| {
    if let Some(channel) = workspace::get().channel("wa-number") {
        let _ = webhook::parse_payload(channel, body);
    }
});
