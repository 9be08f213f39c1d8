//! Configuration with `redis.conf` syntax and Redis's parameter names, defaults and checks.
//!
//! Every Redis 7.0 parameter is known here, so an unmodified stock `redis.conf` loads: the
//! ones kopi acts on are marked `IMPLEMENTED`; the others are accepted, shown by CONFIG GET,
//! and reported with one warning line each at start-up. Values are stored in their canonical
//! text (what CONFIG GET prints); the hot ones are mirrored into `Limits` atomics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::protocol::split::split_args;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// An integer within bounds.
    Int(i64, i64),
    /// Bytes, with `k kb m mb g gb` units accepted.
    Memory(i64, i64),
    Enum(&'static [&'static str]),
    Str,
    /// Parsed by a parameter-specific rule (`save`, `bind`, ...).
    Special,
}

/// Parameter flags.
pub const IMPLEMENTED: u8 = 1;
pub const IMMUTABLE: u8 = 2;
pub const PROTECTED: u8 = 4;
/// Takes several arguments on one line (`bind 127.0.0.1 ::1`).
pub const MULTI_ARG: u8 = 8;

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Param {
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
    flags: u8,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        flags,
    }
}

const YES_NO: Kind = Kind::Bool;
const I64: Kind = Kind::Int(i64::MIN, i64::MAX);
const NONNEG: Kind = Kind::Int(0, i64::MAX);
const INT: Kind = Kind::Int(i32::MIN as i64, i32::MAX as i64);
const UINT: Kind = Kind::Int(0, i32::MAX as i64);
const MEM: Kind = Kind::Memory(0, i64::MAX);
const S: Kind = Kind::Str;
const SPECIAL: Kind = Kind::Special;
const IMPL: u8 = IMPLEMENTED;

