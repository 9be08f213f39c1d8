//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, HELLO, AUTH, CLIENT, MONITOR.
//!
//! HELLO answers `server: redis` and `version: 7.0.15` ([`REDIS_VERSION`]): clients read the
//! version to decide which commands and reply shapes they may use, and kopi implements Redis
//! 7.0.15's.

use bytes::Bytes;

use super::table::{Command, acl, flag};
use super::{Ctx, arg_i64, eq_ignore_case};
use crate::error::{self, CmdResult, Error};
use crate::protocol::Protocol;
use crate::server::Pause;
use crate::server::client::{Client, ReplyMode};

/// The Redis version whose behaviour kopi reproduces, as HELLO reports it.
pub const REDIS_VERSION: &str = "7.0.15";

const NO_PASSWORD_CONFIGURED: Error = Error::new(
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
);
const BAD_CLIENT_NAME: Error =
    Error::new("ERR Client names cannot contain spaces, newlines or special characters.");
const HELLO_NOAUTH: Error = Error::new(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
);
const NOPROTO: Error = Error::new("NOPROTO unsupported protocol version");
const BAD_PROTOCOL_VERSION: Error =
    Error::new("ERR Protocol version is not an integer or out of range");
const DB_INDEX_NOT_INT: Error =
    Error::new("ERR value is out of range, value must between -2147483648 and 2147483647");
const MONITOR_DENIED: Error = Error::new("ERR MONITOR isn't allowed for DENY BLOCKING client");

// ---- operations on the connection ----

/// Checks `username`/`password` against the ACL users (`ACLAuthenticateUser`): on success the
/// client is authenticated as that user; a failure is logged in the ACL log under the name of
/// the command (`args0`, as typed).
fn authenticate(ctx: &mut Ctx, args0: &[u8], username: &[u8], password: &[u8]) -> bool {
    // A client's user is kept by name as text: a name that is not UTF-8 never logs in.
    let opens = std::str::from_utf8(username).is_ok()
        && ctx
            .state
            .acl
            .users
            .get(username)
            .is_some_and(|user| user.password_matches(password));
    if opens {
        ctx.client.authenticated = true;
        ctx.client.ever_authenticated = true;
        ctx.client.user = String::from_utf8_lossy(username).into_owned();
        return true;
    }
    let multi = ctx.client.multi.is_some() || ctx.client.call_depth > 1;
    super::access_control::log_denial(
        ctx.server,
        ctx.state,
        ctx.client,
        crate::acl::LogReason::Auth,
        multi,
        args0.to_vec(),
        username,
    );
    false
}

/// Sets (or with an empty name, clears) the client name. Names are printable ASCII without
/// spaces, so CLIENT LIST stays splittable.
fn set_name(client: &mut Client, name: &Bytes) -> CmdResult {
    if name.is_empty() {
        client.name = None;
        return Ok(());
    }
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(BAD_CLIENT_NAME);
    }
    client.name = Some(name.clone());
    Ok(())
}

fn set_protocol(ctx: &mut Ctx, protocol: Protocol) {
    ctx.client.protocol = protocol;
    ctx.reply.protocol = protocol;
}

fn stop_monitoring(ctx: &mut Ctx) {
    if ctx.client.monitor.take().is_some() {
        ctx.server.unsubscribe_monitor();
    }
}

/// CLIENT LIST's client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn client_type_by_name(name: &[u8]) -> Result<ClientType, Error> {
    let kind = match name.to_ascii_lowercase().as_slice() {
        b"normal" => ClientType::Normal,
        b"slave" | b"replica" => ClientType::Replica,
        b"master" => ClientType::Master,
        b"pubsub" => ClientType::PubSub,
        _ => {
            return Err(Error::owned(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(name)
            )));
        }
    };
    Ok(kind)
}

