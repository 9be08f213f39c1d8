//! Sorted sets in Redis 7.0's two encodings.
//!
//! - `listpack` ([`Pack`]): small sets, one byte buffer holding `(score, member)` entries in
//!   order (score as 8 bytes, member length as a varint, member bytes). Every operation is a
//!   linear walk, as Redis's listpack is, bounded by `zset-max-listpack-entries`.
//! - `skiplist` ([`Tree`]): big sets, an order-statistic treap in an arena (subtree sizes give
//!   rank and select in O(log n)) plus a hash index from member to node. Members live once,
//!   in the nodes.
//!
//! Elements are ordered by score, then by member bytes (`memcmp`), as Redis orders them.

use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use hashbrown::HashTable;

/// `zset-max-listpack-entries`, mirrored from the configuration.
pub static MAX_LISTPACK_ENTRIES: AtomicUsize = AtomicUsize::new(128);
/// `zset-max-listpack-value`, mirrored from the configuration.
pub static MAX_LISTPACK_VALUE: AtomicUsize = AtomicUsize::new(64);

pub fn max_listpack_entries() -> usize {
    MAX_LISTPACK_ENTRIES.load(AtomicOrdering::Relaxed)
}

pub fn max_listpack_value() -> usize {
    MAX_LISTPACK_VALUE.load(AtomicOrdering::Relaxed)
}

/// Redis's element order: score, then member bytes. Scores are never NaN; `-0` equals `0`.
pub fn cmp_elements(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(order) => order,
    }
}

/// A sorted set.
#[derive(Debug, Clone)]
pub enum ZSet {
    Pack(Pack),
    Tree(Box<Tree>),
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut a = Vec::with_capacity(self.len());
        self.for_each_from(0, false, &mut |s, m| {
            a.push((s.to_bits(), m.to_vec()));
            true
        });
        let mut i = 0;
        let mut same = true;
        other.for_each_from(0, false, &mut |s, m| {
            same = a[i].0 == s.to_bits() && a[i].1 == m;
            i += 1;
            same
        });
        same
    }
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

impl ZSet {
    /// An empty set in the encoding Redis gives a set about to receive `first_member`
    /// (ZADD's creation rule: listpack unless the thresholds forbid it).
    pub fn for_first_member(first_member: &[u8]) -> ZSet {
        if max_listpack_entries() == 0 || first_member.len() > max_listpack_value() {
            ZSet::Tree(Box::default())
        } else {
            ZSet::Pack(Pack::default())
        }
    }

    /// An empty set about to receive `len` elements (ZRANGESTORE's rule).
    pub fn with_expected_len(len: usize) -> ZSet {
        if len > max_listpack_entries() {
            ZSet::Tree(Box::default())
        } else {
            ZSet::Pack(Pack::default())
        }
    }

