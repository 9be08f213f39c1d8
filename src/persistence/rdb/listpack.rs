//! Redis's listpack (`listpack.c`), the blob inside RDB types 16, 17, 18 and 20: written
//! exactly as Redis lays it out, read with every structural check `lpValidateIntegrity`
//! makes, since the bytes come from a file or a RESTORE argument.
//!
//! ```text
//! <total bytes u32 LE> <count u16 LE, 65535 = too many to count> <entry>... <FF>
//! entry = <encoding and data> <backlen: the size of encoding+data, 1-5 bytes, read backwards>
//!
//! 0xxxxxxx               7-bit unsigned int     10LLLLLL <data>        string < 64 bytes
//! 110xxxxx xxxxxxxx      13-bit signed int      1110LLLL LLLLLLLL      string < 4096 bytes
//! F1 <2> / F2 <3> / F3 <4> / F4 <8>  16/24/32/64-bit signed int, LE
//! F0 <u32 LE len> <data> longer string
//! ```
//!
//! Example (a hash `f1 → v1, f2 → 2`, from a real 7.0.15 file):
//! `15000000 0400 82"f1"03 82"v1"03 82"f2"03 0201 FF`.

use crate::util::parse_i64;

/// Header: total bytes (u32) and element count (u16).
const HEADER_SIZE: usize = 6;
const EOF: u8 = 0xFF;
/// The count field's value when the count does not fit in it.
const COUNT_UNKNOWN: u16 = u16::MAX;
/// Longest string listpack tries to read as an integer (`LONG_STR_SIZE` − 1).
const INT_TEXT_MAX: usize = 20;

/// A listpack being built.
#[derive(Debug)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        ListpackWriter {
            buf: vec![0; HEADER_SIZE],
            count: 0,
        }
    }

    /// Appends an element: as an integer when it is one by `string2ll`'s rules (what
    /// `lpAppend` does), as a string otherwise.
    pub fn push(&mut self, element: &[u8]) {
        if element.len() <= INT_TEXT_MAX
            && let Some(n) = parse_i64(element)
        {
            self.push_int(n);
        } else {
            self.push_string(element);
        }
    }

    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&n) {
            self.buf.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let v = (n as u16) & 0x1fff;
            self.buf
                .extend_from_slice(&[0xc0 | (v >> 8) as u8, v as u8]);
        } else if let Ok(v) = i16::try_from(n) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if let Ok(v) = i32::try_from(n) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&n.to_le_bytes());
        }
        self.finish_entry(start);
    }

    fn push_string(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let len = s.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf
                .extend_from_slice(&[0xe0 | (len >> 8) as u8, (len & 0xff) as u8]);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let len = self.buf.len() - start;
        write_backlen(&mut self.buf, len);
        self.count += 1;
    }

    /// The finished blob: header filled in, end marker appended.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// The back length: `len` in 7-bit groups, most significant first, every byte but the first
/// flagged with 0x80, so reading backwards from the last byte finds the low bits first.
fn write_backlen(out: &mut Vec<u8>, len: usize) {
    let groups = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    for g in (0..groups).rev() {
        let bits = ((len >> (7 * g)) & 0x7f) as u8;
        out.push(if g == groups - 1 { bits } else { bits | 0x80 });
    }
}

/// The number of bytes [`write_backlen`] uses for `len`.
fn backlen_size(len: usize) -> usize {
    let mut v = Vec::with_capacity(5);
    write_backlen(&mut v, len);
    v.len()
}

/// A listpack element as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Element<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Element<'_> {
    /// The element as a string (integers in decimal, as Redis hands them out).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Element::Str(s) => s.to_vec(),
            Element::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
        }
    }
}

fn read_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

