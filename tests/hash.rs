//! Hashes against the real binary: replies and errors as Redis 7.0 gives them (checked side
//! by side with `redis-server`), the `listpack`/`hashtable` encodings and their thresholds,
//! what the AOF records, the rewrite, and a seeded random stream compared with Redis.

mod collections;
mod common;

use collections::{Check, Pair, kopi, redis, wait_for_rewrite};
use common::Server;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const LONG: &str = "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll";

#[test]
fn commands_reply_and_fail_exactly_as_redis() {
    let Some(redis) = redis("commands_reply_and_fail_exactly_as_redis") else {
        return;
    };
    let kopi = kopi();
    let mut p = Pair::new(&kopi, &redis);
    let script: &[&[&str]] = &[
        &["SET", "str", "x"],
        &["HSET", "h", "b", "1", "a", "2", "c", "3"],
        &["HGETALL", "h"],
        &["HSET", "h", "b", "5", "d", "4"],
        &["HKEYS", "h"],
        &["HVALS", "h"],
        &["HDEL", "h", "b", "zz"],
        &["HGETALL", "h"],
        &["HMSET", "h", "e", "1", "a", "9"],
        &["HGET", "h", "a"],
        &["HGET", "h", "zz"],
        &["HGET", "nosuch", "a"],
        &["HMGET", "h", "a", "zz", "e"],
        &["HMGET", "nosuch", "a"],
        &["HLEN", "h"],
        &["HSTRLEN", "h", "a"],
        &["HSTRLEN", "h", "zz"],
        &["HEXISTS", "h", "a"],
        &["HEXISTS", "h", "zz"],
        &["HSETNX", "h", "a", "0"],
        &["HSETNX", "h", "f", "0"],
        &["HSETNX", "h", "a", LONG],
        &["OBJECT", "ENCODING", "h"],
        &["HINCRBY", "h", "a", "10"],
        &["HINCRBY", "h", "new", "-3"],
        &["HSET", "h", "n", "9223372036854775807", "fl", "1.50"],
        &["HINCRBY", "h", "n", "1"],
        &["HINCRBY", "h", "n", "-1"],
        &["HINCRBY", "h", "fl", "1"],
        &["HINCRBY", "h", "a", "x"],
        &["HINCRBYFLOAT", "h", "fl", "1"],
        &["HINCRBYFLOAT", "h", "fl", "0.1"],
        &["HINCRBYFLOAT", "h", "a", "1e3"],
        &["HINCRBYFLOAT", "h", "fresh", "-2.5"],
        &["HINCRBYFLOAT", "h", "a", "x"],
        &["HINCRBYFLOAT", "h", "a", "inf"],
        &["HINCRBYFLOAT", "huge", "c", "1e400"],
        &["HINCRBYFLOAT", "nope", "a", "nan"],
        &["EXISTS", "nope"],
        &["HRANDFIELD", "h", "100"],
        &["HRANDFIELD", "h", "100", "WITHVALUES"],
        &["HRANDFIELD", "h", "0", "WITHVALUES"],
        &["HRANDFIELD", "nosuch"],
        &["HRANDFIELD", "nosuch", "5", "WITHVALUES"],
        &["HSCAN", "h", "0"],
        &["HSCAN", "h", "0", "MATCH", "f*", "COUNT", "1"],
        &["HSCAN", "nosuch", "0", "COUNT", "0"],
        &["DEBUG", "DIGEST-VALUE", "h"],
        &["HSET", "h", LONG, "1"],
        &["OBJECT", "ENCODING", "h"],
        &["DEBUG", "DIGEST-VALUE", "h"],
        &[
            "HDEL", "h", "a", "c", "d", "e", "f", "new", "n", "fl", "fresh", LONG,
        ],
        &["EXISTS", "h"],
        // Errors.
        &["HSET", "h", "a"],
        &["HMSET", "h", "a", "1", "b"],
        &["HSET", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HGETALL", "str"],
        &["HKEYS", "str"],
        &["HDEL", "str", "a"],
        &["HLEN", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "1"],
        &["HRANDFIELD", "h", "-9223372036854775808"],
        &["HRANDFIELD", "h", "x"],
        &["HRANDFIELD", "h", "1", "foo"],
        &["HRANDFIELD", "h", "1", "WITHVALUES", "x"],
        &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
        &["HSCAN", "h", "x"],
        &["HSCAN", "str", "0"],
        &["HSET", "g", "a", "1"],
        &["HSCAN", "g", "0", "COUNT", "0"],
        &["HSCAN", "g", "0", "NOVALUES"],
        &["HSTRLEN", "str", "a"],
        &["DEBUG", "DIGEST"],
    ];
    for words in script {
        p.exact(words);
    }
    // RESP3: HGETALL is a map, HRANDFIELD WITHVALUES an array of pairs, nulls `_`.
    p.hello3();
    for words in script {
        p.exact(words);
    }
}

#[test]
fn encodings_switch_where_redis_switches() {
    let server = kopi();
    let mut r = server.raw();
    for i in 0..512 {
        r.cmd(&["HSET", "h", &format!("f{i}"), "v"]);
    }
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "h"]), "$8\r\nlistpack\r\n");
    // Insertion order while compact.
    assert!(
        r.cmd(&["HKEYS", "h"])
            .starts_with("*512\r\n$2\r\nf0\r\n$2\r\nf1\r\n$2\r\nf2\r\n")
    );
    r.cmd(&["HSET", "h", "f512", "v"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "h"]), "$9\r\nhashtable\r\n");
    // A value of 64 bytes fits, 65 does not.
    r.cmd(&["HSET", "v", "a", &"x".repeat(64)]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), "$8\r\nlistpack\r\n");
    r.cmd(&["HSET", "v", "b", &"x".repeat(65)]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), "$9\r\nhashtable\r\n");
    r.cmd(&["HDEL", "v", "b"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), "$9\r\nhashtable\r\n");
    assert_eq!(r.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), "$8\r\nlistpack\r\n");
    // HINCRBYFLOAT producing a long value converts.
    r.cmd(&["HSET", "f", "a", "1"]);
    r.cmd(&["HINCRBYFLOAT", "f", "a", "1e70"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "f"]), "$9\r\nhashtable\r\n");
    // The ziplist names are aliases of the same thresholds.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "hash-max-ziplist-entries", "1"]),
        "+OK\r\n"
    );
    r.cmd(&["HSET", "z", "a", "1"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "z"]), "$8\r\nlistpack\r\n");
    r.cmd(&["HSET", "z", "b", "1"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "z"]), "$9\r\nhashtable\r\n");
}

