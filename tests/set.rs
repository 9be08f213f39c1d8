//! Sets against the real binary: replies and errors as Redis 7.0 gives them (checked side by
//! side with `redis-server`), the `intset`/`hashtable` encodings and their thresholds, what
//! the AOF records, the rewrite, and a seeded random stream compared with Redis.

mod collections;
mod common;

use collections::{Check, Pair, int_reply, kopi, redis, wait_for_rewrite};
use common::Server;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[test]
fn commands_reply_and_fail_exactly_as_redis() {
    let Some(redis) = redis("commands_reply_and_fail_exactly_as_redis") else {
        return;
    };
    let kopi = kopi();
    let mut p = Pair::new(&kopi, &redis);
    let script: &[&[&str]] = &[
        &["SET", "str", "x"],
        &["SADD", "s", "5", "1", "2", "-7", "100000"],
        &["SMEMBERS", "s"],
        &["OBJECT", "ENCODING", "s"],
        &["SADD", "s", "1", "3"],
        &["SCARD", "s"],
        &["SISMEMBER", "s", "3"],
        &["SISMEMBER", "s", "03"],
        &["SMISMEMBER", "s", "1", "9", "a"],
        &["SMISMEMBER", "nosuch", "a"],
        &["SADD", "t", "1", "2", "3", "4"],
        &["SINTER", "s", "t"],
        &["SUNION", "s", "t"],
        &["SDIFF", "s", "t"],
        &["SDIFF", "t", "s", "nosuch"],
        &["SINTERCARD", "2", "s", "t"],
        &["SINTERCARD", "2", "s", "t", "LIMIT", "1"],
        &["SINTERCARD", "1", "nosuch", "LIMIT", "0"],
        &["SINTERSTORE", "d", "s", "t"],
        &["OBJECT", "ENCODING", "d"],
        &["SMEMBERS", "d"],
        &["SINTERSTORE", "s", "s", "t"],
        &["SMEMBERS", "s"],
        &["SUNIONSTORE", "str2", "nosuch"],
        &["EXISTS", "str2"],
        &["SET", "str2", "x"],
        &["SDIFFSTORE", "str2", "t", "t"],
        &["EXISTS", "str2"],
        &["SUNIONSTORE", "str2", "t", "s"],
        &["TYPE", "str2"],
        &["SADD", "u", "1", "a"],
        &["SADD", "v", "a"],
        &["SDIFFSTORE", "w", "u", "v"],
        &["OBJECT", "ENCODING", "w"],
        &["SMOVE", "s", "s", "1"],
        &["SMOVE", "s", "s", "9"],
        &["SMOVE", "nosuch", "str", "1"],
        &["SMOVE", "s", "str", "1"],
        &["SMOVE", "str", "s", "1"],
        &["SMOVE", "s", "fresh", "1"],
        &["SMEMBERS", "fresh"],
        &["SMOVE", "fresh", "u", "1"],
        &["EXISTS", "fresh"],
        &["SREM", "u", "a", "zz"],
        &["OBJECT", "ENCODING", "u"],
        &["SREM", "u", "1"],
        &["EXISTS", "u"],
        &["SPOP", "t", "0"],
        &["SPOP", "nosuch"],
        &["SPOP", "nosuch", "3"],
        &["SPOP", "t", "10"],
        &["EXISTS", "t"],
        &["SPOP", "str", "0"],
        &["SRANDMEMBER", "d", "100"],
        &["SRANDMEMBER", "d", "0"],
        &["SRANDMEMBER", "nosuch", "5"],
        &["SRANDMEMBER", "nosuch"],
        &["SSCAN", "d", "0"],
        &["SSCAN", "d", "0", "MATCH", "2*", "COUNT", "1"],
        &["SSCAN", "nosuch", "0", "COUNT", "0"],
        &["DEBUG", "DIGEST-VALUE", "s", "d", "w"],
        // Errors.
        &["SADD", "str", "a"],
        &["SREM", "str", "a"],
        &["SCARD", "str"],
        &["SMEMBERS", "str"],
        &["SINTER", "nosuch", "str"],
        &["SUNION", "nosuch", "str"],
        &["SDIFF", "nosuch", "str"],
        &["SINTERSTORE", "x", "nosuch", "str"],
        &["SRANDMEMBER", "s", "-9223372036854775808"],
        &["SRANDMEMBER", "s", "x"],
        &["SRANDMEMBER", "s", "1", "2"],
        &["SPOP", "s", "-1"],
        &["SPOP", "s", "x"],
        &["SPOP", "s", "1", "2"],
        &["SINTERCARD", "0", "a"],
        &["SINTERCARD", "-1", "a"],
        &["SINTERCARD", "x", "a"],
        &["SINTERCARD", "2", "a"],
        &["SINTERCARD", "1", "a", "LIMIT", "-1"],
        &["SINTERCARD", "1", "a", "LIMIT", "x"],
        &["SINTERCARD", "1", "a", "FOO", "1"],
        &["SINTERCARD", "1", "a", "LIMIT"],
        &["SINTERCARD", "1", "str"],
        &["SSCAN", "s", "x"],
        &["SSCAN", "s", "0", "COUNT", "0"],
        &["SSCAN", "s", "0", "MATCH"],
        &["SSCAN", "s", "0", "TYPE", "set"],
        &["SSCAN", "str", "0"],
        &["SADD", "s"],
        &["SMOVE", "a", "b"],
        &["DEBUG", "DIGEST"],
    ];
    for words in script {
        p.exact(words);
    }
    // The same in RESP3: sets are `~`, SRANDMEMBER and SSCAN arrays, nulls `_`.
    p.hello3();
    for words in script {
        p.exact(words);
    }
}

