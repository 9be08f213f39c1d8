//! The compact blobs older Redis versions wrote, read only (kopi never writes them), and the
//! intset, which 7.0 still writes. Every structural field is checked, as Redis's
//! `*ValidateIntegrity` functions do with deep checks on.
//!
//! ```text
//! ziplist (types 10, 12, 13, 14; Redis < 7.0):
//!   <zlbytes u32 LE> <zltail u32 LE: offset of the last entry> <zllen u16 LE, 65535 = unknown>
//!   entry = <prevlen: 1 byte < 254, or FE + u32 LE> <encoding> <data>, then FF
//!   encoding: 00LLLLLL string < 64 | 01LLLLLL LLLLLLLL string, 14-bit BE length
//!             10000000 <u32 BE> string | C0 int16 | D0 int32 | E0 int64 | F0 int24 | FE int8
//!             F1..FD: the integer 0..12 in the encoding byte itself (all LE)
//! zipmap (type 9; Redis < 2.6):
//!   <zmlen u8, 254 = unknown> (<len> key <len> <free u8> value <free bytes>)... FF
//!   len = one byte < 254, or FE + u32 LE
//! intset (type 11):
//!   <encoding u32 LE: 2, 4 or 8> <length u32 LE> <integers, strictly ascending, LE>
//! ```

use super::listpack::Element;

fn u32_le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

const ZIPLIST_HEADER_SIZE: usize = 10;
const ZIPLIST_END: u8 = 0xFF;
const ZIPLIST_BIG_PREVLEN: u8 = 0xFE;

/// Every element of a ziplist, after checking header, entry bounds, each entry's `prevlen`
/// against the entry before it, the tail offset, the count and the end marker.
pub fn parse_ziplist(blob: &[u8]) -> Result<Vec<Element<'_>>, &'static str> {
    if blob.len() < ZIPLIST_HEADER_SIZE + 1 {
        return Err("ziplist shorter than its header");
    }
    if u32_le(&blob[0..4]) as usize != blob.len() {
        return Err("ziplist total bytes disagree with its size");
    }
    let tail = u32_le(&blob[4..8]) as usize;
    let count = u16::from_le_bytes([blob[8], blob[9]]);
    if blob[blob.len() - 1] != ZIPLIST_END {
        return Err("ziplist does not end with its end marker");
    }
    let body_end = blob.len() - 1;
    let mut elements = Vec::new();
    let mut at = ZIPLIST_HEADER_SIZE;
    let mut previous_size = 0usize;
    let mut last_start = ZIPLIST_HEADER_SIZE;
    while at < body_end {
        let entry = &blob[at..body_end];
        if entry[0] == ZIPLIST_END {
            return Err("ziplist end marker in the middle");
        }
        let (prevlen, prevlen_size) = if entry[0] == ZIPLIST_BIG_PREVLEN {
            let b = entry.get(1..5).ok_or("ziplist entry runs past the end")?;
            (u32_le(b) as usize, 5)
        } else {
            (entry[0] as usize, 1)
        };
        if prevlen != previous_size {
            return Err("ziplist prevlen disagrees with the entry before");
        }
        let rest = &entry[prevlen_size..];
        let encoding = *rest.first().ok_or("ziplist entry runs past the end")?;
        if encoding == ZIPLIST_END {
            return Err("ziplist end marker in the middle");
        }
        let (element, size) = decode_ziplist_entry(rest)?;
        last_start = at;
        previous_size = prevlen_size + size;
        at += previous_size;
        elements.push(element);
    }
    if tail != last_start {
        return Err("ziplist tail offset is wrong");
    }
    if count != u16::MAX && count as usize != elements.len() {
        return Err("ziplist count disagrees with its entries");
    }
    Ok(elements)
}

