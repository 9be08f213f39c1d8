//! Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Deadlines are absolute Unix milliseconds. The setters compute the absolute deadline in the
//! handler, so what they change is always "key expires at T" (or, for a deadline already
//! passed, "key deleted").

use bytes::Bytes;

use super::table::{Command, KeySpec, acl, flag, key_flag};
use super::{Ctx, arg_i64};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::{Access, NO_EXPIRY};

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    /// Redis's `parseExtendedExpireArgumentsOrReply`: every word after the time is an option.
    fn parse(ctx: &mut Ctx, options: &[Bytes]) -> Result<Option<Conditions>, Error> {
        let mut c = Conditions::default();
        for opt in options {
            if opt.eq_ignore_ascii_case(b"nx") {
                c.nx = true;
            } else if opt.eq_ignore_ascii_case(b"xx") {
                c.xx = true;
            } else if opt.eq_ignore_ascii_case(b"gt") {
                c.gt = true;
            } else if opt.eq_ignore_ascii_case(b"lt") {
                c.lt = true;
            } else {
                reply_unsupported_option(ctx, opt);
                return Ok(None);
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(Error::new(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(Error::new(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(Some(c))
    }

    /// Whether a key whose deadline is `current` (or `NO_EXPIRY`) may get deadline `when`.
    /// No deadline counts as an infinite one.
    fn allow(&self, current: i64, when: i64) -> bool {
        let persistent = current == NO_EXPIRY;
        !((self.nx && !persistent)
            || (self.xx && persistent)
            || (self.gt && (persistent || when <= current))
            || (self.lt && !persistent && when >= current))
    }
}

/// `ERR Unsupported option <opt>`, with the option's bytes as Redis prints them (up to a NUL,
/// line breaks turned into spaces).
fn reply_unsupported_option(ctx: &mut Ctx, opt: &[u8]) {
    let opt = match opt.iter().position(|&b| b == 0) {
        Some(nul) => &opt[..nul],
        None => opt,
    };
    let mut line = b"-ERR Unsupported option ".to_vec();
    line.extend(opt.iter().map(|&b| match b {
        b'\r' | b'\n' => b' ',
        b => b,
    }));
    line.extend_from_slice(b"\r\n");
    ctx.reply.raw(&line);
    ctx.reply.errors.push("ERR".to_string());
}

/// How the time argument of the EXPIRE family is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

/// The shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT (Redis's
/// `expireGenericCommand`): `relative` adds the current time to the argument.
///
/// Effect: `PEXPIREAT key <ms> [option ...]` (PEXPIREAT itself as requested); `DEL key`
/// (`UNLINK` with `lazyfree-lazy-expire yes`) for a deadline already past; nothing when the
/// key is missing or a condition fails.
fn expire_generic(ctx: &mut Ctx, args: &[Bytes], unit: Unit, relative: bool) -> CmdResult {
    let name = if relative {
        match unit {
            Unit::Seconds => "expire",
            Unit::Milliseconds => "pexpire",
        }
    } else {
        match unit {
            Unit::Seconds => "expireat",
            Unit::Milliseconds => "pexpireat",
        }
    };
    let Some(conditions) = Conditions::parse(ctx, &args[3..])? else {
        return Ok(());
    };
    let mut when = arg_i64(&args[2])?;
    if unit == Unit::Seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| error::invalid_expire(name))?;
    }
    let now = ctx.now_ms;
    if relative {
        when = when
            .checked_add(now)
            .ok_or_else(|| error::invalid_expire(name))?;
    }

    let key = &args[1];
    let Some(entry) = ctx.lookup_mut(key) else {
        ctx.reply.int(0);
        return Ok(());
    };
    if !conditions.allow(entry.expire_at_ms, when) {
        ctx.reply.int(0);
        return Ok(());
    }
    if when <= now && !crate::keyspace::expiry_suspended() {
        // A deadline already passed deletes the key (recorded as a deletion, not an expiry);
        // not while loading, where the deadline is set as logged.
        ctx.db().remove(key, now);
        ctx.modified(key);
        let delete = ctx.state.effects.expired_delete_command();
        ctx.propagate_as(&[delete, key]);
    } else {
        ctx.db().set_expire(key, when);
        ctx.modified(key);
        if name != "pexpireat" && ctx.propagating() {
            // The effect is the absolute deadline in milliseconds, the options as given.
            let mut digits = itoa::Buffer::new();
            let mut effect: Vec<&[u8]> = vec![b"PEXPIREAT", key, digits.format(when).as_bytes()];
            effect.extend(args[3..].iter().map(|opt| &opt[..]));
            ctx.propagate_as(&effect);
        }
    }
    ctx.reply.int(1);
    Ok(())
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, Unit::Seconds, true)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, Unit::Milliseconds, true)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, Unit::Seconds, false)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, Unit::Milliseconds, false)
}

