//! Tests of the text pieces: reply subjects, From display names,
//! signatures and reply addresses.

use super::*;
use crate::channels::email::compose::tests::{agent, email_channel};

#[test]
fn reply_subjects_never_stack() {
    let cases = [
        (Some("Printer on fire"), "Re: Printer on fire"),
        (Some("Re: Printer"), "Re: Printer"),
        (Some("RE: Re: re: Printer"), "Re: Printer"),
        (Some("re : Printer"), "Re: Printer"),
        (Some("Aw: AW: Printer"), "Re: Printer"),
        (Some("Re[2]: Printer"), "Re: Printer"),
        (Some("Sv: Antw: Printer"), "Re: Printer"),
        (Some("Fwd: Printer"), "Re: Fwd: Printer"),
        (Some("Re: Fwd: Printer"), "Re: Fwd: Printer"),
        (Some("Regarding: Printer"), "Re: Regarding: Printer"),
        (Some("Reply needed"), "Re: Reply needed"),
        (Some("  Re:\r\n  Printer\tagain "), "Re: Printer again"),
        (Some("Re:"), "Re: (no subject)"),
        (Some("   "), "Re: (no subject)"),
        (None, "Re: (no subject)"),
    ];
    for (subject, expected) in cases {
        assert_eq!(reply_subject(subject), expected, "{subject:?}");
    }
}

#[test]
fn display_name_by_sender_name_setting() {
    let mut channel = email_channel();
    assert_eq!(
        from_display_name(&channel, Some(&agent())),
        "Alice Doe at Example Inc"
    );
    assert_eq!(from_display_name(&channel, None), "Example Inc");
    channel.sender_name = SenderName::Company;
    assert_eq!(from_display_name(&channel, Some(&agent())), "Example Inc");
}

#[test]
fn signature_tokens_are_filled() {
    let template = "Cheers, {first_name}\n{full_name} ({last_name})\n{unknown} {first_name";
    let mut agent = agent();
    agent.name = "Alice  van der Berg".to_string();
    assert_eq!(
        fill_signature(template, Some(&agent)),
        "Cheers, Alice\nAlice van der Berg (van der Berg)\n{unknown} {first_name"
    );
}

#[test]
fn signature_without_agent_drops_emptied_lines() {
    let template = "Best regards,\n{full_name}\n{first_name} at Example Inc\nExample Inc\n";
    assert_eq!(
        fill_signature(template, None),
        "Best regards,\nat Example Inc\nExample Inc"
    );
}

#[test]
fn html_signature_escapes_the_name_once() {
    let mut agent = agent();
    agent.name = "Bob <b>{last_name}</b> & Co".to_string();
    assert_eq!(
        fill_signature_html("<p>{full_name}</p>", Some(&agent)),
        "<p>Bob &lt;b&gt;{last_name}&lt;/b&gt; &amp; Co</p>"
    );
    assert_eq!(
        fill_signature("{full_name}", Some(&agent)),
        "Bob <b>{last_name}</b> & Co"
    );
}

#[test]
fn reply_address_and_token_round_trip() {
    let address = reply_address("support@example.com", "k3x9q2");
    assert_eq!(address, "support+ck3x9q2@example.com");
    assert_eq!(reply_token_of(&address).as_deref(), Some("k3x9q2"));
    assert_eq!(
        reply_token_of("<Support+CK3X9Q2@Example.com>").as_deref(),
        Some("k3x9q2")
    );
    assert_eq!(
        reply_token_of("support+billing+ck3@example.com").as_deref(),
        Some("k3")
    );
    for refused in [
        "support@example.com",
        "support+billing@example.com",
        "support+c@example.com",
        "support+ck3-x@example.com",
        "support+ck3é@example.com",
        "support+ck3x9q2",
        &format!("support+c{}@example.com", "a".repeat(MAX_TOKEN_LEN + 1)),
    ] {
        assert_eq!(reply_token_of(refused), None, "{refused}");
    }
}

#[test]
fn signature_delimiter_keeps_its_trailing_space() {
    assert_eq!(
        fill_signature("-- \n{full_name} ({first_name})\n", Some(&agent())),
        "-- \nAlice Doe (Alice)"
    );
}
