//! Server commands: INFO, CONFIG, COMMAND, DBSIZE, FLUSHALL, DEBUG, TIME, ...

use bytes::Bytes;

use super::Ctx;
use super::table::{Command, acl, flag};
use crate::error::CmdResult;

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let len = ctx.db().len() as i64;
    ctx.reply.int(len);
    Ok(())
}

pub const COMMANDS: &[Command] = &[Command {
    name: "dbsize",
    arity: 1,
    flags: flag::READONLY | flag::FAST,
    acl: acl::KEYSPACE,
    handler: dbsize,
    group: "server",
    summary: "Return the number of keys in the selected database",
    ..Command::DEFAULT
}];
