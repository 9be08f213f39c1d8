//! Server commands: COMMAND, INFO, CONFIG, DEBUG, SLOWLOG, LATENCY, MEMORY, FUNCTION FLUSH,
//! TIME, SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF, ROLE, SHUTDOWN.
//!
//! COMMAND answers from the one command table (`crate::commands::all_commands()`), so every
//! family's commands describe themselves. Not implemented yet (they answer "unknown
//! subcommand"): LATENCY GRAPH, MEMORY STATS, and FUNCTION subcommands other than FLUSH, since
//! kopi has no functions. SHUTDOWN saves `dump.rdb` as Redis does (with `save` points or
//! SAVE); SAVE, BGSAVE and DEBUG RELOAD go through `persistence::snapshot`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::table::{BeginSearch, Command, FindKeys, KeySpec, acl, doc_flag, flag, key_flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::keyspace::digest::{Digest, mix_digest, xor_digest};
use crate::keyspace::{Access, Entry, Store, StringValue, Value};
use crate::protocol::Reply;

// ---- digests (DEBUG DIGEST, DEBUG DIGEST-VALUE) ----

fn hex(digest: &Digest) -> String {
    let mut out = String::with_capacity(40);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The digest of one key's value and expiry, as Redis's `xorObjectDigest` builds it, so
/// digests match Redis's for the same data. Every type must describe its content here
/// (ordered types mix their elements, unordered ones xor them: [`Value::digest`]).
fn entry_digest(entry: &Entry, digest: &mut Digest) {
    mix_digest(digest, &entry.value.type_code().to_be_bytes());
    entry.value.digest(digest);
    if entry.expire_at_ms != crate::keyspace::NO_EXPIRY {
        xor_digest(digest, b"!!expire!!");
    }
}

/// DEBUG DIGEST: the digest of every db's keys and values (all zeros for an empty dataset).
/// Each key's digest is folded in with [`xor_digest`] (order-free); each db's id is mixed in
/// first.
fn dataset_digest(store: &Store) -> Digest {
    let mut total = [0u8; 20];
    for (index, db) in store.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_digest(&mut total, &(index as u32).to_be_bytes());
        for entry in db.data.iter() {
            let mut digest = [0u8; 20];
            mix_digest(&mut digest, &entry.key);
            entry_digest(entry, &mut digest);
            xor_digest(&mut total, &digest);
        }
    }
    total
}

// ---- shared helpers ----

/// A HELP reply as Redis's `addReplyHelp` writes it: a header naming the command, the
/// lines, and the HELP entry, all as status replies.
pub(super) fn help_reply(reply: &mut Reply, command: &[u8], lines: &[&str]) {
    reply.array(lines.len() + 3);
    reply.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(command).to_uppercase()
    ));
    for line in lines {
        reply.simple(line);
    }
    reply.simple("HELP");
    reply.simple("    Prints this help.");
}

/// `ERR unknown subcommand or wrong number of arguments for 'x'. Try CMD HELP.`
pub(super) fn subcommand_syntax_error(args: &[Bytes]) -> Error {
    let sub = &args[1][..args[1].len().min(128)];
    Error::owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        String::from_utf8_lossy(&args[0]).to_uppercase()
    ))
}

/// A command by its full name (`get`, `config|get`), any case.
fn command_by_full_name(name: &[u8]) -> Option<&'static Command> {
    let mut parts = name.splitn(3, |&b| b == b'|');
    let base = super::lookup(parts.next()?)?;
    let Some(sub) = parts.next() else {
        return Some(base);
    };
    if parts.next().is_some() {
        return None;
    }
    find_subcommand(base, sub)
}

fn find_subcommand(base: &'static Command, sub: &[u8]) -> Option<&'static Command> {
    base.subcommands
        .iter()
        .find(|s| s.name.as_bytes()[base.name.len() + 1..].eq_ignore_ascii_case(sub))
}

/// The command a full request names (the subcommand for containers), without arity checks:
/// COMMAND GETKEYS's lookup.
fn command_for_request(args: &[Bytes]) -> Option<&'static Command> {
    let base = super::lookup(&args[0])?;
    if args.len() == 1 || base.subcommands.is_empty() {
        return Some(base);
    }
    find_subcommand(base, &args[1])
}

fn flag_set(reply: &mut Reply, bits: u32, names: &[(u32, &str)]) {
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    reply.set(set.len());
    for name in set {
        reply.simple(name);
    }
}

/// `COMMAND INFO`'s ten-element description of a command.
fn write_command_info(reply: &mut Reply, command: &Command) {
    reply.array(10);
    reply.bulk(command.name.as_bytes());
    reply.int(command.arity as i64);
    flag_set(reply, command.info_flags(), flag::NAMES);
    reply.int(command.first_key as i64);
    reply.int(command.last_key as i64);
    reply.int(command.key_step as i64);
    let categories = command.acl_categories();
    let names: Vec<&str> = acl::NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| categories & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    reply.set(names.len());
    for name in names {
        reply.simple(&format!("@{name}"));
    }
    reply.set(command.tips.len());
    for tip in command.tips {
        reply.bulk(tip.as_bytes());
    }
    let specs = command.key_specs();
    reply.set(specs.len());
    for spec in specs.iter() {
        write_key_spec(reply, spec);
    }
    if command.subcommands.is_empty() {
        reply.set(0);
    } else {
        reply.array(command.subcommands.len());
        for sub in command.subcommands {
            write_command_info(reply, sub);
        }
    }
}

fn write_key_spec(reply: &mut Reply, spec: &KeySpec) {
    reply.map(if spec.notes.is_empty() { 3 } else { 4 });
    if !spec.notes.is_empty() {
        reply.bulk(b"notes");
        reply.bulk(spec.notes.as_bytes());
    }
    reply.bulk(b"flags");
    flag_set(reply, spec.flags, key_flag::NAMES);
    reply.bulk(b"begin_search");
    reply.map(2);
    reply.bulk(b"type");
    match spec.begin {
        BeginSearch::Index(pos) => {
            reply.bulk(b"index");
            reply.bulk(b"spec");
            reply.map(1);
            reply.bulk(b"index");
            reply.int(pos as i64);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            reply.bulk(b"keyword");
            reply.bulk(b"spec");
            reply.map(2);
            reply.bulk(b"keyword");
            reply.bulk(keyword.as_bytes());
            reply.bulk(b"startfrom");
            reply.int(startfrom as i64);
        }
        BeginSearch::Unknown => {
            reply.bulk(b"unknown");
            reply.bulk(b"spec");
            reply.map(0);
        }
    }
    reply.bulk(b"find_keys");
    reply.map(2);
    reply.bulk(b"type");
    match spec.find {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            reply.bulk(b"range");
            reply.bulk(b"spec");
            reply.map(3);
            reply.bulk(b"lastkey");
            reply.int(lastkey as i64);
            reply.bulk(b"keystep");
            reply.int(keystep as i64);
            reply.bulk(b"limit");
            reply.int(limit as i64);
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            reply.bulk(b"keynum");
            reply.bulk(b"spec");
            reply.map(3);
            reply.bulk(b"keynumidx");
            reply.int(keynumidx as i64);
            reply.bulk(b"firstkey");
            reply.int(firstkey as i64);
            reply.bulk(b"keystep");
            reply.int(keystep as i64);
        }
        FindKeys::Unknown => {
            reply.bulk(b"unknown");
            reply.bulk(b"spec");
            reply.map(0);
        }
    }
}

