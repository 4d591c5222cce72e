//! End-to-end over SMTP: mail never lands in the wrong conversation or
//! disappears. A reference joins a conversation only for someone who
//! belongs to it (the contact, a To/Cc recipient, an agent); anyone else
//! gets a related conversation of their own. A different message with a
//! reused Message-ID is stored as its own; a real second delivery is
//! stored once. An agent's reply from their own mail client is recorded as
//! theirs. Broken From headers give a valid mailbox or a clear `422`.

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::relay::Relay;
use common::smtp::deliver;
use common::{eventually, test_config_with_relay, Daemon};

const SUPPORT: &[&str] = &["support@example.com"];
const WAIT: Duration = Duration::from_secs(30);

fn daemon(dir: &std::path::Path, relay: &Relay) -> Daemon {
    let config = test_config_with_relay(relay.port).replacen(
        "email = \"alice@example.com\"\n",
        "email = \"alice@example.com\"\naddresses = [\"alice@home.example\"]\n",
        1,
    );
    assert!(
        config.contains("alice@home.example"),
        "test_config changed shape"
    );
    Daemon::start_with_config(dir, &config)
}

/// A mail with the given headers (CRLF added) and a plain-text body.
fn mail(headers: &[&str], body: &str) -> String {
    let mut text = headers.join("\r\n");
    text.push_str("\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    text.push_str(body);
    text.push_str("\r\n");
    text
}

fn send(daemon: &Daemon, envelope_from: &str, text: &str) {
    let reply = deliver(daemon.smtp, envelope_from, SUPPORT, text);
    assert_eq!(reply.code, 250, "{reply:?}");
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

/// The conversation holding the message with this Message-ID, and the message.
fn find(daemon: &Daemon, message_id: &str) -> (Value, Value) {
    for conversation in daemon.all_conversations("") {
        let messages = daemon.messages(&id(&conversation));
        if let Some(message) = messages
            .into_iter()
            .find(|m| m["external_id"] == message_id)
        {
            let (_, full) = daemon.get(&format!("/api/v1/conversations/{}", id(&conversation)));
            return (full, message);
        }
    }
    panic!("no message {message_id}")
}

#[test]
fn strangers_answering_the_teams_mail_get_conversations_of_their_own() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    // The team writes to Hank first.
    let (status, started) = daemon.post(
        "/api/v1/conversations",
        &json!({"channel": "support-email", "to": "hank@customer.example", "name": "Hank",
                "subject": "Your quote", "text": "Here is your quote: marker-hank"}),
    );
    assert_eq!(status, 201, "{started}");
    let hank_conversation = id(&started["conversation"]);
    let sent = relay.wait_for_text("marker-hank", WAIT);
    let n = sent.parsed().message_id().unwrap().to_string();
    let reply_address = sent.header("Reply-To").unwrap();
    let reply_address = reply_address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');

    // Ivy (a forwarded copy), Jack (a colleague) and Kate (a mailing) answer N.
    for who in ["ivy", "jack", "kate"] {
        let from = format!("{who}@elsewhere.example");
        let text = mail(
            &[
                &format!("From: <{from}>"),
                "To: support@example.com",
                "Subject: Re: Your quote",
                &format!("Message-ID: <{who}-1@elsewhere.example>"),
                &format!("In-Reply-To: <{n}>"),
                &format!("References: <{n}>"),
            ],
            &format!("I am {who}, not Hank."),
        );
        send(&daemon, &from, &text);
    }
    // Someone else writes to the conversation's reply address.
    let lou = deliver(
        daemon.smtp,
        "lou@elsewhere.example",
        &[reply_address],
        &mail(
            &[
                "From: <lou@elsewhere.example>",
                &format!("To: {reply_address}"),
                "Subject: Re: Your quote",
                "Message-ID: <lou-1@elsewhere.example>",
            ],
            "Lou here.",
        ),
    );
    assert_eq!(lou.code, 250, "{lou:?}");
    // Hank answers, once to the team address by In-Reply-To, once to the
    // reply address with no threading header.
    for (message_id, rcpt, header) in [
        (
            "hank-1@customer.example",
            "support@example.com",
            format!("In-Reply-To: <{n}>"),
        ),
        (
            "hank-2@customer.example",
            reply_address,
            "X-Mailer: plain".to_string(),
        ),
    ] {
        let text = mail(
            &[
                "From: Hank <hank@customer.example>",
                &format!("To: {rcpt}"),
                "Subject: Re: Your quote",
                &format!("Message-ID: <{message_id}>"),
                &header,
            ],
            "Thanks, Hank.",
        );
        let reply = deliver(daemon.smtp, "hank@customer.example", &[rcpt], &text);
        assert_eq!(reply.code, 250, "{reply:?}");
    }

    let (_, hank) = daemon.get(&format!("/api/v1/conversations/{hank_conversation}"));
    let hank_messages = daemon.messages(&hank_conversation);
    let joined: Vec<(&str, &str)> = hank_messages[1..]
        .iter()
        .map(|m| {
            (
                m["thread_reason"].as_str().unwrap(),
                m["joined_as"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        joined,
        vec![("in_reply_to", "contact"), ("reply_token", "contact")]
    );
    let mut related = Vec::new();
    for who in ["ivy-1", "jack-1", "kate-1", "lou-1"] {
        let (conversation, message) = find(&daemon, &format!("{who}@elsewhere.example"));
        assert_ne!(id(&conversation), hank_conversation, "{who} joined Hank's");
        assert_eq!(message["thread_reason"], "related", "{message}");
        assert_eq!(conversation["related"], json!([hank_conversation]));
        assert_eq!(
            conversation["contact"]["email"],
            format!("{}@elsewhere.example", &who[..who.len() - 2])
        );
        related.push(id(&conversation));
    }
    assert_eq!(hank["related"], json!(related), "{hank}");

    // The agent's answer in Ivy's conversation goes to Ivy, not Hank.
    daemon.reply(&related[0], json!({"text": "Hello Ivy: marker-ivy"}));
    let to_ivy = relay.wait_for_text("marker-ivy", WAIT);
    assert!(
        to_ivy
            .header("To")
            .unwrap()
            .contains("ivy@elsewhere.example"),
        "{:?}",
        to_ivy.header("To")
    );
}

#[test]
fn a_mailing_stored_in_the_inbox_does_not_gather_its_readers() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    send(
        &daemon,
        "bounces@news.example",
        &mail(
            &[
                "From: Vendor News <news@news.example>",
                "To: subscribers@news.example",
                "Subject: December offers",
                "Message-ID: <issue-12@news.example>",
                "List-Id: <offers.news.example>",
            ],
            "Our offers.",
        ),
    );
    for who in ["pia", "quinn"] {
        let from = format!("{who}@readers.example");
        send(
            &daemon,
            &from,
            &mail(
                &[
                    &format!("From: <{from}>"),
                    "To: support@example.com",
                    "Subject: Re: December offers",
                    &format!("Message-ID: <{who}@readers.example>"),
                    "In-Reply-To: <issue-12@news.example>",
                ],
                "Is the offer still on?",
            ),
        );
    }
    let (news, _) = find(&daemon, "issue-12@news.example");
    assert_eq!(news["message_count"], 1);
    let (pia, _) = find(&daemon, "pia@readers.example");
    let (quinn, _) = find(&daemon, "quinn@readers.example");
    assert_ne!(id(&pia), id(&quinn));
    assert_eq!(news["related"], json!([id(&pia), id(&quinn)]));
}

#[test]
fn a_colleague_on_cc_joins_by_reply_all_and_one_not_copied_is_linked() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    send(
        &daemon,
        "mia@customer.example",
        &mail(
            &[
                "From: Mia <mia@customer.example>",
                "To: support@example.com",
                "Cc: Carl <carl@customer.example>",
                "Subject: Printer on fire",
                "Message-ID: <mia-1@customer.example>",
            ],
            "Help!",
        ),
    );
    let reply_all = |who: &str, message_id: &str| {
        let from = format!("{who}@customer.example");
        let text = mail(
            &[
                &format!("From: <{from}>"),
                "To: support@example.com, Mia <mia@customer.example>",
                "Subject: Re: Printer on fire",
                &format!("Message-ID: <{message_id}>"),
                "In-Reply-To: <mia-1@customer.example>",
                "References: <mia-1@customer.example>",
            ],
            "Still burning.",
        );
        send(&daemon, &from, &text);
    };
    reply_all("carl", "carl-1@customer.example");
    // Dora works at the same company but was never copied.
    reply_all("dora", "dora-1@customer.example");

    let (mia, first) = find(&daemon, "mia-1@customer.example");
    assert_eq!(
        first["recipients"],
        json!(["support@example.com", "carl@customer.example"])
    );
    let (carl_in, carl) = find(&daemon, "carl-1@customer.example");
    assert_eq!(id(&carl_in), id(&mia));
    assert_eq!(carl["joined_as"], "recipient");
    assert_eq!(carl["thread_reason"], "in_reply_to");
    let (dora_in, dora) = find(&daemon, "dora-1@customer.example");
    assert_ne!(id(&dora_in), id(&mia));
    assert_eq!(dora["thread_reason"], "related");
    assert_eq!(dora_in["related"], json!([id(&mia)]));
    let (_, mia_again) = daemon.get(&format!("/api/v1/conversations/{}", id(&mia)));
    assert_eq!(mia_again["message_count"], 2);
}

#[test]
fn a_reused_message_id_never_costs_a_different_message() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    let from_rita = mail(
        &[
            "From: Rita <rita@customer.example>",
            "To: support@example.com",
            "Subject: Broken client",
            "Message-ID: <same@broken-client.example>",
        ],
        "First question.",
    );
    send(&daemon, "rita@customer.example", &from_rita);
    // The same mail through two relays: only Received lines differ.
    for relay_name in ["mx1.customer.example", "mx2.customer.example"] {
        let relayed = format!(
            "Received: from {relay_name} by mx.switchboard.test; Thu, 26 Nov 2026 10:00:01 +0000\r\n{from_rita}"
        );
        send(&daemon, "rita@customer.example", &relayed);
    }
    // Rita's second, different message from the same broken client.
    let second = from_rita.replace("First question.", "Second question.");
    send(&daemon, "rita@customer.example", &second);
    // Another sender with the same Message-ID.
    let sam = from_rita
        .replace("Rita <rita@customer.example>", "Sam <sam@other.example>")
        .replace("First question.", "Sam's own question.");
    send(&daemon, "sam@other.example", &sam);
    // A resend of Sam's mail is still Sam's one message.
    send(&daemon, "sam@other.example", &sam);

    let stored: Vec<Value> = daemon
        .all_messages()
        .into_iter()
        .filter(|m| m["external_id"] == "same@broken-client.example")
        .collect();
    let mut texts: Vec<&str> = stored
        .iter()
        .map(|m| m["text"].as_str().unwrap().trim())
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        vec!["First question.", "Sam's own question.", "Second question."]
    );
    let first = stored
        .iter()
        .find(|m| m["text"].as_str().unwrap().starts_with("First"))
        .unwrap();
    assert!(first.get("external_id_shared_with").is_none(), "{first}");
    for later in stored.iter().filter(|m| m["id"] != first["id"]) {
        assert_eq!(later["external_id_shared_with"], first["id"], "{later}");
    }
    let (status, sam_contacts) = daemon.get("/api/v1/contacts?q=sam@other.example");
    assert_eq!(status, 200);
    assert_eq!(
        sam_contacts["contacts"].as_array().map(Vec::len),
        Some(1),
        "{sam_contacts}"
    );
    assert_eq!(
        daemon.metric("switchboard_external_id_collisions_total{kind=\"email\"}"),
        2.0
    );
    assert_eq!(
        daemon.metric("switchboard_messages_duplicate_total{kind=\"email\"}"),
        3.0
    );
}

