//! Lists: the type operations first, then the commands (the blocking ones serve through
//! [`super::blocking`]), then the family's table.

use bytes::Bytes;

use super::table::{BeginSearch, Command, FindKeys, KeySpec, acl, doc_flag, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::list::{End, ListValue};
use crate::keyspace::{Access, Value};
use crate::protocol::Reply;

const INDEX_OUT_OF_RANGE: Error = Error::new("ERR index out of range");
const RANK_ZERO: Error = Error::new(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
);
const COUNT_NEGATIVE: Error = Error::new("ERR COUNT can't be negative");
const MAXLEN_NEGATIVE: Error = Error::new("ERR MAXLEN can't be negative");
const NUMKEYS_NOT_POSITIVE: Error = Error::new("ERR numkeys should be greater than 0");
const COUNT_NOT_POSITIVE: Error = Error::new("ERR count should be greater than 0");

// ---- type operations ----

fn as_list(value: &Value) -> Result<&ListValue, Error> {
    match value {
        Value::List(l) => Ok(l),
        #[allow(unreachable_patterns)]
        _ => Err(error::WRONGTYPE),
    }
}

fn as_list_mut(value: &mut Value) -> Result<&mut ListValue, Error> {
    match value {
        Value::List(l) => Ok(l),
        #[allow(unreachable_patterns)]
        _ => Err(error::WRONGTYPE),
    }
}

/// The list at `key` for reading (a keyspace hit or miss), with the reply buffer so a
/// handler replies straight from the stored elements.
fn read_list<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'c ListValue>, &'c mut Reply), Error> {
    let now = ctx.now_ms;
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let entry = state.store.dbs[db].get(key, now, Access::Touch);
    if entry.is_some() {
        state.stats.keyspace_hits += 1;
    } else {
        state.stats.keyspace_misses += 1;
    }
    let list = entry.map(|e| as_list(&e.value)).transpose()?;
    Ok((list, &mut *ctx.reply))
}

/// The list at `key` for changing: `Ok(None)` when missing, WRONGTYPE for another type.
fn write_list<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut ListValue>, Error> {
    ctx.lookup_mut(key)
        .map(|e| as_list_mut(&mut e.value))
        .transpose()
}

/// Whether `key` is missing or a list (the destination check of LMOVE).
fn is_list_or_missing(ctx: &mut Ctx, key: &[u8]) -> bool {
    ctx.lookup_mut(key)
        .is_none_or(|e| matches!(e.value, Value::List(_)))
}

/// After removing elements from the list at `key`: deletes the key if the list is empty, and
/// records the change.
fn removed_from(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    let empty = ctx
        .lookup_mut(key)
        .is_some_and(|e| matches!(&e.value, Value::List(l) if l.is_empty()));
    if empty {
        ctx.db().remove(key, now);
    }
    ctx.modified(key);
}

/// Pushes `items` at `end` of the list at `key`, creating it unless `only_existing`. The
/// new length, `None` when nothing was pushed because the key is missing.
fn push_items(
    ctx: &mut Ctx,
    key: &[u8],
    items: &[Bytes],
    end: End,
    only_existing: bool,
) -> Result<Option<usize>, Error> {
    let len = match write_list(ctx, key)? {
        Some(list) => {
            for item in items {
                list.push(end, item);
            }
            list.len()
        }
        None if only_existing => return Ok(None),
        None => {
            let mut list = ListValue::new();
            for item in items {
                list.push(end, item);
            }
            let len = list.len();
            let now = ctx.now_ms;
            ctx.db().set(key, Value::List(Box::new(list)), false, now);
            len
        }
    };
    ctx.modified(key);
    Ok(Some(len))
}

