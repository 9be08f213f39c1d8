//! Differential test: kopi and a real `redis-server` 7.0 receive the same random command
//! streams, and every reply must be the same bytes, error texts included.
//!
//! Environment:
//! - `KOPI_DIFF_SEED`: the stream's seed (printed at the start and with any difference).
//! - `KOPI_DIFF_COMMANDS`: how many commands to send (default 20000).
//! - `KOPI_DIFF_FAMILIES`: comma-separated families to draw from (default all of them):
//!   strings, keys, expire, tx, connection, server, errors; `core` selects the commands the
//!   server skeleton has (GET SET DEL EXISTS PING ECHO SELECT QUIT MULTI EXEC DISCARD WATCH
//!   UNWATCH DBSIZE, unknown commands, wrong arity).
//! - `KOPI_DIFF_KEEP_GOING`: when set, a difference does not stop the run: it is counted per
//!   command, both servers are brought back to the same state, and a summary is printed at the
//!   end (the test still fails if there was any difference).
//!
//! `redis-server` missing from PATH: the test is skipped with a loud message, or fails when
//! `CI` is set.
//!
//! What is compared and how:
//! - Replies are compared byte for byte, except where Redis itself defines no order (KEYS,
//!   CONFIG GET, SCAN, which the runner iterates to the end on each server) or where the value
//!   moves with the clock (TTL, PTTL, EXPIRETIME, PEXPIRETIME: non-negative values may differ
//!   by a tolerance).
//! - No deadline comparison may depend on when a command ran. Every relative TTL the generator
//!   makes is `STEP_S * j` seconds with `j` unique to the command (odd and rising with the
//!   command's index, or even and falling), every absolute one is `start + STEP_S * k +
//!   STEP_S / 2`. Two deadlines therefore differ by at least `STEP_S / 2`, far more than the
//!   whole run lasts, so GT/LT and "already expired" decide the same on both servers. Keys
//!   never expire by themselves during a run: deadlines are either far away or already past
//!   (which EXPIRE*/GETEX turn into a deletion at once).
//!
//! The generator is a table (`ROWS`): one row per command with its family, arity and weight,
//! and a function that writes a mostly valid, sometimes invalid, call and says how to check
//! the reply. A new type's commands (hashes, lists, sets, sorted sets) are new rows in a new
//! family, plus `Gen` helpers for their arguments (fields, members, scores). The keys stay the
//! same 20, so WRONGTYPE comes by itself. Replies in no defined order use `Check::Unordered`
//! (SMEMBERS, SUNION) or `Check::Pairs` (HGETALL); SSCAN/HSCAN/ZSCAN use
//! `Check::FullScan { cursor_at: 2, group: 1 or 2 }`; anything random (SRANDMEMBER, SPOP,
//! HRANDFIELD) needs its own check or must be limited to cases with one possible answer.
//! `two_redis_servers_never_differ` runs the same generator against two Redis servers: a row
//! that is not deterministic fails there first.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::io::{Cursor, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use common::{Raw, RedisServer, Server, read_value, require_program};

/// Spacing of the deadlines the generator makes, in seconds (see the module comment).
const STEP_S: i64 = 10_000;
/// How far apart two TTL readings of the same key may be on the two servers.
const TTL_TOLERANCE_S: i64 = 60;
/// The key space: small, so commands keep running into each other's keys.
const KEYS: &[&str] = &[
    "a", "b", "c", "foo", "foobar", "fo", "bar", "k1", "k2", "k10", "user:1", "user:2", "user:10",
    "x{y}", "[ab]", "*", "?", "h\\ello", "n", "empty",
];
/// The databases the generator selects, moves to and swaps (kept small for the resync).
const DBS: &[&str] = &["0", "1", "2", "3", "15"];
/// Patterns for KEYS and SCAN MATCH, including malformed ones.
const PATTERNS: &[&str] = &[
    "*",
    "k*",
    "user:*",
    "?",
    "k?",
    "[ab]",
    "[^a]*",
    "*o*",
    "\\*",
    "h\\\\ello",
    "[a-c]",
    "user:1*",
    "nomatch*",
    "*:*",
    "\\[ab\\]",
    "f*o*",
    "x{y}",
    "[",
    "*[",
    "\\",
    "[!a]",
    "[z-a]",
    "**",
    "?*?",
];
/// Integers that are valid but at the edges.
const EDGE_INTS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "0",
    "-1",
    "1",
    "4611686018427387904",
];
/// Strings that are not integers to Redis (or overflow).
const BAD_INTS: &[&str] = &[
    "",
    " 1",
    "1 ",
    "+1",
    "01",
    "0x1",
    "1.0",
    "1e3",
    "abc",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999",
    "-",
    "--1",
    "00",
    "-0",
    "1\0",
];
const GOOD_FLOATS: &[&str] = &[
    "1.5", "-0.25", "3", "1e2", "0.1", "-1e-3", "5.0e3", "10", ".5", "-0", "0x10", "1E1", "7.",
    "-17",
];
const BAD_FLOATS: &[&str] = &[
    "abc", "", " 1.5", "1.5 ", "nan", "inf", "-inf", "1e400", "1.5.5", "+-1", "1e308", "1,5",
];
/// Names that are no Redis command.
const UNKNOWN: &[&str] = &[
    "foo", "gett", "SETT", "", "xyzzy", "get_", "Get ", "g", "dell",
];
/// Deterministic configuration parameters (not port, dir, save, appendonly, ...).
const CONFIG_PARAMS: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "databases",
    "timeout",
    "hz",
    "proto-max-bulk-len",
    "hash-max-listpack-entries",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "list-max-listpack-size",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "notify-keyspace-events",
    "maxmemory-samples",
    "lfu-log-factor",
    "tcp-keepalive",
    "appendfsync",
    "no-such-param",
    "*max-*-entries*",
    "lazyfree-lazy-*",
];

// ---- what a reply is checked against ----

#[derive(Clone, Debug)]
enum Check {
    Exact,
    /// An array in no defined order (KEYS): compared sorted.
    Unordered,
    /// A flat array of name/value pairs in no defined order (CONFIG GET).
    Pairs,
    /// An integer that moves with the clock (TTL, PTTL, EXPIRETIME, PEXPIRETIME): negative
    /// values are codes and must be equal; non-negative ones may differ by the tolerance.
    Clock(i64),
    /// RANDOMKEY: with several keys in the db, any key will do.
    RandomKey,
    /// SCAN (SSCAN, HSCAN, ZSCAN) from cursor 0: the runner iterates to the end on each
    /// server and compares the sets of items. `cursor_at`: the cursor's argument index;
    /// `group`: elements per item (1 for keys and members, 2 for field/value pairs).
    FullScan {
        cursor_at: usize,
        group: usize,
    },
    /// EXEC: each element is checked as its queued command is.
    Exec(Vec<Check>),
    /// QUIT: `+OK`, then the server closes the connection.
    Quit,
    /// COMMAND INFO: a container's subcommands come in no defined order.
    CommandInfo,
}

