//! Sets: the type operations first, then the commands, then the family's table.

use bytes::Bytes;
use rand::Rng;

use super::hash::{COUNT_RANGE, scan_match, scan_options};
use super::table::{BeginSearch, Command, FindKeys, KeySpec, acl, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::set::{Member, SetValue};
use crate::keyspace::{Db, Entry, Value};
use crate::protocol::Reply;

pub const NUMKEYS: Error = Error::new("ERR numkeys should be greater than 0");
pub const TOO_MANY_KEYS: Error =
    Error::new("ERR Number of keys can't be greater than number of args");
pub const LIMIT_NEGATIVE: Error = Error::new("ERR LIMIT can't be negative");

// ---- type operations ----

fn as_set(value: &Value) -> Result<&SetValue, Error> {
    match value {
        Value::Set(s) => Ok(s),
        _ => Err(error::WRONGTYPE),
    }
}

fn get_set_mut<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut SetValue>, Error> {
    match ctx.lookup_mut(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(error::WRONGTYPE),
    }
}

/// Deletes `key` if its set became empty.
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if get_set_mut(ctx, key)
        .ok()
        .flatten()
        .is_some_and(|s| s.is_empty())
    {
        let now = ctx.now_ms;
        ctx.db().remove(key, now);
    }
}

/// Looks every key up for reading as Redis does (keyspace hits and misses, lazy expiry),
/// stopping at the first that holds another type.
fn check_sets(ctx: &mut Ctx, keys: &[Bytes]) -> Result<(), Error> {
    for key in keys {
        if let Some(entry) = ctx.lookup(key) {
            as_set(&entry.value)?;
        }
    }
    Ok(())
}

/// The sets at `keys` (already checked by [`check_sets`]); `None` for a missing key.
fn sets_of<'a>(db: &'a Db, keys: &[Bytes], now: i64) -> Vec<Option<&'a SetValue>> {
    keys.iter()
        .map(|k| db.peek(k, now).and_then(|e| as_set(&e.value).ok()))
        .collect()
}

fn reply_member(reply: &mut Reply, m: Member) {
    match m {
        Member::Int(n) => reply.bulk_int(n),
        Member::Bytes(b) => reply.bulk(b),
    }
}

