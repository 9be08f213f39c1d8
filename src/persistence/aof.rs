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
use super::loading::Pacer;
use super::manifest::{AppendFilename, BaseFormat, FileKind, LastIncr, Manifest, file_path};
use crate::commands;
use crate::keyspace::NO_EXPIRY;
use crate::keyspace::value::Value;
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
    /// `strerror` of the write or fsync error in force; `None` when writes are accepted.
    error: Mutex<Option<String>>,
    error_flag: AtomicBool,
    /// `aof_current_size`: the base and incr files' bytes.
    current_size: AtomicU64,
    /// `aof_base_size`.
    base_size: AtomicU64,
    /// An everysec fdatasync is running (`aof_pending_bio_fsync`).
    fsync_pending: AtomicBool,
    /// The incr file being appended to, and what is being written to it.
    sink: Mutex<Sink>,
    /// A descriptor of the same incr file for the everysec fsync thread.
    sync_file: Mutex<Arc<File>>,
    /// Incremented (under the keyspace lock) when a rewrite switches to a new incr file:
    /// effects taken before the switch are in the new base and are not written again.
    generation: AtomicU64,
    dir: PathBuf,
    filename: AppendFilename,
    /// The manifest as last persisted.
    manifest: Mutex<Manifest>,
    /// `aof_rewrites`, `aof_last_bgrewrite_status`, `aof_last_rewrite_time_sec`.
    rewrites: AtomicU64,
    last_rewrite_ok: AtomicBool,
    last_rewrite_ms: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The writer's writes and fsyncs go through this (a fault-injecting one in tests).
    storage: Arc<dyn Storage>,
}

/// The writer's side: the incr file and the group being written to it.
struct Sink {
    file: File,
    path: PathBuf,
    /// Bytes in the file after the last complete group: a failed write is cut back to it.
    size: u64,
    generation: u64,
    /// Taken from the effects buffer, not yet written (kept across a failed write).
    group: Vec<u8>,
    failed_at: Option<Instant>,
}

#[derive(Default)]
struct Kick {
    pending: bool,
    stop: bool,
}

impl Aof {
    pub fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
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
        self.kicked.notify_all();
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

    /// Rewrites the AOF from memory, synchronously, with the keyspace lock held by the
    /// caller (`state`): a new incr file, a RESP base with the whole keyspace, the manifest
    /// naming both made durable, then the files it no longer names removed. Every effect
    /// recorded so far is in the new base, so waiting replies are released by it.
    pub fn rewrite(&self, state: &mut State, now_ms: i64) -> Result<(), String> {
        let started = Instant::now();
        let result = self.rewrite_locked(state, now_ms);
        self.last_rewrite_ok
            .store(result.is_ok(), Ordering::Relaxed);
        self.last_rewrite_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        match &result {
            Ok(()) => {
                self.rewrites.fetch_add(1, Ordering::Relaxed);
                log::notice("Background AOF rewrite finished successfully");
            }
            Err(e) => log::warning(&format!(
                "Background AOF rewrite terminated with error: {e}"
            )),
        }
        result
    }

