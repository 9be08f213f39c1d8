//! The multi-part AOF manifest (Redis ≥ 7.0): which files make up the append-only file.
//!
//! The append-only file is a directory, `<dir>/<appenddirname>/` (`appendonlydir`), holding
//! one optional **base** file (a snapshot: RDB when `aof-use-rdb-preamble yes`, else RESP),
//! **incr** files (the RESP commands logged after the snapshot, replayed in order), and
//! **history** files (a previous base and incrs, already superseded by a rewrite, kept until
//! they are deleted). The manifest `<appendfilename>.manifest` lists them; it is the only
//! commit point: a file is part of the data set exactly when the durable manifest names it.
//!
//! # Format
//!
//! A real manifest, written by Redis 7.0.15 after two rewrites with `aof-disable-auto-gc yes`
//! (so the history is kept):
//!
//! ```text
//! file appendonly.aof.3.base.rdb seq 3 type b
//! file appendonly.aof.2.incr.aof seq 2 type h
//! file appendonly.aof.2.base.rdb seq 2 type h
//! file appendonly.aof.1.incr.aof seq 1 type h
//! file appendonly.aof.1.base.rdb seq 1 type h
//! file appendonly.aof.3.incr.aof seq 3 type i
//! ```
//!
//! One line per file, `file <name> seq <n> type <b|h|i>`, each ending in `\n` (the last one
//! too), no header, no blank line. The base comes first, then the history, then the incr files
//! in ascending sequence. Each rewrite puts what it retires in front of the older history: the
//! incr files it replaced (ascending), then the base they followed. A name that
//! contains a space, a quote, a backslash or any byte outside printable ASCII is written in
//! double quotes with C escapes and `\xHH`, as Redis's `sdscatrepr` does:
//! `file "my file\n.aof.1.base.rdb" seq 1 type b`.
//!
//! Names: `<appendfilename>.<seq>.base.rdb` (or `.base.aof`), `<appendfilename>.<seq>.incr.aof`,
//! the manifest `<appendfilename>.manifest`. A base migrated from a pre-7.0 single file keeps
//! that file's name (`file appendonly.aof seq 1 type b`). Base and incr sequence numbers are
//! independent counters, kept in the manifest value: the next base is `base_seq + 1`, the next
//! incr `incr_seq + 1`; after loading, `base_seq` is the base line's seq and `incr_seq` the
//! last incr line's seq (history lines move neither).
//!
//! # Parsing: exactly what Redis 7.0 accepts
//!
//! Redis reads the manifest with `fgets` into a 1025-byte buffer, so the parser here works on
//! the same pieces: at most [`LINE_MAX_BYTES`] bytes, ending after a `\n`. For each piece:
//!
//! 1. a piece starting with `#` is a comment (a longer comment's continuation is not);
//! 2. it must contain `\n` before any NUL byte, so the last line needs its newline and a line
//!    is at most 1023 bytes plus the newline ("The AOF manifest file contains too long line");
//! 3. trimmed of `" \t\r\n"` it must not be empty: blank lines are errors;
//! 4. it is split with `sdssplitargs` quoting; at least 6 fields, an even count;
//! 5. keys match case-insensitively, later ones win, unknown keys are ignored (Redis 8 adds
//!    `startoffset`/`endoffset`); `file` must not contain `/` or `\`; `seq` is read like C's
//!    `atoll` (leading digits, `12abc` is 12) and must not be 0; `type` is its first byte;
//!    values are C strings (cut at a NUL byte that `\x00` produced);
//! 6. `b` at most once, `i` seqs strictly increasing (gaps allowed, and starting above 0),
//!    `h` anything, other types are errors. A 0-byte manifest is an error, one with only
//!    comments is a valid empty manifest.
//!
//! Every error is a [`ManifestError`] naming the line; its kind's
//! [`redis_message`](ManifestErrorKind::redis_message) is the text Redis logs for it. One
//! rule is stricter than Redis: a `file` that is empty, `.` or `..` is refused here, where
//! Redis accepts the line and fails later, opening the directory as if it were a file.
//! `tests/aof_manifest_interop.rs` runs every case against a real `redis-server`.
//!
//! # Serialization: byte-identical to Redis, with one fix
//!
//! [`Manifest::to_bytes`] writes what Redis's `getAofManifestAsString` writes for the same
//! value, with one deliberate difference: a name containing `'` is quoted. Redis writes it
//! bare, and its own parser then reads the `'` as an opening quote and refuses the manifest
//! at the next start (7.0.15 with `appendfilename "it's.aof"` does exactly that); the quoted
//! line loads in Redis.
//!
//! # Changes the AOF makes, as pure functions
//!
//! | moment (Redis function) | here |
//! |---|---|
//! | rewrite starts with AOF on (`openNewIncrAofForAppend`) | [`Manifest::open_new_incr`], persist |
//! | rewrite done (`backgroundRewriteDoneHandler`) | [`Manifest::commit_rewrite`] with [`LastIncr::Keep`] (AOF on) or [`LastIncr::Retire`] (AOF off), persist |
//! | `CONFIG SET appendonly yes` done | [`Manifest::open_new_incr`] (the temp incr's new name), then `commit_rewrite(.., Keep)`, persist |
//! | start-up with no base and no incr | `commit_rewrite(.., Retire)` (base 1), then `open_new_incr`, persist |
//! | start-up otherwise | append to [`Manifest::last_incr`], or `open_new_incr` if there is none |
//! | history deletion (`aofDelHistoryFiles`) | [`Manifest::drop_history`], delete the files, persist |
//! | upgrade from `<dir>/appendonly.aof` (`aofUpgradePrepare`) | [`Manifest::upgrade_from_single_file`], persist, then move the file |
//!
//! Each function either changes the manifest completely or (on sequence overflow) not at all.
//! [`Manifest::persist`] writes it with [`fs::write_file_atomically`] (temp, fsync, rename,
//! fsync of the directory); Redis opens its temp manifest without `O_EXCL` and with mode 0644,
//! kopi uses a unique `O_EXCL|O_NOFOLLOW` temp name and mode 0600.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::persistence::fs::{self, DurableWriteError, Storage};
use crate::protocol::split::split_args;

/// The most bytes Redis reads as one manifest line, the newline included (`fgets` into a
/// buffer of 1025 bytes).
pub const LINE_MAX_BYTES: usize = 1024;

/// Suffix of the manifest's name.
pub const MANIFEST_SUFFIX: &str = ".manifest";
/// Prefix of Redis's temporary names (the temp manifest, the temp incr file).
pub const TEMP_PREFIX: &str = fs::TEMP_PREFIX;

/// The longest `appendfilename` (as written in a manifest: quoted and escaped if it needs to
/// be) for which every manifest line still fits in [`LINE_MAX_BYTES`] whatever the sequence
/// number. The rest of a line is at most 68 bytes: `file ` (5), `.-9223372036854775808.base.rdb`
/// (30), ` seq ` (5), 20 digits, ` type b` (7) and the newline.
pub const APPENDFILENAME_MAX_QUOTED_BYTES: usize = LINE_MAX_BYTES - 68;

/// `appendfilename`: the prefix of every AOF file's name, validated as Redis validates it
/// (not empty, a name and not a path), plus what a path cannot hold or a manifest line cannot
/// fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendFilename(Vec<u8>);

/// Why a string cannot be `appendfilename`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidAppendFilename {
    Empty,
    Path,
    NulByte,
    TooLong,
}

