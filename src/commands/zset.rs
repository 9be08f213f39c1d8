//! Sorted sets: the type operations first, then the commands, then the family's table.

use bytes::Bytes;
use rand::Rng;

use super::keys::parse_cursor;
use super::table::{BeginSearch, Command, FindKeys, KeySpec, acl, doc_flag, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::zset::{ZSet, cmp_elements, listpack_score_text};
use crate::keyspace::{Access, Value};
use crate::protocol::Reply;
use crate::util::glob_match;

pub const NAN_SCORE: Error = Error::new("ERR resulting score is not a number (NaN)");
pub const NOT_FLOAT_RANGE: Error = Error::new("ERR min or max is not a float");
pub const NOT_LEX_RANGE: Error = Error::new("ERR min or max not valid string range item");
pub const XX_AND_NX: Error =
    Error::new("ERR XX and NX options at the same time are not compatible");
pub const GT_LT_NX: Error =
    Error::new("ERR GT, LT, and/or NX options at the same time are not compatible");
pub const INCR_PAIR: Error = Error::new("ERR INCR option supports a single increment-element pair");
pub const LIMIT_NEEDS_BY: Error = Error::new(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
);
pub const WITHSCORES_BYLEX: Error =
    Error::new("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
pub const WEIGHT_NOT_FLOAT: Error = Error::new("ERR weight value is not a float");
pub const NUMKEYS_POSITIVE: Error = Error::new("ERR numkeys should be greater than 0");
pub const COUNT_POSITIVE: Error = Error::new("ERR count should be greater than 0");
pub const LIMIT_NEGATIVE: Error = Error::new("ERR LIMIT can't be negative");
pub const OUT_OF_RANGE: Error = Error::new("ERR value is out of range");
pub const RANDMEMBER_RANGE: Error = Error::new(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);

// ---- type operations ----

fn as_zset(value: &Value) -> Result<&ZSet, Error> {
    match value {
        Value::ZSet(z) => Ok(z),
        #[allow(unreachable_patterns)]
        _ => Err(error::WRONGTYPE),
    }
}

fn as_zset_mut(value: &mut Value) -> Result<&mut ZSet, Error> {
    match value {
        Value::ZSet(z) => Ok(z),
        #[allow(unreachable_patterns)]
        _ => Err(error::WRONGTYPE),
    }
}

/// The sorted set at `key` for reading (Redis's `lookupKeyRead`), with the reply buffer.
fn read<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<(Option<&'c ZSet>, &'c mut Reply), Error> {
    let now = ctx.now_ms;
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let entry = state.store.dbs[db].get(key, now, Access::Touch);
    if entry.is_some() {
        state.stats.keyspace_hits += 1;
    } else {
        state.stats.keyspace_misses += 1;
    }
    let zset = entry.map(|e| as_zset(&e.value)).transpose()?;
    Ok((zset, &mut *ctx.reply))
}

/// The sorted set at `key` for changing (Redis's `lookupKeyWrite`: no hit/miss counted).
fn write<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c mut ZSet>, Error> {
    ctx.lookup_mut(key)
        .map(|e| as_zset_mut(&mut e.value))
        .transpose()
}

/// The type check of a key about to be written, without keeping the borrow.
fn check_write(ctx: &mut Ctx, key: &[u8]) -> Result<bool, Error> {
    Ok(write(ctx, key)?.is_some())
}

/// Deletes `key` if its set became empty (Redis never keeps an empty collection).
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    let empty = matches!(ctx.db().peek(key, now), Some(e) if matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        ctx.db().remove(key, now);
    }
}

/// Stores a computed result at `dst` (replacing whatever is there, TTL included), or deletes
/// `dst` when the result is empty. Returns the stored size.
fn store_result(ctx: &mut Ctx, dst: &[u8], elements: Vec<(f64, Vec<u8>)>) -> usize {
    let now = ctx.now_ms;
    let len = elements.len();
    if len == 0 {
        if ctx.db().remove(dst, now).is_some() {
            ctx.modified(dst);
        }
    } else {
        ctx.db()
            .set(dst, Value::ZSet(ZSet::from_elements(elements)), false, now);
        ctx.modified(dst);
    }
    len
}

/// A score as ZADD and WEIGHTS read it (Redis's `getDoubleFromObject`: the whole string is a
/// number, no leading space, no NaN, no overflow to infinity nor underflow to zero).
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    let value = crate::util::parse_f64(arg)?;
    let text = arg.to_ascii_lowercase();
    let spelled_infinite = text.ends_with(b"inf") || text.ends_with(b"infinity");
    if value.is_infinite() && !spelled_infinite {
        return None;
    }
    if value == 0.0 {
        let mantissa = text.split(|&b| b == b'e').next().unwrap_or(&[]);
        if mantissa.iter().any(|b| (b'1'..=b'9').contains(b)) {
            return None;
        }
    }
    Some(value)
}

/// C's `strtod` over the whole argument, as range bounds are read: leading white space
/// allowed, an empty string is 0, NaN refused.
fn parse_bound_number(text: &[u8]) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let rest = std::str::from_utf8(&text[start..]).ok()?;
    let lower = rest.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if lower.len() - unsigned.len() > 1 {
        return None;
    }
    let negative = lower.starts_with('-');
    let value = match unsigned {
        "inf" | "infinity" => f64::INFINITY,
        _ if unsigned.starts_with("0x") => parse_hex_float(&unsigned[2..])?,
        _ if unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') => {
            unsigned.parse::<f64>().ok()?
        }
        _ => return None,
    };
    let value = if negative { -value } else { value };
    (!value.is_nan()).then_some(value)
}

/// The digits of a C hexadecimal float after `0x`: `h[.h][p[+-]d]`.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars() {
        value = value * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in fraction.chars() {
        value += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exponent))
}

/// A score interval (`1.5`, `(1.5`, `-inf`, `+inf`).
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.first() {
        Some(b'(') => parse_bound_number(&arg[1..]).map(|v| (v, true)),
        _ => parse_bound_number(arg).map(|v| (v, false)),
    }
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
    let (min, minex) = parse_score_bound(min).ok_or(NOT_FLOAT_RANGE)?;
    let (max, maxex) = parse_score_bound(max).ok_or(NOT_FLOAT_RANGE)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lexicographic interval.
