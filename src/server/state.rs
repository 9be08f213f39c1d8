//! What lives under the keyspace lock besides the keyspace: statistics, the slow log, the
//! latency monitor, the effects buffer. One lock acquisition covers a whole pipeline batch.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::commands::propagate::Effects;
use crate::error::Error;
use crate::keyspace::Store;
use crate::server::Server;
use crate::server::client::Client;

pub struct State {
    pub store: Store,
    pub stats: Stats,
    pub slowlog: SlowLog,
    pub latency: LatencyMonitor,
    /// Per db, the estimated average time to live of keys with an expiry, in milliseconds
    /// (INFO keyspace `avg_ttl`), refreshed by the cron from samples as Redis does.
    pub avg_ttl_ms: Vec<i64>,
    /// What the writes changed, encoded for the append-only file (filled only while
    /// propagation is enabled).
    pub effects: Effects,
    /// Clients blocked on keys (BLPOP & co.) and the keys ready to serve them.
    pub blocking: crate::commands::blocking::Registry,
    /// `maxmemory` and the eviction pool.
    pub eviction: crate::server::evict::Eviction,
    /// ACL users and the ACL log.
    pub acl: crate::acl::Acl,
}

impl State {
    pub fn new(databases: usize) -> Self {
        State {
            store: Store::new(databases),
            stats: Stats::default(),
            slowlog: SlowLog::default(),
            latency: LatencyMonitor::default(),
            avg_ttl_ms: vec![0; databases],
            effects: Effects::default(),
            blocking: Default::default(),
            eviction: Default::default(),
            acl: Default::default(),
        }
    }

    /// Samples keys of each db with an expiry and folds their mean remaining TTL into the
    /// db's running estimate (each sample weighs 2%, as in Redis's expire cycle).
    pub fn sample_avg_ttl(&mut self, now_ms: i64, rng: &mut impl rand::Rng) {
        const SAMPLES: usize = 20;
        for (index, db) in self.store.dbs.iter().enumerate() {
            let Some(avg) = self.avg_ttl_ms.get_mut(index) else {
                continue;
            };
            if db.data.expires_len() == 0 {
                *avg = 0;
                continue;
            }
            let (mut sum, mut count) = (0i64, 0i64);
            for _ in 0..SAMPLES {
                if let Some(entry) = db.data.random(rng)
                    && entry.expire_at_ms != crate::keyspace::NO_EXPIRY
                    && entry.expire_at_ms > now_ms
                {
                    sum = sum.saturating_add(entry.expire_at_ms - now_ms);
                    count += 1;
                }
            }
            if count > 0 {
                let sample = sum / count;
                *avg = if *avg == 0 {
                    sample
                } else {
                    (*avg / 50) * 49 + sample / 50
                };
            }
        }
    }

