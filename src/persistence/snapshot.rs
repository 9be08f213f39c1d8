//! RDB snapshots: `dump.rdb` written by SAVE, BGSAVE, the `save` points and a shutdown, and
//! loaded at start-up; RDB files read as AOF bases.
//!
//! SAVE (and SHUTDOWN, DEBUG RELOAD) write the whole dataset under the keyspace lock, as
//! Redis's SAVE blocks its one thread. BGSAVE does not fork: it takes a cut of the keyspace
//! ([`crate::keyspace::cut`]), the same point-in-time snapshot an AOF rewrite writes, and a
//! thread of its own writes it a few shards per hold of the lock. As in Redis, one snapshot
//! runs at a time: a BGSAVE asked for while an AOF rewrite runs is refused (or scheduled,
//! with `SCHEDULE`), and a rewrite ordered during a BGSAVE waits for it.
//!
//! Every file is written under a temp name, synced, renamed over `dbfilename` and the
//! directory synced: a crash at any point leaves the previous `dump.rdb` whole.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::aof::{self, BaseKind, strerror};
use super::fs::{self as pfs, OsStorage, Storage};
use super::loading::{Held, Pacer};
use super::rdb::{self, Item, RdbReader};
use crate::keyspace::cut::CutId;
use crate::keyspace::{Entry, NO_EXPIRY, Store};
use crate::server::Server;
use crate::server::log;
use crate::server::state::State;

/// Bytes handed to the file at a time when the whole dataset is written at once.
const WRITE_CHUNK_BYTES: usize = 1 << 20;
/// A failed background save is retried by the save points after this long (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const BGSAVE_RETRY_DELAY_S: i64 = 5;

/// What INFO persistence shows of RDB snapshots, and what the save points go by.
#[derive(Debug)]
pub struct RdbStats {
    in_progress: AtomicBool,
    scheduled: AtomicBool,
    /// When the running BGSAVE started (Unix ms), 0 when none runs.
    started_ms: AtomicI64,
    last_ok: AtomicBool,
    last_bgsave_s: AtomicI64,
    last_try_s: AtomicI64,
    saves: AtomicU64,
    /// `dirty` when the running BGSAVE took its cut: what a success subtracts.
    dirty_at_start: AtomicU64,
    keys_loaded: AtomicU64,
    keys_expired: AtomicU64,
    /// Writes are refused: the last background save failed, `save` points are set and
    /// `stop-writes-on-bgsave-error` is on (Redis's MISCONF).
    refuse_writes: AtomicBool,
    /// The running BGSAVE's cut, and whether FLUSHALL stopped it (Redis kills the child).
    cut: std::sync::Mutex<Option<CutId>>,
    aborted: AtomicBool,
    /// `current_save_keys_total` and where `cut::keys_written` stood at the cut.
    keys_total: AtomicU64,
    keys_before: AtomicU64,
}

impl Default for RdbStats {
    fn default() -> Self {
        RdbStats {
            in_progress: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            started_ms: AtomicI64::new(0),
            last_ok: AtomicBool::new(true),
            last_bgsave_s: AtomicI64::new(-1),
            last_try_s: AtomicI64::new(0),
            saves: AtomicU64::new(0),
            dirty_at_start: AtomicU64::new(0),
            keys_loaded: AtomicU64::new(0),
            keys_expired: AtomicU64::new(0),
            refuse_writes: AtomicBool::new(false),
            cut: std::sync::Mutex::new(None),
            aborted: AtomicBool::new(false),
            keys_total: AtomicU64::new(0),
            keys_before: AtomicU64::new(0),
        }
    }
}

impl RdbStats {
    /// `rdb_bgsave_in_progress`.
    pub fn in_progress(&self) -> bool {
        self.in_progress.load(Ordering::Relaxed)
    }

    /// A BGSAVE waits for the AOF rewrite in progress (`BGSAVE SCHEDULE`).
    pub fn scheduled(&self) -> bool {
        self.scheduled.load(Ordering::Relaxed)
    }

