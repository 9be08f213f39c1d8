//! `kopi-check-aof inspect` and `kopi-check-aof stats`, run as the binary on AOF directories:
//! one written by hand here (so every expected line is known to the byte), and one a real
//! `kopi-server` wrote with an RDB base.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{encode, fresh_dir};

const KOPI_CHECK_AOF: &str = env!("CARGO_BIN_EXE_kopi-check-aof");

/// What a run printed.
#[derive(Debug)]
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let output = Command::new(KOPI_CHECK_AOF)
        .args(args)
        .output()
        .expect("run kopi-check-aof");
    Run {
        status: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 output"),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    encode(args)
}

/// A multi-part AOF written by hand: a RESP base, then an incr file with `#TS:` annotations,
/// two databases, a MULTI/EXEC block and a binary value. Offsets in the expected lines below
/// follow from these bytes.
fn hand_made_dir() -> PathBuf {
    let dir = fresh_dir().join("appendonlydir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let base = [
        &b"#TS:1796683500\r\n"[..],
        &cmd(&[b"SELECT", b"0"]),
        &cmd(&[b"SET", b"greeting", b"hello"]),
        &cmd(&[b"RPUSH", b"list", b"a", b"b"]),
    ]
    .concat();
    std::fs::write(dir.join("appendonly.aof.1.base.aof"), base).unwrap();
    let incr = [
        &b"#TS:1796683502\r\n"[..],
        &cmd(&[b"SELECT", b"0"]),
        &cmd(&[b"SET", b"user:1", b"alice"]),
        &cmd(&[b"SELECT", b"1"]),
        &cmd(&[b"SET", b"two words", b"\x00\xff"]),
        b"#TS:1796683503\r\n",
        &cmd(&[b"MULTI"]),
        &cmd(&[b"INCR", b"counter"]),
        &cmd(&[b"DEL", b"user:1", b"list"]),
        &cmd(&[b"EXEC"]),
        &cmd(&[b"SELECT", b"0"]),
        &cmd(&[b"DEL", b"user:1"]),
        &cmd(&[b"PEXPIREAT", b"greeting", b"4102444800000"]),
    ]
    .concat();
    std::fs::write(dir.join("appendonly.aof.1.incr.aof"), incr).unwrap();
    dir
}

/// Every line `inspect` prints for [`hand_made_dir`], in order.
const ALL_LINES: [&str; 14] = [
    "appendonly.aof.1.base.aof:16 db=0 2026-12-07 22:45:00 SELECT 0",
    "appendonly.aof.1.base.aof:39 db=0 2026-12-07 22:45:00 SET greeting hello",
    "appendonly.aof.1.base.aof:77 db=0 2026-12-07 22:45:00 RPUSH list a b",
    "appendonly.aof.1.incr.aof:16 db=0 2026-12-07 22:45:02 SELECT 0",
    "appendonly.aof.1.incr.aof:39 db=0 2026-12-07 22:45:02 SET user:1 alice",
    "appendonly.aof.1.incr.aof:75 db=1 2026-12-07 22:45:02 SELECT 1",
    "appendonly.aof.1.incr.aof:98 db=1 2026-12-07 22:45:02 SET \"two words\" \"\\x00\\xff\"",
    "appendonly.aof.1.incr.aof:150 db=1 2026-12-07 22:45:03 MULTI",
    "appendonly.aof.1.incr.aof:165 db=1 2026-12-07 22:45:03 INCR counter",
    "appendonly.aof.1.incr.aof:192 db=1 2026-12-07 22:45:03 DEL user:1 list",
    "appendonly.aof.1.incr.aof:227 db=1 2026-12-07 22:45:03 EXEC",
    "appendonly.aof.1.incr.aof:241 db=0 2026-12-07 22:45:03 SELECT 0",
    "appendonly.aof.1.incr.aof:264 db=0 2026-12-07 22:45:03 DEL user:1",
    "appendonly.aof.1.incr.aof:289 db=0 2026-12-07 22:45:03 PEXPIREAT greeting 4102444800000",
];

