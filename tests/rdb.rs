//! RDB snapshots: SAVE, BGSAVE, save points, shutdown saves, `dump.rdb` at start-up, RDB
//! bases of the AOF, and files moving between kopi and a real `redis-server` 7.0 both ways.
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{RedisServer, Server, require_program};

const MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";

/// A test-owned directory, removed at the end.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir() -> Dir {
    Dir(common::fresh_dir())
}

fn info_field(raw: &mut common::Raw, field: &str) -> String {
    let info = raw.cmd(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_bgsave(raw: &mut common::Raw) {
    wait_until("the background save", || {
        info_field(raw, "rdb_bgsave_in_progress") == "0"
    });
}

/// Every type in its small and its big encoding, TTLs, integers, long compressible strings,
/// big list elements, three databases. The same commands work on kopi and on Redis.
fn fill(raw: &mut common::Raw) {
    let ok = |reply: String| assert!(!reply.starts_with('-'), "{reply}");
    ok(raw.cmd(&["SET", "str", "hello"]));
    ok(raw.cmd(&["SET", "int", "12345"]));
    ok(raw.cmd(&["SET", "neg", "-1"]));
    ok(raw.cmd(&["SET", "big-int", "9223372036854775807"]));
    ok(raw.cmd(&["SET", "padded", "007"]));
    ok(raw.cmd(&["SET", "long", &"a".repeat(300)]));
    ok(raw.cmd(&[
        "SET",
        "random",
        "x9f3k2m1q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3j2k1l0",
    ]));
    ok(raw.cmd(&["SET", "ttl", "v", "PX", "86400000"]));
    ok(raw.cmd(&["HSET", "hash", "f1", "v1", "f2", "2"]));
    ok(raw.cmd(&["RPUSH", "list", "a", "b", "3", "-70000", &"c".repeat(100)]));
    ok(raw.cmd(&["SADD", "iset", "1", "2", "3", "-100000", "5000000000"]));
    ok(raw.cmd(&["SADD", "sset", "x", "y", "z"]));
    ok(raw.cmd(&[
        "ZADD", "zset", "1.5", "m1", "2", "m2", "-inf", "low", "inf", "high",
    ]));
    ok(raw.cmd(&["EXPIRE", "zset", "100000"]));
    for i in 0..300 {
        let (f, v) = (format!("field{i}"), format!("value{i}"));
        ok(raw.cmd(&["HSET", "bighash", &f, &v]));
        ok(raw.cmd(&["RPUSH", "biglist", &v]));
        ok(raw.cmd(&["SADD", "bigset", &f]));
        ok(raw.cmd(&["SADD", "bigiset", &(i * 7919).to_string()]));
        ok(raw.cmd(&["ZADD", "bigzset", &format!("{}.25", i), &f]));
    }
    ok(raw.cmd(&["RPUSH", "biglist", &"L".repeat(20000)]));
    ok(raw.cmd(&["HSET", "bighash", "long", &"h".repeat(5000)]));
    ok(raw.cmd(&["SELECT", "3"]));
    ok(raw.cmd(&["SET", "db3key", "x"]));
    ok(raw.cmd(&["LPUSH", "db3list", "1", "2"]));
    ok(raw.cmd(&["SELECT", "15"]));
    ok(raw.cmd(&["SET", "db15key", "y"]));
    ok(raw.cmd(&["SELECT", "0"]));
}

/// DEBUG DIGEST, and the deadlines the digest leaves out (PEXPIRETIME).
#[derive(Debug, PartialEq)]
struct Fingerprint {
    digest: String,
    deadlines: Vec<String>,
}

fn fingerprint(raw: &mut common::Raw) -> Fingerprint {
    let digest = raw.cmd(&["DEBUG", "DIGEST"]);
    let deadlines = ["ttl", "zset", "str"]
        .iter()
        .map(|key| format!("{key}:{}", raw.cmd(&["PEXPIRETIME", key]).trim()))
        .collect();
    Fingerprint { digest, deadlines }
}

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];

fn with_debug<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = DEBUG.to_vec();
    args.extend_from_slice(extra);
    args
}

