//! Incremental request parser: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! (`GET k\r\n`), with Redis's exact protocol errors and limits.
//!
//! The parser keeps its state between reads, so a request split over many reads is never
//! parsed twice, and it never reserves memory for a length the client only declared: arguments
//! are split off the read buffer once their bytes have actually arrived.

use bytes::{Buf, Bytes, BytesMut};

use super::split::split_args;
use crate::util::parse_i64;

/// Longest inline request, and longest `*`/`$` header line (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Before authentication a request may carry at most this many arguments...
pub const UNAUTHENTICATED_ARGS_MAX: i64 = 10;
/// ...each at most this long.
pub const UNAUTHENTICATED_BULK_MAX: i64 = 16 * 1024;
/// Upper bound on the argument vector preallocated from a declared multibulk length.
const ARGS_PREALLOCATED_MAX: usize = 1024;

/// A protocol error: the text of the error reply; the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// What the parser needs to know about the client and the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    pub proto_max_bulk_len: i64,
    pub authenticated: bool,
}

#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still expected by the multibulk being read; 0 when between requests.
    args_remaining: usize,
    /// Length of the bulk whose `$` header was read but whose bytes have not all arrived.
    bulk_len: Option<usize>,
    args: Vec<Bytes>,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// True when part of a request has been read (used to decide whether a client that
    /// disconnects left a torn request behind).
    pub fn in_progress(&self) -> bool {
        self.args_remaining > 0
    }

    /// Parses the next complete request from `buf`, consuming its bytes. `Ok(None)` means more
    /// bytes are needed. Empty requests (an empty inline line, `*0`, `*-1`) are skipped.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        limits: ParseLimits,
    ) -> Result<Option<Vec<Bytes>>, ParseError> {
        loop {
            if self.args_remaining == 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match self.inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        other => return Ok(other),
                    }
                }
                // The usual case, a whole request in the buffer: one pass, one split.
                let mut spans = [(0, 0); FAST_ARGS_MAX];
                if let Some((count, total)) = whole_request(buf, limits, &mut spans) {
                    let frame = buf.split_to(total).freeze();
                    let args = spans[..count]
                        .iter()
                        .map(|&(start, end)| frame.slice(start..end))
                        .collect();
                    return Ok(Some(args));
                }
                let Some(line_end) = find_cr(buf) else {
                    if buf.len() > INLINE_MAX_BYTES {
                        return Err(error("too big mbulk count string"));
                    }
                    return Ok(None);
                };
                if line_end + 1 >= buf.len() {
                    return Ok(None);
                }
                let count = match parse_i64(&buf[1..line_end]) {
                    Some(n) if n <= i32::MAX as i64 => n,
                    _ => return Err(error("invalid multibulk length")),
                };
                if count > UNAUTHENTICATED_ARGS_MAX && !limits.authenticated {
                    return Err(error("unauthenticated multibulk length"));
                }
                buf.advance(line_end + 2);
                if count <= 0 {
                    continue;
                }
                self.args_remaining = count as usize;
                self.args = Vec::with_capacity(self.args_remaining.min(ARGS_PREALLOCATED_MAX));
            }

            while self.args_remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        let Some(line_end) = find_cr(buf) else {
                            if buf.len() > INLINE_MAX_BYTES {
                                return Err(error("too big bulk count string"));
                            }
                            return Ok(None);
                        };
                        if line_end + 1 >= buf.len() {
                            return Ok(None);
                        }
                        if buf[0] != b'$' {
                            let got = buf[0] as char;
                            return Err(ParseError(format!(
                                "ERR Protocol error: expected '$', got '{got}'"
                            )));
                        }
                        let len = match parse_i64(&buf[1..line_end]) {
                            Some(n) if n >= 0 && n <= limits.proto_max_bulk_len => n,
                            _ => return Err(error("invalid bulk length")),
                        };
                        if len > UNAUTHENTICATED_BULK_MAX && !limits.authenticated {
                            return Err(error("unauthenticated bulk length"));
                        }
                        buf.advance(line_end + 2);
                        let len = len as usize;
                        self.bulk_len = Some(len);
                        len
                    }
                };
                // The bulk and its trailing CRLF must be there in full.
                if buf.len() < len + 2 {
                    return Ok(None);
                }
                // One split takes the bulk and its CRLF; the view is then shortened, which
                // is cheaper than advancing the read buffer a second time.
                let mut arg = buf.split_to(len + 2).freeze();
                arg.truncate(len);
                self.args.push(arg);
                self.bulk_len = None;
                self.args_remaining -= 1;
            }
            return Ok(Some(std::mem::take(&mut self.args)));
        }
    }

    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ParseError> {
        // The newline must be within the limit, wherever the reads ended: a line over it fails
        // even when its newline arrived in the same read.
        let Some(newline) = memchr::memchr(b'\n', &buf[..buf.len().min(INLINE_MAX_BYTES + 1)])
        else {
            if buf.len() > INLINE_MAX_BYTES {
                return Err(error("too big inline request"));
            }
            return Ok(None);
        };
        let mut line_end = newline;
        if line_end > 0 && buf[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let args = split_args(&buf[..line_end]);
        buf.advance(newline + 1);
        match args {
            Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
            None => Err(error("unbalanced quotes in request")),
        }
    }
}