    /// `rdb_last_bgsave_status`.
    pub fn last_ok(&self) -> bool {
        self.last_ok.load(Ordering::Relaxed)
    }

    /// `rdb_last_bgsave_time_sec`.
    pub fn last_bgsave_s(&self) -> i64 {
        self.last_bgsave_s.load(Ordering::Relaxed)
    }

    /// `rdb_current_bgsave_time_sec`: -1 when none runs.
    pub fn current_bgsave_s(&self) -> i64 {
        match self.started_ms.load(Ordering::Relaxed) {
            0 => -1,
            at => (crate::util::now_ms() - at).max(0) / 1000,
        }
    }

    /// `rdb_saves`.
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::Relaxed)
    }

    /// `rdb_last_load_keys_loaded`, `rdb_last_load_keys_expired`.
    pub fn last_load(&self) -> (u64, u64) {
        (
            self.keys_loaded.load(Ordering::Relaxed),
            self.keys_expired.load(Ordering::Relaxed),
        )
    }

    /// `current_save_keys_processed` and `current_save_keys_total` of the running BGSAVE (0
    /// and 0 when none runs).
    pub fn save_progress(&self) -> (u64, u64) {
        if !self.in_progress() {
            return (0, 0);
        }
        let before = self.keys_before.load(Ordering::Relaxed);
        let total = self.keys_total.load(Ordering::Relaxed);
        let done = crate::keyspace::cut::keys_written().saturating_sub(before);
        (done.min(total), total)
    }

    /// Whether write commands get `-MISCONF` because background saves fail.
    pub fn refuses_writes(&self) -> bool {
        self.refuse_writes.load(Ordering::Relaxed)
    }
}

/// The `-MISCONF` text of a failing background save, as Redis words it.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The `save` points: (seconds, changes) pairs.
pub fn save_points(setting: &str) -> Vec<(i64, u64)> {
    let numbers: Vec<&str> = setting.split_whitespace().collect();
    numbers
        .chunks(2)
        .filter_map(|pair| match pair {
            [seconds, changes] => Some((seconds.parse().ok()?, changes.parse().ok()?)),
            _ => None,
        })
        .collect()
}

/// Recomputes whether writes are refused (after a save, or a change of the settings).
pub fn refresh_refusal(server: &Server) {
    let config = server.config.read();
    let refuse = !server.rdb.last_ok()
        && config.get_bool("stop-writes-on-bgsave-error")
        && !config.get("save").trim().is_empty();
    server.rdb.refuse_writes.store(refuse, Ordering::Relaxed);
}

/// `dbfilename` (relative to `dir`, the working directory).
pub fn dump_path(server: &Server) -> PathBuf {
    PathBuf::from(server.config.read().get("dbfilename"))
}

fn now_s() -> i64 {
    crate::util::now_ms() / 1000
}

/// Writes `store` as an RDB file, whole, handing the bytes to `out` in chunks. Keys past
/// their deadline not yet deleted are written too, as Redis's `rdbSaveRio` does (loading
/// counts and drops them).
pub fn write_store(
    store: &Store,
    now_ms: i64,
    aof_base: bool,
    checksum: bool,
    out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(WRITE_CHUNK_BYTES + (WRITE_CHUNK_BYTES >> 2));
    let mut crc = rdb::Crc64::new();
    rdb::write_header(
        &mut buf,
        aof_base,
        now_ms / 1000,
        crate::server::alloc::used_bytes(),
    );
    for (n, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        rdb::write_db_start(&mut buf, n, db.len() as u64, db.data.expires_len() as u64);
        for entry in db.data.iter() {
            rdb::write_entry(&mut buf, entry);
            if buf.len() >= WRITE_CHUNK_BYTES {
                crc.update(&buf);
                out(&buf)?;
                buf.clear();
            }
        }
    }
    crc.update(&buf);
    rdb::write_end(&mut buf, &mut crc, checksum);
    out(&buf)
}

