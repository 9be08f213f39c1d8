//! The AOF manifest against a real `redis-server` 7.0, both ways:
//!
//! - the manifests Redis writes (fresh start, rewrites, history kept, quoted names) parse, and
//!   serialize back to the very same bytes; the same steps done with kopi's manifest
//!   operations give those bytes too;
//! - the manifests kopi writes, Redis loads (the data in the files they name is there);
//! - on a table of edge cases, Redis refuses exactly the manifests kopi refuses, logging the
//!   message kopi's error carries, and for the ones both accept, Redis's start-up rewrites the
//!   manifest exactly as kopi's operations predict.
//!
//! Needs `redis-server` on PATH (skipped loudly without it, a failure where `CI` is set).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::RedisServer;
use kopi::persistence::fs::OsStorage;
use kopi::persistence::manifest::{
    AppendFilename, BaseFormat, FileKind, LastIncr, Manifest, ManifestErrorKind, file_path,
};

const TEST: &str = "aof_manifest_interop";

/// A scratch directory: `data/` is Redis's `dir`, the config and log live beside it.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let root = std::env::temp_dir().join(format!(
            "kopi-manifest-interop-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("data/appendonlydir")).unwrap();
        Scratch { root }
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn aof_dir(&self) -> PathBuf {
        self.root.join("data/appendonlydir")
    }

    fn manifest_bytes(&self, f: &AppendFilename) -> Vec<u8> {
        std::fs::read(file_path(&self.aof_dir(), &f.manifest_name())).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A `redis-server` this test started (killed, by its own pid, when dropped).
struct Redis(RedisServer);

enum Start {
    Ready(Redis),
    /// It exited during start-up; its log.
    Exited(String),
}

impl Redis {
    /// Starts `redis-server` on a free loopback port with `--appendonly yes` in `scratch`'s
    /// data directory, plus the config lines `extra`.
    fn start(program: &Path, scratch: &Scratch, extra: &str) -> Start {
        let conf = scratch.root.join("redis.conf");
        std::fs::write(&conf, format!("save \"\"\nappendonly yes\n{extra}\n")).unwrap();
        let conf = conf.display().to_string();
        match RedisServer::try_start_in(program, &scratch.data(), &[&conf]) {
            Ok(server) => Start::Ready(Redis(server)),
            Err(log) => Start::Exited(log),
        }
    }

    fn ready(program: &Path, scratch: &Scratch, extra: &str) -> Redis {
        match Redis::start(program, scratch, extra) {
            Start::Ready(redis) => redis,
            Start::Exited(log) => panic!("redis-server refused to start:\n{log}"),
        }
    }

    fn cmd(&self, args: &[&str]) -> String {
        self.0.raw().cmd(args)
    }

    /// BGREWRITEAOF, then waits until the rewrite is done and its manifest persisted.
    fn rewrite(&self) {
        let reply = self.cmd(&["BGREWRITEAOF"]);
        assert!(reply.contains("rewriting started"), "{reply}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let info = self.cmd(&["INFO", "persistence"]);
            if info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
            {
                assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the rewrite does not finish:\n{info}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses what Redis wrote, checks the bytes survive a round trip, and returns the value.
fn parse_and_reserialize(bytes: &[u8]) -> Manifest {
    let manifest =
        Manifest::parse(bytes).unwrap_or_else(|e| panic!("{e}\nmanifest:\n{}", show(bytes)));
    assert_eq!(
        show(&manifest.to_bytes()),
        show(bytes),
        "re-serialized differs from Redis's manifest"
    );
    manifest
}

#[test]
fn the_manifest_redis_writes_parses_and_serializes_back_to_the_same_bytes() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let scratch = Scratch::new();
    let f = AppendFilename::default();
    let redis = Redis::ready(&redis_server, &scratch, "");

    // A fresh start: base 1 (the empty data set) and incr 1.
    let mut expected = Manifest::default();
    expected
        .commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Retire)
        .unwrap();
    expected.open_new_incr(&f).unwrap();
    let written = scratch.manifest_bytes(&f);
    assert_eq!(show(&written), show(&expected.to_bytes()));
    parse_and_reserialize(&written);

    for round in 0..2 {
        for i in 0..5 {
            let reply = redis.cmd(&["SET", &format!("key:{round}:{i}"), "value"]);
            assert_eq!(reply, "+OK\r\n");
        }
        redis.rewrite();
        expected.open_new_incr(&f).unwrap();
        expected
            .commit_rewrite(&f, BaseFormat::Rdb, LastIncr::Keep)
            .unwrap();
        expected.drop_history();
        let written = scratch.manifest_bytes(&f);
        assert_eq!(show(&written), show(&expected.to_bytes()), "round {round}");
        let parsed = parse_and_reserialize(&written);
        assert_eq!(parsed.base().map(|b| b.seq), Some(round + 2));
        assert_eq!(parsed.last_incr().map(|i| i.seq), Some(round + 2));
    }

    // The loader's view: the files it names exist, and `load` reads the same value.
    let loaded = Manifest::load(&scratch.aof_dir(), &f).unwrap().unwrap();
    assert_eq!(loaded.to_bytes(), expected.to_bytes());
    for file in loaded.files_to_load() {
        assert!(
            file_path(&scratch.aof_dir(), &file.name).is_file(),
            "{file:?}"
        );
    }
}

#[test]
fn history_and_quoted_names_match_redis_byte_for_byte() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let scratch = Scratch::new();
    // The name of Redis's own test, a RESP base, and history kept.
    let f = AppendFilename::new(" file seq \n\n.aof ").unwrap();
    let redis = Redis::ready(
        &redis_server,
        &scratch,
        "appendfilename \" file seq \\n\\n.aof \"\naof-use-rdb-preamble no\naof-disable-auto-gc yes",
    );
    let mut expected = Manifest::default();
    expected
        .commit_rewrite(&f, BaseFormat::Aof, LastIncr::Retire)
        .unwrap();
    expected.open_new_incr(&f).unwrap();
    for round in 0..3 {
        assert_eq!(redis.cmd(&["SET", "k", &round.to_string()]), "+OK\r\n");
        redis.rewrite();
        expected.open_new_incr(&f).unwrap();
        expected
            .commit_rewrite(&f, BaseFormat::Aof, LastIncr::Keep)
            .unwrap();
    }
    let written = scratch.manifest_bytes(&f);
    assert!(
        written.starts_with(b"file \" file seq \\n\\n.aof .4.base.aof\" seq 4 type b\n"),
        "{}",
        show(&written)
    );
    assert_eq!(show(&written), show(&expected.to_bytes()));
    let parsed = parse_and_reserialize(&written);
    assert_eq!(parsed.history().len(), 6);
    assert!(parsed.history().iter().all(|h| h.kind == FileKind::History));
}

#[test]
fn redis_loads_the_manifest_kopi_writes() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let scratch = Scratch::new();
    // A name that must be quoted.
    let f = AppendFilename::new("kopi data.aof").unwrap();
    let mut m = Manifest::default();
    m.commit_rewrite(&f, BaseFormat::Aof, LastIncr::Retire)
        .unwrap();
    m.open_new_incr(&f).unwrap();
    m.open_new_incr(&f).unwrap();
    let base = m
        .commit_rewrite(&f, BaseFormat::Aof, LastIncr::Keep)
        .unwrap();
    m.open_new_incr(&f).unwrap();
    // b2, history (i1, b1: files that do not exist any more), i2, i3.
    assert_eq!(
        show(&m.to_bytes()),
        "file \"kopi data.aof.2.base.aof\" seq 2 type b\n\
         file \"kopi data.aof.1.incr.aof\" seq 1 type h\n\
         file \"kopi data.aof.1.base.aof\" seq 1 type h\n\
         file \"kopi data.aof.2.incr.aof\" seq 2 type i\n\
         file \"kopi data.aof.3.incr.aof\" seq 3 type i\n"
    );
    let set = |key: &str, value: &str| common::encode(&[b"SET", key.as_bytes(), value.as_bytes()]);
    std::fs::write(
        file_path(&scratch.aof_dir(), &base.name),
        set("from-base", "b"),
    )
    .unwrap();
    for (incr, key) in m.incrs().iter().zip(["from-incr-2", "from-incr-3"]) {
        let mut commands = common::encode(&[b"SELECT", b"0"]);
        commands.extend(set(key, "i"));
        std::fs::write(file_path(&scratch.aof_dir(), &incr.name), commands).unwrap();
    }
    m.persist(&OsStorage, &scratch.aof_dir(), &f).unwrap();

    let redis = Redis::ready(
        &redis_server,
        &scratch,
        "appendfilename \"kopi data.aof\"\naof-use-rdb-preamble no",
    );
    assert_eq!(redis.cmd(&["GET", "from-base"]), "$1\r\nb\r\n");
    assert_eq!(redis.cmd(&["GET", "from-incr-2"]), "$1\r\ni\r\n");
    assert_eq!(redis.cmd(&["GET", "from-incr-3"]), "$1\r\ni\r\n");
    assert_eq!(redis.cmd(&["DBSIZE"]), ":3\r\n");
    // At start-up Redis deleted the history and persisted; so would kopi.
    m.drop_history();
    assert_eq!(show(&scratch.manifest_bytes(&f)), show(&m.to_bytes()));

    // Redis carries on from kopi's counters.
    redis.rewrite();
    m.open_new_incr(&f).unwrap();
    m.commit_rewrite(&f, BaseFormat::Aof, LastIncr::Keep)
        .unwrap();
    m.drop_history();
    let written = scratch.manifest_bytes(&f);
    assert_eq!(
        show(&written),
        "file \"kopi data.aof.3.base.aof\" seq 3 type b\nfile \"kopi data.aof.4.incr.aof\" seq 4 type i\n"
    );
    assert_eq!(show(&written), show(&m.to_bytes()));
}

#[test]
fn a_single_quote_in_the_name_is_quoted_so_that_redis_can_read_it_back() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let scratch = Scratch::new();
    let f = AppendFilename::new("kopi's.aof").unwrap();
    let mut m = Manifest::default();
    m.commit_rewrite(&f, BaseFormat::Aof, LastIncr::Retire)
        .unwrap();
    m.open_new_incr(&f).unwrap();
    m.open_new_incr(&f).unwrap();
    // Base 2 and incr 2 with files; base 1 and incr 1 history (gone, as after a crash).
    m.commit_rewrite(&f, BaseFormat::Aof, LastIncr::Keep)
        .unwrap();
    // Only the `'` makes these names need quotes, and kopi quotes them.
    assert!(
        m.to_bytes()
            .starts_with(b"file \"kopi's.aof.2.base.aof\" seq 2 type b\n"),
        "{}",
        show(&m.to_bytes())
    );
    let incr_name = m.last_incr().unwrap().name.clone();
    std::fs::write(
        file_path(&scratch.aof_dir(), &incr_name),
        common::encode(&[b"SET", b"k", b"v"]),
    )
    .unwrap();
    let base_name = m.base().unwrap().name.clone();
    std::fs::write(file_path(&scratch.aof_dir(), &base_name), b"").unwrap();
    m.persist(&OsStorage, &scratch.aof_dir(), &f).unwrap();

    let conf = "appendfilename \"kopi's.aof\"\naof-use-rdb-preamble no";
    let redis = Redis::ready(&redis_server, &scratch, conf);
    assert_eq!(
        redis.cmd(&["GET", "k"]),
        "$1\r\nv\r\n",
        "Redis loaded kopi's manifest"
    );
    drop(redis);

    // Dropping the history, Redis rewrote the manifest with bare names, which neither Redis
    // nor kopi can read: the `'` opens a quote that never closes.
    let written = scratch.manifest_bytes(&f);
    assert!(
        written.starts_with(b"file kopi's.aof.2.base.aof seq 2 type b\n"),
        "{}",
        show(&written)
    );
    let error = Manifest::parse(&written).unwrap_err();
    assert!(
        matches!(error.kind, ManifestErrorKind::UnbalancedQuotes),
        "{error}"
    );
    match Redis::start(&redis_server, &scratch, conf) {
        Start::Exited(log) => assert!(
            log.contains("# Invalid AOF manifest file format\n"),
            "{log}"
        ),
        Start::Ready(_) => panic!("Redis 7.0 read its own bare quote back"),
    }
}