/// Sign-extends the low `bits` bits of `v`.
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Every element of `blob`, after checking the whole structure: header total and count, each
/// entry's encoding, length and back length inside the blob, and the end marker last.
pub fn parse(blob: &[u8]) -> Result<Vec<Element<'_>>, &'static str> {
    if blob.len() < HEADER_SIZE + 1 {
        return Err("listpack shorter than its header");
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() {
        return Err("listpack total bytes disagree with its size");
    }
    let count = u16::from_le_bytes([blob[4], blob[5]]);
    if blob[blob.len() - 1] != EOF {
        return Err("listpack does not end with its end marker");
    }
    let body_end = blob.len() - 1;
    let mut elements = Vec::new();
    let mut at = HEADER_SIZE;
    while at < body_end {
        let (element, size) = decode_entry(&blob[at..body_end])?;
        let back_start = at + size;
        let back_size = backlen_size(size);
        let back = blob
            .get(back_start..back_start + back_size)
            .filter(|_| back_start + back_size <= body_end)
            .ok_or("listpack entry runs past the end")?;
        let mut expected = Vec::with_capacity(5);
        write_backlen(&mut expected, size);
        if back != expected {
            return Err("listpack back length is wrong");
        }
        elements.push(element);
        at = back_start + back_size;
    }
    if count != COUNT_UNKNOWN && count as usize != elements.len() {
        return Err("listpack count disagrees with its entries");
    }
    Ok(elements)
}

/// The element at the start of `bytes` and the size of its encoding and data.
fn decode_entry(bytes: &[u8]) -> Result<(Element<'_>, usize), &'static str> {
    let first = bytes[0];
    let need = |n: usize| -> Result<&[u8], &'static str> {
        bytes
            .get(1..1 + n)
            .ok_or("listpack entry runs past the end")
    };
    let string = |header: usize, len: usize| -> Result<(Element<'_>, usize), &'static str> {
        let end = header.checked_add(len).ok_or("listpack string too long")?;
        let data = bytes
            .get(header..end)
            .ok_or("listpack string runs past the end")?;
        Ok((Element::Str(data), end))
    };
    match first {
        0x00..=0x7f => Ok((Element::Int(first as i64), 1)),
        0x80..=0xbf => string(1, (first & 0x3f) as usize),
        0xc0..=0xdf => {
            let low = need(1)?[0];
            let v = ((first as u64 & 0x1f) << 8) | low as u64;
            Ok((Element::Int(sign_extend(v, 13)), 2))
        }
        0xe0..=0xef => {
            let low = need(1)?[0];
            string(2, ((first as usize & 0x0f) << 8) | low as usize)
        }
        0xf0 => {
            let len = read_le(need(4)?) as usize;
            string(5, len)
        }
        0xf1 => Ok((Element::Int(sign_extend(read_le(need(2)?), 16)), 3)),
        0xf2 => Ok((Element::Int(sign_extend(read_le(need(3)?), 24)), 4)),
        0xf3 => Ok((Element::Int(sign_extend(read_le(need(4)?), 32)), 5)),
        0xf4 => Ok((Element::Int(read_le(need(8)?) as i64), 9)),
        _ => Err("listpack entry has an invalid encoding"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(elements: &[&[u8]]) -> Vec<u8> {
        let mut w = ListpackWriter::new();
        for e in elements {
            w.push(e);
        }
        w.finish()
    }

    #[test]
    fn hash_bytes_match_redis_7_0_15() {
        let blob = build(&[b"f1", b"v1", b"f2", b"2"]);
        let mut expected = vec![0x15, 0, 0, 0, 4, 0];
        expected.extend_from_slice(b"\x82f1\x03\x82v1\x03\x82f2\x03\x02\x01\xff");
        assert_eq!(blob, expected);
    }

    #[test]
    fn every_encoding_round_trips_with_sizes_as_kopi_counts_them() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let texts: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-4097",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "01",
            "+1",
            "",
            "1.5",
            "9223372036854775808",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([long.clone(), mid.clone(), vec![b'z'; 63], vec![b'z'; 64]])
        .collect();
        let refs: Vec<&[u8]> = texts.iter().map(|t| &t[..]).collect();
        let blob = build(&refs);
        assert_eq!(
            blob.len(),
            crate::keyspace::pack::listpack_size(refs.iter().copied())
        );
        let parsed = parse(&blob).unwrap();
        let back: Vec<Vec<u8>> = parsed.iter().map(|e| e.to_vec()).collect();
        assert_eq!(back, texts);
        assert_eq!(parsed[0], Element::Int(0));
        assert_eq!(parsed[19], Element::Str(b"01"));
    }

    #[test]
    fn backlens_of_every_size_class_are_read_back() {
        for len in [127usize, 128, 16382, 16383, 2097150, 2097151] {
            let mut out = Vec::new();
            write_backlen(&mut out, len);
            // Read backwards as lpDecodeBacklen does.
            let mut value = 0usize;
            let mut shift = 0;
            for &b in out.iter().rev() {
                value |= ((b & 0x7f) as usize) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            assert_eq!(value, len);
        }
    }

    #[test]
    fn damaged_listpacks_are_errors_never_panics() {
        let blob = build(&[b"f1", b"hello world", b"-300", b"70000", &[b'q'; 100]]);
        assert!(parse(&blob).is_ok());
        for cut in 0..blob.len() {
            assert!(parse(&blob[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..blob.len() {
            for bit in 0..8 {
                let mut bad = blob.clone();
                bad[i] ^= 1 << bit;
                // A flip may yield another valid listpack; it must never panic.
                let _ = parse(&bad);
            }
        }
        // Count disagreeing.
        let mut bad = blob.clone();
        bad[4] = 9;
        assert!(parse(&bad).is_err());
        // Unknown count is accepted.
        let mut unknown = blob.clone();
        unknown[4..6].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(parse(&unknown).unwrap().len(), 5);
    }
}
