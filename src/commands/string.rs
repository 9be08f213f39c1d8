//! Strings: the type operations first, then the commands, then the family's table.

pub(crate) mod extended;

use std::sync::atomic::Ordering;

use bytes::Bytes;

use self::extended::Ext;
use super::table::{Command, KeySpec, acl, doc_flag, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::value::EMBSTR_SIZE_LIMIT;
use crate::keyspace::{Access, Entry, NO_EXPIRY, StringValue, Value};
use crate::protocol::Reply;

pub const OFFSET_OUT_OF_RANGE: Error = Error::new("ERR offset is out of range");
pub const DECREMENT_OVERFLOW: Error = Error::new("ERR decrement would overflow");
pub const NAN_OR_INFINITY: Error = Error::new("ERR increment would produce NaN or Infinity");
pub const LCS_NOT_STRINGS: Error = Error::new("ERR The specified keys must contain string values");
pub const LCS_LEN_AND_IDX: Error =
    Error::new("ERR If you want both the length and indexes, please just use IDX.");
pub const LCS_TOO_LONG: Error = Error::new("ERR String too long for LCS");
pub const LCS_OVER_LIMIT: Error =
    Error::new("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
pub const LCS_ALLOC_FAILED: Error =
    Error::new("ERR Insufficient memory, failed allocating transient memory for LCS");

// ---- type operations ----

/// The string inside a value, WRONGTYPE for any other type.
fn as_string(value: &Value) -> Result<&StringValue, Error> {
    match value {
        Value::String(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(error::WRONGTYPE),
    }
}

fn as_string_mut(value: &mut Value) -> Result<&mut StringValue, Error> {
    match value {
        Value::String(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(error::WRONGTYPE),
    }
}

/// The string at `key`: `Ok(None)` when missing, WRONGTYPE when another type.
pub fn get_string<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a StringValue>, Error> {
    ctx.lookup(key).map(|e| as_string(&e.value)).transpose()
}

/// The string at `key` for changing in place (its TTL stays).
fn get_string_mut<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut StringValue>, Error> {
    ctx.lookup_mut(key)
        .map(|e| as_string_mut(&mut e.value))
        .transpose()
}

/// Looks `key` up for reading (expiring it lazily, counting a keyspace hit or miss as Redis's
/// `lookupKeyRead`) and hands back the entry with the reply buffer, so a handler replies
/// straight from the stored bytes.
fn entry_and_reply<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> (Option<&'c Entry>, &'c mut Reply) {
    let now = ctx.now_ms;
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let entry = state.store.dbs[db].get(key, now, Access::Touch);
    if entry.is_some() {
        state.stats.keyspace_hits += 1;
    } else {
        state.stats.keyspace_misses += 1;
    }
    (entry, &mut *ctx.reply)
}

fn reply_string(reply: &mut Reply, s: &StringValue) {
    match s {
        StringValue::Int(n) => reply.bulk_int(*n),
        StringValue::Embstr(b) => reply.bulk(b),
        StringValue::Raw(b) => reply.bulk(b),
    }
}

/// A string created from computed bytes without trying the integer encoding (Redis's
/// `createStringObject`): `embstr` when short, `raw` otherwise.
fn plain_string(bytes: Vec<u8>) -> StringValue {
    if bytes.len() <= EMBSTR_SIZE_LIMIT {
        StringValue::Embstr(bytes.into())
    } else {
        StringValue::Raw(bytes)
    }
}

/// Redis's `checkStringLength`: a string may not grow beyond `proto-max-bulk-len`.
fn check_string_length(limit: i64, size: usize, append: usize) -> Result<(), Error> {
    if size as i128 + append as i128 > limit as i128 {
        Err(error::STRING_TOO_LONG)
    } else {
        Ok(())
    }
}

fn proto_max_bulk_len(ctx: &Ctx) -> i64 {
    ctx.server.limits.proto_max_bulk_len.load(Ordering::Relaxed)
}

/// Appends in place (the value becomes `raw`); returns the new length.
fn append_bytes(s: &mut StringValue, extra: &[u8]) -> usize {
    let buf = s.make_raw();
    buf.extend_from_slice(extra);
    buf.len()
}

/// Overwrites from `offset`, padding with zero bytes (the value becomes `raw`); returns the
/// new length.
fn set_range_bytes(s: &mut StringValue, offset: usize, value: &[u8]) -> usize {
    let buf = s.make_raw();
    let end = offset + value.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset..end].copy_from_slice(value);
    buf.len()
}

/// GETRANGE's index rules: negative indexes count from the end, both ends are clamped, and
/// the range is inclusive. `None` is the empty string.
fn clamp_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 { start + len } else { start }.max(0);
    let mut end = if end < 0 { end + len } else { end }.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// INCRBYFLOAT's arithmetic on the stored value (missing counts as 0): the new value's text.
fn incr_float_text(current: Option<&StringValue>, increment: &[u8]) -> Result<Vec<u8>, Error> {
    let value = match current {
        None => Ext::from_i64(0),
        Some(StringValue::Int(n)) => Ext::from_i64(*n),
        Some(StringValue::Embstr(b)) => Ext::parse(b).ok_or(error::NOT_FLOAT)?,
        Some(StringValue::Raw(b)) => Ext::parse(b).ok_or(error::NOT_FLOAT)?,
    };
    let increment = Ext::parse(increment).ok_or(error::NOT_FLOAT)?;
    let sum = value.add(increment).ok_or(NAN_OR_INFINITY)?;
    Ok(sum.to_human())
}

/// How an expiry option gives its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// The options of SET (`is_set`) or GETEX, validated as Redis's
/// `parseExtendedStringArgumentsOrReply` does.
#[derive(Debug, Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// An option word as the C string Redis compares: up to the first NUL byte.
fn option_word(arg: &[u8]) -> &[u8] {
    match memchr::memchr(0, arg) {
        Some(end) => &arg[..end],
        None => arg,
    }
}

fn parse_string_options(args: &[Bytes], is_set: bool) -> Result<StringOptions<'_>, Error> {
    let mut o = StringOptions::default();
    let mut i = if is_set { 3 } else { 2 };
    while i < args.len() {
        let opt = option_word(&args[i]);
        let next = args.get(i + 1);
        let unit = [
            ("ex", ExpireUnit::Ex),
            ("px", ExpireUnit::Px),
            ("exat", ExpireUnit::ExAt),
            ("pxat", ExpireUnit::PxAt),
        ]
        .into_iter()
        .find(|(word, _)| eq_ignore_case(opt, word))
        .map(|(_, unit)| unit);
        if is_set && eq_ignore_case(opt, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ignore_case(opt, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ignore_case(opt, "get") {
            o.get = true;
        } else if is_set && eq_ignore_case(opt, "keepttl") && !o.persist && o.expire.is_none() {
            o.keepttl = true;
        } else if !is_set && eq_ignore_case(opt, "persist") && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(unit), Some(value)) = (unit, next)
            && !o.keepttl
            && !o.persist
            && o.expire.is_none_or(|(given, _)| given == unit)
        {
            // Repeating the same option is allowed: the last value wins.
            o.expire = Some((unit, value));
            i += 1;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline in Unix milliseconds.
fn deadline_ms(unit: ExpireUnit, arg: &[u8], now_ms: i64, command: &str) -> Result<i64, Error> {
    let n = arg_i64(arg)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(error::invalid_expire(command));
    }
    let ms = if seconds { n * 1000 } else { n };
    let at = match unit {
        ExpireUnit::Ex | ExpireUnit::Px => ms.checked_add(now_ms),
        ExpireUnit::ExAt | ExpireUnit::PxAt => Some(ms),
    };
    match at {
        Some(at) if at > 0 => Ok(at),
        _ => Err(error::invalid_expire(command)),
    }
}

// ---- commands ----

/// Replies the string at `key` (null when missing); WRONGTYPE for another type. Returns
/// whether the key existed. Redis's `getGenericCommand`.
fn get_generic(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Error> {
    let (entry, reply) = entry_and_reply(ctx, key);
    match entry {
        Some(entry) => {
            reply_string(reply, as_string(&entry.value)?);
            Ok(true)
        }
        None => {
            reply.null();
            Ok(false)
        }
    }
}

/// GET key
fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    get_generic(ctx, &args[1])?;
    Ok(())
}

/// How a SET-like command stores its value.
#[derive(Debug, Default, Clone, Copy)]
struct SetFlags {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
}

/// Redis's `setGenericCommand` after the options are validated: with `get` the old value is
/// replied first. Stores `value` unless NX/XX forbid it, applying `deadline` (absolute Unix
/// ms); returns whether it stored. With a deadline the effect is `SET key value PXAT <ms>`,
/// whatever form the deadline was given in.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    flags: SetFlags,
    deadline: Option<i64>,
) -> Result<bool, Error> {
    if flags.get {
        get_generic(ctx, key)?;
    }
    let found = ctx.lookup_mut(key).is_some();
    if (flags.nx && found) || (flags.xx && !found) {
        return Ok(false);
    }
    let now = ctx.now_ms;
    let db = ctx.db();
    db.set(
        key,
        Value::String(StringValue::from_bytes(value)),
        flags.keepttl,
        now,
    );
    if let Some(at) = deadline {
        db.set_expire(key, at);
    }
    ctx.modified(key);
    if let Some(at) = deadline {
        if ctx.propagating() {
            let mut digits = itoa::Buffer::new();
            let at_text = digits.format(at).as_bytes();
            ctx.propagate_as(&[&b"SET"[..], key, value, b"PXAT", at_text]);
        }
        if at <= now {
            // Already in the past (EXAT/PXAT): the key expires at once, recorded as a `DEL`
            // after the `SET` (Redis records the same pair, the `DEL` when it meets the key).
            ctx.db().expire_if_needed(key, now);
        }
    }
    Ok(true)
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = parse_string_options(args, true)?;
    let deadline = match o.expire {
        Some((unit, arg)) => Some(deadline_ms(unit, arg, ctx.now_ms, "set")?),
        None => None,
    };
    let flags = SetFlags {
        nx: o.nx,
        xx: o.xx,
        get: o.get,
        keepttl: o.keepttl,
    };
    let stored = set_generic(ctx, &args[1], &args[2], flags, deadline)?;
    if stored && o.get && deadline.is_none() && ctx.propagating() {
        // The effect is the request without its GET words.
        let effect: Vec<&[u8]> = args
            .iter()
            .enumerate()
            .filter(|(i, arg)| *i < 3 || !eq_ignore_case(option_word(arg), "get"))
            .map(|(_, arg)| &arg[..])
            .collect();
        ctx.propagate_as(&effect);
    }
    if !o.get {
        if stored {
            ctx.reply.ok();
        } else {
            ctx.reply.null();
        }
    }
    Ok(())
}

/// SET's key flags for one call: with `GET` among the options it reads the old value
/// (`RW access update`), otherwise it overwrites (`OW update`).
fn set_key_flags(args: &[Bytes]) -> u32 {
    if args.iter().skip(3).any(|arg| eq_ignore_case(arg, "get")) {
        key_flag::RW | key_flag::ACCESS | key_flag::UPDATE
    } else {
        key_flag::OW | key_flag::UPDATE
    }
}

/// SETNX key value
fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let flags = SetFlags {
        nx: true,
        ..SetFlags::default()
    };
    let stored = set_generic(ctx, &args[1], &args[2], flags, None)?;
    ctx.reply.int(stored as i64);
    Ok(())
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let at = deadline_ms(ExpireUnit::Ex, &args[2], ctx.now_ms, "setex")?;
    set_generic(ctx, &args[1], &args[3], SetFlags::default(), Some(at))?;
    ctx.reply.ok();
    Ok(())
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let at = deadline_ms(ExpireUnit::Px, &args[2], ctx.now_ms, "psetex")?;
    set_generic(ctx, &args[1], &args[3], SetFlags::default(), Some(at))?;
    ctx.reply.ok();
    Ok(())
}

/// GETSET key value
///
/// Effect: `SET key value`.
fn getset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let flags = SetFlags {
        get: true,
        ..SetFlags::default()
    };
    if set_generic(ctx, &args[1], &args[2], flags, None)? {
        ctx.propagate_as(&[&b"SET"[..], &args[1], &args[2]]);
    }
    Ok(())
}

/// GETDEL key
///
/// Effect: `DEL key` (`UNLINK key` with `lazyfree-lazy-user-del yes`).
fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if get_generic(ctx, key)? {
        let now = ctx.now_ms;
        if ctx.db().remove(key, now).is_some() {
            ctx.modified(key);
            let delete = ctx.state.effects.user_delete_command();
            ctx.propagate_as(&[delete, key]);
        }
    }
    Ok(())
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]
///
/// Effect: `PEXPIREAT key <ms>`; `DEL key` (`UNLINK` with `lazyfree-lazy-expire yes`) for a
/// deadline already past; `PERSIST key` when it removed a TTL.
fn getex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = parse_string_options(args, false)?;
    let key = &args[1];
    let now = ctx.now_ms;
    let (entry, reply) = entry_and_reply(ctx, key);
    let Some(entry) = entry else {
        reply.null();
        return Ok(());
    };
    let s = as_string(&entry.value)?;
    let deadline = match o.expire {
        Some((unit, arg)) => Some(deadline_ms(unit, arg, now, "getex")?),
        None => None,
    };
    reply_string(reply, s);
    let had_ttl = entry.expire_at_ms != NO_EXPIRY;
    if let Some(at) = deadline {
        if at <= now && !crate::keyspace::expiry_suspended() {
            // An EXAT/PXAT already in the past deletes the key (not while loading).
            ctx.db().remove(key, now);
            ctx.modified(key);
            let delete = ctx.state.effects.expired_delete_command();
            ctx.propagate_as(&[delete, key]);
        } else {
            ctx.db().set_expire(key, at);
            ctx.modified(key);
            if ctx.propagating() {
                let mut digits = itoa::Buffer::new();
                let at_text = digits.format(at).as_bytes();
                ctx.propagate_as(&[&b"PEXPIREAT"[..], key, at_text]);
            }
        }
    } else if o.persist && had_ttl {
        ctx.db().set_expire(key, NO_EXPIRY);
        ctx.modified(key);
        ctx.propagate_as(&[&b"PERSIST"[..], key]);
    }
    Ok(())
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.reply.array(args.len() - 1);
    for key in &args[1..] {
        let (entry, reply) = entry_and_reply(ctx, key);
        match entry.map(|e| as_string(&e.value)) {
            Some(Ok(s)) => reply_string(reply, s),
            _ => reply.null(),
        }
    }
    Ok(())
}

