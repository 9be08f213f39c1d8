//! The RDB reader: a pull parser over any [`Read`], one [`Item`] per call, reading exactly
//! the bytes it needs (never past the checksum), so a replication stream or an AOF with an
//! RDB preamble can go on being read from the same source afterwards.
//!
//! Everything read is untrusted: lengths only bound loops that consume input, strings are
//! read in chunks no bigger than what has arrived, blobs are validated in full before use,
//! and values are rebuilt in kopi's own types with the encodings the current thresholds
//! choose (as Redis re-encodes on load).

use std::io::BufRead;

use super::legacy::{parse_intset, parse_ziplist, parse_zipmap};
use super::listpack::{self, Element};
use super::{Crc64, Item, RdbError, lzf, opcode, types};
use crate::keyspace::hash::{HashValue, SetOutcome};
use crate::keyspace::list::ListValue;
use crate::keyspace::set::SetValue;
use crate::keyspace::zset::ZSet;
use crate::keyspace::{NO_EXPIRY, StringValue, Value};
use crate::util::parse_f64;

/// Oldest and newest format versions read (7.4 and 8.x write 12).
pub const RDB_VERSION_MIN_READ: u16 = 1;
pub const RDB_VERSION_MAX_READ: u16 = 12;
/// The first version with a checksum after EOF.
const CHECKSUM_SINCE_VERSION: u16 = 5;
/// Strings are read in steps of at least this many bytes, growing with what has arrived.
const READ_CHUNK: usize = 64 * 1024;
/// Collections are pre-sized for at most this many elements whatever they declare.
const PRESIZE_MAX: usize = 1024;
/// The old ZSET type's ASCII doubles: these lengths stand for NaN, +inf, -inf.
const DOUBLE_NAN: u8 = 253;
const DOUBLE_POS_INF: u8 = 254;
const DOUBLE_NEG_INF: u8 = 255;
/// Quicklist node containers.
const CONTAINER_PLAIN: u64 = super::QUICKLIST_NODE_PLAIN;
const CONTAINER_PACKED: u64 = super::QUICKLIST_NODE_PACKED;

/// Reads an RDB stream item by item.
pub struct RdbReader<R: BufRead> {
    inner: R,
    version: u16,
    offset: u64,
    crc: Crc64,
    /// Bytes read but not yet in `crc`: the checksum runs over blocks of them, not over
    /// each small read (most reads are a few bytes).
    unsummed: Vec<u8>,
    ended: bool,
}

/// Bytes gathered before they are added to the checksum at once.
const CRC_BLOCK: usize = 16 * 1024;

impl<R: BufRead> std::fmt::Debug for RdbReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RdbReader")
            .field("version", &self.version)
            .field("offset", &self.offset)
            .field("ended", &self.ended)
            .finish()
    }
}

/// What a value decodes to: a value, or nothing when the collection is empty (Redis skips
/// such keys when loading a file).
type Decoded = Option<Value>;

impl<R: BufRead> RdbReader<R> {
    /// Reads and checks the magic and version: `REDIS` and four ASCII digits.
    pub fn new(inner: R) -> Result<Self, RdbError> {
        let mut reader = RdbReader::headless(inner);
        let mut magic = [0u8; 9];
        reader.read_into(&mut magic)?;
        if &magic[..5] != b"REDIS" {
            return Err(reader.error("Wrong signature trying to load DB from file"));
        }
        // Redis reads the digits with atoi: anything else counts as version 0.
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        if !(RDB_VERSION_MIN_READ..=RDB_VERSION_MAX_READ).contains(&version) {
            return Err(reader.error(format!("Can't handle RDB format version {version}")));
        }
        reader.version = version;
        Ok(reader)
    }

