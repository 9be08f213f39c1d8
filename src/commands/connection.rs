//! Connection commands: PING, ECHO, SELECT, QUIT, ...

use bytes::Bytes;

use super::table::{Command, acl, flag};
use super::{Ctx, arg_i64};
use crate::error::{self, CmdResult};

/// PING [message]
fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.get(1) {
        Some(message) => ctx.reply.bulk(message),
        None => ctx.reply.simple("PONG"),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.reply.bulk(&args[1]);
    Ok(())
}

/// SELECT index
fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let index = arg_i64(&args[1]).map_err(|_| error::INVALID_DB_INDEX)?;
    if index < 0 || index as usize >= ctx.state.store.dbs.len() {
        return Err(error::DB_INDEX_OUT_OF_RANGE);
    }
    ctx.client.db = index as usize;
    ctx.reply.ok();
    Ok(())
}

/// QUIT
fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

pub const COMMANDS: &[Command] = &[
    Command {
        name: "ping",
        arity: -1,
        flags: flag::FAST,
        acl: acl::CONNECTION,
        handler: ping,
        group: "connection",
        summary: "Ping the server",
        ..Command::DEFAULT
    },
    Command {
        name: "echo",
        arity: 2,
        flags: flag::FAST,
        acl: acl::CONNECTION,
        handler: echo,
        group: "connection",
        summary: "Echo the given string",
        ..Command::DEFAULT
    },
    Command {
        name: "select",
        arity: 2,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        acl: acl::CONNECTION,
        handler: select,
        group: "connection",
        summary: "Change the selected database for the current connection",
        ..Command::DEFAULT
    },
    Command {
        name: "quit",
        arity: -1,
        flags: flag::ALLOW_BUSY
            | flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::FAST
            | flag::NO_AUTH,
        acl: acl::CONNECTION,
        handler: quit,
        group: "connection",
        summary: "Close the connection",
        ..Command::DEFAULT
    },
];