#[test]
fn save_then_restart_loads_every_type() {
    let d = dir();
    let before;
    {
        let server = Server::start_in(&d.0, &with_debug(&["--save", ""]));
        let mut raw = server.raw();
        fill(&mut raw);
        before = fingerprint(&mut raw);
        let saved_before = info_field(&mut raw, "rdb_last_save_time");
        assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
        assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
        assert!(info_field(&mut raw, "rdb_last_save_time") >= saved_before);
        assert_eq!(
            raw.cmd(&["LASTSAVE"]),
            format!(":{}\r\n", info_field(&mut raw, "rdb_last_save_time"))
        );
    }
    assert!(d.0.join("dump.rdb").is_file());
    let server = Server::start_in(&d.0, &with_debug(&["--save", ""]));
    let mut raw = server.raw();
    assert_eq!(fingerprint(&mut raw), before);
    assert_eq!(
        raw.cmd(&["OBJECT", "ENCODING", "bighash"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "ENCODING", "hash"]),
        "$8\r\nlistpack\r\n"
    );
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "iset"]), "$6\r\nintset\r\n");
    assert_eq!(
        raw.cmd(&["OBJECT", "ENCODING", "bigzset"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(raw.cmd(&["OBJECT", "ENCODING", "int"]), "$3\r\nint\r\n");
    assert_ne!(info_field(&mut raw, "rdb_last_load_keys_loaded"), "0");
    assert!(server.log_text().contains("DB loaded from disk"));
}

#[test]
fn expired_keys_are_not_loaded_from_dump_rdb() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &["--save", ""]);
        let mut raw = server.raw();
        raw.cmd(&["SET", "stays", "1"]);
        raw.cmd(&["SET", "goes", "1", "PX", "300"]);
        assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
    }
    std::thread::sleep(Duration::from_millis(400));
    let server = Server::start_in(&d.0, &["--save", ""]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
    assert_eq!(info_field(&mut raw, "rdb_last_load_keys_expired"), "1");
    assert_eq!(info_field(&mut raw, "rdb_last_load_keys_loaded"), "1");
}

#[test]
fn bgsave_writes_the_dataset_as_it_was_when_it_started() {
    let d = dir();
    {
        // A slow save: 200 µs per key, while every key is overwritten.
        let server = Server::start_in(&d.0, &["--save", "", "--rdb-key-save-delay", "200"]);
        let mut raw = server.raw();
        for i in 0..2000 {
            raw.cmd(&["SET", &format!("k{i}"), "old"]);
        }
        assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
        assert_eq!(info_field(&mut raw, "rdb_bgsave_in_progress"), "1");
        assert_eq!(
            raw.cmd(&["BGSAVE"]),
            "-ERR Background save already in progress\r\n"
        );
        assert_eq!(
            raw.cmd(&["SAVE"]),
            "-ERR Background save already in progress\r\n"
        );
        for i in 0..2000 {
            raw.cmd(&["SET", &format!("k{i}"), "new"]);
        }
        raw.cmd(&["SET", "added-later", "x"]);
        wait_for_bgsave(&mut raw);
        assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
        assert_eq!(info_field(&mut raw, "rdb_saves"), "1");
        // The writes made during the save are still unsaved.
        assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "2001");
    }
    let server = Server::start_in(&d.0, &["--save", ""]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), ":2000\r\n");
    for i in (0..2000).step_by(97) {
        assert_eq!(raw.cmd(&["GET", &format!("k{i}")]), "$3\r\nold\r\n");
    }
}

