//! Clients blocked on keys (BLPOP, BLMOVE, BLMPOP, ... and any other type's blocking pops).
//!
//! A blocking command first tries to serve itself at once; when it cannot, it registers a
//! [`Waiter`] with [`Ctx::block`] and its connection task waits for a [`Wake`], a timeout,
//! CLIENT UNBLOCK or its own disconnection. Everything below happens under the keyspace lock:
//!
//! - every change of a key ([`Ctx::modified_in`], [`Ctx::signal_watchers_in`], SWAPDB) calls
//!   [`Registry::signal`]: a key someone waits on becomes *ready* (Redis's
//!   `signalKeyAsReady`);
//! - after each top-level command (EXEC with what it ran counts as one), [`serve_ready`]
//!   walks the ready keys and offers each key to its waiters in the order they blocked. A
//!   waiter's [`ServeFn`] runs as if its client ran the non-blocking form right then (its own
//!   unit of effects, its own reply); when it serves, the waiter leaves every queue and its
//!   reply goes to its connection through a one-shot channel. Keys made ready while serving
//!   (BLMOVE's push) are served in the next round, until none are left;
//! - a timeout, CLIENT UNBLOCK and a disconnection remove the waiter under the same lock, so
//!   a waiter is either served or timed out, exactly once: a connection whose deadline passes
//!   takes the lock, and finds either its waiter still registered (it replies with the
//!   timeout reply) or the served reply already in its channel.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{Ctx, propagate};
use crate::error::Error;
use crate::protocol::{Protocol, Reply};
use crate::server::Server;
use crate::server::client::{CLIENT_ID_AOF, Client, ClientHandle, Peer};
use crate::server::state::State;

/// Offers `key` to a waiter that runs `request` (its blocking command's arguments): serves it
/// (writes the reply, changes the data, declares the effects with `ctx.propagate_as`) and
/// returns `Ok(true)`, or returns `Ok(false)` without changing anything when the key has
/// nothing for it (missing, empty, another type). An error is a reply too: the blocking
/// command's handler returns it when serving at once; a waiter is not served by one.
/// `woken` is false when the blocking command serves itself at once, true when a waiter is
/// served after it blocked (Redis records some effects differently then).
pub type ServeFn = fn(&mut Ctx, key: &Bytes, request: &[Bytes], woken: bool) -> Result<bool, Error>;

/// What a served (or unblocked) client receives: its reply, and the effects LSN it may only
/// be sent after (the durability contract).
#[derive(Debug)]
pub struct Wake {
    pub reply: Vec<u8>,
    pub lsn: u64,
}

/// What the connection task of a blocked client waits on.
#[derive(Debug)]
pub struct Pending {
    pub wake: oneshot::Receiver<Wake>,
    /// Absolute deadline in milliseconds; `None` waits forever.
    pub deadline_ms: Option<i64>,
}

/// The reply CLIENT UNBLOCK ... ERROR gives the blocked client.
pub const UNBLOCKED_ERROR: &[u8] = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";

/// A client blocked on keys.
struct Waiter {
    handle: Arc<ClientHandle>,
    db: usize,
    protocol: Protocol,
    keys: Vec<Bytes>,
    request: Vec<Bytes>,
    serve: ServeFn,
    /// The reply on timeout (and CLIENT UNBLOCK ... TIMEOUT), in the client's protocol.
    timeout_reply: Vec<u8>,
    wake: oneshot::Sender<Wake>,
}

/// The blocked clients, their per-key queues and the keys made ready; kept in [`State`].
#[derive(Default)]
pub struct Registry {
    waiters: HashMap<u64, Waiter>,
    /// Per db, per key: the ids of the clients waiting on it, in the order they blocked.
    queues: Vec<HashMap<Bytes, VecDeque<u64>>>,
    ready: Vec<(usize, Bytes)>,
    ready_set: HashSet<(usize, Bytes)>,
}

