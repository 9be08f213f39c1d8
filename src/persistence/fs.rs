//! Storage primitives for the files kopi must not lose: the AOF manifest, base and incr
//! files, RDB snapshots, the rewritten config file.
//!
//! # Replacing a file
//!
//! [`write_file_atomically`] is the one way a file's contents are replaced:
//!
//! ```text
//! dir/temp-<name>.<pid>.<n>   create (O_CREAT|O_EXCL|O_NOFOLLOW, mode), write all, fsync
//! dir/<name>                  rename(temp, name)         ← the commit point
//! dir/                        fsync the directory        ← the rename is now durable
//! ```
//!
//! A reader (or a restart after a crash at any point) sees the old file or the new one, never
//! a torn one. `fsync` of the file comes before the rename: without it a crash can leave the
//! new name pointing at an empty or partial file (ALICE, OSDI'14). `fsync` of the directory
//! comes after: `fsync(2)` of a file does not make its directory entry durable.
//!
//! The temporary name carries the process id and a counter, and it is created with `O_EXCL`
//! and `O_NOFOLLOW`: two writers never share a temp file, a leftover from a crashed process is
//! never reused or truncated, and a symlink planted under that name is never followed. On any
//! error before the rename the temp file is removed again. Names start with `temp-`, Redis's
//! prefix for its own temp files, so start-up can recognise leftovers; `<name>` is cut short
//! when the whole would pass the 255-byte limit on a file name.
//!
//! # Fault injection
//!
//! Every step goes through the [`Storage`] trait: [`OsStorage`] performs the system calls,
//! [`FaultyStorage`] performs them too but fails the Nth call of a chosen operation with a
//! chosen `errno`, or cuts the Nth write short. That is SQLite's I/O-error test method: run a
//! scenario with a fault at call 1, 2, 3, ... until no fault fires, and check after each run
//! that the error was reported and the files on disk are still consistent. It models I/O
//! errors only; what a power loss does to data written but not yet synced is simulated by
//! [`PowerLossStorage`](super::power_loss::PowerLossStorage).
//!
//! # Error policy
//!
//! Errors are returned, never swallowed, and only an interrupted `write` (`EINTR`) is retried.
//! One error is not one, as in Redis: `EINVAL` from fsync of a *directory* means the file
//! system does not support it, not that data was lost. A failed fsync of a file is final: the caller must not retry it and
//! believe the second answer: Linux may already have dropped the dirty pages the first one
//! failed to write (PostgreSQL's "fsyncgate", 2018).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Permissions of the data files kopi creates (AOF files, manifest, RDB): the server's user
/// only. The whole dataset is in them.
pub const DATA_FILE_MODE: u32 = 0o600;

/// Prefix of every temporary file, the one Redis uses for its own (`temp-<name>.manifest`,
/// `temp-rewriteaof-<pid>.aof`, ...).
pub const TEMP_PREFIX: &str = "temp-";

/// The longest file name most Linux file systems take (`NAME_MAX`); temp names are cut to it.
const NAME_MAX_BYTES: usize = 255;

/// Fresh temporary names tried before giving up; a name is only taken if a crashed process
/// with the same pid left it behind, so a second try practically always succeeds.
const TEMP_NAME_ATTEMPTS: u32 = 16;

/// The file system operations durable files need, so tests can make any of them fail.
///
/// Every method is one system call (or one `open`), with the same meaning as the function of
/// the same name in this module.
pub trait Storage: Send + Sync {
    /// Creates `path`, which must not exist (`O_CREAT|O_EXCL|O_NOFOLLOW`), for writing.
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<File>;
    /// Opens `path` for appending, creating it with [`DATA_FILE_MODE`] if missing.
    fn open_append(&self, path: &Path) -> io::Result<File>;
    /// One `write(2)`: may write fewer bytes than given.
    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize>;
    /// `fdatasync(2)`: the data and the size, not other metadata.
    fn sync_data(&self, file: &File) -> io::Result<()>;
    /// `fsync(2)`: data and all metadata; for files just created.
    fn sync_all(&self, file: &File) -> io::Result<()>;
    /// `rename(2)`: atomically replaces `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// `unlink(2)`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// `fsync(2)` of a directory, making the names created or renamed in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<File> {
        create_new(path, mode)
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        open_append(path)
    }

    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize> {
        file.write(buf)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        fdatasync(file)
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        fsync_dir(dir)
    }
}

