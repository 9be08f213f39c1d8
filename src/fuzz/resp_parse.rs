//! `resp_parse`: the request parser ([`RequestParser`]) on arbitrary bytes.
//!
//! The input is a small header read with [`arbitrary`], then the bytes a client sends:
//!
//! - whether the client is authenticated (the pre-auth limits of 10 arguments of 16 KiB);
//! - `proto-max-bulk-len`: the default 512 MiB, 1 MiB, 16 KiB + 1 or a tiny value;
//! - optionally a run of one byte, a little shorter or longer than the 64 KiB line limit,
//!   inserted into the bytes (so the limits of inline requests and `*`/`$` lines are reached
//!   without inputs that large);
//! - the sizes of the reads the bytes arrive in, used in turn.
//!
//! The bytes are parsed as one buffer, then as the reads, and (when short) one byte at a time:
//! the requests, the protocol error and what is left unparsed must be the same however the
//! bytes are split. Nothing may panic, and nothing may be allocated for a length that is only
//! declared (run with `-malloc_limit_mb=64`).

use arbitrary::Unstructured;
use bytes::{Bytes, BytesMut};

use crate::protocol::ParseError;
use crate::protocol::request::{INLINE_MAX_BYTES, ParseLimits, RequestParser};

/// The bytes a padding run may be made of: ordinary, digits, blanks, line ends, type bytes.
const PAD_BYTES: &[u8] = b"a0 \r\n$*\"";
/// What the line-end searches of one parse may scan, about: bounds the reads of long inputs.
const SCAN_BUDGET_BYTES: usize = 1 << 22;
/// Inputs up to this long are also parsed one byte at a time.
const BYTEWISE_MAX: usize = 512;

/// What a client's bytes came to.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    requests: Vec<Vec<Bytes>>,
    /// The protocol error that ends the connection, if any.
    error: Option<ParseError>,
    /// Bytes not yet parsed (only compared when there is no error).
    rest: Vec<u8>,
    in_progress: bool,
}

/// The fuzz target's body (`fuzz/fuzz_targets/resp_parse.rs`).
pub fn fuzz_one(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((limits, pad, reads)) = header(&mut u) else {
        return;
    };
    let mut bytes = u.take_rest().to_vec();
    if let Some((at, len, byte)) = pad {
        let at = at.min(bytes.len());
        bytes.splice(at..at, std::iter::repeat_n(byte, len));
    }

    let whole = parse(&bytes, &[bytes.len().max(1)], limits);
    if !reads.is_empty() {
        check_same(&whole, &parse(&bytes, &reads, limits), "reads", &reads);
    }
    if bytes.len() <= BYTEWISE_MAX {
        check_same(&whole, &parse(&bytes, &[1], limits), "bytewise", &[1]);
    }
}

type Header = (ParseLimits, Option<(usize, usize, u8)>, Vec<usize>);

fn header(u: &mut Unstructured<'_>) -> arbitrary::Result<Header> {
    let authenticated: bool = u.arbitrary()?;
    let proto_max_bulk_len = match u.int_in_range(0..=3u8)? {
        0 => 512 * 1024 * 1024,
        1 => 1024 * 1024,
        2 => crate::protocol::request::UNAUTHENTICATED_BULK_MAX + 1,
        _ => i64::from(u.arbitrary::<u8>()?),
    };
    let pad = if u.arbitrary::<bool>()? {
        let at = usize::from(u.arbitrary::<u16>()?);
        let len = INLINE_MAX_BYTES - 8 + usize::from(u.int_in_range(0..=16u8)?);
        let byte = *u.choose(PAD_BYTES)?;
        Some((at, len, byte))
    } else {
        None
    };
    let count = u.int_in_range(0..=15u8)?;
    let mut reads = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        // Mostly short reads, some of whole kilobytes (a padded input has 64 KiB).
        let size = match u.arbitrary::<u8>()? {
            small @ 0..200 => usize::from(small) + 1,
            big => usize::from(big - 199) * 1024,
        };
        reads.push(size);
    }
    let limits = ParseLimits {
        proto_max_bulk_len,
        authenticated,
    };
    Ok((limits, pad, reads))
}

