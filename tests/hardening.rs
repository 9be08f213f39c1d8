//! Arithmetic edge cases from the Redis CVE history (CVE-2023-28425 MSETNX with a duplicate
//! key, CVE-2023-25155 and CVE-2023-22458 random-pick counts, CVE-2022-35977 SETRANGE and SORT
//! overflows, CVE-2023-28856 HINCRBYFLOAT): each command goes to kopi and to Redis 7.0.15, the
//! replies must be equal byte for byte; then kopi must still answer, its AOF must replay to
//! the same dataset, and that dataset must be Redis's (DEBUG DIGEST).

mod common;

use common::{Raw, RedisServer, Server, require_program};

const TEST: &str = "arithmetic_edge_cases_answer_as_redis_and_replay";

const MIN: &str = "-9223372036854775808";
const MAX: &str = "9223372036854775807";

/// Sent to both servers in this order; the replies are compared one by one.
fn script() -> Vec<Vec<String>> {
    let lines: Vec<Vec<&str>> = vec![
        // Fixtures.
        vec!["SET", "s", "hello world"],
        vec!["SADD", "set1", "a"],
        vec!["HSET", "h1", "f", "v"],
        vec!["ZADD", "z1", "1", "m"],
        vec!["RPUSH", "l", "c", "a", "b", "a"],
        vec!["SET", "n", "10"],
        vec!["SET", "big", MAX],
        vec!["SET", "small", MIN],
        vec!["SET", "f", "1.5"],
        vec!["HSET", "h", "n", MAX, "fl", "1.5", "m", MIN],
        vec!["ZADD", "z", "1", "a", "2", "b"],
        // MSETNX with a duplicate key (CVE-2023-28425).
        vec!["MSETNX", "k1", "v1", "k1", "v2"],
        vec!["GET", "k1"],
        vec!["MSETNX", "k1", "x", "k2", "y"],
        vec!["MSETNX", "k3", "a", "k3", "b", "k3", "c"],
        vec!["GET", "k3"],
        vec!["EXISTS", "k2"],
        // Random picks with extreme counts (CVE-2023-25155, CVE-2023-22458).
        vec!["SRANDMEMBER", "set1", MIN],
        vec!["SRANDMEMBER", "set1", "-5"],
        vec!["SRANDMEMBER", "set1", MAX],
        vec!["SRANDMEMBER", "set1", "0"],
        vec!["SRANDMEMBER", "nokey", MIN],
        vec!["SRANDMEMBER", "nokey", "-3"],
        vec!["HRANDFIELD", "h1", MIN],
        vec!["HRANDFIELD", "h1", MIN, "WITHVALUES"],
        vec!["HRANDFIELD", "h1", "-4611686018427387904", "WITHVALUES"],
        vec!["HRANDFIELD", "h1", MAX, "WITHVALUES"],
        vec!["HRANDFIELD", "h1", MAX],
        vec!["HRANDFIELD", "h1", "-3", "WITHVALUES"],
        vec!["HRANDFIELD", "h1", "0", "WITHVALUES"],
        vec!["HRANDFIELD", "nokey", MIN],
        vec!["ZRANDMEMBER", "z1", MIN],
        vec!["ZRANDMEMBER", "z1", MIN, "WITHSCORES"],
        vec!["ZRANDMEMBER", "z1", "-4611686018427387904", "WITHSCORES"],
        vec!["ZRANDMEMBER", "z1", "4611686018427387904", "WITHSCORES"],
        vec!["ZRANDMEMBER", "z1", MAX],
        vec!["ZRANDMEMBER", "z1", "-2", "WITHSCORES"],
        vec!["ZRANDMEMBER", "nokey", MIN],
        vec!["SPOP", "set1", "-1"],
        vec!["SPOP", "set1", MIN],
        vec!["LPOP", "nokey", MIN],
        // Integer overflow.
        vec!["INCR", "big"],
        vec!["INCRBY", "big", "1"],
        vec!["INCRBY", "n", MAX],
        vec!["INCRBY", "n", "9223372036854775808"],
        vec!["DECR", "small"],
        vec!["DECRBY", "small", "1"],
        vec!["DECRBY", "n", MIN],
        vec!["DECRBY", "n", MAX],
        vec!["INCRBY", "small", MIN],
        vec!["INCRBY", "small", MAX],
        vec!["HINCRBY", "h", "n", "1"],
        vec!["HINCRBY", "h", "m", "-1"],
        vec!["HINCRBY", "h", "m", MIN],
        vec!["HINCRBY", "h", "m", MAX],
        vec!["HINCRBY", "h", "new", MIN],
        vec!["HINCRBY", "h", "fl", "1"],
        // Floats: inf, nan, overflow to inf (CVE-2023-28856).
        vec!["INCRBYFLOAT", "f", "inf"],
        vec!["INCRBYFLOAT", "f", "-inf"],
        vec!["INCRBYFLOAT", "f", "nan"],
        vec!["INCRBYFLOAT", "f", "1e308"],
        vec!["INCRBYFLOAT", "f", "1e308"],
        vec!["INCRBYFLOAT", "f", "-1e308"],
        vec!["INCRBYFLOAT", "f", "1e-320"],
        vec!["INCRBYFLOAT", "s", "1"],
        vec!["INCRBYFLOAT", "big", "1"],
        vec!["INCRBYFLOAT", "newf", "5.0e3"],
        vec!["HINCRBYFLOAT", "h", "fl", "inf"],
        vec!["HINCRBYFLOAT", "h", "fl", "nan"],
        vec!["HINCRBYFLOAT", "h", "fl", "1e308"],
        vec!["HINCRBYFLOAT", "h", "fl", "1e308"],
        vec!["HINCRBYFLOAT", "h", "n", "1"],
        vec!["HINCRBYFLOAT", "h", "newfl", "-0"],
        vec!["HMGET", "h", "n", "fl", "m", "new", "newfl"],
        vec!["HLEN", "h"],
        vec!["ZINCRBY", "z", "inf", "a"],
        vec!["ZINCRBY", "z", "-inf", "a"],
        vec!["ZINCRBY", "z", "nan", "a"],
        vec!["ZINCRBY", "z", "1e308", "b"],
        vec!["ZINCRBY", "z", "1e308", "b"],
        vec!["ZADD", "z", "INCR", "-inf", "a"],
        vec!["ZADD", "z", "nan", "c"],
        vec!["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        // String offsets and ranges (CVE-2022-35977).
        vec!["SETRANGE", "s", "536870911", ""],
        vec!["SETRANGE", "s", "536870911", "ab"],
        vec!["SETRANGE", "s", "536870912", "a"],
        vec!["SETRANGE", "s", "-1", "a"],
        vec!["SETRANGE", "s", MAX, "a"],
        vec!["SETRANGE", "s", MIN, "a"],
        vec!["SETRANGE", "nokey", "536870912", ""],
        vec!["SETRANGE", "nokey", "536870912", "a"],
        vec!["EXISTS", "nokey"],
        vec!["GETRANGE", "s", MIN, MAX],
        vec!["GETRANGE", "s", MAX, MIN],
        vec!["GETRANGE", "s", "0", MIN],
        vec!["GETRANGE", "s", MIN, "0"],
        vec!["GETRANGE", "s", "-1", "-1"],
        vec!["GETRANGE", "s", "5", "3"],
        vec!["GETRANGE", "s", "-100", "-50"],
        vec!["SUBSTR", "s", MIN, MAX],
        // List and sorted-set indexes.
        vec!["LRANGE", "l", MIN, MAX],
        vec!["LRANGE", "l", MAX, "0"],
        vec!["LRANGE", "l", "0", MIN],
        vec!["LRANGE", "l", MIN, MIN],
        vec!["LINDEX", "l", MIN],
        vec!["LINDEX", "l", MAX],
        vec!["LINDEX", "l", "-4"],
        vec!["LSET", "l", MIN, "x"],
        vec!["LPOS", "l", "a", "RANK", MIN],
        vec!["LPOS", "l", "a", "RANK", MAX],
        vec!["LPOS", "l", "a", "RANK", "-9223372036854775807"],
        vec!["LPOS", "l", "a", "COUNT", MAX, "MAXLEN", MAX],
        vec!["LPOS", "l", "a", "COUNT", "-1"],
        vec!["LPOS", "l", "a", "MAXLEN", "-1"],
        vec!["LPOS", "l", "a", "RANK", "-1", "COUNT", "0"],
        vec!["LTRIM", "nolist", MIN, MAX],
        vec!["ZRANGE", "z1", MIN, MAX, "WITHSCORES"],
        vec!["ZRANGE", "z1", MAX, MIN],
        vec!["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", MAX, MAX],
        vec!["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", MIN],
        vec!["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", MIN, "1"],
        vec!["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", MAX],
        vec!["ZRANGEBYLEX", "z", "-", "+", "LIMIT", MIN, MAX],
        vec!["ZREVRANGE", "z", MIN, MAX],
        vec!["ZREMRANGEBYRANK", "nozset", MIN, MAX],
        // SORT ... LIMIT with huge values.
        vec!["SORT", "l", "ALPHA", "LIMIT", MAX, MAX],
        vec!["SORT", "l", "ALPHA", "LIMIT", MIN, MAX],
        vec!["SORT", "l", "ALPHA", "LIMIT", "1", MAX],
        vec!["SORT", "l", "ALPHA", "LIMIT", "0", MIN],
        vec!["SORT", "l", "ALPHA", "LIMIT", MAX, "-1"],
        vec!["SORT", "l", "ALPHA", "LIMIT", "9223372036854775808", "1"],
        vec!["SORT_RO", "l", "ALPHA", "LIMIT", "2", MAX],
        vec!["SORT", "l", "ALPHA", "LIMIT", MIN, MIN, "STORE", "sorted"],
        vec!["SORT", "l", "ALPHA", "LIMIT", "1", MAX, "STORE", "sorted2"],
        vec!["LRANGE", "sorted2", "0", "-1"],
        // Expiry arithmetic that overflows.
        vec!["SET", "ex", "v"],
        vec!["EXPIRE", "ex", MAX],
        vec!["EXPIRE", "ex", "9223372036854775"],
        vec!["PEXPIRE", "ex", MAX],
        vec!["EXPIREAT", "ex", MAX],
        vec!["PEXPIREAT", "ex", MAX],
        vec!["PEXPIRETIME", "ex"],
        vec!["EXPIRETIME", "ex"],
        vec!["PEXPIREAT", "ex", "9223372036854775806", "GT"],
        vec!["PERSIST", "ex"],
        vec!["SET", "ex", "v", "EX", MAX],
        vec!["SET", "ex", "v", "EX", "9223372036854775"],
        vec!["SET", "ex", "v", "PX", MAX],
        vec!["SET", "ex", "v", "EXAT", MAX],
        vec!["SET", "ex", "v", "PXAT", MAX],
        vec!["PEXPIRETIME", "ex"],
        vec!["SET", "ex", "v", "EX", "0"],
        vec!["SET", "ex", "v", "EX", "-1"],
        vec!["SET", "ex", "v", "PX", MIN],
        vec!["SETEX", "ex", MAX, "v"],
        vec!["SETEX", "ex", "0", "v"],
        vec!["PSETEX", "ex", MAX, "v"],
        vec!["PSETEX", "ex", MIN, "v"],
        vec!["GETEX", "ex", "EX", MAX],
        vec!["GETEX", "ex", "PXAT", MAX],
        vec!["PEXPIRETIME", "ex"],
        vec!["SET", "gone", "v"],
        vec!["EXPIRE", "gone", MIN],
        vec!["EXISTS", "gone"],
        vec!["SET", "gone", "v"],
        vec!["PEXPIREAT", "gone", MIN],
        vec!["EXISTS", "gone"],
        vec!["SET", "gone", "v"],
        vec!["EXPIRE", "gone", "-9223372036854775"],
        vec!["EXISTS", "gone"],
        vec!["DBSIZE"],
    ];
    lines
        .into_iter()
        .map(|l| l.into_iter().map(str::to_string).collect())
        .collect()
}

fn send(raw: &mut Raw, args: &[String]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send_cmd(&args);
    raw.read_reply()
}

#[test]
fn arithmetic_edge_cases_answer_as_redis_and_replay() {
    let Some(redis_server) = require_program("redis-server", TEST) else {
        return;
    };
    let redis = RedisServer::start(
        &redis_server,
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
        ],
    );
    let dir = common::fresh_dir();
    let kopi = Server::start_in(
        &dir,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--enable-debug-command",
            "yes",
        ],
    );
    let mut r = redis.raw();
    let mut k = kopi.raw();
    let mut differences = Vec::new();
    for args in script() {
        let from_redis = send(&mut r, &args);
        let from_kopi = send(&mut k, &args);
        if from_kopi != from_redis {
            differences.push(format!(
                "{}\n  redis: {:?}\n  kopi:  {:?}",
                args.join(" "),
                String::from_utf8_lossy(&from_redis),
                String::from_utf8_lossy(&from_kopi)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} replies differ:\n{}",
        differences.len(),
        differences.join("\n")
    );

    // Alive, the same dataset as Redis, and the AOF replays to it.
    assert_eq!(k.cmd(&["PING"]), "+PONG\r\n");
    let digest = k.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(digest, r.cmd(&["DEBUG", "DIGEST"]));
    drop(k);
    drop(kopi); // SIGKILL: what was acknowledged is in the AOF.
    let kopi = Server::start_in(
        &dir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut k = kopi.raw();
    assert_eq!(k.cmd(&["DEBUG", "DIGEST"]), digest);
    drop(k);
    drop(kopi);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of `field` in INFO.
fn info_field(raw: &mut Raw, field: &str) -> String {
    let info = raw.cmd(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

/// Runs `command` (BGSAVE or BGREWRITEAOF), waits for it, and says whether it succeeded.
fn background(raw: &mut Raw, command: &str, in_progress: &str, status: &str) -> bool {
    let started = raw.cmd(&[command]);
    assert!(started.starts_with('+'), "{command}: {started}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while info_field(raw, in_progress) != "0" {
        assert!(std::time::Instant::now() < deadline, "{command} hangs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A rewrite that is scheduled, not started, shows up a moment later.
    std::thread::sleep(std::time::Duration::from_millis(50));
    while info_field(raw, in_progress) != "0" {
        assert!(std::time::Instant::now() < deadline, "{command} hangs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    info_field(raw, status) == "ok"
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn data_files_are_private_and_planted_symlinks_are_never_followed() {
    let dir = common::fresh_dir();
    let kopi = Server::start_in(&dir, &["--appendonly", "yes"]);
    let pid = kopi.child.id();
    let mut raw = kopi.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), "+OK\r\n");

    // The temp names are predictable from outside (pid and a serial number): plant symlinks
    // to a file the server must never write under the first ones.
    let victim = common::fresh_dir().join("victim");
    std::fs::create_dir_all(victim.parent().unwrap()).unwrap();
    std::fs::write(&victim, b"untouched").unwrap();
    let aof_dir = dir.join("appendonlydir");
    for serial in 0..3 {
        for planted in [
            dir.join(format!("temp-{pid}-{serial}.rdb")),
            aof_dir.join(format!("temp-rewriteaof-bg-{pid}-{serial}.aof")),
        ] {
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
    }

    // A save that meets a planted name removes it and writes a file of its own.
    let mut saved = false;
    let mut refused = 0;
    for _ in 0..5 {
        saved = background(
            &mut raw,
            "BGSAVE",
            "rdb_bgsave_in_progress",
            "rdb_last_bgsave_status",
        );
        if saved {
            break;
        }
        refused += 1;
    }
    assert!(saved, "{}", kopi.log_text());
    let mut rewritten = false;
    for _ in 0..5 {
        rewritten = background(
            &mut raw,
            "BGREWRITEAOF",
            "aof_rewrite_in_progress",
            "aof_last_bgrewrite_status",
        );
        if rewritten {
            break;
        }
        refused += 1;
    }
    assert!(rewritten, "{}", kopi.log_text());
    // Both met a planted name (serial 0): the link was unlinked, not followed, and the temp
    // file created in its place with O_EXCL|O_NOFOLLOW.
    assert_eq!(refused, 0, "{}", kopi.log_text());
    for met in [
        dir.join(format!("temp-{pid}-0.rdb")),
        aof_dir.join(format!("temp-rewriteaof-bg-{pid}-0.aof")),
    ] {
        assert!(met.symlink_metadata().is_err(), "{met:?} still there");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");

    // Every data file is a regular file, readable and writable by the owner only.
    let mut checked = vec![dir.join("dump.rdb")];
    for entry in std::fs::read_dir(&aof_dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.symlink_metadata().unwrap().file_type().is_symlink() {
            checked.push(path);
        }
    }
    assert!(checked.len() >= 4, "{checked:?}"); // dump.rdb, manifest, base, incr
    for path in &checked {
        assert!(path.symlink_metadata().unwrap().is_file(), "{path:?}");
        assert_eq!(mode_of(path), 0o600, "{path:?}");
    }
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    drop(raw);
    drop(kopi);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(victim.parent().unwrap());
}

#[test]
fn protected_configs_are_refused_as_redis_refuses_them() {
    let Some(redis_server) = require_program(
        "redis-server",
        "protected_configs_are_refused_as_redis_refuses_them",
    ) else {
        return;
    };
    let elsewhere = common::fresh_dir();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let elsewhere = elsewhere.display().to_string();
    let requests: Vec<Vec<&str>> = vec![
        vec!["CONFIG", "SET", "dir", &elsewhere],
        vec!["CONFIG", "SET", "dbfilename", "x.rdb"],
        vec!["CONFIG", "SET", "dbfilename", "../x.rdb"],
        vec!["CONFIG", "SET", "appenddirname", "other"],
        vec!["CONFIG", "SET", "enable-protected-configs", "yes"],
        vec!["CONFIG", "GET", "dbfilename"],
    ];
    // Refused by default; with `enable-protected-configs yes` only paths are refused.
    let with_paths: Vec<Vec<&str>> = vec![
        vec!["CONFIG", "SET", "dbfilename", "../x.rdb"],
        vec!["CONFIG", "SET", "dbfilename", "a/b"],
        vec!["CONFIG", "SET", "dbfilename", "/etc/x"],
        vec!["CONFIG", "SET", "dir", "/nonexistent/kopi"],
        vec!["CONFIG", "SET", "appenddirname", "a/b"],
        vec!["CONFIG", "SET", "dbfilename", "ok.rdb"],
        vec!["CONFIG", "GET", "dbfilename"],
    ];
    for (extra, requests) in [
        (&[][..], &requests),
        (&["--enable-protected-configs", "yes"][..], &with_paths),
    ] {
        let mut redis_args = vec!["--save", "", "--appendonly", "no"];
        redis_args.extend(extra);
        let redis = RedisServer::start(&redis_server, &redis_args);
        let kopi = Server::start_with(extra);
        let (mut r, mut k) = (redis.raw(), kopi.raw());
        for args in requests.iter() {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            assert_eq!(
                String::from_utf8_lossy(&send(&mut k, &args)),
                String::from_utf8_lossy(&send(&mut r, &args)),
                "{}",
                args.join(" ")
            );
        }
    }
    let _ = std::fs::remove_dir_all(&elsewhere);
}