/// Creates `path` for writing; fails with `AlreadyExists` if anything is there, a symlink
/// included (`O_EXCL` never follows one, `O_NOFOLLOW` says so explicitly). `mode` is reduced
/// by the umask as usual.
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens `path` for appending (`O_WRONLY|O_APPEND|O_CREAT`), creating it with
/// [`DATA_FILE_MODE`]. Every write lands at the end of the file, whatever the offset.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(DATA_FILE_MODE)
        .open(path)
}

/// `fdatasync(2)`: makes the file's data and size durable, which is all an append needs.
pub fn fdatasync(file: &File) -> io::Result<()> {
    file.sync_data()
}

/// Makes the entries of directory `dir` durable (names created, renamed or removed in it).
///
/// `EINVAL` means the file system cannot fsync directories at all; like Redis, that is not an
/// error (nothing was lost, there is nothing more that could be done).
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)?;
    match handle.sync_all() {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other,
    }
}

/// Writes all of `buf`, looping over short writes and `EINTR`.
///
/// On error part of `buf` may already be in the file; the caller decides whether to truncate
/// back (an append) or to discard the file (a temp file).
pub fn write_all(storage: &dyn Storage, file: &mut File, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match storage.write(file, buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write returned 0 bytes",
                ));
            }
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The step of a durable write or rename that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Creating the temporary file.
    CreateTemp,
    /// Writing the contents into it.
    Write,
    /// fsync of the temporary file.
    Sync,
    /// The rename: until it succeeds, the old file is untouched.
    Rename,
    /// fsync of the directory: the new file is in place but may not survive a power loss.
    SyncDir,
}

impl Step {
    fn describe(self) -> &'static str {
        match self {
            Step::CreateTemp => "can't create the temporary file",
            Step::Write => "error writing the temporary file",
            Step::Sync => "failed to fsync the temporary file",
            Step::Rename => "error renaming into",
            Step::SyncDir => "failed to fsync the directory of",
        }
    }
}

/// A failed [`write_file_atomically`] or [`durable_rename`]: which step, on which path.
#[derive(Debug)]
pub struct DurableWriteError {
    pub step: Step,
    /// The temporary file for the steps before the rename, the target for the others.
    pub path: PathBuf,
    pub source: io::Error,
}

impl std::fmt::Display for DurableWriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.step.describe(),
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for DurableWriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The directory a path's name lives in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` with `contents` so that a crash at any moment leaves either the old file
/// or the complete new one: temp file → write → fsync → rename → fsync of the directory.
///
/// The new file gets `mode` (less the umask). Before the rename nothing at `path` changes and
/// the temporary file is removed on error; after it, an error from the directory fsync means
/// the new contents are in place but not known to be durable.
pub fn write_file_atomically(
    storage: &dyn Storage,
    path: &Path,
    contents: &[u8],
    mode: u32,
) -> Result<(), DurableWriteError> {
    let (temp, mut file) = create_temp_sibling(storage, path, mode)?;
    let fail = |step, source| DurableWriteError {
        step,
        path: temp.clone(),
        source,
    };
    let written = write_all(storage, &mut file, contents)
        .map_err(|e| fail(Step::Write, e))
        .and_then(|()| storage.sync_all(&file).map_err(|e| fail(Step::Sync, e)));
    drop(file);
    let renamed = written.and_then(|()| {
        storage
            .rename(&temp, path)
            .map_err(|source| DurableWriteError {
                step: Step::Rename,
                path: path.to_path_buf(),
                source,
            })
    });
    if let Err(e) = renamed {
        // Best effort: a leftover temp file is harmless (it is never referenced) and is
        // recognisable by its prefix.
        let _ = storage.remove_file(&temp);
        return Err(e);
    }
    storage
        .sync_dir(parent_dir(path))
        .map_err(|source| DurableWriteError {
            step: Step::SyncDir,
            path: path.to_path_buf(),
            source,
        })
}