#[test]
fn encodings_switch_where_redis_switches() {
    let server = kopi();
    let mut r = server.raw();
    let members: Vec<String> = (0..512).map(|i| (i * 3 - 700).to_string()).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(members.iter().map(String::as_str));
    assert_eq!(r.cmd(&args), ":512\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), "$6\r\nintset\r\n");
    // Sorted, as an intset is.
    assert!(
        r.cmd(&["SMEMBERS", "s"])
            .starts_with("*512\r\n$4\r\n-700\r\n$4\r\n-697\r\n")
    );
    assert_eq!(r.cmd(&["SADD", "s", "100000"]), ":1\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), "$9\r\nhashtable\r\n");
    // Removing never converts back; a reload re-picks.
    assert_eq!(r.cmd(&["SREM", "s", "100000"]), ":1\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), "$9\r\nhashtable\r\n");
    assert_eq!(r.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), "$6\r\nintset\r\n");
    // A non-integer member converts; a set created with one starts as a hashtable.
    assert_eq!(r.cmd(&["SADD", "t", "1", "2"]), ":2\r\n");
    assert_eq!(r.cmd(&["SADD", "t", "01"]), ":1\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "t"]), "$9\r\nhashtable\r\n");
    assert_eq!(r.cmd(&["SADD", "u", "a", "1"]), ":2\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "u"]), "$9\r\nhashtable\r\n");
    // Results of the STORE commands are built afresh: intset when they can be.
    assert_eq!(r.cmd(&["SINTERSTORE", "d", "t", "u"]), ":1\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "d"]), "$6\r\nintset\r\n");
    // The threshold is configurable (and read when the set grows).
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "set-max-intset-entries", "2"]),
        "+OK\r\n"
    );
    assert_eq!(r.cmd(&["SADD", "v", "1", "2"]), ":2\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), "$6\r\nintset\r\n");
    assert_eq!(r.cmd(&["SADD", "v", "3"]), ":1\r\n");
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "v"]), "$9\r\nhashtable\r\n");
}

