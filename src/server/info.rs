//! INFO: Redis 7.0's sections, field names and formats (`# Section` headers, `name:value`
//! lines ending in `\r\n`, a blank line between sections).
//!
//! `redis_version` reports the Redis version whose behaviour kopi reproduces (7.0.15), since
//! clients and test suites read it to decide what the server supports; `kopi_version`, next
//! to it, is kopi's own. Fields about subsystems kopi does not have (replication links,
//! persistence children, Lua, modules) show what Redis shows when those are idle. Memory
//! comes from kopi's counting allocator (`used_memory`: bytes allocated by the process) and
//! `/proc` (`used_memory_rss`, `total_system_memory`).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::Server;
use super::state::State;

/// The Redis release kopi's behaviour follows.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

/// The sections INFO prints without arguments (and for `default`).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Which sections to print.
struct Selection {
    all: bool,
    names: Vec<String>,
}

impl Selection {
    fn parse(args: &[Bytes]) -> Self {
        let mut selection = Selection {
            all: false,
            names: Vec::new(),
        };
        if args.is_empty() {
            selection.names = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
            return selection;
        }
        for arg in args {
            let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
            match name.as_str() {
                "default" => selection
                    .names
                    .extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
                "all" | "everything" => selection.all = true,
                _ => selection.names.push(name),
            }
        }
        selection
    }

    fn wants(&self, section: &str) -> bool {
        self.all || self.names.iter().any(|n| n == section)
    }
}

/// The INFO text for `sections` (INFO's arguments).
pub fn generate(server: &Server, state: &State, sections: &[Bytes]) -> String {
    let selection = Selection::parse(sections);
    let mut out = String::new();
    let section = |out: &mut String, title: &str| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {title}\r\n");
    };
    if selection.wants("server") {
        section(&mut out, "Server");
        server_section(&mut out, server);
    }
    if selection.wants("clients") {
        section(&mut out, "Clients");
        clients_section(&mut out, server);
    }
    if selection.wants("memory") {
        section(&mut out, "Memory");
        memory_section(&mut out, server, state);
    }
    if selection.wants("persistence") {
        section(&mut out, "Persistence");
        persistence_section(&mut out, server, state);
    }
    if selection.wants("stats") {
        section(&mut out, "Stats");
        stats_section(&mut out, server, state);
    }
    if selection.wants("replication") {
        section(&mut out, "Replication");
        replication_section(&mut out, server);
    }
    if selection.wants("cpu") {
        section(&mut out, "CPU");
        cpu_section(&mut out);
    }
    if selection.wants("module_list") || selection.wants("modules") {
        section(&mut out, "Modules");
    }
    if selection.wants("commandstats") {
        section(&mut out, "Commandstats");
        for (name, stats) in state.stats.commands_sorted() {
            if stats.calls == 0 && stats.failed_calls == 0 && stats.rejected_calls == 0 {
                continue;
            }
            let per_call = if stats.calls == 0 {
                0.0
            } else {
                stats.usec as f32 / stats.calls as f32
            };
            let _ = write!(
                out,
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                safe_info_name(name),
                stats.calls,
                stats.usec,
                per_call,
                stats.rejected_calls,
                stats.failed_calls
            );
        }
    }
    if selection.wants("errorstats") {
        section(&mut out, "Errorstats");
        for (code, count) in &state.stats.errors {
            let _ = write!(out, "errorstat_{}:count={count}\r\n", safe_info_name(code));
        }
    }
    if selection.wants("latencystats") {
        section(&mut out, "Latencystats");
        latency_section(&mut out, server, state);
    }
    if selection.wants("cluster") {
        section(&mut out, "Cluster");
        out.push_str("cluster_enabled:0\r\n");
    }
    if selection.wants("keyspace") {
        section(&mut out, "Keyspace");
        for (index, db) in state.store.dbs.iter().enumerate() {
            let keys = db.len();
            let expires = db.data.expires_len();
            if keys == 0 && expires == 0 {
                continue;
            }
            let avg_ttl = state.avg_ttl_ms.get(index).copied().unwrap_or(0);
            let _ = write!(
                out,
                "db{index}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
            );
        }
    }
    out
}

