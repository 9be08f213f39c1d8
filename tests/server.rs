//! Server commands: COMMAND, INFO, TIME, LASTSAVE, ROLE, SHUTDOWN, DEBUG, SLOWLOG, LATENCY,
//! MEMORY, FUNCTION FLUSH. Expected replies are Redis 7.0.15's, byte for byte, unless a test
//! says otherwise.

mod common;
use common::{Raw, Server};

use std::time::{Duration, Instant};

/// A reply of status lines, as HELP subcommands send them.
fn status_lines(lines: &[&str]) -> String {
    let mut out = format!("*{}\r\n", lines.len());
    for line in lines {
        out.push_str(&format!("+{line}\r\n"));
    }
    out
}

/// The text of a bulk or verbatim reply.
fn bulk_text(reply: &str) -> String {
    let body = &reply[reply.find("\r\n").expect("a bulk reply") + 2..];
    body.strip_suffix("\r\n").unwrap_or(body).to_string()
}

/// One `name:value` field of an INFO text.
fn info_field(info: &str, name: &str) -> Option<String> {
    info.split("\r\n")
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .map(str::to_string)
}

fn info(raw: &mut Raw, section: &str) -> String {
    bulk_text(&raw.cmd(&["INFO", section]))
}

fn debug_server() -> Server {
    Server::start_with(&["--enable-debug-command", "yes"])
}

// ---- COMMAND ----

#[test]
fn command_info_has_redis_seven_shape() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "INFO", "time", "lastsave", "role", "nosuch"]),
        "*4\r\n\
         *10\r\n$4\r\ntime\r\n:1\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@fast\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n\
         *10\r\n$8\r\nlastsave\r\n:1\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@fast\r\n+@dangerous\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n\
         *10\r\n$4\r\nrole\r\n:1\r\n*4\r\n+noscript\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@fast\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n\
         $-1\r\n"
    );
}

#[test]
fn command_info_shows_key_specs_and_subcommands() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "INFO", "MEMORY|USAGE"]),
        "*1\r\n*10\r\n$12\r\nmemory|usage\r\n:-3\r\n*1\r\n+readonly\r\n:2\r\n:2\r\n:1\r\n*2\r\n+@read\r\n+@slow\r\n*0\r\n\
         *1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+RO\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n\
         $9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
    );
    // A container: no flags, only @slow, its subcommands nested.
    let config = raw.cmd(&["COMMAND", "INFO", "config"]);
    assert!(
        config.starts_with(
            "*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n"
        ),
        "{config}"
    );
    assert!(config.contains(
        "*10\r\n$10\r\nconfig|set\r\n:-4\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*2\r\n$24\r\nrequest_policy:all_nodes\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n"
    ));
}

#[test]
fn command_count_list_and_full_listing_agree() {
    let server = Server::start();
    let mut conn = server.conn();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut conn).unwrap();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut conn).unwrap();
    assert_eq!(all.len(), count);
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut conn).unwrap();
    assert_eq!(names.iter().filter(|n| !n.contains('|')).count(), count);
    for expected in [
        "command",
        "command|docs",
        "config|set",
        "info",
        "slowlog|get",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "CONF*"]),
        "*6\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n$11\r\nconfig|help\r\n$16\r\nconfig|resetstat\r\n$14\r\nconfig|rewrite\r\n$10\r\nconfig|set\r\n"
    );
    let admin: Vec<String> = redis::cmd("COMMAND")
        .arg(&["LIST", "FILTERBY", "ACLCAT", "admin"])
        .query(&mut conn)
        .unwrap();
    assert!(admin.contains(&"lastsave".to_string()) && !admin.contains(&"time".to_string()));
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"]),
        "*0\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "MODULE", "m"]),
        "*0\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "foo"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "LIST", "FILTERBY", "OTHER", "x"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn command_docs_maps_names_to_documentation() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "DOCS", "time", "nosuch", "role"]),
        "*4\r\n$4\r\ntime\r\n*8\r\n$7\r\nsummary\r\n$30\r\nReturn the current server time\r\n$5\r\nsince\r\n$5\r\n2.6.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n\
         $4\r\nrole\r\n*8\r\n$7\r\nsummary\r\n$61\r\nReturn the role of the instance in the context of replication\r\n$5\r\nsince\r\n$6\r\n2.8.12\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
    );
    let docs = raw.cmd(&["COMMAND", "DOCS", "debug", "config|get"]);
    assert!(
        docs.contains("$9\r\ndoc_flags\r\n*1\r\n+syscmd\r\n"),
        "{docs}"
    );
    assert!(docs.contains(
        "$7\r\nhistory\r\n*1\r\n*2\r\n$5\r\n7.0.0\r\n$65\r\nAdded the ability to pass multiple pattern parameters in one call\r\n"
    ));
    // Without names: every command (what redis-cli asks for at start-up).
    let mut conn = server.conn();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut conn).unwrap();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").arg("DOCS").query(&mut conn).unwrap();
    assert_eq!(all.len(), 2 * count);
}