#[test]
fn bgsave_syntax_and_schedule_during_an_aof_rewrite() {
    let server = Server::start_with(&[
        "--save",
        "",
        "--appendonly",
        "yes",
        "--rdb-key-save-delay",
        "1000",
    ]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["BGSAVE", "now"]), "-ERR syntax error\r\n");
    for i in 0..500 {
        raw.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert_eq!(
        raw.cmd(&["BGSAVE"]),
        "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n"
    );
    assert_eq!(
        raw.cmd(&["BGSAVE", "SCHEDULE"]),
        "+Background saving scheduled\r\n"
    );
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_until("the scheduled save", || {
        server.dir.join("dump.rdb").is_file()
    });
    wait_for_bgsave(&mut raw);
    assert_eq!(info_field(&mut raw, "aof_last_bgrewrite_status"), "ok");
}

#[test]
fn save_points_save_in_the_background() {
    let server = Server::start_with(&["--save", "1 3"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "a", "1"]);
    raw.cmd(&["SET", "b", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!server.dir.join("dump.rdb").exists(), "only 2 changes");
    raw.cmd(&["SET", "c", "1"]);
    wait_until("the save point", || server.dir.join("dump.rdb").is_file());
    wait_until("the log line", || {
        server
            .log_text()
            .contains("3 changes in 1 seconds. Saving...")
    });
    wait_for_bgsave(&mut raw);
    assert_eq!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
}

#[test]
fn shutdown_saves_with_save_points_and_not_with_nosave() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &[]);
        let mut raw = server.raw();
        raw.cmd(&["SET", "k", "v"]);
        raw.send_cmd(&[b"SHUTDOWN", b"NOSAVE"]);
        assert!(raw.closed());
    }
    assert!(!d.0.join("dump.rdb").exists());
    {
        let mut server = Server::start_in(&d.0, &[]);
        let mut raw = server.raw();
        raw.cmd(&["SET", "k", "v"]);
        raw.send_cmd(&[b"SHUTDOWN"]);
        assert!(raw.closed());
        server.child.wait().unwrap();
        assert!(
            server
                .log_text()
                .contains("Saving the final RDB snapshot before exiting.")
        );
    }
    {
        let server = Server::start_in(&d.0, &["--save", ""]);
        let mut raw = server.raw();
        assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
        raw.cmd(&["SET", "k", "v2"]);
        // No save points, but SHUTDOWN SAVE.
        raw.send_cmd(&[b"SHUTDOWN", b"SAVE"]);
        assert!(raw.closed());
    }
    {
        // SIGTERM saves too.
        let mut server = Server::start_in(&d.0, &[]);
        let mut raw = server.raw();
        assert_eq!(raw.cmd(&["GET", "k"]), "$2\r\nv2\r\n");
        raw.cmd(&["SET", "k", "v3"]);
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
        server.child.wait().unwrap();
    }
    let server = Server::start_in(&d.0, &[]);
    assert_eq!(server.raw().cmd(&["GET", "k"]), "$2\r\nv3\r\n");
}

#[test]
fn a_failing_bgsave_refuses_writes_with_misconf_until_one_succeeds() {
    let server = Server::start_with(&["--save", "3600 1"]);
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    // A directory (not empty) where dump.rdb goes: the rename cannot replace it.
    let blocker = server.dir.join("dump.rdb");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("x"), b"x").unwrap();
    assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    wait_for_bgsave(&mut raw);
    assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "err");
    let misconf = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";
    assert_eq!(raw.cmd(&["SET", "k", "v2"]), misconf);
    assert_eq!(raw.cmd(&["PING"]), misconf);
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    // SHUTDOWN cannot save either: refused unless FORCE.
    assert_eq!(
        raw.cmd(&["SHUTDOWN"]),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    raw.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    assert_eq!(raw.cmd(&["SET", "k", "v2"]), "+OK\r\n");
    raw.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]);
    assert_eq!(raw.cmd(&["SET", "k", "v3"]), misconf);
    std::fs::remove_dir_all(&blocker).unwrap();
    assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    wait_for_bgsave(&mut raw);
    assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
    assert_eq!(raw.cmd(&["SET", "k", "v3"]), "+OK\r\n");
}