/// Whether kopi's reply agrees with Redis's under `check`.
fn agree(check: &Check, kopi: &[u8], redis: &[u8]) -> bool {
    if kopi == redis {
        return true;
    }
    match check {
        Check::Exact | Check::Quit | Check::FullScan { .. } => false,
        Check::Unordered => match (elements(kopi), elements(redis)) {
            (Some(mut a), Some(mut b)) => {
                a.sort();
                b.sort();
                a == b
            }
            _ => false,
        },
        Check::Pairs => match (elements(kopi), elements(redis)) {
            (Some(a), Some(b)) if a.len() % 2 == 0 && b.len() % 2 == 0 => {
                let mut a: Vec<_> = a.chunks(2).collect();
                let mut b: Vec<_> = b.chunks(2).collect();
                a.sort();
                b.sort();
                a == b
            }
            _ => false,
        },
        Check::Clock(tolerance) => match (integer(kopi), integer(redis)) {
            (Some(a), Some(b)) => a >= 0 && b >= 0 && a.abs_diff(b) <= tolerance.unsigned_abs(),
            _ => false,
        },
        Check::RandomKey => is_bulk(kopi) && is_bulk(redis),
        Check::CommandInfo => match (sorted_subcommands(kopi), sorted_subcommands(redis)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        Check::Exec(checks) => match (elements(kopi), elements(redis)) {
            (Some(a), Some(b)) if a.len() == b.len() && a.len() == checks.len() => a
                .iter()
                .zip(&b)
                .zip(checks)
                .all(|((x, y), check)| agree(check, x, y)),
            _ => false,
        },
    }
}

/// The raw bytes of each element of a RESP array reply; `None` for anything else.
fn elements(raw: &[u8]) -> Option<Vec<&[u8]>> {
    if raw.first() != Some(&b'*') {
        return None;
    }
    let header_end = raw.iter().position(|&b| b == b'\n')? + 1;
    let n: i64 = std::str::from_utf8(raw.get(1..header_end.checked_sub(2)?)?)
        .ok()?
        .parse()
        .ok()?;
    let mut cursor = Cursor::new(raw);
    cursor.set_position(header_end as u64);
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let start = cursor.position() as usize;
        read_value(&mut cursor, &mut Vec::new()).ok()?;
        out.push(&raw[start..cursor.position() as usize]);
    }
    (n >= 0 && cursor.position() as usize == raw.len()).then_some(out)
}

/// Subcommands Redis 7.0 has and kopi does not implement yet (docs/compatibility.md lists
/// them); COMMAND INFO of their container is compared without them.
const SUBCOMMANDS_NOT_IN_KOPI: &[&str] = &[
    "client|caching",
    "client|tracking",
    "client|unblock",
    "function|delete",
    "function|dump",
    "function|kill",
    "function|list",
    "function|load",
    "function|restore",
    "function|stats",
    "latency|graph",
    "memory|stats",
];

/// COMMAND INFO's reply with each command's subcommands (its 10th field) sorted, leaving out
/// those in [`SUBCOMMANDS_NOT_IN_KOPI`].
fn sorted_subcommands(raw: &[u8]) -> Option<Vec<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    for info in elements(raw)? {
        let Some(fields) = elements(info) else {
            out.push(vec![info.to_vec()]);
            continue;
        };
        let mut fields: Vec<Vec<u8>> = fields.iter().map(|f| f.to_vec()).collect();
        if let Some(subcommands) = fields.get_mut(9) {
            let mut sorted = elements(subcommands)?;
            sorted.retain(|info| {
                let name = elements(info)
                    .and_then(|f| f.first().and_then(|n| bulk(n)).map(<[u8]>::to_vec));
                !name.is_some_and(|n| SUBCOMMANDS_NOT_IN_KOPI.iter().any(|s| s.as_bytes() == n))
            });
            sorted.sort();
            *subcommands = sorted.concat();
        }
        out.push(fields);
    }
    Some(out)
}

fn integer(raw: &[u8]) -> Option<i64> {
    let body = raw.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(body).ok()?.parse().ok()
}

fn is_bulk(raw: &[u8]) -> bool {
    raw.starts_with(b"$") && !raw.starts_with(b"$-1")
}

/// The payload of a bulk string reply.
fn bulk(raw: &[u8]) -> Option<&[u8]> {
    let header_end = raw.iter().position(|&b| b == b'\n')? + 1;
    raw.starts_with(b"$")
        .then(|| raw.get(header_end..raw.len().checked_sub(2)?))
        .flatten()
}

