//! AOF rewrite without fork: BGREWRITEAOF under load, automatic rewrite, and turning AOF on
//! and off at run time.
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Server;

const MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir() -> Dir {
    Dir(common::fresh_dir())
}

fn info_field(server: &Server, field: &str) -> String {
    let info = server.raw().cmd(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Redis's tests' `waitForBgrewriteaof`.
fn wait_for_rewrite(server: &Server) {
    wait_for("the rewrite", || {
        info_field(server, "aof_rewrite_in_progress") == "0"
    });
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default()
}

fn digest(server: &Server) -> String {
    server.raw().cmd(&["DEBUG", "DIGEST"])
}

fn crash(mut server: Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// Fills db 0 and db 2 with `n` keys each through pipelines (some with TTLs).
fn populate(server: &Server, n: usize) {
    let mut raw = server.raw();
    for db in ["0", "2"] {
        raw.cmd(&["SELECT", db]);
        let mut batch = Vec::new();
        for i in 0..n {
            let key = format!("key:{i}");
            let value = format!("value-{i}-{}", "x".repeat(i % 50));
            if i % 10 == 0 {
                batch.extend(common::encode(&[
                    b"SET",
                    key.as_bytes(),
                    value.as_bytes(),
                    b"EX",
                    b"100000",
                ]));
            } else {
                batch.extend(common::encode(&[b"SET", key.as_bytes(), value.as_bytes()]));
            }
        }
        raw.send(&batch);
        for _ in 0..n {
            assert_eq!(raw.read_reply(), b"+OK\r\n");
        }
    }
}

/// While a slowed-down rewrite runs, clients keep incrementing counters, overwriting and
/// deleting keys and flushing a db; after the rewrite and a SIGKILL the restarted server has
/// exactly the dataset that was acknowledged: nothing lost, nothing applied twice.
fn rewrite_under_load(policy: &str) {
    let d = dir();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        policy,
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start_in(&d.0, &args);
    populate(&server, 20_000);
    // About a second of rewriting: the writers below race with it.
    server
        .raw()
        .cmd(&["CONFIG", "SET", "rdb-key-save-delay", "25"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut raw = server.raw();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let counter = format!("counter:{w}");
                    assert_eq!(raw.cmd(&["INCR", &counter]), format!(":{}\r\n", i + 1));
                    let key = format!("key:{}", (i * 7 + w) % 20_000);
                    match i % 4 {
                        0 => assert_eq!(raw.cmd(&["SET", &key, "new"]), "+OK\r\n"),
                        1 => {
                            raw.cmd(&["DEL", &key]);
                        }
                        2 => {
                            raw.cmd(&["APPEND", &key, "+"]);
                        }
                        _ => {
                            raw.cmd(&["PEXPIRE", &key, "50000000"]);
                        }
                    }
                    i += 1;
                }
                i
            })
        })
        .collect();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "-ERR Background append only file rewriting already in progress\r\n"
    );
    assert_eq!(info_field(&server, "aof_rewrite_in_progress"), "1");
    std::thread::sleep(Duration::from_millis(200));
    // A flushed db is still written as it was at the cut; what follows is in the new incr.
    raw.cmd(&["SELECT", "2"]);
    assert_eq!(raw.cmd(&["FLUSHDB"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "after-flush", "1"]), "+OK\r\n");
    wait_for_rewrite(&server);
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(counts.iter().all(|&c| c > 0));
    assert_eq!(info_field(&server, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&server, "aof_rewrites"), "1");
    assert_eq!(
        manifest(&d.0),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let before = digest(&server);
    crash(server);

    let server = Server::start_in(&d.0, &args);
    assert_eq!(digest(&server), before);
    let mut raw = server.raw();
    for (w, count) in counts.iter().enumerate() {
        assert_eq!(
            raw.cmd(&["GET", &format!("counter:{w}")]),
            format!("${}\r\n{count}\r\n", count.to_string().len())
        );
    }
    raw.cmd(&["SELECT", "2"]);
    assert_eq!(raw.cmd(&["DBSIZE"]), ":1\r\n");
}

#[test]
fn a_rewrite_under_concurrent_writes_keeps_exactly_what_was_acknowledged_always() {
    rewrite_under_load("always");
}

#[test]
fn a_rewrite_under_concurrent_writes_keeps_exactly_what_was_acknowledged_everysec() {
    rewrite_under_load("everysec");
}

