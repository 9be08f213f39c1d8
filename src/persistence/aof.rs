//! The append-only file writer and the durability contract.
//!
//! With `appendonly yes` every write records its effects into the effects buffer in
//! [`State`](crate::server::state::State) under the keyspace lock (see
//! [`crate::commands::propagate`]); each byte of that stream has a log sequence number (LSN).
//! One writer thread drains everything pending, from all connections, with one `write(2)`
//! (group commit) and publishes `written_lsn`; under `appendfsync always` it then fdatasyncs
//! the group and publishes `synced_lsn`. Under `everysec` a second thread fdatasyncs once a
//! second, so no reply ever waits for an fsync; under `no` nothing is synced before shutdown.
//!
//! A connection whose batch advanced the LSN holds its replies until `written_lsn`
//! (`everysec`, `no`) or `synced_lsn` (`always`) covers the LSN at the end of its batch
//! ([`Aof::wait_durable`]). A batch that wrote nothing never waits.
//!
//! A failed write poisons the file: what was written of the group is cut off again
//! (`ftruncate` back to the last complete group), the group stays in memory and is retried
//! once a second, replies that need it keep waiting, and new writes are refused with
//! `-MISCONF` until a retry succeeds. A failed fdatasync under `always` ends the process, as
//! in Redis (the kernel may have dropped the dirty pages: retrying and believing it is the
//! fsyncgate mistake); under `everysec` it is reported and refuses writes from then on.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::fs::{self as pfs, OsStorage, Storage};
use bytes::Bytes;

