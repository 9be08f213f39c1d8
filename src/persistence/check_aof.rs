//! `kopi-check-aof`: checks an append-only file, and with `--fix` cuts a damaged one back to
//! its valid part, exactly as `redis-check-aof` 7.0.15 does: the same input detection, report
//! lines, verdicts, exit codes and resulting files.
//!
//! ```text
//! kopi-check-aof [--fix [--yes]|--truncate-to-timestamp <unix-seconds>] <file.manifest|file.aof>
//! ```
//!
//! A real run on a multi-part AOF whose last incr file lost its tail in the middle of a
//! `MULTI` block (`redis-check-aof` prints the same bytes):
//!
//! ```text
//! Start checking Multi Part AOF
//! Start to check BASE AOF (RESP format).
//! AOF analyzed: filename=appendonly.aof.2.base.aof, size=66, ok_up_to=66, ok_up_to_line=13, diff=0
//! BASE AOF appendonly.aof.2.base.aof is valid
//! Start to check INCR files.
//! 0x              94: Expected to read 5 bytes, got 2 bytes
//! AOF analyzed: filename=appendonly.aof.2.incr.aof, size=150, ok_up_to=125, ok_up_to_line=41, diff=25
//! This will shrink the AOF appendonly.aof.2.incr.aof from 150 bytes, with 25 bytes, to 125 bytes
//! Continue? [y/N]: Successfully truncated AOF appendonly.aof.2.incr.aof
//! All AOF files and manifest are valid
//! ```
//!
//! # What it does, in Redis's order
//! 1. **Input detection** (`getInputFileType`): a file with a line (a 1024-byte `fgets` piece)
//!    that does not start with `#` but starts with `file` is a manifest, even a RESP file with
//!    a `file...` argument (Redis 7.0 has that bug, #12951, and so does this tool, to give
//!    the same verdicts). Otherwise a file of at least 8 bytes starting with `REDIS` is an
//!    old-style AOF with an RDB preamble, anything else an old-style RESP AOF.
//! 2. **Manifest**: parsed by [`Manifest::read_from`] with Redis's rules; its errors are
//!    logged as Redis's `serverLog` does (`pid:C date # message`), then exit 1. The base,
//!    then every incr file, are checked in order, each path made from the manifest's
//!    directory (`dirname`) and the file's name; history files are not looked at.
//! 3. **Each file**: read by [`AofReader`], which reports the valid prefix
//!    (`ok_up_to`), `redis-check-aof`'s line counter (which continues from file to file) and
//!    where and why the read stopped; this module turns that into Redis's messages
//!    (`0x<offset>: Expected ...`, `AOF <name> format error`, `Reached EOF before reading EXEC
//!    for MULTI`). A file with an invalid tail fails (exit 1), or with `--fix` and after a `y`
//!    on standard input is truncated to `ok_up_to`: only the last file may be.
//! 4. **`--truncate-to-timestamp T`**: while reading, the first `#TS:<t>` annotation with
//!    `t > T` ends the check and the file is truncated before it; refused when that file is
//!    not the last one or when the annotation is the file's first byte. `T` = 0 means "not
//!    given", as for Redis.
//!
//! `--yes` (ours, anywhere on the command line) answers the `--fix` question: the output is
//! then the same as Redis's when `y` is typed.
//!
//! # Where it differs from `redis-check-aof` 7.0.15
//! - RDB-preamble files (`.base.rdb`, old-style files starting with `REDIS`): the RDB part is
//!   checked by [`check_rdb_part`] with kopi's RDB reader; a damaged part's error lines are
//!   kopi-check-rdb's (Redis's for a checksum error, the reader's own words otherwise).
//! - Files Redis never writes, which the shared [`AofReader`] refuses where
//!   `redis-check-aof`'s `strtol` accepts them: a count or length with a sign, leading white
//!   space or no digits (`*0`, `*-1`, `$ 3`), an annotation line over 1023 bytes followed by
//!   `*` or `#`, a `MULTI`/`EXEC` name with a NUL byte in it. Redis's own server refuses most
//!   of these too. A length near `LONG_MAX` that makes `redis-check-aof` abort on its memory
//!   allocation is reported as a torn payload here.
//! - A manifest naming a file `""`, `.` or `..`: refused as an invalid manifest line, where
//!   Redis fails later, opening the directory.
//! - In `Expected \r\n, got: 00xx` for a count or length line cut right after its digits,
//!   Redis prints a byte of stale stack memory as `xx`. What the 7.0.15 build prints is
//!   reproduced (the previous count line's byte for `*`, 0 for `$`); a count line written with
//!   leading zeros is remembered without them.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::persistence::aof::strerror;
use crate::persistence::aof_reader::{
    AofReader, Corruption, Cut, Element, End, Event, Malformed, RDB_MAGIC, ReadError, ReadOptions,
    Truncation, truncate_file,
};
use crate::persistence::manifest::{Manifest, ManifestError};
use crate::server::log;
use crate::util::strtol;

/// `redis-check-aof`'s `fgets` buffer for count and length lines (127 bytes and a NUL).
const NUMBER_LINE_BUFFER: usize = 128;
/// `redis-check-aof`'s `fgets` buffer for annotation lines (1023 bytes and a NUL).
const ANNOTATION_LINE_BUFFER: usize = 1024;
/// The piece `fileIsManifest` reads at a time (`MANIFEST_MAX_LINE`).
const MANIFEST_PIECE: u64 = 1024;
/// Longest `serverLog` message (`LOG_MAX_LEN` less the NUL).
const LOG_MESSAGE_MAX: usize = 1023;
/// The largest bulk length `redis-check-aof` accepts (`LONG_MAX - 2`).
const BULK_LEN_MAX: i64 = i64::MAX - 2;

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub path: PathBuf,
    /// `--fix`: truncate an invalid last file to its valid part, after asking.
    pub fix: bool,
    /// `--yes`: answer the `--fix` question with yes without reading standard input.
    pub assume_yes: bool,
    /// `--truncate-to-timestamp`: 0 when not given (as for Redis, an explicit 0 too).
    pub truncate_to_timestamp: i64,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Check(Options),
    /// The arguments do not fit the usage: print it, exit 1.
    Usage,
    /// `--truncate-to-timestamp` with something that is not a whole number.
    InvalidTimestamp,
}

