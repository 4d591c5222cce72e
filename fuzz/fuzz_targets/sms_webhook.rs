//! A Twilio-style SMS webhook body → an inbound message or a delivery
//! status, and the signature check over the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::sms::{signature, webhook};

fuzz_target!(|body: &[u8]| {
    let params = webhook::form_params(body);
    let _ = webhook::parse_status(&params);
    if let Ok(message) = webhook::parse_inbound("sms", &params) {
        assert!(message.received.inbound.sender.identity.handle.starts_with('+'));
    }
    let header = body.get(..body.len().min(64));
    let _ = signature::verify("token", "https://example.com/webhooks/sms", &params, header);
    let _ = signature::verify_json(
        "token",
        "https://example.com/webhooks/sms?bodySHA256=x",
        body,
        header,
    );
});