/// The element at the start of `bytes` (just after its prevlen) and the size of its
/// encoding and data.
fn decode_ziplist_entry(bytes: &[u8]) -> Result<(Element<'_>, usize), &'static str> {
    let need = |from: usize, n: usize| -> Result<&[u8], &'static str> {
        bytes
            .get(from..from + n)
            .ok_or("ziplist entry runs past the end")
    };
    let string = |header: usize, len: usize| -> Result<(Element<'_>, usize), &'static str> {
        let end = header.checked_add(len).ok_or("ziplist string too long")?;
        Ok((Element::Str(need(header, len)?), end))
    };
    let first = bytes[0];
    match first >> 6 {
        0 => return string(1, (first & 0x3f) as usize),
        1 => {
            let low = need(1, 1)?[0];
            return string(2, ((first as usize & 0x3f) << 8) | low as usize);
        }
        2 => {
            if first != 0x80 {
                return Err("ziplist entry has an invalid encoding");
            }
            let b = need(1, 4)?;
            return string(5, u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        }
        _ => {}
    }
    let int = |n: usize| -> Result<i64, &'static str> {
        let b = need(1, n)?;
        let v = b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64);
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    };
    match first {
        0xc0 => Ok((Element::Int(int(2)?), 3)),
        0xd0 => Ok((Element::Int(int(4)?), 5)),
        0xe0 => Ok((Element::Int(int(8)?), 9)),
        0xf0 => Ok((Element::Int(int(3)?), 4)),
        0xfe => Ok((Element::Int(int(1)?), 2)),
        0xf1..=0xfd => Ok((Element::Int((first & 0x0f) as i64 - 1), 1)),
        _ => Err("ziplist entry has an invalid encoding"),
    }
}

const ZIPMAP_BIGLEN: u8 = 254;
/// A field and its value.
pub type Pair<'a> = (&'a [u8], &'a [u8]);
const ZIPMAP_END: u8 = 0xFF;

/// The field/value pairs of a zipmap.
pub fn parse_zipmap(blob: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    let declared = *blob.first().ok_or("zipmap is empty")?;
    let mut at = 1;
    let mut pairs = Vec::new();
    let len_at = |at: &mut usize| -> Result<usize, &'static str> {
        let first = *blob.get(*at).ok_or("zipmap runs past the end")?;
        if first < ZIPMAP_BIGLEN {
            *at += 1;
            Ok(first as usize)
        } else if first == ZIPMAP_BIGLEN {
            let b = blob
                .get(*at + 1..*at + 5)
                .ok_or("zipmap runs past the end")?;
            *at += 5;
            Ok(u32_le(b) as usize)
        } else {
            Err("zipmap length is invalid")
        }
    };
    let take = |at: &mut usize, len: usize| -> Result<&[u8], &'static str> {
        let end = at.checked_add(len).ok_or("zipmap length is invalid")?;
        let bytes = blob.get(*at..end).ok_or("zipmap runs past the end")?;
        *at = end;
        Ok(bytes)
    };
    loop {
        match blob.get(at) {
            None => return Err("zipmap has no end marker"),
            Some(&ZIPMAP_END) => break,
            Some(_) => {}
        }
        let key_len = len_at(&mut at)?;
        let key = take(&mut at, key_len)?;
        let value_len = len_at(&mut at)?;
        let free = *blob.get(at).ok_or("zipmap runs past the end")? as usize;
        at += 1;
        let value = take(&mut at, value_len)?;
        take(&mut at, free)?;
        pairs.push((key, value));
    }
    if at + 1 != blob.len() {
        return Err("zipmap has bytes after its end marker");
    }
    if declared < ZIPMAP_BIGLEN && declared as usize != pairs.len() {
        return Err("zipmap count disagrees with its entries");
    }
    Ok(pairs)
}