/// Bytes as a readable, bounded string.
fn show(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(600) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > 600 {
        out.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    out
}

fn show_command(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let shown = show(&a[..a.len().min(80)]);
            if a.len() > 80 {
                format!("\"{shown}\"...({} bytes)", a.len())
            } else {
                format!("\"{shown}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- the generator ----

/// One command to send and how to check its reply.
struct Cmd {
    args: Vec<Vec<u8>>,
    check: Check,
}

impl Cmd {
    fn exact(args: Vec<Vec<u8>>) -> Cmd {
        Cmd {
            args,
            check: Check::Exact,
        }
    }

    fn with(args: Vec<Vec<u8>>, check: Check) -> Cmd {
        Cmd { args, check }
    }
}

trait IntoArg {
    fn into_arg(self) -> Vec<u8>;
}
impl IntoArg for &str {
    fn into_arg(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}
impl IntoArg for String {
    fn into_arg(self) -> Vec<u8> {
        self.into_bytes()
    }
}
impl IntoArg for Vec<u8> {
    fn into_arg(self) -> Vec<u8> {
        self
    }
}
impl IntoArg for i64 {
    fn into_arg(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

macro_rules! args {
    ($($arg:expr),* $(,)?) => { vec![$(IntoArg::into_arg($arg)),*] };
}

/// A command in the generator's table.
struct Row {
    name: &'static str,
    family: &'static str,
    /// Redis's arity convention (negative: at least); 0 for pseudo commands.
    arity: i32,
    weight: u32,
    generate: fn(&mut Gen) -> Cmd,
}

/// What the generator knows of a client: enough to keep transactions meaningful.
#[derive(Default)]
struct Model {
    in_multi: bool,
    /// Checks for the commands queued since MULTI, for EXEC's reply.
    queued: Vec<Check>,
}

struct Gen {
    rng: SmallRng,
    rows: Vec<&'static Row>,
    total_weight: u32,
    clients: [Model; 2],
    /// The client the command being generated is for.
    current: usize,
    /// Index of the command being generated.
    seq: i64,
    /// Larger than any command index: the falling relative TTLs count down from it.
    span: i64,
    /// Unix seconds when the run started: the base of absolute deadlines.
    start_s: i64,
}

impl Gen {
    fn new(seed: u64, rows: Vec<&'static Row>, commands: usize) -> Gen {
        let total_weight = rows.iter().map(|r| r.weight).sum();
        let start_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Gen {
            rng: SmallRng::seed_from_u64(seed),
            rows,
            total_weight,
            clients: [Model::default(), Model::default()],
            current: 0,
            seq: 0,
            span: commands as i64 + 10,
            start_s,
        }
    }

    fn enabled(&self, name: &str) -> bool {
        self.rows.iter().any(|r| r.name == name)
    }

    fn pick_client(&mut self) -> usize {
        usize::from(self.rng.random_bool(0.2))
    }

    /// How many commands to pipeline in the next write.
    fn batch_len(&mut self) -> usize {
        if self.rng.random_bool(0.1) {
            self.rng.random_range(2..=6)
        } else {
            1
        }
    }

    fn pick_row(&mut self) -> &'static Row {
        let mut at = self.rng.random_range(0..self.total_weight);
        for row in &self.rows {
            if at < row.weight {
                return row;
            }
            at -= row.weight;
        }
        self.rows[self.rows.len() - 1]
    }

    /// The next command for `client`; `seq` is its index in the stream.
    fn next(&mut self, client: usize, seq: i64) -> Cmd {
        self.current = client;
        self.seq = seq;
        let in_multi = self.clients[client].in_multi;
        let mut cmd = if in_multi && self.enabled("exec") && self.rng.random_bool(0.12) {
            if self.rng.random_bool(0.85) {
                gen_exec(self)
            } else {
                Cmd::exact(args!["DISCARD"])
            }
        } else {
            loop {
                let row = self.pick_row();
                // SCAN's cursors are the server's own: inside MULTI only one page comes back.
                if in_multi && row.name == "scan" {
                    continue;
                }
                break (row.generate)(self);
            }
        };
        self.track(&cmd);
        if self.rng.random_bool(0.05) {
            let name = &mut cmd.args[0];
            for b in name.iter_mut() {
                if self.rng.random_bool(0.5) {
                    *b = b.to_ascii_lowercase();
                } else {
                    *b = b.to_ascii_uppercase();
                }
            }
        }
        cmd
    }

    /// Follows what the command does to the client's transaction state.
    fn track(&mut self, cmd: &Cmd) {
        let name = cmd.args[0].to_ascii_lowercase();
        let model = &mut self.clients[self.current];
        match (name.as_slice(), cmd.args.len()) {
            (b"multi", 1) => {
                if !model.in_multi {
                    model.in_multi = true;
                    model.queued.clear();
                }
            }
            // EXEC with the wrong arity inside MULTI discards the transaction too.
            (b"exec", _) | (b"discard" | b"reset", 1) | (b"quit", _) => {
                model.in_multi = false;
                model.queued.clear();
            }
            (b"multi" | b"discard" | b"watch", _) => {}
            _ => {
                if model.in_multi {
                    model.queued.push(cmd.check.clone());
                }
            }
        }
    }

    fn reset_models(&mut self) {
        self.clients = [Model::default(), Model::default()];
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick(&mut self, pool: &[&str]) -> Vec<u8> {
        pool.choose(&mut self.rng)
            .copied()
            .unwrap_or("")
            .as_bytes()
            .to_vec()
    }

    fn key(&mut self) -> Vec<u8> {
        self.pick(KEYS)
    }

    fn keys(&mut self, min: usize, max: usize) -> Vec<Vec<u8>> {
        let n = self.rng.random_range(min..=max);
        (0..n).map(|_| self.key()).collect()
    }

    fn pattern(&mut self) -> Vec<u8> {
        self.pick(PATTERNS)
    }

    fn word(&mut self, min: usize, max: usize) -> Vec<u8> {
        let n = self.rng.random_range(min..=max);
        (0..n)
            .map(|_| b"abcde"[self.rng.random_range(0..5)])
            .collect()
    }

    /// A value to store: integers, float-looking text, words, strings around the 44-byte
    /// embstr limit, binary.
    fn value(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..20) {
            0..=5 => self.rng.random_range(-100i64..1000).into_arg(),
            6 => self.pick(EDGE_INTS),
            7 => self.pick(BAD_INTS),
            8 => self.pick(GOOD_FLOATS),
            9..=14 => self.word(0, 12),
            15 => self.word(40, 48),
            16 => self.word(60, 70),
            17 => self.rng.random_range(0i64..100_000_000_000).into_arg(),
            _ => {
                let n = self.rng.random_range(1..8);
                (0..n)
                    .map(|_| {
                        *[0u8, b'\r', b'\n', 0xff, b' ', b'"', b'a']
                            .choose(&mut self.rng)
                            .unwrap_or(&0)
                    })
                    .collect()
            }
        }
    }

    /// An integer argument: mostly small, sometimes at the edges, sometimes not an integer.
    fn int(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..=79 => self.rng.random_range(lo..=hi).into_arg(),
            80..=87 => self.pick(EDGE_INTS),
            _ => self.pick(BAD_INTS),
        }
    }

    fn float(&mut self) -> Vec<u8> {
        if self.chance(0.8) {
            self.pick(GOOD_FLOATS)
        } else {
            self.pick(BAD_FLOATS)
        }
    }

    /// A database index: mostly valid.
    fn db(&mut self) -> Vec<u8> {
        if self.chance(0.9) {
            self.pick(DBS)
        } else {
            self.pick(&["16", "-1", "abc", "1.5", "99999999999999999999", "", " 1"])
        }
    }

    /// A relative TTL in seconds, unique to this command (see the module comment).
    fn relative_s(&mut self) -> i64 {
        let j = if self.chance(0.5) {
            2 * self.seq + 1
        } else {
            2 * (self.span - self.seq)
        };
        STEP_S * j
    }

    /// An absolute deadline in Unix seconds, in the future, off the relative grid.
    fn absolute_s(&mut self) -> i64 {
        let k = self.rng.random_range(1..=2 * self.span);
        self.start_s + STEP_S * k + STEP_S / 2
    }

    /// A deadline that has passed, in seconds.
    fn past_s(&mut self) -> i64 {
        *[1, self.start_s - STEP_S, self.start_s - 100 * STEP_S]
            .choose(&mut self.rng)
            .unwrap_or(&1)
    }

    fn bad_expire(&mut self) -> Vec<u8> {
        self.pick(&[
            "abc",
            "",
            "1.5",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775",
            " 5",
        ])
    }

    /// The argument of EXPIRE (`ms`: PEXPIRE): far future, past or invalid.
    fn expire_relative(&mut self, ms: bool) -> Vec<u8> {
        let unit = if ms { 1000 } else { 1 };
        match self.rng.random_range(0..100) {
            0..=74 => (self.relative_s() * unit).into_arg(),
            75..=86 => self.pick(&["0", "-1", "-10000"]),
            _ => self.bad_expire(),
        }
    }

    /// The argument of EXPIREAT (`ms`: PEXPIREAT).
    fn expire_absolute(&mut self, ms: bool) -> Vec<u8> {
        let unit = if ms { 1000 } else { 1 };
        match self.rng.random_range(0..100) {
            0..=74 => (self.absolute_s() * unit).into_arg(),
            75..=86 => (self.past_s() * unit).into_arg(),
            87..=89 => "0".into_arg(),
            _ => self.bad_expire(),
        }
    }

    /// SET's and GETEX's expiry options (never a past deadline for SET: Redis 7.0 keeps such
    /// a key until it is touched, so DBSIZE would depend on timing).
    fn expiry_option(&mut self, allow_past: bool) -> Vec<Vec<u8>> {
        let valid = self.chance(0.9);
        let (word, value) = match self.rng.random_range(0..4) {
            0 => ("EX", self.relative_s().into_arg()),
            1 => ("PX", (self.relative_s() * 1000).into_arg()),
            2 if allow_past && self.chance(0.2) => ("EXAT", self.past_s().into_arg()),
            2 => ("EXAT", self.absolute_s().into_arg()),
            _ if allow_past && self.chance(0.2) => ("PXAT", (self.past_s() * 1000).into_arg()),
            _ => ("PXAT", (self.absolute_s() * 1000).into_arg()),
        };
        if valid {
            return args![word, value];
        }
        let bad = match self.rng.random_range(0..3) {
            0 => self.pick(&["0", "-1"]),
            1 => self.bad_expire(),
            _ => return args![word],
        };
        args![word, bad]
    }
}

// ---- strings ----

fn gen_get(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["GET", g.key()])
}

fn gen_set(g: &mut Gen) -> Cmd {
    let mut args = args!["SET", g.key(), g.value()];
    if g.chance(0.5) {
        let n = g.rng.random_range(1..=3);
        for _ in 0..n {
            match g.rng.random_range(0..10) {
                0 => args.push(b"NX".to_vec()),
                1 => args.push(b"XX".to_vec()),
                2 | 3 => args.push(b"GET".to_vec()),
                4 => args.push(b"KEEPTTL".to_vec()),
                5..=8 => args.extend(g.expiry_option(false)),
                _ => args.push(g.pick(&["FOO", "EX", "nx ", "PXAT"])),
            }
        }
    }
    Cmd::exact(args)
}

fn gen_setnx(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["SETNX", g.key(), g.value()])
}

fn gen_setex(g: &mut Gen) -> Cmd {
    let ttl = match g.rng.random_range(0..10) {
        0 => g.pick(&["0", "-5"]),
        1 => g.bad_expire(),
        _ => g.relative_s().into_arg(),
    };
    Cmd::exact(args!["SETEX", g.key(), ttl, g.value()])
}

fn gen_psetex(g: &mut Gen) -> Cmd {
    let ttl = match g.rng.random_range(0..10) {
        0 => g.pick(&["0", "-5"]),
        1 => g.bad_expire(),
        _ => (g.relative_s() * 1000).into_arg(),
    };
    Cmd::exact(args!["PSETEX", g.key(), ttl, g.value()])
}

fn gen_getset(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["GETSET", g.key(), g.value()])
}

fn gen_getdel(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["GETDEL", g.key()])
}

fn gen_getex(g: &mut Gen) -> Cmd {
    let mut args = args!["GETEX", g.key()];
    match g.rng.random_range(0..10) {
        0..=2 => {}
        3..=6 => args.extend(g.expiry_option(true)),
        7 => args.push(b"PERSIST".to_vec()),
        8 => {
            args.extend(g.expiry_option(true));
            args.push(g.pick(&["PERSIST", "EX", "FOO"]));
        }
        _ => args.push(g.pick(&["FOO", "KEEPTTL", "NX"])),
    }
    Cmd::exact(args)
}

fn gen_mget(g: &mut Gen) -> Cmd {
    let mut args = args!["MGET"];
    args.extend(g.keys(1, 5));
    Cmd::exact(args)
}

fn mset_like(g: &mut Gen, name: &str) -> Cmd {
    let mut args = args![name];
    for _ in 0..g.rng.random_range(1..=4) {
        args.push(g.key());
        args.push(g.value());
    }
    if g.chance(0.05) {
        args.push(g.key());
    }
    Cmd::exact(args)
}

fn gen_mset(g: &mut Gen) -> Cmd {
    mset_like(g, "MSET")
}

fn gen_msetnx(g: &mut Gen) -> Cmd {
    mset_like(g, "MSETNX")
}

fn gen_incr(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["INCR", g.key()])
}