#[test]
fn command_getkeys_finds_keys_or_says_why_not() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "MEMORY", "USAGE", "k"]),
        "*1\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYSANDFLAGS", "memory", "usage", "k"]),
        "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n+RO\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "nosuch", "x"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "config", "nosuch"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "time", "x"]),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "memory", "usage"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "GETKEYS", "memory"]),
        "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
}

#[test]
fn command_help_and_unknown_subcommands() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["command", "help"]),
        status_lines(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ])
    );
    assert_eq!(
        raw.cmd(&["COMMAND", "foo"]),
        "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG"]),
        "-ERR wrong number of arguments for 'config' command\r\n"
    );
}

// ---- INFO ----

#[test]
fn info_default_sections_in_redis_order() {
    let server = Server::start();
    let mut raw = server.raw();
    let text = bulk_text(&raw.cmd(&["INFO"]));
    let headers: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(text.ends_with("# Keyspace\r\n"), "{text}");
    assert!(text.contains("\r\n\r\n# Clients\r\nconnected_clients:1\r\n"));
    assert_eq!(
        info_field(&text, "redis_version").as_deref(),
        Some("7.0.15")
    );
    assert_eq!(
        info_field(&text, "kopi_version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(info_field(&text, "tcp_port"), Some(server.port.to_string()));
    assert_eq!(info_field(&text, "role").as_deref(), Some("master"));
    assert_eq!(info_field(&text, "loading").as_deref(), Some("0"));
    assert_eq!(info_field(&text, "aof_enabled").as_deref(), Some("0"));
    assert_eq!(info_field(&text, "mem_allocator").as_deref(), Some("libc"));
    assert_eq!(info_field(&text, "cluster_enabled").as_deref(), Some("0"));
    let used: u64 = info_field(&text, "used_memory").unwrap().parse().unwrap();
    assert!(used > 0);
    let all = bulk_text(&raw.cmd(&["INFO", "everything"]));
    // A command's own call is counted once it has run.
    assert!(
        all.contains("\r\n# Commandstats\r\ncmdstat_info:calls=1,"),
        "{all}"
    );
    assert!(all.contains("\r\n# Latencystats\r\nlatency_percentiles_usec_info:p50="));
    assert_eq!(
        bulk_text(&raw.cmd(&["INFO", "all"])).lines().count(),
        all.lines().count()
    );
}

#[test]
fn info_sections_by_name_any_case_once_each() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["INFO", "nosuch"]), "$0\r\n\r\n");
    let text = bulk_text(&raw.cmd(&["INFO", "KEYSPACE", "cluster", "keyspace"]));
    assert_eq!(text, "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n");
    raw.cmd(&["SET", "a", "1"]);
    raw.cmd(&["SET", "b", "2", "EX", "100"]);
    raw.cmd(&["SELECT", "3"]);
    raw.cmd(&["SET", "c", "3"]);
    let keyspace = info(&mut raw, "keyspace");
    assert!(
        keyspace.starts_with("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl="),
        "{keyspace}"
    );
    assert!(keyspace.ends_with("\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"));
}