/// Replaces the characters that would break the INFO format (`#:\r\n`) with `_`.
fn safe_info_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '#' | ':' | '\n' | '\r') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn server_section(out: &mut String, server: &Server) {
    let config = server.config.read();
    let uptime = server.started.elapsed().as_secs();
    let uname = uname();
    let _ = write!(
        out,
        "redis_version:{REDIS_COMPAT_VERSION}\r\n\
         kopi_version:{}\r\n\
         redis_git_sha1:00000000\r\n\
         redis_git_dirty:0\r\n\
         redis_build_id:0\r\n\
         redis_mode:standalone\r\n\
         os:{uname}\r\n\
         arch_bits:{}\r\n\
         monotonic_clock:POSIX clock_gettime\r\n\
         multiplexing_api:epoll\r\n\
         atomicvar_api:c11-builtin\r\n\
         gcc_version:0.0.0\r\n\
         process_id:{}\r\n\
         process_supervised:no\r\n\
         run_id:{}\r\n\
         tcp_port:{}\r\n\
         server_time_usec:{}\r\n\
         uptime_in_seconds:{uptime}\r\n\
         uptime_in_days:{}\r\n\
         hz:{}\r\n\
         configured_hz:{}\r\n\
         lru_clock:{}\r\n\
         executable:{}\r\n\
         config_file:{}\r\n\
         io_threads_active:0\r\n",
        env!("CARGO_PKG_VERSION"),
        usize::BITS,
        std::process::id(),
        server.run_id,
        config.get("port"),
        crate::util::now_us(),
        uptime / (3600 * 24),
        server.limits.hz.load(Ordering::Relaxed),
        config.get("hz"),
        crate::clock::now_s() & 0x00FF_FFFF,
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        config
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default(),
    );
}

fn clients_section(out: &mut String, server: &Server) {
    let clients = server.clients.all();
    let max_input = clients
        .iter()
        .map(|c| c.query_buffer_bytes.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    let max_output = clients
        .iter()
        .map(|c| c.output_bytes.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0)
        .max(server.clients.recent_max_output.max());
    let _ = write!(
        out,
        "connected_clients:{}\r\n\
         cluster_connections:0\r\n\
         maxclients:{}\r\n\
         client_recent_max_input_buffer:{max_input}\r\n\
         client_recent_max_output_buffer:{max_output}\r\n\
         blocked_clients:{}\r\n\
         tracking_clients:0\r\n\
         clients_in_timeout_table:0\r\n",
        clients.len(),
        server.limits.maxclients.load(Ordering::Relaxed),
        server.blocked_clients.load(Ordering::Relaxed),
    );
}

/// Redis's `bytesToHuman`: `100B`, `1.50K`, `2.00M`, ...
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (unit, suffix)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(1u64 << 60, |u| u.0);
        if n < next {
            return format!("{:.2}{suffix}", n as f64 / *unit as f64);
        }
    }
    format!("{n}B")
}

/// Resident set size of the process, from `/proc/self/statm`.
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.saturating_mul(page.max(0) as u64)
}

