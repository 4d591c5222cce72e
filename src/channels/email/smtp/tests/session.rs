//! The connection loop over in-memory pipes: one test per rule, asserting
//! the reply codes a client sees and what reaches the sink.

use super::{hello, settings, start, TestSink};
use crate::channels::email::Delivery;

#[tokio::test]
async fn happy_path_stores_and_answers_250_with_the_queue_id() {
    let sink = TestSink::new();
    let (mut client, task, _) = start(settings(), sink.clone());
    let greeting = client.reply().await;
    assert_eq!(
        (greeting.code, greeting.text.as_str()),
        (220, "mx.test ESMTP")
    );
    let ehlo = client.cmd("EHLO client.test").await;
    assert_eq!(ehlo.code, 250);
    let lines: Vec<&str> = ehlo.text.lines().collect();
    assert_eq!(
        lines,
        ["mx.test", "SIZE 1000", "8BITMIME", "ENHANCEDSTATUSCODES"]
    );

    assert_eq!(
        client
            .cmd("MAIL FROM:<alice@customer.test> BODY=8BITMIME")
            .await
            .text,
        "2.1.0 Sender ok"
    );
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<Sales@Example.com>").await.code, 250);
    assert_eq!(client.cmd("DATA").await.code, 354);
    client
        .write(b"Subject: hi\r\n\r\nHello \xc3\xa9\r\n.\r\n")
        .await;
    let stored = client.reply().await;
    assert_eq!(
        (stored.code, stored.text.as_str()),
        (250, "2.0.0 Ok: queued as Q1")
    );
    assert_eq!(client.cmd("QUIT").await.code, 221);
    assert!(client.closed().await);
    task.await.unwrap();

    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    let (envelope, raw) = &delivered[0];
    assert_eq!(envelope.peer, super::peer());
    assert_eq!(envelope.helo, "client.test");
    assert_eq!(envelope.mail_from.as_deref(), Some("alice@customer.test"));
    assert_eq!(
        envelope.recipients,
        ["support@example.com", "Sales@Example.com"]
    );
    assert_eq!(raw.as_slice(), b"Subject: hi\r\n\r\nHello \xc3\xa9\r\n");
}

#[tokio::test]
async fn helo_is_answered_with_our_name() {
    let (mut client, _, _) = start(settings(), TestSink::new());
    client.reply().await;
    let helo = client.cmd("HELO client.test").await;
    assert_eq!((helo.code, helo.text.as_str()), (250, "mx.test"));
    let sent = client
        .send_mail("a@b.test", "support@example.com", b"x\r\n")
        .await;
    assert_eq!(sent.code, 250);
}

#[tokio::test]
async fn unknown_recipient_gets_550_and_the_transaction_goes_on() {
    let sink = TestSink::new();
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    let refused = client.cmd("RCPT TO:<victim@elsewhere.test>").await;
    assert_eq!(
        (refused.code, refused.text.as_str()),
        (550, "5.1.1 <victim@elsewhere.test>: recipient not found")
    );
    // Still no accepted recipient: DATA is out of sequence.
    assert_eq!(client.cmd("DATA").await.code, 503);
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
    assert_eq!(client.cmd("DATA").await.code, 354);
    client.write(b"x\r\n.\r\n").await;
    assert_eq!(client.reply().await.code, 250);
    assert_eq!(sink.delivered()[0].0.recipients, ["support@example.com"]);
}

#[tokio::test]
async fn recipients_beyond_the_limit_get_452() {
    let sink = TestSink::new();
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    for name in ["one", "two", "three"] {
        assert_eq!(
            client
                .cmd(&format!("RCPT TO:<{name}@example.com>"))
                .await
                .code,
            250
        );
    }
    let refused = client.cmd("RCPT TO:<four@example.com>").await;
    assert_eq!(
        (refused.code, refused.text.as_str()),
        (452, "4.5.3 Too many recipients")
    );
    assert_eq!(client.cmd("DATA").await.code, 354);
    client.write(b"x\r\n.\r\n").await;
    assert_eq!(client.reply().await.code, 250);
    assert_eq!(sink.delivered()[0].0.recipients.len(), 3);

    // The count starts again with the next transaction.
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<four@example.com>").await.code, 250);
}

#[tokio::test]
async fn oversize_message_gets_552_and_the_session_stays_usable() {
    let sink = TestSink::new();
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    let line = format!("{}\r\n", "x".repeat(98));
    let big = line.repeat(20); // 2000 bytes against a limit of 1000
    let refused = client
        .send_mail("a@b.test", "support@example.com", big.as_bytes())
        .await;
    assert_eq!(
        (refused.code, refused.text.as_str()),
        (552, "5.3.4 Message too big")
    );
    assert!(sink.delivered().is_empty());

    let small = client
        .send_mail("a@b.test", "support@example.com", b"small\r\n")
        .await;
    assert_eq!(small.code, 250);
    assert_eq!(sink.delivered().len(), 1);
    assert_eq!(client.cmd("NOOP").await.code, 250);
}