/// Bytes scanned one by one before handing over to `memchr`: header lines (`*3`, `$5`) are
/// this short, and for them the plain loop costs less than `memchr`'s set-up.
const SHORT_SCAN: usize = 16;

/// Most arguments [`whole_request`] takes; requests with more go the incremental way.
const FAST_ARGS_MAX: usize = 8;

/// Locates a multibulk request (`buf` starts with `*`) that is already whole in `buf`, in one
/// pass and consuming nothing: returns its argument count and byte length, with each
/// argument's range in `spans`. `None` when the request is not whole yet, has more than
/// [`FAST_ARGS_MAX`] arguments or none, or breaks a rule or a limit: the incremental parser
/// then reads the same bytes and gives the answer (and the error) it always gives.
fn whole_request(
    buf: &[u8],
    limits: ParseLimits,
    spans: &mut [(usize, usize); FAST_ARGS_MAX],
) -> Option<(usize, usize)> {
    let line_end = find_cr(buf)?;
    if line_end + 1 >= buf.len() {
        return None;
    }
    let count = parse_i64(&buf[1..line_end])?;
    if count <= 0 || count > FAST_ARGS_MAX as i64 {
        return None;
    }
    let count = count as usize;
    let mut pos = line_end + 2;
    for span in spans.iter_mut().take(count) {
        let rest = &buf[pos..];
        let line_end = find_cr(rest)?;
        if line_end + 1 >= rest.len() || rest[0] != b'$' {
            return None;
        }
        let len = parse_i64(&rest[1..line_end])?;
        if len < 0
            || len > limits.proto_max_bulk_len
            || (len > UNAUTHENTICATED_BULK_MAX && !limits.authenticated)
        {
            return None;
        }
        let start = pos + line_end + 2;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        if buf.len() < end.checked_add(2)? {
            return None;
        }
        *span = (start, end);
        pos = end + 2;
    }
    Some((count, pos))
}

/// The `\r` ending a `*` or `$` line, looked for only where the limit allows it (a line of at
/// most [`INLINE_MAX_BYTES`] bytes before its `\r`), so that a line over the limit fails
/// however the bytes were split into reads.
fn find_cr(buf: &[u8]) -> Option<usize> {
    let window = &buf[..buf.len().min(INLINE_MAX_BYTES + 1)];
    let short = window.len().min(SHORT_SCAN);
    if let Some(i) = window[..short].iter().position(|&b| b == b'\r') {
        return Some(i);
    }
    memchr::memchr(b'\r', &window[short..]).map(|i| i + short)
}