    /// Counts the keys that expired (lazily or in the background cycle) since the last call
    /// and records each deletion as an effect (`DEL key`, or `UNLINK key` with
    /// `lazyfree-lazy-expire yes`, in the key's db).
    pub fn drain_expired(&mut self) {
        for (index, db) in self.store.dbs.iter_mut().enumerate() {
            if !db.expired_keys.is_empty() {
                self.stats.expired_keys += db.expired_keys.len() as u64;
                if self.effects.is_enabled() {
                    let delete = self.effects.expired_delete_command();
                    for key in &db.expired_keys {
                        self.effects.push(index, &[delete, &key[..]]);
                    }
                }
                db.expired_keys.clear();
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Call durations (`latency-tracking`), for INFO latencystats and LATENCY HISTOGRAM.
    pub latency: Option<LatencyHistogram>,
}

#[derive(Debug, Default)]
pub struct Stats {
    /// By command name; subcommands under their `container|sub` name.
    /// Per command name; hashed (the hot path updates it per call), sorted only when shown.
    pub commands:
        std::collections::HashMap<&'static str, CommandStats, foldhash::fast::RandomState>,
    /// Error replies by their first word (`ERR`, `WRONGTYPE`, ...).
    pub errors: BTreeMap<String, u64>,
    pub total_commands: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Keys evicted to stay under `maxmemory`.
    pub evicted_keys: u64,
    /// Since when the memory has been over `maxmemory` (eviction failing or still running),
    /// and the time spent so over before that.
    pub eviction_exceeded_since: Option<std::time::Instant>,
    pub eviction_exceeded_total_us: u64,
    pub total_error_replies: u64,
    /// Mirrors `latency-tracking`.
    pub latency_tracking: bool,
}

/// Redis stops counting new error codes past this many (`ERRORSTATS_LIMIT`).
const ERROR_CODES_MAX: usize = 128;

impl Stats {
    /// The command statistics sorted by name, for INFO.
    pub fn commands_sorted(&self) -> Vec<(&'static str, &CommandStats)> {
        let mut all: Vec<_> = self.commands.iter().map(|(k, v)| (*k, v)).collect();
        all.sort_unstable_by_key(|(name, _)| *name);
        all
    }

    pub fn record_call(&mut self, name: &'static str, usec: u64, failed: bool) {
        let tracking = self.latency_tracking;
        let entry = self.commands.entry(name).or_default();
        entry.calls += 1;
        entry.usec += usec;
        if failed {
            entry.failed_calls += 1;
        }
        if tracking {
            entry
                .latency
                .get_or_insert_with(LatencyHistogram::default)
                .record_ns(usec.saturating_mul(1000));
        }
        self.total_commands += 1;
    }

    pub fn rejected_call(&mut self, name: Option<&'static str>, err: &Error) {
        if let Some(name) = name {
            self.commands.entry(name).or_default().rejected_calls += 1;
        }
        self.record_error(err.text().split(' ').next().unwrap_or("ERR"));
    }

    pub fn record_error(&mut self, code: &str) {
        self.total_error_replies += 1;
        if self.errors.len() >= ERROR_CODES_MAX && !self.errors.contains_key(code) {
            return;
        }
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats {
            latency_tracking: self.latency_tracking,
            ..Stats::default()
        };
    }
}

/// A log-linear histogram of durations in nanoseconds: 32 linear sub-buckets per power of
/// two (about 3% resolution), from 1 ns to 1 s as Redis tracks command latency.
#[derive(Debug, Default, Clone)]
pub struct LatencyHistogram {
    buckets: BTreeMap<u16, u64>,
    pub total: u64,
}

const SUB_BUCKET_BITS: u32 = 5;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
const LATENCY_MAX_NS: u64 = 1_000_000_000;

impl LatencyHistogram {
    pub fn record_ns(&mut self, ns: u64) {
        let ns = ns.clamp(1, LATENCY_MAX_NS);
        *self.buckets.entry(Self::index(ns)).or_default() += 1;
        self.total += 1;
    }

    fn index(v: u64) -> u16 {
        if v < SUB_BUCKETS {
            return v as u16;
        }
        let magnitude = 63 - v.leading_zeros();
        let shift = magnitude - SUB_BUCKET_BITS;
        let sub = (v >> shift) & (SUB_BUCKETS - 1);
        ((magnitude - SUB_BUCKET_BITS + 1) as u64 * SUB_BUCKETS + sub) as u16
    }

    /// The largest value that falls into bucket `index`.
    fn highest(index: u16) -> u64 {
        let index = index as u64;
        if index < SUB_BUCKETS {
            return index;
        }
        let magnitude = (index / SUB_BUCKETS) as u32 + SUB_BUCKET_BITS - 1;
        let shift = magnitude - SUB_BUCKET_BITS;
        let sub = index % SUB_BUCKETS;
        ((SUB_BUCKETS + sub) << shift) + ((1u64 << shift) - 1)
    }

    /// The value at `percentile` (0–100), in nanoseconds, as the highest value of the bucket
    /// that holds it.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let wanted = ((percentile / 100.0) * self.total as f64).round().max(1.0) as u64;
        let mut seen = 0;
        for (&index, &count) in &self.buckets {
            seen += count;
            if seen >= wanted {
                return Self::highest(index);
            }
        }
        self.buckets.keys().last().map_or(0, |&i| Self::highest(i))
    }

    /// LATENCY HISTOGRAM's cumulative distribution: `(bucket upper bound in µs, calls at or
    /// below it)` for power-of-two buckets from 1024 ns, only where the count grows.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut bound: u64 = 1024;
        let mut seen = 0;
        let mut previous = 0;
        let mut buckets = self.buckets.iter().peekable();
        while seen < self.total {
            while let Some(&(&index, &count)) = buckets.peek() {
                if Self::highest(index) > bound {
                    break;
                }
                seen += count;
                buckets.next();
            }
            if seen > previous {
                out.push((bound / 1000, seen));
                previous = seen;
            }
            match bound.checked_mul(2) {
                Some(next) => bound = next,
                None => break,
            }
        }
        out
    }
}

/// Samples per latency event (Redis's `LATENCY_TS_LEN`).
const LATENCY_SAMPLES: usize = 160;

/// One latency event's time series: the worst latency of each second it occurred in.
#[derive(Debug, Clone)]
pub struct LatencySeries {
    /// `(unix seconds, milliseconds)`, oldest first, at most [`LATENCY_SAMPLES`].
    pub samples: VecDeque<(i64, u64)>,
    /// The worst latency ever seen.
    pub max: u64,
}

/// The latency monitor (`latency-monitor-threshold`): events such as `command`,
/// `fast-command` and `expire-cycle` that took at least the threshold.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, LatencySeries>,
}

