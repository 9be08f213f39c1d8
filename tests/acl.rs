//! ACL: users, permissions, the ACL log, the ACL file; and the same command sequences sent to
//! kopi and to a real `redis-server` 7.0, replies compared byte for byte.
//!
//! Where Redis's reply is inherently different the comparison is narrowed and says how:
//! GENPASS's random digits, ACL LOG's `age-seconds` and `client-info`, and the order of
//! single-command rules in a description (Redis walks a hash table).
//!
//! `redis-server` missing from PATH: the differential tests are skipped with a loud message,
//! or fail when `CI` is set.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Raw, RedisServer, Server, fresh_dir, require_program};

fn cmd(raw: &mut Raw, args: &[&str]) -> String {
    raw.cmd(args)
}

fn ok(raw: &mut Raw, args: &[&str]) {
    assert_eq!(cmd(raw, args), "+OK\r\n", "{args:?}");
}

// ---- kopi on its own ----

#[test]
fn commands_and_categories_are_allowed_or_refused() {
    let server = Server::start();
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "reader", "on", ">pw", "~*", "-@all", "+@read", "-strlen",
        ],
    );
    let mut c = server.raw();
    ok(&mut c, &["AUTH", "reader", "pw"]);
    assert_eq!(cmd(&mut c, &["GET", "k"]), "$-1\r\n");
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v"]),
        "-NOPERM this user has no permissions to run the 'set' command\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["STRLEN", "k"]),
        "-NOPERM this user has no permissions to run the 'strlen' command\r\n"
    );
    // A subcommand allowed on its own.
    ok(&mut admin, &["ACL", "SETUSER", "reader", "+config|get"]);
    assert!(cmd(&mut c, &["CONFIG", "GET", "port"]).starts_with("*2\r\n"));
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "port", "1"]),
        "-NOPERM this user has no permissions to run the 'config|set' command\r\n"
    );
    // A first argument allowed on an otherwise refused command.
    ok(&mut admin, &["ACL", "SETUSER", "reader", "+select|0"]);
    ok(&mut c, &["SELECT", "0"]);
    assert_eq!(
        cmd(&mut c, &["SELECT", "1"]),
        "-NOPERM this user has no permissions to run the 'select' command\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["ACL", "WHOAMI"]),
        "-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
    );
}

#[test]
fn key_patterns_separate_reads_from_writes() {
    let server = Server::start();
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "u",
            "on",
            "nopass",
            "+@all",
            "%R~read:*",
            "%W~write:*",
            "~both:*",
        ],
    );
    let mut c = server.raw();
    ok(&mut c, &["AUTH", "u", "anything"]);
    let denied =
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    assert_eq!(cmd(&mut c, &["GET", "read:1"]), "$-1\r\n");
    assert_eq!(cmd(&mut c, &["SET", "read:1", "v"]), denied);
    ok(&mut c, &["SET", "write:1", "v"]);
    assert_eq!(cmd(&mut c, &["GET", "write:1"]), denied);
    ok(&mut c, &["SET", "both:1", "v"]);
    assert_eq!(cmd(&mut c, &["GET", "both:1"]), "$1\r\nv\r\n");
    // COPY reads its source and writes its destination.
    assert_eq!(cmd(&mut c, &["COPY", "read:1", "write:2"]), ":0\r\n");
    assert_eq!(cmd(&mut c, &["COPY", "write:1", "read:2"]), denied);
    assert_eq!(cmd(&mut c, &["GET", "other"]), denied);
    // DRYRUN tells which key, without running anything.
    assert_eq!(
        cmd(&mut admin, &["ACL", "DRYRUN", "u", "SET", "read:1", "x"]),
        "$55\r\nThis user has no permissions to access the 'read:1' key\r\n"
    );
    ok(&mut admin, &["ACL", "DRYRUN", "u", "SET", "write:1", "x"]);
}

