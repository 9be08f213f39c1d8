//! The server: listeners, the shared state every connection reaches, the cron, shutdown.

pub mod alloc;
pub mod client;
pub mod config;
pub mod connection;
pub mod evict;
pub mod fs;
pub mod info;
pub mod listen;
pub mod log;
pub mod socket;
pub mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, broadcast};

use self::client::{Client, Registry};
use self::config::Config;
use self::state::State;

/// Hot configuration values, mirrored from `Config` so the request path reads atomics.
#[derive(Default)]
pub struct Limits {
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicI64,
    pub maxclients: AtomicI64,
    pub timeout_s: AtomicI64,
    /// The default user has a password or is off: new connections must authenticate.
    /// Mirrors the ACL (`Server::acl_changed`).
    pub default_user_requires_auth: AtomicBool,
    pub protected_mode: AtomicBool,
    slowlog_slower_than_us: AtomicI64,
    slowlog_max_len: AtomicI64,
    pub hz: AtomicI64,
    /// `latency-monitor-threshold` in milliseconds; 0 disables the latency monitor.
    pub latency_monitor_threshold_ms: AtomicI64,
    /// `key-load-delay`: microseconds to pause after each command replayed while loading
    /// (negative: a 1 µs pause once in that many).
    pub key_load_delay: AtomicI64,
    /// `client-output-buffer-limit` for the `normal` class (every kopi client is one): hard
    /// bytes, soft bytes, soft seconds; 0 turns a limit off.
    pub output_hard_limit_bytes: AtomicU64,
    pub output_soft_limit_bytes: AtomicU64,
    pub output_soft_limit_seconds: AtomicU64,
}

impl Limits {
    pub fn slowlog_slower_than_us(&self) -> i64 {
        self.slowlog_slower_than_us.load(Ordering::Relaxed)
    }

    pub fn slowlog_max_len(&self) -> usize {
        self.slowlog_max_len.load(Ordering::Relaxed).max(0) as usize
    }
}

/// The `normal` class of a `client-output-buffer-limit` value as the configuration stores it
/// (`normal 0 0 0 slave 268435456 67108864 60 pubsub ...`, sizes in bytes): hard bytes, soft
/// bytes, soft seconds. The `slave` and `pubsub` classes are stored and shown by CONFIG GET
/// only: kopi has no replicas and no pub/sub.
pub fn normal_output_limits(value: &str) -> [u64; 3] {
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    let mut limits = [0; 3];
    for group in words.chunks(4) {
        if group.len() == 4 && group[0].eq_ignore_ascii_case("normal") {
            for (limit, word) in limits.iter_mut().zip(&group[1..]) {
                *limit = word.parse().unwrap_or(0);
            }
        }
    }
    limits
}

/// CLIENT PAUSE in force.
#[derive(Debug, Clone, Copy)]
pub struct Pause {
    pub until_ms: i64,
    pub writes_only: bool,
}

/// Counters outside the keyspace lock.
#[derive(Default)]
pub struct NetStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub input_bytes: AtomicU64,
    pub output_bytes: AtomicU64,
    /// Socket reads and writes that moved data (`total_reads_processed`, ...).
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
}

impl NetStats {
    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.input_bytes,
            &self.output_bytes,
            &self.reads_processed,
            &self.writes_processed,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// Samples kept per instantaneous metric (Redis's `STATS_METRIC_SAMPLES`).
const METRIC_SAMPLES: usize = 16;
/// Sampling period of the instantaneous metrics.
const METRIC_PERIOD_MS: i64 = 100;

/// A rate averaged over the last [`METRIC_SAMPLES`] periods (`instantaneous_ops_per_sec`).
#[derive(Debug, Default, Clone)]
pub struct InstMetric {
    samples: [u64; METRIC_SAMPLES],
    next: usize,
    last_ms: i64,
    last_count: u64,
}

impl InstMetric {
    fn track(&mut self, now_ms: i64, count: u64) {
        let elapsed = now_ms - self.last_ms;
        if self.last_ms > 0 && elapsed > 0 {
            let delta = count.saturating_sub(self.last_count);
            self.samples[self.next] = delta.saturating_mul(1000) / elapsed as u64;
            self.next = (self.next + 1) % METRIC_SAMPLES;
        }
        self.last_ms = now_ms;
        self.last_count = count;
    }

    /// Per second.
    pub fn rate(&self) -> u64 {
        self.samples.iter().sum::<u64>() / METRIC_SAMPLES as u64
    }
}

/// The instantaneous metrics INFO stats shows.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub commands: InstMetric,
    pub input_bytes: InstMetric,
    pub output_bytes: InstMetric,
    last_sample_ms: i64,
}