/// Writes `store` as AOF commands after `header` (a command base), handing the bytes to
/// `out` in chunks; keys past their deadline are left out, as Redis's rewrite leaves them.
/// Returns how many keys were written.
pub fn write_store_resp(
    store: &Store,
    now_ms: i64,
    header: &[u8],
    out: &mut dyn FnMut(&[u8]),
) -> u64 {
    let mut buf = Vec::with_capacity(WRITE_CHUNK_BYTES + (WRITE_CHUNK_BYTES >> 2));
    buf.extend_from_slice(header);
    let mut keys = 0;
    for (n, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        aof::encode(&mut buf, &[b"SELECT", n.to_string().as_bytes()]);
        for entry in db.data.iter().filter(|e| !e.is_expired(now_ms)) {
            aof::write_entry(&mut buf, entry);
            keys += 1;
            if buf.len() >= WRITE_CHUNK_BYTES {
                out(&buf);
                buf.clear();
            }
        }
    }
    out(&buf);
    keys
}

/// The dataset as an AOF base in `kind`'s format, in memory (a new AOF's first base).
pub fn base_bytes(store: &Store, now_ms: i64, kind: &BaseKind) -> Vec<u8> {
    let mut bytes = Vec::new();
    match kind {
        BaseKind::Rdb { aof_base } => {
            let _ = write_store(store, now_ms, *aof_base, true, &mut |chunk| {
                bytes.extend_from_slice(chunk);
                Ok(())
            });
        }
        BaseKind::Resp(header) => {
            write_store_resp(store, now_ms, header, &mut |chunk| {
                bytes.extend_from_slice(chunk)
            });
        }
    }
    bytes
}

/// The temp name a save writes to (Redis's `temp-<pid>.rdb`), with a serial number: a SAVE
/// and a stopping BGSAVE never share a file.
fn temp_name() -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    format!("{}{}-{serial}.rdb", pfs::TEMP_PREFIX, std::process::id())
}

/// Renames the synced temp file over `target` and syncs the directory.
fn put_in_place(storage: &dyn Storage, temp: &Path, target: &Path) -> Result<(), String> {
    storage.rename(temp, target).map_err(|e| {
        format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            temp.display(),
            target.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            strerror(&e)
        )
    })?;
    storage.sync_dir(pfs::parent_dir(target)).map_err(|e| {
        format!(
            "Failed to fsync the directory of {}: {}",
            target.display(),
            strerror(&e)
        )
    })
}

/// SAVE (and SHUTDOWN, DEBUG RELOAD, FLUSHALL with save points): the dataset written to
/// `dbfilename` now, under the keyspace lock the caller holds.
pub fn save(server: &Server, state: &mut State) -> Result<(), String> {
    let storage = OsStorage;
    let target = dump_path(server);
    let temp = PathBuf::from(temp_name());
    let checksum = server.config.read().get_bool("rdbchecksum");
    server.rdb.saves.fetch_add(1, Ordering::Relaxed);
    let written = (|| {
        let mut file = storage
            .create_new(&temp, pfs::DATA_FILE_MODE)
            .map_err(|e| {
                format!(
                    "Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
                    temp.display(),
                    std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                    strerror(&e)
                )
            })?;
        write_store(
            &state.store,
            crate::util::now_ms(),
            false,
            checksum,
            &mut |chunk| pfs::write_all(&storage, &mut file, chunk),
        )
        .and_then(|()| storage.sync_all(&file))
        .map_err(|e| format!("Write error saving DB on disk: {}", strerror(&e)))?;
        put_in_place(&storage, &temp, &target)
    })();
    if let Err(e) = written {
        let _ = storage.remove_file(&temp);
        log::warning(&e);
        return Err(e);
    }
    log::notice("DB saved on disk");
    state.store.dirty = 0;
    server.last_save_s.store(now_s(), Ordering::Relaxed);
    server.rdb.last_ok.store(true, Ordering::Relaxed);
    refresh_refusal(server);
    Ok(())
}

/// What BGSAVE did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BgsaveOrder {
    Started,
    Scheduled,
    AlreadyInProgress,
    /// An AOF rewrite runs and `SCHEDULE` was not given.
    RewriteInProgress,
}

