//! The append-only file: layout, the durability contract, loading, crash recovery.
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Server;

const MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";
const INCR: &str = "appendonlydir/appendonly.aof.1.incr.aof";

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn info_field(server: &Server, field: &str) -> Option<String> {
    let mut raw = server.raw();
    let info = raw.cmd(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

/// Waits until no AOF rewrite is in progress (Redis's tests' `waitForBgrewriteaof`).
fn wait_for_rewrite(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(server, "aof_rewrite_in_progress").as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A test-owned directory, removed at the end.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir() -> Dir {
    Dir(common::fresh_dir())
}

#[test]
fn a_fresh_start_creates_the_multi_part_layout() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    // As Redis 7.0 with its default `aof-use-rdb-preamble yes`: the first base is an empty
    // RDB file marked as an AOF base.
    assert_eq!(
        String::from_utf8(read(&d.0, MANIFEST)).unwrap(),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let base = read(&d.0, "appendonlydir/appendonly.aof.1.base.rdb");
    assert!(base.starts_with(b"REDIS0010"), "{base:?}");
    assert!(contains(&base, b"\x08aof-base\xc0\x01"), "{base:?}");
    drop(server);
    // With `aof-use-rdb-preamble no` the first base is an empty command file.
    let d = dir();
    let server = Server::start_in(
        &d.0,
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    );
    assert_eq!(
        String::from_utf8(read(&d.0, MANIFEST)).unwrap(),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert_eq!(
        std::fs::metadata(d.0.join("appendonlydir/appendonly.aof.1.base.aof"))
            .unwrap()
            .len(),
        0
    );
    assert_eq!(info_field(&server, "aof_enabled").as_deref(), Some("1"));
    assert_eq!(
        info_field(&server, "aof_last_write_status").as_deref(),
        Some("ok")
    );
    assert_eq!(
        info_field(&server, "aof_rewrite_in_progress").as_deref(),
        Some("0")
    );
}

#[test]
fn without_appendonly_nothing_is_written() {
    let d = dir();
    let server = Server::start_in(&d.0, &[]);
    assert_eq!(server.raw().cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert!(!d.0.join("appendonlydir").exists());
    assert_eq!(info_field(&server, "aof_enabled").as_deref(), Some("0"));
    assert_eq!(info_field(&server, "aof_current_size"), None);
}

/// The contract: a reply to a write leaves only once the write's record is in the file.
fn reply_means_written(policy: &str) {
    let d = dir();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        policy,
        "--aof-use-rdb-preamble",
        "no",
    ];
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    for i in 0..50 {
        let key = format!("key:{policy}:{i}");
        assert_eq!(raw.cmd(&["SET", &key, "value"]), "+OK\r\n");
        let incr = read(&d.0, INCR);
        assert!(
            contains(&incr, key.as_bytes()),
            "{policy}: the reply to SET {key} left before its record was written"
        );
    }
    // A read records nothing.
    let size = read(&d.0, INCR).len();
    assert_eq!(raw.cmd(&["GET", "key:x"]), "$-1\r\n");
    assert_eq!(read(&d.0, INCR).len(), size);
    let current: u64 = info_field(&server, "aof_current_size")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(current, size as u64);
}

#[test]
fn reply_to_a_write_leaves_after_its_record_is_written_always() {
    reply_means_written("always");
}

#[test]
fn reply_to_a_write_leaves_after_its_record_is_written_everysec() {
    reply_means_written("everysec");
}

#[test]
fn reply_to_a_write_leaves_after_its_record_is_written_no() {
    reply_means_written("no");
}

#[test]
fn config_set_appendfsync_changes_the_policy_at_run_time() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes", "--appendfsync", "no"]);
    let mut raw = server.raw();
    for policy in ["always", "everysec", "no", "always"] {
        assert_eq!(
            raw.cmd(&["CONFIG", "SET", "appendfsync", policy]),
            "+OK\r\n"
        );
        assert_eq!(
            raw.cmd(&["CONFIG", "GET", "appendfsync"]),
            format!(
                "*2\r\n$11\r\nappendfsync\r\n${}\r\n{policy}\r\n",
                policy.len()
            )
        );
        let key = format!("after-{policy}");
        assert_eq!(raw.cmd(&["SET", &key, "1"]), "+OK\r\n");
        assert!(contains(&read(&d.0, INCR), key.as_bytes()));
    }
}

#[test]
fn a_pipeline_of_writes_is_one_group_and_every_record_lands() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..200 {
        batch.extend(common::encode(&[b"SET", format!("p{i}").as_bytes(), b"x"]));
    }
    raw.send(&batch);
    for _ in 0..200 {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
    }
    let incr = read(&d.0, INCR);
    for i in 0..200 {
        assert!(contains(
            &incr,
            format!("${}\r\np{i}\r\n", format!("p{i}").len()).as_bytes()
        ));
    }
}

/// Runs the server on `dir` until it exits by itself (a refused start): its status and log.
fn start_refused(dir: &Path, extra: &[&str]) -> (std::process::ExitStatus, String) {
    let log = dir.join("refused.log");
    let mut args = vec![
        "--port".to_string(),
        common::free_port().to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--appendonly".into(),
        "yes".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kopi-server"))
        .args(&args)
        .current_dir(dir)
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, std::fs::read_to_string(&log).unwrap());
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server started although it should have refused: {}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn crash(mut server: Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Writes keys (some with TTLs, some in db 3, some in a transaction), SIGKILLs the server
/// right after the last reply, restarts on the same directory: every acknowledged write is
/// there, with the same absolute deadline.
fn acknowledged_writes_survive_sigkill(policy: &str) {
    let d = dir();
    let args = ["--appendonly", "yes", "--appendfsync", policy];
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    for i in 0..100 {
        let key = format!("k{i}");
        let value = format!("v{i}");
        if i % 3 == 0 {
            assert_eq!(raw.cmd(&["SET", &key, &value, "EX", "1000"]), "+OK\r\n");
        } else {
            assert_eq!(raw.cmd(&["SET", &key, &value]), "+OK\r\n");
        }
    }
    assert_eq!(raw.cmd(&["INCR", "counter"]), ":1\r\n");
    assert_eq!(raw.cmd(&["INCR", "counter"]), ":2\r\n");
    assert_eq!(raw.cmd(&["DEL", "k1"]), ":1\r\n");
    assert_eq!(raw.cmd(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "in3", "x", "PX", "500000"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "t1", "a"]), "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["APPEND", "t1", "b"]), "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["EXEC"]), "*2\r\n+OK\r\n:2\r\n");
    let mut deadlines = Vec::new();
    assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
    for i in (0..100).step_by(3) {
        deadlines.push(raw.cmd(&["PEXPIRETIME", &format!("k{i}")]));
    }
    raw.cmd(&["SELECT", "3"]);
    let deadline3 = raw.cmd(&["PEXPIRETIME", "in3"]);
    crash(server);

    let server = Server::start_in(&d.0, &args);
    // Loading counts as no unsaved change and as no command served.
    assert_eq!(
        info_field(&server, "rdb_changes_since_last_save").as_deref(),
        Some("0")
    );
    let stats = server.raw().cmd(&["INFO", "stats"]);
    assert!(stats.contains("total_commands_processed:1\r\n"), "{stats}");
    let mut raw = server.raw();
    for i in 0..100 {
        let expected = if i == 1 {
            "$-1\r\n".to_string()
        } else {
            let v = format!("v{i}");
            format!("${}\r\n{v}\r\n", v.len())
        };
        assert_eq!(
            raw.cmd(&["GET", &format!("k{i}")]),
            expected,
            "{policy}: k{i}"
        );
    }
    for (n, i) in (0..100).step_by(3).enumerate() {
        assert_eq!(raw.cmd(&["PEXPIRETIME", &format!("k{i}")]), deadlines[n]);
    }
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k2"]), ":-1\r\n");
    assert_eq!(raw.cmd(&["GET", "counter"]), "$1\r\n2\r\n");
    assert_eq!(raw.cmd(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "t1"]), "$2\r\nab\r\n");
    assert_eq!(raw.cmd(&["PEXPIRETIME", "in3"]), deadline3);
    assert_eq!(raw.cmd(&["DBSIZE"]), ":2\r\n");
    drop(raw);
    // A write after the restart goes on in the same incr file, after what was loaded.
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "after", "restart"]), "+OK\r\n");
    crash(server);
    let server = Server::start_in(&d.0, &args);
    assert_eq!(server.raw().cmd(&["GET", "after"]), "$7\r\nrestart\r\n");
    assert_eq!(server.raw().cmd(&["GET", "k99"]), "$3\r\nv99\r\n");
}