#[test]
fn an_agents_reply_from_their_own_mail_client_is_theirs() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    send(
        &daemon,
        "mia@customer.example",
        &mail(
            &[
                "From: Mia <mia@customer.example>",
                "To: support@example.com",
                "Subject: Invoice",
                "Message-ID: <mia-inv@customer.example>",
            ],
            "My invoice is wrong.",
        ),
    );
    let (conversation, _) = find(&daemon, "mia-inv@customer.example");
    let conversation = id(&conversation);
    let mut events = common::ws::EventSocket::connect(daemon.http, &daemon.token, Some(0));
    // Alice answers from her own mail program, the team in Cc.
    send(
        &daemon,
        "alice@example.com",
        &mail(
            &[
                "From: Alice Admin <alice@example.com>",
                "To: Mia <mia@customer.example>",
                "Cc: support@example.com",
                "Subject: Re: Invoice",
                "Message-ID: <alice-1@example.com>",
                "In-Reply-To: <mia-inv@customer.example>",
            ],
            "Corrected, sorry.",
        ),
    );
    let messages = daemon.messages(&conversation);
    assert_eq!(messages.len(), 2, "it joined the conversation");
    let own = &messages[1];
    assert_eq!(own["direction"], "outbound", "{own}");
    assert_eq!(own["author"], json!({"kind": "agent", "id": "alice"}));
    assert_eq!(own["joined_as"], "agent");
    assert_eq!(own["status"]["state"], "sent");
    assert_eq!(own["to"], json!(["mia@customer.example"]));
    let is_alices = |e: &Value| {
        e["kind"] == "message.created" && e["payload"]["external_id"] == "alice-1@example.com"
    };
    let seen = events.read_until("alice's reply", WAIT, |events| events.iter().any(is_alices));
    let event = seen.iter().find(|e| is_alices(e)).unwrap();
    assert_eq!(event["payload"]["direction"], "outbound");
    assert_eq!(event["payload"]["author"]["id"], "alice");
    let (_, alice_contacts) = daemon.get("/api/v1/contacts?q=alice");
    assert_eq!(
        alice_contacts["contacts"],
        json!([]),
        "no contact for an agent"
    );

    // From another address of hers, with nothing to thread to, to a new
    // customer: a new outbound conversation with that customer, hers.
    send(
        &daemon,
        "alice@home.example",
        &mail(
            &[
                "From: Alice <alice@home.example>",
                "To: Nora <nora@newcustomer.example>",
                "Cc: support@example.com",
                "Subject: Following up on our call",
                "Message-ID: <alice-2@home.example>",
            ],
            "As promised, the details.",
        ),
    );
    let (started, first) = find(&daemon, "alice-2@home.example");
    assert_eq!(first["direction"], "outbound");
    assert_eq!(first["author"]["id"], "alice");
    assert_eq!(started["contact"]["email"], "nora@newcustomer.example");
    assert_eq!(started["assignee"], "alice");
    // Nora's answer joins it.
    send(
        &daemon,
        "nora@newcustomer.example",
        &mail(
            &[
                "From: Nora <nora@newcustomer.example>",
                "To: Alice <alice@home.example>, support@example.com",
                "Subject: Re: Following up on our call",
                "Message-ID: <nora-1@newcustomer.example>",
                "In-Reply-To: <alice-2@home.example>",
            ],
            "Thanks!",
        ),
    );
    let (with_nora, nora) = find(&daemon, "nora-1@newcustomer.example");
    assert_eq!(id(&with_nora), id(&started));
    assert_eq!(nora["joined_as"], "contact");

    // Neither was sent again: the relay saw no mail at all.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(relay.mail_commands(), 0);
    assert_eq!(
        daemon.metric("switchboard_agent_mail_replies_total{kind=\"email\"}"),
        2.0
    );
}