/// Renames `from` to `to` and makes the rename durable: fsync of the target's directory, and
/// of the source's directory too when it is another one (the name disappeared there).
///
/// `from` must already be durable itself (written and fsynced) for the result to be.
pub fn durable_rename(
    storage: &dyn Storage,
    from: &Path,
    to: &Path,
) -> Result<(), DurableWriteError> {
    let fail = |step, source| DurableWriteError {
        step,
        path: to.to_path_buf(),
        source,
    };
    storage
        .rename(from, to)
        .map_err(|e| fail(Step::Rename, e))?;
    let to_dir = parent_dir(to);
    storage
        .sync_dir(to_dir)
        .map_err(|e| fail(Step::SyncDir, e))?;
    let from_dir = parent_dir(from);
    if from_dir != to_dir {
        storage
            .sync_dir(from_dir)
            .map_err(|e| fail(Step::SyncDir, e))?;
    }
    Ok(())
}

/// Creates a fresh `temp-<name>.<pid>.<n>` next to `path`, with `<name>` cut short if the
/// whole would be longer than a file name can be (the pid and counter keep it unique).
fn create_temp_sibling(
    storage: &dyn Storage,
    path: &Path,
    mode: u32,
) -> Result<(PathBuf, File), DurableWriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.as_bytes()).unwrap_or_default();
    let dir = parent_dir(path);
    let mut attempt = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let unique = format!(".{}.{n}", std::process::id());
        let room = NAME_MAX_BYTES.saturating_sub(TEMP_PREFIX.len() + unique.len());
        let mut temp_name = TEMP_PREFIX.as_bytes().to_vec();
        temp_name.extend_from_slice(name.get(..room).unwrap_or(name));
        temp_name.extend_from_slice(unique.as_bytes());
        let temp = dir.join(std::ffi::OsStr::from_bytes(&temp_name));
        match storage.create_new(&temp, mode) {
            Ok(file) => return Ok((temp, file)),
            Err(e)
                if e.kind() == io::ErrorKind::AlreadyExists && attempt + 1 < TEMP_NAME_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(source) => {
                return Err(DurableWriteError {
                    step: Step::CreateTemp,
                    path: temp,
                    source,
                });
            }
        }
    }
}

/// The operations of [`Storage`], for counting calls and choosing which one fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    CreateNew,
    OpenAppend,
    Write,
    SyncData,
    SyncAll,
    Rename,
    RemoveFile,
    SyncDir,
}

const OPS: usize = 8;

/// What happens at a planned call.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// The call does nothing and fails with this `errno`.
    Fail(i32),
    /// The write writes at most this many bytes (a short write, not an error).
    ShortWrite(usize),
}

#[derive(Debug, Default)]
struct FaultPlan {
    calls: [u64; OPS],
    planned: Vec<(Op, u64, Action)>,
    fired: u64,
}

/// A [`Storage`] that performs the real operations except where a fault is planned: the Nth
/// call (counting from 1) of an operation fails with a chosen `errno`, or the Nth write is cut
/// short. Faults combine: a short write followed by a failing write leaves a torn file.
#[derive(Debug, Default)]
pub struct FaultyStorage {
    plan: Mutex<FaultPlan>,
}

impl FaultyStorage {
    pub fn new() -> FaultyStorage {
        FaultyStorage::default()
    }

