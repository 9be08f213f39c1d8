//! The AOF reader against files a real `redis-server` 7.0 wrote, and against the verdicts of
//! `redis-check-aof` and `redis-server` itself on damaged copies of them.
//!
//! 1. A redis-server with `appendonly yes`, RESP bases and `#TS:` annotations receives a few
//!    hundred writes (SET with EX, INCR, DEL, EXPIRE, MULTI/EXEC, SELECT 3), with one
//!    BGREWRITEAOF in the middle. A model of the dataset predicts what Redis logs for each
//!    (SET ... EX becomes SET ... PXAT, EXPIRE becomes PEXPIREAT, a DEL of a missing key and
//!    reads log nothing, a transaction with one write is not wrapped, SELECT only when the
//!    database changes and at the start of every incr file). Every file the manifest lists
//!    must read clean, with exactly the predicted commands; the rewritten base must hold the
//!    dataset as it was at the rewrite.
//! 2. Copies of the last incr file are torn, overwritten with garbage and zero-filled:
//!    `ok_up_to`, `ok_up_to_line` and the error offset must be what `redis-check-aof` prints,
//!    and for a set of cases `redis-server` itself must load or refuse, and truncate to the
//!    offset the reader predicts.
//!
//! `redis-server` or `redis-check-aof` missing from PATH: skipped loudly, or failed when `CI`
//! is set.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use common::{Raw, RedisServer, require_program};
use kopi::persistence::aof_reader::{
    AofReader, Cut, End, Event, Malformed, ReadOptions, Report, truncate_file,
};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kopi-aof-interop-{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How redis-server runs here: AOF on, RESP base, timestamp annotations.
const REDIS_ARGS: &[&str] = &[
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "no",
    "--aof-use-rdb-preamble",
    "no",
    "--aof-timestamp-enabled",
    "yes",
];

/// Starts redis-server on `dir` (the test's: kept) with AOF on.
fn start_redis(program: &Path, dir: &Path) -> RedisServer {
    RedisServer::start_in(program, dir, REDIS_ARGS)
}

/// Waits until the server has loaded its data (or exited); returns its log.
fn loaded(redis: &mut RedisServer) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let exited = matches!(redis.child.try_wait(), Ok(Some(_)));
        let log = redis.log_text();
        if exited || log.contains("eady to accept connections") {
            return log;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "redis-server neither loaded nor exited:\n{}",
        redis.log_text()
    );
}

/// Starts redis-server on `data` without a TCP listener, lets it load its AOF (with
/// `aof-load-truncated yes`), stops it and returns its log.
fn load_redis(program: &Path, data: &Path) -> String {
    let socket = data.join("redis.sock").display().to_string();
    let mut args = REDIS_ARGS.to_vec();
    args.extend_from_slice(&["--aof-load-truncated", "yes", "--unixsocket", &socket]);
    let mut redis = RedisServer::spawn(program, data, 0, &args);
    let log = loaded(&mut redis);
    redis.stop();
    log
}

/// One expected argument: exact bytes, or an absolute deadline in milliseconds within a range.
#[derive(Debug, Clone)]
enum Arg {
    Exact(Vec<u8>),
    Deadline(i64, i64),
}

impl Arg {
    fn matches(&self, got: &[u8]) -> bool {
        match self {
            Arg::Exact(bytes) => bytes == got,
            Arg::Deadline(lo, hi) => std::str::from_utf8(got)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .is_some_and(|ms| (*lo..=*hi).contains(&ms)),
        }
    }
}

fn exact(words: &[&[u8]]) -> Vec<Arg> {
    words.iter().map(|w| Arg::Exact(w.to_vec())).collect()
}

/// The TTL every expiring key gets: far enough that nothing expires during the test.
const TTL_S: i64 = 50_000;

#[derive(Debug, Clone, PartialEq)]
struct Key {
    value: Vec<u8>,
    /// The window the deadline was set in, when the key has one.
    deadline: Option<(i64, i64)>,
}

