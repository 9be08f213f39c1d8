//! The command table: one declarative entry per command, the single source of truth for
//! arity, flags, ACL categories, key positions, `COMMAND` output and (with #3) what is logged.

use bytes::Bytes;

use super::Ctx;
use crate::error::CmdResult;

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;
/// For commands whose keys are not at fixed positions: the argument indexes that are keys,
/// each with its key-spec flags (Redis's `getkeys_proc`).
pub type KeysFn = fn(&[Bytes]) -> Vec<(usize, u32)>;
/// For commands whose key flags depend on the arguments: the flags for this call.
pub type VariableKeyFlags = fn(&[Bytes]) -> u32;

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

/// Key-spec flags (Redis 7.0's `CMD_KEY_*`), named and ordered as `COMMAND INFO` prints them.
pub mod key_flag {
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// Documentation flags (`COMMAND DOCS` `doc_flags`).
pub mod doc_flag {
    pub const DEPRECATED: u32 = 1 << 0;
    pub const SYSCMD: u32 = 1 << 1;

    pub const NAMES: &[(u32, &str)] = &[(DEPRECATED, "deprecated"), (SYSCMD, "syscmd")];
}

/// Where the search for a key spec's keys begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After the last (or, with a negative `startfrom`, first from the end) occurrence of a
    /// keyword, searching from `startfrom`.
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    Unknown,
}

/// How the keys are found once the search has begun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// `lastkey` relative to the begin index (negative: from the end), every `keystep`;
    /// `limit` > 1 divides the remaining arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The number of keys is the argument at `keynumidx` (relative to the begin index).
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