impl Registry {
    /// Number of clients blocked on keys.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    pub fn is_blocked(&self, client_id: u64) -> bool {
        self.waiters.contains_key(&client_id)
    }

    /// `key` in `db` changed: if clients wait on it, it is ready to be offered to them.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.waiters.is_empty() {
            return;
        }
        let Some((key, _)) = self.queues.get(db).and_then(|q| q.get_key_value(key)) else {
            return;
        };
        let entry = (db, key.clone());
        if self.ready_set.insert(entry.clone()) {
            self.ready.push(entry);
        }
    }

    /// Every key clients wait on in `db` is ready (SWAPDB replaced the db's content).
    pub fn signal_db(&mut self, db: usize) {
        let keys: Vec<Bytes> = match self.queues.get(db) {
            Some(queues) => queues.keys().cloned().collect(),
            None => return,
        };
        for key in keys {
            self.signal(db, &key);
        }
    }

    /// Whether keys wait to be offered to their waiters.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    fn add(&mut self, id: u64, waiter: Waiter) {
        if self.queues.len() <= waiter.db {
            self.queues.resize_with(waiter.db + 1, HashMap::new);
        }
        for key in &waiter.keys {
            let queue = self.queues[waiter.db].entry(key.clone()).or_default();
            if !queue.contains(&id) {
                queue.push_back(id);
            }
        }
        self.waiters.insert(id, waiter);
    }

    /// Removes a blocked client from the registry (served, timed out, unblocked, gone).
    fn remove(&mut self, id: u64) -> Option<Waiter> {
        let waiter = self.waiters.remove(&id)?;
        if let Some(queues) = self.queues.get_mut(waiter.db) {
            for key in &waiter.keys {
                if let Some(queue) = queues.get_mut(key) {
                    queue.retain(|&w| w != id);
                    if queue.is_empty() {
                        queues.remove(key);
                    }
                }
            }
        }
        Some(waiter)
    }

    /// The client stops waiting without a reply (its deadline passed, it disconnected):
    /// the timeout reply if it was still waiting, `None` if it was served meanwhile (its
    /// reply is then in its channel).
    pub fn cancel(&mut self, id: u64) -> Option<Vec<u8>> {
        self.remove(id).map(|w| w.timeout_reply)
    }

    /// CLIENT UNBLOCK: the client gets its timeout reply, or the UNBLOCKED error. False if it
    /// was not blocked on keys.
    pub fn unblock(&mut self, id: u64, error: bool) -> bool {
        let Some(waiter) = self.remove(id) else {
            return false;
        };
        let reply = if error {
            UNBLOCKED_ERROR.to_vec()
        } else {
            waiter.timeout_reply
        };
        let _ = waiter.wake.send(Wake { reply, lsn: 0 });
        true
    }
}

/// Parses a blocking command's timeout in seconds (fractions allowed, 0 = forever) into an
/// absolute deadline, as Redis's `getTimeoutFromObjectOrReply`: milliseconds rounded up.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, Error> {
    const NOT_FLOAT: Error = Error::new("ERR timeout is not a float or out of range");
    const NEGATIVE: Error = Error::new("ERR timeout is negative");
    let seconds = crate::util::parse_f64(arg).ok_or(NOT_FLOAT)?;
    let ms = (seconds * 1000.0).ceil();
    // Redis converts to a 64-bit integer: infinities and overflows come out negative.
    if !(0.0..i64::MAX as f64).contains(&ms) {
        return Err(NEGATIVE);
    }
    let ms = ms as i64;
    Ok((ms > 0).then(|| now_ms.saturating_add(ms)))
}

impl Ctx<'_> {
    /// Whether the running command may block: not inside MULTI/EXEC, not while replaying the
    /// AOF. Otherwise a blocking command behaves as its non-blocking form (an empty reply).
    pub fn can_block(&self) -> bool {
        self.client.call_depth <= 1 && self.client.id != CLIENT_ID_AOF
    }

    /// Blocks the client on `keys` until one of them can serve it with `serve`, `deadline_ms`
    /// passes (then it gets `timeout_reply`), or it is unblocked. The command's reply comes
    /// later, so the handler writes none.
    pub fn block(
        &mut self,
        keys: &[Bytes],
        deadline_ms: Option<i64>,
        serve: ServeFn,
        request: &[Bytes],
        timeout_reply: fn(&mut Reply),
    ) {
        let mut reply = Reply::new(self.client.protocol);
        timeout_reply(&mut reply);
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter {
            handle: self.client.handle.clone(),
            db: self.client.db,
            protocol: self.client.protocol,
            keys: keys.to_vec(),
            request: request.to_vec(),
            serve,
            timeout_reply: reply.buf,
            wake: tx,
        };
        self.state.blocking.add(self.client.id, waiter);
        self.server.blocked_clients.fetch_add(1, Ordering::Relaxed);
        self.client.blocked = Some(Pending {
            wake: rx,
            deadline_ms,
        });
    }
}