pub struct Server {
    pub state: Mutex<State>,
    pub config: RwLock<Config>,
    pub limits: Limits,
    pub clients: Registry,
    pub net: NetStats,
    pub started: Instant,
    pub started_unix_ms: i64,
    pub run_id: String,
    pub port: AtomicUsize,
    monitors: broadcast::Sender<Bytes>,
    monitor_count: AtomicUsize,
    pub pause: Mutex<Option<Pause>>,
    /// Clients waiting for a CLIENT PAUSE to end (INFO `blocked_clients`).
    pub blocked_clients: AtomicUsize,
    pub unpaused: Notify,
    pub shutdown_requested: AtomicBool,
    pub shutdown: Notify,
    /// SHUTDOWN made the final save decision (saved, or NOSAVE): exiting saves nothing more.
    pub final_save_done: AtomicBool,
    pub last_save_s: AtomicI64,
    /// The replication ID INFO and ROLE report (a master that never had replicas).
    pub replid: String,
    /// `used_memory` once the server was set up (`used_memory_startup`).
    pub memory_startup: u64,
    pub memory_peak: AtomicU64,
    pub metrics: Mutex<Metrics>,
    /// The append-only file writer while AOF is on (`appendonly yes`, at start or at run
    /// time); see [`Server::aof`].
    pub aof_slot: RwLock<Option<Arc<crate::persistence::aof::Aof>>>,
    /// This server, for what starts threads that hold it (enabling AOF at run time).
    me: std::sync::Weak<Server>,
    /// Loading at start-up: `-LOADING` replies and INFO's progress.
    pub loading: crate::persistence::loading::Loading,
    /// RDB snapshots: BGSAVE in progress, the last save's outcome, INFO's `rdb_*`.
    pub rdb: crate::persistence::snapshot::RdbStats,
}

impl Server {
    pub fn new(config: Config) -> Arc<Server> {
        let databases = config.get_i64("databases").max(1) as usize;
        let (monitors, _) = broadcast::channel(4096);
        let server = Arc::new_cyclic(|me| Server {
            state: Mutex::new(State::new(databases)),
            config: RwLock::new(config),
            limits: Limits::default(),
            clients: Registry::new(),
            net: NetStats::default(),
            started: Instant::now(),
            started_unix_ms: crate::util::now_ms(),
            run_id: random_hex(40),
            port: AtomicUsize::new(0),
            monitors,
            monitor_count: AtomicUsize::new(0),
            pause: Mutex::new(None),
            blocked_clients: AtomicUsize::new(0),
            unpaused: Notify::new(),
            shutdown_requested: AtomicBool::new(false),
            shutdown: Notify::new(),
            final_save_done: AtomicBool::new(false),
            last_save_s: AtomicI64::new(crate::util::now_ms() / 1000),
            replid: random_hex(40),
            memory_startup: alloc::used_bytes(),
            memory_peak: AtomicU64::new(alloc::used_bytes()),
            metrics: Mutex::new(Metrics::default()),
            aof_slot: RwLock::new(None),
            me: me.clone(),
            loading: Default::default(),
            rdb: Default::default(),
        });
        server.apply_config();
        server.apply_requirepass(&mut server.state.lock());
        server
    }

    /// The running AOF, if AOF is on.
    pub fn aof(&self) -> Option<Arc<crate::persistence::aof::Aof>> {
        self.aof_slot.read().clone()
    }

    /// This server as an `Arc` (None only while it is being dropped).
    pub fn arc(&self) -> Option<Arc<Server>> {
        self.me.upgrade()
    }

    /// Starts or stops the AOF to match `appendonly` (CONFIG SET at run time), under the
    /// keyspace lock.
    pub fn apply_appendonly(&self, state: &mut State) -> Result<(), String> {
        use crate::persistence::aof;
        if self.loading.is_active() {
            // The loader starts the AOF when it is done.
            return Ok(());
        }
        let wanted = self.config.read().get_bool("appendonly");
        let running = self.aof();
        match (wanted, running) {
            (true, None) => {
                let me = self
                    .arc()
                    .ok_or_else(|| "The server is stopping".to_string())?;
                let started = aof::enable_at_runtime(&me, state)?;
                *self.aof_slot.write() = Some(started);
                log::notice("AOF enabled: writing the first base in the background");
            }
            (false, Some(running)) => {
                *self.aof_slot.write() = None;
                aof::disable_at_runtime(running, state);
                log::notice("AOF disabled");
            }
            _ => {}
        }
        Ok(())
    }

