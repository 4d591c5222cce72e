//! A verified Meta webhook body → messages and statuses, for a Messenger
//! page and a WhatsApp number.
#![no_main]

mod workspace;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard::channels::meta::webhook;
use switchboard::config::Workspace;

static WORKSPACE: LazyLock<Workspace> = LazyLock::new(workspace::workspace);

fuzz_target!(|body: &[u8]| {
    for id in ["fb-page", "wa-number"] {
        let channel = WORKSPACE.channel(id).expect("channel");
        if let Ok(Some(batch)) = webhook::parse_payload(channel, body) {
            for received in &batch.messages {
                assert_eq!(received.inbound.channel, id);
            }
        }
    }
});