#[test]
fn a_crash_during_bgsave_leaves_the_previous_dump_whole() {
    let d = dir();
    {
        let mut server = Server::start_in(&d.0, &["--save", "", "--rdb-key-save-delay", "2000"]);
        let mut raw = server.raw();
        raw.cmd(&["SET", "first", "1"]);
        assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
        for i in 0..1000 {
            raw.cmd(&["SET", &format!("k{i}"), "v"]);
        }
        assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
        std::thread::sleep(Duration::from_millis(300));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    let server = Server::start_in(&d.0, &["--save", ""]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
    assert_eq!(raw.cmd(&["GET", "first"]), "$1\r\n1\r\n");
}

#[test]
fn debug_reload_saves_and_loads_back() {
    let server = Server::start_with(&with_debug(&["--save", ""]));
    let mut raw = server.raw();
    fill(&mut raw);
    let before = fingerprint(&mut raw);
    assert_eq!(raw.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(fingerprint(&mut raw), before);
    assert!(server.dir.join("dump.rdb").is_file());
    assert!(server.log_text().contains("DB reloaded by DEBUG RELOAD"));
}

#[test]
fn the_aof_base_is_an_rdb_preamble_and_loads_back() {
    let d = dir();
    let before;
    {
        let server = Server::start_in(&d.0, &with_debug(&["--appendonly", "yes", "--save", ""]));
        let manifest = std::fs::read_to_string(d.0.join(MANIFEST)).unwrap();
        assert!(
            manifest.contains("file appendonly.aof.1.base.rdb seq 1 type b"),
            "{manifest}"
        );
        let base = std::fs::read(d.0.join("appendonlydir/appendonly.aof.1.base.rdb")).unwrap();
        assert!(base.starts_with(b"REDIS0010"));
        let mut raw = server.raw();
        fill(&mut raw);
        assert!(
            raw.cmd(&["BGREWRITEAOF"])
                .starts_with("+Background append only file rewriting")
        );
        wait_until("the rewrite", || {
            info_field(&mut raw, "aof_rewrite_in_progress") == "0"
        });
        raw.cmd(&["SET", "after-rewrite", "1"]);
        before = fingerprint(&mut raw);
    }
    let manifest = std::fs::read_to_string(d.0.join(MANIFEST)).unwrap();
    assert!(manifest.contains("appendonly.aof.2.base.rdb"), "{manifest}");
    let server = Server::start_in(&d.0, &with_debug(&["--appendonly", "yes", "--save", ""]));
    let mut raw = server.raw();
    assert_eq!(fingerprint(&mut raw), before);
}

#[test]
fn appendonly_yes_with_only_a_dump_rdb_makes_it_the_first_base() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &["--save", ""]);
        let mut raw = server.raw();
        raw.cmd(&["SET", "from-rdb", "1"]);
        raw.cmd(&["RPUSH", "list", "a", "b"]);
        assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
    }
    for preamble in ["yes", "no"] {
        let _ = std::fs::remove_dir_all(d.0.join("appendonlydir"));
        {
            let server = Server::start_in(
                &d.0,
                &[
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                    "--aof-use-rdb-preamble",
                    preamble,
                ],
            );
            let mut raw = server.raw();
            assert_eq!(
                raw.cmd(&["GET", "from-rdb"]),
                "$1\r\n1\r\n",
                "preamble {preamble}"
            );
            assert!(server.log_text().contains("become the first AOF base"));
        }
        // The AOF alone holds it now.
        std::fs::rename(d.0.join("dump.rdb"), d.0.join("kept.rdb")).unwrap();
        {
            let server = Server::start_in(&d.0, &["--appendonly", "yes", "--save", ""]);
            let mut raw = server.raw();
            assert_eq!(
                raw.cmd(&["LRANGE", "list", "0", "-1"]),
                "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
            );
        }
        std::fs::rename(d.0.join("kept.rdb"), d.0.join("dump.rdb")).unwrap();
    }
}

