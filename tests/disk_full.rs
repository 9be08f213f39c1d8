//! A real full disk: the data directory on a small tmpfs, filled up while clients write.
//!
//! Under `everysec` and `no` the write that meets ENOSPC is not acknowledged until the AOF
//! holds it; meanwhile other writes (and PING) are refused with `-MISCONF`, reads are served;
//! once space returns the writer's retry succeeds by itself, the held reply goes out and
//! writes are accepted again; after a SIGKILL and a restart every acknowledged key is there.
//! Under `always` the same, and a SIGKILL while the disk is still full loses nothing that was
//! acknowledged.
//!
//! Mounting needs root (CAP_SYS_ADMIN): without it these tests say so loudly and pass.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Raw, Server, fresh_dir};

/// The tmpfs size: small, so filling it is quick.
const TMPFS_BYTES: u64 = 4 << 20;
/// The value written under every key.
const VALUE_BYTES: usize = 1000;

/// A tmpfs mounted for one test, unmounted (lazily, in case a file is still open) on drop.
struct Tmpfs {
    outer: PathBuf,
    mount: PathBuf,
}

impl Tmpfs {
    fn mount(test: &str) -> Option<Tmpfs> {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!(
                "\n*** SKIPPED {test}: mounting a tmpfs needs root; run the tests as root to check a real full disk ***\n"
            );
            return None;
        }
        let outer = fresh_dir();
        let mount = outer.join("data");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={TMPFS_BYTES},mode=0700"))
            .arg("tmpfs")
            .arg(&mount)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "\n*** SKIPPED {test}: `mount -t tmpfs` failed ({status:?}): no CAP_SYS_ADMIN in this container ***\n"
            );
            let _ = std::fs::remove_dir_all(&outer);
            return None;
        }
        Some(Tmpfs { outer, mount })
    }

    /// Fills the file system up to `leave` free bytes with one file, returned for removal.
    fn fill(&self, leave: u64) -> PathBuf {
        let filler = self.mount.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x55u8; 64 * 1024];
        while free_bytes(&self.mount) > leave + chunk.len() as u64 {
            file.write_all(&chunk).unwrap();
        }
        file.sync_all().unwrap();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        let _ = std::fs::remove_dir_all(&self.outer);
    }
}

fn free_bytes(path: &Path) -> u64 {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    st.f_bavail as u64 * st.f_frsize as u64
}

fn start(fs: &Tmpfs, policy: &str) -> Server {
    // The log stays outside the tmpfs (start_in's dir); the data goes into it.
    Server::start_in(
        &fs.outer,
        &[
            "--dir",
            fs.mount.to_str().unwrap(),
            "--appendonly",
            "yes",
            "--appendfsync",
            policy,
            "--save",
            "",
        ],
    )
}

/// `VALUE_BYTES` letters that depend on `i` and do not compress (RDB bases use LZF).
fn value_of(i: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..VALUE_BYTES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x % 26) as u8) as char
        })
        .collect()
}

/// Sends `SET k:i` for i = 0, 1, ... until one reply does not come within a second: the one
/// stuck on the full disk. Returns the keys acknowledged before it and the connection still
/// waiting for the stuck reply.
fn write_until_stuck(server: &Server) -> (Vec<usize>, Raw, usize) {
    let mut raw = server.raw();
    raw.writer
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut acked = Vec::new();
    for i in 0.. {
        assert!(i < 10_000, "the disk never filled up");
        let key = format!("k:{i}");
        raw.send_cmd(&[b"SET", key.as_bytes(), value_of(i).as_bytes()]);
        let mut reply = Vec::new();
        match common::read_value(&mut raw.reader, &mut reply) {
            Ok(()) => {
                assert_eq!(reply, b"+OK\r\n", "SET {key}");
                acked.push(i);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (acked, raw, i);
            }
            Err(e) => panic!("SET {key}: {e}"),
        }
    }
    unreachable!()
}

fn info_field(raw: &mut Raw, field: &str) -> String {
    let info = raw.cmd(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_all_there(server: &Server, acked: &[usize]) {
    let mut raw = server.raw();
    for &i in acked {
        let expected = format!("${VALUE_BYTES}\r\n{}\r\n", value_of(i));
        assert_eq!(raw.cmd(&["GET", &format!("k:{i}")]), expected, "k:{i} lost");
    }
}

const MISCONF: &str = "-MISCONF Errors writing to the AOF file: No space left on device\r\n";

fn full_disk_refuses_writes_serves_reads_and_resumes(policy: &str) {
    let Some(fs) = Tmpfs::mount(&format!("full_disk_{policy}")) else {
        return;
    };
    let mut server = start(&fs, policy);
    let filler = fs.fill(256 * 1024);
    let (mut acked, mut stuck, stuck_key) = write_until_stuck(&server);
    assert!(!acked.is_empty(), "some writes fit");

    // While the disk is full: writes and PING refused, reads served, INFO says why.
    let mut other = server.raw();
    wait_for("the write error in INFO", || {
        info_field(&mut other, "aof_last_write_status") == "err"
    });
    assert_eq!(other.cmd(&["SET", "x", "1"]), MISCONF);
    assert_eq!(other.cmd(&["PING"]), MISCONF);
    assert_eq!(other.cmd(&["INCR", "counter"]), MISCONF);
    let first = acked[0];
    assert_eq!(
        other.cmd(&["GET", &format!("k:{first}")]),
        format!("${VALUE_BYTES}\r\n{}\r\n", value_of(first))
    );
    assert_eq!(other.cmd(&["EXISTS", "x"]), ":0\r\n");

    // Space returns: the retry writes the held group, its reply goes out, writes resume.
    std::fs::remove_file(&filler).unwrap();
    stuck
        .writer
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    assert_eq!(
        stuck.read_reply(),
        b"+OK\r\n",
        "the held SET is acknowledged"
    );
    acked.push(stuck_key);
    wait_for("writes to resume", || other.cmd(&["PING"]) == "+PONG\r\n");
    assert_eq!(info_field(&mut other, "aof_last_write_status"), "ok");
    for i in stuck_key + 1..stuck_key + 50 {
        assert_eq!(
            other.cmd(&["SET", &format!("k:{i}"), &value_of(i)]),
            "+OK\r\n"
        );
        acked.push(i);
    }

    // SIGKILL, restart: every acknowledged key is there.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(&fs, policy);
    check_all_there(&server, &acked);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["EXISTS", "x", "counter"]), ":0\r\n");
}

