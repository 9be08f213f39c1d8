//! `kopi-check-aof inspect` and `kopi-check-aof stats`: an append-only file as a person reads
//! it, and what it holds in numbers. kopi's own subcommands, next to the `redis-check-aof`
//! drop-in of [`super::check_aof`], whose behaviour they leave alone: they are taken only when
//! the first argument is `inspect` or `stats` and another argument follows, a command line
//! for which `redis-check-aof` prints its usage.
//!
//! ```text
//! kopi-check-aof inspect <dir|manifest|file> [--key GLOB] [--command NAME] [--since T]
//!                        [--until T] [--db N] [--follow]
//! kopi-check-aof stats <dir|manifest|file> [--databases N]
//! ```
//!
//! The input is an AOF directory (the one `*.manifest` in it), a manifest, or one file (an
//! old-style AOF, or one part of a multi-part AOF). The files are those the server loads, in
//! its order: the base, then the incr files (not the history).
//!
//! # `inspect`: one line per command
//!
//! ```text
//! appendonly.aof.1.base.aof:0 db=0 - SET greeting hello
//! appendonly.aof.1.incr.aof:17 db=1 2026-12-07 22:45:02 SET "two words" "\x00\xff"
//! appendonly.aof.1.base.rdb:71 db=0 snapshot RPUSH list a b
//! ```
//!
//! `<file>:<offset>` (the name as the manifest has it; the offset of the record's first byte,
//! or of the key in an RDB part), `db=<n>` (the database the command runs in: each file
//! starts in 0, `SELECT` shows the db it selects), then when it was logged: the `#TS:`
//! annotation in force in UTC (the last one before it, in this file or an earlier one), `-`
//! where there is none, `snapshot` for a key of an RDB base or preamble, shown as the
//! commands a rewrite writes for it (`SET`, `RPUSH`, `SADD`, `ZADD`, `HSET`, then `PEXPIREAT`
//! when it has a deadline). The arguments are shown as `redis-cli` takes them: as they are
//! when they are printable ASCII without space, quote or backslash, otherwise in double
//! quotes with C escapes and `\xHH` (Redis's `sdscatrepr`), so a line pastes into
//! `redis-cli`. Annotations are not lines of their own.
//!
//! Filters, all of which must hold: `--key GLOB` (Redis's glob, matched against the key
//! arguments as the command table finds them, as `COMMAND GETKEYS` does; every argument after
//! the name for a command kopi does not know or whose arity is wrong; repeat it to match any
//! of several), `--command NAME` (any case; repeatable), `--db N`, `--since T` and `--until T`
//! (unix seconds, inclusive, on the `#TS:` in force: a command with none, or a snapshot key,
//! never matches a time filter).
//!
//! `--follow`: after the last file, polls it every [`FOLLOW_POLL_INTERVAL`] and prints what
//! is appended; with a manifest, it is read again each time and a newer incr file (a rewrite
//! started) is followed once the current one has been read to its end. A record cut by the
//! end of the file is printed when its last byte arrives; a transaction's commands as they
//! arrive. It stops on SIGINT (or any signal), or at a malformed record.
//!
//! # `stats`
//!
//! Per file its size and count of commands; per command name (lowercase) its count and bytes;
//! distinct keys touched (by db, every key argument, snapshot keys included); the databases
//! they live in; the first and last `#TS:` annotation; and what a rewrite would save. That last
//! figure is not an estimate from the log alone: the files are replayed through the server's
//! own command execution into an in-memory keyspace (as start-up loads them: a client per file,
//! keys do not expire while replaying), then the base a rewrite would write now is measured in
//! both formats (the RDB one kopi writes with `aof-use-rdb-preamble yes`, and RESP), without
//! being held in memory. The replay needs the memory the dataset needs in the server.
//!
//! # Exit status
//! 0 when every file was read to its end; 1 when a file is damaged (what comes before the
//! damage is shown, the reason goes to standard error, the next files are still read), or on a
//! usage error or an unreadable input.
//!
//! A progress bar goes to standard error when it is a terminal, the files add up to
//! [`PROGRESS_MIN_BYTES`] or more, and (for `inspect`) standard output is not a terminal.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::commands;
use crate::keyspace::{Entry, NO_EXPIRY};
use crate::persistence::aof_reader::{AofReader, End, Event, ReadError, ReadOptions};
use crate::persistence::manifest::{FileKind, Manifest, file_path};
use crate::persistence::rdb::{Item as RdbItem, RdbReader};
use crate::protocol::reply::{Protocol, Reply};
use crate::server::Server;
use crate::server::client::{CLIENT_ID_AOF, Client, ClientHandle, Peer};
use crate::server::config::Config;

/// How often `--follow` looks for appended bytes and a changed manifest.
pub const FOLLOW_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Inputs smaller than this get no progress bar.
pub const PROGRESS_MIN_BYTES: u64 = 8 << 20;
/// The bar is redrawn at most this often.
const PROGRESS_REDRAW_INTERVAL: Duration = Duration::from_millis(100);
const PROGRESS_BAR_WIDTH: usize = 30;
/// Databases the `stats` replay holds unless `--databases` says otherwise (Redis's default).
const DEFAULT_DATABASES: usize = 16;
/// The most `--databases` may ask for (Redis's `databases` has no limit; this keeps a typo
/// from allocating millions of empty databases).
const DATABASES_MAX: usize = 1 << 16;

const USAGE: &str = "Usage: kopi-check-aof inspect <dir|manifest|file> [--key GLOB] [--command NAME] [--since T] [--until T] [--db N] [--follow]\n       kopi-check-aof stats <dir|manifest|file> [--databases N]\n";