use super::aof_reader::{AofReader, End, Event, ReadError, ReadOptions, truncate_file};
use super::loading::{Held, Pacer};
use super::manifest::{AppendFilename, BaseFormat, FileKind, LastIncr, Manifest, file_path};
use super::rdb;
use crate::commands;
use crate::keyspace::cut::{CutId, Progress};
use crate::keyspace::{Entry, NO_EXPIRY};
use crate::protocol::reply::{Protocol, Reply};
use crate::server::Server;
use crate::server::client::{CLIENT_ID_AOF, Client, ClientHandle, Peer};
use crate::server::log;
use crate::server::state::State;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    pub fn parse(text: &str) -> Fsync {
        match text {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::Everysec,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Fsync::Everysec => 0,
            Fsync::Always => 1,
            Fsync::No => 2,
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            1 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

/// How long the writer sleeps when nobody wakes it: background expiries are drained at least
/// this often, and a failed write is retried at this pace.
const IDLE_WAKE: Duration = Duration::from_millis(100);
/// A failed write is retried after this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The running AOF: what connections, INFO and CONFIG SET see of the writer.
pub struct Aof {
    written: watch::Sender<u64>,
    synced: watch::Sender<u64>,
    policy: AtomicU8,
    /// The writer has something to do (or must stop).
    kick: Mutex<Kick>,
    kicked: Condvar,
    /// The everysec fsync thread's own wake-up (only a stop wakes it early): sharing `kicked`
    /// would wake it on every write.
    stopping: Condvar,
    /// `strerror` of the write or fsync error in force; `None` when writes are accepted.
    error: Mutex<Option<String>>,
    error_flag: AtomicBool,
    /// `aof_current_size`: the base and incr files' bytes.
    current_size: AtomicU64,
    /// `aof_base_size`.
    base_size: AtomicU64,
    /// The size auto rewrite measures growth from (Redis's `aof_rewrite_base_size`).
    rewrite_base_size: AtomicU64,
    /// An everysec fdatasync is running (`aof_pending_bio_fsync`).
    fsync_pending: AtomicBool,
    /// An fdatasync of the incr file failed: the kernel may have dropped its dirty pages, so
    /// the file is not trusted again; writes are refused until a rewrite from memory commits a
    /// new base (which holds everything) and clears this.
    fsync_failed: AtomicBool,
    /// `no-appendfsync-on-rewrite`: the everysec fsync pauses while a rewrite runs.
    no_fsync_on_rewrite: AtomicBool,
    /// `aof-disable-auto-gc`: history files stay (listed as `type h`) after a rewrite.
    auto_gc_disabled: AtomicBool,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds the writer sleeps before each write (Redis's
    /// tests use it to check that no reply overtakes its record).
    flush_sleep_us: AtomicU64,
    /// fdatasyncs of incr files, the last one's and the slowest one's duration (INFO).
    fsyncs: AtomicU64,
    fsync_last_us: AtomicU64,
    fsync_max_us: AtomicU64,
    /// Bytes the writer holds in its buffers (records taken, not yet written, and the
    /// space kept for the next ones): with the effects buffer, the AOF buffer that
    /// `maxmemory` does not count.
    held_bytes: AtomicU64,
    /// The incr file being appended to, and what is being written to it.
    sink: Mutex<Sink>,
    /// A descriptor of the same incr file for the everysec fsync thread.
    sync_file: Mutex<Arc<File>>,
    /// A move to a new incr file at a snapshot's cut, posted under the keyspace lock and
    /// taken by the writer under it.
    switch: Mutex<Option<Switch>>,
    dir: PathBuf,
    filename: AppendFilename,
    /// The manifest as last persisted.
    manifest: Mutex<Manifest>,
    /// The rewrite thread's orders and state.
    rewrite: Mutex<RewriteControl>,
    rewrite_wake: Condvar,
    /// `aof_rewrite_in_progress`: set when a rewrite is ordered, cleared when it ends.
    rewriting: AtomicBool,
    /// Unix ms when the rewrite in progress started (`aof_current_rewrite_time_sec`).
    rewrite_started_ms: AtomicU64,
    /// Waiting for the first rewrite after `CONFIG SET appendonly yes`: the records go to a
    /// temporary incr file that only that rewrite makes part of the AOF.
    initial: AtomicBool,
    /// `aof_rewrites`, `aof_last_bgrewrite_status`, `aof_last_rewrite_time_sec`,
    /// `aof_rewrites_consecutive_failures`.
    rewrites: AtomicU64,
    last_rewrite_ok: AtomicBool,
    last_rewrite_ms: AtomicU64,
    consecutive_failures: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The rewrite thread, stopped before the writer (it may still post a switch).
    rewriter: Mutex<Option<JoinHandle<()>>>,
    /// The writer's and the rewrite's file operations go through this (a fault-injecting or
    /// power-loss-simulating one in tests).
    storage: Arc<dyn Storage>,
}

/// The writer's side: the incr file and the group being written to it.
struct Sink {
    file: File,
    path: PathBuf,
    /// Bytes in the file after the last complete group: a failed write is cut back to it.
    size: u64,
    /// Taken from the effects buffer, not yet written (kept across a failed write).
    group: Vec<u8>,
    /// A switch taken from [`Aof::switch`]: once `group` (everything before the cut) is
    /// written, the writer moves to its file.
    next: Option<Switch>,
    /// Records after the cut, held until the switch is done.
    after: Vec<u8>,
    failed_at: Option<Instant>,
}

/// A new incr file and where the records for it begin.
struct Switch {
    file: File,
    path: PathBuf,
    /// The records before the cut that the writer had not taken yet: they go to the old file.
    tail: Vec<u8>,
    /// The LSN at the cut.
    lsn: u64,
}

#[derive(Default)]
struct Kick {
    pending: bool,
    stop: bool,
}

#[derive(Default)]
struct RewriteControl {
    /// A rewrite is ordered (BGREWRITEAOF, auto rewrite, the first one after enabling).
    requested: bool,
    /// Ordered from inside MULTI/EXEC (`aof_rewrite_scheduled` until it starts).
    scheduled: bool,
    /// The cut of the next rewrite was already made (enabling at run time makes it), with
    /// this `#TS:` line for the base.
    cut_taken: Option<(CutId, BaseKind)>,
    /// Stop the rewrite in progress and the thread (appendonly no, shutdown).
    stop: bool,
    /// After repeated failures, automatic rewrites wait until then.
    not_before: Option<Instant>,
}

/// How BGREWRITEAOF's order was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum RewriteOrder {
    Started,
    Scheduled,
    AlreadyInProgress,
}

/// Serialized bytes per hold of the keyspace lock while a snapshot is written (the cut
/// resumes inside a shard, so this bounds the hold whatever the dataset's size): what a
/// client may wait behind the writer (docs/benchmarks.md).
const REWRITE_STEP_BYTES: usize = 8 * 1024;

/// With `rdb-save-incremental-fsync` / `aof-rewrite-incremental-fsync` (both on by default),
/// a snapshot's file is synced every this many bytes as it is written (Redis's
/// `REDIS_AUTOSYNC_BYTES`), so the page cache never holds much of it and the final sync is
/// short instead of one burst of writeback at the end.
const AUTOSYNC_BYTES: u64 = 4 * 1024 * 1024;

impl Aof {
    /// Bytes the writer holds in its buffers (INFO `mem_aof_buffer`, with the effects
    /// buffer; not counted against `maxmemory`).
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes.load(Ordering::Relaxed)
    }

    fn note_held(&self, sink: &Sink, fresh_capacity: usize) {
        let held = sink.group.capacity() + sink.after.capacity() + fresh_capacity;
        self.held_bytes.store(held as u64, Ordering::Relaxed);
    }

    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// `CONFIG SET aof-disable-auto-gc`: turning it off removes the history files at once.
    pub fn set_auto_gc_disabled(&self, disabled: bool) {
        let was = self.auto_gc_disabled.swap(disabled, Ordering::Relaxed);
        if was && !disabled {
            self.collect_history();
        }
    }

    /// Removes the history files the manifest lists, unless `aof-disable-auto-gc` keeps them.
    fn collect_history(&self) {
        if self.auto_gc_disabled.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut manifest) = self.manifest.lock()
            && let Err(e) = remove_history(&*self.storage, &self.dir, &self.filename, &mut manifest)
        {
            log::warning(&format!("Error persisting the AOF manifest: {e}"));
        }
    }

    /// DEBUG AOF-FLUSH-SLEEP.
    pub fn set_flush_sleep_us(&self, us: u64) {
        self.flush_sleep_us.store(us, Ordering::Relaxed);
    }

    /// `CONFIG SET no-appendfsync-on-rewrite`.
    pub fn set_no_fsync_on_rewrite(&self, on: bool) {
        self.no_fsync_on_rewrite.store(on, Ordering::Relaxed);
    }

    /// `CONFIG SET appendfsync`.
    pub fn set_policy(&self, policy: Fsync) {
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
        self.wake();
    }

    /// The error that refuses writes (`-MISCONF Errors writing to the AOF file: <this>`).
    pub fn write_error(&self) -> Option<String> {
        if !self.error_flag.load(Ordering::Relaxed) {
            return None;
        }
        self.error.lock().ok().and_then(|e| e.clone())
    }

    pub fn current_size(&self) -> u64 {
        self.current_size.load(Ordering::Relaxed)
    }

    pub fn base_size(&self) -> u64 {
        self.base_size.load(Ordering::Relaxed)
    }

    pub fn fsync_pending(&self) -> bool {
        self.fsync_pending.load(Ordering::Relaxed)
    }

    /// `aof_fsyncs`, `aof_fsync_last_usec`, `aof_fsync_max_usec`.
    pub fn fsync_stats(&self) -> (u64, u64, u64) {
        (
            self.fsyncs.load(Ordering::Relaxed),
            self.fsync_last_us.load(Ordering::Relaxed),
            self.fsync_max_us.load(Ordering::Relaxed),
        )
    }

    pub fn written_lsn(&self) -> u64 {
        *self.written.borrow()
    }

    pub fn synced_lsn(&self) -> u64 {
        *self.synced.borrow()
    }

    /// Tells the writer there are records to write.
    pub fn wake(&self) {
        if let Ok(mut kick) = self.kick.lock() {
            kick.pending = true;
        }
        self.kicked.notify_one();
    }

    /// Waits until the records up to `lsn` are as durable as `appendfsync` requires for a
    /// reply to leave. Returns false if the writer is gone (the server is stopping).
    pub async fn wait_durable(&self, lsn: u64) -> bool {
        self.wake();
        loop {
            let policy = self.policy();
            let mut rx = match policy {
                Fsync::Always => self.synced.subscribe(),
                _ => self.written.subscribe(),
            };
            // A change of policy while waiting re-evaluates which LSN counts.
            let done = tokio::select! {
                r = rx.wait_for(|&v| v >= lsn) => Some(r.is_ok()),
                _ = tokio::time::sleep(Duration::from_millis(200)) => None,
            };
            match done {
                Some(ok) => return ok,
                None if self.policy() != policy => continue,
                None => {}
            }
        }
    }

    pub fn rewrites(&self) -> u64 {
        self.rewrites.load(Ordering::Relaxed)
    }

    pub fn last_rewrite_ok(&self) -> bool {
        self.last_rewrite_ok.load(Ordering::Relaxed)
    }

    /// `aof_last_rewrite_time_sec`: -1 before the first rewrite.
    pub fn last_rewrite_s(&self) -> i64 {
        match self.last_rewrite_ms.load(Ordering::Relaxed) {
            u64::MAX => -1,
            ms => (ms / 1000) as i64,
        }
    }

    /// `aof_rewrite_in_progress`.
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewriting.load(Ordering::Relaxed)
    }

    /// `aof_rewrite_scheduled`.
    pub fn rewrite_scheduled(&self) -> bool {
        self.rewrite.lock().is_ok_and(|r| r.scheduled)
    }

    /// `aof_current_rewrite_time_sec`: -1 when no rewrite runs.
    pub fn current_rewrite_s(&self) -> i64 {
        match self.rewrite_started_ms.load(Ordering::Relaxed) {
            0 => -1,
            at => (crate::util::now_ms() - at as i64).max(0) / 1000,
        }
    }

    /// `aof_rewrites_consecutive_failures`.
    pub fn consecutive_failures(&self) -> u64 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Waiting for the first rewrite after `CONFIG SET appendonly yes`.
    pub fn waiting_for_first_rewrite(&self) -> bool {
        self.initial.load(Ordering::Relaxed)
    }

    /// BGREWRITEAOF: orders a rewrite from memory in the background. `in_transaction`: called
    /// inside MULTI/EXEC, where Redis only schedules it.
    pub fn order_rewrite(&self, in_transaction: bool) -> RewriteOrder {
        let Ok(mut control) = self.rewrite.lock() else {
            return RewriteOrder::AlreadyInProgress;
        };
        if self.rewriting.load(Ordering::Relaxed) && !control.scheduled {
            return RewriteOrder::AlreadyInProgress;
        }
        // A manual order runs at once, failures or not (as Redis's).
        control.not_before = None;
        control.requested = true;
        control.scheduled = in_transaction;
        self.rewriting.store(true, Ordering::Relaxed);
        drop(control);
        self.rewrite_wake.notify_all();
        if in_transaction {
            RewriteOrder::Scheduled
        } else {
            RewriteOrder::Started
        }
    }

    /// The automatic trigger (`auto-aof-rewrite-percentage`, `auto-aof-rewrite-min-size`),
    /// checked by the cron. Returns the growth in percent when it ordered a rewrite.
    pub fn check_auto_rewrite(&self, percentage: i64, min_size: i64) -> Option<u64> {
        if percentage <= 0 || self.rewriting.load(Ordering::Relaxed) {
            return None;
        }
        let current = self.current_size();
        if current <= min_size.max(0) as u64 {
            return None;
        }
        let base = self.rewrite_base_size.load(Ordering::Relaxed).max(1);
        let growth = (current.saturating_mul(100) / base).saturating_sub(100);
        if growth < percentage as u64 {
            return None;
        }
        let mut control = self.rewrite.lock().ok()?;
        if control.not_before.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        control.requested = true;
        self.rewriting.store(true, Ordering::Relaxed);
        drop(control);
        self.rewrite_wake.notify_all();
        Some(growth)
    }

    /// Writes everything recorded so far and syncs it, from a caller that holds the keyspace
    /// lock (`state`): `appendonly no`, DEBUG LOADAOF. Fails if the write does.
    pub fn flush_now(&self, state: &mut State) -> Result<(), String> {
        let mut fresh = Vec::new();
        let lsn = state.effects.take(&mut fresh);
        let switch = self.switch.lock().ok().and_then(|mut s| s.take());
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| "the AOF writer failed".to_string())?;
        accept(&mut sink, &mut fresh, switch);
        let sync = if self.policy() == Fsync::Always {
            SyncMode::Always
        } else {
            SyncMode::Stopping
        };
        if drain(self, &mut sink, lsn, sync) {
            Ok(())
        } else {
            Err(self
                .write_error()
                .unwrap_or_else(|| "the AOF write failed".into()))
        }
    }

    fn set_error(&self, text: Option<String>) {
        if let Ok(mut e) = self.error.lock() {
            *e = text;
            self.error_flag.store(e.is_some(), Ordering::Relaxed);
        }
    }

    /// Stops a rewrite in progress, writes and syncs what is pending and stops the threads
    /// (SHUTDOWN, SIGTERM, `CONFIG SET appendonly no`).
    pub fn shutdown(&self) {
        if let Ok(mut control) = self.rewrite.lock() {
            control.stop = true;
        }
        self.rewrite_wake.notify_all();
        let rewriter = self.rewriter.lock().ok().and_then(|mut r| r.take());
        if let Some(thread) = rewriter {
            let _ = thread.join();
        }
        if let Ok(mut kick) = self.kick.lock() {
            kick.stop = true;
        }
        self.kicked.notify_all();
        self.stopping.notify_all();
        let threads = match self.threads.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => Vec::new(),
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// The text of an OS error without Rust's ` (os error N)` suffix, as `strerror` gives it.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The AOF directory and file name from the configuration (`dir` is the working directory).
pub fn paths(server: &Server) -> Result<(PathBuf, AppendFilename), String> {
    let config = server.config.read();
    let dir = PathBuf::from(config.get("appenddirname"));
    let filename = AppendFilename::new(config.get("appendfilename").as_bytes().to_vec())
        .map_err(|e| format!("Invalid appendfilename: {e}"))?;
    Ok((dir, filename))
}

/// Makes sure the AOF directory has a manifest with a base and an incr file, creating them
/// for a fresh start (an empty RESP base), and returns it.
pub fn prepare_dir(dir: &Path, filename: &AppendFilename) -> Result<Manifest, String> {
    prepare_dir_with(dir, filename, &mut || Ok((BaseFormat::Aof, Vec::new())))
}

/// [`prepare_dir`], with the first base of a fresh start made by `first_base` (its format
/// and bytes).
pub fn prepare_dir_with(
    dir: &Path,
    filename: &AppendFilename,
    first_base: &mut dyn FnMut() -> Result<(BaseFormat, Vec<u8>), String>,
) -> Result<Manifest, String> {
    let storage = OsStorage;
    let mut manifest = Manifest::load(dir, filename)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    upgrade_single_file(dir, filename, &mut manifest)?;
    create_dir(dir)?;
    remove_temp_files(dir, &manifest);
    let mut changed = false;
    if manifest.base().is_none() && manifest.incrs().is_empty() {
        let (format, bytes) = first_base()?;
        let base = manifest
            .commit_rewrite(filename, format, LastIncr::Keep)
            .map_err(|e| e.to_string())?;
        let path = file_path(dir, &base.name);
        let fail = |e: io::Error| {
            format!(
                "Can't create the AOF base file {}: {}",
                path.display(),
                strerror(&e)
            )
        };
        let mut file = storage
            .create_new(&path, pfs::DATA_FILE_MODE)
            .map_err(fail)?;
        pfs::write_all(&storage, &mut file, &bytes).map_err(fail)?;
        storage.sync_all(&file).map_err(|e| strerror(&e))?;
        log::notice(&format!(
            "Creating AOF base file {} on server start",
            String::from_utf8_lossy(&base.name)
        ));
        changed = true;
    }
    if manifest.incrs().is_empty() {
        let incr = manifest
            .open_new_incr(filename)
            .map_err(|e| e.to_string())?;
        let path = file_path(dir, &incr.name);
        let file = storage.open_append(&path).map_err(|e| {
            format!(
                "Can't open the append-only file {}: {}",
                path.display(),
                strerror(&e)
            )
        })?;
        storage.sync_all(&file).map_err(|e| strerror(&e))?;
        log::notice(&format!(
            "Creating AOF incr file {} on server start",
            String::from_utf8_lossy(&incr.name)
        ));
        changed = true;
    }
    if changed {
        storage.sync_dir(dir).map_err(|e| strerror(&e))?;
        manifest
            .persist(&storage, dir, filename)
            .map_err(|e| e.to_string())?;
    }
    Ok(manifest)
}

/// Removes what an earlier run left behind under a `temp-` name (a base or incr file of a
/// rewrite that did not finish, a manifest not renamed into place): nothing names them, so
/// they could only ever be appended to or confused with a later run's.
fn remove_temp_files(dir: &Path, manifest: &Manifest) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        let listed = manifest
            .files_to_load()
            .chain(manifest.history().iter())
            .any(|f| f.name == bytes);
        if !bytes.starts_with(pfs::TEMP_PREFIX.as_bytes()) || listed {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            log::notice(&format!(
                "Removing the temporary file {} left by an earlier run",
                name.to_string_lossy()
            ));
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Creates the AOF directory if it is missing, durably (its parent is fsynced).
fn create_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "Can't create the AOF directory {}: {}",
            dir.display(),
            strerror(&e)
        )
    })?;
    pfs::fsync_dir(pfs::parent_dir(dir)).map_err(|e| strerror(&e))
}

