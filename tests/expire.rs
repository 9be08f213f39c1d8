//! The expiry family, compared byte for byte with what Redis 7.0 sends.

mod common;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Raw, Server};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The integer of an integer reply.
fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
}

fn fresh(raw: &mut Raw, key: &str) {
    assert_eq!(raw.cmd(&["SET", key, "v"]), "+OK\r\n");
}

#[test]
fn expire_and_ttl_in_both_units() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100"]), ":1\r\n");
    assert_eq!(raw.cmd(&["TTL", "k"]), ":100\r\n");
    let pttl = int(&raw.cmd(&["PTTL", "k"]));
    assert!((99_000..=100_000).contains(&pttl), "pttl {pttl}");
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "5500"]), ":1\r\n");
    // Seconds are rounded to the nearest: 5.5 s left shows as 6 (or 5 a moment later).
    let ttl = raw.cmd(&["TTL", "k"]);
    assert!(ttl == ":6\r\n" || ttl == ":5\r\n", "ttl {ttl:?}");
    assert_eq!(raw.cmd(&["EXPIRE", "missing", "100"]), ":0\r\n");
}

#[test]
fn ttl_of_missing_and_persistent_keys() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(raw.cmd(&[cmd, "missing"]), ":-2\r\n", "{cmd}");
        assert_eq!(raw.cmd(&[cmd, "k"]), ":-1\r\n", "{cmd}");
        assert_eq!(
            raw.cmd(&[cmd]),
            format!(
                "-ERR wrong number of arguments for '{}' command\r\n",
                cmd.to_lowercase()
            )
        );
    }
}

#[test]
fn expireat_and_expiretime_are_absolute() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    assert_eq!(raw.cmd(&["EXPIREAT", "k", "4102444800"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXPIRETIME", "k"]), ":4102444800\r\n");
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k"]), ":4102444800000\r\n");
    // EXPIRETIME rounds milliseconds to the nearest second.
    assert_eq!(raw.cmd(&["PEXPIREAT", "k", "4102444800499"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXPIRETIME", "k"]), ":4102444800\r\n");
    assert_eq!(raw.cmd(&["PEXPIREAT", "k", "4102444800500"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXPIRETIME", "k"]), ":4102444801\r\n");
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k"]), ":4102444800500\r\n");
    // The largest deadline is accepted and reported without overflow.
    assert_eq!(
        raw.cmd(&["PEXPIREAT", "k", "9223372036854775807"]),
        ":1\r\n"
    );
    assert_eq!(raw.cmd(&["EXPIRETIME", "k"]), ":9223372036854776\r\n");
    assert_eq!(raw.cmd(&["PEXPIRETIME", "k"]), ":9223372036854775807\r\n");
    let ttl = int(&raw.cmd(&["PTTL", "k"]));
    assert!(ttl > 9_223_370_000_000_000_000, "pttl {ttl}");
}

#[test]
fn relative_deadlines_become_absolute() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    let before = now_ms();
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "100000"]), ":1\r\n");
    let after = now_ms();
    let deadline = int(&raw.cmd(&["PEXPIRETIME", "k"]));
    assert!(
        (before + 100_000..=after + 100_000).contains(&deadline),
        "deadline {deadline} not in [{before}, {after}] + 100000"
    );
}

#[test]
fn a_deadline_in_the_past_deletes_the_key() {
    let server = Server::start();
    let mut raw = server.raw();
    for args in [
        &["EXPIRE", "k", "0"][..],
        &["EXPIRE", "k", "-10"],
        &["PEXPIRE", "k", "-9223372036854775808"],
        &["EXPIREAT", "k", "1"],
        &["PEXPIREAT", "k", "0"],
        &["EXPIRE", "k", "-9223372036854775"],
    ] {
        fresh(&mut raw, "k");
        assert_eq!(raw.cmd(args), ":1\r\n", "{args:?}");
        assert_eq!(raw.cmd(&["EXISTS", "k"]), ":0\r\n", "{args:?}");
        assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n", "{args:?}");
    }
}

#[test]
fn nx_xx_gt_lt_conditions() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    // No deadline yet: XX and GT refuse (no deadline is infinite), NX and LT accept.
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "XX"]), ":0\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "GT"]), ":0\r\n");
    assert_eq!(raw.cmd(&["TTL", "k"]), ":-1\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100", "nx"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "200", "NX"]), ":0\r\n");
    assert_eq!(raw.cmd(&["TTL", "k"]), ":100\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "50", "GT"]), ":0\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "200", "gt"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "300", "LT"]), ":0\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "50", "lt", "xx"]), ":1\r\n");
    assert_eq!(raw.cmd(&["TTL", "k"]), ":50\r\n");
    // Repeated options are allowed.
    assert_eq!(raw.cmd(&["EXPIRE", "k", "60", "XX", "xx", "GT"]), ":1\r\n");
    assert_eq!(raw.cmd(&["PERSIST", "k"]), ":1\r\n");
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "1000", "LT"]), ":1\r\n");
    assert_eq!(raw.cmd(&["PEXPIREAT", "k", "1", "NX"]), ":0\r\n");
    // A refused condition leaves an existing key alone even with a past deadline.
    assert_eq!(raw.cmd(&["PEXPIREAT", "k", "1", "GT"]), ":0\r\n");
    assert_eq!(raw.cmd(&["EXISTS", "k"]), ":1\r\n");
}