/// Whether `args` (the program name left out) ask for a subcommand of this module: `inspect`
/// or `stats` followed by at least one argument. `redis-check-aof` prints its usage for every
/// such command line, so the drop-in's behaviour is unchanged.
pub fn is_subcommand(args: &[OsString]) -> bool {
    args.len() >= 2 && (args[0] == "inspect" || args[0] == "stats")
}

/// Which lines `inspect` prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Globs; a command matches when one of its keys matches one of them.
    pub keys: Vec<Vec<u8>>,
    /// Lowercase command names.
    pub commands: Vec<Vec<u8>>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub db: Option<usize>,
}

/// A subcommand's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subcommand {
    Inspect {
        path: PathBuf,
        filter: Filter,
        follow: bool,
    },
    Stats {
        path: PathBuf,
        databases: usize,
    },
}

/// Reads a subcommand's arguments (`args[0]` is `inspect` or `stats`); the error is the
/// message to print before the usage.
pub fn parse_args(args: &[OsString]) -> Result<Subcommand, String> {
    let (name, rest) = args.split_first().ok_or("missing subcommand")?;
    let inspect = name == "inspect";
    let mut path = None;
    let mut filter = Filter::default();
    let mut follow = false;
    let mut databases = DEFAULT_DATABASES;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let flag = arg.as_bytes();
        let mut value = |what: &str| {
            rest.next()
                .map(|v| v.as_bytes().to_vec())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        let number = |text: Vec<u8>, what: &str| -> Result<i64, String> {
            std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| format!("{what}: not a whole number"))
        };
        match flag {
            b"--key" if inspect => filter.keys.push(value("--key")?),
            b"--command" if inspect => filter
                .commands
                .push(value("--command")?.to_ascii_lowercase()),
            b"--since" if inspect => filter.since = Some(number(value("--since")?, "--since")?),
            b"--until" if inspect => filter.until = Some(number(value("--until")?, "--until")?),
            b"--db" if inspect => {
                let db = number(value("--db")?, "--db")?;
                filter.db = Some(usize::try_from(db).map_err(|_| "--db: negative".to_string())?);
            }
            b"--follow" if inspect => follow = true,
            b"--databases" if !inspect => {
                let n = number(value("--databases")?, "--databases")?;
                databases = usize::try_from(n)
                    .ok()
                    .filter(|n| (1..=DATABASES_MAX).contains(n))
                    .ok_or_else(|| format!("--databases: from 1 to {DATABASES_MAX}"))?;
            }
            _ if flag.starts_with(b"--") => {
                return Err(format!("unknown option {}", String::from_utf8_lossy(flag)));
            }
            _ if path.is_none() => path = Some(PathBuf::from(arg)),
            _ => return Err("more than one input".into()),
        }
    }
    let path = path.ok_or("missing <dir|manifest|file>")?;
    Ok(if inspect {
        Subcommand::Inspect {
            path,
            filter,
            follow,
        }
    } else {
        Subcommand::Stats { path, databases }
    })
}

/// Runs `inspect` or `stats` (`args` without the program name, `args[0]` the subcommand):
/// lines to `out`, complaints to `err`. Returns the exit status.
pub fn run(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let subcommand = match parse_args(args) {
        Ok(subcommand) => subcommand,
        Err(message) => {
            let _ = write!(err, "kopi-check-aof: {message}\n{USAGE}");
            return 1;
        }
    };
    let result = match &subcommand {
        Subcommand::Inspect {
            path,
            filter,
            follow,
        } => inspect(path, filter, *follow, out, err),
        Subcommand::Stats { path, databases } => stats(path, *databases, out, err),
    };
    let _ = out.flush();
    match result {
        Ok(status) => status,
        // `inspect ... | head`: the reader went away, nothing more to say.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(Failure::Output(e)) => {
            let _ = writeln!(err, "kopi-check-aof: writing the output: {e}");
            1
        }
        Err(Failure::Input(message)) => {
            let _ = writeln!(err, "kopi-check-aof: {message}");
            1
        }
    }
}

/// Why a run stopped early.
#[derive(Debug)]
enum Failure {
    /// Writing to standard output failed.
    Output(io::Error),
    /// The input could not be opened or read (a damaged file is not a failure: it is
    /// reported and reading goes on).
    Input(String),
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    /// As shown: the name in the manifest, or the file name of a single file.
    name: Vec<u8>,
    path: PathBuf,
    kind: PartKind,
    /// The manifest's sequence number (0 for a single file).
    seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Base,
    Incr,
    /// A file given by itself.
    Single,
}

impl PartKind {
    fn name(self) -> &'static str {
        match self {
            PartKind::Base => "base",
            PartKind::Incr => "incr",
            PartKind::Single => "single",
        }
    }
}

