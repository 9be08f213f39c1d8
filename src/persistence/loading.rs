//! The loading state: what clients see while the AOF is replayed at start-up.
//!
//! The listeners accept connections while the data loads. Until loading ends (the writer is
//! started only afterwards), commands without the `loading` flag are refused with
//! `-LOADING Redis is loading the dataset in memory` (see [`crate::commands::execute`]), and
//! INFO persistence shows `loading:1` with the progress fields Redis shows.
//!
//! The loader holds the keyspace lock while it replays and hands it over to waiting clients
//! every [`CHECKPOINT_COMMANDS`] commands (Redis serves its clients as often), publishing its
//! progress then; with `key-load-delay` it sleeps after every command with the lock released.
//! What the replay counts (command statistics, slow log, latency samples) is kept apart from
//! what the clients served meanwhile count: [`Pacer`] swaps the two around every hand-over.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;

use crate::server::log;
use crate::server::state::{LatencyMonitor, SlowLog, State, Stats};

/// Commands replayed between two hand-overs of the keyspace lock (Redis serves its clients
/// every 1024 commands while loading an AOF).
pub const CHECKPOINT_COMMANDS: u32 = 1024;
/// A progress line is logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Whether the dataset is loading, and how far it is (INFO persistence's `loading_*`).
#[derive(Default)]
pub struct Loading {
    active: AtomicBool,
    stop: AtomicBool,
    start_s: AtomicI64,
    total_bytes: AtomicU64,
    loaded_bytes: AtomicU64,
}

impl Loading {
    /// Loading starts: from now on clients get `-LOADING`.
    pub fn begin(&self, now_s: i64) {
        self.start_s.store(now_s, Ordering::Relaxed);
        self.total_bytes.store(0, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        self.stop.store(false, Ordering::Relaxed);
        self.active.store(true, Ordering::SeqCst);
    }

    /// Loading is over (and the AOF writer, if any, started): commands run again.
    pub fn finish(&self) {
        self.active.store(false, Ordering::SeqCst);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// The size of everything to load (`loading_total_bytes`).
    pub fn set_total(&self, bytes: u64) {
        self.total_bytes.store(bytes, Ordering::Relaxed);
    }

    /// How much of it was replayed (`loading_loaded_bytes`).
    pub fn set_loaded(&self, bytes: u64) {
        self.loaded_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.total_bytes.load(Ordering::Relaxed)
    }

    pub fn loaded(&self) -> u64 {
        self.loaded_bytes.load(Ordering::Relaxed)
    }

    /// Asks the loader to give up at its next checkpoint (shutdown while loading).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// INFO persistence's fields shown only while loading, in Redis's order and format:
    /// the percentage with two decimals, the estimate in whole seconds (1 during the first
    /// second, when nothing can be estimated yet).
    pub fn write_info(&self, out: &mut String, now_s: i64) {
        let total = self.total();
        let loaded = self.loaded().min(total);
        let start_s = self.start_s.load(Ordering::Relaxed);
        let (perc, remaining) = if total > 0 {
            (loaded as f64 / total as f64 * 100.0, total - loaded)
        } else {
            (0.0, 1)
        };
        let elapsed = now_s.saturating_sub(start_s).max(0) as u64;
        let eta = if elapsed == 0 {
            1
        } else {
            // Redis's integer estimate: elapsed * remaining / (loaded + 1).
            (elapsed as u128 * remaining as u128 / (loaded as u128 + 1)).min(i64::MAX as u128)
                as i64
        };
        use std::fmt::Write;
        let _ = write!(
            out,
            "loading_start_time:{start_s}\r\n\
             loading_total_bytes:{total}\r\n\
             loading_rdb_used_mem:0\r\n\
             loading_loaded_bytes:{loaded}\r\n\
             loading_loaded_perc:{perc:.2}\r\n\
             loading_eta_seconds:{eta}\r\n"
        );
    }
}

/// Redis's `debugDelay`, the pause `key-load-delay` asks for after each loaded key: a positive
/// value is microseconds; a negative `-n` means a 1 µs sleep once every `n` times on average.
/// Returns the microseconds to sleep now.
pub fn delay_us(setting: i64) -> u64 {
    if setting >= 0 {
        return setting as u64;
    }
    let n = setting.unsigned_abs();
    u64::from(rand::random_range(0..n) == 0)
}

/// The statistics the replay counts into, or the clients' ones set aside while it runs.
struct Accounts {
    stats: Stats,
    slowlog: SlowLog,
    latency: LatencyMonitor,
}

impl Accounts {
    fn swap(&mut self, state: &mut State) {
        std::mem::swap(&mut self.stats, &mut state.stats);
        std::mem::swap(&mut self.slowlog, &mut state.slowlog);
        std::mem::swap(&mut self.latency, &mut state.latency);
    }
}

/// How the loader holds the keyspace: a lock guard it can hand over (start-up), or the state
/// of a command that holds the lock for its whole run (DEBUG LOADAOF), which cannot.
pub trait Held {
    fn state(&mut self) -> &mut State;
    /// Runs `f` with the lock released, if it can be.
    fn unlocked(&mut self, f: impl FnOnce());
    /// Lets waiting clients take the lock for a moment, if it can.
    fn bump(&mut self);
}

impl Held for MutexGuard<'_, State> {
    fn state(&mut self) -> &mut State {
        self
    }

    fn unlocked(&mut self, f: impl FnOnce()) {
        MutexGuard::unlocked(self, f);
    }

    fn bump(&mut self) {
        MutexGuard::bump(self);
    }
}

impl Held for &mut State {
    fn state(&mut self) -> &mut State {
        self
    }