/// MSET key value [key value ...] and MSETNX: stores every pair, later pairs winning.
fn mset_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> Result<bool, Error> {
    if args.len().is_multiple_of(2) {
        return Err(error::wrong_arity(if nx { "msetnx" } else { "mset" }));
    }
    if nx {
        for pair in args[1..].chunks_exact(2) {
            if ctx.lookup(&pair[0]).is_some() {
                return Ok(false);
            }
        }
    }
    let now = ctx.now_ms;
    for pair in args[1..].chunks_exact(2) {
        let value = Value::String(StringValue::from_bytes(&pair[1]));
        ctx.db().set(&pair[0], value, false, now);
        ctx.modified(&pair[0]);
    }
    Ok(true)
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    mset_generic(ctx, args, false)?;
    ctx.reply.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let stored = mset_generic(ctx, args, true)?;
    ctx.reply.int(stored as i64);
    Ok(())
}

/// Adds `by` to the integer at `key` (missing counts as 0), keeping its TTL.
fn incr_decr(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let value = match get_string_mut(ctx, key)? {
        Some(s) => {
            let old = s.as_i64().ok_or(error::NOT_INTEGER)?;
            let new = old.checked_add(by).ok_or(error::OVERFLOW)?;
            *s = StringValue::Int(new);
            new
        }
        None => {
            let now = ctx.now_ms;
            ctx.db()
                .set(key, Value::String(StringValue::Int(by)), false, now);
            by
        }
    };
    ctx.modified(key);
    ctx.reply.int(value);
    Ok(())
}