// ---- Interchange with redis-server 7.0 ----

fn digest_of(raw: &mut common::Raw) -> String {
    raw.cmd(&["DEBUG", "DIGEST"])
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

#[test]
fn a_dump_rdb_written_by_redis_loads_in_kopi() {
    let test = "a_dump_rdb_written_by_redis_loads_in_kopi";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    for compression in ["yes", "no"] {
        let redis = RedisServer::start(
            &program,
            &[
                "--enable-debug-command",
                "yes",
                "--save",
                "",
                "--rdbcompression",
                compression,
            ],
        );
        let mut theirs = redis.raw();
        fill(&mut theirs);
        let want = fingerprint(&mut theirs);
        assert_eq!(theirs.cmd(&["SAVE"]), "+OK\r\n");
        let d = dir();
        copy(&redis.dir.join("dump.rdb"), &d.0.join("dump.rdb"));
        let server = Server::start_in(&d.0, &with_debug(&["--save", ""]));
        let mut ours = server.raw();
        assert_eq!(fingerprint(&mut ours), want, "rdbcompression {compression}");
        assert_eq!(
            ours.cmd(&["OBJECT", "ENCODING", "biglist"]),
            "$9\r\nquicklist\r\n"
        );
    }
}

#[test]
fn a_dump_rdb_written_by_kopi_loads_in_redis_and_passes_redis_check_rdb() {
    let test = "a_dump_rdb_written_by_kopi_loads_in_redis_and_passes_redis_check_rdb";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let Some(check) = require_program("redis-check-rdb", test) else {
        return;
    };
    for compression in ["yes", "no"] {
        let d = dir();
        let want;
        {
            let server = Server::start_in(
                &d.0,
                &with_debug(&["--save", "", "--rdbcompression", compression]),
            );
            let mut ours = server.raw();
            fill(&mut ours);
            want = fingerprint(&mut ours);
            assert_eq!(ours.cmd(&["SAVE"]), "+OK\r\n");
        }
        let out = std::process::Command::new(&check)
            .arg(d.0.join("dump.rdb"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "redis-check-rdb:\n{text}");
        assert!(text.contains("RDB looks OK"), "{text}");
        let redis_dir = dir();
        copy(&d.0.join("dump.rdb"), &redis_dir.0.join("dump.rdb"));
        let redis = RedisServer::start_in(
            &program,
            &redis_dir.0,
            &["--enable-debug-command", "yes", "--save", ""],
        );
        let mut theirs = redis.raw();
        assert_eq!(
            fingerprint(&mut theirs),
            want,
            "rdbcompression {compression}"
        );
    }
}

#[test]
fn rdb_preamble_aof_dirs_move_between_kopi_and_redis() {
    let test = "rdb_preamble_aof_dirs_move_between_kopi_and_redis";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let Some(check_aof) = require_program("redis-check-aof", test) else {
        return;
    };
    // kopi → Redis: kopi's base is an RDB, then its incr file.
    let d = dir();
    let want;
    {
        let server = Server::start_in(&d.0, &with_debug(&["--appendonly", "yes", "--save", ""]));
        let mut ours = server.raw();
        fill(&mut ours);
        assert!(ours.cmd(&["BGREWRITEAOF"]).starts_with('+'));
        wait_until("the rewrite", || {
            info_field(&mut ours, "aof_rewrite_in_progress") == "0"
        });
        ours.cmd(&["SET", "in-incr", "1"]);
        ours.cmd(&["HSET", "hash", "f3", "v3"]);
        want = digest_of(&mut ours);
    }
    let out = std::process::Command::new(&check_aof)
        .arg(d.0.join(MANIFEST))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-check-aof:\n{text}");
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
    {
        let redis = RedisServer::start_in(
            &program,
            &d.0,
            &[
                "--enable-debug-command",
                "yes",
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
        );
        let mut theirs = redis.raw();
        assert_eq!(digest_of(&mut theirs), want, "Redis on kopi's AOF dir");
        // Redis → kopi: Redis rewrites (an RDB base of its own) and writes to its incr.
        assert!(theirs.cmd(&["BGREWRITEAOF"]).starts_with('+'));
        wait_until("Redis's rewrite", || {
            info_field(&mut theirs, "aof_rewrite_in_progress") == "0"
                && info_field(&mut theirs, "aof_rewrite_scheduled") == "0"
        });
        theirs.cmd(&["SADD", "sset", "w"]);
    }
    let manifest = std::fs::read_to_string(d.0.join(MANIFEST)).unwrap();
    assert!(manifest.contains("base.rdb"), "{manifest}");
    let redis_digest = {
        let redis = RedisServer::start_in(
            &program,
            &d.0,
            &[
                "--enable-debug-command",
                "yes",
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
        );
        digest_of(&mut redis.raw())
    };
    let server = Server::start_in(&d.0, &with_debug(&["--appendonly", "yes", "--save", ""]));
    assert_eq!(
        digest_of(&mut server.raw()),
        redis_digest,
        "kopi on Redis's AOF dir"
    );
}

/// The keys `fill` makes in db 0.
const FILLED: &[&str] = &[
    "str", "int", "neg", "big-int", "padded", "long", "random", "ttl", "hash", "list", "iset",
    "sset", "zset", "bighash", "biglist", "bigset", "bigiset", "bigzset",
];

/// DUMP's payload of `key` (the bulk reply's bytes).
fn dump(raw: &mut common::Raw, key: &str) -> Vec<u8> {
    raw.send_cmd(&[b"DUMP", key.as_bytes()]);
    let reply = raw.read_reply();
    assert_eq!(reply[0], b'$', "DUMP {key}");
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    reply[start..reply.len() - 2].to_vec()
}

/// DUMP every key on `from`, RESTORE it on `to` (with its TTL, REPLACE).
fn dump_restore(from: &mut common::Raw, to: &mut common::Raw) {
    for key in FILLED {
        let payload = &dump(from, key)[..];
        let ttl = from.cmd(&["PTTL", key]);
        let ttl = ttl[1..].trim().parse::<i64>().unwrap().max(0).to_string();
        to.send_cmd(&[
            b"RESTORE",
            key.as_bytes(),
            ttl.as_bytes(),
            payload,
            b"REPLACE",
        ]);
        assert_eq!(to.read_reply(), b"+OK\r\n", "RESTORE {key}");
    }
}

#[test]
fn dump_and_restore_move_values_between_kopi_and_redis() {
    let test = "dump_and_restore_move_values_between_kopi_and_redis";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let redis = RedisServer::start(&program, &["--enable-debug-command", "yes", "--save", ""]);
    let server = Server::start_with(&with_debug(&["--save", ""]));
    let (mut ours, mut theirs) = (server.raw(), redis.raw());
    fill(&mut ours);
    let want = ours.cmd(&["DEBUG", "DIGEST"]);
    dump_restore(&mut ours, &mut theirs);
    theirs.cmd(&["SELECT", "3"]);
    theirs.cmd(&["SET", "db3key", "x"]);
    theirs.cmd(&["LPUSH", "db3list", "1", "2"]);
    theirs.cmd(&["SELECT", "15"]);
    theirs.cmd(&["SET", "db15key", "y"]);
    theirs.cmd(&["SELECT", "0"]);
    assert_eq!(
        theirs.cmd(&["DEBUG", "DIGEST"]),
        want,
        "kopi's DUMP in Redis"
    );
    // And back: Redis's payloads restored over kopi's keys.
    ours.cmd(&["FLUSHDB"]);
    dump_restore(&mut theirs, &mut ours);
    assert_eq!(ours.cmd(&["DEBUG", "DIGEST"]), want, "Redis's DUMP in kopi");
    // Same replies for the same mistakes.
    let payload = dump(&mut ours, "str");
    let mut corrupt = payload.clone();
    corrupt[1] ^= 0x40;
    let mut no_crc = payload.clone();
    let n = no_crc.len();
    no_crc[n - 8..].fill(0);
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"str", b"0", &payload],
        vec![b"RESTORE", b"new", b"-1", &payload],
        vec![b"RESTORE", b"new", b"x", &payload],
        vec![b"RESTORE", b"new", b"0", &corrupt],
        vec![b"RESTORE", b"new", b"0", b"short"],
        vec![b"RESTORE", b"new", b"0", &no_crc],
        vec![b"RESTORE", b"new", b"0", &payload, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"new", b"0", &payload, b"FREQ", b"256"],
        vec![
            b"RESTORE",
            b"new",
            b"0",
            &payload,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"2",
        ],
        vec![b"RESTORE", b"new", b"0", &payload, b"BOGUS"],
        vec![b"RESTORE", b"new", b"1", &payload, b"ABSTTL"],
        vec![
            b"RESTORE",
            b"new",
            b"0",
            &payload,
            b"REPLACE",
            b"IDLETIME",
            b"10",
        ],
        vec![b"DUMP", b"nosuchkey"],
    ];
    for case in cases {
        ours.send_cmd(&case);
        theirs.send_cmd(&case);
        let (a, b) = (ours.read_reply(), theirs.read_reply());
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "{:?}",
            case.iter()
                .take(3)
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn restore_is_logged_with_an_absolute_deadline() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &["--appendonly", "yes", "--save", ""]);
        let mut raw = server.raw();
        raw.cmd(&["SET", "src", "value"]);
        let payload = dump(&mut raw, "src");
        raw.send_cmd(&[b"RESTORE", b"copy", b"100000", &payload]);
        assert_eq!(raw.read_reply(), b"+OK\r\n");
        raw.send_cmd(&[b"RESTORE", b"src", b"1", &payload, b"REPLACE", b"ABSTTL"]);
        assert_eq!(raw.read_reply(), b"+OK\r\n");
        let pttl: i64 = raw.cmd(&["PTTL", "copy"])[1..].trim().parse().unwrap();
        assert!(pttl > 99_000 && pttl <= 100_000, "{pttl}");
        assert_eq!(raw.cmd(&["EXISTS", "src"]), ":0\r\n");
    }
    // The payload is binary: the incr file is searched as bytes.
    let incr = std::fs::read(d.0.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let find = |needle: &[u8]| incr.windows(needle.len()).position(|w| w == needle);
    let at = find(b"*5\r\n$7\r\nRESTORE\r\n$4\r\ncopy\r\n$13\r\n").expect("RESTORE logged");
    let abs = find(b"$6\r\nABSTTL\r\n").expect("with ABSTTL");
    assert!(abs > at);
    assert!(find(b"*2\r\n$3\r\nDEL\r\n$3\r\nsrc\r\n").is_some());
    let server = Server::start_in(&d.0, &["--appendonly", "yes", "--save", ""]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "copy"]), "$5\r\nvalue\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "src"]), ":0\r\n");
}

#[test]
fn flushall_stops_a_bgsave_and_saves_the_empty_dataset() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &["--save", "3600 1", "--rdb-key-save-delay", "1000"]);
        let mut raw = server.raw();
        for i in 0..3000 {
            raw.cmd(&["SET", &format!("k{i}"), "v"]);
        }
        assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
        raw.cmd(&["SET", "one-more", "v"]);
        assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
        assert_eq!(raw.cmd(&["FLUSHALL"]), "+OK\r\n");
        let deadline = Instant::now() + Duration::from_secs(1);
        while info_field(&mut raw, "rdb_bgsave_in_progress") != "0" {
            assert!(Instant::now() < deadline, "the BGSAVE was not stopped");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
        // FLUSHALL's change still counts; the save it made has the empty dataset.
        assert_ne!(info_field(&mut raw, "rdb_changes_since_last_save"), "0");
        assert_eq!(raw.cmd(&["SET", "x", "xx"]), "+OK\r\n");
        assert!(
            std::fs::read_dir(&d.0).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("temp-")),
            "the stopped save's temp file is removed"
        );
        raw.send_cmd(&[b"SHUTDOWN", b"NOSAVE"]);
        assert!(raw.closed());
    }
    let server = Server::start_in(&d.0, &["--save", ""]);
    assert_eq!(server.raw().cmd(&["DBSIZE"]), ":0\r\n");
}

