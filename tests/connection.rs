//! Connection-level behaviour, compared byte for byte with what Redis 7.0.15 sends: PING,
//! ECHO, SELECT, QUIT, RESET, HELLO, AUTH, CLIENT, MONITOR, protected mode, pre-auth limits,
//! client limits, listeners and shutdown.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, Server, encode, read_value};

fn client_id(raw: &mut Raw) -> u64 {
    let reply = raw.cmd(&["CLIENT", "ID"]);
    reply
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("CLIENT ID is an integer")
}

/// The text of a bulk (`$n`) or verbatim (`=n txt:`) reply.
fn text_of(reply: &str) -> String {
    let body = reply.split_once("\r\n").map(|(_, b)| b).unwrap_or("");
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

/// The `field=value` of a CLIENT LIST line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.trim_end()
        .split(' ')
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// The CLIENT LIST line of client `id`, as another connection sees it.
fn list_line(raw: &mut Raw, id: u64) -> String {
    let list = text_of(&raw.cmd(&["CLIENT", "LIST"]));
    list.lines()
        .find(|l| field(l, "id") == id.to_string())
        .unwrap_or_else(|| panic!("client {id} not in {list}"))
        .to_string()
}

/// True once the server has dropped the connection (EOF, or a reset when it left
/// unread input behind).
fn gone(raw: &mut Raw) -> bool {
    let mut buf = [0u8; 1];
    match raw.reader.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn hello_map(proto: u8, id: u64) -> String {
    let header = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{header}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
}

const NO_PASSWORD: &str = "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n";
const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
const NOAUTH: &str = "-NOAUTH Authentication required.\r\n";

#[test]
fn ping_echo_select_quit() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(raw.cmd(&["PING", "hi there"]), "$8\r\nhi there\r\n");
    assert_eq!(
        raw.cmd(&["PING", "a", "b"]),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(raw.cmd(&["ECHO", ""]), "$0\r\n\r\n");
    assert_eq!(
        raw.cmd(&["ECHO"]),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["SELECT", "abc"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["SELECT", "99999999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        raw.cmd(&["SELECT", "-1"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["SELECT", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(raw.cmd(&["SELECT", "15"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "in 15"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), "$-1\r\n");
    // QUIT takes any arguments, answers OK and closes; what follows it is not run.
    raw.send(
        &[
            encode(&[b"QUIT", b"now"]),
            encode(&[b"SET", b"after", b"quit"]),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert!(raw.closed());
    assert_eq!(server.raw().cmd(&["EXISTS", "after"]), ":0\r\n");
}

#[test]
fn hello_switches_protocol_and_answers_the_redis_map() {
    let server = Server::start();
    let mut raw = server.raw();
    let id = client_id(&mut raw);
    assert_eq!(raw.cmd(&["HELLO"]), hello_map(2, id));
    assert_eq!(raw.cmd(&["HELLO", "3"]), hello_map(3, id));
    // Now in RESP3: nulls and maps change shape.
    assert_eq!(raw.cmd(&["GET", "missing"]), "_\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "_\r\n");
    assert_eq!(raw.cmd(&["HELLO", "2"]), hello_map(2, id));
    assert_eq!(raw.cmd(&["GET", "missing"]), "$-1\r\n");

    assert_eq!(
        raw.cmd(&["HELLO", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "three"]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "default"]),
        "-ERR Syntax error in HELLO option 'AUTH'\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "SETNAME", "a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    // A failed HELLO switched nothing.
    assert_eq!(raw.cmd(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(raw.cmd(&["HELLO", "2", "SETNAME", "me"]), hello_map(2, id));
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$2\r\nme\r\n");
    // Without a password any password is right for the default user.
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "default", "whatever"]),
        hello_map(3, id)
    );
}

#[test]
fn auth_without_a_password_configured() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["AUTH", "secret"]), NO_PASSWORD);
    assert_eq!(raw.cmd(&["AUTH", "default", "anything"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["AUTH", "alice", "secret"]), WRONGPASS);
    assert_eq!(raw.cmd(&["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd(&["AUTH"]),
        "-ERR wrong number of arguments for 'auth' command\r\n"
    );
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let server = Server::start_with(&["--requirepass", "s3cret"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), NOAUTH);
    assert_eq!(raw.cmd(&["CLIENT", "ID"]), NOAUTH);
    // Unknown commands and wrong arity are reported before authentication is checked.
    assert_eq!(
        raw.cmd(&["FOO"]),
        "-ERR unknown command 'FOO', with args beginning with: \r\n"
    );
    assert_eq!(
        raw.cmd(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "default", "wrong"]),
        WRONGPASS
    );
    assert_eq!(raw.cmd(&["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(raw.cmd(&["AUTH", "default", "wrong"]), WRONGPASS);
    assert_eq!(raw.cmd(&["MULTI"]), NOAUTH);
    assert_eq!(raw.cmd(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
    // A wrong password later does not log the client out.
    assert_eq!(raw.cmd(&["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
    // RESET does.
    assert_eq!(raw.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(raw.cmd(&["PING"]), NOAUTH);

    // HELLO authenticates as it reads its options: a later bad option still leaves the
    // client authenticated.
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["HELLO", "2", "AUTH", "default", "s3cret", "BOGUS"]),
        "-ERR Syntax error in HELLO option 'BOGUS'\r\n"
    );
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");

    let mut raw = server.raw();
    let reply = raw.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app"]);
    assert!(reply.starts_with("%7\r\n$6\r\nserver\r\n"), "{reply}");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$3\r\napp\r\n");
}

#[test]
fn unauthenticated_requests_are_small() {
    let server = Server::start_with(&["--requirepass", "pw"]);
    let mut raw = server.raw();
    raw.send(b"*11\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(raw.closed());

    let mut raw = server.raw();
    raw.send(b"*1\r\n$16385\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert!(raw.closed());

    // 16384 bytes is still allowed (and unknown as a command).
    let mut raw = server.raw();
    let big = vec![b'a'; 16384];
    raw.send_cmd(&[&big]);
    let reply = String::from_utf8(raw.read_reply()).unwrap();
    assert!(reply.starts_with("-ERR unknown command 'aaaa"), "{reply}");

    // Requests after AUTH in the same pipeline get the authenticated limits.
    let mut raw = server.raw();
    let mut set: Vec<&[u8]> = vec![b"SET", b"k"];
    set.extend(std::iter::repeat_n(&b"x"[..], 20));
    let value = vec![b'v'; 20000];
    let pipeline = [
        encode(&[b"AUTH", b"pw"]),
        encode(&set),
        encode(&[b"SET", b"k", &value]),
        encode(&[b"GET", b"k"]),
    ]
    .concat();
    raw.send(&pipeline);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"-ERR syntax error\r\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply().len(), 20000 + "$20000\r\n\r\n".len());

    // RESET drops the authentication: what follows it is small again.
    let mut raw = server.raw();
    raw.send(
        &[
            encode(&[b"AUTH", b"pw"]),
            encode(&[b"RESET"]),
            b"*11\r\n".to_vec(),
        ]
        .concat(),
    );
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"+RESET\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
}

#[test]
fn reset_restores_a_fresh_connection() {
    let server = Server::start();
    let mut raw = server.raw();
    let id = client_id(&mut raw);
    for cmd in [
        &["SELECT", "3"][..],
        &["CLIENT", "SETNAME", "worker"],
        &["CLIENT", "NO-EVICT", "ON"],
        &["WATCH", "w"],
        &["MULTI"],
    ] {
        assert_eq!(raw.cmd(cmd), "+OK\r\n");
    }
    assert_eq!(raw.cmd(&["SET", "a", "b"]), "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["HELLO", "3"]), "+QUEUED\r\n");
    // RESET is never queued.
    assert_eq!(raw.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(raw.cmd(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(raw.cmd(&["GET", "a"]), "$-1\r\n");
    let info = text_of(&raw.cmd(&["CLIENT", "INFO"]));
    assert_eq!(field(&info, "id"), id.to_string());
    assert_eq!(field(&info, "name"), "");
    assert_eq!(field(&info, "db"), "0");
    assert_eq!(field(&info, "multi"), "-1");
    assert_eq!(field(&info, "resp"), "2");
    // NO-EVICT survives RESET in Redis 7.0.
    assert_eq!(field(&info, "flags"), "e");

    // The WATCH is gone: a change to the key no longer aborts a transaction.
    raw.cmd(&["WATCH", "w"]);
    raw.cmd(&["RESET"]);
    server.raw().cmd(&["SET", "w", "changed"]);
    raw.cmd(&["MULTI"]);
    raw.cmd(&["PING"]);
    assert_eq!(raw.cmd(&["EXEC"]), "*1\r\n+PONG\r\n");

    // RESP3 and CLIENT REPLY OFF are undone.
    raw.cmd(&["HELLO", "3"]);
    raw.send_cmd(&[b"CLIENT", b"REPLY", b"OFF"]);
    assert_eq!(raw.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(raw.cmd(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(
        raw.cmd(&["RESET", "x"]),
        "-ERR wrong number of arguments for 'reset' command\r\n"
    );
}

#[test]
fn client_reply_off_and_skip() {
    let server = Server::start();
    let mut raw = server.raw();
    let pipeline = [
        encode(&[b"CLIENT", b"REPLY", b"OFF"]),
        encode(&[b"PING", b"1"]),
        encode(&[b"CLIENT", b"REPLY", b"SKIP"]),
        encode(&[b"PING", b"2"]),
        encode(&[b"CLIENT", b"REPLY", b"ON"]),
        // SKIP drops the next reply only, even an error's.
        encode(&[b"CLIENT", b"REPLY", b"SKIP"]),
        encode(&[b"NOSUCH"]),
        encode(&[b"PING", b"3"]),
        // SKIP then ON: ON's own reply is sent.
        encode(&[b"CLIENT", b"REPLY", b"SKIP"]),
        encode(&[b"CLIENT", b"REPLY", b"ON"]),
        // SKIP then RESET: RESET's reply is skipped.
        encode(&[b"CLIENT", b"REPLY", b"SKIP"]),
        encode(&[b"RESET"]),
        encode(&[b"PING", b"4"]),
    ]
    .concat();
    raw.send(&pipeline);
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$1\r\n3\r\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$1\r\n4\r\n");
    assert_eq!(
        raw.cmd(&["CLIENT", "REPLY", "MAYBE"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn client_names_and_ids() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut other = server.raw();
    let id = client_id(&mut raw);
    assert!(client_id(&mut other) > id);
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "alpha-1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$7\r\nalpha-1\r\n");
    for bad in ["a b", "a\nb", "caf\u{e9}"] {
        assert_eq!(
            raw.cmd(&["CLIENT", "SETNAME", bad]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
    }
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$7\r\nalpha-1\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", ""]), "+OK\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "GETREDIR"]), ":-1\r\n");
    assert_eq!(
        raw.cmd(&["CLIENT", "TRACKINGINFO"]),
        "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    raw.cmd(&["HELLO", "3"]);
    assert_eq!(
        raw.cmd(&["CLIENT", "TRACKINGINFO"]),
        "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );
}

#[test]
fn client_container_errors_come_from_the_dispatcher() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CLIENT"]),
        "-ERR wrong number of arguments for 'client' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["client", "bogus"]),
        "-ERR unknown subcommand 'bogus'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "KILL"]),
        "-ERR wrong number of arguments for 'client|kill' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "ID", "x"]),
        "-ERR wrong number of arguments for 'client|id' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "SETNAME", "x", "y"]),
        "-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
    assert_eq!(
        raw.cmd(&["CLIENT", "pause", "10", "write", "x"]),
        "-ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.\r\n"
    );
    let help = raw.cmd(&["CLIENT", "HELP"]);
    assert!(
        help.starts_with("*41\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GETREDIR\r\n"),
        "{help}"
    );
    assert!(
        help.ends_with("+HELP\r\n+    Prints this help.\r\n"),
        "{help}"
    );
}

#[test]
fn client_list_and_info_lines() {
    let server = Server::start();
    let mut me = server.raw();
    let mut other = server.raw();
    let my_id = client_id(&mut me);
    let other_id = client_id(&mut other);

    let info = raw_text(&mut me, &["CLIENT", "INFO"]);
    assert!(
        info.ends_with('\n') && info.lines().count() == 1,
        "{info:?}"
    );
    let local = me.writer.local_addr().unwrap().to_string();
    assert!(
        info.starts_with(&format!(
            "id={my_id} addr={local} laddr=127.0.0.1:{} fd=",
            server.port
        )),
        "{info}"
    );
    let names: Vec<&str> = info
        .trim_end()
        .split(' ')
        .map(|kv| kv.split_once('=').map(|(k, _)| k).unwrap_or(kv))
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp"
        ]
    );
    assert_eq!(field(&info, "flags"), "N");
    assert_eq!(field(&info, "cmd"), "client|info");
    assert_eq!(field(&info, "user"), "default");
    assert_eq!(field(&info, "redir"), "-1");

    // What another client did shows in its line: name, db, last command, transaction.
    other.cmd(&["CLIENT", "SETNAME", "bee"]);
    other.cmd(&["SELECT", "4"]);
    other.cmd(&["MULTI"]);
    other.cmd(&["SET", "a", "1"]);
    other.cmd(&["GET", "a"]);
    let line = list_line(&mut me, other_id);
    assert_eq!(field(&line, "name"), "bee");
    assert_eq!(field(&line, "db"), "4");
    assert_eq!(field(&line, "flags"), "x");
    assert_eq!(field(&line, "multi"), "2");
    assert_eq!(field(&line, "cmd"), "get");
    other.cmd(&["EXEC"]);
    assert_eq!(field(&list_line(&mut me, other_id), "cmd"), "exec");
    other.cmd(&["NOSUCH"]);
    assert_eq!(field(&list_line(&mut me, other_id), "cmd"), "NULL");
    other.cmd(&["CLIENT"]);
    assert_eq!(field(&list_line(&mut me, other_id), "cmd"), "client");
    other.cmd(&["SELECT", "0"]);
    other.cmd(&["WATCH", "w"]);
    me.cmd(&["SET", "w", "1"]);
    assert_eq!(field(&list_line(&mut me, other_id), "flags"), "d");

    // The caller's own line is current.
    let list = raw_text(&mut me, &["CLIENT", "LIST"]);
    assert_eq!(list.lines().count(), 2);
    let mine = list.lines().next().unwrap();
    assert_eq!(field(mine, "id"), my_id.to_string());
    assert_eq!(field(mine, "cmd"), "client|list");

    let by_id = raw_text(
        &mut me,
        &[
            "CLIENT",
            "LIST",
            "ID",
            &other_id.to_string(),
            "999999",
            &my_id.to_string(),
        ],
    );
    let ids: Vec<&str> = by_id.lines().map(|l| field(l, "id")).collect();
    assert_eq!(ids, [other_id.to_string(), my_id.to_string()]);
    assert_eq!(raw_text(&mut me, &["CLIENT", "LIST", "ID", "999999"]), "");
    assert_eq!(
        raw_text(&mut me, &["CLIENT", "LIST", "TYPE", "normal"])
            .lines()
            .count(),
        2
    );
    assert_eq!(
        raw_text(&mut me, &["CLIENT", "LIST", "TYPE", "replica"]),
        ""
    );
    assert_eq!(raw_text(&mut me, &["CLIENT", "LIST", "TYPE", "pubsub"]), "");
    assert_eq!(
        me.cmd(&["CLIENT", "LIST", "TYPE", "bogus"]),
        "-ERR Unknown client type 'bogus'\r\n"
    );
    assert_eq!(
        me.cmd(&["CLIENT", "LIST", "ID", "abc"]),
        "-ERR Invalid client ID\r\n"
    );
    assert_eq!(me.cmd(&["CLIENT", "LIST", "ID"]), "-ERR syntax error\r\n");
    assert_eq!(
        me.cmd(&["CLIENT", "LIST", "TYPE", "normal", "x"]),
        "-ERR syntax error\r\n"
    );

    // RESP3: verbatim text.
    me.cmd(&["HELLO", "3"]);
    let reply = me.cmd(&["CLIENT", "INFO"]);
    assert!(
        reply.starts_with('=') && reply.contains("\r\ntxt:id="),
        "{reply}"
    );
    assert!(reply.ends_with(" resp=3\n\r\n"), "{reply}");
}

fn raw_text(raw: &mut Raw, args: &[&str]) -> String {
    text_of(&raw.cmd(args))
}

#[test]
fn client_kill_old_and_filter_forms() {
    let server = Server::start();
    let mut me = server.raw();
    let mut victim = server.raw();
    let victim_id = client_id(&mut victim);
    let victim_addr = victim.writer.local_addr().unwrap().to_string();

    assert_eq!(
        me.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]),
        "-ERR No such client\r\n"
    );
    assert_eq!(me.cmd(&["CLIENT", "KILL", &victim_addr]), "+OK\r\n");
    assert!(victim.closed());
    assert!(!raw_text(&mut me, &["CLIENT", "LIST"]).contains(&format!("id={victim_id} ")));
    assert_eq!(
        me.cmd(&["CLIENT", "KILL", &victim_addr]),
        "-ERR No such client\r\n"
    );

    let mut victim = server.raw();
    let victim_id = client_id(&mut victim);
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", "999999"]), ":0\r\n");
    assert_eq!(
        me.cmd(&["CLIENT", "KILL", "ID", &victim_id.to_string()]),
        ":1\r\n"
    );
    assert!(victim.closed());

    let mut a = server.raw();
    let mut b = server.raw();
    a.cmd(&["PING"]);
    b.cmd(&["PING"]);
    let laddr = format!("127.0.0.1:{}", server.port);
    // SKIPME yes (the default) spares the caller.
    assert_eq!(
        me.cmd(&[
            "CLIENT", "KILL", "LADDR", &laddr, "USER", "default", "TYPE", "normal"
        ]),
        ":2\r\n"
    );
    assert!(a.closed() && b.closed());
    assert_eq!(me.cmd(&["PING"]), "+PONG\r\n");

    for (args, error) in [
        (
            &["ID", "abc"][..],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (&["ID", "0"], "-ERR client-id should be greater than 0\r\n"),
        (&["ID", "1", "SKIPME"], "-ERR syntax error\r\n"),
        (&["SKIPME", "maybe"], "-ERR syntax error\r\n"),
        (&["TYPE", "foo"], "-ERR Unknown client type 'foo'\r\n"),
        (&["USER", "nobody"], "-ERR No such user 'nobody'\r\n"),
        (&["FOO", "bar"], "-ERR syntax error\r\n"),
    ] {
        let mut cmd = vec!["CLIENT", "KILL"];
        cmd.extend_from_slice(args);
        assert_eq!(me.cmd(&cmd), error, "{cmd:?}");
    }

    // The old form and SKIPME no may kill the caller, after its reply.
    let my_id = client_id(&mut me);
    assert_eq!(
        me.cmd(&["CLIENT", "KILL", "SKIPME", "no", "ID", &my_id.to_string()]),
        ":1\r\n"
    );
    assert!(me.closed());
    let mut me = server.raw();
    let my_addr = me.writer.local_addr().unwrap().to_string();
    assert_eq!(me.cmd(&["CLIENT", "KILL", &my_addr]), "+OK\r\n");
    assert!(me.closed());
}

#[test]
fn client_pause_holds_commands_back() {
    let server = Server::start();
    let mut admin = server.raw();
    let mut other = server.raw();
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "abc"]),
        "-ERR timeout is not an integer or out of range\r\n"
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "10", "SOME"]),
        "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    );

    // ALL: everything waits, CLIENT UNPAUSE from another client included.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "300"]), "+OK\r\n");
    let started = Instant::now();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(200), "{waited:?}");

    // WRITE: reads go through, writes wait until CLIENT UNPAUSE.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]), "+OK\r\n");
    let started = Instant::now();
    assert_eq!(other.cmd(&["GET", "k"]), "$-1\r\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    other.send_cmd(&[b"SET", b"k", b"v"]);
    std::thread::sleep(Duration::from_millis(50));
    let mut probe = server.raw();
    assert_eq!(probe.cmd(&["GET", "k"]), "$-1\r\n");
    // Queuing a write inside MULTI waits too.
    let mut tx = server.raw();
    assert_eq!(tx.cmd(&["MULTI"]), "+OK\r\n");
    tx.send_cmd(&[b"SET", b"n", b"1"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(other.read_reply(), b"+OK\r\n");
    assert_eq!(tx.read_reply(), b"+QUEUED\r\n");
    assert_eq!(tx.cmd(&["EXEC"]), "*1\r\n+OK\r\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(probe.cmd(&["GET", "k"]), "$1\r\nv\r\n");

    // The pausing client's own pipeline waits as well.
    let started = Instant::now();
    admin.send(&[encode(&[b"CLIENT", b"PAUSE", b"200"]), encode(&[b"PING"])].concat());
    assert_eq!(admin.read_reply(), b"+OK\r\n");
    assert_eq!(admin.read_reply(), b"+PONG\r\n");
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn monitor_streams_commands_after_they_run() {
    let server = Server::start();
    let mut monitor = server.raw();
    let mut client = server.raw();
    let addr = client.writer.local_addr().unwrap().to_string();
    assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
    for cmd in [
        &["SET", "k", "a\"b\\c\r\n\x01"][..],
        &["SELECT", "5"],
        &["AUTH", "secret"],
        &["AUTH", "user", "secret"],
        &["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n"],
        &["CLIENT", "LIST"],
        &["CLIENT", "INFO"],
        &["NOSUCH"],
        &["GET"],
        &["MULTI"],
        &["SET", "n", "1"],
        &["EXEC"],
        &["SELECT", "0"],
    ] {
        client.cmd(cmd);
    }
    let expected = [
        r#""SET" "k" "a\"b\\c\r\n\x01""#.to_string(),
        format!(r#"[5 {addr}] "SELECT" "5""#),
        r#""AUTH" "(redacted)""#.into(),
        r#""AUTH" "(redacted)" "(redacted)""#.into(),
        r#""HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n""#.into(),
        r#""CLIENT" "INFO""#.into(),
        r#""MULTI""#.into(),
        r#""SET" "n" "1""#.into(),
        r#""EXEC""#.into(),
        format!(r#"[0 {addr}] "SELECT" "0""#),
    ];
    for want in expected {
        let line = String::from_utf8(monitor.read_reply()).unwrap();
        assert!(line.starts_with('+') && line.ends_with("\r\n"), "{line:?}");
        let (stamp, rest) = line[1..].split_once(' ').unwrap();
        assert!(stamp.contains('.') && stamp.len() == 17, "{line:?}");
        assert!(rest.contains(&want), "{line:?} should contain {want}");
    }

    // A MONITOR client still talks: its replies come before the lines of its commands;
    // it may not touch the keyspace.
    monitor.send(&[encode(&[b"PING"]), encode(&[b"ECHO", b"x"])].concat());
    assert_eq!(monitor.read_reply(), b"+PONG\r\n");
    assert!(
        String::from_utf8(monitor.read_reply())
            .unwrap()
            .ends_with("\"PING\"\r\n")
    );
    assert_eq!(monitor.read_reply(), b"$1\r\nx\r\n");
    assert!(
        String::from_utf8(monitor.read_reply())
            .unwrap()
            .ends_with("\"ECHO\" \"x\"\r\n")
    );
    assert_eq!(
        monitor.cmd(&["GET", "k"]),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
    // MONITOR again is silent; RESET stops the feed.
    monitor.send_cmd(&[b"MONITOR"]);
    assert_eq!(monitor.cmd(&["RESET"]), "+RESET\r\n");
    client.cmd(&["PING"]);
    assert_eq!(monitor.cmd(&["GET", "k"]), "$8\r\na\"b\\c\r\n\x01\r\n");

    // Inside a transaction MONITOR is refused.
    let mut tx = server.raw();
    tx.cmd(&["MULTI"]);
    tx.cmd(&["MONITOR"]);
    assert_eq!(
        tx.cmd(&["EXEC"]),
        "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    );
    assert_eq!(
        tx.cmd(&["MONITOR", "x"]),
        "-ERR wrong number of arguments for 'monitor' command\r\n"
    );
}

/// Connects from `source` (any address on the loopback interface) to the server.
fn connect_from(source: &str, port: u16) -> Raw {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&from.into()).unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect(&to.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    Raw {
        reader: BufReader::new(stream.try_clone().unwrap()),
        writer: stream,
    }
}

#[test]
fn protected_mode_refuses_non_loopback_clients_without_a_password() {
    let denied = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
    let server = Server::start();
    // 127.0.0.2 is on the loopback interface but is not 127.0.0.1: Redis refuses it.
    let mut outsider = connect_from("127.0.0.2", server.port);
    assert_eq!(String::from_utf8(outsider.read_reply()).unwrap(), denied);
    assert!(outsider.closed());
    assert_eq!(
        connect_from("127.0.0.1", server.port).cmd(&["PING"]),
        "+PONG\r\n"
    );

    let open = Server::start_with(&["--protected-mode", "no"]);
    assert_eq!(
        connect_from("127.0.0.2", open.port).cmd(&["PING"]),
        "+PONG\r\n"
    );

    let with_password = Server::start_with(&["--requirepass", "pw"]);
    assert_eq!(
        connect_from("127.0.0.2", with_password.port).cmd(&["PING"]),
        NOAUTH
    );
}

#[test]
fn maxclients_refuses_the_client_over_the_limit() {
    let server = Server::start_with(&["--maxclients", "2"]);
    let mut a = server.raw();
    assert_eq!(a.cmd(&["PING"]), "+PONG\r\n");
    // The start-up probe's connection must be gone before the slots are counted.
    wait_for("only this client connected", || {
        a.cmd(&["INFO", "clients"])
            .contains("connected_clients:1\r\n")
    });
    let mut b = server.raw();
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
    let mut c = server.raw();
    assert_eq!(c.read_reply(), b"-ERR max number of clients reached\r\n");
    assert!(c.closed());
    drop(b);
    wait_for("a free slot", || {
        let mut d = server.raw();
        d.send_cmd(&[b"PING"]);
        d.read_reply() == b"+PONG\r\n"
    });
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = Server::start_with(&["--timeout", "1", "--loglevel", "verbose"]);
    let started = Instant::now();
    let mut idle = server.raw();
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
    assert!(idle.closed());
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1000) && after < Duration::from_secs(4),
        "{after:?}"
    );
    assert!(server.log_text().contains("Closing idle client"));
    // MONITOR clients are never idle.
    monitor.send_cmd(&[b"PING"]);
    assert_eq!(monitor.read_reply(), b"+PONG\r\n");
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let server = Server::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut raw = server.raw();
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..17 {
        if raw.writer.write_all(&chunk).is_err() {
            break;
        }
    }
    assert!(gone(&mut raw));
    wait_for("the log line", || {
        server
            .log_text()
            .contains("Closing client that reached max query buffer length: id=")
    });
    assert!(server.log_text().contains("(qbuf initial bytes: \"xxxx"));
    assert_eq!(server.raw().cmd(&["EXISTS", "k"]), ":0\r\n");
}

#[test]
fn cross_protocol_requests_are_dropped() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"POST / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert!(gone(&mut raw));
    let mut raw = server.raw();
    raw.send(b"PING\r\nHost: example.com\r\n");
    assert!(gone(&mut raw));
    assert!(
        server
            .log_text()
            .contains("Possible SECURITY ATTACK detected")
    );
}

// ---- listeners and process life ----

/// A kopi-server started by hand (for options the common harness does not cover).
struct Process {
    child: std::process::Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Process {
    fn start(name: &str, args: &[&str]) -> Process {
        let dir = std::env::temp_dir().join(format!(
            "kopi-conn-{}-{name}-{}",
            std::process::id(),
            common::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_kopi-server"))
            .args(args)
            .current_dir(&dir)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kopi-server");
        Process { child, dir, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, text: &str) {
        wait_for(text, || self.log_text().contains(text));
    }

    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unix_cmd(stream: &mut UnixStream, args: &[&str]) -> String {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream.write_all(&encode(&args)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = Vec::new();
    read_value(&mut reader, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn unix_socket_only_then_sigterm() {
    let dir = std::env::temp_dir().join(format!("kopi-sock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("kopi.sock");
    let sock_text = sock.display().to_string();
    let pidfile = dir.join("kopi.pid");
    let mut server = Process::start(
        "unix",
        &[
            "--port",
            "0",
            "--unixsocket",
            &sock_text,
            "--unixsocketperm",
            "700",
            "--pidfile",
            &pidfile.display().to_string(),
        ],
    );
    server.wait_for_log("The server is now ready to accept connections at ");
    assert!(!server.log_text().contains("Ready to accept connections\n"));
    assert_eq!(mode_of(&sock), 0o700);

    let mut stream = UnixStream::connect(&sock).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(unix_cmd(&mut stream, &["PING"]), "+PONG\r\n");
    let info = text_of(&unix_cmd(&mut stream, &["CLIENT", "INFO"]));
    assert_eq!(field(&info, "addr"), format!("{sock_text}:0"));
    assert_eq!(field(&info, "laddr"), format!("{sock_text}:0"));
    assert_eq!(field(&info, "flags"), "U");

    let mut monitor = UnixStream::connect(&sock).unwrap();
    monitor
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(unix_cmd(&mut monitor, &["MONITOR"]), "+OK\r\n");
    unix_cmd(&mut stream, &["ECHO", "via unix"]);
    let mut line = Vec::new();
    read_value(&mut BufReader::new(monitor.try_clone().unwrap()), &mut line).unwrap();
    let line = String::from_utf8(line).unwrap();
    assert!(
        line.ends_with(&format!("[0 unix:{sock_text}] \"ECHO\" \"via unix\"\r\n")),
        "{line}"
    );

    // SIGTERM: a clean exit, Redis's log lines, the socket and pid files removed.
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    assert_eq!(server.exit_code(), Some(0));
    let log = server.log_text();
    for line in [
        ":signal-handler (",
        ") Received SIGTERM scheduling shutdown...",
        "# User requested shutdown...",
        "* Removing the pid file.",
        "* Removing the unix socket file.",
        "# kopi is now ready to exit, bye bye...",
    ] {
        assert!(log.contains(line), "missing {line:?} in\n{log}");
    }
    assert!(!sock.exists() && !pidfile.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_shuts_down_cleanly() {
    let mut server = Server::start();
    // SAFETY: kill(2) on the pid of the child this test started.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGINT);
    }
    assert_eq!(server.child.wait().unwrap().code(), Some(0));
    assert!(
        server
            .log_text()
            .contains(") Received SIGINT scheduling shutdown...")
    );
}

#[test]
fn port_in_use_is_fatal() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut server = Process::start("taken", &["--port", &port, "--bind", "127.0.0.1"]);
    assert_eq!(server.exit_code(), Some(1));
    let log = server.log_text();
    assert!(
        log.contains(&format!(
            "# Warning: Could not create server TCP listening socket 127.0.0.1:{port}: bind: Address already in use\n"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "# Failed listening on port {port} (TCP), aborting.\n"
        )),
        "{log}"
    );
}

#[test]
fn no_listener_at_all_is_fatal() {
    let mut server = Process::start("nowhere", &["--port", "0"]);
    assert_eq!(server.exit_code(), Some(1));
    assert!(
        server
            .log_text()
            .contains("# Configured to not listen anywhere, exiting.\n")
    );
}

#[test]
fn bind_several_addresses() {
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let binds: &[&str] = if ipv6 {
        &["--bind", "127.0.0.1", "::1"]
    } else {
        &["--bind", "127.0.0.1", "-::1"]
    };
    let server = Server::start_with(binds);
    assert_eq!(server.raw().cmd(&["PING"]), "+PONG\r\n");
    if ipv6 {
        let stream = TcpStream::connect(("::1", server.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let info = raw_text(&mut raw, &["CLIENT", "INFO"]);
        assert_eq!(field(&info, "laddr"), format!("[::1]:{}", server.port));
        assert!(field(&info, "addr").starts_with("[::1]:"));
    }
    // An address this host does not have is fatal, unless marked optional with `-`.
    let port = common::free_port().to_string();
    let mut bad = Process::start(
        "bad-bind",
        &["--port", &port, "--bind", "127.0.0.1", "192.0.2.1"],
    );
    assert_eq!(bad.exit_code(), Some(1));
    assert!(bad.log_text().contains(&format!(
        "Could not create server TCP listening socket 192.0.2.1:{port}: bind: Cannot assign requested address"
    )));
    let port = common::free_port().to_string();
    let optional = Process::start(
        "optional-bind",
        &["--port", &port, "--bind", "127.0.0.1", "-192.0.2.1"],
    );
    optional.wait_for_log("Ready to accept connections");
    let mut stream = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    stream.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn a_write_pause_hides_expired_keys_without_deleting_them_and_counts_blocked_clients() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["SET", "short", "1", "PX", "30"]);
    assert_eq!(c.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(
        c.cmd(&["GET", "short"]),
        "$-1\r\n",
        "an expired key is never visible"
    );
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        ":1\r\n",
        "but deleting it is a write, so it waits"
    );

    let mut writer = server.raw();
    writer.send(&common::encode(&[b"SET", b"k", b"v"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let info = c.cmd(&["INFO", "clients"]);
        if info.contains("blocked_clients:1\r\n") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the paused writer never showed as blocked: {info}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(c.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(writer.read_reply(), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "short"]), "$-1\r\n");
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        ":1\r\n",
        "only k is left once expiry may delete again"
    );
    assert!(
        c.cmd(&["INFO", "clients"])
            .contains("blocked_clients:0\r\n")
    );
}
