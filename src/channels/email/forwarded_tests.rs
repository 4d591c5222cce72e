//! Unit tests of inline forward detection and of attribution.

use super::*;
use crate::config::{ChannelKind, Config};

const CONFIG: &str = r#"
    [storage]
    path = "data"
    [http]
    listen = "127.0.0.1:8080"
    [[agents]]
    id = "alice"
    name = "Alice Agent"
    email = "Alice@Example.com"
    role = "agent"
    [[inboxes]]
    id = "support"
    name = "Support"
    [[channels]]
    id = "support-email"
    inbox = "support"
    kind = "email"
    address = "support@example.com"
    forwarders = ["frontdesk@example.com"]
    [[channels]]
    id = "sales-email"
    inbox = "support"
    kind = "email"
    address = "sales@example.com"
    forwarded_sender = "forwarder"
"#;

fn config() -> Config {
    crate::config::parse(CONFIG, std::path::Path::new(".")).unwrap()
}

fn email_channel(config: &Config, id: &str) -> EmailChannel {
    let channel = config.workspace.channel(id).unwrap();
    let ChannelKind::Email(email) = &channel.kind else {
        panic!("an email channel")
    };
    email.clone()
}

fn party(name: &str, address: &str) -> Party {
    Party {
        name: Some(name.to_string()),
        address: Some(address.to_string()),
    }
}

fn sender_of(text: &str, subject: &str) -> Option<Party> {
    from_text(text, Some(subject)).map(|o| o.sender)
}

#[test]
fn gmail_block() {
    let text = "Can someone take this?\n\n---------- Forwarded message ---------\n\
                From: Jane Customer <Jane@Customer.example>\nDate: Mon, Mar 3, 2025 at 10:12 AM\n\
                Subject: Broken widget\nTo: Alice Agent <alice@example.com>\n\n\nHi there\n";
    let original = from_text(text, Some("Fwd: Broken widget")).unwrap();
    assert_eq!(
        original.sender,
        party("Jane Customer", "jane@customer.example")
    );
    assert_eq!(original.subject.as_deref(), Some("Broken widget"));
    assert_eq!(original.style, ForwardStyle::Inline);
    // Gmail's marker is explicit: no forward subject needed.
    assert!(from_text(text, Some("have a look")).is_some());
    assert!(from_text(text, None).is_some());
}

#[test]
fn gmail_html_rendering_with_bold_labels() {
    let text =
        "---------- Forwarded message ---------\n*From:* Jane Customer <jane@customer.example \
                <mailto:jane@customer.example>>\n*Date:* Mon, Mar 3, 2025\n*Subject:* Hi\n";
    assert_eq!(
        sender_of(text, "Fwd: Hi"),
        Some(party("Jane Customer", "jane@customer.example"))
    );
}

#[test]
fn outlook_original_message_block_needs_a_forward_subject() {
    let text = "Please handle.\r\n\r\n-----Original Message-----\r\n\
                From: Bob Buyer [mailto:bob@buyer.example] \r\nSent: Monday, March 3, 2025 4:55 PM\r\n\
                To: Alice Agent <alice@example.com>\r\nSubject: Invoice question\r\n\r\nHello\r\n";
    assert_eq!(
        sender_of(text, "FW: Invoice question"),
        Some(party("Bob Buyer", "bob@buyer.example"))
    );
    // The same block opens Outlook replies.
    assert_eq!(sender_of(text, "RE: Invoice question"), None);
}

#[test]
fn outlook_underscore_block_and_signature_rules() {
    let text = "Thanks\nAlice Agent\n__________________________\nExample Ltd. | +1 555 0100\n\n\
                ________________________________\nFrom: Carol Client <carol@client.example>\n\
                Sent: Monday, March 3, 2025 17:20\nTo: Alice Agent <alice@example.com>\n\
                Subject: Delivery date\n\nWhen will it arrive?\n";
    let original = from_text(text, Some("Fw: Delivery date")).unwrap();
    assert_eq!(
        original.sender,
        party("Carol Client", "carol@client.example")
    );
    assert_eq!(original.subject.as_deref(), Some("Delivery date"));
    assert!(from_text(text, Some("Re: Delivery date")).is_none());
}

#[test]
fn bare_header_block_under_forward_subject() {
    let text = "FYI\n\nFrom: carol@client.example\nSent: Monday\nTo: alice@example.com\nSubject: X\n\nBody\n";
    let original = from_text(text, Some("WG: X")).unwrap();
    assert_eq!(
        original.sender.address.as_deref(),
        Some("carol@client.example")
    );
    assert_eq!(original.sender.name, None);
    // Two header lines are not enough without a marker.
    assert!(from_text("From: a@b.example\nTo: c@d.example\n\nhi", Some("Fwd: x")).is_none());
}