/// Whether an AOF rewrite is writing a snapshot (or about to).
fn rewrite_running(server: &Server) -> bool {
    server.aof().is_some_and(|a| a.rewrite_in_progress()) || aof::offline_rewrite_in_progress()
}

/// BGSAVE [SCHEDULE], under the keyspace lock. `in_transaction`: inside MULTI/EXEC, where
/// Redis schedules it when it cannot start.
pub fn order_bgsave(
    server: &Server,
    state: &mut State,
    schedule: bool,
    in_transaction: bool,
) -> Result<BgsaveOrder, String> {
    if server.rdb.in_progress() {
        return Ok(BgsaveOrder::AlreadyInProgress);
    }
    if rewrite_running(server) || state.store.cutting() {
        if schedule || in_transaction {
            server.rdb.scheduled.store(true, Ordering::Relaxed);
            return Ok(BgsaveOrder::Scheduled);
        }
        return Ok(BgsaveOrder::RewriteInProgress);
    }
    start_bgsave(server, state)?;
    Ok(BgsaveOrder::Started)
}

/// Takes the cut and starts the thread that writes it to `dbfilename`.
fn start_bgsave(server: &Server, state: &mut State) -> Result<(), String> {
    let me = server
        .arc()
        .ok_or_else(|| "The server is stopping".to_string())?;
    let now_ms = crate::util::now_ms();
    let kind = BaseKind::Rdb { aof_base: false };
    server.rdb.aborted.store(false, Ordering::Relaxed);
    server.rdb.scheduled.store(false, Ordering::Relaxed);
    server.rdb.in_progress.store(true, Ordering::Relaxed);
    server.rdb.saves.fetch_add(1, Ordering::Relaxed);
    server
        .rdb
        .last_try_s
        .store(now_ms / 1000, Ordering::Relaxed);
    server
        .rdb
        .started_ms
        .store(now_ms.max(1), Ordering::Relaxed);
    server
        .rdb
        .dirty_at_start
        .store(state.store.dirty, Ordering::Relaxed);
    let keys: usize = state.store.dbs.iter().map(|d| d.len()).sum();
    server.rdb.keys_total.store(keys as u64, Ordering::Relaxed);
    server
        .rdb
        .keys_before
        .store(crate::keyspace::cut::keys_written(), Ordering::Relaxed);
    let cut = state
        .store
        .begin_cut(kind.cut_time(now_ms), kind.entry_writer());
    if let Ok(mut slot) = server.rdb.cut.lock() {
        *slot = Some(cut);
    }
    let spawned = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || {
            let started = Instant::now();
            let storage = OsStorage;
            let target = dump_path(&me);
            let temp = PathBuf::from(temp_name());
            let stopped = || {
                me.shutdown_requested.load(Ordering::Relaxed)
                    || me.rdb.aborted.load(Ordering::Relaxed)
            };
            let result = aof::write_base(&me, &storage, cut, &stopped, &temp, &kind)
                .and_then(|_| put_in_place(&storage, &temp, &target));
            if result.is_err() {
                me.state.lock().store.end_cut(cut);
                let _ = storage.remove_file(&temp);
            }
            finish_bgsave(&me, result, started.elapsed());
        });
    if let Err(e) = spawned {
        state.store.end_cut(cut);
        server.rdb.in_progress.store(false, Ordering::Relaxed);
        server.rdb.started_ms.store(0, Ordering::Relaxed);
        return Err(format!("Can't save in background: {e}"));
    }
    log::notice("Background saving started");
    Ok(())
}

