//! `maxmemory` and `maxmemory-policy`: which keys each policy evicts, the OOM refusals (and
//! what keeps working), evictions in the AOF, a lower limit set at run time, INFO fields.
//!
//! The memory eviction compares with the limit is INFO's `used_memory` less
//! `mem_not_counted_for_evict`. Assertions about which keys survive are statistical with wide
//! margins: sampling is random, but the margins are far from what a wrong policy gives.

mod common;

use std::time::{Duration, Instant};

use common::{RedisServer, Server, require_program};
use redis::Commands;

/// Bytes of each value: large enough that one key is well above the allocator counter's
/// per-thread imprecision.
const VALUE_BYTES: usize = 1000;

fn value() -> String {
    "v".repeat(VALUE_BYTES)
}

fn info_field(con: &mut redis::Connection, section: &str, name: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}:\n{text}"))
        .to_string()
}

fn info_u64(con: &mut redis::Connection, section: &str, name: &str) -> u64 {
    info_field(con, section, name).parse().unwrap()
}

/// The memory eviction counts: `used_memory` less `mem_not_counted_for_evict`.
fn counted(con: &mut redis::Connection) -> u64 {
    let text: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
    let field = |name: &str| -> u64 {
        let prefix = format!("{name}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap()
            .parse()
            .unwrap()
    };
    field("used_memory") - field("mem_not_counted_for_evict")
}

fn evicted(con: &mut redis::Connection) -> u64 {
    info_u64(con, "stats", "evicted_keys")
}

fn config_set(con: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .unwrap();
}

/// Sets `maxmemory` to what is counted now plus `headroom` bytes; returns the limit.
fn limit_above_current(con: &mut redis::Connection, headroom: u64) -> u64 {
    let limit = counted(con) + headroom;
    config_set(con, "maxmemory", &limit.to_string());
    limit
}

/// How many of `keys` exist.
fn existing(con: &mut redis::Connection, keys: &[String]) -> usize {
    let mut total = 0;
    for chunk in keys.chunks(500) {
        let n: usize = redis::cmd("EXISTS").arg(chunk).query(con).unwrap();
        total += n;
    }
    total
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

/// Writes `count` keys `prefix:i` (with a TTL when `ttl_s` is given).
fn write_keys(con: &mut redis::Connection, prefix: &str, count: usize, ttl_s: Option<u64>) {
    let value = value();
    let mut pipe = redis::pipe();
    for key in names(prefix, count) {
        match ttl_s {
            Some(ttl) => pipe.cmd("SETEX").arg(key).arg(ttl).arg(&value).ignore(),
            None => pipe.cmd("SET").arg(key).arg(&value).ignore(),
        };
    }
    let _: () = pipe.query(con).unwrap();
}

/// Writes new keys `prefix:i` one by one until `evicted_keys` reaches `wanted` (they must
/// never be refused); returns how many were written.
fn fill_until_evicted(
    con: &mut redis::Connection,
    prefix: &str,
    ttl_s: Option<u64>,
    wanted: u64,
) -> usize {
    let value = value();
    for i in 0..200_000usize {
        let key = format!("{prefix}:{i}");
        let _: () = match ttl_s {
            Some(ttl) => con.set_ex(&key, &value, ttl).unwrap(),
            None => con.set(&key, &value).unwrap(),
        };
        if i % 16 == 15 && evicted(con) >= wanted {
            return i + 1;
        }
    }
    panic!("no {wanted} evictions after 200000 writes");
}

// ---- every policy evicts the right class of keys ----

#[test]
fn allkeys_policies_evict_any_key_and_honour_the_limit() {
    for policy in ["allkeys-random", "allkeys-lru", "allkeys-lfu"] {
        let server = Server::start_with(&["--maxmemory-policy", policy]);
        let mut con = server.conn();
        write_keys(&mut con, "old", 300, None);
        let limit = limit_above_current(&mut con, 200 * 1024);
        let written = fill_until_evicted(&mut con, "new", None, 1);
        // As many again: everything fits by evicting, nothing is refused.
        let value = value();
        for i in 0..written + 300 {
            let _: () = con.set(format!("more:{i}"), &value).unwrap();
        }
        let used = counted(&mut con);
        assert!(
            used <= limit + 64 * 1024,
            "{policy}: {used} counted, limit {limit}"
        );
        let evicted_keys = evicted(&mut con);
        assert!(evicted_keys > 300, "{policy}: {evicted_keys} evicted");
        let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(
            dbsize + evicted_keys,
            300 + written as u64 + written as u64 + 300,
            "{policy}: every key written is either there or evicted"
        );
        // Keys without a TTL were evicted: the only kind there is.
        assert!(existing(&mut con, &names("old", 300)) < 300, "{policy}");
    }
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl_then_refuse_writes() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let server = Server::start_with(&["--maxmemory-policy", policy]);
        let mut con = server.conn();
        let persistent = names("persistent", 300);
        write_keys(&mut con, "persistent", 300, None);
        write_keys(&mut con, "volatile", 300, Some(100_000));
        limit_above_current(&mut con, 100 * 1024);
        fill_until_evicted(&mut con, "newvolatile", Some(100_000), 50);
        assert_eq!(existing(&mut con, &persistent), 300, "{policy}");
        // Keys without a TTL only from now on: once no key with a TTL is left, writes are
        // refused with Redis's OOM error, and nothing without a TTL was evicted.
        let value = value();
        let mut refused = None;
        for i in 0..20_000 {
            if let Err(e) = con.set::<_, _, ()>(format!("more:{i}"), &value) {
                refused = Some((i, e));
                break;
            }
        }
        let (written, err) = refused.unwrap_or_else(|| panic!("{policy}: never refused"));
        assert_eq!(err.code(), Some("OOM"), "{policy}: {err}");
        assert!(
            err.to_string()
                .contains("command not allowed when used memory > 'maxmemory'."),
            "{err}"
        );
        assert_eq!(existing(&mut con, &persistent), 300, "{policy}");
        assert_eq!(existing(&mut con, &names("more", written)), written);
        let keyspace = info_field(&mut con, "keyspace", "db0");
        assert!(keyspace.contains(",expires=0,"), "{policy}: {keyspace}");
        // Reads and deletions still work.
        let got: Option<String> = con.get("persistent:0").unwrap();
        assert_eq!(got.as_deref(), Some(value.as_str()));
        let deleted: u64 = con.del("persistent:1").unwrap();
        assert_eq!(deleted, 1);
    }
}

#[test]
fn volatile_ttl_evicts_the_soonest_deadlines_first() {
    let server = Server::start_with(&["--maxmemory-policy", "volatile-ttl"]);
    let mut con = server.conn();
    write_keys(&mut con, "late", 200, Some(100_000));
    write_keys(&mut con, "soon", 200, Some(1_000));
    write_keys(&mut con, "latest", 200, Some(200_000));
    limit_above_current(&mut con, 100 * 1024);
    fill_until_evicted(&mut con, "fill", Some(150_000), 100);
    config_set(&mut con, "maxmemory", "0");
    let evicted_keys = evicted(&mut con) as usize;
    assert!(
        evicted_keys < 200,
        "stopped before the soonest keys ran out"
    );
    assert_eq!(existing(&mut con, &names("late", 200)), 200);
    assert_eq!(existing(&mut con, &names("latest", 200)), 200);
    assert_eq!(existing(&mut con, &names("soon", 200)), 200 - evicted_keys);
}

/// Keys read after a pause are kept, as LRU wants, far more often than keys left idle.
#[test]
fn lru_policies_keep_recently_read_keys() {
    for (policy, ttl) in [("allkeys-lru", None), ("volatile-lru", Some(100_000))] {
        let server = Server::start_with(&["--maxmemory-policy", policy]);
        let mut con = server.conn();
        write_keys(&mut con, "hot", 1000, ttl);
        write_keys(&mut con, "cold", 1000, ttl);
        write_keys(&mut con, "persistent", 100, None);
        // The LRU clock counts seconds: after this pause every key is at least 2 s idle...
        std::thread::sleep(Duration::from_millis(2100));
        // ... except the ones read now.
        let hot = names("hot", 1000);
        for chunk in hot.chunks(100) {
            let _: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut con).unwrap();
        }
        limit_above_current(&mut con, 64 * 1024);
        fill_until_evicted(&mut con, "fill", ttl, 600);
        // No more evictions while counting (every command may evict).
        config_set(&mut con, "maxmemory", "0");
        let hot_kept = existing(&mut con, &hot);
        let cold_kept = existing(&mut con, &names("cold", 1000));
        // The idle keys go first: of 600+ evictions, hardly any hot key.
        assert!(
            hot_kept >= 950,
            "{policy}: hot {hot_kept}, cold {cold_kept}"
        );
        assert!(
            cold_kept <= 600,
            "{policy}: hot {hot_kept}, cold {cold_kept}"
        );
        if ttl.is_some() {
            assert_eq!(existing(&mut con, &names("persistent", 100)), 100);
        }
    }
}

