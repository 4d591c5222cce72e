//! End-to-end: team email over SMTP into the right inbox, seen through the API.

mod common;

use common::mails;
use common::smtp::{deliver, SmtpClient};
use common::Daemon;

#[test]
fn delivered_mail_appears_as_a_conversation_with_a_contact() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mail = mails::simple(
        "first@customer.example",
        "carol@customer.example",
        "support@example.com",
        "Order 42 missing",
        "Where is it?",
    );
    let reply = deliver(
        daemon.smtp,
        "carol@customer.example",
        &["support@example.com"],
        &mail,
    );
    assert_eq!(reply.code, 250, "{reply:?}");

    let conversations = daemon.all_conversations("&inbox=support");
    assert_eq!(conversations.len(), 1);
    let conversation = &conversations[0];
    assert_eq!(conversation["subject"], "Order 42 missing");
    assert_eq!(conversation["inbox"], "support");
    assert_eq!(conversation["channel"], "support-email");
    assert_eq!(conversation["status"], "open");
    assert_eq!(conversation["assignee"], serde_json::Value::Null);
    assert_eq!(conversation["message_count"], 1);
    assert_eq!(conversation["contact"]["email"], "carol@customer.example");
    assert_eq!(conversation["contact"]["name"], "Carol Customer");
    assert!(conversation["last_message_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let messages = daemon.messages(conversation["id"].as_str().unwrap());
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["direction"], "inbound");
    assert_eq!(message["from"]["address"], "carol@customer.example");
    assert_eq!(message["from"]["name"], "Carol Customer");
    assert_eq!(message["text"].as_str().unwrap().trim(), "Where is it?");
    assert_eq!(message["thread_reason"], "new");
    assert_eq!(message["external_id"], "first@customer.example");

    let contact_id = conversation["contact"]["id"].as_str().unwrap();
    let (status, contact) = daemon.get(&format!("/api/v1/contacts/{contact_id}"));
    assert_eq!(status, 200);
    assert_eq!(contact["email"], "carol@customer.example");

    // The same sender again: the same contact, a new conversation.
    let again = mails::simple(
        "second@customer.example",
        "Carol@Customer.example",
        "support@example.com",
        "Another thing",
        "Hi",
    );
    assert_eq!(
        deliver(
            daemon.smtp,
            "carol@customer.example",
            &["support@example.com"],
            &again
        )
        .code,
        250
    );
    let conversations = daemon.all_conversations("&inbox=support");
    assert_eq!(conversations.len(), 2);
    assert_eq!(
        conversations[0]["subject"], "Another thing",
        "latest activity first"
    );
    assert_eq!(
        conversations[0]["contact"]["id"],
        conversations[1]["contact"]["id"]
    );
}

#[test]
fn recipients_are_checked_against_configured_channels() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    assert_eq!(client.greeting.code, 220);
    client.ehlo();
    assert_eq!(client.command("MAIL FROM:<x@customer.example>").code, 250);
    let refused = client.command("RCPT TO:<postmaster@elsewhere.example>");
    assert_eq!(refused.code, 550, "{refused:?}");
    assert!(refused.text.starts_with("5.1.1"), "{refused:?}");
    assert_eq!(client.command("RCPT TO:<nobody@example.com>").code, 550);
    // Case-insensitive local part, +tag, and a forwarding target are accepted.
    assert_eq!(
        client.command("RCPT TO:<SUPPORT+billing@Example.com>").code,
        250
    );
    assert_eq!(
        client
            .command("RCPT TO:<fwd-support@mx.switchboard.test>")
            .code,
        250
    );
    client.quit();
}

#[test]
fn too_many_recipients_get_452() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    assert_eq!(client.command("MAIL FROM:<x@customer.example>").code, 250);
    for i in 0..5 {
        assert_eq!(
            client
                .command(&format!("RCPT TO:<support+{i}@example.com>"))
                .code,
            250
        );
    }
    assert_eq!(client.command("RCPT TO:<support+6@example.com>").code, 452);
    client.quit();
}

