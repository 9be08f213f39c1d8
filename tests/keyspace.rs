//! Generic keyspace commands, compared byte for byte with what Redis 7.0 sends.

mod common;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Raw, Server};

fn set_keys(raw: &mut Raw, keys: &[&str]) {
    for key in keys {
        assert_eq!(raw.cmd(&["SET", key, "v"]), "+OK\r\n");
    }
}

/// Walks a whole SCAN iteration with `extra` options; returns every key returned (with
/// repetitions) and the number of calls.
fn scan_all(con: &mut redis::Connection, extra: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg(extra)
            .query(con)
            .unwrap();
        keys.extend(batch);
        calls += 1;
        if next == 0 {
            return (keys, calls);
        }
        cursor = next;
    }
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

#[test]
fn del_and_unlink_count_each_existing_key_once() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["a", "b", "c"]);
    assert_eq!(raw.cmd(&["DEL", "a", "a", "b", "missing"]), ":2\r\n");
    assert_eq!(raw.cmd(&["UNLINK", "c", "c"]), ":1\r\n");
    assert_eq!(raw.cmd(&["DEL", "a"]), ":0\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(
        raw.cmd(&["DEL"]),
        "-ERR wrong number of arguments for 'del' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["UNLINK"]),
        "-ERR wrong number of arguments for 'unlink' command\r\n"
    );
}

#[test]
fn exists_and_touch_count_repetitions() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["a", "b"]);
    assert_eq!(raw.cmd(&["EXISTS", "a", "a", "b", "x"]), ":3\r\n");
    assert_eq!(raw.cmd(&["TOUCH", "a", "b", "x", "a"]), ":3\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "x"]), ":0\r\n");
}

#[test]
fn type_is_a_status_reply() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["s"]);
    assert_eq!(raw.cmd(&["TYPE", "s"]), "+string\r\n");
    assert_eq!(raw.cmd(&["TYPE", "missing"]), "+none\r\n");
}

#[test]
fn dbsize_counts_the_selected_db() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["a", "b", "c"]);
    assert_eq!(raw.cmd(&["DBSIZE"]), ":3\r\n");
    assert_eq!(raw.cmd(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(
        raw.cmd(&["DBSIZE", "x"]),
        "-ERR wrong number of arguments for 'dbsize' command\r\n"
    );
}

#[test]
fn keys_matches_glob_patterns() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut con = server.conn();
    set_keys(&mut raw, &["one", "two", "three", "a*b", "axb"]);
    let all: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(sorted(all), ["a*b", "axb", "one", "three", "two"]);
    let t: Vec<String> = redis::cmd("KEYS").arg("t*").query(&mut con).unwrap();
    assert_eq!(sorted(t), ["three", "two"]);
    let escaped: Vec<String> = redis::cmd("KEYS").arg("a\\*b").query(&mut con).unwrap();
    assert_eq!(escaped, ["a*b"]);
    let class: Vec<String> = redis::cmd("KEYS").arg("[ot]?[eo]").query(&mut con).unwrap();
    assert_eq!(sorted(class), ["one", "two"]);
    assert_eq!(raw.cmd(&["KEYS", "nothing*"]), "*0\r\n");
}

#[test]
fn scan_walks_every_key_exactly_once_when_nothing_changes() {
    let server = Server::start();
    let mut con = server.conn();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    let expected: Vec<String> = (0..300).map(|i| format!("key:{i}")).collect();
    for key in &expected {
        assert_eq!(raw.cmd(&["SET", key, "v"]), "+OK\r\n");
    }
    let (keys, calls) = scan_all(&mut con, &["COUNT", "20"]);
    assert!(calls > 1, "COUNT 20 over 300 keys takes several calls");
    assert_eq!(sorted(keys), sorted(expected.clone()));

    // A large COUNT returns everything at once.
    let (keys, calls) = scan_all(&mut con, &["COUNT", "1000"]);
    assert_eq!(calls, 1);
    assert_eq!(keys.len(), 300);
}

