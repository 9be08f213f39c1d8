//! The keyspace: numbered databases, each split into shards of entries.
//!
//! ```text
//! Store ─ dbs[0..databases] ─ Db ─ data: Keyspace ─ shards[SHARDS] ─ HashTable<Entry>
//!                                 │                └ expires: BTreeSet<(when_ms, key)>
//!                                 └ watched: key → clients that WATCH it
//! ```
//!
//! Every entry lives in the shard chosen by its key's hash. The shard is the unit the forkless
//! snapshot works on (serialize a shard before its first write after the cut), the unit a SCAN
//! cursor walks (a key present for the whole iteration is in one fixed shard, so it is always
//! returned), and it bounds the pause of a table resize to one shard's worth of entries.
//! The expiry index orders volatile keys by deadline so the active cycle removes expired keys
//! without scanning the keyspace.

pub mod cut;
pub mod digest;
pub mod hash;
pub mod indexed;
pub mod list;
pub mod pack;
pub mod set;
pub mod value;
pub mod zset;

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use hashbrown::HashTable;

pub use value::{StringValue, Value};

/// Set while CLIENT PAUSE holds back writes: expired keys are then not deleted (deleting is a
/// write), only hidden, and the active cycle waits.
pub static EXPIRY_DELETIONS_PAUSED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

thread_local! {
    /// Set on the thread that replays the AOF: no key counts as expired and a deadline
    /// already past is set rather than deleting the key (Redis's `keyIsExpired` and
    /// `checkAlreadyExpired` while loading), so a replay rebuilds exactly what was logged;
    /// keys past their deadline expire once loading is over. Per thread: only the replay's
    /// commands run on the loading thread (clients served meanwhile run on their own).
    static EXPIRY_SUSPENDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether expiry is suspended on this thread (it is replaying the AOF).
#[inline]
pub fn expiry_suspended() -> bool {
    EXPIRY_SUSPENDED.with(|s| s.get())
}

/// Suspends expiry on this thread until the returned guard is dropped (a replay of the AOF).
pub fn suspend_expiry() -> ExpirySuspended {
    EXPIRY_SUSPENDED.with(|s| s.set(true));
    ExpirySuspended(())
}

/// Expiry is suspended on this thread while this lives.
pub struct ExpirySuspended(());

impl Drop for ExpirySuspended {
    fn drop(&mut self) {
        EXPIRY_SUSPENDED.with(|s| s.set(false));
    }
}

/// [`Keyspace::sample_volatile`] looks at up to this many table entries per key it wants
/// before it reads the expiry index instead.
pub const VOLATILE_WALK_FACTOR: usize = 16;

/// Shards per database (a power of two).
pub const SHARDS: usize = 1024;
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// Minutes of idleness that take one off an LFU counter (Redis's default `lfu-decay-time`).
pub const LFU_DECAY_MINUTES: u64 = 1;

/// Redis's `LFUDecrAndReturn`: the LFU counter after the idle periods since `access_s` (one per
/// `decay_minutes`, counted on minute boundaries as Redis's minute clock does).
pub fn lfu_decayed(freq: u8, access_s: u32, now_s: u32, decay_minutes: u64) -> u8 {
    if decay_minutes == 0 {
        return freq;
    }
    let idle_minutes = u64::from((now_s / 60).saturating_sub(access_s / 60));
    let periods = idle_minutes / decay_minutes;
    freq.saturating_sub(periods.min(255) as u8)
}

/// One key and its value.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: Bytes,
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds, or `NO_EXPIRY`.
    pub expire_at_ms: i64,
    /// Last access, Unix seconds (OBJECT IDLETIME, LRU eviction).
    pub access_s: u32,
    /// Logarithmic access counter (OBJECT FREQ, LFU eviction).
    pub freq: u8,
}

pub const NO_EXPIRY: i64 = -1;
/// Initial LFU counter of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT: u8 = 5;

impl Entry {
    pub fn new(key: &[u8], value: Value) -> Self {
        Entry::with_key(Bytes::copy_from_slice(key), value)
    }