/// The shared body of TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key, -1 for a
/// key without deadline, else the remaining (or absolute, `absolute`) time, never negative;
/// seconds are rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], unit: Unit, absolute: bool) -> CmdResult {
    let now = ctx.now_ms;
    let Some(entry) = ctx.db().get(key, now, Access::NoTouch) else {
        ctx.reply.int(-2);
        return Ok(());
    };
    let deadline = entry.expire_at_ms;
    if deadline == NO_EXPIRY {
        ctx.reply.int(-1);
        return Ok(());
    }
    let ms = if absolute {
        deadline
    } else {
        deadline.saturating_sub(now)
    }
    .max(0);
    let reply = match unit {
        Unit::Milliseconds => ms,
        Unit::Seconds => ((i128::from(ms) + 500) / 1000) as i64,
    };
    ctx.reply.int(reply);
    Ok(())
}

/// TTL key
fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Seconds, false)
}

/// PTTL key
fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Milliseconds, false)
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Seconds, true)
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], Unit::Milliseconds, true)
}

/// PERSIST key
fn persist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let had_deadline = ctx
        .lookup_mut(key)
        .is_some_and(|e| e.expire_at_ms != NO_EXPIRY);
    if had_deadline {
        ctx.db().set_expire(key, NO_EXPIRY);
        ctx.modified(key);
    }
    ctx.reply.int(i64::from(had_deadline));
    Ok(())
}

pub const COMMANDS: &[Command] = &[
    Command {
        name: "expire",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: expire,
        summary: "Set a key's time to live in seconds",
        since: "1.0.0",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)],
        history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
        ..Command::DEFAULT
    },
    Command {
        name: "pexpire",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: pexpire,
        summary: "Set a key's time to live in milliseconds",
        since: "2.6.0",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)],
        history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
        ..Command::DEFAULT
    },
    Command {
        name: "expireat",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: expireat,
        summary: "Set the expiration for a key as a UNIX timestamp",
        since: "1.2.0",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)],
        history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
        ..Command::DEFAULT
    },
    Command {
        name: "pexpireat",
        arity: -3,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: pexpireat,
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        since: "2.6.0",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)],
        history: &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
        ..Command::DEFAULT
    },
    Command {
        name: "ttl",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: ttl,
        summary: "Get the time to live for a key in seconds",
        since: "1.0.0",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        tips: &["nondeterministic_output"],
        history: &[("2.8.0", "Added the -2 reply.")],
        ..Command::DEFAULT
    },
    Command {
        name: "pttl",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: pttl,
        summary: "Get the time to live for a key in milliseconds",
        since: "2.6.0",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        tips: &["nondeterministic_output"],
        history: &[("2.8.0", "Added the -2 reply.")],
        ..Command::DEFAULT
    },
    Command {
        name: "expiretime",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: expiretime,
        summary: "Get the expiration Unix timestamp for a key",
        since: "7.0.0",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "pexpiretime",
        arity: 2,
        flags: flag::READONLY | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: pexpiretime,
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        since: "7.0.0",
        key_specs: &[KeySpec::range(key_flag::RO | key_flag::ACCESS, 1, 0, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "persist",
        arity: 2,
        flags: flag::WRITE | flag::FAST,
        acl: acl::KEYSPACE,
        first_key: 1,
        last_key: 1,
        key_step: 1,
        handler: persist,
        summary: "Remove the expiration from a key",
        since: "2.2.0",
        key_specs: &[KeySpec::range(key_flag::RW | key_flag::UPDATE, 1, 0, 1)],
        ..Command::DEFAULT
    },
];