/// `COMMAND DOCS`'s map for a command. kopi's table has no argument descriptions, so the
/// `arguments` entry Redis includes is absent.
fn write_command_docs(reply: &mut Reply, command: &Command) {
    let fields = 1
        + !command.summary.is_empty() as usize
        + !command.since.is_empty() as usize
        + !command.complexity.is_empty() as usize
        + (command.doc_flags != 0) as usize
        + !command.deprecated_since.is_empty() as usize
        + !command.replaced_by.is_empty() as usize
        + !command.history.is_empty() as usize
        + !command.subcommands.is_empty() as usize;
    reply.map(fields);
    if !command.summary.is_empty() {
        reply.bulk(b"summary");
        reply.bulk(command.summary.as_bytes());
    }
    if !command.since.is_empty() {
        reply.bulk(b"since");
        reply.bulk(command.since.as_bytes());
    }
    reply.bulk(b"group");
    reply.bulk(command.group.as_bytes());
    if !command.complexity.is_empty() {
        reply.bulk(b"complexity");
        reply.bulk(command.complexity.as_bytes());
    }
    if command.doc_flags != 0 {
        reply.bulk(b"doc_flags");
        flag_set(reply, command.doc_flags, doc_flag::NAMES);
    }
    if !command.deprecated_since.is_empty() {
        reply.bulk(b"deprecated_since");
        reply.bulk(command.deprecated_since.as_bytes());
    }
    if !command.replaced_by.is_empty() {
        reply.bulk(b"replaced_by");
        reply.bulk(command.replaced_by.as_bytes());
    }
    if !command.history.is_empty() {
        reply.bulk(b"history");
        reply.set(command.history.len());
        for (version, change) in command.history {
            reply.array(2);
            reply.bulk(version.as_bytes());
            reply.bulk(change.as_bytes());
        }
    }
    if !command.subcommands.is_empty() {
        reply.bulk(b"subcommands");
        reply.map(command.subcommands.len());
        for sub in command.subcommands {
            reply.bulk(sub.name.as_bytes());
            write_command_docs(reply, sub);
        }
    }
}

// ---- COMMAND ----

/// COMMAND
fn command_all(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let commands: Vec<&Command> = super::all_commands().collect();
    ctx.reply.array(commands.len());
    for command in commands {
        write_command_info(ctx.reply, command);
    }
    Ok(())
}

/// COMMAND COUNT
fn command_count(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.int(super::all_commands().count() as i64);
    Ok(())
}

/// COMMAND INFO [command-name ...]
fn command_info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        return command_all(ctx, args);
    }
    ctx.reply.array(args.len() - 2);
    for name in &args[2..] {
        match command_by_full_name(name) {
            Some(command) => write_command_info(ctx.reply, command),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [command-name ...]
fn command_docs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let commands: Vec<&Command> = if args.len() == 2 {
        super::all_commands().collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|name| command_by_full_name(name))
            .collect()
    };
    ctx.reply.map(commands.len());
    for command in commands {
        ctx.reply.bulk(command.name.as_bytes());
        write_command_docs(ctx.reply, command);
    }
    Ok(())
}

/// The keys (with their key-spec flags) of the command in `args[2..]`, or Redis's error.
fn getkeys(args: &[Bytes]) -> Result<Vec<(usize, u32)>, Error> {
    let request = &args[2..];
    let Some(command) = command_for_request(request) else {
        return Err(Error::new("ERR Invalid command specified"));
    };
    if !command.has_keys() {
        return Err(Error::new("ERR The command has no key arguments"));
    }
    if !command.arity_ok(request.len()) {
        return Err(Error::new(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = match command.keys_fn {
        Some(keys_fn) => keys_fn(request)
            .into_iter()
            .filter(|&(i, _)| i < request.len())
            .collect(),
        None => command.keys_from_specs(request).unwrap_or_default(),
    };
    if keys.is_empty() && !command.has(flag::NO_MANDATORY_KEYS) {
        return Err(Error::new("ERR Invalid arguments specified for command"));
    }
    Ok(keys)
}

/// COMMAND GETKEYS command [arg ...]
fn command_getkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let keys = getkeys(args)?;
    ctx.reply.array(keys.len());
    for (pos, _) in keys {
        ctx.reply.bulk(&args[2 + pos]);
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
fn command_getkeysandflags(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let keys = getkeys(args)?;
    ctx.reply.array(keys.len());
    for (pos, flags) in keys {
        ctx.reply.array(2);
        ctx.reply.bulk(&args[2 + pos]);
        flag_set(ctx.reply, flags, key_flag::NAMES);
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
fn command_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    enum Filter<'a> {
        None,
        Module,
        AclCategory(u32),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if !(eq_ignore_case(&args[i], "filterby") && more == 2) {
            return Err(error::SYNTAX);
        }
        let kind = &args[i + 1];
        let value = &args[i + 2];
        filter = if eq_ignore_case(kind, "module") {
            // kopi has no modules: no command belongs to one.
            Filter::Module
        } else if eq_ignore_case(kind, "aclcat") {
            let bit = acl::NAMES
                .iter()
                .position(|n| n.as_bytes().eq_ignore_ascii_case(value))
                .map_or(0, |i| 1 << i);
            Filter::AclCategory(bit)
        } else if eq_ignore_case(kind, "pattern") {
            Filter::Pattern(value)
        } else {
            return Err(error::SYNTAX);
        };
        i += 3;
    }
    let keep = |command: &Command| match filter {
        Filter::None => true,
        Filter::Module => false,
        Filter::AclCategory(bit) => bit != 0 && command.acl_categories() & bit != 0,
        Filter::Pattern(pattern) => crate::util::glob_match(pattern, command.name.as_bytes(), true),
    };
    let names: Vec<&str> = super::all_commands()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
        .filter(|c| keep(c))
        .map(|c| c.name)
        .collect();
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name.as_bytes());
    }
    Ok(())
}

/// COMMAND HELP
fn command_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

// ---- INFO ----

/// INFO [section [section ...]]
fn info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let text = crate::server::info::generate(ctx.server, ctx.state, &args[1..]);
    ctx.reply.verbatim(text.as_bytes());
    Ok(())
}

// ---- CONFIG ----

/// CONFIG GET parameter [parameter ...]
fn config_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let patterns: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let entries = ctx.server.config.read().matching(&patterns);
    ctx.reply.map(entries.len());
    for (name, value) in entries {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]
fn config_set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(error::SYNTAX);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[2..]
        .chunks(2)
        .map(|pair| (&pair[0][..], &pair[1][..]))
        .collect();
    let allow_protected = ctx
        .server
        .protected_action_allowed("enable-protected-configs", ctx.client);
    let result = ctx
        .server
        .config
        .write()
        .set_runtime(&pairs, allow_protected);
    match result {
        Ok(_) => {
            ctx.server.apply_config_with(ctx.state);
            if pairs
                .iter()
                .any(|(name, _)| eq_ignore_case(name, "requirepass"))
            {
                ctx.server.apply_requirepass(ctx.state);
            }
            let appendonly = pairs
                .iter()
                .any(|(name, _)| eq_ignore_case(name, "appendonly"));
            if appendonly && let Err(text) = ctx.server.apply_appendonly(ctx.state) {
                crate::server::log::warning(&text);
                let _ = ctx
                    .server
                    .config
                    .write()
                    .set_runtime(&[(b"appendonly", b"no")], true);
                return Err(Error::new(
                    "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.",
                ));
            }
            ctx.reply.ok();
            Ok(())
        }
        Err(text) => Err(Error::owned(text)),
    }
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.state.stats.reset();
    ctx.server.net.reset();
    *ctx.server.metrics.lock() = Default::default();
    ctx.reply.ok();
    Ok(())
}

/// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    match ctx.server.config.read().rewrite(false) {
        Ok(()) => {
            crate::server::log::warning("CONFIG REWRITE executed with success.");
            ctx.reply.ok();
            Ok(())
        }
        Err(text) => {
            crate::server::log::warning(&format!(
                "CONFIG REWRITE failed: {}",
                text.trim_start_matches("ERR ")
            ));
            Err(Error::owned(text))
        }
    }
}

/// CONFIG HELP
fn config_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---- TIME, LASTSAVE, ROLE, SHUTDOWN ----

/// TIME
fn time(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let us = crate::util::now_us();
    ctx.reply.array(2);
    ctx.reply.bulk_int(us / 1_000_000);
    ctx.reply.bulk_int(us % 1_000_000);
    Ok(())
}

/// BGREWRITEAOF
///
/// Orders a rewrite of the AOF from memory; it runs on the AOF's rewrite thread without fork,
/// while clients keep writing (see `persistence::aof`). Inside MULTI/EXEC it is scheduled, as
/// in Redis. While AOF is off it writes a base-only AOF, as Redis does.
fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    use crate::persistence::aof::RewriteOrder;
    // Inside MULTI, or while a BGSAVE writes the one snapshot there is, the rewrite is
    // scheduled (it waits for the save), as in Redis.
    let order = match ctx.server.aof() {
        Some(aof) => aof.order_rewrite(ctx.client.call_depth > 1 || ctx.server.rdb.in_progress()),
        None => crate::persistence::aof::order_offline_rewrite(ctx.server, ctx.state).map_err(
            |e| {
                crate::server::log::warning(&format!("Can't rewrite append only file in background: {e}"));
                Error::new(
                    "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
                )
            },
        )?,
    };
    match order {
        RewriteOrder::Started => ctx
            .reply
            .simple("Background append only file rewriting started"),
        RewriteOrder::Scheduled => ctx
            .reply
            .simple("Background append only file rewriting scheduled"),
        RewriteOrder::AlreadyInProgress => {
            return Err(Error::new(
                "ERR Background append only file rewriting already in progress",
            ));
        }
    }
    Ok(())
}

/// SAVE: the dataset written to `dbfilename` now; every client waits, as in Redis.
fn save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.server.rdb.in_progress() {
        return Err(Error::new("ERR Background save already in progress"));
    }
    match crate::persistence::snapshot::save(ctx.server, ctx.state) {
        Ok(()) => ctx.reply.ok(),
        Err(_) => return Err(Error::new("ERR")),
    }
    Ok(())
}