#[test]
fn disabled_users_and_wrong_passwords_are_refused() {
    let server = Server::start();
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "bob", "on", ">secret", "+@all", "~*"],
    );
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["AUTH", "bob", "nope"]), wrongpass);
    assert_eq!(cmd(&mut c, &["AUTH", "nobody", "secret"]), wrongpass);
    assert_eq!(
        cmd(&mut c, &["HELLO", "3", "AUTH", "bob", "nope"]),
        wrongpass
    );
    ok(&mut c, &["AUTH", "bob", "secret"]);
    ok(&mut admin, &["ACL", "SETUSER", "bob", "off"]);
    // Connections already authenticated keep working; new logins are refused.
    assert_eq!(cmd(&mut c, &["ACL", "WHOAMI"]), "$3\r\nbob\r\n");
    let mut d = server.raw();
    assert_eq!(cmd(&mut d, &["AUTH", "bob", "secret"]), wrongpass);
    // The CLIENT LIST line names the user.
    let list = cmd(&mut admin, &["CLIENT", "LIST"]);
    assert!(list.contains(" user=bob "), "{list}");
    // Removing a password by hash; `#` with a bad hash is refused.
    let hash = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
    ok(
        &mut admin,
        &["ACL", "SETUSER", "bob", "on", &format!("#{hash}")],
    );
    ok(&mut d, &["AUTH", "bob", "secret"]);
    ok(&mut admin, &["ACL", "SETUSER", "bob", &format!("!{hash}")]);
    let mut e = server.raw();
    assert_eq!(cmd(&mut e, &["AUTH", "bob", "secret"]), wrongpass);
}

#[test]
fn the_acl_log_records_denials_and_failed_logins() {
    let server = Server::start();
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", ">pw", "~k*", "+get"],
    );
    let mut c = server.raw();
    ok(&mut c, &["AUTH", "u", "pw"]);
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["GET", "other"]);
    cmd(&mut c, &["GET", "other"]);
    cmd(&mut c, &["AUTH", "u", "bad"]);
    let mut conn = server.conn();
    let log: Vec<Vec<redis::Value>> = redis::cmd("ACL").arg("LOG").query(&mut conn).unwrap();
    assert_eq!(log.len(), 3);
    let field = |entry: &[redis::Value], name: &str| -> String {
        let at = entry
            .iter()
            .position(|v| matches!(v, redis::Value::BulkString(b) if b == name.as_bytes()))
            .unwrap();
        match &entry[at + 1] {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            redis::Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    };
    // Newest first; the two refusals of the same key are one entry counted twice.
    assert_eq!(field(&log[0], "reason"), "auth");
    assert_eq!(field(&log[0], "object"), "AUTH");
    assert_eq!(field(&log[1], "reason"), "key");
    assert_eq!(field(&log[1], "object"), "other");
    assert_eq!(field(&log[1], "count"), "2");
    assert_eq!(field(&log[2], "reason"), "command");
    assert_eq!(field(&log[2], "object"), "set");
    assert_eq!(field(&log[2], "username"), "u");
    assert_eq!(field(&log[2], "context"), "toplevel");
    assert!(field(&log[2], "client-info").contains(" user=u "));
    assert_eq!(
        cmd(&mut admin, &["ACL", "LOG", "1"])
            .matches("count")
            .count(),
        1
    );
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    assert_eq!(cmd(&mut admin, &["ACL", "LOG"]), "*0\r\n");
    // acllog-max-len bounds it.
    ok(&mut admin, &["CONFIG", "SET", "acllog-max-len", "1"]);
    cmd(&mut c, &["SET", "k", "v"]);
    cmd(&mut c, &["DEL", "k"]);
    assert!(cmd(&mut admin, &["ACL", "LOG"]).starts_with("*1\r\n"));
}

