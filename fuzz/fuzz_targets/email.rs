//! Raw mail -> `ParsedMail` -> `Inbound`, as the SMTP receiver does it
//! (forwarded-mail detection and attribution included). Any input must give
//! a mail or a `ParseError`; the parser's own panic guard firing is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::channels::email::parse::{self, ParseError};
use switchboard::config::ChannelKind;

#[path = "workspace.rs"]
mod workspace;

fuzz_target!(|raw: &[u8]| {
    let workspace = workspace::get();
    let Some(channel) = workspace.channel("support-email") else {
        return;
    };
    let ChannelKind::Email(email) = &channel.kind else {
        return;
    };
    match parse::parse(raw, raw.first() == Some(&b'R')) {
        Ok(parsed) => {
            let parsed = parsed.with_envelope_sender(Some("carol@customer.example"));
            let inbound = parsed.to_inbound(
                channel,
                email,
                workspace,
                vec!["support+cABC@example.com".to_string()],
                raw,
            );
            assert_eq!(inbound.channel, channel.id);
        }
        Err(ParseError::Panicked) => panic!("the MIME parser panicked"),
        Err(ParseError::NoHeaders) => {}
    }
});