/// What a snapshot is written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseKind {
    /// AOF commands after this header (a `#TS:` line, or nothing).
    Resp(Vec<u8>),
    /// An RDB file; `aof_base` is its `aof-base` AUX field (1 in an AOF's base).
    Rdb { aof_base: bool },
}

impl BaseKind {
    /// How each entry is serialized at the cut.
    pub fn entry_writer(&self) -> crate::keyspace::cut::EntryWriter {
        match self {
            BaseKind::Resp(_) => write_entry,
            BaseKind::Rdb { .. } => rdb::write_entry,
        }
    }

    /// The time a cut for this format is taken at, as far as deadlines go: a command base
    /// leaves out keys already past theirs (Redis's rewrite skips them), an RDB file keeps
    /// them (`rdbSaveRio` writes every key; loading counts and drops them).
    pub fn cut_time(&self, now_ms: i64) -> i64 {
        match self {
            BaseKind::Resp(_) => now_ms,
            BaseKind::Rdb { .. } => i64::MIN,
        }
    }

    /// The base file's format in the manifest (`.base.aof` or `.base.rdb`).
    pub fn format(&self) -> BaseFormat {
        match self {
            BaseKind::Resp(_) => BaseFormat::Aof,
            BaseKind::Rdb { .. } => BaseFormat::Rdb,
        }
    }
}

/// An AOF base made now: an RDB preamble with `aof-use-rdb-preamble yes` (Redis's default),
/// else AOF commands after the `#TS:` line, if any.
fn base_kind(state: &mut State, now_ms: i64, preamble: bool) -> BaseKind {
    if preamble {
        BaseKind::Rdb { aof_base: true }
    } else {
        BaseKind::Resp(base_header(state, now_ms))
    }
}

/// A new base's first line with `aof-timestamp-enabled` (`#TS:<unix seconds>`, as Redis's
/// rewrite writes it); the next record's annotation starts from this second.
fn base_header(state: &mut State, now_ms: i64) -> Vec<u8> {
    if !state.effects.timestamps_enabled() {
        return Vec::new();
    }
    let now_s = now_ms.div_euclid(1000);
    state.effects.note_timestamp(now_s);
    format!("#TS:{now_s}\r\n").into_bytes()
}

/// Moves a pre-7.0 single append-only file `<F>` (next to the AOF directory) into the
/// directory as its base, as Redis 7.0 does, when the directory does not exist, its manifest
/// lists nothing, or an earlier upgrade stopped after persisting the manifest. Each step can
/// be repeated after a crash: directory, manifest `file <F> seq 1 type b`, rename.
fn upgrade_single_file(
    dir: &Path,
    filename: &AppendFilename,
    manifest: &mut Manifest,
) -> Result<(), String> {
    let storage = OsStorage;
    let old = file_path(pfs::parent_dir(dir), filename.as_bytes());
    let moved = file_path(dir, filename.as_bytes());
    if !old.is_file() {
        return Ok(());
    }
    let interrupted = manifest
        .base()
        .is_some_and(|b| b.name == filename.as_bytes())
        && manifest.incrs().is_empty()
        && !moved.exists();
    if !(!dir.exists() || manifest.is_empty() || interrupted) {
        return Ok(());
    }
    create_dir(dir)?;
    manifest.upgrade_from_single_file(filename);
    manifest
        .persist(&storage, dir, filename)
        .map_err(|e| e.to_string())?;
    pfs::durable_rename(&storage, &old, &moved).map_err(|e| e.to_string())?;
    log::notice(&format!(
        "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
        String::from_utf8_lossy(filename.as_bytes()),
        dir.display()
    ));
    Ok(())
}

/// `appendonly yes` at start-up: prepare the AOF directory, load what it holds, start the
/// writer.
pub fn open_at_start(server: &Arc<Server>) -> Result<(), String> {
    let (dir, filename) = paths(server)?;
    let manifest = prepare_dir_with(&dir, &filename, &mut || first_base(server))?;
    let truncated_ok = server.config.read().get_bool("aof-load-truncated");
    load(server, &dir, &manifest, truncated_ok)?;
    let aof = start(server, &dir, &manifest)?;
    // History a crash left behind (after the manifest commit, before the removal).
    aof.collect_history();
    *server.aof_slot.write() = Some(aof);
    Ok(())
}

/// The first base of a new AOF directory. Empty, unless a `dump.rdb` is there: then it is
/// that dataset, so turning AOF on in the configuration loses nothing (Redis starts empty
/// here and the next rewrite drops the RDB's data: redis issue 12484).
fn first_base(server: &Server) -> Result<(BaseFormat, Vec<u8>), String> {
    let (preamble, databases) = {
        let config = server.config.read();
        (
            config.get_bool("aof-use-rdb-preamble"),
            config.get_i64("databases").max(1) as usize,
        )
    };
    let mut store = crate::keyspace::Store::new(databases);
    let dump = super::snapshot::dump_path(server);
    if dump.is_file() {
        let loaded = super::snapshot::load_into(&mut store, &dump)
            .map_err(|e| format!("Can't make {} the first AOF base: {e}", dump.display()))?;
        log::notice(&format!(
            "No AOF yet: the {} keys of {} become the first AOF base",
            loaded.keys,
            dump.display()
        ));
    }
    let now_ms = crate::util::now_ms();
    let kind = if preamble {
        BaseKind::Rdb { aof_base: true }
    } else {
        BaseKind::Resp(Vec::new())
    };
    // An empty dataset as commands is an empty file, as Redis's first base.
    Ok((
        kind.format(),
        super::snapshot::base_bytes(&store, now_ms, &kind),
    ))
}

/// Opens the last incr file for appending, enables the effects buffer and starts the writer.
pub fn start(server: &Arc<Server>, dir: &Path, manifest: &Manifest) -> Result<Arc<Aof>, String> {
    start_with_storage(server, dir, manifest, Arc::new(OsStorage))
}

/// [`start`], with the writer's writes and fsyncs going through `storage`.
pub fn start_with_storage(
    server: &Arc<Server>,
    dir: &Path,
    manifest: &Manifest,
    storage: Arc<dyn Storage>,
) -> Result<Arc<Aof>, String> {
    let (_, filename) = paths(server)?;
    let incr = manifest
        .last_incr()
        .ok_or_else(|| "The AOF manifest has no incr file".to_string())?;
    let incr_path = file_path(dir, &incr.name);
    let file = pfs::open_append(&incr_path).map_err(|e| {
        format!(
            "Can't open the append-only file {}: {}",
            incr_path.display(),
            strerror(&e)
        )
    })?;
    let incr_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut total = 0u64;
    let mut base_size = 0u64;
    for f in manifest.files_to_load() {
        let len = std::fs::metadata(file_path(dir, &f.name))
            .map(|m| m.len())
            .unwrap_or(0);
        total = total.saturating_add(len);
        if f.kind == FileKind::Base {
            base_size = len;
        }
    }
    let aof = {
        let mut state = server.state.lock();
        state.effects.set_enabled(true);
        let aof = build(
            server, &mut state, dir, filename, manifest, storage, file, incr_path,
        )?;
        drop(state);
        aof
    };
    aof.sink.lock().map_err(|_| "the AOF writer failed")?.size = incr_size;
    aof.current_size.store(total, Ordering::Relaxed);
    aof.base_size.store(base_size, Ordering::Relaxed);
    // As Redis since 7.0.4 (#10550): growth is measured from the base alone after a start.
    aof.rewrite_base_size.store(base_size, Ordering::Relaxed);
    spawn_threads(server, &aof)?;
    Ok(aof)
}

/// The [`Aof`] writing to `file`, with nothing written yet. The caller holds the keyspace
/// lock (`state`): the LSNs start where the effects buffer is.
#[allow(clippy::too_many_arguments)]
fn build(
    server: &Server,
    state: &mut State,
    dir: &Path,
    filename: AppendFilename,
    manifest: &Manifest,
    storage: Arc<dyn Storage>,
    file: File,
    path: PathBuf,
) -> Result<Arc<Aof>, String> {
    let policy = Fsync::parse(server.config.read().get("appendfsync"));
    let lsn = state.effects.lsn();
    let sync_file = Arc::new(
        file.try_clone()
            .map_err(|e| format!("Can't duplicate the AOF descriptor: {}", strerror(&e)))?,
    );
    Ok(Arc::new(Aof {
        written: watch::Sender::new(lsn),
        synced: watch::Sender::new(lsn),
        policy: AtomicU8::new(policy.to_u8()),
        kick: Mutex::new(Kick::default()),
        kicked: Condvar::new(),
        stopping: Condvar::new(),
        error: Mutex::new(None),
        error_flag: AtomicBool::new(false),
        current_size: AtomicU64::new(0),
        base_size: AtomicU64::new(0),
        rewrite_base_size: AtomicU64::new(0),
        fsync_pending: AtomicBool::new(false),
        fsync_failed: AtomicBool::new(false),
        no_fsync_on_rewrite: AtomicBool::new(
            server.config.read().get_bool("no-appendfsync-on-rewrite"),
        ),
        flush_sleep_us: AtomicU64::new(0),
        auto_gc_disabled: AtomicBool::new(server.config.read().get_bool("aof-disable-auto-gc")),
        fsyncs: AtomicU64::new(0),
        fsync_last_us: AtomicU64::new(0),
        fsync_max_us: AtomicU64::new(0),
        held_bytes: AtomicU64::new(0),
        sink: Mutex::new(Sink {
            file,
            path,
            size: 0,
            group: Vec::new(),
            next: None,
            after: Vec::new(),
            failed_at: None,
        }),
        sync_file: Mutex::new(sync_file),
        switch: Mutex::new(None),
        dir: dir.to_path_buf(),
        filename,
        manifest: Mutex::new(manifest.clone()),
        rewrite: Mutex::new(RewriteControl::default()),
        rewrite_wake: Condvar::new(),
        rewriting: AtomicBool::new(false),
        rewrite_started_ms: AtomicU64::new(0),
        initial: AtomicBool::new(false),
        rewrites: AtomicU64::new(0),
        last_rewrite_ok: AtomicBool::new(true),
        last_rewrite_ms: AtomicU64::new(u64::MAX),
        consecutive_failures: AtomicU64::new(0),
        threads: Mutex::new(Vec::new()),
        rewriter: Mutex::new(None),
        storage,
    }))
}

