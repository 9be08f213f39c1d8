//! Generic keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, ... and expiry.

use bytes::Bytes;

use super::Ctx;
use super::table::{Command, acl, flag};
use crate::error::CmdResult;

/// DEL key [key ...]
fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let mut deleted = 0;
    for key in &args[1..] {
        if ctx.db().remove(key, now).is_some() {
            ctx.modified(key);
            deleted += 1;
        }
    }
    ctx.reply.int(deleted);
    Ok(())
}

/// EXISTS key [key ...]
fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut count = 0;
    for key in &args[1..] {
        if ctx.lookup(key).is_some() {
            count += 1;
        }
    }
    ctx.reply.int(count);
    Ok(())
}

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
        complexity: "O(N) where N is the number of keys that will be removed.",
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
        since: "1.0.0",
        complexity: "O(N) where N is the number of keys to check.",
        ..Command::DEFAULT
    },
];
