//! Streaming reader of Redis AOF command files (the RESP part of an append-only file).
//!
//! # The format
//! An AOF command file is a sequence of records. A command is a RESP array of bulk strings;
//! an annotation is a line starting with `#` (Redis 7.0 writes `#TS:<unix seconds>` when
//! `aof-timestamp-enabled` is on, at most one per second, before the command it dates). This
//! is the start of an incr file Redis 7.0 wrote (shown with `\r\n` as line ends):
//!
//! ```text
//! #TS:1795718423\r\n
//! *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n
//! *5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n1795718506808\r\n
//! *1\r\n$5\r\nMULTI\r\n
//! *2\r\n$4\r\nincr\r\n$3\r\nctr\r\n
//! *3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\nb\r\n
//! *1\r\n$4\r\nEXEC\r\n
//! ```
//!
//! A file that starts with the five bytes `REDIS` is an RDB file (a `.base.rdb`, or an
//! old-style AOF with an RDB preamble): the reader reports [`End::RdbPreamble`] and reads
//! nothing else; after an RDB loader has consumed the RDB part, the RESP tail can be read with
//! [`ReadOptions::start_offset`] set to where it begins.
//!
//! # Outcomes
//! Every command and annotation goes to a callback as soon as its last byte is read, with the
//! arguments borrowed from the read buffer. The read then ends in one of:
//! - [`End::Clean`]: end of file at a record boundary, no transaction open.
//! - [`End::Truncated`]: the file ends inside a record, or inside a `MULTI` block whose `EXEC`
//!   never came. What is there is a valid beginning, as a crash in the middle of an append
//!   leaves it. [`Truncation::valid_up_to`] is the length to cut the file to (see
//!   [`truncate_file`]) when `aof-load-truncated` allows it: the end of the last command that is
//!   applied, which is before the `MULTI` when a transaction is open.
//! - [`End::Corrupt`]: a byte that no valid file can have there (a record that starts with
//!   neither `*` nor `#`, a bad count or length, a missing `\r\n`, a nested `MULTI`, an `EXEC`
//!   without `MULTI`, an annotation line over 1023 bytes). Fatal for Redis whatever
//!   `aof-load-truncated` says; [`Corruption::zero_tail`] tells whether the rest of the file is
//!   zeros, as after a power loss that extended the file but lost its last blocks.
//!
//! # Redis's rules, and where this reader differs
//! Redis 7.0 (`loadSingleAppendOnlyFile`) truncates a torn file at the end of the last command
//! it executed, and an unfinished transaction at the end of the last command before its
//! `MULTI`; annotations after that point go too. This reader gives the same verdicts and
//! offsets (checked against redis-server and redis-check-aof 7.0.15), except for files Redis
//! never writes and for two cases where Redis loses data:
//! - A command torn inside an open `MULTI` block: Redis 7.0.15 truncates after the last
//!   complete command *inside* the block and leaves the `MULTI` in the file; the commands it
//!   appends after restarting land in that open transaction and are cut away at the next
//!   start (verified: an acknowledged `SET` disappears after two restarts). This reader's
//!   `valid_up_to` is before the `MULTI`; [`Truncation::redis_truncates_to`] is Redis's offset.
//! - A torn annotation at the very end (`#TS:17957` without its newline): Redis loads the file
//!   as it is and keeps the fragment; here it is a truncation ([`Cut::TornAnnotation`]), so the
//!   fragment can be cut away.
//! - Redis does not check the `\r\n` after a bulk payload, and reads counts and lengths with
//!   `atoi`/`strtol` (so `$ 3`, `$3x` and `*0` pass or fail by accident); this reader, like
//!   `redis-check-aof` for the `\r\n`, requires `\r\n` after every line and payload and
//!   decimal digits only (leading zeros allowed), with counts in 1..=2147483647.
//! - `MULTI` inside `MULTI`, or `EXEC` without `MULTI`: `redis-check-aof` rejects them, the
//!   server ignores them; here they are corruption.
//! - An annotation line over 1023 bytes: Redis reads the rest as a new line, which usually
//!   makes the file corrupt; here it always does.
//! - An old-style AOF (RDB preamble + RESP tail) whose tail is torn before its first complete
//!   command: Redis 7.0.15 truncates the file to 0 bytes, RDB part included (verified: the
//!   data is gone at the next restart). Here `valid_up_to` is the end of the RDB part.
//! - Zeros that start inside a count or length line (`$3000` then zeros): Redis reads the
//!   number with `strtol`, waits for the payload and may call the file truncated; here it is
//!   corruption with [`Corruption::zero_tail`] set, which a loader may choose to treat as a
//!   torn tail.
//!
//! [`Report::check_ok_up_to`] and [`Report::check_line`] are what `redis-check-aof` prints as
//! `ok_up_to` and `ok_up_to_line` for the same file (its line counter counts the lines of
//! commands only, not annotations, and starts at 1; pass the previous file's count as
//! [`ReadOptions::start_line`] to continue it across the files of a manifest as it does).
//!
//! # Cost
//! The file is read in large chunks into one buffer that is reused from file to file; a
//! command's arguments are handed out as slices of it, with a reused argument vector, so
//! reading allocates nothing per command. No memory is reserved from a declared count or
//! length: the buffer grows only to hold bytes that have actually been read (and, when the
//! file size is known, never beyond what is left of the file), so `$2000000000` in a small
//! file costs nothing.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// The first bytes of an RDB file.
pub const RDB_MAGIC: &[u8; 5] = b"REDIS";
/// Longest annotation line, `\n` included (Redis reads lines into 1024 bytes with `fgets`).
pub const ANNOTATION_LINE_MAX: usize = 1023;
/// Largest argument count (Redis parses it into a C `int`).
pub const ARGC_MAX: u64 = i32::MAX as u64;
/// Largest bulk length this format can express (`redis-check-aof`'s limit, `LONG_MAX - 2`).
pub const BULK_LEN_MAX: u64 = i64::MAX as u64 - 2;
/// Default size of the read buffer.
pub const DEFAULT_BUFFER_SIZE: usize = 1 << 20;
/// Most digits a count or length line may have (leading zeros included).
const DIGITS_MAX: usize = 20;
/// Least free space offered to a read.
const MIN_READ: usize = 4096;

/// How to read one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// File offset of the first byte the source yields (offsets in events and reports are
    /// file offsets): non-zero when reading the RESP tail after an RDB preamble.
    pub start_offset: u64,
    /// `redis-check-aof`'s line counter at the start (1 for the first file it checks).
    pub start_line: u64,
    /// Look for the RDB magic at the start (only when `start_offset` is 0).
    pub detect_rdb: bool,
    /// Longest bulk argument accepted; a longer declared length is corruption.
    pub max_bulk_len: u64,
    /// Size of the whole file when known: the buffer never grows past what is left of it.
    /// [`AofReader::read_file`] fills it in.
    pub size_hint: Option<u64>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            start_offset: 0,
            start_line: 1,
            detect_rdb: true,
            max_bulk_len: BULK_LEN_MAX,
            size_hint: None,
        }
    }
}

/// One record, as the callback sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Command(Command<'a>),
    Annotation(Annotation<'a>),
}

/// A complete command: its arguments (the name first) borrowed from the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    pub args: &'a [&'a [u8]],
    /// File offset of its `*`.
    pub offset: u64,
    /// File offset just past its last `\r\n`.
    pub end: u64,
}

impl<'a> Command<'a> {
    /// The command name as written (Redis keeps the client's spelling for most commands).
    pub fn name(&self) -> &'a [u8] {
        self.args.first().copied().unwrap_or_default()
    }
}

/// An annotation line, such as `#TS:1795718423`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotation<'a> {
    /// The text between `#` and the line end (`\r\n` or `\n`).
    pub text: &'a [u8],
    /// File offset of its `#`.
    pub offset: u64,
    /// File offset just past its `\n`.
    pub end: u64,
    /// The seconds of a `#TS:<seconds>` annotation; `None` for other annotations or an
    /// unreadable number.
    pub timestamp: Option<i64>,
}