/// Pops up to `count` elements from `end` of the list at `key`; `None` when it is missing.
fn pop_items(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, Error> {
    let Some(list) = write_list(ctx, key)? else {
        return Ok(None);
    };
    let mut popped = Vec::with_capacity(count.min(list.len()));
    while popped.len() < count {
        match list.pop(end) {
            Some(item) => popped.push(item),
            None => break,
        }
    }
    if !popped.is_empty() {
        removed_from(ctx, key);
    }
    Ok(Some(popped))
}

/// Moves one element from `from` of `src` to `to` of `dst` (the same list rotates). `None`
/// when `src` is missing; WRONGTYPE when either key holds another type.
fn move_item(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, Error> {
    if write_list(ctx, src)?.is_none() {
        return Ok(None);
    }
    if !is_list_or_missing(ctx, dst) {
        return Err(error::WRONGTYPE);
    }
    let Some(item) = write_list(ctx, src)?.and_then(|l| l.pop(from)) else {
        return Ok(None);
    };
    if src == dst {
        if let Some(list) = write_list(ctx, src)? {
            list.push(to, &item);
        }
        ctx.modified(src);
        return Ok(Some(item));
    }
    push_items(ctx, dst, &[Bytes::copy_from_slice(&item)], to, false)?;
    removed_from(ctx, src);
    Ok(Some(item))
}

fn parse_end(arg: &[u8]) -> Result<End, Error> {
    if eq_ignore_case(arg, "left") {
        Ok(End::Head)
    } else if eq_ignore_case(arg, "right") {
        Ok(End::Tail)
    } else {
        Err(error::SYNTAX)
    }
}

fn end_word(end: End) -> &'static [u8] {
    match end {
        End::Head => b"left",
        End::Tail => b"right",
    }
}

fn pop_command(end: End) -> &'static [u8] {
    match end {
        End::Head => b"LPOP",
        End::Tail => b"RPOP",
    }
}

/// An integer in `min..=max`, else `err` (Redis's `getRangeLongFromObjectOrReply` with a
/// message: the same text for a non-integer).
fn arg_range(arg: &[u8], min: i64, max: i64, err: Error) -> Result<i64, Error> {
    match crate::util::parse_i64(arg) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(err),
    }
}

/// Redis's start/stop normalisation for LRANGE and LTRIM: the inclusive range, or `None`
/// when it is empty.
fn normalize_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

// ---- commands ----

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = push_items(ctx, &args[1], &args[2..], End::Head, false)?.unwrap_or(0);
    ctx.reply.int(len as i64);
    Ok(())
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = push_items(ctx, &args[1], &args[2..], End::Tail, false)?.unwrap_or(0);
    ctx.reply.int(len as i64);
    Ok(())
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = push_items(ctx, &args[1], &args[2..], End::Head, true)?.unwrap_or(0);
    ctx.reply.int(len as i64);
    Ok(())
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let len = push_items(ctx, &args[1], &args[2..], End::Tail, true)?.unwrap_or(0);
    ctx.reply.int(len as i64);
    Ok(())
}

fn pop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(error::wrong_arity(if end == End::Head {
            "lpop"
        } else {
            "rpop"
        }));
    }
    let count = match args.get(2) {
        Some(arg) => Some(arg_range(arg, 0, i64::MAX, error::NOT_POSITIVE)? as usize),
        None => None,
    };
    let Some(popped) = pop_items(ctx, &args[1], end, count.unwrap_or(1))? else {
        if count.is_some() {
            ctx.reply.null_array();
        } else {
            ctx.reply.null();
        }
        return Ok(());
    };
    match count {
        Some(_) => {
            ctx.reply.array(popped.len());
            for item in &popped {
                ctx.reply.bulk(item);
            }
        }
        None => match popped.first() {
            Some(item) => ctx.reply.bulk(item),
            None => ctx.reply.null(),
        },
    }
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, End::Head)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, End::Tail)
}

