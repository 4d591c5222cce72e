//! Shared by the benchmarks in bench/: start a release daemon on port 0
//! with a bench config, read its ready line, create a token, and stop it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running daemon; SIGTERM when dropped.
pub struct Daemon {
    child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    pub token: String,
    pub dir: PathBuf,
}

/// The bench workspace: one admin, one support inbox with an email channel
/// sending as "Admin at Example Inc" with a signature; `extra` is appended
/// (the relay and outbox sections).
pub fn config(extra: &str) -> String {
    format!(
        r#"
[storage]
path = "data"

[smtp]
listen = "127.0.0.1:0"
hostname = "bench.switchboard.test"
max_sessions = 1000
# Every load generator runs on loopback: one address for all.
max_sessions_per_address = 1000

[http]
listen = "127.0.0.1:0"
max_connections_per_address = 30000

[[agents]]
id = "admin"
name = "Ada Admin"
email = "admin@example.com"
role = "admin"

[[inboxes]]
id = "support"
name = "Support"

[[channels]]
id = "support-email"
inbox = "support"
kind = "email"
address = "support@example.com"
sender_name = "agent_and_company"
company_name = "Example Inc"
signature = "-- \n{{full_name}}"
{extra}
"#
    )
}

impl Daemon {
    /// Starts `bin serve` on `config` in `dir`.
    pub fn start(bin: &Path, dir: &Path, config: &str) -> Daemon {
        let path = dir.join("config.toml");
        std::fs::write(&path, config).unwrap();
        let output = Command::new(bin)
            .args(["token", "create", "--agent", "admin", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(output.status.success(), "token create: {output:?}");
        let token = String::from_utf8(output.stdout).unwrap().trim().to_string();
        let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
        let mut child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "switchboard=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = sender.send(line);
            }
            for _ in lines {}
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("daemon ready line");
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
                .parse()
                .unwrap()
        };
        Daemon {
            smtp: field("smtp"),
            http: field("http"),
            child,
            token,
            dir: dir.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// `GET path` with the admin token, as JSON.
    pub async fn get_json(&self, client: &reqwest::Client, path: &str) -> serde_json::Value {
        client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in MiB.
    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The `q` quantile (0..=1) of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// The first line of /proc/loadavg's first field.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// A number from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The daemon binary: `SWITCHBOARD_BIN`, else the release build.
pub fn daemon_bin() -> PathBuf {
    std::env::var_os("SWITCHBOARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/switchboard"))
}

/// A minimal SMTP client for load: TCP_NODELAY, one write per command and
/// one for the whole DATA (lettre writes the final dot separately, which
/// with Nagle's algorithm waits ~40 ms for the server's delayed ACK).
pub struct RawSmtp {
    reader: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl RawSmtp {
    pub async fn connect(addr: SocketAddr) -> RawSmtp {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (read, writer) = stream.into_split();
        let mut client = RawSmtp {
            reader: tokio::io::BufReader::new(read),
            writer,
        };
        assert_eq!(client.reply().await, 220);
        assert_eq!(client.command("EHLO load.test").await, 250);
        client
    }

    async fn reply(&mut self) -> u16 {
        use tokio::io::AsyncBufReadExt;
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.reader.read_line(&mut line).await.unwrap();
            assert!(read > 0, "server closed the connection");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            }
        }
    }

    /// Sends one command line; returns the reply code.
    pub async fn command(&mut self, line: &str) -> u16 {
        use tokio::io::AsyncWriteExt;
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }

    /// One transaction; `message` has CRLF line ends and no line starting
    /// with a dot. Returns the reply code to the end of DATA.
    pub async fn send(&mut self, from: &str, to: &str, message: &str) -> u16 {
        self.send_timed(from, to, message).await.0
    }

    /// Like `send`; also returns the time from the end of DATA (the final
    /// dot written) to the reply: what group commit adds.
    pub async fn send_timed(&mut self, from: &str, to: &str, message: &str) -> (u16, Duration) {
        use tokio::io::AsyncWriteExt;
        assert_eq!(self.command(&format!("MAIL FROM:<{from}>")).await, 250);
        assert_eq!(self.command(&format!("RCPT TO:<{to}>")).await, 250);
        assert_eq!(self.command("DATA").await, 354);
        let mut data = String::with_capacity(message.len() + 5);
        data.push_str(message);
        if !data.ends_with("\r\n") {
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        let start = std::time::Instant::now();
        self.writer.write_all(data.as_bytes()).await.unwrap();
        let code = self.reply().await;
        (code, start.elapsed())
    }

    pub async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }
}
