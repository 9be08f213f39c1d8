//! The command table: one declarative entry per command, the single source of truth for
//! arity, flags, ACL categories, key positions, `COMMAND` output and (with #3) what is logged.

use bytes::Bytes;

use super::Ctx;
use crate::error::CmdResult;

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;
/// For commands whose keys are not at fixed positions: the argument indexes that are keys.
pub type KeysFn = fn(&[Bytes]) -> Vec<usize>;

/// Command flags, named and ordered as Redis 7.0 prints them in `COMMAND INFO`.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const MAY_REPLICATE: u32 = 1 << 15;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const PROTECTED: u32 = 1 << 19;
    pub const NO_ASYNC_LOADING: u32 = 1 << 21;
    pub const NO_MULTI: u32 = 1 << 22;
    pub const MOVABLEKEYS: u32 = 1 << 23;
    pub const ALLOW_BUSY: u32 = 1 << 24;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories, named and ordered as Redis 7.0 lists them.
pub mod acl {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    pub const NAMES: &[&str] = &[
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
    ];
}

/// One command (or subcommand: then `name` is `container|sub`, as Redis names it).
#[derive(Debug)]
pub struct Command {
    pub name: &'static str,
    /// Redis's convention: `n` means exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    pub flags: u32,
    /// Explicit ACL categories; the implicit ones come from the flags ([`Command::acl_categories`]).
    pub acl: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub keys_fn: Option<KeysFn>,
    pub handler: Handler,
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub subcommands: &'static [Command],
}

fn no_handler(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    Ok(())
}

impl Command {
    /// The defaults the table entries start from with `..Command::DEFAULT`.
    pub const DEFAULT: Command = Command {
        name: "",
        arity: 0,
        flags: 0,
        acl: 0,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        keys_fn: None,
        handler: no_handler,
        group: "generic",
        summary: "",
        since: "1.0.0",
        complexity: "O(1)",
        subcommands: &[],
    };

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flag::WRITE)
    }

    /// The explicit categories plus those Redis derives from the flags.
    pub fn acl_categories(&self) -> u32 {
        let mut categories = self.acl;
        if self.has(flag::WRITE) {
            categories |= acl::WRITE;
        }
        if self.has(flag::READONLY) && categories & acl::SCRIPTING == 0 {
            categories |= acl::READ;
        }
        if self.has(flag::ADMIN) {
            categories |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.has(flag::PUBSUB) {
            categories |= acl::PUBSUB;
        }
        if self.has(flag::FAST) {
            categories |= acl::FAST;
        }
        if self.has(flag::BLOCKING) {
            categories |= acl::BLOCKING;
        }
        if categories & acl::FAST == 0 {
            categories |= acl::SLOW;
        }
        categories
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The indexes of the key arguments in `args`.
    pub fn key_positions(&self, args: &[Bytes]) -> Vec<usize> {
        if let Some(keys_fn) = self.keys_fn {
            return keys_fn(args);
        }
        if self.first_key <= 0 {
            return Vec::new();
        }
        let argc = args.len() as i32;
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key
        };
        let step = self.key_step.max(1);
        let mut positions = Vec::new();
        let mut i = self.first_key;
        while i <= last && i < argc {
            positions.push(i as usize);
            i += step;
        }
        positions
    }
}
