//! `kopi-check-aof` against `redis-check-aof` 7.0.15, byte for byte.
//!
//! A real `redis-server` writes a multi-part AOF (RESP base, `#TS:` annotations across three
//! seconds, a BGREWRITEAOF, a MULTI/EXEC block). Copies of it are then damaged in the ways
//! that matter (torn at every offset of the last incr file and of the base, garbage in the
//! middle, zeros at the end, an unfinished MULTI, bad manifests, missing files, an old-style
//! single file) and both tools run on their own copy of each case, with `--fix` (answering
//! `y` on standard input), with `--truncate-to-timestamp`, and with neither. For every case:
//! the same exit status, the same standard output (the log prefix `pid:C date #` and the
//! program name in the usage line aside), and the same bytes in every file afterwards.
//!
//! `redis-server` or `redis-check-aof` missing from PATH: skipped loudly, or failed when `CI`
//! is set.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Raw, RedisServer, fresh_dir, require_program};

const KOPI_CHECK_AOF: &str = env!("CARGO_BIN_EXE_kopi-check-aof");

/// What a run left: exit status, standard output, and the files of its directory.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: Option<i32>,
    stdout: String,
    files: BTreeMap<String, Vec<u8>>,
}

/// Every file under `dir`, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The output with what legitimately differs made equal: the `serverLog` prefix (pid and
/// time) and the program name in the usage line.
fn normalized(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    text.split_inclusive('\n')
        .map(|line| {
            if let Some(rest) = line.strip_prefix("Usage: ") {
                let args = rest.split_once(' ').map_or("", |(_, args)| args);
                return format!("Usage: PROGRAM {args}");
            }
            // `12345:C 07 Dec 2026 22:45:54.705 # message`
            let fields: Vec<&str> = line.splitn(7, ' ').collect();
            let is_log = fields.len() == 7
                && fields[0].ends_with(":C")
                && fields[0].trim_end_matches(":C").parse::<u32>().is_ok()
                && fields[5] == "#";
            if is_log {
                format!("PID:C DATE # {}", fields[6])
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// Runs `program args` in a copy of `case` with `y` on standard input.
fn run_on_copy(program: &Path, case: &Path, args: &[&str]) -> Outcome {
    let dir = fresh_dir();
    copy_dir(case, &dir);
    let mut child = Command::new(program)
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    // The tool may exit without reading: a failed write is fine.
    let _ = child.stdin.take().unwrap().write_all(b"y\n");
    let output = child.wait_with_output().unwrap();
    let outcome = Outcome {
        status: output.status.code(),
        stdout: normalized(&output.stdout),
        files: snapshot(&dir),
    };
    std::fs::remove_dir_all(&dir).unwrap();
    outcome
}

/// Both tools on their own copy of `case`; everything they did must be the same.
fn assert_same(redis_check_aof: &Path, case: &Path, args: &[&str], what: &str) -> Outcome {
    let redis = run_on_copy(redis_check_aof, case, args);
    let kopi = run_on_copy(Path::new(KOPI_CHECK_AOF), case, args);
    assert_eq!(
        kopi.status, redis.status,
        "{what} {args:?}: exit status\nredis:\n{}\nkopi:\n{}",
        redis.stdout, kopi.stdout
    );
    assert_eq!(kopi.stdout, redis.stdout, "{what} {args:?}: output");
    if kopi.files != redis.files {
        for (name, bytes) in &redis.files {
            assert_eq!(
                kopi.files.get(name).map(Vec::len),
                Some(bytes.len()),
                "{what} {args:?}: length of {name}"
            );
        }
        panic!("{what} {args:?}: the files differ");
    }
    redis
}

fn scratch(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps into the next second, so that the next write gets a new `#TS:`.
fn next_second() {
    let now = unix_seconds();
    let wait = now.ceil() - now + 0.02;
    std::thread::sleep(Duration::from_secs_f64(wait));
}

fn send(raw: &mut Raw, words: &str) {
    let reply = raw.cmd(&words.split(' ').collect::<Vec<_>>());
    assert!(!reply.starts_with('-'), "{words}: {reply}");
}

/// A multi-part AOF directory as redis-server 7.0 writes it: returns `appendonlydir`'s parent.
fn redis_aof(server: &Path, root: &Path) -> PathBuf {
    let data = scratch(root, "written");
    let mut redis = RedisServer::start_in(
        server,
        &data,
        &[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--aof-use-rdb-preamble",
            "no",
            "--aof-timestamp-enabled",
            "yes",
        ],
    );
    let mut raw = redis.raw();
    send(&mut raw, "SET before-rewrite 1");
    send(&mut raw, "RPUSH list a b c");
    assert!(raw.cmd(&["BGREWRITEAOF"]).contains("rewriting started"));
    let manifest = data.join("appendonlydir/appendonly.aof.manifest");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&manifest)
        .unwrap_or_default()
        .contains("appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof")
    {
        assert!(std::time::Instant::now() < deadline, "no rewrite");
        std::thread::sleep(Duration::from_millis(10));
    }
    next_second();
    send(&mut raw, "SET k v");
    send(&mut raw, "INCR counter");
    next_second();
    send(&mut raw, "SELECT 3");
    send(&mut raw, "SET other-db x");
    send(&mut raw, "MULTI");
    send(&mut raw, "SET in-multi 1");
    send(&mut raw, "INCR counter");
    send(&mut raw, "EXEC");
    next_second();
    send(&mut raw, "SELECT 0");
    send(&mut raw, "DEL k");
    redis.stop();
    let aof = data.join("appendonlydir");
    for log in std::fs::read_dir(&data).unwrap() {
        let path = log.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(
        std::fs::read(aof.join("appendonly.aof.2.incr.aof"))
            .unwrap()
            .starts_with(b"#TS:")
    );
    data
}

/// The `#TS:` values of a file, with their offsets.
fn timestamps(bytes: &[u8]) -> Vec<(usize, i64)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(pos) = bytes[at..].windows(4).position(|w| w == b"#TS:") {
        let start = at + pos;
        let digits: String = bytes[start + 4..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| b as char)
            .collect();
        found.push((start, digits.parse().unwrap()));
        at = start + 4;
    }
    found
}

/// Makes a case: a copy of the written directory, changed by `edit` (given `appendonlydir`).
fn case(root: &Path, written: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = root.join("cases").join(name);
    copy_dir(written, &dir);
    edit(&dir.join("appendonlydir"));
    dir
}

const MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";
const BASE: &str = "appendonly.aof.2.base.aof";
const INCR: &str = "appendonly.aof.2.incr.aof";

fn modes(timestamps: &[i64]) -> Vec<Vec<String>> {
    let mut modes = vec![vec![], vec!["--fix".to_string()]];
    for t in timestamps {
        modes.push(vec!["--truncate-to-timestamp".to_string(), t.to_string()]);
    }
    modes
}

fn with_path<'a>(mode: &'a [String], path: &'a str) -> Vec<&'a str> {
    let mut args: Vec<&str> = mode.iter().map(String::as_str).collect();
    args.push(path);
    args
}

#[test]
fn same_report_verdict_and_files_as_redis_check_aof() {
    let Some(server) = require_program("redis-server", "check_aof") else {
        return;
    };
    let Some(checker) = require_program("redis-check-aof", "check_aof") else {
        return;
    };
    let version = Command::new(&server).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.contains("v=7.0."),
        "written for Redis 7.0: {version}"
    );

    let root = fresh_dir();
    let written = redis_aof(&server, &root);
    let aof = written.join("appendonlydir");
    let base = std::fs::read(aof.join(BASE)).unwrap();
    let incr = std::fs::read(aof.join(INCR)).unwrap();
    let stamps: Vec<(usize, i64)> = timestamps(&incr);
    assert!(stamps.len() >= 3, "{stamps:?}");
    let base_stamp = timestamps(&base)[0].1;
    // Before everything, at each annotation, between them, after everything; 0 is "off".
    let mut cut_points = vec![0, -1, base_stamp - 1, base_stamp];
    for &(_, t) in &stamps {
        cut_points.extend([t - 1, t, t + 1]);
    }
    cut_points.dedup();

    // The valid directory, whole and as an old-style single file.
    let valid = assert_same(&checker, &written, &[MANIFEST], "valid");
    assert_eq!(valid.status, Some(0));
    assert!(
        valid
            .stdout
            .ends_with("All AOF files and manifest are valid\n")
    );
    for mode in modes(&cut_points) {
        assert_same(&checker, &written, &with_path(&mode, MANIFEST), "valid");
    }
    let old_style = case(&root, &written, "old-style", |dir| {
        std::fs::write(dir.join("appendonly.aof"), [&base[..], &incr[..]].concat()).unwrap();
    });
    for mode in modes(&cut_points) {
        let args = with_path(&mode, "appendonlydir/appendonly.aof");
        assert_same(&checker, &old_style, &args, "old-style");
    }

    // Torn at every offset of the last incr file (plain check), and at a spread of offsets
    // with --fix and timestamps; torn base files (not the last file: --fix must refuse).
    for len in 0..incr.len() {
        let torn = case(&root, &written, &format!("torn-incr-{len}"), |dir| {
            std::fs::write(dir.join(INCR), &incr[..len]).unwrap();
        });
        assert_same(&checker, &torn, &[MANIFEST], "torn incr");
        if len % 13 == 0 || len + 3 > incr.len() {
            for mode in modes(&stamps.iter().map(|s| s.1).collect::<Vec<_>>()) {
                assert_same(&checker, &torn, &with_path(&mode, MANIFEST), "torn incr");
            }
        }
        std::fs::remove_dir_all(&torn).unwrap();
    }
    for len in (0..base.len()).step_by(7) {
        let torn = case(&root, &written, &format!("torn-base-{len}"), |dir| {
            std::fs::write(dir.join(BASE), &base[..len]).unwrap();
        });
        assert_same(&checker, &torn, &[MANIFEST], "torn base");
        assert_same(&checker, &torn, &["--fix", MANIFEST], "torn base");
        std::fs::remove_dir_all(&torn).unwrap();
    }

    // Garbage in the middle: a byte replaced, text inserted between records, zeros appended.
    let record_starts: Vec<usize> = (0..incr.len())
        .filter(|&i| i == 0 || (incr[i - 1] == b'\n' && matches!(incr[i], b'*' | b'#')))
        .collect();
    // Every fifth offset, each with one of the bytes (5 and 8 are coprime: all of them).
    for at in (0..incr.len()).step_by(5) {
        let byte = [b'X', 0, 0xe9, b'*', b'$', b'\r', b'\n', b'#'][at % 8];
        let damaged = case(&root, &written, &format!("byte-{at}"), |dir| {
            let mut bytes = incr.clone();
            bytes[at] = byte;
            std::fs::write(dir.join(INCR), bytes).unwrap();
        });
        assert_same(&checker, &damaged, &[MANIFEST], "replaced byte");
        if byte == b'X' {
            assert_same(&checker, &damaged, &["--fix", MANIFEST], "replaced byte");
        }
        std::fs::remove_dir_all(&damaged).unwrap();
    }
    for &at in &record_starts {
        let damaged = case(&root, &written, &format!("inserted-{at}"), |dir| {
            let bytes = [&incr[..at], b"garbage\r\n", &incr[at..]].concat();
            std::fs::write(dir.join(INCR), bytes).unwrap();
        });
        for mode in modes(&[stamps[1].1]) {
            assert_same(&checker, &damaged, &with_path(&mode, MANIFEST), "inserted");
        }
        std::fs::remove_dir_all(&damaged).unwrap();
    }
    let zeros = case(&root, &written, "zeros", |dir| {
        std::fs::write(dir.join(INCR), [&incr[..], &[0u8; 512][..]].concat()).unwrap();
    });
    for mode in modes(&[]) {
        assert_same(&checker, &zeros, &with_path(&mode, MANIFEST), "zero tail");
    }

    // MULTI without EXEC at the end, whole or with a torn command inside; nested MULTI and
    // EXEC without MULTI; a torn annotation.
    let multi = incr
        .windows(5)
        .position(|w| w == b"MULTI")
        .expect("a MULTI block")
        - 8;
    let exec = incr.windows(4).position(|w| w == b"EXEC").unwrap() - 8;
    let endings: Vec<(&str, Vec<u8>)> = vec![
        ("unfinished-multi", incr[..exec].to_vec()),
        ("unfinished-multi-torn", incr[..exec - 3].to_vec()),
        (
            "nested-multi",
            [&incr[..exec], &incr[multi..multi + 15]].concat(),
        ),
        (
            "exec-without-multi",
            [&incr[..multi], &incr[exec..]].concat(),
        ),
        ("torn-annotation", [&incr[..], b"#TS:1"].concat()),
        (
            "torn-annotation-cr",
            [&incr[..], format!("#TS:{}\r", stamps[0].1 + 9).as_bytes()].concat(),
        ),
        (
            "annotation-in-multi",
            [&incr[..exec], b"#TS:1\r\n"].concat(),
        ),
        ("bad-timestamp", [&incr[..], b"#TS:12x\r\n"].concat()),
    ];
    for (name, bytes) in endings {
        let ending = case(&root, &written, name, |dir| {
            std::fs::write(dir.join(INCR), &bytes).unwrap();
        });
        for mode in modes(&cut_points) {
            assert_same(&checker, &ending, &with_path(&mode, MANIFEST), name);
        }
        std::fs::write(ending.join("single.aof"), &bytes).unwrap();
        for mode in modes(&[stamps[1].1]) {
            assert_same(&checker, &ending, &with_path(&mode, "single.aof"), name);
        }
    }

    // Manifests: refused ones (logged as Redis's serverLog does), missing and empty files.
    let manifests: &[&str] = &[
        "",
        "# only a comment\n",
        "file a seq 1 type b\nfile b seq 2 type b\n",
        "file appendonly.aof.2.incr.aof seq 2 type i\n\n",
        "file appendonly.aof.2.incr.aof seq 2 type i",
        "file a/b seq 1 type i\n",
        "file q seq 1 type z\n",
        "file \"unbalanced seq 1 type i\n",
        "file a seq 0 type i\n",
        "file a seq 2 type i\nfile b seq 1 type i\n",
        "fileX\n",
        "file appendonly.aof.2.base.aof seq 2 type b\nfile missing.aof seq 3 type i\n",
        "file missing-base seq 2 type b\nfile appendonly.aof.2.incr.aof seq 3 type i\n",
        "file appendonly.aof.2.incr.aof seq 2 type h\n",
        "file empty.aof seq 1 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
        "file appendonly.aof.2.incr.aof seq 1 type i\nfile empty.aof seq 2 type i\n",
        "# comment\nFILE appendonly.aof.2.base.aof SEQ 2 TYPE b future x\n\
         file appendonly.aof.2.incr.aof seq 7 type i\n",
    ];
    for (i, text) in manifests.iter().enumerate() {
        let manifest = case(&root, &written, &format!("manifest-{i}"), |dir| {
            std::fs::write(dir.join("appendonly.aof.manifest"), text).unwrap();
            std::fs::write(dir.join("empty.aof"), b"").unwrap();
        });
        for mode in modes(&[stamps[1].1]) {
            assert_same(&checker, &manifest, &with_path(&mode, MANIFEST), text);
        }
    }
    let long_line = format!("file {} seq 1 type x\n", "a".repeat(1010));
    let manifest = case(&root, &written, "manifest-long-line", |dir| {
        std::fs::write(dir.join("appendonly.aof.manifest"), &long_line).unwrap();
    });
    assert_same(&checker, &manifest, &[MANIFEST], "long manifest line");

    // The command line.
    for args in [
        &[][..],
        &["a", "b"],
        &["--fix"],
        &["--fix", "a", "b"],
        &["--truncate-to-timestamp", "x", MANIFEST],
        &["--truncate-to-timestamp", "5x", MANIFEST],
        &["--truncate-to-timestamp", "", MANIFEST],
        &["--truncate-to-timestamp", " 99", MANIFEST],
        &["missing-file"],
        &["appendonlydir"],
    ] {
        assert_same(&checker, &written, args, "arguments");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// `--yes` answers the question: the output is what Redis prints when `y` is typed.
#[test]
fn yes_answers_the_fix_question() {
    let dir = fresh_dir();
    let path = dir.join("appendonly.aof");
    std::fs::write(&path, b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1").unwrap();
    let output = Command::new(KOPI_CHECK_AOF)
        .args(["--fix", "--yes", "appendonly.aof"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Start checking Old-Style AOF\n\
         0x              1b: Expected \\r\\n, got: 0000\n\
         AOF analyzed: filename=appendonly.aof, size=29, ok_up_to=14, ok_up_to_line=7, diff=15\n\
         This will shrink the AOF appendonly.aof from 29 bytes, with 15 bytes, to 14 bytes\n\
         Continue? [y/N]: Successfully truncated AOF appendonly.aof\n"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"*1\r\n$4\r\nPING\r\n");
    // Without --yes and with nothing on standard input: nothing is cut.
    std::fs::write(&path, b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1").unwrap();
    let output = Command::new(KOPI_CHECK_AOF)
        .args(["--fix", "appendonly.aof"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("Continue? [y/N]: Aborting...\n"));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 29);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// RDB-preamble files (Redis's default AOF base, and old single files that start with an
/// RDB): the RDB part is checked with redis-check-rdb's report, then the RESP tail.
#[test]
fn rdb_preamble_files_as_redis_check_aof() {
    let test = "rdb_preamble_files_as_redis_check_aof";
    let Some(server) = require_program("redis-server", test) else {
        return;
    };
    let Some(redis_check_aof) = require_program("redis-check-aof", test) else {
        return;
    };
    let root = fresh_dir();
    let written = scratch(&root, "written");
    {
        let redis =
            RedisServer::start_in(&server, &written, &["--save", "", "--appendonly", "yes"]);
        let mut raw = redis.raw();
        for i in 0..50 {
            send(&mut raw, &format!("SET key:{i} value:{i}"));
        }
        send(&mut raw, "SET ttl v PX 100000000");
        send(&mut raw, "HSET h f1 v1 f2 v2");
        send(&mut raw, "BGREWRITEAOF");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !raw
            .cmd(&["INFO", "persistence"])
            .contains("aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0")
            || !written
                .join("appendonlydir/appendonly.aof.2.base.rdb")
                .exists()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the rewrite did not end"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        send(&mut raw, "SET after rewrite");
        send(&mut raw, "INCR counter");
    }
    let base = "appendonly.aof.2.base.rdb";
    let incr = "appendonly.aof.2.incr.aof";
    let valid = case(&root, &written, "valid", |_| {});
    let report = assert_same(&redis_check_aof, &valid, &[MANIFEST], "valid");
    assert!(
        report.stdout.contains("RDB preamble is OK"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("All AOF files and manifest are valid")
    );
    let crc = case(&root, &written, "crc", |aof| {
        let path = aof.join(base);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x5a;
        std::fs::write(&path, bytes).unwrap();
    });
    let report = assert_same(&redis_check_aof, &crc, &[MANIFEST], "damaged checksum");
    assert!(report.stdout.contains("RDB CRC error"), "{}", report.stdout);
    let torn = case(&root, &written, "torn-incr", |aof| {
        let path = aof.join(incr);
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
    });
    assert_same(
        &redis_check_aof,
        &torn,
        &[MANIFEST],
        "torn incr after an RDB base",
    );
    assert_same(
        &redis_check_aof,
        &torn,
        &["--fix", MANIFEST],
        "torn incr after an RDB base",
    );
    // An old single file: the RDB part, then RESP commands, torn at the end.
    let old = scratch(&root.join("cases"), "old-style");
    let mut bytes = std::fs::read(written.join("appendonlydir").join(base)).unwrap();
    bytes.extend_from_slice(&std::fs::read(written.join("appendonlydir").join(incr)).unwrap());
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
    std::fs::write(old.join("appendonly.aof"), bytes).unwrap();
    let report = assert_same(
        &redis_check_aof,
        &old,
        &["appendonly.aof"],
        "old-style with a preamble",
    );
    assert!(
        report.stdout.contains("RDB preamble is OK"),
        "{}",
        report.stdout
    );
    assert_same(
        &redis_check_aof,
        &old,
        &["--fix", "appendonly.aof"],
        "old-style with a preamble",
    );
    std::fs::remove_dir_all(&root).unwrap();
}