#[test]
fn info_counts_commands_errors_and_keyspace_lookups() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", "v"]);
    raw.cmd(&["GET", "k"]);
    raw.cmd(&["GET", "missing"]);
    raw.cmd(&["GET"]);
    raw.cmd(&["NOSUCH"]);
    raw.cmd(&["CONFIG", "SET", "timeout", "x"]);
    let stats = info(&mut raw, "stats");
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("1"));
    assert_eq!(info_field(&stats, "keyspace_misses").as_deref(), Some("1"));
    assert_eq!(
        info_field(&stats, "total_error_replies").as_deref(),
        Some("3")
    );
    // SET, GET, GET and CONFIG SET: refused requests are not processed, and this INFO is
    // counted once it has run.
    assert_eq!(
        info_field(&stats, "total_commands_processed").as_deref(),
        Some("4")
    );
    let commandstats = info(&mut raw, "commandstats");
    let get = info_field(&commandstats, "cmdstat_get").unwrap();
    assert!(get.starts_with("calls=2,usec="), "{get}");
    assert!(get.contains(",usec_per_call="));
    assert!(get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    let set = info_field(&commandstats, "cmdstat_config|set").unwrap();
    assert!(set.ends_with(",rejected_calls=0,failed_calls=1"), "{set}");
    assert_eq!(
        info(&mut raw, "errorstats"),
        "# Errorstats\r\nerrorstat_ERR:count=3\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    let mut second = server.raw();
    assert_eq!(second.cmd(&["PING"]), "+PONG\r\n");
    let stats = info(&mut raw, "stats");
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("0"));
    assert_eq!(
        info_field(&stats, "total_error_replies").as_deref(),
        Some("0")
    );
    assert_eq!(
        info_field(&stats, "total_connections_received").as_deref(),
        Some("1")
    );
    assert_eq!(info(&mut raw, "errorstats"), "# Errorstats\r\n");
    let commandstats = info(&mut raw, "commandstats");
    assert!(!commandstats.contains("cmdstat_get:"), "{commandstats}");
}

#[test]
fn info_counts_expired_keys_and_unsaved_changes() {
    let server = debug_server();
    let mut raw = server.raw();
    let before = info(&mut raw, "persistence");
    let dirty_before: u64 = info_field(&before, "rdb_changes_since_last_save")
        .unwrap()
        .parse()
        .unwrap();
    raw.cmd(&["SET", "gone", "v", "PX", "1"]);
    raw.cmd(&["SET", "kept", "v"]);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(raw.cmd(&["GET", "gone"]), "$-1\r\n");
    let stats = info(&mut raw, "stats");
    assert_eq!(info_field(&stats, "expired_keys").as_deref(), Some("1"));
    let after = info(&mut raw, "persistence");
    let dirty_after: u64 = info_field(&after, "rdb_changes_since_last_save")
        .unwrap()
        .parse()
        .unwrap();
    assert!(dirty_after >= dirty_before + 2, "{before} {after}");
    let lastsave = raw.cmd(&["LASTSAVE"]);
    assert_eq!(
        info_field(&after, "rdb_last_save_time"),
        Some(lastsave[1..lastsave.len() - 2].to_string())
    );
}

// ---- TIME, LASTSAVE, ROLE ----

#[test]
fn time_lastsave_and_role() {
    let server = Server::start();
    let mut conn = server.conn();
    let (seconds, micros): (String, String) = redis::cmd("TIME").query(&mut conn).unwrap();
    let seconds: i64 = seconds.parse().unwrap();
    let micros: i64 = micros.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((seconds - now).abs() <= 2);
    assert!((0..1_000_000).contains(&micros));
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut conn).unwrap();
    assert!(lastsave <= now + 1 && lastsave > now - 60);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["ROLE"]), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    assert_eq!(
        raw.cmd(&["TIME", "x"]),
        "-ERR wrong number of arguments for 'time' command\r\n"
    );
}

// ---- SHUTDOWN ----