fn spawn_threads(server: &Arc<Server>, aof: &Arc<Aof>) -> Result<(), String> {
    let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(body)
            .map_err(|e| format!("Can't start the {name} thread: {e}"))
    };
    let writer = {
        let (server, aof) = (server.clone(), aof.clone());
        spawn("aof-writer", Box::new(move || writer_loop(&server, &aof)))?
    };
    let syncer = {
        let aof = aof.clone();
        spawn("aof-fsync", Box::new(move || fsync_loop(&aof)))?
    };
    let rewriter = {
        let (server, aof) = (server.clone(), aof.clone());
        spawn("aof-rewrite", Box::new(move || rewrite_loop(&server, &aof)))?
    };
    if let Ok(mut t) = aof.threads.lock() {
        t.push(writer);
        t.push(syncer);
    }
    if let Ok(mut r) = aof.rewriter.lock() {
        *r = Some(rewriter);
    }
    Ok(())
}

/// `CONFIG SET appendonly yes` (Redis's `startAppendOnly`), under the keyspace lock: from now
/// on records go to `temp-<F>.incr`; the first rewrite, ordered here with its cut made now,
/// writes the base and makes both part of the AOF (renamed into place, the manifest naming
/// them, every earlier file history). Until it succeeds the AOF is "waiting for the first
/// rewrite" and a restart would not load what was written since.
pub fn enable_at_runtime(server: &Arc<Server>, state: &mut State) -> Result<Arc<Aof>, String> {
    if offline_rewrite_in_progress() {
        return Err(
            "AOF can't be enabled while a rewrite ordered with AOF off is still running".into(),
        );
    }
    let (dir, filename) = paths(server)?;
    create_dir(&dir)?;
    let manifest = Manifest::load(&dir, &filename)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let storage: Arc<dyn Storage> = Arc::new(OsStorage);
    let path = file_path(&dir, &filename.temp_incr_name());
    let file = create_truncated(&*storage, &path)?;
    let aof = build(
        server, state, &dir, filename, &manifest, storage, file, path,
    )?;
    aof.initial.store(true, Ordering::Relaxed);
    state.effects.set_enabled(true);
    let now_ms = crate::util::now_ms();
    let kind = base_kind(
        state,
        now_ms,
        server.config.read().get_bool("aof-use-rdb-preamble"),
    );
    // The first base needs the one snapshot there is: a BGSAVE writing one is stopped and
    // runs again once the rewrite is over (Redis delays the AOF instead; either way both
    // happen).
    super::snapshot::yield_to_rewrite(server, state);
    let cut = state
        .store
        .begin_cut(kind.cut_time(now_ms), kind.entry_writer());
    if let Ok(mut control) = aof.rewrite.lock() {
        control.requested = true;
        control.cut_taken = Some((cut, kind));
    }
    aof.rewriting.store(true, Ordering::Relaxed);
    if let Err(e) = spawn_threads(server, &aof) {
        state.store.end_cut(cut);
        state.effects.set_enabled(false);
        return Err(e);
    }
    Ok(aof)
}

/// `CONFIG SET appendonly no` (Redis's `stopAppendOnly`), under the keyspace lock: what was
/// recorded is written and synced now, recording stops, a rewrite in progress is abandoned
/// and the threads end in the background. The files stay for a later start with AOF.
pub fn disable_at_runtime(aof: Arc<Aof>, state: &mut State) {
    state.effects.set_enabled(false);
    if let Err(e) = aof.flush_now(state) {
        log::warning(&format!("Error writing the AOF before turning it off: {e}"));
    }
    // The rewrite thread ends its cut when it sees the stop.
    if let Ok(mut control) = aof.rewrite.lock() {
        control.stop = true;
    }
    aof.rewrite_wake.notify_all();
    if aof.initial.load(Ordering::Relaxed)
        && let Ok(sink) = aof.sink.lock()
    {
        log::notice(&format!(
            "Removing the temp incr aof file {} in the background",
            sink.path.display()
        ));
        let _ = aof.storage.remove_file(&sink.path);
    }
    // Joining needs the keyspace lock the caller holds: done by a thread of its own.
    let joiner = std::thread::Builder::new()
        .name("aof-stop".into())
        .spawn(move || aof.shutdown());
    if let Err(e) = joiner {
        log::warning(&format!("Can't stop the AOF threads: {e}"));
    }
}

/// The writer thread: group commit of everything pending.
fn writer_loop(server: &Server, aof: &Aof) {
    let mut fresh: Vec<u8> = Vec::new();
    loop {
        let stop = {
            let Ok(mut kick) = aof.kick.lock() else {
                return;
            };
            if !kick.pending && !kick.stop {
                kick = match aof.kicked.wait_timeout(kick, IDLE_WAKE) {
                    Ok((k, _)) => k,
                    Err(_) => return,
                };
            }
            kick.pending = false;
            kick.stop
        };
        // The switch is taken in the same critical section as the records: whatever this
        // take holds comes after the switch's cut when there is one.
        let (lsn, switch) = {
            let mut state = server.state.lock();
            let lsn = state.effects.take(&mut fresh);
            (lsn, aof.switch.lock().ok().and_then(|mut s| s.take()))
        };
        let Ok(mut sink) = aof.sink.lock() else {
            return;
        };
        let sink = &mut *sink;
        accept(sink, &mut fresh, switch);
        if let Some(at) = sink.failed_at
            && at.elapsed() < RETRY_AFTER
            && !stop
        {
            continue;
        }
        let sync = if stop {
            SyncMode::Stopping
        } else if aof.policy() == Fsync::Always {
            SyncMode::Always
        } else {
            SyncMode::No
        };
        aof.note_held(sink, fresh.capacity());
        drain(aof, sink, lsn, sync);
        aof.note_held(sink, fresh.capacity());
        if stop {
            return;
        }
    }
}

/// Adds records taken from the effects buffer (and a switch taken with them) to the sink.
fn accept(sink: &mut Sink, fresh: &mut Vec<u8>, switch: Option<Switch>) {
    if let Some(mut switch) = switch {
        sink.group.append(&mut switch.tail);
        sink.next = Some(switch);
    }
    let pending = if sink.next.is_some() {
        &mut sink.after
    } else {
        &mut sink.group
    };
    if pending.is_empty() {
        std::mem::swap(pending, fresh);
    } else {
        pending.append(fresh);
    }
}

/// Writes everything the sink holds, up to `lsn`, moving to the new incr file when a switch
/// is pending, and publishes `written_lsn` (and `synced_lsn` after an fdatasync when `sync`).
/// False if a write failed (the error is in force, the records are kept for a retry).
fn drain(aof: &Aof, sink: &mut Sink, lsn: u64, sync: SyncMode) -> bool {
    if !write_group(aof, sink) {
        return false;
    }
    if let Some(switch) = sink.next.take() {
        // Everything before the cut is in the old file: make it durable there, then go on in
        // the new one.
        publish_written(aof, switch.lsn);
        if aof.policy() == Fsync::Always {
            sync_or_exit(aof, &sink.file, "when the AOF fsync policy is 'always'");
            publish_synced(aof, switch.lsn);
        } else {
            match timed_sync(aof, &sink.file) {
                Ok(()) => publish_synced(aof, switch.lsn),
                Err(e) => {
                    let text = strerror(&e);
                    log::warning(&format!("Fail to fsync the AOF file: {text}"));
                    aof.fsync_failed.store(true, Ordering::Relaxed);
                    aof.set_error(Some(text));
                }
            }
        }
        match switch.file.try_clone() {
            Ok(clone) => {
                if let Ok(mut f) = aof.sync_file.lock() {
                    *f = Arc::new(clone);
                }
            }
            Err(e) => log::warning(&format!(
                "Can't duplicate the AOF descriptor: {}",
                strerror(&e)
            )),
        }
        sink.file = switch.file;
        sink.path = switch.path;
        sink.size = 0;
        std::mem::swap(&mut sink.group, &mut sink.after);
        if !write_group(aof, sink) {
            return false;
        }
    }
    publish_written(aof, lsn);
    if sync != SyncMode::No && aof.synced_lsn() < lsn {
        if sync == SyncMode::Always {
            sync_or_exit(aof, &sink.file, "when the AOF fsync policy is 'always'");
            publish_synced(aof, lsn);
        } else {
            match timed_sync(aof, &sink.file) {
                Ok(()) => publish_synced(aof, lsn),
                Err(e) => {
                    // The last sync before the writer stops (shutdown, `appendonly no`):
                    // reported, nothing it covers is acknowledged, the process goes on, as
                    // Redis's prepareForShutdown and stopAppendOnly do.
                    let text = strerror(&e);
                    log::warning(&format!("Fail to fsync the AOF file: {text}"));
                    aof.fsync_failed.store(true, Ordering::Relaxed);
                    aof.set_error(Some(text));
                }
            }
        }
    }
    true
}

/// Whether [`drain`] ends with an fdatasync, and what a failed one does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SyncMode {
    No,
    /// `appendfsync always`: a failed fdatasync ends the process.
    Always,
    /// The writer's last sync as it stops: a failure is reported, the process goes on.
    Stopping,
}