#[test]
fn acknowledged_writes_survive_sigkill_always() {
    acknowledged_writes_survive_sigkill("always");
}

#[test]
fn acknowledged_writes_survive_sigkill_everysec() {
    acknowledged_writes_survive_sigkill("everysec");
}

#[test]
fn acknowledged_writes_survive_sigkill_no() {
    acknowledged_writes_survive_sigkill("no");
}

/// A directory with one key written, the server killed, then `tail` appended to the incr.
fn dir_with_tail(tail: &[u8]) -> Dir {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert_eq!(server.raw().cmd(&["SET", "kept", "1"]), "+OK\r\n");
    crash(server);
    let mut incr = read(&d.0, INCR);
    incr.extend_from_slice(tail);
    std::fs::write(d.0.join(INCR), incr).unwrap();
    d
}

const TORN: &[u8] = b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nval";

#[test]
fn a_torn_tail_is_cut_with_aof_load_truncated_yes() {
    let d = dir_with_tail(TORN);
    let before = read(&d.0, INCR).len();
    let server = Server::start_in(
        &d.0,
        &["--appendonly", "yes", "--aof-load-truncated", "yes"],
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "kept"]), "$1\r\n1\r\n");
    assert_eq!(raw.cmd(&["GET", "torn"]), "$-1\r\n");
    let cut_to = before - TORN.len();
    assert_eq!(read(&d.0, INCR).len(), cut_to);
    let log = server.log_text();
    assert!(
        log.contains(&format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {cut_to} !!!"
        )),
        "{log}"
    );
    // Writes after the cut replay cleanly.
    assert_eq!(raw.cmd(&["SET", "next", "2"]), "+OK\r\n");
    crash(server);
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert_eq!(server.raw().cmd(&["GET", "next"]), "$1\r\n2\r\n");
}