/// The intersection, walking the smallest set (Redis's `sinterGenericCommand`), up to
/// `limit` members (0: all). Built as Redis builds a result set, so its encoding and
/// order are Redis's.
fn intersection(sets: &[Option<&SetValue>], limit: usize) -> SetValue {
    let mut out = SetValue::default();
    if sets.iter().any(|s| s.is_none_or(|s| s.is_empty())) {
        return out;
    }
    let mut sets: Vec<&SetValue> = sets.iter().flatten().copied().collect();
    sets.sort_by_key(|s| s.len());
    for m in sets[0].iter() {
        let bytes = m.to_vec();
        if sets[1..].iter().all(|s| s.contains(&bytes)) {
            out.add(&bytes);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The cardinality of the intersection, stopping at `limit` (0: no limit).
fn intersection_card(sets: &[Option<&SetValue>], limit: usize) -> usize {
    if sets.iter().any(|s| s.is_none_or(|s| s.is_empty())) {
        return 0;
    }
    let mut sets: Vec<&SetValue> = sets.iter().flatten().copied().collect();
    sets.sort_by_key(|s| s.len());
    let mut n = 0;
    for m in sets[0].iter() {
        if m.with_bytes(|b| sets[1..].iter().all(|s| s.contains(b))) {
            n += 1;
            if limit != 0 && n >= limit {
                break;
            }
        }
    }
    n
}

fn union(sets: &[Option<&SetValue>]) -> SetValue {
    let mut out = SetValue::default();
    for s in sets.iter().flatten() {
        for m in s.iter() {
            m.with_bytes(|b| out.add(b));
        }
    }
    out
}

/// The difference, with the algorithm Redis's `sunionDiffGenericCommand` picks (the choice
/// shows in the result's encoding).
fn difference(sets: &[Option<&SetValue>]) -> SetValue {
    let mut out = SetValue::default();
    let Some(first) = sets[0].filter(|s| !s.is_empty()) else {
        return out;
    };
    let others: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
    let present = 1 + others.len();
    let one_work = first.len() * present / 2;
    let two_work = first.len() + others.iter().map(|s| s.len()).sum::<usize>();
    if one_work <= two_work {
        let mut others = others;
        others.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for m in first.iter() {
            let bytes = m.to_vec();
            if !others.iter().any(|s| s.contains(&bytes)) {
                out.add(&bytes);
            }
        }
    } else {
        for m in first.iter() {
            m.with_bytes(|b| out.add(b));
        }
        for s in others {
            for m in s.iter() {
                m.with_bytes(|b| out.remove(b));
            }
            if out.is_empty() {
                break;
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

fn compute(ctx: &mut Ctx, op: SetOp, keys: &[Bytes]) -> Result<SetValue, Error> {
    check_sets(ctx, keys)?;
    let now = ctx.now_ms;
    let db = &ctx.state.store.dbs[ctx.client.db];
    let sets = sets_of(db, keys, now);
    Ok(match op {
        SetOp::Inter => intersection(&sets, 0),
        SetOp::Union => union(&sets),
        SetOp::Diff => difference(&sets),
    })
}

fn reply_set(reply: &mut Reply, s: &SetValue) {
    reply.set(s.len());
    for m in s.iter() {
        reply_member(reply, m);
    }
}

/// SINTER/SUNION/SDIFF.
fn set_op(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let result = compute(ctx, op, &args[1..])?;
    reply_set(ctx.reply, &result);
    Ok(())
}

/// SINTERSTORE/SUNIONSTORE/SDIFFSTORE: the result replaces `destination` whatever it held;
/// an empty result deletes it.
fn set_op_store(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let dest = &args[1];
    let result = compute(ctx, op, &args[2..])?;
    let now = ctx.now_ms;
    let len = result.len();
    if len > 0 {
        ctx.db().set(dest, Value::Set(result), false, now);
        ctx.modified(dest);
    } else if ctx.db().remove(dest, now).is_some() {
        ctx.modified(dest);
    }
    ctx.reply.int(len as i64);
    Ok(())
}

// ---- commands ----

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if get_set_mut(ctx, key)?.is_none() {
        let now = ctx.now_ms;
        let value = Value::Set(SetValue::for_member(&args[2]));
        ctx.db().set(key, value, false, now);
    }
    let s = get_set_mut(ctx, key)?.ok_or(error::WRONGTYPE)?;
    let added = args[2..].iter().filter(|m| s.add(m)).count();
    if added > 0 {
        ctx.modified(key);
    }
    ctx.reply.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut removed = 0;
    if let Some(s) = get_set_mut(ctx, key)? {
        for m in &args[2..] {
            if s.remove(m) {
                removed += 1;
                if s.is_empty() {
                    break;
                }
            }
        }
    }
    if removed > 0 {
        delete_if_empty(ctx, key);
        ctx.modified(key);
    }
    ctx.reply.int(removed);
    Ok(())
}

fn get_set<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a SetValue>, Error> {
    ctx.lookup(key).map(|e| as_set(&e.value)).transpose()
}

/// SCARD key
fn scard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = get_set(ctx, &args[1])?.map_or(0, |s| s.len());
    ctx.reply.int(n as i64);
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found = get_set(ctx, &args[1])?.is_some_and(|s| s.contains(&args[2]));
    ctx.reply.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let found: Vec<bool> = match get_set(ctx, &args[1])? {
        Some(s) => args[2..].iter().map(|m| s.contains(m)).collect(),
        None => vec![false; args.len() - 2],
    };
    ctx.reply.array(found.len());
    for f in found {
        ctx.reply.int(f as i64);
    }
    Ok(())
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    check_sets(ctx, &args[1..2])?;
    let now = ctx.now_ms;
    let db = &ctx.state.store.dbs[ctx.client.db];
    match sets_of(db, &args[1..2], now)[0] {
        Some(s) => reply_set(ctx.reply, s),
        None => ctx.reply.set(0),
    }
    Ok(())
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(error::SYNTAX);
    }
    let count = match args.get(2) {
        Some(arg) => {
            let n = arg_i64(arg)?;
            if n == i64::MIN {
                return Err(COUNT_RANGE);
            }
            Some(n)
        }
        None => None,
    };
    check_sets(ctx, &args[1..2])?;
    let now = ctx.now_ms;
    let db = &ctx.state.store.dbs[ctx.client.db];
    let set = sets_of(db, &args[1..2], now)[0];
    let reply = &mut *ctx.reply;
    let mut rng = rand::rng();
    let Some(count) = count else {
        match set {
            Some(s) => reply_member(
                reply,
                s.nth(rng.random_range(0..s.len()))
                    .ok_or(error::WRONGTYPE)?,
            ),
            None => reply.null(),
        }
        return Ok(());
    };
    let Some(s) = set else {
        reply.array(0);
        return Ok(());
    };
    let size = s.len();
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        reply.array(n);
        for _ in 0..n {
            if reply.over_limit() {
                break;
            }
            reply_member(
                reply,
                s.nth(rng.random_range(0..size)).ok_or(error::WRONGTYPE)?,
            );
        }
        return Ok(());
    }
    let n = count as usize;
    if n >= size {
        reply.array(size);
        for m in s.iter() {
            reply_member(reply, m);
        }
        return Ok(());
    }
    reply.array(n);
    for i in rand::seq::index::sample(&mut rng, size, n) {
        reply_member(reply, s.nth(i).ok_or(error::WRONGTYPE)?);
    }
    Ok(())
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() > 3 {
        return Err(error::SYNTAX);
    }
    let mut rng = rand::rng();
    if args.len() == 2 {
        let Some(s) = get_set_mut(ctx, key)? else {
            ctx.reply.null();
            return Ok(());
        };
        let member = s
            .nth(rng.random_range(0..s.len()))
            .ok_or(error::WRONGTYPE)?
            .to_vec();
        s.remove(&member);
        delete_if_empty(ctx, key);
        ctx.modified(key);
        ctx.propagate_as(&[&b"SREM"[..], key, &member]);
        ctx.reply.bulk(&member);
        return Ok(());
    }
    let count = crate::util::parse_i64(&args[2])
        .filter(|n| *n >= 0)
        .ok_or(error::NOT_POSITIVE)? as usize;
    let Some(s) = get_set_mut(ctx, key)? else {
        ctx.reply.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.reply.set(0);
        return Ok(());
    }
    let size = s.len();
    if count >= size {
        let whole = std::mem::take(s);
        let now = ctx.now_ms;
        ctx.db().remove(key, now);
        ctx.modified(key);
        ctx.propagate_as(&[&b"DEL"[..], key]);
        reply_set(ctx.reply, &whole);
        return Ok(());
    }
    let picked: Vec<Vec<u8>> = rand::seq::index::sample(&mut rng, size, count)
        .into_iter()
        .filter_map(|i| s.nth(i).map(Member::to_vec))
        .collect();
    for m in &picked {
        s.remove(m);
    }
    ctx.modified(key);
    for m in &picked {
        ctx.propagate_as(&[&b"SREM"[..], key, m]);
    }
    ctx.reply.set(picked.len());
    for m in &picked {
        ctx.reply.bulk(m);
    }
    Ok(())
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let Some(from) = get_set_mut(ctx, src)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let src_has = from.contains(member);
    get_set_mut(ctx, dst)?;
    if src == dst {
        ctx.reply.int(src_has as i64);
        return Ok(());
    }
    if !src_has {
        ctx.reply.int(0);
        return Ok(());
    }
    if let Some(from) = get_set_mut(ctx, src)? {
        from.remove(member);
    }
    delete_if_empty(ctx, src);
    ctx.modified(src);
    let now = ctx.now_ms;
    if get_set_mut(ctx, dst)?.is_none() {
        ctx.db()
            .set(dst, Value::Set(SetValue::for_member(member)), false, now);
    }
    if let Some(to) = get_set_mut(ctx, dst)?
        && to.add(member)
    {
        ctx.state.store.dirty += 1;
    }
    let db = ctx.client.db;
    ctx.signal_watchers_in(db, dst);
    ctx.reply.int(1);
    Ok(())
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Inter)
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Union)
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Diff)
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Inter)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Union)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numkeys = crate::util::parse_i64(&args[1])
        .filter(|n| *n >= 1)
        .ok_or(NUMKEYS)?;
    if numkeys > args.len() as i64 - 2 {
        return Err(TOO_MANY_KEYS);
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if eq_ignore_case(&args[i], "limit") && i + 1 < args.len() {
            limit = crate::util::parse_i64(&args[i + 1])
                .filter(|n| *n >= 0)
                .ok_or(LIMIT_NEGATIVE)? as usize;
            i += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    let keys = &args[2..2 + numkeys];
    check_sets(ctx, keys)?;
    let now = ctx.now_ms;
    let db = &ctx.state.store.dbs[ctx.client.db];
    let n = intersection_card(&sets_of(db, keys, now), limit);
    ctx.reply.int(n as i64);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = super::keys::parse_cursor(&args[2])?;
    check_sets(ctx, &args[1..2])?;
    let now = ctx.now_ms;
    let db = &ctx.state.store.dbs[ctx.client.db];
    let Some(s) = sets_of(db, &args[1..2], now)[0] else {
        ctx.reply.array(2);
        ctx.reply.bulk(b"0");
        ctx.reply.array(0);
        return Ok(());
    };
    let (pattern, count) = scan_options(args)?;
    let (found, next) = s.scan(cursor, count);
    let found: Vec<Member> = found
        .into_iter()
        .filter(|m| m.with_bytes(|b| scan_match(pattern, b)))
        .collect();
    let reply = &mut *ctx.reply;
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(found.len());
    for m in found {
        reply_member(reply, m);
    }
    Ok(())
}

// ---- table ----

const RO_ACCESS: &[KeySpec] = &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)];
const RO: &[KeySpec] = &[KeySpec::range(key_flag::RO, 1, 0, 1)];
const RO_ACCESS_ALL: &[KeySpec] = &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, -1, 1)];
const SOURCES: KeySpec = KeySpec::range(key_flag::RO | key_flag::ACCESS, 2, -1, 1);

