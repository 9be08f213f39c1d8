//! A blocking RESP2 client, just enough for the simulation: one command at a time over a
//! loopback socket, replies read whole.
//!
//! Replies come from the server under test, so they are read with limits like any input:
//! a bulk string or an array larger than the simulation ever asks for is an error, not an
//! allocation.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The largest bulk string a reply may carry (an `INFO` reply is a few KiB).
const BULK_LEN_MAX: usize = 1 << 20;
/// The most elements an array reply may carry (an `MGET` of one batch).
const ARRAY_LEN_MAX: usize = 1 << 16;
/// How deep arrays may nest (the simulation uses flat ones).
const NESTING_MAX: usize = 2;
/// A reply slower than this means the server hangs: the simulation gives up on it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One RESP2 reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A connection to the server under test.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    request: Vec<u8>,
}

impl Connection {
    pub fn connect(port: u16) -> io::Result<Connection> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(Connection {
            reader: BufReader::new(stream),
            writer,
            request: Vec::new(),
        })
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.request.clear();
        encode(&mut self.request, args);
        self.writer.write_all(&self.request)?;
        read_reply(&mut self.reader, 0)
    }
}

/// Appends `args` as a RESP array of bulk strings.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one reply; `depth` counts the arrays it is nested in.
pub fn read_reply(reader: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let (kind, rest) = line
        .split_first()
        .ok_or_else(|| invalid("empty reply line"))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Reply::Simple(text())),
        b'-' => Ok(Reply::Error(text())),
        b':' => Ok(Reply::Integer(parse_int(rest)?)),
        b'$' => {
            let len = parse_int(rest)?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let len = usize::try_from(len).map_err(|_| invalid("bulk length"))?;
            if len > BULK_LEN_MAX {
                return Err(invalid("bulk string too long"));
            }
            let mut data = vec![0; len + 2];
            reader.read_exact(&mut data)?;
            if !data.ends_with(b"\r\n") {
                return Err(invalid("bulk string without CRLF"));
            }
            data.truncate(len);
            Ok(Reply::Bulk(Some(data)))
        }
        b'*' => {
            let len = parse_int(rest)?;
            if len < 0 {
                return Ok(Reply::Array(None));
            }
            let len = usize::try_from(len).map_err(|_| invalid("array length"))?;
            if len > ARRAY_LEN_MAX || depth >= NESTING_MAX {
                return Err(invalid("array too long or too deep"));
            }
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(read_reply(reader, depth + 1)?);
            }
            Ok(Reply::Array(Some(items)))
        }
        _ => Err(invalid("unknown reply type")),
    }
}

/// One line without its CRLF; EOF is an error (the server went away).
fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(BULK_LEN_MAX as u64)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(invalid("reply line without CRLF"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(digits: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad integer in reply"))
}

/// The value of `field` in an `INFO` reply (`field:value` lines).
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(str::trim)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut &bytes[..], 0)
    }

    #[test]
    fn reads_every_reply_kind() {
        assert_eq!(read(b"+OK\r\n").unwrap(), Reply::Simple("OK".into()));
        assert_eq!(
            read(b"-LOADING Redis is loading\r\n").unwrap(),
            Reply::Error("LOADING Redis is loading".into())
        );
        assert_eq!(read(b":-7\r\n").unwrap(), Reply::Integer(-7));
        assert_eq!(read(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(
            read(b"*2\r\n$1\r\n5\r\n$-1\r\n").unwrap(),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"5".to_vec())),
                Reply::Bulk(None)
            ]))
        );
    }

    #[test]
    fn refuses_what_it_should_not_allocate_or_trust() {
        assert!(read(b"$99999999999\r\n").is_err());
        assert!(read(b"*99999999\r\n").is_err());
        assert!(read(b"*1\r\n*1\r\n*1\r\n:1\r\n").is_err());
        assert!(read(b"$3\r\nabcd\r\n").is_err());
        assert!(read(b"+OK\n").is_err());
        assert!(read(b"").is_err());
    }

    #[test]
    fn encodes_bulk_arrays() {
        let mut out = Vec::new();
        encode(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn finds_info_fields_by_whole_name() {
        let info = "aof_last_write_offset:120\r\naof_last_fsync_offset:100\r\n";
        assert_eq!(info_field(info, "aof_last_fsync_offset"), Some("100"));
        assert_eq!(info_field(info, "aof_last_write_offset"), Some("120"));
        assert_eq!(info_field(info, "aof_last"), None);
    }
}