/// What Redis 7.0 does at start-up to a manifest it accepted, done with kopi's operations:
/// no data → a fresh base; no incr → a new one; history → dropped. `None` when nothing
/// changes (Redis then leaves the file untouched).
fn start_up(manifest: &Manifest, f: &AppendFilename) -> Option<Manifest> {
    let mut m = manifest.clone();
    let mut changed = false;
    if m.is_empty() {
        m.commit_rewrite(f, BaseFormat::Rdb, LastIncr::Retire)
            .unwrap();
        changed = true;
    }
    if m.last_incr().is_none() {
        m.open_new_incr(f).unwrap();
        changed = true;
    }
    if !m.drop_history().is_empty() {
        changed = true;
    }
    changed.then_some(m)
}

#[test]
fn redis_and_kopi_accept_and_refuse_the_same_manifests() {
    let Some(redis_server) = common::require_program("redis-server", TEST) else {
        return;
    };
    let f = AppendFilename::default();
    // "file  seq 1 type h" is 18 bytes: 1005 more make the longest line Redis reads (a history
    // entry: no file system takes such a name, and history files are never opened).
    let long_line = format!(
        "file appendonly.aof.1.incr.aof seq 1 type i\nfile {} seq 1 type h\n",
        "n".repeat(1005)
    );
    let accepted: Vec<(&str, Vec<u8>)> = vec![
        ("comments only", b"# nothing here\n".to_vec()),
        (
            "comments between lines",
            b"# hand-written\nfile appendonly.aof.1.base.rdb seq 1 type b\n# more\nfile appendonly.aof.1.incr.aof seq 1 type i\n".to_vec(),
        ),
        (
            "Redis 8 offsets, any order, any case",
            b"SEQ 1 File appendonly.aof.1.base.rdb TYPE b startoffset 0 endoffset 10\ntype i seq 3 file appendonly.aof.3.incr.aof\n".to_vec(),
        ),
        ("only a base", b"file appendonly.aof.5.base.rdb seq 5 type b\n".to_vec()),
        (
            "only incr files with a gap",
            b"file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n".to_vec(),
        ),
        (
            "history kept from a crash",
            b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n".to_vec(),
        ),
        ("atoll seq, long type names", b"file mybase seq 12abc type base\n".to_vec()),
        (
            "quotes, CRLF, padding",
            b"  file 'my base' seq \"2\" type b \r\nfile \"my\\x20incr\" seq 7 type i\r\n".to_vec(),
        ),
        ("a line of 1023 bytes", long_line.clone().into_bytes()),
        (
            "a last comment without newline",
            b"file appendonly.aof.1.incr.aof seq 1 type i\n# the end".to_vec(),
        ),
    ];
    let refused: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "blank line",
            b"file a seq 1 type b\n\nfile b seq 1 type i\n".to_vec(),
        ),
        (
            "no final newline",
            b"file a seq 1 type b\nfile b seq 1 type i".to_vec(),
        ),
        (
            "a line of 1024 bytes",
            format!("file {} seq 1 type i\n", "n".repeat(1006)).into_bytes(),
        ),
        ("a NUL byte", b"file a\0 seq 1 type i\n".to_vec()),
        ("odd field count", b"file a seq 1 type i x\n".to_vec()),
        ("too few fields", b"file a seq 1\n".to_vec()),
        ("unbalanced quote", b"file \"a seq 1 type i\n".to_vec()),
        (
            "Redis's own bare quote",
            b"file it's.aof.1.incr.aof seq 1 type i\n".to_vec(),
        ),
        ("seq 0", b"file a seq 0 type i\n".to_vec()),
        ("no type", b"file a seq 1 kind i\n".to_vec()),
        ("a path", b"file ../a seq 1 type i\n".to_vec()),
        (
            "duplicate base",
            b"file a seq 1 type b\nfile b seq 2 type b\n".to_vec(),
        ),
        (
            "non-monotonic incr",
            b"file a seq 2 type i\nfile b seq 2 type i\n".to_vec(),
        ),
        ("negative incr seq", b"file a seq -3 type i\n".to_vec()),
        ("unknown type", b"file a seq 1 type x\n".to_vec()),
        (
            "a long comment's continuation",
            format!("#{}\n", "c".repeat(1100)).into_bytes(),
        ),
    ];
    let accepted = accepted
        .into_iter()
        .map(|(name, bytes)| (name, bytes, true));
    let refused = refused
        .into_iter()
        .map(|(name, bytes)| (name, bytes, false));
    for (name, bytes, kopi_accepts) in accepted.chain(refused) {
        let scratch = Scratch::new();
        let manifest_path = file_path(&scratch.aof_dir(), &f.manifest_name());
        std::fs::write(&manifest_path, &bytes).unwrap();
        let parsed = Manifest::parse(&bytes);
        assert_eq!(parsed.is_ok(), kopi_accepts, "{name}: {parsed:?}");
        match parsed {
            Ok(manifest) => {
                for file in manifest.files_to_load() {
                    std::fs::write(file_path(&scratch.aof_dir(), &file.name), b"").unwrap();
                }
                let expected = start_up(&manifest, &f);
                let _redis = match Redis::start(&redis_server, &scratch, "") {
                    Start::Ready(redis) => redis,
                    Start::Exited(log) => panic!("{name}: kopi accepts, Redis refuses:\n{log}"),
                };
                let after = std::fs::read(&manifest_path).unwrap();
                let expected = expected.map_or(bytes.clone(), |m| m.to_bytes());
                assert_eq!(show(&after), show(&expected), "{name}: Redis's start-up");
            }
            Err(error) => {
                let log = match Redis::start(&redis_server, &scratch, "") {
                    Start::Exited(log) => log,
                    Start::Ready(_) => panic!("{name}: kopi refuses ({error}), Redis accepts"),
                };
                assert!(
                    log.contains("FATAL AOF MANIFEST FILE ERROR"),
                    "{name}: Redis exited for another reason:\n{log}"
                );
                let message = error.kind.redis_message();
                assert!(
                    log.contains(&format!("# {message}\n")),
                    "{name}: kopi says {error:?}, Redis logs:\n{log}"
                );
                // Redis names the line for the errors it finds after trimming it.
                const AT_LINE: &str = "Reading the manifest file, at line ";
                if let Some(at) = log.find(AT_LINE) {
                    let line: usize = log[at + AT_LINE.len()..]
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap();
                    assert_eq!(line, error.line_number, "{name}");
                    let shown = format!(">>> '{}'", show(&error.line));
                    assert!(log.contains(&shown), "{name}: {shown} not in\n{log}");
                } else {
                    assert!(
                        matches!(
                            error.kind,
                            ManifestErrorKind::Empty
                                | ManifestErrorKind::LineTooLong
                                | ManifestErrorKind::MissingFinalNewline
                                | ManifestErrorKind::NulByte
                        ),
                        "{name}: {error:?}"
                    );
                }
            }
        }
    }
}
