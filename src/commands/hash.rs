//! Hashes: the type operations first, then the commands, then the family's table.

use bytes::Bytes;
use rand::Rng;

use super::string::extended::Ext;
use super::table::{Command, KeySpec, acl, doc_flag, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::hash::{HashValue, SetOutcome};
use crate::keyspace::{Entry, Value};
use crate::protocol::Reply;
use crate::util::{glob_match, parse_i64};

pub const HASH_NOT_INTEGER: Error = Error::new("ERR hash value is not an integer");
pub const HASH_NOT_FLOAT: Error = Error::new("ERR hash value is not a float");
pub const NAN_OR_INFINITY_ARG: Error = Error::new("ERR value is NaN or Infinity");
pub const NAN_OR_INFINITY: Error = Error::new("ERR increment would produce NaN or Infinity");
pub const COUNT_RANGE: Error = Error::new(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
pub const OUT_OF_RANGE: Error = Error::new("ERR value is out of range");

// ---- type operations ----

fn as_hash(value: &Value) -> Result<&HashValue, Error> {
    match value {
        Value::Hash(h) => Ok(h),
        _ => Err(error::WRONGTYPE),
    }
}

/// The hash at `key` for reading: `Ok(None)` when missing, WRONGTYPE for another type.
fn get_hash<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a HashValue>, Error> {
    ctx.lookup(key).map(|e| as_hash(&e.value)).transpose()
}

/// The hash at `key` for changing, `None` when missing.
fn get_hash_mut<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut HashValue>, Error> {
    match ctx.lookup_mut(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(Some(h)),
        Some(_) => Err(error::WRONGTYPE),
    }
}

/// The hash at `key` for changing, created empty when missing (Redis's
/// `hashTypeLookupWriteOrCreate`); the caller adds a field before it returns.
fn hash_or_create<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<&'a mut HashValue, Error> {
    if get_hash_mut(ctx, key)?.is_none() {
        let now = ctx.now_ms;
        ctx.db().set(key, Value::Hash(HashValue::new()), false, now);
    }
    get_hash_mut(ctx, key)?.ok_or(error::WRONGTYPE)
}

/// Deletes `key` if its hash became empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if get_hash_mut(ctx, key)
        .ok()
        .flatten()
        .is_some_and(|h| h.is_empty())
    {
        let now = ctx.now_ms;
        ctx.db().remove(key, now);
    }
}

/// The options of HSCAN/SSCAN/ZSCAN after the cursor: `MATCH pattern` and `COUNT n`.
pub fn scan_options(args: &[Bytes]) -> Result<(Option<&[u8]>, usize), Error> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ignore_case(&args[i], "count") && has_value {
            let n = arg_i64(&args[i + 1])?;
            if n < 1 {
                return Err(error::SYNTAX);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq_ignore_case(&args[i], "match") && has_value {
            let p = args[i + 1].as_ref();
            pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return Err(error::SYNTAX);
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// Whether `item` passes a SCAN `MATCH` pattern.
pub fn scan_match(pattern: Option<&[u8]>, item: &[u8]) -> bool {
    pattern.is_none_or(|p| glob_match(p, item, false))
}

/// Writes a field/value pair of HRANDFIELD WITHVALUES: flat in RESP2, a pair in RESP3.
fn reply_pair(reply: &mut Reply, field: &[u8], value: &[u8]) {
    if reply.is_resp3() {
        reply.array(2);
    }
    reply.bulk(field);
    reply.bulk(value);
}

/// HINCRBYFLOAT's arithmetic: the new value's text.
fn incr_float(current: Option<&[u8]>, increment: &[u8]) -> Result<Vec<u8>, Error> {
    let increment = Ext::parse(increment).ok_or(error::NOT_FLOAT)?;
    if !increment.is_finite() {
        return Err(NAN_OR_INFINITY_ARG);
    }
    let value = match current {
        None => Ext::from_i64(0),
        Some(bytes) => Ext::parse(bytes).ok_or(HASH_NOT_FLOAT)?,
    };
    let sum = value.add(increment).ok_or(NAN_OR_INFINITY)?;
    Ok(sum.to_human())
}

// ---- commands ----

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(error::wrong_arity(
            &String::from_utf8_lossy(&args[0]).to_lowercase(),
        ));
    }
    let key = &args[1];
    let h = hash_or_create(ctx, key)?;
    let longest = args[2..].iter().map(|a| a.len()).max().unwrap_or(0);
    h.prepare_for(longest);
    let mut created = 0;
    for pair in args[2..].chunks_exact(2) {
        if h.set(&pair[0], &pair[1]) == SetOutcome::Inserted {
            created += 1;
        }
    }
    ctx.modified(key);
    if args[0].eq_ignore_ascii_case(b"hmset") {
        ctx.reply.ok();
    } else {
        ctx.reply.int(created);
    }
    Ok(())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, field, value) = (&args[1], &args[2], &args[3]);
    let h = hash_or_create(ctx, key)?;
    if h.get(field).is_some() {
        ctx.reply.int(0);
        return Ok(());
    }
    h.set(field, value);
    ctx.modified(key);
    ctx.reply.int(1);
    Ok(())
}

