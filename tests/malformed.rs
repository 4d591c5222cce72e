//! End-to-end: malformed mail is stored or refused with a clear code, never a
//! crash, and the daemon keeps serving; protocol abuse is refused.

mod common;

use common::smtp::{deliver, SmtpClient};
use common::Daemon;

const SUPPORT: &[&str] = &["support@example.com"];

fn still_serving(daemon: &Daemon) {
    let (status, _) = daemon.get("/healthz");
    assert_eq!(status, 200);
    let ok = common::mails::simple(
        "alive@x.example",
        "z@x.example",
        "support@example.com",
        "alive",
        "still here",
    );
    assert_eq!(deliver(daemon.smtp, "z@x.example", SUPPORT, &ok).code, 250);
}

#[test]
fn malformed_mime_never_crashes_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let truncated = "From: a@x.example\r\nSubject: truncated\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"T\"\r\n\r\n--T\r\nContent-Type: text/plain\r\n\r\npart one\r\n--T\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x";
    let broken_base64 = "From: b@x.example\r\nSubject: broken base64\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not*base64@@@\r\n====\r\n";
    let mut many_parts = String::from("From: c@x.example\r\nSubject: thousand parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"P\"\r\n\r\n");
    for i in 0..1000 {
        many_parts.push_str(&format!("--P\r\nContent-Type: text/plain; name=\"p{i}.txt\"\r\nContent-Disposition: attachment; filename=\"p{i}.txt\"\r\n\r\npart {i}\r\n"));
    }
    many_parts.push_str("--P--\r\n");
    let no_headers = "just some text without any header\r\n";
    for (i, mail) in [truncated, broken_base64, many_parts.as_str(), no_headers]
        .iter()
        .enumerate()
    {
        let reply = deliver(daemon.smtp, "a@x.example", SUPPORT, mail);
        assert!(
            reply.code == 250 || (500..600).contains(&reply.code),
            "case {i}: {reply:?}"
        );
        assert!(!reply.text.is_empty(), "case {i}: a clear message");
    }
    // 8-bit garbage in headers, sent as raw bytes.
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    assert_eq!(client.command("MAIL FROM:<g@x.example>").code, 250);
    assert_eq!(client.command("RCPT TO:<support@example.com>").code, 250);
    assert_eq!(client.command("DATA").code, 354);
    client.send_raw(b"From: \xff\xfe\xfd <g@x.example>\r\nSubject: \x80\x81 garbage \xc3\r\nX-Bin: \x00\x01\x02\r\n\r\nbody \xff\r\n");
    let reply = client.command(".");
    assert!(reply.code == 250 || reply.code == 554, "{reply:?}");
    client.quit();

    let thousand = daemon.message_by_subject("thousand parts");
    assert_eq!(thousand["attachments"].as_array().unwrap().len(), 1000);
    still_serving(&daemon);
}

#[test]
fn bare_lf_in_data_is_refused_so_nothing_can_be_smuggled() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    assert_eq!(client.command("MAIL FROM:<a@x.example>").code, 250);
    assert_eq!(client.command("RCPT TO:<support@example.com>").code, 250);
    assert_eq!(client.command("DATA").code, 354);
    client.send_raw(b"Subject: outer\r\n\r\nhello\n.\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n");
    let reply = client.reply().expect("a reply before the close");
    assert!((500..600).contains(&reply.code), "{reply:?}");
    assert!(daemon.all_conversations("").is_empty(), "nothing stored");
    still_serving(&daemon);
}

#[test]
fn overlong_command_lines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_fresh(dir.path());
    let mut client = SmtpClient::connect(daemon.smtp);
    client.ehlo();
    let reply = client.command(&format!("MAIL FROM:<{}@x.example>", "a".repeat(5000)));
    assert_eq!(reply.code, 500, "{reply:?}");
    assert_eq!(client.command("NOOP").code, 250);
    client.quit();
    still_serving(&daemon);
}
