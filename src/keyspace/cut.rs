//! Forkless point-in-time snapshots ("cuts"), shard by shard.
//!
//! Redis forks and lets the kernel copy pages on write. kopi copies before write at shard
//! granularity instead: [`Store::begin_cut`] marks every non-empty shard of every database
//! unsaved; the snapshot writer then serializes a few shards per acquisition of the keyspace
//! lock ([`Store::advance_cut`]), and a command that is about to change a shard not yet saved
//! serializes that shard first (`Keyspace::before_write`). Each shard is serialized exactly
//! once, as it was at the cut, so the result is the dataset at the cut while clients keep
//! writing. Extra memory is the serialized bytes waiting for the writer, never a copy of the
//! dataset.
//!
//! A cut belongs to a keyspace and travels with it: SWAPDB moves it to the other database
//! number but it still writes as the number it had at the cut; FLUSHDB/FLUSHALL detach the
//! old keyspace (kept in [`Db::detached`] until its unsaved shards are written) and the new,
//! empty one has no cut (everything in it happened after the cut).

use hashbrown::HashTable;

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Db, Entry, Keyspace, SHARDS, Store, lazyfree};

/// Entries handed to the snapshot writer since the process started (INFO
/// `current_save_keys_processed` counts from a snapshot's start).
static CUT_KEYS: AtomicU64 = AtomicU64::new(0);

/// Entries handed out by snapshots so far, a counter that only grows.
pub fn keys_written() -> u64 {
    CUT_KEYS.load(Ordering::Relaxed)
}

/// Appends one entry in the snapshot's format (AOF commands, RDB records).
pub type EntryWriter = fn(&mut Vec<u8>, &Entry);

/// Which snapshot: a writer only advances and ends its own (another may have replaced it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutId(u64);

/// What [`Store::advance_cut`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More to write.
    More,
    /// Everything at the cut was handed out; the cut is over.
    Done,
    /// This cut is no longer the store's (ended, or replaced by a newer one): what was
    /// handed out is not a whole snapshot.
    Gone,
}

const WORDS: usize = SHARDS / 64;

/// One keyspace's part of a snapshot.
#[derive(Debug)]
pub struct Cut {
    /// The database number at the cut.
    db: usize,
    /// Entries past their deadline at the cut are left out.
    at_ms: i64,
    /// Bit per shard: not yet serialized.
    unsaved: Box<[u64; WORDS]>,
    remaining: usize,
    /// A shard the writer has serialized in part: its index and how many of its entries (in
    /// the table's order) are done. The rest follows in the writer's next steps, or at once
    /// when a command is about to change that shard: until then nothing changed the shard,
    /// so its order is the same.
    partial: Option<(usize, usize)>,
    /// Serialized, not yet handed to the snapshot writer.
    out: Vec<u8>,
    write: EntryWriter,
    /// Entries serialized so far, and how many of them were counted in [`keys_written`].
    keys: u64,
    counted: u64,
}

impl Cut {
    fn new(db: usize, at_ms: i64, write: EntryWriter, keyspace: &Keyspace) -> Cut {
        let mut unsaved = Box::new([0u64; WORDS]);
        let mut remaining = 0;
        for (index, shard) in keyspace.shards.iter().enumerate() {
            if !shard.is_empty() {
                unsaved[index / 64] |= 1 << (index % 64);
                remaining += 1;
            }
        }
        Cut {
            db,
            at_ms,
            unsaved,
            remaining,
            partial: None,
            out: Vec::new(),
            write,
            keys: 0,
            counted: 0,
        }
    }

    /// Serializes what is left of shard `index` unless it is all done.
    pub(super) fn save(&mut self, index: usize, shard: &HashTable<Entry>) {
        self.save_some(index, shard, usize::MAX);
    }