/// Keys read many times are kept, as LFU wants, far more often than keys never read.
#[test]
fn lfu_policies_keep_frequently_used_keys() {
    for (policy, ttl) in [("allkeys-lfu", None), ("volatile-lfu", Some(100_000))] {
        let server = Server::start_with(&["--maxmemory-policy", policy]);
        let mut con = server.conn();
        write_keys(&mut con, "hot", 500, ttl);
        write_keys(&mut con, "cold", 500, ttl);
        write_keys(&mut con, "persistent", 100, None);
        let hot = names("hot", 500);
        for _ in 0..50 {
            let _: Vec<Option<String>> = redis::cmd("MGET").arg(&hot).query(&mut con).unwrap();
        }
        let freq: u64 = redis::cmd("OBJECT")
            .arg("FREQ")
            .arg("hot:0")
            .query(&mut con)
            .unwrap();
        assert!(freq > 5, "{policy}: reads raised the counter ({freq})");
        limit_above_current(&mut con, 64 * 1024);
        fill_until_evicted(&mut con, "fill", ttl, 400);
        config_set(&mut con, "maxmemory", "0");
        let hot_kept = existing(&mut con, &hot);
        let cold_kept = existing(&mut con, &names("cold", 500));
        assert!(
            hot_kept >= 475,
            "{policy}: hot {hot_kept}, cold {cold_kept}"
        );
        assert!(
            cold_kept <= 400,
            "{policy}: hot {hot_kept}, cold {cold_kept}"
        );
        if ttl.is_some() {
            assert_eq!(existing(&mut con, &names("persistent", 100)), 100);
        }
    }
}