#[test]
fn scan_match_and_type_filter() {
    let server = Server::start();
    let mut con = server.conn();
    let mut raw = server.raw();
    for i in 0..50 {
        assert_eq!(raw.cmd(&["SET", &format!("user:{i}"), "v"]), "+OK\r\n");
        assert_eq!(raw.cmd(&["SET", &format!("item:{i}"), "v"]), "+OK\r\n");
    }
    let (users, _) = scan_all(&mut con, &["MATCH", "user:*", "COUNT", "7"]);
    let expected: Vec<String> = (0..50).map(|i| format!("user:{i}")).collect();
    assert_eq!(sorted(users), sorted(expected));
    let (strings, _) = scan_all(&mut con, &["TYPE", "STRING"]);
    assert_eq!(strings.len(), 100);
    // Unknown type names are not an error in Redis 7.0: they match nothing.
    let (none, _) = scan_all(&mut con, &["TYPE", "nosuchtype"]);
    assert!(none.is_empty());
    // The last of repeated options wins.
    let (items, _) = scan_all(&mut con, &["MATCH", "user:*", "MATCH", "item:1*"]);
    assert_eq!(items.len(), 11);
}

#[test]
fn scan_errors_are_redis_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["k"]);
    for count in ["0", "-1"] {
        assert_eq!(
            raw.cmd(&["SCAN", "0", "COUNT", count]),
            "-ERR syntax error\r\n"
        );
    }
    assert_eq!(
        raw.cmd(&["SCAN", "0", "COUNT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    for cursor in ["abc", " 1", "+", "-", "1x", "18446744073709551616"] {
        assert_eq!(
            raw.cmd(&["SCAN", cursor]),
            "-ERR invalid cursor\r\n",
            "cursor {cursor:?}"
        );
    }
    for args in [
        &["SCAN", "0", "MATCH"][..],
        &["SCAN", "0", "TYPE"],
        &["SCAN", "0", "COUNT"],
        &["SCAN", "0", "FOO", "bar"],
    ] {
        assert_eq!(raw.cmd(args), "-ERR syntax error\r\n", "{args:?}");
    }
    assert_eq!(
        raw.cmd(&["SCAN"]),
        "-ERR wrong number of arguments for 'scan' command\r\n"
    );
    // strtoul's view of a cursor: empty and signed forms are valid.
    for cursor in ["", "+0", "-0"] {
        assert_eq!(
            raw.cmd(&["SCAN", cursor]),
            "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n",
            "cursor {cursor:?}"
        );
    }
}

#[test]
fn scan_returns_keys_present_throughout_despite_concurrent_writes() {
    let server = Server::start();
    let mut con = server.conn();
    let mut raw = server.raw();
    let stable: Vec<String> = (0..400).map(|i| format!("stable:{i}")).collect();
    for key in &stable {
        assert_eq!(raw.cmd(&["SET", key, "v"]), "+OK\r\n");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        let mut raw = server.raw();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Inserts grow shards, deletes shrink them, while SCAN walks.
                let key = format!("churn:{i}");
                raw.cmd(&["SET", &key, "v"]);
                if i >= 50 {
                    raw.cmd(&["DEL", &format!("churn:{}", i - 50)]);
                }
                i += 1;
            }
            i
        })
    };
    for _ in 0..5 {
        let (keys, _) = scan_all(&mut con, &["COUNT", "5"]);
        let seen: HashSet<&String> = keys.iter().collect();
        for key in &stable {
            assert!(seen.contains(key), "{key} missing from a full SCAN");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let churned = churn.join().unwrap();
    assert!(churned > 0);
}

#[test]
fn randomkey_returns_an_existing_key_or_null() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["RANDOMKEY"]), "$-1\r\n");
    set_keys(&mut raw, &["a", "b"]);
    for _ in 0..20 {
        let reply = raw.cmd(&["RANDOMKEY"]);
        assert!(
            reply == "$1\r\na\r\n" || reply == "$1\r\nb\r\n",
            "unexpected {reply:?}"
        );
    }
}

