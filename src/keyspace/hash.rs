//! The hash type: a `listpack` (field and value strings one after the other in one buffer, in
//! insertion order) while small, a `hashtable` past `hash-max-listpack-entries` fields or a
//! string longer than `hash-max-listpack-value`, as Redis 7.0 encodes hashes.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::indexed::Indexed;
use super::pack::Pack;

/// `hash-max-listpack-entries` (alias `hash-max-ziplist-entries`).
pub static MAX_LISTPACK_ENTRIES: AtomicUsize = AtomicUsize::new(512);
/// `hash-max-listpack-value` (alias `hash-max-ziplist-value`).
pub static MAX_LISTPACK_VALUE: AtomicUsize = AtomicUsize::new(64);

fn max_entries() -> usize {
    MAX_LISTPACK_ENTRIES.load(Ordering::Relaxed)
}

fn max_value() -> usize {
    MAX_LISTPACK_VALUE.load(Ordering::Relaxed)
}

type Pair = (Box<[u8]>, Box<[u8]>);
/// Field/value pairs borrowed from a hash.
pub type Pairs<'a> = Vec<(&'a [u8], &'a [u8])>;

#[derive(Clone)]
pub enum HashValue {
    /// Field, value, field, value, ... in insertion order.
    Listpack(Pack),
    Table(Indexed<Pair>),
}

impl std::fmt::Debug for HashValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for HashValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().all(|(f, v)| other.get(f) == Some(v))
            && self.encoding_name() == other.encoding_name()
    }
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Listpack(Pack::default())
    }
}

/// How a field was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    Inserted,
    Updated,
}

impl HashValue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(p) => p.len() / 2,
            HashValue::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, HashValue::Listpack(_))
    }

    /// Field/value pairs: insertion order for a listpack, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            HashValue::Listpack(p) => Box::new(p.pairs()),
            HashValue::Table(t) => Box::new(t.iter().map(|(f, v)| (&f[..], &v[..]))),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Listpack(p) => p.find_pair(field).map(|at| p.entry(at.value).0),
            HashValue::Table(t) => t.get(field).map(|(_, v)| &v[..]),
        }
    }

    /// Converts to `hashtable` when a string of this length may not live in a listpack.
    pub fn prepare_for(&mut self, len: usize) {
        if self.is_listpack() && len > max_value() {
            self.convert();
        }
    }

    /// Sets a field (converting as Redis's `hashTypeSet` does).
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> SetOutcome {
        self.prepare_for(field.len().max(value.len()));
        let outcome = match self {
            HashValue::Listpack(p) => match p.find_pair(field) {
                Some(at) => {
                    p.replace(at.value, value);
                    SetOutcome::Updated
                }
                None => {
                    p.push(field);
                    p.push(value);
                    SetOutcome::Inserted
                }
            },
            HashValue::Table(t) => match t.find(field) {
                Some(position) => {
                    t.at_mut(position).1 = value.into();
                    SetOutcome::Updated
                }
                None => {
                    t.insert_new((field.into(), value.into()));
                    SetOutcome::Inserted
                }
            },
        };
        if self.is_listpack() && self.len() > max_entries() {
            self.convert();
        }
        outcome
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Listpack(p) => match p.find_pair(field) {
                Some(at) => {
                    p.remove_pair(at.field);
                    true
                }
                None => false,
            },
            HashValue::Table(t) => t.remove(field).is_some(),
        }
    }

    fn convert(&mut self) {
        if let HashValue::Listpack(p) = self {
            let mut table = Indexed::with_capacity(p.len() / 2);
            for (f, v) in p.pairs() {
                table.insert_new((f.into(), v.into()));
            }
            *self = HashValue::Table(table);
        }
    }

    /// The same content built afresh (as loading a snapshot builds it): a listpack when
    /// the thresholds allow.
    pub fn rebuilt(&self) -> HashValue {
        let fits = self.len() <= max_entries()
            && self
                .iter()
                .all(|(f, v)| f.len() <= max_value() && v.len() <= max_value());
        if fits {
            let mut p = Pack::default();
            for (f, v) in self.iter() {
                p.push(f);
                p.push(v);
            }
            HashValue::Listpack(p)
        } else {
            let mut h = self.clone();
            h.convert();
            h
        }
    }

    /// One step of HSCAN from `cursor`: the pairs visited and the next cursor (0: done). A
    /// listpack is returned whole; a table is walked in the order of its fields' hashes, so
    /// a field present for the whole iteration is returned whatever changes meanwhile.
    pub fn scan(&self, cursor: u64, count: usize) -> (Pairs<'_>, u64) {
        match self {
            HashValue::Listpack(p) => (p.pairs().collect(), 0),
            HashValue::Table(t) => {
                let (found, next) = t.scan(cursor, count);
                (
                    found.into_iter().map(|(f, v)| (&f[..], &v[..])).collect(),
                    next,
                )
            }
        }
    }

    /// The pair at `index` in iteration order (HRANDFIELD's random picks).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Listpack(p) => p.pairs().nth(index),
            HashValue::Table(t) => (index < t.len()).then(|| {
                let (f, v) = t.at(index);
                (&f[..], &v[..])
            }),
        }
    }

    /// Bytes of heap memory held.
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Listpack(p) => p.heap_size(),
            HashValue::Table(t) => t.heap_size(),
        }
    }

    /// The size of the listpack Redis would build for this content (header, entries, end).
    pub fn listpack_bytes(&self) -> usize {
        super::pack::listpack_size(self.iter().flat_map(|(f, v)| [f, v]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_keeps_insertion_order_and_converts_on_long_values() {
        let mut h = HashValue::new();
        assert_eq!(h.set(b"b", b"1"), SetOutcome::Inserted);
        assert_eq!(h.set(b"a", b"2"), SetOutcome::Inserted);
        assert_eq!(h.set(b"b", b"3"), SetOutcome::Updated);
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"b"[..], &b"3"[..]), (&b"a"[..], &b"2"[..])]);
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.encoding_name(), "listpack");
        h.set(b"c", &[b'x'; 65]);
        assert_eq!(h.encoding_name(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        assert_eq!(h.get(b"c").map(|v| v.len()), Some(65));
        assert!(h.remove(b"c"));
        assert_eq!(h.rebuilt().encoding_name(), "listpack");
    }

    #[test]
    fn table_scan_visits_every_field_once() {
        let mut h = HashValue::new();
        for i in 0..2000 {
            h.set(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding_name(), "hashtable");
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            let (found, next) = h.scan(cursor, 10);
            for (f, _) in found {
                assert!(seen.insert(f.to_vec()));
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 2000);
    }
}
