//! Command dispatch: look the name up in the table, apply the generic checks Redis applies
//! (arity, authentication, MULTI queueing, pause), run the handler, account for it.
//!
//! One family per file; each exports `COMMANDS`, its slice of the table.

pub mod access_control;
pub mod blocking;
pub mod connection;
pub mod expire;
pub mod hash;
pub mod keys;
pub mod list;
pub mod propagate;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod table;
pub mod transaction;
pub mod zset;

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

pub use table::{Command, acl, flag};

use crate::error::{self, Error};
use crate::keyspace::{Access, Db, Entry};
use crate::protocol::Reply;
use crate::server::Server;
use crate::server::client::{CLIENT_ID_AOF, Client};
use crate::server::evict;
use crate::server::state::State;

/// Every family's slice of the table.
const FAMILIES: &[&[Command]] = &[
    string::COMMANDS,
    list::COMMANDS,
    keys::COMMANDS,
    expire::COMMANDS,
    connection::COMMANDS,
    server::COMMANDS,
    transaction::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    zset::COMMANDS,
    sort::COMMANDS,
    access_control::COMMANDS,
];

/// Top-level commands by lowercase name.
static TABLE: LazyLock<HashMap<&'static str, &'static Command, foldhash::fast::RandomState>> =
    LazyLock::new(|| {
        let mut table = HashMap::default();
        for family in FAMILIES {
            for command in *family {
                let previous = table.insert(command.name, command);
                assert!(
                    previous.is_none(),
                    "command {} registered twice",
                    command.name
                );
            }
        }
        table
    });

pub fn all_commands() -> impl Iterator<Item = &'static Command> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// Finds a top-level command by name, any case.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    let name = std::str::from_utf8(&lower[..name.len()]).ok()?;
    TABLE.get(name).copied()
}

/// The command `args` names, as Redis's `lookupCommand`: the subcommand of a container (or
/// the container itself when no subcommand is given), `None` when there is no such command.
pub fn find(args: &[Bytes]) -> Option<&'static Command> {
    let command = lookup(&args[0])?;
    if command.subcommands.is_empty() || args.len() < 2 {
        return Some(command);
    }
    command
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes()[command.name.len() + 1..].eq_ignore_ascii_case(&args[1]))
}

/// Resolves `args` to the command (or subcommand) to run, or the error Redis gives.
pub fn resolve(args: &[Bytes]) -> Result<&'static Command, Error> {
    check(find(args), args)
}

/// The existence and arity checks of a command found by [`find`].
fn check(found: Option<&'static Command>, args: &[Bytes]) -> Result<&'static Command, Error> {
    let Some(command) = found else {
        return Err(match lookup(&args[0]) {
            Some(container) => error::unknown_subcommand(&args[1], container.name),
            None => error::unknown_command(args),
        });
    };
    // `find` gives a container only when no subcommand was named: it then runs itself if its
    // arity allows (bare COMMAND), as Redis does.
    if !command.arity_ok(args.len()) {
        return Err(error::wrong_arity(command.name));
    }
    Ok(command)
}

/// The command whose `rejected_calls` a refused request counts on, as Redis counts it: the
/// subcommand when it exists, the command itself otherwise, nothing for an unknown one.
fn charged_for_rejection(args: &[Bytes]) -> Option<&'static str> {
    let command = lookup(&args[0])?;
    if command.subcommands.is_empty() || args.len() < 2 {
        return Some(command.name);
    }
    command
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes()[command.name.len() + 1..].eq_ignore_ascii_case(&args[1]))
        .map(|s| s.name)
}

