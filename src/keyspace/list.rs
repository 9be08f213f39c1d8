//! Lists: a deque of packed chunks, laid out as Redis 7.0's quicklist of listpacks.
//!
//! Each chunk is one byte buffer of entries `<len><bytes><len reversed>` (the length a
//! LEB128 varint, written once forwards and once backwards), so a chunk is walked from
//! either end and an element costs its bytes plus two bytes of framing when shorter than
//! 128 bytes. A chunk takes new elements while the listpack Redis would build for it stays
//! within `list-max-listpack-size` (negative: a byte budget of 4, 8, 16, 32 or 64 KiB;
//! positive: an element count, within 8 KiB), so chunks split where Redis's quicklist nodes
//! do when a list grows by pushes. Pushing and popping at either end touch one chunk;
//! indexing walks whole chunks by their counts, then one chunk from its nearer end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};

/// `list-max-listpack-size`, kept by the server from the configuration.
static FILL: AtomicI64 = AtomicI64::new(-2);

/// Sets `list-max-listpack-size` for the lists changed from now on.
pub fn set_fill(fill: i64) {
    FILL.store(fill, Ordering::Relaxed);
}

fn fill() -> i64 {
    FILL.load(Ordering::Relaxed)
}

/// Byte budgets of the negative fill levels.
const FILL_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A chunk never grows past this many listpack bytes by count-based fills.
const SAFETY_BYTES: usize = 8192;
/// An empty listpack: header and end marker.
const EMPTY_LISTPACK: usize = 7;

/// Bytes the element takes in a Redis listpack (encoding, content and back length).
fn listpack_entry_size(item: &[u8]) -> usize {
    let encoded = if item.len() <= 20
        && let Some(n) = crate::util::parse_i64(item)
    {
        if (0..=127).contains(&n) {
            1
        } else if (-4096..=4095).contains(&n) {
            2
        } else if i16::try_from(n).is_ok() {
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            4
        } else if i32::try_from(n).is_ok() {
            5
        } else {
            9
        }
    } else if item.len() < 64 {
        1 + item.len()
    } else if item.len() < 4096 {
        2 + item.len()
    } else {
        5 + item.len()
    };
    let back = match encoded {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    };
    encoded + back
}

/// What the quicklist adds to an element's length when estimating a node's growth.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// Elements at least this long sit alone in a chunk (Redis's quicklist "plain" nodes:
/// `packed_threshold`, 1 GiB unless DEBUG QUICKLIST-PACKED-THRESHOLD changes it).
static PACKED_THRESHOLD: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(DEFAULT_PACKED_THRESHOLD);
const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;

/// DEBUG QUICKLIST-PACKED-THRESHOLD, with Redis's limits: 0 restores the default; false
/// (nothing changed) above 4 GiB - 1 MiB.
pub fn set_packed_threshold(size: u64) -> bool {
    if size > (1u64 << 32) - (1 << 20) {
        return false;
    }
    let size = if size == 0 {
        DEFAULT_PACKED_THRESHOLD
    } else {
        size as usize
    };
    PACKED_THRESHOLD.store(size, Ordering::Relaxed);
    true
}

fn is_plain(len: usize) -> bool {
    len >= PACKED_THRESHOLD.load(Ordering::Relaxed)
}

/// Whether a chunk of `bytes` listpack bytes and `count` elements may take one more element
/// of `len` bytes (the quicklist's insertion rule; the fill is clamped to -5..=32768). A plain
/// element never joins a chunk.
fn fits(bytes: usize, count: usize, len: usize) -> bool {
    if is_plain(len) {
        return false;
    }
    let new_size = bytes + len + SIZE_ESTIMATE_OVERHEAD;
    let fill = fill().clamp(-5, 1 << 15);
    if fill < 0 {
        new_size <= FILL_BYTES[(-fill - 1) as usize]
    } else {
        new_size <= SAFETY_BYTES && (count as i64) < fill
    }
}

