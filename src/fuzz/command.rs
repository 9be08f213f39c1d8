//! `command`: sequences of commands through the whole command layer, in process (no sockets).
//!
//! The input (read with [`arbitrary`]) is up to [`COMMANDS_MAX`] commands, each a name from
//! [`NAMES`] (the commands that neither block, sleep, stop the server, nor touch files) and up
//! to [`ARGS_MAX`] arguments, each a key from a few, a keyword, a number (extremes included)
//! or arbitrary bytes. They run on one client of a fresh server, as its connection runs them.
//! Nothing may panic, and after the sequence:
//!
//! - no key holds an empty list, hash, set or sorted set, and TYPE names every key's type;
//! - the dataset written as an RDB file and loaded into another server has the same
//!   DEBUG DIGEST, and so has the dataset written as AOF commands (a rewrite's base) and
//!   replayed into a third one.
//!
//! Expiry is suspended while the checks run, so that keys do not vanish between two digests.

use std::sync::Arc;

use arbitrary::Unstructured;
use bytes::Bytes;

use crate::commands;
use crate::keyspace::value::Value;
use crate::persistence::aof_reader::{AofReader, End, Event, ReadOptions};
use crate::persistence::snapshot;
use crate::protocol::{Protocol, Reply};
use crate::server::Server;
use crate::server::client::{Client, ClientHandle, Peer};
use crate::server::config::Config;

/// Commands per input.
pub const COMMANDS_MAX: usize = 32;
/// Arguments per command, after the name.
pub const ARGS_MAX: usize = 8;
/// Arbitrary byte arguments are at most this long.
const RAW_ARG_MAX: usize = 24;

/// The commands a sequence is made of. Left out: what blocks (BLPOP, ... , WAIT), sleeps
/// (DEBUG SLEEP), stops or pauses the server or its clients (SHUTDOWN, CLIENT PAUSE, CLIENT
/// KILL, MONITOR), touches files (SAVE, BGSAVE, BGREWRITEAOF, CONFIG SET and REWRITE, DEBUG
/// RELOAD and LOADAOF) or allocates what its arguments ask for (DEBUG POPULATE). DEBUG runs
/// only with the subcommands in [`DEBUG_SUBCOMMANDS`].
pub const NAMES: &[&str] = &[
    // strings
    "GET",
    "SET",
    "SETNX",
    "SETEX",
    "PSETEX",
    "GETSET",
    "GETDEL",
    "GETEX",
    "APPEND",
    "STRLEN",
    "INCR",
    "DECR",
    "INCRBY",
    "DECRBY",
    "INCRBYFLOAT",
    "MGET",
    "MSET",
    "MSETNX",
    "SETRANGE",
    "GETRANGE",
    "SUBSTR",
    "LCS",
    // keys and expiry
    "DEL",
    "UNLINK",
    "EXISTS",
    "TYPE",
    "RENAME",
    "RENAMENX",
    "COPY",
    "MOVE",
    "TOUCH",
    "DUMP",
    "RESTORE",
    "RANDOMKEY",
    "KEYS",
    "SCAN",
    "DBSIZE",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "TTL",
    "PTTL",
    "EXPIRETIME",
    "PEXPIRETIME",
    "PERSIST",
    "OBJECT",
    "SORT",
    "SORT_RO",
    "SELECT",
    "SWAPDB",
    "FLUSHDB",
    "FLUSHALL",
    // hashes
    "HSET",
    "HSETNX",
    "HGET",
    "HMGET",
    "HMSET",
    "HDEL",
    "HLEN",
    "HSTRLEN",
    "HEXISTS",
    "HKEYS",
    "HVALS",
    "HGETALL",
    "HINCRBY",
    "HINCRBYFLOAT",
    "HRANDFIELD",
    "HSCAN",
    // lists
    "LPUSH",
    "RPUSH",
    "LPUSHX",
    "RPUSHX",
    "LPOP",
    "RPOP",
    "LLEN",
    "LRANGE",
    "LINDEX",
    "LSET",
    "LINSERT",
    "LREM",
    "LTRIM",
    "LPOS",
    "LMOVE",
    "RPOPLPUSH",
    "LMPOP",
    // sets
    "SADD",
    "SREM",
    "SMEMBERS",
    "SISMEMBER",
    "SMISMEMBER",
    "SCARD",
    "SPOP",
    "SRANDMEMBER",
    "SMOVE",
    "SINTER",
    "SINTERSTORE",
    "SUNION",
    "SUNIONSTORE",
    "SDIFF",
    "SDIFFSTORE",
    "SINTERCARD",
    "SSCAN",
    // sorted sets
    "ZADD",
    "ZINCRBY",
    "ZREM",
    "ZCARD",
    "ZSCORE",
    "ZMSCORE",
    "ZRANK",
    "ZREVRANK",
    "ZRANGE",
    "ZRANGESTORE",
    "ZREVRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGEBYSCORE",
    "ZRANGEBYLEX",
    "ZREVRANGEBYLEX",
    "ZCOUNT",
    "ZLEXCOUNT",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE",
    "ZREMRANGEBYLEX",
    "ZPOPMIN",
    "ZPOPMAX",
    "ZMPOP",
    "ZRANDMEMBER",
    "ZUNION",
    "ZINTER",
    "ZDIFF",
    "ZUNIONSTORE",
    "ZINTERSTORE",
    "ZDIFFSTORE",
    "ZINTERCARD",
    "ZSCAN",
    // transactions, connection, server
    "MULTI",
    "EXEC",
    "DISCARD",
    "WATCH",
    "UNWATCH",
    "PING",
    "ECHO",
    "HELLO",
    "RESET",
    "AUTH",
    "MEMORY",
    "DEBUG",
    "TIME",
    "LASTSAVE",
    "ROLE",
    "COMMAND",
    "CLIENT",
    "INFO",
    "SLOWLOG",
    "LATENCY",
    "CONFIG",
];