#[test]
fn bgrewriteaof_inside_a_transaction_is_scheduled() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["BGREWRITEAOF"]), "+QUEUED\r\n");
    assert_eq!(
        raw.cmd(&["EXEC"]),
        "*1\r\n+Background append only file rewriting scheduled\r\n"
    );
    wait_for("the scheduled rewrite", || {
        info_field(&server, "aof_rewrites") == "1"
    });
    wait_for_rewrite(&server);
    assert_eq!(info_field(&server, "aof_rewrite_scheduled"), "0");
    assert!(manifest(&d.0).contains("appendonly.aof.2.base.rdb"));
}

#[test]
fn the_aof_is_rewritten_automatically_when_it_doubles() {
    let d = dir();
    let args = [
        "--appendonly",
        "yes",
        "--auto-aof-rewrite-percentage",
        "100",
        "--auto-aof-rewrite-min-size",
        "4kb",
    ];
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    // One key overwritten again and again: the log grows, the dataset does not.
    for i in 0..300 {
        assert_eq!(raw.cmd(&["SET", "k", &format!("{i:064}")]), "+OK\r\n");
    }
    // The first automatic rewrite may start while the writes still come; the ones after it
    // bring the AOF back under the minimum size.
    wait_for("automatic rewrites to compact the AOF", || {
        let size: u64 = info_field(&server, "aof_current_size").parse().unwrap();
        info_field(&server, "aof_rewrites") != "0" && size < 4096
    });
    wait_for_rewrite(&server);
    let log = server.log_text();
    assert!(
        log.contains("Starting automatic rewriting of AOF on"),
        "{log}"
    );
    crash(server);
    let server = Server::start_in(&d.0, &args);
    assert_eq!(
        server.raw().cmd(&["GET", "k"]),
        format!("$64\r\n{:064}\r\n", 299)
    );
}

#[test]
fn appendonly_turned_on_at_run_time_writes_a_base_first_then_logs() {
    let d = dir();
    let server = Server::start_in(&d.0, &[]);
    let mut raw = server.raw();
    for i in 0..100 {
        raw.cmd(&["SET", &format!("before:{i}"), "v"]);
    }
    assert_eq!(info_field(&server, "aof_enabled"), "0");
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(info_field(&server, "aof_enabled"), "1");
    assert_eq!(raw.cmd(&["SET", "during", "v"]), "+OK\r\n");
    wait_for_rewrite(&server);
    assert_eq!(
        manifest(&d.0),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert!(!d.0.join("appendonlydir/temp-appendonly.aof.incr").exists());
    assert_eq!(raw.cmd(&["SET", "after", "v"]), "+OK\r\n");
    let log = server.log_text();
    assert!(
        log.contains("Successfully renamed the temporary AOF incr file"),
        "{log}"
    );
    crash(server);

    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), ":102\r\n");
    assert_eq!(raw.cmd(&["GET", "during"]), "$1\r\nv\r\n");
    // Off: what was written stays, later writes are not logged.
    assert_eq!(raw.cmd(&["SET", "last-logged", "v"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(info_field(&server, "aof_enabled"), "0");
    assert_eq!(raw.cmd(&["SET", "not-logged", "v"]), "+OK\r\n");
    crash(server);

    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["EXISTS", "last-logged", "not-logged"]), ":1\r\n");
    // On again: the next base continues the sequence and the old files become history.
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    wait_for_rewrite(&server);
    assert_eq!(
        manifest(&d.0),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!d.0.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
}

#[test]
fn repeated_rewrites_leave_one_base_and_one_incr_file() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    for round in 0..5 {
        raw.cmd(&["INCR", "rounds"]);
        assert_eq!(
            raw.cmd(&["BGREWRITEAOF"]),
            "+Background append only file rewriting started\r\n"
        );
        wait_for_rewrite(&server);
        let mut names: Vec<String> = std::fs::read_dir(d.0.join("appendonlydir"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let seq = round + 2;
        assert_eq!(
            names,
            [
                format!("appendonly.aof.{seq}.base.rdb"),
                format!("appendonly.aof.{seq}.incr.aof"),
                "appendonly.aof.manifest".to_string(),
            ]
        );
    }
    crash(server);
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert_eq!(server.raw().cmd(&["GET", "rounds"]), "$1\r\n5\r\n");
}

#[test]
fn debug_loadaof_reloads_the_dataset_from_the_files() {
    let d = dir();
    let args = ["--appendonly", "yes", "--enable-debug-command", "yes"];
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["INCR", "a"]), ":2\r\n");
    assert_eq!(raw.cmd(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "b", "x", "PX", "1000000"]), "+OK\r\n");
    let before = digest(&server);
    assert_eq!(raw.cmd(&["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(digest(&server), before);
    let logged = std::fs::read(d.0.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    assert!(
        !logged.windows(7).any(|w| w == b"LOADAOF"),
        "a reload is not logged"
    );
    // A record added to the file behind the server's back is what the reload sees.
    let incr = d.0.join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    bytes.extend_from_slice(&common::encode(&[b"SET", b"from-disk", b"yes"]));
    std::fs::write(&incr, bytes).unwrap();
    assert_eq!(raw.cmd(&["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "from-disk"]), "$3\r\nyes\r\n");
    assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "a"]), "$1\r\n2\r\n");
    // Writes after the reload are recorded as before, starting with their SELECT.
    assert_eq!(raw.cmd(&["SET", "c", "3"]), "+OK\r\n");
    crash(server);
    let server = Server::start_in(&d.0, &args);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["MGET", "a", "c"]), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(raw.cmd(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "b", "from-disk"]), ":2\r\n");
}

#[test]
fn shutdown_is_refused_while_the_first_base_is_written_unless_forced() {
    let d = dir();
    let server = Server::start_in(&d.0, &["--enable-debug-command", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "20000"]), "+OK\r\n");
    // A slow first rewrite: about a second.
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "50"]);
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["SHUTDOWN"]),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert!(
        server
            .log_text()
            .contains("Writing initial AOF, can't exit.")
    );
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_for_rewrite(&server);
    // Written: a shutdown goes through, and a start with AOF has every key.
    raw.send(&common::encode(&[b"SHUTDOWN"]));
    assert!(raw.closed());
    let mut server = server;
    server.child.wait().unwrap();
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert_eq!(server.raw().cmd(&["DBSIZE"]), ":20000\r\n");
}

