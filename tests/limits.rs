//! Resource limits against clients that do not play along: `client-output-buffer-limit` (hard
//! and soft) for clients that pipeline without reading, the small output cap of clients that
//! never authenticated (CVE-2025-21605), and glob patterns built to make matching slow
//! (CVE-2024-31228), compared with Redis 7.0.15 where replies can be compared.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{Raw, RedisServer, Server, encode, require_program};

const MB: usize = 1024 * 1024;

/// The value of `field` in INFO.
fn info_field(raw: &mut Raw, field: &str) -> String {
    let info = raw.cmd(&["INFO"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

fn used_memory(raw: &mut Raw) -> usize {
    info_field(raw, "used_memory").parse().unwrap()
}

/// The CLIENT LIST line of the client named `name`, if it is connected.
fn client_line(raw: &mut Raw, name: &str) -> Option<String> {
    let list = raw.cmd(&["CLIENT", "LIST"]);
    list.lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .map(str::to_string)
}

fn field(line: &str, name: &str) -> usize {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw connection named `name`: it then sends without reading.
fn named(server: &Server, name: &str) -> Raw {
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", name]), "+OK\r\n");
    raw
}

/// `count` pipelined `GET key`.
fn gets(key: &str, count: usize) -> Vec<u8> {
    encode(&[b"GET", key.as_bytes()]).repeat(count)
}

/// Reads what the server sent until it closes the connection (EOF or reset).
fn read_to_close(raw: &mut Raw) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match raw.reader.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[test]
fn a_client_that_pipelines_without_reading_is_closed_at_the_hard_limit() {
    let server = Server::start_with(&["--client-output-buffer-limit", "normal 10mb 5mb 10"]);
    let mut admin = server.raw();
    let value = "v".repeat(MB);
    assert_eq!(admin.cmd(&["SET", "big", &value]), "+OK\r\n");
    let before = used_memory(&mut admin);

    // 2000 GETs of 1 MB in one write (about 46 KB of requests): 2 GB of replies if nothing
    // stopped them.
    let mut flooder = named(&server, "flooder");
    flooder.send(&gets("big", 2000));
    wait_for("the flooder to be closed", Duration::from_secs(20), || {
        client_line(&mut admin, "flooder").is_none()
    });
    assert!(
        server
            .log_text()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "{}",
        server.log_text()
    );
    let after = used_memory(&mut admin);
    assert!(
        after < before + 16 * MB,
        "used_memory grew from {before} to {after}"
    );

    // Everyone else is served as before, and the server still answers big replies.
    let mut other = server.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    let reply = other.cmd(&["GET", "big"]);
    assert_eq!(reply.len(), MB + format!("${MB}\r\n\r\n").len());
    // A client that reads its replies may pipeline past the limit over time: each batch is
    // written before the next is read.
    other.send(&gets("big", 3));
    for _ in 0..3 {
        assert_eq!(other.read_reply().len(), reply.len());
    }
}

#[test]
fn a_client_over_the_soft_limit_for_its_seconds_is_closed() {
    let server = Server::start_with(&["--client-output-buffer-limit", "normal 0 1mb 2"]);
    let mut admin = server.raw();
    assert_eq!(admin.cmd(&["SET", "big", &"v".repeat(MB)]), "+OK\r\n");

    // 32 MB of replies: more than the socket buffers take, so most stay pending.
    let mut stalled = named(&server, "stalled");
    let started = Instant::now();
    stalled.send(&gets("big", 32));
    let mut omem = 0;
    wait_for(
        "pending output in CLIENT LIST",
        Duration::from_secs(10),
        || {
            omem = client_line(&mut admin, "stalled").map_or(0, |l| field(&l, "omem"));
            omem > MB
        },
    );
    let line = client_line(&mut admin, "stalled").unwrap_or_default();
    if !line.is_empty() {
        assert!(field(&line, "tot-mem") >= field(&line, "omem"), "{line}");
    }
    let recent: usize = info_field(&mut admin, "client_recent_max_output_buffer")
        .parse()
        .unwrap();
    assert!(recent > MB, "client_recent_max_output_buffer:{recent}");
    // Not before the soft limit has held for its seconds.
    if started.elapsed() < Duration::from_millis(1500) {
        assert!(client_line(&mut admin, "stalled").is_some());
    }
    wait_for(
        "the stalled client to be closed",
        Duration::from_secs(15),
        || client_line(&mut admin, "stalled").is_none(),
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(
        server
            .log_text()
            .contains("closed for overcoming of output buffer limits."),
        "{}",
        server.log_text()
    );
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn a_single_reply_over_the_limit_is_never_sent() {
    let server = Server::start_with(&["--client-output-buffer-limit", "normal 100000 0 0"]);
    let mut admin = server.raw();
    let item = "x".repeat(1000);
    for _ in 0..150 {
        admin.cmd(&["LPUSH", "mylist", &item]);
    }
    let mut reader = named(&server, "mybiglist");
    reader.send_cmd(&[b"LRANGE", b"mylist", b"0", b"-1"]);
    assert_eq!(read_to_close(&mut reader), b"");
    assert!(client_line(&mut admin, "mybiglist").is_none());

    // Nor the replies pipelined before it in the same batch.
    admin.cmd(&["SET", "bigkey", &"x".repeat(10_000)]);
    let mut pipeliner = named(&server, "multicommands");
    let mut batch = Vec::new();
    for i in 0..15 {
        let i = i.to_string();
        batch.extend(encode(&[b"SET", i.as_bytes(), i.as_bytes()]));
        batch.extend(encode(&[b"GET", i.as_bytes()]));
        batch.extend(encode(&[b"DEL", i.as_bytes()]));
        batch.extend(encode(&[b"GET", b"bigkey"]));
    }
    pipeliner.send(&batch);
    assert_eq!(read_to_close(&mut pipeliner), b"");
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn a_transaction_runs_to_its_end_even_when_its_reply_passes_the_limit() {
    let server = Server::start_with(&["--client-output-buffer-limit", "normal 100000 0 0"]);
    let mut admin = server.raw();
    let item = "x".repeat(1000);
    for _ in 0..150 {
        admin.cmd(&["LPUSH", "mylist2", &item]);
    }
    let mut tx = server.raw();
    assert_eq!(tx.cmd(&["SET", "k1", "v1"]), "+OK\r\n");
    assert_eq!(tx.cmd(&["MULTI"]), "+OK\r\n");
    for args in [
        &["SET", "k2", "v2"][..],
        &["GET", "k2"],
        &["LRANGE", "mylist2", "0", "-1"],
        &["SET", "k3", "v3"],
        &["DEL", "k1"],
    ] {
        assert_eq!(tx.cmd(args), "+QUEUED\r\n");
    }
    tx.send_cmd(&[b"EXEC"]);
    assert_eq!(read_to_close(&mut tx), b"");
    assert_eq!(admin.cmd(&["GET", "k1"]), "$-1\r\n");
    assert_eq!(admin.cmd(&["GET", "k2"]), "$2\r\nv2\r\n");
    assert_eq!(admin.cmd(&["GET", "k3"]), "$2\r\nv3\r\n");
}

#[test]
fn random_picks_with_a_huge_negative_count_stop_at_the_limit() {
    let server = Server::start_with(&["--client-output-buffer-limit", "normal 1000000 0 0"]);
    let mut admin = server.raw();
    admin.cmd(&["HSET", "myhash", "a", "b"]);
    admin.cmd(&["SADD", "myset", "a"]);
    admin.cmd(&["ZADD", "myzset", "1", "a"]);
    let before = used_memory(&mut admin);
    for args in [
        &["HRANDFIELD", "myhash", "-999999999"][..],
        &["HRANDFIELD", "myhash", "-999999999", "WITHVALUES"],
        &["SRANDMEMBER", "myset", "-999999999"],
        &["ZRANDMEMBER", "myzset", "-999999999"],
        &["ZRANDMEMBER", "myzset", "-999999999", "WITHSCORES"],
    ] {
        let mut raw = server.raw();
        raw.writer
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        raw.send_cmd(&args);
        // The reply header may have gone out with the first part; the rest never does.
        assert!(read_to_close(&mut raw).len() < 2 * 1_000_000, "{args:?}");
    }
    assert!(used_memory(&mut admin) < before + 8 * MB);
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn an_unauthenticated_client_that_does_not_read_is_capped() {
    // The normal class is unlimited (Redis's default): only the unauthenticated cap applies.
    let server = Server::start_with(&["--requirepass", "secret"]);
    let mut admin = server.raw();
    assert_eq!(admin.cmd(&["AUTH", "secret"]), "+OK\r\n");
    let before = used_memory(&mut admin);

    // A few commands, read one by one: small errors, the connection stays.
    let mut polite = server.raw();
    for _ in 0..3 {
        assert!(polite.cmd(&["GET", "x"]).starts_with("-NOAUTH"));
    }

    // Thousands of pipelined commands whose -NOAUTH replies are never read.
    let mut flooder = server.raw();
    let flood = encode(&[b"GET", b"x"]).repeat(5000);
    let _ = std::io::Write::write_all(&mut flooder.writer, &flood);
    let replies = read_to_close(&mut flooder);
    assert!(
        replies.len() < 64 * 1024,
        "{} bytes of replies",
        replies.len()
    );
    assert!(
        server
            .log_text()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "{}",
        server.log_text()
    );
    assert!(used_memory(&mut admin) < before + 4 * MB);
    assert!(polite.cmd(&["GET", "x"]).starts_with("-NOAUTH"));

    // Authenticated first, the same pipeline is answered in full.
    let mut authed = server.raw();
    let mut batch = encode(&[b"AUTH", b"secret"]);
    batch.extend(encode(&[b"GET", b"x"]).repeat(5000));
    authed.send(&batch);
    assert_eq!(authed.read_reply(), b"+OK\r\n");
    for _ in 0..5000 {
        assert_eq!(authed.read_reply(), b"$-1\r\n");
    }
}

/// Whether `KEYS pattern` on `server` lists `key` (a generous timeout: it must not hang).
fn keys_match(raw: &mut Raw, pattern: &[u8]) -> Vec<u8> {
    raw.writer
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    raw.send_cmd(&[b"KEYS", pattern]);
    raw.read_reply()
}

#[test]
fn abusive_glob_patterns_are_cut_short() {
    let server = Server::start();
    let mut raw = server.raw();
    let key = "a".repeat(50_000);
    assert_eq!(raw.cmd(&["SET", &key, "1"]), "+OK\r\n");
    let pattern = "*?".repeat(50_000);
    // Redis's regression test for CVE-2024-31228: past 1000 nested stars nothing matches.
    assert_eq!(keys_match(&mut raw, pattern.as_bytes()), b"*0\r\n");
    raw.writer
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    raw.send_cmd(&[
        b"SCAN",
        b"0",
        b"MATCH",
        pattern.as_bytes(),
        b"COUNT",
        b"100",
    ]);
    assert_eq!(raw.read_reply(), b"*2\r\n$1\r\n0\r\n*0\r\n");
    raw.cmd(&["HSET", "h", &key, "1"]);
    raw.send_cmd(&[b"HSCAN", b"h", b"0", b"MATCH", pattern.as_bytes()]);
    assert_eq!(raw.read_reply(), b"*2\r\n$1\r\n0\r\n*0\r\n");
    // Within the nesting limit the same shape matches.
    let shallow = "*?".repeat(1000);
    let expected = format!("*1\r\n${}\r\n{key}\r\n", key.len());
    assert_eq!(
        keys_match(&mut raw, shallow.as_bytes()),
        expected.as_bytes()
    );
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
}

/// The items of a RESP2 array of bulk strings.
fn bulk_items(reply: &[u8]) -> Vec<Vec<u8>> {
    let line_end =
        |from: usize| from + reply[from..].windows(2).position(|w| w == b"\r\n").unwrap();
    assert_eq!(reply[0], b'*', "{}", String::from_utf8_lossy(reply));
    let mut at = line_end(0);
    let count: usize = std::str::from_utf8(&reply[1..at]).unwrap().parse().unwrap();
    at += 2;
    let mut items = Vec::new();
    for _ in 0..count {
        let end = line_end(at);
        let len: usize = std::str::from_utf8(&reply[at + 1..end])
            .unwrap()
            .parse()
            .unwrap();
        items.push(reply[end + 2..end + 2 + len].to_vec());
        at = end + 2 + len + 2;
    }
    items
}

#[test]
fn tricky_glob_patterns_match_as_in_redis() {
    let Some(redis) = require_program("redis-server", "tricky_glob_patterns_match_as_in_redis")
    else {
        return;
    };
    let redis = RedisServer::start(&redis, &["--save", "", "--appendonly", "no"]);
    let kopi = Server::start();
    let keys: Vec<Vec<u8>> = [
        &b"hello"[..],
        b"hallo",
        b"hxllo",
        b"hllo",
        b"heeeello",
        b"a*b",
        b"a?b",
        b"a[b",
        b"a]b",
        b"a\\b",
        b"a-b",
        b"^x",
        b"",
        b"ABC",
        b"abc",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b"\x00\xff",
        b"x]",
        b"-",
    ]
    .iter()
    .map(|k| k.to_vec())
    .collect();
    let patterns: Vec<&[u8]> = vec![
        b"*",
        b"h?llo",
        b"h*llo",
        b"h[ae]llo",
        b"h[^e]llo",
        b"h[a-b]llo",
        b"h[b-a]llo",
        b"h[^a-e]llo",
        b"a\\*b",
        b"a\\?b",
        b"a[*]b",
        b"a[\\]]b",
        b"a]b",
        b"a[]]b",
        b"a[",
        b"a[b",
        b"a[b-",
        b"a[-]b",
        b"a[\\",
        b"a\\",
        b"a\\\\b",
        b"[^]",
        b"[^",
        b"[]",
        b"[",
        b"^*",
        b"\\^x",
        b"**",
        b"*?*",
        b"?",
        b"???",
        b"*[]",
        b"x[]]",
        b"[a-]*",
        b"[-a]*",
        b"*\\",
        b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
        b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a",
        b"A?C",
        b"\x00*",
        b"*\xff",
        b"[\x00-\xff]*",
    ];
    let mut r = redis.raw();
    let mut k = kopi.raw();
    for key in &keys {
        r.send_cmd(&[b"SET", key, b"1"]);
        assert_eq!(r.read_reply(), b"+OK\r\n");
        k.send_cmd(&[b"SET", key, b"1"]);
        assert_eq!(k.read_reply(), b"+OK\r\n");
    }
    let sorted = |reply: Vec<u8>| {
        let mut items = bulk_items(&reply);
        items.sort();
        items
    };
    // CONFIG GET answers names and values; the values (dir, port, ...) differ by design.
    let names = |reply: Vec<u8>| {
        let mut names: Vec<Vec<u8>> = bulk_items(&reply).into_iter().step_by(2).collect();
        names.sort();
        names
    };
    for pattern in patterns {
        let from_redis = sorted(keys_match(&mut r, pattern));
        let from_kopi = sorted(keys_match(&mut k, pattern));
        assert_eq!(
            from_kopi,
            from_redis,
            "KEYS {:?}",
            String::from_utf8_lossy(pattern)
        );
        // The same matcher serves CONFIG GET (without case).
        r.send_cmd(&[b"CONFIG", b"GET", pattern]);
        k.send_cmd(&[b"CONFIG", b"GET", pattern]);
        assert_eq!(
            names(k.read_reply()),
            names(r.read_reply()),
            "CONFIG GET {:?}",
            String::from_utf8_lossy(pattern)
        );
    }
}

/// Input that piles up while a command blocks counts against `client-query-buffer-limit`
/// too: the client is closed once it passes it, as Redis closes it.
#[test]
fn input_sent_behind_a_blocked_command_is_bounded_by_the_query_buffer_limit() {
    let server = Server::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]),
        "+OK\r\n"
    );
    let mut blocked = server.raw();
    blocked.send(&encode(&[b"BLPOP", b"nokey", b"0"]));
    wait_for("the client to block", Duration::from_secs(10), || {
        info_field(&mut admin, "blocked_clients") == "1"
    });
    // A request that never ends: its bulk is declared bigger than what is sent.
    let mut request = b"*2\r\n$3\r\nSET\r\n$100000000\r\n".to_vec();
    request.resize(request.len() + (2 << 20), b'x');
    // The server may close while the bytes are still going: a failed write is fine.
    let _ = std::io::Write::write_all(&mut blocked.writer, &request);
    // Closed with input unread: an end of file, or a reset.
    let mut byte = [0u8; 1];
    let read = blocked.reader.read(&mut byte);
    assert!(
        matches!(&read, Ok(0))
            || matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the blocked client was closed: {read:?}"
    );
    wait_for("the blocked count", Duration::from_secs(10), || {
        info_field(&mut admin, "blocked_clients") == "0"
    });
    assert!(
        server
            .log_text()
            .contains("Closing client that reached max query buffer length"),
        "{}",
        server.log_text()
    );
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}