fn finish_bgsave(server: &Server, result: Result<(), String>, took: Duration) {
    let rdb = &server.rdb;
    rdb.last_bgsave_s
        .store(took.as_secs() as i64, Ordering::Relaxed);
    if let Ok(mut slot) = rdb.cut.lock() {
        *slot = None;
    }
    match result {
        Err(_) if rdb.aborted.load(Ordering::Relaxed) => {
            // Stopped on purpose (FLUSHALL, AOF turned on): not a failure, as Redis's
            // killed child.
            log::notice("Background saving terminated: stopped on purpose");
        }
        Ok(()) => {
            log::notice("Background saving terminated with success");
            {
                let mut state = server.state.lock();
                let before = rdb.dirty_at_start.load(Ordering::Relaxed);
                state.store.dirty = state.store.dirty.saturating_sub(before);
            }
            server.last_save_s.store(now_s(), Ordering::Relaxed);
            rdb.last_ok.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            log::warning(&format!("Background saving error: {e}"));
            rdb.last_ok.store(false, Ordering::Relaxed);
        }
    }
    rdb.started_ms.store(0, Ordering::Relaxed);
    rdb.in_progress.store(false, Ordering::Relaxed);
    refresh_refusal(server);
}

/// Stops a BGSAVE in progress, as Redis kills its child (FLUSHALL: what it was writing is
/// gone). Its temp file is removed by its thread; `rdb_last_bgsave_status` stays as it was.
pub fn abort_bgsave(server: &Server, state: &mut State) {
    if !server.rdb.in_progress() {
        return;
    }
    let cut = server.rdb.cut.lock().ok().and_then(|c| *c);
    if let Some(cut) = cut {
        state.store.end_cut(cut);
    }
    server.rdb.aborted.store(true, Ordering::Relaxed);
    log::notice("Background saving stopped");
}

/// `CONFIG SET appendonly yes` takes its cut at once: a BGSAVE in progress is stopped and
/// scheduled again (the cron starts it once the rewrite is over).
pub fn yield_to_rewrite(server: &Server, state: &mut State) {
    if !server.rdb.in_progress() {
        return;
    }
    abort_bgsave(server, state);
    server.rdb.scheduled.store(true, Ordering::Relaxed);
    log::notice("Background saving scheduled again after the AOF's first rewrite");
}

/// An AOF rewrite about to take its cut waits here while a BGSAVE writes one (Redis runs
/// one child at a time and schedules the rewrite).
pub fn wait_for_bgsave(server: &Server, stopped: &dyn Fn() -> bool) {
    while server.rdb.in_progress() && !stopped() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The cron's part (Redis's `serverCron`): a scheduled BGSAVE starts once no rewrite runs,
/// and the `save` points start one when enough changed for long enough.
pub fn cron(server: &Server) {
    if server.rdb.in_progress() || rewrite_running(server) || server.loading.is_active() {
        return;
    }
    let mut state = server.state.lock();
    if state.store.cutting() {
        return;
    }
    if server.rdb.scheduled() {
        if let Err(e) = start_bgsave(server, &mut state) {
            log::warning(&e);
        }
        return;
    }
    let points = save_points(server.config.read().get("save"));
    let now = now_s();
    let since_save = now - server.last_save_s.load(Ordering::Relaxed);
    let retry_ok = server.rdb.last_ok()
        || now - server.rdb.last_try_s.load(Ordering::Relaxed) > BGSAVE_RETRY_DELAY_S;
    let due = points
        .iter()
        .find(|(seconds, changes)| state.store.dirty >= *changes && since_save > *seconds);
    if let Some((seconds, changes)) = due
        && retry_ok
    {
        log::notice(&format!(
            "{changes} changes in {seconds} seconds. Saving..."
        ));
        if let Err(e) = start_bgsave(server, &mut state) {
            log::warning(&e);
        }
    }
}

/// What loading an RDB stream counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    /// Offset just after the checksum: an AOF's RESP tail starts there.
    pub end: u64,
    pub keys: u64,
    pub expired: u64,
}

/// What [`read_rdb`] hands its caller.
#[derive(Debug)]
pub enum Loading {
    /// RESIZEDB: about this many keys follow for `db` (the tables can be sized once).
    Expect { db: usize, keys: u64 },
    /// A key for `db` with its [`crate::keyspace::key_hash`] (computed by the decoding
    /// thread, where the key is still in cache); the stream's offset after it.
    Key {
        db: usize,
        entry: Entry,
        hash: u64,
        offset: u64,
    },
}

