//! A simulated power loss: a [`Storage`] over the real file system that remembers what a
//! power cut would leave, and can make the disk look like that at any moment.
//!
//! This is test and simulation equipment (the unit tests below, `kopi-sim`), never used by
//! the server itself. It lets a test run the real AOF writer, acknowledge writes exactly as
//! connections do, pull the plug, and load what is left.
//!
//! # The model
//!
//! Every call performs the real system call; on top, the storage keeps two views apart:
//!
//! - **File data.** A file's *durable content* is what it held when the last successful
//!   `sync_data` or `sync_all` through this storage returned (read back through the synced
//!   descriptor, so it also works for a file that was unlinked meanwhile). A file created
//!   through the storage starts with empty durable content; `fsync` of a file says nothing
//!   about its name.
//! - **Directory entries.** A tracked directory's *durable entries* are its regular files
//!   (name → file) as they were when the last successful `sync_dir` of that directory
//!   returned. Creations, renames (into, out of or within it) and removals after that are not
//!   durable, whatever happened to the files' data.
//!
//! Files and entries present when the storage is made are taken as durable as they are.
//!
//! [`crash`](PowerLossStorage::crash) rewrites every tracked directory to what a power loss
//! leaves: exactly its durable entries, each holding its file's durable content. So a file
//! created but not dir-synced disappears, a rename is undone (the source name comes back,
//! and a target it replaced comes back with that target's own durable content), a removal is
//! undone (the removed file's durable content is kept in memory until its removal is
//! durable), and bytes written after a file's last sync are gone. With [`Loss::TornTail`] a
//! file whose unsynced change is a pure append keeps a random-length prefix of the appended
//! bytes instead (a write-back that got part of the way), the case that makes a loader face
//! a torn last record.
//!
//! After a crash the storage is *detached*: every call succeeds and does nothing (writes go
//! nowhere, new files are `/dev/null`), so the threads of the crashed instance can be stopped
//! without touching the directory that now represents the disk after the reboot.
//!
//! # Why this is faithful
//!
//! It is the weakest disk POSIX and Linux promise: `fsync`/`fdatasync` make the data written
//! before them durable, including the size; only an `fsync` of the directory makes a name
//! created, renamed or removed in it durable (`fsync(2)`: "calling fsync() on the file does
//! not ensure that the entry in the directory containing the file has also reached disk");
//! `rename` is atomic, so after a crash a name refers to the old file or the new one, never
//! to neither. Where a real file system may keep more than that (ext4's journal often
//! commits a new file's name with its data, `auto_da_alloc` flushes before a rename), the
//! model keeps nothing: code correct here does not rely on such luck.
//!
//! # Limits
//!
//! - Data is kept as a durable *content*, exact for what kopi does: append-only files, and
//!   whole files written once and synced (temp files, manifests, bases). An in-place
//!   overwrite that was not synced is lost entirely, never torn.
//! - Outcomes a real disk can produce that are not modelled: unsynced pages persisted out of
//!   order (an earlier page lost, a later one kept), or a file size that grew while its new
//!   blocks read back as zeros (delayed allocation without ordered data). A zero-filled tail
//!   is corruption to an AOF loader, in Redis as in kopi.
//! - Files are known by device and inode number. Files in a tracked directory must be created
//!   through this storage (or exist before it is made) for inode reuse to be noticed; a file
//!   it never saw created or synced counts as empty when its directory is synced. A change
//!   that bypasses the storage (the `ftruncate` after a failed write) is seen at the next
//!   sync, except an in-place overwrite below the durable length.
//! - Only regular files are modelled: subdirectories and symlinks are left as they are, the
//!   tracked directories themselves are assumed durable, restored files get mode 0600, and a
//!   file with two names comes back as two copies. Permissions and times are not modelled.
//! - Calls are serialized under one lock, an fsync included: a write waits while another
//!   thread's fsync runs. That changes latencies, not outcomes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::fs::{self, DATA_FILE_MODE, Storage};

/// What a crash does to bytes written after a file's last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// All of them are lost: the worst case the contract allows.
    Unsynced,
    /// An appended tail keeps a prefix of random length (chosen per file from `seed`); other
    /// unsynced changes are lost.
    TornTail { seed: u64 },
}

/// A file as the device and inode number the kernel reports.
type Key = (u64, u64);
/// The storage's own name for a file: inode numbers can be reused, these never are.
type FileId = u64;

/// A [`Storage`] that can simulate a power loss; see the module documentation for the model.
pub struct PowerLossStorage {
    model: Mutex<Model>,
}