fn error(what: &str) -> ParseError {
    ParseError(format!("ERR Protocol error: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ParseLimits = ParseLimits {
        proto_max_bulk_len: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ParseError> {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = parser.next(&mut buf, LIMITS)? {
            out.push(args);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let got =
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\nECHO \"a b\"\n").unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(got[1], vec![Bytes::from("PING")]);
        assert_eq!(got[2], vec![Bytes::from("ECHO"), Bytes::from("a b")]);
    }

    #[test]
    fn same_result_however_split() {
        // Whole requests take the one-pass path, split ones the incremental path; one with
        // more than FAST_ARGS_MAX arguments and an empty argument are among them.
        let mut input =
            b"*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$10\r\n0123456789\r\nPING\r\n*9\r\n".to_vec();
        for _ in 0..9 {
            input.extend_from_slice(b"$1\r\na\r\n");
        }
        input.extend_from_slice(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
        let input = &input[..];
        let whole = parse_all(input).unwrap();
        assert_eq!(whole.len(), 4);
        assert_eq!(whole[2].len(), 9);
        assert_eq!(whole[3], vec![Bytes::from("ECHO"), Bytes::new()]);
        for chunk in 1..input.len() {
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(args) = parser.next(&mut buf, LIMITS).unwrap() {
                    out.push(args);
                }
            }
            assert_eq!(out, whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn protocol_errors() {
        let err = |b: &[u8]| parse_all(b).unwrap_err().0;
        assert_eq!(
            err(b"*abc\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*3000000000\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*1\r\nx\r\n"),
            "ERR Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            err(b"*1\r\n$-1\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n$600000000\r\n"),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"SET \"a\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(&vec![b'a'; INLINE_MAX_BYTES + 1]),
            "ERR Protocol error: too big inline request"
        );
    }

    /// Parses `input` arriving in reads of `read` bytes.
    fn parse_in_reads(input: &[u8], read: usize) -> Result<Vec<Vec<Bytes>>, ParseError> {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(read) {
            buf.extend_from_slice(piece);
            while let Some(args) = parser.next(&mut buf, LIMITS)? {
                out.push(args);
            }
        }
        Ok(out)
    }

    #[test]
    fn an_inline_line_over_the_limit_fails_however_it_arrives() {
        let mut at_limit = vec![b'a'; INLINE_MAX_BYTES];
        at_limit.push(b'\n');
        assert_eq!(parse_all(&at_limit).unwrap().len(), 1);
        assert_eq!(parse_in_reads(&at_limit, 1000).unwrap().len(), 1);

        let mut over = vec![b'a'; INLINE_MAX_BYTES + 1];
        over.push(b'\n');
        let error = "ERR Protocol error: too big inline request";
        assert_eq!(parse_all(&over).unwrap_err().0, error);
        assert_eq!(
            parse_in_reads(&over, INLINE_MAX_BYTES + 1).unwrap_err().0,
            error
        );
    }

    #[test]
    fn a_count_line_over_the_limit_fails_however_it_arrives() {
        // `*` then zeros up to the limit, then `1\r\n`: the `\r` is just past the limit.
        let mut over = b"*".to_vec();
        over.resize(INLINE_MAX_BYTES, b'0');
        over.extend_from_slice(b"1\r\n$1\r\nx\r\n");
        let error = "ERR Protocol error: too big mbulk count string";
        assert_eq!(parse_all(&over).unwrap_err().0, error);
        assert_eq!(
            parse_in_reads(&over, INLINE_MAX_BYTES + 1).unwrap_err().0,
            error
        );

        let mut bulk_over = b"*1\r\n$".to_vec();
        bulk_over.resize(4 + INLINE_MAX_BYTES, b'0');
        bulk_over.extend_from_slice(b"1\r\nx\r\n");
        let error = "ERR Protocol error: too big bulk count string";
        assert_eq!(parse_all(&bulk_over).unwrap_err().0, error);
        assert_eq!(
            parse_in_reads(&bulk_over, 4 + INLINE_MAX_BYTES + 1)
                .unwrap_err()
                .0,
            error
        );

        // At the limit, the line is read (and its number refused).
        let mut at_limit = b"*".to_vec();
        at_limit.resize(INLINE_MAX_BYTES - 1, b'0');
        at_limit.extend_from_slice(b"1\r\n$1\r\nx\r\n");
        let error = "ERR Protocol error: invalid multibulk length";
        assert_eq!(parse_all(&at_limit).unwrap_err().0, error);
        assert_eq!(
            parse_in_reads(&at_limit, INLINE_MAX_BYTES).unwrap_err().0,
            error
        );
    }

    #[test]
    fn declared_length_reserves_nothing() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2000000000\r\n$500000000\r\nab"[..]);
        assert_eq!(parser.next(&mut buf, LIMITS).unwrap(), None);
        assert!(parser.args.capacity() <= ARGS_PREALLOCATED_MAX);
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = ParseLimits {
            authenticated: false,
            ..LIMITS
        };
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            parser.next(&mut buf, limits).unwrap_err().0,
            "ERR Protocol error: unauthenticated multibulk length"
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            RequestParser::new().next(&mut buf, limits).unwrap_err().0,
            "ERR Protocol error: unauthenticated bulk length"
        );
    }
}
