//! The set type: an `intset` (sorted integers packed at the narrowest width that holds them
//! all, 2, 4 or 8 bytes) while every member is an integer and there are at most
//! `set-max-intset-entries`, a `hashtable` otherwise — Redis 7.0's two set encodings.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::indexed::Indexed;
use crate::util::parse_i64;

/// `set-max-intset-entries`.
pub static MAX_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(512);

fn max_intset_entries() -> usize {
    MAX_INTSET_ENTRIES.load(Ordering::Relaxed)
}

/// Sorted distinct integers stored little-endian at one width for all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntSet {
    width: u8,
    data: Vec<u8>,
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            width: 2,
            data: Vec::new(),
        }
    }
}

fn width_for(n: i64) -> u8 {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.data.len() / self.width as usize
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        let b = &self.data[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&n) {
                std::cmp::Ordering::Equal => return Ok(mid),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Err(lo)
    }

    pub fn contains(&self, n: i64) -> bool {
        width_for(n) <= self.width && self.search(n).is_ok()
    }

    fn encode(width: u8, n: i64, out: &mut Vec<u8>) {
        match width {
            2 => out.extend_from_slice(&(n as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(n as i32).to_le_bytes()),
            _ => out.extend_from_slice(&n.to_le_bytes()),
        }
    }

    pub fn insert(&mut self, n: i64) -> bool {
        let needed = width_for(n);
        if needed > self.width {
            let mut data = Vec::with_capacity((self.len() + 1) * needed as usize);
            for v in self.iter() {
                Self::encode(needed, v, &mut data);
            }
            self.width = needed;
            self.data = data;
        }
        match self.search(n) {
            Ok(_) => false,
            Err(at) => {
                let mut bytes = Vec::with_capacity(8);
                Self::encode(self.width, n, &mut bytes);
                let w = self.width as usize;
                self.data.splice(at * w..at * w, bytes);
                true
            }
        }
    }

    pub fn remove(&mut self, n: i64) -> bool {
        if width_for(n) > self.width {
            return false;
        }
        match self.search(n) {
            Ok(at) => {
                let w = self.width as usize;
                self.data.drain(at * w..at * w + w);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The size of Redis's intset blob: encoding, length, then the integers.
    pub fn blob_size(&self) -> usize {
        8 + self.data.len()
    }

    pub fn heap_size(&self) -> usize {
        self.data.capacity()
    }
}

/// A member as a set yields it: an integer of an intset, or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Member::Bytes(b) => b.to_vec(),
        }
    }

    /// Calls `f` with the member's bytes.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }
}

#[derive(Clone)]
pub enum SetValue {
    Intset(IntSet),
    Table(Indexed<Box<[u8]>>),
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(
                self.iter()
                    .map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned()),
            )
            .finish()
    }
}

impl PartialEq for SetValue {
    fn eq(&self, other: &Self) -> bool {
        self.encoding_name() == other.encoding_name()
            && self.len() == other.len()
            && self.iter().all(|m| m.with_bytes(|b| other.contains(b)))
    }
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Intset(IntSet::default())
    }
}

impl SetValue {
    /// An empty set suited to hold `first` (Redis's `setTypeCreate`).
    pub fn for_member(first: &[u8]) -> SetValue {
        if parse_i64(first).is_some() {
            SetValue::default()
        } else {
            SetValue::Table(Indexed::default())
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(s) => s.len(),
            SetValue::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(s) => parse_i64(member).is_some_and(|n| s.contains(n)),
            SetValue::Table(t) => t.find(member).is_some(),
        }
    }

    /// Adds a member, converting to `hashtable` as Redis's `setTypeAdd` does.
    pub fn add(&mut self, member: &[u8]) -> bool {
        if let SetValue::Intset(s) = self {
            match parse_i64(member) {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    if s.len() > max_intset_entries() {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match self {
            SetValue::Table(t) => {
                if t.find(member).is_some() {
                    false
                } else {
                    t.insert_new(member.into());
                    true
                }
            }
            SetValue::Intset(_) => unreachable!("converted above"),
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Intset(s) => parse_i64(member).is_some_and(|n| s.remove(n)),
            SetValue::Table(t) => t.remove(member).is_some(),
        }
    }

    fn convert(&mut self) {
        if let SetValue::Intset(s) = self {
            let mut t = Indexed::with_capacity(s.len() + 1);
            let mut buf = itoa::Buffer::new();
            for n in s.iter() {
                t.insert_new(buf.format(n).as_bytes().into());
            }
            *self = SetValue::Table(t);
        }
    }

    /// Members: sorted for an intset, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            SetValue::Intset(s) => Box::new(s.iter().map(Member::Int)),
            SetValue::Table(t) => Box::new(t.iter().map(|m| Member::Bytes(m))),
        }
    }

    /// The member at `index` in iteration order (random picks).
    pub fn nth(&self, index: usize) -> Option<Member<'_>> {
        match self {
            SetValue::Intset(s) => (index < s.len()).then(|| Member::Int(s.get(index))),
            SetValue::Table(t) => (index < t.len()).then(|| Member::Bytes(&t.at(index)[..])),
        }
    }

    /// The same content built as loading a snapshot builds it.
    pub fn rebuilt(&self) -> SetValue {
        let fits = self.len() <= max_intset_entries()
            && self
                .iter()
                .all(|m| matches!(m, Member::Int(_)) || m.with_bytes(|b| parse_i64(b).is_some()));
        let mut out = if fits {
            SetValue::default()
        } else {
            SetValue::Table(Indexed::with_capacity(self.len()))
        };
        for m in self.iter() {
            m.with_bytes(|b| out.add(b));
        }
        out
    }

    /// One step of SSCAN: an intset is returned whole, a table walked in hash order.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<Member<'_>>, u64) {
        match self {
            SetValue::Intset(s) => (s.iter().map(Member::Int).collect(), 0),
            SetValue::Table(t) => {
                let (found, next) = t.scan(cursor, count);
                (found.into_iter().map(|m| Member::Bytes(m)).collect(), next)
            }
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Intset(s) => s.heap_size(),
            SetValue::Table(t) => t.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &SetValue) -> Vec<Vec<u8>> {
        s.iter().map(Member::to_vec).collect()
    }

    #[test]
    fn intset_stays_sorted_and_widens() {
        let mut s = SetValue::for_member(b"5");
        for m in ["5", "-3", "100000", "7", "-9223372036854775808"] {
            s.add(m.as_bytes());
        }
        assert!(!s.add(b"7"));
        assert_eq!(s.encoding_name(), "intset");
        assert_eq!(
            members(&s),
            ["-9223372036854775808", "-3", "5", "7", "100000"]
                .iter()
                .map(|m| m.as_bytes().to_vec())
                .collect::<Vec<_>>()
        );
        assert!(s.contains(b"100000"));
        assert!(!s.contains(b"100001"));
        assert!(!s.contains(b"07"));
        assert!(s.remove(b"-3"));
        assert!(!s.remove(b"99999999999"));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn non_integers_and_size_convert_to_hashtable() {
        let mut s = SetValue::for_member(b"1");
        s.add(b"1");
        s.add(b"a");
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"a"));
        assert!(s.remove(b"a"));
        assert_eq!(s.rebuilt().encoding_name(), "intset");
        let mut big = SetValue::default();
        for i in 0..=512 {
            big.add(i.to_string().as_bytes());
        }
        assert_eq!(big.encoding_name(), "hashtable");
        assert_eq!(big.len(), 513);
    }
}
