//! A visitor socket text frame -> `ClientFrame` or a clear error frame, and
//! the same text as a visitor token: any input must give a frame, an error
//! (rendered as valid JSON) or a refused token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::chat::{protocol, token};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Err(error) = protocol::parse(text) {
        let frame = protocol::error(&error, Some(text));
        let value: serde_json::Value = serde_json::from_str(&frame).expect("error frames are JSON");
        assert_eq!(value["type"], "error");
    }
    // Nothing but the key's own signature passes: a forged token is a finding.
    assert!(token::verify(&[7; 32], "web-chat", text).is_none());
});
