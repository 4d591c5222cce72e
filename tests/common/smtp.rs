//! A plain SMTP client over TCP for the tests: it speaks the protocol line by
//! line so that every reply code can be checked.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

pub struct SmtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    pub greeting: Reply,
}

impl SmtpClient {
    pub fn connect(addr: SocketAddr) -> SmtpClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let greeting = read_reply(&mut reader).expect("greeting");
        SmtpClient {
            reader,
            writer,
            greeting,
        }
    }

    /// Sends raw bytes without waiting for a reply.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads one (possibly multi-line) reply; `None` when the server closed.
    pub fn reply(&mut self) -> Option<Reply> {
        read_reply(&mut self.reader)
    }

    pub fn command(&mut self, line: &str) -> Reply {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply().unwrap_or(Reply {
            code: 0,
            text: "connection closed".into(),
        })
    }

    pub fn ehlo(&mut self) -> Reply {
        let reply = self.command("EHLO client.test");
        assert_eq!(reply.code, 250, "{reply:?}");
        reply
    }

    /// One whole transaction; returns the reply to the end of DATA, or the
    /// first failing reply before it.
    pub fn send_mail(&mut self, from: &str, to: &[&str], message: &str) -> Reply {
        let reply = self.command(&format!("MAIL FROM:<{from}>"));
        if reply.code != 250 {
            return reply;
        }
        let mut accepted = 0;
        for rcpt in to {
            let reply = self.command(&format!("RCPT TO:<{rcpt}>"));
            if reply.code == 250 {
                accepted += 1;
            } else if to.len() == 1 {
                return reply;
            }
        }
        if accepted == 0 {
            self.command("RSET");
            return Reply {
                code: 550,
                text: "no recipient accepted".into(),
            };
        }
        let reply = self.command("DATA");
        if reply.code != 354 {
            return reply;
        }
        self.send_raw(&dot_stuff(message));
        self.send_raw(b".\r\n");
        self.reply().unwrap_or(Reply {
            code: 0,
            text: "connection closed".into(),
        })
    }

    pub fn quit(mut self) {
        let _ = self.command("QUIT");
    }
}

/// Normalises line endings to CRLF and doubles leading dots.
pub fn dot_stuff(message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    for line in message.replace("\r\n", "\n").split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_reply(reader: &mut BufReader<TcpStream>) -> Option<Reply> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let code = line.get(..3)?.parse().ok()?;
        let last = line.as_bytes().get(3) != Some(&b'-');
        text.push_str(line.get(4..).unwrap_or("").trim_end());
        if last {
            return Some(Reply { code, text });
        }
        text.push('\n');
    }
}

/// One mail from one client connection: connect, EHLO, send, QUIT.
pub fn deliver(addr: SocketAddr, from: &str, to: &[&str], message: &str) -> Reply {
    let mut client = SmtpClient::connect(addr);
    client.ehlo();
    let reply = client.send_mail(from, to, message);
    client.quit();
    reply
}