#[test]
fn hscan_returns_every_field_present_for_the_whole_iteration() {
    let server = kopi();
    let mut r = server.raw();
    for i in 0..2000 {
        r.cmd(&["HSET", "big", &format!("f{i}"), &i.to_string()]);
    }
    let mut seen = std::collections::HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = collections::parse(r.cmd(&["HSCAN", "big", &cursor, "COUNT", "20"]).as_bytes());
        calls += 1;
        cursor = String::from_utf8(reply.items()[0].bytes().to_vec()).unwrap();
        for pair in reply.items()[1].items().chunks(2) {
            seen.insert(pair[0].bytes().to_vec(), pair[1].bytes().to_vec());
        }
        r.cmd(&["HSET", "big", &format!("new{calls}"), "x"]);
        r.cmd(&["HDEL", "big", &format!("f{}", 1000 + calls)]);
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1);
    for i in 0..1000 {
        assert_eq!(
            seen.get(format!("f{i}").as_bytes()),
            Some(&i.to_string().into_bytes())
        );
    }
}

#[test]
fn hincrbyfloat_is_recorded_as_hset_of_the_new_value() {
    let dir = common::fresh_dir();
    let server = Server::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = server.raw();
    assert_eq!(r.cmd(&["HINCRBYFLOAT", "h", "f", "1.10"]), "$3\r\n1.1\r\n");
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "f", "x"]),
        "-ERR value is not a valid float\r\n"
    );
    let incr = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let text = String::from_utf8_lossy(&incr).replace("\r\n", " ");
    assert!(
        text.ends_with("*4 $4 HSET $1 h $1 f $3 1.1 "),
        "incr file: {text}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rewrite_and_restart_keep_every_hash_and_its_digest_matches_redis() {
    let Some(redis) = redis("a_rewrite_and_restart_keep_every_hash") else {
        return;
    };
    let dir = common::fresh_dir();
    let args = [
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let server = Server::start_in(&dir, &args);
    let mut p = Pair::new(&server, &redis);
    let mut big = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..700 {
        big.push(format!("field{i}"));
        big.push(format!("value{i}"));
    }
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    p.exact(&big);
    p.exact(&["HSET", "small", "z", "1", "a", "2"]);
    p.same_digest();
    let mut raw = server.raw();
    raw.cmd(&["BGREWRITEAOF"]);
    wait_for_rewrite(&mut raw);
    let base = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().contains(".base."))
        .map(|e| std::fs::read(e.path()).unwrap())
        .unwrap();
    // 64 pairs per HMSET: 700 fields take eleven commands.
    let text = String::from_utf8_lossy(&base);
    assert_eq!(text.matches("$5\r\nHMSET\r\n$3\r\nbig\r\n").count(), 11);
    drop(p);
    drop(raw);
    drop(server);
    let server = Server::start_in(&dir, &args);
    let mut p = Pair::new(&server, &redis);
    p.same_digest();
    p.exact(&["HGETALL", "small"]);
    p.exact(&["OBJECT", "ENCODING", "big"]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

fn random_command(rng: &mut SmallRng) -> (Vec<Vec<u8>>, Check) {
    let keys = ["h0", "h1", "h2", "h3", "str"];
    let key = |rng: &mut SmallRng| keys[rng.random_range(0..keys.len())].as_bytes().to_vec();
    let field = |rng: &mut SmallRng| -> Vec<u8> {
        match rng.random_range(0..12) {
            0..=7 => ["a", "b", "c", "d", "e", "f", "g", "1", "2", "100", ""]
                [rng.random_range(0..11)]
            .as_bytes()
            .to_vec(),
            8..=10 => format!("k{}", rng.random_range(0..30)).into_bytes(),
            _ => LONG.as_bytes().to_vec(),
        }
    };
    let value = |rng: &mut SmallRng| -> Vec<u8> {
        match rng.random_range(0..10) {
            0..=3 => rng.random_range(-100i64..100).to_string().into_bytes(),
            4 => [
                "9223372036854775807",
                "-9223372036854775808",
                "1.5",
                "1e10",
                "0x10",
            ][rng.random_range(0..5)]
            .as_bytes()
            .to_vec(),
            5..=8 => ["x", "hello", "", " 1", "01"][rng.random_range(0..5)]
                .as_bytes()
                .to_vec(),
            _ => LONG.as_bytes().to_vec(),
        }
    };
    let cmd = |name: &str| vec![name.as_bytes().to_vec()];
    match rng.random_range(0..20) {
        0..=3 => {
            let mut args = cmd(["HSET", "HMSET"][rng.random_range(0..2)]);
            args.push(key(rng));
            for _ in 0..rng.random_range(1..6) {
                args.push(field(rng));
                args.push(value(rng));
            }
            if rng.random_bool(0.05) {
                args.pop();
            }
            (args, Check::Exact)
        }
        4 => {
            let mut args = cmd("HSETNX");
            args.extend([key(rng), field(rng), value(rng)]);
            (args, Check::Exact)
        }
        5 | 6 => {
            let mut args = cmd("HDEL");
            args.push(key(rng));
            for _ in 0..rng.random_range(1..5) {
                args.push(field(rng));
            }
            (args, Check::Exact)
        }
        7 => {
            let name = ["HGET", "HSTRLEN", "HEXISTS"][rng.random_range(0..3)];
            let mut args = cmd(name);
            args.extend([key(rng), field(rng)]);
            (args, Check::Exact)
        }
        8 => {
            let mut args = cmd(["HLEN", "HMGET"][rng.random_range(0..2)]);
            args.push(key(rng));
            if args[0] == b"HMGET" {
                for _ in 0..rng.random_range(1..5) {
                    args.push(field(rng));
                }
            }
            (args, Check::Exact)
        }
        9 | 10 => {
            let mut args = cmd("HINCRBY");
            args.extend([key(rng), field(rng)]);
            let by = [
                "1",
                "-5",
                "9223372036854775807",
                "-9223372036854775808",
                "x",
                "1.5",
            ][rng.random_range(0..6)];
            args.push(by.as_bytes().to_vec());
            (args, Check::Exact)
        }
        11 => {
            let mut args = cmd("HINCRBYFLOAT");
            args.extend([key(rng), field(rng)]);
            let by = [
                "1.5", "-0.25", "1e300", "1e4000", "inf", "x", "3", "0x1p3", "1e-10",
            ][rng.random_range(0..9)];
            args.push(by.as_bytes().to_vec());
            (args, Check::Exact)
        }
        12 => {
            let name = ["HKEYS", "HVALS"][rng.random_range(0..2)];
            (
                vec![name.as_bytes().to_vec(), key(rng)],
                Check::OrderOf(false),
            )
        }
        13 => (vec![b"HGETALL".to_vec(), key(rng)], Check::OrderOf(true)),
        14 => {
            let mut args = cmd("HSCAN");
            args.extend([key(rng), b"0".to_vec()]);
            if rng.random_bool(0.3) {
                args.extend([b"MATCH".to_vec(), b"k*".to_vec()]);
            }
            if rng.random_bool(0.3) {
                args.extend([b"COUNT".to_vec(), b"4".to_vec()]);
            }
            (args, Check::Scan(true))
        }
        15 => {
            let mut args = cmd("HRANDFIELD");
            args.push(key(rng));
            let count: i64 = [0, 2, -3, 1000][rng.random_range(0..4)];
            args.push(count.to_string().into_bytes());
            let with_values = rng.random_bool(0.5);
            if with_values {
                args.push(b"WITHVALUES".to_vec());
            }
            let check = if count == 1000 || count == 0 {
                Check::OrderOf(with_values)
            } else {
                Check::Shape
            };
            (args, check)
        }
        16 => (
            vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), key(rng)],
            Check::Exact,
        ),
        17 => (
            vec![b"DEBUG".to_vec(), b"DIGEST-VALUE".to_vec(), key(rng)],
            Check::Exact,
        ),
        _ => {
            let args = if rng.random_bool(0.3) {
                vec![b"DEL".to_vec(), key(rng)]
            } else {
                vec![b"SET".to_vec(), b"str".to_vec(), b"x".to_vec()]
            };
            (args, Check::Exact)
        }
    }
}

fn random_stream(seed: u64, resp3: bool) {
    let Some(redis) = redis("a_random_stream_of_hash_commands_matches_redis") else {
        return;
    };
    let kopi = kopi();
    let mut p = Pair::new(&kopi, &redis);
    if resp3 {
        p.hello3();
    }
    p.exact(&["CONFIG", "SET", "hash-max-listpack-entries", "16"]);
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in 0..3000 {
        let (args, check) = random_command(&mut rng);
        p.run(&args, check);
        if i % 500 == 499 {
            p.same_digest();
        }
    }
    p.same_digest();
    assert!(p.sent > 3000);
}

#[test]
fn a_random_stream_of_hash_commands_matches_redis_resp2() {
    random_stream(0x4a54, false);
}

#[test]
fn a_random_stream_of_hash_commands_matches_redis_resp3() {
    random_stream(0x4a543, true);
}
