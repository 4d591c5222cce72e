//! How sessions end without QUIT: the idle and whole-session timeouts, and
//! shutdown (a session at the prompt is told `421` at once; one receiving a
//! message finishes it first).

use std::time::Duration;

use tokio::time::Instant;

use super::{hello, settings, start, TestSink};

/// Real but short timeouts (the crate's tokio has no `test-util` to pause time).
fn quick_timeouts(idle_ms: u64, session_ms: u64) -> crate::config::SmtpSettings {
    let mut limits = settings();
    limits.idle_timeout = Duration::from_millis(idle_ms);
    limits.session_timeout = Duration::from_millis(session_ms);
    limits
}

#[tokio::test]
async fn idle_client_gets_421_and_is_disconnected() {
    let (mut client, task, _) = start(quick_timeouts(300, 60_000), TestSink::new());
    hello(&mut client).await;
    let started = Instant::now();
    let timeout = client.reply().await;
    assert_eq!(timeout.code, 421);
    assert_eq!(timeout.text, "4.4.2 Idle timeout, closing connection");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert!(client.closed().await);
    task.await.unwrap();
}

#[tokio::test]
async fn idle_timeout_applies_inside_data_too() {
    let sink = TestSink::new();
    let (mut client, task, _) = start(quick_timeouts(300, 60_000), sink.clone());
    hello(&mut client).await;
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
    assert_eq!(client.cmd("DATA").await.code, 354);
    client
        .write(b"Subject: x\r\n\r\npartial line without end")
        .await;
    assert_eq!(client.reply().await.code, 421);
    task.await.unwrap();
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn busy_client_is_still_cut_off_at_the_session_timeout() {
    let started = Instant::now();
    let (mut client, task, _) = start(quick_timeouts(600, 1000), TestSink::new());
    hello(&mut client).await;
    // Never idle for 600 ms, so only the session limit can end it.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(client.cmd("NOOP").await.code, 250);
    }
    let last = client.reply().await;
    assert_eq!(last.code, 421);
    assert_eq!(last.text, "4.4.2 Session timeout, closing connection");
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_sends_421_to_a_session_at_the_prompt() {
    let (mut client, task, shutdown) = start(settings(), TestSink::new());
    hello(&mut client).await;
    shutdown.cancel();
    let goodbye = client.reply().await;
    assert_eq!(goodbye.code, 421);
    assert!(goodbye.text.starts_with("4.3.0 "), "{}", goodbye.text);
    assert!(client.closed().await);
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_message_in_flight_finish_first() {
    let sink = TestSink::new();
    let (mut client, task, shutdown) = start(settings(), sink.clone());
    hello(&mut client).await;
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 250);
    assert_eq!(client.cmd("RCPT TO:<support@example.com>").await.code, 250);
    assert_eq!(client.cmd("DATA").await.code, 354);
    client.write(b"Subject: in flight\r\n\r\n").await;
    shutdown.cancel();
    client.write(b"body\r\n.\r\n").await;
    assert_eq!(client.reply().await.code, 250);
    assert_eq!(client.reply().await.code, 421);
    task.await.unwrap();
    assert_eq!(sink.delivered().len(), 1);
}
