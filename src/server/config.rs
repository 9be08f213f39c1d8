//! Configuration with `redis.conf` syntax and Redis 7.0's parameter names, aliases, defaults,
//! ranges, flags and error texts.
//!
//! Every Redis 7.0 parameter is known here, so an unmodified stock `redis.conf` loads: the
//! ones kopi acts on are marked `IMPLEMENTED`; the others are accepted, shown by CONFIG GET,
//! rewritten by CONFIG REWRITE, and reported with one warning line each at start-up. Values
//! are stored in their canonical text (what CONFIG GET prints); the hot ones are mirrored into
//! `Limits` atomics by `Server::apply_config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::protocol::split::split_args;

/// How a numeric parameter's value is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Plain,
    /// Bytes, with `b k kb m mb g gb` units accepted (Redis's `memtoull`).
    Memory,
    /// Bytes, or `N%` (stored negative, as Redis does).
    MemoryPercent,
    Octal,
}

/// A string parameter's extra check: `Err` carries Redis's reason.
pub type StrCheck = fn(&str) -> Result<(), &'static str>;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    /// A signed C type (`int`, `long`, `long long`, `time_t`, ...): checked as signed.
    Signed {
        min: i64,
        max: i64,
        unit: Unit,
    },
    /// An unsigned C type (`unsigned int`, `size_t`, `unsigned long long`): a negative input
    /// wraps high and fails the range check, as in Redis.
    Unsigned {
        min: u64,
        max: u64,
        unit: Unit,
    },
    /// One of the names; names sharing a value are synonyms (the first one is canonical).
    Enum(&'static [(&'static str, u32)]),
    /// Several names ORed together (`shutdown-on-sigterm nosave now`).
    Flags(&'static [(&'static str, u32)]),
    /// A string; `null_if_empty` parameters are absent (not rewritten) when empty.
    Str {
        null_if_empty: bool,
        check: Option<StrCheck>,
    },
    /// Parsed by a parameter-specific rule (`save`, `bind`, `dir`, ...).
    Special,
}

/// Parameter flags.
pub const IMPLEMENTED: u16 = 1;
pub const IMMUTABLE: u16 = 2;
pub const PROTECTED: u16 = 4;
/// Takes several arguments on one line (`bind 127.0.0.1 ::1`).
pub const MULTI_ARG: u16 = 8;
/// Only an exact name finds it in CONFIG GET (no glob).
pub const HIDDEN: u16 = 16;
/// Its value is a secret (redacted from logs).
pub const SENSITIVE: u16 = 32;

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u16,
}

impl Param {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

const fn p(name: &'static str, kind: Kind, default: &'static str, flags: u16) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        flags,
    }
}

const fn alias(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
    flags: u16,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        flags,
    }
}

const BOOL: Kind = Kind::Bool;
const STR: Kind = Kind::Str {
    null_if_empty: false,
    check: None,
};
const NULLABLE: Kind = Kind::Str {
    null_if_empty: true,
    check: None,
};
const INT_MIN: i64 = i32::MIN as i64;
const INT_MAX: i64 = i32::MAX as i64;
const UINT_MAX: u64 = u32::MAX as u64;
const LONG_MAX_U: u64 = i64::MAX as u64;
const IMPL: u16 = IMPLEMENTED;

const SHUTDOWN_SAVE: u32 = 1;
const SHUTDOWN_NOSAVE: u32 = 2;
const SHUTDOWN_ON_SIG: &[(&str, u32)] = &[
    ("default", 0),
    ("save", SHUTDOWN_SAVE),
    ("nosave", SHUTDOWN_NOSAVE),
    ("now", 4),
    ("force", 8),
];