/// Physical memory of the machine, from `/proc/meminfo`.
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// `(used, overhead)` where the overhead is what the server itself needs (its start-up
/// footprint and client buffers) and the rest is the dataset.
fn memory_split(server: &Server) -> (u64, u64) {
    let used = server.used_memory();
    let client_buffers: u64 = server
        .clients
        .all()
        .iter()
        .map(|c| {
            (c.query_buffer_bytes.load(Ordering::Relaxed) + c.output_bytes.load(Ordering::Relaxed))
                as u64
        })
        .sum();
    let overhead = server
        .memory_startup
        .saturating_add(client_buffers)
        .min(used);
    (used, overhead)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn memory_section(out: &mut String, server: &Server, state: &State) {
    let (used, overhead) = memory_split(server);
    let peak = server.memory_peak.load(Ordering::Relaxed).max(used);
    let rss = rss_bytes();
    let system = total_system_memory();
    let startup = server.memory_startup;
    let dataset = used - overhead;
    let dataset_base = used.saturating_sub(startup);
    let config = server.config.read();
    let maxmemory: u64 = config.get("maxmemory").parse().unwrap_or(0);
    let client_normal = overhead - startup.min(overhead);
    let not_counted = crate::server::evict::not_counted_bytes(server, state);
    let aof_buffer = crate::server::evict::aof_buffer_bytes(server, state);
    let _ = write!(
        out,
        "used_memory:{used}\r\n\
         used_memory_human:{}\r\n\
         used_memory_rss:{rss}\r\n\
         used_memory_rss_human:{}\r\n\
         used_memory_peak:{peak}\r\n\
         used_memory_peak_human:{}\r\n\
         used_memory_peak_perc:{:.2}%\r\n\
         used_memory_overhead:{overhead}\r\n\
         used_memory_startup:{startup}\r\n\
         used_memory_dataset:{dataset}\r\n\
         used_memory_dataset_perc:{:.2}%\r\n\
         allocator_allocated:{used}\r\n\
         allocator_active:{used}\r\n\
         allocator_resident:{rss}\r\n\
         total_system_memory:{system}\r\n\
         total_system_memory_human:{}\r\n\
         used_memory_lua:0\r\n\
         used_memory_vm_eval:0\r\n\
         used_memory_lua_human:0B\r\n\
         used_memory_scripts_eval:0\r\n\
         number_of_cached_scripts:0\r\n\
         number_of_functions:0\r\n\
         number_of_libraries:0\r\n\
         used_memory_vm_functions:0\r\n\
         used_memory_vm_total:0\r\n\
         used_memory_vm_total_human:0B\r\n\
         used_memory_functions:0\r\n\
         used_memory_scripts:0\r\n\
         used_memory_scripts_human:0B\r\n\
         maxmemory:{maxmemory}\r\n\
         maxmemory_human:{}\r\n\
         maxmemory_policy:{}\r\n\
         allocator_frag_ratio:1.00\r\n\
         allocator_frag_bytes:0\r\n\
         allocator_rss_ratio:{:.2}\r\n\
         allocator_rss_bytes:{}\r\n\
         rss_overhead_ratio:1.00\r\n\
         rss_overhead_bytes:0\r\n\
         mem_fragmentation_ratio:{:.2}\r\n\
         mem_fragmentation_bytes:{}\r\n\
         mem_not_counted_for_evict:{not_counted}\r\n\
         mem_replication_backlog:0\r\n\
         mem_total_replication_buffers:0\r\n\
         mem_clients_slaves:0\r\n\
         mem_clients_normal:{client_normal}\r\n\
         mem_cluster_links:0\r\n\
         mem_aof_buffer:{aof_buffer}\r\n\
         mem_allocator:libc\r\n\
         active_defrag_running:0\r\n\
         lazyfree_pending_objects:0\r\n\
         lazyfreed_objects:0\r\n",
        bytes_to_human(used),
        bytes_to_human(rss),
        bytes_to_human(peak),
        ratio(used, peak) * 100.0,
        ratio(dataset, dataset_base) * 100.0,
        bytes_to_human(system),
        bytes_to_human(maxmemory),
        config.get("maxmemory-policy"),
        ratio(rss, used),
        rss as i64 - used as i64,
        ratio(rss, used),
        rss as i64 - used as i64,
    );
}

fn persistence_section(out: &mut String, server: &Server, state: &State) {
    let aof = server.aof();
    let aof = aof.as_deref();
    let loading = server.loading.is_active();
    let aof_enabled = aof.is_some();
    let write_status = match aof.and_then(|a| a.write_error()) {
        Some(_) => "err",
        None => "ok",
    };
    let save_progress = server.rdb.save_progress();
    let last_load = server.rdb.last_load();
    let _ = write!(
        out,
        "loading:{}\r\n\
         async_loading:0\r\n\
         current_cow_peak:0\r\n\
         current_cow_size:0\r\n\
         current_cow_size_age:0\r\n\
         current_fork_perc:0.00\r\n\
         current_save_keys_processed:{}\r\n\
         current_save_keys_total:{}\r\n\
         rdb_changes_since_last_save:{}\r\n\
         rdb_bgsave_in_progress:{}\r\n\
         rdb_last_save_time:{}\r\n\
         rdb_last_bgsave_status:{}\r\n\
         rdb_last_bgsave_time_sec:{}\r\n\
         rdb_current_bgsave_time_sec:{}\r\n\
         rdb_saves:{}\r\n\
         rdb_last_cow_size:0\r\n\
         rdb_last_load_keys_expired:{}\r\n\
         rdb_last_load_keys_loaded:{}\r\n\
         aof_enabled:{}\r\n\
         aof_rewrite_in_progress:{}\r\n\
         aof_rewrite_scheduled:{}\r\n\
         aof_last_rewrite_time_sec:{}\r\n\
         aof_current_rewrite_time_sec:{}\r\n\
         aof_last_bgrewrite_status:{}\r\n\
         aof_rewrites:{}\r\n\
         aof_rewrites_consecutive_failures:{}\r\n\
         aof_last_write_status:{}\r\n\
         aof_last_cow_size:0\r\n\
         module_fork_in_progress:0\r\n\
         module_fork_last_cow_size:0\r\n",
        loading as u8,
        save_progress.0,
        save_progress.1,
        state.store.dirty,
        server.rdb.in_progress() as u8,
        server.last_save_s.load(Ordering::Relaxed),
        if server.rdb.last_ok() { "ok" } else { "err" },
        server.rdb.last_bgsave_s(),
        server.rdb.current_bgsave_s(),
        server.rdb.saves(),
        last_load.1,
        last_load.0,
        aof_enabled as u8,
        (aof.is_some_and(|a| a.rewrite_in_progress() && !a.rewrite_scheduled())
            || crate::persistence::aof::offline_rewrite_in_progress()) as u8,
        aof.is_some_and(|a| a.rewrite_scheduled()) as u8,
        aof.map_or(-1, |a| a.last_rewrite_s()),
        aof.map_or(-1, |a| a.current_rewrite_s()),
        if aof.is_none_or(|a| a.last_rewrite_ok()) {
            "ok"
        } else {
            "err"
        },
        aof.map_or(0, |a| a.rewrites()),
        aof.map_or(0, |a| a.consecutive_failures()),
        write_status,
    );
    // Redis prints these only while AOF is on.
    if let Some(aof) = aof {
        let _ = write!(
            out,
            "aof_current_size:{}\r\n\
             aof_base_size:{}\r\n\
             aof_pending_rewrite:{}\r\n\
             aof_buffer_length:{}\r\n\
             aof_pending_bio_fsync:{}\r\n\
             aof_delayed_fsync:0\r\n",
            aof.current_size(),
            aof.base_size(),
            aof.rewrite_scheduled() as u8,
            state.effects.pending().len(),
            aof.fsync_pending() as u8,
        );
        // kopi's own: how far the log is written and synced (bytes of the record stream
        // since the start), and what the fsyncs cost.
        let (fsyncs, last_us, max_us) = aof.fsync_stats();
        let _ = write!(
            out,
            "aof_last_write_offset:{}\r\n\
             aof_last_fsync_offset:{}\r\n\
             aof_fsyncs:{fsyncs}\r\n\
             aof_fsync_last_usec:{last_us}\r\n\
             aof_fsync_max_usec:{max_us}\r\n",
            aof.written_lsn(),
            aof.synced_lsn(),
        );
    } else if loading && server.config.read().get_bool("appendonly") {
        // Loading the AOF: Redis shows the block with the AOF still off.
        out.push_str(
            "aof_current_size:0\r\n\
             aof_base_size:0\r\n\
             aof_pending_rewrite:0\r\n\
             aof_buffer_length:0\r\n\
             aof_pending_bio_fsync:0\r\n\
             aof_delayed_fsync:0\r\n",
        );
    }
    if loading {
        server
            .loading
            .write_info(out, crate::util::now_ms().div_euclid(1000));
    }
}

fn stats_section(out: &mut String, server: &Server, state: &State) {
    let stats = &state.stats;
    let net = &server.net;
    let metrics = server.metrics.lock().clone();
    let current_exceeded_us = stats
        .eviction_exceeded_since
        .map_or(0, |since| since.elapsed().as_micros() as u64);
    let _ = write!(
        out,
        "total_connections_received:{}\r\n\
         total_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{}\r\n\
         total_net_input_bytes:{}\r\n\
         total_net_output_bytes:{}\r\n\
         total_net_repl_input_bytes:0\r\n\
         total_net_repl_output_bytes:0\r\n\
         instantaneous_input_kbps:{:.2}\r\n\
         instantaneous_output_kbps:{:.2}\r\n\
         instantaneous_input_repl_kbps:0.00\r\n\
         instantaneous_output_repl_kbps:0.00\r\n\
         rejected_connections:{}\r\n\
         sync_full:0\r\n\
         sync_partial_ok:0\r\n\
         sync_partial_err:0\r\n\
         expired_keys:{}\r\n\
         expired_stale_perc:0.00\r\n\
         expired_time_cap_reached_count:0\r\n\
         expire_cycle_cpu_milliseconds:0\r\n\
         evicted_keys:{}\r\n\
         evicted_clients:0\r\n\
         total_eviction_exceeded_time:{}\r\n\
         current_eviction_exceeded_time:{}\r\n\
         keyspace_hits:{}\r\n\
         keyspace_misses:{}\r\n\
         pubsub_channels:0\r\n\
         pubsub_patterns:0\r\n\
         pubsubshard_channels:0\r\n\
         latest_fork_usec:0\r\n\
         total_forks:0\r\n\
         migrate_cached_sockets:0\r\n\
         slave_expires_tracked_keys:0\r\n\
         active_defrag_hits:0\r\n\
         active_defrag_misses:0\r\n\
         active_defrag_key_hits:0\r\n\
         active_defrag_key_misses:0\r\n\
         total_active_defrag_time:0\r\n\
         current_active_defrag_time:0\r\n\
         tracking_total_keys:0\r\n\
         tracking_total_items:0\r\n\
         tracking_total_prefixes:0\r\n\
         unexpected_error_replies:0\r\n\
         total_error_replies:{}\r\n\
         dump_payload_sanitizations:0\r\n\
         total_reads_processed:{}\r\n\
         total_writes_processed:{}\r\n\
         io_threaded_reads_processed:0\r\n\
         io_threaded_writes_processed:0\r\n\
         reply_buffer_shrinks:0\r\n\
         reply_buffer_expands:0\r\n",
        net.connections_received.load(Ordering::Relaxed),
        stats.total_commands,
        metrics.commands.rate(),
        net.input_bytes.load(Ordering::Relaxed),
        net.output_bytes.load(Ordering::Relaxed),
        metrics.input_bytes.rate() as f32 / 1024.0,
        metrics.output_bytes.rate() as f32 / 1024.0,
        net.rejected_connections.load(Ordering::Relaxed),
        stats.expired_keys,
        stats.evicted_keys,
        (stats.eviction_exceeded_total_us + current_exceeded_us) / 1000,
        current_exceeded_us / 1000,
        stats.keyspace_hits,
        stats.keyspace_misses,
        stats.total_error_replies,
        net.reads_processed.load(Ordering::Relaxed),
        net.writes_processed.load(Ordering::Relaxed),
    );
}

fn replication_section(out: &mut String, server: &Server) {
    let backlog_size = server.config.read().get("repl-backlog-size").to_string();
    let _ = write!(
        out,
        "role:master\r\n\
         connected_slaves:0\r\n\
         master_failover_state:no-failover\r\n\
         master_replid:{}\r\n\
         master_replid2:0000000000000000000000000000000000000000\r\n\
         master_repl_offset:0\r\n\
         second_repl_offset:-1\r\n\
         repl_backlog_active:0\r\n\
         repl_backlog_size:{backlog_size}\r\n\
         repl_backlog_first_byte_offset:0\r\n\
         repl_backlog_histlen:0\r\n",
        server.replid,
    );
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut usage) };
    usage
}