/// A slow rewrite is running when AOF is turned off and a rewrite is ordered again: the new
/// one replaces it and writes a whole base (the old one must not end the new one's cut).
#[test]
fn a_rewrite_ordered_after_turning_aof_off_replaces_the_one_in_progress() {
    let d = dir();
    let server = Server::start_in(
        &d.0,
        &["--appendonly", "yes", "--enable-debug-command", "yes"],
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "5000"]), "+OK\r\n");
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(raw.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    raw.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_for_rewrite(&server);
    // Let the stopped rewrite notice and give up.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        manifest(&d.0),
        "file appendonly.aof.2.base.rdb seq 2 type b\n"
    );
    crash(server);
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert_eq!(server.raw().cmd(&["DBSIZE"]), ":5000\r\n");
}

#[test]
fn aof_disable_auto_gc_keeps_history_files_until_it_is_turned_off() {
    let d = dir();
    let server = Server::start_in(
        &d.0,
        &["--appendonly", "yes", "--aof-disable-auto-gc", "yes"],
    );
    let mut raw = server.raw();
    for _ in 0..2 {
        raw.cmd(&["INCR", "n"]);
        raw.cmd(&["BGREWRITEAOF"]);
        wait_for_rewrite(&server);
    }
    assert_eq!(
        manifest(&d.0),
        "file appendonly.aof.3.base.rdb seq 3 type b\n\
         file appendonly.aof.2.incr.aof seq 2 type h\n\
         file appendonly.aof.2.base.rdb seq 2 type h\n\
         file appendonly.aof.1.incr.aof seq 1 type h\n\
         file appendonly.aof.1.base.rdb seq 1 type h\n\
         file appendonly.aof.3.incr.aof seq 3 type i\n"
    );
    assert!(d.0.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "aof-disable-auto-gc", "no"]),
        "+OK\r\n"
    );
    assert_eq!(
        manifest(&d.0),
        "file appendonly.aof.3.base.rdb seq 3 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
    );
    assert!(!d.0.join("appendonlydir/appendonly.aof.1.base.rdb").exists());
    crash(server);
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    assert_eq!(server.raw().cmd(&["GET", "n"]), "$1\r\n2\r\n");
}
