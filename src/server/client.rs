//! Per-connection state, and the registry other connections read (CLIENT LIST/KILL, INFO).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Notify, broadcast};

use crate::protocol::Protocol;

/// CLIENT REPLY modes, as Redis's `CLIENT_REPLY_*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// CLIENT REPLY SKIP was just run: the next command's reply is dropped.
    SkipNext,
    /// The reply of the command being run is dropped.
    Skip,
}

/// The id of the client that replays the AOF at start-up (Redis's `CLIENT_ID_AOF`): it is
/// not refused while loading, and MONITOR does not see what it runs.
pub const CLIENT_ID_AOF: u64 = u64::MAX;

/// Where a connection comes from.
#[derive(Debug, Clone)]
pub struct Peer {
    /// `ip:port`, `[ipv6]:port`, or `path:0` for the unix socket.
    pub addr: String,
    /// The local end, in the same form.
    pub laddr: String,
    pub fd: i32,
    /// Loopback (`127.0.0.1`, `::1`) or the unix socket: exempt from protected mode.
    pub is_local: bool,
    /// The unix socket path when the client came through it.
    pub unix_path: Option<String>,
}

impl Peer {
    /// The peer of a client inside the process (the AOF loader, the tools' replays, tests):
    /// no socket, local.
    pub fn internal() -> Peer {
        Peer {
            addr: String::new(),
            laddr: String::new(),
            fd: -1,
            is_local: true,
            unix_path: None,
        }
    }
}

/// State owned by the connection task; handlers get it through `Ctx::client`.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    /// Authenticated at some point (Redis's "ever authenticated"): until then, with a password
    /// required, the output is capped small (CVE-2025-21605).
    pub ever_authenticated: bool,
    /// When the pending output went over the soft output limit (unix seconds; 0: it is not).
    pub output_soft_limit_since_s: i64,
    pub user: String,
    pub name: Option<Bytes>,
    /// `ip:port`, `[ipv6]:port`, or `path:0` for the unix socket.
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub is_local: bool,
    /// The unix socket path when the client came through it.
    pub unix_path: Option<String>,
    /// Queued commands while inside MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC must abort.
    pub multi_error: bool,
    pub watched: Vec<(usize, Bytes)>,
    pub watch_dirty: Arc<AtomicBool>,
    pub reply_mode: ReplyMode,
    pub no_evict: bool,
    pub close_after_reply: bool,
    /// The MONITOR feed, once the client ran MONITOR.
    pub monitor: Option<broadcast::Receiver<Bytes>>,
    pub created: Instant,
    pub handle: Arc<ClientHandle>,
    pub protocol: Protocol,
    /// Full name of the last command looked up for this client (`client|list`), shown as
    /// `cmd=` by CLIENT LIST; `None` when the last request named no command.
    pub last_command: Option<&'static str>,
    /// Arguments of the running command that MONITOR and the slow log must not show
    /// (passwords); the dispatcher clears it after each command.
    pub redacted: Vec<usize>,
    /// How deep in `call()` the client is: 2 and more means inside EXEC.
    pub call_depth: u32,
    /// Set by a command that blocked on keys: what the connection waits on.
    pub blocked: Option<crate::commands::blocking::Pending>,
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, peer: Peer, authenticated: bool) -> Client {
        Client {
            id: handle.id,
            db: 0,
            authenticated,
            ever_authenticated: authenticated,
            output_soft_limit_since_s: 0,
            user: "default".into(),
            name: None,
            addr: peer.addr,
            laddr: peer.laddr,
            fd: peer.fd,
            is_local: peer.is_local,
            unix_path: peer.unix_path,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_dirty: handle.watch_dirty.clone(),
            reply_mode: ReplyMode::On,
            no_evict: false,
            close_after_reply: false,
            monitor: None,
            created: handle.created,
            handle,
            protocol: Protocol::Resp2,
            last_command: None,
            redacted: Vec::new(),
            call_depth: 0,
            blocked: None,
        }
    }

    pub fn name_string(&self) -> String {
        self.name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default()
    }

    pub fn is_monitor(&self) -> bool {
        self.monitor.is_some()
    }

    pub fn is_unix(&self) -> bool {
        self.unix_path.is_some()
    }

    /// How MONITOR names the client: `127.0.0.1:5000`, or `unix:/path` for the unix socket.
    pub fn monitor_origin(&self) -> String {
        match &self.unix_path {
            Some(path) => format!("unix:{path}"),
            None => self.addr.clone(),
        }
    }

    /// The `flags=` letters of CLIENT LIST, in Redis's order (`N` for none).
    pub fn flags(&self) -> String {
        self.shared_info().flags(&self.watch_dirty)
    }

    /// What CLIENT LIST shows of this client right now.
    pub fn shared_info(&self) -> SharedInfo {
        SharedInfo {
            name: self.name_string(),
            db: self.db,
            last_command: self.last_command,
            monitor: self.is_monitor(),
            close_after_reply: self.close_after_reply,
            unix: self.is_unix(),
            no_evict: self.no_evict,
            multi: self.multi.as_ref().map(|q| q.len() as i64).unwrap_or(-1),
            blocked: self.blocked.is_some(),
            user: self.user.clone(),
            resp: if self.protocol == Protocol::Resp3 {
                3
            } else {
                2
            },
        }
    }

    /// Publishes the fields other connections read (CLIENT LIST, CLIENT KILL filters).
    pub fn publish(&self) {
        *self.handle.info.lock() = self.shared_info();
        self.handle
            .idle_exempt
            .store(self.is_monitor(), Ordering::Relaxed);
    }

    /// One line of CLIENT LIST / CLIENT INFO for this client, from its live state.
    pub fn describe(&self) -> String {
        self.handle.describe_with(&self.shared_info())
    }
}

