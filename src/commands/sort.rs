//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered numerically or
//! alphabetically by themselves or by weights found through a key pattern, with values
//! fetched through GET patterns, optionally stored as a list.
//!
//! The ordering rules are Redis 7.0's: numeric weights are parsed as C's `strtod` parses them
//! (leading white space, hexadecimal floats, `inf`; a NUL byte ends the text); equal numeric
//! weights fall back to comparing the elements byte by byte; under ALPHA missing weights come
//! first and equal ones keep the order in which the elements were read. Text comparisons
//! without STORE stop at the first NUL byte as C strings do (`strcoll` under the C locale);
//! with STORE they compare all bytes.

use std::cmp::Ordering;

use bytes::Bytes;

use super::table::{BeginSearch, Command, FindKeys, KeySpec, acl, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::list::{End, ListValue};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Access, Value};

pub const NOT_DOUBLE: Error = Error::new("ERR One or more scores can't be converted into double");

// ---- type operations ----

/// The options of one SORT call, as parsed.
struct Options {
    by: Option<Bytes>,
    dontsort: bool,
    limit_start: i64,
    limit_count: i64,
    gets: Vec<Bytes>,
    desc: bool,
    alpha: bool,
    store: Option<Bytes>,
}

/// The text a C string function sees: the bytes before the first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// `full_key_access`: the user may read any key, which BY (with a `*`) and GET need, since
/// the keys they read are not among the arguments.
fn parse_options(args: &[Bytes], readonly: bool, full_key_access: bool) -> Result<Options, Error> {
    let mut options = Options {
        by: None,
        dontsort: false,
        limit_start: 0,
        limit_count: -1,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let arg = &args[j];
        if eq_ignore_case(arg, "asc") {
            options.desc = false;
        } else if eq_ignore_case(arg, "desc") {
            options.desc = true;
        } else if eq_ignore_case(arg, "alpha") {
            options.alpha = true;
        } else if eq_ignore_case(arg, "limit") && left >= 2 {
            options.limit_start = arg_i64(&args[j + 1])?;
            options.limit_count = arg_i64(&args[j + 2])?;
            j += 2;
        } else if eq_ignore_case(arg, "store") && left >= 1 && !readonly {
            options.store = Some(args[j + 1].clone());
            j += 1;
        } else if eq_ignore_case(arg, "by") && left >= 1 {
            let pattern = &args[j + 1];
            // A pattern without `*` names one key for every element: nothing to sort by.
            // Once set, this stays set even if a later BY has a `*` (as in Redis).
            if !c_str(pattern).contains(&b'*') {
                options.dontsort = true;
            } else if !full_key_access {
                return Err(Error::new(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            options.by = Some(pattern.clone());
            j += 1;
        } else if eq_ignore_case(arg, "get") && left >= 1 {
            if !full_key_access {
                return Err(Error::new(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            options.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(error::SYNTAX);
        }
        j += 1;
    }
    Ok(options)
}

/// The value a BY or GET pattern names for `element` (Redis's `lookupKeyByPattern`): `#` is
/// the element itself; the first `*` is replaced by the element; `key->field` reads a hash
/// field. `None` when the key, field or `*` is missing or the key has the wrong type.
fn lookup_by_pattern(
    ctx: &mut Ctx,
    pattern: &[u8],
    element: &[u8],
    for_write: bool,
) -> Option<Vec<u8>> {
    if pattern.first() == Some(&b'#') && pattern.get(1).is_none_or(|&b| b == 0) {
        return Some(element.to_vec());
    }
    let text = c_str(pattern);
    let star = text.iter().position(|&b| b == b'*')?;
    let arrow = text[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        .filter(|&at| at + 2 < text.len());
    let (postfix_end, field) = match arrow {
        Some(at) => (at, Some(&pattern[at + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..postfix_end]);
    let entry = if for_write {
        let now = ctx.now_ms;
        ctx.db().get(&key, now, Access::Touch)
    } else {
        ctx.lookup(&key)
    }?;
    match (&entry.value, field) {
        (Value::Hash(hash), Some(field)) => hash.get(field).map(<[u8]>::to_vec),
        (Value::String(s), None) => Some(s.to_vec()),
        _ => None,
    }
}

/// Parses a weight as Redis does with `strtod`: the whole text (up to a NUL byte) must be
/// consumed, and results that are NaN or out of range (overflow, or an inexact result below
/// the normal range) are refused. An empty text is 0.
pub fn parse_weight(bytes: &[u8]) -> Option<f64> {
    let text = c_str(bytes);
    if text.is_empty() {
        return Some(0.0);
    }
    let mut i = 0;
    while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < text.len() && (text[i] == b'+' || text[i] == b'-') {
        negative = text[i] == b'-';
        i += 1;
    }
    let rest = &text[i..];
    let magnitude = if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"inf") {
        if rest.len() == 3 || rest.eq_ignore_ascii_case(b"infinity") {
            f64::INFINITY
        } else {
            return None;
        }
    } else if rest.len() > 2
        && rest[0] == b'0'
        && (rest[1] | 0x20) == b'x'
        && starts_hex_mantissa(&rest[2..])
    {
        parse_hex(&rest[2..])?
    } else {
        parse_decimal(rest)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn starts_hex_mantissa(s: &[u8]) -> bool {
    match s {
        [d, ..] if d.is_ascii_hexdigit() => true,
        [b'.', d, ..] => d.is_ascii_hexdigit(),
        _ => false,
    }
}

/// An unsigned decimal number that must use all of `s`.
fn parse_decimal(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while i < s.len() && s[i].is_ascii_digit() {
        nonzero |= s[i] != b'0';
        i += 1;
        digits += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            nonzero |= s[i] != b'0';
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] | 0x20) == b'e' {
        let mut k = i + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            i = k;
        }
    }
    if i != s.len() {
        return None;
    }
    let value: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    let out_of_range =
        value.is_infinite() || (nonzero && (0.0..f64::MIN_POSITIVE).contains(&value));
    (!out_of_range).then_some(value)
}

/// An unsigned hexadecimal float (after `0x`) that must use all of `s`, rounded to nearest
/// even as `strtod` rounds it.
fn parse_hex(s: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    let mut exponent: i64 = 0;
    let mut i = 0;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            if mantissa >> 56 == 0 {
                mantissa = mantissa * 16 + d as u64;
                if seen_point {
                    exponent -= 4;
                }
            } else {
                sticky |= d != 0;
                if !seen_point {
                    exponent += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if i < s.len() && (s[i] | 0x20) == b'p' {
        let mut k = i + 1;
        let mut negative = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            negative = s[k] == b'-';
            k += 1;
        }
        if k < s.len() && s[k].is_ascii_digit() {
            let mut value: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                value = (value * 10 + (s[k] - b'0') as i64).min(1 << 20);
                k += 1;
            }
            exponent += if negative { -value } else { value };
            i = k;
        }
    }
    if i != s.len() {
        return None;
    }
    scale_binary(mantissa, sticky, exponent)
}

/// `mantissa * 2^exponent` (plus a nonzero remainder below the last bit when `sticky`),
/// rounded to nearest even; `None` where `strtod` reports a range error.
fn scale_binary(mantissa: u64, sticky: bool, exponent: i64) -> Option<f64> {
    if mantissa == 0 {
        return Some(0.0);
    }
    let bits = 64 - mantissa.leading_zeros() as i64;
    let top = exponent + bits - 1;
    if top > 1023 {
        return None;
    }
    // The lowest bit a double can hold at this magnitude.
    let lsb = (top - 52).max(-1074);
    let shift = lsb - exponent;
    let (kept, inexact) = if shift <= 0 {
        (mantissa << (-shift) as u32, sticky)
    } else if shift > 64 {
        (0, true)
    } else {
        let kept = if shift == 64 { 0 } else { mantissa >> shift };
        let dropped = if shift == 64 {
            mantissa
        } else {
            mantissa & ((1u64 << shift) - 1)
        };
        let half = 1u64 << (shift - 1);
        let up = dropped > half || (dropped == half && (sticky || kept & 1 == 1));
        (kept + up as u64, dropped != 0 || sticky)
    };
    if inexact && top < -1022 {
        return None;
    }
    let mut value = 0.0;
    if kept != 0 {
        let mut e = lsb;
        value = kept as f64;
        while e > 0 {
            let step = e.min(1000);
            value *= 2f64.powi(step as i32);
            e -= step;
        }
        while e < 0 {
            let step = (-e).min(1000);
            value /= 2f64.powi(step as i32);
            e += step;
        }
    }
    value.is_finite().then_some(value)
}

/// One element being sorted with what it is sorted by.
struct Item {
    element: Vec<u8>,
    score: f64,
    weight: Option<Vec<u8>>,
}

/// Compares texts as `strcoll` under the C locale compares C strings.
fn cmp_c_str(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

/// SORT's comparison (Redis's `sortCompare`).
fn compare(a: &Item, b: &Item, alpha: bool, by: bool, store: bool) -> Ordering {
    let text = |x: &[u8], y: &[u8]| {
        if store { x.cmp(y) } else { cmp_c_str(x, y) }
    };
    if !alpha {
        match a.score.partial_cmp(&b.score) {
            Some(Ordering::Equal) | None => a.element.cmp(&b.element),
            Some(order) => order,
        }
    } else if by {
        match (&a.weight, &b.weight) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => text(x, y),
        }
    } else {
        text(&a.element, &b.element)
    }
}

// ---- commands ----

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
/// [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
/// [ALPHA]
fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx, args: &[Bytes], readonly: bool) -> CmdResult {
    let full_key_access = super::lookup(&args[0]).is_some_and(|command| {
        super::access_control::may_read_any_key(ctx.state, ctx.client, command, args)
    });
    let mut options = parse_options(args, readonly, full_key_access)?;
    let key = &args[1];
    let (is_set, compact_zset) = match ctx.lookup(key).map(|e| &e.value) {
        None | Some(Value::List(_)) => (false, false),
        Some(Value::Set(_)) => (true, false),
        Some(Value::ZSet(z)) => (false, matches!(z, ZSet::Pack(_))),
        Some(_) => return Err(error::WRONGTYPE),
    };
    if compact_zset {
        // Redis converts a compact sorted set to its skiplist encoding before sorting it.
        let now = ctx.now_ms;
        let entry = ctx.db().get_mut(key, now, Access::NoTouch);
        if let Some(Value::ZSet(z)) = entry.map(|e| &mut e.value) {
            z.convert_to_tree();
        }
    }
    // A set read without sorting comes in table order: with STORE it is sorted as text so
    // the stored result does not depend on that order.
    if options.dontsort && is_set && options.store.is_some() {
        options.dontsort = false;
        options.alpha = true;
        options.by = None;
    }
    let now = ctx.now_ms;
    let value = ctx.db().peek(key, now).map(|e| &e.value);
    let len = match value {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    let mut start = options.limit_start.max(0);
    let mut end = if options.limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(options.limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let range = (end - start + 1).max(0) as usize;
    let mut elements: Vec<Vec<u8>> = Vec::new();
    match value {
        Some(Value::List(list)) if options.dontsort => {
            if range > 0 {
                let start = start as usize;
                if options.desc {
                    elements.extend(list.iter_rev().skip(start).take(range).map(<[u8]>::to_vec));
                } else {
                    elements.extend(list.iter_from(start).take(range).map(<[u8]>::to_vec));
                }
            }
            end -= start;
            start = 0;
        }
        Some(Value::ZSet(zset)) if options.dontsort => {
            if range > 0 {
                let mut left = range;
                zset.for_each_from(start as usize, options.desc, &mut |_, m| {
                    elements.push(m.to_vec());
                    left -= 1;
                    left > 0
                });
            }
            end -= start;
            start = 0;
        }
        Some(Value::List(list)) => elements.extend(list.iter().map(<[u8]>::to_vec)),
        Some(Value::Set(set)) => elements.extend(set.iter().map(|m| m.to_vec())),
        Some(Value::ZSet(zset)) => {
            zset.for_each_from(0, false, &mut |_, m| {
                elements.push(m.to_vec());
                true
            });
        }
        _ => {}
    }
    let mut items: Vec<Item> = elements
        .into_iter()
        .map(|element| Item {
            element,
            score: 0.0,
            weight: None,
        })
        .collect();
    let storing = options.store.is_some();
    let mut conversion_error = false;
    if !options.dontsort {
        for item in &mut items {
            let weight = match &options.by {
                Some(pattern) => match lookup_by_pattern(ctx, pattern, &item.element, storing) {
                    Some(weight) => weight,
                    None => continue,
                },
                None => {
                    if !options.alpha {
                        match parse_weight(&item.element) {
                            Some(score) => item.score = score,
                            None => conversion_error = true,
                        }
                    }
                    continue;
                }
            };
            if options.alpha {
                item.weight = Some(weight);
            } else {
                match parse_weight(&weight) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                }
            }
        }
        if !conversion_error {
            let (alpha, by, desc) = (options.alpha, options.by.is_some(), options.desc);
            items.sort_by(|a, b| {
                let order = compare(a, b, alpha, by, storing);
                if desc { order.reverse() } else { order }
            });
        }
    }
    if conversion_error {
        return Err(NOT_DOUBLE);
    }
    let selected = if range == 0 {
        &items[..0]
    } else {
        let from = start as usize;
        &items[from.min(items.len())..(end as usize + 1).min(items.len())]
    };
    let output_len = selected.len() * options.gets.len().max(1);
    match &options.store {
        None => {
            ctx.reply.array(output_len);
            for item in selected {
                if options.gets.is_empty() {
                    ctx.reply.bulk(&item.element);
                }
                for pattern in &options.gets {
                    match lookup_by_pattern(ctx, pattern, &item.element, false) {
                        Some(value) => ctx.reply.bulk(&value),
                        None => ctx.reply.null(),
                    }
                }
            }
        }
        Some(destination) => {
            let mut list = ListValue::new();
            for item in selected {
                if options.gets.is_empty() {
                    list.push(End::Tail, &item.element);
                }
                for pattern in &options.gets {
                    let value = lookup_by_pattern(ctx, pattern, &item.element, true);
                    list.push(End::Tail, value.as_deref().unwrap_or(b""));
                }
            }
            if output_len > 0 {
                ctx.db()
                    .set(destination, Value::List(Box::new(list)), false, now);
                ctx.modified(destination);
                // Redis counts one change per stored element.
                ctx.state.store.dirty += output_len as u64 - 1;
            } else if ctx.db().remove(destination, now).is_some() {
                ctx.modified(destination);
            }
            ctx.reply.int(output_len as i64);
        }
    }
    Ok(())
}

/// The keys of a SORT call (Redis's `sortGetKeys`): the sorted key, and the destination of
/// the last STORE. Option arguments are skipped as Redis skips them.
fn sort_keys(args: &[Bytes]) -> Vec<(usize, u32)> {
    let mut keys = vec![(1, key_flag::RO | key_flag::ACCESS)];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        if eq_ignore_case(arg, "limit") {
            i += 2;
        } else if eq_ignore_case(arg, "get") || eq_ignore_case(arg, "by") {
            i += 1;
        } else if eq_ignore_case(arg, "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(at) = store {
        keys.push((at, key_flag::OW | key_flag::UPDATE));
    }
    keys
}

/// The keys of a SORT_RO call: only the sorted key.
fn sort_ro_keys(_: &[Bytes]) -> Vec<(usize, u32)> {
    vec![(1, key_flag::RO | key_flag::ACCESS)]
}

// ---- table ----

const SORTED_KEY: KeySpec = KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1);
const PATTERN_KEYS: KeySpec = KeySpec {
    notes: "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort",
    flags: key_flag::RO | key_flag::ACCESS,
    begin: BeginSearch::Unknown,
    find: FindKeys::Unknown,
};
const STORE_KEY: KeySpec = KeySpec {
    notes: "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array",
    flags: key_flag::OW | key_flag::UPDATE,
    begin: BeginSearch::Unknown,
    find: FindKeys::Unknown,
};

const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

pub const COMMANDS: &[Command] = &[
    Command {
        name: "sort",
        arity: -2,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        keys_fn: Some(sort_keys),
        handler: sort,
        group: "generic",
        summary: "Sort the elements in a list, set or sorted set",
        since: "1.0.0",
        complexity: COMPLEXITY,
        key_specs: &[SORTED_KEY, PATTERN_KEYS, STORE_KEY],
        ..Command::DEFAULT
    },
    Command {
        name: "sort_ro",
        arity: -2,
        flags: flag::READONLY,
        acl: acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        keys_fn: Some(sort_ro_keys),
        handler: sort_ro,
        group: "generic",
        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        since: "7.0.0",
        complexity: COMPLEXITY,
        key_specs: &[SORTED_KEY, PATTERN_KEYS],
        ..Command::DEFAULT
    },
];
