//! `maxmemory`: keeping the memory in use under the limit by evicting keys, as Redis 7.0's
//! `evict.c` does.
//!
//! Before each command (see [`crate::commands::execute`]) [`perform`] compares the memory in
//! use with `maxmemory`. The memory in use is the counting allocator's total
//! ([`super::alloc`], client buffers included, as Redis's) less what is not counted: the AOF
//! buffer (the effects not yet taken by the writer and the writer's own buffers), as Redis's
//! `freeMemoryGetNotCountedMemory`, and the free slots of the key tables (a deleted key's slot
//! stays allocated until its shard shrinks, and the next key takes it: memory given back to
//! the keyspace, as Redis's deletions give it back to the allocator). INFO shows the sum as
//! `mem_not_counted_for_evict`. When it is over the limit, keys are deleted one at a time,
//! chosen by `maxmemory-policy`, until the memory they freed covers the excess, or the time
//! `maxmemory-eviction-tenacity` allows is spent (then the cron goes on evicting between
//! commands: Redis's eviction time proc), or nothing is left to evict (then commands flagged
//! `denyoom` are refused with `-OOM`).
//!
//! Choosing the key:
//!
//! - `allkeys-lru`, `allkeys-lfu`, `volatile-lru`, `volatile-lfu`: each round samples
//!   `maxmemory-samples` keys of every db (the volatile policies only keys with a deadline)
//!   and offers them to a pool of the 16 best candidates seen so far, ordered by score (idle
//!   time for LRU, 255 minus the decayed LFU counter for LFU); the best candidate that still
//!   exists is evicted. The pool survives between rounds, so each eviction benefits from the
//!   samples of the ones before: the approximation of LRU/LFU Redis uses.
//! - `volatile-ttl`: the key with the soonest deadline of all dbs, read from the expiry index
//!   (exact, where Redis approximates it by sampling).
//! - `allkeys-random`, `volatile-random`: a random key (with a deadline), visiting the dbs in
//!   turn.
//!
//! Each eviction deletes the key (its value freed on the lazy-free thread when large and
//! `lazyfree-lazy-eviction yes`), tells the key's WATCHers, counts `evicted_keys`, and is
//! recorded in the AOF as `DEL key` (`UNLINK key` with `lazyfree-lazy-eviction yes`), a unit
//! of its own, as Redis propagates evictions.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Server;
use super::alloc;
use super::state::State;
use crate::keyspace::{self, Entry};

/// Candidates the eviction pool keeps (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// Evictions between two checks of the clock (and, with lazy freeing, of the memory).
const EVICTIONS_PER_CHECK: u64 = 16;

/// The longest a failed eviction waits for the lazy-free thread, per wait.
const LAZYFREE_WAIT_US_MAX: u64 = 1000;

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            _ => Policy::NoEviction,
        }
    }

    /// Only keys with a deadline may be evicted.
    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// The parameters eviction acts on, mirrored from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `maxmemory`; 0 is no limit.
    pub maxmemory_bytes: u64,
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `maxmemory-eviction-tenacity`.
    pub tenacity: u32,
    /// `lazyfree-lazy-eviction`.
    pub lazy: bool,
    /// `lfu-decay-time`.
    pub lfu_decay_minutes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            maxmemory_bytes: 0,
            policy: Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            lazy: false,
            lfu_decay_minutes: keyspace::LFU_DECAY_MINUTES,
        }
    }
}

/// What [`perform`] achieved (Redis's `EVICT_OK`, `EVICT_RUNNING`, `EVICT_FAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit, or eviction is not possible now (loading, clients paused).
    Ok,
    /// Over the limit, and the cron goes on evicting.
    Running,
    /// Over the limit with nothing left to evict: `denyoom` commands are refused.
    Fail,
}

/// A candidate in the pool.
#[derive(Debug, Clone)]
struct Candidate {
    /// Higher is a better candidate.
    score: u64,
    db: usize,
    key: Bytes,
}

/// Eviction's state, kept in [`State`].
#[derive(Debug, Default)]
pub struct Eviction {
    pub settings: Settings,
    /// The best candidates seen, ascending by score.
    pool: Vec<Candidate>,
    /// The db the random policies try next.
    next_db: usize,
    /// The cron goes on evicting (Redis's `isEvictionProcRunning`).
    pub proc_running: bool,
    /// Settings were applied once (start-up): later changes come from CONFIG SET.
    configured: bool,
}