/// HGET key field
fn hget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let value = get_hash(ctx, &args[1])?.and_then(|h| h.get(&args[2]).map(<[u8]>::to_vec));
    match value {
        Some(v) => ctx.reply.bulk(&v),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let values: Vec<Option<Vec<u8>>> = match get_hash(ctx, &args[1])? {
        Some(h) => args[2..]
            .iter()
            .map(|f| h.get(f).map(<[u8]>::to_vec))
            .collect(),
        None => vec![None; args.len() - 2],
    };
    ctx.reply.array(values.len());
    for v in values {
        match v {
            Some(v) => ctx.reply.bulk(&v),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut deleted = 0;
    if let Some(h) = get_hash_mut(ctx, key)? {
        for field in &args[2..] {
            if h.remove(field) {
                deleted += 1;
                if h.is_empty() {
                    break;
                }
            }
        }
    }
    if deleted > 0 {
        delete_if_empty(ctx, key);
        ctx.modified(key);
    }
    ctx.reply.int(deleted);
    Ok(())
}

/// HLEN key
fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = get_hash(ctx, &args[1])?.map_or(0, |h| h.len());
    ctx.reply.int(n as i64);
    Ok(())
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = get_hash(ctx, &args[1])?
        .and_then(|h| h.get(&args[2]))
        .map_or(0, |v| v.len());
    ctx.reply.int(n as i64);
    Ok(())
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = get_hash(ctx, &args[1])?.is_some_and(|h| h.get(&args[2]).is_some());
    ctx.reply.int(found as i64);
    Ok(())
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    let increment = arg_i64(&args[3])?;
    let h = hash_or_create(ctx, key)?;
    let current = match h.get(field) {
        Some(v) => parse_i64(v).ok_or(HASH_NOT_INTEGER)?,
        None => 0,
    };
    let Some(new) = current.checked_add(increment) else {
        delete_if_empty(ctx, key);
        return Err(error::OVERFLOW);
    };
    h.set(field, itoa::Buffer::new().format(new).as_bytes());
    ctx.modified(key);
    ctx.reply.int(new);
    Ok(())
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, field) = (&args[1], &args[2]);
    // The increment is checked before the hash is created.
    incr_float(None, &args[3])?;
    let h = hash_or_create(ctx, key)?;
    let text = match incr_float(h.get(field), &args[3]) {
        Ok(text) => text,
        Err(err) => {
            delete_if_empty(ctx, key);
            return Err(err);
        }
    };
    h.set(field, &text);
    ctx.modified(key);
    ctx.propagate_as(&[&b"HSET"[..], key, field, &text]);
    ctx.reply.bulk(&text);
    Ok(())
}

/// Which parts of the pairs HKEYS, HVALS and HGETALL return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Keys,
    Values,
    Both,
}

fn get_all(ctx: &mut Ctx, key: &[u8], parts: Parts) -> CmdResult {
    let now = ctx.now_ms;
    ctx.lookup(key);
    let db = ctx.client.db;
    let entry = ctx.state.store.dbs[db].peek(key, now);
    let h = entry.map(|e| as_hash(&e.value)).transpose()?;
    let reply = &mut *ctx.reply;
    let len = h.map_or(0, |h| h.len());
    if parts == Parts::Both {
        reply.map(len);
    } else {
        reply.array(len);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if parts != Parts::Values {
                reply.bulk(f);
            }
            if parts != Parts::Keys {
                reply.bulk(v);
            }
        }
    }
    Ok(())
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_all(ctx, &args[1], Parts::Keys)
}