#[test]
fn expired_keys_are_never_visible() {
    // hz 1: the active cycle runs rarely, so the expired keys are still stored when read.
    let server = Server::start_with(&["--hz", "1"]);
    let mut raw = server.raw();
    let mut con = server.conn();
    for i in 0..20 {
        assert_eq!(
            raw.cmd(&["SET", &format!("gone:{i}"), "v", "PX", "30"]),
            "+OK\r\n"
        );
    }
    set_keys(&mut raw, &["live"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(raw.cmd(&["KEYS", "*"]), "*1\r\n$4\r\nlive\r\n");
    assert_eq!(raw.cmd(&["KEYS", "gone:*"]), "*0\r\n");
    for _ in 0..10 {
        assert_eq!(raw.cmd(&["RANDOMKEY"]), "$4\r\nlive\r\n");
    }
    let (keys, _) = scan_all(&mut con, &["COUNT", "3"]);
    assert_eq!(keys, ["live"]);
    assert_eq!(raw.cmd(&["EXISTS", "gone:0", "gone:1"]), ":0\r\n");
    assert_eq!(raw.cmd(&["TYPE", "gone:2"]), "+none\r\n");
    // SCAN and RANDOMKEY deleted what they met: only the live key is left.
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
}

#[test]
fn rename_moves_value_and_deadline() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "src", "hello", "EX", "100"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["RENAME", "src", "dst"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "src"]), ":0\r\n");
    assert_eq!(raw.cmd(&["GET", "dst"]), "$5\r\nhello\r\n");
    assert_eq!(raw.cmd(&["TTL", "dst"]), ":100\r\n");
    // Overwriting drops the destination's own deadline.
    assert_eq!(raw.cmd(&["SET", "plain", "p"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["RENAME", "plain", "dst"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["TTL", "dst"]), ":-1\r\n");
    assert_eq!(raw.cmd(&["GET", "dst"]), "$1\r\np\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
}

#[test]
fn rename_errors_and_same_name() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["RENAME", "nokey", "x"]), "-ERR no such key\r\n");
    assert_eq!(
        raw.cmd(&["RENAME", "nokey", "nokey"]),
        "-ERR no such key\r\n"
    );
    assert_eq!(
        raw.cmd(&["RENAMENX", "nokey", "nokey"]),
        "-ERR no such key\r\n"
    );
    set_keys(&mut raw, &["k"]);
    assert_eq!(raw.cmd(&["RENAME", "k", "k"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["RENAMENX", "k", "k"]), ":0\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(
        raw.cmd(&["RENAME", "k"]),
        "-ERR wrong number of arguments for 'rename' command\r\n"
    );
}

