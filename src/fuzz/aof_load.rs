//! `aof_load`: the manifest parser, the AOF reader and the AOF loader on arbitrary input.
//!
//! The input (read with [`arbitrary`]) is a few choices, a manifest text and the bytes of an
//! AOF file:
//!
//! - The manifest text is parsed; one that parses must write out ([`Manifest::to_bytes`])
//!   to a text that parses to the same manifest.
//! - The file is read whole, with a reader whose buffer starts tiny, and from a source that
//!   hands it out in short reads: the events and the report must be the same.
//! - Unless a command in it would touch files or the server's clients ([`DENIED`]), the file
//!   is loaded by the server's loader ([`crate::persistence::aof::load`]) into an in-process
//!   server, as the only incr file of a manifest, as its base, or as every file of the fuzzed
//!   manifest when that parses and names plain files. Every command thus runs through the
//!   command layer as at start-up. The load ends in the dataset or a clean error; a loaded
//!   dataset passes [`super::command::check_dataset`], and a torn tail that
//!   `aof-load-truncated` let the loader cut leaves a file that reads to a clean end.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::Unstructured;

use crate::persistence::aof_reader::{AofReader, End, Event, ReadOptions, Report};
use crate::persistence::manifest::{Manifest, file_path};

/// Commands whose file is not loaded: they write files (SAVE, BGSAVE, BGREWRITEAOF, CONFIG
/// SET of `appendonly`), stop the process (SHUTDOWN) or act on other clients.
pub const DENIED: &[&[u8]] = &[
    b"shutdown",
    b"save",
    b"bgsave",
    b"bgrewriteaof",
    b"config",
    b"client",
    b"monitor",
    b"debug",
];

/// The incr file of the manifest the fuzzer does not write.
const INCR: &str = "appendonly.aof.1.incr.aof";
const BASE: &str = "appendonly.aof.1.base.aof";

/// What a read handed out, owned: each event, then the report or the error.
#[derive(Debug, PartialEq, Eq)]
struct ReadLog {
    events: Vec<(bool, Vec<Vec<u8>>, u64, u64)>,
    outcome: Result<Report, String>,
}

/// The fuzz target's body (`fuzz/fuzz_targets/aof_load.rs`).
pub fn fuzz_one(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((truncated_ok, layout, buffer_size, read_size, manifest_text)) = header(&mut u) else {
        return;
    };
    let bytes = u.take_rest();

    let fuzzed_manifest = check_manifest(manifest_text);

    let whole = read(bytes, AofReader::new(), usize::MAX);
    let small = read(bytes, AofReader::with_buffer_size(buffer_size), read_size);
    assert_eq!(
        whole, small,
        "reading with a {buffer_size}-byte buffer in reads of {read_size} bytes differs"
    );

    let denied = whole.events.iter().any(|(command, args, _, _)| {
        *command
            && args
                .first()
                .is_some_and(|name| DENIED.iter().any(|d| name.eq_ignore_ascii_case(d)))
    });
    if !denied {
        load(bytes, layout, fuzzed_manifest, truncated_ok, &whole);
    }
}

type Header<'a> = (bool, u8, usize, usize, &'a [u8]);

fn header<'a>(u: &mut Unstructured<'a>) -> arbitrary::Result<Header<'a>> {
    let truncated_ok = u.arbitrary()?;
    let layout = u.int_in_range(0..=2u8)?;
    let buffer_size = u.int_in_range(1..=64usize)?;
    let read_size = u.int_in_range(1..=64usize)?;
    let manifest_len = usize::from(u.arbitrary::<u8>()?).min(u.len());
    let manifest_text = u.bytes(manifest_len)?;
    Ok((truncated_ok, layout, buffer_size, read_size, manifest_text))
}