/// What the input names.
#[derive(Debug)]
struct Source {
    manifest: Option<PathBuf>,
    parts: Vec<Part>,
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Resolves the input: a directory holding one `*.manifest`, a manifest (its name ends in
/// `.manifest`, or its first line that is not a comment starts with `file`, as Redis tells),
/// or any other file as a single AOF file.
fn open_source(path: &Path) -> Result<Source, Failure> {
    let input = |e: io::Error| Failure::Input(format!("{}: {e}", display(path)));
    let metadata = std::fs::metadata(path).map_err(input)?;
    let manifest = if metadata.is_dir() {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(path).map_err(input)? {
            let name = entry.map_err(input)?.file_name();
            let bytes = name.as_bytes();
            if bytes.ends_with(b".manifest") && !bytes.starts_with(b"temp-") {
                found.push(path.join(name));
            }
        }
        found.sort();
        match found.len() {
            1 => found.pop(),
            0 => {
                return Err(Failure::Input(format!(
                    "{}: no *.manifest in this directory",
                    display(path)
                )));
            }
            _ => {
                return Err(Failure::Input(format!(
                    "{}: several *.manifest files, name the one to read",
                    display(path)
                )));
            }
        }
    } else if looks_like_manifest(path).map_err(input)? {
        Some(path.to_path_buf())
    } else {
        None
    };
    let Some(manifest_path) = manifest else {
        let name = path
            .file_name()
            .map_or_else(|| path.as_os_str().as_bytes(), |n| n.as_bytes());
        return Ok(Source {
            manifest: None,
            parts: vec![Part {
                name: name.to_vec(),
                path: path.to_path_buf(),
                kind: PartKind::Single,
                seq: 0,
            }],
        });
    };
    let manifest = read_manifest(&manifest_path)?;
    let dir = manifest_dir(&manifest_path);
    Ok(Source {
        parts: manifest_parts(&manifest, &dir),
        manifest: Some(manifest_path),
    })
}

fn looks_like_manifest(path: &Path) -> io::Result<bool> {
    if path.as_os_str().as_bytes().ends_with(b".manifest") {
        return Ok(true);
    }
    let mut head = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(File::open(path)?, 4096), &mut head)?;
    Ok(head
        .split(|&b| b == b'\n')
        .find(|line| !line.starts_with(b"#"))
        .is_some_and(|line| line.starts_with(b"file")))
}

fn manifest_dir(manifest_path: &Path) -> PathBuf {
    match manifest_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::Input(format!("{}: {e}", display(path))))?;
    Manifest::parse(&bytes).map_err(|e| Failure::Input(format!("{}: {e}", display(path))))
}

fn manifest_parts(manifest: &Manifest, dir: &Path) -> Vec<Part> {
    manifest
        .files_to_load()
        .map(|f| Part {
            name: f.name.clone(),
            path: file_path(dir, &f.name),
            kind: if f.kind == FileKind::Base {
                PartKind::Base
            } else {
                PartKind::Incr
            },
            seq: f.seq,
        })
        .collect()
}

/// Where a record sits: what `inspect` prints before the command.
struct At<'a> {
    file: &'a [u8],
    db: usize,
    /// The `#TS:` annotation in force; `None` where there is none, and for snapshot keys.
    timestamp: Option<i64>,
    /// A key of an RDB base or preamble.
    snapshot: bool,
}

/// One record, as the walk hands it to a [`Sink`].
enum Record<'a> {
    Command {
        args: &'a [&'a [u8]],
        offset: u64,
        end: u64,
    },
    Annotation {
        timestamp: Option<i64>,
    },
    /// A key of an RDB part; `offset..end` are its bytes (expiry opcode included).
    SnapshotKey {
        entry: Entry,
        offset: u64,
        end: u64,
    },
    /// A function library of an RDB part, as the command that loads it.
    SnapshotCommand {
        args: &'a [&'a [u8]],
        offset: u64,
    },
}

/// What `inspect` and `stats` do with the records.
trait Sink {
    /// A file starts (its commands run in a fresh client: db 0, no transaction).
    fn file_start(&mut self, _part: &Part) {}
    fn record(&mut self, at: &At<'_>, record: Record<'_>) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How reading a file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PartEnd {
    Clean,
    /// The file ends inside the record at `at` (at the `MULTI` of a transaction whose
    /// `EXEC` never came), inside the transaction whose `MULTI` is at `open_multi` if one is open.
    Torn {
        at: u64,
        open_multi: Option<u64>,
    },
    Corrupt {
        at: u64,
        why: String,
    },
    /// The RDB part cannot be read.
    BadSnapshot(String),
}

impl PartEnd {
    /// The `end=` field of `stats`.
    fn short(&self) -> String {
        match self {
            PartEnd::Clean => "clean".into(),
            PartEnd::Torn { at, .. } => format!("torn@{at}"),
            PartEnd::Corrupt { at, .. } => format!("corrupt@{at}"),
            PartEnd::BadSnapshot(_) => "bad-rdb".into(),
        }
    }

    /// The line for standard error, `None` for a clean end.
    fn complaint(&self, name: &[u8]) -> Option<String> {
        let name = String::from_utf8_lossy(name);
        match self {
            PartEnd::Clean => None,
            PartEnd::Torn {
                at,
                open_multi: None,
            } => Some(format!(
                "{name}: the file ends inside the record at offset {at}"
            )),
            PartEnd::Torn {
                at,
                open_multi: Some(multi),
            } if at == multi => Some(format!(
                "{name}: the file ends inside the transaction opened at offset {multi}"
            )),
            PartEnd::Torn {
                at,
                open_multi: Some(multi),
            } => Some(format!(
                "{name}: the file ends inside the record at offset {at}, in the transaction opened at offset {multi}"
            )),
            PartEnd::Corrupt { at, why } => Some(format!(
                "{name}: malformed at offset {at} ({why}), the rest is not read"
            )),
            PartEnd::BadSnapshot(why) => Some(format!("{name}: unreadable RDB part: {why}")),
        }
    }
}

/// Where reading a file stands, so that `--follow` can go on from there.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    /// Where the next read starts: a record boundary outside any transaction.
    resume: u64,
    /// Records that start before this were handed over already (a read resumed before an
    /// open `MULTI` reads them again).
    seen: u64,
    db: usize,
}

/// Reads the files, keeping what lives from one to the next.
struct Walker {
    reader: AofReader,
    /// The last `#TS:` annotation read.
    timestamp: Option<i64>,
    progress: Progress,
}