/// What other connections may read or signal about a client.
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created: Instant,
    pub info: Mutex<SharedInfo>,
    pub last_interaction_ms: AtomicI64,
    pub killed: AtomicBool,
    pub kill: Notify,
    /// Set when a WATCHed key changes (the client's `watch_dirty`), shown as flag `d`.
    pub watch_dirty: Arc<AtomicBool>,
    /// MONITOR clients and clients waiting out a CLIENT PAUSE are never closed as idle.
    pub idle_exempt: AtomicBool,
    pub query_buffer_bytes: AtomicUsize,
    pub output_bytes: AtomicUsize,
    pub commands: AtomicU64,
}

/// Fields shown by CLIENT LIST that change while the client runs.
#[derive(Debug, Clone, Default)]
pub struct SharedInfo {
    pub name: String,
    pub db: usize,
    pub last_command: Option<&'static str>,
    pub monitor: bool,
    pub close_after_reply: bool,
    pub unix: bool,
    pub no_evict: bool,
    /// Commands queued in MULTI, -1 outside a transaction.
    pub multi: i64,
    /// Blocked on keys (flag `b`).
    pub blocked: bool,
    pub user: String,
    pub resp: u8,
}

impl SharedInfo {
    /// The `flags=` letters of CLIENT LIST, in Redis's order (`N` for none).
    pub fn flags(&self, watch_dirty: &AtomicBool) -> String {
        let mut flags = String::new();
        for (on, letter) in [
            (self.monitor, 'O'),
            (self.multi >= 0, 'x'),
            (self.blocked, 'b'),
            (watch_dirty.load(Ordering::Relaxed), 'd'),
            (self.close_after_reply, 'c'),
            (self.unix, 'U'),
            (self.no_evict, 'e'),
        ] {
            if on {
                flags.push(letter);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }
}

impl ClientHandle {
    /// A handle that is in no registry: for a client that is not a connection (the AOF
    /// loader), and the start of every registered one.
    pub fn detached(id: u64, peer: &Peer) -> Arc<ClientHandle> {
        Arc::new(ClientHandle {
            id,
            addr: peer.addr.clone(),
            laddr: peer.laddr.clone(),
            fd: peer.fd,
            created: Instant::now(),
            info: Mutex::new(SharedInfo {
                user: "default".into(),
                resp: 2,
                multi: -1,
                ..Default::default()
            }),
            last_interaction_ms: AtomicI64::new(crate::util::now_ms()),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            idle_exempt: AtomicBool::new(false),
            query_buffer_bytes: AtomicUsize::new(0),
            output_bytes: AtomicUsize::new(0),
            commands: AtomicU64::new(0),
        })
    }

    /// Asks the connection to close now (CLIENT KILL, idle timeout).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.kill.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// One line of CLIENT LIST from the last published state.
    pub fn describe(&self) -> String {
        let info = self.info.lock().clone();
        self.describe_with(&info)
    }

    /// One line of CLIENT LIST, with Redis 7.0's fields in Redis's order.
    pub fn describe_with(&self, info: &SharedInfo) -> String {
        let now_s = crate::util::now_ms() / 1000;
        let last_s = self.last_interaction_ms.load(Ordering::Relaxed) / 1000;
        let idle = (now_s - last_s).max(0);
        let qbuf = self.query_buffer_bytes.load(Ordering::Relaxed);
        let pending = self.output_bytes.load(Ordering::Relaxed);
        let omem = output_memory(pending);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            info.name,
            self.created.elapsed().as_secs(),
            idle,
            info.flags(&self.watch_dirty),
            info.db,
            info.multi,
            qbuf,
            0,
            omem,
            qbuf + pending + 1024,
            info.last_command.unwrap_or("NULL"),
            info.user,
            info.resp
        )
    }
}

/// The part of a client's pending output that Redis would hold in its fixed per-client reply
/// buffer (`PROTO_REPLY_CHUNK_BYTES`); only what is beyond it counts as `omem` and against the
/// output buffer limits, as in Redis.
pub const REPLY_STATIC_BUFFER_BYTES: usize = 16 * 1024;

/// Redis's `omem` for `pending` bytes not yet written: what exceeds the fixed reply buffer.
pub fn output_memory(pending: usize) -> usize {
    pending.saturating_sub(REPLY_STATIC_BUFFER_BYTES)
}

/// How many seconds [`RecentPeak`] remembers (Redis's `CLIENTS_PEAK_MEM_USAGE_SLOTS`).
pub const PEAK_SLOTS: usize = 8;

/// The largest value recorded in each of the last [`PEAK_SLOTS`] seconds, one slot per second:
/// INFO's `client_recent_max_output_buffer`, which in Redis too is a peak over the last seconds
/// rather than what is pending at the instant INFO runs.
#[derive(Default)]
pub struct RecentPeak {
    /// (unix second, largest value recorded in it)
    slots: Mutex<[(i64, usize); PEAK_SLOTS]>,
}

impl RecentPeak {
    pub fn record(&self, value: usize) {
        let now_s = crate::util::now_ms() / 1000;
        let mut slots = self.slots.lock();
        let slot = &mut slots[now_s.rem_euclid(PEAK_SLOTS as i64) as usize];
        if slot.0 != now_s {
            *slot = (now_s, 0);
        }
        slot.1 = slot.1.max(value);
    }