    /// [`Entry::new`] taking the key's buffer as it is (a loader's, without a copy).
    pub fn with_key(key: Bytes, value: Value) -> Self {
        Entry {
            key,
            value,
            expire_at_ms: NO_EXPIRY,
            access_s: crate::clock::now_s(),
            freq: LFU_INIT,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expire_at_ms != NO_EXPIRY && self.expire_at_ms <= now_ms && !expiry_suspended()
    }
}

/// A client's interest in a key (WATCH). `expired` records that the key was already logically
/// expired when watched: deleting it later is then no change (Redis 7.0's rule).
#[derive(Debug)]
pub struct Watcher {
    pub client_id: u64,
    pub expired: bool,
    pub dirty: Arc<AtomicBool>,
}

/// The entries of one database, without its watchers (SWAPDB swaps these, not the watchers).
#[derive(Debug)]
pub struct Keyspace {
    shards: Box<[HashTable<Entry>]>,
    len: usize,
    /// Entries the shards' tables have room for: the sum of their capacities.
    slots: usize,
    expires: BTreeSet<(i64, Bytes)>,
    /// This keyspace's part of a snapshot being taken ([`cut`]).
    cut: Option<Box<cut::Cut>>,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            len: 0,
            slots: 0,
            expires: BTreeSet::new(),
            cut: None,
        }
    }
}

/// What lookups do besides finding the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A command read or wrote the key: update its LRU/LFU data.
    Touch,
    /// Introspection (OBJECT, DEBUG, SCAN's TYPE filter): leave access data alone.
    NoTouch,
}

#[derive(Debug, Default)]
pub struct Db {
    pub data: Keyspace,
    pub watched: HashMap<Bytes, Vec<Watcher>>,
    /// Keys that expired here (lazily or actively) since the caller last drained them; the
    /// command layer counts and propagates them as `DEL`.
    pub expired_keys: Vec<Bytes>,
    /// Flushed keyspaces whose snapshot part is not written yet ([`cut`]).
    pub detached: Vec<Keyspace>,
}

/// The hash used to place keys; random per process so clients cannot aim collisions.
#[derive(Debug, Clone)]
pub struct KeyHasher(foldhash::quality::RandomState);

impl KeyHasher {
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.0.hash_one(key)
    }
}

/// One seed for the whole process: every thread must place a key in the same shard.
static HASHER: std::sync::LazyLock<KeyHasher> =
    std::sync::LazyLock::new(|| KeyHasher(foldhash::quality::RandomState::default()));

fn hash_key(key: &[u8]) -> u64 {
    HASHER.hash(key)
}

/// The hash the keyspace places `key` by: a loader can compute it on another thread, where
/// the key is still in cache, and insert with [`Db::insert_hashed`].
pub fn key_hash(key: &[u8]) -> u64 {
    hash_key(key)
}

/// The shard index comes from middle bits: hashbrown uses the low bits for buckets and the top
/// seven for its control bytes.
fn shard_of(hash: u64) -> usize {
    ((hash >> 40) as usize) & (SHARDS - 1)
}

impl Keyspace {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Bytes of the tables' free slots: a deleted entry's slot stays allocated (until its
    /// shard shrinks) and the next insertion reuses it, so `maxmemory` counts it as free, as
    /// an allocator's free list is.
    pub fn free_slot_bytes(&self) -> u64 {
        let slot_bytes = std::mem::size_of::<Entry>() + 1;
        (self.slots.saturating_sub(self.len) * slot_bytes) as u64
    }

    fn find(&self, key: &[u8]) -> Option<&Entry> {
        let hash = hash_key(key);
        self.shards[shard_of(hash)].find(hash, |e| e.key.as_ref() == key)
    }

    /// Finds an entry to change: its shard goes into a snapshot being taken first.
    fn find_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let hash = hash_key(key);
        let index = shard_of(hash);
        self.before_write(index);
        self.shards[index].find_mut(hash, |e| e.key.as_ref() == key)
    }