impl fmt::Display for InvalidAppendFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidAppendFilename::Empty => "appendfilename can't be empty",
            InvalidAppendFilename::Path => "appendfilename can't be a path, just a filename",
            InvalidAppendFilename::NulByte => "appendfilename can't contain a NUL byte",
            InvalidAppendFilename::TooLong => "appendfilename is too long for a manifest line",
        })
    }
}

impl std::error::Error for InvalidAppendFilename {}

impl Default for AppendFilename {
    /// Redis's default, `appendonly.aof`.
    fn default() -> AppendFilename {
        AppendFilename(b"appendonly.aof".to_vec())
    }
}

/// The format of a base file, chosen by `aof-use-rdb-preamble`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseFormat {
    /// `.base.rdb`: an RDB snapshot (`aof-use-rdb-preamble yes`, the default).
    Rdb,
    /// `.base.aof`: RESP commands (`aof-use-rdb-preamble no`).
    Aof,
}

impl BaseFormat {
    pub fn from_rdb_preamble(aof_use_rdb_preamble: bool) -> BaseFormat {
        if aof_use_rdb_preamble {
            BaseFormat::Rdb
        } else {
            BaseFormat::Aof
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            BaseFormat::Rdb => ".rdb",
            BaseFormat::Aof => ".aof",
        }
    }
}

impl AppendFilename {
    pub fn new(name: impl Into<Vec<u8>>) -> Result<AppendFilename, InvalidAppendFilename> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidAppendFilename::Empty);
        }
        if !is_base_name(&name) {
            return Err(InvalidAppendFilename::Path);
        }
        if name.contains(&0) {
            return Err(InvalidAppendFilename::NulByte);
        }
        let mut quoted = Vec::new();
        write_name(&mut quoted, &name);
        if quoted.len() > APPENDFILENAME_MAX_QUOTED_BYTES {
            return Err(InvalidAppendFilename::TooLong);
        }
        Ok(AppendFilename(name))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `<F>.manifest`.
    pub fn manifest_name(&self) -> Vec<u8> {
        self.with(&[MANIFEST_SUFFIX.as_bytes()])
    }

    /// `temp-<F>.manifest`: the name Redis writes its new manifest under before the rename.
    /// kopi's own temp names extend it (`temp-<F>.manifest.<pid>.<n>`), so start-up can
    /// recognise both as leftovers.
    pub fn temp_manifest_name(&self) -> Vec<u8> {
        let mut name = TEMP_PREFIX.as_bytes().to_vec();
        name.extend_from_slice(&self.manifest_name());
        name
    }

    /// `<F>.<seq>.base.rdb` or `<F>.<seq>.base.aof`.
    pub fn base_name(&self, seq: i64, format: BaseFormat) -> Vec<u8> {
        self.with(&[
            b".",
            seq.to_string().as_bytes(),
            b".base",
            format.suffix().as_bytes(),
        ])
    }

    /// `<F>.<seq>.incr.aof`.
    pub fn incr_name(&self, seq: i64) -> Vec<u8> {
        self.with(&[b".", seq.to_string().as_bytes(), b".incr.aof"])
    }

    /// `temp-<F>.incr`: where Redis logs writes after `CONFIG SET appendonly yes` until the
    /// first rewrite is done; never named in a manifest.
    pub fn temp_incr_name(&self) -> Vec<u8> {
        let mut name = TEMP_PREFIX.as_bytes().to_vec();
        name.extend_from_slice(&self.0);
        name.extend_from_slice(b".incr");
        name
    }

    fn with(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut name = self.0.clone();
        for part in parts {
            name.extend_from_slice(part);
        }
        name
    }
}

/// The path of AOF file `name` inside the AOF directory `dir`.
pub fn file_path(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// The role of a file in the manifest, the `type` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `b`: the snapshot the incr files continue.
    Base,
    /// `h`: superseded by a rewrite, waiting to be deleted; never loaded.
    History,
    /// `i`: commands logged after the base, loaded in order.
    Incr,
}

impl FileKind {
    pub fn as_byte(self) -> u8 {
        match self {
            FileKind::Base => b'b',
            FileKind::History => b'h',
            FileKind::Incr => b'i',
        }
    }
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    /// A file name inside the AOF directory (never a path).
    pub name: Vec<u8>,
    pub seq: i64,
    pub kind: FileKind,
}

/// What [`Manifest::commit_rewrite`] does with the incr files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastIncr {
    /// AOF is on: the last incr file is the one being written, it follows the new base; the
    /// earlier ones become history.
    Keep,
    /// AOF is off: the new base holds everything; every incr file becomes history.
    Retire,
}

/// A sequence counter would pass `i64::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqExhausted(pub FileKind);

impl fmt::Display for SeqExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = match self.0 {
            FileKind::Base => "base",
            _ => "incr",
        };
        write!(f, "the AOF {which} file sequence number is exhausted")
    }
}

impl std::error::Error for SeqExhausted {}

/// The manifest: at most one base, the history, the incr files, and the two sequence counters.
///
/// Only parsing and the operations below build one, so it always satisfies Redis's rules:
/// at most one base, incr sequence numbers strictly increasing and above 0, names that are
/// not paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    base: Option<AofFile>,
    /// In manifest order: what the latest rewrite retired first.
    history: Vec<AofFile>,
    /// In manifest order: ascending seq.
    incrs: Vec<AofFile>,
    /// The seq of the newest base ever created (the base line's after a load).
    base_seq: i64,
    /// The seq of the newest incr ever created (the last incr line's after a load).
    incr_seq: i64,
}

impl Manifest {
    pub fn base(&self) -> Option<&AofFile> {
        self.base.as_ref()
    }

    pub fn history(&self) -> &[AofFile] {
        &self.history
    }

    pub fn incrs(&self) -> &[AofFile] {
        &self.incrs
    }

    /// The incr file new writes are appended to.
    pub fn last_incr(&self) -> Option<&AofFile> {
        self.incrs.last()
    }

    pub fn base_seq(&self) -> i64 {
        self.base_seq
    }

    pub fn incr_seq(&self) -> i64 {
        self.incr_seq
    }