#[test]
fn a_torn_tail_refuses_the_start_with_aof_load_truncated_no() {
    let d = dir_with_tail(TORN);
    let before = read(&d.0, INCR);
    let (status, log) = start_refused(&d.0, &["--aof-load-truncated", "no"]);
    assert!(!status.success());
    assert!(
        log.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{log}"
    );
    assert!(
        log.contains(&format!("offset {}", before.len() - TORN.len())),
        "{log}"
    );
    assert!(log.contains("kopi-check-aof --fix"), "{log}");
    // Nothing on disk changed.
    assert_eq!(read(&d.0, INCR), before);
}

/// A power loss after the file's size reached the disk but before its last blocks did (the
/// fdatasync that would have acknowledged them never returned): zeros to the end of the last
/// incr file, from a record boundary or inside a torn record, inside an open MULTI too. Cut
/// like a torn tail with `aof-load-truncated yes` (Redis refuses the start: "Bad file
/// format"); refused with `no`.
#[test]
fn a_zero_filled_tail_is_cut_with_aof_load_truncated_yes() {
    let zeros = vec![0u8; 4096];
    let multi = b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$2\r\nin\r\n$1\r\nx\r\n".to_vec();
    for (what, head) in [
        ("at a record boundary", Vec::new()),
        ("inside a torn record", TORN.to_vec()),
        ("inside an open MULTI", multi),
        ("inside an annotation", b"#TS:1733600000".to_vec()),
    ] {
        let tail = [&head[..], &zeros[..]].concat();
        let d = dir_with_tail(&tail);
        let before = read(&d.0, INCR).len();
        let server = Server::start_in(
            &d.0,
            &["--appendonly", "yes", "--aof-load-truncated", "yes"],
        );
        let mut raw = server.raw();
        assert_eq!(raw.cmd(&["GET", "kept"]), "$1\r\n1\r\n", "{what}");
        assert_eq!(raw.cmd(&["EXISTS", "torn", "in"]), ":0\r\n", "{what}");
        let cut_to = before - tail.len();
        assert_eq!(read(&d.0, INCR).len(), cut_to, "{what}");
        let log = server.log_text();
        assert!(
            log.contains("ends in zero bytes from offset")
                && log.contains(&format!(
                    "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {cut_to} !!!"
                )),
            "{what}: {log}"
        );
        assert_eq!(raw.cmd(&["SET", "next", "2"]), "+OK\r\n");
        crash(server);
        let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
        assert_eq!(server.raw().cmd(&["GET", "next"]), "$1\r\n2\r\n", "{what}");
    }
    let d = dir_with_tail(&zeros);
    let before = read(&d.0, INCR);
    let (status, log) = start_refused(&d.0, &["--aof-load-truncated", "no"]);
    assert!(!status.success());
    assert!(log.contains("Bad file format"), "{log}");
    assert_eq!(read(&d.0, INCR), before);
}

