//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME, COPY,
//! MOVE, SWAPDB, FLUSHDB, FLUSHALL, DBSIZE, TOUCH, OBJECT.
//!
//! Expired keys are never visible: lookups delete them first (lazy expiry), KEYS skips them,
//! SCAN and RANDOMKEY delete the ones they meet. DBSIZE counts keys that have expired but were
//! not deleted yet, as Redis's DBSIZE does.

use bytes::Bytes;

use super::table::{Command, KeySpec, acl, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::{self, Access, Entry, NO_EXPIRY, SHARDS, StringValue, Value, lazyfree};
use crate::util::glob_match;

// ---- helpers shared by the family ----

/// Reads `key` in the selected db without the write path's side effects; `access` tells
/// whether the key's LRU/LFU data is updated (Redis's LOOKUP_NOTOUCH when `NoTouch`).
fn read_key<'a>(ctx: &'a mut Ctx, key: &[u8], access: Access) -> Option<&'a Entry> {
    let now = ctx.now_ms;
    let db = ctx.client.db;
    ctx.state.store.dbs[db].get(key, now, access)
}

/// Values that take more than this many allocations to free are freed in the background by
/// UNLINK (Redis's `LAZYFREE_THRESHOLD`).
const LAZYFREE_THRESHOLD: usize = 64;

/// Lets go of a deleted entry: at once, or on the lazy-free thread when `lazy` and large.
pub(crate) fn free_entry(entry: Entry, lazy: bool) {
    if lazy && Value::free_effort(&entry.value) > LAZYFREE_THRESHOLD {
        lazyfree::free_later(entry, 1);
    }
}

/// A database index argument as Redis's `getIntFromObjectOrReply` reads it.
fn arg_db_index(arg: &[u8]) -> Result<i64, Error> {
    let n = arg_i64(arg)?;
    if n < i64::from(i32::MIN) || n > i64::from(i32::MAX) {
        return Err(Error::new(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    Ok(n)
}

/// Checks `index` names an existing database.
fn db_in_range(ctx: &Ctx, index: i64) -> Result<usize, Error> {
    if index < 0 || index as u64 >= ctx.state.store.dbs.len() as u64 {
        return Err(error::DB_INDEX_OUT_OF_RANGE);
    }
    Ok(index as usize)
}

/// A SCAN-family cursor, read as Redis reads it (C's `strtoul` in base 10: an optional sign,
/// digits up to the first NUL, negative values wrapping; no leading space, nothing after).
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    const INVALID: Error = Error::new("ERR invalid cursor");
    let text = match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    };
    if text.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(INVALID);
    }
    let mut value: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(INVALID);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(INVALID)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Writes a help reply as Redis's `addReplyHelp`: a header, the lines, then HELP's own entry.
fn reply_help(ctx: &mut Ctx, container: &str, lines: &[&str]) {
    ctx.reply.array(lines.len() + 3);
    ctx.reply.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        container.to_uppercase()
    ));
    for line in lines {
        ctx.reply.simple(line);
    }
    ctx.reply.simple("HELP");
    ctx.reply.simple("    Prints this help.");
}

// ---- commands ----

/// DEL key [key ...]
fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lazy = ctx.server.config.read().get_bool("lazyfree-lazy-user-del");
    delete_keys(ctx, &args[1..], lazy)
}

/// UNLINK key [key ...]
fn unlink(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    delete_keys(ctx, &args[1..], true)
}

/// DEL and UNLINK: each named key that exists (and has not expired) is deleted once.
fn delete_keys(ctx: &mut Ctx, keys: &[Bytes], lazy: bool) -> CmdResult {
    let now = ctx.now_ms;
    let mut deleted = 0;
    for key in keys {
        if let Some(entry) = ctx.db().remove(key, now) {
            free_entry(entry, lazy);
            ctx.modified(key);
            deleted += 1;
        }
    }
    ctx.reply.int(deleted);
    Ok(())
}

/// EXISTS key [key ...]
fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_existing(ctx, &args[1..], Access::NoTouch)
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_existing(ctx, &args[1..], Access::Touch)
}

/// Replies how many of `keys` exist (a key named twice counts twice, as in Redis).
fn reply_existing(ctx: &mut Ctx, keys: &[Bytes], access: Access) -> CmdResult {
    let mut count = 0;
    for key in keys {
        if read_key(ctx, key, access).is_some() {
            count += 1;
        }
    }
    ctx.reply.int(count);
    Ok(())
}