/// One Redis 7.0 key specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: u32,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    /// The common shape: keys from the fixed index `index` to `lastkey` (relative to `index`;
    /// negative: counted from the end), every `keystep`.
    pub const fn range(flags: u32, index: i32, lastkey: i32, keystep: i32) -> KeySpec {
        KeySpec {
            notes: "",
            flags,
            begin: BeginSearch::Index(index),
            find: FindKeys::Range {
                lastkey,
                keystep,
                limit: 0,
            },
        }
    }
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
    /// For key specs marked `variable_flags`: the flags the keys have in the given call
    /// (SET's depend on its `GET` option). COMMAND GETKEYSANDFLAGS reports these.
    pub variable_key_flags: Option<VariableKeyFlags>,
    pub handler: Handler,
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub subcommands: &'static [Command],
    /// Explicit key specs; when empty, one is derived from `first_key`/`last_key`/`key_step`
    /// and the command flags ([`Command::key_specs`]).
    pub key_specs: &'static [KeySpec],
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    /// `(version, change)` pairs for COMMAND DOCS `history`.
    pub history: &'static [(&'static str, &'static str)],
    /// [`doc_flag`] bits.
    pub doc_flags: u32,
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
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
        variable_key_flags: None,
        handler: no_handler,
        group: "generic",
        summary: "",
        since: "1.0.0",
        complexity: "O(1)",
        subcommands: &[],
        key_specs: &[],
        tips: &[],
        history: &[],
        doc_flags: 0,
        deprecated_since: "",
        replaced_by: "",
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

    /// True if the command takes key arguments at all (COMMAND GETKEYS refuses others).
    pub fn has_keys(&self) -> bool {
        self.keys_fn.is_some()
            || self.first_key > 0
            || self
                .key_specs
                .iter()
                .any(|spec| spec.flags & key_flag::NOT_KEY == 0)
    }

    /// True when the key positions depend on the arguments (Redis's `movablekeys`).
    pub fn movable_keys(&self) -> bool {
        self.keys_fn.is_some()
            || self.key_specs.iter().any(|spec| {
                !matches!(spec.begin, BeginSearch::Index(_))
                    || !matches!(spec.find, FindKeys::Range { .. })
            })
    }

    /// The command's key specs: the explicit ones, or the one the legacy key range implies.
    /// Derived flags: read-only commands read their keys (`RO access`), writing commands
    /// read-modify-write them (`RW update`), others only look at them (`RO`).
    pub fn key_specs(&self) -> std::borrow::Cow<'static, [KeySpec]> {
        if !self.key_specs.is_empty() || self.first_key <= 0 {
            return std::borrow::Cow::Borrowed(self.key_specs);
        }
        let flags = if self.has(flag::WRITE) {
            key_flag::RW | key_flag::UPDATE
        } else if self.has(flag::READONLY) {
            key_flag::RO | key_flag::ACCESS
        } else {
            key_flag::RO
        };
        let lastkey = if self.last_key < 0 {
            self.last_key
        } else {
            self.last_key - self.first_key
        };
        std::borrow::Cow::Owned(vec![KeySpec {
            notes: "",
            flags,
            begin: BeginSearch::Index(self.first_key),
            find: FindKeys::Range {
                lastkey,
                keystep: self.key_step.max(1),
                limit: 0,
            },
        }])
    }

    /// The flags COMMAND INFO shows: the table's, plus `movablekeys` when it applies.
    /// `may_replicate` and `protected` are hidden, as Redis hides them.
    pub fn info_flags(&self) -> u32 {
        let mut flags = self.flags & !(flag::MAY_REPLICATE | flag::PROTECTED);
        if self.movable_keys() {
            flags |= flag::MOVABLEKEYS;
        }
        flags
    }

    /// The indexes of the key arguments in `args`.
    pub fn key_positions(&self, args: &[Bytes]) -> Vec<usize> {
        if let Some(keys_fn) = self.keys_fn {
            return keys_fn(args).into_iter().map(|(pos, _)| pos).collect();
        }
        self.keys_from_specs(args)
            .map(|keys| keys.into_iter().map(|(pos, _)| pos).collect())
            .unwrap_or_default()
    }

    /// The key arguments and their key-spec flags, found through the key specs as Redis 7.0
    /// finds them; `None` when the arguments contradict a spec (a missing or bad key count,
    /// a range past the end).
    pub fn keys_from_specs(&self, args: &[Bytes]) -> Option<Vec<(usize, u32)>> {
        let argc = args.len() as i64;
        let mut keys = Vec::new();
        for spec in self.key_specs().iter() {
            if spec.flags & key_flag::NOT_KEY != 0 {
                continue;
            }
            let mut first: i64 = match spec.begin {
                BeginSearch::Index(pos) => pos as i64,
                BeginSearch::Keyword { keyword, startfrom } => {
                    // The keyword is never the last argument (a key must follow it) and,
                    // searching backwards, never the command name's neighbour at index 1.
                    let is_keyword =
                        |i: &i64| args[*i as usize].eq_ignore_ascii_case(keyword.as_bytes());
                    let found = if startfrom > 0 {
                        (startfrom as i64..argc - 1).find(is_keyword)
                    } else {
                        let start = argc + startfrom as i64;
                        if start >= argc {
                            None
                        } else {
                            (2..=start).rev().find(is_keyword)
                        }
                    };
                    match found {
                        Some(i) => i + 1,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => return None,
            };
            let (last, step) = match spec.find {
                FindKeys::Range {
                    lastkey,
                    keystep,
                    limit,
                } => {
                    let last = if lastkey >= 0 {
                        first + lastkey as i64
                    } else if limit <= 0 {
                        argc + lastkey as i64
                    } else {
                        first + ((argc - first) / limit as i64 + lastkey as i64)
                    };
                    (last, keystep.max(1) as i64)
                }
                FindKeys::Keynum {
                    keynumidx,
                    firstkey,
                    keystep,
                } => {
                    let at = first + keynumidx as i64;
                    if at >= argc || at < 0 {
                        return None;
                    }
                    let numkeys = crate::util::parse_i64(&args[at as usize])?;
                    if numkeys < 0 {
                        return None;
                    }
                    first += firstkey as i64;
                    (first + numkeys - 1, keystep.max(1) as i64)
                }
                FindKeys::Unknown => return None,
            };
            if last >= argc || last < first || first >= argc {
                return None;
            }
            let flags = match self.variable_key_flags {
                Some(resolve) if spec.flags & key_flag::VARIABLE_FLAGS != 0 => resolve(args),
                _ => spec.flags,
            };
            let mut i = first;
            while i <= last {
                keys.push((i as usize, flags));
                i += step;
            }
            if spec.flags & key_flag::INCOMPLETE != 0 {
                return None;
            }
        }
        Some(keys)
    }
}