/// A write that always changes the dataset, so it can be queued in MULTI.
#[derive(Debug, Clone)]
enum Write {
    Set {
        name: Vec<u8>,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    SetEx {
        name: Vec<u8>,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Incr {
        name: Vec<u8>,
        key: Vec<u8>,
    },
}

impl Write {
    fn sent(&self) -> Vec<Vec<u8>> {
        match self {
            Write::Set { name, key, value } => vec![name.clone(), key.clone(), value.clone()],
            Write::SetEx { name, key, value } => vec![
                name.clone(),
                key.clone(),
                value.clone(),
                b"EX".to_vec(),
                TTL_S.to_string().into_bytes(),
            ],
            Write::Incr { name, key } => vec![name.clone(), key.clone()],
        }
    }

    /// What Redis 7.0 logs for it, when it ran between `lo` and `hi` (ms).
    fn logged(&self, lo: i64, hi: i64) -> Vec<Arg> {
        match self {
            Write::Set { name, key, value } => exact(&[name, key, value]),
            Write::SetEx { key, value, .. } => {
                let mut args = exact(&[b"SET", key, value, b"PXAT"]);
                args.push(Arg::Deadline(lo + TTL_S * 1000, hi + TTL_S * 1000));
                args
            }
            Write::Incr { name, key } => exact(&[name, key]),
        }
    }

    fn apply(&self, model: &mut Model, lo: i64, hi: i64) {
        let db = model.db;
        match self {
            Write::Set { key, value, .. } => {
                let entry = Key {
                    value: value.clone(),
                    deadline: None,
                };
                model.data.insert((db, key.clone()), entry);
            }
            Write::SetEx { key, value, .. } => {
                let deadline = Some((lo + TTL_S * 1000, hi + TTL_S * 1000));
                let entry = Key {
                    value: value.clone(),
                    deadline,
                };
                model.data.insert((db, key.clone()), entry);
            }
            Write::Incr { key, .. } => {
                let entry = model.data.entry((db, key.clone())).or_insert(Key {
                    value: b"0".to_vec(),
                    deadline: None,
                });
                let n: i64 = std::str::from_utf8(&entry.value).unwrap().parse().unwrap();
                entry.value = (n + 1).to_string().into_bytes();
            }
        }
    }
}

/// The dataset and the commands Redis is expected to log, in order.
#[derive(Default)]
struct Model {
    data: BTreeMap<(u8, Vec<u8>), Key>,
    db: u8,
    /// The database the AOF last selected (`None` at the start of an incr file).
    selected: Option<u8>,
    logged: Vec<Vec<Arg>>,
}

impl Model {
    /// Logs a command, after a SELECT when the current database is not the AOF's.
    fn log(&mut self, command: Vec<Arg>) {
        if self.selected != Some(self.db) {
            let db = self.db.to_string();
            self.logged.push(exact(&[b"SELECT", db.as_bytes()]));
            self.selected = Some(self.db);
        }
        self.logged.push(command);
    }
}

/// A client whose every command is mirrored in the model.
struct Workload {
    raw: Raw,
    rng: SmallRng,
    model: Model,
    transactions: usize,
}

impl Workload {
    fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        self.raw.send_cmd(&args);
        self.raw.read_reply()
    }

    fn spelling(&mut self, name: &str) -> Vec<u8> {
        if self.rng.random_bool(0.5) {
            name.to_ascii_lowercase().into_bytes()
        } else {
            name.as_bytes().to_vec()
        }
    }

    fn key(&mut self) -> Vec<u8> {
        format!("key:{}", self.rng.random_range(0..12)).into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..10) {
            0 => Vec::new(),
            1 => b"binary\r\n*2\r\n$3\0".to_vec(),
            2 => vec![b'x'; self.rng.random_range(100..3000)],
            _ => format!("v{}", self.rng.random_range(0..1_000_000)).into_bytes(),
        }
    }

    fn write(&mut self) -> Write {
        match self.rng.random_range(0..3) {
            0 => Write::Set {
                name: self.spelling("SET"),
                key: self.key(),
                value: self.value(),
            },
            1 => Write::SetEx {
                name: self.spelling("SET"),
                key: self.key(),
                value: self.value(),
            },
            _ => Write::Incr {
                name: self.spelling("INCR"),
                key: format!("ctr:{}", self.rng.random_range(0..4)).into_bytes(),
            },
        }
    }

