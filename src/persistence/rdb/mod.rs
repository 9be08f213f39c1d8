//! The RDB format, Redis 7.0's snapshot encoding: the writer kopi's snapshots (`dump.rdb`,
//! the AOF's `.base.rdb`) and DUMP use, and the reader for files and RESTORE payloads written
//! by Redis 1.x through 8.x.
//!
//! A file, as 7.0.15 writes it (the tests compare ours with files and DUMP payloads from a
//! real 7.0.15):
//!
//! ```text
//! "REDIS0010"
//! FA "redis-ver" "7.0.15"   FA "redis-bits" 64   FA "ctime" <s>   FA "used-mem" <bytes>
//! FA "aof-base" 0|1
//! per non-empty db:  FE <db>  FB <keys> <keys with expiry>
//!   per key:  [FC <expiry ms, 8 bytes LE>] [F8 <idle s>] [F9 <freq>] <type> <key> <value>
//! FF <CRC-64 of everything from "R" through FF, 8 bytes LE; zeros when rdbchecksum is off>
//! ```
//!
//! Lengths are 1, 2, 5 or 9 bytes (`00xxxxxx`, `01xxxxxx xxxxxxxx` big-endian, `80` + u32 BE,
//! `81` + u64 BE); a first byte `11xxxxxx` marks a string stored as an 8/16/32-bit integer
//! (`C0`, `C1`, `C2`, little-endian) or LZF-compressed (`C3 <compressed len> <len> <bytes>`).
//!
//! - `writer` ([`write_header`], [`write_db_start`], [`write_entry`], [`write_end`],
//!   [`dump_payload`]): what 7.0.15 writes for each of kopi's encodings: strings
//!   (type 0), lists as a quicklist of listpacks (18), sets as an intset (11) or plain (2),
//!   sorted sets as a listpack (17) or members with binary scores (5), hashes as a listpack
//!   (16) or plain (4).
//! - [`RdbReader`]: every type 7.0, 7.2 and 7.4 write for these data types, and the older
//!   ziplist/zipmap forms; streams, modules and hash field expiry are refused by name.
//! - `listpack`, `legacy`: the compact blobs, validated in full before use.
//! - [`Crc64`], `lzf`: the checksum and the compression, written here.
//!
//! Deviations from the API first agreed: [`restore_payload`]'s errors carry the exact reply
//! texts ([`RESTORE_BAD_PAYLOAD`], [`RESTORE_BAD_DATA`]) so the caller replies `ERR
//! {message}`; `keyspace::list::ListValue::nodes` was added so the writer saves one
//! quicklist node per chunk, as DEBUG OBJECT's `serializedlength` counts them.

mod crc64;
mod legacy;
mod listpack;
mod lzf;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use crc64::Crc64;
pub use reader::{RDB_VERSION_MAX_READ, RDB_VERSION_MIN_READ, RdbReader};
pub use writer::{set_compression, set_eviction_info, write_db_start, write_end, write_header};

use crate::keyspace::{Entry, Value};

/// The format version kopi writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

/// RESTORE's reply texts for a payload it refuses.
pub const RESTORE_BAD_PAYLOAD: &str = "DUMP payload version or checksum are wrong";
pub const RESTORE_BAD_DATA: &str = "Bad data format";

/// Value type bytes (`RDB_TYPE_*` in `rdb.h`, through 7.4).
pub(crate) mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    pub const HASH_METADATA: u8 = 24;
    pub const HASH_LISTPACK_EX: u8 = 25;
}

/// Opcodes (`RDB_OPCODE_*`).
pub(crate) mod opcode {
    pub const SLOT_INFO: u8 = 244;
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Length markers followed by 4 or 8 big-endian bytes.
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;
/// Special string encodings (`11` + `RDB_ENC_*`).
const ENC_INT8: u8 = 0xc0;
const ENC_INT16: u8 = 0xc1;
const ENC_INT32: u8 = 0xc2;
const ENC_LZF: u8 = 0xc3;
/// Quicklist node containers in type 18.
const QUICKLIST_NODE_PLAIN: u64 = 1;
const QUICKLIST_NODE_PACKED: u64 = 2;
/// A DUMP payload's footer: RDB version (2 bytes) and CRC-64 (8 bytes).
const DUMP_FOOTER_SIZE: usize = 10;

/// A malformed or unsupported RDB stream, with the offset where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.offset)
    }
}