impl Loading {
    /// The usual handling: size the db's tables, or insert the key (see [`insert`]).
    pub fn apply(self, store: &mut Store, replace: bool) -> Result<Option<u64>, String> {
        match self {
            Loading::Expect { db, keys } => {
                store.dbs[db].reserve(usize::try_from(keys).unwrap_or(0));
                Ok(None)
            }
            Loading::Key {
                db,
                entry,
                hash,
                offset,
            } => {
                insert(store, db, hash, entry, replace)?;
                Ok(Some(offset))
            }
        }
    }
}

/// How many items ahead of the one being inserted are prefetched.
const PREFETCH_AHEAD: usize = 4;

/// A hint that `item` is about to be read (nothing on targets without one).
#[inline(always)]
fn prefetch<T>(item: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program: any address is
    // fine, and this one is inside the batch's buffer.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(item.cast::<i8>());
        _mm_prefetch::<_MM_HINT_T0>(item.cast::<i8>().wrapping_add(64));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Items handed from the decoding thread to the inserting one at a time.
const LOAD_BATCH: usize = 512;
/// The decoder's error when the inserting side gave up first (its own error is reported).
const STOPPED: &str = "loading stopped";

/// Reads an RDB stream, handing each key and each size hint to `on_item`. Keys past their
/// deadline are dropped when `drop_expired` (loading `dump.rdb`, as a Redis master does),
/// kept when loading an AOF base (they expire later, with a `DEL` in the log).
///
/// Two threads share the work: one reads and decodes the file (checksum, lengths, values
/// built in kopi's encodings), the caller's inserts what it gets into the keyspace, in
/// batches through a bounded channel, so neither waits for the other's memory traffic.
pub fn read_rdb<R: std::io::BufRead + Send>(
    source: R,
    file_size: u64,
    databases: usize,
    drop_expired: bool,
    mut on_item: impl FnMut(Loading) -> Result<(), String>,
) -> Result<(Loaded, R), String> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Loading>>(4);
    std::thread::scope(|scope| {
        let decoder = std::thread::Builder::new()
            .name("rdb-decode".into())
            .spawn_scoped(scope, move || {
                decode_rdb(source, file_size, databases, drop_expired, tx)
            })
            .map_err(|e| format!("Can't start the RDB decoder: {e}"))?;
        let mut applied = Ok(());
        while let Ok(batch) = rx.recv() {
            // The batch was written on the decoder's core: ask for the items a few steps
            // ahead, so this core does not stall on each one as it comes to it.
            let base = batch.as_ptr();
            let len = batch.len();
            for (i, item) in batch.into_iter().enumerate() {
                if i + PREFETCH_AHEAD < len {
                    prefetch(base.wrapping_add(i + PREFETCH_AHEAD));
                }
                applied = on_item(item);
                if applied.is_err() {
                    break;
                }
            }
            if applied.is_err() {
                break;
            }
        }
        // A decoder still sending sees the channel closed and stops.
        drop(rx);
        let decoded = decoder
            .join()
            .map_err(|_| "The RDB decoder failed".to_string())?;
        applied?;
        decoded
    })
}

