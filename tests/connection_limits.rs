//! End-to-end: every listener survives slow, idle and greedy clients. A
//! flood of half-open HTTP connections from one address leaves `/healthz`
//! and SMTP answering and is closed after the header-read timeout; over a
//! listener's caps, HTTP answers `503` and SMTP `421`, and the other
//! listener keeps serving; trickled headers and idle kept-alive
//! connections are cut, upgraded sockets are not.
//!
//! Every client here is on loopback: the flood comes from 127.0.0.2 and
//! friends (Linux routes all of 127/8 to `lo`), the checks from 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::smtp::{deliver, SmtpClient};
use common::ws::{EventSocket, Next};
use common::{eventually, test_config, Daemon};

const WAIT: Duration = Duration::from_secs(30);
const MAIL: &str = "From: Flo <flo@example.net>\r\nTo: support@example.com\r\n\
    Subject: through the flood\r\nMessage-ID: <flood-1@example.net>\r\n\r\nStill here.\r\n";

/// The test config with `http` and `smtp` keys added to those sections.
fn config(http: &str, smtp: &str) -> String {
    test_config(1024 * 1024)
        .replacen(
            "[http]\nlisten = \"127.0.0.1:0\"\n",
            &format!("[http]\nlisten = \"127.0.0.1:0\"\n{http}\n"),
            1,
        )
        .replacen(
            "max_recipients = 5\n",
            &format!("max_recipients = 5\n{smtp}\n"),
            1,
        )
}