#[test]
fn apple_mail_quoted_block() {
    let text = "FYI\n\nBegin forwarded message:\n\n> From: \"Dan Doe\" <dan@doe.example>\n\
                > Subject: Refund please\n> Date: 3 March 2025 at 18:40:11 CET\n\
                > To: alice@example.com\n> \n> I'd like a refund.\n";
    let original = from_text(text, Some("Fwd: Refund please")).unwrap();
    assert_eq!(original.sender, party("Dan Doe", "dan@doe.example"));
    assert_eq!(original.subject.as_deref(), Some("Refund please"));
}

#[test]
fn thunderbird_block_with_tabs() {
    let text = "\n\n-------- Forwarded Message --------\nSubject: \tWarranty claim\n\
                Date: \tMon, 3 Mar 2025 19:02:33 +0100\nFrom: \tErin Example <erin@example.org>\n\
                To: \talice@example.com\n\nMy kettle broke.\n";
    let original = from_text(text, Some("Fwd: Warranty claim")).unwrap();
    assert_eq!(original.sender, party("Erin Example", "erin@example.org"));
    assert_eq!(original.subject.as_deref(), Some("Warranty claim"));
}

#[test]
fn translated_markers() {
    let german = "-------- Weitergeleitete Nachricht --------\nBetreff: Frage\nVon: Hans <hans@beispiel.example>\n";
    assert_eq!(
        sender_of(german, "WG: Frage"),
        Some(party("Hans", "hans@beispiel.example"))
    );
    let french = "Début du message réexpédié :\n\nDe: Zoé <zoe@exemple.example>\nObjet: Question\n";
    assert_eq!(
        sender_of(french, "TR : Question"),
        Some(party("Zoé", "zoe@exemple.example"))
    );
}

#[test]
fn first_block_wins_and_a_marker_without_sender_stops() {
    let text = "---------- Forwarded message ---------\nFrom: First <first@one.example>\n\n\
                ---------- Forwarded message ---------\nFrom: Second <second@two.example>\n";
    assert_eq!(
        sender_of(text, "Fwd: x"),
        Some(party("First", "first@one.example"))
    );
    let no_address = "---------- Forwarded message ---------\nFrom: Internal Name\nDate: today\n\n\
                      ---------- Forwarded message ---------\nFrom: Deep <deep@older.example>\n";
    assert_eq!(sender_of(no_address, "Fwd: x"), None);
}

#[test]
fn no_block_no_original() {
    assert!(from_text("Hello,\nfrom: me\n", Some("Fwd: hi")).is_none());
    assert!(from_text("", Some("Fwd: hi")).is_none());
    assert!(from_text("---------- Forwarded message ---------\n", None).is_none());
    assert!(from_text(
        "---------- Forwarded message ---------\nFrom: nobody\n",
        None
    )
    .is_none());
}

#[test]
fn parses_party_formats() {
    let cases = [
        ("Jane <jane@x.example>", Some("Jane"), "jane@x.example"),
        (
            "\"Doe, Jane\" <Jane.Doe@X.example>",
            Some("Doe, Jane"),
            "jane.doe@x.example",
        ),
        (
            "Bob Buyer [mailto:bob@buyer.example]",
            Some("Bob Buyer"),
            "bob@buyer.example",
        ),
        (
            "Bob <mailto:bob@buyer.example>",
            Some("Bob"),
            "bob@buyer.example",
        ),
        ("bob@buyer.example", None, "bob@buyer.example"),
        (
            "bob@buyer.example (Bob B.)",
            Some("Bob B."),
            "bob@buyer.example",
        ),
        ("<bob@buyer.example>", None, "bob@buyer.example"),
        (
            "bob@buyer.example <bob@buyer.example>",
            None,
            "bob@buyer.example",
        ),
        (
            "Ünïcødé Name <u@ex.example>.",
            Some("Ünïcødé Name"),
            "u@ex.example",
        ),
    ];
    for (value, name, address) in cases {
        let parsed = parse_party(value).unwrap_or_else(|| panic!("{value}"));
        assert_eq!(parsed.name.as_deref(), name, "{value}");
        assert_eq!(parsed.address.as_deref(), Some(address), "{value}");
    }
    for value in ["", "no address", "@", "a@", "@b", "ö@"] {
        assert_eq!(parse_party(value), None, "{value}");
    }
}

#[test]
fn strips_forward_prefixes() {
    assert_eq!(strip_forward_prefix("Fwd: Broken widget"), "Broken widget");
    assert_eq!(strip_forward_prefix("FW: Fwd: fw:x"), "x");
    assert_eq!(strip_forward_prefix("WG: Frage"), "Frage");
    assert_eq!(strip_forward_prefix("TR : Question"), "Question");
    assert_eq!(strip_forward_prefix("Fwd: Re: Order"), "Re: Order");
    assert_eq!(strip_forward_prefix("Re: Fwd: Order"), "Re: Fwd: Order");
    assert_eq!(strip_forward_prefix("Meeting at 10:30"), "Meeting at 10:30");
    assert!(is_forward_subject("Fw: x"));
    assert!(!is_forward_subject("Forward planning: x"));
    assert!(!is_forward_subject(""));
}