#[test]
fn shutdown_checks_its_options() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SHUTDOWN", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "ABORT", "NOW"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    raw.cmd(&["MULTI"]);
    assert_eq!(
        raw.cmd(&["SHUTDOWN"]),
        "-ERR Command not allowed inside a transaction\r\n"
    );
}

#[test]
fn shutdown_stops_the_server_cleanly() {
    let mut server = Server::start();
    let mut raw = server.raw();
    raw.send_cmd(&[b"SHUTDOWN", b"NOSAVE", b"NOW"]);
    assert!(raw.closed(), "the connection closes without a reply");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "kopi did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(server.log_text().contains("User requested shutdown..."));
}

// ---- DEBUG ----

#[test]
fn debug_is_refused_unless_enabled() {
    let server = Server::start();
    let mut raw = server.raw();
    let refusal = "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), refusal);
    let stats = info(&mut raw, "commandstats");
    assert_eq!(
        info_field(&stats, "cmdstat_debug").as_deref(),
        Some("calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0")
    );
    // `local` admits loopback connections.
    let local = Server::start_with(&["--enable-debug-command", "local"]);
    assert_eq!(local.raw().cmd(&["DEBUG", "SLEEP", "0"]), "+OK\r\n");
}

#[test]
fn debug_digest_matches_redis() {
    let server = debug_server();
    let mut raw = server.raw();
    let zeros = "+0000000000000000000000000000000000000000\r\n";
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), zeros);
    let long = "x".repeat(100);
    for args in [
        ["SET", "foo", "bar"],
        ["SET", "n", "12345"],
        ["SET", "small", "100"],
        ["SET", "big", long.as_str()],
    ] {
        raw.cmd(&args);
    }
    raw.cmd(&["SET", "ttl", "v", "EX", "100"]);
    // The digests Redis 7.0.15 computes for the same data.
    assert_eq!(
        raw.cmd(&["DEBUG", "DIGEST"]),
        "+2bc98ba71ff9b95a9513d22002f2a691d7917437\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "DIGEST-VALUE", "foo", "n", "nokey"]),
        format!(
            "*3\r\n+68467c70ae30376e7ce005bcc8827f5ba7fd67dc\r\n+e1cf90774e995ae03de66e8109dc5cb9d9c2dc83\r\n{zeros}"
        )
    );
    raw.cmd(&["SELECT", "3"]);
    raw.cmd(&["SET", "a", "b"]);
    assert_eq!(
        raw.cmd(&["DEBUG", "DIGEST"]),
        "+d9f77e28e94860ffb9c792a5d7e8401181a28229\r\n"
    );
}

