//! Values and the string type's encodings (`int`, `embstr`, `raw`, as Redis names them).

use crate::util::parse_i64;

/// Strings up to this length are `embstr` (Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_SIZE_LIMIT: usize = 44;
/// Longest string Redis tries to encode as an integer.
const INT_ENCODING_LENGTH_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(StringValue),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::String(s) => s.encoding_name(),
        }
    }
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