/// DEBUG's subcommands in a sequence (the first argument of a DEBUG is one of these).
const DEBUG_SUBCOMMANDS: &[&str] = &[
    "DIGEST",
    "DIGEST-VALUE",
    "OBJECT",
    "PROTOCOL",
    "SET-ACTIVE-EXPIRE",
    "HELP",
];
/// CLIENT's subcommands in a sequence.
const CLIENT_SUBCOMMANDS: &[&str] = &[
    "ID",
    "GETNAME",
    "SETNAME",
    "INFO",
    "LIST",
    "REPLY",
    "TRACKINGINFO",
    "GETREDIR",
    "HELP",
];
/// CONFIG's subcommands in a sequence (no SET: `dir`, `appendonly` and `save` touch files).
const CONFIG_SUBCOMMANDS: &[&str] = &["GET", "RESETSTAT", "HELP"];

const KEYS: &[&[u8]] = &[b"k", b"k2", b"{t}a", b"{t}b", b"", b"\x00\xff"];

/// Words the commands above take as options.
const WORDS: &[&str] = &[
    "NX",
    "XX",
    "GT",
    "LT",
    "CH",
    "INCR",
    "EX",
    "PX",
    "EXAT",
    "PXAT",
    "KEEPTTL",
    "GET",
    "PERSIST",
    "WITHSCORES",
    "WITHSCORE",
    "LIMIT",
    "BYSCORE",
    "BYLEX",
    "REV",
    "COUNT",
    "MATCH",
    "TYPE",
    "LEFT",
    "RIGHT",
    "BEFORE",
    "AFTER",
    "MIN",
    "MAX",
    "WEIGHTS",
    "AGGREGATE",
    "SUM",
    "STORE",
    "ALPHA",
    "ASC",
    "DESC",
    "BY",
    "REPLACE",
    "ABSTTL",
    "IDLETIME",
    "FREQ",
    "DB",
    "LEN",
    "IDX",
    "MINMATCHLEN",
    "WITHMATCHLEN",
    "RANK",
    "MAXLEN",
    "WITHVALUES",
    "ENCODING",
    "REFCOUNT",
    "USAGE",
    "SAMPLES",
    "OFF",
    "ON",
    "SKIP",
    "3",
    "2",
    "NOSAVE",
    "*",
    "k*",
    "?",
    "[a-z]",
    "string",
    "list",
    "hash",
    "set",
    "zset",
    "-",
    "+",
    "[a",
    "(a",
    "(1",
    "-inf",
    "+inf",
    "inf",
    "nan",
    "0.5",
    "1e308",
    "-1e308",
    "1.5e-300",
    "0x10",
    " 1",
    "1 ",
];

/// Numbers, extremes included.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "-2",
    "10",
    "100",
    "-100",
    "65",
    "128",
    "129",
    "512",
    "513",
    "2147483647",
    "-2147483648",
    "2147483648",
    "4294967296",
    "536870912",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "99999999999999999999",
    "9223372036854775806",
    "1700000000",
    "1700000000000",
    "253402300799",
    "-0",
    "007",
    "+1",
    "1.0",
];

/// One fuzzed command: the name, then the arguments.
pub type Argv = Vec<Bytes>;