// ---- OOM: what is refused, what keeps working, byte for byte with Redis ----

/// One client's script against a server: the replies, raw. A second connection changes
/// `maxmemory` between steps (`!limit <n>`), as CONFIG SET from another client.
fn run_oom_script(port: u16) -> Vec<String> {
    let mut main = common::Raw::connect(port);
    let mut admin = common::Raw::connect(port);
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["!limit", "1"],
        &["SET", "k", "v"],
        &["INCR", "a"],
        &["GET", "a"],
        &["EXISTS", "a"],
        &["PING"],
        // Inside MULTI every command but EXEC, DISCARD, QUIT and RESET is refused: queueing
        // takes memory. The refusal aborts the transaction.
        &["MULTI"],
        &["SET", "k", "v"],
        &["GET", "a"],
        &["WATCH", "a"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "a"],
        &["DISCARD"],
        // Queued while memory was fine: EXEC is refused only if a denyoom command is queued.
        &["!limit", "0"],
        &["MULTI"],
        &["SET", "k", "v"],
        &["GET", "a"],
        &["!limit", "1"],
        &["EXEC"],
        &["!limit", "0"],
        &["MULTI"],
        &["GET", "a"],
        &["DEL", "a"],
        &["!limit", "1"],
        &["EXEC"],
        &["GET", "a"],
        &["!limit", "0"],
        &["SET", "k", "v"],
    ];
    let mut replies = Vec::new();
    for step in script {
        if step[0] == "!limit" {
            let reply = admin.cmd(&["CONFIG", "SET", "maxmemory", step[1]]);
            assert_eq!(reply, "+OK\r\n");
            continue;
        }
        replies.push(format!("{} -> {}", step.join(" "), main.cmd(step)));
    }
    replies
}

#[test]
fn oom_replies_match_redis_byte_for_byte() {
    let server = Server::start();
    let kopi = run_oom_script(server.port);
    assert!(
        kopi.contains(
            &"SET k v -> -OOM command not allowed when used memory > 'maxmemory'.\r\n".to_string()
        ),
        "{kopi:#?}"
    );
    let Some(program) = require_program("redis-server", "oom_replies_match_redis_byte_for_byte")
    else {
        return;
    };
    let redis = RedisServer::start(&program, &["--save", "", "--appendonly", "no"]);
    let expected = run_oom_script(redis.port);
    assert_eq!(kopi, expected);
}

// ---- evictions in the AOF, WATCH ----

