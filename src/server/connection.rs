//! One client connection: read, parse every complete request, run them all under one lock
//! acquisition, write all their replies with one socket write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Server;
use super::client::{Client, ClientHandle, ReplyMode};
use crate::commands;
use crate::protocol::request::ParseLimits;
use crate::protocol::{Protocol, Reply, RequestParser};

const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Redis's text for a non-local client while protected mode is on and no password is set.
pub const DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

pub struct Peer {
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub is_local: bool,
    pub is_unix: bool,
}

pub async fn serve<S>(server: Arc<Server>, mut stream: S, peer: Peer)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    server
        .net
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let maxclients = server.limits.maxclients.load(Ordering::Relaxed).max(0) as usize;
    if server.clients.len() >= maxclients {
        server
            .net
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    if server.limits.protected_mode.load(Ordering::Relaxed)
        && !server.auth_required()
        && !peer.is_local
    {
        let _ = stream.write_all(DENIED.as_bytes()).await;
        return;
    }

    let handle = server
        .clients
        .register(peer.addr.clone(), peer.laddr.clone(), peer.fd);
    let mut client = Client {
        id: handle.id,
        db: 0,
        authenticated: !server.auth_required(),
        user: "default".into(),
        name: None,
        addr: peer.addr,
        laddr: peer.laddr,
        fd: peer.fd,
        is_local: peer.is_local,
        is_unix: peer.is_unix,
        multi: None,
        multi_error: false,
        watched: Vec::new(),
        watch_dirty: Arc::new(AtomicBool::new(false)),
        reply_mode: ReplyMode::On,
        no_evict: false,
        close_after_reply: false,
        monitor: false,
        created: handle.created,
        handle: handle.clone(),
        protocol: Protocol::Resp2,
        lib_name: None,
    };
    run(&server, &mut stream, &mut client, &handle).await;
    // The client is gone: drop its WATCHes and registry entry.
    {
        let mut state = server.state.lock();
        crate::commands::transaction::unwatch_all(&mut state.store, &mut client);
    }
    if client.monitor {
        server.unsubscribe_monitor();
    }
    server.clients.unregister(client.id);
}