/// Writes the pending group to the current file; false (with the error in force) if it
/// failed.
fn write_group(aof: &Aof, sink: &mut Sink) -> bool {
    if sink.group.is_empty() {
        return true;
    }
    let sleep_us = aof.flush_sleep_us.load(Ordering::Relaxed);
    if sleep_us > 0 {
        std::thread::sleep(Duration::from_micros(sleep_us.min(10_000_000)));
    }
    match pfs::write_all(&*aof.storage, &mut sink.file, &sink.group) {
        Ok(()) => {
            let len = sink.group.len() as u64;
            sink.size = sink.size.saturating_add(len);
            aof.current_size.fetch_add(len, Ordering::Relaxed);
            sink.group.clear();
            if sink.failed_at.take().is_some() {
                log::warning("AOF write error looks solved, kopi can write again.");
                aof.set_error(None);
            }
            true
        }
        Err(e) => {
            let first = sink.failed_at.is_none();
            write_failed(aof, sink, &e, first);
            sink.failed_at = Some(Instant::now());
            false
        }
    }
}

/// fdatasync for the writer: a failure ends the process, as in Redis (the kernel may have
/// dropped the dirty pages: retrying and believing it is the fsyncgate mistake).
fn sync_or_exit(aof: &Aof, file: &File, when: &str) {
    if let Err(e) = timed_sync(aof, file) {
        log::warning(&format!(
            "Can't persist AOF for fsync error {when}: {}. Exiting...",
            strerror(&e)
        ));
        std::process::exit(1);
    }
}

/// fdatasync of the incr file, counted and timed for INFO.
fn timed_sync(aof: &Aof, file: &File) -> io::Result<()> {
    let started = Instant::now();
    let result = aof.storage.sync_data(file);
    let us = started.elapsed().as_micros().min(u64::MAX as u128) as u64;
    aof.fsyncs.fetch_add(1, Ordering::Relaxed);
    aof.fsync_last_us.store(us, Ordering::Relaxed);
    aof.fsync_max_us.fetch_max(us, Ordering::Relaxed);
    result
}

fn publish_written(aof: &Aof, lsn: u64) {
    aof.written.send_if_modified(|v| {
        let changed = *v < lsn;
        *v = (*v).max(lsn);
        changed
    });
}

/// The rewrite thread: waits for an order, then writes a new base from memory while clients
/// keep writing (see [`rewrite`]).
fn rewrite_loop(server: &Server, aof: &Aof) {
    loop {
        let cut_taken = {
            let Ok(mut control) = aof.rewrite.lock() else {
                return;
            };
            while !control.requested && !control.stop {
                control = match aof.rewrite_wake.wait(control) {
                    Ok(c) => c,
                    Err(_) => return,
                };
            }
            if control.stop {
                return;
            }
            control.requested = false;
            control.scheduled = false;
            control.cut_taken.take()
        };
        let started = Instant::now();
        aof.rewrite_started_ms
            .store(crate::util::now_ms().max(1) as u64, Ordering::Relaxed);
        let result = rewrite(server, aof, cut_taken);
        aof.rewrite_started_ms.store(0, Ordering::Relaxed);
        aof.last_rewrite_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let stopped = aof.rewrite.lock().map_or(true, |c| c.stop);
        match result {
            Ok(()) => {
                aof.last_rewrite_ok.store(true, Ordering::Relaxed);
                aof.rewrites.fetch_add(1, Ordering::Relaxed);
                aof.consecutive_failures.store(0, Ordering::Relaxed);
                log::notice("Background AOF rewrite finished successfully");
            }
            Err(_) if stopped => {
                // Stopped on purpose (appendonly no, shutdown): not a failure.
                log::notice("Background AOF rewrite stopped");
            }
            Err(e) => {
                aof.last_rewrite_ok.store(false, Ordering::Relaxed);
                let failures = aof.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
                log::warning(&format!(
                    "Background AOF rewrite terminated with error: {e}"
                ));
                let initial = aof.initial.load(Ordering::Relaxed);
                if let Ok(mut control) = aof.rewrite.lock() {
                    if failures >= 3 {
                        // Redis's aofRewriteLimited: 1, 2, 4, ... up to 60 minutes.
                        let minutes = 1u64 << (failures - 3).min(6);
                        let minutes = minutes.min(60);
                        control.not_before =
                            Some(Instant::now() + Duration::from_secs(minutes * 60));
                        log::warning(&format!(
                            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {minutes} minutes"
                        ));
                    }
                    if initial {
                        // Enabling at run time is not done until a rewrite succeeds.
                        control.requested = true;
                    }
                }
                if initial {
                    std::thread::sleep(RETRY_AFTER);
                }
            }
        }
        if let Ok(control) = aof.rewrite.lock()
            && !control.requested
        {
            aof.rewriting.store(false, Ordering::Relaxed);
        }
    }
}

/// One rewrite, without fork:
/// 1. a new incr file, named in a persisted manifest next to the one being written (a crash
///    from here on loads old base + old incr files + new incr file);
/// 2. under the keyspace lock, the cut: the records so far belong to the old file, those from
///    now on to the new one ([`Switch`]), and the keyspace starts a snapshot ([`cut`]);
/// 3. the snapshot is written into a temp base a few shards per hold of the lock;
/// 4. the temp base, synced, is renamed to the new base name, the manifest naming the new base
///    and the new incr is persisted, and the files only the old manifest named are removed.
///
/// With `cut_taken` (enabling at run time: the base's `#TS:` line) steps 1 and 2 were done when the records started
/// going to the temp incr file; step 4 then names that file too.
///
/// [`cut`]: crate::keyspace::cut
fn rewrite(server: &Server, aof: &Aof, cut_taken: Option<(CutId, BaseKind)>) -> Result<(), String> {
    let storage = &*aof.storage;
    let initial = aof.initial.load(Ordering::Relaxed);
    let (cut, kind) = if let Some(taken) = cut_taken {
        taken
    } else {
        // One snapshot at a time, as Redis runs one child: a BGSAVE in progress goes first.
        crate::persistence::snapshot::wait_for_bgsave(server, &|| {
            aof.rewrite.lock().map_or(true, |c| c.stop)
        });
        let preamble = server.config.read().get_bool("aof-use-rdb-preamble");
        let (file, path) = if initial {
            create_temp_incr(aof)?
        } else {
            open_rewrite_incr(aof)?
        };
        let mut state = server.state.lock();
        let mut tail = Vec::new();
        let lsn = state.effects.take(&mut tail);
        // The new file starts with a SELECT of its own.
        state.effects.reset_selected_db();
        let now_ms = crate::util::now_ms();
        let kind = base_kind(&mut state, now_ms, preamble);
        if let Ok(mut s) = aof.switch.lock() {
            *s = Some(Switch {
                file,
                path,
                tail,
                lsn,
            });
        }
        let cut = state
            .store
            .begin_cut(kind.cut_time(now_ms), kind.entry_writer());
        drop(state);
        aof.wake();
        (cut, kind)
    };
    let temp_name = temp_base_name();
    let temp_path = aof.dir.join(&temp_name);
    let stopped = || aof.rewrite.lock().map_or(true, |c| c.stop);
    let written = write_base(server, storage, cut, &stopped, &temp_path, &kind);
    let base_len = match written {
        Ok(len) => len,
        Err(e) => {
            server.state.lock().store.end_cut(cut);
            let _ = storage.remove_file(&temp_path);
            return Err(e);
        }
    };
    log::notice(&format!(
        "Successfully created the temporary AOF base file {temp_name}"
    ));
    let committed = commit(aof, &temp_path, base_len, initial, kind.format());
    if committed.is_err() {
        let _ = storage.remove_file(&temp_path);
    }
    committed
}

/// The temp base of a rewrite: Redis's `temp-rewriteaof-bg-<pid>.aof`, with a serial number,
/// because two rewrites can overlap here (one stopping while the next starts) and must not
/// share a file.
fn temp_base_name() -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    format!("temp-rewriteaof-bg-{}-{serial}.aof", std::process::id())
}

/// A rewrite ordered while AOF is off runs (at most one at a time).
static OFFLINE_REWRITE: AtomicBool = AtomicBool::new(false);

/// Whether a BGREWRITEAOF ordered while AOF is off is running (`aof_rewrite_in_progress`).
pub fn offline_rewrite_in_progress() -> bool {
    OFFLINE_REWRITE.load(Ordering::Relaxed)
}

/// BGREWRITEAOF while AOF is off, as Redis 7.0: a new base from memory, and a manifest that
/// names only it (every incr file becomes history and is removed), so a later start with
/// `appendonly yes` loads this dataset. Called under the keyspace lock: the cut is taken
/// now, the base is written by a thread of its own.
pub fn order_offline_rewrite(server: &Server, state: &mut State) -> Result<RewriteOrder, String> {
    // A cut left by the rewrite of an AOF just turned off is abandoned by this one (as Redis
    // kills that child): only another offline rewrite is "in progress".
    if OFFLINE_REWRITE.swap(true, Ordering::AcqRel) {
        return Ok(RewriteOrder::AlreadyInProgress);
    }
    let Some(me) = server.arc() else {
        OFFLINE_REWRITE.store(false, Ordering::Release);
        return Err("The server is stopping".into());
    };
    let preamble = server.config.read().get_bool("aof-use-rdb-preamble");
    // One snapshot at a time: during a BGSAVE the rewrite is scheduled, and takes its cut
    // when the save is over (Redis starts it from its cron once the child exits).
    let scheduled = server.rdb.in_progress();
    let mut taken = None;
    if !scheduled {
        let now_ms = crate::util::now_ms();
        let kind = base_kind(state, now_ms, preamble);
        let cut = state
            .store
            .begin_cut(kind.cut_time(now_ms), kind.entry_writer());
        taken = Some((cut, kind));
    }
    let cut_on_failure = taken.as_ref().map(|(cut, _)| *cut);
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let started = Instant::now();
            let (cut, kind) = match taken {
                Some(taken) => taken,
                None => {
                    super::snapshot::wait_for_bgsave(&me, &|| false);
                    let mut state = me.state.lock();
                    let now_ms = crate::util::now_ms();
                    let kind = base_kind(&mut state, now_ms, preamble);
                    let cut = state
                        .store
                        .begin_cut(kind.cut_time(now_ms), kind.entry_writer());
                    (cut, kind)
                }
            };
            match rewrite_offline(&me, cut, &kind) {
                Ok(()) => log::notice("Background AOF rewrite finished successfully"),
                Err(e) => {
                    me.state.lock().store.end_cut(cut);
                    log::warning(&format!(
                        "Background AOF rewrite terminated with error: {e}"
                    ));
                }
            }
            log::verbose(&format!(
                "The rewrite took {:.3} seconds",
                started.elapsed().as_secs_f64()
            ));
            OFFLINE_REWRITE.store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        if let Some(cut) = cut_on_failure {
            state.store.end_cut(cut);
        }
        OFFLINE_REWRITE.store(false, Ordering::Release);
        return Err(format!("Can't start the rewrite thread: {e}"));
    }
    Ok(if scheduled {
        RewriteOrder::Scheduled
    } else {
        RewriteOrder::Started
    })
}