impl Walker {
    fn new(progress: Progress) -> Self {
        Walker {
            reader: AofReader::new(),
            timestamp: None,
            progress,
        }
    }

    /// Reads `part` from `cursor` on to its current end, handing every record not yet seen
    /// to `sink`. `before` is the size of the files read before it (for the progress bar).
    fn read_part(
        &mut self,
        part: &Part,
        cursor: &mut Cursor,
        sink: &mut dyn Sink,
        before: u64,
    ) -> Result<PartEnd, Failure> {
        let input =
            |e: io::Error| Failure::Input(format!("{}: {e}", String::from_utf8_lossy(&part.name)));
        let mut options = ReadOptions {
            start_offset: cursor.resume,
            detect_rdb: cursor.resume == 0,
            ..ReadOptions::default()
        };
        loop {
            let Walker {
                reader,
                timestamp,
                progress,
            } = self;
            let result = reader.read_file(&part.path, &options, |event| match event {
                Event::Command(command) => {
                    if command.offset < cursor.seen {
                        return Ok(());
                    }
                    cursor.seen = command.end;
                    if command.name().eq_ignore_ascii_case(b"select")
                        && let Some(db) = command.args.get(1).and_then(|a| parse_db(a))
                    {
                        cursor.db = db;
                    }
                    progress.update(before + command.end);
                    let at = At {
                        file: &part.name,
                        db: cursor.db,
                        timestamp: *timestamp,
                        snapshot: false,
                    };
                    sink.record(
                        &at,
                        Record::Command {
                            args: command.args,
                            offset: command.offset,
                            end: command.end,
                        },
                    )
                }
                Event::Annotation(annotation) => {
                    if annotation.offset < cursor.seen {
                        return Ok(());
                    }
                    cursor.seen = annotation.end;
                    if annotation.timestamp.is_some() {
                        *timestamp = annotation.timestamp;
                    }
                    let at = At {
                        file: &part.name,
                        db: cursor.db,
                        timestamp: *timestamp,
                        snapshot: false,
                    };
                    sink.record(
                        &at,
                        Record::Annotation {
                            timestamp: annotation.timestamp,
                        },
                    )
                }
            });
            let report = match result {
                Ok(report) => report,
                Err(ReadError::Io(e)) => return Err(input(e)),
                Err(ReadError::Stopped(e)) => return Err(Failure::Output(e)),
            };
            return Ok(match report.end {
                End::RdbPreamble => {
                    let end = match self.read_snapshot(part, sink, before)? {
                        Ok(end) => end,
                        Err(why) => return Ok(PartEnd::BadSnapshot(why)),
                    };
                    // The RESP tail runs in the file's client, which starts in db 0.
                    cursor.resume = end;
                    cursor.seen = cursor.seen.max(end);
                    cursor.db = 0;
                    options = ReadOptions {
                        start_offset: end,
                        detect_rdb: false,
                        ..ReadOptions::default()
                    };
                    continue;
                }
                End::Clean => {
                    cursor.resume = report.check_ok_up_to;
                    PartEnd::Clean
                }
                End::Truncated(cut) => {
                    cursor.resume = cut.open_multi.unwrap_or(cut.at);
                    PartEnd::Torn {
                        at: cut.at,
                        open_multi: cut.open_multi,
                    }
                }
                End::Corrupt(bad) => PartEnd::Corrupt {
                    at: bad.byte,
                    why: bad.error.to_string(),
                },
            });
        }
    }

