//! The append-only file: layout, the durability contract, loading, crash recovery.
mod common;

use std::path::{Path, PathBuf};

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
    let server = Server::start_in(&d.0, &["--appendonly", "yes", "--appendfsync", policy]);
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