#[test]
fn broken_from_headers_give_a_valid_mailbox_or_a_clear_refusal() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    let cases = [
        (
            "tim@a.example concierge@a.example",
            "two@a.example",
            Some("tim@a.example"),
        ),
        (
            "Big Bug bb@bug.example",
            "bigbug@bug.example",
            Some("bb@bug.example"),
        ),
        ("a@b@c.example", "broken@c.example", None),
    ];
    for (from, message_id, _) in &cases {
        send(
            &daemon,
            "relay@mx.example",
            &mail(
                &[
                    &format!("From: {from}"),
                    "To: support@example.com",
                    "Subject: Broken sender",
                    &format!("Message-ID: <{message_id}>"),
                ],
                "Please answer me.",
            ),
        );
    }
    for (_, message_id, expected) in cases {
        let (conversation, message) = find(&daemon, message_id);
        assert!(
            message["flags"]
                .as_array()
                .unwrap()
                .contains(&json!("malformed_from")),
            "{message}"
        );
        assert_eq!(conversation["contact"]["email"].as_str(), expected);
        let (status, body) = daemon.post(
            &format!("/api/v1/conversations/{}/messages", id(&conversation)),
            &json!({"text": format!("An answer: marker-{message_id}")}),
        );
        match expected {
            Some(address) => {
                assert_eq!(status, 201, "{body}");
                assert!(conversation["reply_problem"].is_null());
                let sent = relay.wait_for_text(&format!("marker-{message_id}"), WAIT);
                assert!(sent.header("To").unwrap().contains(address));
            }
            None => {
                assert_eq!(status, 422, "{body}");
                assert!(
                    body["message"].as_str().unwrap().contains("From header"),
                    "{body}"
                );
                assert!(conversation["reply_problem"].is_string(), "{conversation}");
            }
        }
    }
    // A valid address set on the contact lets the reply go out.
    let (conversation, _) = find(&daemon, "broken@c.example");
    let contact = conversation["contact"]["id"].as_str().unwrap();
    let (status, body) = daemon.patch(
        &format!("/api/v1/contacts/{contact}"),
        &json!({"email": "a b@c.example"}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = daemon.patch(
        &format!("/api/v1/contacts/{contact}"),
        &json!({"email": "Ana@C.example"}),
    );
    assert_eq!(status, 200);
    let (status, body) = daemon.post(
        &format!("/api/v1/conversations/{}/messages", id(&conversation)),
        &json!({"text": "Now it goes: marker-fixed"}),
    );
    assert_eq!(status, 201, "{body}");
    let sent = relay.wait_for_text("marker-fixed", WAIT);
    assert!(sent.header("To").unwrap().contains("ana@c.example"));
    eventually("the fixed reply is sent", WAIT, || {
        let message = daemon.message(&id(&conversation), body["id"].as_str().unwrap());
        match message["status"]["state"].as_str() {
            Some("sent") => Ok(()),
            other => Err(format!("state {other:?}")),
        }
    });
}

#[test]
fn text_is_kept_when_the_blank_line_after_the_headers_is_missing() {
    let relay = Relay::start();
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(dir.path(), &relay);
    send(
        &daemon,
        "ola@customer.example",
        "From: Ola <ola@customer.example>\r\nTo: support@example.com\r\n\
         Subject: No separator\r\nMessage-ID: <nosep@customer.example>\r\n\
         Hi, my order never arrived.\r\nRegards, Ola\r\n",
    );
    send(
        &daemon,
        "ola@customer.example",
        "From: Ola <ola@customer.example>\r\nTo: support@example.com\r\n\
         Subject: No part separator\r\nMessage-ID: <nopartsep@customer.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\nThe invoice total is wrong.\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n",
    );
    let (_, plain) = find(&daemon, "nosep@customer.example");
    assert_eq!(plain["subject"], "No separator");
    assert_eq!(
        plain["text"].as_str().unwrap().trim(),
        "Hi, my order never arrived.\r\nRegards, Ola"
    );
    let (_, part) = find(&daemon, "nopartsep@customer.example");
    assert_eq!(
        part["text"].as_str().unwrap().trim(),
        "The invoice total is wrong."
    );
    assert_eq!(part["attachments"][0]["name"], "invoice.pdf");
    assert_eq!(part["attachments"][0]["size"], 9);
}
