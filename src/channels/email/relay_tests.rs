//! Tests of `EmailSender` against a loopback SMTP relay: what a sent reply
//! looks like on the wire, how relay answers map to outcomes, credentials,
//! the three TLS modes, and the connection pool.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use mail_parser::MessageParser;
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::channels::email::compose::tests::{automated_delivery, delivery, lf, unfolded};

#[path = "relay_fake_smtp.rs"]
mod fake;

use fake::{Behaviour, FakeRelay};

fn settings(relay: &FakeRelay, tls: RelayTls) -> RelaySettings {
    RelaySettings {
        host: "127.0.0.1".to_string(),
        port: relay.addr.port(),
        tls,
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
        hostname: "switchboard.example".to_string(),
    }
}

async fn relay(behaviour: Behaviour) -> (FakeRelay, EmailSender) {
    let relay = FakeRelay::start(behaviour).await;
    let sender = EmailSender::new(&settings(&relay, RelayTls::None)).unwrap();
    (relay, sender)
}

/// Waits (up to 5 s) for something the sender does in the background.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..250 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not happen within 5 s");
}

fn assert_delivered(outcome: SendOutcome) {
    assert_eq!(
        outcome,
        SendOutcome::Delivered {
            provider_id: Some("FAKE123".to_string())
        }
    );
}

