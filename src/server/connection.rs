//! One client connection: read, parse the complete requests, run them under one acquisition
//! of the keyspace lock, write all their replies with one socket write.
//!
//! Two things interrupt a batch: authentication (before it, each request is parsed with the
//! unauthenticated limits and run before the next is parsed) and CLIENT PAUSE (the lock is
//! released, the replies so far are written, and the client waits for the pause to end).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast;

use super::client::{Client, ReplyMode};
use super::log;
use super::state::State;
use super::{Server, repr};
use crate::commands::{self, eq_ignore_case, flag};
use crate::protocol::request::ParseLimits;
use crate::protocol::{Protocol, Reply, RequestParser};

pub use super::client::Peer;

const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Redis's text for a non-local client while protected mode is on and no password is set.
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

pub const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

/// Output (beyond the fixed reply buffer) a client may have pending while a password is
/// required and it never authenticated. Its replies are small errors, so only a client that
/// does not read them gets there; it is closed whatever `client-output-buffer-limit` says.
/// Redis's fix for CVE-2025-21605 uses the same 1024 bytes.
pub const UNAUTHENTICATED_OUTPUT_LIMIT_BYTES: usize = 1024;

/// How often a write that the client does not read is checked against the soft output limit.
const OUTPUT_LIMIT_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// A client counts as local, as Redis's `islocalClient`, when it comes through the unix
/// socket or from exactly `127.0.0.1` or `::1` (not the rest of 127.0.0.0/8).
pub fn is_local_ip(ip: IpAddr) -> bool {
    ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)
}

/// Whether protected mode turns a client away: it is on, the default user has no password,
/// and the client is not local.
pub fn protected_mode_refuses(protected_mode: bool, password_set: bool, is_local: bool) -> bool {
    protected_mode && !password_set && !is_local
}