    /// Mirrors the configuration into the atomics and subsystems that act on it.
    pub fn apply_config(&self) {
        self.apply_config_to_limits();
        let mut state = self.state.lock();
        self.apply_config_to_state(&mut state);
    }

    /// [`Server::apply_config`] for a caller that already holds the keyspace lock (CONFIG SET
    /// runs under it).
    pub fn apply_config_with(&self, state: &mut State) {
        self.apply_config_to_limits();
        self.apply_config_to_state(state);
    }

    fn apply_config_to_limits(&self) {
        let config = self.config.read();
        let l = &self.limits;
        l.proto_max_bulk_len
            .store(config.get_i64("proto-max-bulk-len"), Ordering::Relaxed);
        l.client_query_buffer_limit.store(
            config.get_i64("client-query-buffer-limit"),
            Ordering::Relaxed,
        );
        l.maxclients
            .store(config.get_i64("maxclients"), Ordering::Relaxed);
        l.timeout_s
            .store(config.get_i64("timeout"), Ordering::Relaxed);
        crate::acl::PUBSUB_DEFAULT_ALL.store(
            config.get("acl-pubsub-default") == "allchannels",
            Ordering::Relaxed,
        );
        l.protected_mode
            .store(config.get_bool("protected-mode"), Ordering::Relaxed);
        l.slowlog_slower_than_us
            .store(config.get_i64("slowlog-log-slower-than"), Ordering::Relaxed);
        l.slowlog_max_len
            .store(config.get_i64("slowlog-max-len"), Ordering::Relaxed);
        l.hz.store(config.get_i64("hz").clamp(1, 500), Ordering::Relaxed);
        l.latency_monitor_threshold_ms.store(
            config.get_i64("latency-monitor-threshold"),
            Ordering::Relaxed,
        );
        l.key_load_delay
            .store(config.get_i64("key-load-delay"), Ordering::Relaxed);
        let normal = normal_output_limits(config.get("client-output-buffer-limit"));
        l.output_hard_limit_bytes
            .store(normal[0], Ordering::Relaxed);
        l.output_soft_limit_bytes
            .store(normal[1], Ordering::Relaxed);
        l.output_soft_limit_seconds
            .store(normal[2], Ordering::Relaxed);
        let threshold = |name| config.get_i64(name).max(0) as usize;
        crate::keyspace::hash::MAX_LISTPACK_ENTRIES
            .store(threshold("hash-max-listpack-entries"), Ordering::Relaxed);
        crate::keyspace::hash::MAX_LISTPACK_VALUE
            .store(threshold("hash-max-listpack-value"), Ordering::Relaxed);
        crate::keyspace::set::MAX_INTSET_ENTRIES
            .store(threshold("set-max-intset-entries"), Ordering::Relaxed);
        crate::keyspace::zset::MAX_LISTPACK_ENTRIES.store(
            config.get_i64("zset-max-listpack-entries").max(0) as usize,
            Ordering::Relaxed,
        );
        crate::keyspace::zset::MAX_LISTPACK_VALUE.store(
            config.get_i64("zset-max-listpack-value").max(0) as usize,
            Ordering::Relaxed,
        );
        crate::keyspace::list::set_fill(config.get_i64("list-max-listpack-size"));
        log::set_level(config.get("loglevel"));
        if let Some(aof) = self.aof() {
            aof.set_policy(crate::persistence::aof::Fsync::parse(
                config.get("appendfsync"),
            ));
            aof.set_no_fsync_on_rewrite(config.get_bool("no-appendfsync-on-rewrite"));
            aof.set_auto_gc_disabled(config.get_bool("aof-disable-auto-gc"));
        }
        crate::clock::LFU_ENABLED.store(
            config.get("maxmemory-policy").contains("lfu"),
            Ordering::Relaxed,
        );
        crate::persistence::rdb::set_compression(config.get_bool("rdbcompression"));
        let policy = config.get("maxmemory-policy");
        crate::persistence::rdb::set_eviction_info(policy.contains("lru"), policy.contains("lfu"));
        drop(config);
        crate::persistence::snapshot::refresh_refusal(self);
    }