#[test]
fn renamenx_only_renames_onto_a_missing_key() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "b", "2"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["RENAMENX", "a", "b"]), ":0\r\n");
    assert_eq!(raw.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(raw.cmd(&["RENAMENX", "a", "c"]), ":1\r\n");
    assert_eq!(raw.cmd(&["GET", "c"]), "$1\r\n1\r\n");
    // An expired destination counts as missing.
    assert_eq!(raw.cmd(&["SET", "z", "old", "PX", "20"]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(raw.cmd(&["RENAMENX", "c", "z"]), ":1\r\n");
    assert_eq!(raw.cmd(&["GET", "z"]), "$1\r\n1\r\n");
}

#[test]
fn copy_within_and_across_dbs() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "src", "hello", "EX", "100"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["COPY", "src", "dst"]), ":1\r\n");
    assert_eq!(raw.cmd(&["GET", "dst"]), "$5\r\nhello\r\n");
    assert_eq!(raw.cmd(&["TTL", "dst"]), ":100\r\n");
    assert_eq!(raw.cmd(&["GET", "src"]), "$5\r\nhello\r\n");
    // The destination exists: only REPLACE overwrites it.
    assert_eq!(raw.cmd(&["SET", "src", "new"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["COPY", "src", "dst"]), ":0\r\n");
    assert_eq!(raw.cmd(&["GET", "dst"]), "$5\r\nhello\r\n");
    assert_eq!(raw.cmd(&["COPY", "src", "dst", "REPLACE"]), ":1\r\n");
    assert_eq!(raw.cmd(&["GET", "dst"]), "$3\r\nnew\r\n");
    assert_eq!(raw.cmd(&["TTL", "dst"]), ":-1\r\n");
    // Same name into another db; the last DB option wins.
    assert_eq!(
        raw.cmd(&["COPY", "src", "src", "DB", "1", "DB", "2"]),
        ":1\r\n"
    );
    assert_eq!(raw.cmd(&["SELECT", "2"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "src"]), "$3\r\nnew\r\n");
    assert_eq!(raw.cmd(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(raw.cmd(&["COPY", "nokey", "x"]), ":0\r\n");
}

#[test]
fn copy_keeps_the_encoding() {
    let server = Server::start();
    let mut raw = server.raw();
    let long = "x".repeat(60);
    for (value, encoding) in [("123", "int"), ("abc", "embstr"), (long.as_str(), "raw")] {
        assert_eq!(raw.cmd(&["SET", "s", value]), "+OK\r\n");
        assert_eq!(raw.cmd(&["COPY", "s", "d", "REPLACE"]), ":1\r\n");
        assert_eq!(
            raw.cmd(&["OBJECT", "ENCODING", "d"]),
            format!("${}\r\n{encoding}\r\n", encoding.len())
        );
    }
}

#[test]
fn copy_errors_are_redis_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["k"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["COPY", "k", "k"],
            "-ERR source and destination objects are the same\r\n",
        ),
        (
            &["COPY", "k", "k", "DB", "0"],
            "-ERR source and destination objects are the same\r\n",
        ),
        (
            &["COPY", "k", "x", "DB", "abc"],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["COPY", "k", "x", "DB", "99999999999"],
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
        ),
        (
            &["COPY", "k", "x", "DB", "16"],
            "-ERR DB index is out of range\r\n",
        ),
        (
            &["COPY", "k", "x", "DB", "-1"],
            "-ERR DB index is out of range\r\n",
        ),
        (&["COPY", "k", "x", "DB"], "-ERR syntax error\r\n"),
        (&["COPY", "k", "x", "FOO"], "-ERR syntax error\r\n"),
        (
            &["COPY", "k"],
            "-ERR wrong number of arguments for 'copy' command\r\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(raw.cmd(args), *expected, "{args:?}");
    }
}

#[test]
fn move_to_another_db() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v", "EX", "100"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["MOVE", "k", "1"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "k"]), ":0\r\n");
    assert_eq!(raw.cmd(&["MOVE", "k", "1"]), ":0\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "here"]), "+OK\r\n");
    // The key exists in the target db: nothing moves.
    assert_eq!(raw.cmd(&["MOVE", "k", "1"]), ":0\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), "$4\r\nhere\r\n");
    assert_eq!(raw.cmd(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(raw.cmd(&["TTL", "k"]), ":100\r\n");
}

#[test]
fn move_errors_are_redis_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    let cases: &[(&[&str], &str)] = &[
        (
            &["MOVE", "k", "0"],
            "-ERR source and destination objects are the same\r\n",
        ),
        (
            &["MOVE", "k", "abc"],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["MOVE", "k", "99999999999"],
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
        ),
        (&["MOVE", "k", "16"], "-ERR DB index is out of range\r\n"),
        (&["MOVE", "k", "-1"], "-ERR DB index is out of range\r\n"),
        (&["MOVE", "nokey", "1"], ":0\r\n"),
    ];
    for (args, expected) in cases {
        assert_eq!(raw.cmd(args), *expected, "{args:?}");
    }
}

#[test]
fn swapdb_exchanges_contents_not_connections() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "in0", "a"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "in3", "b", "EX", "100"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SWAPDB", "0", "3"]), "+OK\r\n");
    // Still on db 3, which now holds what db 0 held.
    assert_eq!(raw.cmd(&["KEYS", "*"]), "*1\r\n$3\r\nin0\r\n");
    assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "in3"]), "$1\r\nb\r\n");
    assert_eq!(raw.cmd(&["TTL", "in3"]), ":100\r\n");
    assert_eq!(raw.cmd(&["SWAPDB", "0", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
}

#[test]
fn swapdb_errors_are_redis_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["SWAPDB", "abc", "0"], "-ERR invalid first DB index\r\n"),
        (
            &["SWAPDB", "99999999999", "0"],
            "-ERR invalid first DB index\r\n",
        ),
        (&["SWAPDB", "0", "abc"], "-ERR invalid second DB index\r\n"),
        (&["SWAPDB", "0", "16"], "-ERR DB index is out of range\r\n"),
        (&["SWAPDB", "-1", "0"], "-ERR DB index is out of range\r\n"),
        (
            &["SWAPDB", "0"],
            "-ERR wrong number of arguments for 'swapdb' command\r\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(raw.cmd(args), *expected, "{args:?}");
    }
}