fn rewrite_offline(server: &Server, cut: CutId, kind: &BaseKind) -> Result<(), String> {
    let storage = OsStorage;
    let (dir, filename) = paths(server)?;
    create_dir(&dir)?;
    let mut manifest = Manifest::load(&dir, &filename)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    let temp_name = temp_base_name();
    let temp_path = dir.join(&temp_name);
    let stopped = || false;
    let result = write_base(server, &storage, cut, &stopped, &temp_path, kind).and_then(|_| {
        log::notice(&format!(
            "Successfully created the temporary AOF base file {temp_name}"
        ));
        let base = manifest
            .commit_rewrite(&filename, kind.format(), LastIncr::Retire)
            .map_err(|e| e.to_string())?;
        storage
            .rename(&temp_path, &file_path(&dir, &base.name))
            .map_err(|e| {
                format!(
                    "Error trying to rename the temporary AOF base file: {}",
                    strerror(&e)
                )
            })?;
        storage.sync_dir(&dir).map_err(|e| strerror(&e))?;
        manifest
            .persist(&storage, &dir, &filename)
            .map_err(|e| e.to_string())?;
        log::notice(&format!(
            "Successfully renamed the temporary AOF base file {temp_name} into {}",
            String::from_utf8_lossy(&base.name)
        ));
        if !server.config.read().get_bool("aof-disable-auto-gc") {
            remove_history(&storage, &dir, &filename, &mut manifest)?;
        }
        Ok(())
    });
    if result.is_err() {
        let _ = storage.remove_file(&temp_path);
    }
    result
}

/// Removes the history files `manifest` lists and persists it without them (Redis's
/// `aofDelHistoryFiles`). Only ever called once a manifest that no longer needs them is
/// durable.
fn remove_history(
    storage: &dyn Storage,
    dir: &Path,
    filename: &AppendFilename,
    manifest: &mut Manifest,
) -> Result<(), String> {
    let history = manifest.drop_history();
    if history.is_empty() {
        return Ok(());
    }
    for old in &history {
        log::notice(&format!(
            "Removing the history file {} in the background",
            String::from_utf8_lossy(&old.name)
        ));
        let _ = storage.remove_file(&file_path(dir, &old.name));
    }
    manifest
        .persist(storage, dir, filename)
        .map_err(|e| e.to_string())
}

/// The incr file a rewrite switches to: the next one in the manifest, persisted with it.
fn open_rewrite_incr(aof: &Aof) -> Result<(File, PathBuf), String> {
    let storage = &*aof.storage;
    let mut manifest = aof
        .manifest
        .lock()
        .map_err(|_| "the AOF manifest is unavailable".to_string())?;
    let mut next = manifest.clone();
    let incr = next
        .open_new_incr(&aof.filename)
        .map_err(|e| e.to_string())?;
    let path = file_path(&aof.dir, &incr.name);
    let file = create_truncated(storage, &path)?;
    storage.sync_dir(&aof.dir).map_err(|e| strerror(&e))?;
    next.persist(storage, &aof.dir, &aof.filename)
        .map_err(|e| e.to_string())?;
    *manifest = next;
    log::notice(&format!(
        "Creating AOF incr file {} on background rewrite",
        String::from_utf8_lossy(&incr.name)
    ));
    Ok((file, path))
}

/// `temp-<F>.incr`: where records go until the first rewrite after enabling commits them.
fn create_temp_incr(aof: &Aof) -> Result<(File, PathBuf), String> {
    let path = file_path(&aof.dir, &aof.filename.temp_incr_name());
    let file = create_truncated(&*aof.storage, &path)?;
    Ok((file, path))
}

/// A new empty file at `path` (a leftover of that name is removed first, never appended to).
fn create_truncated(storage: &dyn Storage, path: &Path) -> Result<File, String> {
    match storage.remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "Can't remove the old file {}: {}",
                path.display(),
                strerror(&e)
            ));
        }
    }
    let file = storage.create_new(path, pfs::DATA_FILE_MODE).map_err(|e| {
        format!(
            "Can't open the append-only file {}: {}",
            path.display(),
            strerror(&e)
        )
    })?;
    storage.sync_all(&file).map_err(|e| strerror(&e))?;
    Ok(file)
}

/// Writes the snapshot being cut into `path`, synced, in the format `kind` says (AOF
/// commands, or an RDB file with its checksum); returns its length.
pub(crate) fn write_base(
    server: &Server,
    storage: &dyn Storage,
    cut: CutId,
    stopped: &dyn Fn() -> bool,
    path: &Path,
    kind: &BaseKind,
) -> Result<u64, String> {
    let fail = |e: io::Error| match kind {
        BaseKind::Rdb { aof_base: false } => {
            format!("Write error saving DB on disk: {}", strerror(&e))
        }
        _ => format!(
            "Error writing the temporary AOF base file {}: {}",
            path.display(),
            strerror(&e)
        ),
    };
    let _ = storage.remove_file(path);
    let mut file = storage
        .create_new(path, pfs::DATA_FILE_MODE)
        .map_err(fail)?;
    let mut buf = Vec::with_capacity(REWRITE_STEP_BYTES * 2);
    let mut crc = rdb::Crc64::new();
    let rdb_format = match kind {
        BaseKind::Resp(header) => {
            buf.extend_from_slice(header);
            None
        }
        BaseKind::Rdb { aof_base } => {
            rdb::write_header(
                &mut buf,
                *aof_base,
                crate::util::now_ms() / 1000,
                crate::server::alloc::used_bytes(),
            );
            Some(server.config.read().get_bool("rdbchecksum"))
        }
    };
    let incremental = server.config.read().get_bool(match kind {
        BaseKind::Rdb { aof_base: false } => "rdb-save-incremental-fsync",
        _ => "aof-rewrite-incremental-fsync",
    });
    let mut unsynced = 0u64;
    let mut selected = usize::MAX;
    let mut total = 0u64;
    let mut index = itoa::Buffer::new();
    let mut keys = crate::keyspace::cut::keys_written();
    loop {
        if stopped() {
            return Err("stopped".into());
        }
        // `rdb-key-save-delay` (µs per key, as in Redis's tests) slows the rewrite down: one
        // shard per step, then the delay for its keys with the lock released.
        let delay_us = server.config.read().get_i64("rdb-key-save-delay");
        let budget = if delay_us > 0 { 1 } else { REWRITE_STEP_BYTES };
        let mut state = server.state.lock();
        // RESIZEDB (RDB only) is a hint: the sizes now are as good as any.
        let sizes: Vec<(u64, u64)> = match rdb_format {
            Some(_) => state
                .store
                .dbs
                .iter()
                .map(|d| (d.len() as u64, d.data.expires_len() as u64))
                .collect(),
            None => Vec::new(),
        };
        let progress = state.store.advance_cut(cut, budget, |db, bytes| {
            if db != selected {
                if rdb_format.is_some() {
                    let (keys, expires) = sizes.get(db).copied().unwrap_or_default();
                    rdb::write_db_start(&mut buf, db, keys, expires);
                } else {
                    encode(&mut buf, &[b"SELECT", index.format(db).as_bytes()]);
                }
                selected = db;
            }
            buf.extend_from_slice(bytes);
        });
        // Clients waiting for the lock get it before this thread takes it again.
        parking_lot::MutexGuard::unlock_fair(state);
        if progress == Progress::Gone {
            return Err("the snapshot was abandoned".into());
        }
        if let Some(checksum) = rdb_format {
            crc.update(&buf);
            if progress == Progress::Done {
                rdb::write_end(&mut buf, &mut crc, checksum);
            }
        }
        pfs::write_all(storage, &mut file, &buf).map_err(fail)?;
        total = total.saturating_add(buf.len() as u64);
        unsynced = unsynced.saturating_add(buf.len() as u64);
        if incremental && unsynced >= AUTOSYNC_BYTES {
            storage.sync_data(&file).map_err(fail)?;
            unsynced = 0;
        }
        buf.clear();
        let now = crate::keyspace::cut::keys_written();
        if delay_us > 0 {
            // Slept in slices: a stop does not wait for the whole delay.
            let micros = (delay_us as u64).saturating_mul(now.saturating_sub(keys));
            let until = Instant::now() + Duration::from_micros(micros);
            while Instant::now() < until && !stopped() {
                let left = until.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(Duration::from_millis(20)));
            }
        }
        keys = now;
        if progress == Progress::Done {
            break;
        }
    }
    storage.sync_all(&file).map_err(fail)?;
    Ok(total)
}