    fn apply_config_to_state(&self, state: &mut State) {
        let config = self.config.read();
        state.stats.latency_tracking = config.get_bool("latency-tracking");
        state
            .effects
            .set_timestamps(config.get_bool("aof-timestamp-enabled"));
        state
            .effects
            .set_unlink_expired(config.get_bool("lazyfree-lazy-expire"));
        state
            .effects
            .set_unlink_user_del(config.get_bool("lazyfree-lazy-user-del"));
        let eviction = evict::Settings {
            maxmemory_bytes: config.get("maxmemory").parse().unwrap_or(0),
            policy: evict::Policy::parse(config.get("maxmemory-policy")),
            samples: config.get_i64("maxmemory-samples").max(1) as usize,
            tenacity: config.get_i64("maxmemory-eviction-tenacity").clamp(0, 100) as u32,
            lazy: config.get_bool("lazyfree-lazy-eviction"),
            lfu_decay_minutes: config.get_i64("lfu-decay-time").max(0) as u64,
        };
        drop(config);
        let used = alloc::used_bytes().saturating_sub(evict::not_counted_bytes(self, state));
        state.eviction.configure(eviction, used);
        while state.slowlog.entries.len() > self.limits.slowlog_max_len() {
            state.slowlog.entries.pop_back();
        }
    }

    /// Whether `client` may use what a protected-action parameter (`enable-debug-command`,
    /// `enable-protected-configs`) guards: `yes`, or `local` from a local connection.
    pub fn protected_action_allowed(&self, param: &str, client: &Client) -> bool {
        match self.config.read().get(param) {
            "yes" => true,
            "local" => client.is_local,
            _ => false,
        }
    }

    /// `used_memory`, and the peak it reached.
    pub fn used_memory(&self) -> u64 {
        let used = alloc::used_bytes();
        self.memory_peak.fetch_max(used, Ordering::Relaxed);
        used
    }

    /// Samples the instantaneous metrics if a period has passed.
    fn sample_metrics(&self, total_commands: u64) {
        let now = crate::util::now_ms();
        let mut metrics = self.metrics.lock();
        if now - metrics.last_sample_ms < METRIC_PERIOD_MS {
            return;
        }
        metrics.last_sample_ms = now;
        metrics.commands.track(now, total_commands);
        metrics
            .input_bytes
            .track(now, self.net.input_bytes.load(Ordering::Relaxed));
        metrics
            .output_bytes
            .track(now, self.net.output_bytes.load(Ordering::Relaxed));
    }

    pub fn auth_required(&self) -> bool {
        self.limits
            .default_user_requires_auth
            .load(Ordering::Relaxed)
    }

    /// Mirrors what the request path reads of the ACL after a change of users.
    pub fn acl_changed(&self, state: &mut State) {
        let requires_auth = state.acl.refresh();
        self.limits
            .default_user_requires_auth
            .store(requires_auth, Ordering::Relaxed);
    }

    /// `requirepass` becomes the default user's password (at start-up and on CONFIG SET).
    pub fn apply_requirepass(&self, state: &mut State) {
        let password = self.config.read().get("requirepass").to_string();
        state.acl.set_default_password(password.as_bytes());
        self.acl_changed(state);
    }

    /// The users of the config file's `user` lines, or of `aclfile`, at start-up (Redis's
    /// `ACLLoadUsersAtStartup`); the error is the log line that precedes exiting.
    pub fn load_users_at_startup(&self) -> Result<(), String> {
        let config = self.config.read();
        let aclfile = config.get("aclfile").to_string();
        let lines = config.acl_users.clone();
        drop(config);
        if !aclfile.is_empty() && !lines.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        let mut state = self.state.lock();
        if let Err(e) = crate::acl::file::from_config_lines(&mut state.acl, &lines) {
            log::warning(&e);
            return Err("Critical error while loading ACLs. Exiting.".into());
        }
        if !aclfile.is_empty() {
            let users = crate::acl::file::load(&aclfile)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
            state.acl.users = users;
        }
        self.acl_changed(&mut state);
        Ok(())
    }

    pub fn monitors_active(&self) -> bool {
        self.monitor_count.load(Ordering::Relaxed) > 0
    }

    pub fn subscribe_monitor(&self) -> broadcast::Receiver<Bytes> {
        self.monitor_count.fetch_add(1, Ordering::Relaxed);
        self.monitors.subscribe()
    }

    pub fn unsubscribe_monitor(&self) {
        self.monitor_count.fetch_sub(1, Ordering::Relaxed);
    }

    /// `+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`
    pub fn feed_monitors(&self, client: &Client, args: &[Bytes]) {
        let us = crate::util::now_us();
        let mut line = format!(
            "+{}.{:06} [{} {}]",
            us / 1_000_000,
            us % 1_000_000,
            client.db,
            client.monitor_origin()
        );
        for arg in args {
            line.push(' ');
            line.push_str(&repr(arg));
        }
        line.push_str("\r\n");
        let _ = self.monitors.send(Bytes::from(line));
    }

