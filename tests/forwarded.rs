//! End-to-end: mail forwarded by a team member is attributed per the channel's
//! `forwarded_sender` setting, for Gmail, Outlook, Apple Mail and attached
//! rfc822 forwards.

mod common;

use common::mails;
use common::smtp::deliver;
use common::Daemon;
use serde_json::Value;

fn flags(message: &Value) -> Vec<String> {
    message["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn forwards_to_an_original_sender_channel_are_attributed_to_the_customer() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let cases = [
        (
            mails::gmail_forward("g@example.com", "alice@example.com", "support@example.com"),
            "erin@customer.example",
            "Erin Example",
            "Broken invoice",
        ),
        (
            mails::outlook_forward("o@example.com", "alice@example.com", "support@example.com"),
            "frank@customer.example",
            "Frank Fields",
            "Delivery question",
        ),
        (
            mails::apple_forward("a@example.com", "alice@example.com", "support@example.com"),
            "grace@customer.example",
            "Grace Green",
            "Refund",
        ),
        (
            mails::attached_forward("r@example.com", "alice@example.com", "support@example.com"),
            "heidi@customer.example",
            "Heidi Hill",
            "Login fails",
        ),
    ];
    for (mail, ..) in &cases {
        let reply = deliver(
            daemon.smtp,
            "alice@example.com",
            &["support@example.com"],
            mail,
        );
        assert_eq!(reply.code, 250, "{reply:?}");
    }
    let conversations = daemon.all_conversations("&inbox=support");
    assert_eq!(conversations.len(), cases.len());
    for (_, address, name, subject) in cases {
        let conversation = conversations
            .iter()
            .find(|c| c["contact"]["email"] == address)
            .unwrap_or_else(|| panic!("no conversation for {address}: {conversations:#?}"));
        assert_eq!(conversation["contact"]["name"], name);
        assert_eq!(conversation["subject"], subject);
        let message = &daemon.messages(conversation["id"].as_str().unwrap())[0];
        assert_eq!(message["from"]["address"], address);
        assert_eq!(message["forwarded_by"]["address"], "alice@example.com");
        assert!(
            flags(message).contains(&"forwarded".to_string()),
            "{message:#}"
        );
    }
}

#[test]
fn forwards_to_a_forwarder_channel_stay_with_the_team_member() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mail = mails::gmail_forward(
        "gf@example.com",
        "relay@partner.example",
        "sales@example.com",
    );
    assert_eq!(
        deliver(
            daemon.smtp,
            "relay@partner.example",
            &["sales@example.com"],
            &mail
        )
        .code,
        250
    );
    let conversations = daemon.all_conversations("&inbox=sales");
    assert_eq!(conversations.len(), 1);
    assert_eq!(
        conversations[0]["contact"]["email"],
        "relay@partner.example"
    );
    let message = &daemon.messages(conversations[0]["id"].as_str().unwrap())[0];
    assert_eq!(message["from"]["address"], "relay@partner.example");
    assert!(flags(message).contains(&"forwarded".to_string()));
}

#[test]
fn a_forward_from_a_stranger_is_not_reattributed() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mail = mails::gmail_forward(
        "s@example.com",
        "mallory@evil.example",
        "support@example.com",
    );
    assert_eq!(
        deliver(
            daemon.smtp,
            "mallory@evil.example",
            &["support@example.com"],
            &mail
        )
        .code,
        250
    );
    let conversations = daemon.all_conversations("&inbox=support");
    assert_eq!(conversations[0]["contact"]["email"], "mallory@evil.example");
    let message = &daemon.messages(conversations[0]["id"].as_str().unwrap())[0];
    assert!(!flags(message).contains(&"forwarded".to_string()));
}