    /// Builds a set from elements in any order with distinct members, in the encoding a
    /// computed result gets (Redis's `zsetConvertToListpackIfNeeded`).
    pub fn from_elements(mut elements: Vec<(f64, Vec<u8>)>) -> ZSet {
        elements.sort_by(|a, b| cmp_elements(a.0, &a.1, b.0, &b.1));
        let longest = elements.iter().map(|e| e.1.len()).max().unwrap_or(0);
        if elements.len() <= max_listpack_entries() && longest <= max_listpack_value() {
            let mut pack = Pack::default();
            for (score, member) in &elements {
                pack.push_back(*score, member);
            }
            ZSet::Pack(pack)
        } else {
            let mut tree = Tree::default();
            for (score, member) in elements {
                tree.insert(score, &member);
            }
            ZSet::Tree(Box::new(tree))
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len as usize,
            ZSet::Tree(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.find(member).map(|(_, s)| s),
            ZSet::Tree(t) => t.find(member).map(|i| t.nodes[i as usize].score),
        }
    }

    /// Adds a new member (which must not be present), converting to `skiplist` first when
    /// the listpack would pass a threshold.
    pub fn insert_new(&mut self, score: f64, member: &[u8]) {
        if let ZSet::Pack(p) = self
            && (p.len as usize + 1 > max_listpack_entries() || member.len() > max_listpack_value())
        {
            self.convert_to_tree();
        }
        match self {
            ZSet::Pack(p) => p.insert(score, member),
            ZSet::Tree(t) => t.insert(score, member),
        }
    }

    /// Changes the score of a present member.
    pub fn update_score(&mut self, member: &[u8], score: f64) {
        match self {
            ZSet::Pack(p) => {
                if let Some((at, _)) = p.find(member) {
                    p.remove_at(at);
                    p.insert(score, member);
                }
            }
            ZSet::Tree(t) => {
                if t.remove(member) {
                    t.insert(score, member);
                }
            }
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => match p.find(member) {
                Some((at, _)) => {
                    p.remove_at(at);
                    true
                }
                None => false,
            },
            ZSet::Tree(t) => t.remove(member),
        }
    }

    /// Converts a listpack set to the skiplist encoding (SORT does, as Redis).
    pub fn convert_to_tree(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut tree = Tree::default();
            for (score, member) in p.iter() {
                tree.insert(score, member);
            }
            *self = ZSet::Tree(Box::new(tree));
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(p) => p.iter().position(|(_, m)| m == member),
            ZSet::Tree(t) => {
                let at = t.find(member)?;
                let score = t.nodes[at as usize].score;
                Some(t.count_before(|s, m| cmp_elements(s, m, score, member) == Ordering::Less))
            }
        }
    }