async fn run<S>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut Client,
    handle: &Arc<ClientHandle>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut parser = RequestParser::new();
    let mut reply = Reply::new(Protocol::Resp2);
    let mut batch: Vec<Vec<Bytes>> = Vec::new();
    let mut monitor_feed: Option<tokio::sync::broadcast::Receiver<Bytes>> = None;

    loop {
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
            buf.reserve(READ_CHUNK_BYTES);
        }
        let timeout_s = server.limits.timeout_s.load(Ordering::Relaxed);
        let idle_limit = if timeout_s > 0 && !client.monitor {
            Duration::from_secs(timeout_s as u64)
        } else {
            Duration::from_secs(u32::MAX as u64)
        };
        let read = tokio::select! {
            read = stream.read_buf(&mut buf) => read,
            _ = handle.kill.notified() => return,
            _ = tokio::time::sleep(idle_limit) => {
                super::log::verbose("Closing idle client");
                return;
            }
            line = recv_monitor(&mut monitor_feed) => {
                if let Some(line) = line && stream.write_all(&line).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if handle.killed.load(Ordering::Relaxed) {
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

        let limits = ParseLimits {
            proto_max_bulk_len: server.limits.proto_max_bulk_len.load(Ordering::Relaxed),
            authenticated: client.authenticated,
        };
        let mut protocol_error = None;
        loop {
            let limits = ParseLimits {
                authenticated: client.authenticated || !server.auth_required(),
                ..limits
            };
            match parser.next(&mut buf, limits) {
                Ok(Some(args)) => {
                    batch.push(args);
                    // Authentication changes what the parser accepts: run AUTH/HELLO before
                    // parsing further.
                    if !client.authenticated && server.auth_required() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        let query_limit = server
            .limits
            .client_query_buffer_limit
            .load(Ordering::Relaxed)
            .max(0) as usize;
        handle
            .query_buffer_bytes
            .store(buf.len(), Ordering::Relaxed);
        if buf.len() > query_limit {
            super::log::warning(&format!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                client.id,
                client.addr,
                String::from_utf8_lossy(&buf[..buf.len().min(64)])
            ));
            return;
        }

        while !batch.is_empty() {
            let writes = batch.iter().any(|args| {
                commands::lookup(&args[0])
                    .is_some_and(|c| c.is_write() || c.has(commands::flag::MAY_REPLICATE))
            });
            wait_for_unpause(server, writes).await;
            let mut state = server.state.lock();
            let mut executed = 0;
            for args in batch.iter() {
                executed += 1;
                run_one(server, &mut state, client, &mut reply, args);
                if client.close_after_reply || server.shutdown_requested.load(Ordering::Relaxed) {
                    break;
                }
                // AUTH may have changed what the parser must accept for what follows.
                if client.authenticated {
                    continue;
                }
            }
            drop(state);
            batch.drain(..executed);
            if client.close_after_reply {
                batch.clear();
            }
            if batch.is_empty() && protocol_error.is_none() && !client.close_after_reply {
                // Parse what authentication now allows, if anything is left.
                if !buf.is_empty() && client.authenticated {
                    loop {
                        let limits = ParseLimits {
                            authenticated: true,
                            ..limits
                        };
                        match parser.next(&mut buf, limits) {
                            Ok(Some(args)) => batch.push(args),
                            Ok(None) => break,
                            Err(e) => {
                                protocol_error = Some(e);
                                break;
                            }
                        }
                    }
                }
            }
        }
        if let Some(err) = &protocol_error
            && !client.close_after_reply
        {
            reply.error(&err.0);
            server.state.lock().stats.record_error("ERR");
            super::log::verbose(&format!(
                "Protocol error ({}) from client: id={} addr={}",
                err.0, client.id, client.addr
            ));
            client.close_after_reply = true;
        }
        if client.monitor && monitor_feed.is_none() {
            monitor_feed = Some(server.subscribe_monitor());
        }
        if !reply.buf.is_empty() {
            server
                .net
                .output_bytes
                .fetch_add(reply.buf.len() as u64, Ordering::Relaxed);
            if stream.write_all(&reply.buf).await.is_err() {
                return;
            }
            server.net.writes_processed.fetch_add(1, Ordering::Relaxed);
            reply.buf.clear();
            if reply.buf.capacity() > 64 * 1024 {
                reply.buf.shrink_to(16 * 1024);
            }
        }
        if client.close_after_reply || server.shutdown_requested.load(Ordering::Relaxed) {
            let _ = stream.flush().await;
            return;
        }
        update_shared_info(client, handle);
    }
}

/// Runs one request, applying CLIENT REPLY OFF/SKIP to what it wrote.
fn run_one(
    server: &Server,
    state: &mut super::state::State,
    client: &mut Client,
    reply: &mut Reply,
    args: &[Bytes],
) {
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let mark = reply.buf.len();
    reply.protocol = client.protocol;
    commands::execute(server, state, client, reply, args);
    client.handle.commands.fetch_add(1, Ordering::Relaxed);
    match client.reply_mode {
        ReplyMode::Off | ReplyMode::SkipNext => reply.buf.truncate(mark),
        ReplyMode::Skip => {
            reply.buf.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
        ReplyMode::On => {}
    }
}

async fn wait_for_unpause(server: &Server, writes: bool) {
    while let Some(pause) = server.pause_in_force(writes) {
        let left = (pause.until_ms - crate::util::now_ms()).clamp(1, 100) as u64;
        tokio::select! {
            _ = server.unpaused.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(left)) => {}
        }
    }
}

async fn recv_monitor(feed: &mut Option<tokio::sync::broadcast::Receiver<Bytes>>) -> Option<Bytes> {
    match feed {
        Some(rx) => loop {
            match rx.recv().await {
                Ok(line) => return Some(line),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return std::future::pending().await,
            }
        },
        None => std::future::pending().await,
    }
}

fn update_shared_info(client: &Client, handle: &ClientHandle) {
    let mut info = handle.info.lock();
    info.db = client.db;
    info.name = client.name_string();
    info.multi = client.multi.as_ref().map(|q| q.len() as i64).unwrap_or(-1);
    info.resp = if client.protocol == Protocol::Resp3 {
        3
    } else {
        2
    };
    info.user = client.user.clone();
    info.watched = client.watched.len();
    info.no_evict = client.no_evict;
    let mut flags = String::new();
    if client.monitor {
        flags.push('O');
    }
    if client.multi.is_some() {
        flags.push('x');
    }
    if client.watch_dirty.load(Ordering::Relaxed) {
        flags.push('d');
    }
    if client.is_unix {
        flags.push('U');
    }
    if client.no_evict {
        flags.push('e');
    }
    info.flags = flags;
}
