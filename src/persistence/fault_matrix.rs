//! The storage fault matrix: SQLite's I/O-error test method over the whole AOF lifecycle.
//!
//! One scenario — acknowledged writes, a BGREWRITEAOF (new incr file, manifest update, base
//! written, synced, renamed, manifest committed, history removed), more writes — is run again
//! and again with one fault planned at the 1st, 2nd, 3rd, ... call of one storage operation,
//! until a run where the fault no longer fires. Faults: `ENOSPC` and `EIO` at every
//! operation (create, open, write, fdatasync, fsync, rename, remove, directory fsync), and a
//! short write followed by a failing one (a torn record). After every run:
//!
//! - the failure was visible (a refused write, a failed rewrite) or harmless;
//! - once the fault is gone the server recovers by itself or by the next rewrite;
//! - every file the manifest names exists, no `temp-` file is left, at most two incr files;
//! - the directory loads, at start-up, with every acknowledged write.
//!
//! `appendfsync everysec`: under `always` a failed fdatasync ends the process (as Redis), so
//! that case is a process-level one (tests/aof.rs); everything else behaves the same.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::aof::{self, Aof, RewriteOrder};
use super::fs::{FaultyStorage, Op, TempDir};
use super::manifest::{AppendFilename, Manifest};
use crate::commands;
use crate::protocol::reply::{Protocol, Reply};
use crate::server::Server;
use crate::server::client::{Client, ClientHandle, Peer};
use crate::server::config::Config;

const OPS: [Op; 8] = [
    Op::CreateNew,
    Op::OpenAppend,
    Op::Write,
    Op::SyncData,
    Op::SyncAll,
    Op::Rename,
    Op::RemoveFile,
    Op::SyncDir,
];

#[derive(Clone, Copy, Debug)]
enum Fault {
    Fail(Op, i32),
    /// The nth write lands 3 bytes, the next one fails with ENOSPC.
    TornWrite,
}

impl Fault {
    fn plan(self, storage: &FaultyStorage, nth: u64) {
        match self {
            Fault::Fail(op, errno) => {
                storage.fail(op, storage.calls(op) + nth, errno);
            }
            Fault::TornWrite => {
                let at = storage.calls(Op::Write) + nth;
                storage
                    .short_write(at, 3)
                    .fail(Op::Write, at + 1, libc::ENOSPC);
            }
        }
    }
}