#[test]
fn sscan_returns_every_member_present_for_the_whole_iteration() {
    let server = kopi();
    let mut r = server.raw();
    for i in 0..2000 {
        r.cmd(&["SADD", "big", &format!("m{i}")]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    let mut added = 0;
    loop {
        let reply = collections::parse(r.cmd(&["SSCAN", "big", &cursor]).as_bytes());
        calls += 1;
        cursor = String::from_utf8(reply.items()[0].bytes().to_vec()).unwrap();
        for m in reply.items()[1].items() {
            seen.insert(m.bytes().to_vec());
        }
        // Meanwhile members come and go (only those above 1000).
        added += 1;
        r.cmd(&["SADD", "big", &format!("new{added}")]);
        r.cmd(&["SREM", "big", &format!("m{}", 1000 + added)]);
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 1, "a big set is scanned in several calls");
    for i in 0..1000 {
        assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
    }
}

#[test]
fn spop_is_recorded_as_srem_and_a_whole_pop_as_del() {
    let dir = common::fresh_dir();
    let server = Server::start_in(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = server.raw();
    r.cmd(&["SADD", "s", "1", "2", "3", "4", "5"]);
    let popped = collections::parse(r.cmd(&["SPOP", "s", "2"]).as_bytes());
    let single = collections::parse(r.cmd(&["SPOP", "s"]).as_bytes());
    r.cmd(&["SPOP", "s", "10"]);
    r.cmd(&["SRANDMEMBER", "s"]);
    let incr = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let text = String::from_utf8_lossy(&incr).replace("\r\n", " ");
    let m = |r: &collections::Resp| String::from_utf8_lossy(r.bytes()).into_owned();
    let (a, b) = (m(&popped.items()[0]), m(&popped.items()[1]));
    let expected = format!(
        "*1 $5 MULTI *3 $4 SREM $1 s $1 {a} *3 $4 SREM $1 s $1 {b} *1 $4 EXEC \
         *3 $4 SREM $1 s $1 {} *2 $3 DEL $1 s ",
        m(&single)
    );
    assert!(text.ends_with(&expected), "incr file: {text}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rewrite_and_restart_keep_every_set_and_its_digest_matches_redis() {
    let Some(redis) = redis("a_rewrite_and_restart_keep_every_set") else {
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
    let ints: Vec<String> = (0..300).map(|i| (i * 7).to_string()).collect();
    let words: Vec<String> = (0..150).map(|i| format!("w{i}")).collect();
    for (key, members) in [("ints", &ints), ("words", &words)] {
        let mut cmd = vec!["SADD", key];
        cmd.extend(members.iter().map(String::as_str));
        p.exact(&cmd);
    }
    p.exact(&["SADD", "small", "b", "a"]);
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
    // At most 64 members per SADD: 300 integers take five commands.
    let text = String::from_utf8_lossy(&base);
    assert_eq!(text.matches("$4\r\nints\r\n").count(), 5, "{text}");
    drop(p);
    drop(raw);
    drop(server);
    let server = Server::start_in(&dir, &args);
    let mut p = Pair::new(&server, &redis);
    p.same_digest();
    p.exact(&["OBJECT", "ENCODING", "ints"]);
    p.exact(&["SMEMBERS", "ints"]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A random set command on a few keys, with members that cross the (lowered) thresholds.
fn random_command(rng: &mut SmallRng, p: &mut Pair) -> Option<(Vec<Vec<u8>>, Check)> {
    let keys = ["s0", "s1", "s2", "s3", "s4", "str"];
    let key = |rng: &mut SmallRng| keys[rng.random_range(0..keys.len())].as_bytes().to_vec();
    let member = |rng: &mut SmallRng| -> Vec<u8> {
        match rng.random_range(0..10) {
            0..=4 => rng.random_range(-5i64..25).to_string().into_bytes(),
            5 => [
                "100000",
                "-9223372036854775808",
                "9223372036854775807",
                "70000",
                "-40000",
            ][rng.random_range(0..5)]
            .as_bytes()
            .to_vec(),
            6..=8 => ["a", "b", "c", "d", "e", "07", " 1", ""][rng.random_range(0..8)]
                .as_bytes()
                .to_vec(),
            _ => vec![b'z'; 70],
        }
    };
    let members = |rng: &mut SmallRng, n: usize| -> Vec<Vec<u8>> {
        (0..rng.random_range(1..=n)).map(|_| member(rng)).collect()
    };
    let cmd = |name: &str| vec![name.as_bytes().to_vec()];
    let mut args;
    let check;
    match rng.random_range(0..22) {
        0..=3 => {
            args = cmd("SADD");
            args.push(key(rng));
            args.extend(members(rng, 12));
            check = Check::Exact;
        }
        4 | 5 => {
            args = cmd("SREM");
            args.push(key(rng));
            args.extend(members(rng, 6));
            check = Check::Exact;
        }
        6 => {
            args = cmd(["SCARD", "SISMEMBER"][rng.random_range(0..2)]);
            args.push(key(rng));
            if args[0] == b"SISMEMBER" {
                args.push(member(rng));
            }
            check = Check::Exact;
        }
        7 => {
            args = cmd("SMISMEMBER");
            args.push(key(rng));
            args.extend(members(rng, 4));
            check = Check::Exact;
        }
        8 => {
            args = cmd("SMEMBERS");
            args.push(key(rng));
            check = Check::OrderOf(false);
        }
        9 => {
            args = cmd("SRANDMEMBER");
            args.push(key(rng));
            let count: i64 = [0, 1, 3, -3, -20, 1000][rng.random_range(0..6)];
            args.push(count.to_string().into_bytes());
            check = if count == 1000 || count == 0 {
                Check::OrderOf(false)
            } else {
                Check::Shape
            };
        }
        10 => {
            // Only pops whose outcome is certain: the whole set, or nothing.
            let k = key(rng);
            let card = int_reply(&p.probe_redis(&[b"SCARD", &k]));
            args = cmd("SPOP");
            args.push(k);
            match rng.random_range(0..3) {
                0 if card <= 1 => {}
                1 => args.push(b"0".to_vec()),
                _ => args.push(b"1000".to_vec()),
            }
            check = Check::OrderOf(false);
        }
        11 => {
            args = cmd("SMOVE");
            args.push(key(rng));
            args.push(key(rng));
            args.push(member(rng));
            check = Check::Exact;
        }
        12..=14 => {
            args = cmd(["SINTER", "SUNION", "SDIFF"][rng.random_range(0..3)]);
            for _ in 0..rng.random_range(1..4) {
                args.push(key(rng));
            }
            check = Check::Unordered;
        }
        15 | 16 => {
            args = cmd(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][rng.random_range(0..3)]);
            for _ in 0..rng.random_range(2..5) {
                args.push(key(rng));
            }
            check = Check::Exact;
        }
        17 => {
            let n = rng.random_range(1..4);
            args = cmd("SINTERCARD");
            args.push(n.to_string().into_bytes());
            for _ in 0..n {
                args.push(key(rng));
            }
            if rng.random_bool(0.5) {
                args.push(b"LIMIT".to_vec());
                args.push(rng.random_range(-1..4).to_string().into_bytes());
            }
            check = Check::Exact;
        }
        18 => {
            args = cmd("SSCAN");
            args.push(key(rng));
            args.push(b"0".to_vec());
            if rng.random_bool(0.3) {
                args.extend([b"MATCH".to_vec(), b"*1*".to_vec()]);
            }
            if rng.random_bool(0.3) {
                args.extend([b"COUNT".to_vec(), b"3".to_vec()]);
            }
            check = Check::Scan(false);
        }
        19 => {
            args = vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), key(rng)];
            check = Check::Exact;
        }
        20 => {
            args = vec![
                b"DEBUG".to_vec(),
                b"DIGEST-VALUE".to_vec(),
                key(rng),
                key(rng),
            ];
            check = Check::Exact;
        }
        _ => {
            args = if rng.random_bool(0.3) {
                vec![b"DEL".to_vec(), key(rng)]
            } else {
                vec![b"SET".to_vec(), b"str".to_vec(), b"x".to_vec()]
            };
            check = Check::Exact;
        }
    }
    Some((args, check))
}

fn random_stream(seed: u64, resp3: bool) {
    let Some(redis) = redis("a_random_stream_of_set_commands_matches_redis") else {
        return;
    };
    let kopi = kopi();
    let mut p = Pair::new(&kopi, &redis);
    if resp3 {
        p.hello3();
    }
    p.exact(&["CONFIG", "SET", "set-max-intset-entries", "16"]);
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in 0..3000 {
        if let Some((args, check)) = random_command(&mut rng, &mut p) {
            p.run(&args, check);
        }
        if i % 500 == 499 {
            p.same_digest();
        }
    }
    p.same_digest();
    assert!(p.sent > 3000);
}

#[test]
fn a_random_stream_of_set_commands_matches_redis_resp2() {
    random_stream(0x5e7, false);
}

#[test]
fn a_random_stream_of_set_commands_matches_redis_resp3() {
    random_stream(0x5e73, true);
}
