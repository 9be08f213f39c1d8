//! ACL: users and their permissions (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT,
//! LOG, SAVE, LOAD, GENPASS, DRYRUN), and the permission check the dispatcher runs before
//! each command (Redis's `ACLCheckAllPerm` in `processCommand` and `execCommand`).
//!
//! The model lives in [`crate::acl`]; this file turns it into replies and errors.

use bytes::Bytes;

use super::server::{help_reply, subcommand_syntax_error};
use super::table::{Command, flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::acl::{self, Denied, IDS, LogEntry, LogReason};
use crate::error::{CmdResult, Error};
use crate::protocol::Reply;
use crate::server::Server;
use crate::server::client::Client;
use crate::server::state::State;

/// The longest password ACL GENPASS makes, in bits.
const GENPASS_MAX_BITS: i64 = 4096;
/// ACL GENPASS's default size, in bits.
const GENPASS_DEFAULT_BITS: i64 = 256;
/// ACL LOG's default number of entries.
const LOG_DEFAULT_COUNT: i64 = 10;

const NO_ACL_FILE: Error = Error::new(
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
);

// ---- the check before each command ----

/// Whether the client's user may run `command` with `args`; a refusal is logged in the ACL
/// log and answered with Redis's NOPERM text. `in_exec`: the command was queued and EXEC runs
/// it now (the rules may have changed since it was queued).
pub fn check(
    server: &Server,
    state: &mut State,
    client: &Client,
    command: &'static Command,
    args: &[Bytes],
    in_exec: bool,
) -> Result<(), Error> {
    let Some(user) = state.acl.users.get(client.user.as_bytes()) else {
        // The user was deleted: the connection is being closed.
        return Err(crate::error::NOAUTH);
    };
    let Err(denied) = user.check(command, args) else {
        return Ok(());
    };
    let multi = in_exec || client.multi.is_some();
    let (reason, object) = match denied {
        Denied::Command => (LogReason::Command, command.name.as_bytes().to_vec()),
        Denied::Key(pos) => (LogReason::Key, args[pos].to_vec()),
    };
    log_denial(
        server,
        state,
        client,
        reason,
        multi,
        object,
        client.user.as_bytes(),
    );
    let text = match (in_exec, denied) {
        (false, Denied::Command) => format!(
            "NOPERM this user has no permissions to run the '{}' command",
            command.name
        ),
        (false, Denied::Key(_)) => {
            "NOPERM this user has no permissions to access one of the keys used as arguments"
                .to_string()
        }
        (true, denied) => format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {}",
            match denied {
                Denied::Command => "no permission to execute the command or subcommand",
                Denied::Key(_) => "no permission to touch the specified keys",
            }
        ),
    };
    Err(Error::owned(text))
}

/// Adds an entry to the ACL log (`addACLLogEntry`).
pub fn log_denial(
    server: &Server,
    state: &mut State,
    client: &Client,
    reason: LogReason,
    multi: bool,
    object: Vec<u8>,
    username: &[u8],
) {
    let max_len = server.config.read().get_i64("acllog-max-len").max(0) as usize;
    let entry = LogEntry {
        count: 1,
        reason,
        context: if multi { "multi" } else { "toplevel" },
        object,
        username: username.to_vec(),
        ctime_ms: crate::util::now_ms(),
        client_info: client.describe(),
    };
    state.acl.log_denial(entry, max_len);
}

/// Whether the client's user may use SORT's BY or GET: it must be allowed to read any key.
pub fn may_read_any_key(
    state: &State,
    client: &Client,
    command: &'static Command,
    args: &[Bytes],
) -> bool {
    state.acl.unrestricted
        || state
            .acl
            .users
            .get(client.user.as_bytes())
            .is_some_and(|user| {
                user.check_unrestricted_keys(command, args, super::table::key_flag::ACCESS)
            })
}