/// Redis 7.0.15's parameters with its defaults (`dir` defaults to the working directory).
#[rustfmt::skip]
pub static PARAMS: &[Param] = &[
    p("acl-pubsub-default", Kind::Enum(&[("allchannels", 0), ("resetchannels", 1)]), "resetchannels", IMPL),
    p("aclfile", STR, "", IMMUTABLE | IMPL),
    p("acllog-max-len", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "128", IMPL),
    p("active-defrag-cycle-max", Kind::Signed { min: 1, max: 99, unit: Unit::Plain }, "25", 0),
    p("active-defrag-cycle-min", Kind::Signed { min: 1, max: 99, unit: Unit::Plain }, "1", 0),
    p("active-defrag-ignore-bytes", Kind::Unsigned { min: 1, max: LONG_MAX_U, unit: Unit::Memory }, "104857600", 0),
    p("active-defrag-max-scan-fields", Kind::Signed { min: 1, max: i64::MAX, unit: Unit::Plain }, "1000", 0),
    p("active-defrag-threshold-lower", Kind::Signed { min: 0, max: 1000, unit: Unit::Plain }, "10", 0),
    p("active-defrag-threshold-upper", Kind::Signed { min: 0, max: 1000, unit: Unit::Plain }, "100", 0),
    p("active-expire-effort", Kind::Signed { min: 1, max: 10, unit: Unit::Plain }, "1", 0),
    p("activedefrag", BOOL, "no", 0),
    p("activerehashing", BOOL, "yes", 0),
    p("always-show-logo", BOOL, "no", IMMUTABLE),
    p("aof-disable-auto-gc", BOOL, "no", IMPL),
    p("aof-load-truncated", BOOL, "yes", IMPL),
    p("aof-rewrite-incremental-fsync", BOOL, "yes", IMPL),
    p("aof-timestamp-enabled", BOOL, "no", IMPL),
    p("aof-use-rdb-preamble", BOOL, "yes", IMPL),
    p("aof_rewrite_cpulist", NULLABLE, "", IMMUTABLE),
    p("appenddirname", Kind::Str { null_if_empty: false, check: Some(valid_aof_dirname) }, "appendonlydir", IMMUTABLE | IMPL),
    p("appendfilename", Kind::Str { null_if_empty: false, check: Some(valid_aof_filename) }, "appendonly.aof", IMMUTABLE | IMPL),
    p("appendfsync", Kind::Enum(&[("everysec", 0), ("always", 1), ("no", 2)]), "everysec", IMPL),
    p("appendonly", BOOL, "no", IMPL),
    p("auto-aof-rewrite-min-size", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Memory }, "67108864", IMPL),
    p("auto-aof-rewrite-percentage", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "100", IMPL),
    p("bgsave_cpulist", NULLABLE, "", IMMUTABLE),
    p("bind", Kind::Special, "* -::*", MULTI_ARG | IMPL),
    p("bind-source-addr", NULLABLE, "", 0),
    p("bio_cpulist", NULLABLE, "", IMMUTABLE),
    alias("busy-reply-threshold", "lua-time-limit", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "5000", 0),
    p("client-output-buffer-limit", Kind::Special, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", MULTI_ARG | IMPL),
    p("client-query-buffer-limit", Kind::Unsigned { min: 1048576, max: LONG_MAX_U, unit: Unit::Memory }, "1073741824", IMPL),
    p("cluster-allow-pubsubshard-when-down", BOOL, "yes", 0),
    p("cluster-allow-reads-when-down", BOOL, "no", 0),
    p("cluster-allow-replica-migration", BOOL, "yes", 0),
    p("cluster-announce-bus-port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "0", 0),
    p("cluster-announce-hostname", Kind::Str { null_if_empty: true, check: Some(valid_hostname) }, "", 0),
    p("cluster-announce-ip", NULLABLE, "", 0),
    p("cluster-announce-port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "0", 0),
    p("cluster-announce-tls-port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "0", 0),
    p("cluster-config-file", STR, "nodes.conf", IMMUTABLE),
    p("cluster-enabled", BOOL, "no", IMMUTABLE),
    p("cluster-link-sendbuf-limit", Kind::Unsigned { min: 0, max: u64::MAX, unit: Unit::Memory }, "0", 0),
    p("cluster-migration-barrier", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "1", 0),
    p("cluster-node-timeout", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "15000", 0),
    p("cluster-port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "0", IMMUTABLE),
    p("cluster-preferred-endpoint-type", Kind::Enum(&[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)]), "ip", 0),
    alias("cluster-replica-no-failover", "cluster-slave-no-failover", BOOL, "no", 0),
    alias("cluster-replica-validity-factor", "cluster-slave-validity-factor", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "10", 0),
    p("cluster-require-full-coverage", BOOL, "yes", 0),
    p("crash-log-enabled", BOOL, "yes", 0),
    p("crash-memcheck-enabled", BOOL, "yes", 0),
    p("daemonize", BOOL, "no", IMMUTABLE),
    p("databases", Kind::Signed { min: 1, max: INT_MAX, unit: Unit::Plain }, "16", IMMUTABLE | IMPL),
    p("dbfilename", Kind::Str { null_if_empty: false, check: Some(valid_db_filename) }, "dump.rdb", PROTECTED | IMPL),
    p("dir", Kind::Special, "", PROTECTED | IMPL),
    p("disable-thp", BOOL, "yes", IMMUTABLE),
    p("dynamic-hz", BOOL, "yes", 0),
    p("enable-debug-command", Kind::Enum(&[("no", 0), ("yes", 1), ("local", 2)]), "no", IMMUTABLE | IMPL),
    p("enable-module-command", Kind::Enum(&[("no", 0), ("yes", 1), ("local", 2)]), "no", IMMUTABLE),
    p("enable-protected-configs", Kind::Enum(&[("no", 0), ("yes", 1), ("local", 2)]), "no", IMMUTABLE | IMPL),
    alias("hash-max-listpack-entries", "hash-max-ziplist-entries", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Plain }, "512", 0),
    alias("hash-max-listpack-value", "hash-max-ziplist-value", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Memory }, "64", 0),
    p("hll-sparse-max-bytes", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Memory }, "3000", 0),
    p("hz", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "10", IMPL),
    p("ignore-warnings", STR, "", 0),
    p("io-threads", Kind::Signed { min: 1, max: 128, unit: Unit::Plain }, "1", IMMUTABLE | IMPL),
    p("io-threads-do-reads", BOOL, "no", IMMUTABLE),
    p("jemalloc-bg-thread", BOOL, "yes", 0),
    p("key-load-delay", Kind::Signed { min: INT_MIN, max: INT_MAX, unit: Unit::Plain }, "0", HIDDEN | IMPL),
    p("latency-monitor-threshold", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "0", IMPL),
    p("latency-tracking", BOOL, "yes", IMPL),
    p("latency-tracking-info-percentiles", Kind::Special, "50 99 99.9", MULTI_ARG | IMPL),
    p("lazyfree-lazy-eviction", BOOL, "no", IMPL),
    p("lazyfree-lazy-expire", BOOL, "no", IMPL),
    p("lazyfree-lazy-server-del", BOOL, "no", 0),
    p("lazyfree-lazy-user-del", BOOL, "no", IMPL),
    p("lazyfree-lazy-user-flush", BOOL, "no", IMPL),
    p("lfu-decay-time", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "1", 0),
    p("lfu-log-factor", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "10", 0),
    p("list-compress-depth", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "0", 0),
    alias("list-max-listpack-size", "list-max-ziplist-size", Kind::Signed { min: INT_MIN, max: INT_MAX, unit: Unit::Plain }, "-2", 0),
    p("loading-process-events-interval-bytes", Kind::Signed { min: 1024, max: INT_MAX, unit: Unit::Plain }, "2097152", HIDDEN),
    p("logfile", STR, "", IMMUTABLE | IMPL),
    p("loglevel", Kind::Enum(&[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)]), "notice", IMPL),
    p("masterauth", NULLABLE, "", SENSITIVE),
    p("masteruser", NULLABLE, "", SENSITIVE),
    p("maxclients", Kind::Unsigned { min: 1, max: UINT_MAX, unit: Unit::Plain }, "10000", IMPL),
    p("maxmemory", Kind::Unsigned { min: 0, max: u64::MAX, unit: Unit::Memory }, "0", IMPL),
    p("maxmemory-clients", Kind::Signed { min: -100, max: i64::MAX, unit: Unit::MemoryPercent }, "0", 0),
    p("maxmemory-eviction-tenacity", Kind::Signed { min: 0, max: 100, unit: Unit::Plain }, "10", IMPL),
    p("maxmemory-policy", Kind::Enum(&[("volatile-lru", 0), ("volatile-lfu", 1), ("volatile-random", 2), ("volatile-ttl", 3), ("allkeys-lru", 4), ("allkeys-lfu", 5), ("allkeys-random", 6), ("noeviction", 7)]), "noeviction", IMPL),
    p("maxmemory-samples", Kind::Signed { min: 1, max: INT_MAX, unit: Unit::Plain }, "5", IMPL),
    alias("min-replicas-max-lag", "min-slaves-max-lag", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "10", 0),
    alias("min-replicas-to-write", "min-slaves-to-write", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "0", 0),
    p("no-appendfsync-on-rewrite", BOOL, "no", IMPL),
    p("notify-keyspace-events", Kind::Special, "", 0),
    p("oom-score-adj", Kind::Enum(&[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)]), "no", 0),
    p("oom-score-adj-values", Kind::Special, "0 200 800", MULTI_ARG),
    p("pidfile", NULLABLE, "", IMMUTABLE | IMPL),
    p("port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "6379", IMPL),
    p("proc-title-template", Kind::Str { null_if_empty: false, check: Some(valid_proc_title) }, "{title} {listen-addr} {server-mode}", 0),
    p("propagation-error-behavior", Kind::Enum(&[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)]), "ignore", 0),
    p("protected-mode", BOOL, "yes", IMPL),
    p("proto-max-bulk-len", Kind::Signed { min: 1048576, max: i64::MAX, unit: Unit::Memory }, "536870912", IMPL),
    p("rdb-del-sync-files", BOOL, "no", 0),
    p("rdb-key-save-delay", Kind::Signed { min: INT_MIN, max: INT_MAX, unit: Unit::Plain }, "0", HIDDEN | IMPL),
    p("rdb-save-incremental-fsync", BOOL, "yes", IMPL),
    p("rdbchecksum", BOOL, "yes", IMMUTABLE | IMPL),
    p("rdbcompression", BOOL, "yes", IMPL),
    p("repl-backlog-size", Kind::Signed { min: 1, max: i64::MAX, unit: Unit::Memory }, "1048576", 0),
    p("repl-backlog-ttl", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "3600", 0),
    p("repl-disable-tcp-nodelay", BOOL, "no", 0),
    p("repl-diskless-load", Kind::Enum(&[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)]), "disabled", 0),
    p("repl-diskless-sync", BOOL, "yes", 0),
    p("repl-diskless-sync-delay", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "5", 0),
    p("repl-diskless-sync-max-replicas", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "0", 0),
    alias("repl-ping-replica-period", "repl-ping-slave-period", Kind::Signed { min: 1, max: INT_MAX, unit: Unit::Plain }, "10", 0),
    p("repl-timeout", Kind::Signed { min: 1, max: INT_MAX, unit: Unit::Plain }, "60", 0),
    alias("replica-announce-ip", "slave-announce-ip", NULLABLE, "", 0),
    alias("replica-announce-port", "slave-announce-port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "0", 0),
    p("replica-announced", BOOL, "yes", 0),
    p("replica-ignore-disk-write-errors", BOOL, "no", 0),
    alias("replica-ignore-maxmemory", "slave-ignore-maxmemory", BOOL, "yes", 0),
    alias("replica-lazy-flush", "slave-lazy-flush", BOOL, "no", 0),
    alias("replica-priority", "slave-priority", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "100", 0),
    alias("replica-read-only", "slave-read-only", BOOL, "yes", 0),
    alias("replica-serve-stale-data", "slave-serve-stale-data", BOOL, "yes", 0),
    alias("replicaof", "slaveof", Kind::Special, "", IMMUTABLE | MULTI_ARG),
    p("requirepass", NULLABLE, "", SENSITIVE | IMPL),
    p("sanitize-dump-payload", Kind::Enum(&[("no", 0), ("yes", 1), ("clients", 2)]), "no", 0),
    p("save", Kind::Special, "3600 1 300 100 60 10000", MULTI_ARG | IMPL),
    p("server_cpulist", NULLABLE, "", IMMUTABLE),
    p("set-max-intset-entries", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Plain }, "512", 0),
    p("set-proc-title", BOOL, "yes", IMMUTABLE),
    p("shutdown-on-sigint", Kind::Flags(SHUTDOWN_ON_SIG), "default", MULTI_ARG),
    p("shutdown-on-sigterm", Kind::Flags(SHUTDOWN_ON_SIG), "default", MULTI_ARG),
    p("shutdown-timeout", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "10", 0),
    p("slowlog-log-slower-than", Kind::Signed { min: -1, max: i64::MAX, unit: Unit::Plain }, "10000", IMPL),
    p("slowlog-max-len", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "128", IMPL),
    p("socket-mark-id", Kind::Unsigned { min: 0, max: UINT_MAX, unit: Unit::Plain }, "0", IMMUTABLE),
    p("stop-writes-on-bgsave-error", BOOL, "yes", IMPL),
    p("stream-node-max-bytes", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Memory }, "4096", 0),
    p("stream-node-max-entries", Kind::Signed { min: 0, max: i64::MAX, unit: Unit::Plain }, "100", 0),
    p("supervised", Kind::Enum(&[("upstart", 0), ("systemd", 1), ("auto", 2), ("no", 3)]), "no", IMMUTABLE),
    p("syslog-enabled", BOOL, "no", IMMUTABLE),
    p("syslog-facility", Kind::Enum(&[("user", 0), ("local0", 1), ("local1", 2), ("local2", 3), ("local3", 4), ("local4", 5), ("local5", 6), ("local6", 7), ("local7", 8)]), "local0", IMMUTABLE),
    p("syslog-ident", STR, "redis", IMMUTABLE),
    p("tcp-backlog", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "511", IMMUTABLE | IMPL),
    p("tcp-keepalive", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "300", IMPL),
    p("timeout", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "0", IMPL),
    p("tls-auth-clients", Kind::Enum(&[("no", 0), ("yes", 1), ("optional", 2)]), "yes", 0),
    p("tls-ca-cert-dir", NULLABLE, "", 0),
    p("tls-ca-cert-file", NULLABLE, "", 0),
    p("tls-cert-file", NULLABLE, "", 0),
    p("tls-ciphers", NULLABLE, "", 0),
    p("tls-ciphersuites", NULLABLE, "", 0),
    p("tls-client-cert-file", NULLABLE, "", 0),
    p("tls-client-key-file", NULLABLE, "", 0),
    p("tls-client-key-file-pass", NULLABLE, "", 0),
    p("tls-cluster", BOOL, "no", 0),
    p("tls-dh-params-file", NULLABLE, "", 0),
    p("tls-key-file", NULLABLE, "", 0),
    p("tls-key-file-pass", NULLABLE, "", 0),
    p("tls-port", Kind::Signed { min: 0, max: 65535, unit: Unit::Plain }, "0", 0),
    p("tls-prefer-server-ciphers", BOOL, "no", 0),
    p("tls-protocols", NULLABLE, "", 0),
    p("tls-replication", BOOL, "no", 0),
    p("tls-session-cache-size", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "20480", 0),
    p("tls-session-cache-timeout", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "300", 0),
    p("tls-session-caching", BOOL, "yes", 0),
    p("tracking-table-max-keys", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Plain }, "1000000", 0),
    p("unixsocket", NULLABLE, "", IMMUTABLE | IMPL),
    p("unixsocketperm", Kind::Unsigned { min: 0, max: 511, unit: Unit::Octal }, "0", IMMUTABLE | IMPL),
    p("use-exit-on-panic", BOOL, "no", HIDDEN),
    p("watchdog-period", Kind::Signed { min: 0, max: INT_MAX, unit: Unit::Plain }, "0", HIDDEN),
    alias("zset-max-listpack-entries", "zset-max-ziplist-entries", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Plain }, "128", 0),
    alias("zset-max-listpack-value", "zset-max-ziplist-value", Kind::Unsigned { min: 0, max: LONG_MAX_U, unit: Unit::Memory }, "64", 0),
];