/// Whether a chunk has grown past what the fill allows (after an insertion in the middle).
fn over_budget(bytes: usize, count: usize) -> bool {
    let fill = fill().clamp(-5, 1 << 15);
    if fill < 0 {
        bytes > FILL_BYTES[(-fill - 1) as usize]
    } else {
        bytes > SAFETY_BYTES || count as i64 > fill.max(1)
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// One packed run of elements (a quicklist node).
#[derive(Debug, Clone, PartialEq, Default)]
struct Chunk {
    buf: Vec<u8>,
    count: u32,
    /// The size Redis's listpack for these elements has.
    lp_bytes: u32,
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            buf: Vec::new(),
            count: 0,
            lp_bytes: EMPTY_LISTPACK as u32,
        }
    }

    fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut chunk = Chunk::new();
        for item in items {
            chunk.push_back(item);
        }
        chunk
    }

    fn len(&self) -> usize {
        self.count as usize
    }

    fn accepts(&self, item: &[u8]) -> bool {
        // A chunk holding a plain element takes nothing else.
        let plain = self.len() == 1 && is_plain(self.get(0).len());
        !plain && fits(self.lp_bytes as usize, self.len(), item.len())
    }

    fn encode(item: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(item.len() + 2 * varint_len(item.len()));
        Self::encode_into(&mut out, item);
        out
    }

    fn encode_into(out: &mut Vec<u8>, item: &[u8]) {
        put_varint(out, item.len());
        out.extend_from_slice(item);
        let start = out.len();
        put_varint(out, item.len());
        out[start..].reverse();
    }

    fn grew(&mut self, item: &[u8]) {
        self.count += 1;
        self.lp_bytes = self
            .lp_bytes
            .saturating_add(listpack_entry_size(item) as u32);
    }

    fn shrank(&mut self, item: &[u8]) {
        self.count -= 1;
        self.lp_bytes = self
            .lp_bytes
            .saturating_sub(listpack_entry_size(item) as u32);
    }

    fn push_back(&mut self, item: &[u8]) {
        Self::encode_into(&mut self.buf, item);
        self.grew(item);
    }

    fn push_front(&mut self, item: &[u8]) {
        let encoded = Self::encode(item);
        self.buf.splice(0..0, encoded);
        self.grew(item);
    }

    /// The element starting at byte `at`: (content range, end of the entry).
    fn entry_at(&self, at: usize) -> (std::ops::Range<usize>, usize) {
        let mut len = 0usize;
        let mut shift = 0;
        let mut pos = at;
        loop {
            let byte = self.buf[pos];
            pos += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let end = pos + len;
        (pos..end, end + varint_len(len))
    }

    /// The element ending at byte `end`: (content range, start of the entry).
    fn entry_before(&self, end: usize) -> (std::ops::Range<usize>, usize) {
        let mut len = 0usize;
        let mut shift = 0;
        let mut pos = end;
        loop {
            pos -= 1;
            let byte = self.buf[pos];
            len |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let start = pos - len;
        (start..pos, start - varint_len(len))
    }

    fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let (range, end) = self.entry_at(0);
        let item = self.buf[range].to_vec();
        self.buf.drain(..end);
        self.shrank(&item);
        Some(item)
    }

    fn pop_back(&mut self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let (range, start) = self.entry_before(self.buf.len());
        let item = self.buf[range].to_vec();
        self.buf.truncate(start);
        self.shrank(&item);
        Some(item)
    }

    /// Byte range of element `index` (content) and of its whole entry.
    fn locate(&self, index: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        if index < self.len() / 2 {
            let mut at = 0;
            for _ in 0..index {
                at = self.entry_at(at).1;
            }
            let (content, end) = self.entry_at(at);
            (content, at..end)
        } else {
            let mut end = self.buf.len();
            for _ in 0..self.len() - 1 - index {
                end = self.entry_before(end).1;
            }
            let (content, start) = self.entry_before(end);
            (content, start..end)
        }
    }

    fn get(&self, index: usize) -> &[u8] {
        &self.buf[self.locate(index).0]
    }

    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            chunk: self,
            front: 0,
            back: self.buf.len(),
            left: self.len(),
        }
    }

    fn shrink(&mut self) {
        if self.buf.capacity() > self.buf.len() * 2 + 64 {
            self.buf.shrink_to_fit();
        }
    }
}