    fn step(&mut self) {
        match self.rng.random_range(0..20) {
            0..=7 => {
                let write = self.write();
                let lo = now_ms();
                let reply = self.call(&write.sent());
                let hi = now_ms();
                assert!(reply == b"+OK\r\n" || reply[0] == b':', "{reply:?}");
                self.model.log(write.logged(lo, hi));
                write.apply(&mut self.model, lo, hi);
            }
            8..=9 => {
                let (name, key) = (self.spelling("DEL"), self.key());
                let exists = self.model.data.contains_key(&(self.model.db, key.clone()));
                let reply = self.call(&[name.clone(), key.clone()]);
                assert_eq!(reply, if exists { b":1\r\n" } else { b":0\r\n" });
                if exists {
                    self.model.log(exact(&[&name, &key]));
                    self.model.data.remove(&(self.model.db, key));
                }
            }
            10..=11 => {
                let (name, key) = (self.spelling("EXPIRE"), self.key());
                let lo = now_ms();
                let reply = self.call(&[name, key.clone(), TTL_S.to_string().into_bytes()]);
                let hi = now_ms();
                let db = self.model.db;
                match self.model.data.get_mut(&(db, key.clone())) {
                    Some(entry) => {
                        assert_eq!(reply, b":1\r\n");
                        entry.deadline = Some((lo + TTL_S * 1000, hi + TTL_S * 1000));
                        let mut logged = exact(&[b"PEXPIREAT", &key]);
                        logged.push(Arg::Deadline(lo + TTL_S * 1000, hi + TTL_S * 1000));
                        self.model.log(logged);
                    }
                    None => assert_eq!(reply, b":0\r\n"),
                }
            }
            12..=13 => {
                let db: u8 = if self.rng.random_bool(0.5) { 0 } else { 3 };
                let name = self.spelling("SELECT");
                assert_eq!(self.call(&[name, db.to_string().into_bytes()]), b"+OK\r\n");
                self.model.db = db;
            }
            14..=15 => {
                // Reads log nothing.
                let key = self.key();
                let reply = self.call(&[b"GET".to_vec(), key.clone()]);
                let expected = match self.model.data.get(&(self.model.db, key)) {
                    Some(entry) => {
                        let mut bulk = format!("${}\r\n", entry.value.len()).into_bytes();
                        bulk.extend_from_slice(&entry.value);
                        bulk.extend_from_slice(b"\r\n");
                        bulk
                    }
                    None => b"$-1\r\n".to_vec(),
                };
                assert_eq!(reply, expected);
            }
            _ => {
                let writes: Vec<Write> = (0..self.rng.random_range(1..=3))
                    .map(|_| self.write())
                    .collect();
                let lo = now_ms();
                let multi = self.spelling("MULTI");
                assert_eq!(self.call(&[multi]), b"+OK\r\n");
                for write in &writes {
                    assert_eq!(self.call(&write.sent()), b"+QUEUED\r\n");
                }
                let exec = self.spelling("EXEC");
                let reply = self.call(&[exec]);
                let hi = now_ms();
                assert!(reply.starts_with(format!("*{}\r\n", writes.len()).as_bytes()));
                if writes.len() == 1 {
                    // A transaction with one write is logged as that write alone.
                    self.model.log(writes[0].logged(lo, hi));
                } else {
                    self.model.log(exact(&[b"MULTI"]));
                    for write in &writes {
                        self.model.logged.push(write.logged(lo, hi));
                    }
                    self.model.logged.push(exact(&[b"EXEC"]));
                    self.transactions += 1;
                }
                for write in &writes {
                    write.apply(&mut self.model, lo, hi);
                }
            }
        }
    }
}

/// Everything read from one file.
struct Contents {
    report: Report,
    commands: Vec<Vec<Vec<u8>>>,
    /// (kind, offset, end, inside a transaction) of every record: `*` or `#`.
    records: Vec<(u8, u64, u64, bool)>,
    timestamps: Vec<i64>,
}