/// Reads the arguments (the program name left out) as `redis-check-aof` does: exactly
/// `<file>`, `--fix <file>` or `--truncate-to-timestamp <t> <file>`, plus our `--yes`
/// anywhere.
pub fn parse_args(args: &[OsString]) -> Args {
    let assume_yes = args.iter().any(|a| a == "--yes");
    let args: Vec<&OsString> = args.iter().filter(|a| *a != "--yes").collect();
    let check = |path: &OsString, fix: bool, truncate_to_timestamp: i64| {
        Args::Check(Options {
            path: PathBuf::from(path),
            fix,
            assume_yes,
            truncate_to_timestamp,
        })
    };
    match args.as_slice() {
        [path] => check(path, false, 0),
        [flag, path] if *flag == "--fix" => check(path, true, 0),
        [flag, seconds, path] if *flag == "--truncate-to-timestamp" => {
            // strtol with an end pointer that must reach the end: white space and a sign
            // before the digits pass, and so does an empty string (as 0).
            let bytes = seconds.as_bytes();
            let parsed = strtol(bytes);
            if parsed.overflow || (parsed.end != bytes.len() && !bytes.is_empty()) {
                return Args::InvalidTimestamp;
            }
            check(path, false, parsed.value)
        }
        _ => Args::Usage,
    }
}

/// Runs the tool: `args` without the program name, the report to `out`, the `--fix` answer
/// from `answers`. Returns the exit status.
pub fn run(program: &[u8], args: &[OsString], out: &mut dyn Write, answers: &mut dyn Read) -> u8 {
    let options = match parse_args(args) {
        Args::Check(options) => options,
        Args::Usage => {
            let mut usage = b"Usage: ".to_vec();
            usage.extend_from_slice(program);
            usage.extend_from_slice(
                b" [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n",
            );
            let _ = out.write_all(&usage);
            return 1;
        }
        Args::InvalidTimestamp => {
            let _ = out.write_all(b"Invalid timestamp, aborting...\n");
            return 1;
        }
    };
    let mut checker = Checker {
        out,
        answers,
        fix: options.fix,
        assume_yes: options.assume_yes,
        to_timestamp: options.truncate_to_timestamp,
        line: 1,
        count_line_buffer: [0; NUMBER_LINE_BUFFER],
        reader: AofReader::new(),
    };
    let status = match checker.check(&options.path) {
        Ok(()) => 0,
        Err(Exit) => 1,
    };
    let _ = checker.out.flush();
    status
}

/// Checks the RDB part at the start of the file at `path` as `redis-check-aof` does, with
/// `redis-check-rdb`'s report (its `[offset N] ...` lines go to `out`, the file named as
/// `name`), and returns the offset where the RESP tail starts.
pub fn check_rdb_part(path: &Path, name: &[u8], out: &mut dyn Write) -> Result<u64, RdbPartError> {
    let file = File::open(path).map_err(|_| RdbPartError::NotSane)?;
    let now_ms = crate::util::now_ms();
    match super::check_rdb::check_preamble(std::io::BufReader::new(file), name, now_ms, out) {
        Ok(Some(end)) => Ok(end),
        _ => Err(RdbPartError::NotSane),
    }
}

/// Why [`check_rdb_part`] did not return the tail's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbPartError {
    /// The RDB part is damaged (the report says how).
    NotSane,
}

impl RdbPartError {
    fn message(self) -> &'static str {
        match self {
            RdbPartError::NotSane => "RDB preamble of AOF file is not sane, aborting.",
        }
    }
}

/// The check stops: everything was said, the exit status is 1.
#[derive(Debug)]
struct Exit;

/// What became of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    Empty,
    /// Cut to its valid part by `--fix`.
    Truncated,
    /// Cut before the first annotation past `--truncate-to-timestamp`.
    TruncatedToTimestamp,
}

/// Why a read stopped at a `#TS:` annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimestampStop {
    /// Not `#TS:<digits>\r`.
    Invalid,
    /// The first annotation past the timestamp is the file's first byte.
    NothingBefore,
    /// It is in a file that is not the last one.
    NotLastFile { offset: u64 },
    /// Truncate the file here.
    TruncateAt { offset: u64 },
}

/// `redis-check-aof`'s state, which lives from one file to the next as its globals do.
struct Checker<'a> {
    out: &'a mut dyn Write,
    answers: &'a mut dyn Read,
    fix: bool,
    assume_yes: bool,
    to_timestamp: i64,
    /// The line counter printed as `ok_up_to_line`: lines of commands, over all files.
    line: u64,
    /// The buffer Redis reads count lines into: what it holds decides the byte after the NUL
    /// in `Expected \r\n, got: 00xx` (see the module documentation).
    count_line_buffer: [u8; NUMBER_LINE_BUFFER],
    reader: AofReader,
}

/// What the read callback keeps of the records it sees.
struct Seen<'a> {
    count_line_buffer: &'a mut [u8; NUMBER_LINE_BUFFER],
    /// Where the last element read starts (Redis's `epos`): the last payload of the last
    /// command, or the last annotation.
    last_element: u64,
    to_timestamp: i64,
    last_file: bool,
}

