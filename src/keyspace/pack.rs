//! A compact sequence of byte strings in one buffer: each entry is its length (LEB128) then
//! its bytes. Small hashes live in one of these, as Redis keeps them in a listpack.

/// Byte strings one after the other in a single allocation.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Pack {
    buf: Vec<u8>,
    count: u32,
}

/// Where a field and its value start in a [`Pack`] of pairs.
#[derive(Debug, Clone, Copy)]
pub struct PairAt {
    pub field: usize,
    pub value: usize,
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Pack {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The entry starting at `at` and the offset of the next one.
    pub fn entry(&self, at: usize) -> (&[u8], usize) {
        let mut len = 0usize;
        let mut shift = 0;
        let mut i = at;
        loop {
            let b = self.buf[i];
            len |= ((b & 0x7f) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (&self.buf[i..i + len], i + len)
    }

    pub fn push(&mut self, bytes: &[u8]) {
        write_varint(&mut self.buf, bytes.len());
        self.buf.extend_from_slice(bytes);
        self.count += 1;
    }

    /// Replaces the entry at `at` with `bytes`.
    pub fn replace(&mut self, at: usize, bytes: &[u8]) {
        let (_, end) = self.entry(at);
        let mut encoded = Vec::with_capacity(varint_len(bytes.len()) + bytes.len());
        write_varint(&mut encoded, bytes.len());
        encoded.extend_from_slice(bytes);
        self.buf.splice(at..end, encoded);
    }

    /// Removes the two entries starting at `at`.
    pub fn remove_pair(&mut self, at: usize) {
        let (_, next) = self.entry(at);
        let (_, end) = self.entry(next);
        self.buf.drain(at..end);
        self.count -= 2;
        if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= self.buf.len() {
                return None;
            }
            let (bytes, next) = self.entry(at);
            at = next;
            Some(bytes)
        })
    }

    /// Entries taken two at a time.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut entries = self.iter();
        std::iter::from_fn(move || Some((entries.next()?, entries.next()?)))
    }

    /// The pair whose first entry is `field`.
    pub fn find_pair(&self, field: &[u8]) -> Option<PairAt> {
        let mut at = 0;
        while at < self.buf.len() {
            let (f, value) = self.entry(at);
            let (_, next) = self.entry(value);
            if f == field {
                return Some(PairAt { field: at, value });
            }
            at = next;
        }
        None
    }

    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }
}

/// The size of a Redis listpack holding `entries` (strings that are integers are stored as
/// integers), for DEBUG OBJECT's `serializedlength`.
pub fn listpack_size<'a>(entries: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut total = 6 + 1;
    for e in entries {
        let encoded = match crate::util::parse_i64(e).filter(|_| e.len() <= 20) {
            Some(n) if (0..=127).contains(&n) => 1,
            Some(n) if (-4096..=4095).contains(&n) => 2,
            Some(n) if i16::try_from(n).is_ok() => 3,
            Some(n) if (-(1 << 23)..1 << 23).contains(&n) => 4,
            Some(n) if i32::try_from(n).is_ok() => 5,
            Some(_) => 9,
            None if e.len() < 64 => 1 + e.len(),
            None if e.len() < 4096 => 2 + e.len(),
            None => 5 + e.len(),
        };
        let backlen = match encoded {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        total += encoded + backlen;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_pairs_are_found() {
        let mut p = Pack::default();
        let long = vec![b'z'; 300];
        p.push(b"a");
        p.push(&long);
        p.push(b"");
        p.push(b"x");
        assert_eq!(p.len(), 4);
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, vec![&b"a"[..], &long[..], b"", b"x"]);
        let at = p.find_pair(b"").unwrap();
        assert_eq!(p.entry(at.value).0, b"x");
        p.replace(at.value, &long);
        assert_eq!(p.pairs().nth(1), Some((&b""[..], &long[..])));
        p.remove_pair(0);
        assert_eq!(p.len(), 2);
        assert!(p.find_pair(b"a").is_none());
        assert_eq!(p.iter().next(), Some(&b""[..]));
    }

    #[test]
    fn listpack_sizes_follow_redis_encodings() {
        // Header 6 + end 1 + "f1" (1+2, backlen 1) + 2 (int, backlen 1).
        assert_eq!(listpack_size([&b"f1"[..], b"2"].into_iter()), 7 + 4 + 2);
        assert_eq!(listpack_size([&b"1000"[..]].into_iter()), 7 + 3);
        assert_eq!(listpack_size([&b"01"[..]].into_iter()), 7 + 4);
    }
}