/// Parses `bytes` arriving in reads of the sizes in `reads` (used in turn), parsing every
/// complete request after each read, as a connection does.
fn parse(bytes: &[u8], reads: &[usize], limits: ParseLimits) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut pos = 0;
    let mut sizes = reads.iter().cycle();
    let mut count = 0;
    while pos < bytes.len() {
        let size = sizes.next().copied().unwrap_or(bytes.len()).max(1);
        // The parser looks for a line end from the start of what it holds, so many short
        // reads of a long line cost the square of its length: the last read takes the rest.
        count += 1;
        let size = if count >= reads_max(bytes.len()) {
            bytes.len()
        } else {
            size
        };
        let end = bytes.len().min(pos + size);
        buf.extend_from_slice(&bytes[pos..end]);
        pos = end;
        loop {
            match parser.next(&mut buf, limits) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "an empty request was returned");
                    requests.push(args);
                }
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        requests,
                        error: Some(error),
                        rest: Vec::new(),
                        in_progress: false,
                    };
                }
            }
        }
    }
    Outcome {
        requests,
        error: None,
        rest: buf.to_vec(),
        in_progress: parser.in_progress(),
    }
}

/// Reads per parse of `len` bytes at most; the last one has what is left.
fn reads_max(len: usize) -> usize {
    (SCAN_BUDGET_BYTES / len.max(1)).max(64)
}

fn check_same(whole: &Outcome, split: &Outcome, how: &str, reads: &[usize]) {
    if whole != split {
        panic!(
            "parsing the bytes whole and split ({how}: reads of {reads:?}) differ:\n\
             whole: {}\nsplit: {}",
            summary(whole),
            summary(split)
        );
    }
}

/// An outcome in a few lines: arguments are cut to their first bytes (inputs may hold 64 KiB).
fn summary(outcome: &Outcome) -> String {
    let short = |b: &[u8]| {
        let shown = String::from_utf8_lossy(&b[..b.len().min(32)]).into_owned();
        format!("{shown:?} ({} bytes)", b.len())
    };
    let requests: Vec<String> = outcome
        .requests
        .iter()
        .map(|args| args.iter().map(|a| short(a)).collect::<Vec<_>>().join(" "))
        .collect();
    format!(
        "{} requests [{}], error {:?}, unparsed {}, in progress {}",
        requests.len(),
        requests.join("; "),
        outcome.error,
        short(&outcome.rest),
        outcome.in_progress
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ParseLimits = ParseLimits {
        proto_max_bulk_len: 512 * 1024 * 1024,
        authenticated: true,
    };

    #[test]
    fn the_fuzz_corpus_parses_the_same_however_split() {
        let files = crate::fuzz::corpus::files("resp_parse");
        assert!(files.len() >= 10, "the corpus has {} files", files.len());
        for (_, bytes) in files {
            fuzz_one(&bytes);
        }
    }

    #[test]
    fn outcomes_record_requests_errors_and_the_unparsed_rest() {
        let got = parse(b"PING\r\n*1\r\n$4\r\nECHO\r\n*2\r\n$3\r\nGET", &[3], LIMITS);
        assert_eq!(got.requests.len(), 2);
        assert_eq!(got.error, None);
        // The `$3` header was consumed: only the bulk waits for its `\r\n`.
        assert_eq!(got.rest, b"GET");
        assert!(got.in_progress);
        let got = parse(b"PING\r\n*x\r\n", &[100], LIMITS);
        assert_eq!(got.requests, vec![vec![Bytes::from("PING")]]);
        assert!(got.error.is_some());
    }

    /// A split that changes the outcome is reported: the check itself can fail.
    #[test]
    #[should_panic(expected = "differ")]
    fn a_difference_between_splits_is_caught() {
        let whole = parse(b"PING\r\n", &[6], LIMITS);
        let other = parse(b"PING\r\nPING\r\n", &[6], LIMITS);
        check_same(&whole, &other, "reads", &[6]);
    }
}