/// Directives valid in a Redis config file that are not parameters. kopi does not support
/// them yet: each is reported with a warning and skipped.
const FILE_ONLY_DIRECTIVES: &[&str] = &["rename-command", "user", "loadmodule", "sentinel"];

/// Directives Redis 7.0 still accepts and ignores (`name`, min args, max args incl. name).
const DEPRECATED_DIRECTIVES: &[(&str, usize, usize)] = &[
    ("list-max-ziplist-entries", 2, 2),
    ("list-max-ziplist-value", 2, 2),
    ("lua-replicate-commands", 2, 2),
];

/// The signature line CONFIG REWRITE puts before the lines it appends.
const REWRITE_SIGNATURE: &str = "# Generated by CONFIG REWRITE";

fn is_base_name(path: &str) -> bool {
    !path.contains('/') && !path.contains('\\')
}

fn valid_db_filename(v: &str) -> Result<(), &'static str> {
    if is_base_name(v) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename")
    }
}

fn valid_aof_filename(v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appendfilename can't be empty")
    } else if !is_base_name(v) {
        Err("appendfilename can't be a path, just a filename")
    } else {
        Ok(())
    }
}

fn valid_aof_dirname(v: &str) -> Result<(), &'static str> {
    if v.is_empty() {
        Err("appenddirname can't be empty")
    } else if !is_base_name(v) {
        Err("appenddirname can't be a path, just a dirname")
    } else {
        Ok(())
    }
}

fn valid_hostname(v: &str) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if v.bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        Ok(())
    } else {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots")
    }
}

/// `proc-title-template`: `{name}` variables from Redis's set, `{{`/`}}` escapes, and a
/// non-blank expansion.
fn valid_proc_title(v: &str) -> Result<(), &'static str> {
    const INVALID: &str = "template format is invalid or contains unknown variables";
    let bytes = v.as_bytes();
    let mut i = 0;
    let mut visible = false;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => {
                visible = true;
                i += 2;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => {
                visible = true;
                i += 2;
            }
            b'{' => {
                let Some(len) = bytes[i + 1..].iter().position(|&c| c == b'}') else {
                    return Err(INVALID);
                };
                match &v[i + 1..i + 1 + len] {
                    "listen-addr" | "config-file" | "port" | "tls-port" => visible = true,
                    "title" | "server-mode" | "unixsocket" => {}
                    _ => return Err(INVALID),
                }
                i += len + 2;
            }
            b'}' => return Err(INVALID),
            c => {
                visible |= c != b' ';
                i += 1;
            }
        }
    }
    if visible { Ok(()) } else { Err(INVALID) }
}

/// Finds a parameter by name or alias, any case; also says whether `name` was the alias.
pub fn lookup_param(name: &str) -> Option<(&'static Param, bool)> {
    let lower = name.to_ascii_lowercase();
    PARAMS.iter().find_map(|p| {
        if p.name == lower {
            Some((p, false))
        } else if p.alias == Some(lower.as_str()) {
            Some((p, true))
        } else {
            None
        }
    })
}

pub fn find_param(name: &str) -> Option<&'static Param> {
    lookup_param(name).map(|(p, _)| p)
}

/// A configuration error: Redis's reason text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl ConfigError {
    fn new(text: &str) -> Self {
        ConfigError(text.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// The config file (absolute), for CONFIG REWRITE and INFO.
    pub file: Option<PathBuf>,
    /// Parameters given in the file or on the command line, first mention first (start-up
    /// warnings about parameters kopi does not act on).
    pub given: Vec<&'static str>,
    /// Set once a `save` line was read while loading: later ones add save points.
    save_loaded: bool,
    /// The `user <name> <rules...>` lines, name and rules, in order; applied at start-up
    /// (`Server::load_users_at_startup`).
    pub acl_users: Vec<Vec<Vec<u8>>>,
}

impl Default for Config {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        for param in PARAMS {
            values.insert(param.name, param.default.to_string());
        }
        values.insert("dir", current_dir());
        Config {
            values,
            file: None,
            given: Vec::new(),
            save_loaded: false,
            acl_users: Vec::new(),
        }
    }
}

fn current_dir() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// One CONFIG GET result: the name as matched (or as given, for an exact name) and the value.
pub type ConfigEntry = (String, String);

impl Config {
    pub fn get(&self, name: &str) -> &str {
        find_param(name)
            .and_then(|p| self.values.get(p.name))
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// CONFIG GET: for each argument, an exact name (or alias) gives that parameter under the
    /// name as written; a glob gives every matching name and alias except hidden parameters.
    /// A parameter appears once per name.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<ConfigEntry> {
        let mut out: Vec<ConfigEntry> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for pattern in patterns {
            let is_glob = pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
            if !is_glob {
                let name = String::from_utf8_lossy(pattern).into_owned();
                if seen.contains(&name) {
                    continue;
                }
                if let Some((param, _)) = lookup_param(&name) {
                    out.push((name.clone(), self.values[param.name].clone()));
                    seen.push(name);
                }
                continue;
            }
            for param in PARAMS {
                if param.has(HIDDEN) {
                    continue;
                }
                for name in std::iter::once(param.name).chain(param.alias) {
                    if seen.iter().any(|s| s == name)
                        || !crate::util::glob_match(pattern, name.as_bytes(), true)
                    {
                        continue;
                    }
                    out.push((name.to_string(), self.values[param.name].clone()));
                    seen.push(name.to_string());
                }
            }
        }
        out
    }

    /// Sets a parameter from its arguments with Redis's checks, as a config file line does
    /// (`reading_file`: `save` lines add save points after the first) or CONFIG SET does.
    /// Returns whether the value changed.
    fn set_param(
        &mut self,
        param: &'static Param,
        args: &[String],
        reading_file: bool,
    ) -> Result<bool, ConfigError> {
        let value = match param.kind {
            Kind::Special => self.special(param.name, args, reading_file)?,
            _ => canonical(param, args)?,
        };
        let slot = self.values.entry(param.name).or_default();
        let changed = *slot != value;
        *slot = value;
        Ok(changed)
    }