/// HVALS key
fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_all(ctx, &args[1], Parts::Values)
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_all(ctx, &args[1], Parts::Both)
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = super::keys::parse_cursor(&args[2])?;
    let now = ctx.now_ms;
    ctx.lookup(&args[1]);
    let db = ctx.client.db;
    let entry = ctx.state.store.dbs[db].peek(&args[1], now);
    let Some(h) = entry.map(|e| as_hash(&e.value)).transpose()? else {
        ctx.reply.array(2);
        ctx.reply.bulk(b"0");
        ctx.reply.array(0);
        return Ok(());
    };
    let (pattern, count) = scan_options(args)?;
    let (found, next) = h.scan(cursor, count);
    let found: Vec<_> = found
        .into_iter()
        .filter(|(f, _)| scan_match(pattern, f))
        .collect();
    let reply = &mut *ctx.reply;
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(found.len() * 2);
    for (f, v) in found {
        reply.bulk(f);
        reply.bulk(v);
    }
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        let now = ctx.now_ms;
        ctx.lookup(&args[1]);
        let db = ctx.client.db;
        let entry = ctx.state.store.dbs[db].peek(&args[1], now);
        match entry.map(|e| as_hash(&e.value)).transpose()? {
            Some(h) => {
                let pick = rand::rng().random_range(0..h.len());
                let (f, _) = h.nth(pick).ok_or(error::WRONGTYPE)?;
                ctx.reply.bulk(f);
            }
            None => ctx.reply.null(),
        }
        return Ok(());
    }
    let count = arg_i64(&args[2])?;
    if count == i64::MIN {
        return Err(COUNT_RANGE);
    }
    let with_values = match args.get(3) {
        None => false,
        Some(word) if args.len() == 4 && eq_ignore_case(word, "withvalues") => true,
        Some(_) => return Err(error::SYNTAX),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(OUT_OF_RANGE);
    }
    let now = ctx.now_ms;
    ctx.lookup(&args[1]);
    let db = ctx.client.db;
    let entry = ctx.state.store.dbs[db].peek(&args[1], now);
    let Some(h) = entry.map(|e| as_hash(&e.value)).transpose()? else {
        ctx.reply.array(0);
        return Ok(());
    };
    let reply = &mut *ctx.reply;
    let per_item = if with_values && !reply.is_resp3() {
        2
    } else {
        1
    };
    let size = h.len();
    let mut rng = rand::rng();
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        reply.array(n * per_item);
        for _ in 0..n {
            if reply.over_limit() {
                break;
            }
            let (f, v) = h.nth(rng.random_range(0..size)).ok_or(error::WRONGTYPE)?;
            if with_values {
                reply_pair(reply, f, v);
            } else {
                reply.bulk(f);
            }
        }
        return Ok(());
    }
    let n = count as usize;
    let picked: Vec<usize> = if n >= size {
        (0..size).collect()
    } else {
        let mut picked = rand::seq::index::sample(&mut rng, size, n).into_vec();
        picked.sort_unstable();
        picked
    };
    reply.array(picked.len() * per_item);
    let mut next = picked.iter().peekable();
    for (i, (f, v)) in h.iter().enumerate() {
        if next.peek() != Some(&&i) {
            continue;
        }
        next.next();
        if with_values {
            reply_pair(reply, f, v);
        } else {
            reply.bulk(f);
        }
    }
    Ok(())
}

// ---- table ----

const RW_UPDATE: &[KeySpec] = &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[KeySpec::range(
    key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
    1,
    0,
    1,
)];
const RO_ACCESS: &[KeySpec] = &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)];
const RO: &[KeySpec] = &[KeySpec::range(key_flag::RO, 1, 0, 1)];