fn gen_decr(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["DECR", g.key()])
}

fn gen_incrby(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["INCRBY", g.key(), g.int(-1000, 1000)])
}

fn gen_decrby(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["DECRBY", g.key(), g.int(-1000, 1000)])
}

fn gen_incrbyfloat(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["INCRBYFLOAT", g.key(), g.float()])
}

fn gen_append(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["APPEND", g.key(), g.value()])
}

fn gen_strlen(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["STRLEN", g.key()])
}

fn gen_getrange(g: &mut Gen) -> Cmd {
    let name = if g.chance(0.8) { "GETRANGE" } else { "SUBSTR" };
    Cmd::exact(args![name, g.key(), g.int(-60, 60), g.int(-60, 60)])
}

fn gen_setrange(g: &mut Gen) -> Cmd {
    let offset = match g.rng.random_range(0..10) {
        0 => g.pick(&["-1", "536870912", "536870911", "9999999999", "abc", ""]),
        _ => g.rng.random_range(0i64..50).into_arg(),
    };
    // 536870911 with a non-empty value would ask for 512 MB: only with an empty one.
    let value = if offset == b"536870911" {
        Vec::new()
    } else {
        g.value()
    };
    Cmd::exact(args!["SETRANGE", g.key(), offset, value])
}

fn gen_lcs(g: &mut Gen) -> Cmd {
    let mut args = args!["LCS", g.key(), g.key()];
    for _ in 0..g.rng.random_range(0..=3) {
        match g.rng.random_range(0..10) {
            0 | 1 => args.push(b"LEN".to_vec()),
            2..=4 => args.push(b"IDX".to_vec()),
            5 | 6 => {
                args.push(b"MINMATCHLEN".to_vec());
                let n = g.int(0, 4);
                args.push(n);
            }
            7 | 8 => args.push(b"WITHMATCHLEN".to_vec()),
            _ => args.push(g.pick(&["FOO", "MINMATCHLEN"])),
        }
    }
    Cmd::exact(args)
}

// ---- keys ----

fn gen_del(g: &mut Gen) -> Cmd {
    let mut args = args!["DEL"];
    args.extend(g.keys(1, 4));
    Cmd::exact(args)
}

fn gen_unlink(g: &mut Gen) -> Cmd {
    let mut args = args!["UNLINK"];
    args.extend(g.keys(1, 4));
    Cmd::exact(args)
}

fn gen_exists(g: &mut Gen) -> Cmd {
    let mut args = args!["EXISTS"];
    args.extend(g.keys(1, 4));
    Cmd::exact(args)
}

fn gen_type(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["TYPE", g.key()])
}

fn gen_rename(g: &mut Gen) -> Cmd {
    let name = if g.chance(0.6) { "RENAME" } else { "RENAMENX" };
    let from = g.key();
    let to = if g.chance(0.1) { from.clone() } else { g.key() };
    Cmd::exact(args![name, from, to])
}

fn gen_copy(g: &mut Gen) -> Cmd {
    let from = g.key();
    let to = if g.chance(0.1) { from.clone() } else { g.key() };
    let mut args = args!["COPY", from, to];
    for _ in 0..g.rng.random_range(0..=2) {
        match g.rng.random_range(0..10) {
            0..=3 => {
                args.push(b"DB".to_vec());
                args.push(g.db());
            }
            4..=8 => args.push(b"REPLACE".to_vec()),
            _ => args.push(g.pick(&["FOO", "DB"])),
        }
    }
    Cmd::exact(args)
}

fn gen_touch(g: &mut Gen) -> Cmd {
    let mut args = args!["TOUCH"];
    args.extend(g.keys(1, 4));
    Cmd::exact(args)
}

fn gen_move(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["MOVE", g.key(), g.db()])
}

fn gen_swapdb(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["SWAPDB", g.db(), g.db()])
}

fn gen_dbsize(_g: &mut Gen) -> Cmd {
    Cmd::exact(args!["DBSIZE"])
}

fn gen_flushdb(g: &mut Gen) -> Cmd {
    let mut args = args!["FLUSHDB"];
    if g.chance(0.3) {
        args.push(g.pick(&["ASYNC", "SYNC", "sync", "FOO"]));
    }
    Cmd::exact(args)
}

fn gen_object(g: &mut Gen) -> Cmd {
    let sub = match g.rng.random_range(0..10) {
        0..=7 => "ENCODING",
        8 => "FREQ",
        _ => "NOSUCHSUB",
    };
    Cmd::exact(args!["OBJECT", sub, g.key()])
}

fn gen_randomkey(_g: &mut Gen) -> Cmd {
    Cmd::with(args!["RANDOMKEY"], Check::RandomKey)
}

fn gen_keys(g: &mut Gen) -> Cmd {
    Cmd::with(args!["KEYS", g.pattern()], Check::Unordered)
}

fn gen_scan(g: &mut Gen) -> Cmd {
    let valid = g.chance(0.8);
    let mut args = args!["SCAN", "0"];
    if g.chance(0.5) {
        args.push(b"MATCH".to_vec());
        args.push(g.pattern());
    }
    if g.chance(0.5) {
        args.push(b"COUNT".to_vec());
        args.push(g.rng.random_range(1i64..=20).into_arg());
    }
    if g.chance(0.2) {
        args.push(b"TYPE".to_vec());
        args.push(g.pick(&["string", "hash", "list", "nosuchtype"]));
    }
    if valid {
        return Cmd::with(
            args,
            Check::FullScan {
                cursor_at: 1,
                group: 1,
            },
        );
    }
    match g.rng.random_range(0..4) {
        // Only cursors that are not numbers: a number's meaning is the server's own.
        0 => args[1] = g.pick(&["abc", "1.5", " 0", "0x"]),
        1 => args.extend(args!["COUNT", g.pick(&["0", "-1", "abc"])]),
        2 => args.push(g.pick(&["MATCH", "COUNT", "TYPE"])),
        _ => args.push(b"FOO".to_vec()),
    }
    Cmd::exact(args)
}