    fn special(
        &mut self,
        name: &str,
        args: &[String],
        reading_file: bool,
    ) -> Result<String, ConfigError> {
        let wrong_args = || ConfigError::new("wrong number of arguments");
        match name {
            "dir" => {
                if args.len() != 1 {
                    return Err(wrong_args());
                }
                std::env::set_current_dir(&args[0]).map_err(|e| ConfigError(strerror(&e)))?;
                Ok(current_dir())
            }
            "save" => {
                // `save ""` removes every save point, also those read before it.
                let clear = args.len() == 1 && args[0].is_empty();
                let args: &[String] = if clear { &[] } else { args };
                if !args.len().is_multiple_of(2) {
                    return Err(ConfigError::new("Invalid save parameters"));
                }
                let mut points = Vec::new();
                for pair in args.chunks(2) {
                    let seconds = parse_strtoll(&pair[0]).filter(|s| *s >= 1);
                    // `changes` is a C int in Redis, which wraps a bigger count into one
                    // CONFIG REWRITE writes back as invalid (`save 59 -1`): refused here.
                    let changes =
                        parse_strtoll(&pair[1]).filter(|c| (0..=i64::from(i32::MAX)).contains(c));
                    let (Some(seconds), Some(changes)) = (seconds, changes) else {
                        return Err(ConfigError::new("Invalid save parameters"));
                    };
                    points.push(format!("{seconds} {changes}"));
                }
                let mut all = Vec::new();
                if reading_file && self.save_loaded && !clear {
                    let old = &self.values["save"];
                    if !old.is_empty() {
                        all.push(old.clone());
                    }
                }
                if reading_file {
                    self.save_loaded = true;
                }
                all.extend(points);
                Ok(all.join(" "))
            }
            "client-output-buffer-limit" => {
                if !args.len().is_multiple_of(4) {
                    return Err(ConfigError::new(
                        "Wrong number of arguments in buffer limit configuration.",
                    ));
                }
                let mut classes: Vec<[String; 3]> = self.values["client-output-buffer-limit"]
                    .split(' ')
                    .collect::<Vec<_>>()
                    .chunks(4)
                    .map(|c| {
                        [
                            c.get(1).unwrap_or(&"0").to_string(),
                            c.get(2).unwrap_or(&"0").to_string(),
                            c.get(3).unwrap_or(&"0").to_string(),
                        ]
                    })
                    .collect();
                classes.resize(3, [String::new(), String::new(), String::new()]);
                let mut updates = Vec::new();
                for group in args.chunks(4) {
                    let class = match group[0].to_ascii_lowercase().as_str() {
                        "normal" => 0,
                        "slave" | "replica" => 1,
                        "pubsub" => 2,
                        _ => {
                            return Err(ConfigError::new(
                                "Invalid client class specified in buffer limit configuration.",
                            ));
                        }
                    };
                    let bad = || {
                        ConfigError::new(
                            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
                        )
                    };
                    let hard = parse_memory(&group[1]).ok_or_else(bad)?;
                    let soft = parse_memory(&group[2]).ok_or_else(bad)?;
                    let seconds = parse_strtoll(&group[3])
                        .filter(|s| *s >= 0)
                        .ok_or_else(bad)?;
                    updates.push((
                        class,
                        [hard.to_string(), soft.to_string(), seconds.to_string()],
                    ));
                }
                for (class, limits) in updates {
                    classes[class] = limits;
                }
                Ok(["normal", "slave", "pubsub"]
                    .iter()
                    .zip(&classes)
                    .map(|(name, l)| format!("{name} {} {} {}", l[0], l[1], l[2]))
                    .collect::<Vec<_>>()
                    .join(" "))
            }
            "oom-score-adj-values" => {
                if args.len() != 3 {
                    return Err(wrong_args());
                }
                let mut values = Vec::new();
                for arg in args {
                    match parse_strtoll(arg) {
                        Some(v) if (-2000..=2000).contains(&v) => values.push(v.to_string()),
                        _ => {
                            return Err(ConfigError::new(
                                "Invalid oom-score-adj-values, elements must be between -2000 and 2000.",
                            ));
                        }
                    }
                }
                Ok(values.join(" "))
            }
            "notify-keyspace-events" => {
                if args.len() != 1 {
                    return Err(wrong_args());
                }
                notify_flags_canonical(&args[0]).ok_or_else(|| {
                    ConfigError::new("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
                })
            }
            "bind" => {
                if args.len() > 16 {
                    return Err(ConfigError::new("Too many bind addresses specified."));
                }
                if args.len() == 1 && args[0].is_empty() {
                    return Ok(String::new());
                }
                // The addresses are kept as one space-separated value: an empty one, or one
                // with a space in it, could not be told apart again (and cannot be bound).
                if args
                    .iter()
                    .any(|a| a.is_empty() || a.bytes().any(|b| b.is_ascii_whitespace()))
                {
                    return Err(ConfigError::new("Invalid bind address."));
                }
                Ok(args.join(" "))
            }
            "replicaof" => {
                if args.len() != 2 {
                    return Err(wrong_args());
                }
                if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                    return Ok(String::new());
                }
                match parse_strtol_full(&args[1]) {
                    Some(port) if (0..=65535).contains(&port) => Ok(format!("{} {port}", args[0])),
                    _ => Err(ConfigError::new("Invalid master port")),
                }
            }
            "latency-tracking-info-percentiles" => {
                if args.len() == 1 && args[0].is_empty() {
                    return Ok(String::new());
                }
                let mut out = Vec::new();
                for arg in args {
                    let Some(v) = crate::util::parse_f64(arg.as_bytes()).filter(|v| v.is_finite())
                    else {
                        return Err(ConfigError::new(
                            "Invalid latency-tracking-info-percentiles parameters",
                        ));
                    };
                    if !(0.0..=100.0).contains(&v) {
                        return Err(ConfigError::new(
                            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
                        ));
                    }
                    out.push(format_percentile(v));
                }
                Ok(out.join(" "))
            }
            _ => Err(ConfigError::new(
                "Bad directive or wrong number of arguments",
            )),
        }
    }

    /// Applies one config line's words (name first) as `loadServerConfigFromString` does.
    fn apply_line(&mut self, words: &[String], depth: usize) -> Result<(), String> {
        let name = words[0].to_ascii_lowercase();
        let args = &words[1..];
        if let Some(param) = find_param(&name) {
            if !param.has(MULTI_ARG) && args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            // A multi-argument parameter given as one non-empty argument is split again, so
            // `--bind "127.0.0.1 ::1"` works.
            let split;
            let args = if param.has(MULTI_ARG) && args.len() == 1 && !args[0].is_empty() {
                split = split_args(args[0].as_bytes())
                    .ok_or_else(|| "Unbalanced quotes in configuration line".to_string())?
                    .into_iter()
                    .map(|w| String::from_utf8_lossy(&w).into_owned())
                    .collect::<Vec<_>>();
                &split[..]
            } else {
                args
            };
            self.set_param(param, args, true).map_err(|e| e.0)?;
            if !self.given.contains(&param.name) {
                self.given.push(param.name);
            }
            return Ok(());
        }
        if DEPRECATED_DIRECTIVES
            .iter()
            .any(|(n, min, max)| *n == name && (*min..=*max).contains(&words.len()))
        {
            return Ok(());
        }
        if name == "include" && words.len() == 2 {
            return self.include(&words[1], depth);
        }
        if name == "user" && words.len() >= 2 {
            return self.add_acl_user(words);
        }
        if FILE_ONLY_DIRECTIVES.contains(&name.as_str()) && words.len() >= 2 {
            crate::server::log::warning(&format!(
                "Config directive '{name}' is not supported by kopi yet and is ignored"
            ));
            return Ok(());
        }
        Err("Bad directive or wrong number of arguments".into())
    }

    /// A `user` line, checked as Redis's `ACLAppendUserForLoading`: a user named twice or a
    /// malformed rule is a configuration error; an unknown command is found at start-up.
    fn add_acl_user(&mut self, words: &[String]) -> Result<(), String> {
        let words: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let declaration_error = |at: usize, error: crate::acl::RuleError| {
            let word = words
                .get(at)
                .map(|w| String::from_utf8_lossy(w).into_owned());
            format!(
                "Error in user declaration '{}': {}",
                word.unwrap_or_default(),
                error.text()
            )
        };
        if self.acl_users.iter().any(|user| user[0] == words[1]) {
            return Err(declaration_error(1, crate::acl::RuleError::Duplicate));
        }
        let rules = crate::acl::merge_selector_args(&words[2..]).map_err(|at| {
            format!(
                "Error in user declaration '{}': Unmatched parenthesis in acl selector",
                String::from_utf8_lossy(&words[at + 2])
            )
        })?;
        let mut probe = crate::acl::User::new(&words[1]);
        for (j, rule) in rules.iter().enumerate() {
            match probe.apply(rule) {
                Ok(()) | Err(crate::acl::RuleError::UnknownCommand) => {}
                // Redis names the line's word at the rule's index, as it does.
                Err(e) => return Err(declaration_error(j, e)),
            }
        }
        let mut user = vec![words[1].clone()];
        user.extend(rules);
        self.acl_users.push(user);
        Ok(())
    }