#[test]
fn garbage_in_the_middle_refuses_the_start_whatever_aof_load_truncated_says() {
    let mut tail = b"garbage\r\n".to_vec();
    tail.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n");
    let d = dir_with_tail(&tail);
    let before = read(&d.0, INCR);
    let offset = before.len() - tail.len();
    let (status, log) = start_refused(&d.0, &["--aof-load-truncated", "yes"]);
    assert!(!status.success());
    assert!(
        log.contains(&format!(
            "Bad file format reading the append only file appendonly.aof.1.incr.aof at offset {offset}"
        )),
        "{log}"
    );
    assert!(log.contains("kopi-check-aof --fix"), "{log}");
    assert_eq!(read(&d.0, INCR), before);
}

#[test]
fn a_damaged_rdb_base_refuses_the_start_and_nothing_changes() {
    let d = dir();
    let aofdir = d.0.join("appendonlydir");
    std::fs::create_dir_all(&aofdir).unwrap();
    std::fs::write(
        aofdir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    // An AUX field cut short.
    let base = b"REDIS0010\xfa\x09redis-ver\x06".to_vec();
    std::fs::write(aofdir.join("appendonly.aof.1.base.rdb"), &base).unwrap();
    std::fs::write(aofdir.join("appendonly.aof.1.incr.aof"), b"").unwrap();
    let (status, log) = start_refused(&d.0, &[]);
    assert!(!status.success());
    assert!(
        log.contains("Error reading the RDB base file appendonly.aof.1.base.rdb"),
        "{log}"
    );
    assert_eq!(read(&d.0, "appendonlydir/appendonly.aof.1.base.rdb"), base);
}

#[test]
fn bgrewriteaof_replaces_base_and_incr_and_nothing_is_applied_twice() {
    let d = dir();
    // A command base, to read what the rewrite wrote (RDB bases: tests/rdb.rs).
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["INCRBY", "counter", "10"]), ":10\r\n");
    assert_eq!(raw.cmd(&["SET", "ttl", "v", "PX", "900000"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SELECT", "4"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "in4", "four"]), "+OK\r\n");
    let deadline = {
        let mut other = server.raw();
        other.cmd(&["PEXPIRETIME", "ttl"])
    };
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_for_rewrite(&server);
    assert_eq!(
        String::from_utf8(read(&d.0, MANIFEST)).unwrap(),
        "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!d.0.join(INCR).exists());
    assert!(!d.0.join("appendonlydir/appendonly.aof.1.base.aof").exists());
    let base = read(&d.0, "appendonlydir/appendonly.aof.2.base.aof");
    assert!(contains(&base, b"$2\r\n10\r\n"));
    assert!(contains(&base, b"PEXPIREAT"));
    assert_eq!(info_field(&server, "aof_rewrites").as_deref(), Some("1"));
    assert_eq!(
        info_field(&server, "aof_last_bgrewrite_status").as_deref(),
        Some("ok")
    );
    assert_eq!(
        info_field(&server, "aof_base_size"),
        Some(base.len().to_string())
    );
    // Writes after the rewrite go to the new incr file, which starts with its SELECT.
    assert!(raw.cmd(&["INCR", "in4"]).starts_with("-ERR"));
    assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["INCR", "counter"]), ":11\r\n");
    let incr = read(&d.0, "appendonlydir/appendonly.aof.2.incr.aof");
    assert!(
        incr.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"),
        "{incr:?}"
    );
    crash(server);

    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "counter"]), "$2\r\n11\r\n");
    assert_eq!(raw.cmd(&["PEXPIRETIME", "ttl"]), deadline);
    assert_eq!(raw.cmd(&["SELECT", "4"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "in4"]), "$4\r\nfour\r\n");
}