    /// How many elements satisfy `before`, a predicate true for a prefix of the order (the
    /// elements before a range's start).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(s, m)| before(*s, m)).count(),
            ZSet::Tree(t) => t.count_before(before),
        }
    }

    /// Visits the elements from rank `start` (in ascending order, or descending when `rev`,
    /// where rank 0 is the highest) until `visit` returns false.
    pub fn for_each_from(
        &self,
        start: usize,
        rev: bool,
        visit: &mut dyn FnMut(f64, &[u8]) -> bool,
    ) {
        let len = self.len();
        if start >= len {
            return;
        }
        match self {
            ZSet::Pack(p) => {
                if rev {
                    let all: Vec<(f64, &[u8])> = p.iter().collect();
                    for &(s, m) in all[..len - start].iter().rev() {
                        if !visit(s, m) {
                            return;
                        }
                    }
                } else {
                    for (s, m) in p.iter().skip(start) {
                        if !visit(s, m) {
                            return;
                        }
                    }
                }
            }
            ZSet::Tree(t) => {
                let asc_rank = if rev { len - 1 - start } else { start };
                t.walk_from(asc_rank, rev, visit)
            }
        }
    }

    /// The elements at ascending ranks `start..end`, in order (or reversed when `rev`).
    pub fn range(&self, start: usize, end: usize, rev: bool) -> Vec<(f64, Vec<u8>)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(end - start);
        let first = if rev { self.len() - end } else { start };
        let mut left = end - start;
        self.for_each_from(first, rev, &mut |s, m| {
            out.push((s, m.to_vec()));
            left -= 1;
            left > 0
        });
        out
    }

    /// Removes the elements at ascending ranks `start..end`; returns how many went.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Pack(p) => {
                let from = p.offset_of_rank(start);
                let to = p.offset_of_rank(end);
                p.buf.drain(from..to);
                p.len -= (end - start) as u32;
            }
            ZSet::Tree(t) => t.remove_ranks(start, end),
        }
        end - start
    }

    /// The element at ascending rank `rank`.
    pub fn at_rank(&self, rank: usize) -> Option<(f64, Vec<u8>)> {
        self.range(rank, rank + 1, false).pop()
    }

    /// Every element, ascending.
    pub fn elements(&self) -> Vec<(f64, Vec<u8>)> {
        self.range(0, self.len(), false)
    }

    /// One step of ZSCAN: the elements from `cursor` on and the next cursor (0 at the end).
    /// A listpack answers everything at once, as Redis does; a big set walks its arena slots,
    /// which never move while an element lives, so an element present for the whole scan is
    /// returned exactly once.
    pub fn scan(&self, cursor: u64, count: usize, out: &mut Vec<(f64, Vec<u8>)>) -> u64 {
        match self {
            ZSet::Pack(p) => {
                out.extend(p.iter().map(|(s, m)| (s, m.to_vec())));
                0
            }
            ZSet::Tree(t) => {
                let mut slot = cursor.min(t.nodes.len() as u64) as usize;
                let mut visited = 0;
                while slot < t.nodes.len() && visited < count.max(1) {
                    let node = &t.nodes[slot];
                    if node.size != 0 {
                        out.push((node.score, node.member.to_vec()));
                        visited += 1;
                    }
                    slot += 1;
                }
                if slot >= t.nodes.len() {
                    0
                } else {
                    slot as u64
                }
            }
        }
    }

    /// A uniformly chosen element.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(f64, Vec<u8>)> {
        if self.is_empty() {
            return None;
        }
        self.at_rank(rng.random_range(0..self.len()))
    }

    /// The set rebuilt in the encoding its content calls for (DEBUG RELOAD, loading).
    pub fn reloaded(&self) -> ZSet {
        ZSet::from_elements(self.elements())
    }

    /// Bytes of heap memory held.
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.buf.capacity(),
            ZSet::Tree(t) => {
                let members: usize = t
                    .nodes
                    .iter()
                    .filter(|n| n.size != 0)
                    .map(|n| n.member.len())
                    .sum();
                std::mem::size_of::<Tree>()
                    + t.nodes.capacity() * std::mem::size_of::<Node>()
                    + t.index.capacity() * (std::mem::size_of::<u32>() + 1)
                    + members
            }
        }
    }

    /// The size of the RDB encoding (DEBUG OBJECT `serializedlength`, without LZF): a
    /// listpack blob for small sets, members with binary doubles for big ones.
    pub fn serialized_length(&self) -> usize {
        match self {
            ZSet::Pack(p) => {
                let blob = p.listpack_bytes();
                super::value::rdb_len_size(blob as u64) + blob
            }
            ZSet::Tree(t) => {
                let mut size = super::value::rdb_len_size(t.len() as u64);
                for node in t.nodes.iter().filter(|n| n.size != 0) {
                    size += super::value::rdb_string_size(&node.member) + 8;
                }
                size
            }
        }
    }
}

// ---- listpack ----

/// A small sorted set in one buffer: per element the score (a tag byte, then an integral
/// score as a zigzag LEB128 varint or any other as 8 little-endian bytes), the member length
/// as a LEB128 varint, the member bytes; in element order.
#[derive(Debug, Clone, Default)]
pub struct Pack {
    buf: Vec<u8>,
    len: u32,
}

fn read_varint(buf: &[u8], mut at: usize) -> (usize, usize) {
    let mut value = 0usize;
    let mut shift = 0;
    while at < buf.len() {
        let b = buf[at];
        at += 1;
        value |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (value, at)
}

fn write_varint(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Iterates a [`Pack`]: `(score, member)`.
pub struct PackIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (score, member, next) = decode_at(self.buf, self.at)?;
        self.at = next;
        Some((score, member))
    }
}

/// Score tags: an integral score as a zigzag varint, any other as its 8 bytes.
const SCORE_INT: u8 = 0;
const SCORE_F64: u8 = 1;
/// Integral scores below this magnitude take the varint form (exact in both).
const INT_SCORE_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The element at byte offset `at` and the offset of the next one.
fn decode_at(buf: &[u8], at: usize) -> Option<(f64, &[u8], usize)> {
    let (score, after) = match *buf.get(at)? {
        SCORE_INT => {
            let (zigzag, after) = read_varint(buf, at + 1);
            let n = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
            (n as f64, after)
        }
        _ => {
            let bytes: [u8; 8] = buf.get(at + 1..at + 9)?.try_into().ok()?;
            (f64::from_le_bytes(bytes), at + 9)
        }
    };
    let (len, start) = read_varint(buf, after);
    let member = buf.get(start..start + len)?;
    Some((score, member, start + len))
}

