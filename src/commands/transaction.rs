//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queued commands run under the keyspace lock EXEC already holds, so nothing interleaves
//! with them. WATCH registers the client on the key in its db; any change to the key (or its
//! expiry, FLUSH*, SWAPDB) sets the client's dirty flag and EXEC then answers a null array.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::table::{Command, KeySpec, acl, flag, key_flag};
use super::{Ctx, resolve};
use crate::error::{self, CmdResult};
use crate::keyspace::Store;
use crate::server::client::Client;

pub const COMMANDS: &[Command] = &[
    Command {
        name: "multi",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY,
        acl: acl::TRANSACTION,
        handler: multi,
        group: "transactions",
        summary: "Mark the start of a transaction block",
        since: "1.2.0",
        ..Command::DEFAULT
    },
    Command {
        name: "exec",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::SKIP_SLOWLOG,
        acl: acl::TRANSACTION,
        handler: exec,
        group: "transactions",
        summary: "Execute all commands issued after MULTI",
        since: "1.2.0",
        complexity: "Depends on commands in the transaction",
        ..Command::DEFAULT
    },
    Command {
        name: "discard",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY,
        acl: acl::TRANSACTION,
        handler: discard,
        group: "transactions",
        summary: "Discard all commands issued after MULTI",
        since: "2.0.0",
        complexity: "O(N), when N is the number of queued commands",
        ..Command::DEFAULT
    },
    Command {
        name: "watch",
        arity: -2,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY,
        acl: acl::TRANSACTION,
        first_key: 1,
        last_key: -1,
        key_step: 1,
        handler: watch,
        group: "transactions",
        summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
        since: "2.2.0",
        complexity: "O(1) for every key.",
        key_specs: &[KeySpec::range(key_flag::RO, 1, -1, 1)],
        ..Command::DEFAULT
    },
    Command {
        name: "unwatch",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY,
        acl: acl::TRANSACTION,
        handler: unwatch,
        group: "transactions",
        summary: "Forget about all watched keys",
        since: "2.2.0",
        ..Command::DEFAULT
    },
];

/// MULTI
fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(error::MULTI_NESTED);
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.reply.ok();
    Ok(())
}

/// DISCARD
fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(error::DISCARD_WITHOUT_MULTI);
    }
    discard_transaction(&mut ctx.state.store, ctx.client);
    ctx.reply.ok();
    Ok(())
}

/// Leaves MULTI state and drops the WATCHes, as Redis's `discardTransaction`.
pub fn discard_transaction(store: &mut Store, client: &mut Client) {
    client.multi = None;
    client.multi_error = false;
    unwatch_all(store, client);
}

/// EXEC
fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(error::EXEC_WITHOUT_MULTI);
    };
    if ctx.client.multi_error {
        discard_transaction(&mut ctx.state.store, ctx.client);
        return Err(error::EXECABORT);
    }
    let now = ctx.now_ms;
    let id = ctx.client.id;
    let expired = ctx
        .client
        .watched
        .iter()
        .any(|(db, key)| ctx.state.store.dbs[*db].watched_key_expired(key, id, now));
    if ctx.client.watch_dirty.load(Ordering::Relaxed) || expired {
        discard_transaction(&mut ctx.state.store, ctx.client);
        ctx.reply.null_array();
        return Ok(());
    }
    // Keys are unwatched before running: the transaction's own writes must not mark it dirty.
    unwatch_all(&mut ctx.state.store, ctx.client);
    ctx.reply.array(queue.len());
    for args in &queue {
        match resolve(args) {
            // The rules may have changed since the command was queued.
            Ok(command)
                if !ctx.state.acl.unrestricted
                    && let Err(err) = super::access_control::check(
                        ctx.server, ctx.state, ctx.client, command, args, true,
                    ) =>
            {
                ctx.reply.error_bytes(err.bytes())
            }
            Ok(command) => super::call(ctx.server, ctx.state, ctx.client, ctx.reply, command, args),
            Err(err) => ctx.reply.error_bytes(err.bytes()),
        }
    }
    ctx.client.multi_error = false;
    Ok(())
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(error::WATCH_IN_MULTI);
    }
    // Watching a dirty client's keys again is pointless: EXEC will fail anyway.
    if !ctx.client.watch_dirty.load(Ordering::Relaxed) {
        let now = ctx.now_ms;
        let db = ctx.client.db;
        for key in &args[1..] {
            if ctx.client.watched.iter().any(|(d, k)| *d == db && k == key) {
                continue;
            }
            ctx.state.store.dbs[db].watch(key, ctx.client.id, &ctx.client.watch_dirty, now);
            ctx.client.watched.push((db, key.clone()));
        }
    }
    ctx.reply.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    unwatch_all(&mut ctx.state.store, ctx.client);
    ctx.reply.ok();
    Ok(())
}

/// Drops every WATCH of the client and clears its dirty flag.
pub fn unwatch_all(store: &mut Store, client: &mut Client) {
    for (db, key) in client.watched.drain(..) {
        if let Some(db) = store.dbs.get_mut(db) {
            db.unwatch(&key, client.id);
        }
    }
    client.watch_dirty.store(false, Ordering::Relaxed);
}
