//! Support for the hash and set tests: a RESP reply parser, and a differential runner that
//! sends the same commands to kopi and to `redis-server` 7.0 and compares the replies.
#![allow(dead_code)]

use crate::common::{Raw, RedisServer, Server, require_program};

/// A parsed reply: a line or blob with its type byte, or an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resp {
    Atom(u8, Vec<u8>),
    Agg(u8, Vec<Resp>),
}

pub fn parse(raw: &[u8]) -> Resp {
    let (value, rest) = parse_at(raw);
    assert!(rest.is_empty(), "trailing bytes after a reply");
    value
}

fn parse_at(raw: &[u8]) -> (Resp, &[u8]) {
    let end = raw.windows(2).position(|w| w == b"\r\n").expect("a line");
    let (tag, body) = (raw[0], &raw[1..end]);
    let rest = &raw[end + 2..];
    let n = || -> i64 { std::str::from_utf8(body).unwrap().parse().unwrap() };
    match tag {
        b'$' | b'=' | b'!' if n() >= 0 => {
            let len = n() as usize;
            (Resp::Atom(tag, rest[..len].to_vec()), &rest[len + 2..])
        }
        b'*' | b'~' | b'%' | b'>' if n() >= 0 => {
            let count = if tag == b'%' { 2 * n() } else { n() };
            let mut items = Vec::new();
            let mut rest = rest;
            for _ in 0..count {
                let (item, next) = parse_at(rest);
                items.push(item);
                rest = next;
            }
            (Resp::Agg(tag, items), rest)
        }
        _ => (Resp::Atom(tag, body.to_vec()), rest),
    }
}

impl Resp {
    /// The same reply with its elements (or, with `pairs`, its element pairs) sorted.
    pub fn sorted(self, pairs: bool) -> Resp {
        match self {
            // RESP3 pairs are already aggregates of their own.
            Resp::Agg(tag, items) if pairs && !matches!(items.first(), Some(Resp::Agg(..))) => {
                let mut chunks: Vec<Vec<Resp>> = items.chunks(2).map(|c| c.to_vec()).collect();
                chunks.sort();
                Resp::Agg(tag, chunks.into_iter().flatten().collect())
            }
            Resp::Agg(tag, mut items) => {
                items.sort();
                Resp::Agg(tag, items)
            }
            other => other,
        }
    }

    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Agg(_, items) => items,
            Resp::Atom(..) => &[],
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Resp::Atom(_, b) => b,
            Resp::Agg(..) => &[],
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Atom(b'-', _))
    }
}

/// How two replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Byte for byte.
    Exact,
    /// Byte for byte when the key is compactly encoded in Redis, as a sorted multiset (of
    /// pairs, with `true`) when it is a hashtable.
    OrderOf(bool),
    /// Always as a sorted multiset (results of several keys).
    Unordered,
    /// Random picks: the same type and length (or the same error).
    Shape,
    /// A full SCAN iteration: the same elements (or pairs, with `true`) in the end.
    Scan(bool),
}

/// Kopi and redis-server side by side, each with one raw connection.
pub struct Pair {
    pub kopi: Raw,
    pub redis: Raw,
    pub sent: usize,
}

pub fn arg_refs(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(|a| &a[..]).collect()
}

fn call(conn: &mut Raw, args: &[Vec<u8>]) -> Vec<u8> {
    conn.send_cmd(&arg_refs(args));
    conn.read_reply()
}

fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(&a[..a.len().min(40)]).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every element a SCAN over `args` (cursor at index 2) returns until the cursor is back to 0.
fn full_scan(conn: &mut Raw, args: &[Vec<u8>], pairs: bool) -> Resp {
    let mut args = args.to_vec();
    args[2] = b"0".to_vec();
    let mut all = Vec::new();
    for _ in 0..100_000 {
        let reply = parse(&call(conn, &args));
        if reply.is_error() {
            return reply;
        }
        let cursor = reply.items()[0].bytes().to_vec();
        all.extend(reply.items()[1].items().iter().cloned());
        if cursor == b"0" {
            break;
        }
        args[2] = cursor;
    }
    let mut chunks: Vec<Vec<Resp>> = all
        .chunks(if pairs { 2 } else { 1 })
        .map(|c| c.to_vec())
        .collect();
    chunks.sort();
    chunks.dedup();
    Resp::Agg(b'*', chunks.into_iter().flatten().collect())
}