// ---- expiry ----

fn expire_options(g: &mut Gen, args: &mut Vec<Vec<u8>>) {
    let n = match g.rng.random_range(0..10) {
        0..=5 => 0,
        6..=8 => 1,
        _ => 2,
    };
    for _ in 0..n {
        let option = if g.chance(0.95) {
            g.pick(&["NX", "XX", "GT", "LT"])
        } else {
            g.pick(&["FOO", "nx", ""])
        };
        args.push(option);
    }
}

fn gen_expire(g: &mut Gen) -> Cmd {
    let value = g.expire_relative(false);
    let mut args = args!["EXPIRE", g.key(), value];
    expire_options(g, &mut args);
    Cmd::exact(args)
}

fn gen_pexpire(g: &mut Gen) -> Cmd {
    let value = g.expire_relative(true);
    let mut args = args!["PEXPIRE", g.key(), value];
    expire_options(g, &mut args);
    Cmd::exact(args)
}

fn gen_expireat(g: &mut Gen) -> Cmd {
    let value = g.expire_absolute(false);
    let mut args = args!["EXPIREAT", g.key(), value];
    expire_options(g, &mut args);
    Cmd::exact(args)
}

fn gen_pexpireat(g: &mut Gen) -> Cmd {
    let value = g.expire_absolute(true);
    let mut args = args!["PEXPIREAT", g.key(), value];
    expire_options(g, &mut args);
    Cmd::exact(args)
}

fn gen_ttl(g: &mut Gen) -> Cmd {
    let (name, tolerance) = *[
        ("TTL", TTL_TOLERANCE_S),
        ("PTTL", TTL_TOLERANCE_S * 1000),
        ("EXPIRETIME", TTL_TOLERANCE_S),
        ("PEXPIRETIME", TTL_TOLERANCE_S * 1000),
    ]
    .choose(&mut g.rng)
    .unwrap_or(&("TTL", TTL_TOLERANCE_S));
    Cmd::with(args![name, g.key()], Check::Clock(tolerance))
}

fn gen_persist(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["PERSIST", g.key()])
}

// ---- transactions ----

fn gen_multi(_g: &mut Gen) -> Cmd {
    Cmd::exact(args!["MULTI"])
}

fn gen_exec(g: &mut Gen) -> Cmd {
    let model = &mut g.clients[g.current];
    if model.in_multi {
        Cmd::with(
            args!["EXEC"],
            Check::Exec(std::mem::take(&mut model.queued)),
        )
    } else {
        Cmd::exact(args!["EXEC"])
    }
}

fn gen_discard(_g: &mut Gen) -> Cmd {
    Cmd::exact(args!["DISCARD"])
}

fn gen_watch(g: &mut Gen) -> Cmd {
    let mut args = args!["WATCH"];
    args.extend(g.keys(1, 3));
    Cmd::exact(args)
}

fn gen_unwatch(_g: &mut Gen) -> Cmd {
    Cmd::exact(args!["UNWATCH"])
}

// ---- connection ----

fn gen_ping(g: &mut Gen) -> Cmd {
    if g.chance(0.5) {
        Cmd::exact(args!["PING"])
    } else {
        Cmd::exact(args!["PING", g.value()])
    }
}

fn gen_echo(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["ECHO", g.value()])
}

fn gen_select(g: &mut Gen) -> Cmd {
    Cmd::exact(args!["SELECT", g.db()])
}

fn gen_quit(_g: &mut Gen) -> Cmd {
    Cmd::with(args!["QUIT"], Check::Quit)
}

fn gen_reset(_g: &mut Gen) -> Cmd {
    Cmd::exact(args!["RESET"])
}

fn gen_client(g: &mut Gen) -> Cmd {
    if g.chance(0.5) {
        Cmd::exact(args!["CLIENT", "GETNAME"])
    } else {
        let name = g.pick(&["app", "worker-1", "", "has space", "new\nline", "x"]);
        Cmd::exact(args!["CLIENT", "SETNAME", name])
    }
}

fn gen_auth(g: &mut Gen) -> Cmd {
    match g.rng.random_range(0..3) {
        0 => Cmd::exact(args!["AUTH", g.word(1, 5)]),
        1 => Cmd::exact(args!["AUTH", "default", g.word(0, 5)]),
        _ => Cmd::exact(args!["AUTH", "nobody", g.word(0, 5)]),
    }
}

// ---- server ----

fn gen_flushall(g: &mut Gen) -> Cmd {
    let mut args = args!["FLUSHALL"];
    if g.chance(0.3) {
        args.push(g.pick(&["ASYNC", "SYNC", "FOO"]));
    }
    Cmd::exact(args)
}

fn gen_command(g: &mut Gen) -> Cmd {
    if g.chance(0.5) {
        let mut args = args!["COMMAND", "INFO"];
        for _ in 0..g.rng.random_range(1..=3) {
            let name = if g.chance(0.9) {
                let row = g.pick_row();
                if row.arity == 0 {
                    b"nosuchcommand".to_vec()
                } else {
                    row.name.into_arg()
                }
            } else {
                b"nosuchcommand".to_vec()
            };
            args.push(name);
        }
        return Cmd::with(args, Check::CommandInfo);
    }
    // COMMAND GETKEYS on a data command the generator makes.
    let sub = if g.chance(0.7) {
        "GETKEYS"
    } else {
        "GETKEYSANDFLAGS"
    };
    let data: Vec<&'static Row> = ROWS
        .iter()
        .filter(|r| matches!(r.family, "strings" | "keys" | "expire"))
        .collect();
    let row = data.choose(&mut g.rng).copied().unwrap_or(&ROWS[0]);
    let inner = (row.generate)(g);
    let mut args = args!["COMMAND", sub];
    args.extend(inner.args);
    Cmd::exact(args)
}

fn gen_config(g: &mut Gen) -> Cmd {
    let mut args = args!["CONFIG", "GET"];
    for _ in 0..g.rng.random_range(1..=3) {
        args.push(g.pick(CONFIG_PARAMS));
    }
    Cmd::with(args, Check::Pairs)
}

// ---- errors ----

fn gen_unknown(g: &mut Gen) -> Cmd {
    let mut args = args![g.pick(UNKNOWN)];
    for _ in 0..g.rng.random_range(0..=3) {
        let arg = if g.chance(0.1) {
            g.word(100, 140)
        } else {
            g.value()
        };
        args.push(arg);
    }
    Cmd::exact(args)
}

/// A known command with the wrong number of arguments.
fn gen_arity(g: &mut Gen) -> Cmd {
    for _ in 0..20 {
        let row = g.pick_row();
        let count = match row.arity {
            0 | -1 => continue,
            n if n > 0 => {
                let n = n as usize;
                if n > 1 && g.chance(0.5) {
                    g.rng.random_range(1..n)
                } else {
                    n + g.rng.random_range(1..=2)
                }
            }
            n => g.rng.random_range(1..n.unsigned_abs() as usize),
        };
        let mut args = args![row.name.to_ascii_uppercase()];
        while args.len() < count {
            args.push(g.key());
        }
        return Cmd::exact(args);
    }
    gen_unknown(g)
}