/// LLEN key
fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (list, reply) = read_list(ctx, &args[1])?;
    reply.int(list.map_or(0, |l| l.len()) as i64);
    Ok(())
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let stop = arg_i64(&args[3])?;
    let (list, reply) = read_list(ctx, &args[1])?;
    let Some(list) = list else {
        reply.array(0);
        return Ok(());
    };
    match normalize_range(start, stop, list.len()) {
        None => reply.array(0),
        Some((start, stop)) => {
            let count = stop - start + 1;
            reply.array(count);
            if start >= list.len() / 2 && stop == list.len() - 1 {
                // Near the tail: walk back from it.
                let mut items: Vec<&[u8]> = list.iter_rev().take(count).collect();
                items.reverse();
                for item in items {
                    reply.bulk(item);
                }
            } else {
                for item in list.iter_from(start).take(count) {
                    reply.bulk(item);
                }
            }
        }
    }
    Ok(())
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (list, reply) = read_list(ctx, &args[1])?;
    let Some(list) = list else {
        reply.null();
        return Ok(());
    };
    let index = arg_i64(&args[2])?;
    match list.resolve_index(index).and_then(|i| list.get(i)) {
        Some(item) => reply.bulk(item),
        None => reply.null(),
    }
    Ok(())
}

/// LSET key index element
fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(list) = write_list(ctx, &args[1])? else {
        return Err(error::NO_SUCH_KEY);
    };
    let index = arg_i64(&args[2])?;
    let at = list.resolve_index(index).ok_or(INDEX_OUT_OF_RANGE)?;
    list.set(at, &args[3]);
    ctx.modified(&args[1]);
    ctx.reply.ok();
    Ok(())
}