/// Makes the new base (and, after enabling at run time, the temp incr file) part of the AOF:
/// renamed into place, the manifest naming them persisted, then the files only the old one
/// named removed.
fn commit(
    aof: &Aof,
    temp_base: &Path,
    base_len: u64,
    initial: bool,
    format: BaseFormat,
) -> Result<(), String> {
    let storage = &*aof.storage;
    let mut current = aof
        .manifest
        .lock()
        .map_err(|_| "the AOF manifest is unavailable".to_string())?;
    let mut manifest = current.clone();
    let last = if initial {
        LastIncr::Retire
    } else {
        LastIncr::Keep
    };
    let base = manifest
        .commit_rewrite(&aof.filename, format, last)
        .map_err(|e| e.to_string())?;
    let base_path = file_path(&aof.dir, &base.name);
    storage.rename(temp_base, &base_path).map_err(|e| {
        format!(
            "Error trying to rename the temporary AOF base file: {}",
            strerror(&e)
        )
    })?;
    if initial {
        let incr = manifest
            .open_new_incr(&aof.filename)
            .map_err(|e| e.to_string())?;
        let incr_path = file_path(&aof.dir, &incr.name);
        // The writer keeps appending through its descriptor; only the name changes.
        let mut sink = aof
            .sink
            .lock()
            .map_err(|_| "the AOF writer failed".to_string())?;
        storage.rename(&sink.path, &incr_path).map_err(|e| {
            format!(
                "Error trying to rename the temporary AOF incr file: {}",
                strerror(&e)
            )
        })?;
        log::notice(&format!(
            "Successfully renamed the temporary AOF incr file {} into {}",
            sink.path.display(),
            String::from_utf8_lossy(&incr.name)
        ));
        sink.path = incr_path;
    }
    storage.sync_dir(&aof.dir).map_err(|e| strerror(&e))?;
    manifest
        .persist(storage, &aof.dir, &aof.filename)
        .map_err(|e| e.to_string())?;
    log::notice(&format!(
        "Successfully renamed the temporary AOF base file {} into {}",
        temp_base.file_name().unwrap_or_default().to_string_lossy(),
        String::from_utf8_lossy(&base.name)
    ));
    // The new manifest is durable: the files only the old one named can go.
    if !aof.auto_gc_disabled.load(Ordering::Relaxed)
        && let Err(e) = remove_history(storage, &aof.dir, &aof.filename, &mut manifest)
    {
        log::warning(&format!("Error persisting the AOF manifest: {e}"));
    }
    *current = manifest;
    drop(current);
    // The writer adds to the current size under the sink's lock.
    let sink = aof
        .sink
        .lock()
        .map_err(|_| "the AOF writer failed".to_string())?;
    let size = base_len.saturating_add(sink.size);
    aof.current_size.store(size, Ordering::Relaxed);
    drop(sink);
    aof.base_size.store(base_len, Ordering::Relaxed);
    aof.rewrite_base_size.store(size, Ordering::Relaxed);
    if initial {
        aof.initial.store(false, Ordering::Relaxed);
    }
    // The new base holds everything the untrusted file held: writes are accepted again.
    if aof.fsync_failed.swap(false, Ordering::Relaxed) {
        log::warning(
            "The AOF was rewritten from memory after an fsync error: writes are accepted again.",
        );
        aof.set_error(None);
    }
    Ok(())
}

fn publish_synced(aof: &Aof, lsn: u64) {
    aof.synced.send_if_modified(|v| {
        let changed = *v < lsn;
        *v = (*v).max(lsn);
        changed
    });
}

/// A failed or short write: cut the file back to the last complete group and refuse writes.
fn write_failed(aof: &Aof, sink: &Sink, e: &io::Error, first: bool) {
    let text = strerror(e);
    if first {
        log::warning(&format!("Error writing to the AOF file: {text}"));
    }
    // Cut the torn bytes off and write the retry where they began: an incr file a rewrite
    // created is not in append mode, and a write at the old offset would leave a hole of
    // zeros in front of it.
    let cut = sink.file.set_len(sink.size).and_then(|()| {
        use std::io::{Seek, SeekFrom};
        (&sink.file).seek(SeekFrom::Start(sink.size)).map(|_| ())
    });
    if let Err(t) = cut {
        log::warning(&format!(
            "Could not remove short write from the append-only file {}. kopi may refuse to load the AOF the next time it starts. ftruncate: {}",
            sink.path.display(),
            strerror(&t)
        ));
    }
    aof.set_error(Some(text));
}