#[test]
fn flushdb_and_flushall() {
    let server = Server::start();
    let mut raw = server.raw();
    for mode in [None, Some("SYNC"), Some("async")] {
        set_keys(&mut raw, &["a", "b"]);
        assert_eq!(raw.cmd(&["SELECT", "1"]), "+OK\r\n");
        set_keys(&mut raw, &["c"]);
        let mut flushdb = vec!["FLUSHDB"];
        flushdb.extend(mode);
        assert_eq!(raw.cmd(&flushdb), "+OK\r\n");
        // Logically immediate, even when freed in the background.
        assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
        assert_eq!(raw.cmd(&["GET", "c"]), "$-1\r\n");
        assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
        assert_eq!(raw.cmd(&["DBSIZE"]), ":2\r\n");
        let mut flushall = vec!["FLUSHALL"];
        flushall.extend(mode);
        assert_eq!(raw.cmd(&flushall), "+OK\r\n");
        assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
        assert_eq!(raw.cmd(&["KEYS", "*"]), "*0\r\n");
    }
    for args in [
        &["FLUSHALL", "foo"][..],
        &["FLUSHALL", "SYNC", "ASYNC"],
        &["FLUSHDB", "foo"],
        &["FLUSHDB", "ASYNC", "x"],
    ] {
        assert_eq!(raw.cmd(args), "-ERR syntax error\r\n", "{args:?}");
    }
}

