//! Reply encoding, RESP2 or RESP3 per connection (`HELLO 3` switches).
//!
//! Handlers write straight into the connection's output buffer; a pipeline's replies leave in
//! one socket write.

use crate::util::format_double;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// The output buffer of one connection.
#[derive(Debug, Default)]
pub struct Reply {
    pub buf: Vec<u8>,
    pub protocol: Protocol,
    /// Error replies written since the last `take_errors`: their first word feeds `errorstats`.
    pub errors: Vec<String>,
    /// When `buf` reaches this many bytes the client is over its output hard limit and is
    /// closed after the running command (0: no limit). Commands whose reply length the client
    /// chooses (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER with a negative count) stop early then,
    /// as Redis stops them on `CLIENT_CLOSE_ASAP`: nobody will read that reply.
    pub limit_bytes: usize,
}

impl Reply {
    pub fn new(protocol: Protocol) -> Self {
        Reply {
            buf: Vec::with_capacity(1024),
            protocol,
            errors: Vec::new(),
            limit_bytes: 0,
        }
    }

    /// Whether the output passed `limit_bytes`: the client will be closed, its reply dropped.
    pub fn over_limit(&self) -> bool {
        self.limit_bytes != 0 && self.buf.len() >= self.limit_bytes
    }

    pub fn is_resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.raw(b"+OK\r\n");
    }

    /// `+text` (no CR or LF inside `text`).
    pub fn simple(&mut self, text: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `-CODE message`: `message` must already start with its code (`ERR`, `WRONGTYPE`, ...).
    /// Newlines inside are replaced by spaces, as Redis does, so the reply stays one line.
    pub fn error(&mut self, message: &str) {
        self.error_bytes(message.as_bytes());
    }

    /// [`Reply::error`] for messages that carry client bytes.
    pub fn error_bytes(&mut self, message: &[u8]) {
        self.buf.push(b'-');
        for &b in message {
            self.buf
                .push(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.extend_from_slice(b"\r\n");
        let code = message.split(|&b| b == b' ').next().unwrap_or(b"ERR");
        self.errors.push(String::from_utf8_lossy(code).into_owned());
    }

    pub fn int(&mut self, n: i64) {
        self.prefixed_len(b':', n);
    }

    pub fn bulk(&mut self, bytes: &[u8]) {
        self.prefixed_len(b'$', bytes.len() as i64);
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// The null bulk string (`$-1` / `_`).
    pub fn null(&mut self) {
        self.raw(if self.is_resp3() {
            b"_\r\n"
        } else {
            b"$-1\r\n"
        });
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        self.raw(if self.is_resp3() {
            b"_\r\n"
        } else {
            b"*-1\r\n"
        });
    }

    pub fn array(&mut self, len: usize) {
        self.prefixed_len(b'*', len as i64);
    }

    /// A map of `len` pairs: `%len` in RESP3, a flat array of 2·len in RESP2.
    pub fn map(&mut self, len: usize) {
        if self.is_resp3() {
            self.prefixed_len(b'%', len as i64);
        } else {
            self.prefixed_len(b'*', 2 * len as i64);
        }
    }

    /// A set: `~len` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        self.prefixed_len(if self.is_resp3() { b'~' } else { b'*' }, len as i64);
    }

    /// A double: `,1.5` in RESP3, a bulk string in `%.17g` form in RESP2.
    pub fn double(&mut self, value: f64) {
        let text = format_double(value);
        if self.is_resp3() {
            self.buf.push(b',');
            self.buf.extend_from_slice(text.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    pub fn boolean(&mut self, value: bool) {
        if self.is_resp3() {
            self.raw(if value { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(value as i64);
        }
    }

    /// Verbatim text (INFO, CLIENT LIST...): `=len\r\ntxt:...` in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.is_resp3() {
            self.prefixed_len(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Starts an aggregate whose length is known only at the end; see [`Reply::end_deferred`].
    pub fn begin_deferred(&mut self) -> usize {
        self.buf.len()
    }

    /// Inserts the header of an aggregate begun with [`Reply::begin_deferred`]: `kind` is `*`
    /// for arrays, `%` for maps (len = pairs), `~` for sets.
    pub fn end_deferred(&mut self, at: usize, kind: u8, len: usize) {
        let mut header = Vec::with_capacity(16);
        let (kind, len) = match (kind, self.protocol) {
            (b'%', Protocol::Resp2) => (b'*', 2 * len),
            (b'~', Protocol::Resp2) => (b'*', len),
            (kind, _) => (kind, len),
        };
        header.push(kind);
        header.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        header.extend_from_slice(b"\r\n");
        self.buf.splice(at..at, header);
    }

    fn prefixed_len(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }
}