fn retry_reason(outcome: SendOutcome) -> String {
    match outcome {
        SendOutcome::Retry { reason, after } => {
            assert_eq!(after, None);
            reason
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn sends_a_threaded_reply_with_both_parts_signed() {
    let (relay, sender) = relay(Behaviour::default()).await;
    let outcome = sender.send(&delivery()).await;
    assert_eq!(
        outcome,
        SendOutcome::Delivered {
            provider_id: Some("FAKE123".to_string())
        }
    );

    let log = relay.log();
    assert_eq!(log.ehlo, ["switchboard.example"]);
    assert!(log.auth.is_empty());
    assert_eq!(log.mails.len(), 1);
    let mail = &log.mails[0];
    assert!(mail.mail_from.starts_with("FROM:<support@example.com>"));
    assert_eq!(mail.rcpt_to, ["TO:<jane@customer.example>"]);
    let raw = unfolded(&mail.data);
    for header in [
        "From: \"Alice Doe at Example Inc\" <support@example.com>\r\n",
        "To: \"Jane Customer\" <jane@customer.example>\r\n",
        "Subject: Re: Printer on fire\r\n",
        "Message-ID: <reply-4@switchboard.example>\r\n",
        "In-Reply-To: <third@customer.example>\r\n",
        "References: <first@customer.example> <reply-2@switchboard.example> <third@customer.example>\r\n",
        "Reply-To: support+ck3x9q2@example.com\r\n",
        "Auto-Submitted: no\r\n",
        "Content-Type: multipart/alternative;",
    ] {
        assert!(raw.contains(header), "missing {header:?} in\n{raw}");
    }
    let parsed = MessageParser::default().parse(&mail.data).unwrap();
    assert_eq!(
        lf(parsed.body_text(0).unwrap()),
        "Thanks, it is fixed.\n\nBest regards,\nAlice Doe\nExample Inc"
    );
    assert_eq!(
        lf(parsed.body_html(0).unwrap()),
        "<p>Thanks, it is <b>fixed</b>.</p>\n<p>Best regards,<br>Alice Doe</p>"
    );
}

#[tokio::test]
async fn automation_is_marked_auto_replied() {
    let (relay, sender) = relay(Behaviour::default()).await;
    let outcome = sender.send(&automated_delivery()).await;
    assert!(
        matches!(outcome, SendOutcome::Delivered { .. }),
        "{outcome:?}"
    );
    let raw = unfolded(&relay.log().mails[0].data);
    assert!(raw.contains("Auto-Submitted: auto-replied\r\n"), "{raw}");
    assert!(raw.contains("X-Auto-Response-Suppress: All\r\n"), "{raw}");
    assert!(
        raw.contains("From: \"Example Inc\" <support@example.com>\r\n"),
        "{raw}"
    );
}

#[tokio::test]
async fn pooled_connection_is_reused_for_the_next_reply() {
    let (relay, sender) = relay(Behaviour::default()).await;
    for _ in 0..2 {
        assert_delivered(sender.send(&delivery()).await);
        // Parked before `send` returns: nothing to wait for.
        assert_eq!(sender.pool.idle_count(), 1);
    }
    let log = relay.log();
    assert_eq!(log.mails.len(), 2);
    assert_eq!(log.connections, 1, "one connection for both: {log:?}");
    assert_eq!(log.ehlo.len(), 1, "one connection for both: {log:?}");
    assert_eq!(log.quits, 0);

    // The idle connection is closed politely with the sender.
    drop(sender);
    eventually("QUIT on drop", || relay.log().quits == 1).await;
}

#[tokio::test]
async fn pooled_connection_the_relay_closed_is_replaced() {
    let (relay, sender) = relay(Behaviour {
        hang_up_after_data: true,
        ..Behaviour::default()
    })
    .await;
    assert_delivered(sender.send(&delivery()).await);
    // The relay hangs up after answering; the connection is still parked
    // and fails its NOOP before the next message.
    assert_eq!(sender.pool.idle_count(), 1);
    assert_delivered(sender.send(&delivery()).await);
    let log = relay.log();
    assert_eq!(log.mails.len(), 2);
    assert_eq!(
        log.connections, 2,
        "a new connection for the second: {log:?}"
    );
}

#[tokio::test]
async fn relay_socket_has_tcp_nodelay() {
    let (_relay, sender) = relay(Behaviour::default()).await;
    assert_delivered(sender.send(&delivery()).await);
    // Read back from the socket that carried the message.
    assert_eq!(sender.pool.idle_nodelay(), [true]);
}

#[tokio::test]
async fn concurrent_sends_get_their_own_connections_and_few_stay_idle() {
    let (relay, sender) = relay(Behaviour::default()).await;
    let deliveries: Vec<_> = (0..6).map(|_| delivery()).collect();
    let outcomes = futures_util::future::join_all(deliveries.iter().map(|d| sender.send(d))).await;
    for outcome in outcomes {
        assert_delivered(outcome);
    }
    let log = relay.log();
    assert_eq!(log.mails.len(), 6);
    assert_eq!(log.connections, 6, "no connection shared: {log:?}");
    assert_eq!(sender.pool.idle_count(), 4);
    eventually("QUIT on the two extra", || relay.log().quits == 2).await;
    drop(sender);
    eventually("QUIT on the idle ones", || relay.log().quits == 6).await;
}

#[tokio::test]
async fn idle_connection_is_closed_after_the_idle_time() {
    let relay = FakeRelay::start(Behaviour::default()).await;
    let limits = Limits {
        max_idle: 4,
        idle_for: Duration::from_millis(50),
    };
    let sender = EmailSender::build(&settings(&relay, RelayTls::None), None, limits).unwrap();
    assert_delivered(sender.send(&delivery()).await);
    eventually("QUIT after the idle time", || {
        relay.log().quits == 1 && sender.pool.idle_count() == 0
    })
    .await;
    assert_delivered(sender.send(&delivery()).await);
    assert_eq!(relay.log().connections, 2);
}

#[tokio::test]
async fn temporary_refusal_is_retried() {
    let behaviour = Behaviour {
        mail_reply: Some("451 4.3.0 Try again later"),
        ..Behaviour::default()
    };
    let (relay, sender) = relay(behaviour).await;
    let reason = retry_reason(sender.send(&delivery()).await);
    assert_eq!(reason, "the relay answered 451 4.3.0 Try again later");
    assert!(relay.log().mails.is_empty());
    // A connection that erred is not parked.
    assert_eq!(sender.pool.idle_count(), 0);
    eventually("QUIT", || relay.log().quits == 1).await;
}

#[tokio::test]
async fn permanent_refusal_fails() {
    let behaviour = Behaviour {
        mail_reply: Some("550 5.7.1 Sender not allowed"),
        ..Behaviour::default()
    };
    let (_relay, sender) = relay(behaviour).await;
    assert_eq!(
        sender.send(&delivery()).await,
        SendOutcome::Failed {
            reason: "the relay refused the message: 550 5.7.1 Sender not allowed".to_string()
        }
    );
}

#[tokio::test]
async fn unreachable_relay_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut settings = settings(
        &FakeRelay::start(Behaviour::default()).await,
        RelayTls::None,
    );
    settings.port = port;
    let sender = EmailSender::new(&settings).unwrap();
    let reason = retry_reason(sender.send(&delivery()).await);
    assert!(
        reason.starts_with(&format!("cannot reach the relay 127.0.0.1:{port}")),
        "{reason}"
    );
    assert!(reason.len() < 200, "{reason}");
}

#[tokio::test]
async fn silent_relay_times_out_into_a_retry() {
    let relay = FakeRelay::start(Behaviour {
        silent: true,
        ..Behaviour::default()
    })
    .await;
    let mut settings = settings(&relay, RelayTls::None);
    settings.timeout = Duration::from_millis(300);
    let sender = EmailSender::new(&settings).unwrap();
    let started = std::time::Instant::now();
    let reason = retry_reason(sender.send(&delivery()).await);
    assert!(started.elapsed() < Duration::from_secs(3), "{reason}");
    assert!(
        reason.contains("timed out") || reason.contains("in time"),
        "{reason}"
    );
}

#[tokio::test]
async fn mail_that_cannot_be_composed_fails_without_sending() {
    let (relay, sender) = relay(Behaviour::default()).await;
    let mut no_address = delivery();
    no_address.contact.email = None;
    assert_eq!(
        sender.send(&no_address).await,
        SendOutcome::Failed {
            reason: "cannot compose the email: the contact has no email address".to_string()
        }
    );
    assert!(relay.log().ehlo.is_empty());
}

#[tokio::test]
async fn credentials_are_used_and_never_shown() {
    let relay = FakeRelay::start(Behaviour::default()).await;
    let mut with_login = settings(&relay, RelayTls::None);
    with_login.username = Some("switchboard".to_string());
    with_login.password = Some("s3cret-pa55".to_string());
    let sender = EmailSender::new(&with_login).unwrap();
    let outcome = sender.send(&delivery()).await;
    assert!(
        matches!(outcome, SendOutcome::Delivered { .. }),
        "{outcome:?}"
    );
    let auth = relay.log().auth;
    assert_eq!(auth.len(), 1);
    let encoded = auth[0].strip_prefix("PLAIN ").unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decoded, b"\0switchboard\0s3cret-pa55");
    assert!(!format!("{sender:?}").contains("s3cret"));

    // A refused login is the relay settings' fault: retried, and the
    // password is not repeated even when the relay echoes it.
    let refusing = FakeRelay::start(Behaviour {
        auth_reply: Some("535 5.7.8 Bad credentials: s3cret-pa55"),
        ..Behaviour::default()
    })
    .await;
    with_login.port = refusing.addr.port();
    let sender = EmailSender::new(&with_login).unwrap();
    let reason = retry_reason(sender.send(&delivery()).await);
    assert_eq!(
        reason,
        "the relay answered 535 5.7.8 Bad credentials: <redacted>"
    );
}

/// A TLS acceptor and lettre parameters trusting its certificate, made
/// for `localhost`.
fn tls_pair() -> (TlsAcceptor, TlsParameters) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = generated.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(generated.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let parameters = TlsParameters::builder("localhost".to_string())
        .add_root_certificate(Certificate::from_der(cert.to_vec()).unwrap())
        .build_rustls()
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), parameters)
}

