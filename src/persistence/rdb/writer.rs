//! The RDB writer: Redis 7.0.15's `rdbSaveRio`, `rdbSaveKeyValuePair`, `rdbSaveObject` and
//! `rdbSaveRawString`, byte for byte except inside LZF blobs (any valid LZF stream loads).

use std::sync::atomic::{AtomicBool, Ordering};

use super::listpack::ListpackWriter;
use super::lzf;
use super::{Crc64, opcode, types};
use crate::keyspace::hash::HashValue;
use crate::keyspace::set::{Member, SetValue};
use crate::keyspace::zset::{ZSet, listpack_score_text};
use crate::keyspace::{Entry, LFU_DECAY_MINUTES, NO_EXPIRY, Value, lfu_decayed};
use crate::util::parse_i64;

static COMPRESSION: AtomicBool = AtomicBool::new(true);
static SAVE_LRU: AtomicBool = AtomicBool::new(false);
static SAVE_LFU: AtomicBool = AtomicBool::new(false);

/// `rdbcompression`: whether strings longer than 20 bytes are LZF-compressed when that saves
/// at least 4 bytes.
pub fn set_compression(on: bool) {
    COMPRESSION.store(on, Ordering::Relaxed);
}

/// Whether `maxmemory-policy` is an LRU or an LFU one: Redis then saves each key's idle
/// time (IDLE) or access counter (FREQ) before it, so eviction resumes where it was.
pub fn set_eviction_info(lru: bool, lfu: bool) {
    SAVE_LRU.store(lru, Ordering::Relaxed);
    SAVE_LFU.store(lfu, Ordering::Relaxed);
}

/// What the writer does, read once from the process-wide settings (tests pass their own, so
/// tests running in parallel do not disturb each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Options {
    pub compression: bool,
    pub save_lru: bool,
    pub save_lfu: bool,
}

impl Options {
    pub fn current() -> Options {
        Options {
            compression: COMPRESSION.load(Ordering::Relaxed),
            save_lru: SAVE_LRU.load(Ordering::Relaxed),
            save_lfu: SAVE_LFU.load(Ordering::Relaxed),
        }
    }
}

/// Strings no longer than this are tried as integers (`rdbTryIntegerEncoding`'s limit: an
/// int32 has at most 11 characters).
const INT_ENCODING_TEXT_MAX: usize = 11;
/// Strings up to this length are never compressed (LZF cannot gain 4 bytes on them).
const COMPRESSION_MIN_EXCLUSIVE: usize = 20;
/// Compression must save at least this many bytes to be used.
const COMPRESSION_GAIN_MIN: usize = 4;