    /// Inserts or replaces; returns the old entry.
    fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let hash = hash_key(&entry.key);
        self.insert_hashed(hash, entry)
    }

    /// [`Keyspace::insert`] with the key's hash already known (`hash_key(&entry.key)`).
    fn insert_hashed(&mut self, hash: u64, entry: Entry) -> Option<Entry> {
        let deadline = entry.expire_at_ms;
        // Cloning a key may allocate (a unique buffer becomes shared): only for the index.
        let key = (deadline != NO_EXPIRY).then(|| entry.key.clone());
        let index = shard_of(hash);
        self.before_write(index);
        let shard = &mut self.shards[index];
        let capacity = shard.capacity();
        // One probe: the slot found is the slot filled.
        let old = match shard.entry(hash, |e| e.key == entry.key, |e| hash_key(&e.key)) {
            hashbrown::hash_table::Entry::Occupied(mut slot) => {
                Some(std::mem::replace(slot.get_mut(), entry))
            }
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(entry);
                self.len += 1;
                None
            }
        };
        self.slots = self.slots - capacity + shard.capacity();
        // The old deadline leaves the index before the new one enters: both may be equal.
        if let Some(old) = &old
            && old.expire_at_ms != NO_EXPIRY
        {
            self.expires.remove(&(old.expire_at_ms, old.key.clone()));
        }
        if let Some(key) = key {
            self.expires.insert((deadline, key));
        }
        old
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let hash = hash_key(key);
        let index = shard_of(hash);
        self.before_write(index);
        let shard = &mut self.shards[index];
        let found = shard.find_entry(hash, |e| e.key.as_ref() == key).ok()?;
        let (entry, _) = found.remove();
        self.len -= 1;
        if entry.expire_at_ms != NO_EXPIRY {
            self.expires
                .remove(&(entry.expire_at_ms, entry.key.clone()));
        }
        if shard.capacity() > 64 && shard.len() * 8 < shard.capacity() {
            let capacity = shard.capacity();
            shard.shrink_to(shard.len() * 2, |e| hash_key(&e.key));
            self.slots = self.slots - capacity + shard.capacity();
        }
        Some(entry)
    }

    fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        let Some(entry) = self.find_mut(key) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at_ms, at_ms);
        let key = entry.key.clone();
        if old != NO_EXPIRY {
            self.expires.remove(&(old, key.clone()));
        }
        if at_ms != NO_EXPIRY {
            self.expires.insert((at_ms, key));
        }
        true
    }

    /// Iterates the entries of shards `from..` in order, calling `visit` for each, until
    /// `visit` returns false at the end of a shard. Returns the next shard to visit (0 when the
    /// walk is complete) — the SCAN cursor.
    pub fn scan_shards(&self, from: usize, mut visit: impl FnMut(&Entry) -> bool) -> usize {
        for index in from..SHARDS {
            let mut more = true;
            for entry in self.shards[index].iter() {
                more &= visit(entry);
            }
            if !more {
                return if index + 1 == SHARDS { 0 } else { index + 1 };
            }
        }
        0
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// A random entry (not uniform across shards of different sizes, like Redis's RANDOMKEY).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        for _ in 0..16 {
            let shard = &self.shards[rng.random_range(0..SHARDS)];
            if !shard.is_empty() {
                return shard.iter().nth(rng.random_range(0..shard.len()));
            }
        }
        let start = rng.random_range(0..SHARDS);
        (0..SHARDS)
            .map(|i| &self.shards[(start + i) % SHARDS])
            .find(|s| !s.is_empty())
            .and_then(|s| s.iter().nth(rng.random_range(0..s.len())))
    }

    /// Calls `visit` on entries taken one after another from a random place in the table
    /// (a random shard, a random position in it, then on through the following shards), until
    /// `visit` returns false or `limit` entries were seen; each entry is seen at most once.
    /// This is Redis's `dictGetSomeKeys`: a cheap sample, not a uniform one.
    pub fn walk_from_random(
        &self,
        rng: &mut impl rand::Rng,
        limit: usize,
        mut visit: impl FnMut(&Entry) -> bool,
    ) {
        if self.len == 0 || limit == 0 {
            return;
        }
        let start = rng.random_range(0..SHARDS);
        let first = &self.shards[start];
        let skip = if first.is_empty() {
            0
        } else {
            rng.random_range(0..first.len())
        };
        let mut seen = 0;
        let shards = (0..SHARDS).map(|i| &self.shards[(start + i) % SHARDS]);
        for (i, shard) in shards.enumerate() {
            let from = if i == 0 { skip } else { 0 };
            for entry in shard.iter().skip(from) {
                seen += 1;
                if !visit(entry) || seen >= limit {
                    return;
                }
            }
        }
        // The part of the first shard before the random position comes last.
        for entry in first.iter().take(skip) {
            seen += 1;
            if !visit(entry) || seen >= limit {
                return;
            }
        }
    }

    /// Calls `visit` on up to `count` entries that have a deadline, sampled as
    /// [`Keyspace::walk_from_random`] does, looking at no more than `count` ×
    /// [`VOLATILE_WALK_FACTOR`] entries of the table; when volatile keys are too rare for
    /// that, the rest comes from the expiry index, read from a random deadline on.
    pub fn sample_volatile(
        &self,
        rng: &mut impl rand::Rng,
        count: usize,
        mut visit: impl FnMut(&Entry),
    ) {
        if self.expires.is_empty() || count == 0 {
            return;
        }
        let mut found = 0;
        self.walk_from_random(rng, count.saturating_mul(VOLATILE_WALK_FACTOR), |entry| {
            if entry.expire_at_ms != NO_EXPIRY {
                visit(entry);
                found += 1;
            }
            found < count
        });
        if found >= count {
            return;
        }
        let (Some((low, _)), Some((high, _))) = (self.expires.first(), self.expires.last()) else {
            return;
        };
        let from = rng.random_range(*low..=*high);
        let index = self.expires.range((from, Bytes::new())..);
        for (_, key) in index.chain(self.expires.iter()).take(count - found) {
            if let Some(entry) = self.find(key) {
                visit(entry);
            }
        }
    }

    /// Whether `key` is here (expired or not), and with a deadline if `volatile`.
    pub fn holds(&self, key: &[u8], volatile: bool) -> bool {
        self.find(key)
            .is_some_and(|e| !volatile || e.expire_at_ms != NO_EXPIRY)
    }

    /// The earliest deadline in the expiry index.
    pub fn next_expiring(&self) -> Option<(i64, Bytes)> {
        self.expires.first().cloned()
    }
}

