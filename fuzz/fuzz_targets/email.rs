//! Raw mail → `Inbound`: the MIME parser, forwarded-mail detection and
//! attribution, auto-reply flags, exactly as the SMTP receiver runs them.
#![no_main]

mod workspace;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard::channels::email::parse;
use switchboard::config::{ChannelKind, Workspace};

static WORKSPACE: LazyLock<Workspace> = LazyLock::new(workspace::workspace);

fuzz_target!(|raw: &[u8]| {
    for id in ["support-email", "sales-email"] {
        let Some(channel) = WORKSPACE.channel(id) else { continue };
        let ChannelKind::Email(email) = &channel.kind else { continue };
        if let Ok(parsed) = parse::parse(raw, false) {
            let parsed = parsed.with_envelope_sender(Some("relay@partner.example"));
            let inbound = parsed.to_inbound(
                channel,
                email,
                &WORKSPACE,
                vec!["support@example.com".to_string()],
                raw,
            );
            assert_eq!(inbound.channel, id);
        }
    }
});
