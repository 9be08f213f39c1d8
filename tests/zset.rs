//! Sorted sets: replies, encodings, score printing, RESP3 shapes, AOF effects and rewrite,
//! and a random command stream compared byte for byte with a real `redis-server` 7.0.

mod common;

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use common::{Raw, RedisServer, Server, require_program};

fn cmd(raw: &mut Raw, args: &[&str]) -> String {
    raw.cmd(args)
}

fn kopi() -> Server {
    Server::start_with(&["--enable-debug-command", "yes"])
}

fn resp3(raw: &mut Raw) {
    assert!(raw.cmd(&["HELLO", "3"]).starts_with('%'));
}

#[test]
fn zadd_options_and_their_conflicts() {
    let server = kopi();
    let mut r = server.raw();
    assert_eq!(cmd(&mut r, &["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "CH", "5", "a", "2", "b", "3", "c"]),
        ":2\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "NX", "9", "a", "4", "d"]),
        ":1\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "XX", "9", "a", "4", "e"]),
        ":0\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "a"]), "$1\r\n9\r\n");
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]),
        ":1\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "LT", "INCR", "1", "a"]),
        "$-1\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "INCR", "0.5", "a"]),
        "$3\r\n9.5\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "missing", "XX", "INCR", "1", "a"]),
        "$-1\r\n"
    );
    assert_eq!(cmd(&mut r, &["EXISTS", "missing"]), ":0\r\n");
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "-ERR XX and NX options at the same time are not compatible\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "GT", "LT", "1", "a"]),
        "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "-ERR INCR option supports a single increment-element pair\r\n"
    );
    // The pair count is checked before the option conflicts.
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "NX", "XX", "1", "a", "2"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "x", "a"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "nan", "a"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZADD", "z", "1e400", "a"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZADD", "z", "inf", "a"]), ":0\r\n");
    assert_eq!(
        cmd(&mut r, &["ZINCRBY", "z", "-inf", "a"]),
        "-ERR resulting score is not a number (NaN)\r\n"
    );
    assert_eq!(cmd(&mut r, &["SET", "s", "x"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["ZADD", "s", "1", "a"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[test]
fn scores_print_as_redis_prints_doubles() {
    let server = kopi();
    let mut r = server.raw();
    cmd(
        &mut r,
        &[
            "ZADD", "z", "1.1", "a", "inf", "b", "-inf", "c", "1e308", "d",
        ],
    );
    assert_eq!(
        cmd(&mut r, &["ZSCORE", "z", "a"]),
        "$18\r\n1.1000000000000001\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "b"]), "$3\r\ninf\r\n");
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "c"]), "$4\r\n-inf\r\n");
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "d"]), "$6\r\n1e+308\r\n");
    // A listpack stores -0 as the integer 0; a skiplist keeps the sign.
    cmd(&mut r, &["ZADD", "z", "-0", "zero"]);
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "zero"]), "$1\r\n0\r\n");
    cmd(&mut r, &["CONFIG", "SET", "zset-max-listpack-entries", "0"]);
    cmd(&mut r, &["ZADD", "big", "-0", "zero"]);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "big"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZSCORE", "big", "zero"]), "$2\r\n-0\r\n");
    resp3(&mut r);
    assert_eq!(
        cmd(&mut r, &["ZSCORE", "z", "a"]),
        ",1.1000000000000001\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "b"]), ",inf\r\n");
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "nope"]), "_\r\n");
}