impl std::error::Error for RdbError {}

/// One thing an RDB stream holds, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    SelectDb(usize),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    /// A function library's source (FUNCTION2); kopi has no functions, the caller decides.
    Function(Vec<u8>),
    Key {
        key: Vec<u8>,
        value: Value,
        /// Absolute Unix milliseconds, or `NO_EXPIRY`.
        expire_at_ms: i64,
        idle_s: Option<u64>,
        freq: Option<u8>,
    },
    /// EOF reached and the checksum verified (or zero, or a version before checksums);
    /// `end` is the offset just after the checksum.
    End {
        end: u64,
        checksum_checked: bool,
    },
}

/// Whether a file beginning with `prefix` is an RDB (rather than RESP commands).
pub fn is_rdb(prefix: &[u8]) -> bool {
    prefix.starts_with(b"REDIS")
}

/// One key as the snapshot writer calls it (a [`crate::keyspace::cut::EntryWriter`]), with
/// the process-wide options.
pub fn write_entry(out: &mut Vec<u8>, entry: &Entry) {
    writer::write_entry_with(
        out,
        entry,
        writer::Options::current(),
        crate::clock::now_s(),
    );
}

/// DUMP's payload: type byte, value, RDB version (u16 LE), CRC-64 (LE) of all that.
pub fn dump_payload(value: &Value) -> Vec<u8> {
    writer::dump_payload_with(value, writer::Options::current().compression)
}

/// RESTORE: the value in a DUMP payload. The footer's version must be one kopi writes or
/// older and its checksum right ([`RESTORE_BAD_PAYLOAD`] otherwise); the body must be one
/// whole, non-empty value and nothing more ([`RESTORE_BAD_DATA`] otherwise).
pub fn restore_payload(payload: &[u8]) -> Result<Value, RdbError> {
    let bad_payload = || RdbError {
        offset: 0,
        message: RESTORE_BAD_PAYLOAD.into(),
    };
    if payload.len() < DUMP_FOOTER_SIZE {
        return Err(bad_payload());
    }
    let (body, footer) = payload.split_at(payload.len() - DUMP_FOOTER_SIZE);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(bad_payload());
    }
    let stored = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    if crc64::crc64(&payload[..payload.len() - 8]) != stored {
        return Err(bad_payload());
    }
    let bad_data = |offset: u64| RdbError {
        offset,
        message: RESTORE_BAD_DATA.into(),
    };
    let (&value_type, value_bytes) = body.split_first().ok_or_else(|| bad_data(0))?;
    if !reader::is_known_type(value_type) {
        return Err(bad_data(0));
    }
    let mut reader = RdbReader::headless(value_bytes);
    let value = reader
        .read_value(value_type, b"")
        .map_err(|e| bad_data(1 + e.offset))?;
    let left = reader.into_inner().len();
    match value {
        Some(value) if left == 0 => Ok(value),
        _ => Err(bad_data((body.len() - left) as u64)),
    }
}

/// The fuzz target's body (`fuzz/fuzz_targets/rdb_load.rs`), here so the corpus also runs as
/// a unit test: `data` read as a whole RDB file to its end, then as a RESTORE payload. Any
/// input ends in items or an error; a panic is the bug being looked for.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(mut reader) = RdbReader::new(data) {
        // Every item consumes input, so this ends; the bound is a second guard.
        for _ in 0..=data.len() {
            match reader.next_item() {
                Ok(Item::End { .. }) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    let _ = restore_payload(data);
}

#[cfg(test)]
mod fuzz_corpus {
    /// The fuzz corpus in the repository, through the fuzz target's body: the smoke run of
    /// `cargo test` (a real fuzzing run is `cargo fuzz run rdb_load`, see fuzz/README.md).
    #[test]
    fn the_fuzz_corpus_loads_without_panicking() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/rdb_load");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/rdb_load") {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus file");
            super::fuzz_one(&bytes);
            // The named seeds (files written by redis-server) are also cut at every length;
            // the fuzzer's own finds (named by their hash) are small variations already.
            if path.extension().is_some() {
                for len in 0..bytes.len().min(4096) {
                    super::fuzz_one(&bytes[..len]);
                }
            }
            files += 1;
        }
        assert!(files >= 3, "the corpus has {files} files");
    }
}
