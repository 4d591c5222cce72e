//! End-to-end: SIGHUP applies a changed workspace without dropping
//! connections (and keeps the old one when the new file is invalid), and
//! STARTTLS works with a real client when a certificate is configured.

mod common;

use std::time::{Duration, Instant};

use common::smtp::SmtpClient;
use common::{signal, Daemon};

#[test]
fn sighup_applies_a_new_workspace_without_dropping_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    assert_eq!(client.command("MAIL FROM:<a@x.example>").code, 250);
    assert_eq!(client.command("RCPT TO:<billing@example.com>").code, 550);

    let config_path = dir.path().join("config.toml");
    let original = std::fs::read_to_string(&config_path).unwrap();
    let added = format!(
        "{original}\n[[channels]]\nid = \"billing-email\"\ninbox = \"support\"\nkind = \"email\"\naddress = \"billing@example.com\"\n"
    );
    std::fs::write(&config_path, &added).unwrap();
    signal(daemon.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = client.command("RCPT TO:<billing@example.com>");
        if reply.code == 250 {
            break;
        }
        assert!(Instant::now() < deadline, "reload not applied: {reply:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // An invalid file is refused and the running workspace kept.
    std::fs::write(
        &config_path,
        added.replace(
            "kind = \"email\"\naddress = \"billing",
            "kind = \"fax\"\naddress = \"billing",
        ),
    )
    .unwrap();
    signal(daemon.pid(), "HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("config reload refused") {
        assert!(Instant::now() < deadline, "no refusal logged");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(client.command("RCPT TO:<billing+x@example.com>").code, 250);
    assert_eq!(
        client.command("NOOP").code,
        250,
        "the session survived both reloads"
    );
    client.quit();
}

#[test]
fn starttls_delivers_with_a_real_client() {
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let token = common::prepare(dir.path(), 1024 * 1024);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let config_path = dir.path().join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap().replace(
        "max_recipients = 5",
        "max_recipients = 5\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
    );
    std::fs::write(&config_path, config).unwrap();
    let daemon = Daemon::start(dir.path(), token);

    let mut client = SmtpClient::connect(daemon.smtp);
    assert!(client.ehlo().text.contains("STARTTLS"));
    client.quit();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let tls = TlsParameters::builder("localhost".into())
            .dangerous_accept_invalid_certs(true)
            .build_rustls()
            .unwrap();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(daemon.smtp.port())
            .tls(Tls::Required(tls))
            .build();
        let message = Message::builder()
            .from("Olivia <olivia@customer.example>".parse().unwrap())
            .to("support@example.com".parse().unwrap())
            .subject("Sent over TLS")
            .body("encrypted".to_string())
            .unwrap();
        let response = transport.send(message).await.unwrap();
        assert_eq!(response.code().to_string(), "250");
    });
    let message = daemon.message_by_subject("Sent over TLS");
    assert_eq!(message["from"]["address"], "olivia@customer.example");
}
