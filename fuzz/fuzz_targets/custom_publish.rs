//! A custom channel's publish body → `Inbound` (field checks, base64
//! attachments, timestamps).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::custom::publish::{self, Publish};

fuzz_target!(|body: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<Publish>(body) {
        if let Ok(inbound) = publish::to_inbound("bridge", message) {
            assert!(!inbound.sender.identity.handle.is_empty());
        }
    }
});