#[test]
fn resp2_and_resp3_reply_shapes() {
    let server = kopi();
    let mut r = server.raw();
    cmd(&mut r, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        cmd(&mut r, &["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZPOPMIN", "z"]),
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZMPOP", "1", "z", "MAX"]),
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZMPOP", "1", "nokey", "MAX"]), "*-1\r\n");
    cmd(&mut r, &["ZADD", "z", "1", "a", "3", "c"]);
    resp3(&mut r);
    assert_eq!(
        cmd(&mut r, &["ZRANGE", "z", "0", "0", "WITHSCORES"]),
        "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZUNION", "1", "z", "WITHSCORES"]),
        "*3\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    );
    // Without a count ZPOPMIN stays flat; with one it gives pairs.
    assert_eq!(cmd(&mut r, &["ZPOPMIN", "z"]), "*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(
        cmd(&mut r, &["ZPOPMAX", "z", "1"]),
        "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZMSCORE", "z", "b", "x"]),
        "*2\r\n,2\r\n_\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZMPOP", "1", "nokey", "MAX"]), "_\r\n");
    assert_eq!(
        cmd(&mut r, &["ZRANDMEMBER", "z", "1", "WITHSCORES"]),
        "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    );
    // ZSCAN's scores stay strings.
    assert_eq!(
        cmd(&mut r, &["ZSCAN", "z", "0"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
}

#[test]
fn range_option_errors_are_redis_s() {
    let server = kopi();
    let mut r = server.raw();
    cmd(&mut r, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
            "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n",
        ),
        (
            &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
            "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n",
        ),
        (
            &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
            "-ERR syntax error\r\n",
        ),
        (
            &["ZRANGEBYSCORE", "z", "0", "1", "REV"],
            "-ERR syntax error\r\n",
        ),
        (
            &["ZRANGEBYSCORE", "z", "x", "1"],
            "-ERR min or max is not a float\r\n",
        ),
        (
            &["ZCOUNT", "z", "(1", "[2"],
            "-ERR min or max is not a float\r\n",
        ),
        (
            &["ZLEXCOUNT", "z", "a", "+"],
            "-ERR min or max not valid string range item\r\n",
        ),
        (
            &["ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"],
            "-ERR syntax error\r\n",
        ),
        (
            &["ZUNIONSTORE", "d", "0", "z"],
            "-ERR at least 1 input key is needed for 'zunionstore' command\r\n",
        ),
        (
            &["ZUNION", "1", "z", "WEIGHTS", "x"],
            "-ERR weight value is not a float\r\n",
        ),
        (
            &["ZDIFF", "1", "z", "WEIGHTS", "1"],
            "-ERR syntax error\r\n",
        ),
        (
            &["ZINTERCARD", "1", "z", "LIMIT", "-1"],
            "-ERR LIMIT can't be negative\r\n",
        ),
        (
            &["ZMPOP", "0", "z", "MIN"],
            "-ERR numkeys should be greater than 0\r\n",
        ),
        (
            &["ZMPOP", "1", "z", "MIN", "COUNT", "0"],
            "-ERR count should be greater than 0\r\n",
        ),
        (
            &["ZPOPMIN", "z", "-1"],
            "-ERR value is out of range, must be positive\r\n",
        ),
        (
            &["ZRANDMEMBER", "z", "-9223372036854775808"],
            "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
        ),
        (
            &["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"],
            "-ERR value is out of range\r\n",
        ),
        (&["ZSCAN", "z", "x"], "-ERR invalid cursor\r\n"),
        (&["ZSCAN", "z", "0", "COUNT", "0"], "-ERR syntax error\r\n"),
    ];
    for (args, expected) in cases {
        assert_eq!(&cmd(&mut r, args), expected, "{args:?}");
    }
    // LIMIT with a count of -1 is no LIMIT at all.
    assert_eq!(
        cmd(&mut r, &["ZRANGE", "z", "0", "0", "LIMIT", "0", "-1"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        cmd(
            &mut r,
            &[
                "ZRANGE", "z", "(3", "1", "BYSCORE", "REV", "LIMIT", "0", "5"
            ]
        ),
        "*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
}

#[test]
fn encodings_follow_the_thresholds() {
    let server = kopi();
    let mut r = server.raw();
    for i in 0..128 {
        cmd(&mut r, &["ZADD", "z", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "z"]),
        "$8\r\nlistpack\r\n"
    );
    cmd(&mut r, &["ZADD", "z", "500", "one-more"]);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "z"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZRANK", "z", "one-more"]), ":128\r\n");
    assert_eq!(cmd(&mut r, &["ZREVRANK", "z", "m0"]), ":128\r\n");
    // Shrinking does not convert back; a reload does.
    cmd(&mut r, &["ZREMRANGEBYRANK", "z", "0", "100"]);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "z"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(cmd(&mut r, &["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "z"]),
        "$8\r\nlistpack\r\n"
    );
    let long = "x".repeat(65);
    cmd(&mut r, &["ZADD", "long", "1", &long]);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "long"]),
        "$8\r\nskiplist\r\n"
    );
    cmd(&mut r, &["ZADD", "short", "1", "a"]);
    cmd(&mut r, &["ZADD", "short", "1", &long]);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "short"]),
        "$8\r\nskiplist\r\n"
    );
    // Stored results take the encoding their content calls for.
    cmd(&mut r, &["ZUNIONSTORE", "u", "1", "z"]);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "u"]),
        "$8\r\nlistpack\r\n"
    );
    assert_eq!(cmd(&mut r, &["TYPE", "u"]), "+zset\r\n");
}