/// Everything a handler may touch while it runs. The keyspace lock is held for its lifetime.
pub struct Ctx<'a> {
    pub server: &'a Server,
    pub state: &'a mut State,
    pub client: &'a mut Client,
    pub reply: &'a mut Reply,
    /// The command's clock: one reading per command, so a command sees one instant.
    pub now_ms: i64,
    /// How the request is to be recorded as an effect, as the handler declared it
    /// ([`propagate`]).
    pub declared: propagate::Declared,
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        &mut self.state.store.dbs[self.client.db]
    }

    /// Looks `key` up in the selected db for reading (counted in `keyspace_hits`/`misses`).
    pub fn lookup(&mut self, key: &[u8]) -> Option<&Entry> {
        let now = self.now_ms;
        let db = self.client.db;
        let state = &mut *self.state;
        let found = state.store.dbs[db].get(key, now, Access::Touch);
        if found.is_some() {
            state.stats.keyspace_hits += 1;
        } else {
            state.stats.keyspace_misses += 1;
        }
        found
    }

    pub fn lookup_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let now = self.now_ms;
        let db = self.client.db;
        self.state.store.dbs[db].get_mut(key, now, Access::Touch)
    }

    /// Records that `key` in the selected db changed: WATCHers see it, saves count it.
    pub fn modified(&mut self, key: &[u8]) {
        let db = self.client.db;
        self.modified_in(db, key);
    }

    pub fn modified_in(&mut self, db: usize, key: &[u8]) {
        self.state.store.dbs[db].touch(key);
        self.state.blocking.signal(db, key);
        self.state.store.dirty += 1;
    }

    /// Tells WATCHers of `key` in `db` that it changed, without counting another change: for
    /// the second key of a command Redis counts once (RENAME's destination, MOVE's target).
    pub fn signal_watchers_in(&mut self, db: usize, key: &[u8]) {
        self.state.store.dbs[db].touch(key);
        self.state.blocking.signal(db, key);
    }
}

/// Runs one request through the generic checks and, if they pass, its handler (or queues it
/// inside MULTI). Replies go to `reply`.
pub fn execute(
    server: &Server,
    state: &mut State,
    client: &mut Client,
    reply: &mut Reply,
    args: &[Bytes],
) {
    let found = find(args);
    client.last_command = found.map(|c| c.name);
    let command = match check(found, args) {
        Ok(command) => command,
        Err(err) => return reject(state, client, reply, charged_for_rejection(args), &err),
    };

    if command.has(flag::PROTECTED)
        && !server.protected_action_allowed("enable-debug-command", client)
    {
        return reject(
            state,
            client,
            reply,
            Some(command.name),
            &error::DEBUG_DISABLED,
        );
    }

    if !client.authenticated && !command.has(flag::NO_AUTH) && server.auth_required() {
        return reject(state, client, reply, Some(command.name), &error::NOAUTH);
    }

    // Redis refuses a command that cannot be queued before the ACL and memory checks.
    if client.multi.is_some()
        && command.has(flag::NO_MULTI)
        && !matches!(
            command.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        let err = Error::new("ERR Command not allowed inside a transaction");
        return reject(state, client, reply, Some(command.name), &err);
    }

    // One boolean while every user may run everything (the default user alone, say). The
    // AOF's replay is not a user's: Redis's AOF client has no user and no ACL check.
    if !state.acl.unrestricted
        && client.id != CLIENT_ID_AOF
        && let Err(err) = access_control::check(server, state, client, command, args, false)
    {
        return reject(state, client, reply, Some(command.name), &err);
    }

    // maxmemory: evict what the policy allows before the command; when nothing more can be
    // evicted, refuse what may grow memory.
    if state.eviction.settings.maxmemory_bytes != 0 && client.id != CLIENT_ID_AOF {
        let out_of_memory = evict::perform(server, state) == evict::Outcome::Fail;
        if out_of_memory && denied_when_out_of_memory(command, client) {
            return reject(state, client, reply, Some(command.name), &error::OOM);
        }
    }

    // A MONITOR client is a replica to Redis: it may not touch the keyspace.
    if client.is_monitor()
        && (command.is_write() || command.has(flag::READONLY) || command.has(flag::MAY_REPLICATE))
        && !(client.multi.is_some() && command.has(flag::NO_MULTI))
    {
        let err = Error::new("ERR Replica can't interact with the keyspace");
        return reject(state, client, reply, Some(command.name), &err);
    }

    // An AOF that cannot be written refuses writes (and PING, as Redis) until it can.
    if (command.is_write() || command.name == "ping")
        && let Some(aof) = server.aof_slot.read().as_ref()
        && let Some(text) = aof.write_error()
    {
        let err = Error::owned(format!("MISCONF Errors writing to the AOF file: {text}"));
        return reject(state, client, reply, Some(command.name), &err);
    }
    // So does a failing background save with `save` points and
    // `stop-writes-on-bgsave-error yes`.
    if (command.is_write() || command.name == "ping") && server.rdb.refuses_writes() {
        let err = Error::new(crate::persistence::snapshot::MISCONF);
        return reject(state, client, reply, Some(command.name), &err);
    }

    // While the dataset loads, only commands flagged `loading` run (EXEC only if everything
    // it would run is); Redis checks NO_MULTI inside MULTI first.
    if server.loading.is_active()
        && client.id != CLIENT_ID_AOF
        && !(client.multi.is_some() && command.has(flag::NO_MULTI))
        && denied_while_loading(command, client)
    {
        return reject(state, client, reply, Some(command.name), &error::LOADING);
    }

    if let Some(queue) = client.multi.as_mut()
        && !matches!(
            command.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        if command.has(flag::NO_MULTI) {
            let err = Error::new("ERR Command not allowed inside a transaction");
            return reject(state, client, reply, Some(command.name), &err);
        }
        queue.push(args.to_vec());
        reply.raw(b"+QUEUED\r\n");
        return;
    }

    call(server, state, client, reply, command, args);
}