macro_rules! row {
    ($name:literal, $family:literal, $arity:expr, $weight:expr, $generate:expr) => {
        Row {
            name: $name,
            family: $family,
            arity: $arity,
            weight: $weight,
            generate: $generate,
        }
    };
}

/// The generator's table: one row per command (name as in Redis's table, lowercase).
static ROWS: &[Row] = &[
    // strings
    row!("get", "strings", 2, 30, gen_get),
    row!("set", "strings", -3, 40, gen_set),
    row!("setnx", "strings", 3, 5, gen_setnx),
    row!("setex", "strings", 4, 5, gen_setex),
    row!("psetex", "strings", 4, 5, gen_psetex),
    row!("getset", "strings", 3, 5, gen_getset),
    row!("getdel", "strings", 2, 5, gen_getdel),
    row!("getex", "strings", -2, 8, gen_getex),
    row!("mget", "strings", -2, 8, gen_mget),
    row!("mset", "strings", -3, 8, gen_mset),
    row!("msetnx", "strings", -3, 5, gen_msetnx),
    row!("incr", "strings", 2, 10, gen_incr),
    row!("decr", "strings", 2, 5, gen_decr),
    row!("incrby", "strings", 3, 8, gen_incrby),
    row!("decrby", "strings", 3, 5, gen_decrby),
    row!("incrbyfloat", "strings", 3, 8, gen_incrbyfloat),
    row!("append", "strings", 3, 8, gen_append),
    row!("strlen", "strings", 2, 5, gen_strlen),
    row!("getrange", "strings", 4, 8, gen_getrange),
    row!("setrange", "strings", 4, 6, gen_setrange),
    row!("lcs", "strings", -3, 4, gen_lcs),
    // keys
    row!("del", "keys", -2, 12, gen_del),
    row!("unlink", "keys", -2, 4, gen_unlink),
    row!("exists", "keys", -2, 10, gen_exists),
    row!("type", "keys", 2, 5, gen_type),
    row!("rename", "keys", 3, 6, gen_rename),
    row!("copy", "keys", -3, 5, gen_copy),
    row!("touch", "keys", -2, 3, gen_touch),
    row!("move", "keys", 3, 4, gen_move),
    row!("swapdb", "keys", 3, 1, gen_swapdb),
    row!("dbsize", "keys", 1, 5, gen_dbsize),
    row!("flushdb", "keys", -1, 1, gen_flushdb),
    row!("object", "keys", -2, 6, gen_object),
    row!("randomkey", "keys", 1, 3, gen_randomkey),
    row!("keys", "keys", 2, 6, gen_keys),
    row!("scan", "keys", -2, 4, gen_scan),
    // expiry
    row!("expire", "expire", -3, 8, gen_expire),
    row!("pexpire", "expire", -3, 5, gen_pexpire),
    row!("expireat", "expire", -3, 5, gen_expireat),
    row!("pexpireat", "expire", -3, 5, gen_pexpireat),
    row!("ttl", "expire", 2, 12, gen_ttl),
    row!("persist", "expire", 2, 4, gen_persist),
    // transactions
    row!("multi", "tx", 1, 5, gen_multi),
    row!("exec", "tx", 1, 2, gen_exec),
    row!("discard", "tx", 1, 1, gen_discard),
    row!("watch", "tx", -2, 4, gen_watch),
    row!("unwatch", "tx", 1, 1, gen_unwatch),
    // connection
    row!("ping", "connection", -1, 3, gen_ping),
    row!("echo", "connection", 2, 2, gen_echo),
    row!("select", "connection", 2, 6, gen_select),
    row!("quit", "connection", -1, 1, gen_quit),
    row!("reset", "connection", 1, 1, gen_reset),
    row!("client", "connection", -2, 2, gen_client),
    row!("auth", "connection", -2, 1, gen_auth),
    // server
    row!("flushall", "server", -1, 1, gen_flushall),
    row!("command", "server", -1, 2, gen_command),
    row!("config", "server", -2, 2, gen_config),
    // errors
    row!("(unknown)", "errors", 0, 4, gen_unknown),
    row!("(arity)", "errors", 0, 6, gen_arity),
];

/// What the server skeleton implements: `KOPI_DIFF_FAMILIES=core`.
const CORE: &[&str] = &[
    "get",
    "set",
    "del",
    "exists",
    "ping",
    "echo",
    "select",
    "quit",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "dbsize",
    "(unknown)",
    "(arity)",
];

/// The rows `KOPI_DIFF_FAMILIES` asks for.
fn select_rows(families: &str) -> Vec<&'static Row> {
    let wanted: Vec<&str> = families
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    if wanted.is_empty() || wanted == ["all"] {
        return ROWS.iter().collect();
    }
    for family in &wanted {
        assert!(
            *family == "core" || ROWS.iter().any(|r| r.family == *family),
            "KOPI_DIFF_FAMILIES: unknown family {family:?}; known: core, {}",
            known_families().join(", ")
        );
    }
    ROWS.iter()
        .filter(|r| {
            wanted.contains(&r.family) || (wanted.contains(&"core") && CORE.contains(&r.name))
        })
        .collect()
}

fn known_families() -> Vec<&'static str> {
    let mut families: Vec<&str> = ROWS.iter().map(|r| r.family).collect();
    families.dedup();
    families
}

// ---- the reference server ----

/// How the reference `redis-server` runs: no persistence.
const REDIS_ARGS: &[&str] = &["--save", "", "--appendonly", "no"];

// ---- the runner ----

type Reply = Result<Vec<u8>, String>;

/// One client's connection to each server.
struct Pair {
    kopi: Raw,
    redis: Raw,
}

impl Pair {
    fn connect(kopi: u16, redis: u16) -> Pair {
        Pair {
            kopi: Raw::connect(kopi),
            redis: Raw::connect(redis),
        }
    }
}

fn read(raw: &mut Raw) -> Reply {
    let mut out = Vec::new();
    match read_value(&mut raw.reader, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => Err(format!("no reply ({e}), read so far: \"{}\"", show(&out))),
    }
}

fn show_reply(reply: &Reply) -> String {
    match reply {
        Ok(bytes) => format!("\"{}\"", show(bytes)),
        Err(e) => e.clone(),
    }
}

