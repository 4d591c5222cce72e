//! A loopback SMTP relay standing in for the smarthost replies go through.
//! It records every message it accepts (envelope and raw DATA), can be taken
//! down and brought back on the same port (the listener is dropped and every
//! open session cut, so a pooled client connection dies too), and can be told
//! to refuse senders with a temporary (451) or permanent (550) error.
//!
//! It speaks just enough ESMTP for lettre: a multi-line EHLO reply without
//! STARTTLS or AUTH, MAIL/RCPT/DATA with dot-unstuffing, RSET, NOOP, QUIT.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the relay answers to `MAIL FROM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// `451 4.3.0`: try again later.
    Defer,
    /// `550 5.7.1`: never.
    Reject,
}

/// The text of the relay's 550, for tests that look for it in a reason.
pub const REJECT_TEXT: &str = "5.7.1 relay policy refuses this sender";

/// One message the relay accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA, dot-unstuffed, CRLF line ends, without the final dot.
    pub data: String,
    /// The id the relay gave it in its `250 ... queued as` reply.
    pub queue_id: String,
}

impl Received {
    /// The parsed message.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .expect("the relay received a parseable message")
    }

    /// The unfolded value of the first header with this name, as written.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((key, rest)) = line.split_once(':') {
                if key.eq_ignore_ascii_case(name) {
                    value = Some(rest.trim().to_string());
                }
            }
        }
        value
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// `MAIL FROM` commands seen, whatever was answered.
    mail_commands: usize,
    /// Sessions opened (TCP connections accepted).
    sessions: usize,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    mode: Mutex<Mode>,
    /// Open sessions, so that `stop` can cut them.
    open: Mutex<Vec<TcpStream>>,
    next_id: AtomicU64,
}

struct Running {
    stop: Arc<AtomicBool>,
    acceptor: JoinHandle<()>,
}

/// The relay; stopped when dropped.
pub struct Relay {
    pub port: u16,
    shared: Arc<Shared>,
    running: Option<Running>,
}

impl Relay {
    /// A relay on a free loopback port, accepting mail.
    pub fn start() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            mode: Mutex::new(Mode::Accept),
            open: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        });
        let mut relay = Relay {
            port,
            shared,
            running: None,
        };
        relay.run(listener);
        relay
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    /// Takes the relay down: the port refuses connections and open sessions
    /// are cut.
    pub fn stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the flag and drops the listener.
        let _ = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1));
        running.acceptor.join().unwrap();
        for stream in self.shared.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Brings the relay back on the same port.
    pub fn resume(&mut self) {
        if self.running.is_some() {
            return;
        }
        // Another socket may hold the port for a moment (a client's
        // ephemeral port); give it a few tries before giving up.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr()) {
                Ok(listener) => break listener,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("relay: rebinding port {}: {error}", self.port);
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(error) => panic!("relay cannot rebind port {}: {error}", self.port),
            }
        };
        self.run(listener);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.state.lock().unwrap().received.clone()
    }

    /// `MAIL FROM` commands seen so far, accepted or refused.
    pub fn mail_commands(&self) -> usize {
        self.shared.state.lock().unwrap().mail_commands
    }

    pub fn sessions(&self) -> usize {
        self.shared.state.lock().unwrap().sessions
    }

    /// Waits until `done` holds for the received messages, or panics after
    /// `timeout` showing what arrived.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap();
        loop {
            if done(&state.received) {
                return state.received.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let summary: Vec<String> = state
                    .received
                    .iter()
                    .map(|r| format!("{:?} -> {:?}", r.header("Subject"), r.rcpt_to))
                    .collect();
                panic!(
                    "relay: timed out waiting for {what}; {} MAIL FROM seen, received {summary:#?}",
                    state.mail_commands
                );
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits for the one message whose DATA contains `marker`.
    pub fn wait_for_text(&self, marker: &str, timeout: Duration) -> Received {
        let all = self.wait_until(&format!("a message with {marker:?}"), timeout, |r| {
            r.iter().any(|m| m.data.contains(marker))
        });
        let found: Vec<Received> = all
            .into_iter()
            .filter(|m| m.data.contains(marker))
            .collect();
        found.into_iter().next().unwrap()
    }

    /// Waits until `count` `MAIL FROM` commands were seen.
    pub fn wait_for_mail_commands(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap();
        while state.mail_commands < count {
            let now = Instant::now();
            assert!(
                now < deadline,
                "relay: {} MAIL FROM seen, waited for {count}",
                state.mail_commands
            );
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }

    fn run(&mut self, listener: TcpListener) {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = self.shared.clone();
        let flag = stop.clone();
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    shared.open.lock().unwrap().push(clone);
                }
                shared.state.lock().unwrap().sessions += 1;
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &shared);
                });
            }
        });
        self.running = Some(Running { stop, acceptor });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 relay.test ESMTP test relay\r\n")?;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    loop {
        let Some(line) = read_line(&mut reader)? else {
            return Ok(());
        };
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply: String = match verb {
            "EHLO" => "250-relay.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n\
                 250-SIZE 52428800\r\n250 ENHANCEDSTATUSCODES\r\n"
                .into(),
            "HELO" => "250 relay.test\r\n".into(),
            "MAIL" => {
                let mode = *shared.mode.lock().unwrap();
                {
                    let mut state = shared.state.lock().unwrap();
                    state.mail_commands += 1;
                    shared.changed.notify_all();
                }
                match mode {
                    Mode::Accept => {
                        mail_from = Some(path_argument(&line));
                        rcpt_to.clear();
                        "250 2.1.0 Ok\r\n".into()
                    }
                    Mode::Defer => "451 4.3.0 relay busy, try again later\r\n".into(),
                    Mode::Reject => format!("550 {REJECT_TEXT}\r\n"),
                }
            }
            "RCPT" if mail_from.is_some() => {
                rcpt_to.push(path_argument(&line));
                "250 2.1.5 Ok\r\n".into()
            }
            "RCPT" => "503 5.5.1 MAIL first\r\n".into(),
            "DATA" if !rcpt_to.is_empty() => {
                writer.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let Some(data) = read_data(&mut reader)? else {
                    return Ok(());
                };
                let queue_id = format!("Q{:06}", shared.next_id.fetch_add(1, Ordering::SeqCst));
                let received = Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                    queue_id: queue_id.clone(),
                };
                let mut state = shared.state.lock().unwrap();
                state.received.push(received);
                shared.changed.notify_all();
                format!("250 2.0.0 Ok: queued as {queue_id}\r\n")
            }
            "DATA" => "503 5.5.1 RCPT first\r\n".into(),
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                "250 2.0.0 Ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".into(),
            "QUIT" => {
                writer.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognized\r\n".into(),
        };
        writer.write_all(reply.as_bytes())?;
    }
}

/// One line without its CRLF; `None` at end of stream.
fn read_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut bytes = Vec::new();
    if reader.read_until(b'\n', &mut bytes)? == 0 {
        return Ok(None);
    }
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The DATA up to the lone dot, unstuffed; `None` if the client left.
fn read_data(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut data = String::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Ok(None);
        };
        if line == "." {
            return Ok(Some(data));
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
    }
}

/// The address in `MAIL FROM:<a@b> SIZE=1` or `RCPT TO:<a@b>`.
fn path_argument(line: &str) -> String {
    let start = line.find('<').map(|i| i + 1).unwrap_or(0);
    let end = line[start..]
        .find('>')
        .map(|i| start + i)
        .unwrap_or(line.len());
    line[start..end].to_string()
}