struct Model {
    dirs: Vec<TrackedDir>,
    files: HashMap<FileId, FileState>,
    /// The files the storage knows by their current inode.
    live: HashMap<Key, FileId>,
    next_id: FileId,
    /// Calls made so far (every [`Storage`] method counts one).
    calls: u64,
    /// Crash once `calls` reaches this, with this loss.
    armed: Option<(u64, Loss)>,
    crashed: bool,
    /// The error of a crash that fired inside a call, reported by the next `crash()`.
    crash_error: Option<io::Error>,
}

struct TrackedDir {
    path: PathBuf,
    durable: BTreeMap<OsString, FileId>,
}

#[derive(Default)]
struct FileState {
    durable: Vec<u8>,
    /// A write landed below the durable length since the last sync: the next sync reads the
    /// whole file again, and a torn crash keeps none of the unsynced change.
    overwritten: bool,
}

impl PowerLossStorage {
    /// Starts simulating the directories `dirs`: their regular files, as they are now, are
    /// the durable state. Calls on paths elsewhere are performed but not modelled.
    pub fn new(dirs: &[&Path]) -> io::Result<PowerLossStorage> {
        let mut model = Model {
            dirs: Vec::new(),
            files: HashMap::new(),
            live: HashMap::new(),
            next_id: 0,
            calls: 0,
            armed: None,
            crashed: false,
            crash_error: None,
        };
        for dir in dirs {
            let path = dir.canonicalize()?;
            if model.dirs.iter().any(|d| d.path == path) {
                continue;
            }
            let mut durable = BTreeMap::new();
            for (name, key) in regular_files(&path)? {
                let id = match model.live.get(&key) {
                    Some(&id) => id,
                    None => {
                        let id = model.fresh(key);
                        if let Some(f) = model.files.get_mut(&id) {
                            f.durable = std::fs::read(path.join(&name))?;
                        }
                        id
                    }
                };
                durable.insert(name, id);
            }
            model.dirs.push(TrackedDir { path, durable });
        }
        Ok(PowerLossStorage {
            model: Mutex::new(model),
        })
    }

    /// Cuts the power now: every tracked directory is rewritten to its durable state (see the
    /// module documentation) and the storage detaches. A second crash does nothing, except
    /// report the error of a crash armed with [`crash_after`](Self::crash_after) that failed.
    pub fn crash(&self, loss: Loss) -> io::Result<()> {
        let mut model = self.model.lock();
        if model.crashed {
            return model.crash_error.take().map_or(Ok(()), Err);
        }
        model.crash(loss)
    }

    /// Arms a crash right after the `calls`-th call from now has been performed (1: the next
    /// call takes effect, then the power fails).
    pub fn crash_after(&self, calls: u64, loss: Loss) {
        let mut model = self.model.lock();
        let at = model.calls.saturating_add(calls.max(1));
        model.armed = Some((at, loss));
    }

    /// Whether the power was cut. A call that returned before this turned true completed
    /// before the crash.
    pub fn crashed(&self) -> bool {
        self.model.lock().crashed
    }

    /// Calls made through the storage so far.
    pub fn calls(&self) -> u64 {
        self.model.lock().calls
    }

    /// Runs one call: the real operation `live` while the power is on, `dead` after the
    /// crash; then an armed crash fires if this was its call.
    fn call<T>(
        &self,
        dead: impl FnOnce() -> io::Result<T>,
        live: impl FnOnce(&mut Model) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut model = self.model.lock();
        if model.crashed {
            return dead();
        }
        let result = live(&mut model);
        model.calls = model.calls.saturating_add(1);
        if let Some((at, loss)) = model.armed
            && model.calls >= at
        {
            model.armed = None;
            if let Err(e) = model.crash(loss) {
                model.crash_error = Some(e);
            }
        }
        result
    }
}