    /// The pause that applies to a batch, if any (`writes` tells whether it writes).
    pub fn pause_in_force(&self, writes: bool) -> Option<Pause> {
        let mut pause = self.pause.lock();
        match *pause {
            Some(p) if p.until_ms <= crate::util::now_ms() => {
                *pause = None;
                crate::keyspace::EXPIRY_DELETIONS_PAUSED.store(false, Ordering::Relaxed);
                self.unpaused.notify_waiters();
                None
            }
            Some(p) if !p.writes_only || writes => Some(p),
            _ => None,
        }
    }

    /// Whether a CLIENT PAUSE may be in force (one atomic load on the request path).
    pub fn pause_active(&self) -> bool {
        crate::keyspace::EXPIRY_DELETIONS_PAUSED.load(Ordering::Relaxed)
    }

    /// Puts a CLIENT PAUSE in force (or lifts it with `None`).
    pub fn set_pause(&self, pause: Option<Pause>) {
        *self.pause.lock() = pause;
        // Both pause modes hold back writes, and deleting an expired key is one.
        crate::keyspace::EXPIRY_DELETIONS_PAUSED.store(pause.is_some(), Ordering::Relaxed);
        if pause.is_none() {
            self.unpaused.notify_waiters();
        }
    }

    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        self.shutdown.notify_one();
    }
}

/// Redis's `sdscatrepr`: a quoted string with C escapes for non-printable bytes.
pub fn repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// The background cycle (Redis's `serverCron`, `hz` times a second): the coarse clock,
/// active expiry of keys nobody touches (time-boxed to a quarter of the cycle), the
/// instantaneous metrics and the memory peak.
pub async fn cron(server: Arc<Server>) {
    loop {
        let hz = server.limits.hz.load(Ordering::Relaxed).max(1) as u64;
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        crate::clock::refresh();
        server.used_memory();
        let total_commands = server.state.lock().stats.total_commands;
        server.sample_metrics(total_commands);
        if server.pause_in_force(true).is_some() {
            // Expiring deletes keys: a write, so it waits while writes are paused.
            continue;
        }
        active_expire_cycle(&server, period / 4);
        evict::time_proc(&server, period / 4);
        auto_rewrite(&server);
        crate::persistence::snapshot::cron(&server);
        // Lift a pause whose time is up even when no client is waiting on it (the lock guard
        // is released before `pause_in_force` takes it again).
        let pause = *server.pause.lock();
        if pause.is_some_and(|p| p.until_ms <= crate::util::now_ms()) {
            server.pause_in_force(false);
        }
    }
}

/// Orders an AOF rewrite when the AOF grew past `auto-aof-rewrite-percentage` of its size
/// after the last rewrite (and past `auto-aof-rewrite-min-size`).
fn auto_rewrite(server: &Server) {
    let Some(aof) = server.aof() else {
        return;
    };
    let (percentage, min_size) = {
        let config = server.config.read();
        (
            config.get_i64("auto-aof-rewrite-percentage"),
            config.get_i64("auto-aof-rewrite-min-size"),
        )
    };
    if let Some(growth) = aof.check_auto_rewrite(percentage, min_size) {
        log::notice(&format!(
            "Starting automatic rewriting of AOF on {growth}% growth"
        ));
    }
}

/// Keys removed per step of the active cycle between clock checks.
const ACTIVE_EXPIRE_STEP_KEYS: usize = 64;

fn active_expire_cycle(server: &Server, budget: Duration) {
    if !server.state.lock().store.active_expire_enabled {
        return;
    }
    let started = Instant::now();
    let mut state = server.state.lock();
    let dbs = state.store.dbs.len();
    'dbs: for db in 0..dbs {
        loop {
            let now = crate::util::now_ms();
            let removed = state.store.dbs[db].expire_due(now, ACTIVE_EXPIRE_STEP_KEYS);
            state.drain_expired();
            if removed < ACTIVE_EXPIRE_STEP_KEYS {
                break;
            }
            if started.elapsed() >= budget {
                break 'dbs;
            }
        }
    }
    state.sample_avg_ttl(crate::util::now_ms(), &mut rand::rng());
    let threshold = server
        .limits
        .latency_monitor_threshold_ms
        .load(Ordering::Relaxed);
    let elapsed_ms = started.elapsed().as_millis() as i64;
    if threshold > 0 && elapsed_ms >= threshold {
        state.latency.add_sample(
            "expire-cycle",
            elapsed_ms as u64,
            crate::util::now_ms() / 1000,
        );
    }
}