    fn rewrite_locked(&self, state: &mut State, now_ms: i64) -> Result<(), String> {
        let storage = OsStorage;
        let mut sink = self
            .sink
            .lock()
            .map_err(|_| "the AOF writer failed".to_string())?;
        let mut manifest = self
            .manifest
            .lock()
            .map_err(|_| "the AOF writer failed".to_string())?
            .clone();
        let mut base_bytes = Vec::new();
        if state.effects.timestamps_enabled() {
            // A timestamped AOF's base starts with its time too (Redis's rewrite does this).
            let now_s = now_ms.div_euclid(1000);
            base_bytes.extend_from_slice(format!("#TS:{now_s}\r\n").as_bytes());
            state.effects.note_timestamp(now_s);
        }
        base_bytes.extend_from_slice(&serialize_keyspace(state, now_ms));
        let incr = manifest
            .open_new_incr(&self.filename)
            .map_err(|e| e.to_string())?;
        let incr_path = file_path(&self.dir, &incr.name);
        let incr_file = storage.open_append(&incr_path).map_err(|e| {
            format!(
                "Can't open the append-only file {}: {}",
                incr_path.display(),
                strerror(&e)
            )
        })?;
        storage.sync_all(&incr_file).map_err(|e| strerror(&e))?;
        log::notice(&format!(
            "Creating AOF incr file {} on background rewrite",
            String::from_utf8_lossy(&incr.name)
        ));
        let base = manifest
            .commit_rewrite(&self.filename, BaseFormat::Aof, LastIncr::Keep)
            .map_err(|e| e.to_string())?;
        let base_path = file_path(&self.dir, &base.name);
        pfs::write_file_atomically(&storage, &base_path, &base_bytes, pfs::DATA_FILE_MODE)
            .map_err(|e| e.to_string())?;
        storage.sync_dir(&self.dir).map_err(|e| strerror(&e))?;
        manifest
            .persist(&storage, &self.dir, &self.filename)
            .map_err(|e| e.to_string())?;
        // The new manifest is durable: the files only the old one named can go.
        let history = manifest.drop_history();
        for old in &history {
            log::notice(&format!(
                "Removing the history file {} in the background",
                String::from_utf8_lossy(&old.name)
            ));
            let _ = storage.remove_file(&file_path(&self.dir, &old.name));
        }
        if !history.is_empty()
            && let Err(e) = manifest.persist(&storage, &self.dir, &self.filename)
        {
            log::warning(&format!("Error persisting the AOF manifest: {e}"));
        }
        let sync_clone = incr_file.try_clone().map_err(|e| strerror(&e))?;
        // Switch: what is pending is in the base; the next record selects its db again.
        let mut discard = Vec::new();
        let lsn = state.effects.take(&mut discard);
        state.effects.reset_selected_db();
        self.generation.fetch_add(1, Ordering::AcqRel);
        sink.generation = sink.generation.wrapping_add(1);
        sink.file = incr_file;
        sink.path = incr_path;
        sink.size = 0;
        sink.group.clear();
        sink.failed_at = None;
        if let Ok(mut f) = self.sync_file.lock() {
            *f = Arc::new(sync_clone);
        }
        if let Ok(mut m) = self.manifest.lock() {
            *m = manifest;
        }
        let base_len = base_bytes.len() as u64;
        self.current_size.store(base_len, Ordering::Relaxed);
        self.base_size.store(base_len, Ordering::Relaxed);
        self.set_error(None);
        drop(sink);
        self.written.send_if_modified(|v| {
            let changed = *v < lsn;
            *v = (*v).max(lsn);
            changed
        });
        publish_synced(self, lsn);
        Ok(())
    }

    fn set_error(&self, text: Option<String>) {
        if let Ok(mut e) = self.error.lock() {
            *e = text;
            self.error_flag.store(e.is_some(), Ordering::Relaxed);
        }
    }