#[tokio::test]
async fn declared_size_over_the_limit_gets_552_before_data() {
    let sink = TestSink::new();
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    let refused = client.cmd("MAIL FROM:<a@b.test> SIZE=5000").await;
    assert_eq!(refused.code, 552);
    assert!(refused.text.starts_with("5.3.4 "), "{}", refused.text);
    // Nothing started: a new MAIL is in sequence.
    assert_eq!(client.cmd("MAIL FROM:<a@b.test> SIZE=10").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
}

#[tokio::test]
async fn null_sender_is_accepted_and_recorded_as_none() {
    let sink = TestSink::new();
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    let bounce = client
        .send_mail("", "support@example.com", b"Subject: bounce\r\n\r\n")
        .await;
    assert_eq!(bounce.code, 250);
    // The next transaction has a sender again.
    let normal = client
        .send_mail("c@d.test", "support@example.com", b"x\r\n")
        .await;
    assert_eq!(normal.code, 250);
    let delivered = sink.delivered();
    assert_eq!(delivered[0].0.mail_from, None);
    assert_eq!(delivered[1].0.mail_from.as_deref(), Some("c@d.test"));
}

#[tokio::test]
async fn bare_lf_in_data_is_refused_and_the_connection_closed() {
    let sink = TestSink::new();
    let (mut client, task, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
    assert_eq!(client.cmd("DATA").await.code, 354);
    // The smuggling sequence: <LF>.<CRLF> followed by a second transaction.
    client
        .write(b"Subject: x\r\n\r\nhi\n.\r\nMAIL FROM:<evil@b.test>\r\n")
        .await;
    let refused = client.reply().await;
    assert_eq!(
        (refused.code, refused.text.as_str()),
        (554, "5.5.2 Bare <LF> line endings are not allowed")
    );
    assert!(client.closed().await);
    task.await.unwrap();
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn bare_lf_command_gets_500() {
    let (mut client, _, _) = start(settings(), TestSink::new());
    hello(&mut client).await;
    client.write(b"NOOP\n").await;
    let refused = client.reply().await;
    assert_eq!(refused.code, 500);
    assert!(refused.text.contains("Bare <LF>"), "{}", refused.text);
    assert_eq!(client.cmd("NOOP").await.code, 250);
}

#[tokio::test]
async fn overlong_command_line_gets_500_and_is_skipped() {
    let (mut client, _, _) = start(settings(), TestSink::new());
    hello(&mut client).await;
    let long = format!("MAIL FROM:<{}@b.test>", "a".repeat(3000));
    let refused = client.cmd(&long).await;
    assert_eq!(
        (refused.code, refused.text.as_str()),
        (500, "5.5.2 Line too long")
    );
    // The rest of the long line was not taken as a command.
    assert_eq!(client.cmd("NOOP").await.code, 250);
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
}

#[tokio::test]
async fn dot_stuffing_is_undone_byte_exact() {
    let sink = TestSink::new();
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    let wire = b"Subject: dots\r\n\r\n..leading\r\n..\r\n...\r\nmid.dle\r\n \r\n.x\r\n\xff\xfe\r\n";
    let stored = client
        .send_mail("a@b.test", "support@example.com", wire)
        .await;
    assert_eq!(stored.code, 250);
    let expected = b"Subject: dots\r\n\r\n.leading\r\n.\r\n..\r\nmid.dle\r\n \r\nx\r\n\xff\xfe\r\n";
    assert_eq!(sink.delivered()[0].1, expected.to_vec());
}

#[tokio::test]
async fn overlong_data_line_refuses_the_message_and_the_session_goes_on() {
    let sink = TestSink::new();
    let mut limits = settings();
    limits.max_message_bytes = 10_000_000;
    let (mut client, _, _) = start(limits, sink.clone());
    hello(&mut client).await;
    let mut body = vec![b'y'; 70 * 1024];
    body.extend_from_slice(b"\r\n");
    let refused = client
        .send_mail("a@b.test", "support@example.com", &body)
        .await;
    assert_eq!(refused.code, 554);
    assert!(sink.delivered().is_empty());
    let stored = client
        .send_mail("a@b.test", "support@example.com", b"ok\r\n")
        .await;
    assert_eq!(stored.code, 250);
}

#[tokio::test]
async fn try_later_gets_451_and_the_session_stays_usable() {
    let sink = TestSink::new();
    sink.answer_next(Delivery::TryLater {
        code: 451,
        message: "4.3.0 Store busy, try again later".into(),
    });
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    let deferred = client
        .send_mail("a@b.test", "support@example.com", b"one\r\n")
        .await;
    assert_eq!(
        (deferred.code, deferred.text.as_str()),
        (451, "4.3.0 Store busy, try again later")
    );
    let stored = client
        .send_mail("a@b.test", "support@example.com", b"two\r\n")
        .await;
    assert_eq!(
        (stored.code, stored.text.as_str()),
        (250, "2.0.0 Ok: queued as Q2")
    );
}

#[tokio::test]
async fn rejected_gets_the_sinks_code_and_message() {
    let sink = TestSink::new();
    sink.answer_next(Delivery::Rejected {
        code: 554,
        message: "5.6.0 Malformed message".into(),
    });
    let (mut client, _, _) = start(settings(), sink.clone());
    hello(&mut client).await;
    let rejected = client
        .send_mail("a@b.test", "support@example.com", b"x\r\n")
        .await;
    assert_eq!(
        (rejected.code, rejected.text.as_str()),
        (554, "5.6.0 Malformed message")
    );
    assert_eq!(client.cmd("RSET").await.code, 250);
}

#[tokio::test]
async fn mailin_replies_carry_enhanced_codes() {
    let (mut client, _, _) = start(settings(), TestSink::new());
    hello(&mut client).await;
    let out_of_order = client.cmd("RCPT TO:<support@example.com>").await;
    assert_eq!(
        (out_of_order.code, out_of_order.text.as_str()),
        (503, "5.5.1 Bad sequence of commands")
    );
    let unknown = client.cmd("HELP").await;
    assert_eq!(
        (unknown.code, unknown.text.as_str()),
        (500, "5.5.2 Syntax error")
    );
    let starttls = client.cmd("STARTTLS").await;
    assert_eq!(starttls.code, 503, "STARTTLS without TLS configured");
    let bye = client.cmd("QUIT").await;
    assert_eq!((bye.code, bye.text.as_str()), (221, "2.0.0 Bye"));
}
