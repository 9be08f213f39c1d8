//! Strings: the type operations first, then the commands, then the family's table.

use bytes::Bytes;

use super::table::{Command, acl, flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::{NO_EXPIRY, StringValue, Value};

// ---- type operations ----

/// The string at `key`: `Ok(None)` when missing, WRONGTYPE when another type.
pub fn get_string<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a StringValue>, Error> {
    match ctx.lookup(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(error::WRONGTYPE),
    }
}

// ---- commands ----

/// GET key
fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut scratch = itoa::Buffer::new();
    match get_string(ctx, &args[1])? {
        Some(s) => {
            let bytes = s.as_bytes(&mut scratch).to_vec();
            ctx.reply.bulk(&bytes);
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

/// How SET's expiry options were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    None,
    KeepTtl,
    /// Absolute deadline in Unix milliseconds.
    At(i64),
}

/// Parses `EX seconds | PX ms | EXAT s | PXAT ms` starting at `args[i]` (the keyword);
/// returns the absolute deadline. Redis's `getExpireMillisecondsOrReply`.
fn parse_expiry(ctx: &Ctx, keyword: &[u8], value: &[u8], command: &str) -> Result<i64, Error> {
    let n = arg_i64(value)?;
    let unit_ms = if eq_ignore_case(keyword, "ex") || eq_ignore_case(keyword, "exat") {
        1000
    } else {
        1
    };
    let relative = eq_ignore_case(keyword, "ex") || eq_ignore_case(keyword, "px");
    if n <= 0 {
        return Err(error::invalid_expire(command));
    }
    let Some(ms) = n.checked_mul(unit_ms) else {
        return Err(error::invalid_expire(command));
    };
    if relative {
        ms.checked_add(ctx.now_ms)
            .ok_or_else(|| error::invalid_expire(command))
    } else {
        Ok(ms)
    }
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let has_next = i + 1 < args.len();
        if eq_ignore_case(opt, "nx") && !xx {
            nx = true;
        } else if eq_ignore_case(opt, "xx") && !nx {
            xx = true;
        } else if eq_ignore_case(opt, "get") {
            get = true;
        } else if eq_ignore_case(opt, "keepttl") && expiry == Expiry::None {
            expiry = Expiry::KeepTtl;
        } else if ["ex", "px", "exat", "pxat"]
            .iter()
            .any(|k| eq_ignore_case(opt, k))
            && expiry == Expiry::None
            && has_next
        {
            expiry = Expiry::At(parse_expiry(ctx, opt, &args[i + 1], "set")?);
            i += 1;
        } else {
            return Err(error::SYNTAX);
        }
        i += 1;
    }
    set_generic(ctx, &args[1], &args[2], nx, xx, get, expiry)
}

fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    nx: bool,
    xx: bool,
    get: bool,
    expiry: Expiry,
) -> CmdResult {
    let old = if get {
        let mut scratch = itoa::Buffer::new();
        get_string(ctx, key)?.map(|s| s.as_bytes(&mut scratch).to_vec())
    } else {
        None
    };
    let exists = {
        let now = ctx.now_ms;
        ctx.db().peek(key, now).is_some()
    };
    if (nx && exists) || (xx && !exists) {
        if get {
            reply_optional_bulk(ctx, old.as_deref());
        } else {
            ctx.reply.null();
        }
        return Ok(());
    }
    let now = ctx.now_ms;
    let db = ctx.db();
    db.set(
        key,
        Value::String(StringValue::from_bytes(value)),
        expiry == Expiry::KeepTtl,
        now,
    );
    if let Expiry::At(at) = expiry {
        db.set_expire(key, at);
    }
    ctx.modified(key);
    if let Expiry::At(at) = expiry
        && at <= now
    {
        // Already in the past: the key is gone at once (and logged as a DEL with #3).
        ctx.db().expire_if_needed(key, now);
    }
    if get {
        reply_optional_bulk(ctx, old.as_deref());
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

fn reply_optional_bulk(ctx: &mut Ctx, value: Option<&[u8]>) {
    match value {
        Some(v) => ctx.reply.bulk(v),
        None => ctx.reply.null(),
    }
}

#[allow(dead_code)]
const _NO_EXPIRY: i64 = NO_EXPIRY;

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
        handler: set,
        group: "string",
        summary: "Set the string value of a key",
        ..Command::DEFAULT
    },
];