#[test]
fn flushall_async_of_many_keys_is_immediate() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..20_000 {
        let key = format!("k{i}");
        batch.extend(common::encode(&[b"SET", key.as_bytes(), b"v"]));
    }
    raw.send(&batch);
    for _ in 0..20_000 {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
    }
    assert_eq!(raw.cmd(&["DBSIZE"]), ":20000\r\n");
    assert_eq!(raw.cmd(&["FLUSHALL", "ASYNC"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "k1", "k19999"]), ":0\r\n");
    assert_eq!(raw.cmd(&["SET", "k1", "again"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
}

const OBJECT_HELP: &str = "*15\r\n\
+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n\
+ENCODING <key>\r\n\
+    Return the kind of internal representation used in order to store the value\r\n\
+    associated with a <key>.\r\n\
+FREQ <key>\r\n\
+    Return the access frequency index of the <key>. The returned integer is\r\n\
+    proportional to the logarithm of the recent access frequency of the key.\r\n\
+IDLETIME <key>\r\n\
+    Return the idle time of the <key>, that is the approximated number of\r\n\
+    seconds elapsed since the last access to the key.\r\n\
+REFCOUNT <key>\r\n\
+    Return the number of references of the value associated with the specified\r\n\
+    <key>.\r\n\
+HELP\r\n\
+    Prints this help.\r\n";

const LFU_SELECTED: &str = "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";
const LFU_NOT_SELECTED: &str = "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n";

#[test]
fn object_subcommands_with_the_default_policy() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["object", "help"]), OBJECT_HELP);
    let long = "y".repeat(45);
    for (value, encoding, refcount) in [
        ("0", "int", "2147483647"),
        ("9999", "int", "2147483647"),
        ("10000", "int", "1"),
        ("-1", "int", "1"),
        ("hello", "embstr", "1"),
        (long.as_str(), "raw", "1"),
    ] {
        assert_eq!(raw.cmd(&["SET", "k", value]), "+OK\r\n");
        assert_eq!(
            raw.cmd(&["OBJECT", "ENCODING", "k"]),
            format!("${}\r\n{encoding}\r\n", encoding.len()),
            "{value}"
        );
        assert_eq!(
            raw.cmd(&["OBJECT", "REFCOUNT", "k"]),
            format!(":{refcount}\r\n"),
            "{value}"
        );
    }
    assert!(idle_seconds(&mut raw, "k") <= 1);
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "k"]), LFU_NOT_SELECTED);
    for sub in ["ENCODING", "REFCOUNT", "IDLETIME", "FREQ"] {
        assert_eq!(raw.cmd(&["OBJECT", sub, "missing"]), "$-1\r\n", "{sub}");
    }
    assert_eq!(
        raw.cmd(&["OBJECT", "foo"]),
        "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["OBJECT"]),
        "-ERR wrong number of arguments for 'object' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "encoding"]),
        "-ERR wrong number of arguments for 'object|encoding' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["OBJECT", "help", "x"]),
        "-ERR wrong number of arguments for 'object|help' command\r\n"
    );
}

#[test]
fn object_idletime_counts_seconds_since_access() {
    let server = Server::start();
    let mut raw = server.raw();
    set_keys(&mut raw, &["idle", "busy"]);
    std::thread::sleep(Duration::from_millis(2100));
    // TYPE, EXISTS, TTL and OBJECT do not count as access; GET and TOUCH do.
    for args in [
        &["TYPE", "idle"][..],
        &["EXISTS", "idle"],
        &["TTL", "idle"],
        &["OBJECT", "ENCODING", "idle"],
    ] {
        raw.cmd(args);
    }
    assert_eq!(raw.cmd(&["TOUCH", "busy"]), ":1\r\n");
    // The clock has one-second resolution: allow for a tick between access and reading.
    let idle = idle_seconds(&mut raw, "idle");
    assert!((2..=4).contains(&idle), "idle {idle}");
    let busy = idle_seconds(&mut raw, "busy");
    assert!(busy <= 1, "busy {busy}");
}

fn idle_seconds(raw: &mut Raw, key: &str) -> i64 {
    let reply = raw.cmd(&["OBJECT", "IDLETIME", key]);
    reply
        .strip_prefix(':')
        .and_then(|r| r.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("OBJECT IDLETIME {key}: {reply:?}"))
}

#[test]
fn object_under_an_lfu_policy() {
    let server = Server::start_with(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut raw = server.raw();
    set_keys(&mut raw, &["k"]);
    // A new key starts at Redis's LFU_INIT_VAL; the first access always counts.
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "k"]), ":5\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "k"]), ":6\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "k"]), LFU_SELECTED);
    assert_eq!(raw.cmd(&["OBJECT", "IDLETIME", "missing"]), "$-1\r\n");
    // With no maxmemory limit, small integers stay shared whatever the policy.
    assert_eq!(raw.cmd(&["SET", "n", "5"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "REFCOUNT", "n"]), ":2147483647\r\n");
}

#[test]
fn object_refcount_with_a_memory_limit_and_lru() {
    let server = Server::start_with(&["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "n", "5"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "REFCOUNT", "n"]), ":1\r\n");
    assert_eq!(raw.cmd(&["OBJECT", "FREQ", "n"]), LFU_NOT_SELECTED);
}