fn read_file(path: &Path, options: &ReadOptions) -> Contents {
    let mut contents = Contents {
        report: Report {
            end: End::Clean,
            commands: 0,
            annotations: 0,
            last_command_end: 0,
            first_timestamp: None,
            last_timestamp: None,
            check_ok_up_to: 0,
            check_line: 0,
        },
        commands: Vec::new(),
        records: Vec::new(),
        timestamps: Vec::new(),
    };
    let mut in_multi = false;
    let report = AofReader::new()
        .read_file(path, options, |event| -> Result<(), ()> {
            match event {
                Event::Command(c) => {
                    if c.name().eq_ignore_ascii_case(b"exec") {
                        in_multi = false;
                    }
                    contents.records.push((b'*', c.offset, c.end, in_multi));
                    if c.name().eq_ignore_ascii_case(b"multi") {
                        in_multi = true;
                    }
                    contents
                        .commands
                        .push(c.args.iter().map(|a| a.to_vec()).collect());
                }
                Event::Annotation(a) => {
                    contents.records.push((b'#', a.offset, a.end, in_multi));
                    contents.timestamps.extend(a.timestamp);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    contents.report = report;
    contents
}

fn show(args: &[Vec<u8>]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
        .collect();
    words.join(" ")
}

fn assert_logged(file: &str, got: &[Vec<Vec<u8>>], expected: &[Vec<Arg>]) {
    for (i, (got, expected)) in got.iter().zip(expected).enumerate() {
        let same =
            got.len() == expected.len() && got.iter().zip(expected).all(|(g, e)| e.matches(g));
        assert!(
            same,
            "{file}: command {i} is `{}`, expected {expected:?}",
            show(got)
        );
    }
    assert_eq!(got.len(), expected.len(), "{file}: command count");
}

/// The manifest's `file <name> seq <n> type <t>` lines, in order.
fn manifest(dir: &Path) -> Vec<(String, char)> {
    let text = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words.len(), 6, "manifest line {line:?}");
            assert_eq!((words[0], words[2], words[4]), ("file", "seq", "type"));
            (words[1].to_string(), words[5].chars().next().unwrap())
        })
        .collect()
}

/// The files a load reads: the base, then the incr files in order.
fn listed(dir: &Path) -> Vec<(String, char)> {
    let lines = manifest(dir);
    let mut files: Vec<(String, char)> = lines.iter().filter(|l| l.1 == 'b').cloned().collect();
    files.extend(lines.iter().filter(|l| l.1 == 'i').cloned());
    files
}

/// What redis-check-aof said about one file.
#[derive(Debug)]
struct Verdict {
    valid: bool,
    ok_up_to: u64,
    line: u64,
    /// The offset of its `0x...: message` line, if it printed one.
    error_at: Option<u64>,
}

fn field(line: &str, name: &str) -> u64 {
    let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// Runs redis-check-aof on `path`; one verdict per file it analyzed.
fn check_aof(program: &Path, path: &Path) -> (Vec<Verdict>, String) {
    let output = Command::new(program).arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut verdicts = Vec::new();
    let mut error_at = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("0x") {
            let hex = rest.split(':').next().unwrap().trim();
            error_at = Some(u64::from_str_radix(hex, 16).unwrap());
        }
        if line.starts_with("AOF analyzed:") {
            verdicts.push(Verdict {
                valid: field(line, "diff") == 0,
                ok_up_to: field(line, "ok_up_to"),
                line: field(line, "ok_up_to_line"),
                error_at: error_at.take(),
            });
        }
    }
    assert_eq!(
        output.status.success(),
        verdicts.iter().all(|v| v.valid),
        "{text}"
    );
    (verdicts, text)
}

/// Does redis-check-aof consider this outcome valid?
fn checker_accepts(report: &Report) -> bool {
    match &report.end {
        End::Clean => true,
        End::Truncated(t) => t.cut == Cut::TornAnnotation && t.open_multi.is_none(),
        _ => false,
    }
}

/// The expectations here are Redis 7.0's (7.2 moves SELECT into MULTI, for one).
fn require_redis_7_0(server: &Path) {
    let version = Command::new(server).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.contains("v=7.0."),
        "this test describes what Redis 7.0 does; found {version}"
    );
}

/// The offset in a line such as `!!! Truncating the AOF appendonly.aof at offset 133 !!!`.
fn truncation_offset(log: &str, file: &str) -> Option<u64> {
    let marker = format!("!!! Truncating the AOF {file} at offset ");
    log.lines().find_map(|line| {
        let rest = line.split(&marker).nth(1)?;
        rest.trim_end_matches(" !!!").parse::<u64>().ok()
    })
}

