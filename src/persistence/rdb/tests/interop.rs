//! Golden tests against the real `redis-server` 7.0: files Redis saves are read back key by
//! key, DUMP payloads are compared byte for byte with ours (compression off), and files we
//! write pass `redis-check-rdb` and load into Redis with the same content.
//!
//! Without `redis-server` these tests print `SKIPPED` and pass, unless `CI` is set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::persistence::fs::TempDir;

fn tools_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} not found and CI is set"
        );
        eprintln!("\n*** SKIPPED: {tool} not found ***\n");
    }
    found
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    fn bulk(self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    fn int(self) -> i64 {
        match self {
            Reply::Int(n) => n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

/// A `redis-server` on a free port, stopped when dropped.
struct Redis {
    child: Child,
    conn: BufReader<TcpStream>,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    fn start(dir: &Path, extra: &[&str]) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--enable-debug-command", "yes", "--logfile", ""])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(5);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("redis-server did not listen: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let mut redis = Redis {
            child,
            conn: BufReader::new(stream),
        };
        while redis.call(&["PING"]) != Reply::Status("PONG".into()) {
            assert!(Instant::now() < deadline, "redis-server kept loading");
            std::thread::sleep(Duration::from_millis(5));
        }
        redis
    }

    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.conn.get_mut().write_all(&out).unwrap();
        self.read_reply()
    }

    fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let reply = self.call(args);
        assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
        reply
    }

    fn read_reply(&mut self) -> Reply {
        let mut line = Vec::new();
        self.conn.read_until(b'\n', &mut line).unwrap();
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        match line[0] {
            b'+' => Reply::Status(text),
            b'-' => Reply::Error(text),
            b':' => Reply::Int(text.parse().unwrap()),
            b'$' => {
                let len: i64 = text.parse().unwrap();
                if len < 0 {
                    return Reply::Bulk(None);
                }
                let mut data = vec![0; len as usize + 2];
                self.conn.read_exact(&mut data).unwrap();
                data.truncate(len as usize);
                Reply::Bulk(Some(data))
            }
            b'*' => {
                let n: i64 = text.parse().unwrap();
                Reply::Array((0..n.max(0)).map(|_| self.read_reply()).collect())
            }
            other => panic!("unexpected reply type {other}"),
        }
    }

    /// Creates `value` under `key` with the commands a client would use.
    fn create(&mut self, key: &[u8], value: &Value) {
        let batch = |redis: &mut Redis, command: &str, items: Vec<Vec<u8>>, per: usize| {
            for chunk in items.chunks(per * 100) {
                let mut args: Vec<Vec<u8>> = vec![command.into(), key.to_vec()];
                args.extend(chunk.iter().cloned());
                redis.ok(&args);
            }
        };
        match value {
            Value::String(s) => {
                self.ok(&[&b"SET"[..], key, &s.to_vec()]);
            }
            Value::List(l) => batch(self, "RPUSH", l.iter().map(|i| i.to_vec()).collect(), 1),
            Value::Set(s) => batch(self, "SADD", s.iter().map(|m| m.to_vec()).collect(), 1),
            Value::ZSet(z) => {
                let mut args = Vec::new();
                for (score, member) in z.elements() {
                    args.push(crate::util::format_double(score).into_bytes());
                    args.push(member);
                }
                batch(self, "ZADD", args, 2)
            }
            Value::Hash(h) => batch(
                self,
                "HSET",
                h.iter()
                    .flat_map(|(f, v)| [f.to_vec(), v.to_vec()])
                    .collect(),
                2,
            ),
        }
    }
}