/// Redis 7.0's parameters, with its defaults.
pub static PARAMS: &[Param] = &[
    p(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        0,
    ),
    p("aclfile", S, "", IMMUTABLE),
    p("acllog-max-len", UINT, "128", 0),
    p("active-defrag-cycle-max", Kind::Int(1, 99), "25", 0),
    p("active-defrag-cycle-min", Kind::Int(1, 99), "1", 0),
    p("active-defrag-ignore-bytes", MEM, "104857600", 0),
    p("active-defrag-max-scan-fields", UINT, "1000", 0),
    p("active-defrag-threshold-lower", Kind::Int(0, 1000), "10", 0),
    p(
        "active-defrag-threshold-upper",
        Kind::Int(0, 1000),
        "100",
        0,
    ),
    p("active-expire-effort", Kind::Int(1, 10), "1", 0),
    p("activedefrag", YES_NO, "no", 0),
    p("activerehashing", YES_NO, "yes", 0),
    p("always-show-logo", YES_NO, "no", IMMUTABLE | IMPL),
    p("aof-disable-auto-gc", YES_NO, "no", 0),
    p("aof-load-truncated", YES_NO, "yes", 0),
    p("aof-rewrite-incremental-fsync", YES_NO, "yes", 0),
    p("aof-timestamp-enabled", YES_NO, "no", 0),
    p("aof-use-rdb-preamble", YES_NO, "yes", 0),
    p("aof_rewrite_cpulist", S, "", IMMUTABLE),
    p("appenddirname", S, "appendonlydir", IMMUTABLE),
    p("appendfilename", S, "appendonly.aof", IMMUTABLE),
    p(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
        0,
    ),
    p("appendonly", YES_NO, "no", 0),
    p("auto-aof-rewrite-min-size", MEM, "67108864", 0),
    p("auto-aof-rewrite-percentage", UINT, "100", 0),
    p("bgsave_cpulist", S, "", IMMUTABLE),
    p("bind-source-addr", S, "", 0),
    p("bind", SPECIAL, "* -::*", MULTI_ARG | IMPL),
    p("bio_cpulist", S, "", IMMUTABLE),
    p("busy-reply-threshold", NONNEG, "5000", 0),
    p(
        "client-output-buffer-limit",
        SPECIAL,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        MULTI_ARG,
    ),
    p(
        "client-query-buffer-limit",
        Kind::Memory(1024 * 1024, i64::MAX),
        "1073741824",
        IMPL,
    ),
    p("cluster-allow-pubsubshard-when-down", YES_NO, "yes", 0),
    p("cluster-allow-reads-when-down", YES_NO, "no", 0),
    p("cluster-allow-replica-migration", YES_NO, "yes", 0),
    p("cluster-announce-bus-port", Kind::Int(0, 65535), "0", 0),
    p("cluster-announce-hostname", S, "", 0),
    p("cluster-announce-ip", S, "", 0),
    p("cluster-announce-port", Kind::Int(0, 65535), "0", 0),
    p("cluster-announce-tls-port", Kind::Int(0, 65535), "0", 0),
    p("cluster-config-file", S, "nodes.conf", IMMUTABLE),
    p("cluster-enabled", YES_NO, "no", IMMUTABLE),
    p("cluster-link-sendbuf-limit", MEM, "0", 0),
    p("cluster-migration-barrier", UINT, "1", 0),
    p("cluster-node-timeout", NONNEG, "15000", 0),
    p("cluster-port", Kind::Int(0, 65535), "0", IMMUTABLE),
    p(
        "cluster-preferred-endpoint-type",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
        0,
    ),
    alias(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        YES_NO,
        "no",
        0,
    ),
    p("cluster-require-full-coverage", YES_NO, "yes", 0),
    alias(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        UINT,
        "10",
        0,
    ),
    p("crash-log-enabled", YES_NO, "yes", 0),
    p("crash-memcheck-enabled", YES_NO, "yes", 0),
    p("daemonize", YES_NO, "no", IMMUTABLE),
    p(
        "databases",
        Kind::Int(1, i32::MAX as i64),
        "16",
        IMMUTABLE | IMPL,
    ),
    p("dbfilename", S, "dump.rdb", PROTECTED),
    p("dir", SPECIAL, "", PROTECTED | IMPL),
    p("disable-thp", YES_NO, "yes", IMMUTABLE),
    p("dynamic-hz", YES_NO, "yes", 0),
    p(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        IMMUTABLE | IMPL,
    ),
    p(
        "enable-module-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        IMMUTABLE,
    ),
    p(
        "enable-protected-configs",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        IMMUTABLE | IMPL,
    ),
    alias(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        MEM,
        "512",
        0,
    ),
    alias(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        MEM,
        "64",
        0,
    ),
    p("hll-sparse-max-bytes", MEM, "3000", 0),
    p("hz", INT, "10", IMPL),
    p("ignore-warnings", S, "", 0),
    p("io-threads-do-reads", YES_NO, "no", IMMUTABLE),
    p("io-threads", Kind::Int(1, 128), "1", IMMUTABLE | IMPL),
    p("jemalloc-bg-thread", YES_NO, "yes", 0),
    p("latency-monitor-threshold", NONNEG, "0", IMPL),
    p(
        "latency-tracking-info-percentiles",
        SPECIAL,
        "50 99 99.9",
        MULTI_ARG,
    ),
    p("latency-tracking", YES_NO, "yes", 0),
    p("lazyfree-lazy-eviction", YES_NO, "no", 0),
    p("lazyfree-lazy-expire", YES_NO, "no", 0),
    p("lazyfree-lazy-server-del", YES_NO, "no", 0),
    p("lazyfree-lazy-user-del", YES_NO, "no", 0),
    p("lazyfree-lazy-user-flush", YES_NO, "no", 0),
    p("lfu-decay-time", UINT, "1", 0),
    p("lfu-log-factor", UINT, "10", 0),
    p("list-compress-depth", UINT, "0", 0),
    alias(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        INT,
        "-2",
        0,
    ),
    p("logfile", S, "", IMMUTABLE | IMPL),
    p(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
        IMPL,
    ),
    p("lua-time-limit", NONNEG, "5000", 0),
    p("masterauth", S, "", 0),
    p("masteruser", S, "", 0),
    p("maxclients", Kind::Int(1, i32::MAX as i64), "10000", IMPL),
    p("maxmemory-clients", MEM, "0", 0),
    p("maxmemory-eviction-tenacity", Kind::Int(0, 100), "10", 0),
    p(
        "maxmemory-policy",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "noeviction",
        0,
    ),
    p("maxmemory-samples", Kind::Int(1, 64), "5", 0),
    p("maxmemory", MEM, "0", 0),
    alias("min-replicas-max-lag", "min-slaves-max-lag", UINT, "10", 0),
    alias("min-replicas-to-write", "min-slaves-to-write", UINT, "0", 0),
    p("no-appendfsync-on-rewrite", YES_NO, "no", 0),
    p("notify-keyspace-events", SPECIAL, "", 0),
    p("oom-score-adj-values", SPECIAL, "0 200 800", MULTI_ARG),
    p(
        "oom-score-adj",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        "no",
        0,
    ),
    p("pidfile", S, "", IMMUTABLE | IMPL),
    p("port", Kind::Int(0, 65535), "6379", IMPL),
    p(
        "proc-title-template",
        S,
        "{title} {listen-addr} {server-mode}",
        0,
    ),
    p(
        "propagation-error-behavior",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
        0,
    ),
    p("protected-mode", YES_NO, "yes", IMPL),
    p(
        "proto-max-bulk-len",
        Kind::Memory(1024 * 1024, i64::MAX),
        "536870912",
        IMPL,
    ),
    p("rdb-del-sync-files", YES_NO, "no", 0),
    p("rdb-save-incremental-fsync", YES_NO, "yes", 0),
    p("rdbchecksum", YES_NO, "yes", IMMUTABLE),
    p("rdbcompression", YES_NO, "yes", 0),
    p("repl-backlog-size", MEM, "1048576", 0),
    p("repl-backlog-ttl", NONNEG, "3600", 0),
    p("repl-disable-tcp-nodelay", YES_NO, "no", 0),
    p(
        "repl-diskless-load",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
        0,
    ),
    p("repl-diskless-sync-delay", UINT, "5", 0),
    p("repl-diskless-sync-max-replicas", UINT, "0", 0),
    p("repl-diskless-sync", YES_NO, "yes", 0),
    alias(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        Kind::Int(1, i32::MAX as i64),
        "10",
        0,
    ),
    p("repl-timeout", Kind::Int(1, i32::MAX as i64), "60", 0),
    alias("replica-announce-ip", "slave-announce-ip", S, "", 0),
    alias(
        "replica-announce-port",
        "slave-announce-port",
        Kind::Int(0, 65535),
        "0",
        0,
    ),
    p("replica-announced", YES_NO, "yes", 0),
    p("replica-ignore-disk-write-errors", YES_NO, "no", 0),
    alias(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        YES_NO,
        "yes",
        0,
    ),
    alias("replica-lazy-flush", "slave-lazy-flush", YES_NO, "no", 0),
    alias("replica-priority", "slave-priority", UINT, "100", 0),
    alias("replica-read-only", "slave-read-only", YES_NO, "yes", 0),
    alias(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        YES_NO,
        "yes",
        0,
    ),
    alias("replicaof", "slaveof", SPECIAL, "", MULTI_ARG),
    p("requirepass", S, "", IMPL),
    p(
        "sanitize-dump-payload",
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
        0,
    ),
    p("save", SPECIAL, "3600 1 300 100 60 10000", MULTI_ARG),
    p("server_cpulist", S, "", IMMUTABLE),
    p("set-max-intset-entries", MEM, "512", 0),
    p("set-proc-title", YES_NO, "yes", IMMUTABLE),
    p("shutdown-on-sigint", SPECIAL, "default", MULTI_ARG),
    p("shutdown-on-sigterm", SPECIAL, "default", MULTI_ARG),
    p("shutdown-timeout", NONNEG, "10", 0),
    p("slowlog-log-slower-than", I64, "10000", IMPL),
    p("slowlog-max-len", Kind::Int(0, i64::MAX), "128", IMPL),
    p("socket-mark-id", NONNEG, "0", 0),
    p("stop-writes-on-bgsave-error", YES_NO, "yes", 0),
    p("stream-node-max-bytes", MEM, "4096", 0),
    p("stream-node-max-entries", NONNEG, "100", 0),
    p(
        "supervised",
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
        "no",
        IMMUTABLE,
    ),
    p("syslog-enabled", YES_NO, "no", IMMUTABLE),
    p(
        "syslog-facility",
        Kind::Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        "local0",
        IMMUTABLE,
    ),
    p("syslog-ident", S, "redis", IMMUTABLE),
    p("tcp-backlog", NONNEG, "511", IMMUTABLE | IMPL),
    p("tcp-keepalive", NONNEG, "300", IMPL),
    p("timeout", NONNEG, "0", IMPL),
    p(
        "tls-auth-clients",
        Kind::Enum(&["no", "yes", "optional"]),
        "yes",
        0,
    ),
    p("tls-ca-cert-dir", S, "", 0),
    p("tls-ca-cert-file", S, "", 0),
    p("tls-cert-file", S, "", 0),
    p("tls-ciphers", S, "", 0),
    p("tls-ciphersuites", S, "", 0),
    p("tls-client-cert-file", S, "", 0),
    p("tls-client-key-file-pass", S, "", 0),
    p("tls-client-key-file", S, "", 0),
    p("tls-cluster", YES_NO, "no", 0),
    p("tls-dh-params-file", S, "", 0),
    p("tls-key-file-pass", S, "", 0),
    p("tls-key-file", S, "", 0),
    p("tls-port", Kind::Int(0, 65535), "0", 0),
    p("tls-prefer-server-ciphers", YES_NO, "no", 0),
    p("tls-protocols", S, "", 0),
    p("tls-replication", YES_NO, "no", 0),
    p("tls-session-cache-size", NONNEG, "20480", 0),
    p("tls-session-cache-timeout", NONNEG, "300", 0),
    p("tls-session-caching", YES_NO, "yes", 0),
    p("tracking-table-max-keys", NONNEG, "1000000", 0),
    p("unixsocket", S, "", IMMUTABLE | IMPL),
    p("unixsocketperm", SPECIAL, "0", IMMUTABLE | IMPL),
    alias(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        MEM,
        "128",
        0,
    ),
    alias(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        MEM,
        "64",
        0,
    ),
];