/// Parses a manifest; one that parses must write out to a text that parses back to it.
fn check_manifest(text: &[u8]) -> Option<Manifest> {
    let manifest = Manifest::parse(text).ok()?;
    let written = manifest.to_bytes();
    if written.is_empty() {
        // A manifest of comments only lists no file and writes out to no bytes, which read as
        // an empty manifest (an error, as in Redis): there is nothing to compare.
        return Some(manifest);
    }
    match Manifest::parse(&written) {
        Ok(again) => assert_eq!(
            manifest,
            again,
            "the manifest written out parses differently:\n{}",
            String::from_utf8_lossy(&written)
        ),
        Err(e) => panic!(
            "the manifest written out does not parse ({e}):\n{}",
            String::from_utf8_lossy(&written)
        ),
    }
    Some(manifest)
}

/// A source that hands out at most `size` bytes a read.
struct Trickle<'a> {
    bytes: &'a [u8],
    size: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.bytes.len().min(self.size).min(out.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn read(bytes: &[u8], mut reader: AofReader, read_size: usize) -> ReadLog {
    let mut events = Vec::new();
    let source = Trickle {
        bytes,
        size: read_size,
    };
    let outcome = reader
        .read(source, &ReadOptions::default(), |event| {
            events.push(match event {
                Event::Command(c) => (
                    true,
                    c.args.iter().map(|a| a.to_vec()).collect(),
                    c.offset,
                    c.end,
                ),
                Event::Annotation(a) => (false, vec![a.text.to_vec()], a.offset, a.end),
            });
            Ok::<(), String>(())
        })
        .map_err(|e| e.to_string());
    ReadLog { events, outcome }
}

/// A directory of its own for one load, removed afterwards.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kopi-fuzz-aof-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(bytes: &[u8], layout: u8, fuzzed: Option<Manifest>, truncated_ok: bool, whole: &ReadLog) {
    let plain = |m: &Manifest| {
        m.files_to_load().all(|f| {
            !f.name.is_empty()
                && !f.name.contains(&b'/')
                && f.name != b"."
                && f.name != b".."
                && f.name.len() < 200
        })
    };
    let generated = |text: String| Manifest::parse(text.as_bytes()).expect("a generated manifest");
    let manifest = match (layout, fuzzed) {
        (2, Some(m)) if plain(&m) => m,
        (1, _) => generated(format!(
            "file {BASE} seq 1 type b\nfile {INCR} seq 1 type i\n"
        )),
        _ => generated(format!("file {INCR} seq 1 type i\n")),
    };
    let Ok(scratch) = Scratch::new() else {
        return;
    };
    let dir: &Path = &scratch.0;
    for f in manifest.files_to_load() {
        // The base of the generated two-file manifest is the fuzzed file, its incr is empty.
        let content = if layout == 1 && f.name == INCR.as_bytes() {
            &[][..]
        } else {
            bytes
        };
        if std::fs::write(file_path(dir, &f.name), content).is_err() {
            return;
        }
    }

    let server = super::command::new_server();
    let loaded = crate::persistence::aof::load(&server, dir, &manifest, truncated_ok);
    if loaded.is_err() {
        return;
    }
    super::command::check_dataset(&server);

    // A torn tail the loader cut off leaves a file that now ends cleanly.
    if layout == 0
        && let Ok(report) = &whole.outcome
        && matches!(report.end, End::Truncated(_))
    {
        let Ok(cut) = std::fs::read(file_path(dir, INCR.as_bytes())) else {
            return;
        };
        let again = read(&cut, AofReader::new(), usize::MAX);
        let Ok(report) = &again.outcome else {
            panic!("the truncated file does not read: {:?}", again.outcome);
        };
        assert_eq!(
            report.end,
            End::Clean,
            "the file the loader truncated does not end cleanly"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_loads_without_panicking() {
        let files = crate::fuzz::corpus::files("aof_load");
        assert!(files.len() >= 10, "the corpus has {} files", files.len());
        for (_, bytes) in files {
            fuzz_one(&bytes);
        }
    }
}