/// [`read_rdb`]'s decoding thread.
fn decode_rdb<R: std::io::BufRead>(
    source: R,
    file_size: u64,
    databases: usize,
    drop_expired: bool,
    tx: std::sync::mpsc::SyncSender<Vec<Loading>>,
) -> Result<(Loaded, R), String> {
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    let send = |batch: &mut Vec<Loading>, item: Loading| -> Result<(), String> {
        batch.push(item);
        if batch.len() >= LOAD_BATCH {
            let full = std::mem::replace(batch, Vec::with_capacity(LOAD_BATCH));
            tx.send(full).map_err(|_| STOPPED.to_string())?;
        }
        Ok(())
    };
    let mut reader = RdbReader::new(source).map_err(|e| e.to_string())?;
    let now_ms = crate::util::now_ms();
    let mut db = 0usize;
    let mut loaded = Loaded::default();
    loop {
        match reader.next_item().map_err(|e| e.to_string())? {
            Item::Aux { key, value } => {
                if key.starts_with(b"%") {
                    log::notice(&format!(
                        "RDB '{}': {}",
                        String::from_utf8_lossy(&key[1..]),
                        String::from_utf8_lossy(&value)
                    ));
                } else if key == b"redis-ver" {
                    log::notice(&format!(
                        "Loading RDB produced by version {}",
                        String::from_utf8_lossy(&value)
                    ));
                }
            }
            Item::SelectDb(n) => {
                if n >= databases {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting"
                    ));
                }
                db = n;
            }
            Item::ResizeDb { keys, .. } => {
                // A hint, trusted only as far as the file could hold that many keys (a key
                // takes at least 3 bytes: type, key, value).
                let keys = keys.min(file_size / 3);
                send(&mut batch, Loading::Expect { db, keys })?;
            }
            Item::Function(_) => {
                return Err(
                    "The RDB file holds a function library: kopi has no functions (FUNCTION LOAD) and can't load it".into(),
                );
            }
            Item::Key {
                key,
                value,
                expire_at_ms,
                idle_s,
                freq,
            } => {
                if drop_expired && expire_at_ms != NO_EXPIRY && expire_at_ms < now_ms {
                    loaded.expired += 1;
                    continue;
                }
                let mut entry = Entry::with_key(bytes::Bytes::from(key), value);
                entry.expire_at_ms = expire_at_ms;
                if let Some(idle) = idle_s {
                    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
                    entry.access_s = entry.access_s.saturating_sub(idle);
                }
                if let Some(freq) = freq {
                    entry.freq = freq;
                }
                loaded.keys += 1;
                send(
                    &mut batch,
                    Loading::Key {
                        db,
                        hash: crate::keyspace::key_hash(&entry.key),
                        entry,
                        offset: reader.offset(),
                    },
                )?;
            }
            Item::End {
                end,
                checksum_checked,
            } => {
                if !checksum_checked {
                    log::notice("RDB file was saved with checksum disabled: no check performed.");
                }
                loaded.end = end;
                if !batch.is_empty() {
                    tx.send(batch).map_err(|_| STOPPED.to_string())?;
                }
                return Ok((loaded, reader.into_inner()));
            }
        }
    }
}

/// Inserts a loaded key; a key already there is corruption (Redis: "duplicated key") unless
/// `replace` (DEBUG RELOAD MERGE).
fn insert(
    store: &mut Store,
    db: usize,
    hash: u64,
    entry: Entry,
    replace: bool,
) -> Result<(), String> {
    match store.dbs[db].insert_hashed(hash, entry) {
        Some(old) if !replace => Err(format!(
            "RDB has duplicated key '{}' in DB {db}",
            String::from_utf8_lossy(&old.key)
        )),
        _ => Ok(()),
    }
}

/// Loads the RDB file at `path` into the dataset held by `held`, with loading progress for
/// INFO and the lock handed to clients now and then.
pub fn load_file(
    server: &Server,
    held: &mut impl Held,
    path: &Path,
    replace: bool,
) -> Result<Loaded, String> {
    let file =
        File::open(path).map_err(|e| format!("Can't open {}: {}", path.display(), strerror(&e)))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let databases = held.state().store.dbs.len();
    let _suspended = crate::keyspace::suspend_expiry();
    let mut pacer = Pacer::new(
        &server.loading,
        &server.limits.key_load_delay,
        held.state(),
        size,
    );
    let result = read_rdb(
        BufReader::new(file),
        size,
        databases,
        true,
        |item| match item.apply(&mut held.state().store, replace)? {
            Some(offset) => pacer.after_command(held, offset),
            None => Ok(()),
        },
    );
    pacer.finish(held.state());
    let (loaded, _) = result?;
    server.rdb.keys_loaded.store(loaded.keys, Ordering::Relaxed);
    server
        .rdb
        .keys_expired
        .store(loaded.expired, Ordering::Relaxed);
    held.state().store.dirty = 0;
    Ok(loaded)
}