/// How a read ended, with the counts and positions a loader and a checker report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub end: End,
    /// Complete commands handed to the callback.
    pub commands: u64,
    /// Complete annotations handed to the callback.
    pub annotations: u64,
    /// File offset just past the last complete command (`start_offset` when there was none).
    pub last_command_end: u64,
    /// The first and last `#TS:` timestamps read.
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
    /// `redis-check-aof`'s `ok_up_to`: where the file stops being valid for it, i.e. the start
    /// of the bad or torn record, or of the open `MULTI`; the file length when all is valid.
    pub check_ok_up_to: u64,
    /// `redis-check-aof`'s `ok_up_to_line`: its line counter where it stopped.
    pub check_line: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// End of file at a record boundary with no transaction open.
    Clean,
    /// End of file inside a record or an unfinished transaction.
    Truncated(Truncation),
    /// A malformed record.
    Corrupt(Corruption),
    /// The file starts with `REDIS`: an RDB file, for an RDB loader. Nothing was read.
    RdbPreamble,
}

/// What was cut off at the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The file ends inside a command.
    TornCommand,
    /// The file ends inside an annotation line.
    TornAnnotation,
    /// The file ends after complete records, but inside a `MULTI` block.
    UnfinishedMulti,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    pub cut: Cut,
    /// File offset of the incomplete record (of the `MULTI` for [`Cut::UnfinishedMulti`]).
    pub at: u64,
    /// File offset of the element the end of the file cut (its start): the count line, a
    /// length line or a payload of a torn command, a torn annotation, or the end of the file
    /// after an unfinished transaction.
    pub element: u64,
    pub element_kind: Element,
    /// File offsets of a torn command's name (its first argument's payload) when it was read
    /// whole: a checker that counts `MULTI`/`EXEC` as soon as it has the name needs it.
    pub torn_name: Option<(u64, u64)>,
    /// File offset of the `MULTI` of the transaction open at the end, if one is.
    pub open_multi: Option<u64>,
    /// The length to truncate the file to: just past the last command a loader applies (the
    /// commands of an unfinished transaction are not applied).
    pub valid_up_to: u64,
    /// The length Redis 7.0.15 truncates the file to, `None` where it loads it as it is (see
    /// the module documentation).
    pub redis_truncates_to: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corruption {
    pub error: Malformed,
    /// File offset of the record that holds the error.
    pub record: u64,
    /// File offset of the element being read: the record, a `$` line, or a payload (the
    /// offset `redis-check-aof` prints before its error).
    pub element: u64,
    pub element_kind: Element,
    /// File offset of the first byte that cannot be there.
    pub byte: u64,
    /// Every byte from `byte` to the end of the file is zero.
    pub zero_tail: bool,
}

/// The part of a record a read stopped in: what a checker needs to say what it expected
/// there (`redis-check-aof` reports a count or length line, a payload, differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// The first byte of a record, or the end of the file between records.
    RecordStart,
    /// A command's `*<count>` line.
    CountLine,
    /// An argument's `$<length>` line.
    LengthLine,
    /// An argument's payload of `len` bytes and the `\r\n` after it.
    Payload { len: u64 },
    /// An annotation line.
    Annotation,
}

/// What is wrong with a malformed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A record starts with neither `*` nor `#`.
    ExpectedArray { got: u8 },
    /// An argument does not start with `$`.
    ExpectedBulk { got: u8 },
    /// The argument count is not a decimal number in 1..=2147483647.
    BadArgc,
    /// The bulk length is not a decimal number in 0..=[`BULK_LEN_MAX`].
    BadBulkLength,
    /// The bulk length is over [`ReadOptions::max_bulk_len`].
    BulkTooLong { max: u64 },
    /// A count, length or payload is not followed by `\r\n`.
    ExpectedCrlf { got: u8 },
    /// An annotation line longer than [`ANNOTATION_LINE_MAX`] bytes.
    AnnotationTooLong,
    /// `MULTI` while a transaction is open.
    NestedMulti,
    /// `EXEC` with no transaction open.
    ExecWithoutMulti,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::ExpectedArray { got } => {
                write!(f, "Expected prefix '*', got: '{}'", got.escape_ascii())
            }
            Malformed::ExpectedBulk { got } => {
                write!(f, "Expected prefix '$', got: '{}'", got.escape_ascii())
            }
            Malformed::BadArgc => f.write_str("Invalid argument count"),
            Malformed::BadBulkLength => f.write_str("Invalid bulk length"),
            Malformed::BulkTooLong { max } => {
                write!(f, "Bulk length over the limit of {max} bytes")
            }
            Malformed::ExpectedCrlf { got } => write!(f, "Expected \\r\\n, got: {got:02x}"),
            Malformed::AnnotationTooLong => {
                write!(f, "Annotation line longer than {ANNOTATION_LINE_MAX} bytes")
            }
            Malformed::NestedMulti => f.write_str("Unexpected MULTI"),
            Malformed::ExecWithoutMulti => f.write_str("Unexpected EXEC"),
        }
    }
}

/// Why a read stopped without a [`Report`].
#[derive(Debug)]
pub enum ReadError<E> {
    /// Reading the source failed.
    Io(io::Error),
    /// The callback returned this error.
    Stopped(E),
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "AOF read error: {e}"),
            ReadError::Stopped(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ReadError<E> {}

impl<E> From<io::Error> for ReadError<E> {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Cuts the file at `path` to `len` bytes and makes that durable (`fsync`). Refuses to
/// lengthen a file: a `len` past its end is an error and the file is left alone.
pub fn truncate_file(path: &Path, len: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    let size = file.metadata()?.len();
    if len > size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot truncate a file of {size} bytes to {len} bytes"),
        ));
    }
    file.set_len(len)?;
    file.sync_all()
}

/// The reader. Its buffers are kept from one file to the next.
#[derive(Debug)]
pub struct AofReader {
    buffer_size: usize,
    buf: Vec<u8>,
    /// Payload ranges of the command being read, relative to its first byte.
    ranges: Vec<(usize, usize)>,
    /// The allocation of the argument vector handed to the callback, kept between commands.
    spare: Vec<&'static [u8]>,
}

impl Default for AofReader {
    fn default() -> Self {
        AofReader::new()
    }
}

/// The window of the buffer that holds unparsed bytes.
struct Window {
    /// File offset of `buf[0]`.
    base: u64,
    /// Start of the record being read.
    pos: usize,
    /// End of the bytes read.
    end: usize,
    eof: bool,
}

impl Window {
    fn offset(&self, at: usize) -> u64 {
        self.base.saturating_add(at as u64)
    }
}

/// Running totals of one read.
struct Tally {
    /// `ReadOptions::start_offset`.
    start: u64,
    commands: u64,
    annotations: u64,
    last_command_end: u64,
    /// `last_command_end` when the open transaction's `MULTI` was read.
    before_multi: u64,
    /// File offset of the open transaction's `MULTI`.
    multi: Option<u64>,
    /// `redis-check-aof`'s line counter at the start of the record being read.
    line: u64,
    first_timestamp: Option<i64>,
    last_timestamp: Option<i64>,
}

impl Tally {
    fn report(&self, end: End, check_ok_up_to: u64, check_line: u64) -> Report {
        Report {
            end,
            commands: self.commands,
            annotations: self.annotations,
            last_command_end: self.last_command_end,
            first_timestamp: self.first_timestamp,
            last_timestamp: self.last_timestamp,
            check_ok_up_to,
            check_line,
        }
    }

    /// Where a loader's file ends up: the open transaction goes with the torn tail.
    fn valid_up_to(&self) -> u64 {
        match self.multi {
            Some(_) => self.before_multi,
            None => self.last_command_end,
        }
    }

    /// The offset Redis truncates to for one of ours: Redis counts from 0, not from the end of
    /// an RDB preamble, until the tail's first command.
    fn redis(&self, offset: u64) -> u64 {
        if offset == self.start { 0 } else { offset }
    }
}

/// The result of looking at the bytes of the record being read.
enum Step {
    /// A complete command of this many bytes; its payload ranges are in `ranges`.
    Command(usize),
    /// A complete annotation line of this many bytes.
    Annotation(usize),
    /// More bytes are needed: at least this many (0 when not known).
    More(usize),
    /// Malformed: the error, the element's and the offending byte's offsets in the record,
    /// and what the element is.
    Bad(Malformed, usize, usize, Element),
}

/// Parse progress through a command, kept while more bytes are read.
#[derive(Debug, Default)]
struct Partial {
    /// The argument count; 0 while the `*` line is not read.
    argc: usize,
    /// Next byte to look at, relative to the record's start.
    cursor: usize,
    /// `redis-check-aof` lines consumed in this record.
    lines: u64,
    /// Payload length of the argument whose `$` line was read.
    bulk: Option<usize>,
}