macro_rules! set_command {
    ($name:literal, $arity:expr, $flags:expr, $handler:ident, $summary:literal, $since:literal,
     $complexity:expr, $keys:expr, $last:expr $(, $field:ident : $value:expr)* $(,)?) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: acl::SET,
            first_key: 1,
            last_key: $last,
            key_step: 1,
            handler: $handler,
            group: "set",
            summary: $summary,
            since: $since,
            complexity: $complexity,
            key_specs: $keys,
            $($field: $value,)*
            ..Command::DEFAULT
        }
    };
}

const STORE_COMPLEXITY_UNION: &str =
    "O(N) where N is the total number of elements in all given sets.";
const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";

pub const COMMANDS: &[Command] = &[
    set_command!("sadd", -3, flag::WRITE | flag::DENYOOM | flag::FAST, sadd,
        "Add one or more members to a set", "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        &[KeySpec::range(key_flag::RW | key_flag::INSERT, 1, 0, 1)], 1,
        history: &[("2.4.0", "Accepts multiple `member` arguments.")]),
    set_command!("srem", -3, flag::WRITE | flag::FAST, srem,
        "Remove one or more members from a set", "1.0.0",
        "O(N) where N is the number of members to be removed.",
        &[KeySpec::range(key_flag::RW | key_flag::DELETE, 1, 0, 1)], 1,
        history: &[("2.4.0", "Accepts multiple `member` arguments.")]),
    set_command!(
        "scard",
        2,
        flag::READONLY | flag::FAST,
        scard,
        "Get the number of members in a set",
        "1.0.0",
        "O(1)",
        RO,
        1
    ),
    set_command!(
        "sismember",
        3,
        flag::READONLY | flag::FAST,
        sismember,
        "Determine if a given value is a member of a set",
        "1.0.0",
        "O(1)",
        RO,
        1
    ),
    set_command!(
        "smismember",
        -3,
        flag::READONLY | flag::FAST,
        smismember,
        "Returns the membership associated with the given elements for a set",
        "6.2.0",
        "O(N) where N is the number of elements being checked for membership",
        RO_ACCESS,
        1
    ),
    set_command!("smembers", 2, flag::READONLY, smembers,
        "Get all the members in a set", "1.0.0", "O(N) where N is the set cardinality.",
        RO_ACCESS, 1, tips: &["nondeterministic_output_order"]),
    set_command!("srandmember", -2, flag::READONLY, srandmember,
        "Get one or multiple random members from a set", "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        RO_ACCESS, 1, tips: &["nondeterministic_output"],
        history: &[("2.6.0", "Added the optional `count` argument.")]),
    set_command!("spop", -2, flag::WRITE | flag::FAST, spop,
        "Remove and return one or multiple random members from a set", "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        &[KeySpec::range(key_flag::RW | key_flag::ACCESS | key_flag::DELETE, 1, 0, 1)], 1,
        tips: &["nondeterministic_output"],
        history: &[("3.2.0", "Added the `count` argument.")]),
    set_command!(
        "smove",
        4,
        flag::WRITE | flag::FAST,
        smove,
        "Move a member from one set to another",
        "1.0.0",
        "O(1)",
        &[
            KeySpec::range(key_flag::RW | key_flag::ACCESS | key_flag::DELETE, 1, 0, 1),
            KeySpec::range(key_flag::RW | key_flag::INSERT, 2, 0, 1),
        ],
        2
    ),
    set_command!("sinter", -2, flag::READONLY, sinter,
        "Intersect multiple sets", "1.0.0", INTER_COMPLEXITY, RO_ACCESS_ALL, -1,
        tips: &["nondeterministic_output_order"]),
    Command {
        name: "sintercard",
        arity: -3,
        flags: flag::READONLY,
        acl: acl::SET,
        handler: sintercard,
        group: "set",
        summary: "Intersect multiple sets and return the cardinality of the result",
        since: "7.0.0",
        complexity: INTER_COMPLEXITY,
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RO | key_flag::ACCESS,
            begin: BeginSearch::Index(1),
            find: FindKeys::Keynum {
                keynumidx: 0,
                firstkey: 1,
                keystep: 1,
            },
        }],
        ..Command::DEFAULT
    },
    set_command!(
        "sinterstore",
        -3,
        flag::WRITE | flag::DENYOOM,
        sinterstore,
        "Intersect multiple sets and store the resulting set in a key",
        "1.0.0",
        INTER_COMPLEXITY,
        &[
            KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1),
            SOURCES
        ],
        -1
    ),
    set_command!("sunion", -2, flag::READONLY, sunion,
        "Add multiple sets", "1.0.0", STORE_COMPLEXITY_UNION, RO_ACCESS_ALL, -1,
        tips: &["nondeterministic_output_order"]),
    set_command!(
        "sunionstore",
        -3,
        flag::WRITE | flag::DENYOOM,
        sunionstore,
        "Add multiple sets and store the resulting set in a key",
        "1.0.0",
        STORE_COMPLEXITY_UNION,
        &[
            KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1),
            SOURCES
        ],
        -1
    ),
    set_command!("sdiff", -2, flag::READONLY, sdiff,
        "Subtract multiple sets", "1.0.0", STORE_COMPLEXITY_UNION, RO_ACCESS_ALL, -1,
        tips: &["nondeterministic_output_order"]),
    set_command!(
        "sdiffstore",
        -3,
        flag::WRITE | flag::DENYOOM,
        sdiffstore,
        "Subtract multiple sets and store the resulting set in a key",
        "1.0.0",
        STORE_COMPLEXITY_UNION,
        &[
            KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1),
            SOURCES
        ],
        -1
    ),
    set_command!("sscan", -3, flag::READONLY, sscan,
        "Incrementally iterate Set elements", "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        RO_ACCESS, 1, tips: &["nondeterministic_output"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn set(members: &[&str]) -> SetValue {
        let mut s = SetValue::for_member(members[0].as_bytes());
        for m in members {
            s.add(m.as_bytes());
        }
        s
    }

    #[test]
    fn difference_algorithms_leave_redis_encodings() {
        // Algorithm 2 (add, then remove) passes through a hashtable.
        let a = set(&["1", "a"]);
        let b = set(&["a"]);
        let d = difference(&[Some(&a), Some(&b)]);
        assert_eq!(d.len(), 1);
        let small = set(&["1", "2", "3", "4"]);
        let other = set(&["3"]);
        let r = difference(&[Some(&small), Some(&other)]);
        assert_eq!(r.encoding_name(), "intset");
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn intersection_respects_limit_and_missing_sets() {
        let a = set(&["1", "2", "3"]);
        let b = set(&["2", "3", "4"]);
        assert_eq!(intersection(&[Some(&a), Some(&b)], 0).len(), 2);
        assert_eq!(intersection_card(&[Some(&a), Some(&b)], 1), 1);
        assert_eq!(intersection_card(&[Some(&a), None], 0), 0);
    }
}