/// Loads `path` into a store of its own (the first AOF base made from `dump.rdb`).
pub fn load_into(store: &mut Store, path: &Path) -> Result<Loaded, String> {
    let file =
        File::open(path).map_err(|e| format!("Can't open {}: {}", path.display(), strerror(&e)))?;
    let databases = store.dbs.len();
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_rdb(BufReader::new(file), size, databases, true, |item| {
        item.apply(store, false).map(|_| ())
    })
    .map(|(loaded, _)| loaded)
}

/// `appendonly no` at start-up: `dump.rdb`, when there is one.
pub fn load_at_start(server: &Arc<Server>) -> Result<(), String> {
    let path = dump_path(server);
    if !path.exists() {
        return Ok(());
    }
    let started = Instant::now();
    let mut state = server.state.lock();
    let loaded = load_file(server, &mut state, &path, false).map_err(|e| {
        format!(
            "Fatal error loading the DB: {e} ({}). Exiting.",
            path.display()
        )
    })?;
    drop(state);
    log::notice(&format!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        loaded.keys, loaded.expired
    ));
    log::notice(&format!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{StringValue, Value};

    /// An RDB file holding `keys` as (db, key) pairs, each set to "v", in that order.
    fn file(keys: &[(usize, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        rdb::write_header(&mut out, false, 0, 0);
        let mut db = usize::MAX;
        for (n, key) in keys {
            if *n != db {
                rdb::write_db_start(&mut out, *n, 1, 0);
                db = *n;
            }
            let value = Value::String(StringValue::from_bytes(b"v"));
            rdb::write_entry(&mut out, &Entry::new(key.as_bytes(), value));
        }
        let mut crc = rdb::Crc64::new();
        crc.update(&out);
        rdb::write_end(&mut out, &mut crc, true);
        out
    }

    fn load(bytes: &[u8], store: &mut Store, replace: bool) -> Result<Loaded, String> {
        let databases = store.dbs.len();
        read_rdb(bytes, bytes.len() as u64, databases, true, |item| {
            item.apply(store, replace).map(|_| ())
        })
        .map(|(loaded, _)| loaded)
    }

    #[test]
    fn keys_load_into_their_databases() {
        let mut store = Store::new(16);
        let loaded = load(&file(&[(0, "a"), (0, "b"), (15, "c")]), &mut store, false).unwrap();
        assert_eq!((loaded.keys, loaded.expired), (3, 0));
        assert_eq!((store.dbs[0].len(), store.dbs[15].len()), (2, 1));
    }

    #[test]
    fn a_database_the_server_does_not_have_is_refused() {
        let mut store = Store::new(4);
        let err = load(&file(&[(7, "a")]), &mut store, false).unwrap_err();
        assert!(err.contains("more than 4 databases"), "{err}");
    }

    #[test]
    fn a_key_met_twice_is_refused_unless_loaded_keys_replace() {
        let bytes = file(&[(0, "a"), (0, "b"), (0, "a")]);
        let err = load(&bytes, &mut Store::new(16), false).unwrap_err();
        assert_eq!(err, "RDB has duplicated key 'a' in DB 0");
        let mut store = Store::new(16);
        assert_eq!(load(&bytes, &mut store, true).unwrap().keys, 3);
        assert_eq!(store.dbs[0].len(), 2);
    }

    #[test]
    fn an_error_on_the_inserting_side_stops_the_decoder() {
        let keys: Vec<(usize, String)> = (0..5000).map(|i| (0, format!("k{i}"))).collect();
        let keys: Vec<(usize, &str)> = keys.iter().map(|(d, k)| (*d, k.as_str())).collect();
        let bytes = file(&keys);
        let mut seen = 0;
        let result = read_rdb(&bytes[..], bytes.len() as u64, 16, true, |_| {
            seen += 1;
            if seen == 10 {
                Err("stop here".to_string())
            } else {
                Ok(())
            }
        });
        assert_eq!(result.map(|_| ()).unwrap_err(), "stop here");
        assert_eq!(seen, 10);
    }
}