/// Why a count or length line is bad.
enum BadNumber {
    /// No digit, a value out of range, or too many digits.
    Value,
    /// Digits followed by something other than `\r\n`.
    Crlf(u8),
}

enum Number {
    /// The value and the offset just past the line's `\n`.
    Done(u64, usize),
    More,
    Bad(BadNumber, usize),
}

/// Reads the line at `data[at..]`: one prefix byte (already checked), decimal digits, `\r\n`.
fn number(data: &[u8], at: usize, min: u64, max: u64) -> Number {
    let mut value: u64 = 0;
    let mut i = at + 1;
    loop {
        let Some(&b) = data.get(i) else {
            return Number::More;
        };
        match b {
            b'0'..=b'9' => {
                let digits = i - at;
                value = match value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                {
                    Some(v) if v <= max && digits <= DIGITS_MAX => v,
                    _ => return Number::Bad(BadNumber::Value, i),
                };
                i += 1;
            }
            b'\r' if i > at + 1 => break,
            _ if i == at + 1 => return Number::Bad(BadNumber::Value, i),
            _ => return Number::Bad(BadNumber::Crlf(b), i),
        }
    }
    if value < min {
        return Number::Bad(BadNumber::Value, i);
    }
    match data.get(i + 1) {
        None => Number::More,
        Some(b'\n') => Number::Done(value, i + 2),
        Some(&b) => Number::Bad(BadNumber::Crlf(b), i + 1),
    }
}

impl Partial {
    /// Continues reading the command at the start of `data` (its first byte is `*`).
    fn parse(&mut self, data: &[u8], ranges: &mut Vec<(usize, usize)>, max_bulk: u64) -> Step {
        if self.argc == 0 {
            match number(data, 0, 1, ARGC_MAX) {
                Number::Done(argc, next) => {
                    // At most ARGC_MAX, which fits any usize Rust supports with std.
                    self.argc = usize::try_from(argc).unwrap_or(usize::MAX);
                    self.cursor = next;
                    self.lines = 1;
                }
                Number::More => return Step::More(0),
                Number::Bad(BadNumber::Value, at) => {
                    return Step::Bad(Malformed::BadArgc, 0, at, Element::CountLine);
                }
                Number::Bad(BadNumber::Crlf(got), at) => {
                    return Step::Bad(Malformed::ExpectedCrlf { got }, 0, at, Element::CountLine);
                }
            }
        }
        while ranges.len() < self.argc {
            let len = match self.bulk {
                Some(len) => len,
                None => {
                    let at = self.cursor;
                    let Some(&first) = data.get(at) else {
                        return Step::More(0);
                    };
                    if first != b'$' {
                        return Step::Bad(
                            Malformed::ExpectedBulk { got: first },
                            at,
                            at,
                            Element::LengthLine,
                        );
                    }
                    let max = max_bulk.min(BULK_LEN_MAX);
                    let len = match number(data, at, 0, max) {
                        Number::Done(len, next) => {
                            self.cursor = next;
                            len
                        }
                        Number::More => return Step::More(0),
                        Number::Bad(BadNumber::Value, bad) => {
                            let digit = data.get(bad).is_some_and(u8::is_ascii_digit);
                            let error = if digit && max < BULK_LEN_MAX {
                                Malformed::BulkTooLong { max }
                            } else {
                                Malformed::BadBulkLength
                            };
                            return Step::Bad(error, at, bad, Element::LengthLine);
                        }
                        Number::Bad(BadNumber::Crlf(got), bad) => {
                            return Step::Bad(
                                Malformed::ExpectedCrlf { got },
                                at,
                                bad,
                                Element::LengthLine,
                            );
                        }
                    };
                    let Ok(len) = usize::try_from(len) else {
                        return Step::Bad(Malformed::BadBulkLength, at, at, Element::LengthLine);
                    };
                    self.lines += 1;
                    self.bulk = Some(len);
                    len
                }
            };
            let start = self.cursor;
            let payload = Element::Payload { len: len as u64 };
            let Some(stop) = start.checked_add(len) else {
                return Step::Bad(Malformed::BadBulkLength, start, start, payload);
            };
            match (data.get(stop), data.get(stop.wrapping_add(1))) {
                (Some(b'\r'), Some(b'\n')) => {}
                (Some(b'\r'), Some(&got)) => {
                    return Step::Bad(Malformed::ExpectedCrlf { got }, start, stop + 1, payload);
                }
                (Some(&got), _) if got != b'\r' => {
                    return Step::Bad(Malformed::ExpectedCrlf { got }, start, stop, payload);
                }
                _ => {
                    let missing = stop.saturating_add(2).saturating_sub(data.len());
                    return Step::More(missing);
                }
            }
            ranges.push((start, stop));
            self.cursor = stop + 2;
            self.lines += 1;
            self.bulk = None;
        }
        Step::Command(self.cursor)
    }
}

/// Reads the annotation line at the start of `data` (its first byte is `#`).
fn annotation(data: &[u8]) -> Step {
    let window = &data[..data.len().min(ANNOTATION_LINE_MAX)];
    match memchr::memchr(b'\n', window) {
        Some(newline) => Step::Annotation(newline + 1),
        None if data.len() >= ANNOTATION_LINE_MAX => Step::Bad(
            Malformed::AnnotationTooLong,
            0,
            ANNOTATION_LINE_MAX - 1,
            Element::Annotation,
        ),
        None => Step::More(0),
    }
}

/// The seconds of a `TS:<seconds>` annotation text.
fn timestamp(text: &[u8]) -> Option<i64> {
    crate::util::parse_i64(text.strip_prefix(b"TS:")?)
}

/// Gives an argument vector's allocation a new lifetime: it is empty, so nothing dangles.
fn recycle<'b>(mut args: Vec<&[u8]>) -> Vec<&'b [u8]> {
    args.clear();
    args.into_iter().map(|_| &[][..]).collect()
}

impl AofReader {
    pub fn new() -> Self {
        AofReader::with_buffer_size(DEFAULT_BUFFER_SIZE)
    }