/// BGSAVE [SCHEDULE]: a snapshot written by a thread of its own, without fork, while clients
/// keep writing (see `persistence::snapshot`).
fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::persistence::snapshot::{self, BgsaveOrder};
    let schedule = match args.len() {
        1 => false,
        2 if eq_ignore_case(&args[1], "schedule") => true,
        _ => return Err(error::SYNTAX),
    };
    let in_transaction = ctx.client.call_depth > 1;
    match snapshot::order_bgsave(ctx.server, ctx.state, schedule, in_transaction) {
        Ok(BgsaveOrder::Started) => ctx.reply.simple("Background saving started"),
        Ok(BgsaveOrder::Scheduled) => ctx.reply.simple("Background saving scheduled"),
        Ok(BgsaveOrder::AlreadyInProgress) => {
            return Err(Error::new("ERR Background save already in progress"));
        }
        Ok(BgsaveOrder::RewriteInProgress) => {
            return Err(Error::new(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        Err(e) => {
            crate::server::log::warning(&e);
            return Err(Error::new("ERR"));
        }
    }
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply
        .int(ctx.server.last_save_s.load(Ordering::Relaxed));
    Ok(())
}

/// ROLE
fn role(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.array(3);
    ctx.reply.bulk(b"master");
    ctx.reply.int(0);
    ctx.reply.array(0);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
///
/// With `save` points (and without NOSAVE), or with SAVE, the dataset is saved to
/// `dbfilename` first; a failed save refuses the shutdown unless FORCE. There are no replicas
/// to wait for, so NOW changes nothing; no shutdown is ever left in progress, so ABORT has
/// nothing to abort.
fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    let (mut other, mut force) = (false, false);
    for arg in &args[1..] {
        if eq_ignore_case(arg, "nosave") {
            nosave = true;
        } else if eq_ignore_case(arg, "save") {
            save = true;
        } else if eq_ignore_case(arg, "now") {
            other = true;
        } else if eq_ignore_case(arg, "force") {
            other = true;
            force = true;
        } else if eq_ignore_case(arg, "abort") {
            abort = true;
        } else {
            return Err(error::SYNTAX);
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(error::SYNTAX);
    }
    if abort {
        return Err(Error::new("ERR No shutdown in progress."));
    }
    if ctx
        .server
        .aof()
        .is_some_and(|aof| aof.waiting_for_first_rewrite())
    {
        // AOF was just enabled and its first base is not written: exiting would lose the
        // dataset a restart with AOF is about to load.
        if force {
            crate::server::log::warning("Writing initial AOF. Exit anyway.");
        } else {
            crate::server::log::warning("Writing initial AOF, can't exit.");
            return Err(Error::new("ERR Errors trying to SHUTDOWN. Check logs."));
        }
    }
    let save_points = !ctx.server.config.read().get("save").trim().is_empty();
    // Nothing is saved while loading (Redis turns SAVE into NOSAVE then).
    if (save || (save_points && !nosave)) && !ctx.server.loading.is_active() {
        crate::server::log::notice("Saving the final RDB snapshot before exiting.");
        if crate::persistence::snapshot::save(ctx.server, ctx.state).is_err() {
            if force {
                crate::server::log::warning("Error trying to save the DB. Exit anyway.");
            } else {
                crate::server::log::warning("Error trying to save the DB, can't exit.");
                return Err(Error::new("ERR Errors trying to SHUTDOWN. Check logs."));
            }
        }
    }
    ctx.server.final_save_done.store(true, Ordering::SeqCst);
    ctx.server.request_shutdown();
    ctx.client.close_after_reply = true;
    Ok(())
}

// ---- DEBUG ----

/// DEBUG SLEEP's `strtod`: the longest leading decimal number, 0 if none.
fn leading_f64(text: &[u8]) -> f64 {
    // A number longer than this is no sleep anyone means; bounding it bounds the scan.
    let text = String::from_utf8_lossy(&text[..text.len().min(64)]);
    let text = text.trim_start();
    let mut end = 0;
    for i in 1..=text.len() {
        if text.is_char_boundary(i) && text[..i].parse::<f64>().is_ok() {
            end = i;
        }
    }
    text[..end].parse().unwrap_or(0.0)
}

/// `atoi`: the leading integer, 0 if none.
fn leading_i64(text: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(text);
    let text = text.trim_start();
    let bytes = text.as_bytes();
    let mut end = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    text[..end].parse().unwrap_or(0)
}

/// Values Redis shares between keys (small integers) report this reference count.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
const SHARED_INTEGERS: i64 = 10_000;

/// DEBUG OBJECT's line for a key.
fn debug_object_line(ctx: &Ctx, entry: &Entry) -> String {
    let refcount = match &entry.value {
        Value::String(StringValue::Int(n))
            if (0..SHARED_INTEGERS).contains(n)
                && ctx.server.config.read().get("maxmemory") == "0" =>
        {
            SHARED_REFCOUNT
        }
        _ => 1,
    };
    let now_s = crate::clock::now_s();
    let lru = if crate::clock::LFU_ENABLED.load(Ordering::Relaxed) {
        (((now_s / 60) & 0xFFFF) << 8) | entry.freq as u32
    } else {
        entry.access_s & 0x00FF_FFFF
    };
    let mut line = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{lru} lru_seconds_idle:{}",
        &entry.value as *const Value,
        entry.value.encoding_name(),
        entry.value.serialized_length(),
        now_s.saturating_sub(entry.access_s),
    );
    if let Value::List(list) = &entry.value {
        line.push_str(&list.debug_fields());
    }
    line
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: the dataset saved to `dbfilename` (unless
/// NOSAVE), emptied (unless NOFLUSH) and loaded back from the file, as Redis does; MERGE
/// lets loaded keys replace keys still there instead of failing on them.
fn debug_reload(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut flush, mut save, mut merge) = (true, true, false);
    for option in &args[2..] {
        if eq_ignore_case(option, "merge") {
            merge = true;
        } else if eq_ignore_case(option, "noflush") {
            flush = false;
        } else if eq_ignore_case(option, "nosave") {
            save = false;
        } else {
            return Err(Error::new(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    use crate::persistence::snapshot;
    if save && snapshot::save(ctx.server, ctx.state).is_err() {
        return Err(Error::new("ERR"));
    }
    if flush {
        for db in &mut ctx.state.store.dbs {
            db.touch_all_watched(None, ctx.now_ms);
            db.flush();
        }
    }
    let path = snapshot::dump_path(ctx.server);
    let mut held = &mut *ctx.state;
    if let Err(e) = snapshot::load_file(ctx.server, &mut held, &path, merge || !flush) {
        crate::server::log::warning(&format!("Error trying to load the RDB dump: {e}"));
        return Err(Error::new(
            "ERR Error trying to load the RDB dump, check server logs.",
        ));
    }
    // Reloading changes nothing to log.
    ctx.prevent_propagation();
    crate::server::log::notice("DB reloaded by DEBUG RELOAD");
    ctx.reply.ok();
    Ok(())
}

/// DEBUG LOADAOF: what is recorded is written and synced, the dataset emptied and loaded
/// again from the AOF files on disk (Redis's tests use it to check what the AOF holds).
/// A load that fails ends the process, as in Redis: the dataset would be partial.
fn debug_loadaof(ctx: &mut Ctx) -> CmdResult {
    use crate::persistence::{aof, manifest::Manifest};
    if ctx.client.id == crate::server::client::CLIENT_ID_AOF {
        // Found in the AOF itself: reloading from inside the load would never end.
        return Err(Error::new(
            "ERR DEBUG LOADAOF cannot run while the AOF loads",
        ));
    }
    let (dir, filename) = aof::paths(ctx.server).map_err(Error::owned)?;
    let running = ctx.server.aof();
    if let Some(running) = &running {
        running
            .flush_now(ctx.state)
            .map_err(|e| Error::owned(format!("ERR Error flushing the AOF: {e}")))?;
    }
    let manifest = match Manifest::load(&dir, &filename) {
        Ok(Some(manifest)) => manifest,
        Ok(None) => return Err(Error::new("ERR There is no AOF to load")),
        Err(e) => return Err(Error::owned(format!("ERR {e}"))),
    };
    let truncated_ok = ctx.server.config.read().get_bool("aof-load-truncated");
    let recording = ctx.state.effects.is_enabled();
    ctx.state.effects.set_enabled(false);
    for db in &mut ctx.state.store.dbs {
        db.touch_all_watched(None, ctx.now_ms);
        db.flush();
    }
    let mut held = &mut *ctx.state;
    if let Err(e) = aof::load_held(ctx.server, &mut held, &dir, &manifest, truncated_ok) {
        crate::server::log::warning(&e);
        crate::server::log::warning("DEBUG LOADAOF could not load the AOF: exiting");
        std::process::exit(1);
    }
    ctx.state.effects.set_enabled(recording);
    // Reloading changes nothing to log (and a logged LOADAOF would reload at every start).
    ctx.state.store.dirty = 0;
    ctx.prevent_propagation();
    crate::server::log::notice("Append Only File loaded by DEBUG LOADAOF");
    ctx.reply.ok();
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]
fn debug_populate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    if count < 0 {
        return Err(error::NOT_POSITIVE);
    }
    let size = match args.get(4) {
        Some(arg) => {
            let size = arg_i64(arg)?;
            if size < 0 {
                return Err(error::NOT_POSITIVE);
            }
            size as usize
        }
        None => 0,
    };
    let prefix = args.get(3).map_or(&b"key"[..], |p| &p[..]);
    let now = ctx.now_ms;
    let db_index = ctx.client.db;
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        let db = &mut ctx.state.store.dbs[db_index];
        if db.get(&key, now, Access::NoTouch).is_some() {
            continue;
        }
        let text = format!("value:{j}");
        let bytes = if size == 0 {
            text.into_bytes()
        } else {
            let mut buf = vec![0u8; size];
            let n = size.min(text.len());
            buf[..n].copy_from_slice(&text.as_bytes()[..n]);
            buf
        };
        // Like Redis, the value keeps its string encoding: no integer conversion.
        let value = if bytes.len() <= crate::keyspace::value::EMBSTR_SIZE_LIMIT {
            StringValue::Embstr(bytes.into())
        } else {
            StringValue::Raw(bytes)
        };
        db.insert_entry(Entry::new(&key, Value::String(value)));
        db.touch(&key);
    }
    ctx.reply.ok();
    Ok(())
}

/// The sample double of DEBUG PROTOCOL: Redis's value, not an approximation of π.
#[allow(clippy::approx_constant)]
const DEBUG_PROTOCOL_DOUBLE: f64 = 3.141;

/// DEBUG PROTOCOL type: a sample reply of each RESP type.
fn debug_protocol(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    let reply = &mut *ctx.reply;
    let resp3 = reply.is_resp3();
    match String::from_utf8_lossy(name).to_ascii_lowercase().as_str() {
        "string" => reply.bulk(b"Hello World"),
        "integer" => reply.int(12345),
        "double" => reply.double(DEBUG_PROTOCOL_DOUBLE),
        "bignum" => {
            const BIG: &[u8] = b"1234567999999999999999999999999999999";
            if resp3 {
                reply.raw(b"(");
                reply.raw(BIG);
                reply.raw(b"\r\n");
            } else {
                reply.bulk(BIG);
            }
        }
        "null" => reply.null(),
        "array" | "set" => {
            if name.eq_ignore_ascii_case(b"set") {
                reply.set(3);
            } else {
                reply.array(3);
            }
            for j in 0..3 {
                reply.int(j);
            }
        }
        "map" => {
            reply.map(3);
            for j in 0..3 {
                reply.int(j);
                reply.boolean(j == 1);
            }
        }
        "attrib" => {
            if resp3 {
                reply.raw(b"|1\r\n");
                reply.bulk(b"key-popularity");
                reply.array(2);
                reply.bulk(b"key:123");
                reply.int(90);
            }
            reply.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(Error::new("ERR RESP2 is not supported by this command"));
            }
            reply.raw(b">2\r\n");
            reply.bulk(b"server-cpu-usage");
            reply.int(42);
            reply.bulk(b"Some real reply following the push reply");
        }
        "true" => reply.boolean(true),
        "false" => reply.boolean(false),
        "verbatim" => reply.verbatim(b"This is a verbatim\nstring"),
        _ => {
            return Err(Error::new(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ));
        }
    }
    Ok(())
}

const DEBUG_HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load;",
    "      conflicting keys will be loaded from RDB, as with MERGE.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
];

/// DEBUG subcommand [arg ...] (allowed by `enable-debug-command`)
fn debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let argc = args.len();
    match (sub.as_str(), argc) {
        ("help", 2) => help_reply(ctx.reply, &args[0], DEBUG_HELP),
        ("sleep", 3) => {
            let seconds = leading_f64(&args[2]);
            if seconds > 0.0 && seconds.is_finite() {
                let micros = (seconds * 1_000_000.0).min(u64::MAX as f64) as u64;
                std::thread::sleep(std::time::Duration::from_micros(micros));
            }
            ctx.reply.ok();
        }
        ("set-active-expire", 3) => {
            ctx.state.store.active_expire_enabled = leading_i64(&args[2]) != 0;
            ctx.reply.ok();
        }
        ("object", 3) => {
            // Like Redis, a key whose time has passed but is still stored is shown.
            let db = ctx.client.db;
            let Some(entry) = ctx.state.store.dbs[db].peek(&args[2], i64::MIN) else {
                return Err(error::NO_SUCH_KEY);
            };
            let line = debug_object_line(ctx, entry);
            ctx.reply.simple(&line);
        }
        ("digest", 2) => {
            let digest = dataset_digest(&ctx.state.store);
            ctx.reply.simple(&hex(&digest));
        }
        ("digest-value", _) => {
            let db = ctx.client.db;
            ctx.reply.array(argc - 2);
            for key in &args[2..] {
                let mut digest = [0u8; 20];
                if let Some(entry) = ctx.state.store.dbs[db].peek(key, i64::MIN) {
                    entry_digest(entry, &mut digest);
                }
                ctx.reply.simple(&hex(&digest));
            }
        }
        ("populate", 3..=5) => debug_populate(ctx, args)?,
        ("log", 3) => {
            crate::server::log::warning(&format!(
                "DEBUG LOG: {}",
                String::from_utf8_lossy(&args[2])
            ));
            ctx.reply.ok();
        }
        ("error", 3) => {
            // Sent as is: not an error of the command itself (no errorstats, as Redis).
            let mut line = b"-".to_vec();
            line.extend(
                args[2]
                    .iter()
                    .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
            );
            line.extend_from_slice(b"\r\n");
            ctx.reply.raw(&line);
        }
        ("protocol", 3) => debug_protocol(ctx, &args[2])?,
        ("reload", _) => debug_reload(ctx, args)?,
        ("loadaof", 2) => debug_loadaof(ctx)?,
        ("quicklist-packed-threshold", 3) => {
            let size = crate::server::config::parse_memory(&String::from_utf8_lossy(&args[2]));
            if !size.is_some_and(crate::keyspace::list::set_packed_threshold) {
                return Err(Error::new(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            }
            ctx.reply.ok();
        }
        ("aof-flush-sleep", 3) => {
            if let Some(aof) = ctx.server.aof() {
                aof.set_flush_sleep_us(leading_i64(&args[2]).max(0) as u64);
            }
            ctx.reply.ok();
        }
        ("config-rewrite-force-all", 2) => {
            if let Err(text) = ctx.server.config.read().rewrite(true) {
                return Err(Error::owned(format!(
                    "ERR CONFIG-REWRITE-FORCE-ALL failed: {}",
                    text.trim_start_matches("ERR Rewriting config file: ")
                )));
            }
            ctx.reply.ok();
        }
        _ => return Err(subcommand_syntax_error(args)),
    }
    Ok(())
}

// ---- SLOWLOG ----

/// SLOWLOG GET [count]
fn slowlog_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(args));
    }
    let total = ctx.state.slowlog.entries.len();
    let count = match args.get(2) {
        None => 10,
        Some(arg) => match crate::util::parse_i64(arg) {
            Some(-1) => total,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                return Err(Error::new(
                    "ERR count should be greater than or equal to -1",
                ));
            }
        },
    };
    let entries: Vec<_> = ctx
        .state
        .slowlog
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    ctx.reply.array(entries.len());
    for entry in entries {
        ctx.reply.array(6);
        ctx.reply.int(entry.id as i64);
        ctx.reply.int(entry.time_s);
        ctx.reply.int(entry.duration_us as i64);
        ctx.reply.array(entry.args.len());
        for arg in &entry.args {
            ctx.reply.bulk(arg);
        }
        ctx.reply.bulk(entry.peer.as_bytes());
        ctx.reply.bulk(entry.name.as_bytes());
    }
    Ok(())
}