/// Directives that are not parameters but are valid in a Redis config file.
const FILE_ONLY_DIRECTIVES: &[&str] = &[
    "include",
    "rename-command",
    "user",
    "loadmodule",
    "sentinel",
];

pub fn find_param(name: &str) -> Option<&'static Param> {
    let lower = name.to_ascii_lowercase();
    PARAMS
        .iter()
        .find(|p| p.name == lower || p.alias == Some(lower.as_str()))
}

/// A configuration error with Redis's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// The config file (absolute), for CONFIG REWRITE and INFO.
    pub file: Option<PathBuf>,
    /// Names given in the file or on the command line, in order (for warnings).
    pub given: Vec<&'static str>,
}

impl Default for Config {
    fn default() -> Self {
        let mut values = BTreeMap::new();
        for param in PARAMS {
            values.insert(param.name, param.default.to_string());
        }
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        values.insert("dir", cwd);
        Config {
            values,
            file: None,
            given: Vec::new(),
        }
    }
}

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

    /// Every (name, value) whose name or alias matches `pattern`, as CONFIG GET lists them.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for param in PARAMS {
            let value = &self.values[param.name];
            for name in std::iter::once(param.name).chain(param.alias) {
                if crate::util::glob_match(pattern, name.as_bytes(), true) {
                    out.push((name, value.clone()));
                }
            }
        }
        out
    }

    /// Sets `name` from its arguments, checking the value as Redis does. `from_file` decides
    /// the `save` accumulation rule (lines add; CONFIG SET replaces).
    pub fn set(
        &mut self,
        name: &str,
        args: &[String],
        from_file: bool,
    ) -> Result<&'static Param, ConfigError> {
        let param = find_param(name)
            .ok_or_else(|| ConfigError("Bad directive or wrong number of arguments".into()))?;
        if param.flags & MULTI_ARG == 0 && args.len() != 1 {
            return Err(ConfigError("wrong number of arguments".into()));
        }
        let value = canonical(param, args)?;
        if param.name == "save" && from_file && self.given.contains(&"save") && !value.is_empty() {
            let old = self.values["save"].clone();
            let joined = if old.is_empty() {
                value
            } else {
                format!("{old} {value}")
            };
            self.values.insert("save", joined);
        } else {
            self.values.insert(param.name, value);
        }
        self.given.push(param.name);
        Ok(param)
    }

    /// Reads a config file's text (`include` resolved relative to the working directory, as
    /// Redis does). Errors name the line.
    pub fn load_text(&mut self, text: &str, origin: &str, depth: usize) -> Result<(), String> {
        for (index, raw_line) in text.lines().enumerate() {
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |reason: &str| {
                format!(
                    "\n*** FATAL CONFIG FILE ERROR (kopi {}) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}\n({origin})",
                    env!("CARGO_PKG_VERSION"),
                    index + 1,
                    line,
                    reason
                )
            };
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
            let name = words[0].to_ascii_lowercase();
            let args = &words[1..];
            if name == "include" {
                if args.len() != 1 {
                    return Err(fail("Bad directive or wrong number of arguments"));
                }
                if depth > 16 {
                    return Err(fail("include nesting too deep"));
                }
                let included = std::fs::read_to_string(&args[0])
                    .map_err(|e| fail(&format!("Can't open include file '{}': {e}", args[0])))?;
                self.load_text(&included, &args[0], depth + 1)?;
                continue;
            }
            if FILE_ONLY_DIRECTIVES.contains(&name.as_str()) {
                crate::server::log::warning(&format!(
                    "config: directive '{name}' is not supported by kopi yet and is ignored"
                ));
                continue;
            }
            if args.is_empty() {
                return Err(fail("Bad directive or wrong number of arguments"));
            }
            self.set(&name, args, true).map_err(|e| fail(&e.0))?;
        }
        Ok(())
    }

    /// The `redis-server` command line: `[configfile] [--name value ...]`; options after the
    /// file override it. Returns the file path read, if any.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut config = Config::default();
        let mut rest = args;
        if let Some(first) = args.first()
            && !first.starts_with("--")
        {
            let text = if first == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| e.to_string())?;
                s
            } else {
                let path = Path::new(first);
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("Fatal error, can't open config file '{first}': {e}"))?;
                config.file =
                    Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
                text
            };
            config.load_text(&text, first, 0)?;
            rest = &args[1..];
        }
        // Options become config lines: `--port 6380 --save "" --bind a b` → lines.
        let mut lines = String::new();
        for arg in rest {
            if let Some(name) = arg.strip_prefix("--") {
                if !lines.is_empty() {
                    lines.push('\n');
                }
                lines.push_str(name);
            } else {
                lines.push(' ');
                lines.push_str(&quote(arg));
            }
        }
        config.load_text(&lines, "command line", 0)?;
        Ok(config)
    }

    /// CONFIG REWRITE: keeps the file's comments and layout, rewrites the lines of parameters
    /// whose value differs from the file, appends the others that differ from the default.
    pub fn rewrite(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("ERR The server is running without a config file".into());
        };
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let mut out = String::new();
        let mut done: Vec<&'static str> = Vec::new();
        for line in old.lines() {
            let trimmed = line.trim();
            let words = if trimmed.starts_with('#') {
                None
            } else {
                split_args(trimmed.as_bytes())
            };
            let param = words
                .as_ref()
                .and_then(|w| w.first())
                .and_then(|n| find_param(&String::from_utf8_lossy(n)));
            match param {
                Some(param) => {
                    if done.contains(&param.name) {
                        continue;
                    }
                    done.push(param.name);
                    let value = &self.values[param.name];
                    let _ = writeln!(out, "{}", rewrite_line(param, value));
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        let mut header_written = false;
        for param in PARAMS {
            let value = &self.values[param.name];
            if done.contains(&param.name)
                || value == param.default
                || param.name == "dir" && self.file.is_none()
            {
                continue;
            }
            if param.name == "dir" && !self.given.contains(&"dir") {
                continue;
            }
            if !header_written {
                out.push_str("# Generated by CONFIG REWRITE\n");
                header_written = true;
            }
            let _ = writeln!(out, "{}", rewrite_line(param, value));
        }
        crate::server::fs::write_atomically(path, out.as_bytes())
            .map_err(|e| format!("ERR Rewriting config file: {e}"))
    }
}

fn rewrite_line(param: &Param, value: &str) -> String {
    if param.flags & MULTI_ARG != 0 {
        if value.is_empty() {
            return format!("{} \"\"", param.name);
        }
        if param.name == "save" {
            let words: Vec<&str> = value.split(' ').collect();
            return words
                .chunks(2)
                .map(|pair| format!("save {}", pair.join(" ")))
                .collect::<Vec<_>>()
                .join("\n");
        }
        return format!("{} {}", param.name, value);
    }
    format!("{} {}", param.name, quote(value))
}

/// Quotes a value for a config line when it needs it.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && !value.bytes().any(|b| {
            b.is_ascii_whitespace()
                || b == b'"'
                || b == b'\''
                || b == b'\\'
                || !(0x20..0x7f).contains(&b)
        })
    {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for b in value.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// Redis's `memtoull`: a number with an optional `b k kb m mb g gb` unit.
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let multiplier: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: i64 = crate::util::parse_i64(number.as_bytes())?;
    n.checked_mul(multiplier)
}

