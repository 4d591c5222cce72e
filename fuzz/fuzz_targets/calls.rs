//! A verified voice webhook (form body and query) -> `Callback`, folded
//! into a call item twice: any input must give a callback or an error, and
//! applying the same callback again must change nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::calls::callback;
use switchboard::channels::calls::item::CallDetails;
use switchboard::channels::sms::webhook::form_params;

fuzz_target!(|input: (&str, &[u8])| {
    let (query, body) = input;
    let Ok(event) = callback::event_of(Some(query)) else {
        return;
    };
    let params = form_params(body);
    let Ok(callback) = callback::read(event, &params) else {
        return;
    };
    let mut call = CallDetails::inbound(&callback.call_sid, "+15550001", "+15550002", 0);
    let mut attachments = Vec::new();
    call.apply(&callback.update, &mut attachments, 1);
    let again = call.apply(&callback.update, &mut attachments, 2);
    assert!(!again.changed, "a replay changed the item");
    assert!(attachments.len() <= 1);
});