#[test]
fn full_disk_everysec_refuses_writes_serves_reads_and_resumes() {
    full_disk_refuses_writes_serves_reads_and_resumes("everysec");
}

#[test]
fn full_disk_no_refuses_writes_serves_reads_and_resumes() {
    full_disk_refuses_writes_serves_reads_and_resumes("no");
}

#[test]
fn full_disk_always_resumes_once_space_returns() {
    full_disk_refuses_writes_serves_reads_and_resumes("always");
}

/// Under `always` a SIGKILL while the disk is still full: the stuck write was never
/// acknowledged, everything acknowledged before it is there after the restart.
#[test]
fn full_disk_always_kill_while_full_loses_nothing_acknowledged() {
    let Some(fs) = Tmpfs::mount("full_disk_always_kill_while_full") else {
        return;
    };
    let mut server = start(&fs, "always");
    let filler = fs.fill(256 * 1024);
    let (acked, mut stuck, stuck_key) = write_until_stuck(&server);
    assert!(!acked.is_empty(), "some writes fit");
    // Still nothing for the stuck write a while later: it is not acknowledged.
    std::thread::sleep(Duration::from_millis(1500));
    let mut byte = [0u8; 1];
    assert!(
        std::io::Read::read(&mut stuck.reader, &mut byte).is_err(),
        "no reply for k:{stuck_key} while the disk is full"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    std::fs::remove_file(&filler).unwrap();
    let server = start(&fs, "always");
    check_all_there(&server, &acked);
}

/// The files the manifest names and every other file in the AOF directory.
fn aof_dir_files(fs: &Tmpfs) -> (Vec<String>, Vec<String>) {
    let dir = fs.mount.join("appendonlydir");
    let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
    let named: Vec<String> = manifest
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    (named, present)
}

/// A rewrite meeting a full disk fails without harm: the old files stay and load, its temp
/// base is removed, and automatic rewrites back off after three failures (Redis's
/// `aofRewriteLimited`) instead of opening an incr file per cron tick. With space back, a
/// rewrite succeeds and retires the incr files the failures left.
#[test]
fn rewrites_failing_on_a_full_disk_back_off_and_harm_nothing() {
    let Some(fs) = Tmpfs::mount("rewrites_failing_on_a_full_disk") else {
        return;
    };
    let mut server = start(&fs, "everysec");
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "auto-aof-rewrite-percentage", "0"]),
        "+OK\r\n"
    );
    // About 1.5 MB of data: its base cannot fit in what the filler leaves.
    let mut acked: Vec<usize> = (0..1500).collect();
    for &i in &acked {
        assert_eq!(
            raw.cmd(&["SET", &format!("k:{i}"), &value_of(i)]),
            "+OK\r\n"
        );
    }
    let filler = fs.fill(512 * 1024);
    for cmd in [
        &["CONFIG", "SET", "auto-aof-rewrite-min-size", "0"][..],
        &["CONFIG", "SET", "auto-aof-rewrite-percentage", "1"],
    ] {
        assert_eq!(raw.cmd(cmd), "+OK\r\n");
    }
    wait_for("three failed rewrites", || {
        info_field(&mut raw, "aof_rewrites_consecutive_failures") == "3"
    });
    wait_for("the back-off", || {
        server
            .log_text()
            .contains("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes")
    });
    assert!(
        server
            .log_text()
            .contains("Background AOF rewrite terminated with error"),
        "{}",
        server.log_text()
    );
    // Writes go on meanwhile, and the cron orders no more rewrites.
    for i in 1500..1550 {
        assert_eq!(
            raw.cmd(&["SET", &format!("k:{i}"), &value_of(i)]),
            "+OK\r\n"
        );
        acked.push(i);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        info_field(&mut raw, "aof_rewrites_consecutive_failures"),
        "3"
    );
    assert_eq!(info_field(&mut raw, "aof_last_bgrewrite_status"), "err");
    let (named, present) = aof_dir_files(&fs);
    let incrs = named.iter().filter(|n| n.contains(".incr.")).count();
    assert!(incrs <= 4, "one incr file per attempt at most: {named:?}");
    for name in &named {
        assert!(
            present.contains(name),
            "{name} named but missing: {present:?}"
        );
    }
    assert!(
        !present.iter().any(|p| p.starts_with("temp-")),
        "temp files left: {present:?}"
    );

    // Space back: a rewrite succeeds and leaves one base and one incr file.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "auto-aof-rewrite-percentage", "0"]),
        "+OK\r\n"
    );
    assert_eq!(
        raw.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_for("the rewrite", || {
        info_field(&mut raw, "aof_rewrite_in_progress") == "0"
            && info_field(&mut raw, "aof_last_bgrewrite_status") == "ok"
    });
    let (named, present) = aof_dir_files(&fs);
    assert_eq!(named.len(), 2, "{named:?}");
    let mut expected = named.clone();
    expected.push("appendonly.aof.manifest".into());
    expected.sort();
    assert_eq!(present, expected);

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(&fs, "everysec");
    check_all_there(&server, &acked);
}