    /// A reader positioned at a value, without the file header (RESTORE payloads).
    pub(super) fn headless(inner: R) -> Self {
        RdbReader {
            inner,
            version: super::RDB_VERSION,
            offset: 0,
            crc: Crc64::new(),
            unsummed: Vec::new(),
            ended: false,
        }
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The source, positioned just after the last byte read (after the checksum once
    /// [`Item::End`] was returned).
    pub fn into_inner(self) -> R {
        self.inner
    }

    pub(super) fn error(&self, message: impl Into<String>) -> RdbError {
        RdbError {
            offset: self.offset,
            message: message.into(),
        }
    }

    /// Fills `buf` or fails. A failed read is reported at its first byte, whatever part of
    /// it arrived: Redis's `rio` counts only whole reads, so `redis-check-rdb` names the
    /// same offset for a truncated file.
    // Inlined: most reads are of a length known where they are made (a type byte, a length,
    // a fixed-size integer), and the copies then need no call to `memcpy`.
    #[inline(always)]
    fn read_into(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        let mut filled = 0;
        while filled < buf.len() {
            let available = match self.inner.fill_buf() {
                Ok([]) => return Err(self.error("Unexpected EOF reading RDB file")),
                Ok(available) => available,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(self.error(format!("Error reading RDB file: {e}")));
                }
            };
            // Straight from the source's buffer: most reads are a few bytes.
            let n = available.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&available[..n]);
            self.inner.consume(n);
            filled += n;
        }
        if self.unsummed.len() + buf.len() > CRC_BLOCK {
            self.crc.update(&self.unsummed);
            self.unsummed.clear();
            if buf.len() > CRC_BLOCK {
                self.crc.update(buf);
                self.offset += buf.len() as u64;
                return Ok(());
            }
        }
        self.unsummed.extend_from_slice(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn read_u8(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_into(&mut b)?;
        Ok(b[0])
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.read_into(&mut b)?;
        Ok(b)
    }

    /// `len` bytes, read in growing chunks so a corrupt length cannot allocate more than
    /// about twice what the source actually holds.
    fn read_bytes(&mut self, len: u64) -> Result<Vec<u8>, RdbError> {
        // Exactly as long as a string of one chunk or less (keys become `Bytes` without a
        // copy then); a longer one grows chunk by chunk as its bytes arrive, so a declared
        // length reserves nothing the file does not hold.
        let mut buf = Vec::with_capacity(len.min(READ_CHUNK as u64) as usize);
        let mut left = len;
        while left > 0 {
            let step = left.min(READ_CHUNK.max(buf.len()) as u64) as usize;
            let start = buf.len();
            buf.resize(start + step, 0);
            self.read_into(&mut buf[start..])?;
            left -= step as u64;
        }
        Ok(buf)
    }

    /// A length, or the special-encoding marker of a string (`rdbLoadLenByRef`): returns
    /// the value and whether it is an encoding rather than a length.
    fn read_len_or_encoding(&mut self) -> Result<(u64, bool), RdbError> {
        let first = self.read_u8()?;
        match first >> 6 {
            0 => Ok((u64::from(first & 0x3f), false)),
            1 => {
                let low = self.read_u8()?;
                Ok(((u64::from(first & 0x3f) << 8) | u64::from(low), false))
            }
            3 => Ok((u64::from(first & 0x3f), true)),
            _ if first == super::LEN_32BIT => {
                Ok((u64::from(u32::from_be_bytes(self.read_array()?)), false))
            }
            _ if first == super::LEN_64BIT => Ok((u64::from_be_bytes(self.read_array()?), false)),
            _ => Err(self.error(format!("Unknown length encoding {first} in rdbLoadLen()"))),
        }
    }

    fn read_len(&mut self) -> Result<u64, RdbError> {
        match self.read_len_or_encoding()? {
            (len, false) => Ok(len),
            (_, true) => Err(self.error("Unexpected string encoding where a length belongs")),
        }
    }

    /// A string in any of its encodings.
    fn read_string(&mut self) -> Result<Vec<u8>, RdbError> {
        let (len, encoded) = self.read_len_or_encoding()?;
        if !encoded {
            return self.read_bytes(len);
        }
        let mut text = itoa::Buffer::new();
        match len as u8 | 0xc0 {
            super::ENC_INT8 => {
                let n = i8::from_le_bytes(self.read_array()?);
                Ok(text.format(n).as_bytes().to_vec())
            }
            super::ENC_INT16 => {
                let n = i16::from_le_bytes(self.read_array()?);
                Ok(text.format(n).as_bytes().to_vec())
            }
            super::ENC_INT32 => {
                let n = i32::from_le_bytes(self.read_array()?);
                Ok(text.format(n).as_bytes().to_vec())
            }
            super::ENC_LZF => {
                let compressed_len = self.read_len()?;
                let len = self.read_len()?;
                let len =
                    usize::try_from(len).map_err(|_| self.error("LZF string length too large"))?;
                let compressed = self.read_bytes(compressed_len)?;
                lzf::decompress(&compressed, len)
                    .map_err(|e| self.error(format!("Invalid LZF compressed string: {e}")))
            }
            other => Err(self.error(format!("Unknown RDB string encoding type {other}"))),
        }
    }

    fn read_binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.read_array()?))
    }

    /// The old ZSET type's score: a length byte and `%.17g` text, or a marker.
    fn read_ascii_double(&mut self) -> Result<f64, RdbError> {
        match self.read_u8()? {
            DOUBLE_NAN => Ok(f64::NAN),
            DOUBLE_POS_INF => Ok(f64::INFINITY),
            DOUBLE_NEG_INF => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.read_bytes(u64::from(len))?;
                parse_f64(&text).ok_or_else(|| self.error("Bad double value in RDB file"))
            }
        }
    }

    /// The next item; after [`Item::End`] nothing more is read.
    pub fn next_item(&mut self) -> Result<Item, RdbError> {
        if self.ended {
            return Err(self.error("RDB stream already ended"));
        }
        let mut expire_at_ms = NO_EXPIRY;
        let mut idle_s = None;
        let mut freq = None;
        loop {
            let op = self.read_u8()?;
            match op {
                opcode::EXPIRETIME_MS => {
                    expire_at_ms = i64::from_le_bytes(self.read_array()?);
                }
                opcode::EXPIRETIME => {
                    let seconds = i32::from_le_bytes(self.read_array()?);
                    expire_at_ms = i64::from(seconds) * 1000;
                }
                opcode::IDLE => idle_s = Some(self.read_len()?),
                opcode::FREQ => freq = Some(self.read_u8()?),
                opcode::SLOT_INFO => {
                    for _ in 0..3 {
                        self.read_len()?;
                    }
                }
                opcode::SELECTDB => {
                    let db = self.read_len()?;
                    let db = usize::try_from(db)
                        .map_err(|_| self.error(format!("Bad database number {db}")))?;
                    return Ok(Item::SelectDb(db));
                }
                opcode::RESIZEDB => {
                    let keys = self.read_len()?;
                    let expires = self.read_len()?;
                    return Ok(Item::ResizeDb { keys, expires });
                }
                opcode::AUX => {
                    let key = self.read_string()?;
                    let value = self.read_string()?;
                    return Ok(Item::Aux { key, value });
                }
                opcode::FUNCTION2 => return Ok(Item::Function(self.read_string()?)),
                opcode::FUNCTION_PRE_GA => {
                    return Err(self.error("Pre-release function format not supported"));
                }
                opcode::MODULE_AUX => {
                    return Err(self.error("kopi can't load module auxiliary data (opcode 247)"));
                }
                opcode::EOF => return self.read_end(),
                value_type => {
                    if !is_known_type(value_type) {
                        return Err(self.error(format!("Unknown RDB encoding type {value_type}")));
                    }
                    let key = self.read_string()?;
                    match self.read_value(value_type, &key)? {
                        Some(value) => {
                            return Ok(Item::Key {
                                key,
                                value,
                                expire_at_ms,
                                idle_s,
                                freq,
                            });
                        }
                        // An empty collection: Redis skips the key.
                        None => {
                            expire_at_ms = NO_EXPIRY;
                            idle_s = None;
                            freq = None;
                        }
                    }
                }
            }
        }
    }

    /// After EOF: the checksum (from version 5 on), checked unless it is zero.
    fn read_end(&mut self) -> Result<Item, RdbError> {
        self.ended = true;
        if self.version < CHECKSUM_SINCE_VERSION {
            return Ok(Item::End {
                end: self.offset,
                checksum_checked: false,
            });
        }
        self.crc.update(&self.unsummed);
        self.unsummed.clear();
        let expected = self.crc.value();
        let stored = u64::from_le_bytes(self.read_array()?);
        if stored == 0 {
            return Ok(Item::End {
                end: self.offset,
                checksum_checked: false,
            });
        }
        if stored != expected {
            return Err(self.error(format!(
                "Wrong RDB checksum expected: ({stored:x}) got ({expected:x}): RDB CRC error"
            )));
        }
        Ok(Item::End {
            end: self.offset,
            checksum_checked: true,
        })
    }

    /// A value of type `value_type` (the key only names it in errors).
    pub(super) fn read_value(&mut self, value_type: u8, key: &[u8]) -> Result<Decoded, RdbError> {
        let unsupported = |what: &str| {
            format!(
                "kopi can't load a {what} value (type {value_type}) yet: key '{}'",
                String::from_utf8_lossy(key)
            )
        };
        match value_type {
            types::STRING => {
                let bytes = self.read_string()?;
                Ok(Some(Value::String(StringValue::from_vec(bytes))))
            }
            types::LIST => {
                let len = self.read_len()?;
                let mut items = Vec::with_capacity(presize(len));
                for _ in 0..len {
                    items.push(self.read_string()?);
                }
                Ok(list_of(items.iter().map(|i| &i[..])))
            }
            types::SET => {
                let len = self.read_len()?;
                let mut set = SetValue::default();
                for _ in 0..len {
                    let member = self.read_string()?;
                    if !set.add(&member) {
                        return Err(self.error("Duplicate set members detected"));
                    }
                }
                Ok((!set.is_empty()).then_some(Value::Set(set)))
            }
            types::ZSET | types::ZSET_2 => {
                let len = self.read_len()?;
                let mut elements = Vec::with_capacity(presize(len));
                for _ in 0..len {
                    let member = self.read_string()?;
                    let score = if value_type == types::ZSET {
                        self.read_ascii_double()?
                    } else {
                        self.read_binary_double()?
                    };
                    elements.push((score, member));
                }
                self.zset_of(elements)
            }
            types::HASH => {
                let len = self.read_len()?;
                let mut hash = HashValue::new();
                for _ in 0..len {
                    let field = self.read_string()?;
                    let value = self.read_string()?;
                    if hash.set(&field, &value) == SetOutcome::Updated {
                        return Err(self.error("Duplicate hash fields detected"));
                    }
                }
                Ok((!hash.is_empty()).then_some(Value::Hash(hash)))
            }
            types::HASH_ZIPMAP => {
                let blob = self.read_string()?;
                let pairs = parse_zipmap(&blob).map_err(|e| self.corrupt("Zipmap", e))?;
                self.hash_of(pairs.into_iter())
            }
            types::LIST_ZIPLIST => {
                let blob = self.read_string()?;
                let elements = parse_ziplist(&blob).map_err(|e| self.corrupt("Ziplist", e))?;
                let items: Vec<Vec<u8>> = elements.into_iter().map(Element::to_vec).collect();
                Ok(list_of(items.iter().map(|i| &i[..])))
            }
            types::SET_INTSET => {
                let blob = self.read_string()?;
                let ints = parse_intset(&blob).map_err(|e| self.corrupt("Intset", e))?;
                let mut set = SetValue::default();
                let mut text = itoa::Buffer::new();
                for n in ints {
                    set.add(text.format(n).as_bytes());
                }
                Ok((!set.is_empty()).then_some(Value::Set(set)))
            }
            types::SET_LISTPACK => {
                let blob = self.read_string()?;
                let elements =
                    listpack::parse(&blob).map_err(|e| self.corrupt("Set listpack", e))?;
                let mut set = SetValue::default();
                for e in elements {
                    if !set.add(&e.to_vec()) {
                        return Err(self.error("Duplicate set members detected"));
                    }
                }
                Ok((!set.is_empty()).then_some(Value::Set(set)))
            }
            types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
                let blob = self.read_string()?;
                let (kind, parsed) = if value_type == types::ZSET_ZIPLIST {
                    ("Zset ziplist", parse_ziplist(&blob))
                } else {
                    ("Zset listpack", listpack::parse(&blob))
                };
                let elements = parsed.map_err(|e| self.corrupt(kind, e))?;
                if elements.len() % 2 != 0 {
                    return Err(self.corrupt(kind, "odd number of entries"));
                }
                let mut pairs = Vec::with_capacity(elements.len() / 2);
                for pair in elements.chunks_exact(2) {
                    let score = match pair[1] {
                        Element::Int(n) => n as f64,
                        Element::Str(s) => {
                            parse_f64(s).ok_or_else(|| self.corrupt(kind, "bad score"))?
                        }
                    };
                    pairs.push((score, pair[0].to_vec()));
                }
                self.zset_of(pairs)
            }
            types::HASH_ZIPLIST | types::HASH_LISTPACK => {
                let blob = self.read_string()?;
                let (kind, parsed) = if value_type == types::HASH_ZIPLIST {
                    ("Hash ziplist", parse_ziplist(&blob))
                } else {
                    ("Hash listpack", listpack::parse(&blob))
                };
                let elements = parsed.map_err(|e| self.corrupt(kind, e))?;
                if elements.len() % 2 != 0 {
                    return Err(self.corrupt(kind, "odd number of entries"));
                }
                let owned: Vec<Vec<u8>> = elements.into_iter().map(Element::to_vec).collect();
                self.hash_of(owned.chunks_exact(2).map(|p| (&p[0][..], &p[1][..])))
            }
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
                let nodes = self.read_len()?;
                let mut items: Vec<Vec<u8>> = Vec::new();
                for _ in 0..nodes {
                    let container = if value_type == types::LIST_QUICKLIST_2 {
                        self.read_len()?
                    } else {
                        CONTAINER_PACKED
                    };
                    let blob = self.read_string()?;
                    match container {
                        CONTAINER_PLAIN => items.push(blob),
                        CONTAINER_PACKED => {
                            let elements = if value_type == types::LIST_QUICKLIST_2 {
                                listpack::parse(&blob)
                                    .map_err(|e| self.corrupt("Quicklist listpack", e))?
                            } else {
                                parse_ziplist(&blob)
                                    .map_err(|e| self.corrupt("Quicklist ziplist", e))?
                            };
                            // Empty nodes are skipped, as Redis does.
                            items.extend(elements.into_iter().map(Element::to_vec));
                        }
                        other => {
                            return Err(self.error(format!(
                                "Quicklist integrity check failed: unknown container {other}"
                            )));
                        }
                    }
                }
                Ok(list_of(items.iter().map(|i| &i[..])))
            }
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
                Err(self.error(unsupported("stream")))
            }
            types::MODULE_PRE_GA | types::MODULE_2 => Err(self.error(unsupported("module"))),
            types::HASH_METADATA_PRE_GA
            | types::HASH_LISTPACK_EX_PRE_GA
            | types::HASH_METADATA
            | types::HASH_LISTPACK_EX => Err(self.error(unsupported("hash-with-field-expiry"))),
            other => Err(self.error(format!("Unknown RDB encoding type {other}"))),
        }
    }

    fn corrupt(&self, kind: &str, detail: &str) -> RdbError {
        self.error(format!("{kind} integrity check failed: {detail}"))
    }

    fn zset_of(&self, elements: Vec<(f64, Vec<u8>)>) -> Result<Decoded, RdbError> {
        if elements.iter().any(|(score, _)| score.is_nan()) {
            return Err(self.error("Zset with NAN score detected"));
        }
        let mut seen = hashbrown::HashSet::with_capacity(elements.len());
        if !elements.iter().all(|(_, member)| seen.insert(&member[..])) {
            return Err(self.error("Duplicate zset fields detected"));
        }
        drop(seen);
        if elements.is_empty() {
            return Ok(None);
        }
        Ok(Some(Value::ZSet(ZSet::from_elements(elements))))
    }

    fn hash_of<'a>(
        &self,
        pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<Decoded, RdbError> {
        let mut hash = HashValue::new();
        for (field, value) in pairs {
            if hash.set(field, value) == SetOutcome::Updated {
                return Err(self.error("Duplicate hash fields detected"));
            }
        }
        Ok((!hash.is_empty()).then_some(Value::Hash(hash)))
    }
}

fn list_of<'a>(items: impl Iterator<Item = &'a [u8]>) -> Decoded {
    let list = ListValue::from_items(items);
    (!list.is_empty()).then(|| Value::List(Box::new(list)))
}

fn presize(declared: u64) -> usize {
    declared.min(PRESIZE_MAX as u64) as usize
}

/// Whether `t` is a value type byte of some Redis version (`rdbIsObjectType`, up to 7.4).
pub(super) fn is_known_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=25)
}
