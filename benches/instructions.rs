//! Fixed workloads for instruction counting under `valgrind --tool=callgrind`
//! (`bench/callgrind.sh` runs them). Each measured part runs inside a function whose name
//! starts with `measured_`, so callgrind's `--toggle-collect` counts it and nothing else.
//!
//! ```text
//! instructions set N          parse + dispatch of N `SET key:i xxx`, 16 per batch
//! instructions get N          N SETs (not counted), then N `GET key:i` (counted)
//! instructions rdb-write P N  writes an RDB file of N string keys to P (not for callgrind)
//! instructions rdb-load P     loads P into an empty store
//! ```
//!
//! Under `cargo bench` (no arguments but `--bench`) it runs a small SET workload once.

mod workload;

use std::path::Path;

use bytes::BytesMut;
use kopi::keyspace::{Store, StringValue, Value};
use kopi::persistence::snapshot;
use workload::Harness;

#[inline(never)]
fn measured_serve(h: &mut Harness, input: &mut BytesMut) -> usize {
    h.serve(input)
}

#[inline(never)]
fn measured_rdb_load(path: &Path) -> (u64, Store) {
    let mut store = Store::new(16);
    let loaded = snapshot::load_into(&mut store, path).expect("the RDB file loads");
    // Returned, so that freeing it is not counted.
    (loaded.keys, store)
}

fn serve_requests(input: Vec<u8>, h: &mut Harness) {
    let mut buf = BytesMut::from(&input[..]);
    let replied = measured_serve(h, &mut buf);
    assert!(buf.is_empty() && replied > 0);
}

fn write_rdb(path: &Path, keys: usize) {
    let mut store = Store::new(16);
    for i in 0..keys {
        // Half integers (the `int` encoding), half short strings (`embstr`).
        let value = if i % 2 == 0 {
            i.to_string().into_bytes()
        } else {
            format!("value:{i}").into_bytes()
        };
        store.dbs[0].set(
            &workload::key(i),
            Value::String(StringValue::from_bytes(&value)),
            false,
            0,
        );
    }
    let mut bytes = Vec::new();
    snapshot::write_store(&store, 0, false, true, &mut |chunk| {
        bytes.extend_from_slice(chunk);
        Ok(())
    })
    .expect("writes to memory");
    std::fs::write(path, bytes).expect("the RDB file is written");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let count = |s: &str| s.parse::<usize>().expect("a count");
    match words.as_slice() {
        ["set", n] => {
            let mut h = Harness::new();
            serve_requests(workload::sets(count(n)), &mut h);
        }
        ["get", n] => {
            let n = count(n);
            let mut h = Harness::new();
            let mut setup = BytesMut::from(&workload::sets(n)[..]);
            h.serve(&mut setup);
            serve_requests(workload::gets(n), &mut h);
        }
        ["rdb-write", path, n] => write_rdb(Path::new(path), count(n)),
        ["rdb-load", path] => {
            let (keys, store) = measured_rdb_load(Path::new(path));
            assert_eq!(keys as usize, store.dbs[0].len());
            println!("loaded {keys} keys");
        }
        ["--bench", ..] | [] => {
            let mut h = Harness::new();
            serve_requests(workload::sets(1000), &mut h);
            println!("instructions: run through bench/callgrind.sh");
        }
        _ => {
            eprintln!("usage: instructions set N | get N | rdb-write PATH N | rdb-load PATH");
            std::process::exit(2);
        }
    }
}
