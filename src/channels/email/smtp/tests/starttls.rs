//! STARTTLS: the upgrade with a raw tokio-rustls client over a pipe (bytes
//! pipelined after STARTTLS are discarded, the same mailin session goes on)
//! and with lettre over TCP, both against an rcgen self-signed certificate.

use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{hello, serve, settings, start_with_tls, Client, TestSink};
use crate::channels::email::smtp::load_tls;
use crate::config::TlsFiles;

/// A self-signed certificate for `localhost`, loaded as the daemon would.
fn acceptor(dir: &std::path::Path) -> (TlsAcceptor, CertificateDer<'static>) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, generated.cert.pem()).unwrap();
    std::fs::write(&files.key, generated.key_pair.serialize_pem()).unwrap();
    (load_tls(&files).unwrap(), generated.cert.der().clone())
}

fn connector(trusted: CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn starttls_discards_pipelined_bytes_and_continues_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, cert) = acceptor(dir.path());
    let sink = TestSink::new();
    let (mut client, task, _) = start_with_tls(settings(), Some(acceptor), sink.clone());
    let ehlo = hello(&mut client).await;
    assert!(ehlo.text.lines().any(|l| l == "STARTTLS"), "{}", ehlo.text);

    // A command smuggled behind STARTTLS must not run inside the TLS session.
    client
        .write(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        .await;
    let ready = client.reply().await;
    assert_eq!(
        (ready.code, ready.text.as_str()),
        (220, "2.0.0 Ready to start TLS")
    );
    let name = ServerName::try_from("localhost").unwrap();
    // The handshake succeeds only if the server dropped the pipelined line.
    let tls = connector(cert)
        .connect(name, client.into_inner())
        .await
        .unwrap();
    let mut client = Client::new(tls);

    // Same mailin session, now in its post-STARTTLS state: EHLO first.
    assert_eq!(client.cmd("MAIL FROM:<a@b.test>").await.code, 503);
    let ehlo = client.cmd("EHLO client.test").await;
    assert_eq!(ehlo.code, 250);
    assert!(!ehlo.text.contains("STARTTLS"), "{}", ehlo.text);
    assert_eq!(client.cmd("STARTTLS").await.code, 503);
    let stored = client
        .send_mail("a@b.test", "support@example.com", b"secret\r\n")
        .await;
    assert_eq!(stored.code, 250);
    assert_eq!(client.cmd("QUIT").await.code, 221);
    task.await.unwrap();

    let delivered = sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0.mail_from.as_deref(), Some("a@b.test"));
    assert_eq!(delivered[0].1, b"secret\r\n".to_vec());
}

#[tokio::test]
async fn failed_handshake_ends_the_session_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, _) = acceptor(dir.path());
    let (mut client, task, _) = start_with_tls(settings(), Some(acceptor), TestSink::new());
    hello(&mut client).await;
    assert_eq!(client.cmd("STARTTLS").await.code, 220);
    client.write(b"this is not a TLS ClientHello\r\n").await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("session did not end")
        .unwrap();
}

#[tokio::test]
async fn lettre_delivers_with_required_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let (acceptor, _) = acceptor(dir.path());
    let mut limits = settings();
    limits.max_message_bytes = 100_000;
    let server = serve(limits, Some(acceptor), Duration::from_secs(5)).await;
    let parameters = TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap();
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.addr.port())
        .tls(Tls::Required(parameters))
        .build();
    let email = Message::builder()
        .from("Alice <alice@customer.test>".parse().unwrap())
        .to("support@example.com".parse().unwrap())
        .subject("Over TLS")
        .body(String::from("Hello over TLS"))
        .unwrap();
    let response = mailer.send(email).await.unwrap();
    assert_eq!(u16::from(response.code()), 250);
    let first_line = response.first_line().unwrap_or_default().to_string();
    assert!(first_line.contains("queued as Q1"), "{first_line}");
    let delivered = server.sink.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0.recipients, ["support@example.com"]);
    assert!(String::from_utf8_lossy(&delivered[0].1).contains("Subject: Over TLS"));
    server.shutdown.cancel();
    server.task.await.unwrap();
}