#[tokio::test]
async fn implicit_tls_relay() {
    let (acceptor, parameters) = tls_pair();
    let relay = FakeRelay::start(Behaviour {
        implicit_tls: Some(acceptor),
        ..Behaviour::default()
    })
    .await;
    let settings = settings(&relay, RelayTls::Tls);
    let sender = EmailSender::new_with_tls_parameters(&settings, parameters).unwrap();
    let outcome = sender.send(&delivery()).await;
    assert!(
        matches!(outcome, SendOutcome::Delivered { .. }),
        "{outcome:?}"
    );
    let log = relay.log();
    assert!(log.encrypted);
    assert_eq!(log.mails.len(), 1);
    assert_eq!(sender.pool.idle_nodelay(), [true]);
}

#[tokio::test]
async fn starttls_relay_upgrades_before_sending() {
    let (acceptor, parameters) = tls_pair();
    let relay = FakeRelay::start(Behaviour {
        starttls: Some(acceptor),
        ..Behaviour::default()
    })
    .await;
    let settings = settings(&relay, RelayTls::Starttls);
    let sender = EmailSender::new_with_tls_parameters(&settings, parameters).unwrap();
    let outcome = sender.send(&delivery()).await;
    assert!(
        matches!(outcome, SendOutcome::Delivered { .. }),
        "{outcome:?}"
    );
    let log = relay.log();
    assert!(log.encrypted);
    assert_eq!(log.ehlo.len(), 2, "EHLO again after STARTTLS: {log:?}");
    assert_eq!(log.mails.len(), 1);
    assert_eq!(sender.pool.idle_nodelay(), [true]);

    // The pooled connection stays encrypted: no second handshake.
    assert_delivered(sender.send(&delivery()).await);
    let log = relay.log();
    assert_eq!(log.connections, 1, "{log:?}");
    assert_eq!(log.mails.len(), 2);
}

#[tokio::test]
async fn starttls_is_required_not_opportunistic() {
    let (_, parameters) = tls_pair();
    let relay = FakeRelay::start(Behaviour::default()).await;
    let settings = settings(&relay, RelayTls::Starttls);
    let sender = EmailSender::new_with_tls_parameters(&settings, parameters).unwrap();
    let reason = retry_reason(sender.send(&delivery()).await);
    assert!(reason.contains("STARTTLS"), "{reason}");
    let log = relay.log();
    assert!(log.mails.is_empty());
    assert_eq!(log.ehlo.len(), 1, "{log:?}");
    assert_eq!(sender.pool.idle_count(), 0);
}

#[test]
fn sender_needs_the_runtime() {
    let settings = RelaySettings {
        host: "127.0.0.1".to_string(),
        port: 25,
        tls: RelayTls::None,
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
        hostname: "switchboard.example".to_string(),
    };
    assert!(matches!(
        EmailSender::new(&settings),
        Err(RelayError::NoRuntime)
    ));
}