impl Eviction {
    /// Applies new settings; a new nonzero `maxmemory` set at run time starts eviction at
    /// once, as Redis's CONFIG SET does (with a warning when the memory in use is already
    /// over it). At start-up the first command evicts, as in Redis.
    pub fn configure(&mut self, settings: Settings, used_bytes: u64) {
        let previous = self.settings.maxmemory_bytes;
        self.settings = settings;
        let limit = settings.maxmemory_bytes;
        let at_start = !std::mem::replace(&mut self.configured, true);
        if !at_start && limit != 0 && limit != previous {
            if limit < used_bytes {
                super::log::warning(&format!(
                    "WARNING: the new maxmemory value set via CONFIG SET ({limit}) is smaller than the current memory usage ({used_bytes}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
                ));
            }
            self.proc_running = true;
        }
    }

    /// Offers a sampled key: it enters the pool if there is room or it beats the worst
    /// candidate, which then leaves.
    fn offer(&mut self, score: u64, db: usize, key: &Bytes) {
        let at = self.pool.partition_point(|c| c.score < score);
        let candidate = Candidate {
            score,
            db,
            key: key.clone(),
        };
        if self.pool.len() < POOL_SIZE {
            self.pool.insert(at, candidate);
        } else if at > 0 {
            self.pool.remove(0);
            self.pool.insert(at - 1, candidate);
        }
    }
}