#[test]
fn evictions_are_logged_as_del_or_unlink_and_replay_to_the_same_dataset() {
    let dir = common::fresh_dir();
    let args = [
        "--appendonly",
        "yes",
        "--maxmemory-policy",
        "allkeys-random",
        "--enable-debug-command",
        "yes",
    ];
    let digest = {
        let server = Server::start_in(&dir, &args);
        let mut con = server.conn();
        write_keys(&mut con, "old", 300, None);
        let limit = limit_above_current(&mut con, 100 * 1024);
        fill_until_evicted(&mut con, "new", None, 20);
        // Every command may evict: the limit is lifted while the setting changes and while
        // the results are read.
        config_set(&mut con, "maxmemory", "0");
        let by_del = evicted(&mut con);
        config_set(&mut con, "lazyfree-lazy-eviction", "yes");
        config_set(&mut con, "maxmemory", &limit.to_string());
        fill_until_evicted(&mut con, "newer", None, by_del + 20);
        config_set(&mut con, "maxmemory", "0");
        let total = evicted(&mut con);
        let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
        let commands = common::incr_file_commands(&dir);
        let count = |name: &str| commands.iter().filter(|c| c[0] == name).count() as u64;
        assert_eq!(count("DEL"), by_del, "{commands:?}");
        assert_eq!(count("UNLINK"), total - by_del);
        assert_eq!(count("MULTI"), 0, "each eviction is a record of its own");
        // Each deletion names a key that was written before it and is gone now.
        for deleted in commands
            .iter()
            .filter(|c| c[0] == "DEL" || c[0] == "UNLINK")
        {
            assert_eq!(deleted.len(), 2);
            let exists: bool = con.exists(&deleted[1]).unwrap();
            assert!(!exists, "{deleted:?}");
        }
        digest
    };
    let server = Server::start_in(&dir, &args);
    let mut con = server.conn();
    // The memory counted after a load differs; what matters is the data.
    config_set(&mut con, "maxmemory", "0");
    let reloaded: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    assert_eq!(reloaded, digest);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_eviction_signals_watchers() {
    let server = Server::start_with(&["--maxmemory-policy", "volatile-ttl"]);
    let mut con = server.conn();
    let mut watcher = server.raw();
    write_keys(&mut con, "filler", 200, Some(100_000));
    let _: () = con.set_ex("watched", "x", 10).unwrap();
    assert_eq!(watcher.cmd(&["WATCH", "watched"]), "+OK\r\n");
    limit_above_current(&mut con, 16 * 1024);
    fill_until_evicted(&mut con, "more", Some(100_000), 1);
    let exists: bool = con.exists("watched").unwrap();
    assert!(!exists, "the soonest deadline went first");
    assert_eq!(watcher.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(watcher.cmd(&["PING"]), "+QUEUED\r\n");
    assert_eq!(watcher.cmd(&["EXEC"]), "*-1\r\n");
}

// ---- CONFIG SET maxmemory, INFO ----

#[test]
fn lowering_maxmemory_at_run_time_evicts() {
    let server = Server::start_with(&["--maxmemory-policy", "allkeys-random"]);
    let mut con = server.conn();
    write_keys(&mut con, "key", 2000, None);
    let before = counted(&mut con);
    let limit = before - 1000 * VALUE_BYTES as u64;
    config_set(&mut con, "maxmemory", &limit.to_string());
    let _: () = con.set("one-more", "x").unwrap();
    // Evicting goes on between commands until the memory is under the limit.
    // INFO's own reply is counted while it is made: a few KiB of slack.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counted(&mut con) > limit + 32 * 1024
        || info_u64(&mut con, "stats", "current_eviction_exceeded_time") != 0
    {
        assert!(Instant::now() < deadline, "still over the limit");
        std::thread::sleep(Duration::from_millis(20));
    }
    config_set(&mut con, "maxmemory", "0");
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(dbsize < 2001 && dbsize > 500, "{dbsize}");
    assert_eq!(dbsize + evicted(&mut con), 2001);
    assert!(
        server.log_text().contains(&format!(
            "WARNING: the new maxmemory value set via CONFIG SET ({limit}) is smaller than the current memory usage"
        )),
        "{}",
        server.log_text()
    );
}

#[test]
fn info_shows_the_limit_the_policy_and_the_counters() {
    let server = Server::start_with(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut con = server.conn();
    assert_eq!(info_field(&mut con, "memory", "maxmemory"), "104857600");
    assert_eq!(info_field(&mut con, "memory", "maxmemory_human"), "100.00M");
    assert_eq!(
        info_field(&mut con, "memory", "maxmemory_policy"),
        "allkeys-lru"
    );
    info_u64(&mut con, "memory", "mem_not_counted_for_evict");
    assert_eq!(evicted(&mut con), 0);
    assert_eq!(
        info_u64(&mut con, "stats", "total_eviction_exceeded_time"),
        0
    );
    assert_eq!(
        info_u64(&mut con, "stats", "current_eviction_exceeded_time"),
        0
    );
    // Over the limit with noeviction: the time over it is counted.
    config_set(&mut con, "maxmemory-policy", "noeviction");
    config_set(&mut con, "maxmemory", "1");
    let _: Option<String> = con.get("x").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let _: Option<String> = con.get("x").unwrap();
    assert!(info_u64(&mut con, "stats", "current_eviction_exceeded_time") >= 20);
    config_set(&mut con, "maxmemory", "0");
    config_set(&mut con, "maxmemory", "100mb");
    let _: Option<String> = con.get("x").unwrap();
    assert_eq!(
        info_u64(&mut con, "stats", "current_eviction_exceeded_time"),
        0
    );
    assert!(info_u64(&mut con, "stats", "total_eviction_exceeded_time") >= 20);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        info_u64(&mut con, "stats", "total_eviction_exceeded_time"),
        0
    );
}

// ---- propagation, as Redis's maxmemory.tcl checks it on the replication stream ----

/// Redis's "propagation with eviction" and "propagation with eviction in MULTI" scripts;
/// returns the commands the server's AOF recorded, each DEL group sorted (which of
/// several equally idle keys goes first is not specified).
fn run_propagation_script(port: u16, dir: &std::path::Path) -> Vec<Vec<String>> {
    let mut con = common::Raw::connect(port);
    let wait_empty = |con: &mut common::Raw| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while con.cmd(&["DBSIZE"]) != ":0\r\n" {
            assert!(Instant::now() < deadline, "not all keys were evicted");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    for (key, value) in [("asdf1", "1"), ("asdf2", "2"), ("asdf3", "3")] {
        assert_eq!(con.cmd(&["SET", key, value]), "+OK\r\n");
    }
    assert_eq!(
        con.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        "+OK\r\n"
    );
    assert_eq!(con.cmd(&["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
    wait_empty(&mut con);
    assert_eq!(con.cmd(&["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
    assert_eq!(con.cmd(&["SET", "asdf4", "4"]), "+OK\r\n");
    assert_eq!(con.cmd(&["FLUSHALL"]), "+OK\r\n");
    // The limit set inside the transaction evicts only after it.
    assert_eq!(con.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(con.cmd(&["INCR", "x"]), "+QUEUED\r\n");
    assert_eq!(con.cmd(&["CONFIG", "SET", "maxmemory", "1"]), "+QUEUED\r\n");
    assert_eq!(con.cmd(&["INCR", "x"]), "+QUEUED\r\n");
    assert_eq!(con.cmd(&["EXEC"]), "*3\r\n:1\r\n+OK\r\n:2\r\n");
    wait_empty(&mut con);
    assert_eq!(con.cmd(&["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
    let mut commands = common::incr_file_commands(dir);
    for command in &mut commands {
        command[0] = command[0].to_ascii_lowercase();
    }
    let mut i = 0;
    while i < commands.len() {
        let end = (i..commands.len())
            .find(|&j| commands[j][0] != "del")
            .unwrap_or(commands.len());
        commands[i..end].sort();
        i = end.max(i + 1);
    }
    commands
}

#[test]
fn evictions_propagate_as_redis_propagates_them() {
    let dir = common::fresh_dir();
    let kopi_commands = {
        let server = Server::start_in(&dir, &["--appendonly", "yes"]);
        run_propagation_script(server.port, &dir)
    };
    let _ = std::fs::remove_dir_all(&dir);
    let expected: Vec<Vec<String>> = [
        &["select", "0"][..],
        &["set", "asdf1", "1"],
        &["set", "asdf2", "2"],
        &["set", "asdf3", "3"],
        &["del", "asdf1"],
        &["del", "asdf2"],
        &["del", "asdf3"],
        &["set", "asdf4", "4"],
        &["flushall"],
        &["multi"],
        &["incr", "x"],
        &["incr", "x"],
        &["exec"],
        &["del", "x"],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(kopi_commands, expected);
    let Some(program) = require_program(
        "redis-server",
        "evictions_propagate_as_redis_propagates_them",
    ) else {
        return;
    };
    let redis = RedisServer::start(&program, &["--save", "", "--appendonly", "yes"]);
    let redis_commands = run_propagation_script(redis.port, &redis.dir);
    assert_eq!(kopi_commands, redis_commands);
}