#[derive(Debug, Clone)]
enum LexBound {
    NegInf,
    PosInf,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

fn parse_lex_bound(arg: &[u8]) -> Result<LexBound, Error> {
    match arg {
        b"-" => Ok(LexBound::NegInf),
        b"+" => Ok(LexBound::PosInf),
        [b'[', rest @ ..] => Ok(LexBound::Inclusive(rest.to_vec())),
        [b'(', rest @ ..] => Ok(LexBound::Exclusive(rest.to_vec())),
        _ => Err(NOT_LEX_RANGE),
    }
}

/// A range of elements, by score or by member.
#[derive(Debug, Clone)]
enum Range {
    Score(ScoreRange),
    Lex(LexBound, LexBound),
}

impl Range {
    /// The ascending ranks `start..end` of the elements inside the range.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let (start, end) = match self {
            Range::Score(r) => {
                let start = z.count_before(|s, _| if r.minex { s <= r.min } else { s < r.min });
                let end = z.count_before(|s, _| if r.maxex { s < r.max } else { s <= r.max });
                (start, end)
            }
            Range::Lex(min, max) => {
                let start = z.count_before(|_, m| match min {
                    LexBound::NegInf => false,
                    LexBound::PosInf => true,
                    LexBound::Inclusive(b) => m < b.as_slice(),
                    LexBound::Exclusive(b) => m <= b.as_slice(),
                });
                let end = z.count_before(|_, m| match max {
                    LexBound::NegInf => false,
                    LexBound::PosInf => true,
                    LexBound::Inclusive(b) => m <= b.as_slice(),
                    LexBound::Exclusive(b) => m < b.as_slice(),
                });
                (start, end)
            }
        };
        (start, end.max(start))
    }
}

/// Redis's rank interval rules: negative indexes count from the end; `None` when empty.
fn rank_interval(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize + 1))
}

/// Writes elements: members only, or with scores (a flat array in RESP2, pairs in RESP3).
fn reply_elements(reply: &mut Reply, elements: &[(f64, Vec<u8>)], withscores: bool) {
    reply_header(reply, elements.len(), withscores);
    for (score, member) in elements {
        reply_element(reply, *score, member, withscores);
    }
}

fn reply_header(reply: &mut Reply, n: usize, withscores: bool) {
    if withscores && !reply.is_resp3() {
        reply.array(2 * n);
    } else {
        reply.array(n);
    }
}

fn reply_element(reply: &mut Reply, score: f64, member: &[u8], withscores: bool) {
    if withscores {
        if reply.is_resp3() {
            reply.array(2);
        }
        reply.bulk(member);
        reply.double(score);
    } else {
        reply.bulk(member);
    }
}

/// Which end pops take from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Min,
    Max,
}

