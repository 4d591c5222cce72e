//! Sans-IO collection of a DATA body, line by line.
//!
//! The session reads DATA itself instead of feeding lines to mailin: mailin
//! would end DATA on `<LF>.<CRLF>` (the SMTP smuggling sequence) and cannot
//! answer an error at the end of data without hanging (EMAIL.md §1.3).
//! [`Body`] undoes dot-stuffing, counts bytes, stops buffering past the size
//! limit (but keeps consuming to the end of data so the session stays in
//! step), and flags any line ending in a bare LF.

/// Longest DATA line kept, terminator included. RFC 5321 says 1000, but real
/// mail breaks that; anything longer refuses the message (it is drained,
/// not buffered).
pub(crate) const MAX_DATA_LINE: usize = 64 * 1024;

/// What to do after one line of DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep reading.
    More,
    /// The lone `.` line: the message is complete.
    End,
    /// The line ended in LF without CR: refuse and close the connection.
    BareLf,
}

/// Why a complete message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooBig,
    LineTooLong,
}

/// A message body being received.
#[derive(Debug)]
pub(crate) struct Body {
    raw: Vec<u8>,
    size: u64,
    max: u64,
    refusal: Option<Refusal>,
}

impl Body {
    pub(crate) fn new(max_message_bytes: u64) -> Self {
        Body {
            raw: Vec::new(),
            size: 0,
            max: max_message_bytes,
            refusal: None,
        }
    }

    /// Takes one complete line as read from the wire, `\n` included.
    pub(crate) fn push_line(&mut self, line: &[u8]) -> Step {
        if !line.ends_with(b"\r\n") {
            return Step::BareLf;
        }
        if line == b".\r\n" {
            return Step::End;
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        self.add_size(line.len() as u64);
        if self.refusal.is_none() {
            self.raw.extend_from_slice(line);
        }
        Step::More
    }

    /// Notes a line longer than [`MAX_DATA_LINE`] that was skipped.
    pub(crate) fn push_overlong_line(&mut self, crlf: bool, length: u64) -> Step {
        if !crlf {
            return Step::BareLf;
        }
        self.refuse(Refusal::LineTooLong);
        self.add_size(length);
        Step::More
    }

    /// Counts received bytes; past the maximum the message is refused as too
    /// big, whatever else was wrong with it (the size is what the client can fix).
    fn add_size(&mut self, bytes: u64) {
        self.size = self.size.saturating_add(bytes);
        if self.size > self.max {
            self.refusal = Some(Refusal::TooBig);
            self.raw = Vec::new();
        }
    }

    /// The message bytes, or why it is refused.
    pub(crate) fn finish(self) -> Result<Vec<u8>, Refusal> {
        match self.refusal {
            Some(refusal) => Err(refusal),
            None => Ok(self.raw),
        }
    }

    fn refuse(&mut self, refusal: Refusal) {
        if self.refusal.is_none() {
            self.refusal = Some(refusal);
            self.raw = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(body: &mut Body, lines: &[&[u8]]) -> Step {
        let mut step = Step::More;
        for line in lines {
            step = body.push_line(line);
            if step != Step::More {
                break;
            }
        }
        step
    }

    #[test]
    fn dot_stuffing_is_undone_byte_exact() {
        let mut body = Body::new(1000);
        let step = feed(
            &mut body,
            &[
                b"Subject: x\r\n",
                b"\r\n",
                b"..leading dot\r\n",
                b"..\r\n",
                b". \r\n",
                b".\r\n",
            ],
        );
        assert_eq!(step, Step::End);
        assert_eq!(
            body.finish().unwrap(),
            b"Subject: x\r\n\r\n.leading dot\r\n.\r\n \r\n".to_vec()
        );
    }

    #[test]
    fn bare_lf_is_flagged_even_before_a_dot_line() {
        let mut body = Body::new(1000);
        assert_eq!(feed(&mut body, &[b"hello\n", b".\r\n"]), Step::BareLf);
        let mut body = Body::new(1000);
        assert_eq!(body.push_line(b".\n"), Step::BareLf);
    }

    #[test]
    fn size_over_the_limit_stops_buffering_and_refuses() {
        let mut body = Body::new(10);
        let step = feed(&mut body, &[b"12345678\r\n", b"x\r\n", b"more\r\n"]);
        assert_eq!(step, Step::More);
        assert!(body.raw.is_empty());
        assert_eq!(body.push_line(b".\r\n"), Step::End);
        assert_eq!(body.finish(), Err(Refusal::TooBig));
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let mut body = Body::new(10);
        feed(&mut body, &[b"12345678\r\n", b".\r\n"]);
        assert_eq!(body.finish().unwrap().len(), 10);
    }

    #[test]
    fn overlong_line_refuses_the_message() {
        let mut body = Body::new(1000);
        body.push_line(b"a\r\n");
        assert_eq!(body.push_overlong_line(true, 500), Step::More);
        assert_eq!(body.push_line(b".\r\n"), Step::End);
        assert_eq!(body.finish(), Err(Refusal::LineTooLong));
        let mut body = Body::new(1000);
        assert_eq!(body.push_overlong_line(false, 500), Step::BareLf);
    }

    #[test]
    fn an_overlong_line_past_the_size_limit_is_too_big() {
        let mut body = Body::new(1000);
        assert_eq!(body.push_overlong_line(true, 5000), Step::More);
        assert_eq!(body.push_line(b".\r\n"), Step::End);
        assert_eq!(body.finish(), Err(Refusal::TooBig));
    }
}