#[test]
fn option_errors_are_redis_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    let nx_conflict = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    let gt_lt = "-ERR GT and LT options at the same time are not compatible\r\n";
    let cases: &[(&[&str], &str)] = &[
        (&["EXPIRE", "k", "100", "NX", "XX"], nx_conflict),
        (&["PEXPIRE", "k", "100", "GT", "NX"], nx_conflict),
        (&["EXPIREAT", "k", "100", "nx", "lt"], nx_conflict),
        (&["PEXPIREAT", "k", "100", "GT", "LT"], gt_lt),
        (&["EXPIRE", "k", "100", "LT", "LT", "GT"], gt_lt),
        (
            &["EXPIRE", "k", "100", "foo"],
            "-ERR Unsupported option foo\r\n",
        ),
        // Options are checked before the time.
        (
            &["EXPIRE", "k", "abc", "foo"],
            "-ERR Unsupported option foo\r\n",
        ),
        (
            &["EXPIRE", "k", "100", "a\r\nb"],
            "-ERR Unsupported option a  b\r\n",
        ),
        (
            &["EXPIRE", "k", "abc"],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["EXPIRE", "k", "1 "],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["EXPIRE", "k"],
            "-ERR wrong number of arguments for 'expire' command\r\n",
        ),
        (
            &["PERSIST"],
            "-ERR wrong number of arguments for 'persist' command\r\n",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(raw.cmd(args), *expected, "{args:?}");
    }
    assert_eq!(raw.cmd(&["TTL", "k"]), ":-1\r\n");
}

#[test]
fn overflowing_times_are_rejected() {
    let server = Server::start();
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    let cases: &[(&[&str], &str)] = &[
        (&["EXPIRE", "k", "9223372036854775807"], "expire"),
        (&["EXPIRE", "k", "9223372036854775"], "expire"),
        (&["EXPIRE", "k", "-9223372036854775808"], "expire"),
        (&["PEXPIRE", "k", "9223372036854775807"], "pexpire"),
        (&["PEXPIRE", "k", "9223372036854775000"], "pexpire"),
        (&["EXPIREAT", "k", "9223372036854776"], "expireat"),
        (&["EXPIREAT", "k", "-9223372036854776"], "expireat"),
    ];
    for (args, name) in cases {
        assert_eq!(
            raw.cmd(args),
            format!("-ERR invalid expire time in '{name}' command\r\n"),
            "{args:?}"
        );
    }
    assert_eq!(raw.cmd(&["TTL", "k"]), ":-1\r\n");
    // The boundary values that fit are accepted.
    assert_eq!(raw.cmd(&["EXPIREAT", "k", "9223372036854775"]), ":1\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "9223372036854"]), ":1\r\n");
}

#[test]
fn persist_removes_the_deadline() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PERSIST", "missing"]), ":0\r\n");
    fresh(&mut raw, "k");
    assert_eq!(raw.cmd(&["PERSIST", "k"]), ":0\r\n");
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "50"]), ":1\r\n");
    assert_eq!(raw.cmd(&["PERSIST", "k"]), ":1\r\n");
    assert_eq!(raw.cmd(&["TTL", "k"]), ":-1\r\n");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(raw.cmd(&["GET", "k"]), "$1\r\nv\r\n");
}

#[test]
fn expired_keys_are_gone_on_access() {
    let server = Server::start_with(&["--hz", "1"]);
    let mut raw = server.raw();
    fresh(&mut raw, "k");
    assert_eq!(raw.cmd(&["PEXPIRE", "k", "30"]), ":1\r\n");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(raw.cmd(&["TTL", "k"]), ":-2\r\n");
    assert_eq!(raw.cmd(&["PTTL", "k"]), ":-2\r\n");
    assert_eq!(raw.cmd(&["GET", "k"]), "$-1\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k", "100"]), ":0\r\n");
    assert_eq!(raw.cmd(&["PERSIST", "k"]), ":0\r\n");
}

#[test]
fn the_active_cycle_removes_keys_nobody_touches() {
    let server = Server::start();
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..500 {
        let key = format!("short:{i}");
        batch.extend(common::encode(&[
            b"SET",
            key.as_bytes(),
            b"v",
            b"PX",
            b"100",
        ]));
    }
    raw.send(&batch);
    for _ in 0..500 {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
    }
    fresh(&mut raw, "long-lived");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":501\r\n");
    // Only DBSIZE from here on: it counts stored keys and expires nothing itself.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if raw.cmd(&["DBSIZE"]) == ":1\r\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expired keys still stored after 2 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(raw.cmd(&["GET", "long-lived"]), "$1\r\nv\r\n");
}