impl LatencyMonitor {
    pub fn add_sample(&mut self, event: &str, ms: u64, now_s: i64) {
        let series = self
            .events
            .entry(event.to_string())
            .or_insert_with(|| LatencySeries {
                samples: VecDeque::new(),
                max: 0,
            });
        series.max = series.max.max(ms);
        if let Some(last) = series.samples.back_mut()
            && last.0 == now_s
        {
            last.1 = last.1.max(ms);
            return;
        }
        if series.samples.len() == LATENCY_SAMPLES {
            series.samples.pop_front();
        }
        series.samples.push_back((now_s, ms));
    }

    /// Removes `event` (any case), or every event; returns how many were removed.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match event {
            None => self.events.clear(),
            Some(name) => self
                .events
                .retain(|e, _| !e.as_bytes().eq_ignore_ascii_case(name)),
        }
        before - self.events.len()
    }
}

#[derive(Debug, Clone)]
pub struct SlowLogEntry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub peer: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: VecDeque<SlowLogEntry>,
    pub next_id: u64,
}

/// Slow log entries keep at most this many arguments and this many bytes of each (Redis's
/// `SLOWLOG_ENTRY_MAX_ARGC` / `SLOWLOG_ENTRY_MAX_STRING`).
const SLOWLOG_ARGS_MAX: usize = 32;
const SLOWLOG_ARG_BYTES_MAX: usize = 128;

impl SlowLog {
    pub fn maybe_record(
        &mut self,
        server: &Server,
        client: &Client,
        args: &[Bytes],
        duration_us: u64,
    ) {
        let threshold = server.limits.slowlog_slower_than_us();
        if threshold < 0 || duration_us < threshold as u64 {
            return;
        }
        let max_len = server.limits.slowlog_max_len();
        let mut kept: Vec<Bytes> = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            if i == SLOWLOG_ARGS_MAX - 1 && args.len() > SLOWLOG_ARGS_MAX {
                kept.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    args.len() - i
                )));
                break;
            }
            if arg.len() > SLOWLOG_ARG_BYTES_MAX {
                let mut text = arg[..SLOWLOG_ARG_BYTES_MAX].to_vec();
                text.extend_from_slice(
                    format!("... ({} more bytes)", arg.len() - SLOWLOG_ARG_BYTES_MAX).as_bytes(),
                );
                kept.push(Bytes::from(text));
            } else {
                kept.push(arg.clone());
            }
        }
        self.entries.push_front(SlowLogEntry {
            id: self.next_id,
            time_s: crate::util::now_ms() / 1000,
            duration_us,
            args: kept,
            peer: client.addr.clone(),
            name: client.name_string(),
        });
        self.next_id += 1;
        while self.entries.len() > max_len {
            self.entries.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_cover_values() {
        for v in [1u64, 31, 32, 33, 1000, 1023, 1024, 123_456, 999_999_999] {
            let i = LatencyHistogram::index(v);
            let high = LatencyHistogram::highest(i);
            assert!(high >= v, "{v} {high}");
            assert!(high - v <= v / 16 + 1, "{v} {high}");
            if i > 0 {
                assert!(LatencyHistogram::highest(i - 1) < v, "{v}");
            }
        }
        let mut h = LatencyHistogram::default();
        for us in [1u64, 1, 3, 100] {
            h.record_ns(us * 1000);
        }
        assert_eq!(h.cumulative_usec(), vec![(1, 2), (4, 3), (131, 4)]);
        assert_eq!(
            h.value_at_percentile(50.0),
            LatencyHistogram::highest(LatencyHistogram::index(1000))
        );
        assert!(h.value_at_percentile(100.0) >= 100_000);
    }

    #[test]
    fn latency_series_keeps_the_worst_of_each_second() {
        let mut m = LatencyMonitor::default();
        m.add_sample("command", 5, 100);
        m.add_sample("command", 9, 100);
        m.add_sample("command", 2, 101);
        let series = &m.events["command"];
        assert_eq!(series.samples, VecDeque::from(vec![(100, 9), (101, 2)]));
        assert_eq!(series.max, 9);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 0);
    }
}