    pub fn max(&self) -> usize {
        let now_s = crate::util::now_ms() / 1000;
        let slots = self.slots.lock();
        slots
            .iter()
            .filter(|(second, _)| now_s - second < PEAK_SLOTS as i64)
            .map(|(_, value)| *value)
            .max()
            .unwrap_or(0)
    }
}

/// All connected clients.
#[derive(Default)]
pub struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    /// The largest pending output of any client in each of the last seconds.
    pub recent_max_output: RecentPeak,
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            clients: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            recent_max_output: RecentPeak::default(),
        }
    }

    /// Registers a new client unless `max` clients are already connected.
    pub fn try_register(&self, peer: &Peer, max: usize) -> Option<Arc<ClientHandle>> {
        let mut clients = self.clients.lock();
        if clients.len() >= max {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handle = ClientHandle::detached(id, peer);
        clients.insert(id, handle.clone());
        Some(handle)
    }

    /// Removes a client (idempotent: a killed client is removed at once, then again when its
    /// connection ends).
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// Closes a client: it leaves the registry now and its connection ends at its next step.
    pub fn kill(&self, id: u64) {
        if let Some(handle) = self.clients.lock().remove(&id) {
            handle.kill();
        }
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every client, oldest first.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        Peer {
            addr: "127.0.0.1:5000".into(),
            laddr: "127.0.0.1:6379".into(),
            fd: 8,
            is_local: true,
            unix_path: None,
        }
    }

    #[test]
    fn registration_stops_at_the_limit() {
        let registry = Registry::new();
        let a = registry.try_register(&peer(), 2).expect("first");
        let b = registry.try_register(&peer(), 2).expect("second");
        assert!(registry.try_register(&peer(), 2).is_none());
        assert_eq!((a.id, b.id), (1, 2));
        registry.kill(a.id);
        assert!(a.is_killed());
        assert_eq!(registry.len(), 1);
        registry.unregister(a.id);
        assert!(registry.try_register(&peer(), 2).is_some());
    }

    #[test]
    fn list_line_has_redis_fields_in_order() {
        let registry = Registry::new();
        let handle = registry.try_register(&peer(), 10).expect("registered");
        let mut client = Client::new(handle, peer(), true);
        client.name = Some(Bytes::from_static(b"worker"));
        client.db = 3;
        client.multi = Some(vec![vec![Bytes::from_static(b"PING")]]);
        client.last_command = Some("client|list");
        let line = client.describe();
        assert!(line.starts_with("id=1 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=worker age=0 idle=0 flags=x db=3 sub=0 psub=0 ssub=0 multi=1 qbuf="), "{line}");
        assert!(
            line.ends_with(" events=r cmd=client|list user=default redir=-1 resp=2"),
            "{line}"
        );
    }
}
