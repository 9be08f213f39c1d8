//! Values and the string type's encodings (`int`, `embstr`, `raw`, as Redis names them).

use super::digest::{Digest, mix_digest, xor_digest};
use super::hash::HashValue;
use super::list::ListValue;
use super::set::SetValue;
use super::zset::ZSet;
use crate::util::{format_double, parse_i64};

/// Strings up to this length are `embstr` (Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_SIZE_LIMIT: usize = 44;
/// Longest string Redis tries to encode as an integer.
const INT_ENCODING_LENGTH_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(StringValue),
    Hash(HashValue),
    Set(SetValue),
    ZSet(ZSet),
    List(Box<ListValue>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::List(_) => "list",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::String(s) => s.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::List(l) => l.encoding_name(),
        }
    }

    /// Redis's type number (`OBJ_STRING` 0, `OBJ_LIST` 1, `OBJ_SET` 2, `OBJ_ZSET` 3,
    /// `OBJ_HASH` 4), which the digests include.
    pub fn type_code(&self) -> u32 {
        match self {
            Value::String(_) => 0,
            Value::Hash(_) => 4,
            Value::Set(_) => 2,
            Value::ZSet(_) => 3,
            Value::List(_) => 1,
        }
    }

    /// Adds the content to `digest` as Redis's `xorObjectDigest` does for the type, so
    /// DEBUG DIGEST matches Redis's for the same data.
    pub fn digest(&self, digest: &mut Digest) {
        match self {
            Value::String(s) => mix_digest(digest, s.as_bytes(&mut itoa::Buffer::new())),
            Value::Hash(h) => {
                for (field, value) in h.iter() {
                    let mut pair = [0u8; 20];
                    mix_digest(&mut pair, field);
                    mix_digest(&mut pair, value);
                    xor_digest(digest, &pair);
                }
            }
            Value::Set(s) => {
                for member in s.iter() {
                    member.with_bytes(|m| xor_digest(digest, m));
                }
            }
            Value::ZSet(z) => z.for_each_from(0, false, &mut |score, member| {
                let mut element = [0u8; 20];
                mix_digest(&mut element, member);
                mix_digest(&mut element, format_double(score).as_bytes());
                xor_digest(digest, &element);
                true
            }),
            Value::List(l) => l.iter().for_each(|item| mix_digest(digest, item)),
        }
    }

    /// The `serializedlength` DEBUG OBJECT reports: the RDB encoding's size without LZF.
    pub fn serialized_length(&self) -> usize {
        match self {
            Value::String(s) => rdb_string_size(s.as_bytes(&mut itoa::Buffer::new())),
            Value::Hash(h) if h.is_listpack() => {
                let blob = h.listpack_bytes();
                rdb_len_size(blob as u64) + blob
            }
            Value::Hash(h) => h.iter().fold(rdb_len_size(h.len() as u64), |n, (f, v)| {
                n + rdb_string_size(f) + rdb_string_size(v)
            }),
            Value::Set(super::set::SetValue::Intset(i)) => {
                rdb_len_size(i.blob_size() as u64) + i.blob_size()
            }
            Value::Set(s) => s.iter().fold(rdb_len_size(s.len() as u64), |n, m| {
                n + m.with_bytes(rdb_string_size)
            }),
            Value::ZSet(z) => z.serialized_length(),
            Value::List(l) => l.serialized_length(),
        }
    }

    /// Bytes of heap memory the value holds (MEMORY USAGE, INFO memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(s) => s.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::List(l) => std::mem::size_of::<ListValue>() + l.heap_size(),
        }
    }

    /// Redis's `lazyfreeGetFreeEffort`: roughly how many allocations freeing the value takes.
    pub fn free_effort(&self) -> usize {
        match self {
            Value::String(_) => 1,
            Value::Hash(h) => {
                if h.is_listpack() {
                    1
                } else {
                    h.len()
                }
            }
            Value::Set(s) => {
                if s.encoding_name() == "intset" {
                    1
                } else {
                    s.len()
                }
            }
            Value::ZSet(ZSet::Pack(_)) => 1,
            Value::ZSet(z) => z.len(),
            Value::List(l) => l.chunk_count(),
        }
    }

    /// The value as loading it from a snapshot builds it: the encoding chosen afresh from
    /// the content and the thresholds in force (DEBUG RELOAD).
    pub fn reloaded(&self) -> Value {
        match self {
            Value::String(s) => Value::String(StringValue::from_bytes(
                s.as_bytes(&mut itoa::Buffer::new()),
            )),
            Value::Hash(h) => Value::Hash(h.rebuilt()),
            Value::Set(s) => Value::Set(s.rebuilt()),
            Value::ZSet(z) => Value::ZSet(z.reloaded()),
            Value::List(l) => Value::List(l.clone()),
        }
    }

    /// The commands an AOF rewrite writes to rebuild the value under `key` (variadic ones
    /// with at most [`REWRITE_ITEMS_PER_COMMAND`] items, as Redis's rewrite).
    pub fn rewrite(&self, key: &[u8], emit: &mut dyn FnMut(&[&[u8]])) {
        match self {
            Value::String(s) => emit(&[b"SET", key, s.as_bytes(&mut itoa::Buffer::new())]),
            Value::Hash(h) => {
                let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
                for chunk in pairs.chunks(REWRITE_ITEMS_PER_COMMAND) {
                    let mut args: Vec<&[u8]> = vec![b"HMSET", key];
                    for (f, v) in chunk {
                        args.push(f);
                        args.push(v);
                    }
                    emit(&args);
                }
            }
            Value::ZSet(z) => {
                for chunk in z.elements().chunks(REWRITE_ITEMS_PER_COMMAND) {
                    let scores: Vec<String> = chunk.iter().map(|e| format_double(e.0)).collect();
                    let mut args: Vec<&[u8]> = vec![b"ZADD", key];
                    for ((_, member), score) in chunk.iter().zip(&scores) {
                        args.push(score.as_bytes());
                        args.push(member);
                    }
                    emit(&args);
                }
            }
            Value::Set(s) => {
                let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
                for chunk in members.chunks(REWRITE_ITEMS_PER_COMMAND) {
                    let mut args: Vec<&[u8]> = vec![b"SADD", key];
                    args.extend(chunk.iter().map(|m| &m[..]));
                    emit(&args);
                }
            }
            Value::List(l) => {
                let items: Vec<&[u8]> = l.iter().collect();
                for batch in items.chunks(REWRITE_ITEMS_PER_COMMAND) {
                    let mut args: Vec<&[u8]> = Vec::with_capacity(batch.len() + 2);
                    args.extend_from_slice(&[b"RPUSH", key]);
                    args.extend_from_slice(batch);
                    emit(&args);
                }
            }
        }
    }
}