/// The canonical text of a value, or Redis's reason for refusing it.
fn canonical(param: &Param, args: &[String]) -> Result<String, ConfigError> {
    let err = |s: &str| Err(ConfigError(s.to_string()));
    let value = args.first().map(String::as_str).unwrap_or("");
    match param.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => err("argument must be 'yes' or 'no'"),
        },
        Kind::Int(min, max) => {
            let Some(n) = crate::util::parse_i64(value.as_bytes()).or_else(|| {
                // Redis accepts memory units on numeric parameters too.
                parse_memory(value)
            }) else {
                return err("argument couldn't be parsed into an integer");
            };
            if n < min || n > max {
                return err(&format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Memory(min, max) => {
            let Some(n) = parse_memory(value) else {
                return err("argument must be a memory value");
            };
            if n < min || n > max {
                return err(&format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Enum(names) => {
            let lower = value.to_ascii_lowercase();
            match names.iter().find(|n| **n == lower) {
                Some(n) => Ok(n.to_string()),
                None => err(&format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )),
            }
        }
        Kind::Str => Ok(value.to_string()),
        Kind::Special => special(param.name, args),
    }
}

fn special(name: &str, args: &[String]) -> Result<String, ConfigError> {
    let err = |s: &str| Err(ConfigError(s.to_string()));
    // CONFIG SET passes multi-argument values as one string.
    let words: Vec<String> = if args.len() == 1 {
        args[0].split_whitespace().map(str::to_string).collect()
    } else {
        args.to_vec()
    };
    match name {
        "save" => {
            if words.is_empty() || words.len() == 1 && words[0].is_empty() {
                return Ok(String::new());
            }
            if words.len() % 2 != 0 {
                return err("Invalid save parameters");
            }
            for w in &words {
                match crate::util::parse_i64(w.as_bytes()) {
                    Some(n) if n >= 0 => {}
                    _ => return err("Invalid save parameters"),
                }
            }
            Ok(words.join(" "))
        }
        "bind" => {
            if words.is_empty() {
                return err("Too many bind addresses specified.");
            }
            if words.len() > 16 {
                return err("Too many bind addresses specified.");
            }
            Ok(words.join(" "))
        }
        "dir" => {
            let dir = args.first().cloned().unwrap_or_default();
            std::env::set_current_dir(&dir).map_err(|e| ConfigError(e.to_string()))?;
            Ok(std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or(dir))
        }
        "unixsocketperm" => {
            let v = args.first().cloned().unwrap_or_default();
            match i64::from_str_radix(&v, 8) {
                Ok(n) if (0..=0o777).contains(&n) => Ok(format!("{n:o}")),
                _ => err("Invalid socket file permissions"),
            }
        }
        "client-output-buffer-limit" => {
            if words.len() % 4 != 0 {
                return err("Wrong number of arguments in buffer limit configuration.");
            }
            Ok(words.join(" "))
        }
        "notify-keyspace-events" => {
            let v = args.first().cloned().unwrap_or_default();
            if v.chars().all(|c| "gs$lzxeKEtmdnA".contains(c)) {
                Ok(v)
            } else {
                err("Invalid event class character. Use 'Ag$lshzxeKEtmd'.")
            }
        }
        "replicaof" => {
            if words.len() != 2 {
                return err("wrong number of arguments");
            }
            Ok(words.join(" "))
        }
        _ => Ok(words.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn units_and_checks() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 * 1024 * 1024 * 1024));
        let mut c = Config::default();
        assert_eq!(
            c.set("maxmemory", &args(&["100mb"]), false).map(|p| p.name),
            Ok("maxmemory")
        );
        assert_eq!(c.get("maxmemory"), "104857600");
        assert_eq!(
            c.set("port", &args(&["abc"]), false).unwrap_err().0,
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            c.set("appendonly", &args(&["maybe"]), false).unwrap_err().0,
            "argument must be 'yes' or 'no'"
        );
        assert!(c.set("appendfsync", &args(&["sometimes"]), false).is_err());
    }

    #[test]
    fn file_with_save_lines_include_and_overrides() {
        let dir = std::env::temp_dir().join(format!("kopi-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inc = dir.join("inc.conf");
        std::fs::write(&inc, "maxclients 77\n").unwrap();
        let main = dir.join("main.conf");
        std::fs::write(&main, format!("# comment\nport 7000\nsave 900 1\nsave 300 10\ninclude {}\nbind 127.0.0.1 ::1\nhash-max-ziplist-entries 100\n", inc.display())).unwrap();
        let c = Config::from_args(&args(&[
            main.to_str().unwrap(),
            "--port",
            "7001",
            "--save",
            "",
        ]))
        .unwrap();
        assert_eq!(c.get("port"), "7001");
        assert_eq!(c.get("maxclients"), "77");
        assert_eq!(c.get("bind"), "127.0.0.1 ::1");
        assert_eq!(c.get("hash-max-listpack-entries"), "100");
        assert_eq!(c.get("save"), "");
        let c = Config::from_args(&args(&[main.to_str().unwrap()])).unwrap();
        assert_eq!(c.get("save"), "900 1 300 10");
        std::fs::write(&main, "port abc\n").unwrap();
        let err = Config::from_args(&args(&[main.to_str().unwrap()])).unwrap_err();
        assert!(
            err.contains("at line 1") && err.contains("couldn't be parsed into an integer"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