/// The wire form: RESP mostly, the inline form now and then where the arguments allow it.
fn wire(args: &[Vec<u8>], inline: bool) -> Vec<u8> {
    let plain = |a: &Vec<u8>| {
        !a.is_empty()
            && a.iter()
                .all(|&b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\'')
    };
    if inline && args.iter().all(plain) {
        let mut out = args.join(&b' ');
        out.extend_from_slice(b"\r\n");
        return out;
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    common::encode(&refs)
}

struct Difference {
    index: usize,
    client: usize,
    command: String,
    kopi: String,
    redis: String,
    note: String,
}

struct Runner {
    /// What the server under test is called in messages.
    subject: &'static str,
    kopi_port: u16,
    redis_port: u16,
    clients: [Pair; 2],
    history: VecDeque<String>,
    keep_going: bool,
    rerun: String,
    /// Per command name: how many differences, and the first one.
    differences: BTreeMap<String, (usize, Difference)>,
    resync: bool,
}

impl Runner {
    fn record(&mut self, index: usize, client: usize, args: &[Vec<u8>], redis: &Reply) {
        if self.history.len() == 20 {
            self.history.pop_front();
        }
        self.history.push_back(format!(
            "#{index} c{client} {}  -> {}",
            show_command(args),
            show_reply(redis)
        ));
    }

    fn differ(&mut self, d: Difference) {
        if !self.keep_going {
            eprintln!("\n==== {} and redis-server differ ====", self.subject);
            eprintln!("{}", self.rerun);
            eprintln!("last commands (client, command -> redis-server's reply):");
            for line in &self.history {
                eprintln!("  {line}");
            }
            eprintln!(
                "difference at command #{} on client c{}:",
                d.index, d.client
            );
            eprintln!("  command: {}", d.command);
            eprintln!("  {}: {}", self.subject, d.kopi);
            eprintln!("  redis: {}", d.redis);
            if !d.note.is_empty() {
                eprintln!("  note: {}", d.note);
            }
            panic!(
                "{} and redis-server differ at command #{}: {} ({})",
                self.subject, d.index, d.command, self.rerun
            );
        }
        let name = d
            .command
            .split(' ')
            .next()
            .unwrap_or("")
            .trim_matches('"')
            .to_ascii_uppercase();
        self.differences
            .entry(name)
            .and_modify(|(n, _)| *n += 1)
            .or_insert((1, d));
        self.resync = true;
    }

    /// Sends a pipelined batch for one client and checks every reply.
    fn run_batch(&mut self, client: usize, batch: &mut Vec<(usize, Cmd)>, inline: bool) {
        if batch.is_empty() {
            return;
        }
        let mut bytes = Vec::new();
        for (_, cmd) in batch.iter() {
            bytes.extend(wire(&cmd.args, inline));
        }
        let pair = &mut self.clients[client];
        let _ = pair.kopi.writer.write_all(&bytes);
        let _ = pair.redis.writer.write_all(&bytes);
        for (index, cmd) in batch.drain(..) {
            let pair = &mut self.clients[client];
            let kopi = read(&mut pair.kopi);
            let redis = read(&mut pair.redis);
            self.record(index, client, &cmd.args, &redis);
            let mut note = String::new();
            let same = match (&kopi, &redis) {
                // Kept going after a difference earlier in this batch: the servers have
                // drifted apart until the resync, so the rest proves nothing.
                _ if self.resync => true,
                (Ok(k), Ok(r)) => {
                    let mut same = agree(&cmd.check, k, r);
                    if same && matches!(cmd.check, Check::RandomKey) && k != r {
                        // Two different keys are fine only where there are several.
                        let pair = &mut self.clients[client];
                        let _ = pair.kopi.writer.write_all(b"DBSIZE\r\n");
                        let _ = pair.redis.writer.write_all(b"DBSIZE\r\n");
                        let kopi_size = read(&mut pair.kopi);
                        let redis_size = read(&mut pair.redis);
                        let several = kopi_size == redis_size
                            && redis_size
                                .as_ref()
                                .ok()
                                .and_then(|r| integer(r))
                                .is_some_and(|n| n > 1);
                        if !several {
                            same = false;
                            note = format!(
                                "DBSIZE after it: {} {}, redis {}",
                                self.subject,
                                show_reply(&kopi_size),
                                show_reply(&redis_size)
                            );
                        }
                    }
                    if same && matches!(cmd.check, Check::Quit) && r == b"+OK\r\n" {
                        let pair = &mut self.clients[client];
                        if !pair.kopi.closed() {
                            same = false;
                            note = format!("{} kept the connection open after QUIT", self.subject);
                        }
                    }
                    same
                }
                _ => false,
            };
            if !same {
                self.differ(Difference {
                    index,
                    client,
                    command: show_command(&cmd.args),
                    kopi: show_reply(&kopi),
                    redis: show_reply(&redis),
                    note,
                });
            }
            if matches!(cmd.check, Check::Quit) {
                self.clients[client] = Pair::connect(self.kopi_port, self.redis_port);
            }
        }
    }

    /// SCAN from cursor 0 to the end on each server; the sets of keys must be equal.
    fn run_full_scan(&mut self, client: usize, index: usize, cmd: Cmd) {
        let Check::FullScan { cursor_at, group } = cmd.check else {
            return;
        };
        let pair = &mut self.clients[client];
        let kopi = full_scan(&mut pair.kopi, &cmd.args, cursor_at, group);
        let redis = full_scan(&mut pair.redis, &cmd.args, cursor_at, group);
        let shown = |r: &Result<Vec<Vec<u8>>, Reply>| match r {
            Ok(items) => format!(
                "items {}",
                items
                    .iter()
                    .map(|k| format!("\"{}\"", show(k)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err(reply) => show_reply(reply),
        };
        let redis_shown = shown(&redis);
        self.history.push_back(format!(
            "#{index} c{client} {} (to the end) -> {redis_shown}",
            show_command(&cmd.args)
        ));
        if self.history.len() > 20 {
            self.history.pop_front();
        }
        if kopi != redis {
            let kopi_shown = shown(&kopi);
            self.differ(Difference {
                index,
                client,
                command: show_command(&cmd.args),
                kopi: kopi_shown,
                redis: redis_shown,
                note: "iterated to the end on each server, items compared as sets".into(),
            });
        }
    }

    /// After a difference (KOPI_DIFF_KEEP_GOING): fresh connections, the same empty dbs.
    fn resync(&mut self, generator: &mut Gen) {
        self.clients = [
            Pair::connect(self.kopi_port, self.redis_port),
            Pair::connect(self.kopi_port, self.redis_port),
        ];
        generator.reset_models();
        for port in [self.kopi_port, self.redis_port] {
            let mut raw = Raw::connect(port);
            for db in DBS {
                let mut del = args!["DEL"];
                del.extend(KEYS.iter().map(|k| k.into_arg()));
                let mut bytes = wire(&[b"SELECT".to_vec(), db.into_arg()], false);
                bytes.extend(wire(&del, false));
                let _ = raw.writer.write_all(&bytes);
                let _ = read(&mut raw);
                let _ = read(&mut raw);
            }
        }
        self.resync = false;
    }
}

/// Runs a SCAN-like command from cursor 0 until the cursor comes back 0. Returns the items
/// seen (`group` elements each, raw), sorted and deduplicated, or the first reply that was
/// not a page.
fn full_scan(
    raw: &mut Raw,
    args: &[Vec<u8>],
    cursor_at: usize,
    group: usize,
) -> Result<Vec<Vec<u8>>, Reply> {
    let mut args = args.to_vec();
    let mut items = Vec::new();
    for _ in 0..10_000 {
        let _ = raw.writer.write_all(&wire(&args, false));
        let reply = match read(raw) {
            Ok(reply) => reply,
            Err(e) => return Err(Err(e)),
        };
        let page = elements(&reply)
            .filter(|e| e.len() == 2)
            .and_then(|e| Some((bulk(e[0])?.to_vec(), elements(e[1])?)));
        let Some((cursor, batch)) = page else {
            return Err(Ok(reply));
        };
        if batch.len() % group.max(1) != 0 {
            return Err(Ok(reply));
        }
        items.extend(batch.chunks(group.max(1)).map(|item| item.concat()));
        if cursor == b"0" {
            items.sort();
            items.dedup();
            return Ok(items);
        }
        args[cursor_at] = cursor;
    }
    Err(Err(
        "the cursor did not come back to 0 in 10000 calls".into()
    ))
}

/// The run's parameters, from the environment.
struct Settings {
    seed: u64,
    commands: usize,
    families: String,
    keep_going: bool,
}

impl Settings {
    fn from_env(default_commands: usize) -> Settings {
        let seed = match std::env::var("KOPI_DIFF_SEED") {
            Ok(s) => s
                .trim()
                .parse()
                .expect("KOPI_DIFF_SEED must be an unsigned integer"),
            Err(_) => rand::rng().random::<u64>(),
        };
        let commands = match std::env::var("KOPI_DIFF_COMMANDS") {
            Ok(s) => s
                .trim()
                .parse()
                .expect("KOPI_DIFF_COMMANDS must be a number"),
            Err(_) => default_commands,
        };
        Settings {
            seed,
            commands,
            families: std::env::var("KOPI_DIFF_FAMILIES").unwrap_or_else(|_| "all".into()),
            keep_going: std::env::var_os("KOPI_DIFF_KEEP_GOING").is_some(),
        }
    }
}

/// Sends the stream `settings` describe to `subject` (the server under test) and to the
/// reference `redis-server`, and fails on a difference.
fn run(settings: &Settings, test: &str, subject: &'static str, subject_port: u16, redis_port: u16) {
    let Settings {
        seed,
        commands,
        ref families,
        keep_going,
    } = *settings;
    let rerun = format!(
        "seed {seed}: rerun with KOPI_DIFF_SEED={seed} KOPI_DIFF_COMMANDS={commands} \
         KOPI_DIFF_FAMILIES={families} cargo test --test differential {test}"
    );
    eprintln!("differential: {commands} commands, families {families}, {rerun}");
    let mut generator = Gen::new(seed, select_rows(families), commands);
    let mut runner = Runner {
        subject,
        kopi_port: subject_port,
        redis_port,
        clients: [
            Pair::connect(subject_port, redis_port),
            Pair::connect(subject_port, redis_port),
        ],
        history: VecDeque::new(),
        keep_going,
        rerun: rerun.clone(),
        differences: BTreeMap::new(),
        resync: false,
    };

    let started = Instant::now();
    let mut index = 0;
    while index < commands {
        let client = generator.pick_client();
        let target = generator.batch_len();
        let inline = generator.chance(0.05);
        let mut batch = Vec::new();
        while batch.len() < target && index < commands {
            let cmd = generator.next(client, index as i64);
            index += 1;
            match cmd.check {
                Check::FullScan { .. } => {
                    runner.run_batch(client, &mut batch, inline);
                    runner.run_full_scan(client, index - 1, cmd);
                    break;
                }
                Check::Quit | Check::RandomKey => {
                    batch.push((index - 1, cmd));
                    break;
                }
                _ => batch.push((index - 1, cmd)),
            }
        }
        runner.run_batch(client, &mut batch, inline);
        if runner.resync {
            runner.resync(&mut generator);
        }
    }
    eprintln!(
        "differential: {commands} commands in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    if !runner.differences.is_empty() {
        let total: usize = runner.differences.values().map(|(n, _)| n).sum();
        eprintln!("\n==== {total} differences by command ({rerun}) ====");
        let mut by_count: Vec<_> = runner.differences.iter().collect();
        by_count.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
        for (name, (n, d)) in by_count {
            eprintln!("{name}: {n}, first at #{} on c{}", d.index, d.client);
            eprintln!("  command: {}", d.command);
            eprintln!("  {subject}: {}", d.kopi);
            eprintln!("  redis: {}", d.redis);
            if !d.note.is_empty() {
                eprintln!("  note: {}", d.note);
            }
        }
        panic!("{total} differences between {subject} and redis-server ({rerun})");
    }
}

#[test]
fn kopi_replies_like_redis() {
    let Some(program) = require_program("redis-server", "kopi_replies_like_redis") else {
        return;
    };
    let settings = Settings::from_env(20_000);
    let redis = RedisServer::start(&program, REDIS_ARGS);
    let kopi = Server::start();
    run(
        &settings,
        "kopi_replies_like_redis",
        "kopi",
        kopi.port,
        redis.port,
    );
}

/// The generator and the checks against Redis itself: two redis-servers must never differ,
/// whatever the timing. A row whose replies depend on timing or chance fails here first.
#[test]
fn two_redis_servers_never_differ() {
    let Some(program) = require_program("redis-server", "two_redis_servers_never_differ") else {
        return;
    };
    let settings = Settings::from_env(10_000);
    let reference = RedisServer::start(&program, REDIS_ARGS);
    let other = RedisServer::start(&program, REDIS_ARGS);
    run(
        &settings,
        "two_redis_servers_never_differ",
        "redis-server #2",
        other.port,
        reference.port,
    );
}

// ---- the checks themselves ----

#[test]
fn unordered_replies_compare_as_sets() {
    let a = b"*2\r\n$1\r\na\r\n$1\r\nb\r\n";
    let b = b"*2\r\n$1\r\nb\r\n$1\r\na\r\n";
    let c = b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n";
    assert!(agree(&Check::Unordered, a, b));
    assert!(!agree(&Check::Unordered, a, c));
    assert!(!agree(&Check::Exact, a, b));
    assert!(!agree(&Check::Unordered, a, b"*1\r\n$1\r\na\r\n"));
}

#[test]
fn pairs_keep_names_with_their_values() {
    let a = b"*4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n";
    let b = b"*4\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nx\r\n$1\r\n1\r\n";
    let swapped = b"*4\r\n$1\r\ny\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n2\r\n";
    assert!(agree(&Check::Pairs, a, b));
    assert!(!agree(&Check::Pairs, a, swapped));
}

#[test]
fn clock_values_agree_within_the_tolerance_and_codes_exactly() {
    let check = Check::Clock(60);
    assert!(agree(&check, b":100000\r\n", b":99990\r\n"));
    assert!(!agree(&check, b":100000\r\n", b":100\r\n"));
    assert!(!agree(&check, b":-1\r\n", b":-2\r\n"));
    assert!(!agree(&check, b":10\r\n", b":-1\r\n"));
    assert!(!agree(&check, b"-ERR x\r\n", b":5\r\n"));
}

#[test]
fn exec_elements_use_their_queued_checks() {
    let check = Check::Exec(vec![Check::Exact, Check::Unordered]);
    let kopi = b"*2\r\n+OK\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n";
    let redis = b"*2\r\n+OK\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n";
    assert!(agree(&check, kopi, redis));
    let wrong = b"*2\r\n+QUEUED\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n";
    assert!(!agree(&check, wrong, redis));
    assert!(!agree(&check, b"*-1\r\n", redis));
}

#[test]
fn random_keys_must_both_be_keys() {
    assert!(agree(&Check::RandomKey, b"$1\r\na\r\n", b"$1\r\nb\r\n"));
    assert!(!agree(&Check::RandomKey, b"$-1\r\n", b"$1\r\nb\r\n"));
}

#[test]
fn relative_deadlines_never_tie() {
    let rows = select_rows("all");
    let mut generator = Gen::new(7, rows, 1000);
    let mut seen = std::collections::HashSet::new();
    for seq in 0..1000 {
        generator.seq = seq;
        for _ in 0..4 {
            let s = generator.relative_s();
            assert_eq!(s % STEP_S, 0);
            seen.insert((seq, s));
        }
    }
    let values: std::collections::HashSet<i64> = seen.iter().map(|(_, s)| *s).collect();
    // One up and one down value per command, and no two commands share one.
    let per_command: std::collections::HashSet<(i64, i64)> = seen.into_iter().collect();
    assert_eq!(values.len(), per_command.len());
    let absolute = generator.absolute_s() - generator.start_s;
    assert_eq!(absolute % STEP_S, STEP_S / 2);
}

#[test]
fn family_selection() {
    let core = select_rows("core");
    assert!(core.iter().all(|r| CORE.contains(&r.name)));
    assert_eq!(core.len(), CORE.len());
    let strings = select_rows("strings");
    assert!(strings.iter().all(|r| r.family == "strings"));
    assert_eq!(select_rows("all").len(), ROWS.len());
    assert_eq!(select_rows("").len(), ROWS.len());
}