impl Seen<'_> {
    fn on_event(&mut self, event: Event<'_>) -> Result<(), TimestampStop> {
        match event {
            Event::Command(command) => {
                let last_arg = command.args.last().map_or(0, |arg| arg.len() as u64);
                self.last_element = command.end.saturating_sub(2 + last_arg);
                let line = format!("*{}\r\n", command.args.len());
                fgets_into(self.count_line_buffer, line.as_bytes());
                Ok(())
            }
            Event::Annotation(annotation) => {
                self.last_element = annotation.offset;
                let has_cr = annotation.end - annotation.offset > annotation.text.len() as u64 + 2;
                let mut line = Vec::with_capacity(annotation.text.len() + 3);
                line.push(b'#');
                line.extend_from_slice(annotation.text);
                if has_cr {
                    line.push(b'\r');
                }
                line.push(b'\n');
                match timestamp_stop(&line, annotation.offset, self.to_timestamp, self.last_file) {
                    Some(stop) => Err(stop),
                    None => Ok(()),
                }
            }
        }
    }
}

/// What `processAnnotations` decides for the annotation line `line` at `offset` (the line as
/// `fgets` returns it: with its line end, or a fragment at the end of the file).
fn timestamp_stop(
    line: &[u8],
    offset: u64,
    to_timestamp: i64,
    last_file: bool,
) -> Option<TimestampStop> {
    let line = c_string(line);
    if to_timestamp == 0 || !line.starts_with(b"#TS:") {
        return None;
    }
    let digits = &line[4..];
    let parsed = strtol(digits);
    if parsed.overflow || digits.get(parsed.end) != Some(&b'\r') {
        return Some(TimestampStop::Invalid);
    }
    if parsed.value <= to_timestamp {
        None
    } else if offset == 0 {
        Some(TimestampStop::NothingBefore)
    } else if !last_file {
        Some(TimestampStop::NotLastFile { offset })
    } else {
        Some(TimestampStop::TruncateAt { offset })
    }
}

/// The bytes a C string function sees: up to the first NUL.
fn c_string(bytes: &[u8]) -> &[u8] {
    crate::error::c_string(bytes, bytes.len())
}

/// What `fgets` leaves in `buffer` after reading `line`: at most `buffer.len() - 1` bytes and
/// a NUL; the bytes after it are the previous line's.
fn fgets_into(buffer: &mut [u8], line: &[u8]) -> usize {
    let n = line.len().min(buffer.len() - 1);
    buffer[..n].copy_from_slice(&line[..n]);
    buffer[n] = 0;
    n
}

/// `%02x` of a C `char` (signed on x86-64: bytes from 0x80 print as `ffffff80`).
fn c_char_hex(byte: u8) -> String {
    if byte >= 0x80 {
        format!("ffffff{byte:02x}")
    } else {
        format!("{byte:02x}")
    }
}

/// `redis-check-aof`'s `readLong` on the count or length line `line` (the bytes `fgets`
/// returns), with `buffer` the memory it reads into: the number, or the error text.
fn read_long(
    buffer: &mut [u8; NUMBER_LINE_BUFFER],
    line: &[u8],
    prefix: u8,
) -> Result<i64, Vec<u8>> {
    let n = fgets_into(buffer, line);
    if buffer[0] != prefix {
        let mut message = b"Expected prefix '".to_vec();
        message.push(prefix);
        message.extend_from_slice(b"', got: '");
        message.push(buffer[0]);
        message.push(b'\'');
        return Err(message);
    }
    let parsed = strtol(&buffer[1..n]);
    let end = 1 + parsed.end;
    let (first, second) = (buffer[end], buffer.get(end + 1).copied().unwrap_or(0));
    if (first, second) != (b'\r', b'\n') {
        let text = format!(
            "Expected \\r\\n, got: {}{}",
            c_char_hex(first),
            c_char_hex(second)
        );
        return Err(text.into_bytes());
    }
    Ok(parsed.value)
}

/// `Reached EOF before reading EXEC for MULTI`.
fn reached_eof() -> Vec<u8> {
    b"Reached EOF before reading EXEC for MULTI".to_vec()
}

/// `Expected to read N bytes, got M bytes` for a payload of `len` bytes and its `\r\n`.
fn short_read(len: u64, got: u64) -> Vec<u8> {
    format!(
        "Expected to read {} bytes, got {got} bytes",
        len.saturating_add(2)
    )
    .into_bytes()
}

/// `dirname(3)` as glibc computes it.
fn dirname(path: &[u8]) -> Vec<u8> {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(last) => &path[..=last],
        None if path.is_empty() => return b".".to_vec(),
        None => return b"/".to_vec(),
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        None => b".".to_vec(),
        Some(slash) => match trimmed[..slash].iter().rposition(|&b| b != b'/') {
            Some(last) => trimmed[..=last].to_vec(),
            None => b"/".to_vec(),
        },
    }
}