/// Items per command in an AOF rewrite (Redis's `AOF_REWRITE_ITEMS_PER_CMD`).
pub const REWRITE_ITEMS_PER_COMMAND: usize = 64;

/// The length of the RDB encoding of a length (Redis's `rdbSaveLen`).
pub fn rdb_len_size(len: u64) -> usize {
    if len < 1 << 6 {
        1
    } else if len < 1 << 14 {
        2
    } else if len <= u32::MAX as u64 {
        5
    } else {
        9
    }
}

/// The size of a string in an RDB file, uncompressed: small integers take the integer
/// encodings, everything else a length and the bytes.
pub fn rdb_string_size(bytes: &[u8]) -> usize {
    if bytes.len() <= 11
        && let Some(n) = crate::util::parse_i64(bytes)
    {
        if i8::try_from(n).is_ok() {
            return 2;
        } else if i16::try_from(n).is_ok() {
            return 3;
        } else if i32::try_from(n).is_ok() {
            return 5;
        }
    }
    rdb_len_size(bytes.len() as u64) + bytes.len()
}

/// A string value in one of Redis's three encodings; the encoding only changes what OBJECT
/// ENCODING reports and how much memory the value takes, never its bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum StringValue {
    Int(i64),
    Embstr(Box<[u8]>),
    Raw(Vec<u8>),
}

impl StringValue {
    /// The encoding `SET` picks (Redis's `tryObjectEncoding`).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.len() <= INT_ENCODING_LENGTH_MAX
            && let Some(n) = parse_i64(bytes)
        {
            return StringValue::Int(n);
        }
        if bytes.len() <= EMBSTR_SIZE_LIMIT {
            StringValue::Embstr(bytes.into())
        } else {
            StringValue::Raw(bytes.to_vec())
        }
    }

    /// [`StringValue::from_bytes`] of a buffer the caller gives up (a loader's): the same
    /// encoding, without copying the bytes when they are kept as they are.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        if bytes.len() <= INT_ENCODING_LENGTH_MAX
            && let Some(n) = parse_i64(&bytes)
        {
            return StringValue::Int(n);
        }
        if bytes.len() <= EMBSTR_SIZE_LIMIT {
            StringValue::Embstr(bytes.into_boxed_slice())
        } else {
            // No spare capacity kept: the same footprint as a copy.
            let mut bytes = bytes;
            bytes.shrink_to_fit();
            StringValue::Raw(bytes)
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StringValue::Int(_) => "int",
            StringValue::Embstr(_) => "embstr",
            StringValue::Raw(_) => "raw",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StringValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StringValue::Embstr(b) => b.len(),
            StringValue::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, borrowing when possible; integers are rendered into `scratch`.
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            StringValue::Int(n) => scratch.format(*n).as_bytes(),
            StringValue::Embstr(b) => b,
            StringValue::Raw(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// The value as an integer, if it is one by Redis's rules.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StringValue::Int(n) => Some(*n),
            StringValue::Embstr(b) => parse_i64(b),
            StringValue::Raw(b) => parse_i64(b),
        }
    }

    /// A mutable byte buffer, converting to `raw` as APPEND and SETRANGE do in Redis.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StringValue::Raw(_)) {
            *self = StringValue::Raw(self.to_vec());
        }
        match self {
            StringValue::Raw(bytes) => bytes,
            _ => unreachable!("converted to raw above"),
        }
    }

    /// Bytes of heap memory the value holds (for INFO memory and MEMORY USAGE estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            StringValue::Int(_) => 0,
            StringValue::Embstr(b) => b.len(),
            StringValue::Raw(b) => b.capacity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdb_sizes() {
        assert_eq!(rdb_string_size(b"12"), 2);
        assert_eq!(rdb_string_size(b"12345"), 3);
        assert_eq!(rdb_string_size(b"123456"), 5);
        assert_eq!(rdb_string_size(b"12345678901"), 12);
        assert_eq!(rdb_string_size(b"bar"), 4);
        assert_eq!(rdb_string_size(&[b'x'; 100]), 102);
    }
}