    /// Serializes shard `index` from where it stands until `out` holds `budget` bytes or
    /// the shard is done. True when the shard is done (now or before).
    fn save_some(&mut self, index: usize, shard: &HashTable<Entry>, budget: usize) -> bool {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if self.unsaved[word] & bit == 0 {
            return true;
        }
        let done = match self.partial {
            Some((at, done)) if at == index => done,
            _ => 0,
        };
        for (position, entry) in (done..).zip(shard.iter().skip(done)) {
            if self.out.len() >= budget {
                self.partial = Some((index, position));
                return false;
            }
            if !entry.is_expired(self.at_ms) {
                (self.write)(&mut self.out, entry);
                self.keys += 1;
            }
        }
        if self.partial.is_some_and(|(at, _)| at == index) {
            self.partial = None;
        }
        self.unsaved[word] &= !bit;
        self.remaining -= 1;
        true
    }

    fn next_unsaved(&self) -> Option<usize> {
        self.unsaved
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }

    fn complete(&self) -> bool {
        self.remaining == 0 && self.out.is_empty()
    }
}

impl Keyspace {
    /// Called before any change to shard `index`: a shard not yet in the snapshot goes there
    /// first, as it is.
    #[inline]
    pub(super) fn before_write(&mut self, index: usize) {
        if let Some(cut) = self.cut.as_deref_mut() {
            cut.save(index, &self.shards[index]);
        }
    }

    /// Serializes unsaved shards until `out` holds about `budget` bytes, then hands what is
    /// serialized to `emit`. True when this keyspace's part is complete.
    fn advance(&mut self, budget: usize, emit: &mut impl FnMut(usize, &[u8])) -> bool {
        let Keyspace { shards, cut, .. } = self;
        let Some(cut) = cut.as_deref_mut() else {
            return true;
        };
        while cut.out.len() < budget {
            // A shard begun in an earlier step goes on first.
            let next = cut
                .partial
                .map(|(index, _)| index)
                .or_else(|| cut.next_unsaved());
            let Some(index) = next else {
                break;
            };
            cut.save_some(index, &shards[index], budget);
        }
        if !cut.out.is_empty() {
            emit(cut.db, &cut.out);
            cut.out.clear();
        }
        CUT_KEYS.fetch_add(cut.keys - cut.counted, Ordering::Relaxed);
        cut.counted = cut.keys;
        cut.complete()
    }

    /// True while this keyspace holds part of a snapshot not yet written.
    pub(super) fn cut_pending(&self) -> bool {
        self.cut.as_deref().is_some_and(|c| !c.complete())
    }
}

impl Db {
    /// The keyspace that FLUSHDB/FLUSHALL replaces: freed, or kept until the snapshot has it.
    pub(super) fn retire(&mut self, old: Keyspace) {
        if old.cut_pending() {
            self.detached.push(old);
        } else {
            let len = old.len();
            lazyfree::free_later(old, len as u64);
        }
    }
}

impl Store {
    /// Starts a snapshot of every database as it is now (abandoning one in progress); `at_ms`
    /// is the cut's time.
    pub fn begin_cut(&mut self, at_ms: i64, write: EntryWriter) -> CutId {
        self.abandon_cut();
        for (n, db) in self.dbs.iter_mut().enumerate() {
            db.data.cut = Some(Box::new(Cut::new(n, at_ms, write, &db.data)));
        }
        self.cut_serial += 1;
        let id = CutId(self.cut_serial);
        self.cutting = Some(id);
        id
    }

    /// Whether a snapshot is being taken.
    pub fn cutting(&self) -> bool {
        self.cutting.is_some()
    }

    /// Hands serialized bytes of snapshot `id` to `emit(db, bytes)`, serializing more shards
    /// until about `budget` bytes went out. Ends the cut once everything at the cut has been
    /// handed out ([`Progress::Done`]).
    pub fn advance_cut(
        &mut self,
        id: CutId,
        budget: usize,
        mut emit: impl FnMut(usize, &[u8]),
    ) -> Progress {
        if self.cutting != Some(id) {
            return Progress::Gone;
        }
        let sent = std::cell::Cell::new(0usize);
        let mut counting = |db: usize, bytes: &[u8]| {
            sent.set(sent.get() + bytes.len());
            emit(db, bytes);
        };
        let mut complete = true;
        for db in &mut self.dbs {
            let mut index = 0;
            while index < db.detached.len() {
                if db.detached[index].advance(budget, &mut counting) {
                    let old = db.detached.swap_remove(index);
                    let len = old.len();
                    lazyfree::free_later(old, len as u64);
                } else {
                    complete = false;
                    index += 1;
                }
            }
            if !db.data.advance(budget, &mut counting) {
                complete = false;
            }
            if sent.get() >= budget {
                return Progress::More;
            }
        }
        if complete {
            self.abandon_cut();
            Progress::Done
        } else {
            Progress::More
        }
    }