    /// Hands the keys of the RDB part at the start of `part` to `sink`; returns where the
    /// RDB part ends, or why it cannot be read.
    fn read_snapshot(
        &mut self,
        part: &Part,
        sink: &mut dyn Sink,
        before: u64,
    ) -> Result<Result<u64, String>, Failure> {
        let file = File::open(&part.path)
            .map_err(|e| Failure::Input(format!("{}: {e}", String::from_utf8_lossy(&part.name))))?;
        let mut rdb = match RdbReader::new(BufReader::new(file)) {
            Ok(rdb) => rdb,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let mut db = 0usize;
        loop {
            let offset = rdb.offset();
            let item = match rdb.next_item() {
                Ok(item) => item,
                Err(e) => return Ok(Err(e.to_string())),
            };
            let end = rdb.offset();
            self.progress.update(before + end);
            let at = At {
                file: &part.name,
                db,
                timestamp: None,
                snapshot: true,
            };
            let record = match item {
                RdbItem::SelectDb(n) => {
                    db = n;
                    continue;
                }
                RdbItem::Key {
                    key,
                    value,
                    expire_at_ms,
                    ..
                } => {
                    let mut entry = Entry::new(&key, value);
                    entry.expire_at_ms = expire_at_ms;
                    sink.record(&at, Record::SnapshotKey { entry, offset, end })
                }
                RdbItem::Function(code) => sink.record(
                    &at,
                    Record::SnapshotCommand {
                        args: &[b"FUNCTION", b"LOAD", &code],
                        offset,
                    },
                ),
                RdbItem::End { end, .. } => return Ok(Ok(end)),
                RdbItem::Aux { .. } | RdbItem::ResizeDb { .. } => continue,
            };
            record.map_err(Failure::Output)?;
        }
    }

    /// Reads every part in order; returns the cursor of the last one (for `--follow`) and
    /// whether every part ended cleanly. Damage is reported to `err` unless `quiet_torn_tail`
    /// and it is a torn end of the last part.
    fn read_all(
        &mut self,
        parts: &[Part],
        sink: &mut dyn Sink,
        err: &mut dyn Write,
        quiet_torn_tail: bool,
    ) -> Result<(Cursor, Vec<PartEnd>), Failure> {
        let mut before = 0u64;
        let mut cursor = Cursor::default();
        let mut ends = Vec::with_capacity(parts.len());
        for (index, part) in parts.iter().enumerate() {
            cursor = Cursor::default();
            sink.file_start(part);
            let end = self.read_part(part, &mut cursor, sink, before)?;
            let last = index + 1 == parts.len();
            let quiet = quiet_torn_tail && last && matches!(end, PartEnd::Torn { .. });
            if let Some(line) = end.complaint(&part.name).filter(|_| !quiet) {
                sink.flush().map_err(Failure::Output)?;
                let _ = writeln!(err, "kopi-check-aof: {line}");
            }
            ends.push(end);
            before = before.saturating_add(file_size(&part.path));
        }
        self.progress.finish();
        Ok((cursor, ends))
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// `SELECT`'s argument, as the server reads it.
fn parse_db(arg: &[u8]) -> Option<usize> {
    std::str::from_utf8(arg).ok()?.parse::<usize>().ok()
}

/// The indexes of the key arguments of `args`: from the command table's key specs (as
/// `COMMAND GETKEYS`); every argument after the name for an unknown command or a wrong arity.
fn key_positions(args: &[&[u8]], owned: &mut Vec<Bytes>) -> Vec<usize> {
    owned.clear();
    owned.extend(args.iter().map(|a| Bytes::copy_from_slice(a)));
    match commands::resolve(owned) {
        Ok(command) => command
            .key_positions(owned)
            .into_iter()
            .filter(|&p| p > 0 && p < args.len())
            .collect(),
        Err(_) => (1..args.len()).collect(),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc_time(unix_s: i64) -> String {
    let (year, month, day) = crate::server::log::civil_from_days(unix_s.div_euclid(86_400));
    let second_of_day = unix_s.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Appends `arg` as `redis-cli` reads it back: as it is when it is printable ASCII without
/// space, quote or backslash, otherwise quoted with C escapes (`sdscatrepr`).
pub fn push_quoted(out: &mut Vec<u8>, arg: &[u8]) {
    let plain = !arg.is_empty()
        && arg
            .iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'));
    if plain {
        out.extend_from_slice(arg);
    } else {
        out.extend_from_slice(crate::server::repr(arg).as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// inspect

fn inspect(
    path: &Path,
    filter: &Filter,
    follow: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let source = open_source(path)?;
    let total: u64 = source.parts.iter().map(|p| file_size(&p.path)).sum();
    // Lines and a bar on the same terminal would tear each other apart.
    let bar = !follow && !is_terminal(libc::STDOUT_FILENO);
    let mut walker = Walker::new(Progress::new(total, bar));
    let mut printer = Printer {
        out,
        filter,
        line: Vec::new(),
        owned: Vec::new(),
    };
    let (cursor, ends) = walker.read_all(&source.parts, &mut printer, err, follow)?;
    printer.flush().map_err(Failure::Output)?;
    if !follow {
        return Ok(u8::from(ends.iter().any(|e| *e != PartEnd::Clean)));
    }
    let corrupt = |e: &PartEnd| matches!(e, PartEnd::Corrupt { .. } | PartEnd::BadSnapshot(_));
    if ends.last().is_some_and(corrupt) {
        return Ok(1);
    }
    let current = source.parts.last().cloned().map(|part| (part, cursor));
    follow_parts(&mut walker, &source, current, &mut printer, err)
}

/// `--follow`: polls the file being appended to, and the manifest for a newer incr file.
fn follow_parts(
    walker: &mut Walker,
    source: &Source,
    mut current: Option<(Part, Cursor)>,
    sink: &mut dyn Sink,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    loop {
        std::thread::sleep(FOLLOW_POLL_INTERVAL);
        // Read the manifest first: bytes appended to the old file before the switch are
        // then read below, before moving on.
        let next = source.manifest.as_ref().and_then(|manifest_path| {
            let manifest = read_manifest(manifest_path).ok()?;
            let after = match &current {
                Some((part, _)) if part.kind == PartKind::Incr => part.seq,
                _ => 0,
            };
            manifest_parts(&manifest, &manifest_dir(manifest_path))
                .into_iter()
                .find(|p| p.kind == PartKind::Incr && p.seq > after)
        });
        if let Some((part, cursor)) = current.as_mut() {
            // A file gone (history deleted) has nothing more to give.
            if part.path.exists() {
                let end = walker.read_part(part, cursor, sink, 0)?;
                if let PartEnd::Corrupt { .. } | PartEnd::BadSnapshot(_) = end {
                    sink.flush().map_err(Failure::Output)?;
                    if let Some(line) = end.complaint(&part.name) {
                        let _ = writeln!(err, "kopi-check-aof: {line}");
                    }
                    return Ok(1);
                }
            }
        }
        if let Some(part) = next {
            sink.file_start(&part);
            current = Some((part, Cursor::default()));
            continue;
        }
        sink.flush().map_err(Failure::Output)?;
    }
}

/// `inspect`'s sink: filters and prints.
struct Printer<'a> {
    out: &'a mut dyn Write,
    filter: &'a Filter,
    /// Output waiting for the next write (whole lines).
    line: Vec<u8>,
    owned: Vec<Bytes>,
}

impl Printer<'_> {
    fn push_line(&mut self, at: &At<'_>, offset: u64, args: &[&[u8]]) {
        if !self.matches(at, args) {
            return;
        }
        let line = &mut self.line;
        line.extend_from_slice(at.file);
        line.extend_from_slice(format!(":{offset} db={} ", at.db).as_bytes());
        match (at.snapshot, at.timestamp) {
            (true, _) => line.extend_from_slice(b"snapshot"),
            (false, Some(t)) => line.extend_from_slice(utc_time(t).as_bytes()),
            (false, None) => line.push(b'-'),
        }
        for arg in args {
            line.push(b' ');
            push_quoted(line, arg);
        }
        line.push(b'\n');
    }

    fn matches(&mut self, at: &At<'_>, args: &[&[u8]]) -> bool {
        let filter = self.filter;
        if filter.db.is_some_and(|db| db != at.db) {
            return false;
        }
        let name = args.first().copied().unwrap_or_default();
        if !filter.commands.is_empty()
            && !filter.commands.iter().any(|c| c.eq_ignore_ascii_case(name))
        {
            return false;
        }
        if filter.since.is_some() || filter.until.is_some() {
            let Some(t) = at.timestamp.filter(|_| !at.snapshot) else {
                return false;
            };
            if filter.since.is_some_and(|since| t < since)
                || filter.until.is_some_and(|until| t > until)
            {
                return false;
            }
        }
        if !filter.keys.is_empty() {
            let positions = key_positions(args, &mut self.owned);
            let hit = positions.iter().any(|&p| {
                filter
                    .keys
                    .iter()
                    .any(|glob| crate::util::glob_match(glob, args[p], false))
            });
            if !hit {
                return false;
            }
        }
        true
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.out.write_all(&self.line)?;
            self.line.clear();
        }
        Ok(())
    }
}

impl Sink for Printer<'_> {
    fn record(&mut self, at: &At<'_>, record: Record<'_>) -> io::Result<()> {
        match record {
            Record::Annotation { .. } => return Ok(()),
            Record::Command { args, offset, .. } | Record::SnapshotCommand { args, offset, .. } => {
                self.push_line(at, offset, args)
            }
            Record::SnapshotKey { entry, offset, .. } => {
                let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
                entry.value.rewrite(&entry.key, &mut |args| {
                    commands.push(args.iter().map(|a| a.to_vec()).collect());
                });
                if entry.expire_at_ms != NO_EXPIRY {
                    let at_ms = entry.expire_at_ms.to_string().into_bytes();
                    commands.push(vec![b"PEXPIREAT".to_vec(), entry.key.to_vec(), at_ms]);
                }
                for command in &commands {
                    let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
                    self.push_line(at, offset, &args);
                }
            }
        }
        if self.line.len() >= 64 * 1024 {
            self.write_pending()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------------------------
// stats

/// One file's figures.
struct FileFigures {
    name: Vec<u8>,
    kind: PartKind,
    rdb: bool,
    bytes: u64,
    commands: u64,
    snapshot_keys: u64,
}

/// Counts per command name.
#[derive(Default, Clone, Copy)]
struct CommandFigures {
    count: u64,
    bytes: u64,
}

/// The replay into an in-memory keyspace, through the server's command execution.
struct Replay {
    server: Arc<Server>,
    client: Client,
    peer: Peer,
    reply: Reply,
    args: Vec<Bytes>,
    commands: u64,
    /// Commands answered with an error (unknown command, wrong arity, `SELECT` past the
    /// databases, ...), which start-up would refuse or ignore.
    errors: u64,
    /// Snapshot keys in a db past `databases`.
    keys_dropped: u64,
}

impl Replay {
    fn new(databases: usize) -> Result<Replay, Failure> {
        let config = Config::from_args(&["--databases".to_string(), databases.to_string()])
            .map_err(Failure::Input)?;
        let server = Server::new(config);
        let peer = Peer::internal();
        Ok(Replay {
            server,
            client: aof_client(&peer),
            peer,
            reply: Reply::new(Protocol::Resp2),
            args: Vec::new(),
            commands: 0,
            errors: 0,
            keys_dropped: 0,
        })
    }

    fn execute(&mut self, args: &[&[u8]]) {
        self.args.clear();
        self.args
            .extend(args.iter().map(|a| Bytes::copy_from_slice(a)));
        let mut state = self.server.state.lock();
        commands::execute(
            &self.server,
            &mut state,
            &mut self.client,
            &mut self.reply,
            &self.args,
        );
        self.commands += 1;
        if !self.reply.errors.is_empty() {
            self.errors += 1;
        }
        self.reply.buf.clear();
        self.reply.errors.clear();
    }

    fn insert(&mut self, db: usize, entry: Entry) {
        let mut state = self.server.state.lock();
        match state.store.dbs.get_mut(db) {
            Some(keys) => {
                keys.insert_entry(entry);
            }
            None => self.keys_dropped += 1,
        }
    }

    /// The sizes of the base a rewrite would write now, RDB (as with `aof-use-rdb-preamble
    /// yes`) and RESP, and the keys it would hold: the bytes are counted, not kept.
    fn rewrite_sizes(&self, now_ms: i64) -> (u64, u64, u64) {
        let state = self.server.state.lock();
        let store = &state.store;
        let mut rdb_bytes = 0u64;
        let _ = crate::persistence::snapshot::write_store(store, now_ms, true, true, &mut |c| {
            rdb_bytes += c.len() as u64;
            Ok(())
        });
        let mut resp_bytes = 0u64;
        let live_keys =
            crate::persistence::snapshot::write_store_resp(store, now_ms, b"", &mut |c| {
                resp_bytes += c.len() as u64
            });
        (rdb_bytes, resp_bytes, live_keys)
    }
}

/// A client like the one start-up replays each file with.
fn aof_client(peer: &Peer) -> Client {
    Client::new(
        ClientHandle::detached(CLIENT_ID_AOF, peer),
        peer.clone(),
        true,
    )
}

/// `stats`'s sink.
struct Tally {
    files: Vec<FileFigures>,
    commands: BTreeMap<Vec<u8>, CommandFigures>,
    snapshot: CommandFigures,
    keys: HashSet<(usize, Vec<u8>)>,
    dbs: BTreeSet<usize>,
    first_timestamp: Option<i64>,
    last_timestamp: Option<i64>,
    replay: Replay,
    owned: Vec<Bytes>,
}

impl Sink for Tally {
    fn file_start(&mut self, part: &Part) {
        self.files.push(FileFigures {
            name: part.name.clone(),
            kind: part.kind,
            rdb: false,
            bytes: file_size(&part.path),
            commands: 0,
            snapshot_keys: 0,
        });
        self.replay.client = aof_client(&self.replay.peer);
    }

    fn record(&mut self, at: &At<'_>, record: Record<'_>) -> io::Result<()> {
        match record {
            Record::Annotation { timestamp } => {
                if let Some(t) = timestamp {
                    self.first_timestamp.get_or_insert(t);
                    self.last_timestamp = Some(t);
                }
            }
            Record::Command { args, offset, end } => {
                if let Some(file) = self.files.last_mut() {
                    file.commands += 1;
                }
                let name = args
                    .first()
                    .copied()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let figures = self.commands.entry(name).or_default();
                figures.count += 1;
                figures.bytes += end.saturating_sub(offset);
                let positions = key_positions(args, &mut self.owned);
                for &p in &positions {
                    self.keys.insert((at.db, args[p].to_vec()));
                }
                if !positions.is_empty() {
                    self.dbs.insert(at.db);
                }
                self.replay.execute(args);
            }
            Record::SnapshotKey { entry, offset, end } => {
                if let Some(file) = self.files.last_mut() {
                    file.rdb = true;
                    file.snapshot_keys += 1;
                }
                self.snapshot.count += 1;
                self.snapshot.bytes += end.saturating_sub(offset);
                self.keys.insert((at.db, entry.key.to_vec()));
                self.dbs.insert(at.db);
                self.replay.insert(at.db, entry);
            }
            Record::SnapshotCommand { .. } => {
                if let Some(file) = self.files.last_mut() {
                    file.rdb = true;
                }
            }
        }
        Ok(())
    }
}

fn stats(
    path: &Path,
    databases: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let source = open_source(path)?;
    let total: u64 = source.parts.iter().map(|p| file_size(&p.path)).sum();
    let mut walker = Walker::new(Progress::new(total, true));
    let mut tally = Tally {
        files: Vec::new(),
        commands: BTreeMap::new(),
        snapshot: CommandFigures::default(),
        keys: HashSet::new(),
        dbs: BTreeSet::new(),
        first_timestamp: None,
        last_timestamp: None,
        replay: Replay::new(databases)?,
        owned: Vec::new(),
    };
    let (_, ends) = {
        // Keys do not expire while the log is replayed, as at start-up.
        let _suspended = crate::keyspace::suspend_expiry();
        walker.read_all(&source.parts, &mut tally, err, false)?
    };
    let text = stats_text(&tally, &ends, crate::util::now_ms());
    out.write_all(text.as_bytes()).map_err(Failure::Output)?;
    Ok(u8::from(ends.iter().any(|e| *e != PartEnd::Clean)))
}

/// `stats`'s report: `# Section` headers and `field:value` lines, in a fixed order.
fn stats_text(tally: &Tally, ends: &[PartEnd], now_ms: i64) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let quoted = |bytes: &[u8]| {
        let mut v = Vec::new();
        push_quoted(&mut v, bytes);
        String::from_utf8_lossy(&v).into_owned()
    };
    s.push_str("# Files\n");
    let mut total_bytes = 0u64;
    for (file, end) in tally.files.iter().zip(ends) {
        total_bytes += file.bytes;
        let _ = writeln!(
            s,
            "file:{} type={} format={} bytes={} commands={} snapshot_keys={} end={}",
            quoted(&file.name),
            file.kind.name(),
            if file.rdb { "rdb" } else { "resp" },
            file.bytes,
            file.commands,
            file.snapshot_keys,
            end.short()
        );
    }
    let _ = writeln!(s, "files:{}", tally.files.len());
    let _ = writeln!(s, "total_bytes:{total_bytes}");

    s.push_str("# Commands\n");
    let mut by_bytes: Vec<_> = tally.commands.iter().collect();
    by_bytes.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
    for (name, figures) in &by_bytes {
        let _ = writeln!(
            s,
            "cmd:{} count={} bytes={}",
            quoted(name),
            figures.count,
            figures.bytes
        );
    }
    let count: u64 = tally.commands.values().map(|f| f.count).sum();
    let bytes: u64 = tally.commands.values().map(|f| f.bytes).sum();
    let _ = writeln!(s, "commands:{count} bytes={bytes}");
    let _ = writeln!(
        s,
        "snapshot_keys:{} bytes={}",
        tally.snapshot.count, tally.snapshot.bytes
    );

    s.push_str("# Keyspace\n");
    let _ = writeln!(s, "keys_touched:{}", tally.keys.len());
    let list: Vec<String> = tally.dbs.iter().map(usize::to_string).collect();
    let _ = writeln!(s, "dbs:{} ({})", tally.dbs.len(), list.join(","));
    match (tally.first_timestamp, tally.last_timestamp) {
        (Some(first), Some(last)) => {
            let _ = writeln!(s, "first_timestamp:{first} {}", utc_time(first));
            let _ = writeln!(s, "last_timestamp:{last} {}", utc_time(last));
            let _ = writeln!(s, "timestamp_span_s:{}", last.saturating_sub(first));
        }
        _ => s.push_str("first_timestamp:-\nlast_timestamp:-\ntimestamp_span_s:-\n"),
    }

    s.push_str("# Rewrite\n");
    let replay = &tally.replay;
    let (rdb_bytes, resp_bytes, live_keys) = replay.rewrite_sizes(now_ms);
    let _ = writeln!(s, "replayed_commands:{}", replay.commands);
    let _ = writeln!(s, "replay_errors:{}", replay.errors);
    let _ = writeln!(s, "snapshot_keys_dropped:{}", replay.keys_dropped);
    let _ = writeln!(s, "live_keys:{live_keys}");
    let _ = writeln!(s, "rewrite_rdb_bytes:{rdb_bytes}");
    let _ = writeln!(s, "rewrite_resp_bytes:{resp_bytes}");
    let saved = i128::from(total_bytes) - i128::from(rdb_bytes);
    let percent = if total_bytes == 0 {
        0.0
    } else {
        saved as f64 * 100.0 / total_bytes as f64
    };
    let _ = writeln!(s, "rewrite_saves_bytes:{saved} ({percent:.1}%)");
    s
}

// ---------------------------------------------------------------------------------------------
// progress

fn is_terminal(fd: i32) -> bool {
    // SAFETY: isatty only looks at the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// A progress bar on standard error, for big inputs read to a terminal.
struct Progress {
    total: u64,
    enabled: bool,
    last_drawn: Option<Instant>,
}

impl Progress {
    /// A bar for `total` bytes, shown when `wanted`, the input is big enough and standard
    /// error is a terminal.
    fn new(total: u64, wanted: bool) -> Self {
        Progress {
            total,
            enabled: wanted && total >= PROGRESS_MIN_BYTES && is_terminal(libc::STDERR_FILENO),
            last_drawn: None,
        }
    }

    fn update(&mut self, done: u64) {
        if !self.enabled
            || self
                .last_drawn
                .is_some_and(|t| t.elapsed() < PROGRESS_REDRAW_INTERVAL)
        {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let done = done.min(self.total);
        let filled =
            (done as u128 * PROGRESS_BAR_WIDTH as u128 / self.total.max(1) as u128) as usize;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        eprint!(
            "\r[{}{}] {:3}% {:.1}/{:.1} MiB",
            "#".repeat(filled),
            ".".repeat(PROGRESS_BAR_WIDTH - filled),
            done as u128 * 100 / self.total.max(1) as u128,
            mib(done),
            mib(self.total)
        );
    }

    fn finish(&mut self) {
        if self.enabled && self.last_drawn.is_some() {
            eprint!("\r\x1b[K");
        }
        self.enabled = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_a_subcommand_with_an_argument_leaves_the_drop_in() {
        assert!(is_subcommand(&os(&["inspect", "dir"])));
        assert!(is_subcommand(&os(&["stats", "dir"])));
        // A file named `inspect` is checked as redis-check-aof checks it.
        assert!(!is_subcommand(&os(&["inspect"])));
        assert!(!is_subcommand(&os(&["--fix", "inspect"])));
    }

    #[test]
    fn reads_the_options() {
        let parsed = parse_args(&os(&[
            "inspect",
            "--key",
            "user:*",
            "d",
            "--command",
            "SET",
            "--since",
            "10",
            "--until",
            "20",
            "--db",
            "3",
            "--follow",
        ]));
        assert_eq!(
            parsed,
            Ok(Subcommand::Inspect {
                path: PathBuf::from("d"),
                filter: Filter {
                    keys: vec![b"user:*".to_vec()],
                    commands: vec![b"set".to_vec()],
                    since: Some(10),
                    until: Some(20),
                    db: Some(3),
                },
                follow: true,
            })
        );
        assert!(parse_args(&os(&["inspect", "d", "--db"])).is_err());
        assert!(parse_args(&os(&["inspect", "d", "--db", "x"])).is_err());
        assert!(parse_args(&os(&["inspect", "d", "e"])).is_err());
        assert!(parse_args(&os(&["stats", "d", "--key", "k"])).is_err());
        assert!(parse_args(&os(&["stats", "d", "--databases", "0"])).is_err());
    }

    #[test]
    fn quotes_as_redis_cli_reads_back() {
        let quoted = |arg: &[u8]| {
            let mut out = Vec::new();
            push_quoted(&mut out, arg);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(quoted(b"plain:1"), "plain:1");
        assert_eq!(quoted(b""), "\"\"");
        assert_eq!(quoted(b"two words"), "\"two words\"");
        assert_eq!(quoted(b"\x00\xff\n"), "\"\\x00\\xff\\n\"");
        assert_eq!(quoted(b"it's"), "\"it's\"");
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_796_683_502), "2026-12-07 22:45:02");
        assert_eq!(utc_time(951_868_799), "2000-02-29 23:59:59");
    }

    #[test]
    fn finds_keys_with_the_command_table() {
        let mut owned = Vec::new();
        let positions = |args: &[&[u8]], owned: &mut Vec<Bytes>| key_positions(args, owned);
        assert_eq!(positions(&[b"SET", b"k", b"v"], &mut owned), vec![1]);
        assert_eq!(positions(&[b"del", b"a", b"b"], &mut owned), vec![1, 2]);
        assert_eq!(
            positions(&[b"MSET", b"a", b"1", b"b", b"2"], &mut owned),
            vec![1, 3]
        );
        assert!(positions(&[b"MULTI"], &mut owned).is_empty());
        assert_eq!(positions(&[b"NOSUCH", b"x", b"y"], &mut owned), vec![1, 2]);
    }
}