fn inline(sender: Party) -> OriginalMail {
    OriginalMail {
        sender,
        subject: Some("Broken widget".to_string()),
        message_id: None,
        style: ForwardStyle::Inline,
    }
}

#[test]
fn agent_forward_is_reattributed_by_default() {
    let config = config();
    let email = email_channel(&config, "support-email");
    let alice = party("Alice Agent", "alice@example.com");
    let jane = party("Jane", "jane@customer.example");
    let got = attribute(
        &alice,
        Some("Fwd: Broken widget"),
        Some(&inline(jane.clone())),
        &email,
        &config.workspace,
    );
    assert_eq!(
        got,
        Attribution {
            sender: jane,
            forwarded_by: Some(alice),
            subject: Some("Broken widget".to_string()),
            forwarded: true,
        }
    );
}

#[test]
fn forwarder_setting_keeps_the_team_member() {
    let config = config();
    let email = email_channel(&config, "sales-email");
    let alice = party("Alice Agent", "alice@example.com");
    let jane = party("Jane", "jane@customer.example");
    let got = attribute(
        &alice,
        Some("Fwd: Broken widget"),
        Some(&inline(jane)),
        &email,
        &config.workspace,
    );
    assert_eq!(got.sender, alice);
    assert_eq!(got.forwarded_by, None);
    assert_eq!(got.subject.as_deref(), Some("Fwd: Broken widget"));
    assert!(got.forwarded);
}

#[test]
fn forwarders_list_is_per_channel() {
    let config = config();
    let desk = party("Front Desk", "FrontDesk@example.com");
    let desk = Party {
        address: email_address::normalize(desk.address.as_deref().unwrap()),
        ..desk
    };
    let jane = party("Jane", "jane@customer.example");
    let support = email_channel(&config, "support-email");
    let got = attribute(
        &desk,
        Some("Fwd: x"),
        Some(&inline(jane.clone())),
        &support,
        &config.workspace,
    );
    assert_eq!(got.sender, jane);
    assert!(got.forwarded);
    let sales = email_channel(&config, "sales-email");
    let got = attribute(
        &desk,
        Some("Fwd: x"),
        Some(&inline(jane)),
        &sales,
        &config.workspace,
    );
    assert_eq!(got.sender, desk);
    assert!(!got.forwarded);
}

#[test]
fn strangers_and_missing_originals_are_not_forwards() {
    let config = config();
    let email = email_channel(&config, "support-email");
    let mallory = party("Alice Agent", "mallory@evil.example");
    let jane = party("Jane", "jane@customer.example");
    let got = attribute(
        &mallory,
        Some("Fwd: x"),
        Some(&inline(jane)),
        &email,
        &config.workspace,
    );
    assert_eq!(got.sender, mallory);
    assert_eq!(got.subject.as_deref(), Some("Fwd: x"));
    assert!(!got.forwarded && got.forwarded_by.is_none());
    let alice = party("Alice", "alice@example.com");
    let got = attribute(&alice, Some("Hi"), None, &email, &config.workspace);
    assert_eq!(got.sender, alice);
    assert!(!got.forwarded);
    let nobody = Party::default();
    let got = attribute(
        &nobody,
        None,
        Some(&inline(party("J", "j@x.example"))),
        &email,
        &config.workspace,
    );
    assert!(!got.forwarded);
}

#[test]
fn own_addresses_are_not_reattributed() {
    let config = config();
    let email = email_channel(&config, "support-email");
    let alice = party("Alice", "alice@example.com");
    for own in ["support@example.com", "alice@example.com"] {
        let got = attribute(
            &alice,
            Some("Fwd: x"),
            Some(&inline(party("S", own))),
            &email,
            &config.workspace,
        );
        assert_eq!(got.sender, alice, "{own}");
        assert!(got.forwarded, "{own}");
    }
}

#[test]
fn subject_falls_back_to_the_original() {
    let config = config();
    let email = email_channel(&config, "support-email");
    let alice = party("Alice", "alice@example.com");
    let jane = party("Jane", "jane@customer.example");
    let got = attribute(
        &alice,
        Some("Fwd:"),
        Some(&inline(jane.clone())),
        &email,
        &config.workspace,
    );
    assert_eq!(got.subject.as_deref(), Some("Broken widget"));
    let got = attribute(&alice, None, Some(&inline(jane)), &email, &config.workspace);
    assert_eq!(got.subject.as_deref(), Some("Broken widget"));
}