/// Pops up to `count` elements from the sorted set at `key` (which must exist), deleting
/// the key when it empties; the popped elements in pop order.
pub fn pop(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> Vec<(f64, Vec<u8>)> {
    let Ok(Some(z)) = write(ctx, key) else {
        return Vec::new();
    };
    let n = count.min(z.len());
    let popped = match end {
        End::Min => z.range(0, n, false),
        End::Max => z.range(z.len() - n, z.len(), true),
    };
    match end {
        End::Min => z.remove_range(0, n),
        End::Max => z.remove_range(z.len() - n, z.len()),
    };
    if n > 0 {
        delete_if_empty(ctx, key);
        ctx.modified(key);
    }
    popped
}

// ---- commands ----

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, false)
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx, args: &[Bytes], zincrby: bool) -> CmdResult {
    let key = &args[1];
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, zincrby);
    let mut at = 2;
    if !zincrby {
        while at < args.len() {
            let opt = &args[at];
            if eq_ignore_case(opt, "nx") {
                nx = true;
            } else if eq_ignore_case(opt, "xx") {
                xx = true;
            } else if eq_ignore_case(opt, "gt") {
                gt = true;
            } else if eq_ignore_case(opt, "lt") {
                lt = true;
            } else if eq_ignore_case(opt, "ch") {
                ch = true;
            } else if eq_ignore_case(opt, "incr") {
                incr = true;
            } else {
                break;
            }
            at += 1;
        }
    }
    let pairs = &args[at..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(error::SYNTAX);
    }
    if nx && xx {
        return Err(XX_AND_NX);
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(GT_LT_NX);
    }
    if incr && pairs.len() > 2 {
        return Err(INCR_PAIR);
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks_exact(2) {
        scores.push(parse_score(&pair[0]).ok_or(error::NOT_FLOAT)?);
    }

    if !check_write(ctx, key)? {
        if xx {
            if incr {
                ctx.reply.null();
            } else {
                ctx.reply.int(0);
            }
            return Ok(());
        }
        let now = ctx.now_ms;
        let fresh = ZSet::for_first_member(&pairs[1]);
        ctx.db().set(key, Value::ZSet(fresh), false, now);
    }
    let Some(z) = write(ctx, key)? else {
        return Ok(());
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut nan = false;
    for (pair, &score) in pairs.chunks_exact(2).zip(&scores) {
        let member = &pair[1];
        match z.score(member) {
            Some(current) => {
                if nx {
                    continue;
                }
                let mut score = score;
                if incr {
                    score += current;
                    if score.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (lt && score >= current) || (gt && score <= current) {
                    continue;
                }
                last_score = score;
                processed += 1;
                if score != current {
                    z.update_score(member, score);
                    updated += 1;
                }
            }
            None if !xx => {
                z.insert_new(score, member);
                added += 1;
                processed += 1;
                last_score = score;
            }
            None => {}
        }
    }
    let changed = added + updated;
    if changed > 0 {
        ctx.modified(key);
        ctx.state.store.dirty += (changed - 1) as u64;
    }
    if nan {
        return Err(NAN_SCORE);
    }
    if incr {
        if processed > 0 {
            ctx.reply.double(last_score);
        } else {
            ctx.reply.null();
        }
    } else {
        ctx.reply.int(if ch { added + updated } else { added });
    }
    Ok(())
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let Some(z) = write(ctx, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let mut removed = 0i64;
    for member in &args[2..] {
        if z.remove(member) {
            removed += 1;
            if z.is_empty() {
                break;
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

/// ZCARD key
fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (z, reply) = read(ctx, &args[1])?;
    reply.int(z.map_or(0, |z| z.len() as i64));
    Ok(())
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Score(parse_score_range(&args[2], &args[3])?);
    count_range(ctx, &args[1], range)
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Lex(parse_lex_bound(&args[2])?, parse_lex_bound(&args[3])?);
    count_range(ctx, &args[1], range)
}

fn count_range(ctx: &mut Ctx, key: &[u8], range: Range) -> CmdResult {
    let (z, reply) = read(ctx, key)?;
    let count = z.map_or(0, |z| {
        let (start, end) = range.ranks(z);
        end - start
    });
    reply.int(count as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (z, reply) = read(ctx, &args[1])?;
    match z.and_then(|z| z.score(&args[2])) {
        Some(score) => reply.double(score),
        None => reply.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (z, reply) = read(ctx, &args[1])?;
    reply.array(args.len() - 2);
    for member in &args[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => reply.double(score),
            None => reply.null(),
        }
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, true)
}

fn rank_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    let (z, reply) = read(ctx, &args[1])?;
    match z.and_then(|z| z.rank(&args[2]).map(|r| (r, z.len()))) {
        Some((rank, len)) => reply.int(if rev { len - 1 - rank } else { rank } as i64),
        None => reply.null(),
    }
    Ok(())
}

/// How a ZRANGE-family command selects elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The parsed request of ZRANGE and its older forms.
struct RangeRequest {
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
    rank: (i64, i64),
    range: Option<Range>,
}

/// Parses `min max [options]` from `args[first..]` as Redis's `zrangeGenericCommand`.
fn parse_range_request(
    args: &[Bytes],
    first: usize,
    store: bool,
    preset_kind: RangeKind,
    preset_rev: Option<bool>,
) -> Result<RangeRequest, Error> {
    let mut kind = preset_kind;
    let mut rev = preset_rev;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = first + 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = &args[j];
        if !store && eq_ignore_case(opt, "withscores") {
            withscores = true;
        } else if eq_ignore_case(opt, "limit") && left >= 2 {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && eq_ignore_case(opt, "rev") {
            rev = Some(true);
        } else if kind == RangeKind::Auto && eq_ignore_case(opt, "bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && eq_ignore_case(opt, "byscore") {
            kind = RangeKind::Score;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if limit != -1 && kind == RangeKind::Rank {
        return Err(LIMIT_NEEDS_BY);
    }
    if withscores && kind == RangeKind::Lex {
        return Err(WITHSCORES_BYLEX);
    }
    let (mut min, mut max) = (&args[first], &args[first + 1]);
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let mut request = RangeRequest {
        rev,
        withscores,
        offset,
        limit,
        rank: (0, 0),
        range: None,
    };
    match kind {
        RangeKind::Score => request.range = Some(Range::Score(parse_score_range(min, max)?)),
        RangeKind::Lex => {
            request.range = Some(Range::Lex(parse_lex_bound(min)?, parse_lex_bound(max)?))
        }
        _ => request.rank = (arg_i64(min)?, arg_i64(max)?),
    }
    Ok(request)
}

impl RangeRequest {
    /// The first element's rank in the walking direction and how many elements to take.
    fn select(&self, z: &ZSet) -> (usize, usize) {
        let len = z.len();
        match &self.range {
            None => match rank_interval(self.rank.0, self.rank.1, len) {
                Some((start, end)) => (start, end - start),
                None => (0, 0),
            },
            Some(range) => {
                let (start, end) = range.ranks(z);
                if self.offset < 0 {
                    return (0, 0);
                }
                let available = end - start;
                let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
                if offset >= available {
                    return (0, 0);
                }
                let mut n = available - offset;
                if self.limit >= 0 {
                    n = n.min(usize::try_from(self.limit).unwrap_or(usize::MAX));
                }
                let first = if self.rev { len - end } else { start } + offset;
                (first, n)
            }
        }
    }

    fn collect(&self, z: &ZSet) -> Vec<(f64, Vec<u8>)> {
        let (first, n) = self.select(z);
        let mut out = Vec::with_capacity(n);
        if n > 0 {
            z.for_each_from(first, self.rev, &mut |s, m| {
                out.push((s, m.to_vec()));
                out.len() < n
            });
        }
        out
    }
}

fn range_reply(ctx: &mut Ctx, args: &[Bytes], kind: RangeKind, rev: Option<bool>) -> CmdResult {
    let request = parse_range_request(args, 2, false, kind, rev)?;
    let (z, reply) = read(ctx, &args[1])?;
    let Some(z) = z else {
        reply.array(0);
        return Ok(());
    };
    let (first, n) = request.select(z);
    let withscores = request.withscores;
    reply_header(reply, n, withscores);
    if n > 0 {
        let mut left = n;
        z.for_each_from(first, request.rev, &mut |s, m| {
            reply_element(reply, s, m, withscores);
            left -= 1;
            left > 0
        });
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_reply(ctx, args, RangeKind::Auto, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_reply(ctx, args, RangeKind::Rank, Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_reply(ctx, args, RangeKind::Score, Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_reply(ctx, args, RangeKind::Score, Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_reply(ctx, args, RangeKind::Lex, Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_reply(ctx, args, RangeKind::Lex, Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let request = parse_range_request(args, 3, true, RangeKind::Auto, None)?;
    let (z, _) = read(ctx, &args[2])?;
    let elements = z.map(|z| request.collect(z)).unwrap_or_default();
    let dst = &args[1];
    if elements.is_empty() {
        store_result(ctx, dst, elements);
        ctx.reply.int(0);
        return Ok(());
    }
    // As Redis: the destination starts in the encoding the expected length calls for (a
    // rank range knows it, a score or lex range does not) and converts as elements arrive.
    let mut stored = if request.range.is_none() {
        ZSet::with_expected_len(elements.len())
    } else {
        ZSet::with_expected_len(0)
    };
    for (score, member) in &elements {
        stored.insert_new(*score, member);
    }
    let now = ctx.now_ms;
    ctx.db().set(dst, Value::ZSet(stored), false, now);
    ctx.modified(dst);
    ctx.reply.int(elements.len() as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let stop = arg_i64(&args[3])?;
    remove_range(ctx, &args[1], |z| {
        rank_interval(start, stop, z.len()).unwrap_or((0, 0))
    })
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Score(parse_score_range(&args[2], &args[3])?);
    remove_range(ctx, &args[1], |z| range.ranks(z))
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Lex(parse_lex_bound(&args[2])?, parse_lex_bound(&args[3])?);
    remove_range(ctx, &args[1], |z| range.ranks(z))
}

fn remove_range(ctx: &mut Ctx, key: &[u8], ranks: impl Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let Some(z) = write(ctx, key)? else {
        ctx.reply.int(0);
        return Ok(());
    };
    let (start, end) = ranks(z);
    let removed = z.remove_range(start, end);
    if removed > 0 {
        delete_if_empty(ctx, key);
        ctx.modified(key);
    }
    ctx.reply.int(removed as i64);
    Ok(())
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, End::Min)
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, End::Max)
}

fn zpop_generic(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => match crate::util::parse_i64(&args[2]) {
            Some(n) if n >= 0 => Some(n),
            _ => return Err(error::NOT_POSITIVE),
        },
        _ => return Err(error::SYNTAX),
    };
    let key = &args[1];
    if !check_write(ctx, key)? || count == Some(0) {
        ctx.reply.array(0);
        return Ok(());
    }
    let n = count.map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let popped = pop(ctx, key, end, n);
    if count.is_some() && ctx.reply.is_resp3() {
        ctx.reply.array(popped.len());
        for (score, member) in &popped {
            ctx.reply.array(2);
            ctx.reply.bulk(member);
            ctx.reply.double(*score);
        }
    } else {
        ctx.reply.array(popped.len() * 2);
        for (score, member) in &popped {
            ctx.reply.bulk(member);
            ctx.reply.double(*score);
        }
    }
    Ok(())
}

/// The parsed arguments of ZMPOP (and BZMPOP, from `first` = the numkeys index).
pub struct MpopRequest {
    pub keys: Vec<Bytes>,
    pub end: End,
    pub count: usize,
}

/// Parses `numkeys key [key ...] MIN | MAX [COUNT count]` from `args[first..]`.
pub fn parse_mpop(args: &[Bytes], first: usize) -> Result<MpopRequest, Error> {
    let numkeys = match crate::util::parse_i64(&args[first]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(NUMKEYS_POSITIVE),
    };
    let where_at = first
        .checked_add(numkeys)
        .and_then(|n| n.checked_add(1))
        .filter(|&n| n < args.len())
        .ok_or(error::SYNTAX)?;
    let end = if eq_ignore_case(&args[where_at], "min") {
        End::Min
    } else if eq_ignore_case(&args[where_at], "max") {
        End::Max
    } else {
        return Err(error::SYNTAX);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count.is_none() && eq_ignore_case(&args[j], "count") && more > 0 {
            j += 1;
            match crate::util::parse_i64(&args[j]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(COUNT_POSITIVE),
            }
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    Ok(MpopRequest {
        keys: args[first + 1..where_at].to_vec(),
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty key of `request` and replies `[key, [[member, score]...]]`
/// (null when every key is empty). Effect: `ZPOPMIN|ZPOPMAX key <popped>`. Returns whether
/// something was popped.
pub fn serve_mpop(ctx: &mut Ctx, request: &MpopRequest) -> Result<bool, Error> {
    let mut found = None;
    for key in &request.keys {
        if check_write(ctx, key)? {
            found = Some(key.clone());
            break;
        }
    }
    let Some(key) = found else {
        ctx.reply.null_array();
        return Ok(false);
    };
    let popped = pop(ctx, &key, request.end, request.count);
    ctx.reply.array(2);
    ctx.reply.bulk(&key);
    ctx.reply.array(popped.len());
    for (score, member) in &popped {
        ctx.reply.array(2);
        ctx.reply.bulk(member);
        ctx.reply.double(*score);
    }
    let name: &[u8] = match request.end {
        End::Min => b"ZPOPMIN",
        End::Max => b"ZPOPMAX",
    };
    let count = itoa::Buffer::new().format(popped.len()).to_string();
    ctx.propagate_as(&[name, &key, count.as_bytes()]);
    Ok(true)
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let request = parse_mpop(args, 1)?;
    serve_mpop(ctx, &request)?;
    Ok(())
}

/// Whether `key` holds a sorted set: a waiter is only offered a key of its type (another type
/// there leaves it blocked, as in Redis).
fn holds_zset(ctx: &mut Ctx, key: &[u8]) -> bool {
    let now = ctx.now_ms;
    matches!(ctx.db().peek(key, now), Some(e) if matches!(e.value, Value::ZSet(_)))
}

/// Serves BZPOPMIN/BZPOPMAX from `key`: `[key, member, score]`, recorded as `ZPOPMIN key` /
/// `ZPOPMAX key` (as Redis records it, served at once or after blocking). Not served when
/// the key holds no sorted set; WRONGTYPE for another type.
fn serve_bzpop(ctx: &mut Ctx, key: &Bytes, request: &[Bytes], woken: bool) -> Result<bool, Error> {
    if woken && !holds_zset(ctx, key) {
        return Ok(false);
    }
    let end = if eq_ignore_case(&request[0], "bzpopmin") {
        End::Min
    } else {
        End::Max
    };
    if !check_write(ctx, key)? {
        return Ok(false);
    }
    let popped = pop(ctx, key, end, 1);
    let Some((score, member)) = popped.first() else {
        return Ok(false);
    };
    ctx.reply.array(3);
    ctx.reply.bulk(key);
    ctx.reply.bulk(member);
    ctx.reply.double(*score);
    let name: &[u8] = match end {
        End::Min => b"ZPOPMIN",
        End::Max => b"ZPOPMAX",
    };
    ctx.propagate_as(&[name, &key[..]]);
    Ok(true)
}

/// Serves BZMPOP from `key`, one of its keys: as ZMPOP does.
fn serve_bzmpop(ctx: &mut Ctx, key: &Bytes, request: &[Bytes], woken: bool) -> Result<bool, Error> {
    if woken && !holds_zset(ctx, key) {
        return Ok(false);
    }
    let mut mpop = parse_mpop(request, 2)?;
    if !check_write(ctx, key)? {
        return Ok(false);
    }
    mpop.keys = vec![key.clone()];
    serve_mpop(ctx, &mpop)
}

/// Tries each key in order, then blocks until served or the timeout (a null array); where
/// blocking is not allowed (MULTI), replies a null array at once.
fn block_on(
    ctx: &mut Ctx,
    args: &[Bytes],
    keys: &[Bytes],
    deadline_ms: Option<i64>,
    serve: super::blocking::ServeFn,
) -> CmdResult {
    for key in keys {
        if serve(ctx, key, args, false)? {
            return Ok(());
        }
    }
    if ctx.can_block() {
        ctx.block(keys, deadline_ms, serve, args, Reply::null_array);
    } else {
        ctx.reply.null_array();
    }
    Ok(())
}

/// BZPOPMIN key [key ...] timeout, and BZPOPMAX
fn bzpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = super::blocking::parse_timeout(&args[args.len() - 1], ctx.now_ms)?;
    let keys = &args[1..args.len() - 1];
    block_on(ctx, args, keys, deadline, serve_bzpop)
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let deadline = super::blocking::parse_timeout(&args[1], ctx.now_ms)?;
    let mpop = parse_mpop(args, 2)?;
    block_on(ctx, args, &mpop.keys, deadline, serve_bzmpop)
}

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        let mut rng = rand::rng();
        let (z, reply) = read(ctx, &args[1])?;
        match z.and_then(|z| z.random(&mut rng)) {
            Some((_, member)) => reply.bulk(&member),
            None => reply.null(),
        }
        return Ok(());
    }
    let count = arg_i64(&args[2])?;
    if count == i64::MIN {
        return Err(RANDMEMBER_RANGE);
    }
    let withscores = match args.len() {
        3 => false,
        4 if eq_ignore_case(&args[3], "withscores") => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                return Err(OUT_OF_RANGE);
            }
            true
        }
        _ => return Err(error::SYNTAX),
    };
    let mut rng = rand::rng();
    let (z, reply) = read(ctx, &args[1])?;
    let Some(z) = z else {
        reply.array(0);
        return Ok(());
    };
    let len = z.len();
    if count < 0 {
        // Streamed: the count is the client's, the memory must not be.
        let n = count.unsigned_abs() as usize;
        reply_header(reply, n, withscores);
        for _ in 0..n {
            if reply.over_limit() {
                break;
            }
            if let Some((score, member)) = z.random(&mut rng) {
                reply_element(reply, score, &member, withscores);
            }
        }
        return Ok(());
    }
    let picked: Vec<(f64, Vec<u8>)> = if count as usize >= len {
        z.elements()
    } else {
        let n = count as usize;
        // A partial Fisher-Yates shuffle of the ranks picks n distinct ones.
        let mut ranks: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = rng.random_range(i..len);
            ranks.swap(i, j);
        }
        ranks[..n].iter().filter_map(|&r| z.at_rank(r)).collect()
    };
    reply_elements(reply, &picked, withscores);
    Ok(())
}

/// How ZUNION/ZINTER combine the scores of a member found in several inputs.
#[derive(Debug, Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// Elements as `(score, member)` pairs.
type Elements = Vec<(f64, Vec<u8>)>;

/// The parsed request of ZUNION/ZINTER/ZDIFF(STORE) and ZINTERCARD, with its inputs.
struct SetOpRequest {
    /// Each input's elements (empty for a missing key) and weight.
    inputs: Vec<(Elements, f64)>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// The elements of one input of a set operation: a sorted set's, or a set's members with
/// score 1 (Redis accepts both); WRONGTYPE for anything else. `store`: looked up as a write
/// command looks keys up (no keyspace hit/miss counted).
fn input_elements(ctx: &mut Ctx, key: &[u8], store: bool) -> Result<Elements, Error> {
    let now = ctx.now_ms;
    let db = ctx.client.db;
    let state = &mut *ctx.state;
    let entry = state.store.dbs[db].get(key, now, Access::Touch);
    if !store {
        if entry.is_some() {
            state.stats.keyspace_hits += 1;
        } else {
            state.stats.keyspace_misses += 1;
        }
    }
    match entry.map(|e| &e.value) {
        None => Ok(Vec::new()),
        Some(Value::ZSet(z)) => Ok(z.elements()),
        Some(Value::Set(set)) => {
            let mut members: Elements = set.iter().map(|m| (1.0, m.to_vec())).collect();
            members.sort_by(|a, b| a.1.cmp(&b.1));
            Ok(members)
        }
        Some(_) => Err(error::WRONGTYPE),
    }
}

/// Parses `numkeys key [key ...] [options]` from `args[at..]`, reading the inputs (WRONGTYPE
/// for any input that is neither a sorted set nor a set, before the options are looked at,
/// as Redis does).
fn parse_set_op(
    ctx: &mut Ctx,
    args: &[Bytes],
    at: usize,
    op: SetOp,
    store: bool,
    cardinality_only: bool,
    name: &str,
) -> Result<SetOpRequest, Error> {
    let numkeys = arg_i64(&args[at])?;
    if numkeys < 1 {
        return Err(Error::owned(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys > (args.len() - at - 1) as i64 {
        return Err(error::SYNTAX);
    }
    let numkeys = numkeys as usize;
    let mut inputs = Vec::with_capacity(numkeys);
    for key in &args[at + 1..at + 1 + numkeys] {
        inputs.push((input_elements(ctx, key, store)?, 1.0));
    }
    let mut request = SetOpRequest {
        inputs,
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = at + 1 + numkeys;
    while j < args.len() {
        let remaining = args.len() - j;
        let opt = &args[j];
        if op != SetOp::Diff
            && !cardinality_only
            && remaining > numkeys
            && eq_ignore_case(opt, "weights")
        {
            for i in 0..numkeys {
                request.inputs[i].1 = parse_score(&args[j + 1 + i]).ok_or(WEIGHT_NOT_FLOAT)?;
            }
            j += 1 + numkeys;
        } else if op != SetOp::Diff
            && !cardinality_only
            && remaining >= 2
            && eq_ignore_case(opt, "aggregate")
        {
            let how = &args[j + 1];
            request.aggregate = if eq_ignore_case(how, "sum") {
                Aggregate::Sum
            } else if eq_ignore_case(how, "min") {
                Aggregate::Min
            } else if eq_ignore_case(how, "max") {
                Aggregate::Max
            } else {
                return Err(error::SYNTAX);
            };
            j += 2;
        } else if !store && !cardinality_only && eq_ignore_case(opt, "withscores") {
            request.withscores = true;
            j += 1;
        } else if cardinality_only && remaining >= 2 && eq_ignore_case(opt, "limit") {
            match crate::util::parse_i64(&args[j + 1]) {
                Some(n) if n >= 0 => request.limit = n as usize,
                _ => return Err(LIMIT_NEGATIVE),
            }
            j += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    Ok(request)
}

/// Computes the result of a set operation: distinct members with their scores, unordered.
fn compute_set_op(request: &mut SetOpRequest, op: SetOp) -> Vec<(f64, Vec<u8>)> {
    let weighted = |score: f64, weight: f64| {
        let value = score * weight;
        if value.is_nan() { 0.0 } else { value }
    };
    match op {
        SetOp::Diff => {
            let mut rest: hashbrown::HashSet<&[u8]> = hashbrown::HashSet::new();
            for (elements, _) in &request.inputs[1..] {
                rest.extend(elements.iter().map(|e| e.1.as_slice()));
            }
            request.inputs[0]
                .0
                .iter()
                .filter(|e| !rest.contains(e.1.as_slice()))
                .cloned()
                .collect()
        }
        SetOp::Union | SetOp::Inter => {
            // Smallest inputs first, as Redis orders them (stable for equal sizes).
            request.inputs.sort_by_key(|(elements, _)| elements.len());
            let how = request.aggregate;
            if op == SetOp::Union {
                let mut index: hashbrown::HashMap<Vec<u8>, usize> = hashbrown::HashMap::new();
                let mut out: Vec<(f64, Vec<u8>)> = Vec::new();
                for (elements, weight) in &request.inputs {
                    for (score, member) in elements {
                        let value = weighted(*score, *weight);
                        match index.get(member) {
                            Some(&i) => aggregate(&mut out[i].0, value, how),
                            None => {
                                index.insert(member.clone(), out.len());
                                out.push((value, member.clone()));
                            }
                        }
                    }
                }
                out
            } else {
                let maps: Vec<hashbrown::HashMap<&[u8], f64>> = request.inputs[1..]
                    .iter()
                    .map(|(elements, _)| elements.iter().map(|e| (e.1.as_slice(), e.0)).collect())
                    .collect();
                let (first, first_weight) = &request.inputs[0];
                let mut out = Vec::new();
                'members: for (score, member) in first {
                    let mut total = weighted(*score, *first_weight);
                    for (map, (_, weight)) in maps.iter().zip(&request.inputs[1..]) {
                        match map.get(member.as_slice()) {
                            // Only the first input's products have NaN turned into 0.
                            Some(&s) => aggregate(&mut total, s * *weight, how),
                            None => continue 'members,
                        }
                    }
                    out.push((total, member.clone()));
                }
                out
            }
        }
    }
}

fn set_op_reply(ctx: &mut Ctx, args: &[Bytes], op: SetOp, name: &str) -> CmdResult {
    let mut request = parse_set_op(ctx, args, 1, op, false, false, name)?;
    let mut result = compute_set_op(&mut request, op);
    result.sort_by(|a, b| cmp_elements(a.0, &a.1, b.0, &b.1));
    reply_elements(ctx.reply, &result, request.withscores);
    Ok(())
}

fn set_op_store(ctx: &mut Ctx, args: &[Bytes], op: SetOp, name: &str) -> CmdResult {
    let mut request = parse_set_op(ctx, args, 2, op, true, false, name)?;
    let result = compute_set_op(&mut request, op);
    let stored = store_result(ctx, &args[1], result);
    ctx.reply.int(stored as i64);
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
/// [WITHSCORES]
fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_reply(ctx, args, SetOp::Union, "zunion")
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]
/// [WITHSCORES]
fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_reply(ctx, args, SetOp::Inter, "zinter")
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_reply(ctx, args, SetOp::Diff, "zdiff")
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
/// [AGGREGATE SUM | MIN | MAX]
fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Union, "zunionstore")
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]]
/// [AGGREGATE SUM | MIN | MAX]
fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Inter, "zinterstore")
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Diff, "zdiffstore")
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut request = parse_set_op(ctx, args, 1, SetOp::Inter, false, true, "zintercard")?;
    let limit = request.limit;
    let count = compute_set_op(&mut request, SetOp::Inter).len();
    let count = if limit > 0 { count.min(limit) } else { count };
    ctx.reply.int(count as i64);
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[2])?;
    let (z, reply) = read(ctx, &args[1])?;
    let Some(z) = z else {
        reply.array(2);
        reply.bulk(b"0");
        reply.array(0);
        return Ok(());
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
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
    let mut found = Vec::new();
    let next = z.scan(cursor, count, &mut found);
    if let Some(p) = pattern {
        found.retain(|(_, m)| glob_match(p, m, false));
    }
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    let packed = matches!(z, ZSet::Pack(_));
    reply.array(found.len() * 2);
    for (score, member) in &found {
        reply.bulk(member);
        let text = if packed {
            listpack_score_text(*score)
        } else {
            crate::util::format_double(*score)
        };
        reply.bulk(text.as_bytes());
    }
    Ok(())
}

// ---- table ----

const fn one_key(flags: u32) -> KeySpec {
    KeySpec::range(flags, 1, 0, 1)
}

const RO: &[KeySpec] = &[one_key(key_flag::RO)];
const RO_ACCESS: &[KeySpec] = &[one_key(key_flag::RO | key_flag::ACCESS)];
const RW_UPDATE: &[KeySpec] = &[one_key(key_flag::RW | key_flag::UPDATE)];
const RW_ACCESS_UPDATE: &[KeySpec] = &[one_key(key_flag::RW | key_flag::ACCESS | key_flag::UPDATE)];
const RW_DELETE: &[KeySpec] = &[one_key(key_flag::RW | key_flag::DELETE)];
const RW_ACCESS_DELETE: &[KeySpec] = &[one_key(key_flag::RW | key_flag::ACCESS | key_flag::DELETE)];

const KEYNUM_RO: &[KeySpec] = &[KeySpec {
    notes: "",
    flags: key_flag::RO | key_flag::ACCESS,
    begin: BeginSearch::Index(1),
    find: FindKeys::Keynum {
        keynumidx: 0,
        firstkey: 1,
        keystep: 1,
    },
}];

const STORE_KEYNUM: &[KeySpec] = &[
    KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1),
    KeySpec {
        notes: "",
        flags: key_flag::RO | key_flag::ACCESS,
        begin: BeginSearch::Index(2),
        find: FindKeys::Keynum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    },
];

const RANGE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const BY_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";
const REMOVE_COMPLEXITY: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const POP_COMPLEXITY: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.";
const UNION_COMPLEXITY: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_COMPLEXITY: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_COMPLEXITY: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

/// A read-only command on one key at index 1.
const fn reader(
    name: &'static str,
    arity: i32,
    fast: bool,
    handler: super::table::Handler,
) -> Command {
    Command {
        name,
        arity,
        flags: if fast {
            flag::READONLY | flag::FAST
        } else {
            flag::READONLY
        },
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler,
        group: "sorted-set",
        key_specs: RO_ACCESS,
        ..Command::DEFAULT
    }
}

const BZPOP_KEYS: &[KeySpec] = &[KeySpec {
    notes: "",
    flags: key_flag::RW | key_flag::ACCESS | key_flag::DELETE,
    begin: BeginSearch::Index(1),
    find: FindKeys::Range {
        lastkey: -2,
        keystep: 1,
        limit: 0,
    },
}];

const BZPOP_HISTORY: &[(&str, &str)] = &[(
    "6.0.0",
    "`timeout` is interpreted as a double instead of an integer.",
)];

pub const COMMANDS: &[Command] = &[
    Command {
        name: "zadd",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zadd,
        group: "sorted-set",
        summary: "Add one or more members to a sorted set, or update its score if it already exists",
        since: "1.2.0",
        complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        key_specs: RW_UPDATE,
        history: &[
            ("2.4.0", "Accepts multiple elements."),
            ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
            ("6.2.0", "Added the `GT` and `LT` options."),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "zincrby",
        arity: 4,
        flags: flag::WRITE | flag::DENYOOM | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zincrby,
        group: "sorted-set",
        summary: "Increment the score of a member in a sorted set",
        since: "1.2.0",
        complexity: "O(log(N)) where N is the number of elements in the sorted set.",
        key_specs: RW_ACCESS_UPDATE,
        ..Command::DEFAULT
    },
    Command {
        name: "zrem",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zrem,
        group: "sorted-set",
        summary: "Remove one or more members from a sorted set",
        since: "1.2.0",
        complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        key_specs: RW_DELETE,
        history: &[("2.4.0", "Accepts multiple elements.")],
        ..Command::DEFAULT
    },
    Command {
        summary: "Get the number of members in a sorted set",
        since: "1.2.0",
        key_specs: RO,
        ..reader("zcard", 2, true, zcard)
    },
    Command {
        summary: "Count the members in a sorted set with scores within the given values",
        since: "2.0.0",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        ..reader("zcount", 4, true, zcount)
    },
    Command {
        summary: "Count the number of members in a sorted set between a given lexicographical range",
        since: "2.8.9",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        ..reader("zlexcount", 4, true, zlexcount)
    },
    Command {
        summary: "Get the score associated with the given member in a sorted set",
        since: "1.2.0",
        ..reader("zscore", 3, true, zscore)
    },
    Command {
        summary: "Get the score associated with the given members in a sorted set",
        since: "6.2.0",
        complexity: "O(N) where N is the number of members being requested.",
        ..reader("zmscore", -3, true, zmscore)
    },
    Command {
        summary: "Determine the index of a member in a sorted set",
        since: "2.0.0",
        complexity: "O(log(N))",
        ..reader("zrank", 3, true, zrank)
    },
    Command {
        summary: "Determine the index of a member in a sorted set, with scores ordered from high to low",
        since: "2.0.0",
        complexity: "O(log(N))",
        ..reader("zrevrank", 3, true, zrevrank)
    },
    Command {
        summary: "Return a range of members in a sorted set",
        since: "1.2.0",
        complexity: RANGE_COMPLEXITY,
        history: &[(
            "6.2.0",
            "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.",
        )],
        ..reader("zrange", -4, false, zrange)
    },
    Command {
        summary: "Return a range of members in a sorted set, by score",
        since: "1.0.5",
        complexity: BY_COMPLEXITY,
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`ZRANGE` with the `BYSCORE` argument",
        history: &[("2.0.0", "Added the `WITHSCORES` modifier.")],
        ..reader("zrangebyscore", -4, false, zrangebyscore)
    },
    Command {
        summary: "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        since: "2.2.0",
        complexity: BY_COMPLEXITY,
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`ZRANGE` with the `REV` and `BYSCORE` arguments",
        history: &[("2.1.6", "`min` and `max` can be exclusive.")],
        ..reader("zrevrangebyscore", -4, false, zrevrangebyscore)
    },
    Command {
        summary: "Return a range of members in a sorted set, by lexicographical range",
        since: "2.8.9",
        complexity: BY_COMPLEXITY,
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`ZRANGE` with the `BYLEX` argument",
        ..reader("zrangebylex", -4, false, zrangebylex)
    },
    Command {
        summary: "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        since: "2.8.9",
        complexity: BY_COMPLEXITY,
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`ZRANGE` with the `REV` and `BYLEX` arguments",
        ..reader("zrevrangebylex", -4, false, zrevrangebylex)
    },
    Command {
        summary: "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        since: "1.2.0",
        complexity: RANGE_COMPLEXITY,
        doc_flags: doc_flag::DEPRECATED,
        deprecated_since: "6.2.0",
        replaced_by: "`ZRANGE` with the `REV` argument",
        ..reader("zrevrange", -4, false, zrevrange)
    },
    Command {
        name: "zrangestore",
        arity: -5,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: zrangestore,
        group: "sorted-set",
        summary: "Store a range of members from sorted set into another key",
        since: "6.2.0",
        complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        key_specs: &[
            KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1),
            KeySpec::range(key_flag::RO | key_flag::ACCESS, 2, 0, 1),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "zpopmin",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zpopmin,
        group: "sorted-set",
        summary: "Remove and return members with the lowest scores in a sorted set",
        since: "5.0.0",
        complexity: POP_COMPLEXITY,
        key_specs: RW_ACCESS_DELETE,
        ..Command::DEFAULT
    },
    Command {
        name: "zpopmax",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zpopmax,
        group: "sorted-set",
        summary: "Remove and return members with the highest scores in a sorted set",
        since: "5.0.0",
        complexity: POP_COMPLEXITY,
        key_specs: RW_ACCESS_DELETE,
        ..Command::DEFAULT
    },
    Command {
        name: "bzpopmin",
        arity: -3,
        flags: flag::WRITE | flag::NOSCRIPT | flag::BLOCKING | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: -2,
        key_step: 1,
        handler: bzpop,
        group: "sorted-set",
        summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        since: "5.0.0",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        key_specs: BZPOP_KEYS,
        history: BZPOP_HISTORY,
        ..Command::DEFAULT
    },
    Command {
        name: "bzpopmax",
        arity: -3,
        flags: flag::WRITE | flag::NOSCRIPT | flag::BLOCKING | flag::FAST,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: -2,
        key_step: 1,
        handler: bzpop,
        group: "sorted-set",
        summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        since: "5.0.0",
        complexity: "O(log(N)) with N being the number of elements in the sorted set.",
        key_specs: BZPOP_KEYS,
        history: BZPOP_HISTORY,
        ..Command::DEFAULT
    },
    Command {
        name: "bzmpop",
        arity: -5,
        flags: flag::WRITE | flag::BLOCKING,
        acl: acl::SORTEDSET,
        handler: bzmpop,
        group: "sorted-set",
        summary: "Remove and return members with scores in a sorted set or block until one is available",
        since: "7.0.0",
        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
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
    Command {
        name: "zmpop",
        arity: -4,
        flags: flag::WRITE,
        acl: acl::SORTEDSET,
        handler: zmpop,
        group: "sorted-set",
        summary: "Remove and return members with scores in a sorted set",
        since: "7.0.0",
        complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
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
        summary: "Get one or multiple random elements from a sorted set",
        since: "6.2.0",
        complexity: "O(N) where N is the number of elements returned",
        tips: &["nondeterministic_output"],
        ..reader("zrandmember", -2, false, zrandmember)
    },
    Command {
        first_key: 0,
        last_key: 0,
        key_step: 0,
        summary: "Add multiple sorted sets",
        since: "6.2.0",
        complexity: UNION_COMPLEXITY,
        key_specs: KEYNUM_RO,
        ..reader("zunion", -3, false, zunion)
    },
    Command {
        first_key: 0,
        last_key: 0,
        key_step: 0,
        summary: "Intersect multiple sorted sets",
        since: "6.2.0",
        complexity: INTER_COMPLEXITY,
        key_specs: KEYNUM_RO,
        ..reader("zinter", -3, false, zinter)
    },
    Command {
        first_key: 0,
        last_key: 0,
        key_step: 0,
        summary: "Subtract multiple sorted sets",
        since: "6.2.0",
        complexity: DIFF_COMPLEXITY,
        key_specs: KEYNUM_RO,
        ..reader("zdiff", -3, false, zdiff)
    },
    Command {
        name: "zunionstore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zunionstore,
        group: "sorted-set",
        summary: "Add multiple sorted sets and store the resulting sorted set in a new key",
        since: "2.0.0",
        complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        key_specs: STORE_KEYNUM,
        ..Command::DEFAULT
    },
    Command {
        name: "zinterstore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zinterstore,
        group: "sorted-set",
        summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        since: "2.0.0",
        complexity: INTER_COMPLEXITY,
        key_specs: STORE_KEYNUM,
        ..Command::DEFAULT
    },
    Command {
        name: "zdiffstore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zdiffstore,
        group: "sorted-set",
        summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        since: "6.2.0",
        complexity: DIFF_COMPLEXITY,
        key_specs: STORE_KEYNUM,
        ..Command::DEFAULT
    },
    Command {
        first_key: 0,
        last_key: 0,
        key_step: 0,
        summary: "Intersect multiple sorted sets and return the cardinality of the result",
        since: "7.0.0",
        complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        key_specs: KEYNUM_RO,
        ..reader("zintercard", -3, false, zintercard)
    },
    Command {
        name: "zremrangebyscore",
        arity: 4,
        flags: flag::WRITE,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zremrangebyscore,
        group: "sorted-set",
        summary: "Remove all members in a sorted set within the given scores",
        since: "1.2.0",
        complexity: REMOVE_COMPLEXITY,
        key_specs: RW_DELETE,
        ..Command::DEFAULT
    },
    Command {
        name: "zremrangebyrank",
        arity: 4,
        flags: flag::WRITE,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zremrangebyrank,
        group: "sorted-set",
        summary: "Remove all members in a sorted set within the given indexes",
        since: "2.0.0",
        complexity: REMOVE_COMPLEXITY,
        key_specs: RW_DELETE,
        ..Command::DEFAULT
    },
    Command {
        name: "zremrangebylex",
        arity: 4,
        flags: flag::WRITE,
        acl: acl::SORTEDSET,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: zremrangebylex,
        group: "sorted-set",
        summary: "Remove all members in a sorted set between the given lexicographical range",
        since: "2.8.9",
        complexity: REMOVE_COMPLEXITY,
        key_specs: RW_DELETE,
        ..Command::DEFAULT
    },
    Command {
        summary: "Incrementally iterate sorted sets elements and associated scores",
        since: "2.8.0",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        tips: &["nondeterministic_output"],
        ..reader("zscan", -3, false, zscan)
    },
];