/// SLOWLOG LEN
fn slowlog_len(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.int(ctx.state.slowlog.entries.len() as i64);
    Ok(())
}

/// SLOWLOG RESET
fn slowlog_reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.state.slowlog.entries.clear();
    ctx.reply.ok();
    Ok(())
}

/// SLOWLOG HELP
fn slowlog_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

// ---- LATENCY ----

/// LATENCY LATEST
fn latency_latest(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let events: Vec<(String, (i64, u64), u64)> = ctx
        .state
        .latency
        .events
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                s.samples.back().copied().unwrap_or((0, 0)),
                s.max,
            )
        })
        .collect();
    ctx.reply.array(events.len());
    for (name, (time, latest), max) in events {
        ctx.reply.array(4);
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.int(time);
        ctx.reply.int(latest as i64);
        ctx.reply.int(max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event
fn latency_history(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let event = String::from_utf8_lossy(&args[2]);
    let samples: Vec<(i64, u64)> = ctx
        .state
        .latency
        .events
        .get(event.as_ref())
        .map(|s| s.samples.iter().copied().collect())
        .unwrap_or_default();
    ctx.reply.array(samples.len());
    for (time, ms) in samples {
        ctx.reply.array(2);
        ctx.reply.int(time);
        ctx.reply.int(ms as i64);
    }
    Ok(())
}

/// LATENCY RESET [event ...]
fn latency_reset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let removed = if args.len() == 2 {
        ctx.state.latency.reset(None)
    } else {
        args[2..]
            .iter()
            .map(|event| ctx.state.latency.reset(Some(event)))
            .sum()
    };
    ctx.reply.int(removed as i64);
    Ok(())
}

/// LATENCY DOCTOR: the events seen with their statistics, and Redis's advice for the events
/// kopi records (`command`, `fast-command`, `expire-cycle`).
fn latency_doctor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let threshold = ctx
        .server
        .limits
        .latency_monitor_threshold_ms
        .load(Ordering::Relaxed);
    let (slowlog_us, hz) = {
        let config = ctx.server.config.read();
        (
            config.get_i64("slowlog-log-slower-than"),
            ctx.server.limits.hz.load(Ordering::Relaxed),
        )
    };
    let events = &ctx.state.latency.events;
    let mut report = String::new();
    if events.is_empty() && threshold == 0 {
        report.push_str("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
        ctx.reply.verbatim(report.as_bytes());
        return Ok(());
    }
    let (mut slowlog_enable, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut more_hz, mut large_objects) = (false, false, false);
    let now = crate::util::now_ms() / 1000;
    for (number, (name, series)) in events.iter().enumerate() {
        if number == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let samples = series.samples.len() as u64;
        let divisor = samples.max(1);
        let avg = series.samples.iter().map(|s| s.1).sum::<u64>() / divisor;
        let mad = series
            .samples
            .iter()
            .map(|s| s.1.abs_diff(avg))
            .sum::<u64>()
            / divisor;
        let oldest = series.samples.iter().map(|s| s.0).min().unwrap_or(now);
        let period = if samples == 0 {
            0
        } else {
            (now - oldest).max(1)
        };
        let _ = write!(
            report,
            "{}. {name}: {samples} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.",
            number + 1,
            period as f64 / samples as f64,
            series.max
        );
        match name.as_str() {
            "command" => {
                if slowlog_us < 0 {
                    slowlog_enable = true;
                } else if slowlog_us / 1000 > threshold {
                    slowlog_tuning = true;
                }
                slowlog_inspect = true;
                large_objects = true;
            }
            "fast-command" => scheduler = true,
            "expire-cycle" => {
                more_hz = true;
                large_objects = true;
            }
            _ => {}
        }
        report.push('\n');
    }
    let advices = slowlog_enable
        || slowlog_tuning
        || slowlog_inspect
        || scheduler
        || more_hz
        || large_objects;
    if events.is_empty() {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if !advices {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        let threshold_us = threshold.saturating_mul(1000);
        if slowlog_enable {
            let _ = writeln!(
                report,
                "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you."
            );
        }
        if slowlog_tuning {
            let _ = writeln!(
                report,
                "- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {threshold_us}'."
            );
        }
        if slowlog_inspect {
            report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if scheduler {
            report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        }
        if more_hz && hz < 100 {
            report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        }
        if large_objects {
            report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
    }
    ctx.reply.verbatim(report.as_bytes());
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]
fn latency_histogram(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let commands: Vec<&'static Command> = if args.len() == 2 {
        super::all_commands()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
            .collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|name| command_by_full_name(name))
            .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
            .collect()
    };
    let stats = &ctx.state.stats.commands;
    type Cdf = Vec<(u64, u64)>;
    let with_data: Vec<(&str, u64, Cdf)> = commands
        .iter()
        .filter_map(|c| {
            let histogram = stats.get(c.name)?.latency.as_ref()?;
            Some((c.name, histogram.total, histogram.cumulative_usec()))
        })
        .collect();
    ctx.reply.map(with_data.len());
    for (name, calls, buckets) in with_data {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.map(2);
        ctx.reply.bulk(b"calls");
        ctx.reply.int(calls as i64);
        ctx.reply.bulk(b"histogram_usec");
        ctx.reply.map(buckets.len());
        for (usec, count) in buckets {
            ctx.reply.int(usec as i64);
            ctx.reply.int(count as i64);
        }
    }
    Ok(())
}

/// LATENCY HELP
fn latency_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

// ---- MEMORY ----

/// MEMORY USAGE key [SAMPLES count]: what the key takes in kopi: its entry, its key and
/// value bytes, and its place in the expiry index if it has a deadline.
fn memory_usage(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut j = 3;
    while j < args.len() {
        if eq_ignore_case(&args[j], "samples") && j + 1 < args.len() {
            if arg_i64(&args[j + 1])? < 0 {
                return Err(error::SYNTAX);
            }
            j += 2;
        } else {
            return Err(error::SYNTAX);
        }
    }
    let db = ctx.client.db;
    let Some(entry) = ctx.state.store.dbs[db].peek(&args[2], i64::MIN) else {
        ctx.reply.null();
        return Ok(());
    };
    let value_bytes = entry.value.heap_size();
    let mut usage = std::mem::size_of::<Entry>() + entry.key.len() + value_bytes + 1;
    if entry.expire_at_ms != crate::keyspace::NO_EXPIRY {
        usage += std::mem::size_of::<(i64, Bytes)>();
    }
    ctx.reply.int(usage as i64);
    Ok(())
}

/// MEMORY DOCTOR
fn memory_doctor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let server = ctx.server;
    let used = server.used_memory();
    let peak = server.memory_peak.load(Ordering::Relaxed);
    let rss = crate::server::info::rss_bytes();
    let clients = server.clients.all();
    let client_buffers: usize = clients
        .iter()
        .map(|c| {
            c.query_buffer_bytes.load(Ordering::Relaxed) + c.output_bytes.load(Ordering::Relaxed)
        })
        .sum();
    let report = if used < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else {
        let big_peak = peak as f64 / used as f64 > 1.5;
        let high_frag = rss as f64 / used as f64 > 1.4 && rss.saturating_sub(used) > 10 << 20;
        let big_client_buf = client_buffers / clients.len().max(1) > 200 * 1024;
        if !big_peak && !high_frag && !big_client_buf {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
        } else {
            let mut s = String::from(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            );
            if big_peak {
                s.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
            }
            if high_frag {
                s.push_str(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
            }
            if big_client_buf {
                s.push_str(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
            }
            s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            s
        }
    };
    ctx.reply.verbatim(report.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS: kopi uses the C library's allocator, which has no such report.
fn memory_malloc_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply
        .verbatim(b"Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: nothing to purge with the C library's allocator (as Redis without jemalloc).
fn memory_purge(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.ok();
    Ok(())
}

/// MEMORY HELP
fn memory_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

// ---- FUNCTION ----

/// FUNCTION FLUSH [ASYNC | SYNC]: kopi has no functions yet, so there is nothing to delete.
fn function_flush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(subcommand_syntax_error(args));
    }
    if let Some(mode) = args.get(2)
        && !eq_ignore_case(mode, "sync")
        && !eq_ignore_case(mode, "async")
    {
        return Err(Error::new(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    ctx.state.store.dirty += 1;
    ctx.reply.ok();
    Ok(())
}

/// FUNCTION HELP
fn function_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
        ],
    );
    Ok(())
}

// ---- the table ----

const ADMIN_SUB: u32 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE;
const HELP_FLAGS: u32 = flag::LOADING | flag::STALE;
const HELP_SUMMARY: &str = "Show helpful text about the different subcommands";
const CONTAINER_COMPLEXITY: &str = "Depends on subcommand.";
const NONDETERMINISTIC: &[&str] = &["nondeterministic_output"];
const ORDER_NONDETERMINISTIC: &[&str] = &["nondeterministic_output_order"];
const ALL_NODES_SUCCEEDED: &[&str] = &["request_policy:all_nodes", "response_policy:all_succeeded"];
const ALL_NODES_SPECIAL: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

const COMMAND_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "command|count",
        arity: 2,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_count,
        group: "server",
        summary: "Get total number of Redis commands",
        since: "2.8.13",
        ..Command::DEFAULT
    },
    Command {
        name: "command|docs",
        arity: -2,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_docs,
        group: "server",
        summary: "Get array of specific Redis command documentation",
        since: "7.0.0",
        complexity: "O(N) where N is the number of commands to look up",
        tips: ORDER_NONDETERMINISTIC,
        ..Command::DEFAULT
    },
    Command {
        name: "command|getkeys",
        arity: -4,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_getkeys,
        group: "server",
        summary: "Extract keys given a full Redis command",
        since: "2.8.13",
        complexity: "O(N) where N is the number of arguments to the command",
        ..Command::DEFAULT
    },
    Command {
        name: "command|getkeysandflags",
        arity: -4,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_getkeysandflags,
        group: "server",
        summary: "Extract keys and access flags given a full Redis command",
        since: "7.0.0",
        complexity: "O(N) where N is the number of arguments to the command",
        ..Command::DEFAULT
    },
    Command {
        name: "command|help",
        arity: 2,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_help,
        group: "server",
        summary: HELP_SUMMARY,
        since: "5.0.0",
        ..Command::DEFAULT
    },
    Command {
        name: "command|info",
        arity: -2,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_info,
        group: "server",
        summary: "Get array of specific Redis command details, or all when no argument is given.",
        since: "2.8.13",
        complexity: "O(N) where N is the number of commands to look up",
        tips: ORDER_NONDETERMINISTIC,
        history: &[(
            "7.0.0",
            "Allowed to be called with no argument to get info on all commands.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "command|list",
        arity: -2,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_list,
        group: "server",
        summary: "Get an array of Redis command names",
        since: "7.0.0",
        complexity: "O(N) where N is the total number of Redis commands",
        tips: ORDER_NONDETERMINISTIC,
        ..Command::DEFAULT
    },
];

const CONFIG_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "config|get",
        arity: -3,
        flags: ADMIN_SUB,
        handler: config_get,
        group: "server",
        summary: "Get the values of configuration parameters",
        since: "2.0.0",
        complexity: "O(N) when N is the number of configuration parameters provided",
        history: &[(
            "7.0.0",
            "Added the ability to pass multiple pattern parameters in one call",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "config|help",
        arity: 2,
        flags: HELP_FLAGS,
        handler: config_help,
        group: "server",
        summary: HELP_SUMMARY,
        since: "5.0.0",
        ..Command::DEFAULT
    },
    Command {
        name: "config|resetstat",
        arity: 2,
        flags: ADMIN_SUB,
        handler: config_resetstat,
        group: "server",
        summary: "Reset the stats returned by INFO",
        since: "2.0.0",
        ..Command::DEFAULT
    },
    Command {
        name: "config|rewrite",
        arity: 2,
        flags: ADMIN_SUB,
        handler: config_rewrite,
        group: "server",
        summary: "Rewrite the configuration file with the in memory configuration",
        since: "2.8.0",
        ..Command::DEFAULT
    },
    Command {
        name: "config|set",
        arity: -4,
        flags: ADMIN_SUB,
        handler: config_set,
        group: "server",
        summary: "Set configuration parameters to the given values",
        since: "2.0.0",
        complexity: "O(N) when N is the number of configuration parameters provided",
        tips: ALL_NODES_SUCCEEDED,
        history: &[(
            "7.0.0",
            "Added the ability to set multiple parameters in one call.",
        )],
        ..Command::DEFAULT
    },
];

const SLOWLOG_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "slowlog|get",
        arity: -2,
        flags: flag::ADMIN | flag::LOADING | flag::STALE,
        handler: slowlog_get,
        group: "server",
        summary: "Get the slow log's entries",
        since: "2.2.12",
        complexity: "O(N) where N is the number of entries returned",
        tips: &["request_policy:all_nodes", "nondeterministic_output"],
        history: &[(
            "4.0.0",
            "Added client IP address, port and name to the reply.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "slowlog|help",
        arity: 2,
        flags: HELP_FLAGS,
        handler: slowlog_help,
        group: "server",
        summary: HELP_SUMMARY,
        since: "6.2.0",
        ..Command::DEFAULT
    },
    Command {
        name: "slowlog|len",
        arity: 2,
        flags: flag::ADMIN | flag::LOADING | flag::STALE,
        handler: slowlog_len,
        group: "server",
        summary: "Get the slow log's length",
        since: "2.2.12",
        tips: &[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "slowlog|reset",
        arity: 2,
        flags: flag::ADMIN | flag::LOADING | flag::STALE,
        handler: slowlog_reset,
        group: "server",
        summary: "Clear all entries from the slow log",
        since: "2.2.12",
        complexity: "O(N) where N is the number of entries in the slowlog",
        tips: ALL_NODES_SUCCEEDED,
        ..Command::DEFAULT
    },
];

const LATENCY_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "latency|doctor",
        arity: 2,
        flags: ADMIN_SUB,
        handler: latency_doctor,
        group: "server",
        summary: "Return a human readable latency analysis report.",
        since: "2.8.13",
        tips: ALL_NODES_SPECIAL,
        ..Command::DEFAULT
    },
    Command {
        name: "latency|help",
        arity: 2,
        flags: HELP_FLAGS,
        handler: latency_help,
        group: "server",
        summary: "Show helpful text about the different subcommands.",
        since: "2.8.13",
        ..Command::DEFAULT
    },
    Command {
        name: "latency|histogram",
        arity: -2,
        flags: ADMIN_SUB,
        handler: latency_histogram,
        group: "server",
        summary: "Return the cumulative distribution of latencies of a subset of commands or all.",
        since: "7.0.0",
        complexity: "O(N) where N is the number of commands with latency information being retrieved.",
        tips: ALL_NODES_SPECIAL,
        ..Command::DEFAULT
    },
    Command {
        name: "latency|history",
        arity: 3,
        flags: ADMIN_SUB,
        handler: latency_history,
        group: "server",
        summary: "Return timestamp-latency samples for the event.",
        since: "2.8.13",
        tips: ALL_NODES_SPECIAL,
        ..Command::DEFAULT
    },
    Command {
        name: "latency|latest",
        arity: 2,
        flags: ADMIN_SUB,
        handler: latency_latest,
        group: "server",
        summary: "Return the latest latency samples for all events.",
        since: "2.8.13",
        tips: ALL_NODES_SPECIAL,
        ..Command::DEFAULT
    },
    Command {
        name: "latency|reset",
        arity: -2,
        flags: ADMIN_SUB,
        handler: latency_reset,
        group: "server",
        summary: "Reset latency data for one or more events.",
        since: "2.8.13",
        tips: ALL_NODES_SUCCEEDED,
        ..Command::DEFAULT
    },
];

const MEMORY_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "memory|doctor",
        arity: 2,
        handler: memory_doctor,
        group: "server",
        summary: "Outputs memory problems report",
        since: "4.0.0",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "memory|help",
        arity: 2,
        flags: HELP_FLAGS,
        handler: memory_help,
        group: "server",
        summary: HELP_SUMMARY,
        since: "4.0.0",
        ..Command::DEFAULT
    },
    Command {
        name: "memory|malloc-stats",
        arity: 2,
        handler: memory_malloc_stats,
        group: "server",
        summary: "Show allocator internal stats",
        since: "4.0.0",
        complexity: "Depends on how much memory is allocated, could be slow",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "memory|purge",
        arity: 2,
        handler: memory_purge,
        group: "server",
        summary: "Ask the allocator to release memory",
        since: "4.0.0",
        complexity: "Depends on how much memory is allocated, could be slow",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        ..Command::DEFAULT
    },
    Command {
        name: "memory|usage",
        arity: -3,
        flags: flag::READONLY,
        first_key: 2,
        last_key: 2,
        key_step: 1,
        handler: memory_usage,
        group: "server",
        summary: "Estimate the memory usage of a key",
        since: "4.0.0",
        complexity: "O(N) where N is the number of samples.",
        key_specs: &[KeySpec {
            notes: "",
            flags: key_flag::RO,
            begin: BeginSearch::Index(2),
            find: FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        }],
        ..Command::DEFAULT
    },
];

const FUNCTION_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "function|flush",
        arity: -2,
        flags: flag::NOSCRIPT | flag::WRITE,
        acl: acl::SCRIPTING,
        handler: function_flush,
        group: "scripting",
        summary: "Deleting all functions",
        since: "7.0.0",
        complexity: "O(N) where N is the number of functions deleted",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        ..Command::DEFAULT
    },
    Command {
        name: "function|help",
        arity: 2,
        flags: HELP_FLAGS,
        acl: acl::SCRIPTING,
        handler: function_help,
        group: "scripting",
        summary: HELP_SUMMARY,
        since: "7.0.0",
        ..Command::DEFAULT
    },
];

