//! The accept loop on a loopback port: the session cap, graceful shutdown
//! with a drain deadline, and a real client (lettre) over plain TCP.

use std::time::Duration;

use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{connect, hello, serve, settings};
use crate::metrics::SmtpRejection;

#[tokio::test]
async fn connections_over_the_cap_get_421_and_are_closed() {
    let server = serve(settings(), None, Duration::from_secs(5)).await;
    let mut first = connect(server.addr).await;
    hello(&mut first).await;
    let mut second = connect(server.addr).await;
    hello(&mut second).await;

    let mut third = connect(server.addr).await;
    let busy = third.reply().await;
    assert_eq!(
        (busy.code, busy.text.as_str()),
        (421, "4.3.2 Too many connections, try again later")
    );
    assert!(third.closed().await);
    assert_eq!(server.metrics.rejections(SmtpRejection::Busy), 1);

    // A finished session frees its place.
    assert_eq!(first.cmd("QUIT").await.code, 221);
    assert!(first.closed().await);
    let mut admitted = false;
    for _ in 0..100 {
        let mut next = connect(server.addr).await;
        if next.reply().await.code == 220 {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(admitted, "no place freed after a session ended");
}

#[tokio::test]
async fn shutdown_says_421_to_idle_sessions_and_serve_returns() {
    let server = serve(settings(), None, Duration::from_secs(5)).await;
    let mut client = connect(server.addr).await;
    hello(&mut client).await;
    server.shutdown.cancel();
    let goodbye = client.reply().await;
    assert_eq!(goodbye.code, 421);
    assert!(goodbye.text.starts_with("4.3.0 "), "{}", goodbye.text);
    assert!(client.closed().await);
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("serve did not return")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn sessions_still_busy_after_the_drain_period_are_aborted() {
    let server = serve(settings(), None, Duration::from_millis(200)).await;
    let mut client = connect(server.addr).await;
    hello(&mut client).await;
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
    assert_eq!(client.cmd("DATA").await.code, 354);
    client.write(b"Subject: never finished\r\n").await;
    server.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("serve did not return after the drain period")
        .unwrap();
    assert!(client.closed().await);
    assert!(server.sink.delivered().is_empty());
}

#[tokio::test]
async fn lettre_delivers_over_plain_tcp() {
    let mut limits = settings();
    limits.max_message_bytes = 100_000;
    let server = serve(limits, None, Duration::from_secs(5)).await;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.addr.port())
        .tls(Tls::None)
        .build();
    let email = Message::builder()
        .from("Alice <alice@customer.test>".parse().unwrap())
        .to("support@example.com".parse().unwrap())
        .subject("Plain")
        .body(String::from(".starts with a dot\r\nHello"))
        .unwrap();
    let response = mailer.send(email).await.unwrap();
    assert_eq!(u16::from(response.code()), 250);
    let delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].0.mail_from.as_deref(),
        Some("alice@customer.test")
    );
    let raw = String::from_utf8_lossy(&delivered[0].1).into_owned();
    assert!(raw.contains("Subject: Plain"), "{raw}");
    assert!(raw.contains("\r\n.starts with a dot"), "{raw}");
}
