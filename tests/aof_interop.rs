//! AOF directories exchanged with a real `redis-server` 7.0, both ways: what kopi writes
//! Redis loads to the same data, and what Redis writes (RESP base, `aof-use-rdb-preamble no`)
//! kopi loads to the same data. Compared with DEBUG DIGEST and key by key (GET, PEXPIRETIME).
//!
//! Needs `redis-server` on PATH (skipped loudly without it, a failure where `CI` is set).
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{RedisServer, Server};

const TEST: &str = "aof_interop";

/// Starts a `redis-server` with AOF on in `data` (the test's: kept), plus `extra`.
fn start_redis(program: &Path, data: &Path, extra: &[&str]) -> RedisServer {
    let mut args = vec![
        "--save",
        "",
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    RedisServer::start_in(program, data, &args)
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies `from/appendonlydir` into a new directory (a server never shares its files).
fn copy_aof_dir(from: &Path) -> Dir {
    let to = common::fresh_dir();
    let src = from.join("appendonlydir");
    let dst = to.join("appendonlydir");
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
    Dir(to)
}

/// A mix of writes whose effects exercise the log: TTLs (relative and absolute), several
/// databases, a transaction, counters, deletions, and keys that lose or change their TTL.
fn write_workload(raw: &mut common::Raw) {
    for i in 0..60 {
        let key = format!("k{i}");
        let value = format!("value-{i}");
        let reply = match i % 4 {
            0 => raw.cmd(&["SET", &key, &value, "EX", "5000"]),
            1 => raw.cmd(&["SET", &key, &value, "PX", "7000000"]),
            _ => raw.cmd(&["SET", &key, &value]),
        };
        assert_eq!(reply, "+OK\r\n");
    }
    raw.cmd(&["INCRBY", "counter", "41"]);
    raw.cmd(&["INCR", "counter"]);
    raw.cmd(&["INCRBYFLOAT", "float", "1.5"]);
    raw.cmd(&["APPEND", "k2", "-appended"]);
    raw.cmd(&["DEL", "k3", "k5"]);
    raw.cmd(&["EXPIRE", "k6", "9000"]);
    raw.cmd(&["PERSIST", "k0"]);
    raw.cmd(&["SETRANGE", "k7", "2", "XY"]);
    raw.cmd(&["GETDEL", "k9"]);
    raw.cmd(&["SELECT", "5"]);
    raw.cmd(&["MULTI"]);
    raw.cmd(&["SET", "tx", "1"]);
    raw.cmd(&["INCR", "tx"]);
    raw.cmd(&["SETEX", "tx2", "300", "v"]);
    raw.cmd(&["EXEC"]);
    raw.cmd(&["SELECT", "0"]);
}

/// Everything each database holds, key by key: value and absolute deadline.
fn dump(raw: &mut common::Raw) -> Vec<(usize, String, String, String)> {
    let mut out = Vec::new();
    for db in 0..16 {
        raw.cmd(&["SELECT", &db.to_string()]);
        let keys = raw.cmd(&["KEYS", "*"]);
        let mut names: Vec<String> = keys
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .map(str::to_string)
            .collect();
        names.sort();
        for key in names {
            let value = raw.cmd(&["GET", &key]);
            let deadline = raw.cmd(&["PEXPIRETIME", &key]);
            out.push((db, key, value, deadline));
        }
    }
    raw.cmd(&["SELECT", "0"]);
    out
}

#[test]
fn redis_loads_the_aof_kopi_wrote_to_the_same_data() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let kopi_dir = Dir(common::fresh_dir());
    let kopi = Server::start_in(
        &kopi_dir.0,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut raw = kopi.raw();
    write_workload(&mut raw);
    let expected = dump(&mut raw);
    let digest = raw.cmd(&["DEBUG", "DIGEST"]);
    assert!(expected.len() > 50);
    drop(raw);
    drop(kopi); // SIGKILL: what was acknowledged is in the files.

    let copy = copy_aof_dir(&kopi_dir.0);
    let redis = start_redis(&redis_server, &copy.0, &[]);
    let mut raw = redis.raw();
    assert_eq!(dump(&mut raw), expected);
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), digest);
}