pub async fn serve<S>(server: Arc<Server>, mut stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let maxclients = server.limits.maxclients.load(Ordering::Relaxed).max(0) as usize;
    let Some(handle) = server.clients.try_register(&peer, maxclients) else {
        reject(&server, &mut stream, MAX_CLIENTS_REACHED).await;
        return;
    };
    if protected_mode_refuses(
        server.limits.protected_mode.load(Ordering::Relaxed),
        server.auth_required(),
        peer.is_local,
    ) {
        server.clients.unregister(handle.id);
        reject(&server, &mut stream, DENIED.as_bytes()).await;
        return;
    }
    server
        .net
        .connections_received
        .fetch_add(1, Ordering::Relaxed);

    let mut client = Client::new(handle, peer, !server.auth_required());
    run(&server, &mut stream, &mut client).await;

    // The client is gone: drop its WATCHes, its wait on keys, its MONITOR feed and its
    // registry entry.
    {
        let mut state = server.state.lock();
        commands::transaction::unwatch_all(&mut state.store, &mut client);
        if client.blocked.take().is_some() {
            state.blocking.cancel(client.id);
            server.blocked_clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if client.monitor.take().is_some() {
        server.unsubscribe_monitor();
    }
    server.clients.unregister(client.id);
}

/// Best effort: the refusal text, then the connection closes.
async fn reject<S: AsyncWrite + Unpin>(server: &Server, stream: &mut S, text: &[u8]) {
    server
        .net
        .rejected_connections
        .fetch_add(1, Ordering::Relaxed);
    let _ = stream.write_all(text).await;
}

async fn run<S>(server: &Arc<Server>, stream: &mut S, client: &mut Client)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handle = client.handle.clone();
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut parser = RequestParser::new();
    let mut reply = Reply::new(Protocol::Resp2);

    loop {
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
            buf.reserve(READ_CHUNK_BYTES);
        }
        let read = tokio::select! {
            read = stream.read_buf(&mut buf) => read,
            _ = handle.kill.notified() => return,
            line = next_monitor_line(&mut client.monitor) => {
                if let Some(line) = line
                    && client.reply_mode != ReplyMode::Off
                    && write_out(server, client, stream, &line).await.is_err()
                {
                    return;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) => {
                if log::enabled(log::Level::Verbose) {
                    log::verbose(&format!("Client closed connection {}", client.describe()));
                }
                return;
            }
            Err(e) => {
                log::verbose(&format!("Reading from client: {e}"));
                return;
            }
            Ok(n) => n,
        };
        if handle.is_killed() {
            return;
        }
        server
            .net
            .input_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        server.net.reads_processed.fetch_add(1, Ordering::Relaxed);
        handle
            .last_interaction_ms
            .store(crate::util::now_ms(), Ordering::Relaxed);
        handle
            .query_buffer_bytes
            .store(buf.len(), Ordering::Relaxed);

        if over_query_limit(server, client, &buf) {
            return;
        }

        let mut need_lsn = 0;
        if process_input(
            server,
            stream,
            client,
            &mut parser,
            &mut buf,
            &mut reply,
            &mut need_lsn,
        )
        .await
        .is_err()
        {
            return;
        }
        handle
            .query_buffer_bytes
            .store(buf.len(), Ordering::Relaxed);
        if !wait_durable(server, need_lsn).await {
            return;
        }
        if write_out(server, client, stream, &reply.buf).await.is_err() {
            return;
        }
        reply.buf.clear();
        if reply.buf.capacity() > 64 * 1024 {
            reply.buf.shrink_to(16 * 1024);
        }
        if client.close_after_reply || server.shutdown_requested.load(Ordering::Relaxed) {
            let _ = stream.flush().await;
            return;
        }
    }
}

/// The connection must close now, without writing what is pending.
struct CloseNow;

/// Runs every complete request in `buf`. Replies accumulate in `reply`.
async fn process_input<S>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut Client,
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    reply: &mut Reply,
    need_lsn: &mut u64,
) -> Result<(), CloseNow>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut batch = Vec::new();
    loop {
        let error = parse_batch(server, client, parser, buf, &mut batch);
        if batch.is_empty() && error.is_none() {
            return Ok(());
        }
        let mut next = 0;
        while next < batch.len() {
            match run_batch(server, client, reply, &batch, &mut next, need_lsn) {
                Step::Done => break,
                Step::Close => return Err(CloseNow),
                Step::Blocked => {
                    // Replies so far leave now; the blocked command's comes when it is
                    // served, times out or is unblocked.
                    if !wait_durable(server, *need_lsn).await {
                        return Err(CloseNow);
                    }
                    *need_lsn = 0;
                    if write_out(server, client, stream, &reply.buf).await.is_err() {
                        return Err(CloseNow);
                    }
                    reply.buf.clear();
                    let wake = wait_blocked(server, stream, client, buf)
                        .await
                        .ok_or(CloseNow)?;
                    *need_lsn = wake.lsn;
                    if !matches!(client.reply_mode, ReplyMode::Off) {
                        reply.raw(&wake.reply);
                    }
                    if wake.reply.starts_with(b"-") {
                        server.state.lock().stats.record_error("UNBLOCKED");
                    }
                }
                Step::Paused { writes } => {
                    // Replies of the requests already run leave now; then wait.
                    if !wait_durable(server, *need_lsn).await {
                        return Err(CloseNow);
                    }
                    *need_lsn = 0;
                    if write_out(server, client, stream, &reply.buf).await.is_err() {
                        return Err(CloseNow);
                    }
                    reply.buf.clear();
                    if !wait_for_unpause(server, client, writes).await {
                        return Err(CloseNow);
                    }
                }
            }
        }
        batch.clear();
        if stop_reading(server, client) {
            return Ok(());
        }
        if let Some(error) = error {
            protocol_error(server, client, reply, &error.0);
            return Ok(());
        }
    }
}