impl Pack {
    pub fn iter(&self) -> PackIter<'_> {
        PackIter {
            buf: &self.buf,
            at: 0,
        }
    }

    /// The offset and score of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        let mut at = 0;
        while let Some((score, m, next)) = decode_at(&self.buf, at) {
            if m == member {
                return Some((at, score));
            }
            at = next;
        }
        None
    }

    fn offset_of_rank(&self, rank: usize) -> usize {
        let mut at = 0;
        for _ in 0..rank {
            match decode_at(&self.buf, at) {
                Some((_, _, next)) => at = next,
                None => break,
            }
        }
        at
    }

    fn encode(score: f64, member: &[u8]) -> Vec<u8> {
        let mut entry = Vec::with_capacity(9 + 2 + member.len());
        let negative_zero = score == 0.0 && score.is_sign_negative();
        if score.fract() == 0.0 && score.abs() < INT_SCORE_LIMIT && !negative_zero {
            let n = score as i64;
            entry.push(SCORE_INT);
            write_varint(&mut entry, ((n << 1) ^ (n >> 63)) as u64 as usize);
        } else {
            entry.push(SCORE_F64);
            entry.extend_from_slice(&score.to_le_bytes());
        }
        write_varint(&mut entry, member.len());
        entry.extend_from_slice(member);
        entry
    }

    fn insert(&mut self, score: f64, member: &[u8]) {
        // A listpack keeps `-0` as the integer 0, as Redis's does.
        let score = if score == 0.0 { 0.0 } else { score };
        let mut at = 0;
        while let Some((s, m, next)) = decode_at(&self.buf, at) {
            if cmp_elements(s, m, score, member) == Ordering::Greater {
                break;
            }
            at = next;
        }
        let entry = Self::encode(score, member);
        self.buf.splice(at..at, entry);
        self.len += 1;
    }

    fn push_back(&mut self, score: f64, member: &[u8]) {
        let score = if score == 0.0 { 0.0 } else { score };
        self.buf.extend_from_slice(&Self::encode(score, member));
        self.len += 1;
    }

    fn remove_at(&mut self, at: usize) {
        if let Some((_, _, next)) = decode_at(&self.buf, at) {
            self.buf.drain(at..next);
            self.len -= 1;
        }
    }

    /// The size Redis's listpack of the same content has (header, entries, end byte).
    fn listpack_bytes(&self) -> usize {
        let mut size = 6 + 1;
        for (score, member) in self.iter() {
            size += listpack_entry_size(member);
            size += listpack_entry_size(listpack_score_text(score).as_bytes());
        }
        size
    }
}

/// A score as a listpack stores it (Redis's `d2string`): integral values within half the
/// `long long` range as integers, others in `%.17g` form.
pub fn listpack_score_text(score: f64) -> String {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if (-HALF..=HALF).contains(&score) && score.fract() == 0.0 {
        itoa::Buffer::new().format(score as i64).to_string()
    } else {
        crate::util::format_double(score)
    }
}

/// The bytes one listpack entry holding `value` takes (integer or string encoding, plus the
/// back length).
fn listpack_entry_size(value: &[u8]) -> usize {
    let body = match (value.len() <= 20)
        .then(|| crate::util::parse_i64(value))
        .flatten()
    {
        Some(n) if (0..=127).contains(&n) => 1,
        Some(n) if (-4096..=4095).contains(&n) => 2,
        Some(n) if i16::try_from(n).is_ok() => 3,
        Some(n) if (-(1 << 23)..(1 << 23)).contains(&n) => 4,
        Some(n) if i32::try_from(n).is_ok() => 5,
        Some(_) => 9,
        None if value.len() < 64 => 1 + value.len(),
        None if value.len() < 4096 => 2 + value.len(),
        None => 5 + value.len(),
    };
    let back = match body {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    body + back
}

// ---- order-statistic treap ----

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    left: u32,
    right: u32,
    /// Elements in the subtree rooted here; 0 marks a free slot.
    size: u32,
    priority: u32,
}