    /// No base and no incr file: there is no data to load (history does not count).
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    /// The files to load, in order: the base, then the incr files.
    pub fn files_to_load(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incrs.iter())
    }

    /// Adds the next incr file (`incr_seq + 1`) after the others and returns it.
    pub fn open_new_incr(&mut self, filename: &AppendFilename) -> Result<AofFile, SeqExhausted> {
        let seq = self
            .incr_seq
            .checked_add(1)
            .ok_or(SeqExhausted(FileKind::Incr))?;
        let file = AofFile {
            name: filename.incr_name(seq),
            seq,
            kind: FileKind::Incr,
        };
        self.incr_seq = seq;
        self.incrs.push(file.clone());
        Ok(file)
    }

    /// Installs the base a finished rewrite produced, with the next base seq, and returns it
    /// (the caller renames the rewritten file to its name): the old base and the rewritten
    /// incr files become history, in Redis's order (the retired incrs in ascending seq, then
    /// the old base, then the older history).
    pub fn commit_rewrite(
        &mut self,
        filename: &AppendFilename,
        format: BaseFormat,
        last_incr: LastIncr,
    ) -> Result<AofFile, SeqExhausted> {
        let seq = self
            .base_seq
            .checked_add(1)
            .ok_or(SeqExhausted(FileKind::Base))?;
        let base = AofFile {
            name: filename.base_name(seq, format),
            seq,
            kind: FileKind::Base,
        };
        let mut retired: Vec<AofFile> = Vec::new();
        let keep = match last_incr {
            LastIncr::Keep => 1.min(self.incrs.len()),
            LastIncr::Retire => 0,
        };
        let retire_count = self.incrs.len().saturating_sub(keep);
        retired.extend(self.incrs.drain(..retire_count).map(|mut file| {
            file.kind = FileKind::History;
            file
        }));
        if let Some(mut old) = self.base.replace(base.clone()) {
            old.kind = FileKind::History;
            retired.push(old);
        }
        self.history.splice(0..0, retired);
        self.base_seq = seq;
        Ok(base)
    }

    /// Removes the history from the manifest and returns it: the files to delete.
    ///
    /// Redis deletes them and then persists; a history file that is already gone is harmless
    /// (history is never loaded), while one deleted *after* the persist would leak forever if
    /// the process died in between.
    pub fn drop_history(&mut self) -> Vec<AofFile> {
        std::mem::take(&mut self.history)
    }

    /// Makes a pre-7.0 single file `<dir>/<F>` the base, named `<F>` with seq 1, replacing any
    /// base listed; the caller persists this, then moves the file into the AOF directory (each
    /// step can be retried after a crash).
    pub fn upgrade_from_single_file(&mut self, filename: &AppendFilename) {
        self.base = Some(AofFile {
            name: filename.as_bytes().to_vec(),
            seq: 1,
            kind: FileKind::Base,
        });
        self.base_seq = 1;
    }

    /// The manifest's bytes, as Redis writes them (see the module doc for the one difference).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for file in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            write_line(&mut out, file);
        }
        out
    }

    /// Parses a manifest's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        Manifest::read_from(bytes)
    }

    /// Parses a manifest from `reader`, line by line: memory is bounded by the entries, not
    /// by the file's size.
    pub fn read_from(mut reader: impl BufRead) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::default();
        let mut piece = Vec::with_capacity(LINE_MAX_BYTES);
        let mut line_number = 0usize;
        loop {
            piece.clear();
            let read = (&mut reader)
                .take(LINE_MAX_BYTES as u64)
                .read_until(b'\n', &mut piece);
            if let Err(e) = read {
                return Err(ManifestError::at(
                    line_number.saturating_add(1),
                    &[],
                    ManifestErrorKind::Read(e),
                ));
            }
            if piece.is_empty() {
                if line_number == 0 {
                    return Err(ManifestError::at(0, &[], ManifestErrorKind::Empty));
                }
                return Ok(manifest);
            }
            line_number = line_number.saturating_add(1);
            manifest.add_line(&piece, line_number)?;
        }
    }

    /// Applies one `fgets` piece of the manifest.
    fn add_line(&mut self, piece: &[u8], line_number: usize) -> Result<(), ManifestError> {
        if piece.first() == Some(&b'#') {
            return Ok(());
        }
        // Redis sees the piece as a C string: a NUL byte hides the rest, newline included.
        let visible = c_string(piece);
        if !visible.contains(&b'\n') {
            let kind = if visible.len() < piece.len() {
                ManifestErrorKind::NulByte
            } else if piece.len() >= LINE_MAX_BYTES {
                ManifestErrorKind::LineTooLong
            } else {
                ManifestErrorKind::MissingFinalNewline
            };
            return Err(ManifestError::at(line_number, visible, kind));
        }
        let line = trim(visible);
        let fail = |kind| Err(ManifestError::at(line_number, line, kind));
        if line.is_empty() {
            return fail(ManifestErrorKind::BlankLine);
        }
        let Some(fields) = split_args(line) else {
            return fail(ManifestErrorKind::UnbalancedQuotes);
        };
        if fields.len() < 6 || fields.len() % 2 != 0 {
            return fail(ManifestErrorKind::WrongFieldCount(fields.len()));
        }
        let mut name: Option<&[u8]> = None;
        let mut seq = 0i64;
        let mut kind_byte = 0u8;
        for pair in fields.chunks_exact(2) {
            let (key, value) = (c_string(&pair[0]), c_string(&pair[1]));
            if key.eq_ignore_ascii_case(b"file") {
                if !is_base_name(value) {
                    return fail(ManifestErrorKind::PathInFileName);
                }
                name = Some(value);
            } else if key.eq_ignore_ascii_case(b"seq") {
                seq = atoll(value);
            } else if key.eq_ignore_ascii_case(b"type") {
                kind_byte = value.first().copied().unwrap_or(0);
            }
        }
        let Some(name) = name else {
            return fail(ManifestErrorKind::MissingField("file"));
        };
        if seq == 0 {
            return fail(ManifestErrorKind::MissingField("seq"));
        }
        if kind_byte == 0 {
            return fail(ManifestErrorKind::MissingField("type"));
        }
        // Stricter than Redis, which accepts these and fails when it opens the "file".
        if name.is_empty() || name == b"." || name == b".." {
            return fail(ManifestErrorKind::NotAFileName);
        }
        let kind = match kind_byte {
            b'b' => FileKind::Base,
            b'h' => FileKind::History,
            b'i' => FileKind::Incr,
            other => return fail(ManifestErrorKind::UnknownType(other)),
        };
        let file = AofFile {
            name: name.to_vec(),
            seq,
            kind,
        };
        match kind {
            FileKind::Base => {
                if self.base.is_some() {
                    return fail(ManifestErrorKind::DuplicateBase);
                }
                self.base = Some(file);
                self.base_seq = seq;
            }
            FileKind::History => self.history.push(file),
            FileKind::Incr => {
                // `incr_seq` starts at 0, so the first incr seq must be positive.
                if seq <= self.incr_seq {
                    return fail(ManifestErrorKind::NonMonotonicSeq {
                        previous: self.incr_seq,
                        seq,
                    });
                }
                self.incrs.push(file);
                self.incr_seq = seq;
            }
        }
        Ok(())
    }

    /// Reads `<dir>/<F>.manifest`. `Ok(None)` when it (or `dir`) does not exist, which Redis
    /// treats as an empty manifest (a fresh start, or an upgrade from a single old-style file).
    pub fn load(dir: &Path, filename: &AppendFilename) -> Result<Option<Manifest>, ManifestError> {
        let path = file_path(dir, &filename.manifest_name());
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ManifestError::at(0, &[], ManifestErrorKind::Open(e)).in_file(path));
            }
        };
        Manifest::read_from(io::BufReader::new(file))
            .map(Some)
            .map_err(|e| e.in_file(path))
    }

    /// Writes `<dir>/<F>.manifest` crash-safely: temp file, fsync, rename, fsync of `dir`.
    ///
    /// Refuses (before touching the disk) a manifest with a line Redis could not read back,
    /// which a name read from a hand-edited manifest could produce once re-quoted.
    pub fn persist(
        &self,
        storage: &dyn Storage,
        dir: &Path,
        filename: &AppendFilename,
    ) -> Result<(), PersistError> {
        let bytes = self.to_bytes();
        for (index, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
            if line.len() > LINE_MAX_BYTES {
                return Err(PersistError::LineTooLong {
                    line_number: index.saturating_add(1),
                    len: line.len(),
                });
            }
        }
        let path = file_path(dir, &filename.manifest_name());
        fs::write_file_atomically(storage, &path, &bytes, fs::DATA_FILE_MODE)
            .map_err(PersistError::Write)
    }
}