struct ChunkIter<'a> {
    chunk: &'a Chunk,
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (content, end) = self.chunk.entry_at(self.front);
        self.front = end;
        Some(&self.chunk.buf[content])
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (content, start) = self.chunk.entry_before(self.back);
        self.back = start;
        Some(&self.chunk.buf[content])
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// A list value (OBJECT ENCODING `quicklist`, as every list in Redis 7.0).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListValue {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl ListValue {
    pub fn new() -> Self {
        ListValue::default()
    }

    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut list = ListValue::new();
        for item in items {
            list.push(End::Tail, item);
        }
        list
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of chunks (quicklist nodes).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    pub fn encoding_name(&self) -> &'static str {
        "quicklist"
    }

    pub fn push(&mut self, end: End, item: &[u8]) {
        match end {
            End::Head => match self.chunks.front_mut() {
                Some(chunk) if chunk.accepts(item) => chunk.push_front(item),
                _ => {
                    let mut chunk = Chunk::new();
                    chunk.push_back(item);
                    self.chunks.push_front(chunk);
                }
            },
            End::Tail => match self.chunks.back_mut() {
                Some(chunk) if chunk.accepts(item) => chunk.push_back(item),
                _ => {
                    let mut chunk = Chunk::new();
                    chunk.push_back(item);
                    self.chunks.push_back(chunk);
                }
            },
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let item = match end {
            End::Head => {
                let chunk = self.chunks.front_mut()?;
                let item = chunk.pop_front()?;
                if chunk.count == 0 {
                    self.chunks.pop_front();
                } else {
                    chunk.shrink();
                }
                item
            }
            End::Tail => {
                let chunk = self.chunks.back_mut()?;
                let item = chunk.pop_back()?;
                if chunk.count == 0 {
                    self.chunks.pop_back();
                } else {
                    chunk.shrink();
                }
                item
            }
        };
        self.len -= 1;
        Some(item)
    }

    /// The chunk holding element `index` and the index within it.
    fn find(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut left = index;
            for (i, chunk) in self.chunks.iter().enumerate() {
                if left < chunk.len() {
                    return Some((i, left));
                }
                left -= chunk.len();
            }
        } else {
            let mut from_end = self.len - 1 - index;
            for (i, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end < chunk.len() {
                    return Some((i, chunk.len() - 1 - from_end));
                }
                from_end -= chunk.len();
            }
        }
        None
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (chunk, at) = self.find(index)?;
        Some(self.chunks[chunk].get(at))
    }

    /// Resolves a Redis index (negative from the end) to a position.
    pub fn resolve_index(&self, index: i64) -> Option<usize> {
        let index = if index < 0 {
            (self.len as i64).checked_add(index)?
        } else {
            index
        };
        (0..self.len as i64)
            .contains(&index)
            .then_some(index as usize)
    }

    /// Replaces element `index`; false when out of range.
    pub fn set(&mut self, index: usize, item: &[u8]) -> bool {
        let Some((c, at)) = self.find(index) else {
            return false;
        };
        let chunk = &mut self.chunks[c];
        let (content, whole) = chunk.locate(at);
        let old_size = listpack_entry_size(&chunk.buf[content]);
        chunk.lp_bytes = chunk
            .lp_bytes
            .saturating_sub(old_size as u32)
            .saturating_add(listpack_entry_size(item) as u32);
        chunk.buf.splice(whole, Chunk::encode(item));
        true
    }

    /// Inserts `item` so that it becomes element `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, item: &[u8]) {
        if index == 0 {
            return self.push(End::Head, item);
        }
        if index >= self.len {
            return self.push(End::Tail, item);
        }
        let Some((c, at)) = self.find(index) else {
            return;
        };
        let chunk = &mut self.chunks[c];
        let (_, whole) = chunk.locate(at);
        chunk
            .buf
            .splice(whole.start..whole.start, Chunk::encode(item));
        chunk.grew(item);
        self.len += 1;
        if over_budget(chunk.lp_bytes as usize, chunk.len()) && chunk.len() > 1 {
            // Over its budget: split the chunk in two halves.
            let items: Vec<Vec<u8>> = chunk.iter().map(|i| i.to_vec()).collect();
            let half = items.len() / 2;
            let first = Chunk::from_items(items[..half].iter().map(|i| &i[..]));
            let second = Chunk::from_items(items[half..].iter().map(|i| &i[..]));
            self.chunks[c] = first;
            self.chunks.insert(c + 1, second);
        }
    }

    /// Removes `count` elements starting at `start`.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let count = count.min(self.len.saturating_sub(start));
        if count == 0 {
            return;
        }
        let end = start + count;
        let mut pos = 0;
        let mut i = 0;
        while i < self.chunks.len() && pos < end {
            let n = self.chunks[i].len();
            let (from, to) = (start.max(pos), end.min(pos + n));
            if from >= to {
                pos += n;
                i += 1;
                continue;
            }
            if from == pos && to == pos + n {
                self.chunks.remove(i);
            } else {
                let chunk = &self.chunks[i];
                let kept = Chunk::from_items(
                    chunk
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| pos + k < from || pos + k >= to)
                        .map(|(_, item)| item),
                );
                self.chunks[i] = kept;
                i += 1;
            }
            pos += n;
        }
        self.len -= count;
    }

    /// Keeps only the elements for which `keep` says so (at most `limit` removed, walking from
    /// `end`); returns how many went.
    pub fn retain_limited(
        &mut self,
        from: End,
        limit: usize,
        mut remove: impl FnMut(&[u8]) -> bool,
    ) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = match from {
            End::Head => (0..self.chunks.len()).collect(),
            End::Tail => (0..self.chunks.len()).rev().collect(),
        };
        for c in order {
            if removed >= limit {
                break;
            }
            let chunk = &self.chunks[c];
            let mut drop = vec![false; chunk.len()];
            let mut any = false;
            let indexes: Vec<usize> = match from {
                End::Head => (0..chunk.len()).collect(),
                End::Tail => (0..chunk.len()).rev().collect(),
            };
            let items: Vec<&[u8]> = chunk.iter().collect();
            for k in indexes {
                if removed >= limit {
                    break;
                }
                if remove(items[k]) {
                    drop[k] = true;
                    removed += 1;
                    any = true;
                }
            }
            if any {
                let kept = Chunk::from_items(
                    items
                        .iter()
                        .zip(&drop)
                        .filter(|(_, d)| !**d)
                        .map(|(i, _)| *i),
                );
                self.chunks[c] = kept;
            }
        }
        self.chunks.retain(|c| c.count > 0);
        self.len -= removed;
        removed
    }

    /// Elements from `start` on, front to back.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let mut skip = start;
        let mut first = 0;
        for chunk in &self.chunks {
            if skip < chunk.len() {
                break;
            }
            skip -= chunk.len();
            first += 1;
        }
        self.chunks
            .iter()
            .skip(first)
            .flat_map(|c| c.iter())
            .skip(skip)
    }

    /// Elements from the back, last first.
    pub fn iter_rev(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.chunks.iter().rev().flat_map(|c| c.iter().rev())
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The chunks as quicklist nodes, for the RDB writer (one node per chunk, as Redis saves
    /// its quicklist): whether the node is plain (a single element at least
    /// `packed_threshold` long, saved raw) and its elements in order.
    pub fn nodes(&self) -> impl Iterator<Item = (bool, impl Iterator<Item = &[u8]> + '_)> + '_ {
        self.chunks
            .iter()
            .map(|c| (c.len() == 1 && is_plain(c.get(0).len()), c.iter()))
    }

    /// The quicklist fields DEBUG OBJECT adds for a list.
    pub fn debug_fields(&self) -> String {
        let nodes = self.chunks.len();
        let average = if nodes == 0 {
            0.0
        } else {
            self.len as f64 / nodes as f64
        };
        let bytes: u64 = self.chunks.iter().map(|c| c.lp_bytes as u64).sum();
        format!(
            " ql_nodes:{nodes} ql_avg_node:{average:.2} ql_listpack_max:{} ql_compressed:0 ql_uncompressed_size:{bytes}",
            fill().clamp(-5, 1 << 15)
        )
    }

    /// Heap bytes: the chunk table and each chunk's buffer.
    pub fn heap_size(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.buf.capacity()).sum::<usize>()
    }

    /// The RDB (`QUICKLIST_2`) size: node count, then per node its container tag and its
    /// listpack as a string.
    pub fn serialized_length(&self) -> usize {
        use super::value::rdb_len_size;
        rdb_len_size(self.chunks.len() as u64)
            + self
                .chunks
                .iter()
                .map(|c| 1 + rdb_len_size(c.lp_bytes as u64) + c.lp_bytes as usize)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &ListValue) -> Vec<Vec<u8>> {
        list.iter().map(|i| i.to_vec()).collect()
    }

    #[test]
    fn push_pop_both_ends() {
        let mut list = ListValue::new();
        for i in 0..3000 {
            list.push(End::Tail, format!("v{i}").as_bytes());
            list.push(End::Head, format!("h{i}").as_bytes());
        }
        assert_eq!(list.len(), 6000);
        assert!(list.chunk_count() > 1);
        assert_eq!(list.get(0), Some(&b"h2999"[..]));
        assert_eq!(list.get(5999), Some(&b"v2999"[..]));
        assert_eq!(list.get(3000), Some(&b"v0"[..]));
        let rev: Vec<_> = list.iter_rev().take(2).map(|i| i.to_vec()).collect();
        assert_eq!(rev, vec![b"v2999".to_vec(), b"v2998".to_vec()]);
        assert_eq!(list.pop(End::Head).as_deref(), Some(&b"h2999"[..]));
        assert_eq!(list.pop(End::Tail).as_deref(), Some(&b"v2999"[..]));
        assert_eq!(list.len(), 5998);
    }

    #[test]
    fn long_elements_and_edits() {
        let big = vec![b'x'; 300];
        let mut list = ListValue::from_items([&b"a"[..], &big, b"c"]);
        assert_eq!(list.get(1), Some(&big[..]));
        assert!(list.set(1, b"b"));
        list.insert(1, &big);
        assert_eq!(
            items(&list),
            vec![b"a".to_vec(), big.clone(), b"b".to_vec(), b"c".to_vec()]
        );
        list.remove_range(1, 2);
        assert_eq!(items(&list), vec![b"a".to_vec(), b"c".to_vec()]);
        let removed = list.retain_limited(End::Tail, 1, |i| i == b"a");
        assert_eq!(removed, 1);
        assert_eq!(items(&list), vec![b"c".to_vec()]);
        assert_eq!(list.iter_from(0).count(), 1);
    }

    #[test]
    fn chunks_follow_the_listpack_budget() {
        let mut list = ListValue::new();
        // An 8 KiB node takes 1-byte strings while 7 + 3n + 1 + 8 <= 8192: 2726 of them.
        for _ in 0..2726 {
            list.push(End::Tail, b"a");
        }
        assert_eq!(list.chunk_count(), 1);
        for _ in 0..2726 {
            list.push(End::Tail, b"a");
        }
        assert_eq!(list.chunk_count(), 2);
        list.push(End::Tail, b"a");
        assert_eq!(list.chunk_count(), 3);
        assert_eq!(listpack_entry_size(b"12"), 2);
        assert_eq!(listpack_entry_size(b"a"), 3);
    }
}