impl Db {
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Makes room for about `keys` more keys at once (loading a snapshot that says how many
    /// follow), so the tables do not grow, and rehash, step by step.
    pub fn reserve(&mut self, keys: usize) {
        // Growing a table reorders it: not while a snapshot may be part-way through a shard.
        if self.data.cut.is_some() {
            return;
        }
        let per_shard = keys / SHARDS + keys / SHARDS / 8 + 1;
        for shard in self.data.shards.iter_mut() {
            let capacity = shard.capacity();
            shard.reserve(per_shard, |e| hash_key(&e.key));
            self.data.slots = self.data.slots - capacity + shard.capacity();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Removes `key` if it has expired at `now_ms`; true if it did.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) -> bool {
        match self.data.find(key) {
            Some(e) if e.is_expired(now_ms) => {}
            _ => return false,
        }
        if EXPIRY_DELETIONS_PAUSED.load(Ordering::Relaxed) {
            // While writes are paused an expired key is invisible but stays (Redis 7.0).
            return true;
        }
        if let Some(entry) = self.data.remove(key) {
            self.touch(&entry.key);
            self.expired_keys.push(entry.key);
        }
        true
    }

    /// Looks a key up for reading; expired keys are deleted first and never seen.
    pub fn get(&mut self, key: &[u8], now_ms: i64, access: Access) -> Option<&Entry> {
        self.lookup(key, now_ms, access, false).map(|e| &*e)
    }

    /// Looks a key up for modification in place. The caller signals the change with
    /// [`Db::touch`] once it has made one.
    pub fn get_mut(&mut self, key: &[u8], now_ms: i64, access: Access) -> Option<&mut Entry> {
        self.lookup(key, now_ms, access, true)
    }

    fn lookup(
        &mut self,
        key: &[u8],
        now_ms: i64,
        access: Access,
        write: bool,
    ) -> Option<&mut Entry> {
        // One hash for both probes: the expiry check, then the entry to hand out.
        let hash = hash_key(key);
        let index = shard_of(hash);
        let expired = self.data.shards[index]
            .find(hash, |e| e.key.as_ref() == key)
            .map(|e| e.is_expired(now_ms));
        if expired == Some(true) && self.expire_if_needed(key, now_ms) {
            return None;
        }
        if write {
            // Its shard goes into a snapshot being taken first.
            self.data.before_write(index);
        }
        let entry = self.data.shards[index].find_mut(hash, |e| e.key.as_ref() == key)?;
        if access == Access::Touch {
            let now_s = crate::clock::now_s();
            if crate::clock::LFU_ENABLED.load(Ordering::Relaxed) {
                // Redis's updateLFU: decay for the idle time first, then count this access.
                let decayed = lfu_decayed(entry.freq, entry.access_s, now_s, LFU_DECAY_MINUTES);
                entry.freq = crate::clock::lfu_increment(decayed);
            }
            entry.access_s = now_s;
        }
        Some(entry)
    }

    /// True if the key exists and has not expired, without deleting or touching anything.
    pub fn peek(&self, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.data.find(key).filter(|e| !e.is_expired(now_ms))
    }

    /// Stores `value` under `key`, keeping the old TTL when `keep_ttl`. Returns the old value.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool, now_ms: i64) -> Option<Value> {
        // The hot path of every string write: one hash, one probe.
        let hash = hash_key(key);
        let index = shard_of(hash);
        self.data.before_write(index);
        let Keyspace {
            shards,
            expires,
            len,
            slots,
            ..
        } = &mut self.data;
        let shard = &mut shards[index];
        match shard.find_mut(hash, |e| e.key.as_ref() == key) {
            Some(slot) if !slot.is_expired(now_ms) => {
                let old = std::mem::replace(&mut slot.value, value);
                if !keep_ttl && slot.expire_at_ms != NO_EXPIRY {
                    expires.remove(&(slot.expire_at_ms, slot.key.clone()));
                    slot.expire_at_ms = NO_EXPIRY;
                }
                // A new value starts with fresh access data; under LFU an overwritten key
                // keeps its access frequency, as in Redis.
                if !crate::clock::LFU_ENABLED.load(Ordering::Relaxed) {
                    slot.access_s = crate::clock::now_s();
                    slot.freq = LFU_INIT;
                }
                return Some(old);
            }
            Some(_) => {}
            None => {
                let capacity = shard.capacity();
                shard.insert_unique(hash, Entry::new(key, value), |e| hash_key(&e.key));
                *len += 1;
                *slots = *slots - capacity + shard.capacity();
                return None;
            }
        }
        // The key exists but has expired: it is deleted (and counted) first, as Redis does.
        self.expire_if_needed(key, now_ms);
        self.data.insert(Entry::new(key, value));
        None
    }

    /// Inserts a whole entry (RENAME, MOVE, COPY keep TTL and access data).
    pub fn insert_entry(&mut self, entry: Entry) -> Option<Entry> {
        self.data.insert(entry)
    }

    /// [`Db::insert_entry`] with `hash` = [`key_hash`] of the entry's key, computed earlier.
    pub fn insert_hashed(&mut self, hash: u64, entry: Entry) -> Option<Entry> {
        debug_assert_eq!(hash, hash_key(&entry.key));
        self.data.insert_hashed(hash, entry)
    }

    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> Option<Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.data.remove(key)
    }