/// The integers of an intset blob, checked strictly ascending.
pub fn parse_intset(blob: &[u8]) -> Result<Vec<i64>, &'static str> {
    if blob.len() < 8 {
        return Err("intset shorter than its header");
    }
    let width = u32_le(&blob[0..4]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset encoding is invalid");
    }
    let count = u32_le(&blob[4..8]) as usize;
    let body = &blob[8..];
    if count.checked_mul(width) != Some(body.len()) {
        return Err("intset length disagrees with its size");
    }
    let mut out = Vec::with_capacity(count);
    for chunk in body.chunks_exact(width) {
        let v = chunk
            .iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | x as u64);
        let shift = 64 - 8 * width as u32;
        let n = ((v << shift) as i64) >> shift;
        if out.last().is_some_and(|&last| last >= n) {
            return Err("intset is not strictly ascending");
        }
        out.push(n);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ziplist as Redis < 7.0 builds one (for tests of the old types).
    pub(crate) fn ziplist(elements: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut previous = 0usize;
        let mut last = ZIPLIST_HEADER_SIZE;
        for e in elements {
            let start = body.len();
            last = ZIPLIST_HEADER_SIZE + start;
            if previous < 254 {
                body.push(previous as u8);
            } else {
                body.push(0xfe);
                body.extend_from_slice(&(previous as u32).to_le_bytes());
            }
            match crate::util::parse_i64(e) {
                Some(n @ 0..=12) => body.push(0xf1 + n as u8),
                Some(n) if i8::try_from(n).is_ok() => body.extend([0xfe, n as u8]),
                Some(n) if i16::try_from(n).is_ok() => {
                    body.push(0xc0);
                    body.extend_from_slice(&(n as i16).to_le_bytes());
                }
                Some(n) if (-(1 << 23)..1 << 23).contains(&n) => {
                    body.push(0xf0);
                    body.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
                }
                Some(n) if i32::try_from(n).is_ok() => {
                    body.push(0xd0);
                    body.extend_from_slice(&(n as i32).to_le_bytes());
                }
                Some(n) => {
                    body.push(0xe0);
                    body.extend_from_slice(&n.to_le_bytes());
                }
                None if e.len() < 64 => {
                    body.push(e.len() as u8);
                    body.extend_from_slice(e);
                }
                None if e.len() < 16384 => {
                    body.extend([0x40 | (e.len() >> 8) as u8, e.len() as u8]);
                    body.extend_from_slice(e);
                }
                None => {
                    body.push(0x80);
                    body.extend_from_slice(&(e.len() as u32).to_be_bytes());
                    body.extend_from_slice(e);
                }
            }
            previous = body.len() - start;
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((ZIPLIST_HEADER_SIZE + body.len() + 1) as u32).to_le_bytes());
        out.extend_from_slice(&(last as u32).to_le_bytes());
        out.extend_from_slice(&(elements.len().min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(ZIPLIST_END);
        out
    }

    /// A zipmap as Redis < 2.6 builds one.
    pub(crate) fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = vec![pairs.len().min(254) as u8];
        let len = |out: &mut Vec<u8>, n: usize| {
            if n < 254 {
                out.push(n as u8);
            } else {
                out.push(254);
                out.extend_from_slice(&(n as u32).to_le_bytes());
            }
        };
        for (k, v) in pairs {
            len(&mut out, k.len());
            out.extend_from_slice(k);
            len(&mut out, v.len());
            out.push(2); // free bytes after the value
            out.extend_from_slice(v);
            out.extend_from_slice(b"..");
        }
        out.push(ZIPMAP_END);
        out
    }

    #[test]
    fn ziplists_of_every_encoding_are_read() {
        let big = vec![b'b'; 300];
        let huge = vec![b'h'; 17000];
        let elements: Vec<&[u8]> = vec![
            b"0",
            b"12",
            b"13",
            b"-100",
            b"1000",
            b"100000",
            b"10000000",
            b"-9223372036854775808",
            b"abc",
            &big,
            &huge,
            b"",
        ];
        let blob = ziplist(&elements);
        let parsed: Vec<Vec<u8>> = parse_ziplist(&blob)
            .unwrap()
            .iter()
            .map(|e| e.to_vec())
            .collect();
        let expected: Vec<Vec<u8>> = elements.iter().map(|e| e.to_vec()).collect();
        assert_eq!(parsed, expected);
        assert!(parse_ziplist(&ziplist(&[])).unwrap().is_empty());
        for cut in 0..blob.len().min(400) {
            assert!(parse_ziplist(&blob[..cut]).is_err());
        }
        for i in 0..400 {
            let mut bad = blob.clone();
            bad[i] ^= 0x41;
            let _ = parse_ziplist(&bad);
        }
        // A wrong prevlen is caught.
        let small = ziplist(&[b"a", b"b"]);
        let mut bad = small.clone();
        bad[ZIPLIST_HEADER_SIZE + 3] = 5;
        assert!(parse_ziplist(&bad).is_err());
    }

    #[test]
    fn zipmaps_and_intsets_are_read_and_checked() {
        let long = vec![b'v'; 400];
        let blob = zipmap(&[(b"a", b"1"), (b"key", &long)]);
        assert_eq!(
            parse_zipmap(&blob).unwrap(),
            vec![(&b"a"[..], &b"1"[..]), (&b"key"[..], &long[..])]
        );
        for cut in 0..blob.len() {
            assert!(parse_zipmap(&blob[..cut]).is_err());
        }
        let mut intset = vec![2, 0, 0, 0, 3, 0, 0, 0];
        intset.extend_from_slice(&[0xff, 0xff, 1, 0, 2, 0]);
        assert_eq!(parse_intset(&intset).unwrap(), vec![-1, 1, 2]);
        let mut unsorted = intset.clone();
        unsorted[10] = 3;
        assert!(parse_intset(&unsorted).is_err());
        let mut duplicate = intset.clone();
        duplicate[12] = 1;
        assert!(parse_intset(&duplicate).is_err());
        for cut in 0..intset.len() {
            assert!(parse_intset(&intset[..cut]).is_err());
        }
        assert!(parse_intset(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }
}