fn bytes_of(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

fn error_text(e: &io::Error) -> Vec<u8> {
    strerror(e).into_bytes()
}

/// Concatenates message pieces.
fn text(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

impl Checker<'_> {
    fn say(&mut self, line: &[u8]) {
        let _ = self.out.write_all(line);
    }

    /// Says `line`, then stops with exit status 1.
    fn fail<T>(&mut self, line: &[u8]) -> Result<T, Exit> {
        self.say(line);
        Err(Exit)
    }

    fn check(&mut self, path: &Path) -> Result<(), Exit> {
        if self.is_manifest(path)? {
            return self.check_multi_part(path);
        }
        let preamble = self.is_rdb(path)?;
        self.say(b"Start checking Old-Style AOF\n");
        let name = bytes_of(path).to_vec();
        let verdict = self.check_file(&name, path, true, preamble)?;
        self.say_verdict(b"AOF ", &name, verdict);
        Ok(())
    }

    /// `fileIsManifest`: a line that is not a comment and starts with `file`.
    fn is_manifest(&mut self, path: &Path) -> Result<bool, Exit> {
        let (file, size) = self.open_to_detect(path)?;
        if size == 0 {
            return Ok(false);
        }
        let mut reader = BufReader::new(file);
        let mut piece = Vec::with_capacity(MANIFEST_PIECE as usize);
        let mut manifest = false;
        loop {
            piece.clear();
            match (&mut reader)
                .take(MANIFEST_PIECE)
                .read_until(b'\n', &mut piece)
            {
                Ok(0) => return Ok(manifest),
                Ok(_) => {
                    if piece[0] != b'#' && piece.starts_with(b"file") {
                        manifest = true;
                    }
                }
                Err(_) => {
                    return self.fail(&text(&[b"Cannot read file: ", bytes_of(path), b"\n"]));
                }
            }
        }
    }

    /// Opens a file to look at its type, and its size; says why not as Redis does.
    fn open_to_detect(&mut self, path: &Path) -> Result<(File, u64), Exit> {
        let shown = bytes_of(path);
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) => {
                let line = text(&[b"Cannot open file ", shown, b": ", &error_text(&e), b"\n"]);
                return self.fail(&line);
            }
        };
        match file.metadata() {
            Ok(metadata) => Ok((file, metadata.len())),
            Err(_) => self.fail(&text(&[b"Cannot stat file: ", shown, b"\n"])),
        }
    }

    /// `fileIsRDB`: at least 8 bytes, starting with `REDIS`.
    fn is_rdb(&mut self, path: &Path) -> Result<bool, Exit> {
        let (mut file, size) = self.open_to_detect(path)?;
        if size < 8 {
            return Ok(false);
        }
        let mut magic = [0u8; RDB_MAGIC.len()];
        Ok(file.read_exact(&mut magic).is_ok() && &magic == RDB_MAGIC)
    }

    fn check_multi_part(&mut self, manifest_path: &Path) -> Result<(), Exit> {
        self.say(b"Start checking Multi Part AOF\n");
        let manifest = self.load_manifest(manifest_path)?;
        let dir = dirname(bytes_of(manifest_path));
        let path_of = |name: &[u8]| PathBuf::from(OsString::from_vec(text(&[&dir, b"/", name])));
        let total = usize::from(manifest.base().is_some()) + manifest.incrs().len();
        let mut checked = 0;
        if let Some(base) = manifest.base() {
            checked += 1;
            let path = path_of(&base.name);
            let preamble = self.is_rdb(&path)?;
            self.say(if preamble {
                b"Start to check BASE AOF (RDB format).\n"
            } else {
                b"Start to check BASE AOF (RESP format).\n"
            });
            let verdict = self.check_file(&base.name, &path, checked == total, preamble)?;
            self.say_verdict(b"BASE AOF ", &base.name, verdict);
        }
        if !manifest.incrs().is_empty() {
            self.say(b"Start to check INCR files.\n");
            for incr in manifest.incrs() {
                checked += 1;
                let path = path_of(&incr.name);
                let verdict = self.check_file(&incr.name, &path, checked == total, false)?;
                self.say_verdict(b"INCR AOF ", &incr.name, verdict);
            }
        }
        self.say(b"All AOF files and manifest are valid\n");
        Ok(())
    }

    /// `aofLoadManifestFromFile`: a refused manifest is logged as Redis logs it.
    fn load_manifest(&mut self, path: &Path) -> Result<Manifest, Exit> {
        let result = File::open(path)
            .map_err(|e| {
                let mut message = b"Fatal error: can't open the AOF manifest file ".to_vec();
                message.extend_from_slice(bytes_of(path));
                message.extend_from_slice(b" for reading: ");
                message.extend_from_slice(&error_text(&e));
                message
            })
            .and_then(|file| {
                Manifest::read_from(BufReader::new(file)).map_err(|e| self.manifest_log(&e))
            });
        match result {
            Ok(manifest) => Ok(manifest),
            Err(log_text) => {
                self.say(&log_text);
                Err(Exit)
            }
        }
    }

    /// The `serverLog` lines Redis writes for a refused manifest.
    fn manifest_log(&self, error: &ManifestError) -> Vec<u8> {
        let mut messages = vec![b"\n*** FATAL AOF MANIFEST FILE ERROR ***\n".to_vec()];
        if error.kind.redis_shows_line() {
            let number = format!("Reading the manifest file, at line {}\n", error.line_number);
            messages.push(number.into_bytes());
            messages.push(text(&[b">>> '", c_string(&error.line), b"'\n"]));
        }
        messages.push(text(&[error.kind.redis_message().as_bytes(), b"\n"]));
        let mut out = Vec::new();
        for mut message in messages {
            message.truncate(LOG_MESSAGE_MAX);
            out.extend_from_slice(log::prefix('C', log::Level::Warning).as_bytes());
            out.extend_from_slice(&message);
            out.push(b'\n');
        }
        out
    }

    fn say_verdict(&mut self, kind: &[u8], name: &[u8], verdict: Verdict) {
        let line = match verdict {
            Verdict::Valid => text(&[kind, name, b" is valid\n"]),
            Verdict::Empty => text(&[kind, name, b" is empty\n"]),
            Verdict::TruncatedToTimestamp => {
                let to = format!(" to timestamp {}\n", self.to_timestamp);
                text(&[b"Successfully truncated AOF ", name, to.as_bytes()])
            }
            Verdict::Truncated => text(&[b"Successfully truncated AOF ", name, b"\n"]),
        };
        self.say(&line);
    }

    /// `checkSingleAof`: one file, shown as `name` (the manifest's name, or the path given for
    /// an old-style file), at `path`.
    fn check_file(
        &mut self,
        name: &[u8],
        path: &Path,
        last_file: bool,
        preamble: bool,
    ) -> Result<Verdict, Exit> {
        let shown_path = bytes_of(path);
        let mut file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) => {
                let line = text(&[
                    b"Cannot open file ",
                    shown_path,
                    b": ",
                    &error_text(&e),
                    b", aborting...\n",
                ]);
                return self.fail(&line);
            }
        };
        let Ok(metadata) = file.metadata() else {
            return self.fail(&text(&[b"Cannot stat file: ", name, b", aborting...\n"]));
        };
        let size = metadata.len();
        if size == 0 {
            return Ok(Verdict::Empty);
        }
        let mut start = 0;
        if preamble {
            match check_rdb_part(path, name, &mut *self.out) {
                Ok(end) => {
                    self.say(b"RDB preamble is OK, proceeding with AOF tail...\n");
                    start = end;
                }
                Err(e) => return self.fail(&text(&[e.message().as_bytes(), b"\n"])),
            }
        }
        let read_failed = text(&[b"Failed to read from AOF ", name, b", aborting...\n"]);
        if file.seek(SeekFrom::Start(start)).is_err() {
            return self.fail(&read_failed);
        }
        let options = ReadOptions {
            start_offset: start,
            start_line: self.line,
            detect_rdb: false,
            size_hint: Some(size),
            ..ReadOptions::default()
        };
        let mut seen = Seen {
            count_line_buffer: &mut self.count_line_buffer,
            last_element: start,
            to_timestamp: self.to_timestamp,
            last_file,
        };
        let report = match self
            .reader
            .read(&file, &options, |event| seen.on_event(event))
        {
            Ok(report) => report,
            Err(ReadError::Stopped(stop)) => return self.stop_at_timestamp(path, stop),
            Err(ReadError::Io(_)) => return self.fail(&read_failed),
        };
        let last_element = seen.last_element;
        self.line = report.check_line;
        let error = match &report.end {
            End::Clean => None,
            End::Truncated(truncation) => {
                if truncation.cut == Cut::TornAnnotation {
                    let fragment = read_at(&file, truncation.at, size, ANNOTATION_LINE_BUFFER - 1);
                    let stop =
                        timestamp_stop(&fragment, truncation.at, self.to_timestamp, last_file);
                    if let Some(stop) = stop {
                        return self.stop_at_timestamp(path, stop);
                    }
                }
                self.torn_error(&file, path, size, truncation, last_element)
            }
            End::Corrupt(corruption) => self.corrupt_error(&file, size, corruption, name, path),
            End::RdbPreamble => {
                self.say(&text(&[b"AOF ", name, b" format error\n"]));
                None
            }
        };
        if let Some((offset, message)) = error {
            // Redis formats the message with `%s` twice: a NUL byte in it ends it.
            let message = c_string(&message);
            let line = text(&[format!("0x{offset:>16x}: ").as_bytes(), message, b"\n"]);
            self.say(&line);
        }
        let ok_up_to = report.check_ok_up_to;
        let diff = size.saturating_sub(ok_up_to);
        if diff == 0 && self.to_timestamp != 0 {
            let to = format!(" to timestamp {}\n", self.to_timestamp);
            self.say(&text(&[b"Truncate nothing in AOF ", name, to.as_bytes()]));
            return Ok(Verdict::Valid);
        }
        let analyzed = format!(
            ", size={size}, ok_up_to={ok_up_to}, ok_up_to_line={}, diff={diff}\n",
            self.line
        );
        self.say(&text(&[
            b"AOF analyzed: filename=",
            name,
            analyzed.as_bytes(),
        ]));
        if diff == 0 {
            return Ok(Verdict::Valid);
        }
        if !self.fix {
            let line = text(&[
                b"AOF ",
                name,
                b" is not valid. Use the --fix option to try fixing it.\n",
            ]);
            return self.fail(&line);
        }
        if !last_file {
            let line = text(&[
                b"Failed to truncate AOF ",
                name,
                b" because it is not the last file\n",
            ]);
            return self.fail(&line);
        }
        let shrink = format!(" from {size} bytes, with {diff} bytes, to {ok_up_to} bytes\n");
        self.say(&text(&[
            b"This will shrink the AOF ",
            name,
            shrink.as_bytes(),
        ]));
        self.say(b"Continue? [y/N]: ");
        if !self.confirmed() {
            return self.fail(b"Aborting...\n");
        }
        drop(file);
        if truncate_file(path, ok_up_to).is_err() {
            return self.fail(&text(&[b"Failed to truncate AOF ", name, b"\n"]));
        }
        Ok(Verdict::Truncated)
    }

    /// The `--fix` question's answer: `--yes`, or a first byte `y` or `Y` on standard input.
    fn confirmed(&mut self) -> bool {
        let _ = self.out.flush();
        if self.assume_yes {
            return true;
        }
        let mut answer = [0u8; 1];
        loop {
            match self.answers.read(&mut answer) {
                Ok(0) => return false,
                Ok(_) => return matches!(answer[0], b'y' | b'Y'),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// Finishes a check that stopped at a `#TS:` annotation past `--truncate-to-timestamp`.
    fn stop_at_timestamp(&mut self, path: &Path, stop: TimestampStop) -> Result<Verdict, Exit> {
        let shown = bytes_of(path);
        let to = self.to_timestamp;
        match stop {
            TimestampStop::Invalid => self.fail(b"Invalid timestamp annotation\n"),
            TimestampStop::NothingBefore => {
                let tail = format!(" has nothing before timestamp {to}, aborting...\n");
                self.fail(&text(&[b"AOF ", shown, tail.as_bytes()]))
            }
            TimestampStop::NotLastFile { offset } => {
                let tail = format!(
                    " to timestamp {to} to offset {offset} because it is not the last file.\n"
                );
                self.say(&text(&[b"Failed to truncate AOF ", shown, tail.as_bytes()]));
                self.fail(
                    b"If you insist, please delete all files after this file according to the \
                      manifest file and delete the corresponding records in manifest file \
                      manually. Then re-run redis-check-aof.\n",
                )
            }
            TimestampStop::TruncateAt { offset } => {
                if truncate_file(path, offset).is_err() {
                    let tail = format!(" to timestamp {to}\n");
                    return self.fail(&text(&[b"Failed to truncate AOF ", shown, tail.as_bytes()]));
                }
                Ok(Verdict::TruncatedToTimestamp)
            }
        }
    }

    /// Redis's message for a file that ends inside a record or a transaction, with the offset
    /// it prints it at; `None` when it prints nothing.
    fn torn_error(
        &mut self,
        file: &File,
        path: &Path,
        size: u64,
        truncation: &Truncation,
        last_element: u64,
    ) -> Option<(u64, Vec<u8>)> {
        let element = truncation.element;
        // Redis counts a MULTI or EXEC as soon as it has read the name, before the rest of the
        // command: a torn `MULTI` or `EXEC` with arguments changes what it says at the end.
        let mut in_multi = truncation.open_multi.is_some();
        if let Some((start, stop)) = truncation.torn_name {
            let name = read_at(file, start, stop, usize::MAX);
            let name = c_string(&name);
            if name.eq_ignore_ascii_case(b"multi") || name.eq_ignore_ascii_case(b"exec") {
                let multi = name.eq_ignore_ascii_case(b"multi");
                if multi == in_multi {
                    let which: &[u8] = if multi { b"MULTI" } else { b"EXEC" };
                    let message = text(&[b"Unexpected ", which, b" in AOF ", bytes_of(path)]);
                    return Some((start, message));
                }
                in_multi = multi;
            }
        }
        let message = match truncation.element_kind {
            Element::Payload { len } => Some(short_read(len, size - element)),
            kind @ (Element::CountLine | Element::LengthLine) => {
                let fragment = read_at(file, element, size, NUMBER_LINE_BUFFER - 1);
                if fragment.is_empty() {
                    None
                } else if kind == Element::CountLine {
                    read_long(&mut self.count_line_buffer, &fragment, b'*').err()
                } else {
                    let mut buffer = [0; NUMBER_LINE_BUFFER];
                    read_long(&mut buffer, &fragment, b'$').err()
                }
            }
            Element::RecordStart | Element::Annotation => None,
        };
        match message {
            Some(message) => Some((element, message)),
            None if in_multi => {
                let at = match truncation.cut {
                    Cut::UnfinishedMulti => last_element,
                    Cut::TornAnnotation | Cut::TornCommand => element,
                };
                Some((at, reached_eof()))
            }
            None => None,
        }
    }

    /// Redis's message for a malformed record, with the offset it prints it at; `None` when
    /// the message is `AOF <name> format error`, which is said here.
    fn corrupt_error(
        &mut self,
        file: &File,
        size: u64,
        corruption: &Corruption,
        name: &[u8],
        path: &Path,
    ) -> Option<(u64, Vec<u8>)> {
        let element = corruption.element;
        let message = match (corruption.error, corruption.element_kind) {
            (Malformed::ExpectedArray { .. } | Malformed::AnnotationTooLong, _) => {
                self.say(&text(&[b"AOF ", name, b" format error\n"]));
                return None;
            }
            (Malformed::NestedMulti, _) => text(&[b"Unexpected MULTI in AOF ", bytes_of(path)]),
            (Malformed::ExecWithoutMulti, _) => text(&[b"Unexpected EXEC in AOF ", bytes_of(path)]),
            (_, Element::Payload { len }) => {
                let available = size - element;
                if available < len.saturating_add(2) {
                    short_read(len, available)
                } else {
                    let after = read_at(file, element + len, size, 2);
                    let got = |i: usize| c_char_hex(after.get(i).copied().unwrap_or(0));
                    format!("Expected \\r\\n, got: {}{}", got(0), got(1)).into_bytes()
                }
            }
            (error, kind @ (Element::CountLine | Element::LengthLine)) => {
                let mut line = read_at(file, element, size, NUMBER_LINE_BUFFER - 1);
                if let Some(newline) = line.iter().position(|&b| b == b'\n') {
                    line.truncate(newline + 1);
                }
                let parsed = if kind == Element::CountLine {
                    read_long(&mut self.count_line_buffer, &line, b'*')
                } else {
                    let mut buffer = [0; NUMBER_LINE_BUFFER];
                    read_long(&mut buffer, &line, b'$')
                };
                match parsed {
                    Err(message) => message,
                    Ok(len)
                        if kind == Element::LengthLine && !(0..=BULK_LEN_MAX).contains(&len) =>
                    {
                        format!(
                            "Expected to read string of {len} bytes, which is not in the \
                             suitable range"
                        )
                        .into_bytes()
                    }
                    // redis-check-aof would read on; kopi's reader does not accept this line.
                    Ok(_) => error.to_string().into_bytes(),
                }
            }
            (error, Element::RecordStart | Element::Annotation) => error.to_string().into_bytes(),
        };
        Some((element, message))
    }
}

/// Up to `max` bytes of `file` from `offset`, not past `size`.
fn read_at(file: &File, offset: u64, size: u64, max: usize) -> Vec<u8> {
    let len = usize::try_from(size.saturating_sub(offset))
        .unwrap_or(usize::MAX)
        .min(max);
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut bytes[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    bytes.truncate(filled);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::fs::TempDir;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// Runs the tool in `dir` on `target` (relative to it) with `answer` on standard input.
    fn check(dir: &Path, words: &[&str], answer: &[u8]) -> (u8, String) {
        let args: Vec<OsString> = words
            .iter()
            .map(|w| match w.starts_with("--") || w.parse::<i64>().is_ok() {
                true => OsString::from(w),
                false => dir.join(w).into_os_string(),
            })
            .collect();
        let mut out = Vec::new();
        let status = run(b"kopi-check-aof", &args, &mut out, &mut &answer[..]);
        let shown = String::from_utf8_lossy(&out).replace(&format!("{}/", dir.display()), "");
        (status, shown)
    }

    // The expected reports below are what redis-check-aof 7.0.15 prints for the same bytes.

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
    const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

    #[test]
    fn arguments_as_redis_check_aof_reads_them() {
        let check = |words: &[&str]| parse_args(&args(words));
        let options = |fix, assume_yes, truncate_to_timestamp| {
            Args::Check(Options {
                path: PathBuf::from("f"),
                fix,
                assume_yes,
                truncate_to_timestamp,
            })
        };
        assert_eq!(check(&["f"]), options(false, false, 0));
        assert_eq!(check(&["--fix", "f"]), options(true, false, 0));
        assert_eq!(check(&["--yes", "--fix", "f"]), options(true, true, 0));
        assert_eq!(check(&["--fix", "f", "--yes"]), options(true, true, 0));
        let timestamp = |t: &str| check(&["--truncate-to-timestamp", t, "f"]);
        assert_eq!(timestamp("17"), options(false, false, 17));
        assert_eq!(timestamp(" -3"), options(false, false, -3));
        assert_eq!(timestamp(""), options(false, false, 0));
        for bad in ["x", "5x", "99999999999999999999"] {
            assert_eq!(timestamp(bad), Args::InvalidTimestamp, "{bad}");
        }
        for usage in [
            &[][..],
            &["a", "b"],
            &["f", "--fix"],
            &["--fix", "a", "b"],
            &["--truncate-to-timestamp", "1"],
            &["--fix", "--truncate-to-timestamp", "1", "f"],
        ] {
            assert_eq!(check(usage), Args::Usage, "{usage:?}");
        }
        let mut out = Vec::new();
        assert_eq!(run(b"./check", &[], &mut out, &mut &b""[..]), 1);
        assert_eq!(
            out,
            b"Usage: ./check [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"
        );
    }

    #[test]
    fn count_and_length_lines_as_read_long_reports_them() {
        let mut buffer = [0; NUMBER_LINE_BUFFER];
        assert_eq!(read_long(&mut buffer, b"*3\r\n", b'*'), Ok(3));
        assert_eq!(read_long(&mut buffer, b"$-1\r\n", b'$'), Ok(-1));
        assert_eq!(read_long(&mut buffer, b"*\r\n", b'*'), Ok(0));
        let error = |buffer: &mut [u8; NUMBER_LINE_BUFFER], line: &[u8], prefix| {
            String::from_utf8(read_long(buffer, line, prefix).unwrap_err()).unwrap()
        };
        assert_eq!(
            error(&mut buffer, b"$3\r\n", b'*'),
            "Expected prefix '*', got: '$'"
        );
        assert_eq!(
            error(&mut buffer, b"*3x\r\n", b'*'),
            r"Expected \r\n, got: 780d"
        );
        assert_eq!(
            error(&mut buffer, b"*3\r\x01", b'*'),
            r"Expected \r\n, got: 0d01"
        );
        assert_eq!(
            error(&mut buffer, b"*3\xe9\n", b'*'),
            r"Expected \r\n, got: ffffffe90a"
        );
        // Cut after the digits: the byte after the NUL is what the previous line left there.
        let mut buffer = [0; NUMBER_LINE_BUFFER];
        fgets_into(&mut buffer, b"*12\r\n");
        assert_eq!(error(&mut buffer, b"*", b'*'), r"Expected \r\n, got: 0032");
        // ... and "*1" then finds the `\r` of "*12\r\n" after its NUL.
        assert_eq!(error(&mut buffer, b"*1", b'*'), r"Expected \r\n, got: 000d");
    }

    #[test]
    fn timestamp_annotations_as_process_annotations_judges_them() {
        let stop = |line: &[u8], offset, last| timestamp_stop(line, offset, 100, last);
        assert_eq!(stop(b"#TS:100\r\n", 5, true), None);
        assert_eq!(stop(b"#TS:99\r\n", 0, false), None);
        assert_eq!(stop(b"#other\r\n", 5, true), None);
        assert_eq!(stop(b"#TS:\r\n", 5, true), None, "no digits reads as 0");
        assert_eq!(
            stop(b"#TS:101\r\n", 5, true),
            Some(TimestampStop::TruncateAt { offset: 5 })
        );
        assert_eq!(
            stop(b"#TS:101\r\n", 5, false),
            Some(TimestampStop::NotLastFile { offset: 5 })
        );
        assert_eq!(
            stop(b"#TS:101\r\n", 0, true),
            Some(TimestampStop::NothingBefore)
        );
        for invalid in [
            &b"#TS:101\n"[..],
            b"#TS:101",
            b"#TS:1x\r\n",
            b"#TS:99999999999999999999\r\n",
        ] {
            assert_eq!(stop(invalid, 5, true), Some(TimestampStop::Invalid));
        }
        assert_eq!(timestamp_stop(b"#TS:x\r\n", 5, 0, true), None, "0 is off");
    }

    #[test]
    fn dirname_as_glibc() {
        for (path, dir) in [
            ("appendonly.aof.manifest", "."),
            ("d/appendonly.aof.manifest", "d"),
            ("/a//b/m", "/a//b"),
            ("a//m", "a"),
            ("/m", "/"),
            ("d/m/", "d"),
            ("/", "/"),
            ("", "."),
        ] {
            assert_eq!(dirname(path.as_bytes()), dir.as_bytes(), "{path}");
        }
    }

    #[test]
    fn a_valid_old_style_file() {
        let dir = TempDir::new("check-valid");
        std::fs::write(
            dir.0.join("a.aof"),
            [b"#TS:5\r\n", SET, MULTI, SET, EXEC].concat(),
        )
        .unwrap();
        let (status, out) = check(&dir.0, &["a.aof"], b"");
        assert_eq!(status, 0);
        assert_eq!(
            out,
            "Start checking Old-Style AOF\n\
             AOF analyzed: filename=a.aof, size=90, ok_up_to=90, ok_up_to_line=21, diff=0\n\
             AOF a.aof is valid\n"
        );
        std::fs::write(dir.0.join("empty.aof"), b"").unwrap();
        let (status, out) = check(&dir.0, &["empty.aof"], b"");
        assert_eq!(
            (status, out.as_str()),
            (0, "Start checking Old-Style AOF\nAOF empty.aof is empty\n")
        );
    }

    #[test]
    fn fix_cuts_a_torn_transaction_after_a_yes() {
        let dir = TempDir::new("check-fix");
        let path = dir.0.join("a.aof");
        let bytes = [SET, MULTI, SET, &EXEC[..5]].concat();
        for answer in [&b"n\n"[..], b"", b"\ny"] {
            std::fs::write(&path, &bytes).unwrap();
            let (status, out) = check(&dir.0, &["--fix", "a.aof"], answer);
            assert_eq!(status, 1);
            assert!(out.ends_with("Continue? [y/N]: Aborting...\n"), "{out}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let (status, out) = check(&dir.0, &["--fix", "a.aof"], b"Y");
        assert_eq!(status, 0);
        assert_eq!(
            out,
            "Start checking Old-Style AOF\n\
             0x              49: Expected \\r\\n, got: 0000\n\
             AOF analyzed: filename=a.aof, size=74, ok_up_to=27, ok_up_to_line=19, diff=47\n\
             This will shrink the AOF a.aof from 74 bytes, with 47 bytes, to 27 bytes\n\
             Continue? [y/N]: Successfully truncated AOF a.aof\n"
        );
        assert_eq!(std::fs::read(&path).unwrap(), SET);
    }

    #[test]
    fn an_unfinished_transaction_is_reported_at_its_last_element() {
        let dir = TempDir::new("check-multi");
        std::fs::write(dir.0.join("a.aof"), [SET, MULTI, SET].concat()).unwrap();
        let (status, out) = check(&dir.0, &["a.aof"], b"");
        assert_eq!(status, 1);
        assert_eq!(
            out,
            "Start checking Old-Style AOF\n\
             0x              42: Reached EOF before reading EXEC for MULTI\n\
             AOF analyzed: filename=a.aof, size=69, ok_up_to=27, ok_up_to_line=18, diff=42\n\
             AOF a.aof is not valid. Use the --fix option to try fixing it.\n"
        );
    }

    #[test]
    fn multi_part_only_the_last_file_may_be_cut() {
        let dir = TempDir::new("check-multi-part");
        let aof = dir.0.join("appendonlydir");
        std::fs::create_dir_all(&aof).unwrap();
        std::fs::write(
            aof.join("appendonly.aof.manifest"),
            "file b.aof seq 1 type b\nfile h.aof seq 1 type h\nfile i.aof seq 1 type i\n",
        )
        .unwrap();
        std::fs::write(aof.join("b.aof"), [SET, &SET[..7]].concat()).unwrap();
        std::fs::write(
            aof.join("i.aof"),
            [b"#TS:7\r\n", SET, b"#TS:9\r\n", SET].concat(),
        )
        .unwrap();
        let manifest = "appendonlydir/appendonly.aof.manifest";
        let (status, out) = check(&dir.0, &["--fix", manifest], b"y");
        assert_eq!(status, 1);
        assert_eq!(
            out,
            "Start checking Multi Part AOF\n\
             Start to check BASE AOF (RESP format).\n\
             0x              1f: Expected \\r\\n, got: 0d00\n\
             AOF analyzed: filename=b.aof, size=34, ok_up_to=27, ok_up_to_line=9, diff=7\n\
             Failed to truncate AOF b.aof because it is not the last file\n"
        );
        std::fs::write(aof.join("b.aof"), SET).unwrap();
        let (status, out) = check(&dir.0, &["--truncate-to-timestamp", "8", manifest], b"");
        assert_eq!(status, 0);
        assert_eq!(
            out,
            "Start checking Multi Part AOF\n\
             Start to check BASE AOF (RESP format).\n\
             Truncate nothing in AOF b.aof to timestamp 8\n\
             BASE AOF b.aof is valid\n\
             Start to check INCR files.\n\
             Successfully truncated AOF i.aof to timestamp 8\n\
             All AOF files and manifest are valid\n"
        );
        assert_eq!(
            std::fs::read(aof.join("i.aof")).unwrap(),
            [b"#TS:7\r\n", SET].concat()
        );
        let (status, out) = check(&dir.0, &["--truncate-to-timestamp", "6", manifest], b"");
        assert_eq!(status, 1);
        assert!(
            out.ends_with("AOF appendonlydir/i.aof has nothing before timestamp 6, aborting...\n"),
            "{out}"
        );
    }

    #[test]
    fn a_refused_manifest_is_logged_as_redis_logs_it() {
        let dir = TempDir::new("check-manifest");
        std::fs::write(
            dir.0.join("m"),
            "file a seq 1 type b\nfile b seq 2 type b\n",
        )
        .unwrap();
        let (status, out) = check(&dir.0, &["m"], b"");
        assert_eq!(status, 1);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Start checking Multi Part AOF");
        let prefix = format!("{}:C ", std::process::id());
        let messages: Vec<&str> = lines[1..]
            .iter()
            .filter(|line| !line.is_empty())
            .map(|line| match line.strip_prefix(&prefix) {
                Some(rest) => rest.split_once(" # ").expect("a log line").1,
                None => line,
            })
            .collect();
        assert_eq!(
            messages,
            [
                "",
                "*** FATAL AOF MANIFEST FILE ERROR ***",
                "Reading the manifest file, at line 2",
                ">>> 'file b seq 2 type b'",
                "Found duplicate base file information",
            ]
        );
    }

    #[test]
    fn a_damaged_rdb_part_is_not_sane() {
        let dir = TempDir::new("check-rdb");
        std::fs::write(dir.0.join("a.aof"), [&b"REDIS0010\xff"[..], SET].concat()).unwrap();
        let (status, out) = check(&dir.0, &["a.aof"], b"");
        assert_eq!(status, 1);
        assert!(
            out.starts_with("Start checking Old-Style AOF\n[offset 0] Checking RDB file a.aof\n"),
            "{out}"
        );
        assert!(
            out.ends_with("RDB preamble of AOF file is not sane, aborting.\n"),
            "{out}"
        );
        // Shorter than an RDB header: a RESP file with a bad first byte.
        std::fs::write(dir.0.join("a.aof"), b"REDIS01").unwrap();
        let (status, out) = check(&dir.0, &["a.aof"], b"");
        assert_eq!(status, 1);
        assert!(out.contains("AOF a.aof format error\n"), "{out}");
    }
}
