//! Persistence: the files that keep acknowledged writes across restarts.
//!
//! kopi's data directory is interchangeable with Redis 7.0's: the append-only file is Redis's
//! multi-part layout (`appendonlydir/appendonly.aof.manifest` naming one base file and the
//! incremental files that follow it), with the same names, sequence numbers and manifest bytes.
//!
//! - [`fs`]: the storage primitives every durable file goes through, written once: create a
//!   file that cannot collide or follow a symlink, replace a file atomically and durably
//!   (temp → write → fsync → rename → fsync the directory), open for appending, fdatasync;
//!   behind a small [`fs::Storage`] trait so tests can fail any step.
//! - [`manifest`]: the manifest itself: parsing with Redis's exact acceptance rules and error
//!   messages, byte-identical serialization, file naming, and the changes the AOF makes to it
//!   (new incr file, committed rewrite, dropped history, upgrade from a single old-style file).
//! - [`aof_reader`]: the streaming reader of AOF command files (RESP arrays and `#TS:`
//!   annotations), reporting clean ends, torn tails and corruption with Redis's offsets.
//! - [`check_aof`]: `kopi-check-aof`, a drop-in for `redis-check-aof` 7.0 (same report,
//!   verdicts, exit codes and `--fix` results), built on the manifest parser and the reader.
//! - [`inspect_aof`]: `kopi-check-aof inspect` (the log as lines a person reads, filtered,
//!   and followed as it grows) and `kopi-check-aof stats` (per-command figures, and what a
//!   rewrite would save, measured by replaying the log).
//! - [`aof`]: the writer, the durability contract, and loading at start-up.
//! - [`power_loss`]: a [`fs::Storage`] that simulates a power cut (what was written but not
//!   synced, or renamed but not dir-synced, is lost), for tests and the simulator.
//! - [`rdb`]: the RDB format: the writer snapshots and DUMP use, and the reader for files and
//!   RESTORE payloads written by any Redis version (streams and modules excepted).
//! - [`snapshot`]: RDB snapshots: SAVE, BGSAVE (forkless, on the rewrite's cut), the `save`
//!   points, `dump.rdb` at start-up and shutdown, RDB files as AOF bases.
//! - [`check_rdb`]: `kopi-check-rdb`, `redis-check-rdb`'s report on an RDB file (with key
//!   counts per type and per db), read through [`rdb`]'s reader.
//! - [`loading`]: the loading state clients see meanwhile (`-LOADING`, INFO's progress,
//!   `key-load-delay`).

pub mod aof;
pub mod aof_reader;
pub mod check_aof;
pub mod check_rdb;
#[cfg(test)]
mod fault_matrix;
pub mod fs;
pub mod inspect_aof;
pub mod loading;
pub mod manifest;
pub mod power_loss;
pub mod rdb;
pub mod snapshot;