#[test]
fn debug_object_populate_and_reload() {
    let server = debug_server();
    let mut raw = server.raw();
    raw.cmd(&["SET", "foo", "bar"]);
    raw.cmd(&["SET", "n", "12345"]);
    let line = raw.cmd(&["DEBUG", "OBJECT", "foo"]);
    assert!(line.starts_with("+Value at:0x"), "{line}");
    assert!(
        line.contains(" refcount:1 encoding:embstr serializedlength:4 lru:"),
        "{line}"
    );
    assert!(line.ends_with(" lru_seconds_idle:0\r\n"), "{line}");
    let line = raw.cmd(&["DEBUG", "OBJECT", "n"]);
    assert!(line.contains(" encoding:int serializedlength:3 "), "{line}");
    assert_eq!(
        raw.cmd(&["DEBUG", "OBJECT", "nokey"]),
        "-ERR no such key\r\n"
    );

    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "key:2"]), "$7\r\nvalue:2\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "2", "pre", "3"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "pre:1"]), "$3\r\nval\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "POPULATE", "2", "pre", "12"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["GET", "pre:1"]),
        "$3\r\nval\r\n",
        "existing keys are kept"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "POPULATE", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );

    let digest = raw.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(raw.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    raw.cmd(&["SET", "gone", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5));
    let keyspace = info(&mut raw, "keyspace");
    assert!(keyspace.contains("db0:keys=8,expires=1,"), "{keyspace}");
    assert_eq!(raw.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST"]), digest);
    let keyspace = info(&mut raw, "keyspace");
    assert!(keyspace.contains("db0:keys=7,expires=0,"), "{keyspace}");
    assert_eq!(
        raw.cmd(&["DEBUG", "RELOAD", "foo"]),
        "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
}

#[test]
fn debug_small_subcommands() {
    let server = debug_server();
    let mut raw = server.raw();
    let started = Instant::now();
    assert_eq!(raw.cmd(&["DEBUG", "SLEEP", "0.05"]), "+OK\r\n");
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        raw.cmd(&["DEBUG", "ERROR", "FOO bar\nbaz"]),
        "-FOO bar baz\r\n"
    );
    assert_eq!(raw.cmd(&["DEBUG", "LOG", "hello log"]), "+OK\r\n");
    assert!(server.log_text().contains("DEBUG LOG: hello log"));
    assert_eq!(
        raw.cmd(&["DEBUG", "PROTOCOL", "bignum"]),
        "$37\r\n1234567999999999999999999999999999999\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "PROTOCOL", "map"]),
        "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "PROTOCOL", "push"]),
        "-ERR RESP2 is not supported by this command\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "foo"]),
        "-ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["DEBUG", "OBJECT"]),
        "-ERR unknown subcommand or wrong number of arguments for 'OBJECT'. Try DEBUG HELP.\r\n"
    );
    assert_eq!(raw.cmd(&["DEBUG", "DIGEST-VALUE"]), "*0\r\n");
    let help = raw.cmd(&["DEBUG", "HELP"]);
    assert!(
        help.contains("+DIGEST-VALUE <key> [<key> ...]\r\n"),
        "{help}"
    );
}

// ---- SLOWLOG ----

#[test]
fn slowlog_records_slow_commands() {
    let server = Server::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SLOWLOG", "RESET"]), "+OK\r\n");
    let long = "y".repeat(200);
    raw.cmd(&["SET", "a", &long]);
    assert_eq!(raw.cmd(&["SLOWLOG", "LEN"]), ":2\r\n");
    let entries = raw.cmd(&["SLOWLOG", "GET"]);
    // Newest first: SLOWLOG LEN, SET, SLOWLOG RESET (logged once it had run).
    assert!(entries.starts_with("*3\r\n*6\r\n:"), "{entries}");
    let set = format!(
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$147\r\n{}... (72 more bytes)\r\n$15\r\n127.0.0.1:",
        "y".repeat(128)
    );
    assert!(entries.contains(&set), "{entries}");
    assert!(entries.contains("*2\r\n$7\r\nSLOWLOG\r\n$3\r\nLEN\r\n$15\r\n127.0.0.1:"));
    let ids: Vec<i64> = entries
        .split("*6\r\n:")
        .skip(1)
        .map(|e| e[..e.find('\r').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] == ids[1] + 1 && ids[1] == ids[2] + 1, "{ids:?}");
    assert!(
        raw.cmd(&["SLOWLOG", "GET", "1"])
            .starts_with("*1\r\n*6\r\n")
    );
    // All five so far: RESET, SET, LEN, GET, GET 1.
    assert!(
        raw.cmd(&["SLOWLOG", "GET", "-1"])
            .starts_with("*5\r\n*6\r\n")
    );
    assert_eq!(
        raw.cmd(&["SLOWLOG", "GET", "-2"]),
        "-ERR count should be greater than or equal to -1\r\n"
    );
    assert_eq!(
        raw.cmd(&["SLOWLOG", "GET", "x"]),
        "-ERR count should be greater than or equal to -1\r\n"
    );
    assert_eq!(
        raw.cmd(&["SLOWLOG", "GET", "1", "2"]),
        "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["SLOWLOG", "foo"]),
        "-ERR unknown subcommand 'foo'. Try SLOWLOG HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["SLOWLOG", "HELP"]),
        status_lines(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ])
    );
}

// ---- LATENCY ----