/// INCR key
fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_decr(ctx, &args[1], 1)
}

/// DECR key
fn decr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_decr(ctx, &args[1], -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = arg_i64(&args[2])?;
    incr_decr(ctx, &args[1], by)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = arg_i64(&args[2])?;
    let by = by.checked_neg().ok_or(DECREMENT_OVERFLOW)?;
    incr_decr(ctx, &args[1], by)
}

/// INCRBYFLOAT key increment
///
/// Effect: `SET key <new value> KEEPTTL`, so replaying never depends on float arithmetic.
fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let text = match get_string_mut(ctx, key)? {
        Some(s) => {
            let text = incr_float_text(Some(s), &args[2])?;
            *s = plain_string(text.clone());
            text
        }
        None => {
            let text = incr_float_text(None, &args[2])?;
            let now = ctx.now_ms;
            let value = Value::String(plain_string(text.clone()));
            ctx.db().set(key, value, false, now);
            text
        }
    };
    ctx.modified(key);
    ctx.propagate_as(&[&b"SET"[..], key, &text, b"KEEPTTL"]);
    ctx.reply.bulk(&text);
    Ok(())
}

/// APPEND key value
fn append(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, extra) = (&args[1], &args[2]);
    let limit = proto_max_bulk_len(ctx);
    let len = match get_string_mut(ctx, key)? {
        Some(s) => {
            check_string_length(limit, s.len(), extra.len())?;
            append_bytes(s, extra)
        }
        None => {
            let now = ctx.now_ms;
            ctx.db().set(
                key,
                Value::String(StringValue::from_bytes(extra)),
                false,
                now,
            );
            extra.len()
        }
    };
    ctx.modified(key);
    ctx.reply.int(len as i64);
    Ok(())
}