/// Reads the commands of an input.
pub fn sequence(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<Argv>> {
    let mut out = Vec::new();
    let count = u.int_in_range(1..=COMMANDS_MAX)?;
    for _ in 0..count {
        if u.is_empty() {
            break;
        }
        let name = *u.choose(NAMES)?;
        let mut argv = vec![Bytes::from_static(name.as_bytes())];
        let fixed: Option<&[&str]> = match name {
            "DEBUG" => Some(DEBUG_SUBCOMMANDS),
            "CLIENT" => Some(CLIENT_SUBCOMMANDS),
            "CONFIG" => Some(CONFIG_SUBCOMMANDS),
            _ => None,
        };
        if let Some(subcommands) = fixed {
            argv.push(Bytes::from_static(u.choose(subcommands)?.as_bytes()));
        }
        for _ in 0..u.int_in_range(0..=ARGS_MAX)? {
            argv.push(argument(u)?);
        }
        out.push(argv);
    }
    Ok(out)
}

fn argument(u: &mut Unstructured<'_>) -> arbitrary::Result<Bytes> {
    Ok(match u.int_in_range(0..=9u8)? {
        0..=3 => Bytes::from_static(u.choose(KEYS)?),
        4..=5 => Bytes::from_static(u.choose(WORDS)?.as_bytes()),
        6..=7 => Bytes::from_static(u.choose(NUMBERS)?.as_bytes()),
        _ => {
            let len = u.int_in_range(0..=RAW_ARG_MAX)?;
            Bytes::copy_from_slice(u.bytes(len.min(u.len()))?)
        }
    })
}

/// The fuzz target's body (`fuzz/fuzz_targets/command.rs`).
pub fn fuzz_one(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(commands) = sequence(&mut u) else {
        return;
    };
    if commands.is_empty() {
        return;
    }
    let mut session = Session::new();
    for argv in &commands {
        session.run(argv);
    }
    check_dataset(&session.server);
}

/// A server and one client of it, in process.
pub struct Session {
    pub server: Arc<Server>,
    client: Client,
    reply: Reply,
}

impl Session {
    /// A fresh server ([`new_server`]) with an authenticated local client.
    pub fn new() -> Session {
        let server = new_server();
        let peer = Peer::internal();
        let client = Client::new(ClientHandle::detached(1, &peer), peer, true);
        Session {
            server,
            client,
            reply: Reply::new(Protocol::Resp2),
        }
    }

    /// Runs one command as a connection does; returns its reply's bytes.
    pub fn run(&mut self, argv: &[Bytes]) -> Vec<u8> {
        self.reply.buf.clear();
        self.reply.errors.clear();
        self.reply.protocol = self.client.protocol;
        let mut state = self.server.state.lock();
        commands::execute(
            &self.server,
            &mut state,
            &mut self.client,
            &mut self.reply,
            argv,
        );
        self.reply.buf.to_vec()
    }

    fn run_strs(&mut self, argv: &[&[u8]]) -> Vec<u8> {
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.run(&argv)
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

/// A fresh server that saves nothing (no `save` points, no AOF), runs DEBUG and logs only
/// warnings.
pub fn new_server() -> Arc<Server> {
    let args = [
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
        "--loglevel",
        "warning",
    ];
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Server::new(Config::from_args(&args).expect("the fuzzing configuration"))
}

/// DEBUG DIGEST of `server`'s dataset, through the command.
fn digest(server: &Arc<Server>) -> Vec<u8> {
    let mut checker = Session::new();
    checker.server = server.clone();
    let reply = checker.run_strs(&[b"DEBUG", b"DIGEST"]);
    assert!(
        reply.starts_with(b"+"),
        "DEBUG DIGEST replied {}",
        String::from_utf8_lossy(&reply)
    );
    reply
}

/// The invariants of a dataset a command sequence left behind.
pub fn check_dataset(server: &Arc<Server>) {
    let _suspended = crate::keyspace::suspend_expiry();
    let databases;
    let mut keys: Vec<(usize, Bytes, &'static str)> = Vec::new();
    {
        let state = server.state.lock();
        databases = state.store.dbs.len();
        for (db, keyspace) in state.store.dbs.iter().enumerate() {
            for entry in keyspace.data.iter() {
                let empty = match &entry.value {
                    Value::String(_) => false,
                    Value::Hash(h) => h.is_empty(),
                    Value::Set(s) => s.is_empty(),
                    Value::ZSet(z) => z.is_empty(),
                    Value::List(l) => l.is_empty(),
                };
                assert!(
                    !empty,
                    "db {db} key {:?} holds an empty {}",
                    entry.key,
                    entry.value.type_name()
                );
                keys.push((db, entry.key.clone(), entry.value.type_name()));
            }
        }
    }

    let mut checker = Session::new();
    checker.server = server.clone();
    for (db, key, type_name) in &keys {
        checker.run_strs(&[b"SELECT", db.to_string().as_bytes()]);
        let reply = checker.run_strs(&[b"TYPE", key]);
        assert_eq!(
            reply,
            format!("+{type_name}\r\n").into_bytes(),
            "TYPE of db {db} key {key:?}"
        );
    }

    let before = digest(server);

    // The dataset through an RDB file.
    let mut rdb = Vec::new();
    {
        let state = server.state.lock();
        snapshot::write_store(&state.store, crate::util::now_ms(), false, true, &mut |c| {
            rdb.extend_from_slice(c);
            Ok(())
        })
        .expect("writing into memory");
    }
    let reloaded = new_server();
    {
        let mut state = reloaded.state.lock();
        let result = snapshot::read_rdb(&rdb[..], rdb.len() as u64, databases, false, |item| {
            item.apply(&mut state.store, false).map(|_| ())
        });
        if let Err(e) = result {
            panic!("the RDB written from the dataset does not load: {e}");
        }
    }
    assert_eq!(
        before,
        digest(&reloaded),
        "DEBUG DIGEST differs after an RDB round trip"
    );

    // The dataset as AOF commands, as a rewrite writes its base. Keys already past their
    // deadline are left out of it, so the comparison needs a dataset without them.
    let now_ms = crate::util::now_ms();
    let mut resp = Vec::new();
    let expired = {
        let state = server.state.lock();
        snapshot::write_store_resp(&state.store, now_ms, b"", &mut |c| {
            resp.extend_from_slice(c)
        });
        state.store.dbs.iter().any(|db| {
            db.data
                .iter()
                .any(|e| e.expire_at_ms != crate::keyspace::NO_EXPIRY && e.expire_at_ms <= now_ms)
        })
    };
    if expired {
        return;
    }
    let mut replay = Session::new();
    replay.client.id = crate::server::client::CLIENT_ID_AOF;
    let mut argvs: Vec<Vec<Bytes>> = Vec::new();
    let report = AofReader::new().read(&resp[..], &ReadOptions::default(), |event| {
        if let Event::Command(command) = event {
            argvs.push(
                command
                    .args
                    .iter()
                    .map(|a| Bytes::copy_from_slice(a))
                    .collect(),
            );
        }
        Ok::<(), String>(())
    });
    match report {
        Ok(report) if report.end == End::Clean => {}
        other => panic!("the AOF base written from the dataset reads as {other:?}"),
    }
    for argv in &argvs {
        let reply = replay.run(argv);
        assert!(
            !reply.starts_with(b"-"),
            "replaying the AOF base: {argv:?} replied {}",
            String::from_utf8_lossy(&reply)
        );
    }
    assert_eq!(
        before,
        digest(&replay.server),
        "DEBUG DIGEST differs after an AOF rewrite round trip"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_in_the_command_table() {
        for name in NAMES {
            assert!(commands::lookup(name.as_bytes()).is_some(), "{name}");
        }
        for (command, subcommands) in [
            ("DEBUG", DEBUG_SUBCOMMANDS),
            ("CLIENT", CLIENT_SUBCOMMANDS),
            ("CONFIG", CONFIG_SUBCOMMANDS),
        ] {
            for sub in subcommands {
                let argv = [Bytes::from(command), Bytes::from(*sub)];
                assert!(commands::find(&argv).is_some(), "{command} {sub}");
            }
        }
    }

    #[test]
    fn the_fuzz_corpus_runs_and_keeps_the_invariants() {
        let files = crate::fuzz::corpus::files("command");
        assert!(files.len() >= 10, "the corpus has {} files", files.len());
        for (_, bytes) in files {
            fuzz_one(&bytes);
        }
    }

    #[test]
    fn the_dataset_checks_pass_on_every_type_and_catch_a_difference() {
        let mut session = Session::new();
        for argv in [
            &[&b"SET"[..], b"s", b"v"][..],
            &[b"RPUSH", b"l", b"a", b"b"],
            &[b"HSET", b"h", b"f", b"v"],
            &[b"SADD", b"t", b"1", b"x"],
            &[b"ZADD", b"z", b"1.5", b"m"],
            &[b"PEXPIRE", b"z", b"100000"],
            &[b"SELECT", b"3"],
            &[b"SET", b"other", b"12"],
        ] {
            let reply = session.run_strs(argv);
            assert!(!reply.starts_with(b"-"), "{argv:?}: {reply:?}");
        }
        check_dataset(&session.server);
        let before = digest(&session.server);
        session.run_strs(&[b"SADD", b"t", b"2"]);
        assert_ne!(before, digest(&session.server));
    }
}