pub const COMMANDS: &[Command] = &[
    Command {
        name: "hset",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hset,
        group: "hash",
        summary: "Set the string value of a hash field",
        since: "2.0.0",
        complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        history: &[("4.0.0", "Accepts multiple `field` and `value` arguments.")],
        key_specs: RW_UPDATE,
        ..Command::DEFAULT
    },
    Command {
        name: "hsetnx",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hsetnx,
        group: "hash",
        summary: "Set the value of a hash field, only if the field does not exist",
        since: "2.0.0",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::INSERT, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "hget",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hget,
        group: "hash",
        summary: "Get the value of a hash field",
        since: "2.0.0",
        key_specs: RO_ACCESS,
        ..Command::DEFAULT
    },
    Command {
        name: "hmget",
        arity: -3,
        flags: flag::READONLY | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hmget,
        group: "hash",
        summary: "Get the values of all the given hash fields",
        since: "2.0.0",
        complexity: "O(N) where N is the number of fields being requested.",
        key_specs: RO_ACCESS,
        ..Command::DEFAULT
    },
    Command {
        name: "hmset",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hset,
        group: "hash",
        summary: "Set multiple hash fields to multiple values",
        since: "2.0.0",
        complexity: "O(N) where N is the number of fields being set.",
        key_specs: RW_UPDATE,
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "4.0.0",
        replaced_by: "`HSET` with multiple field-value pairs",
        ..Command::DEFAULT
    },
    Command {
        name: "hdel",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hdel,
        group: "hash",
        summary: "Delete one or more hash fields",
        since: "2.0.0",
        complexity: "O(N) where N is the number of fields to be removed.",
        history: &[("2.4.0", "Accepts multiple `field` arguments.")],
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::DELETE, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "hlen",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hlen,
        group: "hash",
        summary: "Get the number of fields in a hash",
        since: "2.0.0",
        key_specs: RO,
        ..Command::DEFAULT
    },
    Command {
        name: "hstrlen",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hstrlen,
        group: "hash",
        summary: "Get the length of the value of a hash field",
        since: "3.2.0",
        key_specs: RO,
        ..Command::DEFAULT
    },
    Command {
        name: "hexists",
        arity: 3,
        flags: flag::READONLY | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hexists,
        group: "hash",
        summary: "Determine if a hash field exists",
        since: "2.0.0",
        key_specs: RO,
        ..Command::DEFAULT
    },
    Command {
        name: "hincrby",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hincrby,
        group: "hash",
        summary: "Increment the integer value of a hash field by the given number",
        since: "2.0.0",
        key_specs: RW_ACCESS_UPDATE,
        ..Command::DEFAULT
    },
    Command {
        name: "hincrbyfloat",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hincrbyfloat,
        group: "hash",
        summary: "Increment the float value of a hash field by the given amount",
        since: "2.6.0",
        key_specs: RW_ACCESS_UPDATE,
        ..Command::DEFAULT
    },
    Command {
        name: "hkeys",
        arity: 2,
        flags: flag::READONLY,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hkeys,
        group: "hash",
        summary: "Get all the fields in a hash",
        since: "2.0.0",
        complexity: "O(N) where N is the size of the hash.",
        key_specs: RO_ACCESS,
        tips: &["nondeterministic_output_order"],
        ..Command::DEFAULT
    },
    Command {
        name: "hvals",
        arity: 2,
        flags: flag::READONLY,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hvals,
        group: "hash",
        summary: "Get all the values in a hash",
        since: "2.0.0",
        complexity: "O(N) where N is the size of the hash.",
        key_specs: RO_ACCESS,
        tips: &["nondeterministic_output_order"],
        ..Command::DEFAULT
    },
    Command {
        name: "hgetall",
        arity: 2,
        flags: flag::READONLY,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hgetall,
        group: "hash",
        summary: "Get all the fields and values in a hash",
        since: "2.0.0",
        complexity: "O(N) where N is the size of the hash.",
        key_specs: RO_ACCESS,
        tips: &["nondeterministic_output_order"],
        ..Command::DEFAULT
    },
    Command {
        name: "hscan",
        arity: -3,
        flags: flag::READONLY,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hscan,
        group: "hash",
        summary: "Incrementally iterate hash fields and associated values",
        since: "2.8.0",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        key_specs: RO_ACCESS,
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
    Command {
        name: "hrandfield",
        arity: -2,
        flags: flag::READONLY,
        acl: acl::HASH,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: hrandfield,
        group: "hash",
        summary: "Get one or multiple random fields from a hash",
        since: "6.2.0",
        complexity: "O(N) where N is the number of fields returned",
        key_specs: RO_ACCESS,
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incrbyfloat_errors_as_redis() {
        assert_eq!(incr_float(None, b"1.5").unwrap(), b"1.5");
        assert_eq!(incr_float(Some(b"1.5"), b"1").unwrap(), b"2.5");
        assert_eq!(incr_float(Some(b"x"), b"1"), Err(HASH_NOT_FLOAT));
        assert_eq!(incr_float(None, b"x"), Err(error::NOT_FLOAT));
        assert_eq!(incr_float(None, b"inf"), Err(NAN_OR_INFINITY_ARG));
    }
}