#[test]
fn transactions_are_checked_when_queued_and_at_exec() {
    let server = Server::start();
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", "nopass", "~*", "+@all"],
    );
    let mut c = server.raw();
    ok(&mut c, &["AUTH", "u", "x"]);
    ok(&mut c, &["MULTI"]);
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(cmd(&mut c, &["GET", "k"]), "+QUEUED\r\n");
    ok(&mut admin, &["ACL", "SETUSER", "u", "-set"]);
    assert_eq!(
        cmd(&mut c, &["EXEC"]),
        "*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n$-1\r\n"
    );
    ok(&mut c, &["MULTI"]);
    assert_eq!(
        cmd(&mut c, &["SET", "k", "v"]),
        "-NOPERM this user has no permissions to run the 'set' command\r\n"
    );
    assert_eq!(
        cmd(&mut c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let log = cmd(&mut admin, &["ACL", "LOG"]);
    assert!(log.contains("$7\r\ncontext\r\n$5\r\nmulti\r\n"), "{log}");
}

#[test]
fn requirepass_is_the_default_users_password() {
    let server = Server::start_with(&["--requirepass", "pw1"]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    ok(&mut c, &["AUTH", "pw1"]);
    let list = cmd(&mut c, &["ACL", "LIST"]);
    assert!(list.contains("user default on #"), "{list}");
    ok(&mut c, &["CONFIG", "SET", "requirepass", "pw2"]);
    let mut d = server.raw();
    assert_eq!(
        cmd(&mut d, &["AUTH", "pw1"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    ok(&mut d, &["AUTH", "default", "pw2"]);
    ok(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let mut e = server.raw();
    assert_eq!(cmd(&mut e, &["GET", "k"]), "$-1\r\n");
    // The default user turned off: every new connection must authenticate as someone else.
    ok(
        &mut e,
        &["ACL", "SETUSER", "admin", "on", ">a", "+@all", "~*"],
    );
    ok(&mut e, &["ACL", "SETUSER", "default", "off"]);
    let mut f = server.raw();
    assert_eq!(
        cmd(&mut f, &["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    ok(&mut f, &["AUTH", "admin", "a"]);
}

#[test]
fn deleted_users_lose_their_connections() {
    let server = Server::start();
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "gone", "on", "nopass", "+@all", "~*"],
    );
    let mut c = server.raw();
    ok(&mut c, &["AUTH", "gone", "x"]);
    cmd(&mut c, &["PING"]);
    // CLIENT KILL USER knows the users.
    assert_eq!(
        cmd(&mut admin, &["CLIENT", "KILL", "USER", "nobody"]),
        "-ERR No such user 'nobody'\r\n"
    );
    assert_eq!(
        cmd(&mut admin, &["ACL", "DELUSER", "default"]),
        "-ERR The 'default' user cannot be removed\r\n"
    );
    assert_eq!(
        cmd(&mut admin, &["ACL", "DELUSER", "gone", "never"]),
        ":1\r\n"
    );
    assert!(c.closed());
    // A user deleting itself gets its reply, then the connection closes.
    ok(
        &mut admin,
        &["ACL", "SETUSER", "self", "on", "nopass", "+@all", "~*"],
    );
    let mut s = server.raw();
    ok(&mut s, &["AUTH", "self", "x"]);
    assert_eq!(cmd(&mut s, &["ACL", "DELUSER", "self"]), ":1\r\n");
    assert!(s.closed());
}

#[test]
fn acl_save_restart_and_load_round_trip() {
    let dir = fresh_dir();
    let aclfile = dir.join("users.acl");
    std::fs::write(&aclfile, "").unwrap();
    let path = aclfile.display().to_string();
    let server = Server::start_in(&dir, &["--aclfile", &path]);
    let mut c = server.raw();
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">pw",
            "~cache:*",
            "-@all",
            "+get",
            "(~x +set)",
        ],
    );
    let before = cmd(&mut c, &["ACL", "LIST"]);
    ok(&mut c, &["ACL", "SAVE"]);
    let mode = std::fs::metadata(&aclfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&aclfile).unwrap();
    assert!(text.starts_with("user alice on #"), "{text}");
    assert!(
        text.ends_with("user default on nopass ~* &* +@all\n"),
        "{text}"
    );
    drop(c);
    drop(server);

    let server = Server::start_in(&dir, &["--aclfile", &path]);
    let mut c = server.raw();
    assert_eq!(cmd(&mut c, &["ACL", "LIST"]), before);
    let mut alice = server.raw();
    ok(&mut alice, &["AUTH", "alice", "pw"]);
    // A broken file changes nothing.
    std::fs::write(&aclfile, "user bob on +nosuchcommand\n").unwrap();
    assert_eq!(
        cmd(&mut c, &["ACL", "LOAD"]),
        format!(
            "-ERR {path}:1: Error in applying operation '+nosuchcommand': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n"
        )
    );
    assert_eq!(cmd(&mut c, &["ACL", "LIST"]), before);
    // A good one replaces every user, and closes the connections of all but `default`.
    std::fs::write(&aclfile, "user carol on nopass ~* +@all\n").unwrap();
    ok(&mut c, &["ACL", "LOAD"]);
    assert!(alice.closed());
    assert_eq!(
        cmd(&mut c, &["ACL", "USERS"]),
        "*2\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n"
    );
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn users_from_the_config_file() {
    let dir = fresh_dir();
    let conf = dir.join("kopi.conf");
    std::fs::write(
        &conf,
        "user alice on >pw ~* +@all\nuser default on nopass ~* &* -@all +ping +auth\n",
    )
    .unwrap();
    let server = Server::start_in(&dir, &["--include", &conf.display().to_string()]);
    let mut c = server.raw();
    assert_eq!(
        cmd(&mut c, &["GET", "k"]),
        "-NOPERM this user has no permissions to run the 'get' command\r\n"
    );
    ok(&mut c, &["AUTH", "alice", "pw"]);
    assert_eq!(cmd(&mut c, &["GET", "k"]), "$-1\r\n");
    drop(c);
    drop(server);

    // Users in the config file and an ACL file at once: refused at start-up.
    let aclfile = dir.join("users.acl");
    std::fs::write(&aclfile, "").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kopi-server"))
        .arg(&conf)
        .args(["--port", "0", "--aclfile", &aclfile.display().to_string()])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("please define either an ACL file or declare users directly in your redis.conf, but not both"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The AOF replays as Redis's AOF client does, with no user: a restricted `default` user at
/// the next start does not filter what is loaded.
#[test]
fn the_aof_replays_whatever_the_users_may_run() {
    let dir = fresh_dir();
    let server = Server::start_in(&dir, &["--appendonly", "yes"]);
    let mut c = server.raw();
    ok(&mut c, &["SET", "outside", "1"]);
    ok(&mut c, &["SET", "cache:in", "2"]);
    drop(c);
    drop(server);
    let conf = dir.join("kopi.conf");
    std::fs::write(
        &conf,
        "appendonly yes\nenable-debug-command yes\nuser admin on >pw ~* +@all\nuser default on nopass ~cache:* +@all\n",
    )
    .unwrap();
    let server = Server::start_in(&dir, &["--include", &conf.display().to_string()]);
    let mut c = server.raw();
    ok(&mut c, &["AUTH", "admin", "pw"]);
    assert_eq!(cmd(&mut c, &["GET", "outside"]), "$1\r\n1\r\n");
    assert_eq!(cmd(&mut c, &["GET", "cache:in"]), "$1\r\n2\r\n");
    assert_eq!(cmd(&mut c, &["ACL", "LOG"]), "*0\r\n", "no denial logged");
    ok(&mut c, &["DEBUG", "LOADAOF"]);
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":2\r\n");
    drop(c);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A name that is not UTF-8 never logs in (a client's user is kept as text).
#[test]
fn a_user_name_that_is_not_utf8_never_logs_in() {
    let server = Server::start();
    let mut c = server.raw();
    c.send_cmd(&[b"ACL", b"SETUSER", b"\xff", b"on", b">pw", b"+@all", b"~*"]);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.send_cmd(&[b"AUTH", b"\xff", b"pw"]);
    assert_eq!(
        c.read_reply(),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(cmd(&mut c, &["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
}

// ---- kopi and redis-server side by side ----

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    Exact,
    /// The words of each line sorted: descriptions whose single-command rules Redis emits in
    /// hash-table order.
    Words,
    /// ACL LOG: `age-seconds` and `client-info` values left out.
    Log,
    /// ACL CAT <category>: every name kopi lists is one Redis lists (kopi has fewer commands).
    Subset,
}

/// Sends each step (connection index, compare mode, arguments) to both servers and collects
/// the differences.
fn differential(steps: &[(usize, Compare, &[&str])]) {
    let test = "differential";
    let Some(program) = require_program("redis-server", test) else {
        return;
    };
    let redis = RedisServer::start(&program, &["--save", "", "--appendonly", "no"]);
    let kopi = Server::start();
    let connections = steps.iter().map(|s| s.0).max().unwrap_or(0) + 1;
    let mut kopi_conns: Vec<Raw> = (0..connections).map(|_| kopi.raw()).collect();
    let mut redis_conns: Vec<Raw> = (0..connections).map(|_| redis.raw()).collect();
    let mut differences = Vec::new();
    for (conn, mode, args) in steps {
        let a = cmd(&mut kopi_conns[*conn], args);
        let b = cmd(&mut redis_conns[*conn], args);
        let same = match mode {
            Compare::Exact => a == b,
            Compare::Words => sorted_words(&a) == sorted_words(&b),
            Compare::Log => without_log_variables(&a) == without_log_variables(&b),
            Compare::Subset => {
                let theirs: std::collections::BTreeSet<&str> = b.lines().collect();
                a.lines().skip(1).all(|l| theirs.contains(l))
            }
        };
        if !same {
            differences.push(format!("{args:?}\n  kopi:  {a:?}\n  redis: {b:?}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

fn sorted_words(reply: &str) -> Vec<Vec<String>> {
    reply
        .split("\r\n")
        .filter(|line| !line.starts_with('$'))
        .map(|line| {
            let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
            words.sort();
            words
        })
        .collect()
}

fn without_log_variables(reply: &str) -> Vec<String> {
    let lines: Vec<&str> = reply.split("\r\n").collect();
    let mut out = Vec::new();
    let mut skip = 0;
    for (i, line) in lines.iter().enumerate() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        out.push(line.to_string());
        if (*line == "age-seconds" || *line == "client-info") && i > 0 {
            skip = 2;
        }
    }
    out
}

const E: Compare = Compare::Exact;
const W: Compare = Compare::Words;

#[test]
fn differential_setuser_getuser_list_and_errors() {
    differential(&[
        (0, E, &["ACL", "LIST"]),
        (0, E, &["ACL", "GETUSER", "default"]),
        (0, E, &["ACL", "SETUSER", "bob"]),
        (0, E, &["ACL", "GETUSER", "bob"]),
        (
            0,
            E,
            &[
                "ACL", "SETUSER", "bob", "on", ">p1", ">p2", "<p1", "~a*", "%R~b*", "%W~c*",
                "%RW~d*", "&ch*", "+get", "+@hash",
            ],
        ),
        (0, E, &["ACL", "GETUSER", "bob"]),
        (0, E, &["ACL", "LIST"]),
        (0, E, &["ACL", "SETUSER", "bob", "reset"]),
        (0, E, &["ACL", "LIST"]),
        // An empty word inside a selector.
        (0, E, &["ACL", "SETUSER", "bob", "(\"\")"]),
        (0, E, &["ACL", "SETUSER", "bob", "(~a \"\")"]),
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "bob",
                "+@all",
                "-@dangerous",
                "allkeys",
                "allchannels",
            ],
        ),
        (0, E, &["ACL", "LIST"]),
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "bob",
                "nocommands",
                "+@read",
                "+@write",
                "-@keyspace",
            ],
        ),
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "bob",
                "-@all",
                "+client|id",
                "+select|0",
                "+select|1",
            ],
        ),
        (0, Compare::Words, &["ACL", "LIST"]),
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "bob",
                "resetpass",
                "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            ],
        ),
        (0, W, &["ACL", "GETUSER", "bob"]),
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "bob",
                "nopass",
                "skip-sanitize-payload",
                "resetkeys",
                "resetchannels",
            ],
        ),
        (0, W, &["ACL", "GETUSER", "bob"]),
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "sel",
                "on",
                "(~x +get)",
                "(%R~y",
                "+@read)",
                "clearselectors",
                "(+set ~z)",
            ],
        ),
        (0, E, &["ACL", "GETUSER", "sel"]),
        (0, W, &["ACL", "LIST"]),
        // Errors: each in Redis's words, and nothing applied.
        (0, E, &["ACL", "SETUSER", "bob", "on", "+nosuch"]),
        (0, E, &["ACL", "SETUSER", "bob", "+@nosuch"]),
        (0, E, &["ACL", "SETUSER", "bob", "bogus"]),
        (0, E, &["ACL", "SETUSER", "bob", "allkeys", "~a"]),
        (0, E, &["ACL", "SETUSER", "bob", "allchannels", "&a"]),
        (0, E, &["ACL", "SETUSER", "bob", "<never"]),
        (0, E, &["ACL", "SETUSER", "bob", "#abc"]),
        (0, E, &["ACL", "SETUSER", "bob", "!ABC"]),
        (0, E, &["ACL", "SETUSER", "bob", "+config|get|x"]),
        (0, E, &["ACL", "SETUSER", "bob", "+get|"]),
        (0, E, &["ACL", "SETUSER", "bob", "+config|nosuch"]),
        (0, E, &["ACL", "SETUSER", "bob", "-select|0"]),
        (0, E, &["ACL", "SETUSER", "bob", "%X~a"]),
        (0, E, &["ACL", "SETUSER", "bob", "(~a", "+get"]),
        (0, E, &["ACL", "SETUSER", "bob", "(~a +nosuch)"]),
        (0, E, &["ACL", "SETUSER", "has space"]),
        (0, W, &["ACL", "GETUSER", "bob"]),
        (0, E, &["ACL", "GETUSER", "nobody"]),
        (0, E, &["ACL", "USERS"]),
        (0, E, &["ACL", "DELUSER", "nobody"]),
        (0, E, &["ACL", "DELUSER", "bob", "default"]),
        (0, E, &["ACL", "DELUSER", "bob", "sel", "nobody"]),
        (0, E, &["ACL", "USERS"]),
        (0, E, &["ACL", "WHOAMI"]),
        (0, E, &["ACL", "CAT"]),
        (0, Compare::Subset, &["ACL", "CAT", "hash"]),
        (0, E, &["ACL", "CAT", "nosuch"]),
        (0, E, &["ACL", "CAT", "a", "b"]),
        (0, E, &["ACL", "HELP"]),
        (0, E, &["ACL", "NOSUCH"]),
        (0, E, &["ACL"]),
        (0, E, &["ACL", "GETUSER"]),
        (0, E, &["ACL", "GENPASS", "0"]),
        (0, E, &["ACL", "GENPASS", "4097"]),
        (0, E, &["ACL", "GENPASS", "x"]),
        (0, E, &["ACL", "GENPASS", "1", "2"]),
        (0, E, &["ACL", "LOG", "x"]),
        (0, E, &["ACL", "LOG", "1", "2"]),
        (0, E, &["ACL", "LOG", "-5"]),
        (0, E, &["ACL", "LOAD"]),
        (0, E, &["ACL", "SAVE"]),
        (0, E, &["ACL", "DRYRUN", "nobody", "get", "k"]),
        (0, E, &["ACL", "DRYRUN", "default", "nosuch"]),
        (0, E, &["ACL", "DRYRUN", "default", "get"]),
        (0, E, &["ACL", "DRYRUN", "default", "config", "nosuch"]),
        (0, E, &["ACL", "DRYRUN", "default", "get", "k"]),
        (0, E, &["AUTH", "a", "b", "c"]),
        (0, E, &["AUTH", "pw"]),
    ]);
}

#[test]
fn differential_genpass_shape() {
    let Some(program) = require_program("redis-server", "differential_genpass_shape") else {
        return;
    };
    let redis = RedisServer::start(&program, &["--save", "", "--appendonly", "no"]);
    let kopi = Server::start();
    for bits in [None, Some("1"), Some("5"), Some("4096")] {
        let mut args = vec!["ACL", "GENPASS"];
        args.extend(bits);
        let shape = |raw: &mut Raw| {
            let reply = cmd(raw, &args);
            let body = reply.lines().nth(1).unwrap_or_default().to_string();
            assert!(
                body.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            (
                reply.lines().next().unwrap_or_default().to_string(),
                body.len(),
            )
        };
        assert_eq!(shape(&mut kopi.raw()), shape(&mut redis.raw()), "{args:?}");
    }
}

#[test]
fn differential_enforcement_auth_and_log() {
    differential(&[
        (
            0,
            E,
            &[
                "ACL",
                "SETUSER",
                "u",
                "on",
                ">pw",
                "~k*",
                "%R~r*",
                "-@all",
                "+get",
                "+set",
                "+multi",
                "+exec",
                "+copy",
                "+acl|whoami",
            ],
        ),
        (1, E, &["AUTH", "u", "wrong"]),
        (1, E, &["AUTH", "nobody", "pw"]),
        (1, E, &["HELLO", "2", "AUTH", "u", "wrong"]),
        (1, E, &["AUTH", "u", "pw"]),
        (1, E, &["ACL", "WHOAMI"]),
        (1, E, &["GET", "k1"]),
        (1, E, &["GET", "r1"]),
        (1, E, &["SET", "r1", "v"]),
        (1, E, &["GET", "x"]),
        (1, E, &["DEL", "k1"]),
        (1, E, &["COPY", "r1", "k2"]),
        (1, E, &["COPY", "k1", "r2"]),
        (1, E, &["ACL", "LIST"]),
        (1, E, &["MULTI"]),
        (1, E, &["SET", "k1", "v"]),
        (1, E, &["DEL", "k1"]),
        (1, E, &["EXEC"]),
        (1, E, &["MULTI"]),
        (1, E, &["SET", "k1", "v"]),
        (0, E, &["ACL", "SETUSER", "u", "-set"]),
        (1, E, &["EXEC"]),
        // A command that cannot be queued is refused as such before the ACL check.
        (1, E, &["MULTI"]),
        (1, E, &["SAVE"]),
        (1, E, &["EXEC"]),
        (0, Compare::Log, &["ACL", "LOG"]),
        (0, Compare::Log, &["ACL", "LOG", "2"]),
        (0, E, &["ACL", "DRYRUN", "u", "get", "x"]),
        (0, E, &["ACL", "DRYRUN", "u", "set", "r1", "v"]),
        (0, E, &["ACL", "DRYRUN", "u", "del", "k"]),
        (0, E, &["ACL", "DRYRUN", "u", "get", "k1"]),
        (0, E, &["ACL", "LOG", "RESET"]),
        (0, E, &["ACL", "LOG"]),
        (0, E, &["ACL", "SETUSER", "u", "off"]),
        (2, E, &["AUTH", "u", "pw"]),
        (1, E, &["GET", "k1"]),
        (0, E, &["ACL", "SETUSER", "default", ">dpw"]),
        (3, E, &["GET", "k"]),
        (3, E, &["AUTH", "dpw"]),
        (3, E, &["ACL", "WHOAMI"]),
        (0, E, &["ACL", "SETUSER", "default", "nopass"]),
        (0, E, &["ACL", "DELUSER", "u"]),
        (0, E, &["ACL", "USERS"]),
    ]);
}

#[test]
fn differential_sort_by_and_get_need_access_to_every_key() {
    differential(&[
        (0, E, &["RPUSH", "list", "3", "1", "2"]),
        (
            0,
            E,
            &[
                "ACL", "SETUSER", "s", "on", "nopass", "~list*", "+sort", "+sort_ro",
            ],
        ),
        (
            0,
            E,
            &[
                "ACL", "SETUSER", "r", "on", "nopass", "%R~*", "%W~list*", "+sort",
            ],
        ),
        (1, E, &["AUTH", "s", "x"]),
        (1, E, &["SORT", "list"]),
        (1, E, &["SORT", "list", "BY", "nosort"]),
        (1, E, &["SORT", "list", "BY", "w_*"]),
        (1, E, &["SORT_RO", "list", "GET", "#"]),
        (1, E, &["SORT", "list", "STORE", "other"]),
        (2, E, &["AUTH", "r", "x"]),
        (2, E, &["SORT", "list", "BY", "w_*", "GET", "#"]),
        (2, E, &["SORT", "list", "STORE", "list2"]),
        (2, E, &["SORT", "list", "STORE", "other"]),
    ]);
}