/// Whether an out-of-memory server refuses `command` (Redis's `processCommand`): it is
/// flagged `denyoom`, or it is EXEC with such a command queued, or the client is inside
/// MULTI (queueing takes memory) and it is not EXEC, DISCARD, QUIT or RESET.
fn denied_when_out_of_memory(command: &Command, client: &Client) -> bool {
    if command.has(flag::DENYOOM) {
        return true;
    }
    let Some(queue) = client.multi.as_ref() else {
        return false;
    };
    match command.name {
        "exec" => queue
            .iter()
            .any(|args| find(args).is_some_and(|c| c.has(flag::DENYOOM))),
        "discard" | "quit" | "reset" => false,
        _ => true,
    }
}

/// Whether loading refuses `command`: it lacks the `loading` flag, or it is EXEC and one of
/// the queued commands lacks it.
fn denied_while_loading(command: &Command, client: &Client) -> bool {
    if !command.has(flag::LOADING) {
        return true;
    }
    command.name == "exec"
        && client.multi.as_ref().is_some_and(|queue| {
            queue
                .iter()
                .any(|args| find(args).is_none_or(|c| !c.has(flag::LOADING)))
        })
}

/// Refuses a command before it runs (Redis's `rejectCommand`): inside MULTI the transaction is
/// flagged to abort, and a refused EXEC discards it with an EXECABORT naming the reason.
fn reject(
    state: &mut State,
    client: &mut Client,
    reply: &mut Reply,
    command: Option<&'static str>,
    err: &Error,
) {
    state.stats.rejected_call(command, err);
    if command == Some("exec") {
        transaction::discard_transaction(&mut state.store, client);
        let reason = err.bytes().strip_prefix(b"ERR ").unwrap_or(err.bytes());
        let mut text = b"EXECABORT Transaction discarded because of: ".to_vec();
        text.extend_from_slice(reason);
        reply.error_bytes(&text);
        return;
    }
    if client.multi.is_some() {
        client.multi_error = true;
    }
    reply.error_bytes(err.bytes());
}

