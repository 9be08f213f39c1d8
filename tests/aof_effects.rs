//! Effects: what each write records for the append-only file, checked byte for byte in
//! process (a `Server` without listeners, one client, commands through `commands::execute`),
//! and once against the incr file of a real `redis-server` 7.0 running the same script.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::RedisServer;
use kopi::commands;
use kopi::protocol::{Protocol, Reply};
use kopi::server::Server;
use kopi::server::client::{Client, Peer};
use kopi::server::config::Config;

// ---- in-process kopi ----

fn peer() -> Peer {
    Peer {
        addr: "127.0.0.1:50000".into(),
        laddr: "127.0.0.1:6379".into(),
        fd: -1,
        is_local: true,
        unix_path: None,
    }
}

struct Kopi {
    server: Arc<Server>,
    client: Client,
    /// The clock before and after the last command ran: the command's own clock lies
    /// between them.
    window: (i64, i64),
}

impl Kopi {
    /// A server recording effects, with active expiry left to the tests.
    fn new() -> Kopi {
        let kopi = Kopi::without_propagation();
        kopi.server.state.lock().effects.set_enabled(true);
        kopi
    }

    fn without_propagation() -> Kopi {
        let server = Server::new(Config::default());
        let handle = server
            .clients
            .try_register(&peer(), 100)
            .expect("client registered");
        let client = Client::new(handle, peer(), true);
        Kopi {
            server,
            client,
            window: (0, 0),
        }
    }

    /// Runs one request; returns its reply bytes.
    fn cmd(&mut self, args: &[&str]) -> String {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut reply = Reply::new(Protocol::Resp2);
        let before = kopi::util::now_ms();
        {
            let mut state = self.server.state.lock();
            commands::execute(
                &self.server,
                &mut state,
                &mut self.client,
                &mut reply,
                &args,
            );
        }
        self.window = (before, kopi::util::now_ms());
        String::from_utf8_lossy(&reply.buf).into_owned()
    }

    /// Takes everything recorded so far.
    fn take(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.server.state.lock().effects.take(&mut out);
        out
    }

    /// Makes `key` in `db` expired without waiting (its deadline becomes 1 ms after 1970).
    fn expire_now(&mut self, db: usize, key: &str) {
        assert!(self.server.state.lock().store.dbs[db].set_expire(key.as_bytes(), 1));
    }

    /// What the background cycle does: delete every due key, then record the deletions.
    fn active_expire(&mut self) {
        let mut state = self.server.state.lock();
        let now = kopi::util::now_ms();
        for db in 0..state.store.dbs.len() {
            state.store.dbs[db].expire_due(now, usize::MAX);
        }
        state.drain_expired();
    }
}

// ---- RESP arrays: encoding, parsing, comparing ----

fn encode(commands: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for args in commands {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Splits a stream of RESP arrays into commands; `#` annotation lines are skipped.
fn parse(mut bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    fn line<'a>(bytes: &mut &'a [u8]) -> &'a [u8] {
        let end = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("unterminated line in {:?}", String::from_utf8_lossy(bytes)));
        let found = &bytes[..end];
        *bytes = &bytes[end + 2..];
        found
    }
    let mut commands = Vec::new();
    while !bytes.is_empty() {
        let header = line(&mut bytes);
        if header.starts_with(b"#") {
            continue;
        }
        assert_eq!(header[0], b'*', "{:?}", String::from_utf8_lossy(header));
        let argc: usize = std::str::from_utf8(&header[1..]).unwrap().parse().unwrap();
        let mut args = Vec::with_capacity(argc);
        for _ in 0..argc {
            let len_line = line(&mut bytes);
            assert_eq!(len_line[0], b'$');
            let len: usize = std::str::from_utf8(&len_line[1..])
                .unwrap()
                .parse()
                .unwrap();
            args.push(bytes[..len].to_vec());
            assert_eq!(&bytes[len..len + 2], b"\r\n");
            bytes = &bytes[len + 2..];
        }
        commands.push(args);
    }
    commands
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", " ")
}

/// Asserts that the last command recorded exactly `expected` (each a command's arguments),
/// byte for byte. An expected argument `+N` is a deadline N ms after the command's clock:
/// it matches any value between the clock readings taken around the command.
fn check(kopi: &mut Kopi, expected: &[&[&str]]) {
    let raw = kopi.take();
    let got = parse(&raw);
    let (before, after) = kopi.window;
    let mut want: Vec<Vec<Vec<u8>>> = Vec::new();
    for (i, args) in expected.iter().enumerate() {
        let mut command = Vec::new();
        for (j, arg) in args.iter().enumerate() {
            let actual = got.get(i).and_then(|c| c.get(j));
            let relative = arg.strip_prefix('+').and_then(|n| n.parse::<i64>().ok());
            match (relative, actual) {
                (Some(offset), Some(actual)) => {
                    let value: i64 = std::str::from_utf8(actual)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_else(|| panic!("not a deadline: {}", show(actual)));
                    assert!(
                        (before + offset..=after + offset).contains(&value),
                        "deadline {value} is not {offset} ms after [{before}, {after}] in {}",
                        show(&raw)
                    );
                    command.push(actual.clone());
                }
                _ => command.push(arg.as_bytes().to_vec()),
            }
        }
        want.push(command);
    }
    assert_eq!(show(&raw), show(&encode(&want)));
}

// ---- the table, one family of rows per test ----