/// TYPE key
fn type_(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let name = read_key(ctx, &args[1], Access::NoTouch).map_or("none", |e| e.value.type_name());
    ctx.reply.simple(name);
    Ok(())
}

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let len = ctx.db().len() as i64;
    ctx.reply.int(len);
    Ok(())
}

/// KEYS pattern
fn keys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let all = pattern.as_ref() == b"*";
    let now = ctx.now_ms;
    let found: Vec<Bytes> = ctx
        .db()
        .data
        .iter()
        .filter(|e| !e.is_expired(now) && (all || glob_match(pattern, &e.key, false)))
        .map(|e| e.key.clone())
        .collect();
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor is the index of the next shard to visit; each call visits whole shards, so a
/// key present from the first call to the last is always returned (once per shard visit).
fn scan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1])?;
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
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
        } else if eq_ignore_case(&args[i], "type") && has_value {
            type_name = Some(args[i + 1].as_ref());
        } else {
            return Err(error::SYNTAX);
        }
        i += 2;
    }

    let now = ctx.now_ms;
    let db = ctx.db();
    let mut candidates: Vec<Bytes> = Vec::new();
    let next = if cursor >= SHARDS as u64 {
        // Never handed out by SCAN: nothing lies beyond the last shard.
        0
    } else {
        db.data.scan_shards(cursor as usize, |entry| {
            candidates.push(entry.key.clone());
            candidates.len() < count
        })
    };
    let mut found = Vec::with_capacity(candidates.len());
    for key in candidates {
        if let Some(p) = pattern
            && !glob_match(p, &key, false)
        {
            continue;
        }
        if db.expire_if_needed(&key, now) {
            continue;
        }
        if let Some(wanted) = type_name {
            let Some(entry) = db.peek(&key, now) else {
                continue;
            };
            if !wanted.eq_ignore_ascii_case(entry.value.type_name().as_bytes()) {
                continue;
            }
        }
        found.push(key);
    }
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
    Ok(())
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut rng = rand::rng();
    // Each expired key met is deleted, so this ends: with a live key or an empty db.
    let key = loop {
        let Some(entry) = db.data.random(&mut rng) else {
            break None;
        };
        let (key, expired) = (entry.key.clone(), entry.is_expired(now));
        if !expired {
            break Some(key);
        }
        db.expire_if_needed(&key, now);
    };
    match key {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, &args[1], &args[2], false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, &args[1], &args[2], true)
}