#[test]
fn bgrewriteaof_while_appendonly_is_off_writes_a_base_only_aof() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--aof-use-rdb-preamble", "no"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_for_rewrite(&server);
    assert_eq!(
        String::from_utf8(read(&d.0, MANIFEST)).unwrap(),
        "file appendonly.aof.1.base.aof seq 1 type b\n"
    );
    assert_eq!(raw.cmd(&["SET", "later", "v"]), "+OK\r\n");
    crash(server);
    // A start with AOF loads the base and adds an incr file after it.
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "later"]), ":0\r\n");
    assert_eq!(
        String::from_utf8(read(&d.0, MANIFEST)).unwrap(),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
}

#[test]
fn an_old_single_appendonly_aof_is_moved_into_the_directory_and_loaded() {
    let d = dir();
    let mut old = Vec::new();
    for args in [
        &[&b"SELECT"[..], b"0"][..],
        &[b"SET", b"a", b"1"],
        &[b"SET", b"b", b"2", b"PXAT", b"99999999999999"],
        &[b"SELECT", b"7"],
        &[b"SET", b"c", b"3"],
    ] {
        old.extend(common::encode(args));
    }
    std::fs::write(d.0.join("appendonly.aof"), &old).unwrap();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert!(!d.0.join("appendonly.aof").exists());
    assert_eq!(read(&d.0, "appendonlydir/appendonly.aof"), old);
    assert_eq!(
        String::from_utf8(read(&d.0, MANIFEST)).unwrap(),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert!(server.log_text().contains(
        "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."
    ));
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(raw.cmd(&["PEXPIRETIME", "b"]), ":99999999999999\r\n");
    assert_eq!(raw.cmd(&["SELECT", "7"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "c"]), "$1\r\n3\r\n");
    assert_eq!(raw.cmd(&["SET", "d", "4"]), "+OK\r\n");
    crash(server);
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(raw.cmd(&["SELECT", "7"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "d"]), "$1\r\n4\r\n");
}

/// Clients keep writing while the server is killed at a random moment (in some trials while
/// a rewrite runs): every write that got its reply before the kill is there after the
/// restart, and counters are exact (at most one unacknowledged increment more).
fn kill_during_concurrent_writes(policy: &str, trials: u64) {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("KOPI_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("{policy}: KOPI_CRASH_SEED={seed}");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    for trial in 0..trials {
        let kill_after = Duration::from_millis(rng.random_range(20..250));
        let rewrite = trial % 2 == 1;
        kill_trial(
            policy,
            kill_after,
            rewrite,
            &format!("{policy} trial {trial}"),
        );
    }
}

fn kill_trial(policy: &str, kill_after: Duration, rewrite: bool, what: &str) {
    const WRITERS: usize = 6;
    let d = dir();
    let args = ["--appendonly", "yes", "--appendfsync", policy];
    let server = Server::start_in(&d.0, &args);
    let port = server.port;
    // The kill clock starts at the first acknowledgement: on a busy machine the writers may
    // need longer than the whole delay to get going.
    let first_ack = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            // Connected before the clock starts: the kill may come early.
            let mut raw = common::Raw::connect(port);
            let first_ack = first_ack.clone();
            std::thread::spawn(move || {
                // (keys set, last counter value) acknowledged by this writer.
                let mut acked = (0usize, 0i64);
                for i in 0..1_000_000 {
                    let key = format!("t{t}:{i}");
                    // Pipelines of two: both replies must be covered.
                    let mut batch = common::encode(&[b"SET", key.as_bytes(), b"v"]);
                    batch.extend(common::encode(&[b"INCR", format!("n{t}").as_bytes()]));
                    if std::io::Write::write_all(&mut raw.writer, &batch).is_err() {
                        break;
                    }
                    let mut out = Vec::new();
                    if common::read_value(&mut raw.reader, &mut out).is_err() || out != b"+OK\r\n" {
                        break;
                    }
                    acked.0 = i + 1;
                    first_ack.store(true, std::sync::atomic::Ordering::Relaxed);
                    let mut out = Vec::new();
                    if common::read_value(&mut raw.reader, &mut out).is_err() {
                        break;
                    }
                    let text = String::from_utf8_lossy(&out);
                    match text.trim().strip_prefix(':').and_then(|n| n.parse().ok()) {
                        Some(n) => acked.1 = n,
                        None => break,
                    }
                }
                acked
            })
        })
        .collect();
    let waiting = std::time::Instant::now();
    while !first_ack.load(std::sync::atomic::Ordering::Relaxed) {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "{what}: no write acknowledged"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    if rewrite {
        std::thread::sleep(kill_after / 2);
        server.raw().cmd(&["BGREWRITEAOF"]);
        std::thread::sleep(kill_after / 2);
    } else {
        std::thread::sleep(kill_after);
    }
    crash(server);
    let acked: Vec<(usize, i64)> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    for (t, (keys, counter)) in acked.iter().enumerate() {
        for chunk in (0..*keys).collect::<Vec<_>>().chunks(500) {
            let mut args = vec!["EXISTS".to_string()];
            args.extend(chunk.iter().map(|i| format!("t{t}:{i}")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_eq!(
                raw.cmd(&args),
                format!(":{}\r\n", chunk.len()),
                "{what}: writer {t} lost acknowledged keys below {keys}"
            );
        }
        let got = raw.cmd(&["GET", &format!("n{t}")]);
        let got: i64 = got.lines().nth(1).map_or(0, |n| n.parse().unwrap());
        assert!(
            got == *counter || got == *counter + 1,
            "{what}: counter n{t} is {got}, acknowledged {counter}"
        );
    }
    let total: usize = acked.iter().map(|a| a.0).sum();
    assert!(total > 0, "{what}: nothing was acknowledged");
}

#[test]
fn kill_during_concurrent_writes_loses_nothing_acknowledged_always() {
    kill_during_concurrent_writes("always", 10);
}

#[test]
fn kill_during_concurrent_writes_loses_nothing_acknowledged_everysec() {
    kill_during_concurrent_writes("everysec", 10);
}

#[test]
fn kill_during_concurrent_writes_loses_nothing_acknowledged_no() {
    kill_during_concurrent_writes("no", 10);
}

#[test]
fn timestamp_annotations_open_the_incr_records_and_the_rewritten_base() {
    let d = dir();
    // `#TS:` lines open command bases (an RDB base has none, as in Redis).
    let server = Server::start_in(
        &d.0,
        &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
    );
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "aof-timestamp-enabled", "yes"]),
        "+OK\r\n"
    );
    assert_eq!(raw.cmd(&["SET", "foo", "bar"]), "+OK\r\n");
    assert!(
        read(&d.0, INCR).starts_with(b"#TS:"),
        "the first record of the incr file is annotated"
    );
    raw.cmd(&["BGREWRITEAOF"]);
    wait_for_rewrite(&server);
    let base = read(&d.0, "appendonlydir/appendonly.aof.2.base.aof");
    assert!(
        base.starts_with(b"#TS:"),
        "{}",
        String::from_utf8_lossy(&base)
    );
}