/// A failed [`Manifest::persist`]. The manifest on disk is then the previous one, except
/// after a failed directory fsync ([`fs::Step::SyncDir`]): the new one is in place but may not
/// survive a power loss.
#[derive(Debug)]
pub enum PersistError {
    /// A line would be longer than Redis reads ([`LINE_MAX_BYTES`], the newline included);
    /// nothing was written.
    LineTooLong {
        line_number: usize,
        len: usize,
    },
    Write(DurableWriteError),
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::LineTooLong { line_number, len } => write!(
                f,
                "AOF manifest line {line_number} would be {len} bytes, longer than a manifest line can be ({LINE_MAX_BYTES})"
            ),
            PersistError::Write(e) => write!(f, "writing the AOF manifest: {e}"),
        }
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PersistError::Write(e) => Some(e),
            PersistError::LineTooLong { .. } => None,
        }
    }
}

/// Why a manifest was refused.
#[derive(Debug)]
pub enum ManifestErrorKind {
    /// The manifest exists but could not be opened.
    Open(io::Error),
    /// Reading failed.
    Read(io::Error),
    /// 0 bytes (a manifest with only comments is valid).
    Empty,
    /// More than 1023 bytes before the newline.
    LineTooLong,
    /// The last line does not end in `\n`.
    MissingFinalNewline,
    /// A NUL byte on a line (Redis, reading C strings, no longer sees the newline).
    NulByte,
    /// An empty or all-whitespace line.
    BlankLine,
    /// A quote is not closed, or a closing quote is followed by something else than a space.
    UnbalancedQuotes,
    /// Fewer than 6 fields, or an odd number: keys and values must pair up.
    WrongFieldCount(usize),
    /// `file`, `seq` (or a seq that reads as 0) or `type` (or an empty one) is missing.
    MissingField(&'static str),
    /// `file` contains `/` or `\`.
    PathInFileName,
    /// `file` is empty, `.` or `..` (Redis accepts these and fails later, opening the file).
    NotAFileName,
    /// A second `type b` line.
    DuplicateBase,
    /// An incr line whose seq is not above the previous incr's (or not above 0).
    NonMonotonicSeq { previous: i64, seq: i64 },
    /// A type other than `b`, `h` and `i` (the first byte of the value).
    UnknownType(u8),
}

impl ManifestErrorKind {
    /// The message Redis 7.0 logs for this error (for the kinds Redis has).
    pub fn redis_message(&self) -> &'static str {
        match self {
            ManifestErrorKind::Open(_) => "Fatal error: can't open the AOF manifest file",
            ManifestErrorKind::Read(_) => "Read AOF manifest failed",
            ManifestErrorKind::Empty => "Found an empty AOF manifest",
            ManifestErrorKind::LineTooLong
            | ManifestErrorKind::MissingFinalNewline
            | ManifestErrorKind::NulByte => "The AOF manifest file contains too long line",
            ManifestErrorKind::BlankLine
            | ManifestErrorKind::UnbalancedQuotes
            | ManifestErrorKind::WrongFieldCount(_)
            | ManifestErrorKind::MissingField(_)
            | ManifestErrorKind::NotAFileName => "Invalid AOF manifest file format",
            ManifestErrorKind::PathInFileName => "File can't be a path, just a filename",
            ManifestErrorKind::DuplicateBase => "Found duplicate base file information",
            ManifestErrorKind::NonMonotonicSeq { .. } => "Found a non-monotonic sequence number",
            ManifestErrorKind::UnknownType(_) => "Unknown AOF file type",
        }
    }

    /// Whether Redis shows the offending line with the message (`Reading the manifest file,
    /// at line N` and `>>> '<line>'`): for the errors it finds after trimming the line.
    pub fn redis_shows_line(&self) -> bool {
        matches!(
            self,
            ManifestErrorKind::BlankLine
                | ManifestErrorKind::UnbalancedQuotes
                | ManifestErrorKind::WrongFieldCount(_)
                | ManifestErrorKind::MissingField(_)
                | ManifestErrorKind::PathInFileName
                | ManifestErrorKind::NotAFileName
                | ManifestErrorKind::DuplicateBase
                | ManifestErrorKind::NonMonotonicSeq { .. }
                | ManifestErrorKind::UnknownType(_)
        )
    }

    fn detail(&self) -> String {
        match self {
            ManifestErrorKind::Open(e) | ManifestErrorKind::Read(e) => e.to_string(),
            ManifestErrorKind::Empty => "the manifest is 0 bytes".into(),
            ManifestErrorKind::LineTooLong => {
                format!(
                    "a line holds at most {} bytes before its newline",
                    LINE_MAX_BYTES - 1
                )
            }
            ManifestErrorKind::MissingFinalNewline => "the last line has no newline".into(),
            ManifestErrorKind::NulByte => "the line contains a NUL byte".into(),
            ManifestErrorKind::BlankLine => "blank line".into(),
            ManifestErrorKind::UnbalancedQuotes => "unbalanced quotes".into(),
            ManifestErrorKind::WrongFieldCount(n) => {
                format!("{n} fields, a line needs at least 6 and an even number")
            }
            ManifestErrorKind::MissingField("seq") => "no seq, or a seq of 0".into(),
            ManifestErrorKind::MissingField(key) => format!("no {key}"),
            ManifestErrorKind::PathInFileName => "the file name contains '/' or '\\'".into(),
            ManifestErrorKind::NotAFileName => "the file name is empty, '.' or '..'".into(),
            ManifestErrorKind::DuplicateBase => "a second base file".into(),
            ManifestErrorKind::NonMonotonicSeq { previous, seq } => {
                format!("incr seq {seq} does not follow {previous}")
            }
            ManifestErrorKind::UnknownType(t) => {
                let mut shown = Vec::new();
                escape_into(&mut shown, &[*t]);
                format!("type '{}'", String::from_utf8_lossy(&shown))
            }
        }
    }
}

/// A refused manifest: what is wrong, on which line (as Redis numbers its `fgets` pieces),
/// with the line's text as Redis shows it (trimmed).
#[derive(Debug)]
pub struct ManifestError {
    /// The manifest file, when read from disk.
    pub path: Option<PathBuf>,
    /// 1-based; 0 when the error is not about a line (empty manifest, open error).
    pub line_number: usize,
    pub line: Vec<u8>,
    pub kind: ManifestErrorKind,
}

impl ManifestError {
    fn at(line_number: usize, line: &[u8], kind: ManifestErrorKind) -> ManifestError {
        ManifestError {
            path: None,
            line_number,
            line: line.to_vec(),
            kind,
        }
    }

    fn in_file(mut self, path: PathBuf) -> ManifestError {
        self.path = Some(path);
        self
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.redis_message(), self.kind.detail())?;
        if let Some(path) = &self.path {
            write!(f, " in {}", path.display())?;
        }
        if self.line_number > 0 {
            let mut shown = Vec::new();
            escape_into(&mut shown, &self.line);
            write!(
                f,
                " at line {}: '{}'",
                self.line_number,
                String::from_utf8_lossy(&shown)
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ManifestErrorKind::Open(e) | ManifestErrorKind::Read(e) => Some(e),
            _ => None,
        }
    }
}

/// `file <name> seq <n> type <t>\n`.
fn write_line(out: &mut Vec<u8>, file: &AofFile) {
    out.extend_from_slice(b"file ");
    write_name(out, &file.name);
    out.extend_from_slice(b" seq ");
    out.extend_from_slice(file.seq.to_string().as_bytes());
    out.extend_from_slice(b" type ");
    out.push(file.kind.as_byte());
    out.push(b'\n');
}