/// A connection to `addr` from the loopback address `source`.
async fn connect_from(source: &str, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// The same, as a blocking stream with a read timeout.
fn blocking_from(runtime: &tokio::runtime::Runtime, source: &str, addr: SocketAddr) -> TcpStream {
    let stream = runtime
        .block_on(connect_from(source, addr))
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// Sends half a request head and leaves the connection hanging.
fn half_open(runtime: &tokio::runtime::Runtime, source: &str, addr: SocketAddr) -> TcpStream {
    let mut stream = blocking_from(runtime, source, addr);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
}

/// What the server sent until it closed (or the read timed out).
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

fn healthz_within_a_second(daemon: &Daemon) -> u16 {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    client
        .get(daemon.url("/healthz"))
        .send()
        .expect("/healthz answers within 1 s")
        .status()
        .as_u16()
}

#[test]
fn five_thousand_half_open_connections_starve_nothing_and_are_closed_after_the_header_timeout() {
    const FLOOD: usize = 5_000;
    // The flood's own sockets are files of this process too: raise its
    // limit as the daemon raises its own, if the shell's is lower.
    let limit = switchboard::listen::file_limit::ensure(FLOOD as u64);
    assert!(
        !matches!(
            limit,
            switchboard::listen::file_limit::FileLimit::TooLow { .. }
        ),
        "this machine's open-file limit cannot hold the flood: {limit:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(
        dir.path(),
        &config(
            "max_connections = 6000\nmax_connections_per_address = 6000\nheader_read_timeout_secs = 5",
            "",
        ),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = daemon.http;
    let started = Instant::now();
    let mut flood = runtime.block_on(async {
        let mut streams = Vec::with_capacity(FLOOD);
        // In batches, so the listen backlog never overflows.
        for _ in 0..FLOOD / 250 {
            let batch = (0..250).map(|_| async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = connect_from("127.0.0.2", addr).await;
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .await
                    .unwrap();
                stream
            });
            streams.extend(futures_util::future::join_all(batch).await);
        }
        streams
    });
    let opened = started.elapsed();
    assert_eq!(flood.len(), FLOOD);

    // The flood holds its connections; the daemon still answers both doors.
    assert!(daemon.metric("switchboard_connections_open{listener=\"http\"}") >= 1000.0);
    let asked = Instant::now();
    assert_eq!(healthz_within_a_second(&daemon), 200);
    let healthz = asked.elapsed();
    let asked = Instant::now();
    let reply = deliver(
        daemon.smtp,
        "flo@example.net",
        &["support@example.com"],
        MAIL,
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    let smtp = asked.elapsed();

    // After the header timeout every half-open connection is closed, and
    // none was ever answered (they never finished a request).
    let answered = runtime.block_on(async {
        use tokio::io::AsyncReadExt;
        let reads = flood.iter_mut().map(|stream| async move {
            let mut buffer = [0u8; 256];
            tokio::time::timeout(WAIT, stream.read(&mut buffer))
                .await
                .expect("a half-open connection closed by the daemon")
                .unwrap_or(0)
        });
        futures_util::future::join_all(reads).await
    });
    let closed_after = started.elapsed();
    assert!(
        answered.iter().all(|&bytes| bytes == 0),
        "a half-open connection got an answer"
    );
    eventually("the flood's connections released", WAIT, || {
        let open = daemon.metric("switchboard_connections_open{listener=\"http\"}");
        if open <= 2.0 {
            Ok(())
        } else {
            Err(format!("{open} open"))
        }
    });
    let timed_out = daemon.metric("switchboard_http_header_timeouts_total{listener=\"http\"}");
    assert!(timed_out >= FLOOD as f64, "{timed_out} header timeouts");
    eprintln!(
        "flood: {FLOOD} half-open connections opened in {opened:?}, all closed {closed_after:?} \
         after the first (header timeout 5 s); meanwhile /healthz answered in {healthz:?} and \
         an SMTP session took {smtp:?}"
    );
}

#[test]
fn over_its_caps_a_listener_refuses_and_the_other_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(
        dir.path(),
        &config(
            "max_connections = 30\nmax_connections_per_address = 10",
            "max_sessions = 5\nmax_sessions_per_address = 3",
        ),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // One address gets its share, then `503` with Retry-After.
    let mut held: Vec<TcpStream> = (0..10)
        .map(|_| half_open(&runtime, "127.0.0.2", daemon.http))
        .collect();
    let mut refused = half_open(&runtime, "127.0.0.2", daemon.http);
    let answer = read_to_close(&mut refused);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    assert!(answer.contains("\"error\":\"busy\""), "{answer}");
    // Another address is still served.
    assert_eq!(healthz_within_a_second(&daemon), 200);

    // Filled up from other addresses, the listener refuses everyone...
    for source in ["127.0.0.3", "127.0.0.4"] {
        held.extend((0..10).map(|_| half_open(&runtime, source, daemon.http)));
    }
    let mut full = blocking_from(&runtime, "127.0.0.1", daemon.http);
    full.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answer = read_to_close(&mut full);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections;"), "{answer}");
    // ...while SMTP greets and takes mail as if nothing happened.
    let reply = deliver(
        daemon.smtp,
        "flo@example.net",
        &["support@example.com"],
        MAIL,
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    // Closing connections makes room again.
    held.truncate(5);
    eventually("room on the HTTP listener", WAIT, || {
        let client = reqwest::blocking::Client::new();
        let response = client.get(daemon.url("/healthz")).send();
        match response.map(|r| r.status().as_u16()) {
            Ok(200) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // SMTP: three sessions from one address, then 421 4.7.0 for it...
    let sessions: Vec<TcpStream> = (0..3)
        .map(|_| greeted(&runtime, "127.0.0.2", daemon.smtp))
        .collect();
    let mut over = blocking_from(&runtime, "127.0.0.2", daemon.smtp);
    let answer = read_to_close(&mut over);
    assert!(answer.starts_with("421 4.7.0"), "{answer}");
    // ...two more from elsewhere fill the listener, then 421 4.3.2 for all.
    let more: Vec<TcpStream> = ["127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|source| greeted(&runtime, source, daemon.smtp))
        .collect();
    let mut over = blocking_from(&runtime, "127.0.0.5", daemon.smtp);
    let answer = read_to_close(&mut over);
    assert!(answer.starts_with("421 4.3.2"), "{answer}");
    // HTTP is not starved by a full SMTP listener.
    assert_eq!(healthz_within_a_second(&daemon), 200);
    drop((sessions, more));
    let mut client = eventually("room on the SMTP listener", WAIT, || {
        let client = SmtpClient::connect(daemon.smtp);
        if client.greeting.code == 220 {
            Ok(client)
        } else {
            Err(format!("{:?}", client.greeting))
        }
    });
    client.ehlo();
    client.quit();

    for (series, at_least) in [
        (
            "switchboard_connections_refused_total{listener=\"http\",reason=\"address_full\"}",
            1.0,
        ),
        (
            "switchboard_connections_refused_total{listener=\"http\",reason=\"listener_full\"}",
            1.0,
        ),
        (
            "switchboard_connections_refused_total{listener=\"smtp\",reason=\"address_full\"}",
            1.0,
        ),
        (
            "switchboard_connections_refused_total{listener=\"smtp\",reason=\"listener_full\"}",
            1.0,
        ),
        (
            "switchboard_smtp_rejections_total{reason=\"address_busy\"}",
            1.0,
        ),
    ] {
        let value = daemon.metric(series);
        assert!(value >= at_least, "{series} = {value}");
    }
    drop(held);
}

/// An SMTP connection from `source` that got its `220` greeting.
fn greeted(runtime: &tokio::runtime::Runtime, source: &str, addr: SocketAddr) -> TcpStream {
    let mut stream = blocking_from(runtime, source, addr);
    let mut greeting = [0u8; 256];
    let read = stream.read(&mut greeting).unwrap();
    let greeting = String::from_utf8_lossy(&greeting[..read]);
    assert!(greeting.starts_with("220 "), "{greeting}");
    stream
}

#[test]
fn trickled_headers_and_idle_keep_alive_are_cut_but_upgraded_sockets_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with_config(dir.path(), &config("header_read_timeout_secs = 2", ""));
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // A header line every half second never makes a request: the timeout
    // counts the whole head, not the gap between bytes.
    let mut trickle = blocking_from(&runtime, "127.0.0.2", daemon.http);
    trickle.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let mut lines_sent = 0;
    let cut = (0..60).any(|i| {
        std::thread::sleep(Duration::from_millis(500));
        lines_sent += 1;
        trickle
            .write_all(format!("X-Trickle-{i}: still coming\r\n").as_bytes())
            .is_err()
    });
    assert!(
        cut,
        "a trickled head was still read after {lines_sent} lines (30 s)"
    );
    eprintln!("trickle: cut after {lines_sent} header lines, one every 500 ms (timeout 2 s)");

    // A kept-alive connection that goes quiet after a request is closed.
    let mut idle = blocking_from(&runtime, "127.0.0.2", daemon.http);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 512];
    let read = idle.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 200"));
    let after = read_to_close(&mut idle);
    assert!(after.is_empty(), "{after}");

    // The live event socket outlives the header timeout: it is upgraded.
    let mut events = EventSocket::connect(daemon.http, &daemon.token, None);
    std::thread::sleep(Duration::from_secs(3));
    let reply = deliver(
        daemon.smtp,
        "flo@example.net",
        &["support@example.com"],
        MAIL,
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    match events.next(WAIT) {
        Next::Event(_) => {}
        other => panic!("the event socket was cut: {other:?}"),
    }
    let timed_out = daemon.metric("switchboard_http_header_timeouts_total{listener=\"http\"}");
    assert!(timed_out >= 2.0, "{timed_out}");
}