#[test]
fn info_shows_how_far_the_log_is_written_and_synced() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), "+OK\r\n");
    let field = |name: &str| -> u64 { info_field(&server, name).unwrap().parse().unwrap() };
    // Under `always` the reply left after its record was synced.
    let written = field("aof_last_write_offset");
    assert!(written > 0);
    assert_eq!(field("aof_last_fsync_offset"), written);
    assert!(field("aof_fsyncs") >= 1);
    assert!(field("aof_fsync_max_usec") >= field("aof_fsync_last_usec"));
    // Under `no` nothing is synced while the server runs.
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendfsync", "no"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "w"]), "+OK\r\n");
    assert!(field("aof_last_write_offset") > written);
    assert_eq!(field("aof_last_fsync_offset"), written);
}

/// Redis's "AOF fsync always barrier issue": with the writer slowed down by DEBUG
/// AOF-FLUSH-SLEEP, a write's reply still arrives only after its record is in the file, also
/// right behind a big reply to a read.
#[test]
fn a_slow_writer_holds_the_reply_back_until_the_record_is_in_the_file() {
    let d = dir();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    for round in 0..3 {
        assert_eq!(raw.cmd(&["DEBUG", "AOF-FLUSH-SLEEP", "0"]), "+OK\r\n");
        raw.cmd(&[
            "SETRANGE",
            "x",
            &(2_000_000 + round * 1000).to_string(),
            "x",
        ]);
        assert_eq!(raw.cmd(&["DEBUG", "AOF-FLUSH-SLEEP", "200000"]), "+OK\r\n");
        let before = std::fs::metadata(d.0.join(INCR)).unwrap().len();
        let mut batch = common::encode(&[b"GET", b"x"]);
        batch.extend(common::encode(&[b"INCR", b"n"]));
        raw.send(&batch);
        raw.read_reply();
        assert_eq!(raw.read_reply(), format!(":{}\r\n", round + 1).as_bytes());
        let after = std::fs::metadata(d.0.join(INCR)).unwrap().len();
        assert!(
            after > before,
            "round {round}: the reply overtook its record"
        );
    }
}

/// Redis's "AOF+EXPIRE": while the log is replayed no key expires, so a list pushed to after
/// a PEXPIREAT in the past keeps both elements and the deadline, and is gone once loaded.
#[test]
fn keys_do_not_expire_while_the_log_is_replayed() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    crash(server);
    let mut incr = Vec::new();
    for args in [
        &[&b"RPUSH"[..], b"list", b"foo"][..],
        &[b"PEXPIREAT", b"list", b"1000"],
        &[b"RPUSH", b"list", b"bar"],
        &[b"SET", b"s", b"v", b"PXAT", b"1000"],
        &[b"APPEND", b"s", b"w"],
        &[b"SET", b"kept", b"yes"],
    ] {
        incr.extend(common::encode(args));
    }
    std::fs::write(d.0.join(INCR), incr).unwrap();
    let server = Server::start_in(
        &d.0,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["LLEN", "list"]), ":0\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "s", "kept"]), ":1\r\n");
    // DEBUG LOADAOF replays the same way.
    assert_eq!(raw.cmd(&["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "list", "s", "kept"]), ":1\r\n");
}