    /// Abandons snapshot `id` (if it is still the store's).
    pub fn end_cut(&mut self, id: CutId) {
        if self.cutting == Some(id) {
            self.abandon_cut();
        }
    }

    /// Ends whatever snapshot is being taken: no more copying before writes.
    pub fn abandon_cut(&mut self) {
        for db in &mut self.dbs {
            db.data.cut = None;
            for old in db.detached.drain(..) {
                let len = old.len();
                lazyfree::free_later(old, len as u64);
            }
        }
        self.cutting = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{StringValue, Value};
    use super::*;

    fn write_key(out: &mut Vec<u8>, entry: &Entry) {
        out.extend_from_slice(&entry.key);
        out.push(b'=');
        match &entry.value {
            Value::String(s) => out.extend_from_slice(s.as_bytes(&mut itoa::Buffer::new())),
            other => out.extend_from_slice(other.type_name().as_bytes()),
        }
        out.push(b'\n');
    }

    fn string(v: &str) -> Value {
        Value::String(StringValue::from_bytes(v.as_bytes()))
    }

    /// One step of the snapshot writer; its bytes become "db:key=value" lines.
    fn step(store: &mut Store, id: CutId, budget: usize, lines: &mut Vec<String>) -> bool {
        let progress = store.advance_cut(id, budget, |db, bytes| {
            for line in String::from_utf8_lossy(bytes).lines() {
                lines.push(format!("{db}:{line}"));
            }
        });
        assert_ne!(progress, Progress::Gone);
        progress == Progress::Done
    }

    /// Runs the cut to its end; the snapshot as sorted lines.
    fn finish(store: &mut Store, id: CutId, budget: usize, mut lines: Vec<String>) -> Vec<String> {
        let mut steps = 0;
        while !step(store, id, budget, &mut lines) {
            steps += 1;
            assert!(steps < 100_000);
        }
        lines.sort();
        lines
    }

    fn filled(keys: usize) -> Store {
        let mut store = Store::new(2);
        for i in 0..keys {
            store.dbs[0].set(format!("k{i}").as_bytes(), string("old"), false, 0);
        }
        store
    }

    fn expected(db: usize, keys: usize) -> Vec<String> {
        let mut lines: Vec<String> = (0..keys).map(|i| format!("{db}:k{i}=old")).collect();
        lines.sort();
        lines
    }

    #[test]
    fn writes_after_the_cut_are_not_in_the_snapshot() {
        let mut store = filled(3000);
        let id = store.begin_cut(0, write_key);
        let mut lines = Vec::new();
        assert!(!step(&mut store, id, 2000, &mut lines));
        // Part-way through, every key is overwritten or deleted, and new ones are added.
        for i in 0..3000 {
            let key = format!("k{i}");
            if i % 3 == 0 {
                store.dbs[0].remove(key.as_bytes(), 0);
            } else {
                store.dbs[0].set(key.as_bytes(), string("new"), false, 0);
            }
            store.dbs[0].set(format!("n{i}").as_bytes(), string("new"), false, 0);
        }
        assert_eq!(finish(&mut store, id, 4096, lines), expected(0, 3000));
        assert!(!store.cutting());
        // After the cut, writes serialize nothing.
        store.dbs[0].set(b"k1", string("x"), false, 0);
        assert!(store.dbs[0].data.cut.is_none());
    }

    #[test]
    fn a_shard_written_in_parts_is_still_the_shard_at_the_cut() {
        // Steps of one entry: most shards are left part-way at some point.
        let mut store = filled(5000);
        let id = store.begin_cut(0, write_key);
        let mut lines = Vec::new();
        let mut done = false;
        for round in 0..4 {
            for _ in 0..300 {
                done = done || step(&mut store, id, 1, &mut lines);
            }
            if round == 0 {
                // Where the steps stop depends on the process's hash seed: go on to a step
                // that leaves a shard part-way (most do: a shard holds about five keys here).
                let partial = |store: &Store| {
                    store.dbs[0]
                        .data
                        .cut
                        .as_ref()
                        .is_some_and(|c| c.partial.is_some())
                };
                let mut extra = 0;
                while !partial(&store) {
                    assert!(!step(&mut store, id, 1, &mut lines));
                    extra += 1;
                    assert!(extra < 1000, "no step left a shard part-way");
                }
                assert!(!done, "the cut ended before the changes");
            }
            // Every key changes between steps: a shard begun but not done is finished before
            // its first change, from where it stood.
            for i in (round..5000).step_by(4) {
                let key = format!("k{i}");
                if i % 3 == 0 {
                    store.dbs[0].remove(key.as_bytes(), 0);
                } else {
                    store.dbs[0].set(key.as_bytes(), string("new"), false, 0);
                }
                store.dbs[0].set(format!("n{round}-{i}").as_bytes(), string("new"), false, 0);
            }
        }
        lines.sort();
        let lines = if store.cutting() {
            finish(&mut store, id, 1, lines)
        } else {
            lines
        };
        assert_eq!(lines, expected(0, 5000));
    }

    #[test]
    fn a_flushed_database_is_still_written_as_it_was() {
        let mut store = filled(500);
        let id = store.begin_cut(0, write_key);
        store.dbs[0].flush();
        store.dbs[0].set(b"after", string("new"), false, 0);
        assert_eq!(store.dbs[0].detached.len(), 1);
        assert_eq!(finish(&mut store, id, 100, Vec::new()), expected(0, 500));
        assert!(store.dbs[0].detached.is_empty());
    }

    #[test]
    fn swapped_databases_keep_their_numbers_at_the_cut() {
        let mut store = filled(200);
        store.dbs[1].set(b"one", string("old"), false, 0);
        let id = store.begin_cut(0, write_key);
        store.swap_dbs(0, 1, 0);
        store.dbs[1].set(b"k1", string("new"), false, 0);
        store.dbs[0].remove(b"one", 0);
        let mut want = expected(0, 200);
        want.push("1:one=old".into());
        want.sort();
        assert_eq!(finish(&mut store, id, 64, Vec::new()), want);
    }

    #[test]
    fn keys_past_their_deadline_at_the_cut_are_left_out() {
        let mut store = filled(10);
        store.dbs[0].set_expire(b"k1", 500);
        let id = store.begin_cut(1000, write_key);
        let lines = finish(&mut store, id, 1 << 20, Vec::new());
        assert_eq!(lines.len(), 9);
        assert!(!lines.contains(&"0:k1=old".to_string()));
    }

    #[test]
    fn an_abandoned_cut_copies_nothing_more() {
        let mut store = filled(100);
        let id = store.begin_cut(0, write_key);
        store.end_cut(id);
        store.dbs[0].set(b"k1", string("new"), false, 0);
        assert!(store.dbs[0].data.cut.is_none());
        let progress = store.advance_cut(id, 10, |_, _| panic!("nothing to write"));
        assert_eq!(progress, Progress::Gone);
    }

    #[test]
    fn a_newer_cut_replaces_an_older_one_whose_writer_then_stops() {
        let mut store = filled(100);
        let old = store.begin_cut(0, write_key);
        let new = store.begin_cut(0, write_key);
        assert_eq!(store.advance_cut(old, 10, |_, _| {}), Progress::Gone);
        store.end_cut(old);
        assert!(store.cutting(), "ending the old cut leaves the new one");
        assert_eq!(
            finish(&mut store, new, 1 << 20, Vec::new()),
            expected(0, 100)
        );
    }
}