/// What a database holds: key → (content, encoding, expiry).
type Dataset = BTreeMap<(usize, Vec<u8>), (Content, &'static str, i64)>;

fn read_dataset(bytes: &[u8]) -> (Dataset, Vec<Item>) {
    let mut reader = RdbReader::new(bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut data = Dataset::new();
    let mut others = Vec::new();
    let mut db = 0;
    loop {
        match reader.next_item().unwrap_or_else(|e| panic!("{e}")) {
            Item::SelectDb(n) => db = n,
            Item::Key {
                key,
                value,
                expire_at_ms,
                ..
            } => {
                data.insert(
                    (db, key),
                    (content(&value), value.encoding_name(), expire_at_ms),
                );
            }
            end @ Item::End { .. } => {
                assert_eq!(reader.offset(), bytes.len() as u64);
                others.push(end);
                return (data, others);
            }
            other => others.push(other),
        }
    }
}

/// The keys the golden tests store: every sample in db 0, a few in dbs 3 and 15, some with
/// expiry times (one already past).
fn golden_keys() -> Vec<(usize, Vec<u8>, Value, i64)> {
    let future_ms = 4_000_000_000_000;
    let mut keys = Vec::new();
    for (i, (name, value)) in samples().into_iter().enumerate() {
        let expire = if i % 5 == 0 {
            future_ms + i as i64
        } else {
            NO_EXPIRY
        };
        keys.push((0, name.as_bytes().to_vec(), value, expire));
    }
    keys.push((3, b"db3key".to_vec(), string(b"x"), NO_EXPIRY));
    keys.push((3, b"db3list".to_vec(), list(&[b"1".to_vec()]), future_ms));
    keys.push((15, b"last-db".to_vec(), set(&[b"a".to_vec()]), NO_EXPIRY));
    keys
}

fn fill(redis: &mut Redis, keys: &[(usize, Vec<u8>, Value, i64)]) {
    for (db, key, value, expire) in keys {
        redis.ok(&["SELECT", &db.to_string()]);
        redis.create(key, value);
        if *expire != NO_EXPIRY {
            redis.ok(&[&b"PEXPIREAT"[..], key, expire.to_string().as_bytes()]);
        }
    }
    redis.ok(&["SELECT", "0"]);
}

fn expected_dataset(keys: &[(usize, Vec<u8>, Value, i64)]) -> Dataset {
    keys.iter()
        .map(|(db, key, value, expire)| {
            (
                (*db, key.clone()),
                (content(value), value.encoding_name(), *expire),
            )
        })
        .collect()
}

/// With compression off, checksums are off too (`rdbchecksum no` writes zeros).
fn saved_by_redis(compression: bool) {
    let dir = TempDir::new("rdb-golden");
    let yes_no = if compression { "yes" } else { "no" };
    let mut redis = Redis::start(
        &dir.0,
        &["--rdbcompression", yes_no, "--rdbchecksum", yes_no],
    );
    let keys = golden_keys();
    fill(&mut redis, &keys);
    let mut expected = expected_dataset(&keys);
    // With active expiry off, a key past its time stays in memory and in the file.
    redis.ok(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    redis.ok(&["SET", "expired", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    // Plain quicklist nodes: elements over the packed threshold.
    redis.ok(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    let plain_items = vec![vec![b'p'; 150], b"small".to_vec(), vec![b'q'; 300]];
    redis.ok(&[
        &b"RPUSH"[..],
        b"plain-list",
        &plain_items[0],
        &plain_items[1],
        &plain_items[2],
    ]);
    expected.insert(
        (0, b"plain-list".to_vec()),
        (Content::List(plain_items), "quicklist", NO_EXPIRY),
    );
    redis.ok(&["SAVE"]);
    let bytes = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    let (mut got, others) = read_dataset(&bytes);
    let (_, _, expired_at) = got
        .remove(&(0, b"expired".to_vec()))
        .expect("the expired key is in the file");
    assert!(expired_at > 0 && expired_at < crate::util::now_ms());
    for (key, value) in &expected {
        assert_eq!(got.get(key), Some(value), "{key:?}");
    }
    assert_eq!(got.len(), expected.len());
    assert!(others.contains(&Item::Aux {
        key: b"redis-ver".to_vec(),
        value: b"7.0.15".to_vec()
    }));
    assert!(matches!(
        others.last(),
        Some(&Item::End { checksum_checked, .. }) if checksum_checked == compression
    ));

    // DUMP: Redis's payload restores to the same value; without compression our DUMP of it
    // is the same bytes wherever the layout is deterministic (not hash-table order), and
    // DEBUG OBJECT's serializedlength is our encoded size.
    redis.ok(&[
        "CONFIG",
        "SET",
        "rdbcompression",
        if compression { "yes" } else { "no" },
    ]);
    for (db, key, value, _) in &keys {
        redis.ok(&["SELECT", &db.to_string()]);
        let payload = redis.ok(&[&b"DUMP"[..], key]).bulk();
        let restored = restore_payload(&payload).unwrap_or_else(|e| panic!("{key:?}: {e}"));
        assert_eq!(content(&restored), content(value));
        let ordered = restored.encoding_name() != "hashtable";
        if !compression {
            if ordered {
                assert_eq!(
                    writer::dump_payload_with(&restored, false),
                    payload,
                    "DUMP of {}",
                    String::from_utf8_lossy(key)
                );
            }
            let debug = redis.ok(&[&b"DEBUG"[..], b"OBJECT", key]);
            let Reply::Status(debug) = debug else {
                panic!("{debug:?}")
            };
            let length: usize = debug
                .split(' ')
                .find_map(|f| f.strip_prefix("serializedlength:"))
                .and_then(|n| n.parse().ok())
                .unwrap();
            assert_eq!(
                length,
                restored.serialized_length(),
                "serializedlength of {}",
                String::from_utf8_lossy(key)
            );
        }
    }
}

#[test]
fn files_saved_by_redis_are_read_key_by_key() {
    if !tools_available("redis-server") {
        return;
    }
    saved_by_redis(true);
}

#[test]
fn files_saved_by_redis_without_compression_are_read_and_dumps_match() {
    if !tools_available("redis-server") {
        return;
    }
    saved_by_redis(false);
}

/// A file from our writer with the golden keys, LFU counters included.
fn our_file(dir: &Path, options: writer::Options) -> PathBuf {
    let keys = golden_keys();
    let mut out = Vec::new();
    write_header(&mut out, false, 1_700_000_000, 1 << 20);
    let now_s = crate::clock::now_s();
    for db in [0, 3, 15] {
        let in_db: Vec<_> = keys.iter().filter(|k| k.0 == db).collect();
        let expires = in_db.iter().filter(|k| k.3 != NO_EXPIRY).count();
        write_db_start(&mut out, db, in_db.len() as u64, expires as u64);
        for (_, key, value, expire) in in_db {
            let mut entry = Entry::new(key, value.clone());
            entry.expire_at_ms = *expire;
            entry.freq = 17;
            entry.access_s = now_s;
            writer::write_entry_with(&mut out, &entry, options, now_s);
        }
    }
    let mut crc = Crc64::new();
    crc.update(&out);
    write_end(&mut out, &mut crc, true);
    let path = dir.join("dump.rdb");
    std::fs::write(&path, &out).unwrap();
    path
}

#[test]
fn files_we_write_pass_redis_check_rdb() {
    if !tools_available("redis-check-rdb") {
        return;
    }
    for compression in [true, false] {
        let dir = TempDir::new("rdb-check");
        let options = writer::Options {
            compression,
            save_lru: true,
            save_lfu: false,
        };
        let path = our_file(&dir.0, options);
        let output = Command::new("redis-check-rdb").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{text}");
        assert!(text.contains("RDB looks OK"), "{text}");
    }
}

#[test]
fn files_we_write_load_into_redis() {
    if !tools_available("redis-server") {
        return;
    }
    let dir = TempDir::new("rdb-load");
    let options = writer::Options {
        compression: true,
        save_lru: false,
        save_lfu: true,
    };
    our_file(&dir.0, options);
    let mut redis = Redis::start(&dir.0, &["--maxmemory-policy", "allkeys-lfu"]);
    let keys = golden_keys();
    for db in [0usize, 3, 15] {
        redis.ok(&["SELECT", &db.to_string()]);
        let n = keys.iter().filter(|k| k.0 == db).count() as i64;
        assert_eq!(redis.ok(&["DBSIZE"]).int(), n, "db {db}");
    }
    for (db, key, value, expire) in &keys {
        redis.ok(&["SELECT", &db.to_string()]);
        // First: OBJECT does not touch the key, DUMP and PEXPIRETIME do, and a touch may
        // raise the LFU counter (probabilistically).
        assert_eq!(redis.ok(&[&b"OBJECT"[..], b"FREQ", key]).int(), 17);
        let payload = redis.ok(&[&b"DUMP"[..], key]).bulk();
        let loaded = restore_payload(&payload).unwrap();
        assert_eq!(content(&loaded), content(value));
        let encoding = redis.ok(&[&b"OBJECT"[..], b"ENCODING", key]).bulk();
        assert_eq!(encoding, value.encoding_name().as_bytes());
        assert_eq!(redis.ok(&[&b"PEXPIRETIME"[..], key]).int(), *expire);
    }
}

#[test]
fn functions_are_handed_over_and_streams_refused_by_name() {
    if !tools_available("redis-server") {
        return;
    }
    let dir = TempDir::new("rdb-stream");
    let mut redis = Redis::start(&dir.0, &[]);
    let library = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
    redis.ok(&["FUNCTION", "LOAD", library]);
    redis.ok(&["SET", "before", "1"]);
    redis.ok(&["XADD", "mystream", "*", "field", "value"]);
    redis.ok(&["SAVE"]);
    let bytes = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    let mut reader = RdbReader::new(&bytes[..]).unwrap();
    let mut functions = Vec::new();
    let err = loop {
        match reader.next_item() {
            Ok(Item::Function(code)) => functions.push(code),
            Ok(Item::End { .. }) => panic!("the stream was not refused"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(functions, vec![library.as_bytes().to_vec()]);
    assert!(
        err.message
            .contains("can't load a stream value (type 19) yet: key 'mystream'"),
        "{err}"
    );
}