    /// `include path` (with `*?[` globs: every match, none is fine).
    fn include(&mut self, path: &str, depth: usize) -> Result<(), String> {
        if depth >= 16 {
            return Err("include nesting too deep".into());
        }
        let files = if path.contains(['*', '?', '[']) {
            glob_files(path)
        } else {
            vec![PathBuf::from(path)]
        };
        for file in files {
            let text = read_config_file(&file)?;
            self.load_text(&text, &[(0, file.display().to_string())], depth + 1)?;
        }
        Ok(())
    }

    /// Reads a config text, line by line as Redis does. `sources` names where its lines came
    /// from: `(first line index, name)`, in order. An error is the complete
    /// `*** FATAL CONFIG FILE ERROR ***` report, naming the source and its line.
    pub fn load_text(
        &mut self,
        text: &str,
        sources: &[(usize, String)],
        depth: usize,
    ) -> Result<(), String> {
        for (index, raw_line) in text.split('\n').enumerate() {
            let line = raw_line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (start, source) = sources
                .iter()
                .rev()
                .find(|(start, _)| *start <= index)
                .map_or((0, "the configuration"), |(s, n)| (*s, n.as_str()));
            let fail = |reason: &str| fatal_config_error(source, index - start + 1, line, reason);
            let Some(words) = split_args(line.as_bytes()) else {
                return Err(fail("Unbalanced quotes in configuration line"));
            };
            if words.is_empty() {
                continue;
            }
            let words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            self.apply_line(&words, depth).map_err(|reason| {
                // Errors of included files are already complete reports.
                if reason.starts_with("\n*** FATAL") || reason.starts_with("Fatal error") {
                    reason
                } else {
                    fail(&reason)
                }
            })?;
        }
        Ok(())
    }

    /// The `redis-server` command line: `[configfile] [-] [--name value ...]`. The file, then
    /// standard input (`-`), then the options (as lines appended to the file) are applied, so
    /// the last mention of a parameter wins.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut config = Config::default();
        let mut text = String::new();
        let mut j = 0;
        if let Some(first) = args.first()
            && !first.starts_with('-')
        {
            let path = Path::new(first);
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            text = read_config_file(&absolute)?;
            config.file = Some(absolute);
            j = 1;
        }
        let mut options = String::new();
        let mut from_stdin = false;
        let mut value_expected = false;
        while j < args.len() {
            let arg = &args[j];
            if arg == "-" && (j == 0 || j == args.len() - 1) {
                from_stdin = true;
            } else if !value_expected && arg.starts_with("--") {
                if !options.is_empty() {
                    options.push('\n');
                }
                options.push_str(&arg[2..]);
                options.push(' ');
                let words = split_args(arg.as_bytes()).map(|w| w.len()).unwrap_or(1);
                value_expected = words == 1;
                let next_is_option = args.get(j + 1).is_some_and(|n| n.starts_with("--"));
                if value_expected && arg.eq_ignore_ascii_case("--save") {
                    // `--save` alone, or followed by another option, means `save ""`.
                    if next_is_option {
                        options.push_str("\"\"");
                        value_expected = false;
                    } else if j == args.len() - 1 {
                        options.push_str("\"\"");
                    }
                }
            } else {
                options.push_str(&crate::server::repr(arg.as_bytes()));
                options.push(' ');
                value_expected = false;
            }
            j += 1;
        }
        let mut sources = Vec::new();
        if let Some(file) = &config.file {
            sources.push((0, file.display().to_string()));
        }
        if from_stdin {
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
                .map_err(|e| format!("Reading config from stdin: {e}"))?;
            sources.push((text.split('\n').count() - 1, "standard input".to_string()));
            text.push_str(&input);
        }
        if !options.is_empty() {
            text.push('\n');
            sources.push((
                text.split('\n').count() - 1,
                "the command line options".to_string(),
            ));
            text.push_str(&options);
        }
        config.load_text(&text, &sources, 0)?;
        let logfile = config.get("logfile");
        if !logfile.is_empty()
            && let Err(e) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logfile)
        {
            return Err(fatal_config_error_without_line(&format!(
                "Can't open the log file: {}",
                strerror(&e)
            )));
        }
        // `hz` is a hint: out-of-range values are capped, not refused.
        let hz = config.get_i64("hz").clamp(1, 500);
        config.values.insert("hz", hz.to_string());
        Ok(config)
    }
}

/// What CONFIG SET reports on success: the parameters whose value changed.
pub type Changed = Vec<&'static str>;

impl Config {
    /// CONFIG SET name value [name value ...], all or nothing, with Redis 7.0's checks in its
    /// order: unknown names, immutable and protected parameters, duplicates, then each value.
    /// `allow_protected` says whether `enable-protected-configs` admits this client. The error
    /// is the complete reply text.
    pub fn set_runtime(
        &mut self,
        pairs: &[(&[u8], &[u8])],
        allow_protected: bool,
    ) -> Result<Changed, String> {
        let mut params: Vec<(&'static Param, String)> = Vec::new();
        let mut first_error: Option<String> = None;
        for (name, _) in pairs {
            let given = String::from_utf8_lossy(name).into_owned();
            let Some((param, by_alias)) = lookup_param(&given) else {
                if first_error.is_none() {
                    first_error = Some(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{given}'"
                    ));
                }
                continue;
            };
            if first_error.is_some() {
                continue;
            }
            let reason = if param.has(IMMUTABLE) {
                Some("can't set immutable config")
            } else if param.has(PROTECTED) && !allow_protected {
                Some("can't set protected config")
            } else if params
                .iter()
                .any(|(p, n)| std::ptr::eq(*p, param) && n == registered_name(param, by_alias))
            {
                Some("duplicate parameter")
            } else {
                None
            };
            if let Some(reason) = reason {
                first_error = Some(set_failed(&given, reason));
                continue;
            }
            params.push((param, registered_name(param, by_alias).to_string()));
        }
        if let Some(err) = first_error {
            return Err(err);
        }

        let backup = self.values.clone();
        let restore = |config: &mut Config| {
            if config.values["dir"] != backup["dir"] {
                let _ = std::env::set_current_dir(&backup["dir"]);
            }
            config.values = backup.clone();
        };
        let mut changed: Changed = Vec::new();
        for ((param, name), (_, value)) in params.iter().zip(pairs) {
            let value = String::from_utf8_lossy(value).into_owned();
            let args: Vec<String> = if param.has(MULTI_ARG) {
                if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(' ').map(str::to_string).collect()
                }
            } else {
                vec![value]
            };
            match self.set_param(param, &args, false) {
                Ok(true) => {
                    if !changed.contains(&param.name) {
                        changed.push(param.name);
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    restore(self);
                    return Err(set_failed(name, &e.0));
                }
            }
        }
        // What Redis's apply step does for the parameters kopi handles at runtime.
        if changed.contains(&"hz") {
            let hz = self.get_i64("hz").clamp(1, 500);
            self.values.insert("hz", hz.to_string());
        }
        if let Some(err) = self.apply_failure(&changed, &params) {
            restore(self);
            return Err(err);
        }
        Ok(changed)
    }

