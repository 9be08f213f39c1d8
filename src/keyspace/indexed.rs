//! The `hashtable` form of sets and hashes: the items in a vector (so a random one is picked
//! in O(1), as Redis's `dictGetFairRandomKey`) and a hash index of their positions.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use hashbrown::HashTable;

/// One seed per process: hashes of members are stable while the server runs, which the
/// SSCAN/HSCAN cursors rely on.
static SEED: LazyLock<foldhash::quality::RandomState> = LazyLock::new(Default::default);

/// The hash of a member or field.
pub fn member_hash(bytes: &[u8]) -> u64 {
    SEED.hash_one(bytes)
}

/// An item keyed by a byte string.
pub trait Keyed {
    fn key(&self) -> &[u8];
    /// Heap bytes held by the item's strings.
    fn heap_bytes(&self) -> usize;
}

impl Keyed for Box<[u8]> {
    fn key(&self) -> &[u8] {
        self
    }
    fn heap_bytes(&self) -> usize {
        self.len()
    }
}

impl Keyed for (Box<[u8]>, Box<[u8]>) {
    fn key(&self) -> &[u8] {
        &self.0
    }
    fn heap_bytes(&self) -> usize {
        self.0.len() + self.1.len()
    }
}

#[derive(Clone)]
pub struct Indexed<T> {
    items: Vec<T>,
    index: HashTable<usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<T: Keyed> Indexed<T> {
    pub fn with_capacity(n: usize) -> Self {
        Indexed {
            items: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn at(&self, position: usize) -> &T {
        &self.items[position]
    }

    pub fn at_mut(&mut self, position: usize) -> &mut T {
        &mut self.items[position]
    }

    /// The position of the item keyed `key`.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(member_hash(key), |&i| items[i].key() == key)
            .copied()
    }

    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.find(key).map(|i| &self.items[i])
    }

    /// Adds an item whose key is not present.
    pub fn insert_new(&mut self, item: T) {
        let position = self.items.len();
        let hash = member_hash(item.key());
        self.items.push(item);
        let items = &self.items;
        self.index
            .insert_unique(hash, position, |&i| member_hash(items[i].key()));
    }

    /// Removes the item keyed `key`; the last item takes its position.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let items = &self.items;
        let entry = self
            .index
            .find_entry(member_hash(key), |&i| items[i].key() == key)
            .ok()?;
        let (position, _) = entry.remove();
        let last = self.items.len() - 1;
        if position != last {
            let moved = member_hash(self.items[last].key());
            if let Some(slot) = self.index.find_mut(moved, |&i| i == last) {
                *slot = position;
            }
        }
        let item = self.items.swap_remove(position);
        if self.items.capacity() > 64 && self.items.len() < self.items.capacity() / 4 {
            self.items.shrink_to_fit();
            let items = &self.items;
            self.index.shrink_to_fit(|&i| member_hash(items[i].key()));
        }
        Some(item)
    }

    /// The items whose hashes lie in the SCAN span starting at `cursor`, and the next cursor.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<&T>, u64) {
        let (start, end) = scan_span(cursor, count, self.len());
        let found = self
            .items
            .iter()
            .filter(|item| {
                let h = member_hash(item.key());
                h >= start && end.is_none_or(|end| h < end)
            })
            .collect();
        (found, end.unwrap_or(0))
    }

    pub fn heap_size(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
            + self.index.allocation_size()
            + self.items.iter().map(Keyed::heap_bytes).sum::<usize>()
    }
}

/// The range of member hashes one SCAN call over `len` items visits from `cursor`: about
/// `count` items' worth of the hash space (never less than 1/128 of it, so a complete
/// iteration takes at most 128 calls), `None` as the end when it reaches the top. Cursors
/// are positions in hash order, so an item present for the whole iteration is returned
/// whatever is added or removed meanwhile.
pub fn scan_span(cursor: u64, count: usize, len: usize) -> (u64, Option<u64>) {
    let count = count.max(1) as u128;
    let len = (len as u128).max(1);
    let span = ((1u128 << 64) * count / len).clamp(1 << 57, 1 << 64);
    let end = cursor as u128 + span;
    (cursor, u64::try_from(end).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Box<[u8]> {
        s.as_bytes().into()
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut t: Indexed<Box<[u8]>> = Indexed::default();
        for i in 0..100 {
            t.insert_new(key(&i.to_string()));
        }
        for i in (0..100).step_by(3) {
            assert!(t.remove(i.to_string().as_bytes()).is_some());
        }
        assert!(t.remove(b"0").is_none());
        for i in 0..100 {
            assert_eq!(t.find(i.to_string().as_bytes()).is_some(), i % 3 != 0);
        }
        for (position, item) in t.iter().enumerate() {
            assert_eq!(t.find(item), Some(position));
        }
    }

    #[test]
    fn scan_spans_cover_the_hash_space() {
        assert_eq!(scan_span(0, 10, 5), (0, None));
        let (start, end) = scan_span(0, 10, 1 << 20);
        assert_eq!(start, 0);
        assert_eq!(end, Some(1 << 57));
    }
}