impl Model {
    /// A new file under `key`, replacing whatever file had that inode number before.
    fn fresh(&mut self, key: Key) -> FileId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.files.insert(id, FileState::default());
        self.live.insert(key, id);
        id
    }

    fn tracked(&self, dir: &Path) -> Option<usize> {
        let dir = dir.canonicalize().ok()?;
        self.dirs.iter().position(|d| d.path == dir)
    }

    /// After a successful fsync of `file`: its current content is durable.
    fn synced(&mut self, file: &File) -> io::Result<()> {
        let meta = file.metadata()?;
        let Some(&id) = self.live.get(&key_of(&meta)) else {
            // A file created elsewhere or no longer named anywhere tracked: not modelled.
            return Ok(());
        };
        let Some(state) = self.files.get_mut(&id) else {
            return Ok(());
        };
        let durable_len = state.durable.len() as u64;
        if !state.overwritten && meta.len() >= durable_len {
            let tail = read_through(file, durable_len)?;
            state.durable.extend_from_slice(&tail);
        } else {
            state.durable = read_through(file, 0)?;
        }
        state.overwritten = false;
        Ok(())
    }

    /// After a successful fsync of tracked directory `index`: its entries are durable.
    fn dir_synced(&mut self, index: usize) -> io::Result<()> {
        let Some(path) = self.dirs.get(index).map(|d| d.path.clone()) else {
            return Ok(());
        };
        let mut durable = BTreeMap::new();
        for (name, key) in regular_files(&path)? {
            let id = match self.live.get(&key) {
                Some(&id) => id,
                None => self.fresh(key),
            };
            durable.insert(name, id);
        }
        if let Some(dir) = self.dirs.get_mut(index) {
            dir.durable = durable;
        }
        self.forget_unreachable()
    }

    /// Drops the files that neither a durable entry nor a current one names: they cannot come
    /// back after a crash.
    fn forget_unreachable(&mut self) -> io::Result<()> {
        let mut keep: HashSet<FileId> = HashSet::new();
        for dir in &self.dirs {
            keep.extend(dir.durable.values().copied());
            for (_, key) in regular_files(&dir.path)? {
                if let Some(&id) = self.live.get(&key) {
                    keep.insert(id);
                }
            }
        }
        self.files.retain(|id, _| keep.contains(id));
        self.live.retain(|_, id| keep.contains(id));
        Ok(())
    }

    /// The power loss itself.
    fn crash(&mut self, loss: Loss) -> io::Result<()> {
        self.crashed = true;
        let mut rng = match loss {
            Loss::Unsynced => None,
            Loss::TornTail { seed } => Some(SmallRng::seed_from_u64(seed)),
        };
        // Where each file is named now, to read an unsynced tail from.
        let mut now_at: HashMap<FileId, PathBuf> = HashMap::new();
        let mut current: Vec<Vec<OsString>> = Vec::new();
        for dir in &self.dirs {
            let files = regular_files(&dir.path)?;
            for (name, key) in &files {
                if let Some(&id) = self.live.get(key) {
                    now_at.entry(id).or_insert_with(|| dir.path.join(name));
                }
            }
            current.push(files.into_iter().map(|(name, _)| name).collect());
        }
        // Everything is read before anything is changed: a rename may cross directories.
        let mut restore: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for dir in &self.dirs {
            for (name, id) in &dir.durable {
                let mut content = Vec::new();
                if let Some(state) = self.files.get(id) {
                    content.extend_from_slice(&state.durable);
                    if let Some(rng) = rng.as_mut()
                        && !state.overwritten
                        && let Some(path) = now_at.get(id)
                    {
                        let now = std::fs::read(path)?;
                        if let Some(tail) = now.strip_prefix(state.durable.as_slice()) {
                            let keep = rng.random_range(0..=tail.len());
                            content.extend_from_slice(tail.get(..keep).unwrap_or_default());
                        }
                    }
                }
                restore.push((dir.path.join(name), content));
            }
        }
        for (dir, names) in self.dirs.iter().zip(&current) {
            for name in names {
                std::fs::remove_file(dir.path.join(name))?;
            }
        }
        for (path, content) in &restore {
            let mut file = fs::create_new(path, DATA_FILE_MODE)?;
            file.write_all(content)?;
        }
        Ok(())
    }
}

fn key_of(meta: &Metadata) -> Key {
    (meta.dev(), meta.ino())
}

/// The regular files of `dir`, by name, with their inodes.
fn regular_files(dir: &Path) -> io::Result<Vec<(OsString, Key)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = std::fs::symlink_metadata(entry.path())?;
        if meta.is_file() {
            out.push((entry.file_name(), key_of(&meta)));
        }
    }
    Ok(out)
}

/// The bytes of `file` from `offset` to its end, read through a second descriptor of the
/// same open file (so a write-only descriptor, or a file without a name, can be read).
fn read_through(file: &File, offset: u64) -> io::Result<Vec<u8>> {
    let mut reader = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    reader.seek(SeekFrom::Start(offset))?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// Where the next `write` on `file` lands: the end for an `O_APPEND` descriptor, the file
/// offset otherwise.
fn write_offset(file: &mut File) -> io::Result<u64> {
    // SAFETY: F_GETFL on a descriptor the `File` owns reads its status flags, nothing else.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_APPEND != 0 {
        Ok(file.metadata()?.len())
    } else {
        file.stream_position()
    }
}

/// What `create_new` and `open_append` give after the crash: a sink that keeps nothing.
fn nowhere() -> io::Result<File> {
    OpenOptions::new().write(true).open("/dev/null")
}