    /// Makes the `nth` call of `op` fail with `errno` (e.g. `libc::EIO`, `libc::ENOSPC`)
    /// without doing anything.
    pub fn fail(&self, op: Op, nth: u64, errno: i32) -> &FaultyStorage {
        self.plan
            .lock()
            .planned
            .push((op, nth, Action::Fail(errno)));
        self
    }

    /// Makes the `nth` write write at most `len` bytes.
    pub fn short_write(&self, nth: u64, len: usize) -> &FaultyStorage {
        self.plan
            .lock()
            .planned
            .push((Op::Write, nth, Action::ShortWrite(len)));
        self
    }

    /// How many times `op` was called so far.
    pub fn calls(&self, op: Op) -> u64 {
        self.plan.lock().calls[op as usize]
    }

    /// How many planned faults were hit so far.
    pub fn fired(&self) -> u64 {
        self.plan.lock().fired
    }

    /// Counts a call of `op` and returns the action planned for it, if any.
    fn enter(&self, op: Op) -> Option<Action> {
        let mut plan = self.plan.lock();
        let count = plan.calls[op as usize].saturating_add(1);
        plan.calls[op as usize] = count;
        let action = plan
            .planned
            .iter()
            .find(|(o, nth, _)| *o == op && *nth == count)
            .map(|(_, _, action)| *action);
        if action.is_some() {
            plan.fired = plan.fired.saturating_add(1);
        }
        action
    }

    /// Fails if a fault is planned for this call of `op`.
    fn check(&self, op: Op) -> io::Result<()> {
        match self.enter(op) {
            Some(Action::Fail(errno)) => Err(io::Error::from_raw_os_error(errno)),
            _ => Ok(()),
        }
    }
}

impl Storage for FaultyStorage {
    fn create_new(&self, path: &Path, mode: u32) -> io::Result<File> {
        self.check(Op::CreateNew)?;
        create_new(path, mode)
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        self.check(Op::OpenAppend)?;
        open_append(path)
    }

    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize> {
        match self.enter(Op::Write) {
            Some(Action::Fail(errno)) => Err(io::Error::from_raw_os_error(errno)),
            Some(Action::ShortWrite(len)) => file.write(buf.get(..len).unwrap_or(buf)),
            None => file.write(buf),
        }
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.check(Op::SyncData)?;
        fdatasync(file)
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        self.check(Op::SyncAll)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(Op::Rename)?;
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check(Op::RemoveFile)?;
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(Op::SyncDir)?;
        fsync_dir(dir)
    }
}

#[cfg(test)]
/// A fresh empty directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