/// STRLEN key
fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = get_string(ctx, &args[1])?.map_or(0, |s| s.len());
    ctx.reply.int(len as i64);
    Ok(())
}

/// GETRANGE key start end (and SUBSTR, its older name)
fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let (entry, reply) = entry_and_reply(ctx, &args[1]);
    let Some(entry) = entry else {
        reply.bulk(b"");
        return Ok(());
    };
    let s = as_string(&entry.value)?;
    let mut scratch = itoa::Buffer::new();
    let bytes = s.as_bytes(&mut scratch);
    match clamp_range(bytes.len(), start, end) {
        Some((from, to)) => reply.bulk(&bytes[from..=to]),
        None => reply.bulk(b""),
    }
    Ok(())
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, value) = (&args[1], &args[3]);
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(OFFSET_OUT_OF_RANGE);
    }
    let limit = proto_max_bulk_len(ctx);
    let len = match get_string_mut(ctx, key)? {
        Some(s) => {
            if value.is_empty() {
                // Nothing to write: the value (and its encoding) stays as it is.
                let len = s.len();
                ctx.reply.int(len as i64);
                return Ok(());
            }
            check_string_length(limit, offset as usize, value.len())?;
            set_range_bytes(s, offset as usize, value)
        }
        None => {
            if value.is_empty() {
                ctx.reply.int(0);
                return Ok(());
            }
            check_string_length(limit, offset as usize, value.len())?;
            let mut s = StringValue::Raw(Vec::new());
            let len = set_range_bytes(&mut s, offset as usize, value);
            let now = ctx.now_ms;
            ctx.db().set(key, Value::String(s), false, now);
            len
        }
    };
    ctx.modified(key);
    ctx.reply.int(len as i64);
    Ok(())
}

