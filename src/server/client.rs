//! Per-connection state, and the registry other connections read (CLIENT LIST/KILL, INFO).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::protocol::Protocol;

/// CLIENT REPLY modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Set by `SkipNext` for the command being run.
    Skip,
}

/// State owned by the connection task; handlers get it through `Ctx::client`.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    pub user: String,
    pub name: Option<Bytes>,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub is_local: bool,
    pub is_unix: bool,
    /// Queued commands while inside MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC must abort.
    pub multi_error: bool,
    pub watched: Vec<(usize, Bytes)>,
    pub watch_dirty: Arc<AtomicBool>,
    pub reply_mode: ReplyMode,
    pub no_evict: bool,
    pub close_after_reply: bool,
    pub monitor: bool,
    pub created: Instant,
    pub handle: Arc<ClientHandle>,
    pub protocol: Protocol,
    pub lib_name: Option<String>,
}

impl Client {
    pub fn name_string(&self) -> String {
        self.name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default()
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
    pub query_buffer_bytes: AtomicUsize,
    pub output_bytes: AtomicUsize,
    pub commands: AtomicU64,
}

/// Fields shown by CLIENT LIST that change while the client runs.
#[derive(Debug, Clone, Default)]
pub struct SharedInfo {
    pub name: String,
    pub db: usize,
    pub last_command: String,
    pub flags: String,
    pub multi: i64,
    pub user: String,
    pub resp: u8,
    pub watched: usize,
    pub no_evict: bool,
    pub lib_name: String,
}

impl ClientHandle {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.kill.notify_one();
    }

    /// One line of CLIENT LIST, with Redis 7.0's fields in Redis's order.
    pub fn describe(&self) -> String {
        let info = self.info.lock().clone();
        let now = crate::util::now_ms();
        let idle = (now - self.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000;
        let qbuf = self.query_buffer_bytes.load(Ordering::Relaxed);
        let omem = self.output_bytes.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            info.name,
            self.created.elapsed().as_secs(),
            idle,
            if info.flags.is_empty() {
                "N"
            } else {
                &info.flags
            },
            info.db,
            info.multi,
            qbuf,
            0,
            omem,
            qbuf + omem + 1024,
            if info.last_command.is_empty() {
                "NULL"
            } else {
                &info.last_command
            },
            info.user,
            info.resp
        )
    }
}

/// All connected clients.
#[derive(Default)]
pub struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            clients: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn register(&self, addr: String, laddr: String, fd: i32) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            info: Mutex::new(SharedInfo {
                user: "default".into(),
                resp: 2,
                ..Default::default()
            }),
            last_interaction_ms: AtomicI64::new(crate::util::now_ms()),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            query_buffer_bytes: AtomicUsize::new(0),
            output_bytes: AtomicUsize::new(0),
            commands: AtomicU64::new(0),
        });
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }
}