/// The lines of [`ALL_LINES`] at `indexes`, as `inspect` prints them.
fn lines(indexes: &[usize]) -> String {
    indexes
        .iter()
        .map(|&i| format!("{}\n", ALL_LINES[i]))
        .collect()
}

fn inspect(dir: &Path, filters: &[&str]) -> Run {
    let mut args = vec!["inspect", dir.to_str().unwrap()];
    args.extend_from_slice(filters);
    run(&args)
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn inspect_prints_every_command_with_file_offset_db_and_time() {
    let dir = hand_made_dir();
    let all: Vec<usize> = (0..ALL_LINES.len()).collect();
    // The directory, the manifest and (for one file) the file itself.
    for input in [dir.clone(), dir.join("appendonly.aof.manifest")] {
        let out = inspect(&input, &[]);
        assert_eq!(out.stdout, lines(&all), "{input:?}");
        assert_eq!((out.status, out.stderr.as_str()), (Some(0), ""));
    }
    let out = inspect(&dir.join("appendonly.aof.1.incr.aof"), &["--db", "1"]);
    assert_eq!(out.stdout, lines(&[5, 6, 7, 8, 9, 10]));
    remove(&dir);
}

#[test]
fn inspect_filters_by_key_command_time_and_db() {
    let dir = hand_made_dir();
    let cases: [(&[&str], &[usize]); 10] = [
        // Keys as the command table finds them: DEL's every argument.
        (&["--key", "user:*"], &[4, 9, 12]),
        (&["--key", "list"], &[2, 9]),
        (&["--key", "two words"], &[6]),
        (&["--key", "greeting", "--key", "counter"], &[1, 8, 13]),
        (&["--command", "del"], &[9, 12]),
        (
            &["--command", "SELECT", "--command", "Multi"],
            &[0, 3, 5, 7, 11],
        ),
        (
            &["--since", "1796683502"],
            &[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
        ),
        (&["--until", "1796683502"], &[0, 1, 2, 3, 4, 5, 6]),
        (&["--db", "0", "--since", "1796683503"], &[11, 12, 13]),
        (&["--key", "user:1", "--db", "1", "--command", "DEL"], &[9]),
    ];
    for (filters, expected) in cases {
        let out = inspect(&dir, filters);
        assert_eq!(out.stdout, lines(expected), "{filters:?}");
        assert_eq!(out.status, Some(0), "{filters:?}");
    }
    let out = inspect(&dir, &["--since", "1796683504"]);
    assert_eq!((out.stdout.as_str(), out.status), ("", Some(0)));
    remove(&dir);
}

#[test]
fn inspect_refuses_bad_options_with_the_usage() {
    let dir = hand_made_dir();
    for bad in [&["--db"][..], &["--db", "x"], &["--nope"], &["other-input"]] {
        let out = inspect(&dir, bad);
        assert_eq!(out.status, Some(1), "{bad:?}");
        assert!(
            out.stderr.contains("Usage: kopi-check-aof inspect"),
            "{bad:?}: {}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
    }
    remove(&dir);
}

#[test]
fn inspect_shows_the_valid_part_of_a_torn_file_and_says_where_it_stops() {
    let dir = hand_made_dir();
    let incr = dir.join("appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    // Cut inside the transaction: its commands were printed as they were read.
    bytes.truncate(200);
    std::fs::write(&incr, bytes).unwrap();
    let out = inspect(&dir, &[]);
    assert_eq!(out.stdout, lines(&[0, 1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(out.status, Some(1));
    assert_eq!(
        out.stderr,
        "kopi-check-aof: appendonly.aof.1.incr.aof: the file ends inside the record at offset 192, in the transaction opened at offset 150\n"
    );
    remove(&dir);
}

#[test]
fn stats_counts_commands_keys_dbs_time_and_measures_a_rewrite() {
    let dir = hand_made_dir();
    let out = run(&["stats", dir.to_str().unwrap()]);
    // The RESP base a rewrite writes for the final data set.
    let resp_base = [
        &cmd(&[b"SELECT", b"0"])[..],
        &cmd(&[b"SET", b"greeting", b"hello"]),
        &cmd(&[b"PEXPIREAT", b"greeting", b"4102444800000"]),
        &cmd(&[b"RPUSH", b"list", b"a", b"b"]),
        &cmd(&[b"SELECT", b"1"]),
        &cmd(&[b"SET", b"two words", b"\x00\xff"]),
        &cmd(&[b"SET", b"counter", b"1"]),
    ]
    .concat();
    assert_eq!(resp_base.len(), 245);
    // The rewrite sizes are those of the final data set: greeting (with its deadline) and list
    // in db 0, "two words" and counter in db 1. The RDB size holds the header kopi writes
    // (redis-ver, redis-bits, ctime, used-mem as a 32-bit integer, aof-base).
    let expected = "\
# Files
file:appendonly.aof.1.base.aof type=base format=resp bytes=116 commands=3 snapshot_keys=0 end=clean
file:appendonly.aof.1.incr.aof type=incr format=resp bytes=342 commands=11 snapshot_keys=0 end=clean
files:2
total_bytes:458
# Commands
cmd:set count=3 bytes=110
cmd:select count=4 bytes=92
cmd:del count=2 bytes=60
cmd:pexpireat count=1 bytes=53
cmd:rpush count=1 bytes=39
cmd:incr count=1 bytes=27
cmd:multi count=1 bytes=15
cmd:exec count=1 bytes=14
commands:14 bytes=410
snapshot_keys:0 bytes=0
# Keyspace
keys_touched:7
dbs:2 (0,1)
first_timestamp:1796683500 2026-12-07 22:45:00
last_timestamp:1796683503 2026-12-07 22:45:03
timestamp_span_s:3
# Rewrite
replayed_commands:14
replay_errors:0
snapshot_keys_dropped:0
live_keys:4
rewrite_rdb_bytes:171
rewrite_resp_bytes:245
rewrite_saves_bytes:287 (62.7%)
";
    assert_eq!(out.stdout, expected);
    assert_eq!((out.status, out.stderr.as_str()), (Some(0), ""));
    remove(&dir);
}

/// INFO persistence's `field`, from the server on `raw`.
fn info_field(raw: &mut common::Raw, field: &str) -> String {
    let info = raw.cmd(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn inspect_shows_the_keys_of_an_rdb_base_a_server_wrote() {
    let server = common::Server::start_with(&["--appendonly", "yes"]);
    let mut raw = server.raw();
    for command in [
        &["SET", "s", "v"][..],
        &["RPUSH", "l", "a", "b"],
        &["HSET", "h", "f", "1"],
        &["SADD", "set", "m"],
        &["ZADD", "z", "1.5", "m"],
        &["SET", "ttl", "x"],
        &["PEXPIREAT", "ttl", "4102444800000"],
    ] {
        let reply = raw.cmd(command);
        assert!(!reply.starts_with('-'), "{command:?}: {reply}");
    }
    assert!(raw.cmd(&["BGREWRITEAOF"]).starts_with('+'));
    let deadline = Instant::now() + Duration::from_secs(10);
    // The rewrite is done when it is no longer in progress and none is scheduled.
    while info_field(&mut raw, "aof_rewrite_in_progress") != "0"
        || info_field(&mut raw, "aof_rewrite_scheduled") == "1"
    {
        assert!(Instant::now() < deadline, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(raw.cmd(&["SET", "after", "rewrite"]).starts_with('+'));
    let dir = server.dir.join("appendonlydir");
    let out = inspect(&dir, &[]);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    let snapshot_lines: Vec<String> = out
        .stdout
        .lines()
        .filter(|l| l.contains(" snapshot "))
        .map(|l| {
            // `<file>:<offset> db=0 snapshot <command>`: the offsets depend on the writer.
            let (place, rest) = l.split_once(' ').unwrap();
            assert!(place.starts_with("appendonly.aof.2.base.rdb:"), "{l}");
            rest.to_string()
        })
        .collect();
    for expected in [
        "db=0 snapshot SET s v",
        "db=0 snapshot RPUSH l a b",
        "db=0 snapshot HMSET h f 1",
        "db=0 snapshot SADD set m",
        "db=0 snapshot ZADD z 1.5 m",
        "db=0 snapshot SET ttl x",
        "db=0 snapshot PEXPIREAT ttl 4102444800000",
    ] {
        assert!(
            snapshot_lines.iter().any(|l| l == expected),
            "{expected} not in:\n{}",
            out.stdout
        );
    }
    assert_eq!(snapshot_lines.len(), 7, "{}", out.stdout);
    let after: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.ends_with("SET after rewrite"))
        .collect();
    assert_eq!(after.len(), 1, "{}", out.stdout);
    assert!(
        after[0].starts_with("appendonly.aof.2.incr.aof:"),
        "{}",
        after[0]
    );
    // Filters apply to snapshot lines too; a time filter never matches them.
    let out = inspect(&dir, &["--key", "ttl"]);
    let commands: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split_once(" snapshot ").unwrap().1)
        .collect();
    assert_eq!(commands, ["SET ttl x", "PEXPIREAT ttl 4102444800000"]);
    let out = inspect(&dir, &["--since", "0", "--key", "s"]);
    assert_eq!(out.stdout, "");

    let out = run(&["stats", dir.to_str().unwrap()]);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(" type=base format=rdb ") && out.stdout.contains("snapshot_keys=6 "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\nlive_keys:7\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\nreplay_errors:0\n"), "{}", out.stdout);
}

/// Reads `child`'s standard output line by line on a thread.
fn line_reader(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn follow_prints_appended_commands_and_moves_to_a_new_incr_file() {
    let dir = hand_made_dir();
    let mut child = Command::new(KOPI_CHECK_AOF)
        .args(["inspect", dir.to_str().unwrap(), "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kopi-check-aof --follow");
    let lines = line_reader(child.stdout.take().unwrap());
    let mut got = Vec::new();
    while got.len() < ALL_LINES.len() {
        got.push(
            lines
                .recv_timeout(Duration::from_secs(10))
                .expect("the first lines"),
        );
    }
    assert_eq!(got, ALL_LINES);

    // An append, in two pieces: nothing is printed for half a record.
    let incr = dir.join("appendonly.aof.1.incr.aof");
    let record = cmd(&[b"SET", b"new", b"1"]);
    append(&incr, &record[..7]);
    assert!(lines.recv_timeout(Duration::from_millis(500)).is_err());
    append(&incr, &record[7..]);
    let appended = Instant::now();
    let line = lines
        .recv_timeout(Duration::from_secs(1))
        .expect("the appended command");
    assert!(appended.elapsed() < Duration::from_secs(1));
    assert_eq!(
        line,
        "appendonly.aof.1.incr.aof:342 db=0 2026-12-07 22:45:03 SET new 1"
    );

    // A rewrite starts: a new incr file in the manifest. What was still appended to the old
    // one comes first, then the new file, from db 0.
    std::fs::write(
        dir.join("appendonly.aof.2.incr.aof"),
        [&b"#TS:1796683600\r\n"[..], &cmd(&[b"SET", b"in", b"two"])].concat(),
    )
    .unwrap();
    append(&incr, &cmd(&[b"SET", b"last", b"old"]));
    std::fs::write(
        dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
    )
    .unwrap();
    let next = |what: &str| lines.recv_timeout(Duration::from_secs(2)).expect(what);
    assert_eq!(
        next("the old file's last command"),
        "appendonly.aof.1.incr.aof:371 db=0 2026-12-07 22:45:03 SET last old"
    );
    assert_eq!(
        next("the new file's command"),
        "appendonly.aof.2.incr.aof:16 db=0 2026-12-07 22:46:40 SET in two"
    );

    // Stopped by its pid, as Ctrl-C would.
    child.kill().unwrap();
    child.wait().unwrap();
    remove(&dir);
}