    /// Writes and syncs what is pending and stops the threads (SHUTDOWN, SIGTERM).
    pub fn shutdown(&self) {
        if let Ok(mut kick) = self.kick.lock() {
            kick.stop = true;
        }
        self.kicked.notify_all();
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
/// for a fresh start (an empty RESP base: kopi has no RDB writer yet), and returns it.
pub fn prepare_dir(dir: &Path, filename: &AppendFilename) -> Result<Manifest, String> {
    let storage = OsStorage;
    let mut manifest = Manifest::load(dir, filename)
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    upgrade_single_file(dir, filename, &mut manifest)?;
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "Can't create the AOF directory {}: {}",
                dir.display(),
                strerror(&e)
            )
        })?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        pfs::fsync_dir(&parent).map_err(|e| strerror(&e))?;
    }
    let mut changed = false;
    if manifest.base().is_none() && manifest.incrs().is_empty() {
        let base = manifest
            .commit_rewrite(filename, BaseFormat::Aof, LastIncr::Keep)
            .map_err(|e| e.to_string())?;
        let path = file_path(dir, &base.name);
        let file = storage
            .create_new(&path, pfs::DATA_FILE_MODE)
            .map_err(|e| {
                format!(
                    "Can't create the AOF base file {}: {}",
                    path.display(),
                    strerror(&e)
                )
            })?;
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
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let old = file_path(&parent, filename.as_bytes());
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
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "Can't create the AOF directory {}: {}",
                dir.display(),
                strerror(&e)
            )
        })?;
        pfs::fsync_dir(&parent).map_err(|e| strerror(&e))?;
    }
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
    let manifest = prepare_dir(&dir, &filename)?;
    let truncated_ok = server.config.read().get_bool("aof-load-truncated");
    load(server, &dir, &manifest, truncated_ok)?;
    let aof = start(server, &dir, &manifest)?;
    let _ = server.aof.set(aof);
    Ok(())
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
    let policy = Fsync::parse(server.config.read().get("appendfsync"));
    let lsn = {
        let mut state = server.state.lock();
        state.effects.set_enabled(true);
        state.effects.lsn()
    };
    let sync_file = Arc::new(
        file.try_clone()
            .map_err(|e| format!("Can't duplicate the AOF descriptor: {}", strerror(&e)))?,
    );
    let aof = Arc::new(Aof {
        written: watch::Sender::new(lsn),
        synced: watch::Sender::new(lsn),
        policy: AtomicU8::new(policy.to_u8()),
        kick: Mutex::new(Kick::default()),
        kicked: Condvar::new(),
        error: Mutex::new(None),
        error_flag: AtomicBool::new(false),
        current_size: AtomicU64::new(total),
        base_size: AtomicU64::new(base_size),
        fsync_pending: AtomicBool::new(false),
        sink: Mutex::new(Sink {
            file,
            path: incr_path,
            size: incr_size,
            generation: 0,
            group: Vec::new(),
            failed_at: None,
        }),
        sync_file: Mutex::new(sync_file),
        generation: AtomicU64::new(0),
        dir: dir.to_path_buf(),
        filename,
        manifest: Mutex::new(manifest.clone()),
        rewrites: AtomicU64::new(0),
        last_rewrite_ok: AtomicBool::new(true),
        last_rewrite_ms: AtomicU64::new(u64::MAX),
        threads: Mutex::new(Vec::new()),
        storage,
    });
    let writer = {
        let server = server.clone();
        let aof = aof.clone();
        std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || writer_loop(&server, &aof))
            .map_err(|e| e.to_string())?
    };
    let syncer = {
        let aof = aof.clone();
        std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || fsync_loop(&aof))
            .map_err(|e| e.to_string())?
    };
    if let Ok(mut t) = aof.threads.lock() {
        t.push(writer);
        t.push(syncer);
    }
    Ok(aof)
}