pub const COMMANDS: &[Command] = &[
    Command {
        name: "command",
        arity: -1,
        flags: HELP_FLAGS,
        acl: acl::CONNECTION,
        handler: command_all,
        group: "server",
        summary: "Get array of Redis command details",
        since: "2.8.13",
        complexity: "O(N) where N is the total number of Redis commands",
        tips: ORDER_NONDETERMINISTIC,
        subcommands: COMMAND_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "config",
        arity: -2,
        group: "server",
        summary: "A container for server configuration commands",
        since: "2.0.0",
        complexity: CONTAINER_COMPLEXITY,
        subcommands: CONFIG_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "debug",
        arity: -2,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::PROTECTED,
        handler: debug,
        group: "server",
        summary: "A container for debugging commands",
        since: "1.0.0",
        complexity: CONTAINER_COMPLEXITY,
        doc_flags: doc_flag::SYSCMD,
        ..Command::DEFAULT
    },
    Command {
        name: "function",
        arity: -2,
        group: "scripting",
        summary: "A container for function commands",
        since: "7.0.0",
        complexity: CONTAINER_COMPLEXITY,
        subcommands: FUNCTION_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "info",
        arity: -1,
        flags: flag::LOADING | flag::STALE,
        acl: acl::DANGEROUS,
        handler: info,
        group: "server",
        summary: "Get information and statistics about the server",
        since: "1.0.0",
        tips: &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        history: &[(
            "7.0.0",
            "Added support for taking multiple section arguments.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "bgrewriteaof",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::NO_ASYNC_LOADING,
        acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        handler: bgrewriteaof,
        group: "server",
        summary: "Asynchronously rewrite the append-only file",
        since: "1.0.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "bgsave",
        arity: -1,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::NO_ASYNC_LOADING,
        acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        handler: bgsave,
        group: "server",
        summary: "Asynchronously save the dataset to disk",
        since: "1.0.0",
        complexity: "O(1)",
        history: &[("3.2.2", "Added the `SCHEDULE` option.")],
        ..Command::DEFAULT
    },
    Command {
        name: "save",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::NO_ASYNC_LOADING | flag::NO_MULTI,
        acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        handler: save,
        group: "server",
        summary: "Synchronously save the dataset to disk",
        since: "1.0.0",
        complexity: "O(N) where N is the total number of keys in all databases",
        ..Command::DEFAULT
    },
    Command {
        name: "lastsave",
        arity: 1,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: lastsave,
        group: "server",
        summary: "Get the UNIX time stamp of the last successful save to disk",
        since: "1.0.0",
        tips: NONDETERMINISTIC,
        ..Command::DEFAULT
    },
    Command {
        name: "latency",
        arity: -2,
        group: "server",
        summary: "A container for latency diagnostics commands",
        since: "2.8.13",
        complexity: CONTAINER_COMPLEXITY,
        subcommands: LATENCY_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "memory",
        arity: -2,
        group: "server",
        summary: "A container for memory diagnostics commands",
        since: "4.0.0",
        complexity: CONTAINER_COMPLEXITY,
        subcommands: MEMORY_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "role",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST,
        acl: acl::ADMIN | acl::DANGEROUS,
        handler: role,
        group: "server",
        summary: "Return the role of the instance in the context of replication",
        since: "2.8.12",
        ..Command::DEFAULT
    },
    Command {
        name: "shutdown",
        arity: -1,
        flags: flag::ADMIN
            | flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::NO_MULTI
            | flag::ALLOW_BUSY,
        handler: shutdown,
        group: "server",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        since: "1.0.0",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        history: &[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")],
        ..Command::DEFAULT
    },
    Command {
        name: "slowlog",
        arity: -2,
        group: "server",
        summary: "A container for slow log commands",
        since: "2.2.12",
        complexity: CONTAINER_COMPLEXITY,
        subcommands: SLOWLOG_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "time",
        arity: 1,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        handler: time,
        group: "server",
        summary: "Return the current server time",
        since: "2.6.0",
        tips: NONDETERMINISTIC,
        ..Command::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_prefixes() {
        assert_eq!(leading_f64(b"0.5"), 0.5);
        assert_eq!(leading_f64(b"1.5s"), 1.5);
        assert_eq!(leading_f64(b"abc"), 0.0);
        assert_eq!(leading_i64(b"1"), 1);
        assert_eq!(leading_i64(b"0"), 0);
        assert_eq!(leading_i64(b"12abc"), 12);
        assert_eq!(leading_i64(b"x"), 0);
    }
}