/// A length (`rdbSaveLen`): 6 bits, 14 bits big-endian, or a marker and 4 or 8 bytes
/// big-endian.
pub fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u32::MAX as u64 {
        out.push(super::LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(super::LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// The special integer encoding of `bytes`, when it is a canonical integer that fits in 32
/// bits (`rdbTryIntegerEncoding` + `rdbEncodeInteger`).
fn integer_encoding(bytes: &[u8]) -> Option<([u8; 5], usize)> {
    if bytes.len() > INT_ENCODING_TEXT_MAX {
        return None;
    }
    let n = parse_i64(bytes)?;
    let mut buf = [0u8; 5];
    if let Ok(v) = i8::try_from(n) {
        buf[0] = super::ENC_INT8;
        buf[1] = v as u8;
        Some((buf, 2))
    } else if let Ok(v) = i16::try_from(n) {
        buf[0] = super::ENC_INT16;
        buf[1..3].copy_from_slice(&v.to_le_bytes());
        Some((buf, 3))
    } else if let Ok(v) = i32::try_from(n) {
        buf[0] = super::ENC_INT32;
        buf[1..5].copy_from_slice(&v.to_le_bytes());
        Some((buf, 5))
    } else {
        None
    }
}

/// A string (`rdbSaveRawString`): small canonical integers as integers; with compression on,
/// strings over 20 bytes as LZF when that saves 4 bytes or more; otherwise length and bytes.
pub fn write_string(out: &mut Vec<u8>, bytes: &[u8], compression: bool) {
    if let Some((buf, len)) = integer_encoding(bytes) {
        out.extend_from_slice(&buf[..len]);
        return;
    }
    if compression
        && bytes.len() > COMPRESSION_MIN_EXCLUSIVE
        && let Some(compressed) = lzf::compress(bytes, bytes.len() - COMPRESSION_GAIN_MIN)
    {
        out.push(super::ENC_LZF);
        write_len(out, compressed.len() as u64);
        write_len(out, bytes.len() as u64);
        out.extend_from_slice(&compressed);
        return;
    }
    write_len(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The type byte Redis 7.0 writes for the value in its current encoding.
pub fn value_type(value: &Value) -> u8 {
    match value {
        Value::String(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(SetValue::Intset(_)) => types::SET_INTSET,
        Value::Set(_) => types::SET,
        Value::ZSet(ZSet::Pack(_)) => types::ZSET_LISTPACK,
        Value::ZSet(_) => types::ZSET_2,
        Value::Hash(HashValue::Listpack(_)) => types::HASH_LISTPACK,
        Value::Hash(_) => types::HASH,
    }
}

/// The value's body, after its type byte (`rdbSaveObject`).
pub fn write_value(out: &mut Vec<u8>, value: &Value, compression: bool) {
    match value {
        Value::String(s) => write_string(out, s.as_bytes(&mut itoa::Buffer::new()), compression),
        Value::List(list) => {
            write_len(out, list.chunk_count() as u64);
            for (plain, mut items) in list.nodes() {
                if plain {
                    write_len(out, super::QUICKLIST_NODE_PLAIN);
                    write_string(out, items.next().unwrap_or_default(), compression);
                } else {
                    write_len(out, super::QUICKLIST_NODE_PACKED);
                    let mut lp = ListpackWriter::new();
                    items.for_each(|item| lp.push(item));
                    write_string(out, &lp.finish(), compression);
                }
            }
        }
        Value::Set(SetValue::Intset(intset)) => {
            // The width the set has (an intset never narrows after a removal, as Redis's).
            let width = match intset.len() {
                0 => 2,
                n => (intset.blob_size() - 8) / n,
            };
            let mut blob = Vec::with_capacity(8 + intset.len() * width);
            blob.extend_from_slice(&(width as u32).to_le_bytes());
            blob.extend_from_slice(&(intset.len() as u32).to_le_bytes());
            for n in intset.iter() {
                blob.extend_from_slice(&n.to_le_bytes()[..width]);
            }
            write_string(out, &blob, compression);
        }
        Value::Set(set) => {
            write_len(out, set.len() as u64);
            for member in set.iter() {
                match member {
                    Member::Int(n) => {
                        write_string(out, itoa::Buffer::new().format(n).as_bytes(), compression)
                    }
                    Member::Bytes(b) => write_string(out, b, compression),
                }
            }
        }
        Value::ZSet(zset @ ZSet::Pack(_)) => {
            let mut lp = ListpackWriter::new();
            zset.for_each_from(0, false, &mut |score, member| {
                lp.push(member);
                lp.push(listpack_score_text(score).as_bytes());
                true
            });
            write_string(out, &lp.finish(), compression);
        }
        Value::ZSet(zset) => {
            write_len(out, zset.len() as u64);
            // Highest first, so loading inserts each element at the head of the skiplist.
            zset.for_each_from(0, true, &mut |score, member| {
                write_string(out, member, compression);
                out.extend_from_slice(&score.to_le_bytes());
                true
            });
        }
        Value::Hash(hash @ HashValue::Listpack(_)) => {
            let mut lp = ListpackWriter::new();
            for (field, value) in hash.iter() {
                lp.push(field);
                lp.push(value);
            }
            write_string(out, &lp.finish(), compression);
        }
        Value::Hash(hash) => {
            write_len(out, hash.len() as u64);
            for (field, value) in hash.iter() {
                write_string(out, field, compression);
                write_string(out, value, compression);
            }
        }
    }
}

fn write_aux(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.push(opcode::AUX);
    write_string(out, key.as_bytes(), true);
    write_string(out, value, true);
}

/// The header `rdbSaveRio` writes before the databases.
pub fn write_header(out: &mut Vec<u8>, aof_base: bool, ctime_s: i64, used_mem: u64) {
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(b"REDIS");
    out.extend_from_slice(format!("{:04}", super::RDB_VERSION).as_bytes());
    write_aux(
        out,
        "redis-ver",
        crate::server::info::REDIS_COMPAT_VERSION.as_bytes(),
    );
    write_aux(out, "redis-bits", b"64");
    write_aux(out, "ctime", n.format(ctime_s).as_bytes());
    write_aux(out, "used-mem", n.format(used_mem).as_bytes());
    write_aux(out, "aof-base", if aof_base { b"1" } else { b"0" });
}

/// SELECTDB and RESIZEDB, before a database's keys.
pub fn write_db_start(out: &mut Vec<u8>, db: usize, keys: u64, expires: u64) {
    out.push(opcode::SELECTDB);
    write_len(out, db as u64);
    out.push(opcode::RESIZEDB);
    write_len(out, keys);
    write_len(out, expires);
}

/// One key (`rdbSaveKeyValuePair`).
pub fn write_entry_with(out: &mut Vec<u8>, entry: &Entry, options: Options, now_s: u32) {
    if entry.expire_at_ms != NO_EXPIRY {
        out.push(opcode::EXPIRETIME_MS);
        out.extend_from_slice(&entry.expire_at_ms.to_le_bytes());
    }
    if options.save_lru {
        out.push(opcode::IDLE);
        write_len(out, u64::from(now_s.saturating_sub(entry.access_s)));
    }
    if options.save_lfu {
        out.push(opcode::FREQ);
        out.push(lfu_decayed(
            entry.freq,
            entry.access_s,
            now_s,
            LFU_DECAY_MINUTES,
        ));
    }
    out.push(value_type(&entry.value));
    write_string(out, &entry.key, options.compression);
    write_value(out, &entry.value, options.compression);
}

/// EOF and the checksum of everything before it (zeros when checksums are off).
pub fn write_end(out: &mut Vec<u8>, crc: &mut Crc64, checksum: bool) {
    out.push(opcode::EOF);
    crc.update(&[opcode::EOF]);
    let value = if checksum { crc.value() } else { 0 };
    out.extend_from_slice(&value.to_le_bytes());
}

/// DUMP's payload: type, value, RDB version, CRC-64 of those.
pub fn dump_payload_with(value: &Value, compression: bool) -> Vec<u8> {
    let mut out = vec![value_type(value)];
    write_value(&mut out, value, compression);
    out.extend_from_slice(&super::RDB_VERSION.to_le_bytes());
    let crc = super::crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