/// A name as Redis writes it in a manifest: bare when `sdssplitargs` reads it back unchanged,
/// otherwise quoted like `sdscatrepr`.
fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    if name.iter().any(|&b| needs_quoting(b)) {
        out.push(b'"');
        escape_into(out, name);
        out.push(b'"');
    } else {
        out.extend_from_slice(name);
    }
}

/// Redis's `sdsneedsrepr` (C locale: printable means 0x20..=0x7e), plus `'`, which Redis
/// leaves bare although `sdssplitargs` reads it as an opening quote.
fn needs_quoting(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || matches!(b, b'\\' | b'"' | b'\'')
}

/// `sdscatrepr` without the surrounding quotes.
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
}

/// Redis's `pathIsBaseName`: no `/` and no `\`.
fn is_base_name(name: &[u8]) -> bool {
    !name.iter().any(|&b| b == b'/' || b == b'\\')
}

/// The bytes a C function sees: up to the first NUL.
fn c_string(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// `sdstrim(line, " \t\r\n")`.
fn trim(line: &[u8]) -> &[u8] {
    let is_trimmed = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line
        .iter()
        .position(|b| !is_trimmed(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_trimmed(b))
        .map_or(start, |last| last + 1);
    line.get(start..end).unwrap_or_default()
}

/// C's `atoll` as glibc implements it (`strtoll` base 10): leading white space, an optional
/// sign, the leading digits; 0 when there are none; saturated on overflow.
fn atoll(value: &[u8]) -> i64 {
    crate::util::strtol(value).value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::{FaultyStorage, Op, OsStorage, TempDir};

    fn f() -> AppendFilename {
        AppendFilename::default()
    }

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text.as_bytes())
    }

    fn parse_err(bytes: &[u8]) -> ManifestError {
        match Manifest::parse(bytes) {
            Ok(m) => panic!("accepted {:?}: {m:?}", String::from_utf8_lossy(bytes)),
            Err(e) => e,
        }
    }

    fn text(m: &Manifest) -> String {
        String::from_utf8(m.to_bytes()).unwrap()
    }

    fn round_trip(bytes: &str) {
        let m = parse(bytes).unwrap();
        assert_eq!(text(&m), bytes);
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);
    }

    // --- names --------------------------------------------------------------------------

    #[test]
    fn file_names_follow_redis() {
        let f = f();
        assert_eq!(f.manifest_name(), b"appendonly.aof.manifest");
        assert_eq!(f.temp_manifest_name(), b"temp-appendonly.aof.manifest");
        assert_eq!(
            f.base_name(1, BaseFormat::Rdb),
            b"appendonly.aof.1.base.rdb"
        );
        assert_eq!(
            f.base_name(12, BaseFormat::Aof),
            b"appendonly.aof.12.base.aof"
        );
        assert_eq!(f.incr_name(3), b"appendonly.aof.3.incr.aof");
        assert_eq!(f.temp_incr_name(), b"temp-appendonly.aof.incr");
        assert_eq!(
            file_path(Path::new("/data/appendonlydir"), b"a b"),
            Path::new("/data/appendonlydir/a b")
        );
        assert_eq!(BaseFormat::from_rdb_preamble(true), BaseFormat::Rdb);
        assert_eq!(BaseFormat::from_rdb_preamble(false), BaseFormat::Aof);
    }

    #[test]
    fn appendfilename_is_validated_like_redis() {
        assert_eq!(AppendFilename::new(""), Err(InvalidAppendFilename::Empty));
        assert_eq!(AppendFilename::new("a/b"), Err(InvalidAppendFilename::Path));
        assert_eq!(
            AppendFilename::new("a\\b"),
            Err(InvalidAppendFilename::Path)
        );
        assert_eq!(
            AppendFilename::new("a\0b"),
            Err(InvalidAppendFilename::NulByte)
        );
        assert_eq!(
            InvalidAppendFilename::Path.to_string(),
            "appendfilename can't be a path, just a filename"
        );
        assert!(AppendFilename::new(" file seq \n\n.aof ").is_ok());
        assert!(AppendFilename::new("x".repeat(APPENDFILENAME_MAX_QUOTED_BYTES)).is_ok());
        // Quoting grows a name: 0xff is written as \xff.
        let long = vec![0xffu8; APPENDFILENAME_MAX_QUOTED_BYTES / 4];
        assert_eq!(
            AppendFilename::new(long),
            Err(InvalidAppendFilename::TooLong)
        );
    }

    #[test]
    fn the_longest_appendfilename_still_fits_every_line() {
        // 238 bytes written as \x01 plus "xx" and the quotes: exactly the longest allowed.
        let mut name = vec![0x01u8; 238];
        name.extend_from_slice(b"xx");
        let mut quoted = Vec::new();
        write_name(&mut quoted, &name);
        assert_eq!(quoted.len(), APPENDFILENAME_MAX_QUOTED_BYTES);
        let f = AppendFilename::new(name).unwrap();
        let mut m = Manifest {
            base_seq: i64::MIN + 1,
            incr_seq: i64::MAX - 1,
            ..Manifest::default()
        };
        let base = m
            .commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        assert_eq!(base.seq, i64::MIN + 2);
        m.base_seq = i64::MIN;
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        m.open_new_incr(&f).unwrap();
        let longest = m
            .to_bytes()
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::len)
            .max()
            .unwrap();
        assert_eq!(
            longest, LINE_MAX_BYTES,
            "the base line with seq -9223372036854775807"
        );
        assert_eq!(
            Manifest::parse(&m.to_bytes()).unwrap().to_bytes(),
            m.to_bytes()
        );
    }

    // --- serialization ------------------------------------------------------------------

    #[test]
    fn serializes_the_examples_of_the_redis_source_and_docs() {
        // aof.md §1.3 (`aofInfoFormat`).
        round_trip(
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
        );
        // The comment above Redis's manifest code: base, history, then incr files.
        round_trip(
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type h\n\
             file appendonly.aof.4.incr.aof seq 4 type i\n\
             file appendonly.aof.5.incr.aof seq 5 type i\n",
        );
        // A fresh start (Appendix A's 89-byte base with its first incr).
        round_trip(
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        );
        // `aof-use-rdb-preamble no` (Appendix C) and an upgraded single file.
        round_trip(
            "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        );
        round_trip(
            "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        );
        // Only incr files; only a base (a rewrite with AOF off).
        round_trip(
            "file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.7.incr.aof seq 7 type i\n",
        );
        round_trip("file appendonly.aof.5.base.rdb seq 5 type b\n");
    }

    #[test]
    fn quotes_names_exactly_like_sdscatrepr() {
        // The example of Redis's own test (aof-multi-part.tcl).
        let f = AppendFilename::new(" file seq \n\n.aof ").unwrap();
        let mut m = Manifest::default();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        m.drop_history();
        assert_eq!(
            text(&m),
            "file \" file seq \\n\\n.aof .2.base.rdb\" seq 2 type b\n"
        );
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);

        let mut out = Vec::new();
        write_name(&mut out, b"a\"b\\c\td\re\x07f\x08g\x0bh\x7fi\xc3\xa9");
        assert_eq!(
            out,
            b"\"a\\\"b\\\\c\\td\\re\\af\\bg\\x0bh\\x7fi\\xc3\\xa9\""
        );
        out.clear();
        write_name(&mut out, b"plain-name_1.aof");
        assert_eq!(out, b"plain-name_1.aof");
    }

    #[test]
    fn quotes_names_with_a_single_quote_which_redis_leaves_bare() {
        let f = AppendFilename::new("it's.aof").unwrap();
        let mut m = Manifest::default();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        assert_eq!(text(&m), "file \"it's.aof.1.base.rdb\" seq 1 type b\n");
        // What Redis writes for it, and cannot read back.
        let err = parse_err(b"file it's.aof.1.base.rdb seq 1 type b\n");
        assert!(matches!(err.kind, ManifestErrorKind::UnbalancedQuotes));
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);
    }

    #[test]
    fn any_name_round_trips() {
        let mut names: Vec<Vec<u8>> = (1u8..=255).map(|b| vec![b'x', b, b'y']).collect();
        names.push((1u8..=255).filter(|&b| b != b'/' && b != b'\\').collect());
        for name in names {
            if !is_base_name(&name) {
                continue;
            }
            let file = AofFile {
                name: name.clone(),
                seq: 3,
                kind: FileKind::History,
            };
            let m = Manifest {
                history: vec![file],
                ..Manifest::default()
            };
            assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m, "{name:?}");
        }
    }

    // --- parsing: what is accepted ------------------------------------------------------

    #[test]
    fn counters_come_from_the_base_and_the_last_incr() {
        let m = parse(
            "file appendonly.aof.4.base.rdb seq 4 type b\n\
             file appendonly.aof.9.incr.aof seq 9 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n\
             file appendonly.aof.5.incr.aof seq 5 type i\n",
        )
        .unwrap();
        assert_eq!(m.base_seq(), 4);
        assert_eq!(m.incr_seq(), 5, "history lines move no counter");
        assert_eq!(m.base().unwrap().name, b"appendonly.aof.4.base.rdb");
        assert_eq!(m.history().len(), 1);
        assert_eq!(m.last_incr().unwrap().seq, 5);
        let load: Vec<i64> = m.files_to_load().map(|file| file.seq).collect();
        assert_eq!(load, [4, 2, 5]);
        assert!(!m.is_empty());
    }

    #[test]
    fn comments_and_only_comments() {
        let m = parse("# a comment\n#\n").unwrap();
        assert!(m.is_empty());
        assert_eq!(m.to_bytes(), b"");
        let m = parse("#x\nfile a seq 1 type i\n# last comment without newline").unwrap();
        assert_eq!(text(&m), "file a seq 1 type i\n", "comments are not kept");
    }

    #[test]
    fn fields_in_any_order_any_case_unknown_keys_ignored() {
        let m = parse("TYPE i Seq 3 FILE a.aof\n").unwrap();
        assert_eq!(text(&m), "file a.aof seq 3 type i\n");
        // Redis 8 adds replication offsets; 7.0 ignores them, so do we.
        let m = parse(
            "file appendonly.aof.1.base.rdb seq 1 type b startoffset 0 endoffset 123\n\
             file appendonly.aof.1.incr.aof seq 1 type i startoffset 123\n",
        )
        .unwrap();
        assert_eq!(
            text(&m),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        // A repeated key: the last one wins.
        let m = parse("file a seq 1 type i file b seq 2\n").unwrap();
        assert_eq!(text(&m), "file b seq 2 type i\n");
    }

    #[test]
    fn whitespace_quotes_and_crlf() {
        let m = parse("  \tfile   'a b'  seq \"7\" type \"i\" \r\n").unwrap();
        assert_eq!(text(&m), "file \"a b\" seq 7 type i\n");
        let m = parse("file \"\\x41\\n\" seq 1 type h\n").unwrap();
        assert_eq!(m.history()[0].name, b"A\n");
    }

    #[test]
    fn seq_reads_like_atoll_and_type_like_its_first_byte() {
        let m = parse("file a seq 12abc type base\n").unwrap();
        assert_eq!(m.base().unwrap().seq, 12);
        assert_eq!(text(&m), "file a seq 12 type b\n");
        let m = parse("file a seq -5 type history\nfile b seq +0009 type incr\n").unwrap();
        assert_eq!(text(&m), "file a seq -5 type h\nfile b seq 9 type i\n");
        let m = parse("file a seq 99999999999999999999 type h\n").unwrap();
        assert_eq!(m.history()[0].seq, i64::MAX);
        assert_eq!(atoll(b" \t-9223372036854775808"), i64::MIN);
        assert_eq!(atoll(b"-99999999999999999999"), i64::MIN);
        assert_eq!(atoll(b"9223372036854775807"), i64::MAX);
        assert_eq!(atoll(b"+-1"), 0);
        assert_eq!(atoll(b""), 0);
    }

    #[test]
    fn incr_seqs_may_have_gaps_and_history_any_seq() {
        let m = parse(
            "file h1 seq 9 type h\nfile h2 seq 9 type h\n\
             file a seq 1 type i\nfile b seq 5 type i\nfile c seq 6 type i\n",
        )
        .unwrap();
        assert_eq!(m.incr_seq(), 6);
        assert_eq!(m.base_seq(), 0);
    }

    #[test]
    fn values_are_c_strings() {
        // `\x00` ends the value as Redis sees it.
        let m = parse("file \"ab\\x00cd\" seq 1 type i\n").unwrap();
        assert_eq!(m.incrs()[0].name, b"ab");
        let err = parse_err(b"file a seq 1 type \"\\x00b\"\n");
        assert!(matches!(err.kind, ManifestErrorKind::MissingField("type")));
    }

    #[test]
    fn a_line_of_1023_bytes_fits() {
        let name = "n".repeat(1023 - "file  seq 1 type i".len());
        let line = format!("file {name} seq 1 type i\n");
        assert_eq!(line.len(), LINE_MAX_BYTES);
        round_trip(&line);
    }

    // --- parsing: every error -----------------------------------------------------------

    #[test]
    fn an_empty_file_is_an_error() {
        let err = parse_err(b"");
        assert!(matches!(err.kind, ManifestErrorKind::Empty));
        assert_eq!(err.line_number, 0);
        assert_eq!(
            err.to_string(),
            "Found an empty AOF manifest: the manifest is 0 bytes"
        );
    }

    #[test]
    fn a_line_of_1024_bytes_is_too_long() {
        let name = "n".repeat(1024 - "file  seq 1 type i".len());
        let err = parse_err(format!("file a seq 1 type b\nfile {name} seq 1 type i\n").as_bytes());
        assert!(matches!(err.kind, ManifestErrorKind::LineTooLong));
        assert_eq!(err.line_number, 2);
        assert_eq!(err.line.len(), LINE_MAX_BYTES);
        assert_eq!(
            err.kind.redis_message(),
            "The AOF manifest file contains too long line"
        );
        assert!(err.to_string().contains("at line 2: 'file nnn"), "{err}");
    }

    #[test]
    fn the_last_line_needs_its_newline() {
        let err = parse_err(b"file a seq 1 type b\nfile b seq 1 type i");
        assert!(matches!(err.kind, ManifestErrorKind::MissingFinalNewline));
        assert_eq!(err.line_number, 2);
        assert_eq!(
            err.kind.redis_message(),
            "The AOF manifest file contains too long line"
        );
    }

    #[test]
    fn a_nul_byte_hides_the_newline() {
        let err = parse_err(b"file a\0b seq 1 type i\n");
        assert!(matches!(err.kind, ManifestErrorKind::NulByte));
        assert_eq!(err.line, b"file a");
        // In a comment it does not matter.
        assert!(Manifest::parse(b"#\0\nfile a seq 1 type i\n").is_ok());
    }

    #[test]
    fn a_long_comment_continues_as_a_line() {
        // Redis reads 1024 bytes at a time: only the first piece starts with '#'.
        let comment = format!("#{}\n", "c".repeat(1100));
        let err = parse_err(comment.as_bytes());
        assert!(matches!(err.kind, ManifestErrorKind::WrongFieldCount(1)));
        assert_eq!(err.line_number, 2);
        // A comment of exactly 1024 bytes leaves its newline as a blank second line.
        let comment = format!("#{}\n", "c".repeat(1023));
        let err = parse_err(comment.as_bytes());
        assert!(matches!(err.kind, ManifestErrorKind::BlankLine));
    }

    #[test]
    fn blank_lines_are_errors() {
        for text in [
            "\n",
            "file a seq 1 type i\n\n",
            "file a seq 1 type i\n \t\r\n",
        ] {
            let err = parse_err(text.as_bytes());
            assert!(matches!(err.kind, ManifestErrorKind::BlankLine), "{text:?}");
            assert_eq!(err.kind.redis_message(), "Invalid AOF manifest file format");
        }
        assert_eq!(parse_err(b"file a seq 1 type i\n\n").line_number, 2);
    }

    #[test]
    fn unbalanced_quotes_are_errors() {
        for text in [
            "file \"a seq 1 type i\n",
            "file 'a seq 1 type i\n",
            "file \"a\"b seq 1 type i\n",
        ] {
            let err = parse_err(text.as_bytes());
            assert!(
                matches!(err.kind, ManifestErrorKind::UnbalancedQuotes),
                "{text:?}"
            );
            assert_eq!(err.kind.redis_message(), "Invalid AOF manifest file format");
        }
    }

    #[test]
    fn fields_must_pair_up_and_be_at_least_six() {
        let err = parse_err(b"file a seq 1 type\n");
        assert!(matches!(err.kind, ManifestErrorKind::WrongFieldCount(5)));
        let err = parse_err(b"file a seq 1\n");
        assert!(matches!(err.kind, ManifestErrorKind::WrongFieldCount(4)));
        let err = parse_err(b"file a seq 1 type i extra\n");
        assert!(matches!(err.kind, ManifestErrorKind::WrongFieldCount(7)));
        assert_eq!(
            err.to_string(),
            "Invalid AOF manifest file format: 7 fields, a line needs at least 6 and an even number at line 1: 'file a seq 1 type i extra'"
        );
    }

    #[test]
    fn file_seq_and_type_are_required() {
        let cases: [(&str, &str); 6] = [
            ("name a seq 1 type i\n", "file"),
            ("file a sequence 1 type i\n", "seq"),
            ("file a seq 0 type i\n", "seq"),
            ("file a seq x type i\n", "seq"),
            ("file a seq 1 kind i\n", "type"),
            ("file a seq 1 type \"\"\n", "type"),
        ];
        for (text, key) in cases {
            let err = parse_err(text.as_bytes());
            assert!(
                matches!(err.kind, ManifestErrorKind::MissingField(k) if k == key),
                "{text:?}: {err}"
            );
            assert_eq!(err.kind.redis_message(), "Invalid AOF manifest file format");
        }
    }

    #[test]
    fn file_must_be_a_name_not_a_path() {
        for text in [
            "file dir/a seq 1 type i\n",
            "file ../a seq 1 type i\n",
            "file /abs seq 1 type i\n",
            "file a\\b seq 1 type i\n",
        ] {
            let err = parse_err(text.as_bytes());
            assert!(
                matches!(err.kind, ManifestErrorKind::PathInFileName),
                "{text:?}"
            );
            assert_eq!(
                err.kind.redis_message(),
                "File can't be a path, just a filename"
            );
        }
        // Checked as soon as the key is seen, before the missing type.
        let err = parse_err(b"file a/b seq 1 x y\n");
        assert!(matches!(err.kind, ManifestErrorKind::PathInFileName));
    }

    #[test]
    fn empty_dot_and_dot_dot_are_not_file_names() {
        for text in [
            "file \"\" seq 1 type i\n",
            "file . seq 1 type i\n",
            "file .. seq 1 type h\n",
        ] {
            let err = parse_err(text.as_bytes());
            assert!(
                matches!(err.kind, ManifestErrorKind::NotAFileName),
                "{text:?}"
            );
        }
    }

    #[test]
    fn one_base_at_most() {
        let err = parse_err(b"file a seq 1 type b\nfile b seq 2 type b\n");
        assert!(matches!(err.kind, ManifestErrorKind::DuplicateBase));
        assert_eq!(err.line_number, 2);
        assert_eq!(err.line, b"file b seq 2 type b");
        assert_eq!(
            err.kind.redis_message(),
            "Found duplicate base file information"
        );
    }

    #[test]
    fn incr_seqs_strictly_increase_from_above_zero() {
        let err = parse_err(b"file a seq 2 type i\nfile b seq 2 type i\n");
        assert!(matches!(
            err.kind,
            ManifestErrorKind::NonMonotonicSeq {
                previous: 2,
                seq: 2
            }
        ));
        assert_eq!(
            err.kind.redis_message(),
            "Found a non-monotonic sequence number"
        );
        let err = parse_err(b"file a seq 3 type i\nfile b seq 1 type i\n");
        assert!(matches!(
            err.kind,
            ManifestErrorKind::NonMonotonicSeq { .. }
        ));
        let err = parse_err(b"file a seq -1 type i\n");
        assert!(matches!(
            err.kind,
            ManifestErrorKind::NonMonotonicSeq {
                previous: 0,
                seq: -1
            }
        ));
    }

    #[test]
    fn unknown_types_are_errors() {
        for (text, t) in [
            ("file a seq 1 type x\n", b'x'),
            ("file a seq 1 type B\n", b'B'),
        ] {
            let err = parse_err(text.as_bytes());
            assert!(matches!(err.kind, ManifestErrorKind::UnknownType(got) if got == t));
            assert_eq!(err.kind.redis_message(), "Unknown AOF file type");
        }
    }

    #[test]
    fn read_errors_are_reported_with_the_line() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let line = b"file a seq 1 type i\n";
                if self.0 == 0 {
                    self.0 = 1;
                    buf[..line.len()].copy_from_slice(line);
                    return Ok(line.len());
                }
                Err(io::Error::from_raw_os_error(libc::EIO))
            }
        }
        let err = Manifest::read_from(io::BufReader::new(Failing(0))).unwrap_err();
        assert!(matches!(err.kind, ManifestErrorKind::Read(_)));
        assert_eq!(err.line_number, 2);
        assert_eq!(err.kind.redis_message(), "Read AOF manifest failed");
    }

    // --- operations ---------------------------------------------------------------------

    #[test]
    fn fresh_start_then_rewrites_with_aof_on() {
        let f = f();
        let mut m = Manifest::default();
        // Start-up with nothing: base 1 (the empty data set), then incr 1.
        let base = m
            .commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Retire)
            .unwrap();
        assert_eq!(base.name, b"appendonly.aof.1.base.rdb");
        assert!(m.last_incr().is_none());
        let incr = m.open_new_incr(&f).unwrap();
        assert_eq!(incr.name, b"appendonly.aof.1.incr.aof");
        assert_eq!(
            text(&m),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        // BGREWRITEAOF: new incr before the snapshot, then the new base.
        m.open_new_incr(&f).unwrap();
        assert_eq!(
            text(&m),
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        assert_eq!(
            text(&m),
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        let history = m.drop_history();
        assert_eq!(history.len(), 2);
        assert!(history.iter().all(|file| file.kind == FileKind::History));
        assert_eq!(
            text(&m),
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn failed_rewrites_leave_incrs_that_the_next_success_retires() {
        // aof-multi-part.tcl: b2,i2,i3,i4,i5 after three killed rewrites; success → b3,i6.
        let f = f();
        let mut m = parse(
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n",
        )
        .unwrap();
        for _ in 0..3 {
            m.open_new_incr(&f).unwrap();
        }
        assert_eq!(m.incrs().len(), 4);
        m.open_new_incr(&f).unwrap();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        assert_eq!(
            text(&m),
            "file appendonly.aof.3.base.rdb seq 3 type b\n\
             file appendonly.aof.2.incr.aof seq 2 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type h\n\
             file appendonly.aof.4.incr.aof seq 4 type h\n\
             file appendonly.aof.5.incr.aof seq 5 type h\n\
             file appendonly.aof.2.base.rdb seq 2 type h\n\
             file appendonly.aof.6.incr.aof seq 6 type i\n"
        );
    }

    #[test]
    fn a_rewrite_with_aof_off_leaves_only_the_base() {
        let f = f();
        let mut m = parse(
            "file appendonly.aof.1.base.rdb seq 1 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type i\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n",
        )
        .unwrap();
        m.commit_rewrite(&f, BaseFormat::Aof, LastIncr::Retire)
            .unwrap();
        m.drop_history();
        assert_eq!(text(&m), "file appendonly.aof.2.base.aof seq 2 type b\n");
        // Enabling AOF again in the same process continues the incr counter ...
        let mut same_process = m.clone();
        same_process.open_new_incr(&f).unwrap();
        same_process
            .commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        same_process.drop_history();
        assert_eq!(
            text(&same_process),
            "file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
        );
        // ... after a restart it comes from the base-only manifest: incr 1.
        let mut restarted = Manifest::parse(&m.to_bytes()).unwrap();
        assert_eq!(restarted.incr_seq(), 0);
        restarted.open_new_incr(&f).unwrap();
        restarted
            .commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        restarted.drop_history();
        assert_eq!(
            text(&restarted),
            "file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
    }

    #[test]
    fn history_accumulates_newest_first() {
        let f = f();
        let mut m = Manifest::default();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Retire)
            .unwrap();
        m.open_new_incr(&f).unwrap();
        for _ in 0..2 {
            m.open_new_incr(&f).unwrap();
            m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
                .unwrap();
        }
        assert_eq!(
            text(&m),
            "file appendonly.aof.3.base.rdb seq 3 type b\n\
             file appendonly.aof.2.incr.aof seq 2 type h\n\
             file appendonly.aof.2.base.rdb seq 2 type h\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type i\n"
        );
    }

    #[test]
    fn upgrade_names_the_old_single_file_as_base_one() {
        let f = f();
        let mut m = Manifest::default();
        m.upgrade_from_single_file(&f);
        assert_eq!(text(&m), "file appendonly.aof seq 1 type b\n");
        m.open_new_incr(&f).unwrap();
        m.open_new_incr(&f).unwrap();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        m.drop_history();
        assert_eq!(
            text(&m),
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }

    #[test]
    fn exhausted_counters_change_nothing() {
        let f = f();
        let mut m =
            parse("file a seq 9223372036854775807 type b\nfile b seq 9223372036854775807 type i\n")
                .unwrap();
        let before = m.clone();
        assert_eq!(m.open_new_incr(&f), Err(SeqExhausted(FileKind::Incr)));
        assert_eq!(
            m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep),
            Err(SeqExhausted(FileKind::Base))
        );
        assert_eq!(m, before);
    }

    #[test]
    fn operations_keep_the_manifest_loadable() {
        // Every sequence of operations serializes to bytes that parse back to the same value.
        let f = AppendFilename::new("x y'z.aof").unwrap();
        let mut m = Manifest::default();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 5 {
                0 | 1 => drop(m.open_new_incr(&f).unwrap()),
                2 => drop(
                    m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
                        .unwrap(),
                ),
                3 => drop(
                    m.commit_rewrite(&f, BaseFormat::Aof, LastIncr::Retire)
                        .unwrap(),
                ),
                _ => drop(m.drop_history()),
            }
            let parsed = Manifest::parse(&m.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
            // The counters a load derives can lag behind (history moves none), the lines not.
            assert_eq!(parsed.to_bytes(), m.to_bytes());
            assert_eq!(parsed.base_seq(), m.base().map_or(0, |b| b.seq));
        }
    }

    // --- disk -----------------------------------------------------------------------------

    #[test]
    fn load_and_persist() {
        let dir = TempDir::new("manifest");
        let f = f();
        assert!(Manifest::load(&dir.0, &f).unwrap().is_none());
        assert!(
            Manifest::load(&dir.0.join("missing"), &f)
                .unwrap()
                .is_none()
        );

        let mut m = Manifest::default();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Retire)
            .unwrap();
        m.open_new_incr(&f).unwrap();
        m.persist(&OsStorage, &dir.0, &f).unwrap();
        let path = dir.0.join("appendonly.aof.manifest");
        assert_eq!(std::fs::read(&path).unwrap(), m.to_bytes());
        assert_eq!(Manifest::load(&dir.0, &f).unwrap().unwrap(), m);

        std::fs::write(&path, b"file a seq 1 type b\nfile b seq 1 type b\n").unwrap();
        let err = Manifest::load(&dir.0, &f).unwrap_err();
        assert!(matches!(err.kind, ManifestErrorKind::DuplicateBase));
        assert_eq!(err.path.as_deref(), Some(path.as_path()));
        assert!(
            err.to_string()
                .contains("appendonly.aof.manifest at line 2"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_persist_keeps_the_previous_manifest() {
        let dir = TempDir::new("persist-fault");
        let f = f();
        let mut m = Manifest::default();
        m.commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Retire)
            .unwrap();
        m.open_new_incr(&f).unwrap();
        m.persist(&OsStorage, &dir.0, &f).unwrap();
        let mut next = m.clone();
        next.open_new_incr(&f).unwrap();
        for op in [Op::CreateNew, Op::Write, Op::SyncAll, Op::Rename] {
            let storage = FaultyStorage::new();
            storage.fail(op, 1, libc::ENOSPC);
            let err = next.persist(&storage, &dir.0, &f).unwrap_err();
            assert!(matches!(err, PersistError::Write(_)), "{op:?}");
            assert_eq!(Manifest::load(&dir.0, &f).unwrap().unwrap(), m, "{op:?}");
        }
        let entries = std::fs::read_dir(&dir.0).unwrap().count();
        assert_eq!(entries, 1, "no temp manifest is left");
        next.persist(&OsStorage, &dir.0, &f).unwrap();
        assert_eq!(Manifest::load(&dir.0, &f).unwrap().unwrap(), next);
    }

    #[test]
    fn persist_refuses_lines_redis_could_not_read() {
        let dir = TempDir::new("persist-long");
        // A name read from a hand-written manifest, bare there, four times longer quoted.
        let name = vec![0xe9u8; 300];
        let mut text = b"file ".to_vec();
        text.extend_from_slice(&name);
        text.extend_from_slice(b" seq 1 type h\n");
        let m = Manifest::parse(&text).unwrap();
        let err = m.persist(&OsStorage, &dir.0, &f()).unwrap_err();
        assert!(
            matches!(err, PersistError::LineTooLong { line_number: 1, .. }),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    }
}