/// LINSERT key <BEFORE | AFTER> pivot element
fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let after = if eq_ignore_case(&args[2], "after") {
        true
    } else if eq_ignore_case(&args[2], "before") {
        false
    } else {
        return Err(error::SYNTAX);
    };
    let Some(list) = write_list(ctx, &args[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let Some(at) = list.iter().position(|item| item == &args[3][..]) else {
        ctx.reply.int(-1);
        return Ok(());
    };
    list.insert(if after { at + 1 } else { at }, &args[4]);
    let len = list.len();
    ctx.modified(&args[1]);
    ctx.reply.int(len as i64);
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    let Some(list) = write_list(ctx, &args[1])? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let (from, limit) = match count {
        0 => (End::Head, usize::MAX),
        n if n > 0 => (End::Head, n as usize),
        n => (
            End::Tail,
            usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
        ),
    };
    let element = &args[3][..];
    let removed = list.retain_limited(from, limit, |item| item == element);
    if removed > 0 {
        removed_from(ctx, &args[1]);
        ctx.state.store.dirty += removed as u64 - 1;
    }
    ctx.reply.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let stop = arg_i64(&args[3])?;
    let Some(list) = write_list(ctx, &args[1])? else {
        ctx.reply.ok();
        return Ok(());
    };
    let len = list.len();
    let (head, tail) = match normalize_range(start, stop, len) {
        None => (len, 0),
        Some((start, stop)) => (start, len - stop - 1),
    };
    list.remove_range(0, head);
    let left = list.len();
    list.remove_range(left - tail.min(left), tail);
    if head + tail > 0 {
        removed_from(ctx, &args[1]);
        ctx.state.store.dirty += (head + tail) as u64 - 1;
    } else {
        let db = ctx.client.db;
        ctx.signal_watchers_in(db, &args[1]);
    }
    ctx.reply.ok();
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq_ignore_case(&args[i], "rank") && more {
            i += 1;
            rank = arg_i64(&args[i])?;
            if rank == 0 {
                return Err(RANK_ZERO);
            }
        } else if eq_ignore_case(&args[i], "count") && more {
            i += 1;
            count = Some(arg_range(&args[i], 0, i64::MAX, COUNT_NEGATIVE)? as usize);
        } else if eq_ignore_case(&args[i], "maxlen") && more {
            i += 1;
            maxlen = arg_range(&args[i], 0, i64::MAX, MAXLEN_NEGATIVE)? as usize;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    let (list, reply) = read_list(ctx, &args[1])?;
    let Some(list) = list else {
        if count.is_some() {
            reply.array(0);
        } else {
            reply.null();
        }
        return Ok(());
    };
    let len = list.len();
    let element = &args[2][..];
    // Redis negates the rank in a signed integer: the most negative one stays negative and
    // so takes the first match from the tail.
    let skip = if rank == i64::MIN {
        0
    } else {
        usize::try_from(rank.unsigned_abs() - 1).unwrap_or(usize::MAX)
    };
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    // Redis stops at `matches - rank + 1 >= count`; with the most negative rank that sum
    // wraps below zero, so every match is returned whatever COUNT says.
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(_) if rank == i64::MIN => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let positions: Box<dyn Iterator<Item = (usize, &[u8])>> = if rank > 0 {
        Box::new(list.iter().enumerate())
    } else {
        Box::new(
            list.iter_rev()
                .enumerate()
                .map(|(i, item)| (len - 1 - i, item)),
        )
    };
    let found: Vec<usize> = positions
        .take(limit)
        .filter(|(_, item)| *item == element)
        .skip(skip)
        .take(wanted)
        .map(|(i, _)| i)
        .collect();
    match count {
        Some(_) => {
            reply.array(found.len());
            for i in found {
                reply.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => reply.int(i as i64),
            None => reply.null(),
        },
    }
    Ok(())
}

/// LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>
fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    match move_item(ctx, &args[1], &args[2], from, to)? {
        Some(item) => ctx.reply.bulk(&item),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match move_item(ctx, &args[1], &args[2], End::Tail, End::Head)? {
        Some(item) => ctx.reply.bulk(&item),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// The parsed `numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` of LMPOP and BLMPOP,
/// starting at `args[at]`.
struct Mpop {
    keys: std::ops::Range<usize>,
    end: End,
    count: usize,
}

fn parse_mpop(args: &[Bytes], at: usize) -> Result<Mpop, Error> {
    let numkeys = arg_range(&args[at], 1, i64::MAX, NUMKEYS_NOT_POSITIVE)? as usize;
    let where_at = (at + 1).checked_add(numkeys).ok_or(error::SYNTAX)?;
    if where_at >= args.len() {
        return Err(error::SYNTAX);
    }
    let end = parse_end(&args[where_at])?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_none() && eq_ignore_case(&args[i], "count") && i + 1 < args.len() {
            i += 1;
            count = Some(arg_range(&args[i], 1, i64::MAX, COUNT_NOT_POSITIVE)? as usize);
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    Ok(Mpop {
        keys: at + 1..where_at,
        end,
        count: count.unwrap_or(1),
    })
}

/// LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mpop = parse_mpop(args, 1)?;
    for key in &args[mpop.keys.clone()] {
        if serve_mpop_at(ctx, key, &mpop)? {
            return Ok(());
        }
    }
    ctx.reply.null_array();
    Ok(())
}

// ---- blocking commands ----

/// Serves BLPOP/BRPOP from `key`: `[key, element]`, recorded as LPOP/RPOP.
fn serve_bpop(ctx: &mut Ctx, key: &Bytes, request: &[Bytes], woken: bool) -> Result<bool, Error> {
    if woken && !holds_list(ctx, key) {
        return Ok(false);
    }
    let end = if eq_ignore_case(&request[0], "blpop") {
        End::Head
    } else {
        End::Tail
    };
    let Some(popped) = pop_items(ctx, key, end, 1)? else {
        return Ok(false);
    };
    let Some(item) = popped.first() else {
        return Ok(false);
    };
    ctx.reply.array(2);
    ctx.reply.bulk(key);
    ctx.reply.bulk(item);
    ctx.propagate_as(&[pop_command(end), &key[..]]);
    Ok(true)
}

/// Serves BLMOVE/BRPOPLPUSH from `key` (their source): the element, recorded as LMOVE /
/// RPOPLPUSH (BLMOVE's directions as the client wrote them when served at once, in lowercase
/// when served after blocking, as Redis records them).
fn serve_bmove(ctx: &mut Ctx, key: &Bytes, request: &[Bytes], woken: bool) -> Result<bool, Error> {
    if woken && !holds_list(ctx, key) {
        return Ok(false);
    }
    let dst = &request[2];
    let (from, to) = if eq_ignore_case(&request[0], "blmove") {
        (parse_end(&request[3])?, parse_end(&request[4])?)
    } else {
        (End::Tail, End::Head)
    };
    let Some(item) = move_item(ctx, key, dst, from, to)? else {
        return Ok(false);
    };
    ctx.reply.bulk(&item);
    if eq_ignore_case(&request[0], "blmove") {
        if woken {
            ctx.propagate_as(&[&b"LMOVE"[..], key, dst, end_word(from), end_word(to)]);
        } else {
            let (from, to) = (request[3].clone(), request[4].clone());
            ctx.propagate_as(&[&b"LMOVE"[..], key, dst, &from, &to]);
        }
    } else {
        ctx.propagate_as(&[&b"RPOPLPUSH"[..], key, dst]);
    }
    Ok(true)
}

/// Serves LMPOP/BLMPOP from `key`: `[key, [elements]]`, recorded as LPOP/RPOP with the
/// number popped.
fn serve_mpop_at(ctx: &mut Ctx, key: &Bytes, mpop: &Mpop) -> Result<bool, Error> {
    let Some(popped) = pop_items(ctx, key, mpop.end, mpop.count)? else {
        return Ok(false);
    };
    if popped.is_empty() {
        return Ok(false);
    }
    ctx.reply.array(2);
    ctx.reply.bulk(key);
    ctx.reply.array(popped.len());
    for item in &popped {
        ctx.reply.bulk(item);
    }
    let count = popped.len().to_string();
    ctx.propagate_as(&[pop_command(mpop.end), &key[..], count.as_bytes()]);
    Ok(true)
}

fn serve_bmpop(ctx: &mut Ctx, key: &Bytes, request: &[Bytes], woken: bool) -> Result<bool, Error> {
    if woken && !holds_list(ctx, key) {
        return Ok(false);
    }
    let mpop = parse_mpop(request, 2)?;
    serve_mpop_at(ctx, key, &mpop)
}

/// Whether `key` holds a list: a waiter is only offered a key of its type (another type there
/// leaves it blocked, as in Redis); an error past that point (BLMOVE's destination of the
/// wrong type) is its reply.
fn holds_list(ctx: &mut Ctx, key: &[u8]) -> bool {
    let now = ctx.now_ms;
    matches!(ctx.db().peek(key, now), Some(e) if matches!(e.value, Value::List(_)))
}

/// Tries each key in order, then blocks until served or `timeout_reply`; where blocking is
/// not allowed (MULTI), replies `empty_reply` at once.
fn block_on(
    ctx: &mut Ctx,
    args: &[Bytes],
    keys: &[Bytes],
    deadline_ms: Option<i64>,
    serve: super::blocking::ServeFn,
    empty_reply: fn(&mut Reply),
) -> CmdResult {
    for key in keys {
        if serve(ctx, key, args, false)? {
            return Ok(());
        }
    }
    if ctx.can_block() {
        // Every list wait times out with a null array (BLMOVE's too, as in Redis).
        ctx.block(keys, deadline_ms, serve, args, Reply::null_array);
    } else {
        empty_reply(ctx.reply);
    }
    Ok(())
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = super::blocking::parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    block_on(ctx, args, keys, deadline, serve_bpop, Reply::null_array)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    blpop(ctx, args)
}

/// BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout
fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    parse_end(&args[3])?;
    parse_end(&args[4])?;
    let deadline = super::blocking::parse_timeout(&args[5], ctx.now_ms)?;
    block_on(ctx, args, &args[1..2], deadline, serve_bmove, Reply::null)
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = super::blocking::parse_timeout(&args[3], ctx.now_ms)?;
    block_on(ctx, args, &args[1..2], deadline, serve_bmove, Reply::null)
}

/// BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = super::blocking::parse_timeout(&args[1], ctx.now_ms)?;
    let mpop = parse_mpop(args, 2)?;
    let keys = &args[mpop.keys.clone()];
    block_on(ctx, args, keys, deadline, serve_bmpop, Reply::null_array)
}

// ---- table ----

pub const COMMANDS: &[Command] = &[
    Command {
        name: "lpush",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lpush,
        group: "list",
        summary: "Prepend one or multiple elements to a list",
        since: "1.0.0",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::INSERT,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[("2.4.0", "Accepts multiple `element` arguments.")],
        ..Command::DEFAULT
    },
    Command {
        name: "rpush",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: rpush,
        group: "list",
        summary: "Append one or multiple elements to a list",
        since: "1.0.0",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::INSERT,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[("2.4.0", "Accepts multiple `element` arguments.")],
        ..Command::DEFAULT
    },
    Command {
        name: "lpushx",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lpushx,
        group: "list",
        summary: "Prepend an element to a list, only if the list exists",
        since: "2.2.0",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::INSERT,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[("4.0.0", "Accepts multiple `element` arguments.")],
        ..Command::DEFAULT
    },
    Command {
        name: "rpushx",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: rpushx,
        group: "list",
        summary: "Append an element to a list, only if the list exists",
        since: "2.2.0",
        complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::INSERT,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[("4.0.0", "Accepts multiple `element` arguments.")],
        ..Command::DEFAULT
    },
    Command {
        name: "lpop",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lpop,
        group: "list",
        summary: "Remove and get the first elements in a list",
        since: "1.0.0",
        complexity: "O(N) where N is the number of elements returned",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[("6.2.0", "Added the `count` argument.")],
        ..Command::DEFAULT
    },
    Command {
        name: "rpop",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: rpop,
        group: "list",
        summary: "Remove and get the last elements in a list",
        since: "1.0.0",
        complexity: "O(N) where N is the number of elements returned",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[("6.2.0", "Added the `count` argument.")],
        ..Command::DEFAULT
    },
    Command {
        name: "llen",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: llen,
        group: "list",
        summary: "Get the length of a list",
        since: "1.0.0",
        complexity: "O(1)",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RO,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "lrange",
        arity: 4,
        flags: flag::READONLY,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lrange,
        group: "list",
        summary: "Get a range of elements from a list",
        since: "1.0.0",
        complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RO | key_flag::ACCESS,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "lindex",
        arity: 3,
        flags: flag::READONLY,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lindex,
        group: "list",
        summary: "Get an element from a list by its index",
        since: "1.0.0",
        complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RO | key_flag::ACCESS,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "lset",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lset,
        group: "list",
        summary: "Set the value of an element in a list by its index",
        since: "1.0.0",
        complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::UPDATE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "linsert",
        arity: 5,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: linsert,
        group: "list",
        summary: "Insert an element before or after another element in a list",
        since: "2.2.0",
        complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::INSERT,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "lrem",
        arity: 4,
        flags: flag::WRITE,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lrem,
        group: "list",
        summary: "Remove elements from a list",
        since: "1.0.0",
        complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "ltrim",
        arity: 4,
        flags: flag::WRITE,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: ltrim,
        group: "list",
        summary: "Trim a list to the specified range",
        since: "1.0.0",
        complexity: "O(N) where N is the number of elements to be removed by the operation.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "lpos",
        arity: -3,
        flags: flag::READONLY,
        acl: acl::LIST,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: lpos,
        group: "list",
        summary: "Return the index of matching elements on a list",
        since: "6.0.6",
        complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RO | key_flag::ACCESS,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "lmove",
        arity: 5,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::LIST,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: lmove,
        group: "list",
        summary: "Pop an element from a list, push it to another list and return it",
        since: "6.2.0",
        complexity: "O(1)",
        key_specs: &[
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
                begin: BeginSearch::Index(1),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::INSERT,
                begin: BeginSearch::Index(2),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "rpoplpush",
        arity: 3,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::LIST,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: rpoplpush,
        group: "list",
        summary: "Remove the last element in a list, prepend it to another list and return it",
        since: "1.2.0",
        complexity: "O(1)",
        key_specs: &[
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
                begin: BeginSearch::Index(1),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::INSERT,
                begin: BeginSearch::Index(2),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
        ],
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`LMOVE` with the `RIGHT` and `LEFT` arguments",
        ..Command::DEFAULT
    },
    Command {
        name: "lmpop",
        arity: -4,
        flags: flag::WRITE,
        acl: acl::LIST,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        handler: lmpop,
        group: "list",
        summary: "Pop elements from a list",
        since: "7.0.0",
        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Keynum {
                keynumidx: 0,
                firstkey: 1,
                keystep: 1,
            },
        }],
        ..Command::DEFAULT
    },
    Command {
        name: "blpop",
        arity: -3,
        flags: flag::WRITE | flag::NOSCRIPT | flag::BLOCKING,
        acl: acl::LIST,
        first_key: 1,
        last_key: -2,
        key_step: 1,
        handler: blpop,
        group: "list",
        summary: "Remove and get the first element in a list, or block until one is available",
        since: "2.0.0",
        complexity: "O(N) where N is the number of provided keys.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: -2,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[(
            "6.0.0",
            "`timeout` is interpreted as a double instead of an integer.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "brpop",
        arity: -3,
        flags: flag::WRITE | flag::NOSCRIPT | flag::BLOCKING,
        acl: acl::LIST,
        first_key: 1,
        last_key: -2,
        key_step: 1,
        handler: brpop,
        group: "list",
        summary: "Remove and get the last element in a list, or block until one is available",
        since: "2.0.0",
        complexity: "O(N) where N is the number of provided keys.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            begin: BeginSearch::Index(1),
            find: FindKeys::Range {
                lastkey: -2,
                keystep: 1,
                limit: 0,
            },
        }],
        history: &[(
            "6.0.0",
            "`timeout` is interpreted as a double instead of an integer.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "blmove",
        arity: 6,
        flags: flag::WRITE | flag::DENYOOM | flag::NOSCRIPT | flag::BLOCKING,
        acl: acl::LIST,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: blmove,
        group: "list",
        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
        since: "6.2.0",
        complexity: "O(1)",
        key_specs: &[
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
                begin: BeginSearch::Index(1),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::INSERT,
                begin: BeginSearch::Index(2),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "brpoplpush",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::NOSCRIPT | flag::BLOCKING,
        acl: acl::LIST,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: brpoplpush,
        group: "list",
        summary: "Pop an element from a list, push it to another list and return it; or block until one is available",
        since: "2.2.0",
        complexity: "O(1)",
        key_specs: &[
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
                begin: BeginSearch::Index(1),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: key_flag::RW | key_flag::INSERT,
                begin: BeginSearch::Index(2),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
        ],
        history: &[(
            "6.0.0",
            "`timeout` is interpreted as a double instead of an integer.",
        )],
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`BLMOVE` with the `RIGHT` and `LEFT` arguments",
        ..Command::DEFAULT
    },
    Command {
        name: "blmpop",
        arity: -5,
        flags: flag::WRITE | flag::BLOCKING,
        acl: acl::LIST,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        handler: blmpop,
        group: "list",
        summary: "Pop elements from a list, or block until one is available",
        since: "7.0.0",
        complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
            begin: BeginSearch::Index(2),
            find: FindKeys::Keynum {
                keynumidx: 0,
                firstkey: 1,
                keystep: 1,
            },
        }],
        ..Command::DEFAULT
    },
];