fn cpu_section(out: &mut String) {
    let this = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    let thread = rusage(libc::RUSAGE_THREAD);
    let tv = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    let _ = write!(
        out,
        "used_cpu_sys:{}\r\n\
         used_cpu_user:{}\r\n\
         used_cpu_sys_children:{}\r\n\
         used_cpu_user_children:{}\r\n\
         used_cpu_sys_main_thread:{}\r\n\
         used_cpu_user_main_thread:{}\r\n",
        tv(this.ru_stime),
        tv(this.ru_utime),
        tv(children.ru_stime),
        tv(children.ru_utime),
        tv(thread.ru_stime),
        tv(thread.ru_utime),
    );
}

fn latency_section(out: &mut String, server: &Server, state: &State) {
    if !state.stats.latency_tracking {
        return;
    }
    let percentiles: Vec<f64> = server
        .config
        .read()
        .get("latency-tracking-info-percentiles")
        .split(' ')
        .filter_map(|p| p.parse().ok())
        .collect();
    for (name, stats) in state.stats.commands_sorted() {
        let Some(histogram) = &stats.latency else {
            continue;
        };
        let _ = write!(out, "latency_percentiles_usec_{}:", safe_info_name(name));
        for (i, p) in percentiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "p{}={:.3}",
                super::config::format_percentile(*p),
                histogram.value_at_percentile(*p) as f64 / 1000.0
            );
        }
        out.push_str("\r\n");
    }
}

/// `sysname release machine`, as `uname -srm`.
fn uname() -> String {
    // SAFETY: an all-zero utsname is a valid value of the plain C struct.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid, writable utsname.
    if unsafe { libc::uname(&mut name) } != 0 {
        return String::new();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&name.sysname),
        field(&name.release),
        field(&name.machine)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_as_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1_163_280), "1.11M");
        assert_eq!(bytes_to_human(25_276_514_304), "23.54G");
    }

    #[test]
    fn section_names_are_made_safe() {
        assert_eq!(safe_info_name("config|get"), "config|get");
        assert_eq!(safe_info_name("a:b#c"), "a_b_c");
    }
}