#[test]
fn latency_monitor_records_spikes_over_the_threshold() {
    let server = debug_server();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["LATENCY", "DOCTOR"]),
        "$288\r\nI'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n\r\n"
    );
    assert_eq!(raw.cmd(&["LATENCY", "LATEST"]), "*0\r\n");
    raw.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "10"]);
    assert_eq!(
        raw.cmd(&["LATENCY", "DOCTOR"]),
        "$196\r\nDave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n\r\n"
    );
    raw.cmd(&["DEBUG", "SLEEP", "0.03"]);
    let mut conn = server.conn();
    let latest: Vec<(String, i64, i64, i64)> = redis::cmd("LATENCY")
        .arg("LATEST")
        .query(&mut conn)
        .unwrap();
    assert_eq!(latest.len(), 1);
    let (event, time, last, max) = &latest[0];
    assert_eq!(event, "command");
    assert!(*time > 0 && *last >= 30 && max >= last, "{latest:?}");
    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg(&["HISTORY", "command"])
        .query(&mut conn)
        .unwrap();
    assert_eq!(history, vec![(*time, *last)]);
    let doctor = bulk_text(&raw.cmd(&["LATENCY", "DOCTOR"]));
    assert!(
        doctor.starts_with("Dave, I have observed latency spikes"),
        "{doctor}"
    );
    assert!(
        doctor.contains("\n\n1. command: 1 latency spikes (average "),
        "{doctor}"
    );
    assert!(doctor.contains("\n\nI have a few advices for you:\n\n- Check your Slow Log"));
    assert_eq!(raw.cmd(&["LATENCY", "HISTORY", "nosuch"]), "*0\r\n");
    assert_eq!(
        raw.cmd(&["LATENCY", "RESET", "COMMAND", "nosuch"]),
        ":1\r\n"
    );
    assert_eq!(raw.cmd(&["LATENCY", "RESET"]), ":0\r\n");
}

#[test]
fn latency_histogram_is_cumulative() {
    let server = Server::start();
    let mut raw = server.raw();
    for _ in 0..3 {
        assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
    }
    let mut conn = server.conn();
    let histogram: Vec<redis::Value> = redis::cmd("LATENCY")
        .arg(&["HISTOGRAM", "ping", "nosuch"])
        .query(&mut conn)
        .unwrap();
    assert_eq!(histogram.len(), 2, "{histogram:?}");
    assert_eq!(histogram[0], redis::Value::BulkString(b"ping".to_vec()));
    let redis::Value::Array(body) = &histogram[1] else {
        panic!("{histogram:?}");
    };
    assert_eq!(body[0], redis::Value::BulkString(b"calls".to_vec()));
    assert_eq!(body[1], redis::Value::Int(3));
    let redis::Value::Array(buckets) = &body[3] else {
        panic!("{body:?}");
    };
    let counts: Vec<i64> = buckets
        .iter()
        .skip(1)
        .step_by(2)
        .map(|v| match v {
            redis::Value::Int(n) => *n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]) && counts.last() == Some(&3));
}

// ---- MEMORY, FUNCTION ----

#[test]
fn memory_usage_and_doctor() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.cmd(&["SET", "k", &"v".repeat(1000)]);
    let usage = raw.cmd(&["MEMORY", "USAGE", "k"]);
    let bytes: i64 = usage[1..usage.len() - 2].parse().unwrap();
    assert!((1001..1200).contains(&bytes), "{usage}");
    assert_eq!(raw.cmd(&["MEMORY", "USAGE", "nokey"]), "$-1\r\n");
    assert_eq!(raw.cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "0"]), usage);
    assert_eq!(
        raw.cmd(&["MEMORY", "USAGE", "k", "SAMPLES"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&["MEMORY", "DOCTOR"]),
        "$268\r\nHi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n\r\n"
    );
    assert_eq!(raw.cmd(&["MEMORY", "PURGE"]), "+OK\r\n");
}

#[test]
fn function_flush_accepts_its_modes() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["FUNCTION", "FLUSH"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["FUNCTION", "FLUSH", "async"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["FUNCTION", "FLUSH", "SYNC"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["FUNCTION", "FLUSH", "foo"]),
        "-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n"
    );
    assert_eq!(
        raw.cmd(&["FUNCTION", "FLUSH", "a", "b"]),
        "-ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.\r\n"
    );
}