    fn unlocked(&mut self, f: impl FnOnce()) {
        f();
    }

    fn bump(&mut self) {}
}

/// The loader's side of the loading state: progress, the progress log, `key-load-delay`,
/// the hand-overs of the keyspace lock and the stop request.
pub struct Pacer<'a> {
    loading: &'a Loading,
    key_load_delay: &'a AtomicI64,
    /// While replaying: the clients' statistics; while clients hold the lock: the replay's.
    aside: Accounts,
    since_checkpoint: u32,
    /// Bytes of the files before the one being replayed.
    base: u64,
    last_log: Instant,
}

impl<'a> Pacer<'a> {
    /// Starts pacing a replay of `total` bytes; the replay's statistics start empty.
    pub fn new(
        loading: &'a Loading,
        key_load_delay: &'a AtomicI64,
        state: &mut State,
        total: u64,
    ) -> Pacer<'a> {
        loading.set_total(total);
        loading.set_loaded(0);
        let mut aside = Accounts {
            stats: Stats {
                latency_tracking: state.stats.latency_tracking,
                ..Stats::default()
            },
            slowlog: SlowLog::default(),
            latency: LatencyMonitor::default(),
        };
        aside.swap(state);
        Pacer {
            loading,
            key_load_delay,
            aside,
            since_checkpoint: 0,
            base: 0,
            last_log: Instant::now(),
        }
    }

    /// The next file starts after `bytes` bytes of the ones before it.
    pub fn next_file(&mut self, bytes: u64) {
        self.base = bytes;
        self.loading.set_loaded(bytes);
    }

    /// After each replayed command, which ended at `offset` in the current file: sleeps for
    /// `key-load-delay` and hands the lock over at checkpoints. An error when a shutdown asks
    /// the loader to stop.
    pub fn after_command(&mut self, held: &mut impl Held, offset: u64) -> Result<(), String> {
        let delay = self.key_load_delay.load(Ordering::Relaxed);
        if delay != 0 {
            let us = delay_us(delay);
            if us > 0 {
                self.loading.set_loaded(self.base.saturating_add(offset));
                self.aside.swap(held.state());
                held.unlocked(|| std::thread::sleep(Duration::from_micros(us)));
                self.aside.swap(held.state());
                self.check_stop()?;
            }
        }
        self.since_checkpoint += 1;
        if self.since_checkpoint < CHECKPOINT_COMMANDS {
            return Ok(());
        }
        self.since_checkpoint = 0;
        let loaded = self.base.saturating_add(offset);
        self.loading.set_loaded(loaded);
        if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let total = self.loading.total();
            let perc = if total > 0 {
                loaded as f64 / total as f64 * 100.0
            } else {
                0.0
            };
            log::notice(&format!(
                "Loading the dataset: {loaded} of {total} bytes ({perc:.2}%)"
            ));
        }
        self.check_stop()?;
        self.aside.swap(held.state());
        held.bump();
        self.aside.swap(held.state());
        Ok(())
    }

    fn check_stop(&self) -> Result<(), String> {
        if self.loading.stop_requested() {
            return Err("Loading stopped: the server is shutting down".into());
        }
        Ok(())
    }

    /// The replay is over: the clients' statistics are the server's again, and what the
    /// replay counted is dropped.
    pub fn finish(mut self, state: &mut State) {
        self.aside.swap(state);
        self.loading.set_loaded(self.loading.total());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(loading: &Loading, now_s: i64) -> String {
        let mut out = String::new();
        loading.write_info(&mut out, now_s);
        out
    }

    #[test]
    fn info_fields_as_redis_formats_them() {
        let loading = Loading::default();
        loading.begin(1000);
        loading.set_total(987_654_321);
        loading.set_loaded(123_456_789);
        assert_eq!(
            info(&loading, 1000),
            "loading_start_time:1000\r\nloading_total_bytes:987654321\r\n\
             loading_rdb_used_mem:0\r\nloading_loaded_bytes:123456789\r\n\
             loading_loaded_perc:12.50\r\nloading_eta_seconds:1\r\n"
        );
        // 10 s for an eighth: 70 s to go (elapsed * remaining / (loaded + 1), in integers).
        assert!(info(&loading, 1010).ends_with("loading_eta_seconds:70\r\n"));
        loading.set_total(0);
        loading.set_loaded(0);
        let empty = info(&loading, 1002);
        assert!(empty.contains("loading_loaded_perc:0.00\r\n"), "{empty}");
        assert!(empty.ends_with("loading_eta_seconds:2\r\n"), "{empty}");
    }

    #[test]
    fn negative_delays_sleep_a_microsecond_now_and_then() {
        assert_eq!(delay_us(0), 0);
        assert_eq!(delay_us(250), 250);
        assert_eq!(delay_us(-1), 1);
        let slept: u64 = (0..10_000).map(|_| delay_us(-10)).sum();
        assert!((500..2000).contains(&slept), "{slept}");
        assert!(delay_us(i64::from(i32::MIN)) <= 1);
    }

    #[test]
    fn stop_request_and_flags() {
        let loading = Loading::default();
        assert!(!loading.is_active());
        loading.begin(1);
        assert!(loading.is_active());
        loading.request_stop();
        assert!(loading.stop_requested());
        loading.finish();
        assert!(!loading.is_active());
        loading.begin(2);
        assert!(!loading.stop_requested(), "a new load starts afresh");
    }
}
