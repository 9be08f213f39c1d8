//! Lists: the commands as Redis 7.0 answers them, the quicklist encoding, blocking pops with
//! several clients, their effects in the AOF, and a random command stream compared byte for
//! byte with `redis-server`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use common::{Raw, RedisServer, Server, require_program};

fn info_field(raw: &mut Raw, field: &str) -> String {
    let info = raw.cmd(&["INFO", "everything"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

/// Waits until `n` clients are blocked (INFO `blocked_clients`).
fn wait_blocked(raw: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while info_field(raw, "blocked_clients") != n.to_string() {
        assert!(
            Instant::now() < deadline,
            "never saw {n} blocked clients: {}",
            info_field(raw, "blocked_clients")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn pushes_pops_and_ranges() {
    let server = Server::start();
    let mut r = server.raw();
    assert_eq!(r.cmd(&["RPUSH", "l", "a", "b", "c"]), ":3\r\n");
    assert_eq!(r.cmd(&["LPUSH", "l", "z"]), ":4\r\n");
    assert_eq!(r.cmd(&["LPUSHX", "none", "x"]), ":0\r\n");
    assert_eq!(r.cmd(&["EXISTS", "none"]), ":0\r\n");
    assert_eq!(r.cmd(&["RPUSHX", "l", "d"]), ":5\r\n");
    assert_eq!(
        r.cmd(&["LRANGE", "l", "1", "-2"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(r.cmd(&["LRANGE", "l", "5", "10"]), "*0\r\n");
    assert_eq!(r.cmd(&["LINDEX", "l", "-1"]), "$1\r\nd\r\n");
    assert_eq!(r.cmd(&["LINDEX", "l", "9"]), "$-1\r\n");
    assert_eq!(r.cmd(&["LPOP", "l"]), "$1\r\nz\r\n");
    assert_eq!(r.cmd(&["RPOP", "l", "2"]), "*2\r\n$1\r\nd\r\n$1\r\nc\r\n");
    assert_eq!(r.cmd(&["LPOP", "l", "0"]), "*0\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey", "2"]), "*-1\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey"]), "$-1\r\n");
    assert_eq!(r.cmd(&["RPOP", "l", "5"]), "*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    assert_eq!(
        r.cmd(&["EXISTS", "l"]),
        ":0\r\n",
        "an emptied list is deleted"
    );
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "nokey"]), "$-1\r\n");
    r.cmd(&["HELLO", "3"]);
    assert_eq!(r.cmd(&["LPOP", "nokey", "2"]), "_\r\n");
    assert_eq!(r.cmd(&["LPOP", "nokey"]), "_\r\n");
    assert_eq!(r.cmd(&["LMPOP", "1", "nokey", "LEFT"]), "_\r\n");
}

#[test]
fn edits_and_searches() {
    let server = Server::start();
    let mut r = server.raw();
    r.cmd(&["RPUSH", "l", "a", "b", "a", "c", "a"]);
    assert_eq!(r.cmd(&["LPOS", "l", "a"]), ":0\r\n");
    assert_eq!(r.cmd(&["LPOS", "l", "a", "RANK", "-1"]), ":4\r\n");
    assert_eq!(
        r.cmd(&["LPOS", "l", "a", "COUNT", "0", "RANK", "2"]),
        "*2\r\n:2\r\n:4\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "a", "RANK", "2", "MAXLEN", "2"]),
        "$-1\r\n"
    );
    // Redis 7.0 negates the rank in a signed integer: the most negative one searches from
    // the tail, starts at the first match and ignores COUNT.
    assert_eq!(
        r.cmd(&[
            "LPOS",
            "l",
            "a",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "2"
        ]),
        "*3\r\n:4\r\n:2\r\n:0\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
        ":4\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "a", "RANK", "0"]),
        "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "a", "COUNT", "-1"]),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        r.cmd(&["LPOS", "l", "a", "MAXLEN", "-1"]),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(r.cmd(&["LINSERT", "l", "BEFORE", "c", "x"]), ":6\r\n");
    assert_eq!(r.cmd(&["LINSERT", "l", "AFTER", "nope", "x"]), ":-1\r\n");
    assert_eq!(r.cmd(&["LINSERT", "nokey", "AFTER", "a", "x"]), ":0\r\n");
    assert_eq!(
        r.cmd(&["LINSERT", "l", "IN", "a", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(r.cmd(&["LREM", "l", "-2", "a"]), ":2\r\n");
    assert_eq!(r.cmd(&["LSET", "l", "-1", "end"]), "+OK\r\n");
    assert_eq!(
        r.cmd(&["LSET", "l", "10", "x"]),
        "-ERR index out of range\r\n"
    );
    assert_eq!(r.cmd(&["LSET", "nokey", "0", "x"]), "-ERR no such key\r\n");
    assert_eq!(
        r.cmd(&["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n$3\r\nend\r\n"
    );
    assert_eq!(r.cmd(&["LTRIM", "l", "1", "2"]), "+OK\r\n");
    assert_eq!(
        r.cmd(&["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\nb\r\n$1\r\nx\r\n"
    );
    assert_eq!(r.cmd(&["LTRIM", "l", "5", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["EXISTS", "l"]), ":0\r\n");
    r.cmd(&["SET", "s", "v"]);
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for args in [
        &["LPUSH", "s", "x"][..],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["BLPOP", "s", "0"],
    ] {
        assert_eq!(r.cmd(args), wrongtype, "{args:?}");
    }
    r.cmd(&["RPUSH", "src", "1"]);
    assert_eq!(r.cmd(&["LMOVE", "src", "s", "LEFT", "LEFT"]), wrongtype);
    assert_eq!(r.cmd(&["LLEN", "src"]), ":1\r\n", "nothing moved");
}

#[test]
fn moves_and_multi_pops() {
    let server = Server::start();
    let mut r = server.raw();
    r.cmd(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(r.cmd(&["LMOVE", "l", "l", "LEFT", "RIGHT"]), "$1\r\na\r\n");
    assert_eq!(r.cmd(&["RPOPLPUSH", "l", "m"]), "$1\r\na\r\n");
    assert_eq!(r.cmd(&["RPOPLPUSH", "nokey", "m"]), "$-1\r\n");
    assert_eq!(
        r.cmd(&["LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "5"]),
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(r.cmd(&["LMPOP", "1", "l", "LEFT"]), "*-1\r\n");
    assert_eq!(
        r.cmd(&["LMPOP", "0", "l", "LEFT"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(
        r.cmd(&["LMPOP", "1", "l", "LEFT", "COUNT", "0"]),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(r.cmd(&["LMPOP", "2", "l", "LEFT"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["BLPOP", "l", "-1"]), "-ERR timeout is negative\r\n");
    assert_eq!(
        r.cmd(&["BLPOP", "l", "x"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
}

#[test]
fn encoding_is_quicklist_and_nodes_split_as_redis() {
    let server = Server::start_with(&["--enable-debug-command", "yes"]);
    let mut r = server.raw();
    r.cmd(&["RPUSH", "l", "a"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "l"]), "$9\r\nquicklist\r\n");
    let many: Vec<&str> = std::iter::repeat_n("a", 2725).collect();
    let mut args = vec!["RPUSH", "l"];
    args.extend(&many);
    r.cmd(&args);
    assert!(r.cmd(&["DEBUG", "OBJECT", "l"]).contains(" ql_nodes:1 "));
    r.cmd(&["RPUSH", "l", "a"]);
    // 2727 one-byte elements need a second 8 KiB node, as in Redis 7.0.
    assert!(r.cmd(&["DEBUG", "OBJECT", "l"]).contains(" ql_nodes:2 "));
    r.cmd(&["CONFIG", "SET", "list-max-listpack-size", "5"]);
    r.cmd(&["RPUSH", "n", "1", "2", "3", "4", "5", "6"]);
    assert!(r.cmd(&["DEBUG", "OBJECT", "n"]).contains(" ql_nodes:2 "));
}

#[test]
fn digests_match_redis() {
    let test = "digests_match_redis";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let redis = RedisServer::start(&program, &["--enable-debug-command", "yes"]);
    let server = Server::start_with(&["--enable-debug-command", "yes"]);
    let (mut ours, mut theirs) = (server.raw(), redis.raw());
    for r in [&mut ours, &mut theirs] {
        r.cmd(&[
            "RPUSH",
            "l",
            "a",
            "12",
            "-5",
            &"x".repeat(300),
            "",
            "9223372036854775807",
        ]);
        r.cmd(&["LPUSH", "m", "1"]);
    }
    for args in [
        &["DEBUG", "DIGEST-VALUE", "l", "m"][..],
        &["DEBUG", "DIGEST"],
    ] {
        assert_eq!(ours.cmd(args), theirs.cmd(args), "{args:?}");
    }
}

#[test]
fn blocked_clients_are_served_in_order() {
    let server = Server::start();
    let mut first = server.raw();
    let mut second = server.raw();
    let mut admin = server.raw();
    first.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut admin, 1);
    second.send_cmd(&[b"BRPOP", b"other", b"k", b"0"]);
    wait_blocked(&mut admin, 2);
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(
        list.contains("flags=b ") && list.contains("cmd=blpop "),
        "{list}"
    );
    assert_eq!(admin.cmd(&["RPUSH", "k", "a", "b"]), ":2\r\n");
    assert_eq!(first.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    assert_eq!(second.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nb\r\n");
    assert_eq!(admin.cmd(&["EXISTS", "k"]), ":0\r\n");
    wait_blocked(&mut admin, 0);
    // The connection goes on with what was sent while it waited.
    first.send_cmd(&[b"BLPOP", b"k", b"0"]);
    first.send_cmd(&[b"PING"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["LPUSH", "k", "x"]);
    assert_eq!(first.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    assert_eq!(first.read_reply(), b"+PONG\r\n");
}

#[test]
fn timeouts_are_fractional_and_resp3_null() {
    let server = Server::start();
    let mut c = server.raw();
    let started = Instant::now();
    assert_eq!(c.cmd(&["BLPOP", "k", "0.2"]), "*-1\r\n");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(
        c.cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"]),
        "*-1\r\n"
    );
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["BLMPOP", "0.05", "1", "k", "LEFT"]), "_\r\n");
    assert_eq!(c.cmd(&["BRPOPLPUSH", "k", "d", "0.05"]), "_\r\n");
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["BLPOP", "k", "0"]);
    c.cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    c.cmd(&["BLMPOP", "0", "1", "k", "LEFT"]);
    assert_eq!(c.cmd(&["EXEC"]), "*3\r\n*-1\r\n$-1\r\n*-1\r\n");
}

#[test]
fn pushes_inside_multi_wake_after_exec() {
    let server = Server::start();
    let mut waiter = server.raw();
    let mut other = server.raw();
    waiter.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut other, 1);
    other.cmd(&["MULTI"]);
    other.cmd(&["RPUSH", "k", "x"]);
    other.cmd(&["LPUSH", "k", "y"]);
    assert_eq!(other.cmd(&["EXEC"]), "*2\r\n:1\r\n:2\r\n");
    // Served once the transaction is complete: the head is then "y".
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\ny\r\n");
    assert_eq!(other.cmd(&["LRANGE", "k", "0", "-1"]), "*1\r\n$1\r\nx\r\n");
}

#[test]
fn rename_move_and_swapdb_onto_the_key_wake() {
    let server = Server::start();
    let mut waiter = server.raw();
    let mut other = server.raw();
    waiter.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut other, 1);
    other.cmd(&["RPUSH", "src", "v"]);
    assert_eq!(other.cmd(&["RENAME", "src", "k"]), "+OK\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n");

    waiter.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut other, 1);
    other.cmd(&["SELECT", "1"]);
    other.cmd(&["RPUSH", "k", "from1"]);
    assert_eq!(other.cmd(&["MOVE", "k", "0"]), ":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$5\r\nfrom1\r\n");

    waiter.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut other, 1);
    other.cmd(&["RPUSH", "k", "swapped"]);
    assert_eq!(other.cmd(&["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nk\r\n$7\r\nswapped\r\n");
}

#[test]
fn blmove_and_blmpop_served_later() {
    let server = Server::start();
    let mut waiter = server.raw();
    let mut other = server.raw();
    waiter.send_cmd(&[b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0"]);
    wait_blocked(&mut other, 1);
    other.cmd(&["RPUSH", "src", "a", "b"]);
    assert_eq!(waiter.read_reply(), b"$1\r\nb\r\n");
    assert_eq!(
        other.cmd(&["LRANGE", "dst", "0", "-1"]),
        "*1\r\n$1\r\nb\r\n"
    );
    waiter.send_cmd(&[b"BLMPOP", b"0", b"2", b"x", b"y", b"LEFT", b"COUNT", b"2"]);
    wait_blocked(&mut other, 1);
    other.cmd(&["RPUSH", "y", "1", "2", "3"]);
    assert_eq!(
        waiter.read_reply(),
        b"*2\r\n$1\r\ny\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    // A chain: the element BLMOVE pushes serves a client blocked on the destination.
    let mut third = server.raw();
    third.send_cmd(&[b"BLPOP", b"dst2", b"0"]);
    wait_blocked(&mut other, 1);
    waiter.send_cmd(&[b"BRPOPLPUSH", b"src2", b"dst2", b"0"]);
    wait_blocked(&mut other, 2);
    other.cmd(&["RPUSH", "src2", "z"]);
    assert_eq!(waiter.read_reply(), b"$1\r\nz\r\n");
    assert_eq!(third.read_reply(), b"*2\r\n$4\r\ndst2\r\n$1\r\nz\r\n");
}

#[test]
fn client_unblock_and_disconnect() {
    let server = Server::start();
    let mut waiter = server.raw();
    let mut other = server.raw();
    let id = waiter.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end();
    assert_eq!(other.cmd(&["CLIENT", "UNBLOCK", id]), ":0\r\n");
    waiter.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut other, 1);
    assert_eq!(other.cmd(&["CLIENT", "UNBLOCK", id]), ":1\r\n");
    assert_eq!(waiter.read_reply(), b"*-1\r\n");
    waiter.send_cmd(&[b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0"]);
    wait_blocked(&mut other, 1);
    assert_eq!(other.cmd(&["CLIENT", "UNBLOCK", id, "ERROR"]), ":1\r\n");
    assert_eq!(
        waiter.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(
        other.cmd(&["CLIENT", "UNBLOCK", id, "NOW"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
    // A client that goes away while blocked takes nothing.
    waiter.send_cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut other, 1);
    drop(waiter);
    wait_blocked(&mut other, 0);
    other.cmd(&["RPUSH", "k", "kept"]);
    assert_eq!(other.cmd(&["LLEN", "k"]), ":1\r\n");
}

#[test]
fn no_wake_up_is_lost_under_load() {
    let server = Server::start();
    const WAITERS: usize = 24;
    let port = server.port;
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                c.cmd(&["BLPOP", "q", "0"])
            })
        })
        .collect();
    let mut admin = server.raw();
    wait_blocked(&mut admin, WAITERS);
    let pushers: Vec<_> = (0..WAITERS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                c.cmd(&["RPUSH", "q", &format!("e{i}")]);
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let mut got: Vec<String> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    got.sort();
    got.dedup();
    assert_eq!(
        got.len(),
        WAITERS,
        "each element went to exactly one client"
    );
    assert_eq!(admin.cmd(&["LLEN", "q"]), ":0\r\n");
    assert_eq!(info_field(&mut admin, "blocked_clients"), "0");
}

/// The commands of an AOF file, in order.
fn aof_commands(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut reader = std::io::Cursor::new(bytes);
    loop {
        let mut value = Vec::new();
        if common::read_value(&mut reader, &mut value).is_err() || value.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&value).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        let command: Vec<String> = parts
            .iter()
            .skip(1)
            .filter(|p| !p.starts_with('$') && !p.is_empty())
            .map(|p| p.to_string())
            .collect();
        out.push(command);
    }
    out
}

fn wait_for_file_with(path: &Path, needle: &str) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bytes = std::fs::read(path).unwrap_or_default();
        if String::from_utf8_lossy(&bytes).contains(needle) {
            return bytes;
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {needle}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn served_blocked_clients_are_logged_as_redis_logs_them() {
    let test = "served_blocked_clients_are_logged_as_redis_logs_them";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let redis = RedisServer::start(&program, &aof);
    let server = Server::start_with(&aof);
    let incr = "appendonlydir/appendonly.aof.1.incr.aof";
    let mut logs = Vec::new();
    for (port, dir) in [(server.port, &server.dir), (redis.port, &redis.dir)] {
        let mut waiter = Raw::connect(port);
        let mut other = Raw::connect(port);
        let script: &[(&[&str], &[&str])] = &[
            (&["BLPOP", "bl", "0"], &["RPUSH", "bl", "a", "b"]),
            (&["BRPOP", "bl2", "0"], &["RPUSH", "bl2", "c"]),
            (
                &["BLMOVE", "s", "d", "LEFT", "RIGHT", "0"],
                &["RPUSH", "s", "x"],
            ),
            (&["BRPOPLPUSH", "s2", "d", "0"], &["LPUSH", "s2", "y"]),
            (
                &["BLMPOP", "0", "1", "m", "RIGHT", "COUNT", "3"],
                &["RPUSH", "m", "1", "2"],
            ),
            (&["BLPOP", "t", "0"], &["MULTI"]),
        ];
        for (blocking, push) in script {
            let args: Vec<&[u8]> = blocking.iter().map(|a| a.as_bytes()).collect();
            waiter.send_cmd(&args);
            wait_blocked(&mut other, 1);
            other.cmd(push);
            if push[0] == "MULTI" {
                other.cmd(&["RPUSH", "t", "1"]);
                other.cmd(&["SET", "after", "1"]);
                other.cmd(&["EXEC"]);
            }
            waiter.read_reply();
        }
        other.cmd(&["SET", "end", "1"]);
        logs.push(aof_commands(&wait_for_file_with(&dir.join(incr), "end")));
    }
    assert_eq!(logs[0], logs[1], "kopi's log, then redis-server's");
}

#[test]
fn rewrite_and_restart_keep_the_lists() {
    let dir = common::fresh_dir();
    let args = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let digest;
    {
        let server = Server::start_in(&dir, &args);
        let mut r = server.raw();
        let items: Vec<String> = (0..300).map(|i| format!("item-{i}")).collect();
        let mut cmd = vec!["RPUSH", "big"];
        cmd.extend(items.iter().map(|s| s.as_str()));
        r.cmd(&cmd);
        r.cmd(&["LPUSH", "small", "1", "2", &"x".repeat(10_000)]);
        r.cmd(&["BGREWRITEAOF"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut r, "aof_rewrite_in_progress") != "0"
            || info_field(&mut r, "aof_rewrite_scheduled") != "0"
        {
            assert!(Instant::now() < deadline, "rewrite never finished");
            std::thread::sleep(Duration::from_millis(20));
        }
        r.cmd(&["RPUSH", "big", "after-rewrite"]);
        digest = r.cmd(&["DEBUG", "DIGEST"]);
    }
    let server = Server::start_in(&dir, &args);
    let mut r = server.raw();
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(r.cmd(&["LLEN", "big"]), ":301\r\n");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- differential stream ----

const KEYS: &[&str] = &["l1", "l2", "l3", "s", "missing"];

fn element(rng: &mut SmallRng) -> String {
    match rng.random_range(0..10) {
        0 => rng.random_range(-5000i64..5000).to_string(),
        1 => "x".repeat(rng.random_range(60..400)),
        2 => String::new(),
        3 => i64::MAX.to_string(),
        _ => ["a", "b", "c", "foo", "1", "10"][rng.random_range(0..6)].to_string(),
    }
}

fn index(rng: &mut SmallRng) -> String {
    match rng.random_range(0..12) {
        0 => "9223372036854775807".into(),
        1 => "-9223372036854775808".into(),
        2 => "x".into(),
        _ => rng.random_range(-12i64..12).to_string(),
    }
}

fn key(rng: &mut SmallRng) -> String {
    KEYS[rng.random_range(0..KEYS.len())].to_string()
}

fn side(rng: &mut SmallRng) -> String {
    ["LEFT", "RIGHT", "left", "up"][rng.random_range(0..4)].to_string()
}

fn random_command(rng: &mut SmallRng) -> Vec<String> {
    let mut c: Vec<String> = Vec::new();
    let push = |c: &mut Vec<String>, s: &str| c.push(s.to_string());
    match rng.random_range(0..22) {
        0..=3 => {
            push(
                &mut c,
                ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][rng.random_range(0..4)],
            );
            c.push(key(rng));
            let n = if rng.random_bool(0.05) {
                400
            } else {
                rng.random_range(1..5)
            };
            for _ in 0..n {
                c.push(element(rng));
            }
        }
        4 | 5 => {
            push(&mut c, ["LPOP", "RPOP"][rng.random_range(0..2)]);
            c.push(key(rng));
            if rng.random_bool(0.5) {
                c.push(["0", "1", "3", "-1", "x", "100"][rng.random_range(0..6)].to_string());
            }
        }
        6 => {
            push(&mut c, "LLEN");
            c.push(key(rng));
        }
        7 | 8 => {
            push(&mut c, "LRANGE");
            c.push(key(rng));
            c.push(index(rng));
            c.push(index(rng));
        }
        9 => {
            push(&mut c, "LINDEX");
            c.push(key(rng));
            c.push(index(rng));
        }
        10 => {
            push(&mut c, "LSET");
            c.push(key(rng));
            c.push(index(rng));
            c.push(element(rng));
        }
        11 => {
            push(&mut c, "LINSERT");
            c.push(key(rng));
            push(
                &mut c,
                ["BEFORE", "AFTER", "after", "x"][rng.random_range(0..4)],
            );
            c.push(element(rng));
            c.push(element(rng));
        }
        12 => {
            push(&mut c, "LREM");
            c.push(key(rng));
            c.push(index(rng));
            c.push(element(rng));
        }
        13 => {
            push(&mut c, "LTRIM");
            c.push(key(rng));
            c.push(index(rng));
            c.push(index(rng));
        }
        14 | 15 => {
            push(&mut c, "LPOS");
            c.push(key(rng));
            c.push(element(rng));
            for _ in 0..rng.random_range(0..3) {
                push(
                    &mut c,
                    ["RANK", "COUNT", "MAXLEN", "BAD"][rng.random_range(0..4)],
                );
                c.push(index(rng));
            }
        }
        16 => {
            push(&mut c, "LMOVE");
            c.push(key(rng));
            c.push(key(rng));
            c.push(side(rng));
            c.push(side(rng));
        }
        17 => {
            push(&mut c, "RPOPLPUSH");
            c.push(key(rng));
            c.push(key(rng));
        }
        18 => {
            push(&mut c, "LMPOP");
            let n = rng.random_range(0..4);
            c.push(n.to_string());
            for _ in 0..n {
                c.push(key(rng));
            }
            c.push(side(rng));
            if rng.random_bool(0.5) {
                push(&mut c, "COUNT");
                c.push(["0", "2", "50", "-1"][rng.random_range(0..4)].to_string());
            }
        }
        19 => {
            // Blocking forms on keys that may hold data: served at once or a short timeout.
            match rng.random_range(0..3) {
                0 => {
                    push(&mut c, ["BLPOP", "BRPOP"][rng.random_range(0..2)]);
                    c.push(key(rng));
                    c.push(key(rng));
                }
                1 => {
                    push(&mut c, "BLMOVE");
                    c.push(key(rng));
                    c.push(key(rng));
                    c.push(side(rng));
                    c.push(side(rng));
                }
                _ => {
                    push(&mut c, "BLMPOP");
                    c.push("0.01".into());
                    push(&mut c, "1");
                    c.push(key(rng));
                    c.push(side(rng));
                }
            }
            if c[0] != "BLMPOP" {
                c.push(["0.01", "-1", "x"][rng.random_range(0..3)].to_string());
            }
        }
        20 => {
            push(&mut c, ["SET", "DEL"][rng.random_range(0..2)]);
            push(&mut c, "s");
            if c[0] == "SET" {
                push(&mut c, "str");
            }
        }
        _ => {
            push(&mut c, "DEBUG");
            push(&mut c, "DIGEST-VALUE");
            c.push(key(rng));
        }
    }
    c
}

#[test]
fn random_list_commands_match_redis() {
    let test = "random_list_commands_match_redis";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let seed: u64 = std::env::var("KOPI_LIST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let commands: usize = std::env::var("KOPI_LIST_COMMANDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    eprintln!("list differential seed {seed}, {commands} commands");
    let redis = RedisServer::start(&program, &["--enable-debug-command", "yes"]);
    let server = Server::start_with(&["--enable-debug-command", "yes"]);
    let (mut ours, mut theirs) = (server.raw(), redis.raw());
    let mut rng = SmallRng::seed_from_u64(seed);
    for i in 0..commands {
        if i % 1000 == 500 {
            // Small nodes for a while: many node boundaries.
            let fill = ["-2", "4", "-1", "1"][rng.random_range(0..4)];
            for r in [&mut ours, &mut theirs] {
                r.cmd(&["CONFIG", "SET", "list-max-listpack-size", fill]);
            }
        }
        let command = random_command(&mut rng);
        let args: Vec<&str> = command.iter().map(|s| s.as_str()).collect();
        let (a, b) = (ours.cmd(&args), theirs.cmd(&args));
        assert_eq!(a, b, "seed {seed}, command {i}: {args:?}");
    }
    assert_eq!(
        ours.cmd(&["DEBUG", "DIGEST"]),
        theirs.cmd(&["DEBUG", "DIGEST"])
    );
}

/// DEBUG QUICKLIST-PACKED-THRESHOLD: elements at least that long sit alone in a node (Redis's
/// plain nodes), and the list reads back the same.
#[test]
fn elements_over_the_packed_threshold_get_nodes_of_their_own() {
    let server = common::Server::start_with(&["--enable-debug-command", "yes"]);
    let mut raw = server.raw();
    let nodes = |raw: &mut common::Raw, key: &str| -> String {
        let line = raw.cmd(&["DEBUG", "OBJECT", key]);
        line.split_whitespace()
            .find_map(|f| f.strip_prefix("ql_nodes:"))
            .unwrap_or_default()
            .to_string()
    };
    let big = |c: char| c.to_string().repeat(500);
    for c in ['a', 'b', 'c', 'd'] {
        raw.cmd(&["LPUSH", "packed", &big(c)]);
    }
    assert_eq!(nodes(&mut raw, "packed"), "1");
    assert_eq!(
        raw.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"]),
        "+OK\r\n"
    );
    for c in ['a', 'b', 'c', 'd'] {
        raw.cmd(&["LPUSH", "plain", &big(c)]);
    }
    assert_eq!(nodes(&mut raw, "plain"), "4");
    raw.cmd(&["LINSERT", "plain", "AFTER", &big('d'), &big('e')]);
    for c in ['d', 'e', 'c', 'b', 'a'] {
        assert_eq!(
            raw.cmd(&["LPOP", "plain"]),
            format!("$500\r\n{}\r\n", big(c))
        );
    }
    for bad in ["5gb", "abc", "-1"] {
        assert_eq!(
            raw.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", bad]),
            "-ERR argument must be a memory value bigger than 1 and smaller than 4gb\r\n"
        );
    }
    assert_eq!(
        raw.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"]),
        "+OK\r\n"
    );
}

/// Redis's "BRPOPLPUSH with wrong destination type": a waiter served onto a destination of
/// another type gets WRONGTYPE and is unblocked, the element stays; a waiter whose source
/// becomes another type stays blocked.
#[test]
fn a_waiter_with_a_wrong_type_destination_gets_wrongtype_and_the_element_stays() {
    let server = common::Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "target", "nolist"]), "+OK\r\n");
    let mut waiter = server.raw();
    waiter.send(&common::encode(&[b"BRPOPLPUSH", b"blist", b"target", b"0"]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(raw.cmd(&["RPUSH", "blist", "foo"]), ":1\r\n");
    assert_eq!(
        waiter.read_reply(),
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        raw.cmd(&["LRANGE", "blist", "0", "-1"]),
        "*1\r\n$3\r\nfoo\r\n"
    );
    // A source that turns into another type leaves the waiter blocked until a list is there.
    let mut waiter = server.raw();
    waiter.send(&common::encode(&[b"BLPOP", b"src", b"0"]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(raw.cmd(&["SET", "src", "x"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DEL", "src"]), ":1\r\n");
    assert_eq!(raw.cmd(&["RPUSH", "src", "v"]), ":1\r\n");
    assert_eq!(waiter.read_reply(), b"*2\r\n$3\r\nsrc\r\n$1\r\nv\r\n");
}