#[cfg(test)]
impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kopi-fs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn atomic_write_creates_and_replaces_with_the_given_mode() {
        let dir = TempDir::new("replace");
        let target = dir.0.join("data");
        write_file_atomically(&OsStorage, &target, b"first", DATA_FILE_MODE).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        assert_eq!(mode_of(&target), 0o600);
        write_file_atomically(&OsStorage, &target, b"second, longer", DATA_FILE_MODE).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second, longer");
        assert_eq!(names(&dir.0), ["data"], "no temp file is left behind");
    }

    #[test]
    fn atomic_write_never_follows_or_reuses_a_planted_temp_name() {
        let dir = TempDir::new("planted");
        let victim = dir.0.join("victim");
        std::fs::write(&victim, b"must stay").unwrap();
        // Plant symlinks under the next few temp names this process could pick.
        let next = {
            // Peek at the counter by creating one temp file and removing it.
            let (temp, _file) =
                create_temp_sibling(&OsStorage, &dir.0.join("target"), 0o600).unwrap();
            std::fs::remove_file(&temp).unwrap();
            let name = temp.file_name().unwrap().to_string_lossy().into_owned();
            name.rsplit('.').next().unwrap().parse::<u64>().unwrap() + 1
        };
        for n in next..next + 8 {
            let planted = dir
                .0
                .join(format!("temp-target.{}.{n}", std::process::id()));
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
        write_file_atomically(&OsStorage, &dir.0.join("target"), b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"must stay");
        assert_eq!(std::fs::read(dir.0.join("target")).unwrap(), b"new");
    }

    #[test]
    fn temp_names_are_tried_a_bounded_number_of_times() {
        let dir = TempDir::new("attempts");
        let storage = FaultyStorage::new();
        for nth in 1..TEMP_NAME_ATTEMPTS as u64 {
            storage.fail(Op::CreateNew, nth, libc::EEXIST);
        }
        write_file_atomically(&storage, &dir.0.join("t"), b"x", 0o600).unwrap();
        assert_eq!(storage.calls(Op::CreateNew), TEMP_NAME_ATTEMPTS as u64);

        let storage = FaultyStorage::new();
        for nth in 1..=TEMP_NAME_ATTEMPTS as u64 {
            storage.fail(Op::CreateNew, nth, libc::EEXIST);
        }
        let err = write_file_atomically(&storage, &dir.0.join("t"), b"y", 0o600).unwrap_err();
        assert_eq!(err.step, Step::CreateTemp);
        assert_eq!(err.source.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(dir.0.join("t")).unwrap(), b"x");
    }

    #[test]
    fn the_longest_file_name_gets_a_shorter_temp_name() {
        let dir = TempDir::new("longname");
        let target = dir.0.join("n".repeat(NAME_MAX_BYTES));
        write_file_atomically(&OsStorage, &target, b"x", 0o600).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
    }

    #[test]
    fn create_new_refuses_existing_files_and_symlinks() {
        let dir = TempDir::new("create");
        let path = dir.0.join("f");
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(
            create_new(&path, 0o600).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        let link = dir.0.join("link");
        std::os::unix::fs::symlink(dir.0.join("missing"), &link).unwrap();
        assert!(create_new(&link, 0o600).is_err());
        assert!(
            !dir.0.join("missing").exists(),
            "the dangling link was not followed"
        );
    }

    #[test]
    fn open_append_creates_private_files_and_appends() {
        let dir = TempDir::new("append");
        let path = dir.0.join("incr");
        let mut file = open_append(&path).unwrap();
        write_all(&OsStorage, &mut file, b"one").unwrap();
        fdatasync(&file).unwrap();
        drop(file);
        assert_eq!(mode_of(&path), 0o600);
        let mut file = open_append(&path).unwrap();
        write_all(&OsStorage, &mut file, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"onetwo");
    }

    #[test]
    fn fsync_dir_works_on_directories_only() {
        let dir = TempDir::new("syncdir");
        fsync_dir(&dir.0).unwrap();
        let file = dir.0.join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(fsync_dir(&file).is_err());
        assert!(fsync_dir(&dir.0.join("missing")).is_err());
    }

    #[test]
    fn short_writes_are_completed() {
        let dir = TempDir::new("short");
        let storage = FaultyStorage::new();
        storage
            .short_write(1, 2)
            .short_write(2, 1)
            .short_write(3, 0);
        // A zero-byte write is reported, not looped on forever.
        let err = write_file_atomically(&storage, &dir.0.join("t"), b"abcdef", 0o600).unwrap_err();
        assert_eq!(err.step, Step::Write);
        assert_eq!(err.source.kind(), io::ErrorKind::WriteZero);
        assert_eq!(
            names(&dir.0),
            Vec::<String>::new(),
            "the temp file was removed"
        );

        let storage = FaultyStorage::new();
        storage.short_write(1, 2).short_write(2, 1);
        write_file_atomically(&storage, &dir.0.join("t"), b"abcdef", 0o600).unwrap();
        assert_eq!(std::fs::read(dir.0.join("t")).unwrap(), b"abcdef");
        assert_eq!(storage.calls(Op::Write), 3);
        assert_eq!(storage.fired(), 2);
    }

    #[test]
    fn interrupted_writes_are_retried() {
        let dir = TempDir::new("eintr");
        let storage = FaultyStorage::new();
        storage.fail(Op::Write, 1, libc::EINTR);
        write_file_atomically(&storage, &dir.0.join("t"), b"abc", 0o600).unwrap();
        assert_eq!(std::fs::read(dir.0.join("t")).unwrap(), b"abc");
    }

    /// SQLite's method: fail the 1st, 2nd, ... storage call of the atomic write until a run
    /// succeeds with no fault fired. After every failure the target holds the old contents
    /// (or the new ones, when only the directory fsync failed), and no temp file is left.
    #[test]
    fn a_failure_at_any_step_leaves_the_old_or_the_new_file() {
        let ops = [
            Op::CreateNew,
            Op::Write,
            Op::SyncAll,
            Op::Rename,
            Op::SyncDir,
        ];
        for op in ops {
            for nth in 1.. {
                let dir = TempDir::new("faults");
                let target = dir.0.join("manifest");
                std::fs::write(&target, b"old").unwrap();
                let storage = FaultyStorage::new();
                storage.fail(op, nth, libc::EIO);
                let result = write_file_atomically(&storage, &target, b"new contents", 0o600);
                if storage.fired() == 0 {
                    result.unwrap();
                    assert_eq!(std::fs::read(&target).unwrap(), b"new contents");
                    break;
                }
                let err = result.unwrap_err();
                assert_eq!(err.source.raw_os_error(), Some(libc::EIO), "{op:?} {nth}");
                let expected_step = match op {
                    Op::CreateNew => Step::CreateTemp,
                    Op::Write => Step::Write,
                    Op::SyncAll => Step::Sync,
                    Op::Rename => Step::Rename,
                    _ => Step::SyncDir,
                };
                assert_eq!(err.step, expected_step);
                let contents = std::fs::read(&target).unwrap();
                if op == Op::SyncDir {
                    assert_eq!(contents, b"new contents");
                } else {
                    assert_eq!(contents, b"old", "{op:?} failed: the old file is untouched");
                }
                assert_eq!(names(&dir.0), ["manifest"], "{op:?}: temp file removed");
                assert!(err.to_string().contains("Input/output error"), "{err}");
            }
        }
    }

    #[test]
    fn a_torn_temp_file_is_removed() {
        let dir = TempDir::new("torn");
        let target = dir.0.join("base");
        let storage = FaultyStorage::new();
        storage.short_write(1, 3).fail(Op::Write, 2, libc::ENOSPC);
        let err = write_file_atomically(&storage, &target, b"0123456789", 0o600).unwrap_err();
        assert_eq!(err.step, Step::Write);
        assert_eq!(err.source.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(names(&dir.0), Vec::<String>::new());
    }

    #[test]
    fn durable_rename_moves_between_directories() {
        let dir = TempDir::new("rename");
        let sub = dir.0.join("sub");
        std::fs::create_dir(&sub).unwrap();
        let from = dir.0.join("temp-rewrite.aof");
        std::fs::write(&from, b"base").unwrap();
        let storage = FaultyStorage::new();
        durable_rename(&storage, &from, &sub.join("base.rdb")).unwrap();
        assert_eq!(std::fs::read(sub.join("base.rdb")).unwrap(), b"base");
        assert_eq!(storage.calls(Op::SyncDir), 2, "both directories are synced");

        let storage = FaultyStorage::new();
        storage.fail(Op::Rename, 1, libc::EXDEV);
        let err = durable_rename(&storage, &sub.join("base.rdb"), &dir.0.join("x")).unwrap_err();
        assert_eq!(err.step, Step::Rename);
        assert!(sub.join("base.rdb").exists());
    }

    #[test]
    fn bare_names_live_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("kopi.conf")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/a/b")), Path::new("/a"));
    }
}