/// The writer thread: group commit of everything pending.
fn writer_loop(server: &Server, aof: &Aof) {
    let storage = &*aof.storage;
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
        let (lsn, generation) = {
            let mut state = server.state.lock();
            let lsn = state.effects.take(&mut fresh);
            (lsn, aof.generation.load(Ordering::Acquire))
        };
        let Ok(mut sink) = aof.sink.lock() else {
            return;
        };
        if sink.generation != generation {
            // A rewrite switched files after these were taken: its base holds them.
            fresh.clear();
            continue;
        }
        if sink.group.is_empty() {
            std::mem::swap(&mut sink.group, &mut fresh);
        } else {
            sink.group.extend_from_slice(&fresh);
            fresh.clear();
        }
        if let Some(at) = sink.failed_at
            && at.elapsed() < RETRY_AFTER
            && !stop
        {
            continue;
        }
        if !sink.group.is_empty() {
            let Sink {
                file, group, size, ..
            } = &mut *sink;
            match pfs::write_all(storage, file, group) {
                Ok(()) => {
                    *size = size.saturating_add(group.len() as u64);
                    aof.current_size
                        .fetch_add(group.len() as u64, Ordering::Relaxed);
                    group.clear();
                    if sink.failed_at.take().is_some() {
                        log::warning("AOF write error looks solved, kopi can write again.");
                        aof.set_error(None);
                    }
                }
                Err(e) => {
                    let first = sink.failed_at.is_none();
                    write_failed(aof, &sink, &e, first);
                    sink.failed_at = Some(Instant::now());
                    if stop {
                        return;
                    }
                    continue;
                }
            }
        }
        aof.written.send_if_modified(|v| {
            let changed = *v < lsn;
            *v = (*v).max(lsn);
            changed
        });
        let policy = aof.policy();
        if (policy == Fsync::Always || stop) && aof.synced_lsn() < aof.written_lsn() {
            if let Err(e) = storage.sync_data(&sink.file) {
                log::warning(&format!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...",
                    strerror(&e)
                ));
                std::process::exit(1);
            }
            publish_synced(aof, lsn);
        }
        if stop {
            return;
        }
    }
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
    if let Err(t) = sink.file.set_len(sink.size) {
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
    let mut failed = false;
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
                match aof.kicked.wait_timeout(kick, wait) {
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
        if aof.policy() != Fsync::Everysec || failed {
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
        let result = aof.storage.sync_data(&file);
        aof.fsync_pending.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => publish_synced(aof, target),
            Err(e) => {
                let text = strerror(&e);
                log::warning(&format!("Fail to fsync the AOF file: {text}"));
                // The kernel may have dropped the pages: never trust this descriptor again.
                aof.set_error(Some(text));
                failed = true;
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
/// command. An RDB base is refused too: kopi cannot read RDB yet.
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
    let peer = Peer {
        addr: String::new(),
        laddr: String::new(),
        fd: -1,
        is_local: true,
        unix_path: None,
    };
    let mut reply = Reply::new(Protocol::Resp2);
    let mut state = server.state.lock();
    // Progress for INFO, `key-load-delay`, and the lock handed to clients now and then.
    let mut pacer = Pacer::new(
        &server.loading,
        &server.limits.key_load_delay,
        &mut state,
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
        let report = reader.read_file(&path, &ReadOptions::default(), |event| {
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
            commands::execute(server, &mut state, &mut client, &mut reply, &args);
            reply.buf.clear();
            reply.errors.clear();
            pacer.after_command(&mut state, command.end)
        });
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
                return Err(format!(
                    "The AOF base file {name} is in RDB format: kopi cannot load RDB base files yet. \
                     Rewrite the AOF with aof-use-rdb-preamble no in Redis, or start kopi without this AOF."
                ));
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
                log::warning(&format!(
                    "!!! Warning: short read while loading the AOF file {name}!!!"
                ));
                log::warning(&format!(
                    "!!! Truncating the AOF {name} at offset {} !!!",
                    cut.valid_up_to
                ));
                truncate_file(&path, cut.valid_up_to).map_err(|e| {
                    format!("Error truncating the AOF file {name}: {}", strerror(&e))
                })?;
                log::warning(&format!(
                    "AOF {name} loaded anyway because aof-load-truncated is enabled"
                ));
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
    pacer.finish(&mut state);
    state.store.dirty = 0;
    drop(state);
    log::notice(&format!(
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Appends `*<n>\r\n` then `$<len>\r\n<arg>\r\n` for each argument.
fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
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

/// The whole keyspace as RESP commands: `SELECT n` before each non-empty database, then
/// `SET key value [PXAT ms]` per key. Keys already past their deadline are left out, as Redis
/// does.
pub fn serialize_keyspace(state: &State, now_ms: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut scratch = itoa::Buffer::new();
    let mut deadline = itoa::Buffer::new();
    let mut index = itoa::Buffer::new();
    for (n, db) in state.store.dbs.iter().enumerate() {
        if db.data.is_empty() {
            continue;
        }
        encode(&mut out, &[b"SELECT", index.format(n).as_bytes()]);
        for entry in db.data.iter() {
            let expires = entry.expire_at_ms != NO_EXPIRY;
            if expires && entry.expire_at_ms <= now_ms {
                continue;
            }
            match &entry.value {
                Value::String(s) => {
                    let value = s.as_bytes(&mut scratch);
                    if expires {
                        let at = deadline.format(entry.expire_at_ms);
                        encode(
                            &mut out,
                            &[b"SET", &entry.key, value, b"PXAT", at.as_bytes()],
                        );
                    } else {
                        encode(&mut out, &[b"SET", &entry.key, value]);
                    }
                }
            }
        }
    }
    out
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
        let _ = server.aof.set(aof.clone());
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
        let peer = Peer {
            addr: String::new(),
            laddr: String::new(),
            fd: -1,
            is_local: true,
            unix_path: None,
        };
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
    fn serialized_keyspace_has_select_set_and_absolute_deadlines() {
        let server = Server::new(Config::default());
        let mut state = server.state.lock();
        let mut reply = Reply::new(Protocol::Resp2);
        let peer = Peer {
            addr: String::new(),
            laddr: String::new(),
            fd: -1,
            is_local: true,
            unix_path: None,
        };
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
        let text = String::from_utf8(serialize_keyspace(&state, crate::util::now_ms())).unwrap();
        assert!(
            text.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"),
            "{text}"
        );
        assert!(
            text.contains("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"),
            "{text}"
        );
        assert!(
            text.contains("$1\r\nb\r\n$1\r\nx\r\n$4\r\nPXAT\r\n$14\r\n99999999999999\r\n"),
            "{text}"
        );
        assert!(!text.contains("gone"), "{text}");
        assert!(
            text.contains("*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n"),
            "{text}"
        );
    }
}