/// Runs a resolved command's handler and accounts for it (commandstats, errorstats, slowlog,
/// MONITOR). EXEC calls this for each queued command.
pub fn call(
    server: &Server,
    state: &mut State,
    client: &mut Client,
    reply: &mut Reply,
    command: &'static Command,
    args: &[Bytes],
) {
    // One clock for the command's notion of "now" and its duration: two readings per call.
    let started_us = crate::util::now_us();
    let now_ms = started_us / 1000;
    let errors_before = reply.errors.len();
    // A top-level command (EXEC with what it runs) is one unit of effects.
    let top_level = client.call_depth == 0;
    if top_level && state.effects.is_enabled() {
        state.effects.begin_unit(now_ms);
    }
    let dirty_before = state.store.dirty;
    client.call_depth += 1;
    let (result, declared) = {
        let mut ctx = Ctx {
            server,
            state,
            client,
            reply,
            now_ms,
            declared: propagate::Declared::default(),
        };
        let result = (command.handler)(&mut ctx, args);
        ctx.state.drain_expired();
        (result, ctx.declared)
    };
    client.call_depth -= 1;
    if state.effects.is_enabled() {
        let changed = state.store.dirty != dirty_before;
        let is_exec = command.name == "exec";
        propagate::propagate_request(
            &mut state.effects,
            client.db,
            args,
            declared,
            changed,
            is_exec,
        );
        if top_level {
            state.effects.end_unit();
        }
    }
    // Clients blocked on keys this command (or transaction) made ready are served now.
    if top_level && state.blocking.has_ready() {
        blocking::serve_ready(server, state);
    }
    if let Err(err) = &result {
        reply.error_bytes(err.bytes());
    }
    let duration_us = (crate::util::now_us() - started_us).max(0) as u64;
    let failed = reply.errors.len() > errors_before;
    state.stats.record_call(command.name, duration_us, failed);
    for code in reply.errors.drain(errors_before..) {
        state.stats.record_error(&code);
    }
    // Passwords never reach the slow log or MONITOR.
    let redacted;
    let shown = if client.redacted.is_empty() {
        args
    } else {
        redacted = redact(args, &std::mem::take(&mut client.redacted));
        &redacted[..]
    };
    if !command.has(flag::SKIP_SLOWLOG) {
        state
            .slowlog
            .maybe_record(server, client, shown, duration_us);
    }
    let threshold_ms = server
        .limits
        .latency_monitor_threshold_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    if threshold_ms > 0 && duration_us / 1000 >= threshold_ms as u64 {
        let event = if command.has(flag::FAST) {
            "fast-command"
        } else {
            "command"
        };
        state
            .latency
            .add_sample(event, duration_us / 1000, now_ms / 1000);
    }
    // After the command, as Redis: SELECT shows the db it selected.
    if server.monitors_active()
        && !command.has(flag::SKIP_MONITOR)
        && !command.has(flag::ADMIN)
        && client.id != CLIENT_ID_AOF
    {
        server.feed_monitors(client, shown);
    }
}

/// `args` with the arguments at `positions` replaced by `(redacted)`.
fn redact(args: &[Bytes], positions: &[usize]) -> Vec<Bytes> {
    let mut shown = args.to_vec();
    for &i in positions {
        if let Some(arg) = shown.get_mut(i) {
            *arg = Bytes::from_static(b"(redacted)");
        }
    }
    shown
}

// ---- argument helpers shared by the families ----

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub fn arg_i64(arg: &[u8]) -> Result<i64, Error> {
    crate::util::parse_i64(arg).ok_or(error::NOT_INTEGER)
}

/// Parses a float argument (`ERR value is not a valid float`).
pub fn arg_f64(arg: &[u8]) -> Result<f64, Error> {
    crate::util::parse_f64(arg).ok_or(error::NOT_FLOAT)
}

pub fn eq_ignore_case(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod lookup_tests {
    #[test]
    fn every_registered_command_is_found_by_name() {
        for command in super::all_commands() {
            assert!(
                super::lookup(command.name.as_bytes()).is_some(),
                "{}",
                command.name
            );
            assert!(
                super::lookup(command.name.to_uppercase().as_bytes()).is_some(),
                "{}",
                command.name
            );
        }
    }
}