/// Closes the connections authenticated as a user that no longer exists (or was replaced by
/// ACL LOAD): the caller's after this reply, the others at once, as Redis's
/// `ACLFreeUserAndKillClients`.
fn disconnect_users(ctx: &mut Ctx, gone: &dyn Fn(&[u8]) -> bool) {
    if gone(ctx.client.user.as_bytes()) {
        ctx.client.close_after_reply = true;
        ctx.client.user = acl::DEFAULT_USER.into();
        ctx.client.authenticated = false;
    }
    for handle in ctx.server.clients.all() {
        if handle.id == ctx.client.id {
            continue;
        }
        let user = handle.info.lock().user.clone();
        if gone(user.as_bytes()) {
            ctx.server.clients.kill(handle.id);
        }
    }
}

// ---- ACL subcommands ----

/// ACL SETUSER username [rule [rule ...]]
fn acl_setuser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.client.redacted.extend(2..args.len());
    let name = &args[2];
    if acl::has_spaces(name) {
        return Err(Error::new(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let rules: Vec<Vec<u8>> = args[3..].iter().map(|a| a.to_vec()).collect();
    ctx.state
        .acl
        .set_user(name, &rules)
        .map_err(|text| Error::owned(format!("ERR {text}")))?;
    ctx.server.acl_changed(ctx.state);
    ctx.reply.ok();
    Ok(())
}

/// ACL DELUSER username [username ...]
fn acl_deluser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args[2..]
        .iter()
        .any(|name| &name[..] == acl::DEFAULT_USER.as_bytes())
    {
        return Err(Error::new("ERR The 'default' user cannot be removed"));
    }
    let mut deleted: Vec<Vec<u8>> = Vec::new();
    for name in &args[2..] {
        if ctx.state.acl.users.remove(&name[..]).is_some() {
            deleted.push(name.to_vec());
        }
    }
    ctx.server.acl_changed(ctx.state);
    disconnect_users(ctx, &|user| deleted.iter().any(|d| d == user));
    ctx.reply.int(deleted.len() as i64);
    Ok(())
}

/// One selector's `commands`, `keys` and `channels` fields.
fn reply_selector(reply: &mut Reply, selector: &acl::Selector) {
    reply.bulk(b"commands");
    reply.bulk(selector.describe_commands().as_bytes());
    reply.bulk(b"keys");
    reply.bulk(selector.keys_string().as_bytes());
    reply.bulk(b"channels");
    reply.bulk(selector.channels_string().as_bytes());
}

/// ACL GETUSER username
fn acl_getuser(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.state.acl.users.get(&args[2][..]) else {
        ctx.reply.null();
        return Ok(());
    };
    let reply = &mut *ctx.reply;
    reply.map(6);
    reply.bulk(b"flags");
    let flags = user.flag_names();
    reply.set(flags.len());
    for flag in flags {
        reply.bulk(flag.as_bytes());
    }
    reply.bulk(b"passwords");
    reply.array(user.passwords.len());
    for hash in &user.passwords {
        reply.bulk(hash.as_bytes());
    }
    reply_selector(reply, user.root());
    reply.bulk(b"selectors");
    reply.array(user.selectors.len() - 1);
    for selector in &user.selectors[1..] {
        reply.map(3);
        reply_selector(reply, selector);
    }
    Ok(())
}

/// ACL LIST
fn acl_list(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.array(ctx.state.acl.users.len());
    for user in ctx.state.acl.users.values() {
        let line = format!("user {} {}", user.name_str(), user.describe());
        ctx.reply.bulk(line.as_bytes());
    }
    Ok(())
}

/// ACL USERS
fn acl_users(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.array(ctx.state.acl.users.len());
    for name in ctx.state.acl.users.keys() {
        ctx.reply.bulk(name);
    }
    Ok(())
}

/// ACL WHOAMI
fn acl_whoami(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.bulk(ctx.client.user.as_bytes());
    Ok(())
}

fn acl_file(ctx: &Ctx) -> Result<String, Error> {
    let path = ctx.server.config.read().get("aclfile").to_string();
    if path.is_empty() {
        return Err(NO_ACL_FILE);
    }
    Ok(path)
}

/// ACL LOAD
///
/// All or nothing: on any error the users stay as they were. Connections of every user but
/// `default` are closed, as Redis frees the whole previous set of users.
fn acl_load(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let path = acl_file(ctx)?;
    let users = acl::file::load(&path).map_err(|e| Error::owned(format!("ERR {e}")))?;
    ctx.state.acl.users = users;
    ctx.server.acl_changed(ctx.state);
    disconnect_users(ctx, &|user| user != acl::DEFAULT_USER.as_bytes());
    ctx.reply.ok();
    Ok(())
}

/// ACL SAVE
fn acl_save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let path = acl_file(ctx)?;
    if let Err(e) = acl::file::save(&ctx.state.acl, std::path::Path::new(&path)) {
        crate::server::log::warning(&format!("Saving the ACL file for ACL SAVE: {e}"));
        return Err(Error::new(
            "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    ctx.reply.ok();
    Ok(())
}

/// ACL CAT [category]
fn acl_cat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => {
            ctx.reply.array(acl::CATEGORIES.len());
            for (name, _) in acl::CATEGORIES {
                ctx.reply.bulk(name.as_bytes());
            }
        }
        3 => {
            let Some(category) = acl::category_by_name(&args[2]) else {
                let shown = crate::error::c_string(&args[2], 128);
                return Err(Error::owned(format!(
                    "ERR Unknown category '{}'",
                    String::from_utf8_lossy(shown)
                )));
            };
            let names: Vec<&str> = IDS
                .commands
                .iter()
                .filter(|c| c.acl_categories() & category != 0)
                .map(|c| c.name)
                .collect();
            ctx.reply.array(names.len());
            for name in names {
                ctx.reply.bulk(name.as_bytes());
            }
        }
        _ => return Err(subcommand_syntax_error(args)),
    }
    Ok(())
}

/// ACL GENPASS [bits]
fn acl_genpass(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bits = match args.len() {
        2 => GENPASS_DEFAULT_BITS,
        3 => arg_i64(&args[2])?,
        _ => return Err(subcommand_syntax_error(args)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(Error::owned(format!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    let chars = (bits + 3) / 4;
    use rand::Rng;
    let mut rng = rand::rng();
    let password: String = (0..chars)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16usize)]))
        .collect();
    ctx.reply.bulk(password.as_bytes());
    Ok(())
}

/// ACL LOG [count | RESET]
fn acl_log(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut count = LOG_DEFAULT_COUNT;
    match args.len() {
        2 => {}
        3 if eq_ignore_case(&args[2], "reset") => {
            ctx.state.acl.log.clear();
            ctx.reply.ok();
            return Ok(());
        }
        3 => count = arg_i64(&args[2])?.max(0),
        _ => return Err(subcommand_syntax_error(args)),
    }
    let shown = (count as usize).min(ctx.state.acl.log.len());
    let now_ms = crate::util::now_ms();
    let reply = &mut *ctx.reply;
    reply.array(shown);
    for entry in ctx.state.acl.log.iter().take(shown) {
        reply.map(7);
        reply.bulk(b"count");
        reply.int(entry.count as i64);
        reply.bulk(b"reason");
        reply.bulk(entry.reason.name().as_bytes());
        reply.bulk(b"context");
        reply.bulk(entry.context.as_bytes());
        reply.bulk(b"object");
        reply.bulk(&entry.object);
        reply.bulk(b"username");
        reply.bulk(&entry.username);
        reply.bulk(b"age-seconds");
        reply.double((now_ms - entry.ctime_ms) as f64 / 1000.0);
        reply.bulk(b"client-info");
        reply.bulk(entry.client_info.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN username command [arg ...]
fn acl_dryrun(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.state.acl.users.get(&args[2][..]) else {
        return Err(Error::owned(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(&args[2])
        )));
    };
    let call = &args[3..];
    let Some(command) = super::find(call) else {
        return Err(Error::owned(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&call[0])
        )));
    };
    if !command.arity_ok(call.len()) {
        return Err(crate::error::wrong_arity(command.name));
    }
    match user.check(command, call) {
        Ok(()) => ctx.reply.ok(),
        Err(Denied::Command) => ctx.reply.bulk(
            format!(
                "This user has no permissions to run the '{}' command",
                command.name
            )
            .as_bytes(),
        ),
        Err(Denied::Key(pos)) => ctx.reply.bulk(
            format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(&call[pos])
            )
            .as_bytes(),
        ),
    }
    Ok(())
}