#[test]
fn reads_what_redis_writes_and_judges_damage_as_redis_does() {
    let Some(server) = require_program("redis-server", "aof_reader_interop") else {
        return;
    };
    let Some(checker) = require_program("redis-check-aof", "aof_reader_interop") else {
        return;
    };
    require_redis_7_0(&server);

    let root = scratch_dir("redis");
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let aof_dir = data.join("appendonlydir");
    let mut redis = start_redis(&server, &data);
    let seed = now_ms() as u64;
    println!("seed {seed}");
    let start_s = now_ms() / 1000;
    let mut work = Workload {
        raw: Raw::connect(redis.port),
        rng: SmallRng::seed_from_u64(seed),
        model: Model::default(),
        transactions: 0,
    };

    // Phase 1: the first incr file.
    for _ in 0..200 {
        work.step();
    }
    let files = listed(&aof_dir);
    assert_eq!(
        files,
        vec![
            ("appendonly.aof.1.base.aof".to_string(), 'b'),
            ("appendonly.aof.1.incr.aof".to_string(), 'i')
        ]
    );
    // The base of an empty dataset: a timestamp and nothing else.
    let base = read_file(&aof_dir.join(&files[0].0), &ReadOptions::default());
    assert_eq!(base.report.end, End::Clean);
    assert_eq!((base.report.commands, base.report.annotations), (0, 1));
    let incr = read_file(&aof_dir.join(&files[1].0), &ReadOptions::default());
    assert_eq!(incr.report.end, End::Clean);
    assert_logged(&files[1].0, &incr.commands, &work.model.logged);

    // The rewrite: a new base with the dataset as it is now, a new incr file.
    assert_eq!(
        work.call(&[b"BGREWRITEAOF".to_vec()]),
        b"+Background append only file rewriting started\r\n"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while manifest(&aof_dir).iter().any(|l| l.1 == 'h')
        || !manifest(&aof_dir)
            .iter()
            .any(|l| l.0 == "appendonly.aof.2.base.aof")
    {
        assert!(Instant::now() < deadline, "BGREWRITEAOF did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    let snapshot = work.model.data.clone();
    work.model.selected = None;
    work.model.logged.clear();

    // Phase 2, across a second boundary so that the file has a timestamp inside.
    for i in 0..240 {
        if i == 120 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        work.step();
    }
    let files = listed(&aof_dir);
    assert_eq!(
        files,
        vec![
            ("appendonly.aof.2.base.aof".to_string(), 'b'),
            ("appendonly.aof.2.incr.aof".to_string(), 'i')
        ]
    );
    let base_path = aof_dir.join(&files[0].0);
    let incr_path = aof_dir.join(&files[1].0);
    let base = read_file(&base_path, &ReadOptions::default());
    assert_eq!(base.report.end, End::Clean);
    assert_eq!(
        base.records[0].0, b'#',
        "a RESP base starts with its timestamp"
    );
    // The base holds the snapshot: SELECT, then SET and PEXPIREAT per key.
    let mut rebuilt: BTreeMap<(u8, Vec<u8>), Key> = BTreeMap::new();
    let mut db = 0u8;
    for args in &base.commands {
        match &args[0][..] {
            b"SELECT" => db = std::str::from_utf8(&args[1]).unwrap().parse().unwrap(),
            b"SET" if args.len() == 3 => {
                let key = Key {
                    value: args[2].clone(),
                    deadline: None,
                };
                rebuilt.insert((db, args[1].clone()), key);
            }
            b"PEXPIREAT" => {
                let ms: i64 = std::str::from_utf8(&args[2]).unwrap().parse().unwrap();
                let entry = rebuilt
                    .get_mut(&(db, args[1].clone()))
                    .expect("PEXPIREAT of a set key");
                entry.deadline = Some((ms, ms));
            }
            _ => panic!("unexpected command in the base: {}", show(args)),
        }
    }
    assert_eq!(rebuilt.len(), snapshot.len());
    for (key, expected) in &snapshot {
        let got = &rebuilt[key];
        assert_eq!(got.value, expected.value, "{key:?}");
        match (got.deadline, expected.deadline) {
            (None, None) => {}
            (Some((ms, _)), Some((lo, hi))) => assert!((lo..=hi).contains(&ms), "{key:?}"),
            other => panic!("{key:?}: deadlines {other:?}"),
        }
    }
    let incr = read_file(&incr_path, &ReadOptions::default());
    assert_eq!(incr.report.end, End::Clean);
    assert_logged(&files[1].0, &incr.commands, &work.model.logged);
    assert!(work.transactions >= 3, "too few transactions to test");
    let end_s = now_ms() / 1000;
    // A timestamp comes before the first write of every new second (none when the file's
    // first write falls in the second the base was stamped with).
    let inside = incr.records.iter().skip(1).filter(|r| r.0 == b'#').count();
    assert!(inside >= 1, "{:?}", incr.timestamps);
    assert!(incr.timestamps.windows(2).all(|w| w[0] < w[1]));
    assert!(
        incr.timestamps
            .iter()
            .all(|t| (start_s..=end_s).contains(t))
    );

    // redis-check-aof on the manifest: valid, and its line counter runs across the files.
    let (verdicts, text) = check_aof(&checker, &aof_dir.join("appendonly.aof.manifest"));
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
    let incr_options = ReadOptions {
        start_line: base.report.check_line,
        ..ReadOptions::default()
    };
    let incr_continued = read_file(&incr_path, &incr_options);
    let ours = [&base.report, &incr_continued.report];
    for (verdict, report) in verdicts.iter().zip(ours) {
        assert_eq!(
            (verdict.ok_up_to, verdict.line),
            (report.check_ok_up_to, report.check_line)
        );
    }
    assert_eq!(verdicts.len(), 2);

    drop(work);
    redis.stop();
    judge_damaged_copies(&server, &checker, &root, &aof_dir, &incr, seed);
    let _ = std::fs::remove_dir_all(&root);
}

/// A damaged copy of the incr file and why it is interesting.
struct Case {
    name: String,
    bytes: Vec<u8>,
    /// Only cut short: everything in it is what Redis wrote.
    prefix: bool,
}

fn judge_damaged_copies(
    server: &Path,
    checker: &Path,
    root: &Path,
    aof_dir: &Path,
    incr: &Contents,
    seed: u64,
) {
    let original = std::fs::read(aof_dir.join("appendonly.aof.2.incr.aof")).unwrap();
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed);
    let mut cases = Vec::new();
    for (i, &(kind, offset, end, in_multi)) in incr.records.iter().enumerate() {
        let (offset, end) = (offset as usize, end as usize);
        let what = if in_multi { "in a transaction" } else { "" };
        if i % 4 != 0 && !in_multi && kind != b'#' {
            continue;
        }
        if i % 8 == 0 || in_multi || kind == b'#' {
            cases.push(Case {
                name: format!("cut before record {i} {what}"),
                bytes: original[..offset].to_vec(),
                prefix: true,
            });
        }
        let cut = rng.random_range(offset + 1..end);
        cases.push(Case {
            name: format!("record {i} ({}) torn at {cut} {what}", kind as char),
            bytes: original[..cut].to_vec(),
            prefix: true,
        });
    }
    const GARBAGE: &[u8] = b"!%&()?@^_~XYZxyz";
    for n in 0..80 {
        // Half anywhere (mostly inside payloads, harmless), half near a record's start.
        let at = if n % 2 == 0 {
            rng.random_range(0..original.len())
        } else {
            let record = incr.records[rng.random_range(0..incr.records.len())];
            (record.1 as usize + rng.random_range(0..16)).min(original.len() - 1)
        };
        let mut bytes = original.clone();
        for b in bytes.iter_mut().skip(at).take(rng.random_range(1..=4)) {
            *b = GARBAGE[rng.random_range(0..GARBAGE.len())];
        }
        cases.push(Case {
            name: format!("garbage at {at}"),
            bytes,
            prefix: false,
        });
    }
    for _ in 0..20 {
        let at = rng.random_range(0..original.len());
        let zeros = rng.random_range(1..5000);
        let mut bytes = original[..at].to_vec();
        bytes.resize(at + zeros, 0);
        cases.push(Case {
            name: format!("{zeros} zeros from {at}"),
            bytes,
            prefix: false,
        });
    }
    let boundary = incr.records[incr.records.len() / 2].1 as usize;
    let mut bytes = original[..boundary].to_vec();
    bytes.extend_from_slice(b"!!!");
    bytes.extend_from_slice(&original[boundary..]);
    cases.push(Case {
        name: format!("!!! inserted at {boundary}"),
        bytes,
        prefix: false,
    });
    let mut bytes = original.clone();
    bytes.resize(original.len() + 8192, 0);
    cases.push(Case {
        name: "zero-filled tail".to_string(),
        bytes,
        prefix: false,
    });

    // redis-check-aof on every case (a single file: checked as an old-style AOF).
    let scratch = root.join("cases");
    std::fs::create_dir_all(&scratch).unwrap();
    let path = scratch.join("case.aof");
    let mut reports = Vec::new();
    for case in &cases {
        std::fs::write(&path, &case.bytes).unwrap();
        let ours = read_file(&path, &ReadOptions::default()).report;
        let (verdicts, text) = check_aof(checker, &path);
        if case.bytes.is_empty() {
            assert!(text.contains("is empty"), "{text}");
            assert_eq!((ours.end.clone(), ours.check_ok_up_to), (End::Clean, 0));
            reports.push(ours);
            continue;
        }
        let verdict = &verdicts[0];
        let context = format!("{}: ours {ours:?}\nredis-check-aof:\n{text}", case.name);
        assert_eq!(verdict.valid, checker_accepts(&ours), "{context}");
        assert_eq!(verdict.ok_up_to, ours.check_ok_up_to, "{context}");
        assert_eq!(verdict.line, ours.check_line, "{context}");
        if let End::Corrupt(c) = &ours.end {
            let printed = !matches!(
                c.error,
                Malformed::ExpectedArray { .. } | Malformed::AnnotationTooLong
            );
            if printed {
                assert_eq!(verdict.error_at, Some(c.element), "{context}");
            }
        }
        if matches!(ours.end, End::Truncated(_)) {
            // A torn file is a valid beginning: cutting it leaves a clean file.
            let End::Truncated(t) = ours.end else {
                unreachable!()
            };
            truncate_file(&path, t.valid_up_to).unwrap();
            assert_eq!(
                read_file(&path, &ReadOptions::default()).report.end,
                End::Clean
            );
        }
        reports.push(ours);
    }
    let count = |f: &dyn Fn(&End) -> bool| reports.iter().filter(|r| f(&r.end)).count();
    let torn_in_multi = |e: &End| matches!(e, End::Truncated(t) if t.cut == Cut::TornCommand && t.open_multi.is_some());
    println!(
        "{} damaged copies: {} clean, {} truncated, {} corrupt ({} with a zero tail)",
        cases.len(),
        count(&|e| matches!(e, End::Clean)),
        count(&|e| matches!(e, End::Truncated(_))),
        count(&|e| matches!(e, End::Corrupt(_))),
        count(&|e| matches!(e, End::Corrupt(c) if c.zero_tail)),
    );
    assert!(count(&|e| matches!(e, End::Clean)) > 10);
    assert!(count(&|e| matches!(e, End::Corrupt(c) if c.zero_tail)) > 5);
    assert!(count(&|e| matches!(e, End::Corrupt(c) if !c.zero_tail)) > 20);
    assert!(count(&torn_in_multi) > 0);
    for cut in [Cut::TornCommand, Cut::TornAnnotation, Cut::UnfinishedMulti] {
        assert!(
            count(&|e| matches!(e, End::Truncated(t) if t.cut == cut)) > 0,
            "{cut:?}"
        );
    }

    // redis-server itself on one case of each kind: it loads, truncates or refuses exactly
    // as predicted. Garbage is left out except where it breaks the framing in a way Redis
    // sees too: Redis does not check the `\r\n` after a payload, and garbage in a command
    // name is an unknown command to it.
    let last = cases.len() - 1;
    let mut picked: Vec<usize> = vec![last, last - 1];
    let kinds: [&dyn Fn(&End) -> bool; 5] = [
        &|e| matches!(e, End::Clean),
        &|e| matches!(e, End::Truncated(t) if t.cut == Cut::TornCommand && t.open_multi.is_none()),
        &torn_in_multi,
        &|e| matches!(e, End::Truncated(t) if t.cut == Cut::UnfinishedMulti),
        &|e| matches!(e, End::Truncated(t) if t.cut == Cut::TornAnnotation),
    ];
    for kind in kinds {
        // The last such case: the one with the most data before it.
        picked.extend(
            (0..cases.len())
                .rev()
                .find(|&i| cases[i].prefix && kind(&reports[i].end)),
        );
    }
    assert_eq!(picked.len(), 7);
    let base = std::fs::read(aof_dir.join("appendonly.aof.2.base.aof")).unwrap();
    let manifest = std::fs::read(aof_dir.join("appendonly.aof.manifest")).unwrap();
    for i in picked {
        let (case, ours) = (&cases[i], &reports[i]);
        let data = scratch.join(format!("server-{i}"));
        let dir = data.join("appendonlydir");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("appendonly.aof.manifest"), &manifest).unwrap();
        std::fs::write(dir.join("appendonly.aof.2.base.aof"), &base).unwrap();
        let incr_path = dir.join("appendonly.aof.2.incr.aof");
        std::fs::write(&incr_path, &case.bytes).unwrap();
        let log = load_redis(server, &data);
        let context = format!("{}: ours {ours:?}\nredis-server log:\n{log}", case.name);
        let truncated_at = truncation_offset(&log, "appendonly.aof.2.incr.aof");
        match &ours.end {
            End::Corrupt(_) => {
                assert!(
                    log.contains("Bad file format reading the append only file"),
                    "{context}"
                );
            }
            End::Clean => {
                assert!(log.contains("DB loaded from append only file"), "{context}");
                assert_eq!(truncated_at, None, "{context}");
            }
            End::Truncated(t) => {
                assert!(log.contains("DB loaded from append only file"), "{context}");
                assert_eq!(truncated_at, t.redis_truncates_to, "{context}");
                if let Some(at) = truncated_at {
                    assert_eq!(std::fs::metadata(&incr_path).unwrap().len(), at);
                }
                if t.open_multi.is_some() && t.cut == Cut::TornCommand {
                    // Redis left the MULTI in the file: the next load cuts it away, and with
                    // it whatever Redis appended after restarting.
                    let again = read_file(&incr_path, &ReadOptions::default()).report;
                    let End::Truncated(next) = again.end else {
                        panic!("{context}\nafter Redis's truncation: {again:?}")
                    };
                    assert_eq!(next.cut, Cut::UnfinishedMulti, "{context}");
                    assert_eq!(next.valid_up_to, t.valid_up_to, "{context}");
                } else if let Some(at) = truncated_at {
                    assert_eq!(at, t.valid_up_to, "{context}");
                    let cut = read_file(&incr_path, &ReadOptions::default()).report;
                    assert_eq!(cut.end, End::Clean, "{context}");
                }
            }
            End::RdbPreamble => unreachable!(),
        }
    }
}

/// An old-style AOF, an RDB file with a RESP tail: the RDB part is reported, the tail read
/// from where it ends, and a torn tail judged as Redis does (which, torn before its first
/// command, truncates the whole file away).
#[test]
fn rdb_preamble_and_its_tail() {
    let Some(server) = require_program("redis-server", "rdb_preamble_and_its_tail") else {
        return;
    };
    require_redis_7_0(&server);
    let root = scratch_dir("preamble");
    let make = root.join("make");
    std::fs::create_dir_all(&make).unwrap();
    let mut redis = start_redis(&server, &make);
    let mut raw = Raw::connect(redis.port);
    assert_eq!(raw.cmd(&["SET", "precious", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
    redis.stop();
    let rdb_path = make.join("dump.rdb");
    let rdb = std::fs::read(&rdb_path).unwrap();
    let whole = read_file(&rdb_path, &ReadOptions::default());
    assert_eq!(whole.report.end, End::RdbPreamble);
    assert_eq!(whole.report.commands, 0);

    let first = common::encode(&[b"SET", b"b", b"2"]);
    let second = common::encode(&[b"SET", b"c", b"3"]);
    let tail = [&first[..], &second[..]].concat();
    let rdb_end = rdb.len() as u64;
    // (tail bytes, valid_up_to when torn, the offset Redis truncates to)
    let cases: Vec<(Vec<u8>, Option<u64>, Option<u64>)> = vec![
        (tail.clone(), None, None),
        (
            tail[..tail.len() - 1].to_vec(),
            Some(rdb_end + first.len() as u64),
            Some(rdb_end + first.len() as u64),
        ),
        (tail[..5].to_vec(), Some(rdb_end), Some(0)),
    ];
    for (i, (tail, valid_up_to, redis_offset)) in cases.into_iter().enumerate() {
        let data = root.join(format!("case-{i}"));
        std::fs::create_dir_all(&data).unwrap();
        let path = data.join("appendonly.aof");
        std::fs::write(&path, [&rdb[..], &tail[..]].concat()).unwrap();
        assert_eq!(
            read_file(&path, &ReadOptions::default()).report.end,
            End::RdbPreamble
        );
        let options = ReadOptions {
            start_offset: rdb_end,
            ..ReadOptions::default()
        };
        let ours = read_file(&path, &options);
        match (&ours.report.end, valid_up_to) {
            (End::Clean, None) => assert_eq!(ours.report.commands, 2),
            (End::Truncated(t), Some(valid)) => {
                assert_eq!(t.cut, Cut::TornCommand);
                assert_eq!(t.valid_up_to, valid);
                assert_eq!(t.redis_truncates_to, redis_offset);
            }
            other => panic!("case {i}: {other:?}"),
        }
        // Redis moves the old-style file into the AOF directory, as its base, and loads it.
        let log = load_redis(&server, &data);
        assert!(log.contains("Reading the remaining AOF tail"), "{log}");
        assert!(log.contains("DB loaded from append only file"), "{log}");
        assert_eq!(
            truncation_offset(&log, "appendonly.aof"),
            redis_offset,
            "case {i}: {log}"
        );
        let moved = data.join("appendonlydir").join("appendonly.aof");
        let size = std::fs::metadata(&moved).unwrap().len();
        assert_eq!(
            size,
            redis_offset.unwrap_or(rdb_end + tail.len() as u64),
            "case {i}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Reading speed on a generated file of `KOPI_AOF_MB` MB (default 512), or on the file
/// `KOPI_AOF_FILE` when set, in a release build:
/// `cargo test --release --test aof_reader_interop -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput() {
    let dir = scratch_dir("throughput");
    let given = std::env::var_os("KOPI_AOF_FILE").map(PathBuf::from);
    let path = given.clone().unwrap_or_else(|| dir.join("big.aof"));
    let megabytes: usize = std::env::var("KOPI_AOF_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512);
    let mut rng = SmallRng::seed_from_u64(1);
    if given.is_none() {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut written = 0;
        let mut second = 1_795_718_423u64;
        let mut value = Vec::new();
        while written < megabytes << 20 {
            let mut record = Vec::new();
            if rng.random_ratio(1, 1000) {
                second += 1;
                record.extend_from_slice(format!("#TS:{second}\r\n").as_bytes());
            }
            let key = format!("key:{}", rng.random_range(0..1_000_000));
            value.clear();
            value.resize(rng.random_range(1..64), b'v');
            let args: Vec<&[u8]> = match rng.random_range(0..4) {
                0 => vec![b"INCR", key.as_bytes()],
                1 => vec![b"SET", key.as_bytes(), &value, b"PXAT", b"1795718506808"],
                _ => vec![b"SET", key.as_bytes(), &value],
            };
            record.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for arg in args {
                record.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                record.extend_from_slice(arg);
                record.extend_from_slice(b"\r\n");
            }
            out.write_all(&record).unwrap();
            written += record.len();
        }
        out.flush().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let mut reader = AofReader::new();
    for round in 0..3 {
        let started = Instant::now();
        let mut args_seen = 0usize;
        let report = reader
            .read_file(&path, &ReadOptions::default(), |event| -> Result<(), ()> {
                if let Event::Command(c) = event {
                    args_seen += c.args.len();
                }
                Ok(())
            })
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(report.end, End::Clean);
        assert!(args_seen > 0);
        println!(
            "round {round}: {} MB in {seconds:.3} s: {:.0} MB/s, {:.2} M commands/s ({} commands)",
            size >> 20,
            size as f64 / seconds / 1e6,
            report.commands as f64 / seconds / 1e6,
            report.commands
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
