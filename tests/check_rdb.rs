//! `kopi-check-rdb` against `redis-check-rdb` 7.0.15, both run on the same files: `dump.rdb`
//! as a real `redis-server` and as `kopi-server` save it, truncated copies and flipped bytes.
//! The Redis tools missing from PATH skip a test loudly, or fail it when `CI` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Raw, RedisServer, Server, fresh_dir, require_program};

const KOPI_CHECK_RDB: &str = env!("CARGO_BIN_EXE_kopi-check-rdb");

struct Output {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(program: &Path, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    Output {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn check(program: &Path, file: &Path) -> Output {
    run(program, &[file.to_str().expect("a UTF-8 temp path")])
}

/// kopi's own `[info]` lines, which Redis does not print.
fn is_kopi_extra(line: &str) -> bool {
    line.starts_with("[info]") && (line.contains(" keys of type ") || line.contains(" keys in db "))
}

fn without_kopi_extras(text: &str) -> String {
    text.lines()
        .filter(|l| !is_kopi_extra(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn kopi_extras(text: &str) -> Vec<&str> {
    text.lines().filter(|l| is_kopi_extra(l)).collect()
}

/// The line after `--- RDB ERROR DETECTED ---`: `[offset N] message`.
fn error_line(text: &str) -> Option<&str> {
    let mut lines = text
        .lines()
        .skip_while(|l| *l != "--- RDB ERROR DETECTED ---");
    lines.next()?;
    lines.next()
}

/// Ten keys of every type in db 0 and db 3, three with a TTL far enough away that no check
/// sees them expired, then SAVE.
fn fill_and_save(mut raw: Raw) {
    for command in [
        &["SET", "s1", "hello"][..],
        &["SET", "n", "12345"],
        &["RPUSH", "l", "a", "b", "c"],
        &["SADD", "st", "x", "y", "z"],
        &["SADD", "si", "1", "2", "3"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["SET", "e1", "v", "EX", "1000000"],
        &["PEXPIRE", "l", "1000000000"],
        &["SELECT", "3"],
        &["SET", "other", "1"],
        &["SET", "t2", "x", "PX", "1000000000"],
    ] {
        let reply = raw.cmd(command);
        assert!(!reply.starts_with('-'), "{command:?}: {reply}");
    }
    assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
}

const EXPECTED_EXTRAS: [&str; 7] = [
    "[info] 5 keys of type string",
    "[info] 1 keys of type list",
    "[info] 2 keys of type set",
    "[info] 1 keys of type zset",
    "[info] 1 keys of type hash",
    "[info] 8 keys in db 0",
    "[info] 2 keys in db 3",
];

/// A copy of `dump.rdb` in a directory the test owns (the server's goes with it).
fn keep_copy(file: &Path) -> (PathBuf, PathBuf) {
    let dir = fresh_dir();
    let copy = dir.join("dump.rdb");
    std::fs::copy(file, &copy).expect("copy dump.rdb");
    (dir, copy)
}

fn redis_dump(redis_server: &Path) -> (PathBuf, PathBuf) {
    let server = RedisServer::start(redis_server, &["--save", ""]);
    fill_and_save(server.raw());
    keep_copy(&server.dir.join("dump.rdb"))
}

fn kopi_dump() -> (PathBuf, PathBuf) {
    let server = Server::start_with(&["--save", ""]);
    fill_and_save(server.raw());
    keep_copy(&server.dir.join("dump.rdb"))
}

/// Both checkers pass the file, print the same Redis lines, and kopi adds its counts.
fn assert_same_report(redis_check_rdb: &Path, file: &Path) {
    let redis = check(redis_check_rdb, file);
    let kopi = check(Path::new(KOPI_CHECK_RDB), file);
    assert_eq!(redis.status, Some(0), "{}", redis.stdout);
    assert_eq!(kopi.status, Some(0), "{}", kopi.stdout);
    assert_eq!(without_kopi_extras(&kopi.stdout), redis.stdout);
    for expected in [
        "] Selecting DB ID 0\n",
        "] Selecting DB ID 3\n",
        "] Checksum OK\n",
        "] \\o/ RDB looks OK! \\o/\n",
        "[info] 10 keys read\n",
        "[info] 3 expires\n",
        "[info] 0 already expired\n",
    ] {
        assert!(
            kopi.stdout.contains(expected),
            "{expected}:\n{}",
            kopi.stdout
        );
    }
    assert_eq!(kopi_extras(&kopi.stdout), EXPECTED_EXTRAS);
    assert_eq!(kopi.stderr, "");
}

/// Every truncation fails both checkers; both name the same offset and message (the reader
/// reports a short read at its first byte, as Redis's `rio` counts).
fn assert_truncations_fail_alike(redis_check_rdb: &Path, file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    let cut_file = file.with_file_name("cut.rdb");
    for len in 0..bytes.len() {
        std::fs::write(&cut_file, &bytes[..len]).unwrap();
        let redis = check(redis_check_rdb, &cut_file);
        let kopi = check(Path::new(KOPI_CHECK_RDB), &cut_file);
        assert_eq!(redis.status, Some(1), "cut at {len}:\n{}", redis.stdout);
        assert_eq!(kopi.status, Some(1), "cut at {len}:\n{}", kopi.stdout);
        let line = error_line(&kopi.stdout)
            .unwrap_or_else(|| panic!("cut at {len}, no error block:\n{}", kopi.stdout));
        assert!(line.starts_with("[offset "), "{line}");
        assert_eq!(Some(line), error_line(&redis.stdout), "cut at {len}");
    }
}

/// A flipped bit in the checksum and in the middle of the keys: both fail, kopi with an
/// offset inside the file (the checksum's: the file's length).
fn assert_flips_fail(redis_check_rdb: &Path, file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    let bad_file = file.with_file_name("flipped.rdb");
    for at in [bytes.len() - 1, bytes.len() / 2, bytes.len() - 12] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        std::fs::write(&bad_file, &bad).unwrap();
        let redis = check(redis_check_rdb, &bad_file);
        let kopi = check(Path::new(KOPI_CHECK_RDB), &bad_file);
        assert_eq!(redis.status, Some(1), "flip at {at}:\n{}", redis.stdout);
        assert_eq!(kopi.status, Some(1), "flip at {at}:\n{}", kopi.stdout);
        let line = error_line(&kopi.stdout).expect("an error block");
        let offset: usize = line
            .strip_prefix("[offset ")
            .and_then(|l| l.split(']').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no offset in {line}"));
        assert!(offset <= bytes.len(), "{line}");
        if at == bytes.len() - 1 {
            assert_eq!(offset, bytes.len(), "{line}");
        }
    }
}

fn redis_tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let server = require_program("redis-server", test)?;
    let checker = require_program("redis-check-rdb", test)?;
    Some((server, checker))
}

#[test]
fn a_file_from_redis_reads_the_same_with_both_checkers() {
    let Some((redis_server, redis_check_rdb)) = redis_tools("redis_file") else {
        return;
    };
    let (dir, file) = redis_dump(&redis_server);
    assert_same_report(&redis_check_rdb, &file);
    assert_truncations_fail_alike(&redis_check_rdb, &file);
    assert_flips_fail(&redis_check_rdb, &file);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_from_kopi_reads_the_same_with_both_checkers() {
    let Some((_, redis_check_rdb)) = redis_tools("kopi_file") else {
        return;
    };
    let (dir, file) = kopi_dump();
    assert_same_report(&redis_check_rdb, &file);
    assert_truncations_fail_alike(&redis_check_rdb, &file);
    assert_flips_fail(&redis_check_rdb, &file);
    std::fs::remove_dir_all(dir).unwrap();
}

/// No file name, two, or a file that is not there: Redis's messages and exit status.
#[test]
fn usage_and_a_missing_file_behave_as_redis() {
    let Some(redis_check_rdb) = require_program("redis-check-rdb", "usage") else {
        return;
    };
    let kopi = Path::new(KOPI_CHECK_RDB);
    let missing = fresh_dir().join("missing.rdb");
    let missing = missing.to_str().unwrap();
    for args in [&[][..], &["a.rdb", "b.rdb"], &[missing]] {
        let redis = run(&redis_check_rdb, args);
        let ours = run(kopi, args);
        assert_eq!(ours.status, redis.status, "{args:?}");
        assert_eq!(ours.stdout, redis.stdout, "{args:?}");
        let redis_stderr = redis
            .stderr
            .replace(redis_check_rdb.to_str().unwrap(), KOPI_CHECK_RDB);
        assert_eq!(ours.stderr, redis_stderr, "{args:?}");
    }
    std::fs::remove_dir_all(Path::new(missing).parent().unwrap()).unwrap();
}