/// A big sorted set: a treap ordered by (score, member) with subtree sizes, in an arena,
/// and a hash index from member to arena slot.
#[derive(Debug, Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    root: u32,
    /// Free slots, linked through `left`.
    free: u32,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    seed: u32,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: Vec::new(),
            root: NIL,
            free: NIL,
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            seed: 0x9E37_79B9,
        }
    }
}

impl Tree {
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let node = &self.nodes[n as usize];
        let size = 1 + self.size(node.left) + self.size(node.right);
        self.nodes[n as usize].size = size;
    }

    fn next_priority(&mut self) -> u32 {
        // xorshift32
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        self.index
            .find(hash, |&i| &*self.nodes[i as usize].member == member)
            .copied()
    }

    /// Splits subtree `t` into the elements satisfying `before` (a prefix) and the rest.
    fn split(&mut self, t: u32, before: &dyn Fn(f64, &[u8]) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let node = &self.nodes[t as usize];
        if before(node.score, &node.member) {
            let (a, b) = self.split(node.right, before);
            self.nodes[t as usize].right = a;
            self.fix(t);
            (t, b)
        } else {
            let (a, b) = self.split(node.left, before);
            self.nodes[t as usize].left = b;
            self.fix(t);
            (a, t)
        }
    }

    /// Splits subtree `t` into its first `k` elements and the rest.
    fn split_rank(&mut self, t: u32, k: u32) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        let left_size = self.size(left);
        if k <= left_size {
            let (a, b) = self.split_rank(left, k);
            self.nodes[t as usize].left = b;
            self.fix(t);
            (a, t)
        } else {
            let right = self.nodes[t as usize].right;
            let (a, b) = self.split_rank(right, k - left_size - 1);
            self.nodes[t as usize].right = a;
            self.fix(t);
            (t, b)
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.nodes[a as usize].right;
            let merged = self.merge(right, b);
            self.nodes[a as usize].right = merged;
            self.fix(a);
            a
        } else {
            let left = self.nodes[b as usize].left;
            let merged = self.merge(a, left);
            self.nodes[b as usize].left = merged;
            self.fix(b);
            b
        }
    }

    /// Adds a member that is not present.
    fn insert(&mut self, score: f64, member: &[u8]) {
        let priority = self.next_priority();
        let node = Node {
            member: member.into(),
            score,
            left: NIL,
            right: NIL,
            size: 1,
            priority,
        };
        let slot = if self.free != NIL {
            let slot = self.free;
            self.free = self.nodes[slot as usize].left;
            self.nodes[slot as usize] = node;
            slot
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        let hash = self.hasher.hash_one(member);
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&i| hasher.hash_one(&*nodes[i as usize].member));
        let root = self.root;
        let (l, r) = self.split(root, &|s, m| {
            cmp_elements(s, m, score, member) == Ordering::Less
        });
        let left = self.merge(l, slot);
        self.root = self.merge(left, r);
    }

    fn release(&mut self, slot: u32) {
        let hash = self.hasher.hash_one(&*self.nodes[slot as usize].member);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == slot) {
            entry.remove();
        }
        let node = &mut self.nodes[slot as usize];
        node.member = Box::default();
        node.size = 0;
        node.right = NIL;
        node.left = self.free;
        self.free = slot;
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let Some(slot) = self.find(member) else {
            return false;
        };
        let score = self.nodes[slot as usize].score;
        let root = self.root;
        let (l, r) = self.split(root, &|s, m| {
            cmp_elements(s, m, score, member) == Ordering::Less
        });
        let (mid, rest) = self.split_rank(r, 1);
        debug_assert_eq!(mid, slot);
        self.root = self.merge(l, rest);
        self.release(mid);
        true
    }

    fn remove_ranks(&mut self, start: usize, end: usize) {
        let root = self.root;
        let (l, r) = self.split_rank(root, start as u32);
        let (mid, rest) = self.split_rank(r, (end - start) as u32);
        self.root = self.merge(l, rest);
        let mut stack = vec![mid];
        while let Some(n) = stack.pop() {
            if n == NIL {
                continue;
            }
            let (left, right) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
            stack.push(left);
            stack.push(right);
            self.release(n);
        }
    }

    fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0usize;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if before(node.score, &node.member) {
                count += self.size(node.left) as usize + 1;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        count
    }

    /// In-order walk from ascending rank `rank`, forwards or backwards.
    fn walk_from(&self, rank: usize, rev: bool, visit: &mut dyn FnMut(f64, &[u8]) -> bool) {
        let mut stack: Vec<u32> = Vec::with_capacity(64);
        let mut n = self.root;
        let mut r = rank as u32;
        while n != NIL {
            let node = &self.nodes[n as usize];
            let left_size = self.size(node.left);
            match r.cmp(&left_size) {
                Ordering::Less => {
                    if !rev {
                        stack.push(n);
                    }
                    n = node.left;
                }
                Ordering::Equal => {
                    stack.push(n);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        stack.push(n);
                    }
                    r -= left_size + 1;
                    n = node.right;
                }
            }
        }
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            if !visit(node.score, &node.member) {
                return;
            }
            let mut c = if rev { node.left } else { node.right };
            while c != NIL {
                stack.push(c);
                let child = &self.nodes[c as usize];
                c = if rev { child.right } else { child.left };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn check_same(z: &ZSet, model: &[(f64, Vec<u8>)]) {
        assert_eq!(z.len(), model.len());
        assert_eq!(z.elements(), model);
        for (i, (s, m)) in model.iter().enumerate() {
            assert_eq!(z.rank(m), Some(i));
            assert_eq!(z.score(m), Some(*s));
        }
        let rev = z.range(0, model.len(), true);
        let mut expected = model.to_vec();
        expected.reverse();
        assert_eq!(rev, expected);
    }

    #[test]
    fn both_encodings_agree_with_a_sorted_model() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for big in [false, true] {
            let mut z = if big {
                ZSet::Tree(Box::default())
            } else {
                ZSet::Pack(Pack::default())
            };
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            for step in 0..600 {
                let member = format!("m{}", rng.random_range(0..60)).into_bytes();
                let score = rng.random_range(0..10) as f64;
                match rng.random_range(0..4) {
                    0 | 1 => {
                        if let Some(pos) = model.iter().position(|e| e.1 == member) {
                            model.remove(pos);
                            z.update_score(&member, score);
                        } else if big {
                            if let ZSet::Tree(t) = &mut z {
                                t.insert(score, &member);
                            }
                        } else if let ZSet::Pack(p) = &mut z {
                            p.insert(score, &member);
                        }
                        model.push((score, member));
                        model.sort_by(|a, b| cmp_elements(a.0, &a.1, b.0, &b.1));
                    }
                    2 => {
                        let present = model.iter().position(|e| e.1 == member);
                        assert_eq!(z.remove(&member), present.is_some());
                        if let Some(pos) = present {
                            model.remove(pos);
                        }
                    }
                    _ => {
                        let a = rng.random_range(0..=model.len());
                        let b = rng.random_range(a..=model.len()).min(a + 3);
                        assert_eq!(z.remove_range(a, b), b - a);
                        model.drain(a..b);
                    }
                }
                if step % 37 == 0 {
                    check_same(&z, &model);
                }
            }
            check_same(&z, &model);
        }
    }

    #[test]
    fn listpack_sizes_follow_redis() {
        assert_eq!(listpack_entry_size(b"12"), 2);
        assert_eq!(listpack_entry_size(b"1000"), 3);
        assert_eq!(listpack_entry_size(b"abc"), 5);
        assert_eq!(listpack_entry_size(b"1.5"), 5);
    }
}