/// The everysec thread: one fdatasync a second of what was written, off every reply's path.
fn fsync_loop(aof: &Aof) {
    let mut last = Instant::now();
    loop {
        let wait = Duration::from_secs(1).saturating_sub(last.elapsed());
        let stop = {
            let Ok(kick) = aof.kick.lock() else {
                return;
            };
            if kick.stop || wait.is_zero() {
                kick.stop
            } else {
                match aof.stopping.wait_timeout(kick, wait) {
                    Ok((k, _)) => k.stop,
                    Err(_) => return,
                }
            }
        };
        if stop {
            return;
        }
        if last.elapsed() < Duration::from_secs(1) {
            continue;
        }
        last = Instant::now();
        // `no-appendfsync-on-rewrite yes`: Redis's way to keep fsyncs off a disk busy with a
        // rewrite; under `always` kopi still syncs every group (the contract comes first).
        let paused = aof.no_fsync_on_rewrite.load(Ordering::Relaxed)
            && aof.rewriting.load(Ordering::Relaxed);
        let failed = aof.fsync_failed.load(Ordering::Relaxed);
        if aof.policy() != Fsync::Everysec || failed || paused {
            continue;
        }
        let target = aof.written_lsn();
        if target <= aof.synced_lsn() {
            continue;
        }
        let Ok(file) = aof.sync_file.lock().map(|f| f.clone()) else {
            return;
        };
        aof.fsync_pending.store(true, Ordering::Relaxed);
        let result = timed_sync(aof, &file);
        aof.fsync_pending.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => publish_synced(aof, target),
            Err(e) => {
                let text = strerror(&e);
                log::warning(&format!("Fail to fsync the AOF file: {text}"));
                // The kernel may have dropped the pages: never trust this descriptor again.
                aof.set_error(Some(text));
                aof.fsync_failed.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Loads the base and the incr files of `manifest`, in order, through the command table with
/// a client of its own (propagation is off while loading: the effects buffer is enabled only
/// afterwards). `MULTI` … `EXEC` blocks replay atomically as the client queues them.
///
/// A torn tail of the last file is cut off on disk when `truncated_ok` (`aof-load-truncated
/// yes`); every other defect refuses the start with the file, the offset and the repair
/// command. An RDB base (or RDB preamble) loads straight into the keyspace, then its RESP tail.
///
/// Clients may be connected meanwhile (they get `-LOADING`): the keyspace lock is handed to
/// them every so often, progress is published for INFO, and a shutdown stops the replay
/// ([`Pacer`]).
pub fn load(
    server: &Arc<Server>,
    dir: &Path,
    manifest: &Manifest,
    truncated_ok: bool,
) -> Result<(), String> {
    let mut state = server.state.lock();
    load_held(server, &mut state, dir, manifest, truncated_ok)
}

/// [`load`] with the keyspace already held: by a guard it hands over now and then (start-up)
/// or by a command that holds it throughout (DEBUG LOADAOF).
pub fn load_held(
    server: &Server,
    held: &mut impl Held,
    dir: &Path,
    manifest: &Manifest,
    truncated_ok: bool,
) -> Result<(), String> {
    let files: Vec<_> = manifest.files_to_load().cloned().collect();
    let mut total = 0u64;
    let mut sizes = Vec::with_capacity(files.len());
    for f in &files {
        let path = file_path(dir, &f.name);
        match std::fs::metadata(&path) {
            Ok(m) => {
                sizes.push(m.len());
                total = total.saturating_add(m.len());
            }
            Err(e) => {
                return Err(format!(
                    "The AOF file {} doesn't exist: {}",
                    String::from_utf8_lossy(&f.name),
                    strerror(&e)
                ));
            }
        }
    }
    if total == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let mut reader = AofReader::new();
    let peer = Peer::internal();
    let mut reply = Reply::new(Protocol::Resp2);
    // Keys do not expire while the log is replayed, as in Redis.
    let _suspended = crate::keyspace::suspend_expiry();
    // Progress for INFO, `key-load-delay`, and the lock handed to clients now and then.
    let mut pacer = Pacer::new(
        &server.loading,
        &server.limits.key_load_delay,
        held.state(),
        total,
    );
    let count = files.len();
    let mut before = 0u64;
    for (index, f) in files.iter().enumerate() {
        let name = String::from_utf8_lossy(&f.name).into_owned();
        let path = file_path(dir, &f.name);
        let file_started = Instant::now();
        pacer.next_file(before);
        before = before.saturating_add(sizes.get(index).copied().unwrap_or(0));
        // A client per file, as Redis: each file starts in db 0 with no transaction open.
        let mut client = Client::new(
            ClientHandle::detached(CLIENT_ID_AOF, &peer),
            peer.clone(),
            true,
        );
        let mut args: Vec<Bytes> = Vec::new();
        let mut options = ReadOptions::default();
        let report = loop {
            let report = reader.read_file(&path, &options, |event| {
                let Event::Command(command) = event else {
                    return Ok(());
                };
                args.clear();
                args.extend(command.args.iter().map(|a| Bytes::copy_from_slice(a)));
                if commands::find(&args).is_none() {
                    return Err(format!(
                        "Unknown command '{}' reading the append only file {name}",
                        String::from_utf8_lossy(command.name())
                    ));
                }
                commands::execute(server, held.state(), &mut client, &mut reply, &args);
                reply.buf.clear();
                reply.errors.clear();
                pacer.after_command(held, command.end)
            });
            if !matches!(&report, Ok(r) if matches!(r.end, End::RdbPreamble)) {
                break report;
            }
            // An RDB base (or an old single file with an RDB preamble): the RDB part goes
            // straight into the keyspace, keys already expired included (they expire later,
            // logged as DEL, as Redis loads an AOF), then the RESP tail, if any, replays.
            let end = load_rdb_part(&path, held, &mut pacer).map_err(|e| {
                format!("Error reading the RDB base file {name}, AOF loading aborted: {e}")
            })?;
            options = ReadOptions {
                start_offset: end,
                detect_rdb: false,
                ..ReadOptions::default()
            };
        };
        let report = match report {
            Ok(report) => report,
            Err(ReadError::Io(e)) => {
                return Err(format!(
                    "Unrecoverable error reading the append only file {name}: {}",
                    strerror(&e)
                ));
            }
            Err(ReadError::Stopped(message)) => return Err(message),
        };
        match report.end {
            End::Clean => {}
            End::RdbPreamble => {
                return Err(format!("The AOF file {name} holds a second RDB preamble"));
            }
            End::Truncated(cut) => {
                if index + 1 != count {
                    return Err(format!(
                        "Fatal error: the truncated file {name} is not the last file (torn at offset {})",
                        cut.at
                    ));
                }
                if !truncated_ok {
                    return Err(format!(
                        "Unexpected end of file reading the append only file {name} (torn record at offset {}). \
                         You can: 1) Make a backup of your AOF file, then use kopi-check-aof --fix {}. \
                         2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                        cut.at,
                        path.display()
                    ));
                }
                let why = format!("!!! Warning: short read while loading the AOF file {name}!!!");
                cut_tail(&name, &path, cut.valid_up_to, &why)?;
            }
            End::Corrupt(bad) if bad.zero_tail && index + 1 == count && truncated_ok => {
                // Zeros from a record boundary to the end of the last file: the file's size
                // reached the disk but its last blocks did not (a power loss before the
                // fdatasync that would have acknowledged them). Cut like a torn tail.
                let why = format!(
                    "!!! Warning: the AOF file {name} ends in zero bytes from offset {} !!!",
                    bad.byte
                );
                // The record holding the zeros goes whole, or the open MULTI before it
                // (`check_ok_up_to` points inside a too-long annotation).
                let at = report.check_ok_up_to.min(bad.record);
                cut_tail(&name, &path, at, &why)?;
            }
            End::Corrupt(bad) => {
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {} ({}): \
                     make a backup of your AOF file, then use kopi-check-aof --fix {}",
                    bad.byte,
                    bad.error,
                    path.display()
                ));
            }
        }
        let kind = if f.kind == FileKind::Base {
            "base"
        } else {
            "incr"
        };
        log::notice(&format!(
            "DB loaded from {kind} file {name}: {:.3} seconds",
            file_started.elapsed().as_secs_f64()
        ));
    }
    // Replaying is not serving: no command counts in the statistics or the slow log (those
    // of the clients served meanwhile are kept), and nothing is unsaved.
    pacer.finish(held.state());
    held.state().store.dirty = 0;
    log::notice(&format!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Cuts the last AOF file's unusable tail off at `at` (`aof-load-truncated yes`), with `why`
/// and Redis's log lines around it.
fn cut_tail(name: &str, path: &Path, at: u64, why: &str) -> Result<(), String> {
    log::warning(why);
    log::warning(&format!("!!! Truncating the AOF {name} at offset {at} !!!"));
    truncate_file(path, at)
        .map_err(|e| format!("Error truncating the AOF file {name}: {}", strerror(&e)))?;
    log::warning(&format!(
        "AOF {name} loaded anyway because aof-load-truncated is enabled"
    ));
    Ok(())
}

/// Loads the RDB part of the AOF file at `path` into the keyspace; returns where it ends.
fn load_rdb_part(path: &Path, held: &mut impl Held, pacer: &mut Pacer<'_>) -> Result<u64, String> {
    let file = File::open(path).map_err(|e| strerror(&e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let databases = held.state().store.dbs.len();
    let (loaded, _) = super::snapshot::read_rdb(
        std::io::BufReader::new(file),
        size,
        databases,
        false,
        // As Redis loads an AOF base: a key met twice keeps the later value.
        |item| match item.apply(&mut held.state().store, true)? {
            Some(offset) => pacer.after_command(held, offset),
            None => Ok(()),
        },
    )?;
    log::notice(&format!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        loaded.keys, loaded.expired
    ));
    Ok(loaded.end)
}

/// Appends `*<n>\r\n` then `$<len>\r\n<arg>\r\n` for each argument.
pub(crate) fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(digits.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The rewrite's [`EntryWriter`](crate::keyspace::cut::EntryWriter): one key as the commands
/// that rebuild it (`SET key value`, then `PEXPIREAT key ms` for a key with a deadline, as
/// Redis's rewrite writes them).
pub fn write_entry(out: &mut Vec<u8>, entry: &Entry) {
    let mut scratch = itoa::Buffer::new();
    entry
        .value
        .rewrite(&entry.key, &mut |args: &[&[u8]]| encode(out, args));
    if entry.expire_at_ms != NO_EXPIRY {
        let at = scratch.format(entry.expire_at_ms);
        encode(out, &[b"PEXPIREAT", &entry.key, at.as_bytes()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::{FaultyStorage, Op, TempDir};
    use crate::server::config::Config;

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_failed_write_is_cut_back_refuses_writes_and_is_retried() {
        let tmp = TempDir::new("aof-enospc");
        let server = Server::new(Config::default());
        let filename = AppendFilename::default();
        let dir = tmp.0.join("appendonlydir");
        let manifest = prepare_dir(&dir, &filename).unwrap();
        let incr = file_path(&dir, &filename.incr_name(1));
        let storage = Arc::new(FaultyStorage::new());
        // The first write lands 5 bytes, the second fails: a torn record on disk.
        storage.short_write(1, 5).fail(Op::Write, 2, libc::ENOSPC);
        let aof = start_with_storage(&server, &dir, &manifest, storage.clone()).unwrap();
        *server.aof_slot.write() = Some(aof.clone());
        let lsn = {
            let mut state = server.state.lock();
            state.effects.begin_unit(0);
            state.effects.push(0, &[&b"SET"[..], b"k", b"v"]);
            state.effects.end_unit();
            state.effects.lsn()
        };
        aof.wake();
        wait_until("the write error", || aof.write_error().is_some());
        assert_eq!(
            aof.write_error().as_deref(),
            Some("No space left on device")
        );
        assert_eq!(
            std::fs::metadata(&incr).unwrap().len(),
            0,
            "torn bytes cut back"
        );
        assert!(aof.written_lsn() < lsn);
        // Meanwhile writes and PING are refused, reads are served.
        let peer = Peer::internal();
        let mut client = Client::new(ClientHandle::detached(1, &peer), peer, true);
        let mut reply = Reply::new(Protocol::Resp2);
        for (args, expected) in [
            (
                &["SET", "x", "1"][..],
                &b"-MISCONF Errors writing to the AOF file: No space left on device\r\n"[..],
            ),
            (
                &["PING"],
                b"-MISCONF Errors writing to the AOF file: No space left on device\r\n",
            ),
            (&["GET", "k"], b"$-1\r\n"),
        ] {
            let args: Vec<Bytes> = args
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            reply.buf.clear();
            let mut state = server.state.lock();
            commands::execute(&server, &mut state, &mut client, &mut reply, &args);
            assert_eq!(reply.buf, expected);
        }
        // The retry (a second later) writes the whole group and lifts the refusal.
        wait_until("the retry", || aof.written_lsn() >= lsn);
        assert_eq!(aof.write_error(), None);
        assert_eq!(
            std::fs::read(&incr).unwrap(),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        aof.shutdown();
    }

    #[test]
    fn no_appendfsync_on_rewrite_pauses_the_everysec_fsync_while_a_rewrite_runs() {
        let tmp = TempDir::new("aof-no-fsync-on-rewrite");
        let server = Server::new(Config::default());
        let dir = tmp.0.join("appendonlydir");
        let manifest = prepare_dir(&dir, &AppendFilename::default()).unwrap();
        let storage = Arc::new(FaultyStorage::new());
        let aof = start_with_storage(&server, &dir, &manifest, storage.clone()).unwrap();
        let record = |value: &[u8]| {
            let mut state = server.state.lock();
            state.effects.begin_unit(0);
            state.effects.push(0, &[&b"SET"[..], b"k", value]);
            state.effects.end_unit();
            state.effects.lsn()
        };
        aof.set_no_fsync_on_rewrite(true);
        // As if a rewrite were running (the flag BGREWRITEAOF sets).
        aof.rewriting.store(true, Ordering::Relaxed);
        let lsn = record(b"1");
        aof.wake();
        wait_until("the write", || aof.written_lsn() >= lsn);
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(
            storage.calls(Op::SyncData),
            0,
            "no fsync during the rewrite"
        );
        assert!(aof.synced_lsn() < lsn);
        aof.rewriting.store(false, Ordering::Relaxed);
        wait_until("the fsync after the rewrite", || aof.synced_lsn() >= lsn);
        assert!(storage.calls(Op::SyncData) >= 1);
        aof.shutdown();
    }

    #[test]
    fn after_a_failed_fsync_writes_are_refused_until_a_rewrite_commits() {
        let tmp = TempDir::new("aof-fsync-error");
        let server = Server::new(Config::default());
        let dir = tmp.0.join("appendonlydir");
        let manifest = prepare_dir(&dir, &AppendFilename::default()).unwrap();
        let storage = Arc::new(FaultyStorage::new());
        // The first fdatasync (the everysec thread's) fails.
        storage.fail(Op::SyncData, 1, libc::EIO);
        let aof = start_with_storage(&server, &dir, &manifest, storage.clone()).unwrap();
        *server.aof_slot.write() = Some(aof.clone());
        let lsn = {
            let mut state = server.state.lock();
            let value =
                crate::keyspace::Value::String(crate::keyspace::StringValue::from_bytes(b"v"));
            state.store.dbs[0].set(b"k", value, false, 0);
            state.effects.begin_unit(0);
            state.effects.push(0, &[&b"SET"[..], b"k", b"v"]);
            state.effects.end_unit();
            state.effects.lsn()
        };
        aof.wake();
        wait_until("the fsync error", || aof.write_error().is_some());
        assert_eq!(aof.write_error().as_deref(), Some("Input/output error"));
        assert!(aof.synced_lsn() < lsn);
        // Never retried on the same file: still refused a while later.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(aof.write_error().is_some());
        assert_eq!(aof.order_rewrite(false), RewriteOrder::Started);
        wait_until("the rewrite", || !aof.rewrite_in_progress());
        assert_eq!(aof.write_error(), None);
        assert!(aof.last_rewrite_ok());
        aof.shutdown();
        // The rewritten directory loads with the write.
        let fresh = Server::new(Config::default());
        let manifest = Manifest::load(&dir, &AppendFilename::default())
            .unwrap()
            .unwrap();
        load(&fresh, &dir, &manifest, false).unwrap();
        assert_eq!(fresh.state.lock().store.dbs[0].len(), 1);
    }

    #[test]
    fn the_base_has_set_and_absolute_deadlines_per_database() {
        let server = Server::new(Config::default());
        let mut state = server.state.lock();
        let mut reply = Reply::new(Protocol::Resp2);
        let peer = Peer::internal();
        let mut client = Client::new(ClientHandle::detached(1, &peer), peer, true);
        for args in [
            &["SET", "a", "1"][..],
            &["SET", "b", "x", "PXAT", "99999999999999"],
            &["SET", "gone", "x", "PXAT", "1"],
            &["SELECT", "2"],
            &["SET", "c", "y"],
        ] {
            let args: Vec<Bytes> = args
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            commands::execute(&server, &mut state, &mut client, &mut reply, &args);
        }
        let cut = state.store.begin_cut(crate::util::now_ms(), write_entry);
        let mut text = String::new();
        while state.store.advance_cut(cut, usize::MAX, |db, bytes| {
            text.push_str(&format!("[db {db}]"));
            text.push_str(&String::from_utf8_lossy(bytes));
        }) == Progress::More
        {}
        assert!(text.starts_with("[db 0]"), "{text}");
        assert!(
            text.contains("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nx\r\n*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nb\r\n$14\r\n99999999999999\r\n"
            ),
            "{text}"
        );
        assert!(!text.contains("gone"), "{text}");
        assert!(
            text.ends_with("[db 2]*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\ny\r\n"),
            "{text}"
        );
    }
}