#[test]
fn keys_past_their_deadline_are_saved_and_dropped_on_load_as_redis_does() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &with_debug(&["--save", ""]));
        let mut raw = server.raw();
        raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        for i in 0..100 {
            raw.cmd(&["SELECT", &(i % 16).to_string()]);
            raw.cmd(&["SET", &i.to_string(), "v", "PX", "10"]);
        }
        raw.cmd(&["SELECT", "0"]);
        raw.cmd(&["SET", "stays", "v"]);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(raw.cmd(&["SAVE"]), "+OK\r\n");
        assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
        wait_for_bgsave(&mut raw);
    }
    let server = Server::start_in(&d.0, &["--save", ""]);
    let mut raw = server.raw();
    assert_eq!(info_field(&mut raw, "rdb_last_load_keys_expired"), "100");
    assert_eq!(info_field(&mut raw, "rdb_last_load_keys_loaded"), "1");
}

#[test]
fn a_corrupt_dump_rdb_refuses_the_start_with_a_crc_error() {
    let d = dir();
    {
        let server = Server::start_in(&d.0, &["--save", ""]);
        server.raw().cmd(&["SET", "k", "v"]);
        assert_eq!(server.raw().cmd(&["SAVE"]), "+OK\r\n");
    }
    let path = d.0.join("dump.rdb");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 8..].copy_from_slice(b"foobar00");
    std::fs::write(&path, &bytes).unwrap();
    let log = d.0.join("refused.log");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_kopi-server"))
        .args([
            "--port",
            &common::free_port().to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .current_dir(&d.0)
        .stdout(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Fatal error loading the DB"), "{text}");
    assert!(text.contains("CRC error"), "{text}");
}

#[test]
fn bgrewriteaof_during_a_bgsave_is_scheduled_and_both_complete() {
    for appendonly in ["yes", "no"] {
        let server = Server::start_with(&[
            "--save",
            "",
            "--appendonly",
            appendonly,
            "--rdb-key-save-delay",
            "500",
        ]);
        let mut raw = server.raw();
        for i in 0..1000 {
            raw.cmd(&["SET", &format!("k{i}"), "v"]);
        }
        assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
        assert_eq!(
            raw.cmd(&["BGREWRITEAOF"]),
            "+Background append only file rewriting scheduled\r\n",
            "appendonly {appendonly}"
        );
        raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        wait_for_bgsave(&mut raw);
        assert_eq!(info_field(&mut raw, "rdb_last_bgsave_status"), "ok");
        wait_until("the rewrite", || {
            let done = if appendonly == "yes" {
                info_field(&mut raw, "aof_rewrites") == "1"
            } else {
                std::fs::read_to_string(server.dir.join(MANIFEST))
                    .is_ok_and(|m| m.contains("base.rdb"))
            };
            done && info_field(&mut raw, "aof_rewrite_in_progress") == "0"
        });
        assert_eq!(info_field(&mut raw, "aof_last_bgrewrite_status"), "ok");
        assert!(server.dir.join("dump.rdb").is_file());
    }
}