fn rename_generic(ctx: &mut Ctx, src: &Bytes, dst: &Bytes, nx: bool) -> CmdResult {
    let now = ctx.now_ms;
    if ctx.lookup_mut(src).is_none() {
        return Err(error::NO_SUCH_KEY);
    }
    if src == dst {
        // Renaming a key to itself changes nothing, but the key must exist.
        if nx {
            ctx.reply.int(0);
        } else {
            ctx.reply.ok();
        }
        return Ok(());
    }
    let db = ctx.db();
    if db.get(dst, now, Access::Touch).is_some() && nx {
        ctx.reply.int(0);
        return Ok(());
    }
    let Some(mut entry) = db.remove(src, now) else {
        return Err(error::NO_SUCH_KEY);
    };
    // The value keeps its deadline and access data under the new name.
    entry.key = dst.clone();
    if let Some(replaced) = db.insert_entry(entry) {
        free_entry(replaced, false);
    }
    ctx.modified(src);
    let db = ctx.client.db;
    ctx.signal_watchers_in(db, dst);
    if nx {
        ctx.reply.int(1);
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

/// MOVE key db
fn move_(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let target = arg_db_index(&args[2])?;
    let target = db_in_range(ctx, target)?;
    let source = ctx.client.db;
    if source == target {
        return Err(error::SAME_OBJECT);
    }
    let now = ctx.now_ms;
    if ctx.lookup_mut(key).is_none() {
        ctx.reply.int(0);
        return Ok(());
    }
    let dbs = &mut ctx.state.store.dbs;
    if dbs[target].get(key, now, Access::Touch).is_some() {
        ctx.reply.int(0);
        return Ok(());
    }
    let Some(entry) = dbs[source].remove(key, now) else {
        ctx.reply.int(0);
        return Ok(());
    };
    dbs[target].insert_entry(entry);
    ctx.modified_in(source, key);
    ctx.signal_watchers_in(target, key);
    ctx.reply.int(1);
    Ok(())
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let source = ctx.client.db;
    let mut target = source;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq_ignore_case(&args[i], "replace") {
            replace = true;
        } else if eq_ignore_case(&args[i], "db") && i + 1 < args.len() {
            let index = arg_db_index(&args[i + 1])?;
            target = db_in_range(ctx, index)?;
            i += 1;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    if source == target && src == dst {
        return Err(error::SAME_OBJECT);
    }
    let now = ctx.now_ms;
    let Some(original) = read_key(ctx, src, Access::Touch) else {
        ctx.reply.int(0);
        return Ok(());
    };
    // A new value with fresh access data, the source's deadline.
    let mut duplicate = Entry::new(dst, original.value.clone());
    duplicate.expire_at_ms = original.expire_at_ms;
    let target_db = &mut ctx.state.store.dbs[target];
    if target_db.get(dst, now, Access::Touch).is_some() && !replace {
        ctx.reply.int(0);
        return Ok(());
    }
    if let Some(replaced) = target_db.insert_entry(duplicate) {
        free_entry(replaced, false);
    }
    ctx.modified_in(target, dst);
    ctx.reply.int(1);
    Ok(())
}

/// DUMP key: the value in Redis's DUMP format (RDB encoding, RDB version, CRC64), so
/// Redis's RESTORE takes it and kopi's takes Redis's.
fn dump(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let payload = read_key(ctx, &args[1], Access::Touch)
        .map(|entry| crate::persistence::rdb::dump_payload(&entry.value));
    match payload {
        Some(payload) => ctx.reply.bulk(&payload),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq_ignore_case(&args[i], "replace") {
            replace = true;
        } else if eq_ignore_case(&args[i], "absttl") {
            absttl = true;
        } else if eq_ignore_case(&args[i], "idletime") && more && freq.is_none() {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(Error::new("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(n);
            i += 1;
        } else if eq_ignore_case(&args[i], "freq") && more && idle.is_none() {
            let n = arg_i64(&args[i + 1])?;
            if !(0..=255).contains(&n) {
                return Err(Error::new(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(n);
            i += 1;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    let now = ctx.now_ms;
    let db = ctx.client.db;
    if !replace
        && ctx.state.store.dbs[db]
            .get(key, now, Access::NoTouch)
            .is_some()
    {
        return Err(Error::new("BUSYKEY Target key name already exists."));
    }
    let ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return Err(Error::new("ERR Invalid TTL value, must be >= 0"));
    }
    // The codec's message is Redis's reply text ("DUMP payload version or checksum are
    // wrong", "Bad data format").
    let value = crate::persistence::rdb::restore_payload(&args[3])
        .map_err(|e| Error::owned(format!("ERR {}", e.message)))?;
    let deleted = if replace {
        let old = ctx.state.store.dbs[db].remove(key, now);
        let found = old.is_some();
        if let Some(old) = old {
            free_entry(old, false);
        }
        found
    } else {
        false
    };
    let deadline = match ttl {
        0 => NO_EXPIRY,
        ttl if absttl => ttl,
        ttl => now.saturating_add(ttl),
    };
    if deadline != NO_EXPIRY && deadline <= now && !crate::keyspace::expiry_suspended() {
        // Already expired: nothing is created, and a replaced key is simply deleted.
        if deleted {
            ctx.modified(key);
            ctx.propagate_as(&[&b"DEL"[..], key]);
        } else {
            ctx.prevent_propagation();
        }
        ctx.reply.ok();
        return Ok(());
    }
    let mut entry = Entry::new(key, value);
    entry.expire_at_ms = deadline;
    let lfu = crate::clock::LFU_ENABLED.load(std::sync::atomic::Ordering::Relaxed);
    match (idle, freq) {
        (Some(idle), _) if !lfu => {
            let idle = u32::try_from(idle).unwrap_or(u32::MAX);
            entry.access_s = entry.access_s.saturating_sub(idle);
        }
        (_, Some(freq)) if lfu => entry.freq = freq as u8,
        _ => {}
    }
    ctx.state.store.dbs[db].insert_entry(entry);
    ctx.modified(key);
    if deadline != NO_EXPIRY && !absttl && ctx.propagating() {
        // Logged with its deadline as an absolute time, as Redis does.
        let mut effect: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let at = deadline.to_string();
        effect[2] = at.as_bytes();
        effect.push(b"ABSTTL");
        ctx.propagate_as(&effect);
    }
    ctx.reply.ok();
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let first = arg_db_index(&args[1]).map_err(|_| Error::new("ERR invalid first DB index"))?;
    let second = arg_db_index(&args[2]).map_err(|_| Error::new("ERR invalid second DB index"))?;
    let (first, second) = (db_in_range(ctx, first)?, db_in_range(ctx, second)?);
    let now = ctx.now_ms;
    // Watchers stay with their db number: they see its keys replaced (touchAllWatchedKeysInDb).
    ctx.state.store.swap_dbs(first, second, now);
    ctx.state.store.dirty += 1;
    // Clients blocked on keys of either db may find them now (scanDatabaseForReadyKeys).
    ctx.state.blocking.signal_db(first);
    ctx.state.blocking.signal_db(second);
    ctx.reply.ok();
    Ok(())
}

/// Whether FLUSHDB/FLUSHALL free asynchronously: `[ASYNC | SYNC]`, else the
/// `lazyfree-lazy-user-flush` default.
fn flush_mode(ctx: &Ctx, args: &[Bytes]) -> Result<bool, Error> {
    match args.len() {
        1 => Ok(ctx
            .server
            .config
            .read()
            .get_bool("lazyfree-lazy-user-flush")),
        2 if eq_ignore_case(&args[1], "sync") => Ok(false),
        2 if eq_ignore_case(&args[1], "async") => Ok(true),
        _ => Err(error::SYNTAX),
    }
}

/// Empties database `index`, first marking the watchers of its existing keys dirty; returns
/// how many keys it held.
fn empty_db(ctx: &mut Ctx, index: usize, lazy: bool) -> usize {
    let now = ctx.now_ms;
    let db = &mut ctx.state.store.dbs[index];
    db.touch_all_watched(None, now);
    if lazy { db.flush_async() } else { db.flush() }
}

/// FLUSHDB [ASYNC | SYNC]
///
/// Recorded as requested, even when the db was already empty.
fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, args)?;
    ctx.force_propagation();
    let index = ctx.client.db;
    let removed = empty_db(ctx, index, lazy);
    ctx.state.store.dirty = ctx.state.store.dirty.saturating_add(removed as u64);
    ctx.reply.ok();
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]
///
/// Recorded as requested, even when every db was already empty.
fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::persistence::snapshot;
    let lazy = flush_mode(ctx, args)?;
    ctx.force_propagation();
    // As Redis's `flushAllDataAndResetRDB`: a BGSAVE in progress is stopped (what it writes is
    // gone), and with `save` points the empty dataset is saved at once, so a restart does not
    // bring the old `dump.rdb` back.
    snapshot::abort_bgsave(ctx.server, ctx.state);
    let mut removed: u64 = 0;
    for index in 0..ctx.state.store.dbs.len() {
        removed += empty_db(ctx, index, lazy) as u64;
    }
    ctx.state.store.dirty = ctx.state.store.dirty.saturating_add(removed);
    let save_points = !ctx.server.config.read().get("save").trim().is_empty();
    if save_points && !ctx.server.loading.is_active() {
        // The save clears the change counter; FLUSHALL's changes still count, as in Redis.
        let dirty = ctx.state.store.dirty;
        let _ = snapshot::save(ctx.server, ctx.state);
        ctx.state.store.dirty = dirty;
    }
    ctx.state.store.dirty = ctx.state.store.dirty.saturating_add(1);
    ctx.reply.ok();
    Ok(())
}

// ---- OBJECT ----

const OBJECT_HELP: &[&str] = &[
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
];

const LFU_SELECTED: Error = Error::new(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
const LFU_NOT_SELECTED: Error = Error::new(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);

/// Integers below this are shared objects in Redis (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10000;
/// The refcount Redis reports for shared objects (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// OBJECT HELP
fn object_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    reply_help(ctx, "object", OBJECT_HELP);
    Ok(())
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match read_key(ctx, &args[2], Access::NoTouch) {
        Some(entry) => {
            let name = entry.value.encoding_name();
            ctx.reply.bulk(name.as_bytes());
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
///
/// Redis shares the integers 0..9999 between keys unless a maxmemory limit with an LRU/LFU
/// policy needs per-key access data; a shared value reports `OBJ_SHARED_REFCOUNT`.
fn object_refcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sharing = {
        let config = ctx.server.config.read();
        let policy = config.get("maxmemory-policy");
        config.get_i64("maxmemory") == 0 || !(policy.contains("lru") || policy.contains("lfu"))
    };
    let Some(entry) = read_key(ctx, &args[2], Access::NoTouch) else {
        ctx.reply.null();
        return Ok(());
    };
    let refcount = match &entry.value {
        Value::String(StringValue::Int(n)) if sharing && (0..SHARED_INTEGERS).contains(n) => {
            SHARED_REFCOUNT
        }
        _ => 1,
    };
    ctx.reply.int(refcount);
    Ok(())
}

/// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lfu = ctx
        .server
        .config
        .read()
        .get("maxmemory-policy")
        .contains("lfu");
    let Some(entry) = read_key(ctx, &args[2], Access::NoTouch) else {
        ctx.reply.null();
        return Ok(());
    };
    if lfu {
        return Err(LFU_SELECTED);
    }
    let idle = crate::clock::now_s().saturating_sub(entry.access_s);
    ctx.reply.int(i64::from(idle));
    Ok(())
}

/// OBJECT FREQ key
fn object_freq(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (lfu, decay_minutes) = {
        let config = ctx.server.config.read();
        (
            config.get("maxmemory-policy").contains("lfu"),
            config.get_i64("lfu-decay-time").max(0) as u64,
        )
    };
    let Some(entry) = read_key(ctx, &args[2], Access::NoTouch) else {
        ctx.reply.null();
        return Ok(());
    };
    if !lfu {
        return Err(LFU_NOT_SELECTED);
    }
    let freq = keyspace::lfu_decayed(
        entry.freq,
        entry.access_s,
        crate::clock::now_s(),
        decay_minutes,
    );
    ctx.reply.int(i64::from(freq));
    Ok(())
}

const OBJECT_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "object|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        acl: acl::KEYSPACE,
        handler: object_help,
        summary: "Show helpful text about the different subcommands",
        since: "6.2.0",
        ..Command::DEFAULT
    },
    Command {
        name: "object|freq",
        arity: 3,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        first_key: 2,
        last_key: 2,
        key_step: 1,
        handler: object_freq,
        summary: "Get the logarithmic access frequency counter of a Redis object",
        since: "4.0.0",
        key_specs: &[KeySpec::range(key_flag::RO, 2, 0, 1)],
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
    Command {
        name: "object|refcount",
        arity: 3,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        first_key: 2,
        last_key: 2,
        key_step: 1,
        handler: object_refcount,
        summary: "Get the number of references to the value of the key",
        since: "2.2.3",
        key_specs: &[KeySpec::range(key_flag::RO, 2, 0, 1)],
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
    Command {
        name: "object|encoding",
        arity: 3,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        first_key: 2,
        last_key: 2,
        key_step: 1,
        handler: object_encoding,
        summary: "Inspect the internal encoding of a Redis object",
        since: "2.2.3",
        key_specs: &[KeySpec::range(key_flag::RO, 2, 0, 1)],
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
    Command {
        name: "object|idletime",
        arity: 3,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        first_key: 2,
        last_key: 2,
        key_step: 1,
        handler: object_idletime,
        summary: "Get the time since a Redis object was last accessed",
        since: "2.2.3",
        key_specs: &[KeySpec::range(key_flag::RO, 2, 0, 1)],
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
];

pub const COMMANDS: &[Command] = &[
    Command {
        name: "del",
        arity: -2,
        flags: flag::WRITE,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: -1,
        key_step: 1,
        handler: del,
        summary: "Delete a key",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        key_specs: &[KeySpec::range(key_flag::RM | key_flag::DELETE, 1, -1, 1)],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        ..Command::DEFAULT
    },
    Command {
        name: "unlink",
        arity: -2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: -1,
        key_step: 1,
        handler: unlink,
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        since: "4.0.0",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        key_specs: &[KeySpec::range(key_flag::RM | key_flag::DELETE, 1, -1, 1)],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        ..Command::DEFAULT
    },
    Command {
        name: "exists",
        arity: -2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: -1,
        key_step: 1,
        handler: exists,
        summary: "Determine if a key exists",
        complexity: "O(N) where N is the number of keys to check.",
        key_specs: &[KeySpec::range(key_flag::RO, 1, -1, 1)],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        history: &[("3.0.3", "Accepts multiple `key` arguments.")],
        ..Command::DEFAULT
    },
    Command {
        name: "touch",
        arity: -2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: -1,
        key_step: 1,
        handler: touch,
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        since: "3.2.1",
        complexity: "O(N) where N is the number of keys that will be touched.",
        key_specs: &[KeySpec::range(key_flag::RO, 1, -1, 1)],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        ..Command::DEFAULT
    },
    Command {
        name: "type",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: type_,
        summary: "Determine the type stored at key",
        key_specs: &[KeySpec::range(key_flag::RO, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "dbsize",
        arity: 1,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        handler: dbsize,
        group: "server",
        summary: "Return the number of keys in the selected database",
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        ..Command::DEFAULT
    },
    Command {
        name: "keys",
        arity: 2,
        flags: flag::READONLY,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        handler: keys,
        summary: "Find all keys matching the given pattern",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        ..Command::DEFAULT
    },
    Command {
        name: "scan",
        arity: -2,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        handler: scan,
        summary: "Incrementally iterate the keys space",
        since: "2.8.0",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        tips: &["nondeterministic_output", "request_policy:special"],
        history: &[("6.0.0", "Added the `TYPE` subcommand.")],
        ..Command::DEFAULT
    },
    Command {
        name: "randomkey",
        arity: 1,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        handler: randomkey,
        summary: "Return a random key from the keyspace",
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        ..Command::DEFAULT
    },
    Command {
        name: "rename",
        arity: 3,
        flags: flag::WRITE,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: rename,
        summary: "Rename a key",
        key_specs: &[
            KeySpec::range(key_flag::RW | key_flag::ACCESS | key_flag::DELETE, 1, 0, 1),
            KeySpec::range(key_flag::OW | key_flag::UPDATE, 2, 0, 1),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "renamenx",
        arity: 3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: renamenx,
        summary: "Rename a key, only if the new key does not exist",
        key_specs: &[
            KeySpec::range(key_flag::RW | key_flag::ACCESS | key_flag::DELETE, 1, 0, 1),
            KeySpec::range(key_flag::OW | key_flag::INSERT, 2, 0, 1),
        ],
        history: &[(
            "3.2.0",
            "The command no longer returns an error when source and destination names are the same.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "copy",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 2,
        key_step: 1,
        handler: copy,
        summary: "Copy a key",
        since: "6.2.0",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        key_specs: &[
            KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1),
            KeySpec::range(key_flag::OW | key_flag::UPDATE, 2, 0, 1),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "dump",
        arity: 2,
        flags: flag::READONLY,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: dump,
        summary: "Return a serialized version of the value stored at the specified key.",
        since: "2.6.0",
        complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        tips: &["nondeterministic_output"],
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "restore",
        arity: -4,
        flags: flag::WRITE | flag::DENYOOM,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: restore,
        summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
        since: "2.6.0",
        complexity: "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        history: &[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ],
        key_specs: &[KeySpec::range(key_flag::OW | key_flag::UPDATE, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "move",
        arity: 3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: move_,
        summary: "Move a key to another database",
        key_specs: &[KeySpec::range(
            key_flag::RW | key_flag::ACCESS | key_flag::UPDATE,
            1,
            0,
            1,
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "swapdb",
        arity: 3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        handler: swapdb,
        group: "server",
        summary: "Swaps two Redis databases",
        since: "4.0.0",
        complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        ..Command::DEFAULT
    },
    Command {
        name: "flushdb",
        arity: -1,
        flags: flag::WRITE,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        handler: flushdb,
        group: "server",
        summary: "Remove all keys from the current database",
        complexity: "O(N) where N is the number of keys in the selected database",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        history: &[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "flushall",
        arity: -1,
        flags: flag::WRITE,
        acl: acl::KEYSPACE | acl::DANGEROUS,
        handler: flushall,
        group: "server",
        summary: "Remove all keys from all databases",
        complexity: "O(N) where N is the total number of keys in all databases",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        history: &[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "object",
        arity: -2,
        summary: "A container for object introspection commands",
        since: "2.2.3",
        complexity: "Depends on subcommand.",
        subcommands: OBJECT_SUBCOMMANDS,
        ..Command::DEFAULT
    },
];