/// A client's type from its CLIENT LIST flags. MONITOR clients count as normal, as in Redis.
fn client_type(flags: &str) -> ClientType {
    if flags.contains('M') {
        ClientType::Master
    } else if flags.contains('S') {
        ClientType::Replica
    } else if flags.contains('P') {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// `ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.`
fn subcommand_syntax_error(args: &[Bytes]) -> Error {
    let sub = &args[1][..args[1].len().min(128)];
    Error::owned(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        String::from_utf8_lossy(&args[0]).to_uppercase()
    ))
}

// ---- handlers ----

/// PING [message]
fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => ctx.reply.simple("PONG"),
        2 => ctx.reply.bulk(&args[1]),
        _ => return Err(error::wrong_arity("ping")),
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
    let index = arg_i64(&args[1])?;
    if i32::try_from(index).is_err() {
        return Err(DB_INDEX_NOT_INT);
    }
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

/// RESET
///
/// Back to a fresh connection's state: MONITOR off, db 0, RESP2, the default user (not
/// authenticated if it has a password), no transaction nor WATCH, no name, CLIENT REPLY ON.
/// CLIENT NO-EVICT stays, as in Redis 7.0.
fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    stop_monitoring(ctx);
    ctx.client.db = 0;
    set_protocol(ctx, Protocol::Resp2);
    ctx.client.user = "default".into();
    ctx.client.authenticated = !ctx.server.auth_required();
    super::transaction::discard_transaction(&mut ctx.state.store, ctx.client);
    ctx.client.name = None;
    // A skip in force for this very command still applies, as in Redis.
    if ctx.client.reply_mode != ReplyMode::Skip {
        ctx.client.reply_mode = ReplyMode::On;
    }
    ctx.reply.simple("RESET");
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
///
/// Options take effect as they are read: a failing option leaves the earlier ones applied.
fn hello(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut version = 0;
    let mut next = 1;
    if let Some(arg) = args.get(1) {
        version = crate::util::parse_i64(arg).ok_or(BAD_PROTOCOL_VERSION)?;
        if !(2..=3).contains(&version) {
            return Err(NOPROTO);
        }
        next = 2;
    }
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let option = &args[j];
        if eq_ignore_case(option, "auth") && more >= 2 {
            ctx.client.redacted.extend([j + 1, j + 2]);
            if !authenticate(ctx, &args[0], &args[j + 1], &args[j + 2]) {
                return Err(error::WRONGPASS);
            }
            j += 2;
        } else if eq_ignore_case(option, "setname") && more >= 1 {
            set_name(ctx.client, &args[j + 1])?;
            j += 1;
        } else {
            return Err(Error::owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            )));
        }
        j += 1;
    }
    if !ctx.client.authenticated && ctx.server.auth_required() {
        return Err(HELLO_NOAUTH);
    }
    match version {
        2 => set_protocol(ctx, Protocol::Resp2),
        3 => set_protocol(ctx, Protocol::Resp3),
        _ => {}
    }
    let reply = &mut *ctx.reply;
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"redis");
    reply.bulk(b"version");
    reply.bulk(REDIS_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.int(if ctx.client.protocol == Protocol::Resp3 {
        3
    } else {
        2
    });
    reply.bulk(b"id");
    reply.int(ctx.client.id as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
    Ok(())
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(error::SYNTAX);
    }
    ctx.client.redacted.push(1);
    let (username, password) = if args.len() == 2 {
        if ctx.state.acl.default_user().nopass {
            return Err(NO_PASSWORD_CONFIGURED);
        }
        (&b"default"[..], &args[1])
    } else {
        ctx.client.redacted.push(2);
        (&args[1][..], &args[2])
    };
    if !authenticate(ctx, &args[0], username, password) {
        return Err(error::WRONGPASS);
    }
    ctx.reply.ok();
    Ok(())
}

/// MONITOR
///
/// From now on the client receives every command the server runs (but administrative ones),
/// after it ran, with its passwords redacted.
fn monitor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.call_depth > 1 {
        // Inside EXEC: the client expects one reply per command.
        return Err(MONITOR_DENIED);
    }
    if ctx.client.is_monitor() {
        return Ok(());
    }
    ctx.client.monitor = Some(ctx.server.subscribe_monitor());
    ctx.reply.ok();
    Ok(())
}