/// Parses the complete requests the client may send now. Before authentication requests are
/// parsed one at a time, each with the unauthenticated limits, since running it may lift
/// them; RESET ends a batch too, as it may drop the authentication.
fn parse_batch(
    server: &Server,
    client: &Client,
    parser: &mut RequestParser,
    buf: &mut BytesMut,
    batch: &mut Vec<Vec<Bytes>>,
) -> Option<crate::protocol::request::ParseError> {
    let authenticated = client.authenticated || !server.auth_required();
    let limits = ParseLimits {
        proto_max_bulk_len: server.limits.proto_max_bulk_len.load(Ordering::Relaxed),
        authenticated,
    };
    loop {
        match parser.next(buf, limits) {
            Ok(Some(args)) => {
                let last = !authenticated || eq_ignore_case(&args[0], "reset");
                batch.push(args);
                if last {
                    return None;
                }
            }
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

enum Step {
    /// The batch ran to its end (or to a request that closes the connection).
    Done,
    /// The request at `next` must wait for a CLIENT PAUSE to end.
    Paused { writes: bool },
    /// The request before `next` blocked on keys: the client waits for its reply.
    Blocked,
    /// The client must be dropped at once.
    Close,
}

fn stop_reading(server: &Server, client: &Client) -> bool {
    client.close_after_reply
        || client.handle.is_killed()
        || server.shutdown_requested.load(Ordering::Relaxed)
}

/// Runs `batch[*next..]` under one acquisition of the keyspace lock. If the batch recorded
/// effects, `need_lsn` becomes the effects LSN at its end: its replies may leave once the AOF
/// covers it.
fn run_batch(
    server: &Server,
    client: &mut Client,
    reply: &mut Reply,
    batch: &[Vec<Bytes>],
    next: &mut usize,
    need_lsn: &mut u64,
) -> Step {
    let mut state = server.state.lock();
    let lsn_before = state.effects.lsn();
    let step = run_batch_locked(server, &mut state, client, reply, batch, next);
    let lsn_after = state.effects.lsn();
    if lsn_after > lsn_before {
        *need_lsn = (*need_lsn).max(lsn_after);
    }
    step
}

fn run_batch_locked(
    server: &Server,
    state: &mut State,
    client: &mut Client,
    reply: &mut Reply,
    batch: &[Vec<Bytes>],
    next: &mut usize,
) -> Step {
    drain_monitor(client, reply);
    while let Some(args) = batch.get(*next) {
        // Nothing is pending but `reply`: earlier replies were written before this batch.
        let limits = OutputLimits::of(server, client);
        reply.limit_bytes = limits.hard_pending_bytes();
        if stop_reading(server, client) {
            break;
        }
        if is_cross_protocol_attack(&args[0]) {
            security_warning();
            return Step::Close;
        }
        if let Some(writes) = paused_for(server, client, args) {
            client.publish();
            return Step::Paused { writes };
        }
        run_one(server, state, client, reply, args);
        *next += 1;
        if limits.reached(client, reply.buf.len()) {
            // As Redis: the command ran to its end (a transaction is never cut), but its
            // reply and those pending before it are dropped with the client.
            client
                .handle
                .output_bytes
                .store(reply.buf.len(), Ordering::Relaxed);
            client.publish();
            log::warning(&format!(
                "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                client.describe()
            ));
            return Step::Close;
        }
        if client.blocked.is_some() {
            client.publish();
            return Step::Blocked;
        }
        drain_monitor(client, reply);
    }
    client.publish();
    Step::Done
}

/// Holds a reply batch that carries writes until the AOF has them as durable as `appendfsync`
/// requires (the durability contract). False when the server is stopping.
async fn wait_durable(server: &Server, need_lsn: u64) -> bool {
    if need_lsn == 0 {
        return true;
    }
    match server.aof() {
        Some(aof) => aof.wait_durable(need_lsn).await,
        None => true,
    }
}

/// Runs one request, applying CLIENT REPLY OFF/SKIP to what it wrote.
fn run_one(
    server: &Server,
    state: &mut State,
    client: &mut Client,
    reply: &mut Reply,
    args: &[Bytes],
) {
    let mark = reply.buf.len();
    reply.protocol = client.protocol;
    commands::execute(server, state, client, reply, args);
    client.handle.commands.fetch_add(1, Ordering::Relaxed);
    if matches!(client.reply_mode, ReplyMode::Off | ReplyMode::Skip) {
        reply.buf.truncate(mark);
    }
    // As Redis's resetClient: a skip lasts one command, CLIENT REPLY SKIP arms it.
    client.reply_mode = match client.reply_mode {
        ReplyMode::Skip => ReplyMode::On,
        ReplyMode::SkipNext => ReplyMode::Skip,
        mode => mode,
    };
}

/// The protocol error reply; the connection closes after it.
fn protocol_error(server: &Server, client: &mut Client, reply: &mut Reply, text: &str) {
    if !matches!(client.reply_mode, ReplyMode::Off | ReplyMode::Skip) {
        reply.raw(b"-");
        reply.raw(text.as_bytes());
        reply.raw(b"\r\n");
    }
    server.state.lock().stats.record_error("ERR");
    if log::enabled(log::Level::Verbose) {
        log::verbose(&format!(
            "Protocol error ({}) from client: {}",
            text.trim_start_matches("ERR Protocol error: "),
            client.describe()
        ));
    }
    client.close_after_reply = true;
}

/// `POST` and `Host:` as a command name: an HTTP request trying to reach the server through
/// a browser (cross protocol scripting). Redis drops such clients.
fn is_cross_protocol_attack(name: &[u8]) -> bool {
    eq_ignore_case(name, "post") || eq_ignore_case(name, "host:")
}

fn security_warning() {
    static LOGGED_S: AtomicI64 = AtomicI64::new(0);
    let now = crate::util::now_ms() / 1000;
    let last = LOGGED_S.load(Ordering::Relaxed);
    if (now - last).abs() > 60 && LOGGED_S.swap(now, Ordering::Relaxed) == last {
        log::warning(
            "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.",
        );
    }
}

/// If a CLIENT PAUSE holds this request back: whether it counts as a write (what a
/// `WRITE` pause holds back). Requests that fail before running (unknown command, wrong
/// arity, NOAUTH) are not held, nor are MONITOR clients, as in Redis.
fn paused_for(server: &Server, client: &Client, args: &[Bytes]) -> Option<bool> {
    if client.is_monitor() || !server.pause_active() {
        return None;
    }
    let command = commands::resolve(args).ok()?;
    if !client.authenticated && server.auth_required() && !command.has(flag::NO_AUTH) {
        return None;
    }
    let may_replicate = |c: &commands::Command| c.is_write() || c.has(flag::MAY_REPLICATE);
    let writes = may_replicate(command)
        || (command.name == "exec"
            && client.multi.as_ref().is_some_and(|queue| {
                queue
                    .iter()
                    .any(|q| commands::resolve(q).is_ok_and(may_replicate))
            }));
    server.pause_in_force(writes).map(|_| writes)
}

/// Waits until no pause holds back a request of this kind. False if the client was killed
/// meanwhile.
async fn wait_for_unpause(server: &Server, client: &Client, writes: bool) -> bool {
    let handle = &client.handle;
    handle.idle_exempt.store(true, Ordering::Relaxed);
    let mut alive = true;
    // A client held back by a pause counts as blocked (INFO blocked_clients), as in Redis.
    let _blocked = BlockedGuard::new(server);
    while let Some(pause) = server.pause_in_force(writes) {
        if handle.is_killed() {
            alive = false;
            break;
        }
        let left = (pause.until_ms - crate::util::now_ms()).clamp(1, 100) as u64;
        tokio::select! {
            _ = server.unpaused.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(left)) => {}
            _ = handle.kill.notified() => {
                alive = false;
                break;
            }
        }
    }
    handle
        .idle_exempt
        .store(client.is_monitor(), Ordering::Relaxed);
    alive
}

/// Waits for the reply of a command that blocked on keys: served by another client's write,
/// timed out, unblocked by CLIENT UNBLOCK. Input that arrives meanwhile is kept in `buf` for
/// later. `None` when the client disconnects or is killed (its wait is dropped).
async fn wait_blocked<S>(
    server: &Server,
    stream: &mut S,
    client: &mut Client,
    buf: &mut BytesMut,
) -> Option<commands::blocking::Wake>
where
    S: AsyncRead + Unpin,
{
    let pending = client.blocked.take()?;
    let handle = client.handle.clone();
    handle.idle_exempt.store(true, Ordering::Relaxed);
    let mut wake = pending.wake;
    let deadline = pending.deadline_ms.map(|at| {
        let left = (at - crate::util::now_ms()).max(0) as u64;
        tokio::time::Instant::now() + Duration::from_millis(left)
    });
    let sleep = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let outcome = loop {
        tokio::select! {
            woken = &mut wake => break woken.ok(),
            _ = &mut sleep => {
                let timed_out = server.state.lock().blocking.cancel(client.id);
                break match timed_out {
                    Some(reply) => Some(commands::blocking::Wake { reply, lsn: 0 }),
                    // Served just before the deadline: the reply is in the channel.
                    None => wake.try_recv().ok(),
                };
            }
            _ = handle.kill.notified() => {
                server.state.lock().blocking.cancel(client.id);
                break None;
            }
            read = stream.read_buf(buf) => {
                if matches!(read, Ok(0) | Err(_)) {
                    // Gone: drop the wait unless it was served at this very moment.
                    let cancelled = server.state.lock().blocking.cancel(client.id);
                    if cancelled.is_none() {
                        drop(wake.try_recv());
                    }
                    break None;
                }
                handle.query_buffer_bytes.store(buf.len(), Ordering::Relaxed);
                // Input piling up behind a blocked command counts against the same limit.
                if over_query_limit(server, client, buf) {
                    let cancelled = server.state.lock().blocking.cancel(client.id);
                    if cancelled.is_none() {
                        drop(wake.try_recv());
                    }
                    break None;
                }
            }
        }
    };
    server.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    handle
        .idle_exempt
        .store(client.is_monitor(), Ordering::Relaxed);
    client.publish();
    outcome
}

/// Whether `buf` passed `client-query-buffer-limit`; logs Redis's line when it did (the
/// caller closes the client).
fn over_query_limit(server: &Server, client: &Client, buf: &[u8]) -> bool {
    let limit = server
        .limits
        .client_query_buffer_limit
        .load(Ordering::Relaxed)
        .max(0) as usize;
    if buf.len() <= limit {
        return false;
    }
    log::warning(&format!(
        "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
        client.describe(),
        repr(&buf[..buf.len().min(64)])
    ));
    true
}

/// Counts a client in `Server::blocked_clients` while it lives.
struct BlockedGuard<'a>(&'a Server);

impl<'a> BlockedGuard<'a> {
    fn new(server: &'a Server) -> Self {
        server.blocked_clients.fetch_add(1, Ordering::Relaxed);
        BlockedGuard(server)
    }
}

impl Drop for BlockedGuard<'_> {
    fn drop(&mut self) {
        self.0.blocked_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The `client-output-buffer-limit` that applies to a client, in bytes beyond the fixed
/// reply buffer (what Redis counts): its `normal` class, tightened to
/// [`UNAUTHENTICATED_OUTPUT_LIMIT_BYTES`] while a password is required and the client never
/// authenticated.
#[derive(Debug, Clone, Copy)]
struct OutputLimits {
    hard_bytes: usize,
    soft_bytes: usize,
    soft_seconds: i64,
    unauthenticated: bool,
}

impl OutputLimits {
    fn of(server: &Server, client: &Client) -> OutputLimits {
        let limits = &server.limits;
        OutputLimits {
            hard_bytes: limits.output_hard_limit_bytes.load(Ordering::Relaxed) as usize,
            soft_bytes: limits.output_soft_limit_bytes.load(Ordering::Relaxed) as usize,
            soft_seconds: limits.output_soft_limit_seconds.load(Ordering::Relaxed) as i64,
            unauthenticated: !client.ever_authenticated && server.auth_required(),
        }
    }

    /// The pending bytes (fixed buffer included) at which the hard limit closes the client;
    /// 0 when there is none.
    fn hard_pending_bytes(&self) -> usize {
        let hard = match (self.unauthenticated, self.hard_bytes) {
            (true, 0) => UNAUTHENTICATED_OUTPUT_LIMIT_BYTES + 1,
            (true, hard) => hard.min(UNAUTHENTICATED_OUTPUT_LIMIT_BYTES + 1),
            (false, hard) => hard,
        };
        if hard == 0 {
            0
        } else {
            hard.saturating_add(super::client::REPLY_STATIC_BUFFER_BYTES)
        }
    }

    /// Redis's `checkClientOutputBufferLimits`: whether `pending` bytes not yet written close
    /// the client: at once past the hard limit, or once past the soft limit continuously for
    /// more than its seconds. Keeps the client's soft-limit clock as a side effect.
    fn reached(&self, client: &mut Client, pending: usize) -> bool {
        let used = super::client::output_memory(pending);
        if used == 0 {
            client.output_soft_limit_since_s = 0;
            return false;
        }
        if self.unauthenticated && used > UNAUTHENTICATED_OUTPUT_LIMIT_BYTES {
            return true;
        }
        let hard = self.hard_bytes != 0 && used >= self.hard_bytes;
        let mut soft = self.soft_bytes != 0 && used >= self.soft_bytes;
        if soft {
            let now_s = crate::util::now_ms() / 1000;
            if client.output_soft_limit_since_s == 0 {
                client.output_soft_limit_since_s = now_s;
                soft = false;
            } else if now_s - client.output_soft_limit_since_s <= self.soft_seconds {
                soft = false;
            }
        } else {
            client.output_soft_limit_since_s = 0;
        }
        hard || soft
    }
}

/// Writes `bytes` to the client, counting them. While the client does not read, the bytes
/// not yet written are its pending output (CLIENT LIST `omem`, INFO
/// `client_recent_max_output_buffer`): they are checked against the soft output limit as
/// time passes, and the client is closed once it holds. Nothing else is produced for a
/// client while it waits here, so its pending output never grows past one batch of replies,
/// which the hard limit already bounds. CLIENT KILL ends the wait too.
async fn write_out<S: AsyncWrite + Unpin>(
    server: &Server,
    client: &mut Client,
    stream: &mut S,
    bytes: &[u8],
) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let handle = client.handle.clone();
    let closed = || std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
    let mut written = 0;
    // The timer is only polled when a write does not complete at once (`biased`).
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + OUTPUT_LIMIT_CHECK_INTERVAL,
        OUTPUT_LIMIT_CHECK_INTERVAL,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    server
        .clients
        .recent_max_output
        .record(super::client::output_memory(bytes.len()));
    while written < bytes.len() {
        handle
            .output_bytes
            .store(bytes.len() - written, Ordering::Relaxed);
        tokio::select! {
            biased;
            n = stream.write(&bytes[written..]) => {
                match n? {
                    0 => return Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                    n => written += n,
                }
            }
            _ = ticker.tick() => {
                let limits = OutputLimits::of(server, client);
                if limits.reached(client, bytes.len() - written) {
                    log::warning(&format!(
                        "Client {} closed for overcoming of output buffer limits.",
                        client.describe()
                    ));
                    handle.output_bytes.store(0, Ordering::Relaxed);
                    return Err(closed());
                }
            }
            _ = handle.kill.notified() => {
                handle.output_bytes.store(0, Ordering::Relaxed);
                return Err(closed());
            }
        }
    }
    handle.output_bytes.store(0, Ordering::Relaxed);
    client.output_soft_limit_since_s = 0;
    server
        .net
        .output_bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    server.net.writes_processed.fetch_add(1, Ordering::Relaxed);
    handle
        .last_interaction_ms
        .store(crate::util::now_ms(), Ordering::Relaxed);
    Ok(())
}

async fn next_monitor_line(feed: &mut Option<broadcast::Receiver<Bytes>>) -> Option<Bytes> {
    match feed {
        Some(rx) => loop {
            match rx.recv().await {
                Ok(line) => return Some(line),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
            }
        },
        None => std::future::pending().await,
    }
}

/// Moves the MONITOR lines fed so far into the reply, so that a MONITOR client sees its own
/// commands' replies and the feed in the order they happened.
fn drain_monitor(client: &mut Client, reply: &mut Reply) {
    let off = client.reply_mode == ReplyMode::Off;
    let Some(feed) = client.monitor.as_mut() else {
        return;
    };
    loop {
        match feed.try_recv() {
            Ok(line) if !off => reply.raw(&line),
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_loopback_addresses_are_local() {
        assert!(is_local_ip("127.0.0.1".parse().unwrap()));
        assert!(is_local_ip("::1".parse().unwrap()));
        assert!(!is_local_ip("127.0.0.2".parse().unwrap()));
        assert!(!is_local_ip("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_local_ip("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn protected_mode_decision() {
        // protected mode, password set, local client
        assert!(protected_mode_refuses(true, false, false));
        assert!(!protected_mode_refuses(true, false, true));
        assert!(!protected_mode_refuses(true, true, false));
        assert!(!protected_mode_refuses(false, false, false));
    }

    #[test]
    fn denied_text_is_one_redis_error_line() {
        assert!(DENIED.starts_with("-DENIED Redis is running in protected mode"));
        assert!(DENIED.ends_with("from the outside.\r\n"));
        assert_eq!(DENIED.matches("\r\n").count(), 1);
    }

    #[test]
    fn cross_protocol_names() {
        assert!(is_cross_protocol_attack(b"POST"));
        assert!(is_cross_protocol_attack(b"host:"));
        assert!(!is_cross_protocol_attack(b"host"));
    }
}