    /// A reader whose buffer starts at `size` bytes (it grows for larger records).
    pub fn with_buffer_size(size: usize) -> Self {
        AofReader {
            buffer_size: size.max(1),
            buf: Vec::new(),
            ranges: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Opens the file at `path` and reads it from `options.start_offset` on, with its size as
    /// [`ReadOptions::size_hint`] when that is unset.
    pub fn read_file<E>(
        &mut self,
        path: &Path,
        options: &ReadOptions,
        on_event: impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<Report, ReadError<E>> {
        let mut file = File::open(path)?;
        if options.start_offset > 0 {
            file.seek(SeekFrom::Start(options.start_offset))?;
        }
        let mut options = *options;
        if options.size_hint.is_none() {
            options.size_hint = Some(file.metadata()?.len());
        }
        self.read(file, &options, on_event)
    }

    /// Reads `source` to its end, or to the first malformed record, handing every record to
    /// `on_event`. An error from `on_event` stops the read and is returned as
    /// [`ReadError::Stopped`].
    pub fn read<R: Read, E>(
        &mut self,
        mut source: R,
        options: &ReadOptions,
        mut on_event: impl FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<Report, ReadError<E>> {
        if self.buf.len() > self.buffer_size.saturating_mul(4) {
            self.buf.truncate(self.buffer_size);
            self.buf.shrink_to_fit();
        }
        if self.buf.len() < self.buffer_size {
            self.buf.resize(self.buffer_size, 0);
        }
        self.ranges.clear();
        let mut win = Window {
            base: options.start_offset,
            pos: 0,
            end: 0,
            eof: false,
        };
        let mut tally = Tally {
            start: options.start_offset,
            commands: 0,
            annotations: 0,
            last_command_end: options.start_offset,
            before_multi: options.start_offset,
            multi: None,
            line: options.start_line,
            first_timestamp: None,
            last_timestamp: None,
        };

        if options.detect_rdb && options.start_offset == 0 {
            while win.end < RDB_MAGIC.len() && !win.eof {
                self.fill(&mut source, &mut win, 0, options.size_hint)?;
            }
            if self.buf[..win.end].starts_with(RDB_MAGIC) {
                return Ok(tally.report(End::RdbPreamble, 0, tally.line));
            }
        }

        let mut partial = Partial::default();
        loop {
            let data = &self.buf[win.pos..win.end];
            let step = if partial.argc > 0 {
                partial.parse(data, &mut self.ranges, options.max_bulk_len)
            } else {
                match data.first() {
                    None => Step::More(0),
                    Some(b'*') => partial.parse(data, &mut self.ranges, options.max_bulk_len),
                    Some(b'#') => annotation(data),
                    Some(&got) => {
                        Step::Bad(Malformed::ExpectedArray { got }, 0, 0, Element::RecordStart)
                    }
                }
            };
            match step {
                Step::Command(len) => {
                    let offset = win.offset(win.pos);
                    let end = win.offset(win.pos + len);
                    let record = &self.buf[win.pos..win.pos + len];
                    let (name_start, name_stop) = self.ranges.first().copied().unwrap_or((0, 0));
                    let name = &record[name_start..name_stop];
                    let error = if name.eq_ignore_ascii_case(b"multi") {
                        match tally.multi {
                            Some(_) => Some(Malformed::NestedMulti),
                            None => {
                                tally.multi = Some(offset);
                                tally.before_multi = tally.last_command_end;
                                None
                            }
                        }
                    } else if name.eq_ignore_ascii_case(b"exec") {
                        match tally.multi.take() {
                            Some(_) => None,
                            None => Some(Malformed::ExecWithoutMulti),
                        }
                    } else {
                        None
                    };
                    if let Some(error) = error {
                        // redis-check-aof stops after the name: `*`, `$` and payload lines.
                        let line = tally.line.saturating_add(3);
                        let corruption = Corruption {
                            error,
                            record: offset,
                            element: win.offset(win.pos + name_start),
                            element_kind: Element::Payload {
                                len: (name_stop - name_start) as u64,
                            },
                            byte: win.offset(win.pos + name_start),
                            zero_tail: false,
                        };
                        let ok_up_to = tally.multi.unwrap_or(offset);
                        return Ok(tally.report(End::Corrupt(corruption), ok_up_to, line));
                    }
                    let mut args = recycle(std::mem::take(&mut self.spare));
                    args.extend(self.ranges.iter().map(|&(a, b)| &record[a..b]));
                    let event = Event::Command(Command {
                        args: &args,
                        offset,
                        end,
                    });
                    let delivered = on_event(event);
                    self.spare = recycle(args);
                    delivered.map_err(ReadError::Stopped)?;
                    tally.commands += 1;
                    tally.line = tally.line.saturating_add(partial.lines);
                    tally.last_command_end = end;
                    win.pos += len;
                    partial = Partial::default();
                    self.ranges.clear();
                }
                Step::Annotation(len) => {
                    let offset = win.offset(win.pos);
                    let line = &self.buf[win.pos + 1..win.pos + len - 1];
                    let text = line.strip_suffix(b"\r").unwrap_or(line);
                    let seconds = timestamp(text);
                    on_event(Event::Annotation(Annotation {
                        text,
                        offset,
                        end: win.offset(win.pos + len),
                        timestamp: seconds,
                    }))
                    .map_err(ReadError::Stopped)?;
                    tally.annotations += 1;
                    if seconds.is_some() {
                        tally.first_timestamp = tally.first_timestamp.or(seconds);
                        tally.last_timestamp = seconds;
                    }
                    win.pos += len;
                }
                Step::Bad(error, element, byte, element_kind) => {
                    let record = win.offset(win.pos);
                    let byte_at = win.pos + byte;
                    let corruption = Corruption {
                        error,
                        record,
                        element: win.offset(win.pos + element),
                        element_kind,
                        byte: win.offset(win.pos + byte),
                        zero_tail: self.rest_is_zero(&mut source, &win, byte_at)?,
                    };
                    // redis-check-aof reads a long line as several: it stops after the first
                    // 1023 bytes.
                    let ok_up_to = match (tally.multi, error) {
                        (Some(multi), _) => multi,
                        (None, Malformed::AnnotationTooLong) => {
                            win.offset(win.pos + ANNOTATION_LINE_MAX)
                        }
                        (None, _) => record,
                    };
                    let line = tally.line.saturating_add(partial.lines);
                    return Ok(tally.report(End::Corrupt(corruption), ok_up_to, line));
                }
                Step::More(need) => {
                    if win.eof {
                        return Ok(Self::at_eof(
                            &tally,
                            &win,
                            &partial,
                            &self.buf,
                            &self.ranges,
                        ));
                    }
                    self.fill(&mut source, &mut win, need, options.size_hint)?;
                }
            }
        }
    }

    /// The report for an end of file while the record at `win.pos` needs more bytes.
    fn at_eof(
        tally: &Tally,
        win: &Window,
        partial: &Partial,
        buf: &[u8],
        ranges: &[(usize, usize)],
    ) -> Report {
        let here = win.offset(win.pos);
        let eof = win.offset(win.end);
        if win.pos == win.end {
            return match tally.multi {
                None => tally.report(End::Clean, eof, tally.line),
                Some(multi) => {
                    let truncation = Truncation {
                        cut: Cut::UnfinishedMulti,
                        at: multi,
                        element: eof,
                        element_kind: Element::RecordStart,
                        torn_name: None,
                        open_multi: Some(multi),
                        valid_up_to: tally.before_multi,
                        redis_truncates_to: Some(tally.redis(tally.before_multi)),
                    };
                    tally.report(End::Truncated(truncation), multi, tally.line)
                }
            };
        }
        let valid_up_to = tally.valid_up_to();
        if buf[win.pos] == b'#' {
            // Redis reads the fragment as an annotation and goes on: clean, unless a
            // transaction is open.
            let truncation = Truncation {
                cut: Cut::TornAnnotation,
                at: here,
                element: here,
                element_kind: Element::Annotation,
                torn_name: None,
                open_multi: tally.multi,
                valid_up_to,
                redis_truncates_to: tally.multi.map(|_| tally.redis(tally.before_multi)),
            };
            let ok_up_to = tally.multi.unwrap_or(eof);
            return tally.report(End::Truncated(truncation), ok_up_to, tally.line);
        }
        let (element, element_kind) = match (partial.argc, partial.bulk) {
            (0, _) => (here, Element::CountLine),
            (_, Some(len)) => (
                win.offset(win.pos + partial.cursor),
                Element::Payload { len: len as u64 },
            ),
            (_, None) => (win.offset(win.pos + partial.cursor), Element::LengthLine),
        };
        let truncation = Truncation {
            cut: Cut::TornCommand,
            at: here,
            element,
            element_kind,
            torn_name: ranges
                .first()
                .map(|&(start, stop)| (win.offset(win.pos + start), win.offset(win.pos + stop))),
            open_multi: tally.multi,
            valid_up_to,
            redis_truncates_to: Some(tally.redis(tally.last_command_end)),
        };
        let ok_up_to = tally.multi.unwrap_or(here);
        tally.report(
            End::Truncated(truncation),
            ok_up_to,
            tally.line.saturating_add(partial.lines),
        )
    }

    /// Reads more bytes after `win.end`, first moving the record being read to the start of
    /// the buffer, and growing the buffer when it is full or `need` bytes do not fit.
    fn fill<R: Read>(
        &mut self,
        source: &mut R,
        win: &mut Window,
        need: usize,
        size_hint: Option<u64>,
    ) -> io::Result<()> {
        if win.pos > 0 {
            self.buf.copy_within(win.pos..win.end, 0);
            win.base = win.offset(win.pos);
            win.end -= win.pos;
            win.pos = 0;
            // Give back what a huge record took once the buffer holds little again.
            if self.buf.len() > self.buffer_size.saturating_mul(4) && win.end < self.buffer_size / 2
            {
                self.buf.truncate(self.buffer_size);
                self.buf.shrink_to_fit();
            }
        }
        let free = self.buf.len() - win.end;
        // Without the file size, the buffer grows only once bytes that arrived have filled it:
        // a source that hands out a few bytes a read must not double it on every read.
        let grow = match size_hint {
            Some(_) => free == 0 || need > free,
            None => free == 0 || (free < MIN_READ && need > free),
        };
        if grow {
            // Exactly what is needed when known, doubling otherwise, and never more than is
            // left of the file: a declared length alone does not reserve memory.
            let mut want = win.end.saturating_add(need);
            if free == 0 {
                want = want.max(self.buf.len().saturating_mul(2));
            }
            match size_hint {
                Some(size) => {
                    let left = size.saturating_sub(win.offset(win.end));
                    let left = usize::try_from(left).unwrap_or(usize::MAX);
                    want = want.min(win.end.saturating_add(left));
                }
                None => want = want.min(self.buf.len().saturating_mul(2)),
            }
            want = want.max(win.end.saturating_add(MIN_READ));
            if want > self.buf.len() {
                self.buf.reserve_exact(want - self.buf.len());
                self.buf.resize(want, 0);
            }
        }
        loop {
            match source.read(&mut self.buf[win.end..]) {
                Ok(0) => {
                    win.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    win.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// True when the buffer from `from` on and the rest of the source hold only zero bytes.
    fn rest_is_zero<R: Read>(
        &mut self,
        source: &mut R,
        win: &Window,
        from: usize,
    ) -> io::Result<bool> {
        if self.buf[from.min(win.end)..win.end].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        if win.eof {
            return Ok(true);
        }
        loop {
            match source.read(&mut self.buf) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    if self.buf[..n].iter().any(|&b| b != 0) {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// An event with its bytes copied out of the reader's buffer.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Owned {
        Command(Vec<Vec<u8>>, u64, u64),
        Annotation(Vec<u8>, u64, Option<i64>),
    }

    fn encode(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    fn cmd(words: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        encode(&args)
    }

    fn file(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// A source that hands out its bytes in random small pieces, sometimes interrupted.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        rng: SmallRng,
        max: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.rng.random_ratio(1, 50) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = self
                .rng
                .random_range(1..=self.max)
                .min(out.len())
                .min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn collect<R: Read>(
        reader: &mut AofReader,
        source: R,
        options: &ReadOptions,
    ) -> (Vec<Owned>, Report) {
        let mut events = Vec::new();
        let report = reader
            .read(source, options, |event| -> Result<(), ()> {
                events.push(match event {
                    Event::Command(c) => {
                        Owned::Command(c.args.iter().map(|a| a.to_vec()).collect(), c.offset, c.end)
                    }
                    Event::Annotation(a) => {
                        Owned::Annotation(a.text.to_vec(), a.offset, a.timestamp)
                    }
                });
                Ok(())
            })
            .expect("read");
        (events, report)
    }

    fn read_bytes(bytes: &[u8]) -> (Vec<Owned>, Report) {
        collect(&mut AofReader::new(), bytes, &ReadOptions::default())
    }

    /// Reads `bytes` whole, and in tiny pieces through a tiny buffer: both must agree.
    fn read_both_ways(bytes: &[u8]) -> (Vec<Owned>, Report) {
        let whole = read_bytes(bytes);
        let source = Chunked {
            data: bytes.to_vec(),
            at: 0,
            rng: SmallRng::seed_from_u64(bytes.len() as u64),
            max: 7,
        };
        let pieces = collect(
            &mut AofReader::with_buffer_size(3),
            source,
            &ReadOptions::default(),
        );
        assert_eq!(whole, pieces, "whole and piecewise reads differ");
        whole
    }

    fn commands(events: &[Owned]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, Owned::Command(..)))
            .count()
    }

    fn truncation(report: &Report) -> Truncation {
        match &report.end {
            End::Truncated(t) => *t,
            other => panic!("expected a truncation, got {other:?}"),
        }
    }

    fn corruption(report: &Report) -> Corruption {
        match &report.end {
            End::Corrupt(c) => *c,
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    /// redis-check-aof's line counter after whole records: 1, plus per command its `*` line
    /// and two lines per argument.
    fn lines_of(parts: &[Vec<u8>]) -> u64 {
        let mut lines = 1;
        for part in parts.iter().filter(|p| p[0] == b'*') {
            let count = part.iter().position(|&b| b == b'\r').unwrap();
            let argc: u64 = std::str::from_utf8(&part[1..count])
                .unwrap()
                .parse()
                .unwrap();
            lines += 1 + 2 * argc;
        }
        lines
    }

    #[test]
    fn clean_file_hands_out_every_record_with_its_offsets() {
        let parts = vec![
            b"#TS:1795718423\r\n".to_vec(),
            cmd("SELECT 0"),
            cmd("SET k v PXAT 1795718506808"),
            cmd("MULTI"),
            cmd("incr ctr"),
            encode(&[b"SET", b"bin\r\n\0", b""]),
            cmd("EXEC"),
        ];
        let bytes = file(&parts);
        let (events, report) = read_both_ways(&bytes);
        let words: [&[&[u8]]; 7] = [
            &[],
            &[b"SELECT", b"0"],
            &[b"SET", b"k", b"v", b"PXAT", b"1795718506808"],
            &[b"MULTI"],
            &[b"incr", b"ctr"],
            &[b"SET", b"bin\r\n\0", b""],
            &[b"EXEC"],
        ];
        let mut offset = 0u64;
        let mut expected = Vec::new();
        for (part, args) in parts.iter().zip(words) {
            let end = offset + part.len() as u64;
            expected.push(match part[0] {
                b'#' => Owned::Annotation(b"TS:1795718423".to_vec(), offset, Some(1795718423)),
                _ => Owned::Command(args.iter().map(|a| a.to_vec()).collect(), offset, end),
            });
            offset = end;
        }
        assert_eq!(events, expected);
        assert_eq!(report.end, End::Clean);
        assert_eq!(report.commands, 6);
        assert_eq!(report.annotations, 1);
        assert_eq!(report.last_command_end, bytes.len() as u64);
        assert_eq!(report.first_timestamp, Some(1795718423));
        assert_eq!(report.last_timestamp, Some(1795718423));
        assert_eq!(report.check_ok_up_to, bytes.len() as u64);
        assert_eq!(report.check_line, lines_of(&parts));
    }

    #[test]
    fn an_empty_file_is_clean() {
        let (events, report) = read_both_ways(b"");
        assert!(events.is_empty());
        assert_eq!(report.end, End::Clean);
        assert_eq!(
            (report.commands, report.check_ok_up_to, report.check_line),
            (0, 0, 1)
        );
    }

    #[test]
    fn a_torn_last_command_is_truncated_at_every_byte() {
        let parts = vec![
            b"#TS:1700000000\r\n".to_vec(),
            cmd("SELECT 0"),
            cmd("SET key value"),
            b"#TS:1700000001\r\n".to_vec(),
            cmd("SET key2 a-longer-value-with-123456789-digits PXAT 1795718506808"),
        ];
        let bytes = file(&parts);
        let last = bytes.len() - parts[4].len();
        let before_annotation = last - parts[3].len();
        for cut in last..bytes.len() {
            let (events, report) = read_both_ways(&bytes[..cut]);
            assert_eq!(commands(&events), 2, "cut at {cut}");
            if cut == last {
                assert_eq!(report.end, End::Clean);
                continue;
            }
            let t = truncation(&report);
            assert_eq!(t.cut, Cut::TornCommand, "cut at {cut}");
            assert_eq!(t.at, last as u64);
            assert_eq!(t.open_multi, None);
            // Redis cuts the annotation too: it truncates at the end of the last command.
            assert_eq!(t.valid_up_to, before_annotation as u64);
            assert_eq!(t.redis_truncates_to, Some(before_annotation as u64));
            assert_eq!(report.check_ok_up_to, last as u64);
            assert_eq!(report.last_command_end, before_annotation as u64);
        }
    }

    #[test]
    fn check_lines_count_the_lines_of_a_torn_command() {
        let head = file(&[cmd("SELECT 0"), cmd("SET a 1")]);
        let base = 1 + 5 + 7;
        // (cut inside `*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n`, check-aof lines)
        let torn = b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
        for (cut, extra) in [(2, 0), (4, 1), (9, 2), (10, 2), (13, 3), (15, 3), (23, 5)] {
            let bytes = [&head[..], &torn[..cut]].concat();
            let (_, report) = read_both_ways(&bytes);
            assert_eq!(report.check_line, base + extra, "cut at {cut}");
            assert_eq!(truncation(&report).cut, Cut::TornCommand);
        }
    }

    #[test]
    fn every_prefix_of_a_valid_file_is_clean_or_truncated_and_cuts_to_a_clean_file() {
        let parts = vec![
            b"#TS:1700000000\r\n".to_vec(),
            cmd("SELECT 3"),
            cmd("SET a 1"),
            b"#TS:1700000001\r\n".to_vec(),
            cmd("MULTI"),
            cmd("INCR a"),
            b"#note\n".to_vec(),
            cmd("SET b 2"),
            cmd("EXEC"),
            cmd("DEL a"),
            b"#TS:1700000002\r\n".to_vec(),
        ];
        let bytes = file(&parts);
        for cut in 0..=bytes.len() {
            let prefix = &bytes[..cut];
            let (events, report) = read_both_ways(prefix);
            let valid_up_to = match &report.end {
                End::Clean => cut as u64,
                End::Truncated(t) => {
                    assert!(t.valid_up_to <= t.at && t.at <= cut as u64, "cut at {cut}");
                    assert!(t.valid_up_to <= report.last_command_end);
                    t.valid_up_to
                }
                other => panic!("cut at {cut}: {other:?}"),
            };
            // What is left after truncating reads clean, with the commands a loader applied.
            let (kept, again) = read_both_ways(&prefix[..valid_up_to as usize]);
            assert!(
                matches!(again.end, End::Clean),
                "cut at {cut}: {:?}",
                again.end
            );
            let applied = events
                .iter()
                .filter(|e| matches!(e, Owned::Command(_, _, end) if *end <= valid_up_to))
                .count();
            assert_eq!(commands(&kept), applied, "cut at {cut}");
        }
    }

    /// The bytes of a real experiment with redis-server and redis-check-aof 7.0.15.
    fn torn_inside_multi() -> Vec<u8> {
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n#TS:100\r\n\
          *1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nc"
            .to_vec()
    }

    #[test]
    fn a_command_torn_inside_a_transaction_cuts_before_its_multi() {
        let bytes = torn_inside_multi();
        let (events, report) = read_both_ways(&bytes);
        assert_eq!(commands(&events), 4);
        let t = truncation(&report);
        assert_eq!(t.cut, Cut::TornCommand);
        assert_eq!(t.at, 101);
        assert_eq!(t.open_multi, Some(59));
        assert_eq!(t.valid_up_to, 50);
        // redis-server 7.0.15 logged "Truncating the AOF ... at offset 101".
        assert_eq!(t.redis_truncates_to, Some(101));
        // redis-check-aof 7.0.15: ok_up_to=59, ok_up_to_line=27.
        assert_eq!((report.check_ok_up_to, report.check_line), (59, 27));
    }

    #[test]
    fn an_unfinished_transaction_reverts_to_before_its_multi() {
        let bytes = torn_inside_multi();
        // The same file cut after `SET b 2`: complete records, no EXEC.
        let (events, report) = read_both_ways(&bytes[..101]);
        assert_eq!(commands(&events), 4);
        let t = truncation(&report);
        assert_eq!(t.cut, Cut::UnfinishedMulti);
        assert_eq!((t.at, t.open_multi), (59, Some(59)));
        // redis-server 7.0.15: "Revert incomplete MULTI/EXEC transaction", offset 50.
        assert_eq!(t.valid_up_to, 50);
        assert_eq!(t.redis_truncates_to, Some(50));
        assert_eq!(report.check_ok_up_to, 59);
        // An annotation torn inside the transaction: Redis reverts the same way.
        let with_fragment = [&bytes[..101], b"#TS:1"].concat();
        let (_, report) = read_both_ways(&with_fragment);
        let t = truncation(&report);
        assert_eq!((t.cut, t.at), (Cut::TornAnnotation, 101));
        assert_eq!((t.valid_up_to, t.redis_truncates_to), (50, Some(50)));
        // A closed transaction is clean.
        let closed = [&bytes[..101], &cmd("EXEC")[..]].concat();
        assert_eq!(read_both_ways(&closed).1.end, End::Clean);
    }

    #[test]
    fn a_torn_annotation_is_a_truncation_redis_would_keep() {
        let head = file(&[
            cmd("SET a 1"),
            b"#TS:1700000000\r\n".to_vec(),
            cmd("SET b 2"),
        ]);
        for fragment in [&b"#"[..], b"#TS:17", b"#TS:1700000001\r"] {
            let bytes = [&head[..], fragment].concat();
            let (events, report) = read_both_ways(&bytes);
            assert_eq!(commands(&events), 2);
            let t = truncation(&report);
            assert_eq!(t.cut, Cut::TornAnnotation);
            assert_eq!(
                (t.at, t.valid_up_to),
                (head.len() as u64, head.len() as u64)
            );
            assert_eq!(t.redis_truncates_to, None);
            // redis-check-aof reads the fragment as a line and finds the file valid.
            assert_eq!(report.check_ok_up_to, bytes.len() as u64);
            assert_eq!(report.last_timestamp, Some(1700000000));
        }
    }

    #[test]
    fn annotations_and_timestamps() {
        let bytes = file(&[
            b"#TS:1700000000\r\n".to_vec(),
            cmd("SET a 1"),
            b"#just a note\n".to_vec(),
            b"#TS:not-a-number\r\n".to_vec(),
            b"#TS:1700000005\r\n".to_vec(),
            cmd("SET b 2"),
        ]);
        let (events, report) = read_both_ways(&bytes);
        let notes: Vec<(Vec<u8>, Option<i64>)> = events
            .iter()
            .filter_map(|e| match e {
                Owned::Annotation(text, _, ts) => Some((text.clone(), *ts)),
                _ => None,
            })
            .collect();
        assert_eq!(
            notes,
            vec![
                (b"TS:1700000000".to_vec(), Some(1700000000)),
                (b"just a note".to_vec(), None),
                (b"TS:not-a-number".to_vec(), None),
                (b"TS:1700000005".to_vec(), Some(1700000005)),
            ]
        );
        assert_eq!(report.annotations, 4);
        assert_eq!(report.first_timestamp, Some(1700000000));
        assert_eq!(report.last_timestamp, Some(1700000005));
        // Annotations are not lines for redis-check-aof.
        assert_eq!(report.check_line, 1 + 7 + 7);
    }

    #[test]
    fn annotation_lines_are_limited_to_1023_bytes() {
        let longest = [&b"#"[..], &[b'a'; 1020], b"\r\n"].concat();
        assert_eq!(longest.len(), ANNOTATION_LINE_MAX);
        let (_, report) = read_both_ways(&[&longest[..], &cmd("SET a 1")[..]].concat());
        assert_eq!((report.end, report.annotations), (End::Clean, 1));
        let too_long = [&b"#"[..], &[b'a'; 1021], b"\r\n"].concat();
        let (_, report) = read_both_ways(&too_long);
        let c = corruption(&report);
        assert_eq!(c.error, Malformed::AnnotationTooLong);
        assert_eq!((c.record, c.byte), (0, 1022));
        assert_eq!(report.check_ok_up_to, 1023);
        // A long fragment at the end is not yet too long.
        let (_, report) = read_both_ways(&too_long[..1022]);
        assert_eq!(truncation(&report).cut, Cut::TornAnnotation);
    }

    #[test]
    fn garbage_in_the_middle_is_corruption() {
        let head = file(&[cmd("SELECT 0"), cmd("SET a 1")]);
        let bytes = [&head[..], b"!!!", &cmd("SET b 2")[..]].concat();
        let (events, report) = read_both_ways(&bytes);
        assert_eq!(commands(&events), 2);
        let c = corruption(&report);
        assert_eq!(c.error, Malformed::ExpectedArray { got: b'!' });
        let at = head.len() as u64;
        assert_eq!(
            (c.record, c.element, c.byte, c.zero_tail),
            (at, at, at, false)
        );
        assert_eq!(report.last_command_end, at);
        assert_eq!((report.check_ok_up_to, report.check_line), (at, 1 + 5 + 7));
        assert_eq!(c.error.to_string(), "Expected prefix '*', got: '!'");
        // A blank line is garbage too.
        let (_, report) = read_both_ways(&[&head[..], b"\r\n", &cmd("SET b 2")[..]].concat());
        assert_eq!(
            corruption(&report).error,
            Malformed::ExpectedArray { got: b'\r' }
        );
        // Inside a transaction redis-check-aof's ok_up_to stays at the MULTI.
        let multi = [&head[..], &cmd("MULTI")[..], &cmd("SET x 1")[..], b"?"].concat();
        let (_, report) = read_both_ways(&multi);
        assert_eq!(report.check_ok_up_to, head.len() as u64);
        assert_eq!(corruption(&report).record, multi.len() as u64 - 1);
    }

    #[test]
    fn a_zero_filled_tail_is_corruption_marked_as_zeros() {
        let head = file(&[cmd("SELECT 0"), cmd("SET a 1")]);
        for reader_buffer in [16, DEFAULT_BUFFER_SIZE] {
            let mut reader = AofReader::with_buffer_size(reader_buffer);
            let zeros = [&head[..], &[0u8; 10_000][..]].concat();
            let (_, report) = collect(&mut reader, &zeros[..], &ReadOptions::default());
            let c = corruption(&report);
            assert_eq!(c.error, Malformed::ExpectedArray { got: 0 });
            assert_eq!((c.record, c.zero_tail), (head.len() as u64, true));
            // Zeros inside a torn command: the first zero is where it goes wrong.
            let torn = [&head[..], b"*3\r\n$3\r\nSET\r\n$1\r\nb", &[0u8; 10_000][..]].concat();
            let (_, report) = collect(&mut reader, &torn[..], &ReadOptions::default());
            let c = corruption(&report);
            assert_eq!(c.error, Malformed::ExpectedCrlf { got: 0 });
            assert_eq!(c.byte, head.len() as u64 + 18);
            assert_eq!(c.element, head.len() as u64 + 17);
            assert!(c.zero_tail);
            // Zeros followed by something else are not a zero tail.
            let mut mixed = zeros.clone();
            mixed.extend_from_slice(b"x");
            let (_, report) = collect(&mut reader, &mixed[..], &ReadOptions::default());
            assert!(!corruption(&report).zero_tail);
        }
    }

    #[test]
    fn malformed_records() {
        let max = ReadOptions::default();
        let limited = ReadOptions {
            max_bulk_len: 100,
            ..ReadOptions::default()
        };
        // (bytes, options, error, element, byte)
        let cases: Vec<(&[u8], ReadOptions, Malformed, u64, u64)> = vec![
            (b"*0\r\n", max, Malformed::BadArgc, 0, 2),
            (b"*-1\r\n", max, Malformed::BadArgc, 0, 1),
            (b"*\r\n", max, Malformed::BadArgc, 0, 1),
            (b"*abc\r\n", max, Malformed::BadArgc, 0, 1),
            (b"*2147483648\r\n", max, Malformed::BadArgc, 0, 10),
            (b"*1x\r\n", max, Malformed::ExpectedCrlf { got: b'x' }, 0, 2),
            (b"*1\n", max, Malformed::ExpectedCrlf { got: b'\n' }, 0, 2),
            (b"*1\rx", max, Malformed::ExpectedCrlf { got: b'x' }, 0, 3),
            (
                b"*1\r\n:3\r\n",
                max,
                Malformed::ExpectedBulk { got: b':' },
                4,
                4,
            ),
            (b"*1\r\n$-1\r\n", max, Malformed::BadBulkLength, 4, 5),
            (b"*1\r\n$ 3\r\n", max, Malformed::BadBulkLength, 4, 5),
            (
                b"*1\r\n$3 \r\n",
                max,
                Malformed::ExpectedCrlf { got: b' ' },
                4,
                6,
            ),
            (
                b"*1\r\n$99999999999999999999\r\n",
                max,
                Malformed::BadBulkLength,
                4,
                23,
            ),
            (
                b"*1\r\n$101\r\n",
                limited,
                Malformed::BulkTooLong { max: 100 },
                4,
                7,
            ),
            (
                b"*1\r\n$3\r\nSETxx",
                max,
                Malformed::ExpectedCrlf { got: b'x' },
                8,
                11,
            ),
            (
                b"*1\r\n$3\r\nSET\rx",
                max,
                Malformed::ExpectedCrlf { got: b'x' },
                8,
                12,
            ),
            (
                b"*2\r\n$3\r\nGET\r\n*1",
                max,
                Malformed::ExpectedBulk { got: b'*' },
                13,
                13,
            ),
            (b"\0", max, Malformed::ExpectedArray { got: 0 }, 0, 0),
            (b"REDI", max, Malformed::ExpectedArray { got: b'R' }, 0, 0),
        ];
        for (bytes, options, error, element, byte) in cases {
            let (events, report) = collect(&mut AofReader::new(), bytes, &options);
            assert!(events.is_empty());
            let c = corruption(&report);
            let shown = String::from_utf8_lossy(bytes);
            assert_eq!(c.error, error, "{shown:?}");
            assert_eq!(
                (c.record, c.element, c.byte),
                (0, element, byte),
                "{shown:?}"
            );
            assert_eq!(report.check_ok_up_to, 0);
            // Every proper prefix is only torn.
            for cut in 0..byte as usize {
                let (_, report) = collect(&mut AofReader::new(), &bytes[..cut], &options);
                assert!(
                    !matches!(report.end, End::Corrupt(_)),
                    "{shown:?} cut at {cut}: {:?}",
                    report.end
                );
            }
        }
        // Leading zeros are numbers like any other, as for Redis.
        let (events, report) = read_both_ways(b"*01\r\n$003\r\nGET\r\n");
        assert_eq!(report.end, End::Clean);
        assert_eq!(events[0], Owned::Command(vec![b"GET".to_vec()], 0, 16));
    }

    #[test]
    fn nested_multi_and_exec_without_multi_are_corruption() {
        let head = file(&[cmd("SET a 1"), cmd("MULTI"), cmd("SET b 2")]);
        let nested = [&head[..], &cmd("multi")[..]].concat();
        let (events, report) = read_both_ways(&nested);
        assert_eq!(commands(&events), 3);
        let c = corruption(&report);
        assert_eq!(c.error, Malformed::NestedMulti);
        assert_eq!(c.record, head.len() as u64);
        assert_eq!(c.element, head.len() as u64 + 8);
        let multi_at = cmd("SET a 1").len() as u64;
        assert_eq!(report.check_ok_up_to, multi_at);
        assert_eq!(report.check_line, 1 + 7 + 3 + 7 + 3);
        let stray = [&cmd("SET a 1")[..], &cmd("Exec")[..]].concat();
        let (_, report) = read_both_ways(&stray);
        let c = corruption(&report);
        assert_eq!(c.error, Malformed::ExecWithoutMulti);
        assert_eq!((c.record, report.check_ok_up_to), (multi_at, multi_at));
    }

    #[test]
    fn huge_declared_lengths_reserve_nothing() {
        let cases: [&[u8]; 3] = [
            b"*1\r\n$2000000000\r\nabc",
            b"*2000000000\r\n$1\r\na\r\n",
            b"*1\r\n$9223372036854775805\r\nabc",
        ];
        for bytes in cases {
            let mut reader = AofReader::with_buffer_size(64);
            let (_, report) = collect(&mut reader, bytes, &ReadOptions::default());
            assert_eq!(truncation(&report).cut, Cut::TornCommand);
            assert!(
                reader.buf.capacity() <= 2 * MIN_READ,
                "{}",
                reader.buf.capacity()
            );
            assert!(reader.ranges.capacity() <= 4);
        }
        // Nor from a stream that hands out a few bytes a read (a pipe), however many reads.
        let mut bytes = b"*1\r\n$2000000000\r\n".to_vec();
        bytes.extend_from_slice(&[b'x'; 20_000]);
        let source = Chunked {
            data: bytes.clone(),
            at: 0,
            rng: SmallRng::seed_from_u64(7),
            max: 16,
        };
        let mut reader = AofReader::with_buffer_size(64);
        let (_, report) = collect(&mut reader, source, &ReadOptions::default());
        assert_eq!(truncation(&report).cut, Cut::TornCommand);
        assert!(
            reader.buf.capacity() <= 2 * bytes.len() + MIN_READ,
            "{}",
            reader.buf.capacity()
        );
        // With the file size known the buffer stays within it.
        let dir = std::env::temp_dir().join(format!("kopi-aof-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("huge.aof");
        let mut bytes = cmd("SET a 1");
        bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2000000000\r\n");
        bytes.extend_from_slice(&[b'x'; 300_000]);
        std::fs::write(&path, &bytes).unwrap();
        let mut reader = AofReader::with_buffer_size(1024);
        let report = reader
            .read_file(&path, &ReadOptions::default(), |_| -> Result<(), ()> {
                Ok(())
            })
            .unwrap();
        assert_eq!(truncation(&report).valid_up_to, cmd("SET a 1").len() as u64);
        assert!(reader.buf.capacity() <= bytes.len() + MIN_READ);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn large_arguments_grow_the_buffer_and_give_it_back() {
        let big = vec![b'v'; 3_000_000];
        let bytes = [
            &encode(&[b"SET", b"big", &big])[..],
            &cmd("SET small 1")[..],
        ]
        .concat();
        let mut reader = AofReader::with_buffer_size(4096);
        let (events, report) = read_both_ways(&bytes);
        assert_eq!(report.end, End::Clean);
        assert_eq!(events.len(), 2);
        let (again, _) = collect(&mut reader, &bytes[..], &ReadOptions::default());
        assert_eq!(events, again);
        // The memory goes back once the large record is behind.
        assert!(
            reader.buf.capacity() <= 4 * 4096,
            "{}",
            reader.buf.capacity()
        );
    }

    #[test]
    fn an_rdb_file_is_reported_and_its_tail_read_from_an_offset() {
        let (events, report) = read_both_ways(b"REDIS0010\xfa\x09redis-ver");
        assert!(events.is_empty());
        assert_eq!(report.end, End::RdbPreamble);
        // Old-style preamble: the RESP tail read from where the RDB part ends.
        let rdb = b"REDIS0010\xff\x00\x01\x02\x03\x04\x05\x06\x07".to_vec();
        let tail = file(&[cmd("SET a 1"), cmd("SET b 2")]);
        let dir = std::env::temp_dir().join(format!("kopi-aof-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("appendonly.aof");
        std::fs::write(&path, [&rdb[..], &tail[..]].concat()).unwrap();
        let options = ReadOptions {
            start_offset: rdb.len() as u64,
            ..ReadOptions::default()
        };
        let mut offsets = Vec::new();
        let report = AofReader::new()
            .read_file(&path, &options, |e| -> Result<(), ()> {
                if let Event::Command(c) = e {
                    offsets.push((c.offset, c.end));
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(report.end, End::Clean);
        let first = rdb.len() as u64;
        let second = first + cmd("SET a 1").len() as u64;
        assert_eq!(
            offsets,
            vec![(first, second), (second, first + tail.len() as u64)]
        );
        assert_eq!(report.check_ok_up_to, first + tail.len() as u64);
        // A torn tail command: nothing to keep but the RDB part (Redis would keep nothing).
        std::fs::write(&path, [&rdb[..], &tail[..5]].concat()).unwrap();
        let report = AofReader::new()
            .read_file(&path, &options, |_| -> Result<(), ()> { Ok(()) })
            .unwrap();
        assert_eq!(truncation(&report).valid_up_to, first);
        assert_eq!(truncation(&report).redis_truncates_to, Some(0));
        std::fs::write(&path, [&rdb[..], &tail[..tail.len() - 1]].concat()).unwrap();
        let report = AofReader::new()
            .read_file(&path, &options, |_| -> Result<(), ()> { Ok(()) })
            .unwrap();
        assert_eq!(truncation(&report).valid_up_to, second);
        assert_eq!(truncation(&report).redis_truncates_to, Some(second));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_line_counter_continues_from_the_previous_file() {
        let options = ReadOptions {
            start_line: 160,
            ..ReadOptions::default()
        };
        let (_, report) = collect(&mut AofReader::new(), &cmd("SET a 1")[..], &options);
        assert_eq!(report.check_line, 167);
    }

    #[test]
    fn truncate_file_cuts_and_never_lengthens() {
        let dir = std::env::temp_dir().join(format!("kopi-aof-trunc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("appendonly.aof.1.incr.aof");
        let bytes = torn_inside_multi();
        std::fs::write(&path, &bytes).unwrap();
        let report = AofReader::new()
            .read_file(&path, &ReadOptions::default(), |_| -> Result<(), ()> {
                Ok(())
            })
            .unwrap();
        truncate_file(&path, truncation(&report).valid_up_to).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes[..50].to_vec());
        let err = truncate_file(&path, 51).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 50);
        assert!(truncate_file(&dir.join("missing"), 0).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_callback_can_stop_the_read() {
        let bytes = file(&[cmd("SET a 1"), cmd("BOGUS x"), cmd("SET b 2")]);
        let mut seen = 0;
        let result = AofReader::new().read(&bytes[..], &ReadOptions::default(), |e| {
            if let Event::Command(c) = e {
                seen += 1;
                if c.name() == b"BOGUS" {
                    return Err(format!("unknown command at {}", c.offset));
                }
            }
            Ok(())
        });
        match result {
            Err(ReadError::Stopped(message)) => assert_eq!(message, "unknown command at 27"),
            other => panic!("{other:?}"),
        }
        assert_eq!(seen, 2);
    }

    #[test]
    fn io_errors_are_returned() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let result =
            AofReader::new().read(Failing, &ReadOptions::default(), |_| -> Result<(), ()> {
                Ok(())
            });
        assert!(matches!(result, Err(ReadError::Io(e)) if e.to_string() == "disk on fire"));
    }

    #[test]
    fn the_argument_vector_keeps_its_allocation() {
        let mut args: Vec<&[u8]> = Vec::with_capacity(64);
        let local = b"abc".to_vec();
        args.push(&local);
        let pointer = args.as_ptr() as usize;
        let recycled: Vec<&'static [u8]> = recycle(args);
        assert!(recycled.is_empty());
        assert_eq!(recycled.capacity(), 64);
        assert_eq!(recycled.as_ptr() as usize, pointer);
    }

    /// A random argument: mostly short, sometimes protocol characters, sometimes long.
    fn random_arg(rng: &mut SmallRng) -> Vec<u8> {
        let len = match rng.random_range(0..20) {
            0 => 0,
            1 => rng.random_range(1000..20_000),
            _ => rng.random_range(1..24),
        };
        (0..len)
            .map(|_| match rng.random_range(0..8) {
                0 => b"\r\n*$#\0"[rng.random_range(0..6)],
                _ => rng.random(),
            })
            .collect()
    }

    #[test]
    fn random_files_read_back_identically_however_they_are_split() {
        for seed in 0..60u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut bytes = Vec::new();
            let mut expected = Vec::new();
            let mut in_multi = false;
            for _ in 0..rng.random_range(0..120) {
                let offset = bytes.len() as u64;
                if rng.random_ratio(1, 8) {
                    let seconds = rng.random_range(0..2_000_000_000i64);
                    bytes.extend_from_slice(format!("#TS:{seconds}\r\n").as_bytes());
                    expected.push(Owned::Annotation(
                        format!("TS:{seconds}").into_bytes(),
                        offset,
                        Some(seconds),
                    ));
                    continue;
                }
                let args: Vec<Vec<u8>> = if rng.random_ratio(1, 10) {
                    in_multi = !in_multi;
                    vec![if in_multi {
                        b"MULTI".to_vec()
                    } else {
                        b"exec".to_vec()
                    }]
                } else {
                    let mut args = vec![b"SET".to_vec()];
                    for _ in 0..rng.random_range(0..6) {
                        args.push(random_arg(&mut rng));
                    }
                    args
                };
                let borrowed: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                bytes.extend_from_slice(&encode(&borrowed));
                expected.push(Owned::Command(args, offset, bytes.len() as u64));
            }
            if in_multi {
                bytes.extend_from_slice(&cmd("EXEC"));
                let args = vec![b"EXEC".to_vec()];
                let offset = (bytes.len() - cmd("EXEC").len()) as u64;
                expected.push(Owned::Command(args, offset, bytes.len() as u64));
            }
            for round in 0..4 {
                let source = Chunked {
                    data: bytes.clone(),
                    at: 0,
                    rng: SmallRng::seed_from_u64(seed * 10 + round),
                    max: [1, 5, 300, 100_000][round as usize],
                };
                let buffer = [1, 7, 64, 65536][(seed % 4) as usize];
                let mut reader = AofReader::with_buffer_size(buffer);
                let (events, report) = collect(&mut reader, source, &ReadOptions::default());
                assert_eq!(events, expected, "seed {seed} round {round}");
                assert_eq!(report.end, End::Clean, "seed {seed} round {round}");
                assert_eq!(report.check_ok_up_to, bytes.len() as u64);
            }
            // Cut anywhere: never corrupt, and what is kept is a prefix of the events.
            for _ in 0..20 {
                let cut = rng.random_range(0..=bytes.len());
                let (events, report) = read_bytes(&bytes[..cut]);
                assert!(
                    !matches!(report.end, End::Corrupt(_)),
                    "seed {seed} cut {cut}"
                );
                assert_eq!(
                    events[..],
                    expected[..events.len()],
                    "seed {seed} cut {cut}"
                );
            }
        }
    }
}