/// Offers the ready keys to their waiters, in the order the keys became ready and, per key,
/// in the order the clients blocked; repeats while serving makes more keys ready.
pub fn serve_ready(server: &Server, state: &mut State) {
    while state.blocking.has_ready() {
        let ready = std::mem::take(&mut state.blocking.ready);
        state.blocking.ready_set.clear();
        for (db, key) in ready {
            let waiting: Vec<u64> = state
                .blocking
                .queues
                .get(db)
                .and_then(|q| q.get(&key))
                .map(|q| q.iter().copied().collect())
                .unwrap_or_default();
            for id in waiting {
                serve_one(server, state, id, &key);
            }
        }
    }
}

/// Runs waiter `id`'s serve function on `key`; on success the waiter is woken with its reply.
fn serve_one(server: &Server, state: &mut State, id: u64, key: &Bytes) {
    let Some(waiter) = state.blocking.waiters.get(&id) else {
        return;
    };
    let (handle, db, protocol, serve) = (
        waiter.handle.clone(),
        waiter.db,
        waiter.protocol,
        waiter.serve,
    );
    let request = waiter.request.clone();
    let peer = Peer {
        addr: handle.addr.clone(),
        laddr: handle.laddr.clone(),
        fd: handle.fd,
        is_local: true,
        unix_path: None,
    };
    let mut client = Client::new(handle, peer, true);
    client.db = db;
    client.protocol = protocol;
    client.call_depth = 1;
    let mut reply = Reply::new(protocol);
    let now_ms = crate::util::now_ms();
    if state.effects.is_enabled() {
        state.effects.begin_unit(now_ms);
    }
    let dirty_before = state.store.dirty;
    let (served, declared) = {
        let mut ctx = Ctx {
            server,
            state,
            client: &mut client,
            reply: &mut reply,
            now_ms,
            declared: propagate::Declared::default(),
        };
        let served = serve(&mut ctx, key, &request, true);
        ctx.state.drain_expired();
        (served, ctx.declared)
    };
    // An error past the key's type check (BLMOVE's destination of the wrong type) is the
    // waiter's reply: it is unblocked with it, as in Redis, and nothing is recorded.
    let failed = match &served {
        Err(e) => {
            reply.buf.clear();
            reply.error(&e.text());
            true
        }
        Ok(_) => false,
    };
    let served = matches!(served, Ok(true));
    if state.effects.is_enabled() {
        if served {
            let changed = state.store.dirty != dirty_before;
            propagate::propagate_request(
                &mut state.effects,
                db,
                &request,
                declared,
                changed,
                false,
            );
        }
        state.effects.end_unit();
    }
    if !served && !failed {
        return;
    }
    if let Some(waiter) = state.blocking.remove(id) {
        let lsn = state.effects.lsn();
        let _ = waiter.wake.send(Wake {
            reply: reply.buf,
            lsn,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis() {
        assert_eq!(parse_timeout(b"0", 1000), Ok(None));
        assert_eq!(parse_timeout(b"0.0001", 1000), Ok(Some(1001)));
        assert_eq!(parse_timeout(b"1.5", 1000), Ok(Some(2500)));
        assert_eq!(parse_timeout(b"-0.0001", 1000), Ok(None));
        let negative = Err(Error::new("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"-1", 0), negative);
        assert_eq!(parse_timeout(b"inf", 0), negative);
        assert_eq!(parse_timeout(b"1e30", 0), negative);
        let not_float = Err(Error::new("ERR timeout is not a float or out of range"));
        assert_eq!(parse_timeout(b"abc", 0), not_float);
        assert_eq!(parse_timeout(b"nan", 0), not_float);
    }
}