#[test]
fn kopi_loads_the_aof_redis_wrote_with_a_resp_base_to_the_same_data() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let redis_dir = Dir(common::fresh_dir());
    let redis = start_redis(
        &redis_server,
        &redis_dir.0,
        &[
            "--aof-use-rdb-preamble",
            "no",
            "--aof-timestamp-enabled",
            "yes",
        ],
    );
    let mut raw = redis.raw();
    write_workload(&mut raw);
    // A rewrite makes a RESP base with data in it; later writes go to the next incr file.
    assert!(raw.cmd(&["BGREWRITEAOF"]).contains("started"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = raw.cmd(&["INFO", "persistence"]);
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
        std::thread::sleep(Duration::from_millis(20));
    }
    raw.cmd(&["SET", "after-rewrite", "yes", "EX", "1234"]);
    raw.cmd(&["DEL", "k1"]);
    raw.cmd(&["SELECT", "2"]);
    raw.cmd(&["SET", "in2", "x"]);
    raw.cmd(&["SELECT", "0"]);
    let expected = dump(&mut raw);
    let digest = raw.cmd(&["DEBUG", "DIGEST"]);
    assert!(expected.len() > 50);
    assert!(expected.iter().any(|(db, key, ..)| *db == 5 && key == "tx"));
    drop(raw);
    drop(redis);
    let names: Vec<String> = std::fs::read_dir(redis_dir.0.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with(".2.base.aof")),
        "{names:?}"
    );

    let copy = copy_aof_dir(&redis_dir.0);
    let kopi = Server::start_in(
        &copy.0,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut raw = kopi.raw();
    assert_eq!(dump(&mut raw), expected);
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), digest);
}

#[test]
fn redis_loads_the_aof_kopi_rewrote_to_the_same_data() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let kopi_dir = Dir(common::fresh_dir());
    let kopi = Server::start_in(
        &kopi_dir.0,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut raw = kopi.raw();
    write_workload(&mut raw);
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    raw.cmd(&["INCR", "counter"]);
    raw.cmd(&["SET", "after", "rewrite", "EX", "777"]);
    raw.cmd(&["DEL", "k4"]);
    let expected = dump(&mut raw);
    let digest = raw.cmd(&["DEBUG", "DIGEST"]);
    assert!(expected.len() > 50);
    drop(raw);
    drop(kopi);

    let copy = copy_aof_dir(&kopi_dir.0);
    let redis = start_redis(&redis_server, &copy.0, &[]);
    let mut raw = redis.raw();
    assert_eq!(dump(&mut raw), expected);
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(raw.cmd(&["GET", "counter"]), "$2\r\n43\r\n");
}

/// Polls INFO until no rewrite is in progress.
fn wait_for_rewrite(raw: &mut common::Raw) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !raw
        .cmd(&["INFO", "persistence"])
        .contains("aof_rewrite_in_progress:0")
    {
        assert!(Instant::now() < deadline, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn redis_loads_the_aof_kopi_made_when_enabled_at_run_time_and_rewrote_in_the_background() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let kopi_dir = Dir(common::fresh_dir());
    let kopi = Server::start_in(&kopi_dir.0, &["--enable-debug-command", "yes"]);
    let mut raw = kopi.raw();
    write_workload(&mut raw);
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    raw.cmd(&["INCR", "counter"]);
    wait_for_rewrite(&mut raw);
    raw.cmd(&["SET", "after", "enabling", "PX", "5000000"]);
    // A background rewrite with writes racing it.
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    raw.cmd(&["INCR", "counter"]);
    raw.cmd(&["DEL", "k4"]);
    raw.cmd(&["SELECT", "5"]);
    raw.cmd(&["FLUSHDB"]);
    raw.cmd(&["SET", "new-in-5", "x"]);
    raw.cmd(&["SELECT", "0"]);
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_for_rewrite(&mut raw);
    let expected = dump(&mut raw);
    let digest = raw.cmd(&["DEBUG", "DIGEST"]);
    drop(raw);
    drop(kopi);
    let manifest =
        std::fs::read_to_string(kopi_dir.0.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );

    let copy = copy_aof_dir(&kopi_dir.0);
    let redis = start_redis(&redis_server, &copy.0, &[]);
    let mut raw = redis.raw();
    assert_eq!(dump(&mut raw), expected);
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(raw.cmd(&["GET", "counter"]), "$2\r\n44\r\n");
}