fn config() -> Config {
    let args: Vec<String> = ["--appendonly", "yes", "--appendfsync", "everysec"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    Config::from_args(&args).unwrap()
}

struct Node {
    server: Arc<Server>,
    aof: Arc<Aof>,
    client: Client,
    runtime: tokio::runtime::Runtime,
    acked: Vec<u64>,
}

impl Node {
    fn boot(dir: &Path, storage: Arc<FaultyStorage>) -> Node {
        let server = Server::new(config());
        let manifest = aof::prepare_dir(dir, &AppendFilename::default()).unwrap();
        aof::load(&server, dir, &manifest, true).unwrap();
        let aof = aof::start_with_storage(&server, dir, &manifest, storage).unwrap();
        *server.aof_slot.write() = Some(aof.clone());
        let peer = Peer::internal();
        Node {
            server,
            aof,
            client: Client::new(ClientHandle::detached(1, &peer), peer, true),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap(),
            acked: Vec::new(),
        }
    }

    /// SET k:n v:n; counted acknowledged when the reply is +OK and the AOF holds it (what a
    /// connection waits for before the reply leaves).
    fn set(&mut self, n: u64) {
        let mut reply = Reply::new(Protocol::Resp2);
        let lsn = {
            let mut state = self.server.state.lock();
            let args = [
                Bytes::from_static(b"SET"),
                Bytes::from(format!("k:{n}")),
                Bytes::from(format!("v:{n}")),
            ];
            commands::execute(
                &self.server,
                &mut state,
                &mut self.client,
                &mut reply,
                &args,
            );
            state.effects.lsn()
        };
        if reply.buf != b"+OK\r\n" {
            assert!(
                reply
                    .buf
                    .starts_with(b"-MISCONF Errors writing to the AOF file: "),
                "{}",
                String::from_utf8_lossy(&reply.buf)
            );
            return;
        }
        let wait = self.aof.wait_durable(lsn);
        let durable = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), wait).await });
        assert_eq!(durable, Ok(true), "k:{n} never reached the AOF");
        self.acked.push(n);
    }

    /// BGREWRITEAOF and its end; whether it succeeded.
    fn rewrite(&self) -> bool {
        assert_eq!(self.aof.order_rewrite(false), RewriteOrder::Started);
        wait_until("the rewrite's end", || !self.aof.rewrite_in_progress());
        self.aof.last_rewrite_ok()
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs the scenario with `fault` at the `nth` call; returns false when it never fired.
fn run(fault: Fault, nth: u64) -> bool {
    let what = format!("{fault:?} at call {nth}");
    let tmp = TempDir::new("fault-matrix");
    let dir = tmp.0.join("appendonlydir");
    let storage = Arc::new(FaultyStorage::new());
    let mut node = Node::boot(&dir, storage.clone());
    for n in 0..5 {
        node.set(n);
    }
    fault.plan(&storage, nth);
    for n in 5..10 {
        node.set(n);
    }
    let rewritten = node.rewrite();
    for n in 10..15 {
        node.set(n);
    }
    // Recovery: a write error is retried once a second; a failed fsync or rewrite is
    // recovered by the next rewrite.
    if node.aof.write_error().is_some() || !rewritten {
        wait_until("a retried write", || {
            node.aof.write_error().is_none_or(|e| !e.contains("space"))
        });
        if node.aof.write_error().is_some() || !rewritten {
            assert!(node.rewrite(), "{what}: the rewrite after the fault failed");
        }
    }
    assert_eq!(
        node.aof.write_error(),
        None,
        "{what}: still refusing writes"
    );
    for n in 15..20 {
        node.set(n);
    }
    assert!(
        (15..20).all(|n| node.acked.contains(&n)),
        "{what}: writes after the recovery refused"
    );
    node.aof.shutdown();
    let fired = storage.fired() > 0;

    // What is on disk.
    let manifest = Manifest::load(&dir, &AppendFilename::default())
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .expect("a manifest");
    let named: Vec<String> = manifest
        .files_to_load()
        .map(|f| String::from_utf8_lossy(&f.name).into_owned())
        .collect();
    let incrs = named.iter().filter(|n| n.contains(".incr.")).count();
    assert!(incrs <= 2, "{what}: {named:?}");
    let present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in &named {
        assert!(
            present.contains(name),
            "{what}: {name} missing: {present:?}"
        );
    }
    assert!(
        !present.iter().any(|p| p.starts_with("temp-")),
        "{what}: temp files left: {present:?}"
    );

    // A restart loads every acknowledged write.
    let server = Server::new(config());
    aof::load(&server, &dir, &manifest, true).unwrap_or_else(|e| panic!("{what}: {e}"));
    let state = server.state.lock();
    for &n in &node.acked {
        let key = format!("k:{n}");
        assert!(
            state.store.dbs[0].peek(key.as_bytes(), 0).is_some(),
            "{what}: acknowledged {key} lost"
        );
    }
    fired
}

fn matrix(faults: &[Fault]) {
    for &fault in faults {
        let mut runs = 0;
        for nth in 1.. {
            if !run(fault, nth) {
                break;
            }
            runs += 1;
            assert!(nth < 200, "{fault:?} fires forever");
        }
        eprintln!("{fault:?}: a fault at each of {runs} calls");
    }
}

#[test]
fn enospc_at_every_storage_call_loses_nothing_acknowledged() {
    let faults: Vec<Fault> = OPS
        .iter()
        .map(|&op| Fault::Fail(op, libc::ENOSPC))
        .collect();
    matrix(&faults);
}

#[test]
fn eio_at_every_storage_call_loses_nothing_acknowledged() {
    let faults: Vec<Fault> = OPS.iter().map(|&op| Fault::Fail(op, libc::EIO)).collect();
    matrix(&faults);
}

#[test]
fn a_torn_write_at_every_write_loses_nothing_acknowledged() {
    matrix(&[Fault::TornWrite]);
}