#[test]
fn nothing_is_recorded_unless_propagation_is_enabled() {
    let mut k = Kopi::without_propagation();
    assert_eq!(k.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(k.cmd(&["FLUSHALL"]), "+OK\r\n");
    assert!(k.take().is_empty());
    assert_eq!(k.server.state.lock().effects.lsn(), 0);
}

#[test]
fn the_first_record_selects_its_db_and_later_ones_only_when_it_changes() {
    let mut k = Kopi::new();
    k.cmd(&["set", "k", "v"]);
    assert_eq!(
        k.take(),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    k.cmd(&["set", "k", "w"]);
    check(&mut k, &[&["set", "k", "w"]]);
    k.cmd(&["select", "12"]);
    check(&mut k, &[]);
    k.cmd(&["set", "k", "w"]);
    check(&mut k, &[&["SELECT", "12"], &["set", "k", "w"]]);
    k.cmd(&["select", "0"]);
    k.cmd(&["get", "k"]);
    k.cmd(&["set", "k", "x"]);
    check(&mut k, &[&["SELECT", "0"], &["set", "k", "x"]]);
}

#[test]
fn set_with_an_expiry_is_recorded_with_an_absolute_pxat() {
    let mut k = Kopi::new();
    k.cmd(&["select", "1"]);
    k.cmd(&["SET", "k", "v", "EX", "100"]);
    check(
        &mut k,
        &[&["SELECT", "1"], &["SET", "k", "v", "PXAT", "+100000"]],
    );
    k.cmd(&["set", "k2", "v2", "px", "5000", "nx"]);
    check(&mut k, &[&["SET", "k2", "v2", "PXAT", "+5000"]]);
    k.cmd(&["set", "k", "v3", "xx", "exat", "4000000000"]);
    check(&mut k, &[&["SET", "k", "v3", "PXAT", "4000000000000"]]);
    k.cmd(&["set", "k", "12", "pxat", "4000000000123"]);
    check(&mut k, &[&["SET", "k", "12", "PXAT", "4000000000123"]]);
    // GET is dropped with the rest of the options.
    assert_eq!(
        k.cmd(&["set", "k", "v4", "GET", "EX", "200"]),
        "$2\r\n12\r\n"
    );
    check(&mut k, &[&["SET", "k", "v4", "PXAT", "+200000"]]);
}

#[test]
fn setex_and_psetex_are_recorded_as_set_pxat() {
    let mut k = Kopi::new();
    k.cmd(&["setex", "k", "10", "v"]);
    check(
        &mut k,
        &[&["SELECT", "0"], &["SET", "k", "v", "PXAT", "+10000"]],
    );
    k.cmd(&["psetex", "k", "2500", "w"]);
    check(&mut k, &[&["SET", "k", "w", "PXAT", "+2500"]]);
}

#[test]
fn set_get_without_expiry_drops_only_the_get_words() {
    let mut k = Kopi::new();
    k.cmd(&["set", "k", "v"]);
    k.take();
    assert_eq!(k.cmd(&["set", "k", "v2", "GET"]), "$1\r\nv\r\n");
    check(&mut k, &[&["set", "k", "v2"]]);
    k.cmd(&["set", "k", "v3", "get", "KEEPTTL", "Get"]);
    check(&mut k, &[&["set", "k", "v3", "KEEPTTL"]]);
    assert_eq!(k.cmd(&["set", "new", "v", "NX", "GET"]), "$-1\r\n");
    check(&mut k, &[&["set", "new", "v", "NX"]]);
    // A key or value spelled GET stays.
    k.cmd(&["set", "get", "get", "get"]);
    check(&mut k, &[&["set", "get", "get"]]);
}

#[test]
fn set_that_stores_nothing_records_nothing() {
    let mut k = Kopi::new();
    k.cmd(&["set", "k", "v"]);
    k.take();
    assert_eq!(k.cmd(&["set", "k", "w", "NX"]), "$-1\r\n");
    assert_eq!(k.cmd(&["set", "missing", "w", "XX", "EX", "10"]), "$-1\r\n");
    assert_eq!(k.cmd(&["setnx", "k", "w"]), ":0\r\n");
    assert_eq!(k.cmd(&["set", "k", "w", "NX", "GET"]), "$1\r\nv\r\n");
    assert!(k.cmd(&["set", "k", "w", "EX", "0"]).starts_with("-ERR"));
    check(&mut k, &[]);
    assert_eq!(k.cmd(&["setnx", "n", "a"]), ":1\r\n");
    check(&mut k, &[&["setnx", "n", "a"]]);
}

#[test]
fn set_with_a_deadline_already_past_records_the_set_and_the_deletion_together() {
    let mut k = Kopi::new();
    assert_eq!(k.cmd(&["set", "e1", "x", "PXAT", "1"]), "+OK\r\n");
    check(
        &mut k,
        &[
            &["SELECT", "0"],
            &["MULTI"],
            &["SET", "e1", "x", "PXAT", "1"],
            &["DEL", "e1"],
            &["EXEC"],
        ],
    );
    assert_eq!(k.cmd(&["exists", "e1"]), ":0\r\n");
    check(&mut k, &[]);
}

#[test]
fn getset_is_recorded_as_set() {
    let mut k = Kopi::new();
    assert_eq!(k.cmd(&["getset", "k", "z"]), "$-1\r\n");
    check(&mut k, &[&["SELECT", "0"], &["SET", "k", "z"]]);
    assert_eq!(k.cmd(&["GETSET", "k", "z2"]), "$1\r\nz\r\n");
    check(&mut k, &[&["SET", "k", "z2"]]);
}

#[test]
fn getdel_is_recorded_as_del_or_unlink() {
    let mut k = Kopi::new();
    k.cmd(&["set", "k", "v"]);
    k.take();
    assert_eq!(k.cmd(&["getdel", "k"]), "$1\r\nv\r\n");
    check(&mut k, &[&["DEL", "k"]]);
    assert_eq!(k.cmd(&["getdel", "k"]), "$-1\r\n");
    check(&mut k, &[]);
    k.cmd(&["config", "set", "lazyfree-lazy-user-del", "yes"]);
    k.cmd(&["set", "k", "v"]);
    k.take();
    k.cmd(&["getdel", "k"]);
    check(&mut k, &[&["UNLINK", "k"]]);
}

#[test]
fn getex_records_the_ttl_change_it_made() {
    let mut k = Kopi::new();
    k.cmd(&["set", "n", "a"]);
    k.take();
    k.cmd(&["getex", "n"]);
    check(&mut k, &[]);
    k.cmd(&["getex", "n", "EX", "100"]);
    check(&mut k, &[&["PEXPIREAT", "n", "+100000"]]);
    k.cmd(&["getex", "n", "exat", "4000000000"]);
    check(&mut k, &[&["PEXPIREAT", "n", "4000000000000"]]);
    k.cmd(&["getex", "n", "PERSIST"]);
    check(&mut k, &[&["PERSIST", "n"]]);
    k.cmd(&["getex", "n", "PERSIST"]);
    check(&mut k, &[]);
    assert_eq!(k.cmd(&["getex", "n", "PXAT", "1"]), "$1\r\na\r\n");
    check(&mut k, &[&["DEL", "n"]]);
    assert_eq!(k.cmd(&["getex", "n", "px", "10"]), "$-1\r\n");
    check(&mut k, &[]);
    k.cmd(&["config", "set", "lazyfree-lazy-expire", "yes"]);
    k.cmd(&["set", "n", "a"]);
    k.take();
    k.cmd(&["getex", "n", "EXAT", "1"]);
    check(&mut k, &[&["UNLINK", "n"]]);
}

#[test]
fn expire_family_is_recorded_as_pexpireat_or_a_deletion() {
    let mut k = Kopi::new();
    k.cmd(&["set", "k", "v"]);
    k.take();
    k.cmd(&["expire", "k", "100"]);
    check(&mut k, &[&["PEXPIREAT", "k", "+100000"]]);
    assert_eq!(k.cmd(&["expire", "k", "100", "NX"]), ":0\r\n");
    check(&mut k, &[]);
    k.cmd(&["pexpire", "k", "200000", "GT"]);
    check(&mut k, &[&["PEXPIREAT", "k", "+200000", "GT"]]);
    k.cmd(&["expireat", "k", "4000000000"]);
    check(&mut k, &[&["PEXPIREAT", "k", "4000000000000"]]);
    assert_eq!(k.cmd(&["pexpireat", "k", "4000000000000", "LT"]), ":0\r\n");
    check(&mut k, &[]);
    // PEXPIREAT is already absolute: recorded as requested.
    k.cmd(&["pexpireat", "k", "4000000000001", "xx"]);
    check(&mut k, &[&["pexpireat", "k", "4000000000001", "xx"]]);
    assert_eq!(k.cmd(&["expire", "missing", "100"]), ":0\r\n");
    check(&mut k, &[]);
    k.cmd(&["persist", "k"]);
    check(&mut k, &[&["persist", "k"]]);
    assert_eq!(k.cmd(&["persist", "k"]), ":0\r\n");
    check(&mut k, &[]);
    for past in [
        &["expire", "k", "-1"][..],
        &["expireat", "k", "1"],
        &["pexpire", "k", "0"],
        &["pexpireat", "k", "5"],
    ] {
        k.cmd(&["set", "k", "v"]);
        k.take();
        assert_eq!(k.cmd(past), ":1\r\n");
        check(&mut k, &[&["DEL", "k"]]);
    }
    k.cmd(&["config", "set", "lazyfree-lazy-expire", "yes"]);
    k.cmd(&["set", "k", "v"]);
    k.take();
    k.cmd(&["expire", "k", "-5"]);
    check(&mut k, &[&["UNLINK", "k"]]);
}

#[test]
fn incrbyfloat_is_recorded_as_set_of_the_new_value_keeping_the_ttl() {
    let mut k = Kopi::new();
    k.cmd(&["incrbyfloat", "f", "1.5"]);
    check(&mut k, &[&["SELECT", "0"], &["SET", "f", "1.5", "KEEPTTL"]]);
    k.cmd(&["incrbyfloat", "f", "1e3"]);
    check(&mut k, &[&["SET", "f", "1001.5", "KEEPTTL"]]);
    k.cmd(&["set", "f", "10.50"]);
    k.take();
    k.cmd(&["incrbyfloat", "f", "0"]);
    check(&mut k, &[&["SET", "f", "10.5", "KEEPTTL"]]);
    assert!(k.cmd(&["incrbyfloat", "f", "abc"]).starts_with("-ERR"));
    check(&mut k, &[]);
}

#[test]
fn other_string_writes_are_recorded_as_requested_when_they_change_data() {
    let mut k = Kopi::new();
    k.cmd(&["append", "a", "xy"]);
    check(&mut k, &[&["SELECT", "0"], &["append", "a", "xy"]]);
    k.cmd(&["setrange", "a", "0", ""]);
    check(&mut k, &[]);
    k.cmd(&["setrange", "a", "1", "zz"]);
    check(&mut k, &[&["setrange", "a", "1", "zz"]]);
    k.cmd(&["setrange", "nn", "0", ""]);
    check(&mut k, &[]);
    k.cmd(&["incr", "i"]);
    k.cmd(&["decr", "i"]);
    k.cmd(&["incrby", "i", "5"]);
    k.cmd(&["decrby", "i", "2"]);
    check(
        &mut k,
        &[
            &["incr", "i"],
            &["decr", "i"],
            &["incrby", "i", "5"],
            &["decrby", "i", "2"],
        ],
    );
    k.cmd(&["set", "big", "9223372036854775807"]);
    k.take();
    assert!(k.cmd(&["incr", "big"]).starts_with("-ERR"));
    check(&mut k, &[]);
    k.cmd(&["mset", "a", "1", "b", "2"]);
    check(&mut k, &[&["mset", "a", "1", "b", "2"]]);
    assert_eq!(k.cmd(&["msetnx", "a", "1", "c", "3"]), ":0\r\n");
    check(&mut k, &[]);
    k.cmd(&["msetnx", "c", "3", "d", "4"]);
    check(&mut k, &[&["msetnx", "c", "3", "d", "4"]]);
}

#[test]
fn keyspace_writes_are_recorded_as_requested_when_they_change_data() {
    let mut k = Kopi::new();
    k.cmd(&["del", "nokey"]);
    k.cmd(&["unlink", "x"]);
    check(&mut k, &[]);
    k.cmd(&["mset", "a", "1", "b", "2"]);
    k.take();
    k.cmd(&["del", "a", "b", "c"]);
    check(&mut k, &[&["del", "a", "b", "c"]]);
    k.cmd(&["set", "a", "1"]);
    k.take();
    k.cmd(&["unlink", "a", "x"]);
    check(&mut k, &[&["unlink", "a", "x"]]);
    k.cmd(&["set", "a", "1"]);
    k.take();
    for read in [
        &["touch", "a"][..],
        &["exists", "a"],
        &["get", "a"],
        &["ttl", "a"],
        &["type", "a"],
        &["object", "encoding", "a"],
        &["dbsize"],
        &["keys", "*"],
        &["scan", "0"],
        &["randomkey"],
    ] {
        k.cmd(read);
        check(&mut k, &[]);
    }
    k.cmd(&["rename", "a", "a2"]);
    check(&mut k, &[&["rename", "a", "a2"]]);
    k.cmd(&["rename", "a2", "a2"]);
    check(&mut k, &[]);
    k.cmd(&["set", "b", "2"]);
    k.take();
    assert_eq!(k.cmd(&["renamenx", "a2", "b"]), ":0\r\n");
    check(&mut k, &[]);
    k.cmd(&["renamenx", "a2", "z"]);
    check(&mut k, &[&["renamenx", "a2", "z"]]);
    k.cmd(&["copy", "z", "z2"]);
    check(&mut k, &[&["copy", "z", "z2"]]);
    assert_eq!(k.cmd(&["copy", "z", "z2"]), ":0\r\n");
    check(&mut k, &[]);
    k.cmd(&["copy", "z", "z2", "REPLACE"]);
    check(&mut k, &[&["copy", "z", "z2", "REPLACE"]]);
    k.cmd(&["copy", "z", "z3", "DB", "2"]);
    check(&mut k, &[&["copy", "z", "z3", "DB", "2"]]);
    k.cmd(&["move", "z", "3"]);
    check(&mut k, &[&["move", "z", "3"]]);
    assert_eq!(k.cmd(&["move", "nokey", "3"]), ":0\r\n");
    check(&mut k, &[]);
    k.cmd(&["swapdb", "0", "1"]);
    check(&mut k, &[&["swapdb", "0", "1"]]);
    k.cmd(&["swapdb", "1", "1"]);
    check(&mut k, &[&["swapdb", "1", "1"]]);
}

#[test]
fn flushes_are_always_recorded() {
    let mut k = Kopi::new();
    k.cmd(&["flushdb"]);
    check(&mut k, &[&["SELECT", "0"], &["flushdb"]]);
    k.cmd(&["flushdb"]);
    check(&mut k, &[&["flushdb"]]);
    k.cmd(&["select", "5"]);
    k.cmd(&["flushdb", "async"]);
    check(&mut k, &[&["SELECT", "5"], &["flushdb", "async"]]);
    k.cmd(&["flushall"]);
    k.cmd(&["FLUSHALL", "SYNC"]);
    check(&mut k, &[&["flushall"], &["FLUSHALL", "SYNC"]]);
    assert!(k.cmd(&["flushall", "lazy"]).starts_with("-ERR"));
    check(&mut k, &[]);
    k.cmd(&["function", "flush"]);
    check(&mut k, &[&["function", "flush"]]);
}

#[test]
fn a_transaction_is_wrapped_only_when_it_records_more_than_one_effect() {
    let mut k = Kopi::new();
    for args in [&["multi"][..], &["set", "m3", "1"], &["exec"]] {
        k.cmd(args);
    }
    check(&mut k, &[&["SELECT", "0"], &["set", "m3", "1"]]);
    for args in [
        &["multi"][..],
        &["set", "c", "1"],
        &["incr", "c"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    check(
        &mut k,
        &[&["MULTI"], &["set", "c", "1"], &["incr", "c"], &["EXEC"]],
    );
    for args in [
        &["multi"][..],
        &["get", "c"],
        &["setnx", "c", "2"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    check(&mut k, &[]);
    // A failing command records nothing; the others still count.
    k.cmd(&["set", "w", "str"]);
    k.take();
    for args in [
        &["multi"][..],
        &["incr", "w"],
        &["set", "x", "1"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    check(&mut k, &[&["set", "x", "1"]]);
    for args in [&["multi"][..], &["flushdb"], &["set", "a", "1"], &["exec"]] {
        k.cmd(args);
    }
    check(
        &mut k,
        &[&["MULTI"], &["flushdb"], &["set", "a", "1"], &["EXEC"]],
    );
    // A discarded or aborted transaction records nothing.
    for args in [&["multi"][..], &["set", "a", "2"], &["discard"]] {
        k.cmd(args);
    }
    for args in [
        &["multi"][..],
        &["set", "a", "2"],
        &["nosuchcommand"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    check(&mut k, &[]);
}

#[test]
fn a_select_inside_a_transaction_goes_where_the_db_changes() {
    let mut k = Kopi::new();
    k.cmd(&["select", "1"]);
    for args in [
        &["multi"][..],
        &["set", "a", "1"],
        &["select", "2"],
        &["set", "b", "2"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    // 7.0: the first effect's SELECT comes before MULTI.
    check(
        &mut k,
        &[
            &["SELECT", "1"],
            &["MULTI"],
            &["set", "a", "1"],
            &["SELECT", "2"],
            &["set", "b", "2"],
            &["EXEC"],
        ],
    );
    for args in [
        &["multi"][..],
        &["select", "3"],
        &["set", "y", "1"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    check(&mut k, &[&["SELECT", "3"], &["set", "y", "1"]]);
}

#[test]
fn keys_found_expired_are_recorded_as_deletions_before_the_effect_that_follows() {
    let mut k = Kopi::new();
    k.cmd(&["mset", "lz", "x", "e2", "x", "e3", "x"]);
    k.take();
    // A read that meets an expired key records its deletion.
    k.expire_now(0, "lz");
    assert_eq!(k.cmd(&["get", "lz"]), "$-1\r\n");
    check(&mut k, &[&["DEL", "lz"]]);
    // A write that meets one: the deletion, then the write, as one unit.
    k.cmd(&["set", "lz", "x"]);
    k.take();
    k.expire_now(0, "lz");
    k.cmd(&["set", "lz", "y"]);
    check(
        &mut k,
        &[&["MULTI"], &["DEL", "lz"], &["set", "lz", "y"], &["EXEC"]],
    );
    k.expire_now(0, "e2");
    k.expire_now(0, "e3");
    k.cmd(&["mget", "e2", "e3"]);
    check(
        &mut k,
        &[&["MULTI"], &["DEL", "e2"], &["DEL", "e3"], &["EXEC"]],
    );
    // A rewritten effect comes after the deletion too.
    k.cmd(&["set", "e2", "x"]);
    k.take();
    k.expire_now(0, "e2");
    k.cmd(&["set", "e2", "y", "NX", "GET"]);
    check(
        &mut k,
        &[
            &["MULTI"],
            &["DEL", "e2"],
            &["set", "e2", "y", "NX"],
            &["EXEC"],
        ],
    );
    // Inside a transaction, in the db where the key was.
    k.cmd(&["set", "e2", "x"]);
    k.take();
    k.expire_now(0, "e2");
    k.cmd(&["select", "1"]);
    for args in [
        &["multi"][..],
        &["set", "a", "1"],
        &["select", "0"],
        &["get", "e2"],
        &["exec"],
    ] {
        k.cmd(args);
    }
    check(
        &mut k,
        &[
            &["SELECT", "1"],
            &["MULTI"],
            &["set", "a", "1"],
            &["SELECT", "0"],
            &["DEL", "e2"],
            &["EXEC"],
        ],
    );
    k.cmd(&["config", "set", "lazyfree-lazy-expire", "yes"]);
    k.cmd(&["set", "e3", "x"]);
    k.take();
    k.expire_now(0, "e3");
    k.cmd(&["scan", "0"]);
    check(&mut k, &[&["UNLINK", "e3"]]);
}

#[test]
fn the_background_cycle_records_each_deletion_on_its_own_in_its_db() {
    let mut k = Kopi::new();
    k.cmd(&["select", "4"]);
    k.cmd(&["mset", "a", "1", "b", "2"]);
    k.cmd(&["select", "0"]);
    k.cmd(&["set", "z", "1"]);
    k.take();
    k.expire_now(4, "a");
    k.expire_now(4, "b");
    k.active_expire();
    let raw = k.take();
    let mut deleted = parse(&raw);
    deleted[1..].sort();
    assert_eq!(
        show(&encode(&deleted)),
        show(&encode(&[
            vec![b"SELECT".to_vec(), b"4".to_vec()],
            vec![b"DEL".to_vec(), b"a".to_vec()],
            vec![b"DEL".to_vec(), b"b".to_vec()],
        ]))
    );
    assert_eq!(
        k.server.state.lock().effects.units(),
        4,
        "mset, set, then two DELs"
    );
}

#[test]
fn timestamps_annotate_a_unit_in_a_new_second() {
    let mut k = Kopi::new();
    k.cmd(&["config", "set", "aof-timestamp-enabled", "yes"]);
    k.cmd(&["set", "a", "1"]);
    let (before, after) = k.window;
    let raw = k.take();
    let text = show(&raw);
    let seconds: i64 = text
        .strip_prefix("#TS:")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no annotation first: {text}"));
    assert!((before / 1000..=after / 1000).contains(&seconds), "{text}");
    assert!(
        text.ends_with(" *2 $6 SELECT $1 0 *3 $3 set $1 a $1 1 "),
        "{text}"
    );
    // At most one per second (the rule across seconds is unit-tested with a given clock).
    k.cmd(&["set", "a", "2"]);
    let (before, after) = k.window;
    let text = show(&k.take());
    if after / 1000 == seconds {
        assert_eq!(text, "*3 $3 set $1 a $1 2 ");
    } else if before / 1000 > seconds {
        assert!(text.starts_with("#TS:"), "{text}");
        assert_eq!(text.matches("#TS:").count(), 1, "{text}");
    }
}

#[test]
fn the_lsn_counts_the_bytes_of_complete_units() {
    let mut k = Kopi::new();
    k.cmd(&["set", "a", "1"]);
    let lsn = k.server.state.lock().effects.lsn();
    assert_eq!(lsn, k.take().len() as u64);
    k.cmd(&["get", "a"]);
    assert_eq!(k.server.state.lock().effects.lsn(), lsn);
    k.cmd(&["set", "a", "2"]);
    let more = k.take().len() as u64;
    assert_eq!(k.server.state.lock().effects.lsn(), lsn + more);
}

// ---- against the real redis-server 7.0 ----

/// One step of the shared script.
enum Step {
    Cmd(&'static [&'static str]),
    /// Lets keys set with `PX 1` expire.
    Sleep,
}
use Step::{Cmd, Sleep};

/// Every row of the table that both servers record the same way. (A SET with a deadline
/// already past differs on purpose: kopi deletes the key at once and records the `SET` and the
/// `DEL` together; Redis records the `DEL` when it next meets the key.)
const SCRIPT: &[Step] = &[
    Cmd(&["set", "k", "v"]),
    Cmd(&["set", "k", "v", "EX", "100"]),
    Cmd(&["set", "k", "v", "KEEPTTL"]),
    Cmd(&["set", "k", "v2", "GET"]),
    Cmd(&["set", "k", "v3", "GET", "EX", "200"]),
    Cmd(&["set", "k", "v4", "NX"]),
    Cmd(&["set", "k", "v4", "XX", "PX", "300000"]),
    Cmd(&["set", "k", "v5", "EXAT", "4000000000", "GET"]),
    Cmd(&["set", "g", "v", "get", "get"]),
    Cmd(&["setnx", "k", "a"]),
    Cmd(&["setnx", "n", "a"]),
    Cmd(&["setex", "k", "10", "v"]),
    Cmd(&["psetex", "k", "20000", "v"]),
    Cmd(&["getset", "k", "z"]),
    Cmd(&["getset", "k", "z2"]),
    Cmd(&["getdel", "k"]),
    Cmd(&["getdel", "k"]),
    Cmd(&["getex", "n"]),
    Cmd(&["getex", "n", "EX", "400"]),
    Cmd(&["getex", "n", "PERSIST"]),
    Cmd(&["getex", "n", "PERSIST"]),
    Cmd(&["getex", "n", "PXAT", "1"]),
    Cmd(&["getex", "n", "px", "1"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["expire", "k", "500"]),
    Cmd(&["expire", "k", "500", "NX"]),
    Cmd(&["pexpire", "k", "600000", "GT"]),
    Cmd(&["expireat", "k", "4000000000"]),
    Cmd(&["pexpireat", "k", "4000000000000", "LT"]),
    Cmd(&["pexpireat", "k", "4000000000001", "xx"]),
    Cmd(&["expire", "missing", "100"]),
    Cmd(&["persist", "k"]),
    Cmd(&["persist", "k"]),
    Cmd(&["expire", "k", "-1"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["expireat", "k", "1"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["pexpire", "k", "0"]),
    Cmd(&["incrbyfloat", "f", "1.5"]),
    Cmd(&["incrbyfloat", "f", "1e3"]),
    Cmd(&["set", "f", "10.50"]),
    Cmd(&["hset", "h", "a", "1", "b", "2"]),
    Cmd(&["hset", "h", "a", "1"]),
    Cmd(&["hsetnx", "h", "a", "9"]),
    Cmd(&["hsetnx", "h", "c", "3"]),
    Cmd(&["hmset", "h", "a", "1"]),
    Cmd(&["hincrby", "h", "a", "5"]),
    Cmd(&["hincrbyfloat", "h", "b", "1.5"]),
    Cmd(&["hincrbyfloat", "h", "b", "abc"]),
    Cmd(&["hdel", "h", "nope"]),
    Cmd(&["hdel", "h", "a", "b", "c"]),
    Cmd(&["sadd", "s", "1", "2", "x"]),
    Cmd(&["sadd", "s", "1"]),
    Cmd(&["srem", "s", "nope"]),
    Cmd(&["srem", "s", "2"]),
    Cmd(&["smove", "s", "s", "1"]),
    Cmd(&["smove", "s", "d", "1"]),
    Cmd(&["smove", "s", "d", "nope"]),
    Cmd(&["sinterstore", "i", "s", "d"]),
    Cmd(&["sunionstore", "u", "s", "d"]),
    Cmd(&["sdiffstore", "u", "s", "s"]),
    Cmd(&["sdiffstore", "u", "s", "s"]),
    Cmd(&["srandmember", "d"]),
    Cmd(&["spop", "s", "0"]),
    Cmd(&["spop", "s"]),
    Cmd(&["sadd", "s", "1", "2", "3"]),
    Cmd(&["spop", "s", "3"]),
    Cmd(&["spop", "d", "5"]),
    Cmd(&["incrbyfloat", "f", "0"]),
    Cmd(&["del", "nokey"]),
    Cmd(&["set", "a", "1"]),
    Cmd(&["set", "b", "2"]),
    Cmd(&["del", "a", "b", "c"]),
    Cmd(&["unlink", "x"]),
    Cmd(&["set", "a", "1"]),
    Cmd(&["unlink", "a", "x"]),
    Cmd(&["set", "a", "1"]),
    Cmd(&["touch", "a"]),
    Cmd(&["append", "a", "xy"]),
    Cmd(&["append", "new", "xy"]),
    Cmd(&["setrange", "a", "0", ""]),
    Cmd(&["setrange", "a", "1", "zz"]),
    Cmd(&["setrange", "nn", "0", ""]),
    Cmd(&["setrange", "nn", "2", "q"]),
    Cmd(&["incr", "i"]),
    Cmd(&["decr", "i"]),
    Cmd(&["incrby", "i", "5"]),
    Cmd(&["decrby", "i", "2"]),
    Cmd(&["set", "big", "9223372036854775807"]),
    Cmd(&["incr", "big"]),
    Cmd(&["mset", "a", "1", "b", "2"]),
    Cmd(&["msetnx", "a", "1", "c", "3"]),
    Cmd(&["msetnx", "c", "3", "d", "4"]),
    Cmd(&["rename", "a", "a2"]),
    Cmd(&["rename", "a2", "a2"]),
    Cmd(&["renamenx", "a2", "b"]),
    Cmd(&["renamenx", "a2", "z"]),
    Cmd(&["copy", "z", "z2"]),
    Cmd(&["copy", "z", "z2"]),
    Cmd(&["copy", "z", "z2", "REPLACE"]),
    Cmd(&["copy", "z", "z3", "DB", "2"]),
    Cmd(&["move", "z", "3"]),
    Cmd(&["move", "nokey", "3"]),
    Cmd(&["swapdb", "0", "1"]),
    Cmd(&["swapdb", "1", "1"]),
    Cmd(&["swapdb", "0", "1"]),
    Cmd(&["multi"]),
    Cmd(&["set", "m3", "1"]),
    Cmd(&["exec"]),
    Cmd(&["multi"]),
    Cmd(&["set", "a", "1"]),
    Cmd(&["select", "2"]),
    Cmd(&["set", "b", "2"]),
    Cmd(&["exec"]),
    Cmd(&["multi"]),
    Cmd(&["get", "a"]),
    Cmd(&["exec"]),
    Cmd(&["multi"]),
    Cmd(&["set", "c", "1"]),
    Cmd(&["incr", "c"]),
    Cmd(&["exec"]),
    Cmd(&["set", "w", "str"]),
    Cmd(&["multi"]),
    Cmd(&["incr", "w"]),
    Cmd(&["set", "x", "1"]),
    Cmd(&["set", "x", "2"]),
    Cmd(&["exec"]),
    Cmd(&["multi"]),
    Cmd(&["setnx", "x", "1"]),
    Cmd(&["del", "nope"]),
    Cmd(&["exec"]),
    Cmd(&["select", "0"]),
    Cmd(&["multi"]),
    Cmd(&["flushdb"]),
    Cmd(&["set", "a", "1"]),
    Cmd(&["exec"]),
    Cmd(&["set", "lz", "x", "PX", "1"]),
    Cmd(&["set", "lz2", "x", "PX", "1"]),
    Cmd(&["set", "e2", "x", "PX", "1"]),
    Cmd(&["set", "e3", "x", "PX", "1"]),
    Cmd(&["set", "e4", "x", "PX", "1"]),
    Cmd(&["select", "6"]),
    Cmd(&["set", "e5", "x", "PX", "1"]),
    Cmd(&["select", "0"]),
    Sleep,
    Cmd(&["set", "lz", "y"]),
    Cmd(&["get", "lz2"]),
    Cmd(&["mget", "e2", "e3"]),
    Cmd(&["select", "0"]),
    Cmd(&["set", "e4", "y", "NX", "GET"]),
    Cmd(&["multi"]),
    Cmd(&["set", "t", "1"]),
    Cmd(&["select", "6"]),
    Cmd(&["get", "e5"]),
    Cmd(&["exec"]),
    Cmd(&["select", "5"]),
    Cmd(&["flushdb"]),
    Cmd(&["flushdb", "async"]),
    Cmd(&["set", "q", "1"]),
    Cmd(&["select", "0"]),
    Cmd(&["set", "q", "2"]),
    Cmd(&["function", "flush"]),
    Cmd(&["flushall"]),
    Cmd(&["flushall", "sync"]),
    Cmd(&["config", "set", "lazyfree-lazy-expire", "yes"]),
    Cmd(&["config", "set", "lazyfree-lazy-user-del", "yes"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["getdel", "k"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["expire", "k", "-5"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["getex", "k", "exat", "1"]),
    Cmd(&["set", "k", "v"]),
    Cmd(&["del", "k"]),
    Cmd(&["set", "lz", "x", "px", "1"]),
    Sleep,
    Cmd(&["get", "lz"]),
    // Lists: blocking forms served at once are recorded as their non-blocking forms.
    Cmd(&["rpush", "l", "a", "b", "c", "d", "e", "f"]),
    Cmd(&["lpush", "l", "z"]),
    Cmd(&["lpushx", "nol", "x"]),
    Cmd(&["lpop", "l"]),
    Cmd(&["rpop", "l", "2"]),
    Cmd(&["lpop", "nol", "2"]),
    Cmd(&["lpop", "l", "0"]),
    Cmd(&["lmpop", "2", "nol", "l", "left", "count", "100"]),
    Cmd(&["rpush", "l", "a", "b", "c", "d", "e", "f"]),
    Cmd(&["blpop", "nol", "l", "0"]),
    Cmd(&["brpop", "l", "0"]),
    Cmd(&["blmove", "l", "l2", "LEFT", "RIGHT", "0"]),
    Cmd(&["brpoplpush", "l", "l2", "0"]),
    Cmd(&["blmpop", "0", "1", "l", "right", "count", "5"]),
    Cmd(&["lmove", "l2", "l2", "left", "left"]),
    Cmd(&["rpoplpush", "l2", "l3"]),
    Cmd(&["ltrim", "l2", "0", "-1"]),
    Cmd(&["ltrim", "l2", "1", "0"]),
    Cmd(&["rpush", "l", "x", "y", "x"]),
    Cmd(&["lrem", "l", "0", "x"]),
    Cmd(&["lrem", "l", "0", "nothing"]),
    Cmd(&["lset", "l", "0", "w"]),
    Cmd(&["linsert", "l", "before", "w", "v"]),
    Cmd(&["linsert", "l", "before", "nothing", "v"]),
    Cmd(&["multi"]),
    Cmd(&["blpop", "nol", "0"]),
    Cmd(&["rpush", "nol", "1"]),
    Cmd(&["exec"]),
];

/// Starts a `redis-server` with `appendfsync always` (its incr file holds a command's record
/// before its reply is sent) and a RESP base, in a directory of its own; returns it once its
/// incr file exists, and that file.
fn start_redis(program: &Path) -> (RedisServer, PathBuf) {
    let redis = RedisServer::start(
        program,
        &[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--aof-use-rdb-preamble",
            "no",
            "--enable-debug-command",
            "yes",
        ],
    );
    let incr_file = redis.dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !incr_file.exists() {
        assert!(Instant::now() < deadline, "redis-server wrote no incr file");
        std::thread::sleep(Duration::from_millis(20));
    }
    (redis, incr_file)
}

/// Sends one request and reads its whole reply (these replies are small: one read of what
/// arrives until a complete reply is buffered).
fn send(stream: &mut TcpStream, args: &[&str]) -> String {
    let mut request = Vec::new();
    request.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    stream.write_all(&request).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !reply_complete(&reply) {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "redis-server closed the connection");
        reply.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&reply).into_owned()
}

/// Whether `buf` holds one complete RESP2 reply.
fn reply_complete(buf: &[u8]) -> bool {
    fn value(buf: &[u8], at: usize) -> Option<usize> {
        let end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let head = buf.get(at)?;
        let body = std::str::from_utf8(&buf[at + 1..end]).ok()?;
        match head {
            b'+' | b'-' | b':' => Some(end + 2),
            b'$' => {
                let len: i64 = body.parse().ok()?;
                if len < 0 {
                    return Some(end + 2);
                }
                let stop = end + 2 + len as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' => {
                let len: i64 = body.parse().ok()?;
                let mut next = end + 2;
                for _ in 0..len.max(0) {
                    next = value(buf, next)?;
                }
                Some(next)
            }
            _ => None,
        }
    }
    value(buf, 0).is_some()
}

/// The arguments that hold absolute deadlines computed from each server's own clock:
/// `PXAT <ms>` and `PEXPIREAT key <ms>` when rewritten from a relative time.
fn is_computed_deadline(command: &[Vec<u8>], index: usize) -> bool {
    let after_pxat = index > 0 && command[index - 1].eq_ignore_ascii_case(b"PXAT");
    let pexpireat = index == 2 && command[0] == b"PEXPIREAT";
    after_pxat || pexpireat
}

#[test]
fn effects_match_the_incr_file_of_redis_7() {
    let test = "effects_match_the_incr_file_of_redis_7";
    let Some(program) = common::require_program("redis-server", test) else {
        return;
    };
    let (redis, incr_file) = start_redis(&program);
    let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    // Expired keys wait for the lookups of the script (kopi's in-process server has no cron).
    assert!(send(&mut stream, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).starts_with("+OK"));
    let mut k = Kopi::new();
    for step in SCRIPT {
        match step {
            Cmd(args) => {
                let theirs = send(&mut stream, args);
                let ours = k.cmd(args);
                assert_eq!(ours, theirs, "replies to {args:?}");
            }
            Sleep => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let theirs = parse(&std::fs::read(&incr_file).unwrap());
    let ours = parse(&k.take());
    let mut differences = Vec::new();
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let same = a.len() == b.len()
            && a.iter().zip(b).enumerate().all(|(j, (x, y))| {
                if x == y {
                    return true;
                }
                // Deadlines computed by each server from its own clock, a moment apart.
                let (Some(x), Some(y)) = (
                    std::str::from_utf8(x)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok()),
                    std::str::from_utf8(y)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                is_computed_deadline(a, j) && (x - y).abs() < 2000
            });
        if !same {
            differences.push(format!(
                "record {i}: kopi {} | redis {}",
                show(&encode(std::slice::from_ref(a))),
                show(&encode(std::slice::from_ref(b)))
            ));
        }
    }
    assert!(
        differences.is_empty() && ours.len() == theirs.len(),
        "{} records in kopi, {} in redis; differences:\n{}\nkopi:  {}\nredis: {}",
        ours.len(),
        theirs.len(),
        differences.join("\n"),
        show(&encode(&ours)),
        show(&encode(&theirs))
    );
}