/// CLIENT ID
fn client_id(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.int(ctx.client.id as i64);
    Ok(())
}

/// CLIENT INFO
fn client_info(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let mut line = ctx.client.describe();
    line.push('\n');
    ctx.reply.verbatim(line.as_bytes());
    Ok(())
}

/// The CLIENT LIST line of client `id`: from the live state for the calling client.
fn describe_client(ctx: &Ctx, handle: &crate::server::client::ClientHandle) -> String {
    if handle.id == ctx.client.id {
        ctx.client.describe()
    } else {
        handle.describe()
    }
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id [client-id ...]]
fn client_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut out = String::new();
    if args.len() == 4 && eq_ignore_case(&args[2], "type") {
        let wanted = client_type_by_name(&args[3])?;
        for handle in ctx.server.clients.all() {
            let flags = if handle.id == ctx.client.id {
                ctx.client.flags()
            } else {
                handle.info.lock().flags(&handle.watch_dirty)
            };
            if client_type(&flags) == wanted {
                out.push_str(&describe_client(ctx, &handle));
                out.push('\n');
            }
        }
    } else if args.len() > 3 && eq_ignore_case(&args[2], "id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for arg in &args[3..] {
            let id =
                crate::util::parse_i64(arg).ok_or_else(|| Error::new("ERR Invalid client ID"))?;
            ids.push(id);
        }
        for id in ids {
            let Ok(id) = u64::try_from(id) else {
                continue;
            };
            if let Some(handle) = ctx.server.clients.get(id) {
                out.push_str(&describe_client(ctx, &handle));
                out.push('\n');
            }
        }
    } else if args.len() != 2 {
        return Err(error::SYNTAX);
    } else {
        for handle in ctx.server.clients.all() {
            out.push_str(&describe_client(ctx, &handle));
            out.push('\n');
        }
    }
    ctx.reply.verbatim(out.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port
/// CLIENT KILL [ID client-id] [TYPE normal|master|replica|pubsub] [USER username]
///             [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no] ...
///
/// The old form answers OK or `No such client` and may kill the caller; the filter form
/// answers how many clients it killed and skips the caller unless `SKIPME no`.
fn client_kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut addr: Option<&Bytes> = None;
    let mut laddr: Option<&Bytes> = None;
    let mut user: Option<&Bytes> = None;
    let mut kind: Option<ClientType> = None;
    let mut id: Option<u64> = None;
    let mut skipme = true;
    let old_form = args.len() == 3;
    if old_form {
        addr = Some(&args[2]);
        skipme = false;
    } else {
        let mut i = 2;
        while i < args.len() {
            let option = &args[i];
            let Some(value) = args.get(i + 1) else {
                return Err(error::SYNTAX);
            };
            if eq_ignore_case(option, "id") {
                match crate::util::parse_i64(value) {
                    Some(n) if n >= 1 => id = Some(n as u64),
                    _ => return Err(Error::new("ERR client-id should be greater than 0")),
                }
            } else if eq_ignore_case(option, "type") {
                kind = Some(client_type_by_name(value)?);
            } else if eq_ignore_case(option, "addr") {
                addr = Some(value);
            } else if eq_ignore_case(option, "laddr") {
                laddr = Some(value);
            } else if eq_ignore_case(option, "user") {
                if !super::access_control::user_exists(ctx.state, value) {
                    return Err(Error::owned(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
                user = Some(value);
            } else if eq_ignore_case(option, "skipme") {
                if eq_ignore_case(value, "yes") {
                    skipme = true;
                } else if eq_ignore_case(value, "no") {
                    skipme = false;
                } else {
                    return Err(error::SYNTAX);
                }
            } else {
                return Err(error::SYNTAX);
            }
            i += 2;
        }
    }

    let mut killed = 0;
    let mut kill_self = false;
    for handle in ctx.server.clients.all() {
        let is_self = handle.id == ctx.client.id;
        let info = if is_self {
            ctx.client.shared_info()
        } else {
            handle.info.lock().clone()
        };
        if addr.is_some_and(|a| a[..] != *handle.addr.as_bytes())
            || laddr.is_some_and(|a| a[..] != *handle.laddr.as_bytes())
            || kind.is_some_and(|k| client_type(&info.flags(&handle.watch_dirty)) != k)
            || id.is_some_and(|id| id != handle.id)
            || user.is_some_and(|u| u[..] != *info.user.as_bytes())
            || (is_self && skipme)
        {
            continue;
        }
        if is_self {
            kill_self = true;
        } else {
            ctx.server.clients.kill(handle.id);
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(Error::new("ERR No such client"));
        }
        ctx.reply.ok();
    } else {
        ctx.reply.int(killed);
    }
    if kill_self {
        ctx.client.close_after_reply = true;
    }
    Ok(())
}

/// CLIENT SETNAME connection-name
fn client_setname(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_name(ctx.client, &args[2])?;
    ctx.reply.ok();
    Ok(())
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    match &ctx.client.name {
        Some(name) => ctx.reply.bulk(name),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
fn client_reply(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mode = &args[2];
    if eq_ignore_case(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.reply.ok();
    } else if eq_ignore_case(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if eq_ignore_case(mode, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(error::SYNTAX);
    }
    Ok(())
}

/// CLIENT NO-EVICT ON|OFF
fn client_no_evict(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if eq_ignore_case(&args[2], "on") {
        ctx.client.no_evict = true;
    } else if eq_ignore_case(&args[2], "off") {
        ctx.client.no_evict = false;
    } else {
        return Err(error::SYNTAX);
    }
    ctx.reply.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
///
/// Holds back every command (ALL, the default) or only those that write (WRITE) of every
/// client but MONITORs, for `timeout` milliseconds. Pauses combine: the stricter mode and
/// the later end win.
fn client_pause(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    let mut writes_only = false;
    if let Some(mode) = args.get(3) {
        if eq_ignore_case(mode, "write") {
            writes_only = true;
        } else if !eq_ignore_case(mode, "all") {
            return Err(Error::new("ERR CLIENT PAUSE mode must be WRITE or ALL"));
        }
    }
    let timeout = crate::util::parse_i64(&args[2])
        .ok_or_else(|| Error::new("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(Error::new("ERR timeout is negative"));
    }
    let now = crate::util::now_ms();
    let until_ms = if timeout > 0 {
        now.saturating_add(timeout)
    } else {
        0
    };
    let current = ctx.server.pause.lock().filter(|p| p.until_ms >= now);
    let combined = match current {
        Some(p) => Pause {
            until_ms: p.until_ms.max(until_ms),
            writes_only: p.writes_only && writes_only,
        },
        None => Pause {
            until_ms,
            writes_only,
        },
    };
    // A pause that ends in the past (timeout 0 and none in force) is no pause.
    ctx.server
        .set_pause((combined.until_ms >= now).then_some(combined));
    ctx.reply.ok();
    Ok(())
}

/// CLIENT UNPAUSE
fn client_unpause(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.server.set_pause(None);
    ctx.reply.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
///
/// Ends the wait of a client blocked on keys: it gets its timeout reply, or the UNBLOCKED
/// error. 1 if it was blocked, 0 otherwise.
fn client_unblock(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    let error = match args.get(3) {
        None => false,
        Some(reason) if eq_ignore_case(reason, "timeout") => false,
        Some(reason) if eq_ignore_case(reason, "error") => true,
        Some(_) => {
            return Err(Error::new(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    let id = crate::commands::arg_i64(&args[2])?;
    let unblocked = u64::try_from(id).is_ok_and(|id| ctx.state.blocking.unblock(id, error));
    ctx.reply.int(unblocked as i64);
    Ok(())
}

/// CLIENT GETREDIR
///
/// Always -1: kopi has no client-side caching (CLIENT TRACKING), so nothing is redirected.
fn client_getredir(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply.int(-1);
    Ok(())
}

/// CLIENT TRACKINGINFO
///
/// Tracking is off for every client: kopi has no CLIENT TRACKING.
fn client_trackinginfo(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let reply = &mut *ctx.reply;
    reply.map(3);
    reply.bulk(b"flags");
    reply.set(1);
    reply.bulk(b"off");
    reply.bulk(b"redirect");
    reply.int(-1);
    reply.bulk(b"prefixes");
    reply.array(0);
    Ok(())
}

/// CLIENT HELP
fn client_help(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const LINES: &[&str] = &[
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ];
    help_reply(ctx, &args[0], LINES);
    Ok(())
}

/// Redis's `addReplyHelp`: a header naming the container, the lines, the HELP footer.
pub fn help_reply(ctx: &mut Ctx, container: &[u8], lines: &[&str]) {
    ctx.reply.array(lines.len() + 3);
    ctx.reply.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(container).to_uppercase()
    ));
    for line in lines {
        ctx.reply.simple(line);
    }
    ctx.reply.simple("HELP");
    ctx.reply.simple("    Prints this help.");
}

// ---- the table ----

const CLIENT_FLAGS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;

const CLIENT_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "client|getname",
        arity: 2,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_getname,
        group: "connection",
        summary: "Get the current connection name",
        since: "2.6.9",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|getredir",
        arity: 2,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_getredir,
        group: "connection",
        summary: "Get tracking notifications redirection client ID if any",
        since: "6.0.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        acl: acl::CONNECTION,
        handler: client_help,
        group: "connection",
        summary: "Show helpful text about the different subcommands",
        since: "5.0.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|id",
        arity: 2,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_id,
        group: "connection",
        summary: "Returns the client ID for the current connection",
        since: "5.0.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|info",
        arity: 2,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_info,
        group: "connection",
        summary: "Returns information about the current client connection.",
        since: "6.2.0",
        complexity: "O(1)",
        tips: &["nondeterministic_output"],
        ..Command::DEFAULT
    },
    Command {
        name: "client|kill",
        arity: -3,
        flags: flag::ADMIN | CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_kill,
        group: "connection",
        summary: "Kill the connection of a client",
        since: "2.4.0",
        complexity: "O(N) where N is the number of client connections",
        history: &[
            ("2.8.12", "Added new filter format."),
            ("2.8.12", "`ID` option."),
            ("3.2.0", "Added `master` type in for `TYPE` option."),
            (
                "5.0.0",
                "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility.",
            ),
            ("6.2.0", "`LADDR` option."),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "client|list",
        arity: -2,
        flags: flag::ADMIN | CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_list,
        group: "connection",
        summary: "Get the list of client connections",
        since: "2.4.0",
        complexity: "O(N) where N is the number of client connections",
        tips: &["nondeterministic_output"],
        history: &[
            ("2.8.12", "Added unique client `id` field."),
            ("5.0.0", "Added optional `TYPE` filter."),
            ("6.0.0", "Added `user` field."),
            (
                "6.2.0",
                "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter.",
            ),
            (
                "7.0.0",
                "Added `resp`, `multi-mem`, `rbs` and `rbp` fields.",
            ),
            ("7.0.3", "Added `ssub` field."),
        ],
        ..Command::DEFAULT
    },
    Command {
        name: "client|no-evict",
        arity: 3,
        flags: flag::ADMIN | CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_no_evict,
        group: "connection",
        summary: "Set client eviction mode for the current connection",
        since: "7.0.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|pause",
        arity: -3,
        flags: flag::ADMIN | CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_pause,
        group: "connection",
        summary: "Stop processing commands from clients for some time",
        since: "2.9.50",
        complexity: "O(1)",
        history: &[(
            "6.2.0",
            "`CLIENT PAUSE WRITE` mode added along with the `mode` option.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "client|reply",
        arity: 3,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_reply,
        group: "connection",
        summary: "Instruct the server whether to reply to commands",
        since: "3.2.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|setname",
        arity: 3,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_setname,
        group: "connection",
        summary: "Set the current connection name",
        since: "2.6.9",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|trackinginfo",
        arity: 2,
        flags: CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_trackinginfo,
        group: "connection",
        summary: "Return information about server assisted client side caching for the current connection",
        since: "6.2.0",
        complexity: "O(1)",
        ..Command::DEFAULT
    },
    Command {
        name: "client|unblock",
        arity: -3,
        flags: flag::ADMIN | CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_unblock,
        group: "connection",
        summary: "Unblock a client blocked in a blocking command from a different connection",
        since: "5.0.0",
        complexity: "O(log N) where N is the number of client connections",
        ..Command::DEFAULT
    },
    Command {
        name: "client|unpause",
        arity: 2,
        flags: flag::ADMIN | CLIENT_FLAGS,
        acl: acl::CONNECTION,
        handler: client_unpause,
        group: "connection",
        summary: "Resume processing of clients that were paused",
        since: "6.2.0",
        complexity: "O(N) Where N is the number of paused clients",
        ..Command::DEFAULT
    },
];

pub const COMMANDS: &[Command] = &[
    Command {
        name: "ping",
        arity: -1,
        flags: flag::FAST,
        acl: acl::CONNECTION,
        handler: ping,
        group: "connection",
        summary: "Ping the server",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        ..Command::DEFAULT
    },
    Command {
        name: "echo",
        arity: 2,
        flags: flag::LOADING | flag::STALE | flag::FAST,
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
    Command {
        name: "reset",
        arity: 1,
        flags: flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::FAST
            | flag::NO_AUTH
            | flag::ALLOW_BUSY,
        acl: acl::CONNECTION,
        handler: reset,
        group: "connection",
        summary: "Reset the connection",
        since: "6.2.0",
        ..Command::DEFAULT
    },
    Command {
        name: "hello",
        arity: -1,
        flags: flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::FAST
            | flag::NO_AUTH
            | flag::ALLOW_BUSY,
        acl: acl::CONNECTION,
        handler: hello,
        group: "connection",
        summary: "Handshake with Redis",
        since: "6.0.0",
        history: &[(
            "6.2.0",
            "`protover` made optional; when called without arguments the command reports the current connection's context.",
        )],
        ..Command::DEFAULT
    },
    Command {
        name: "auth",
        arity: -2,
        flags: flag::NOSCRIPT
            | flag::LOADING
            | flag::STALE
            | flag::FAST
            | flag::NO_AUTH
            | flag::ALLOW_BUSY,
        acl: acl::CONNECTION,
        handler: auth,
        group: "connection",
        summary: "Authenticate to the server",
        complexity: "O(N) where N is the number of passwords defined for the user",
        history: &[("6.0.0", "Added ACL style (username and password).")],
        ..Command::DEFAULT
    },
    Command {
        name: "client",
        arity: -2,
        group: "connection",
        summary: "A container for client connection commands",
        since: "2.4.0",
        complexity: "Depends on subcommand.",
        subcommands: CLIENT_SUBCOMMANDS,
        ..Command::DEFAULT
    },
    Command {
        name: "monitor",
        arity: 1,
        flags: flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        handler: monitor,
        group: "server",
        summary: "Listen for all requests received by the server in real time",
        complexity: "",
        ..Command::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_types() {
        assert_eq!(client_type("N"), ClientType::Normal);
        assert_eq!(client_type("O"), ClientType::Normal);
        assert_eq!(client_type("P"), ClientType::PubSub);
        assert_eq!(client_type_by_name(b"REPLICA"), Ok(ClientType::Replica));
        assert_eq!(client_type_by_name(b"slave"), Ok(ClientType::Replica));
        assert_eq!(
            client_type_by_name(b"foo").unwrap_err().text(),
            "ERR Unknown client type 'foo'"
        );
    }
}