#[test]
fn empty_sets_are_deleted_and_stores_replace_their_destination() {
    let server = kopi();
    let mut r = server.raw();
    cmd(&mut r, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(cmd(&mut r, &["ZREM", "z", "a", "b", "c"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["EXISTS", "z"]), ":0\r\n");
    cmd(&mut r, &["ZADD", "z", "1", "a"]);
    cmd(&mut r, &["SET", "dst", "string", "EX", "100"]);
    assert_eq!(
        cmd(&mut r, &["ZRANGESTORE", "dst", "z", "0", "-1"]),
        ":1\r\n"
    );
    assert_eq!(cmd(&mut r, &["TYPE", "dst"]), "+zset\r\n");
    assert_eq!(cmd(&mut r, &["TTL", "dst"]), ":-1\r\n");
    assert_eq!(
        cmd(&mut r, &["ZINTERSTORE", "dst", "2", "z", "nokey"]),
        ":0\r\n"
    );
    assert_eq!(cmd(&mut r, &["EXISTS", "dst"]), ":0\r\n");
    assert_eq!(
        cmd(&mut r, &["ZPOPMAX", "z", "5"]),
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(cmd(&mut r, &["EXISTS", "z"]), ":0\r\n");
}

#[test]
fn watch_sees_sorted_set_changes() {
    let server = kopi();
    let mut a = server.raw();
    let mut b = server.raw();
    cmd(&mut a, &["ZADD", "z", "1", "a"]);
    cmd(&mut a, &["WATCH", "z"]);
    cmd(&mut b, &["ZINCRBY", "z", "1", "a"]);
    cmd(&mut a, &["MULTI"]);
    cmd(&mut a, &["ZCARD", "z"]);
    assert_eq!(cmd(&mut a, &["EXEC"]), "*-1\r\n");
    // A command that changes nothing does not touch the key.
    cmd(&mut a, &["WATCH", "z"]);
    cmd(&mut b, &["ZADD", "z", "NX", "5", "a"]);
    cmd(&mut b, &["ZREM", "z", "nope"]);
    cmd(&mut a, &["MULTI"]);
    cmd(&mut a, &["ZCARD", "z"]);
    assert_eq!(cmd(&mut a, &["EXEC"]), "*1\r\n:1\r\n");
}

#[test]
fn big_sets_keep_rank_order_and_ranges() {
    let server = kopi();
    let mut r = server.raw();
    let mut args: Vec<String> = vec!["ZADD".into(), "z".into()];
    for i in 0..3000 {
        args.push(((i * 7919) % 3000).to_string());
        args.push(format!("m{i:05}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(cmd(&mut r, &refs), ":3000\r\n");
    assert_eq!(cmd(&mut r, &["ZCARD", "z"]), ":3000\r\n");
    assert_eq!(
        cmd(&mut r, &["ZRANGE", "z", "0", "0"]),
        "*1\r\n$6\r\nm00000\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZCOUNT", "z", "(100", "200"]), ":100\r\n");
    assert_eq!(
        cmd(&mut r, &["ZREMRANGEBYSCORE", "z", "0", "(1000"]),
        ":1000\r\n"
    );
    assert!(cmd(&mut r, &["ZRANGE", "z", "0", "0", "WITHSCORES"]).ends_with("$4\r\n1000\r\n"));
    assert!(cmd(&mut r, &["ZRANGE", "z", "-1", "-1", "WITHSCORES"]).ends_with("$4\r\n2999\r\n"));
    // A full ZSCAN returns each member once.
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        r.send_cmd(&[b"ZSCAN", b"z", cursor.as_bytes(), b"COUNT", b"100"]);
        let reply = r.read_reply();
        let text = String::from_utf8_lossy(&reply).into_owned();
        let lines: Vec<&str> = text.split("\r\n").collect();
        cursor = lines[2].to_string();
        for member in lines.iter().filter(|l| l.starts_with('m')) {
            assert!(seen.insert(member.to_string()), "{member} twice");
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
}

// ---- against a real redis-server ----

fn redis(test: &str) -> Option<RedisServer> {
    let program = require_program("redis-server", test)?;
    Some(RedisServer::start(
        &program,
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
        ],
    ))
}

#[test]
fn digests_equal_redis_s_for_both_encodings() {
    let Some(redis) = redis("digests_equal_redis_s_for_both_encodings") else {
        return;
    };
    let server = kopi();
    let (mut k, mut r) = (server.raw(), redis.raw());
    let mut big: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..300 {
        big.push(format!("{}.{}", i % 17, i));
        big.push(format!("member:{i}"));
    }
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    let script: &[&[&str]] = &[
        &[
            "ZADD",
            "small",
            "1.1",
            "a",
            "-0",
            "b",
            "inf",
            "c",
            "1e-7",
            "d",
            "12345678901234",
            "e",
        ],
        &big,
        &["ZADD", "big", "-0", "negzero", "-inf", "low"],
    ];
    for args in script {
        assert_eq!(cmd(&mut k, args), cmd(&mut r, args));
    }
    for key in ["small", "big"] {
        let args = ["DEBUG", "DIGEST-VALUE", key];
        assert_eq!(cmd(&mut k, &args), cmd(&mut r, &args), "{key}");
        let args = ["OBJECT", "ENCODING", key];
        assert_eq!(cmd(&mut k, &args), cmd(&mut r, &args), "{key}");
    }
    assert_eq!(
        cmd(&mut k, &["DEBUG", "DIGEST"]),
        cmd(&mut r, &["DEBUG", "DIGEST"])
    );
}

/// The commands of every AOF-effects case, run on both servers with `appendonly yes`.
const EFFECTS: &[&[&str]] = &[
    &[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
    ],
    &["ZADD", "z", "NX", "1", "a"],
    &["ZPOPMIN", "z"],
    &["ZPOPMAX", "z", "2"],
    &["ZPOPMIN", "z", "0"],
    &["ZPOPMIN", "nokey"],
    &["ZMPOP", "1", "z", "MIN"],
    &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "10"],
    &["ZADD", "z", "1", "a"],
    &["ZADD", "z", "INCR", "5", "a"],
    &["ZADD", "z", "NX", "INCR", "5", "a"],
    &["ZINCRBY", "z", "2", "a"],
    &["ZADD", "z", "1", "b", "2", "c"],
    &["ZRANGESTORE", "d", "z", "0", "-1"],
    &["ZRANGESTORE", "d", "z", "5", "10"],
    &["ZRANGESTORE", "d", "z", "5", "10"],
    &["ZUNIONSTORE", "u", "1", "z"],
    &["ZINTERSTORE", "u", "2", "z", "nokey"],
    &["ZDIFFSTORE", "u", "1", "z"],
    &["ZREMRANGEBYRANK", "z", "0", "0"],
    &["ZREMRANGEBYSCORE", "z", "100", "200"],
    &["ZREM", "z", "nope"],
    &["ZREM", "z", "c"],
    &["ZADD", "z", "9", "a"],
    &["ZPOPMIN", "z", "100"],
    &["ZRANGE", "z", "0", "-1"],
];

#[test]
fn aof_effects_match_the_incr_file_of_redis_7() {
    let test = "aof_effects_match_the_incr_file_of_redis_7";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let redis = RedisServer::start(&program, &["--save", "", "--appendonly", "yes"]);
    let server = Server::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let (mut k, mut r) = (server.raw(), redis.raw());
    for args in EFFECTS {
        assert_eq!(cmd(&mut k, args), cmd(&mut r, args), "{args:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ours = common::incr_file_commands(&server.dir);
        let theirs = common::incr_file_commands(&redis.dir);
        if ours == theirs {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kopi:  {ours:?}\nredis: {theirs:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn aof_rewrite_round_trip_keeps_the_digest() {
    let dir = common::fresh_dir();
    let before;
    {
        let server = Server::start_in(
            &dir,
            &[
                "--appendonly",
                "yes",
                "--enable-debug-command",
                "yes",
                "--aof-use-rdb-preamble",
                "no",
            ],
        );
        let mut r = server.raw();
        for i in 0..200 {
            cmd(
                &mut r,
                &["ZADD", "big", &format!("{}.25", i % 13), &format!("m{i}")],
            );
        }
        cmd(
            &mut r,
            &[
                "ZADD", "small", "1.1", "a", "-inf", "b", "inf", "c", "1e-300", "d",
            ],
        );
        cmd(&mut r, &["ZADD", "neg", "-0", "z"]);
        assert!(cmd(&mut r, &["BGREWRITEAOF"]).starts_with('+'));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cmd(&mut r, &["INFO", "persistence"]).contains("aof_rewrite_in_progress:0")
            || !cmd(&mut r, &["INFO", "persistence"]).contains("aof_rewrite_scheduled:0")
        {
            assert!(Instant::now() < deadline, "rewrite did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
        cmd(&mut r, &["ZADD", "after", "2", "x"]);
        before = cmd(&mut r, &["DEBUG", "DIGEST"]);
        let base = std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().contains(".base."))
            .expect("a base file");
        let text = String::from_utf8_lossy(&std::fs::read(base.path()).unwrap()).into_owned();
        // At most 64 members per ZADD: 200 members take 4 commands.
        assert_eq!(
            text.matches("$4\r\nZADD\r\n$3\r\nbig\r\n").count(),
            4,
            "{text}"
        );
        drop(r);
    }
    let server = Server::start_in(
        &dir,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut r = server.raw();
    assert_eq!(cmd(&mut r, &["DEBUG", "DIGEST"]), before);
    assert_eq!(
        cmd(&mut r, &["OBJECT", "ENCODING", "big"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["ZSCORE", "small", "a"]),
        "$18\r\n1.1000000000000001\r\n"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- the random differential stream ----

const KEYS: &[&str] = &["z1", "z2", "z3", "zbig", "str", "missing"];
const LEX_KEYS: &[&str] = &["lex1", "lex2"];
const SCORES: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "1.5",
    "2",
    "3",
    "10",
    "inf",
    "-inf",
    "+inf",
    "1e308",
    "-1e308",
    "0.1",
    "1e-300",
    "3.0000000000000004",
    "123456789012345678",
    "0.5",
    "-2.5",
    "7",
];
const BAD_SCORES: &[&str] = &["abc", "nan", "1e400", "", " 1", "1x"];
const SCORE_BOUNDS: &[&str] = &[
    "-inf", "+inf", "inf", "0", "(0", "1", "(1", "1.5", "(1.5", "2", "(3", "10", "(inf", "(-inf",
    "1e308", "-1", "abc", "[1", "0x10", "",
];
const LEX_BOUNDS: &[&str] = &[
    "-", "+", "[a", "(a", "[m1", "(m1", "[m5", "(m9", "[", "(", "m1", "[zz",
];

struct Gen {
    rng: SmallRng,
}

impl Gen {
    fn pick(&mut self, from: &[&str]) -> String {
        from.choose(&mut self.rng).unwrap().to_string()
    }

    fn key(&mut self) -> String {
        self.pick(KEYS)
    }

    fn member(&mut self) -> String {
        match self.rng.random_range(0..100) {
            0 => "x".repeat(70),
            1 => String::new(),
            2..=30 => format!("m{}", self.rng.random_range(0..10)),
            _ => format!("m{}", self.rng.random_range(0..200)),
        }
    }

    fn score(&mut self) -> String {
        if self.rng.random_range(0..50) == 0 {
            self.pick(BAD_SCORES)
        } else if self.rng.random_bool(0.5) {
            self.pick(SCORES)
        } else {
            format!("{}", self.rng.random_range(-50..50))
        }
    }

    fn int(&mut self) -> String {
        match self.rng.random_range(0..20) {
            0 => "x".into(),
            1 => "9223372036854775807".into(),
            2 => "-9223372036854775808".into(),
            _ => self.rng.random_range(-10..150).to_string(),
        }
    }

    fn limit(&mut self, args: &mut Vec<String>) {
        if self.rng.random_bool(0.3) {
            args.push("LIMIT".into());
            args.push(self.rng.random_range(-1..6).to_string());
            args.push(self.rng.random_range(-2..8).to_string());
        }
    }

    fn keys_for_set_op(&mut self, args: &mut Vec<String>) -> usize {
        let n = self.rng.random_range(1..4);
        args.push(n.to_string());
        for _ in 0..n {
            let key = if self.rng.random_bool(0.2) {
                self.pick(LEX_KEYS)
            } else {
                self.key()
            };
            args.push(key);
        }
        n
    }

    /// One command; the flag says whether its reply is random (compared by shape only).
    fn command(&mut self) -> (Vec<String>, Check) {
        let key = self.key();
        let mut a: Vec<String> = Vec::new();
        let mut check = Check::Exact;
        match self.rng.random_range(0..40) {
            0..=5 => {
                a.push("ZADD".into());
                a.push(key);
                for opt in ["NX", "XX", "GT", "LT", "CH", "INCR"] {
                    if self.rng.random_range(0..8) == 0 {
                        a.push(opt.into());
                    }
                }
                let pairs = match self.rng.random_range(0..10) {
                    0 => self.rng.random_range(20..150),
                    1..=4 => 1,
                    _ => self.rng.random_range(1..6),
                };
                for _ in 0..pairs {
                    a.push(self.score());
                    a.push(self.member());
                }
            }
            6 => {
                a.extend(["ZADD".into(), self.pick(LEX_KEYS)]);
                for _ in 0..self.rng.random_range(1..8) {
                    a.push("0".into());
                    a.push(self.member());
                }
            }
            7 => a.extend(["ZINCRBY".into(), key, self.score(), self.member()]),
            8 => {
                a.extend(["ZREM".into(), key]);
                for _ in 0..self.rng.random_range(1..4) {
                    a.push(self.member());
                }
            }
            9 => a.extend(["ZCARD".into(), key]),
            10 => a.extend([
                "ZCOUNT".into(),
                key,
                self.pick(SCORE_BOUNDS),
                self.pick(SCORE_BOUNDS),
            ]),
            11 => a.extend([
                "ZLEXCOUNT".into(),
                self.pick(LEX_KEYS),
                self.pick(LEX_BOUNDS),
                self.pick(LEX_BOUNDS),
            ]),
            12 => a.extend(["ZSCORE".into(), key, self.member()]),
            13 => a.extend(["ZMSCORE".into(), key, self.member(), self.member()]),
            14 => a.extend([
                if self.rng.random_bool(0.5) {
                    "ZRANK"
                } else {
                    "ZREVRANK"
                }
                .into(),
                key,
                self.member(),
            ]),
            15..=17 => {
                let lex = self.rng.random_range(0..4) == 0;
                let store = self.rng.random_range(0..4) == 0;
                if store {
                    a.extend(["ZRANGESTORE".into(), self.key()]);
                } else {
                    a.push("ZRANGE".into());
                }
                if lex {
                    a.extend([
                        self.pick(LEX_KEYS),
                        self.pick(LEX_BOUNDS),
                        self.pick(LEX_BOUNDS),
                    ]);
                    a.push("BYLEX".into());
                } else {
                    a.push(key);
                    if self.rng.random_bool(0.5) {
                        a.extend([
                            self.pick(SCORE_BOUNDS),
                            self.pick(SCORE_BOUNDS),
                            "BYSCORE".into(),
                        ]);
                    } else {
                        a.extend([self.int(), self.int()]);
                    }
                }
                if self.rng.random_bool(0.3) {
                    a.push("REV".into());
                }
                if !store && self.rng.random_bool(0.4) {
                    a.push("WITHSCORES".into());
                }
                self.limit(&mut a);
                if self.rng.random_range(0..20) == 0 {
                    let i = self.rng.random_range(4..a.len() + 1);
                    a.insert(i.min(a.len()), "BYSCORE".into());
                }
            }
            18 | 19 => {
                let name = ["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]
                    .choose(&mut self.rng)
                    .unwrap();
                a.extend([
                    name.to_string(),
                    key,
                    self.pick(SCORE_BOUNDS),
                    self.pick(SCORE_BOUNDS),
                ]);
                if self.rng.random_bool(0.4) {
                    a.push("WITHSCORES".into());
                }
                self.limit(&mut a);
            }
            20 => {
                let name = ["ZRANGEBYLEX", "ZREVRANGEBYLEX"]
                    .choose(&mut self.rng)
                    .unwrap();
                a.extend([
                    name.to_string(),
                    self.pick(LEX_KEYS),
                    self.pick(LEX_BOUNDS),
                    self.pick(LEX_BOUNDS),
                ]);
                self.limit(&mut a);
            }
            21 => {
                a.extend(["ZREVRANGE".into(), key, self.int(), self.int()]);
                if self.rng.random_bool(0.5) {
                    a.push("WITHSCORES".into());
                }
            }
            22 | 23 => {
                a.extend([
                    if self.rng.random_bool(0.5) {
                        "ZPOPMIN"
                    } else {
                        "ZPOPMAX"
                    }
                    .into(),
                    key,
                ]);
                if self.rng.random_bool(0.6) {
                    a.push(self.int());
                }
            }
            24 => {
                a.push("ZMPOP".into());
                let n = self.rng.random_range(0..4);
                a.push(n.to_string());
                for _ in 0..n {
                    a.push(self.key());
                }
                a.push(
                    ["MIN", "MAX", "max", "foo"]
                        .choose(&mut self.rng)
                        .unwrap()
                        .to_string(),
                );
                if self.rng.random_bool(0.5) {
                    a.push("COUNT".into());
                    a.push(self.int());
                }
            }
            25..=28 => {
                let name = *[
                    "ZUNION",
                    "ZINTER",
                    "ZDIFF",
                    "ZUNIONSTORE",
                    "ZINTERSTORE",
                    "ZDIFFSTORE",
                ]
                .choose(&mut self.rng)
                .unwrap();
                let store = name.ends_with("STORE");
                a.push(name.into());
                if store {
                    a.push(self.key());
                }
                let n = self.keys_for_set_op(&mut a);
                if !name.starts_with("ZDIFF") && self.rng.random_bool(0.3) {
                    a.push("WEIGHTS".into());
                    for _ in 0..n {
                        a.push(self.pick(&["1", "2", "-1", "0", "0.5", "inf", "x"]));
                    }
                }
                if !name.starts_with("ZDIFF") && self.rng.random_bool(0.3) {
                    a.push("AGGREGATE".into());
                    a.push(self.pick(&["SUM", "MIN", "MAX", "avg"]));
                }
                if !store && self.rng.random_bool(0.5) {
                    a.push("WITHSCORES".into());
                }
            }
            29 => {
                a.push("ZINTERCARD".into());
                self.keys_for_set_op(&mut a);
                if self.rng.random_bool(0.4) {
                    a.push("LIMIT".into());
                    a.push(self.int());
                }
            }
            30 => a.extend(["ZREMRANGEBYRANK".into(), key, self.int(), self.int()]),
            31 => a.extend([
                "ZREMRANGEBYSCORE".into(),
                key,
                self.pick(SCORE_BOUNDS),
                self.pick(SCORE_BOUNDS),
            ]),
            32 => a.extend([
                "ZREMRANGEBYLEX".into(),
                self.pick(LEX_KEYS),
                self.pick(LEX_BOUNDS),
                self.pick(LEX_BOUNDS),
            ]),
            33 => {
                a.extend(["ZSCAN".into(), key, "0".into()]);
                if self.rng.random_bool(0.3) {
                    a.extend(["MATCH".into(), "m1*".into()]);
                }
                a.extend(["COUNT".into(), "1000".into()]);
                check = Check::Scan;
            }
            34 => {
                a.extend(["ZRANDMEMBER".into(), key]);
                if self.rng.random_bool(0.7) {
                    a.push(self.int());
                    if self.rng.random_bool(0.4) {
                        a.push("WITHSCORES".into());
                    }
                }
                check = Check::Shape;
            }
            35 => a.extend(["OBJECT".into(), "ENCODING".into(), key]),
            36 => a.extend([
                "DEBUG".into(),
                "DIGEST-VALUE".into(),
                key,
                self.pick(LEX_KEYS),
            ]),
            37 => {
                if self.rng.random_range(0..10) == 0 {
                    a.extend(["DEBUG".into(), "RELOAD".into()]);
                } else {
                    a.extend(["DEL".into(), key]);
                }
            }
            38 => a.extend(["SET".into(), "str".into(), "v".into()]),
            _ => a.extend(["TYPE".into(), key]),
        }
        (a, check)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Exact,
    /// ZSCAN with a COUNT that covers every set: same pairs, any order.
    Scan,
    /// Random replies: same type and length.
    Shape,
}

fn shape(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    let first = text.split("\r\n").next().unwrap_or("").to_string();
    if first.starts_with('$') || first.starts_with(',') {
        first.chars().next().unwrap().to_string()
    } else {
        first
    }
}

fn scan_pairs(reply: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(reply).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    if lines[0].starts_with('-') {
        return (text.clone(), Vec::new());
    }
    let items: Vec<&str> = lines[4..].iter().step_by(2).copied().collect();
    let mut pairs: Vec<String> = items
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| format!("{}={}", c[0], c[1]))
        .collect();
    pairs.sort();
    (lines[2].to_string(), pairs)
}

#[test]
fn random_stream_matches_redis() {
    let Some(redis) = redis("random_stream_matches_redis") else {
        return;
    };
    let seed: u64 = std::env::var("KOPI_ZSET_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_417);
    let commands: usize = std::env::var("KOPI_ZSET_COMMANDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6000);
    eprintln!("zset differential: seed {seed}, {commands} commands");
    let server = kopi();
    let mut kopi = [server.raw(), server.raw()];
    let mut real = [redis.raw(), redis.raw()];
    resp3(&mut kopi[1]);
    resp3(&mut real[1]);
    let mut generator = Gen {
        rng: SmallRng::seed_from_u64(seed),
    };
    for i in 0..commands {
        let (args, check) = generator.command();
        let conn = generator.rng.random_range(0..2);
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        kopi[conn].send_cmd(&refs);
        real[conn].send_cmd(&refs);
        let ours = kopi[conn].read_reply();
        let theirs = real[conn].read_reply();
        let same = match check {
            Check::Exact => ours == theirs,
            Check::Scan => scan_pairs(&ours) == scan_pairs(&theirs),
            Check::Shape => shape(&ours) == shape(&theirs),
        };
        assert!(
            same,
            "seed {seed}, command {i} (RESP{}): {args:?}\nkopi:  {:?}\nredis: {:?}",
            conn + 2,
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }
    let all = ["DEBUG", "DIGEST"];
    assert_eq!(cmd(&mut kopi[0], &all), cmd(&mut real[0], &all));
}

/// Sets are inputs of the set operations too, every member with score 1 (bytes from
/// redis-server 7.0.15).
#[test]
fn sets_are_inputs_with_score_one() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SADD", "s", "a", "b", "c"]), ":3\r\n");
    assert_eq!(raw.cmd(&["ZADD", "z", "2", "a", "5", "d"]), ":2\r\n");
    assert_eq!(
        raw.cmd(&["ZUNION", "2", "z", "s", "WITHSCORES"]),
        "*8\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        raw.cmd(&["ZINTER", "2", "z", "s", "WITHSCORES"]),
        "*2\r\n$1\r\na\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        raw.cmd(&["ZDIFF", "2", "s", "z", "WITHSCORES"]),
        "*4\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n1\r\n"
    );
    assert_eq!(raw.cmd(&["ZINTERCARD", "2", "s", "z"]), ":1\r\n");
    assert_eq!(
        raw.cmd(&["ZUNIONSTORE", "dst", "2", "s", "z", "WEIGHTS", "2", "1"]),
        ":4\r\n"
    );
    assert_eq!(
        raw.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        "*8\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n4\r\n$1\r\nd\r\n$1\r\n5\r\n"
    );
    assert_eq!(raw.cmd(&["SET", "str", "x"]), "+OK\r\n");
    assert!(
        raw.cmd(&["ZUNION", "2", "z", "str"])
            .starts_with("-WRONGTYPE")
    );
}

/// BZPOPMIN, BZPOPMAX, BZMPOP served at once, refused, and inside MULTI (bytes from
/// redis-server 7.0.15).
#[test]
fn blocking_pops_served_at_once_match_redis() {
    let server = Server::start();
    let mut raw = server.raw();
    for (args, expected) in [
        (&["ZADD", "z", "1.5", "a", "2", "b"][..], ":2\r\n"),
        (
            &["BZPOPMIN", "none", "z", "0"],
            "*3\r\n$1\r\nz\r\n$1\r\na\r\n$3\r\n1.5\r\n",
        ),
        (
            &["BZPOPMAX", "z", "0"],
            "*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n",
        ),
        (&["BZPOPMIN", "z", "0.01"], "*-1\r\n"),
        (&["SET", "s", "x"], "+OK\r\n"),
        (
            &["BZPOPMIN", "s", "0"],
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (&["BZPOPMIN", "z", "-1"], "-ERR timeout is negative\r\n"),
        (
            &["BZPOPMIN", "z", "abc"],
            "-ERR timeout is not a float or out of range\r\n",
        ),
        (&["ZADD", "z", "3", "c", "4", "d"], ":2\r\n"),
        (
            &["BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "5"],
            "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n",
        ),
        (&["BZMPOP", "0.01", "1", "z", "MAX"], "*-1\r\n"),
        (&["MULTI"], "+OK\r\n"),
        (&["BZPOPMIN", "z", "0"], "+QUEUED\r\n"),
        (&["BZMPOP", "0", "1", "z", "MIN"], "+QUEUED\r\n"),
        (&["EXEC"], "*2\r\n*-1\r\n*-1\r\n"),
        (&["HELLO", "3"], ""),
        (&["ZADD", "z", "1.5", "a"], ":1\r\n"),
        (
            &["BZPOPMIN", "z", "0"],
            "*3\r\n$1\r\nz\r\n$1\r\na\r\n,1.5\r\n",
        ),
        (&["BZPOPMIN", "z", "0.01"], "_\r\n"),
    ] {
        let got = raw.cmd(args);
        if !expected.is_empty() {
            assert_eq!(got, expected, "{args:?}");
        }
    }
}

/// A client blocked in BZPOPMIN is served by another client's ZADD, in the order clients
/// blocked, and the AOF records the pop as ZPOPMIN.
#[test]
fn a_blocked_bzpopmin_is_woken_by_zadd_in_blocking_order() {
    let dir = common::fresh_dir();
    let server = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut first = server.raw();
    let mut second = server.raw();
    first.send(&common::encode(&[b"BZPOPMIN", b"q", b"5"]));
    std::thread::sleep(Duration::from_millis(100));
    second.send(&common::encode(&[
        b"BZMPOP", b"5", b"1", b"q", b"MAX", b"COUNT", b"2",
    ]));
    std::thread::sleep(Duration::from_millis(100));
    let mut pusher = server.raw();
    assert_eq!(
        pusher.cmd(&["ZADD", "q", "1", "a", "2", "b", "3", "c"]),
        ":3\r\n"
    );
    assert_eq!(
        first.read_reply(),
        b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        second.read_reply(),
        b"*2\r\n$1\r\nq\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(pusher.cmd(&["EXISTS", "q"]), ":0\r\n");
    let incr = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let text = String::from_utf8_lossy(&incr);
    assert!(text.contains("ZPOPMIN\r\n$1\r\nq\r\n"), "{text}");
    assert!(text.contains("ZPOPMAX\r\n$1\r\nq\r\n$1\r\n2\r\n"), "{text}");
    assert!(!text.contains("BZ"), "{text}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