/// The time one [`perform`] may spend evicting, from `maxmemory-eviction-tenacity` (Redis's
/// `evictionTimeLimitUs`): 50 µs per step up to 10, then 15% more per step, none at 100.
pub fn time_limit(tenacity: u32) -> Option<Duration> {
    let us = match tenacity {
        0..=10 => 50 * u64::from(tenacity),
        11..=99 => (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        _ => return None,
    };
    Some(Duration::from_micros(us))
}

/// Memory not counted against `maxmemory` (INFO `mem_not_counted_for_evict`): the AOF
/// buffer (the effects not taken yet, and what the writer holds), as in Redis, and the free
/// slots of the key tables ([`free_slot_bytes`]).
pub fn not_counted_bytes(server: &Server, state: &State) -> u64 {
    aof_buffer_bytes(server, state).saturating_add(free_slot_bytes(state))
}

/// The AOF buffer (INFO `mem_aof_buffer`): the effects not taken by the writer yet, and what
/// the writer holds.
pub fn aof_buffer_bytes(server: &Server, state: &State) -> u64 {
    let writer = server.aof().map_or(0, |aof| aof.held_bytes());
    state.effects.allocated_bytes().saturating_add(writer)
}

/// The free slots of every db's key tables: memory a deletion gave back to the keyspace
/// rather than to the allocator (the next keys reuse it), so it counts as free.
fn free_slot_bytes(state: &State) -> u64 {
    state
        .store
        .dbs
        .iter()
        .map(|db| db.data.free_slot_bytes())
        .sum()
}

/// The memory in use as eviction measures what one deletion freed: the allocator's total
/// (exact for this thread) less the tables' free slots.
fn counted_here(state: &State) -> i64 {
    alloc::used_bytes_here() as i64 - free_slot_bytes(state) as i64
}

/// How many bytes must be freed to be under `maxmemory`, or `None` when under it.
fn excess_bytes(server: &Server, state: &State) -> Option<u64> {
    let limit = state.eviction.settings.maxmemory_bytes;
    let reported = alloc::used_bytes_here();
    if limit == 0 || reported <= limit {
        return None;
    }
    let used = reported.saturating_sub(not_counted_bytes(server, state));
    (used > limit).then(|| used - limit)
}

/// Whether evicting is allowed now (Redis's `isSafeToPerformEvictions`): not while the
/// dataset loads, nor while clients are paused (the dataset must then stay as it is).
fn safe_to_evict(server: &Server) -> bool {
    !server.loading.is_active() && !keyspace::EXPIRY_DELETIONS_PAUSED.load(Ordering::Relaxed)
}

/// Evicts keys until the memory in use is under `maxmemory`, within the tenacity's time
/// limit (Redis's `performEvictions`).
pub fn perform(server: &Server, state: &mut State) -> Outcome {
    if state.eviction.settings.maxmemory_bytes == 0 || !safe_to_evict(server) {
        return Outcome::Ok;
    }
    let outcome = match excess_bytes(server, state) {
        None => Outcome::Ok,
        Some(_) if state.eviction.settings.policy == Policy::NoEviction => Outcome::Fail,
        Some(excess) => evict(server, state, excess),
    };
    let stats = &mut state.stats;
    match outcome {
        Outcome::Running | Outcome::Fail => {
            stats
                .eviction_exceeded_since
                .get_or_insert_with(Instant::now);
        }
        Outcome::Ok => {
            if let Some(since) = stats.eviction_exceeded_since.take() {
                stats.eviction_exceeded_total_us += since.elapsed().as_micros() as u64;
            }
        }
    }
    outcome
}

fn evict(server: &Server, state: &mut State, excess: u64) -> Outcome {
    let settings = state.eviction.settings;
    let limit = time_limit(settings.tenacity);
    let started = Instant::now();
    let threshold_ms = server
        .limits
        .latency_monitor_threshold_ms
        .load(Ordering::Relaxed);
    // Deletions found expired so far come first in the AOF.
    state.drain_expired();
    let delete: &[u8] = if settings.lazy { b"UNLINK" } else { b"DEL" };
    let mut rng = rand::rng();
    let mut freed: i64 = 0;
    let mut evicted: u64 = 0;
    let mut outcome = loop {
        if freed >= excess as i64 {
            break Outcome::Ok;
        }
        let Some((db, key)) = choose(state, &mut rng) else {
            break Outcome::Fail;
        };
        state.effects.push(db, &[delete, &key[..]]);
        let deleted_at = Instant::now();
        let before = counted_here(state);
        if let Some(entry) = state.store.dbs[db].evict(&key) {
            crate::commands::keys::free_entry(entry, settings.lazy);
        }
        drop(key);
        freed += before - counted_here(state);
        state.stats.evicted_keys += 1;
        note_latency(state, "eviction-del", deleted_at, threshold_ms);
        evicted += 1;
        if evicted.is_multiple_of(EVICTIONS_PER_CHECK) {
            // The measured deltas miss what another thread freed (lazy free) and include
            // what other threads allocated meanwhile (the counter is global): the total
            // decides, every few evictions.
            if excess_bytes(server, state).is_none() {
                break Outcome::Ok;
            }
            if limit.is_some_and(|limit| started.elapsed() > limit) {
                state.eviction.proc_running = true;
                break Outcome::Ok;
            }
        }
    };
    if outcome == Outcome::Ok && state.eviction.proc_running {
        outcome = Outcome::Running;
    }
    if outcome == Outcome::Fail {
        // Nothing left to evict; what the lazy-free thread still holds may be enough.
        let limit_us = limit.map_or(u64::MAX, |l| l.as_micros() as u64);
        let waited_at = Instant::now();
        while keyspace::lazyfree::pending() > 0
            && limit.is_none_or(|limit| started.elapsed() < limit)
        {
            if excess_bytes(server, state).is_none() {
                outcome = Outcome::Ok;
                break;
            }
            std::thread::sleep(Duration::from_micros(limit_us.min(LAZYFREE_WAIT_US_MAX)));
        }
        note_latency(state, "eviction-lazyfree", waited_at, threshold_ms);
    }
    note_latency(state, "eviction-cycle", started, threshold_ms);
    outcome
}

/// Adds a latency-monitor sample for `event` if it took at least the threshold.
fn note_latency(state: &mut State, event: &str, since: Instant, threshold_ms: i64) {
    let elapsed_ms = since.elapsed().as_millis() as i64;
    if threshold_ms > 0 && elapsed_ms >= threshold_ms {
        let now_s = crate::util::now_ms() / 1000;
        state.latency.add_sample(event, elapsed_ms as u64, now_s);
    }
}

/// The key the policy evicts next, with its db; `None` when no key may be evicted.
fn choose(state: &mut State, rng: &mut impl rand::Rng) -> Option<(usize, Bytes)> {
    let settings = state.eviction.settings;
    let volatile = settings.policy.volatile_only();
    match settings.policy {
        Policy::NoEviction => None,
        Policy::VolatileTtl => state
            .store
            .dbs
            .iter()
            .enumerate()
            .filter_map(|(db, d)| d.data.next_expiring().map(|(at, key)| (at, db, key)))
            .min_by_key(|(at, db, _)| (*at, *db))
            .map(|(_, db, key)| (db, key)),
        Policy::AllkeysRandom | Policy::VolatileRandom => {
            let dbs = state.store.dbs.len();
            for _ in 0..dbs {
                state.eviction.next_db = (state.eviction.next_db + 1) % dbs;
                let db = state.eviction.next_db;
                let data = &state.store.dbs[db].data;
                let picked = if volatile {
                    let mut picked = None;
                    data.sample_volatile(rng, 1, |e| picked = Some(e.key.clone()));
                    picked
                } else {
                    data.random(rng).map(|e| e.key.clone())
                };
                if let Some(key) = picked {
                    return Some((db, key));
                }
            }
            None
        }
        Policy::AllkeysLru | Policy::AllkeysLfu | Policy::VolatileLru | Policy::VolatileLfu => {
            choose_from_pool(state, rng)
        }
    }
}

/// The approximated LRU/LFU choice: sample every db into the pool, then take the best
/// candidate that still exists (others are ghosts: deleted since they were sampled).
fn choose_from_pool(state: &mut State, rng: &mut impl rand::Rng) -> Option<(usize, Bytes)> {
    let settings = state.eviction.settings;
    let volatile = settings.policy.volatile_only();
    let lfu = matches!(settings.policy, Policy::AllkeysLfu | Policy::VolatileLfu);
    let now_s = crate::clock::now_s();
    let score = |entry: &Entry| -> u64 {
        if lfu {
            let counter = keyspace::lfu_decayed(
                entry.freq,
                entry.access_s,
                now_s,
                settings.lfu_decay_minutes,
            );
            255 - u64::from(counter)
        } else {
            u64::from(now_s.saturating_sub(entry.access_s)) * 1000
        }
    };
    loop {
        let mut candidates = 0;
        let mut sampled: Vec<(u64, usize, Bytes)> = Vec::with_capacity(settings.samples.min(64));
        for (db, d) in state.store.dbs.iter().enumerate() {
            let data = &d.data;
            let keys = if volatile {
                data.expires_len()
            } else {
                data.len()
            };
            if keys == 0 {
                continue;
            }
            candidates += keys;
            let mut take = |entry: &Entry| sampled.push((score(entry), db, entry.key.clone()));
            if volatile {
                data.sample_volatile(rng, settings.samples, take);
            } else {
                data.walk_from_random(rng, settings.samples, |entry| {
                    take(entry);
                    true
                });
            }
        }
        if candidates == 0 {
            return None;
        }
        for (score, db, key) in &sampled {
            state.eviction.offer(*score, *db, key);
        }
        while let Some(best) = state.eviction.pool.pop() {
            if state.store.dbs[best.db].data.holds(&best.key, volatile) {
                return Some((best.db, best.key));
            }
        }
    }
}

/// The cron's part (Redis's eviction time proc): while an eviction ran out of time with the
/// memory still over the limit, go on evicting between commands, for up to `budget`,
/// releasing the keyspace lock between rounds.
pub fn time_proc(server: &Server, budget: Duration) {
    let started = Instant::now();
    loop {
        let mut state = server.state.lock();
        if !state.eviction.proc_running {
            return;
        }
        if perform(server, &mut state) != Outcome::Running {
            state.eviction.proc_running = false;
            return;
        }
        drop(state);
        if started.elapsed() >= budget {
            return;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> Bytes {
        Bytes::from(n.to_string())
    }

    #[test]
    fn the_pool_keeps_the_best_candidates_in_order() {
        let mut eviction = Eviction::default();
        for n in 0..40u32 {
            // Scores 0..40 in a scrambled order.
            let score = u64::from((n * 7) % 40);
            eviction.offer(score, 0, &key(n));
        }
        let scores: Vec<u64> = eviction.pool.iter().map(|c| c.score).collect();
        assert_eq!(scores, (24..40).collect::<Vec<u64>>());
        // A candidate worse than all of a full pool is not taken.
        eviction.offer(3, 0, &key(99));
        assert_eq!(eviction.pool.len(), POOL_SIZE);
        assert_eq!(eviction.pool[0].score, 24);
        // One better than some pushes the worst out.
        eviction.offer(30, 1, &key(100));
        assert_eq!(eviction.pool[0].score, 25);
        assert!(eviction.pool.iter().any(|c| c.db == 1 && c.score == 30));
        assert!(eviction.pool.windows(2).all(|w| w[0].score <= w[1].score));
    }

    /// A server whose db 0 holds `keys` keys, `volatile` of them with a deadline.
    fn server_with_keys(keys: usize, volatile: usize) -> std::sync::Arc<Server> {
        let server = Server::new(crate::server::config::Config::default());
        {
            let mut state = server.state.lock();
            let db = &mut state.store.dbs[0];
            for i in 0..keys {
                let value = keyspace::Value::String(keyspace::StringValue::from_bytes(b"v"));
                let key = format!("k{i}");
                db.set(key.as_bytes(), value, false, 0);
                if i < volatile {
                    db.set_expire(key.as_bytes(), i64::MAX / 2);
                }
            }
        }
        server
    }

    fn settings(policy: Policy, tenacity: u32) -> Settings {
        Settings {
            // One byte: always over the limit, whatever else the test process allocates.
            maxmemory_bytes: 1,
            policy,
            tenacity,
            ..Settings::default()
        }
    }

    #[test]
    fn tenacity_bounds_one_eviction_run_and_leaves_the_rest_to_the_cron() {
        let server = server_with_keys(1000, 0);
        let mut state = server.state.lock();
        state.eviction.settings = settings(Policy::AllkeysRandom, 0);
        // No time at all: one check after the first 16 evictions.
        assert_eq!(perform(&server, &mut state), Outcome::Running);
        assert_eq!(state.stats.evicted_keys, EVICTIONS_PER_CHECK);
        assert!(state.eviction.proc_running);
        assert!(state.stats.eviction_exceeded_since.is_some());
        // No limit: everything goes, then nothing is left to evict.
        state.eviction.settings = settings(Policy::AllkeysLru, 100);
        state.eviction.proc_running = false;
        assert_eq!(perform(&server, &mut state), Outcome::Fail);
        assert_eq!(state.stats.evicted_keys, 1000);
        assert!(state.store.dbs[0].is_empty());
    }

    #[test]
    fn volatile_policies_fail_once_no_key_has_a_deadline() {
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            // Keys with a deadline are rare: sampling reads the expiry index.
            let server = server_with_keys(5000, 3);
            let mut state = server.state.lock();
            state.eviction.settings = settings(policy, 100);
            assert_eq!(perform(&server, &mut state), Outcome::Fail, "{policy:?}");
            assert_eq!(state.stats.evicted_keys, 3, "{policy:?}");
            assert_eq!(state.store.dbs[0].len(), 4997, "{policy:?}");
            assert_eq!(state.store.dbs[0].data.expires_len(), 0, "{policy:?}");
        }
    }

    #[test]
    fn noeviction_fails_without_evicting_and_a_raised_limit_ends_the_excess() {
        let server = server_with_keys(10, 10);
        let mut state = server.state.lock();
        state.eviction.settings = settings(Policy::NoEviction, 10);
        assert_eq!(perform(&server, &mut state), Outcome::Fail);
        assert_eq!(state.store.dbs[0].len(), 10);
        state.eviction.settings.maxmemory_bytes = u64::MAX;
        assert_eq!(perform(&server, &mut state), Outcome::Ok);
        assert!(state.stats.eviction_exceeded_since.is_none());
    }

    #[test]
    fn tenacity_maps_to_redis_time_limits() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert!(time_limit(99).unwrap() > Duration::from_secs(100));
        assert_eq!(time_limit(100), None);
    }

    #[test]
    fn policies_parse_from_their_config_names() {
        assert_eq!(Policy::parse("allkeys-lfu"), Policy::AllkeysLfu);
        assert_eq!(Policy::parse("volatile-ttl"), Policy::VolatileTtl);
        assert_eq!(Policy::parse("noeviction"), Policy::NoEviction);
        assert!(Policy::VolatileRandom.volatile_only());
        assert!(!Policy::AllkeysRandom.volatile_only());
    }
}