/// ACL HELP
fn acl_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.reply,
        &args[0],
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}

/// Whether a user exists (CLIENT KILL USER).
pub fn user_exists(state: &State, name: &[u8]) -> bool {
    state.acl.users.contains_key(name)
}

// ---- the table ----

const ADMIN_SUB: u32 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE;
const PLAIN_SUB: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;

macro_rules! sub {
    ($name:literal, $arity:expr, $flags:expr, $handler:expr, $summary:literal, $complexity:literal) => {
        sub!(
            $name,
            $arity,
            $flags,
            $handler,
            $summary,
            $complexity,
            "6.0.0",
            &[]
        )
    };
    ($name:literal, $arity:expr, $flags:expr, $handler:expr, $summary:literal, $complexity:literal, $since:literal, $history:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            handler: $handler,
            group: "server",
            summary: $summary,
            since: $since,
            complexity: $complexity,
            history: $history,
            ..Command::DEFAULT
        }
    };
}

const ACL_SUBCOMMANDS: &[Command] = &[
    sub!(
        "acl|cat",
        -2,
        PLAIN_SUB,
        acl_cat,
        "List the ACL categories or the commands inside a category",
        "O(1) since the categories and commands are a fixed set."
    ),
    sub!(
        "acl|deluser",
        -3,
        ADMIN_SUB,
        acl_deluser,
        "Remove the specified ACL users and the associated rules",
        "O(1) amortized time considering the typical user."
    ),
    sub!(
        "acl|dryrun",
        -4,
        ADMIN_SUB,
        acl_dryrun,
        "Returns whether the user can execute the given command without executing the command.",
        "O(1).",
        "7.0.0",
        &[]
    ),
    sub!(
        "acl|genpass",
        -2,
        PLAIN_SUB,
        acl_genpass,
        "Generate a pseudorandom secure password to use for ACL users",
        "O(1)"
    ),
    sub!(
        "acl|getuser",
        3,
        ADMIN_SUB,
        acl_getuser,
        "Get the rules for a specific ACL user",
        "O(N). Where N is the number of password, command and pattern rules that the user has.",
        "6.0.0",
        &[
            ("6.2.0", "Added Pub/Sub channel patterns."),
            (
                "7.0.0",
                "Added selectors and changed the format of key and channel patterns from a list to their rule representation.",
            ),
        ]
    ),
    sub!(
        "acl|help",
        2,
        flag::LOADING | flag::STALE,
        acl_help,
        "Show helpful text about the different subcommands",
        "O(1)"
    ),
    sub!(
        "acl|list",
        2,
        ADMIN_SUB,
        acl_list,
        "List the current ACL rules in ACL config file format",
        "O(N). Where N is the number of configured users."
    ),
    sub!(
        "acl|load",
        2,
        ADMIN_SUB,
        acl_load,
        "Reload the ACLs from the configured ACL file",
        "O(N). Where N is the number of configured users."
    ),
    sub!(
        "acl|log",
        -2,
        ADMIN_SUB,
        acl_log,
        "List latest events denied because of ACLs in place",
        "O(N) with N being the number of entries shown."
    ),
    sub!(
        "acl|save",
        2,
        ADMIN_SUB,
        acl_save,
        "Save the current ACL rules in the configured ACL file",
        "O(N). Where N is the number of configured users."
    ),
    sub!(
        "acl|setuser",
        -3,
        ADMIN_SUB,
        acl_setuser,
        "Modify or create the rules for a specific ACL user",
        "O(N). Where N is the number of rules provided.",
        "6.0.0",
        &[
            ("6.2.0", "Added Pub/Sub channel patterns."),
            ("7.0.0", "Added selectors and key based permissions."),
        ]
    ),
    sub!(
        "acl|users",
        2,
        ADMIN_SUB,
        acl_users,
        "List the username of all the configured ACL rules",
        "O(N). Where N is the number of configured users."
    ),
    sub!(
        "acl|whoami",
        2,
        PLAIN_SUB,
        acl_whoami,
        "Return the name of the user associated to the current connection",
        "O(1)"
    ),
];

pub const COMMANDS: &[Command] = &[Command {
    name: "acl",
    arity: -2,
    group: "server",
    summary: "A container for Access List Control commands ",
    since: "6.0.0",
    complexity: "Depends on subcommand.",
    subcommands: ACL_SUBCOMMANDS,
    ..Command::DEFAULT
}];