impl Storage for PowerLossStorage {
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<File> {
        self.call(nowhere, |model| {
            let file = fs::create_new(path, mode)?;
            model.fresh(key_of(&file.metadata()?));
            Ok(file)
        })
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        self.call(nowhere, |model| {
            let before = std::fs::symlink_metadata(path).ok().map(|m| key_of(&m));
            let file = fs::open_append(path)?;
            let key = key_of(&file.metadata()?);
            if before != Some(key) || !model.live.contains_key(&key) {
                model.fresh(key);
            }
            Ok(file)
        })
    }

    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize> {
        self.call(
            || Ok(buf.len()),
            |model| {
                let id = model.live.get(&key_of(&file.metadata()?)).copied();
                let at = write_offset(file)?;
                let written = file.write(buf)?;
                if let Some(state) = id.and_then(|id| model.files.get_mut(&id))
                    && at < state.durable.len() as u64
                {
                    state.overwritten = true;
                }
                Ok(written)
            },
        )
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.call(
            || Ok(()),
            |model| {
                fs::fdatasync(file)?;
                model.synced(file)
            },
        )
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        self.call(
            || Ok(()),
            |model| {
                file.sync_all()?;
                model.synced(file)
            },
        )
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.call(|| Ok(()), |_| std::fs::rename(from, to))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.call(|| Ok(()), |_| std::fs::remove_file(path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.call(
            || Ok(()),
            |model| {
                fs::fsync_dir(dir)?;
                match model.tracked(dir) {
                    Some(index) => model.dir_synced(index),
                    None => Ok(()),
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::{TempDir, durable_rename, write_file_atomically};

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn read(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    fn append(storage: &PowerLossStorage, file: &mut File, bytes: &[u8]) {
        fs::write_all(storage, file, bytes).unwrap();
    }

    #[test]
    fn files_present_at_the_start_are_durable() {
        let dir = TempDir::new("pl-start");
        std::fs::write(dir.0.join("a"), b"alpha").unwrap();
        std::fs::write(dir.0.join("b"), b"").unwrap();
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(names(&dir.0), ["a", "b", "sub"]);
        assert_eq!(read(&dir.0.join("a")), b"alpha");
        assert!(storage.crashed());
    }

    #[test]
    fn bytes_appended_after_the_last_sync_are_lost() {
        let dir = TempDir::new("pl-append");
        let path = dir.0.join("log");
        std::fs::write(&path, b"old|").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        let mut file = storage.open_append(&path).unwrap();
        append(&storage, &mut file, b"synced|");
        storage.sync_data(&file).unwrap();
        append(&storage, &mut file, b"written only");
        assert_eq!(read(&path), b"old|synced|written only");
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(read(&path), b"old|synced|");
    }

    #[test]
    fn a_new_file_survives_only_once_its_directory_is_synced() {
        let dir = TempDir::new("pl-create");
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        // Name synced, data not: there, empty.
        let mut b = storage.create_new(&dir.0.join("b"), 0o600).unwrap();
        append(&storage, &mut b, b"data");
        // Both synced: there, whole.
        let mut c = storage.create_new(&dir.0.join("c"), 0o600).unwrap();
        append(&storage, &mut c, b"data");
        storage.sync_all(&c).unwrap();
        storage.sync_dir(&dir.0).unwrap();
        // Data synced, name not: gone.
        let mut a = storage.create_new(&dir.0.join("a"), 0o600).unwrap();
        append(&storage, &mut a, b"data");
        storage.sync_all(&a).unwrap();
        std::mem::drop(storage.create_new(&dir.0.join("d"), 0o600).unwrap());
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(names(&dir.0), ["b", "c"]);
        assert_eq!(read(&dir.0.join("b")), b"");
        assert_eq!(read(&dir.0.join("c")), b"data");
    }

    #[test]
    fn a_rename_over_a_target_is_undone_until_the_directory_is_synced() {
        let dir = TempDir::new("pl-rename");
        let target = dir.0.join("manifest");
        std::fs::write(&target, b"old").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        let temp = dir.0.join("temp-manifest");
        let mut file = storage.create_new(&temp, 0o600).unwrap();
        append(&storage, &mut file, b"new");
        storage.sync_all(&file).unwrap();
        storage.rename(&temp, &target).unwrap();
        assert_eq!(read(&target), b"new");
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(
            names(&dir.0),
            ["manifest"],
            "the temp file's name was never durable"
        );
        assert_eq!(read(&target), b"old", "the replaced target is back");
    }

    #[test]
    fn an_atomic_write_is_durable_when_it_returns() {
        let dir = TempDir::new("pl-atomic");
        let target = dir.0.join("manifest");
        std::fs::write(&target, b"old").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        write_file_atomically(&storage, &target, b"new", 0o600).unwrap();
        storage.crash(Loss::TornTail { seed: 7 }).unwrap();
        assert_eq!(names(&dir.0), ["manifest"]);
        assert_eq!(read(&target), b"new");
    }

    #[test]
    fn an_unsynced_removal_is_undone_with_the_last_synced_content() {
        let dir = TempDir::new("pl-remove");
        let path = dir.0.join("f");
        let gone = dir.0.join("g");
        std::fs::write(&path, b"keep").unwrap();
        std::fs::write(&gone, b"x").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        storage.remove_file(&gone).unwrap();
        storage.sync_dir(&dir.0).unwrap();
        let mut file = storage.open_append(&path).unwrap();
        append(&storage, &mut file, b"+more");
        storage.sync_data(&file).unwrap();
        storage.remove_file(&path).unwrap();
        // Synced through the descriptor of the unlinked file: still counts.
        append(&storage, &mut file, b"+late");
        storage.sync_data(&file).unwrap();
        append(&storage, &mut file, b"+lost");
        assert_eq!(names(&dir.0), Vec::<String>::new());
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(names(&dir.0), ["f"], "g's removal was synced");
        assert_eq!(read(&path), b"keep+more+late");
    }

    #[test]
    fn a_rename_between_directories_needs_both_synced() {
        let a = TempDir::new("pl-dir-a");
        let b = TempDir::new("pl-dir-b");
        std::fs::write(a.0.join("one"), b"1").unwrap();
        std::fs::write(a.0.join("two"), b"2").unwrap();
        let storage = PowerLossStorage::new(&[&a.0, &b.0]).unwrap();
        durable_rename(&storage, &a.0.join("one"), &b.0.join("one")).unwrap();
        storage.rename(&a.0.join("two"), &b.0.join("two")).unwrap();
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(names(&a.0), ["two"]);
        assert_eq!(names(&b.0), ["one"]);
        assert_eq!(read(&b.0.join("one")), b"1");
        assert_eq!(read(&a.0.join("two")), b"2");
    }

    #[test]
    fn a_torn_tail_keeps_a_prefix_of_the_unsynced_append() {
        let unsynced = b"0123456789abcdefghij";
        let mut lengths = HashSet::new();
        for seed in 0..32 {
            let dir = TempDir::new("pl-torn");
            let path = dir.0.join("incr");
            std::fs::write(&path, b"head|").unwrap();
            let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
            let mut file = storage.open_append(&path).unwrap();
            append(&storage, &mut file, unsynced);
            storage.crash(Loss::TornTail { seed }).unwrap();
            let after = read(&path);
            let tail = after
                .strip_prefix(b"head|")
                .expect("the synced part is kept");
            assert!(unsynced.starts_with(tail), "{after:?}");
            lengths.insert(tail.len());
        }
        assert!(lengths.len() > 4, "tails of many lengths: {lengths:?}");
    }

    #[test]
    fn an_unsynced_overwrite_is_lost_whole() {
        for sync in [false, true] {
            let dir = TempDir::new("pl-overwrite");
            let path = dir.0.join("f");
            let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
            let mut file = storage.create_new(&path, 0o600).unwrap();
            append(&storage, &mut file, b"aaaa");
            storage.sync_all(&file).unwrap();
            storage.sync_dir(&dir.0).unwrap();
            file.seek(SeekFrom::Start(0)).unwrap();
            append(&storage, &mut file, b"bb");
            if sync {
                storage.sync_data(&file).unwrap();
            }
            storage.crash(Loss::TornTail { seed: 1 }).unwrap();
            let expected: &[u8] = if sync { b"bbaa" } else { b"aaaa" };
            assert_eq!(read(&path), expected);
        }
    }

    #[test]
    fn a_reused_inode_number_is_a_new_file() {
        let dir = TempDir::new("pl-reuse");
        std::fs::write(dir.0.join("a"), b"old").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        storage.remove_file(&dir.0.join("a")).unwrap();
        // The file system may hand a's inode number to b.
        let mut b = storage.create_new(&dir.0.join("b"), 0o600).unwrap();
        append(&storage, &mut b, b"new");
        storage.sync_all(&b).unwrap();
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(names(&dir.0), ["a"]);
        assert_eq!(read(&dir.0.join("a")), b"old");
    }

    #[test]
    fn after_the_crash_calls_succeed_and_do_nothing() {
        let dir = TempDir::new("pl-dead");
        std::fs::write(dir.0.join("a"), b"a").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        let mut file = storage.open_append(&dir.0.join("a")).unwrap();
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(storage.write(&mut file, b"more").unwrap(), 4);
        storage.sync_data(&file).unwrap();
        let mut new = storage.create_new(&dir.0.join("n"), 0o600).unwrap();
        append(&storage, &mut new, b"x");
        storage.rename(&dir.0.join("a"), &dir.0.join("b")).unwrap();
        storage.remove_file(&dir.0.join("a")).unwrap();
        storage.sync_dir(&dir.0).unwrap();
        assert_eq!(names(&dir.0), ["a"]);
        assert_eq!(read(&dir.0.join("a")), b"a");
        storage.crash(Loss::Unsynced).unwrap();
    }

    #[test]
    fn an_armed_crash_fires_right_after_its_call() {
        let dir = TempDir::new("pl-armed");
        let path = dir.0.join("log");
        std::fs::write(&path, b"").unwrap();
        let storage = PowerLossStorage::new(&[&dir.0]).unwrap();
        storage.crash_after(3, Loss::Unsynced);
        let mut file = storage.open_append(&path).unwrap();
        append(&storage, &mut file, b"one");
        assert!(!storage.crashed());
        storage.sync_data(&file).unwrap();
        assert!(storage.crashed(), "the third call was the last one");
        append(&storage, &mut file, b"two");
        storage.sync_data(&file).unwrap();
        assert_eq!(storage.calls(), 3);
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(
            read(&path),
            b"one",
            "the synced write took effect before the crash"
        );
    }

    #[test]
    fn paths_outside_the_tracked_directories_are_left_alone() {
        let tracked = TempDir::new("pl-tracked");
        let other = TempDir::new("pl-other");
        let storage = PowerLossStorage::new(&[&tracked.0]).unwrap();
        let mut file = storage.create_new(&other.0.join("x"), 0o600).unwrap();
        append(&storage, &mut file, b"kept");
        storage.sync_dir(&other.0).unwrap();
        storage.crash(Loss::Unsynced).unwrap();
        assert_eq!(read(&other.0.join("x")), b"kept");
    }
}

/// The real AOF writer on a simulated disk: writes acknowledged as connections acknowledge
/// them, then a power cut, then a restart that loads what is left.
#[cfg(test)]
mod simulation {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::{Loss, PowerLossStorage};
    use crate::commands;
    use crate::persistence::aof::{self, Aof};
    use crate::persistence::fs::TempDir;
    use crate::persistence::manifest::{AppendFilename, Manifest};
    use crate::protocol::reply::{Protocol, Reply};
    use crate::server::Server;
    use crate::server::client::{Client, ClientHandle, Peer};
    use crate::server::config::Config;

    struct Node {
        server: Arc<Server>,
        aof: Arc<Aof>,
        storage: Arc<PowerLossStorage>,
    }

    fn config(policy: &str) -> Config {
        let args: Vec<String> = ["--appendonly", "yes", "--appendfsync", policy]
            .iter()
            .map(|a| a.to_string())
            .collect();
        Config::from_args(&args).unwrap()
    }

    /// A server started on `dir` as `appendonly yes` starts, its writer on a simulated disk.
    fn boot(dir: &std::path::Path, policy: &str) -> Node {
        let server = Server::new(config(policy));
        let filename = AppendFilename::default();
        let manifest = aof::prepare_dir(dir, &filename).unwrap();
        aof::load(&server, dir, &manifest, true).unwrap();
        let storage = Arc::new(PowerLossStorage::new(&[dir]).unwrap());
        let aof = aof::start_with_storage(&server, dir, &manifest, storage.clone()).unwrap();
        *server.aof_slot.write() = Some(aof.clone());
        Node {
            server,
            aof,
            storage,
        }
    }

    /// The restart after the power came back: what `dir` holds, loaded as at start-up
    /// (`aof-load-truncated yes`).
    fn reboot(dir: &std::path::Path) -> Arc<Server> {
        let server = Server::new(config("always"));
        let filename = AppendFilename::default();
        let manifest = Manifest::load(dir, &filename)
            .unwrap()
            .expect("the manifest survives");
        aof::load(&server, dir, &manifest, true).unwrap();
        server
    }

    fn client(id: u64) -> Client {
        let peer = Peer::internal();
        Client::new(ClientHandle::detached(id, &peer), peer, true)
    }

    fn key(client: u64, n: u64) -> Bytes {
        Bytes::from(format!("c{client}:{n}"))
    }

    fn value(n: u64) -> Bytes {
        Bytes::from(format!("v{n}"))
    }

    /// What one client did: how many writes it sent, and after which of them a reply came
    /// back, when.
    struct History {
        issued: u64,
        /// (writes acknowledged so far, when): one entry per acknowledged batch.
        acked: Vec<(u64, Instant)>,
    }

    impl History {
        fn acked(&self) -> u64 {
            self.acked.last().map_or(0, |&(n, _)| n)
        }
    }

    /// Sends batches of 1–4 SETs of fresh keys, each batch under one lock as a connection
    /// runs a pipeline, and counts it acknowledged when `wait_durable` for the LSN at its
    /// end returned before the power was cut.
    fn writer(node: &Node, id: u64, stop: &AtomicBool) -> History {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut client = client(id);
        let mut reply = Reply::new(Protocol::Resp2);
        let mut rng = SmallRng::seed_from_u64(id);
        let mut history = History {
            issued: 0,
            acked: Vec::new(),
        };
        while !stop.load(Ordering::Relaxed) {
            let batch = rng.random_range(1..=4u64);
            let need = {
                let mut state = node.server.state.lock();
                let before = state.effects.lsn();
                for n in history.issued..history.issued + batch {
                    let args = [Bytes::from_static(b"SET"), key(id, n), value(n)];
                    reply.buf.clear();
                    commands::execute(&node.server, &mut state, &mut client, &mut reply, &args);
                    assert_eq!(reply.buf, b"+OK\r\n");
                }
                let after = state.effects.lsn();
                assert!(after > before, "the batch recorded its effects");
                after
            };
            history.issued += batch;
            let durable = runtime.block_on(node.aof.wait_durable(need));
            let at = Instant::now();
            // Once the power is off the disk answers anything: no reply counts any more.
            if !durable || node.storage.crashed() {
                break;
            }
            history.acked.push((history.issued, at));
        }
        history
    }

    /// How many of a client's writes, counting from its first, survived; panics on a hole
    /// (a later write present without an earlier one) or a wrong value.
    fn survivors(server: &Server, id: u64, issued: u64) -> u64 {
        let mut state = server.state.lock();
        let mut client = client(u64::MAX);
        let mut reply = Reply::new(Protocol::Resp2);
        let mut prefix = None;
        for n in 0..issued {
            reply.buf.clear();
            let args = [Bytes::from_static(b"GET"), key(id, n)];
            commands::execute(server, &mut state, &mut client, &mut reply, &args);
            let v = value(n);
            let present = format!("${}\r\n{}\r\n", v.len(), String::from_utf8_lossy(&v));
            if reply.buf == present.as_bytes() {
                assert!(
                    prefix.is_none(),
                    "client {id}: write {n} survived but write {} did not",
                    prefix.unwrap_or(0)
                );
            } else {
                assert_eq!(reply.buf, b"$-1\r\n", "client {id} write {n}");
                prefix.get_or_insert(n);
            }
        }
        prefix.unwrap_or(issued)
    }

    struct Outcome {
        /// Per client: its history and how many of its writes survived.
        clients: Vec<(History, u64)>,
        crashed_at: Instant,
    }

    impl Outcome {
        /// Acknowledged writes that did not survive.
        fn lost(&self) -> u64 {
            self.clients
                .iter()
                .map(|(h, kept)| h.acked().saturating_sub(*kept))
                .sum()
        }

        fn acked(&self) -> u64 {
            self.clients.iter().map(|(h, _)| h.acked()).sum()
        }

        /// How long before the crash the oldest lost acknowledgement was given.
        fn window(&self) -> Duration {
            self.clients
                .iter()
                .flat_map(|(h, kept)| h.acked.iter().filter(move |(n, _)| n > kept))
                .map(|(_, at)| self.crashed_at.saturating_duration_since(*at))
                .max()
                .unwrap_or_default()
        }
    }

    /// `clients` writers for `run_for` under `policy`, then the power cut, then the restart.
    fn simulate(policy: &str, clients: u64, run_for: Duration, loss: Loss) -> Outcome {
        let tmp = TempDir::new("power-loss");
        let dir = tmp.0.join("appendonlydir");
        let node = boot(&dir, policy);
        let stop = AtomicBool::new(false);
        let (histories, crashed_at) = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..clients)
                .map(|id| {
                    let (node, stop) = (&node, &stop);
                    scope.spawn(move || writer(node, id, stop))
                })
                .collect();
            std::thread::sleep(run_for);
            let crashed_at = Instant::now();
            node.storage.crash(loss).unwrap();
            stop.store(true, Ordering::Relaxed);
            let histories: Vec<History> = writers.into_iter().map(|w| w.join().unwrap()).collect();
            (histories, crashed_at)
        });
        node.aof.shutdown();
        let server = reboot(&dir);
        let clients = histories
            .into_iter()
            .enumerate()
            .map(|(id, h)| {
                let kept = survivors(&server, id as u64, h.issued);
                (h, kept)
            })
            .collect();
        Outcome {
            clients,
            crashed_at,
        }
    }

    fn report(name: &str, outcome: &Outcome) {
        eprintln!(
            "{name}: {} writes acknowledged, {} of them lost, oldest lost acknowledged {:?} before the crash",
            outcome.acked(),
            outcome.lost(),
            outcome.window()
        );
    }

    #[test]
    fn under_always_no_acknowledged_write_is_lost() {
        for loss in [Loss::Unsynced, Loss::TornTail { seed: 3 }] {
            let outcome = simulate("always", 4, Duration::from_millis(300), loss);
            report(&format!("always {loss:?}"), &outcome);
            assert!(outcome.acked() > 0);
            for (history, kept) in &outcome.clients {
                assert!(
                    *kept >= history.acked(),
                    "{kept} of {} acknowledged writes survived",
                    history.acked()
                );
                assert!(*kept <= history.issued);
            }
        }
    }

    #[test]
    fn under_everysec_only_the_last_second_is_lost() {
        let outcome = simulate("everysec", 4, Duration::from_millis(3000), Loss::Unsynced);
        report("everysec", &outcome);
        let window = outcome.window();
        assert!(
            window <= Duration::from_millis(2000),
            "acknowledged writes from {window:?} before the crash were lost"
        );
        // Writes acknowledged well before the last fsync survived.
        for (history, kept) in &outcome.clients {
            let old = history
                .acked
                .iter()
                .filter(|(_, at)| outcome.crashed_at.duration_since(*at) > Duration::from_secs(2))
                .map(|&(n, _)| n)
                .max()
                .unwrap_or(0);
            assert!(old > 0, "the client was acknowledged early on");
            assert!(*kept >= old);
        }
    }

    #[test]
    fn under_no_what_survives_is_a_prefix() {
        // A torn tail: whatever the disk kept, the directory loads and has no holes
        // (`survivors` checks that).
        let outcome = simulate(
            "no",
            3,
            Duration::from_millis(300),
            Loss::TornTail { seed: 11 },
        );
        report("no, torn tail", &outcome);
        for (history, kept) in &outcome.clients {
            assert!(*kept <= history.issued);
        }
        // Nothing synced: a power cut loses acknowledged writes. The simulation bites.
        let outcome = simulate("no", 3, Duration::from_millis(200), Loss::Unsynced);
        report("no, unsynced", &outcome);
        assert!(outcome.acked() > 0);
        assert_eq!(outcome.lost(), outcome.acked());
    }

    /// Writes `count` keys from client `id` and waits until each is acknowledged.
    fn write_acked(node: &Node, id: u64, range: std::ops::Range<u64>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut client = client(id);
        let mut reply = Reply::new(Protocol::Resp2);
        for n in range {
            let need = {
                let mut state = node.server.state.lock();
                let args = [Bytes::from_static(b"SET"), key(id, n), value(n)];
                commands::execute(&node.server, &mut state, &mut client, &mut reply, &args);
                state.effects.lsn()
            };
            assert!(runtime.block_on(node.aof.wait_durable(need)));
            assert!(!node.storage.crashed());
        }
    }

    /// BGREWRITEAOF, waiting for the background rewrite to end.
    fn rewrite(node: &Node) {
        assert_eq!(node.aof.order_rewrite(false), aof::RewriteOrder::Started);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while node.aof.rewrite_in_progress() {
            assert!(
                std::time::Instant::now() < deadline,
                "the rewrite did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    #[test]
    fn a_crash_right_after_a_rewrite_keeps_a_loadable_directory() {
        let tmp = TempDir::new("power-loss-rewrite");
        let dir = tmp.0.join("appendonlydir");
        let node = boot(&dir, "always");
        write_acked(&node, 0, 0..20);
        rewrite(&node);
        write_acked(&node, 0, 20..25);
        node.storage.crash(Loss::Unsynced).unwrap();
        node.aof.shutdown();
        let server = reboot(&dir);
        assert_eq!(survivors(&server, 0, 30), 25);
    }

    /// SQLite's crash test, on the rewrite: a power cut after its 1st, 2nd, ... storage call,
    /// until one the rewrite finishes before. Every time, the directory loads with every
    /// acknowledged write.
    #[test]
    fn a_crash_at_any_step_of_a_rewrite_keeps_every_acknowledged_write() {
        for after in 1.. {
            let loss = if after % 2 == 0 {
                Loss::Unsynced
            } else {
                Loss::TornTail { seed: after }
            };
            let tmp = TempDir::new("power-loss-rewrite-step");
            let dir = tmp.0.join("appendonlydir");
            let node = boot(&dir, "always");
            write_acked(&node, 0, 0..20);
            node.storage.crash_after(after, loss);
            rewrite(&node);
            let finished_first = !node.storage.crashed();
            node.storage.crash(loss).unwrap();
            node.aof.shutdown();
            let server = reboot(&dir);
            assert_eq!(survivors(&server, 0, 20), 20, "crash after call {after}");
            if finished_first {
                assert!(after > 10, "the rewrite makes many calls");
                eprintln!(
                    "rewrite: a crash after each of its {} storage calls",
                    after - 1
                );
                break;
            }
        }
    }
}
