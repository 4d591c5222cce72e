//! Bounded line reading: never holds more than `limit` bytes of one line.
//!
//! A line longer than the limit is still read to its end (so the session
//! stays in step with the client) but its bytes are dropped, not buffered.
//! Whether it ended in CRLF is still reported, so the DATA reader can refuse
//! bare LF even on a line it did not keep.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// `buf` holds one line, its `\n` included.
    Line,
    /// The line was longer than the limit and has been skipped; `crlf` says
    /// whether it ended in `\r\n`, `length` how many bytes it had.
    TooLong { crlf: bool, length: u64 },
    /// The peer closed the connection (a partial last line is dropped).
    Eof,
}

/// Reads one `\n`-terminated line into `buf` (cleared first), keeping at
/// most `limit` bytes. Not cancel-safe: a caller that drops it midway must
/// drop the connection too (every caller does: timeouts and shutdown close).
pub(crate) async fn read_line<R>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead>
where
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let mut too_long = false;
    // The last byte of the line so far, to tell `\r\n` from `\n` when the
    // `\n` arrives in a later chunk than the byte before it.
    let mut last: Option<u8> = None;
    let mut length: u64 = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(LineRead::Eof);
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1);
        let chunk = &available[..take];
        length = length.saturating_add(take as u64);
        if !too_long {
            if buf.len() + chunk.len() > limit {
                too_long = true;
                *buf = Vec::new();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let Some(i) = newline else {
            last = chunk.last().copied().or(last);
            reader.consume(take);
            continue;
        };
        let before_newline = if i > 0 { Some(chunk[i - 1]) } else { last };
        reader.consume(take);
        return Ok(if too_long {
            LineRead::TooLong {
                crlf: before_newline == Some(b'\r'),
                length,
            }
        } else {
            LineRead::Line
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, BufReader};

    /// Feeds `chunks` with separate writes, so lines straddle reads.
    async fn lines(chunks: &[&[u8]], limit: usize) -> Vec<(LineRead, Vec<u8>)> {
        let (mut client, server) = tokio::io::duplex(64);
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        let writer = tokio::spawn(async move {
            for chunk in chunks {
                client.write_all(&chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut reader = BufReader::with_capacity(8, server);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let read = read_line(&mut reader, &mut buf, limit).await.unwrap();
            out.push((read, buf.clone()));
            if read == LineRead::Eof {
                break;
            }
        }
        writer.await.unwrap();
        out
    }

    #[tokio::test]
    async fn splits_lines_across_reads() {
        let got = lines(&[b"HELO exam", b"ple.com\r\nNO", b"OP\r\n"], 100).await;
        assert_eq!(got[0], (LineRead::Line, b"HELO example.com\r\n".to_vec()));
        assert_eq!(got[1], (LineRead::Line, b"NOOP\r\n".to_vec()));
        assert_eq!(got[2].0, LineRead::Eof);
    }

    #[tokio::test]
    async fn overlong_line_is_skipped_and_reading_resumes() {
        let long = [b'x'; 50];
        let got = lines(&[&long, b"\r\nQUIT\r\n"], 20).await;
        assert_eq!(
            got[0],
            (
                LineRead::TooLong {
                    crlf: true,
                    length: 52
                },
                Vec::new()
            )
        );
        assert_eq!(got[1], (LineRead::Line, b"QUIT\r\n".to_vec()));
    }

    #[tokio::test]
    async fn overlong_line_with_bare_lf_is_reported() {
        let long = [b'x'; 50];
        let got = lines(&[&long, b"\n"], 20).await;
        assert_eq!(
            got[0].0,
            LineRead::TooLong {
                crlf: false,
                length: 51
            }
        );
        let got = lines(&[&long, b"\r", b"\n"], 20).await;
        assert_eq!(
            got[0].0,
            LineRead::TooLong {
                crlf: true,
                length: 52
            }
        );
    }

    #[tokio::test]
    async fn line_of_exactly_the_limit_is_kept() {
        let got = lines(&[b"12345678\r\n"], 10).await;
        assert_eq!(got[0], (LineRead::Line, b"12345678\r\n".to_vec()));
        let got = lines(&[b"123456789\r\n"], 10).await;
        assert_eq!(
            got[0].0,
            LineRead::TooLong {
                crlf: true,
                length: 11
            }
        );
    }

    #[tokio::test]
    async fn partial_last_line_is_dropped_at_eof() {
        let got = lines(&[b"NOOP\r\nQUI"], 100).await;
        assert_eq!(got[1].0, LineRead::Eof);
    }
}
