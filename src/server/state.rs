//! What lives under the keyspace lock besides the keyspace: statistics, the slow log, the
//! latency monitor. One lock acquisition covers a whole pipeline batch.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::error::Error;
use crate::keyspace::Store;
use crate::server::Server;
use crate::server::client::Client;

pub struct State {
    pub store: Store,
    pub stats: Stats,
    pub slowlog: SlowLog,
}

impl State {
    pub fn new(databases: usize) -> Self {
        State {
            store: Store::new(databases),
            stats: Stats::default(),
            slowlog: SlowLog::default(),
        }
    }

    /// Counts keys that expired during the last command. With the AOF (#3) these are also the
    /// `DEL` records to log.
    pub fn drain_expired(&mut self) {
        for db in &mut self.store.dbs {
            if !db.expired_keys.is_empty() {
                self.stats.expired_keys += db.expired_keys.len() as u64;
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
}

#[derive(Debug, Default)]
pub struct Stats {
    pub commands: BTreeMap<&'static str, CommandStats>,
    pub errors: BTreeMap<String, u64>,
    pub total_commands: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
}

impl Stats {
    pub fn record_call(&mut self, name: &'static str, usec: u64, failed: bool) {
        let entry = self.commands.entry(name).or_default();
        entry.calls += 1;
        entry.usec += usec;
        if failed {
            entry.failed_calls += 1;
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
        // Redis caps the table at 128 distinct codes.
        if self.errors.len() >= 128 && !self.errors.contains_key(code) {
            return;
        }
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    pub fn reset(&mut self) {
        *self = Stats::default();
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