    /// Removes `key` whatever its deadline (eviction: an expired key is evicted like any
    /// other) and tells its WATCHers; the caller records the deletion.
    pub fn evict(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.data.remove(key)?;
        self.touch(&entry.key);
        Some(entry)
    }

    /// Sets or clears (`NO_EXPIRY`) a key's deadline; false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) -> bool {
        self.data.set_expire(key, at_ms)
    }

    /// Deletes up to `limit` keys whose deadline has passed; returns how many.
    pub fn expire_due(&mut self, now_ms: i64, limit: usize) -> usize {
        let mut removed = 0;
        while removed < limit {
            match self.data.expires.first() {
                Some((when, _)) if *when <= now_ms => {}
                _ => break,
            }
            let Some((_, key)) = self.data.expires.pop_first() else {
                break;
            };
            if let Some(entry) = self.data.remove(&key) {
                self.touch(&entry.key);
                self.expired_keys.push(entry.key);
            }
            removed += 1;
        }
        removed
    }

    /// Marks the clients watching `key` as dirty (Redis's `touchWatchedKey`).
    pub fn touch(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        let exists = self.data.find(key).is_some();
        if let Some(watchers) = self.watched.get_mut(key) {
            for w in watchers.iter_mut() {
                if w.expired && !exists {
                    // Deleting a key that was already expired when watched is no change.
                    w.expired = false;
                    continue;
                }
                w.dirty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Marks watchers of keys that exist here (or in `replaced_with`) dirty: FLUSHDB/FLUSHALL
    /// (no replacement) and SWAPDB (Redis 7.0's `touchAllWatchedKeysInDb`). Existence here is
    /// physical presence, expired or not, as in Redis.
    pub fn touch_all_watched(&mut self, replaced_with: Option<&Keyspace>, now_ms: i64) {
        for (key, watchers) in self.watched.iter_mut() {
            let exists_here = self.data.find(key).is_some();
            let there = replaced_with.and_then(|other| other.find(key));
            if !exists_here && there.is_none() {
                continue;
            }
            let expired_there = there.is_some_and(|e| e.is_expired(now_ms));
            for w in watchers.iter_mut() {
                if w.expired {
                    if there.is_none() {
                        // The expired key is now deleted: no logical change.
                        w.expired = false;
                        continue;
                    } else if expired_there {
                        continue;
                    }
                } else if !exists_here && expired_there {
                    // A missing key replaced by an expired one: still logically missing.
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Empties the database; returns how many keys it held (expired ones included, as Redis
    /// counts them).
    pub fn flush(&mut self) -> usize {
        let old = std::mem::take(&mut self.data);
        let len = old.len();
        if old.cut_pending() {
            self.detached.push(old);
        }
        len
    }

    /// Empties the database at once and frees the old entries on the lazy-free thread (FLUSHDB
    /// ASYNC); returns how many keys it held.
    pub fn flush_async(&mut self) -> usize {
        let old = std::mem::take(&mut self.data);
        let len = old.len();
        self.retire(old);
        len
    }

    pub fn watch(&mut self, key: &[u8], client_id: u64, dirty: &Arc<AtomicBool>, now_ms: i64) {
        let expired = self.data.find(key).is_some_and(|e| e.is_expired(now_ms));
        let watchers = self.watched.entry(Bytes::copy_from_slice(key)).or_default();
        if watchers.iter().any(|w| w.client_id == client_id) {
            return;
        }
        watchers.push(Watcher {
            client_id,
            expired,
            dirty: dirty.clone(),
        });
    }

    pub fn unwatch(&mut self, key: &[u8], client_id: u64) {
        if let Some(watchers) = self.watched.get_mut(key) {
            watchers.retain(|w| w.client_id != client_id);
            if watchers.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// True if `client_id` watches `key` here, the key was not expired when watched, and it is
    /// expired now (EXEC then fails: Redis's `isWatchedKeyExpired`).
    pub fn watched_key_expired(&self, key: &[u8], client_id: u64, now_ms: i64) -> bool {
        let Some(watchers) = self.watched.get(key) else {
            return false;
        };
        watchers
            .iter()
            .any(|w| w.client_id == client_id && !w.expired)
            && self.data.find(key).is_some_and(|e| e.is_expired(now_ms))
    }
}

/// All databases plus the counters persistence needs.
#[derive(Debug)]
pub struct Store {
    pub dbs: Vec<Db>,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the cron removes expired keys.
    pub active_expire_enabled: bool,
    /// The snapshot being taken ([`cut`]), and how many were begun.
    cutting: Option<cut::CutId>,
    cut_serial: u64,
}

impl Store {
    pub fn new(databases: usize) -> Self {
        Store {
            dbs: (0..databases).map(|_| Db::default()).collect(),
            dirty: 0,
            active_expire_enabled: true,
            cutting: None,
            cut_serial: 0,
        }
    }

    pub fn swap_dbs(&mut self, a: usize, b: usize, now_ms: i64) {
        if a == b {
            return;
        }
        let (low, high) = (a.min(b), a.max(b));
        let (left, right) = self.dbs.split_at_mut(high);
        let (db_a, db_b) = (&mut left[low], &mut right[0]);
        db_a.touch_all_watched(Some(&db_b.data), now_ms);
        db_b.touch_all_watched(Some(&db_a.data), now_ms);
        std::mem::swap(&mut db_a.data, &mut db_b.data);
    }
}

#[allow(dead_code)]
const _: () = assert!(SHARDS.is_power_of_two() && SHARD_BITS == 10);

/// Freeing large things off the command path (FLUSHALL ASYNC, UNLINK of big values): the
/// keyspace lets go at once, one background thread runs the destructors.
pub mod lazyfree {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{Sender, channel};

    type Garbage = (Box<dyn Send>, u64);

    static PENDING: AtomicU64 = AtomicU64::new(0);
    static FREED: AtomicU64 = AtomicU64::new(0);

    static WORKER: LazyLock<Option<Sender<Garbage>>> = LazyLock::new(|| {
        let (tx, rx) = channel::<Garbage>();
        std::thread::Builder::new()
            .name("kopi-lazyfree".into())
            .spawn(move || {
                for (garbage, objects) in rx {
                    drop(garbage);
                    PENDING.fetch_sub(objects, Ordering::Relaxed);
                    FREED.fetch_add(objects, Ordering::Relaxed);
                }
            })
            .ok()?;
        Some(tx)
    });

    /// Drops `value` (holding `objects` keys or elements) on the lazy-free thread, or here if
    /// that thread is unavailable.
    pub fn free_later<T: Send + 'static>(value: T, objects: u64) {
        let Some(worker) = WORKER.as_ref() else {
            drop(value);
            return;
        };
        PENDING.fetch_add(objects, Ordering::Relaxed);
        if let Err(returned) = worker.send((Box::new(value), objects)) {
            PENDING.fetch_sub(objects, Ordering::Relaxed);
            drop(returned);
        }
    }

    /// Objects waiting to be freed (INFO `lazyfree_pending_objects`).
    pub fn pending() -> u64 {
        PENDING.load(Ordering::Relaxed)
    }

    /// Objects freed in the background so far (INFO `lazyfreed_objects`).
    pub fn freed() -> u64 {
        FREED.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(bytes: &[u8]) -> Value {
        Value::String(StringValue::from_bytes(bytes))
    }

    fn entry_expiring(key: &[u8], at_ms: i64) -> Entry {
        let mut entry = Entry::new(key, string(b"v"));
        entry.expire_at_ms = at_ms;
        entry
    }

    #[test]
    fn replacing_an_entry_with_the_same_deadline_keeps_it_indexed() {
        let mut db = Db::default();
        db.insert_entry(entry_expiring(b"k", 1000));
        db.insert_entry(entry_expiring(b"k", 1000));
        assert_eq!(db.data.expires_len(), 1);
        assert_eq!(db.expire_due(1000, 10), 1);
        assert!(db.is_empty());
    }

    #[test]
    fn replacing_an_entry_moves_its_deadline() {
        let mut db = Db::default();
        db.insert_entry(entry_expiring(b"k", 1000));
        db.insert_entry(entry_expiring(b"k", 5000));
        assert_eq!(db.data.expires_len(), 1);
        assert_eq!(db.expire_due(1000, 10), 0);
        assert_eq!(db.len(), 1);
        db.set(b"k", string(b"w"), false, 0);
        assert_eq!(db.data.expires_len(), 0);
    }

    #[test]
    fn expire_due_removes_only_passed_deadlines() {
        let mut db = Db::default();
        for (key, at) in [(&b"a"[..], 10), (b"b", 20), (b"c", 30)] {
            db.insert_entry(entry_expiring(key, at));
        }
        db.set(b"d", string(b"v"), false, 0);
        assert_eq!(db.expire_due(20, 10), 2);
        assert_eq!(db.expired_keys, [&b"a"[..], b"b"]);
        assert_eq!(db.len(), 2);
        assert!(db.peek(b"c", 29).is_some());
        assert!(db.peek(b"c", 30).is_none());
    }

    #[test]
    fn lfu_counter_decays_one_per_period_on_minute_boundaries() {
        assert_eq!(lfu_decayed(10, 120, 179, 1), 10);
        assert_eq!(lfu_decayed(10, 179, 180, 1), 9);
        assert_eq!(lfu_decayed(10, 0, 600, 1), 0);
        assert_eq!(lfu_decayed(10, 0, 600, 2), 5);
        assert_eq!(lfu_decayed(10, 0, 6000, 0), 10);
        assert_eq!(lfu_decayed(10, 600, 0, 1), 10);
    }

    #[test]
    fn free_slots_follow_insertions_removals_and_shrinks() {
        let mut db = Db::default();
        let total = |d: &Db| d.data.shards.iter().map(|s| s.capacity()).sum::<usize>();
        for i in 0..5000 {
            db.set(format!("k{i}").as_bytes(), string(b"v"), false, 0);
        }
        db.insert_entry(entry_expiring(b"e", 10));
        assert_eq!(db.data.slots, total(&db));
        let after_inserts = db.data.free_slot_bytes();
        for i in 0..4990 {
            db.remove(format!("k{i}").as_bytes(), 0);
        }
        assert_eq!(db.data.slots, total(&db), "shrinks are followed");
        assert!(db.data.free_slot_bytes() > after_inserts);
        db.reserve(100_000);
        assert_eq!(db.data.slots, total(&db));
        db.flush();
        assert_eq!((db.data.slots, db.data.free_slot_bytes()), (0, 0));
    }

    #[test]
    fn flush_async_empties_at_once() {
        let mut db = Db::default();
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), string(b"v"), false, 0);
        }
        assert_eq!(db.flush_async(), 1000);
        assert!(db.is_empty());
        assert!(db.peek(b"k1", 0).is_none());
    }
}