/// One common run found by LCS IDX: `(a_start, a_end, b_start, b_end)`, inclusive.
type LcsRange = (usize, usize, usize, usize);

/// What LCS computed: the common subsequence (when asked for), its length and the matching
/// runs from the end of the strings backwards (when asked for).
struct LcsResult {
    text: Vec<u8>,
    len: usize,
    ranges: Vec<LcsRange>,
}

/// The dynamic-programming LCS over `a` and `b`, walked back from the end as Redis walks it,
/// so the subsequence and the runs are the ones Redis reports. `table_limit` bounds the
/// table's bytes (`proto-max-bulk-len`).
fn lcs_compute(
    a: &[u8],
    b: &[u8],
    want_text: bool,
    min_match: usize,
    table_limit: i64,
) -> Result<LcsResult, Error> {
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(LCS_TOO_LONG);
    }
    let width = b.len() + 1;
    let cells = (a.len() as u128 + 1) * width as u128;
    if cells * 4 > table_limit.max(0) as u128 {
        return Err(LCS_OVER_LIMIT);
    }
    let cells = cells as usize;
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells).is_err() {
        return Err(LCS_ALLOC_FAILED);
    }
    table.resize(cells, 0);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let len = table[a.len() * width + b.len()] as usize;
    let mut result = LcsResult {
        text: Vec::new(),
        len,
        ranges: Vec::new(),
    };
    if !want_text {
        return Ok(result);
    }
    let mut text = vec![0u8; len];
    let mut filled = len;
    let (mut i, mut j) = (a.len(), b.len());
    // The run being extended backwards: (a_start, a_end, b_start, b_end).
    let mut run: Option<LcsRange> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            filled -= 1;
            text[filled] = a[i - 1];
            match &mut run {
                None => run = Some((i - 1, i - 1, j - 1, j - 1)),
                // Contiguous with the run: extend it backwards.
                Some(r) if r.0 == i && r.2 == j => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit = true,
            }
            // A run touching the start of either string is complete.
            if run.is_some_and(|r| r.0 == 0 || r.2 == 0) {
                emit = true;
            }
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = run.is_some();
        }
        if emit && let Some(r) = run.take() {
            let match_len = r.1 - r.0 + 1;
            if min_match == 0 || match_len >= min_match {
                result.ranges.push(r);
            }
        }
    }
    result.text = text;
    Ok(result)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let a = ctx
        .lookup(&args[1])
        .map(|e| as_string(&e.value).map(StringValue::to_vec));
    let b = ctx
        .lookup(&args[2])
        .map(|e| as_string(&e.value).map(StringValue::to_vec));
    let (Ok(a), Ok(b)) = (a.transpose(), b.transpose()) else {
        return Err(LCS_NOT_STRINGS);
    };
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let (mut want_len, mut want_idx, mut with_match_len) = (false, false, false);
    let mut min_match: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = option_word(&args[i]);
        if eq_ignore_case(opt, "idx") {
            want_idx = true;
        } else if eq_ignore_case(opt, "len") {
            want_len = true;
        } else if eq_ignore_case(opt, "withmatchlen") {
            with_match_len = true;
        } else if eq_ignore_case(opt, "minmatchlen") && i + 1 < args.len() {
            min_match = arg_i64(&args[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(LCS_LEN_AND_IDX);
    }
    let limit = proto_max_bulk_len(ctx);
    let min_match = usize::try_from(min_match).unwrap_or(usize::MAX);
    let result = lcs_compute(&a, &b, want_idx || !want_len, min_match, limit)?;
    let reply = &mut *ctx.reply;
    if want_idx {
        reply.map(2);
        reply.bulk(b"matches");
        reply.array(result.ranges.len());
        for (a_start, a_end, b_start, b_end) in &result.ranges {
            reply.array(2 + with_match_len as usize);
            reply.array(2);
            reply.int(*a_start as i64);
            reply.int(*a_end as i64);
            reply.array(2);
            reply.int(*b_start as i64);
            reply.int(*b_end as i64);
            if with_match_len {
                reply.int((a_end - a_start + 1) as i64);
            }
        }
        reply.bulk(b"len");
        reply.int(result.len as i64);
    } else if want_len {
        reply.int(result.len as i64);
    } else {
        reply.bulk(&result.text);
    }
    Ok(())
}

pub const COMMANDS: &[Command] = &[
    Command {
        name: "get",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: get,
        group: "string",
        summary: "Get the value of a key",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "set",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        variable_key_flags: Some(set_key_flags),
        handler: set,
        group: "string",
        summary: "Set the string value of a key",
        key_specs: &[KeySpec {
            notes: "RW and ACCESS due to the optional `GET` argument",
            ..KeySpec::range(
                key_flag::RW | key_flag::ACCESS | key_flag::UPDATE | key_flag::VARIABLE_FLAGS,
                1,
                0,
                1,
            )
        }],
        history: &[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            (
                "7.0.0",
                "Allowed the `NX` and `GET` options to be used together.",
            ),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "setnx",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: setnx,
        group: "string",
        summary: "Set the value of a key, only if the key does not exist",
        key_specs: &[KeySpec::range(key_flag::OW | key_flag::INSERT, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "setex",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: setex,
        group: "string",
        summary: "Set the value and expiration of a key",
        since: "2.0.0",
        key_specs: &[KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "psetex",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: psetex,
        group: "string",
        summary: "Set the value and expiration in milliseconds of a key",
        since: "2.6.0",
        key_specs: &[KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "getset",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: getset,
        group: "string",
        summary: "Set the string value of a key and return its old value",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`SET` with the `!GET` argument",
        ..Command::DEFAULT
    },
    Command {
        name: "getdel",
        arity: 2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: getdel,
        group: "string",
        summary: "Get the value of a key and delete the key",
        since: "6.2.0",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "getex",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: getex,
        group: "string",
        summary: "Get the value of a key and optionally set its expiration",
        since: "6.2.0",
        key_specs: &[KeySpec {
            notes: "RW and UPDATE because it changes the TTL",
            ..KeySpec::range(key_flag::RW | key_flag::ACCESS | key_flag::UPDATE, 1, 0, 1)
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "mget",
        arity: -2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: -1,
        key_step: 1,
        handler: mget,
        group: "string",
        summary: "Get the values of all the given keys",
        complexity: "O(N) where N is the number of keys to retrieve.",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, -1, 1)],
        tips: &["request_policy:multi_shard"],
        ..Command::DEFAULT
    },
    Command {
        name: "mset",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::STRING,
        first_key: 1,
        last_key: -1,
        key_step: 2,
        handler: mset,
        group: "string",
        summary: "Set multiple keys to multiple values",
        since: "1.0.1",
        complexity: "O(N) where N is the number of keys to set.",
        key_specs: &[KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, -1, 2)],
        tips: &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "msetnx",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::STRING,
        first_key: 1,
        last_key: -1,
        key_step: 2,
        handler: msetnx,
        group: "string",
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        since: "1.0.1",
        complexity: "O(N) where N is the number of keys to set.",
        key_specs: &[KeySpec::range(key_flag::OW | key_flag::INSERT, 1, -1, 2)],
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        ..Command::DEFAULT
    },
    Command {
        name: "incr",
        arity: 2,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: incr,
        group: "string",
        summary: "Increment the integer value of a key by one",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "decr",
        arity: 2,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: decr,
        group: "string",
        summary: "Decrement the integer value of a key by one",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "incrby",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: incrby,
        group: "string",
        summary: "Increment the integer value of a key by the given amount",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "decrby",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: decrby,
        group: "string",
        summary: "Decrement the integer value of a key by the given number",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "incrbyfloat",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: incrbyfloat,
        group: "string",
        summary: "Increment the float value of a key by the given amount",
        since: "2.6.0",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "append",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: append,
        group: "string",
        summary: "Append a value to a key",
        since: "2.0.0",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::INSERT, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "strlen",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: strlen,
        group: "string",
        summary: "Get the length of the value stored in a key",
        since: "2.2.0",
        key_specs: &[KeySpec::range(key_flag::RO, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "getrange",
        arity: 4,
        flags: flag::READONLY,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: getrange,
        group: "string",
        summary: "Get a substring of the string stored at a key",
        since: "2.4.0",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "substr",
        arity: 4,
        flags: flag::READONLY,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: getrange,
        group: "string",
        summary: "Get a substring of the string stored at a key",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "2.0.0",
        replaced_by: "`GETRANGE`",
        ..Command::DEFAULT
    },
    Command {
        name: "setrange",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::STRING,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: setrange,
        group: "string",
        summary: "Overwrite part of a string at key starting at the specified offset",
        since: "2.2.0",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "lcs",
        arity: -3,
        flags: flag::READONLY,
        acl: acl::STRING,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: lcs,
        group: "string",
        summary: "Find longest common substring",
        since: "7.0.0",
        complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 1, 1)],
        ..Command::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding(s: &StringValue) -> &'static str {
        s.encoding_name()
    }

    #[test]
    fn set_picks_the_encoding_redis_picks() {
        assert_eq!(encoding(&StringValue::from_bytes(b"12345")), "int");
        assert_eq!(
            encoding(&StringValue::from_bytes(b"-9223372036854775808")),
            "int"
        );
        assert_eq!(encoding(&StringValue::from_bytes(b"01")), "embstr");
        assert_eq!(encoding(&StringValue::from_bytes(b" 1")), "embstr");
        assert_eq!(
            encoding(&StringValue::from_bytes(b"9223372036854775808")),
            "embstr"
        );
        assert_eq!(encoding(&StringValue::from_bytes(&[b'a'; 44])), "embstr");
        assert_eq!(encoding(&StringValue::from_bytes(&[b'a'; 45])), "raw");
        assert_eq!(encoding(&StringValue::from_bytes(b"")), "embstr");
    }

    #[test]
    fn append_and_setrange_make_raw() {
        let mut s = StringValue::from_bytes(b"12");
        assert_eq!(append_bytes(&mut s, b"3"), 3);
        assert_eq!(encoding(&s), "raw");
        assert_eq!(s.to_vec(), b"123");
        let mut s = StringValue::from_bytes(b"1234");
        assert_eq!(append_bytes(&mut s, b""), 4);
        assert_eq!(encoding(&s), "raw");
        let mut s = StringValue::from_bytes(b"hello");
        assert_eq!(set_range_bytes(&mut s, 7, b"xy"), 9);
        assert_eq!(s.to_vec(), b"hello\0\0xy");
        assert_eq!(encoding(&s), "raw");
        assert_eq!(set_range_bytes(&mut s, 0, b"J"), 9);
        assert_eq!(s.to_vec(), b"Jello\0\0xy");
    }

    #[test]
    fn incrbyfloat_results_are_plain_strings() {
        let text = incr_float_text(Some(&StringValue::Int(3)), b"0").unwrap();
        assert_eq!(text, b"3");
        assert_eq!(encoding(&plain_string(text)), "embstr");
        let text = incr_float_text(None, b"1e50").unwrap();
        assert_eq!(text.len(), 51);
        assert_eq!(encoding(&plain_string(text)), "raw");
        assert_eq!(
            incr_float_text(Some(&StringValue::from_bytes(b"abc")), b"1"),
            Err(error::NOT_FLOAT)
        );
        assert_eq!(incr_float_text(None, b"inf"), Err(NAN_OR_INFINITY));
    }

    #[test]
    fn getrange_index_rules() {
        assert_eq!(clamp_range(5, 0, -1), Some((0, 4)));
        assert_eq!(clamp_range(5, -3, -1), Some((2, 4)));
        assert_eq!(clamp_range(5, -1, -3), None);
        assert_eq!(clamp_range(5, 5, 10), None);
        assert_eq!(clamp_range(5, 4, 10), Some((4, 4)));
        assert_eq!(clamp_range(5, -100, 100), Some((0, 4)));
        assert_eq!(clamp_range(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(clamp_range(0, 0, -1), None);
        assert_eq!(clamp_range(0, -1, 0), None);
    }

    #[test]
    fn lcs_walks_back_as_redis_does() {
        let r = lcs_compute(b"ohmytext", b"mynewtext", true, 0, 1 << 20).unwrap();
        assert_eq!(r.text, b"mytext");
        assert_eq!(r.len, 6);
        assert_eq!(r.ranges, vec![(4, 7, 5, 8), (2, 3, 0, 1)]);
        let r = lcs_compute(b"ohmytext", b"mynewtext", true, 4, 1 << 20).unwrap();
        assert_eq!(r.ranges, vec![(4, 7, 5, 8)]);
        let r = lcs_compute(b"", b"abc", true, 0, 1 << 20).unwrap();
        assert_eq!((r.len, r.text.len(), r.ranges.len()), (0, 0, 0));
        assert_eq!(
            lcs_compute(b"abc", b"abc", true, 0, 15).err(),
            Some(LCS_OVER_LIMIT)
        );
    }
}