    /// Listeners and TLS cannot change while kopi runs: such a change fails as a failed apply
    /// step fails in Redis, with the reason in the log.
    fn apply_failure(
        &self,
        changed: &[&'static str],
        params: &[(&'static Param, String)],
    ) -> Option<String> {
        let name_of = |primary: &str| {
            params
                .iter()
                .find(|(p, _)| p.name == primary)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| primary.to_string())
        };
        if changed.contains(&"port") {
            crate::server::log::warning(
                "Changing the port at runtime is not supported by kopi: restart with the new port",
            );
            return Some(set_failed(
                &name_of("port"),
                "Unable to listen on this port. Check server logs.",
            ));
        }
        if changed.contains(&"bind") {
            crate::server::log::warning(
                "Changing bind addresses at runtime is not supported by kopi: restart with the new addresses",
            );
            return Some(set_failed(
                &name_of("bind"),
                "Failed to bind to specified addresses.",
            ));
        }
        let tls_wanted = self.get("tls-port") != "0"
            || self.get_bool("tls-replication")
            || self.get_bool("tls-cluster");
        if let Some(tls) = changed.iter().find(|n| n.starts_with("tls-"))
            && tls_wanted
        {
            crate::server::log::warning("TLS is not supported by kopi");
            return Some(set_failed(
                &name_of(tls),
                "Unable to update TLS configuration. Check server logs.",
            ));
        }
        None
    }
}

fn registered_name(param: &'static Param, by_alias: bool) -> &'static str {
    match (by_alias, param.alias) {
        (true, Some(alias)) => alias,
        _ => param.name,
    }
}

fn set_failed(name: &str, reason: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

/// The canonical text of a value of a non-special parameter, or Redis's reason for refusing it.
fn canonical(param: &Param, args: &[String]) -> Result<String, ConfigError> {
    let value = args.first().map(String::as_str).unwrap_or("");
    match param.kind {
        Kind::Bool => {
            if value.eq_ignore_ascii_case("yes") {
                Ok("yes".into())
            } else if value.eq_ignore_ascii_case("no") {
                Ok("no".into())
            } else {
                Err(ConfigError::new("argument must be 'yes' or 'no'"))
            }
        }
        Kind::Signed { min, max, unit } => {
            let n = parse_numeric(value, unit)?;
            if unit == Unit::MemoryPercent && n < 0 {
                if n < min {
                    return Err(ConfigError(format!(
                        "percentage argument must be less or equal to {}",
                        min.unsigned_abs()
                    )));
                }
                return Ok(format!("{}%", n.unsigned_abs()));
            }
            if n < min || n > max {
                return Err(ConfigError(format!(
                    "argument must be between {min} and {max} inclusive"
                )));
            }
            Ok(n.to_string())
        }
        Kind::Unsigned { min, max, unit } => {
            let n = parse_numeric(value, unit)? as u64;
            if n < min || n > max {
                return Err(ConfigError(if unit == Unit::Octal {
                    format!("argument must be between {min:o} and {max:o} inclusive")
                } else {
                    format!("argument must be between {min} and {max} inclusive")
                }));
            }
            Ok(if unit == Unit::Octal {
                format!("{n:o}")
            } else {
                n.to_string()
            })
        }
        Kind::Enum(names) => {
            let value = names
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(value))
                .map(|(_, v)| *v);
            match value {
                Some(v) => Ok(enum_name(names, v)),
                None => Err(ConfigError(format!(
                    "argument(s) must be one of the following: {}",
                    names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ))),
            }
        }
        Kind::Flags(names) => {
            let mut bits = 0;
            for arg in args {
                match names.iter().find(|(n, _)| n.eq_ignore_ascii_case(arg)) {
                    Some((_, v)) => bits |= v,
                    None => {
                        return Err(ConfigError(format!(
                            "argument(s) must be one of the following: {}",
                            names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
            }
            if args.is_empty() {
                return Err(ConfigError(format!(
                    "argument(s) must be one of the following: {}",
                    names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                )));
            }
            if bits & SHUTDOWN_SAVE != 0 && bits & SHUTDOWN_NOSAVE != 0 {
                return Err(ConfigError::new(
                    "shutdown options SAVE and NOSAVE can't be used simultaneously",
                ));
            }
            Ok(flags_names(names, bits))
        }
        Kind::Str { check, .. } => {
            if let Some(check) = check {
                check(value).map_err(ConfigError::new)?;
            }
            Ok(value.to_string())
        }
        Kind::Special => Err(ConfigError::new(
            "Bad directive or wrong number of arguments",
        )),
    }
}

fn enum_name(names: &[(&'static str, u32)], value: u32) -> String {
    names
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Flag names for `bits`: an exact single name first, else every name whose bits are set.
fn flags_names(names: &[(&'static str, u32)], bits: u32) -> String {
    if let Some((n, _)) = names.iter().find(|(_, v)| *v == bits) {
        return n.to_string();
    }
    names
        .iter()
        .filter(|(_, v)| *v != 0 && bits & v == *v)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a numeric parameter's text as Redis's `numericParseString` does.
fn parse_numeric(value: &str, unit: Unit) -> Result<i64, ConfigError> {
    if matches!(unit, Unit::Memory | Unit::MemoryPercent)
        && let Some(n) = parse_memory(value)
    {
        // Stored into a `long long` in Redis: values past its range wrap.
        return Ok(n as i64);
    }
    if unit == Unit::MemoryPercent
        && value.len() > 1
        && let Some(digits) = value.strip_suffix('%')
        && let Some(n) = crate::util::parse_i64(digits.as_bytes())
        && n >= 0
    {
        return Ok(-n);
    }
    if unit == Unit::Octal
        && let Some(n) = parse_octal(value)
    {
        return Ok(n);
    }
    if unit == Unit::Plain
        && let Some(n) = crate::util::parse_i64(value.as_bytes())
    {
        return Ok(n);
    }
    Err(ConfigError::new(match unit {
        Unit::MemoryPercent => "argument must be a memory or percent value",
        Unit::Memory => "argument must be a memory value",
        Unit::Octal => "argument couldn't be parsed as an octal number",
        Unit::Plain => "argument couldn't be parsed into an integer",
    }))
}

/// `strtoll(value, &end, 8)` consuming the whole text.
fn parse_octal(value: &str) -> Option<i64> {
    let trimmed = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() {
        return value.is_empty().then_some(0);
    }
    let n = i64::from_str_radix(digits, 8).ok()?;
    Some(if negative { -n } else { n })
}

/// Redis's `memtoull`: digits with an optional `b k kb m mb g gb` unit (any case). Like
/// Redis, no digits means 0 and an overflowing number saturates before the unit applies.
pub fn parse_memory(text: &str) -> Option<u64> {
    if text.starts_with('-') {
        return None;
    }
    let digits_end = text
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let value = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };
    Some(value.wrapping_mul(multiplier))
}

/// C's `strtoll(text, &end, 10)` requiring `*end == '\0'`: leading blanks and a sign are
/// allowed, an empty text is 0, overflow saturates.
fn parse_strtoll(text: &str) -> Option<i64> {
    if text.is_empty() {
        return Some(0);
    }
    let trimmed = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let magnitude: i128 = digits.parse().unwrap_or(i128::MAX);
    let value = if negative { -magnitude } else { magnitude };
    Some(value.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

fn parse_strtol_full(text: &str) -> Option<i64> {
    parse_strtoll(text)
}

/// `notify-keyspace-events` classes in Redis's canonical order, or `None` for an unknown
/// class character.
fn notify_flags_canonical(text: &str) -> Option<String> {
    const CLASSES: &str = "g$lshzxetdn";
    const ALL: &str = "g$lshzxetd";
    let mut set = std::collections::BTreeSet::new();
    for c in text.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                set.insert(c);
            }
            _ => return None,
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        // Like Redis, `A` stands for the whole group and hides `n`.
        out.push('A');
    } else {
        out.extend(CLASSES.chars().filter(|c| set.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| set.contains(c)));
    Some(out)
}

/// `%f` with trailing zeros (and a trailing point) removed, as Redis prints percentiles.
pub fn format_percentile(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The C library's text for an I/O error (`strerror`), without Rust's `(os error N)`.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Redis's fatal configuration report, naming the file (or the command line) and its line.
fn fatal_config_error(source: &str, line_number: usize, line: &str, reason: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15 compatible, kopi {}) ***\nReading {source}, at line {line_number}\n>>> '{line}'\n{reason}",
        env!("CARGO_PKG_VERSION")
    )
}

fn fatal_config_error_without_line(reason: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15 compatible, kopi {}) ***\n{reason}",
        env!("CARGO_PKG_VERSION")
    )
}

fn read_config_file(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| {
            format!(
                "Fatal error, can't open config file '{}': {}",
                path.display(),
                strerror(&e)
            )
        })
}

/// The files an `include` glob names (wildcards in the last path component), sorted.
fn glob_files(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name_pattern) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            crate::util::glob_match(
                name_pattern.as_bytes(),
                e.file_name().to_string_lossy().as_bytes(),
                false,
            )
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// CONFIG REWRITE's view of the old file: its lines, and where each option appears.
struct RewriteState {
    lines: Vec<String>,
    /// Option (primary name, lowercase) → indexes of the lines that set it, in order.
    option_lines: BTreeMap<String, std::collections::VecDeque<usize>>,
    /// Options the rewrite handled: their unused old lines are blanked.
    processed: std::collections::BTreeSet<String>,
    needs_signature: bool,
    force_all: bool,
}

impl RewriteState {
    fn read(old: &str, force_all: bool) -> Self {
        let mut state = RewriteState {
            lines: Vec::new(),
            option_lines: BTreeMap::new(),
            processed: Default::default(),
            needs_signature: true,
            force_all,
        };
        if old.is_empty() {
            return state;
        }
        for raw in old.split('\n') {
            let line = raw.trim_matches(|c| matches!(c, '\r' | '\n' | '\t' | ' '));
            if line.is_empty() || line.starts_with('#') {
                if line == REWRITE_SIGNATURE {
                    state.needs_signature = false;
                }
                state.lines.push(line.to_string());
                continue;
            }
            let name = split_args(line.as_bytes()).and_then(|words| {
                let first = String::from_utf8_lossy(words.first()?).to_ascii_lowercase();
                match find_param(&first) {
                    Some(param) => Some(param.name.to_string()),
                    None if [
                        "include",
                        "rename-command",
                        "user",
                        "loadmodule",
                        "sentinel",
                    ]
                    .contains(&first.as_str()) =>
                    {
                        Some(first)
                    }
                    None => None,
                }
            });
            match name {
                Some(name) => {
                    state
                        .option_lines
                        .entry(name)
                        .or_default()
                        .push_back(state.lines.len());
                    state.lines.push(line.to_string());
                }
                // Unparsable lines and options nobody knows are kept as comments.
                None => state.lines.push(format!("# ??? {line}")),
            }
        }
        state
    }

    /// Puts `line` for `option` in place of its next old line, or appends it when the option
    /// was not in the file and `force` (its value is not the default) says it must be written.
    fn rewrite_line(&mut self, option: &str, line: String, force: bool) {
        self.processed.insert(option.to_string());
        if let Some(at) = self
            .option_lines
            .get_mut(option)
            .and_then(|lines| lines.pop_front())
        {
            self.lines[at] = line;
            return;
        }
        if !force && !self.force_all {
            return;
        }
        if self.needs_signature {
            self.lines.push(REWRITE_SIGNATURE.to_string());
            self.needs_signature = false;
        }
        self.lines.push(line);
    }

    fn mark_processed(&mut self, option: &str) {
        self.processed.insert(option.to_string());
    }

    /// The new file: unused old lines of rewritten options blanked, runs of blank lines
    /// collapsed to one.
    fn content(mut self) -> String {
        for (option, lines) in &self.option_lines {
            if self.processed.contains(option) {
                for &at in lines {
                    self.lines[at].clear();
                }
            }
        }
        let mut out = String::new();
        let mut was_empty = false;
        for line in &self.lines {
            if line.is_empty() {
                if was_empty {
                    continue;
                }
                was_empty = true;
            } else {
                was_empty = false;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// A byte count as `redis.conf` writes it: `gb`, `mb`, `kb` when exact.
fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    const GB: u64 = 1024 * 1024 * 1024;
    if bytes != 0 && bytes.is_multiple_of(GB) {
        format!("{}gb", bytes / GB)
    } else if bytes != 0 && bytes.is_multiple_of(MB) {
        format!("{}mb", bytes / MB)
    } else if bytes != 0 && bytes.is_multiple_of(KB) {
        format!("{}kb", bytes / KB)
    } else {
        bytes.to_string()
    }
}

impl Config {
    /// CONFIG REWRITE: keeps the file's comments and layout, replaces the lines of every
    /// known option with its current value, blanks extra lines of those options, and appends
    /// options that differ from their default after a signature comment. `force_all` writes
    /// every option (DEBUG CONFIG-REWRITE-FORCE-ALL). The file is replaced atomically. The
    /// error is the complete reply text.
    pub fn rewrite(&self, force_all: bool) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("ERR The server is running without a config file".into());
        };
        let old = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("ERR Rewriting config file: {}", strerror(&e))),
        };
        crate::server::fs::write_atomically(path, self.rewrite_text(&old, force_all).as_bytes())
            .map_err(|e| format!("ERR Rewriting config file: {}", strerror(&e)))
    }

    /// The text CONFIG REWRITE puts in place of the config file whose text is `old`.
    pub fn rewrite_text(&self, old: &str, force_all: bool) -> String {
        let mut state = RewriteState::read(old, force_all);
        for param in PARAMS {
            self.rewrite_param(&mut state, param);
        }
        state.content()
    }

    fn rewrite_param(&self, state: &mut RewriteState, param: &'static Param) {
        let name = param.name;
        let value = self.values[name].as_str();
        let differs = value != param.default;
        let simple = |state: &mut RewriteState, text: &str, force: bool| {
            state.rewrite_line(name, format!("{name} {text}"), force)
        };
        match param.kind {
            Kind::Bool | Kind::Enum(_) | Kind::Flags(_) => simple(state, value, differs),
            Kind::Signed { unit, .. } | Kind::Unsigned { unit, .. } => {
                let text = match unit {
                    Unit::Memory | Unit::MemoryPercent if !value.ends_with('%') => {
                        format_memory(value.parse().unwrap_or(0))
                    }
                    _ => value.to_string(),
                };
                simple(state, &text, differs)
            }
            Kind::Str { null_if_empty, .. } => {
                if null_if_empty && value.is_empty() {
                    state.mark_processed(name);
                } else {
                    let force = null_if_empty || differs;
                    simple(state, &crate::server::repr(value.as_bytes()), force)
                }
            }
            Kind::Special => self.rewrite_special(state, param, value, differs),
        }
    }

    fn rewrite_special(
        &self,
        state: &mut RewriteState,
        param: &'static Param,
        value: &str,
        differs: bool,
    ) {
        let name = param.name;
        match name {
            "dir" => state.rewrite_line(
                name,
                format!("dir {}", crate::server::repr(value.as_bytes())),
                true,
            ),
            "save" => {
                if value.is_empty() {
                    state.rewrite_line(name, "save \"\"".into(), true);
                } else {
                    let words: Vec<&str> = value.split(' ').collect();
                    for pair in words.chunks(2) {
                        state.rewrite_line(name, format!("save {}", pair.join(" ")), true);
                    }
                }
                state.mark_processed(name);
            }
            "client-output-buffer-limit" => {
                let words: Vec<&str> = value.split(' ').collect();
                let defaults: Vec<&str> = param.default.split(' ').collect();
                for (class, (limits, default)) in
                    words.chunks(4).zip(defaults.chunks(4)).enumerate()
                {
                    let memory = |i: usize| {
                        format_memory(limits.get(i).and_then(|v| v.parse().ok()).unwrap_or(0))
                    };
                    let class_name = ["normal", "replica", "pubsub"][class.min(2)];
                    state.rewrite_line(
                        name,
                        format!(
                            "{name} {class_name} {} {} {}",
                            memory(1),
                            memory(2),
                            limits.get(3).unwrap_or(&"0")
                        ),
                        limits[1..] != default[1..],
                    );
                }
            }
            "oom-score-adj-values" => state.rewrite_line(name, format!("{name} {value}"), differs),
            "notify-keyspace-events" => state.rewrite_line(
                name,
                format!("{name} {}", crate::server::repr(value.as_bytes())),
                !value.is_empty(),
            ),
            "bind" => {
                if !differs {
                    state.mark_processed(name);
                } else if value.is_empty() {
                    state.rewrite_line(name, "bind \"\"".into(), true);
                } else {
                    state.rewrite_line(name, format!("bind {value}"), true);
                }
            }
            "replicaof" => {
                if value.is_empty() {
                    state.mark_processed(name);
                } else {
                    state.rewrite_line(name, format!("{name} {value}"), true);
                }
            }
            "latency-tracking-info-percentiles" => {
                if value.is_empty() {
                    state.rewrite_line(name, format!("{name} \"\""), true);
                } else {
                    state.rewrite_line(name, format!("{name} {value}"), true);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn set(c: &mut Config, name: &str, value: &str) -> Result<Changed, String> {
        c.set_runtime(&[(name.as_bytes(), value.as_bytes())], false)
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in PARAMS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} {}",
                pair[0].name,
                pair[1].name
            );
        }
        let visible = PARAMS.iter().filter(|p| !p.has(HIDDEN)).count();
        let aliases = PARAMS.iter().filter(|p| p.alias.is_some()).count();
        // What `CONFIG GET *` lists on Redis 7.0.15 (built with TLS).
        assert_eq!(visible + aliases, 192);
    }

    #[test]
    fn memory_units_as_memtoull() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_memory(""), Some(0));
        assert_eq!(parse_memory("mb"), Some(0));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1tb"), None);
        assert_eq!(parse_memory("99999999999999999999"), Some(u64::MAX));
        assert_eq!(format_memory(1024 * 1024 * 3), "3mb");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(0), "0");
    }

    #[test]
    fn values_and_reasons() {
        let mut c = Config::default();
        assert_eq!(set(&mut c, "maxmemory", "100mb"), Ok(vec!["maxmemory"]));
        assert_eq!(c.get("maxmemory"), "104857600");
        assert_eq!(set(&mut c, "maxmemory", "100mb"), Ok(vec![]));
        assert_eq!(
            set(&mut c, "timeout", "abc").unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
        );
        assert!(
            set(&mut c, "maxclients", "-1")
                .unwrap_err()
                .ends_with("argument must be between 1 and 4294967295 inclusive")
        );
        assert!(
            set(&mut c, "appendonly", "maybe")
                .unwrap_err()
                .ends_with("argument must be 'yes' or 'no'")
        );
        assert!(
            set(&mut c, "appendfsync", "sometimes")
                .unwrap_err()
                .ends_with("argument(s) must be one of the following: everysec, always, no")
        );
        assert_eq!(
            set(&mut c, "oom-score-adj", "relative"),
            Ok(vec!["oom-score-adj"])
        );
        assert_eq!(c.get("oom-score-adj"), "yes");
        assert_eq!(
            set(&mut c, "maxmemory-clients", "10%"),
            Ok(vec!["maxmemory-clients"])
        );
        assert_eq!(c.get("maxmemory-clients"), "10%");
        assert!(
            set(&mut c, "maxmemory-clients", "101%")
                .unwrap_err()
                .ends_with("percentage argument must be less or equal to 100")
        );
        assert_eq!(set(&mut c, "hz", "1000"), Ok(vec!["hz"]));
        assert_eq!(c.get("hz"), "500");
        assert_eq!(
            set(&mut c, "notify-keyspace-events", "KEA"),
            Ok(vec!["notify-keyspace-events"])
        );
        assert_eq!(c.get("notify-keyspace-events"), "AKE");
        assert_eq!(
            set(&mut c, "notify-keyspace-events", "Ex$"),
            Ok(vec!["notify-keyspace-events"])
        );
        assert_eq!(c.get("notify-keyspace-events"), "$xE");
        assert_eq!(
            set(&mut c, "shutdown-on-sigterm", "now save"),
            Ok(vec!["shutdown-on-sigterm"])
        );
        assert_eq!(c.get("shutdown-on-sigterm"), "save now");
        assert!(
            set(&mut c, "shutdown-on-sigterm", "save nosave")
                .unwrap_err()
                .ends_with("shutdown options SAVE and NOSAVE can't be used simultaneously")
        );
        assert_eq!(set(&mut c, "save", "10 1 20 2"), Ok(vec!["save"]));
        assert_eq!(c.get("save"), "10 1 20 2");
        assert!(
            set(&mut c, "save", "0 1")
                .unwrap_err()
                .ends_with("Invalid save parameters")
        );
        assert_eq!(
            set(&mut c, "client-output-buffer-limit", "replica 1mb 2mb 30"),
            Ok(vec!["client-output-buffer-limit"])
        );
        // Bind addresses are kept space-separated: an empty one or one with a space is
        // refused, so CONFIG REWRITE writes back what was set.
        for bad in ["bind 127.0.0.1 \"\"\n", "bind \"a b\" ::1\n"] {
            let err = Config::default().load_text(bad, &[], 0).unwrap_err();
            assert!(err.contains("Invalid bind address."), "{bad}: {err}");
        }
        // A save point's count of changes is a C int in Redis (which wraps a bigger one).
        assert!(
            set(&mut c, "save", "59 10007777777777777777")
                .unwrap_err()
                .ends_with("Invalid save parameters")
        );
        assert!(
            set(&mut c, "save", "59 2147483648")
                .unwrap_err()
                .ends_with("Invalid save parameters")
        );
        assert_eq!(set(&mut c, "save", "59 2147483647"), Ok(vec!["save"]));
        let mut from_file = Config::default();
        from_file.load_text("bind \"\"\n", &[], 0).unwrap();
        assert_eq!(from_file.get("bind"), "");
        assert_eq!(
            c.get("client-output-buffer-limit"),
            "normal 0 0 0 slave 1048576 2097152 30 pubsub 33554432 8388608 60"
        );
        assert_eq!(
            set(&mut c, "latency-tracking-info-percentiles", "50 99.99"),
            Ok(vec!["latency-tracking-info-percentiles"])
        );
        assert_eq!(c.get("latency-tracking-info-percentiles"), "50 99.99");
    }

    #[test]
    fn config_set_is_all_or_nothing() {
        let mut c = Config::default();
        let err = c
            .set_runtime(&[(b"maxmemory", b"10mb"), (b"timeout", b"x")], false)
            .unwrap_err();
        assert!(err.contains("'timeout'"), "{err}");
        assert_eq!(c.get("maxmemory"), "0");
        assert_eq!(
            c.set_runtime(&[(b"daemonize", b"yes")], false).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        );
        assert_eq!(
            c.set_runtime(&[(b"dbfilename", b"x.rdb")], false)
                .unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"
        );
        assert_eq!(
            c.set_runtime(&[(b"dbfilename", b"x.rdb")], true),
            Ok(vec!["dbfilename"])
        );
        assert_eq!(
            c.set_runtime(&[(b"timeout", b"1"), (b"TIMEOUT", b"2")], false)
                .unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter"
        );
        assert_eq!(
            c.set_runtime(&[(b"timeout", b"1"), (b"nosuch", b"2")], false)
                .unwrap_err(),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert_eq!(c.get("timeout"), "0");
        assert!(c.set_runtime(&[(b"port", b"1234")], false).is_err());
        assert_eq!(c.get("port"), "6379");
    }

    #[test]
    fn config_get_names() {
        let c = Config::default();
        let names = |patterns: &[&[u8]]| -> Vec<String> {
            c.matching(patterns).into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(names(&[b"MAXMEMORY"]), vec!["MAXMEMORY"]);
        assert_eq!(names(&[b"slave-read-only"]), vec!["slave-read-only"]);
        assert_eq!(
            names(&[b"*read-only*"]),
            vec!["replica-read-only", "slave-read-only"]
        );
        assert_eq!(names(&[b"rdb-key*"]), Vec::<String>::new());
        assert_eq!(names(&[b"rdb-key-save-delay"]), vec!["rdb-key-save-delay"]);
        assert_eq!(names(&[b"maxmemory", b"maxmemory"]), vec!["maxmemory"]);
    }

    #[test]
    fn file_with_save_lines_include_and_overrides() {
        let dir = std::env::temp_dir().join(format!("kopi-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inc = dir.join("inc.conf");
        std::fs::write(&inc, "maxclients 77\n").unwrap();
        let main = dir.join("main.conf");
        std::fs::write(
            &main,
            format!(
                "# comment\nport 7000\nsave 900 1\nsave 300 10\ninclude {}\nbind 127.0.0.1 ::1\nhash-max-ziplist-entries 100\nlist-max-ziplist-entries 5\n",
                inc.display()
            ),
        )
        .unwrap();
        let main_arg = main.to_str().unwrap();
        let c = Config::from_args(&args(&[main_arg, "--port", "7001", "--save", ""])).unwrap();
        assert_eq!(c.get("port"), "7001");
        assert_eq!(c.get("maxclients"), "77");
        assert_eq!(c.get("bind"), "127.0.0.1 ::1");
        assert_eq!(c.get("hash-max-listpack-entries"), "100");
        assert_eq!(c.get("save"), "");
        let c = Config::from_args(&args(&[main_arg])).unwrap();
        assert_eq!(c.get("save"), "900 1 300 10");
        let c = Config::from_args(&args(&[main_arg, "--save", "60 5"])).unwrap();
        assert_eq!(c.get("save"), "900 1 300 10 60 5");
        let c = Config::from_args(&args(&["--save", "--port", "7002"])).unwrap();
        assert_eq!((c.get("save"), c.get("port")), ("", "7002"));
        let c = Config::from_args(&args(&["--bind", "127.0.0.1 ::1"])).unwrap();
        assert_eq!(c.get("bind"), "127.0.0.1 ::1");

        std::fs::write(&main, "# first\nport abc\n").unwrap();
        let err = Config::from_args(&args(&[main_arg])).unwrap_err();
        assert!(
            err.contains("*** FATAL CONFIG FILE ERROR")
                && err.contains(
                    "at line 2\n>>> 'port abc'\nargument couldn't be parsed into an integer"
                ),
            "{err}"
        );
        std::fs::write(&main, "nosuchdirective 1\n").unwrap();
        let err = Config::from_args(&args(&[main_arg])).unwrap_err();
        assert!(
            err.ends_with("Bad directive or wrong number of arguments"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rewrite_keeps_comments_and_blanks_extra_lines() {
        let dir = std::env::temp_dir().join(format!("kopi-rewrite-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("r.conf");
        std::fs::write(
            &file,
            "# my comment\nport 7000\nsave 900 1\nsave 300 10\nslave-read-only yes\nweird-option 1\n\n\n# end\n",
        )
        .unwrap();
        let mut c = Config {
            file: Some(file.clone()),
            ..Config::default()
        };
        let dir_value = c.get("dir").to_string();
        c.set_param(find_param("port").unwrap(), &args(&["7000"]), true)
            .unwrap();
        c.set_param(find_param("save").unwrap(), &args(&["60", "1"]), false)
            .unwrap();
        c.set_param(find_param("maxmemory").unwrap(), &args(&["2mb"]), false)
            .unwrap();
        c.set_param(
            find_param("replica-read-only").unwrap(),
            &args(&["no"]),
            false,
        )
        .unwrap();
        c.rewrite(false).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            format!(
                "# my comment\nport 7000\nsave 60 1\n\nreplica-read-only no\n# ??? weird-option 1\n\n# end\n\n# Generated by CONFIG REWRITE\ndir {}\nlatency-tracking-info-percentiles 50 99 99.9\nmaxmemory 2mb\n",
                crate::server::repr(dir_value.as_bytes())
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