impl Pair {
    pub fn new(kopi: &Server, redis: &RedisServer) -> Pair {
        Pair {
            kopi: kopi.raw(),
            redis: redis.raw(),
            sent: 0,
        }
    }

    /// Runs `args` on both; panics with both replies when they differ under `check`.
    pub fn run(&mut self, args: &[Vec<u8>], check: Check) {
        self.sent += 1;
        if let Check::Scan(pairs) = check {
            let a = full_scan(&mut self.kopi, args, pairs);
            let b = full_scan(&mut self.redis, args, pairs);
            assert_eq!(a, b, "command #{}: {}", self.sent, show(args));
            return;
        }
        let hashtable = match check {
            Check::OrderOf(_) => {
                let probe = vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), args[1].clone()];
                call(&mut self.redis, &probe) == b"$9\r\nhashtable\r\n"
            }
            _ => false,
        };
        let a = call(&mut self.kopi, args);
        let b = call(&mut self.redis, args);
        let same = match check {
            Check::Exact => a == b,
            Check::OrderOf(_) if !hashtable => a == b,
            Check::OrderOf(pairs) => parse(&a).sorted(pairs) == parse(&b).sorted(pairs),
            Check::Unordered => parse(&a).sorted(false) == parse(&b).sorted(false),
            Check::Shape => {
                let (pa, pb) = (parse(&a), parse(&b));
                match (&pa, &pb) {
                    (Resp::Agg(ta, ia), Resp::Agg(tb, ib)) => ta == tb && ia.len() == ib.len(),
                    (Resp::Atom(ta, _), Resp::Atom(tb, _)) if pa.is_error() => ta == tb && a == b,
                    (Resp::Atom(ta, _), Resp::Atom(tb, _)) => ta == tb,
                    _ => false,
                }
            }
            Check::Scan(_) => unreachable!("handled above"),
        };
        assert!(
            same,
            "command #{}: {}\n kopi:  {:?}\n redis: {:?}",
            self.sent,
            show(args),
            String::from_utf8_lossy(&a[..a.len().min(400)]),
            String::from_utf8_lossy(&b[..b.len().min(400)])
        );
    }

    /// Runs a command given as words, compared exactly.
    pub fn exact(&mut self, words: &[&str]) {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        self.run(&args, Check::Exact);
    }

    /// Both datasets digest the same.
    pub fn same_digest(&mut self) {
        self.exact(&["DEBUG", "DIGEST"]);
    }
}

impl Pair {
    /// Switches both connections to RESP3 (the HELLO replies differ and are not compared).
    pub fn hello3(&mut self) {
        let args = vec![b"HELLO".to_vec(), b"3".to_vec()];
        call(&mut self.kopi, &args);
        call(&mut self.redis, &args);
    }

    /// Asks Redis alone (a probe that changes nothing), returning its raw reply.
    pub fn probe_redis(&mut self, words: &[&[u8]]) -> Vec<u8> {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.to_vec()).collect();
        call(&mut self.redis, &args)
    }
}

/// The integer of a `:n` reply.
pub fn int_reply(raw: &[u8]) -> i64 {
    std::str::from_utf8(&raw[1..raw.len() - 2])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Waits until no AOF rewrite is in progress on the server behind `raw`.
pub fn wait_for_rewrite(raw: &mut Raw) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let info = raw.cmd(&["INFO", "persistence"]);
        if info.contains("aof_rewrite_in_progress:0") && !info.contains("aof_rewrite_scheduled:1") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rewrite never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A redis-server 7.0 for the comparison (None, loudly, when it is absent outside CI).
pub fn redis(test: &str) -> Option<RedisServer> {
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

/// kopi with DEBUG enabled.
pub fn kopi() -> Server {
    Server::start_with(&["--enable-debug-command", "yes"])
}
