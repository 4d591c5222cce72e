//! End-to-end: the daemon speaks systemd's notify protocol (READY=1 once it
//! listens, STOPPING=1 on SIGTERM) and exits 0 after draining.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::smtp::SmtpClient;
use common::Daemon;

fn next_notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("a notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn notifies_ready_and_stopping_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let token = common::prepare(dir.path(), 1024 * 1024);
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let daemon = Daemon::start_with_env(
        dir.path(),
        token,
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    assert!(next_notification(&socket).contains("READY=1"));

    // A session idle at the prompt is told to go away when the daemon stops.
    let mut idle = SmtpClient::connect(daemon.smtp);
    idle.ehlo();
    let pid = daemon.pid();
    common::signal(pid, "TERM");
    assert!(next_notification(&socket).contains("STOPPING=1"));
    let goodbye = idle.reply().expect("a goodbye before the close");
    assert_eq!(goodbye.code, 421, "{goodbye:?}");
    assert_eq!(daemon.wait_exit(), Some(0));
}