#[test]
fn oversize_mail_gets_552_and_the_session_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    let ehlo = client.ehlo();
    assert!(ehlo.text.contains("SIZE 1048576"), "{ehlo:?}");
    // Declared too big: refused at MAIL FROM.
    let early = client.command("MAIL FROM:<x@customer.example> SIZE=5000000");
    assert_eq!(early.code, 552, "{early:?}");
    // Not declared, but too big: refused at the end of DATA.
    let body = "0123456789".repeat(120_000);
    let big = mails::simple(
        "big@customer.example",
        "x@customer.example",
        "support@example.com",
        "Big",
        &body,
    );
    let reply = client.send_mail("x@customer.example", &["support@example.com"], &big);
    assert_eq!(reply.code, 552, "{reply:?}");
    // The same session then delivers a normal mail.
    let small = mails::simple(
        "small@customer.example",
        "x@customer.example",
        "support@example.com",
        "Small",
        "ok",
    );
    assert_eq!(
        client
            .send_mail("x@customer.example", &["support@example.com"], &small)
            .code,
        250
    );
    client.quit();
    let subjects: Vec<String> = daemon
        .all_conversations("")
        .iter()
        .map(|c| c["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects, vec!["Small".to_string()]);
}

#[test]
fn null_sender_bounce_and_auto_reply_are_stored_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    let dsn = "From: Mail Delivery System <MAILER-DAEMON@mail.customer.example>\r\n\
        To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\
        Message-ID: <dsn-1@mail.customer.example>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n\r\n\
        --R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
        --R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.customer.example\r\n\r\n\
        Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
        --R--\r\n";
    assert_eq!(client.command("MAIL FROM:<>").code, 250);
    assert_eq!(client.command("RCPT TO:<support@example.com>").code, 250);
    assert_eq!(client.command("DATA").code, 354);
    client.send_raw(&common::smtp::dot_stuff(dsn));
    let reply = client.command(".");
    assert_eq!(reply.code, 250, "{reply:?}");

    let ooo = "From: Ivan <ivan@customer.example>\r\nTo: support@example.com\r\n\
        Subject: Out of office\r\nMessage-ID: <ooo-1@customer.example>\r\n\
        Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n";
    assert_eq!(
        client
            .send_mail("ivan@customer.example", &["support@example.com"], ooo)
            .code,
        250
    );
    client.quit();

    let bounce = daemon.message_by_subject("Undelivered Mail Returned to Sender");
    let flags = bounce["flags"].as_array().unwrap();
    assert!(flags.contains(&"bounce".into()), "{flags:?}");
    assert!(flags.contains(&"auto_reply".into()), "{flags:?}");
    let auto = daemon.message_by_subject("Out of office");
    assert!(auto["flags"]
        .as_array()
        .unwrap()
        .contains(&"auto_reply".into()));
}

#[test]
fn attachments_download_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let bytes: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mail = mails::with_attachment("att@customer.example", "With a PDF", "report.pdf", &bytes);
    assert_eq!(
        deliver(
            daemon.smtp,
            "dan@customer.example",
            &["support@example.com"],
            &mail
        )
        .code,
        250
    );
    let message = daemon.message_by_subject("With a PDF");
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["name"], "report.pdf");
    assert_eq!(attachment["content_type"], "application/pdf");
    assert_eq!(attachment["size"], bytes.len());
    let response = common::http()
        .get(daemon.url(attachment["url"].as_str().unwrap()))
        .bearer_auth(&daemon.token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.bytes().unwrap().as_ref(), bytes.as_slice());
    let id = message["id"].as_str().unwrap();
    let (status, _) = daemon.get(&format!("/api/v1/messages/{id}/attachments/1"));
    assert_eq!(status, 404);
}

#[test]
fn non_utf8_charsets_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut latin1 = b"From: =?ISO-8859-1?Q?Jos=E9_P=E9rez?= <jose@customer.example>\r\n\
        To: support@example.com\r\nSubject: =?ISO-8859-1?Q?Se=F1al_perdida?=\r\n\
        Message-ID: <latin1@customer.example>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        .to_vec();
    latin1.extend_from_slice(b"Ma\xf1ana no funciona el m\xf3dem.\r\n");
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    assert_eq!(
        client.command("MAIL FROM:<jose@customer.example>").code,
        250
    );
    assert_eq!(client.command("RCPT TO:<support@example.com>").code, 250);
    assert_eq!(client.command("DATA").code, 354);
    client.send_raw(&latin1);
    assert_eq!(client.command(".").code, 250);
    let qp = "From: Kai <kai@customer.example>\r\nTo: support@example.com\r\n\
        Subject: =?windows-1252?B?k1F1b3RlZJQ=?=\r\nMessage-ID: <cp1252@customer.example>\r\n\
        MIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1252\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\nCost: 5 =80, =93fine=94.\r\n";
    assert_eq!(
        client
            .send_mail("kai@customer.example", &["support@example.com"], qp)
            .code,
        250
    );
    client.quit();

    let message = daemon.message_by_subject("Señal perdida");
    assert_eq!(message["from"]["name"], "José Pérez");
    assert!(message["text"]
        .as_str()
        .unwrap()
        .contains("Mañana no funciona el módem."));
    let message = daemon.message_by_subject("\u{201c}Quoted\u{201d}");
    assert!(message["text"]
        .as_str()
        .unwrap()
        .contains("Cost: 5 €, “fine”."));
}

#[test]
fn a_mail_to_two_inboxes_appears_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mail =
        "From: Liam <liam@customer.example>\r\nTo: support@example.com, sales@example.com\r\n\
        Subject: Quote and a bug\r\nMessage-ID: <both@customer.example>\r\n\r\nHello both.\r\n";
    let reply = deliver(
        daemon.smtp,
        "liam@customer.example",
        &["support@example.com", "sales@example.com"],
        mail,
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let support = daemon.all_conversations("&inbox=support");
    let sales = daemon.all_conversations("&inbox=sales");
    assert_eq!(support.len(), 1);
    assert_eq!(sales.len(), 1);
    assert_eq!(support[0]["channel"], "support-email");
    assert_eq!(sales[0]["channel"], "sales-email");
    assert_ne!(support[0]["id"], sales[0]["id"]);
    // Resent (same Message-ID): still one message in each inbox.
    deliver(
        daemon.smtp,
        "liam@customer.example",
        &["support@example.com", "sales@example.com"],
        mail,
    );
    assert_eq!(daemon.all_messages().len(), 2);
}
