//! The strings family, reply bytes compared with what Redis 7.0 sends.

mod common;

use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Raw, Server};

const OK: &str = "+OK\r\n";
const NIL: &str = "$-1\r\n";
const EMPTY: &str = "$0\r\n\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const OVERFLOW: &str = "-ERR increment or decrement would overflow\r\n";
const TOO_BIG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Runs each `(command, expected reply)` in order on `raw`.
fn expect(raw: &mut Raw, steps: &[(&[&str], &str)]) {
    for (args, reply) in steps {
        assert_eq!(raw.cmd(args), *reply, "{args:?}");
    }
}

#[test]
fn get_and_set() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["GET", "k"], NIL),
            (&["SET", "k", "hello"], OK),
            (&["GET", "k"], &bulk("hello")),
            (&["SET", "k", "12"], OK),
            (&["GET", "k"], &bulk("12")),
            (&["SET", "k", ""], OK),
            (&["GET", "k"], EMPTY),
            (&["SET", "bin", "a\0b\r\nc"], OK),
            (&["GET", "bin"], "$6\r\na\0b\r\nc\r\n"),
            (&["set", "k", "v", "nx", "get"], &bulk("")),
            (&["GET", "k"], EMPTY),
            (
                &["SET", "k"],
                "-ERR wrong number of arguments for 'set' command\r\n",
            ),
            (
                &["GET", "k", "x"],
                "-ERR wrong number of arguments for 'get' command\r\n",
            ),
        ],
    );
}

#[test]
fn set_option_rules() {
    let server = Server::start();
    let mut r = server.raw();
    let invalid = "-ERR invalid expire time in 'set' command\r\n";
    expect(
        &mut r,
        &[
            (&["SET", "k", "v", "EX", "0"], invalid),
            (&["SET", "k", "v", "EX", "-1"], invalid),
            (&["SET", "k", "v", "PX", "0"], invalid),
            (&["SET", "k", "v", "EXAT", "0"], invalid),
            (&["SET", "k", "v", "PXAT", "-5"], invalid),
            (&["SET", "k", "v", "EX", "9223372036854775"], invalid),
            (&["SET", "k", "v", "EX", "9223372036854774"], invalid),
            (&["SET", "k", "v", "PX", "9223372036854775807"], invalid),
            (&["SET", "k", "v", "EX", "abc"], NOT_INTEGER),
            (&["SET", "k", "v", "EX", "1.5"], NOT_INTEGER),
            (&["SET", "k", "v", "NX", "XX"], SYNTAX),
            (&["SET", "k", "v", "xx", "nx"], SYNTAX),
            (&["SET", "k", "v", "EX", "10", "PX", "10"], SYNTAX),
            (&["SET", "k", "v", "EX", "10", "KEEPTTL"], SYNTAX),
            (&["SET", "k", "v", "KEEPTTL", "PXAT", "10"], SYNTAX),
            (&["SET", "k", "v", "EX"], SYNTAX),
            (&["SET", "k", "v", "PERSIST"], SYNTAX),
            (&["SET", "k", "v", "foo"], SYNTAX),
            // A syntax error is found before a bad expire value.
            (&["SET", "k", "v", "EX", "0", "foo"], SYNTAX),
            (&["GET", "k"], NIL),
            // The same option twice is accepted, as are far-future absolute times.
            (&["SET", "k", "v", "EX", "10", "EX", "20"], OK),
            (&["SET", "k", "v", "KEEPTTL", "keepttl"], OK),
            (&["SET", "k", "v", "NX", "nx"], NIL),
            (&["SET", "k", "v2", "GET", "GET"], &bulk("v")),
            (&["SET", "k", "v", "PXAT", "9223372036854775807"], OK),
            (&["SET", "k", "v", "EXAT", "9223372036854775"], OK),
            // Option words end at a NUL byte, as C strings do.
            (&["SET", "k", "v", "nx\0ignored"], NIL),
        ],
    );
}

#[test]
fn set_nx_xx_get() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["SET", "k", "v", "XX"], NIL),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["SET", "k", "v", "XX", "GET"], NIL),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["SET", "k", "v1", "NX"], OK),
            (&["SET", "k", "v2", "NX"], NIL),
            (&["GET", "k"], &bulk("v1")),
            (&["SET", "k", "v3", "XX"], OK),
            (&["SET", "k", "v4", "NX", "GET"], &bulk("v3")),
            (&["GET", "k"], &bulk("v3")),
            (&["SET", "k", "v5", "XX", "GET"], &bulk("v3")),
            (&["SET", "new", "v", "NX", "GET"], NIL),
            (&["GET", "new"], &bulk("v")),
            (&["SET", "k", "v6", "GET"], &bulk("v5")),
            (&["GET", "k"], &bulk("v6")),
        ],
    );
}

#[test]
fn setnx_setex_psetex() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["SETNX", "k", "a"], ":1\r\n"),
            (&["SETNX", "k", "b"], ":0\r\n"),
            (&["GET", "k"], &bulk("a")),
            (&["SETEX", "k", "100", "b"], OK),
            (&["GET", "k"], &bulk("b")),
            (&["PSETEX", "k", "100000", "c"], OK),
            (&["GET", "k"], &bulk("c")),
            (
                &["SETEX", "k", "0", "v"],
                "-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                &["SETEX", "k", "-5", "v"],
                "-ERR invalid expire time in 'setex' command\r\n",
            ),
            (
                &["PSETEX", "k", "0", "v"],
                "-ERR invalid expire time in 'psetex' command\r\n",
            ),
            (&["SETEX", "k", "abc", "v"], NOT_INTEGER),
            (&["GET", "k"], &bulk("c")),
            (
                &["SETEX", "k", "1"],
                "-ERR wrong number of arguments for 'setex' command\r\n",
            ),
        ],
    );
}

/// Expiry is observed by waiting: keys given 300 ms either vanish or stay.
#[test]
fn ttl_is_set_kept_or_cleared() {
    let server = Server::start();
    let mut r = server.raw();
    let past = (now_ms() - 1000).to_string();
    let soon = (now_ms() + 300).to_string();
    let soon_s = ((now_ms() + 1000) / 1000).to_string();
    expect(
        &mut r,
        &[
            // Absolute times in the past remove the key at once.
            (&["SET", "gone", "v", "PXAT", &past], OK),
            (&["EXISTS", "gone"], ":0\r\n"),
            (&["SET", "gone", "v", "EXAT", "1", "GET"], NIL),
            (&["EXISTS", "gone"], ":0\r\n"),
            (&["SET", "ex", "v", "EX", "100"], OK),
            (&["SET", "ex", "v", "PX", "300"], OK),
            (&["SET", "pxat", "v", "PXAT", &soon], OK),
            (&["SET", "exat", "v", "EXAT", &soon_s], OK),
            (&["PSETEX", "psetex", "300", "v"], OK),
            (&["SET", "keep", "v", "PX", "300"], OK),
            (&["SET", "keep", "v2", "KEEPTTL"], OK),
            (&["SET", "cleared", "v", "PX", "300"], OK),
            (&["SET", "cleared", "v2"], OK),
            (&["SET", "getset", "v", "PX", "300"], OK),
            (&["GETSET", "getset", "v2"], &bulk("v")),
            (&["SET", "mset", "v", "PX", "300"], OK),
            (&["MSET", "mset", "v2"], OK),
            (&["SET", "incr", "1", "PX", "300"], OK),
            (&["INCR", "incr"], ":2\r\n"),
            (&["SET", "float", "1", "PX", "300"], OK),
            (&["INCRBYFLOAT", "float", "1.5"], &bulk("2.5")),
            (&["SET", "append", "a", "PX", "300"], OK),
            (&["APPEND", "append", "b"], ":2\r\n"),
            (&["SET", "setrange", "abc", "PX", "300"], OK),
            (&["SETRANGE", "setrange", "1", "x"], ":3\r\n"),
            (&["SET", "persist", "v", "PX", "300"], OK),
            (&["GETEX", "persist", "PERSIST"], &bulk("v")),
            (&["SET", "getex", "v"], OK),
            (&["GETEX", "getex", "PX", "300"], &bulk("v")),
            (&["SET", "plain", "v"], OK),
            (&["GETEX", "plain"], &bulk("v")),
        ],
    );
    sleep(Duration::from_millis(1100));
    for key in [
        "ex", "pxat", "exat", "psetex", "keep", "incr", "float", "append", "setrange", "getex",
    ] {
        assert_eq!(r.cmd(&["GET", key]), NIL, "{key} should have expired");
    }
    for (key, value) in [
        ("cleared", "v2"),
        ("getset", "v2"),
        ("mset", "v2"),
        ("persist", "v"),
        ("plain", "v"),
    ] {
        assert_eq!(
            r.cmd(&["GET", key]),
            bulk(value),
            "{key} should have no TTL"
        );
    }
}

#[test]
fn getset_getdel() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["GETSET", "k", "a"], NIL),
            (&["GETSET", "k", "b"], &bulk("a")),
            (&["GET", "k"], &bulk("b")),
            (&["GETDEL", "k"], &bulk("b")),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["GETDEL", "k"], NIL),
            (&["SET", "n", "42"], OK),
            (&["GETDEL", "n"], &bulk("42")),
        ],
    );
}

#[test]
fn getex_options() {
    let server = Server::start();
    let mut r = server.raw();
    let past_s = ((now_ms() / 1000) - 10).to_string();
    expect(
        &mut r,
        &[
            (&["GETEX", "missing"], NIL),
            // A missing key is nil before its expire value is looked at...
            (&["GETEX", "missing", "EX", "0"], NIL),
            // ...but never before a syntax error.
            (&["GETEX", "missing", "KEEPTTL"], SYNTAX),
            (&["SET", "k", "v"], OK),
            (&["GETEX", "k", "KEEPTTL"], SYNTAX),
            (&["GETEX", "k", "NX"], SYNTAX),
            (&["GETEX", "k", "GET"], SYNTAX),
            (&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX),
            (&["GETEX", "k", "EX", "10", "PERSIST"], SYNTAX),
            (&["GETEX", "k", "EX", "10", "PX", "10"], SYNTAX),
            (&["GETEX", "k", "EX"], SYNTAX),
            (
                &["GETEX", "k", "EX", "0"],
                "-ERR invalid expire time in 'getex' command\r\n",
            ),
            (
                &["GETEX", "k", "PXAT", "-1"],
                "-ERR invalid expire time in 'getex' command\r\n",
            ),
            (&["GETEX", "k", "EX", "x"], NOT_INTEGER),
            (&["GETEX", "k", "PERSIST", "persist"], &bulk("v")),
            (&["GETEX", "k", "EX", "1", "ex", "100"], &bulk("v")),
            (&["GETEX", "k", "PX", "100000"], &bulk("v")),
            (&["GETEX", "k", "EXAT", "99999999999"], &bulk("v")),
            (&["GET", "k"], &bulk("v")),
            // An absolute time in the past replies the value and deletes the key.
            (&["GETEX", "k", "EXAT", &past_s], &bulk("v")),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["SET", "k", "v"], OK),
            (&["GETEX", "k", "PXAT", "1"], &bulk("v")),
            (&["EXISTS", "k"], ":0\r\n"),
            (
                &["GETEX"],
                "-ERR wrong number of arguments for 'getex' command\r\n",
            ),
        ],
    );
}

#[test]
fn mget_mset_msetnx() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["MSET", "a", "1", "b", "2", "a", "3"], OK),
            (
                &["MGET", "a", "b", "c"],
                "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$-1\r\n",
            ),
            (
                &["MSET", "a"],
                "-ERR wrong number of arguments for 'mset' command\r\n",
            ),
            (
                &["MSET", "a", "1", "b"],
                "-ERR wrong number of arguments for 'mset' command\r\n",
            ),
            (
                &["MSETNX", "x", "1", "y"],
                "-ERR wrong number of arguments for 'msetnx' command\r\n",
            ),
            (&["MSETNX", "x", "1", "a", "9"], ":0\r\n"),
            (&["EXISTS", "x"], ":0\r\n"),
            (&["GET", "a"], &bulk("3")),
            (&["MSETNX", "x", "1", "y", "2"], ":1\r\n"),
            (&["MGET", "x", "y"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
            (
                &["MGET"],
                "-ERR wrong number of arguments for 'mget' command\r\n",
            ),
        ],
    );
}

#[test]
fn incr_decr_family() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["INCR", "n"], ":1\r\n"),
            (&["INCR", "n"], ":2\r\n"),
            (&["DECR", "n"], ":1\r\n"),
            (&["INCRBY", "n", "10"], ":11\r\n"),
            (&["DECRBY", "n", "20"], ":-9\r\n"),
            (&["DECRBY", "n", "-9"], ":0\r\n"),
            (&["GET", "n"], &bulk("0")),
            (&["DECR", "fresh"], ":-1\r\n"),
            (&["INCRBY", "fresh2", "-5"], ":-5\r\n"),
            // Only canonical integers count.
            (&["SET", "s", "  1"], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", "1 "], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", "01"], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", "+1"], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", "-0"], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", "1.0"], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", "123456789012345678901"], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["SET", "s", ""], OK),
            (&["INCR", "s"], NOT_INTEGER),
            (&["GET", "s"], EMPTY),
            (&["INCRBY", "n", "abc"], NOT_INTEGER),
            (&["INCRBY", "n", "9223372036854775808"], NOT_INTEGER),
            (&["DECRBY", "n", "1e3"], NOT_INTEGER),
            // Overflow in both directions leaves the value alone.
            (&["SET", "m", "9223372036854775807"], OK),
            (&["INCR", "m"], OVERFLOW),
            (&["INCRBY", "m", "1"], OVERFLOW),
            (&["DECRBY", "m", "-1"], OVERFLOW),
            (&["GET", "m"], &bulk("9223372036854775807")),
            (&["SET", "m", "-9223372036854775808"], OK),
            (&["DECR", "m"], OVERFLOW),
            (&["INCRBY", "m", "-1"], OVERFLOW),
            (&["INCRBY", "m", "9223372036854775807"], ":-1\r\n"),
            (
                &["DECRBY", "m", "-9223372036854775808"],
                "-ERR decrement would overflow\r\n",
            ),
            (&["SET", "m", "-1"], OK),
            (&["INCRBY", "m", "-9223372036854775808"], OVERFLOW),
            (
                &["DECRBY", "m", "9223372036854775807"],
                ":-9223372036854775808\r\n",
            ),
        ],
    );
}

#[test]
fn incrbyfloat_arithmetic_and_format() {
    let server = Server::start();
    let mut r = server.raw();
    let steps: &[(&[&str], &str)] = &[
        (&["INCRBYFLOAT", "f", "0.1"], "$3\r\n0.1\r\n"),
        // Computed in extended precision as Redis does: no 0.30000000000000004.
        (&["INCRBYFLOAT", "f", "0.2"], "$3\r\n0.3\r\n"),
        (&["GET", "f"], "$3\r\n0.3\r\n"),
        (&["SET", "f", "10.50"], OK),
        (&["INCRBYFLOAT", "f", "0.1"], "$4\r\n10.6\r\n"),
        (&["INCRBYFLOAT", "f", "-5"], "$3\r\n5.6\r\n"),
        (&["SET", "f", "5.0e3"], OK),
        (&["INCRBYFLOAT", "f", "2.0e2"], "$4\r\n5200\r\n"),
        (&["SET", "f", "1e5"], OK),
        (&["INCRBYFLOAT", "f", "1"], "$6\r\n100001\r\n"),
        (&["SET", "f", "3"], OK),
        (&["INCRBYFLOAT", "f", "-3"], "$1\r\n0\r\n"),
        (
            &["INCRBYFLOAT", "f", "-0.0000000000000000001"],
            "$1\r\n0\r\n",
        ),
        (&["INCRBYFLOAT", "f", "0x1.8p1"], "$1\r\n3\r\n"),
        (&["INCRBYFLOAT", "f", ".5"], "$3\r\n3.5\r\n"),
        (&["INCRBYFLOAT", "f", "+1E1"], "$4\r\n13.5\r\n"),
        (&["SET", "f", "1.23456789012345678901234"], OK),
        (&["INCRBYFLOAT", "f", "0"], "$19\r\n1.23456789012345679\r\n"),
        // An exact tie at the 17th decimal rounds to even.
        (
            &["INCRBYFLOAT", "tie", "0.000003814697265625"],
            "$19\r\n0.00000381469726562\r\n",
        ),
        (
            &["INCRBYFLOAT", "int", "9223372036854775807"],
            "$19\r\n9223372036854775807\r\n",
        ),
        (&["INCRBYFLOAT", "tiny", "1e-4940"], "$1\r\n0\r\n"),
    ];
    expect(&mut r, steps);
    let big = r.cmd(&["INCRBYFLOAT", "big", "1e400"]);
    assert!(
        big.starts_with("$401\r\n10000000000000000000281880683947586514586453433629"),
        "{big}"
    );
}

#[test]
fn incrbyfloat_errors() {
    let server = Server::start();
    let mut r = server.raw();
    let nan_inf = "-ERR increment would produce NaN or Infinity\r\n";
    expect(
        &mut r,
        &[
            (&["SET", "f", "1"], OK),
            (&["INCRBYFLOAT", "f", "inf"], nan_inf),
            (&["INCRBYFLOAT", "f", "-Infinity"], nan_inf),
            // 1.1e4932 is finite in extended precision; twice that is not.
            (&["SET", "f", "1.1e4932"], OK),
            (&["INCRBYFLOAT", "f", "1.1e4932"], nan_inf),
            (&["SET", "f", "inf"], OK),
            (&["INCRBYFLOAT", "f", "1"], nan_inf),
            (&["SET", "f", "1"], OK),
            (&["INCRBYFLOAT", "f", "nan"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", " 1"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "1 "], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", ""], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "1e"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "0x"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "1\u{0}2"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "1e5000"], NOT_FLOAT),
            (&["INCRBYFLOAT", "f", "1e-5000"], NOT_FLOAT),
            (&["GET", "f"], &bulk("1")),
            (&["SET", "s", "abc"], OK),
            (&["INCRBYFLOAT", "s", "1"], NOT_FLOAT),
            (&["SET", "s", "1,5"], OK),
            (&["INCRBYFLOAT", "s", "1"], NOT_FLOAT),
            (&["INCRBYFLOAT", "missing", "abc"], NOT_FLOAT),
            (&["EXISTS", "missing"], ":0\r\n"),
        ],
    );
}

#[test]
fn append_and_strlen() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["STRLEN", "k"], ":0\r\n"),
            (&["APPEND", "k", "hello"], ":5\r\n"),
            (&["APPEND", "k", " world"], ":11\r\n"),
            (&["GET", "k"], &bulk("hello world")),
            (&["STRLEN", "k"], ":11\r\n"),
            (&["APPEND", "k", ""], ":11\r\n"),
            // Appending nothing to a missing key still creates it.
            (&["APPEND", "empty", ""], ":0\r\n"),
            (&["EXISTS", "empty"], ":1\r\n"),
            (&["GET", "empty"], EMPTY),
            (&["SET", "n", "12"], OK),
            (&["APPEND", "n", "3"], ":3\r\n"),
            (&["INCR", "n"], ":124\r\n"),
            (&["STRLEN", "n"], ":3\r\n"),
            (&["SET", "n", "-100"], OK),
            (&["STRLEN", "n"], ":4\r\n"),
            (&["APPEND", "bin", "\0\r\n"], ":3\r\n"),
            (&["STRLEN", "bin"], ":3\r\n"),
        ],
    );
}

#[test]
fn getrange_and_substr() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["GETRANGE", "missing", "0", "-1"], EMPTY),
            (&["GETRANGE", "missing", "x", "-1"], NOT_INTEGER),
            (&["SET", "s", "hello"], OK),
            (&["GETRANGE", "s", "0", "-1"], &bulk("hello")),
            (&["GETRANGE", "s", "1", "3"], &bulk("ell")),
            (&["GETRANGE", "s", "-3", "-1"], &bulk("llo")),
            (&["GETRANGE", "s", "-1", "-3"], EMPTY),
            (&["GETRANGE", "s", "2", "1"], EMPTY),
            (&["GETRANGE", "s", "4", "10"], &bulk("o")),
            (&["GETRANGE", "s", "5", "10"], EMPTY),
            (&["GETRANGE", "s", "-100", "100"], &bulk("hello")),
            (&["GETRANGE", "s", "-100", "-99"], &bulk("h")),
            (
                &[
                    "GETRANGE",
                    "s",
                    "-9223372036854775808",
                    "9223372036854775807",
                ],
                &bulk("hello"),
            ),
            (&["GETRANGE", "s", "0", "abc"], NOT_INTEGER),
            (&["SUBSTR", "s", "1", "2"], &bulk("el")),
            (&["SET", "n", "12345"], OK),
            (&["GETRANGE", "n", "1", "-2"], &bulk("234")),
            (&["SET", "e", ""], OK),
            (&["GETRANGE", "e", "0", "-1"], EMPTY),
            (&["GETRANGE", "e", "-1", "0"], EMPTY),
        ],
    );
}

#[test]
fn setrange_rules() {
    let server = Server::start();
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            // Nothing to write on a missing key: 0, and no key is created.
            (&["SETRANGE", "k", "0", ""], ":0\r\n"),
            (&["SETRANGE", "k", "5", ""], ":0\r\n"),
            (&["EXISTS", "k"], ":0\r\n"),
            (
                &["SETRANGE", "k", "-1", ""],
                "-ERR offset is out of range\r\n",
            ),
            (&["SETRANGE", "k", "abc", "x"], NOT_INTEGER),
            (&["SETRANGE", "k", "9223372036854775808", "x"], NOT_INTEGER),
            // Offsets beyond the end pad with zero bytes.
            (&["SETRANGE", "k", "3", "ab"], ":5\r\n"),
            (&["GET", "k"], "$5\r\n\0\0\0ab\r\n"),
            (&["SETRANGE", "k", "1", ""], ":5\r\n"),
            (&["SETRANGE", "k", "0", "xyz"], ":5\r\n"),
            (&["GET", "k"], &bulk("xyzab")),
            (&["SETRANGE", "k", "7", "!"], ":8\r\n"),
            (&["GET", "k"], "$8\r\nxyzab\0\0!\r\n"),
            (&["SET", "n", "1234"], OK),
            (&["SETRANGE", "n", "0", "9"], ":4\r\n"),
            (&["INCR", "n"], ":9235\r\n"),
            // The size check comes after the empty-value shortcut.
            (&["SETRANGE", "k", "536870912", ""], ":8\r\n"),
            (&["SETRANGE", "k", "536870912", "x"], TOO_BIG),
            (&["SETRANGE", "k", "536870911", "xx"], TOO_BIG),
            (&["SETRANGE", "new", "536870912", "x"], TOO_BIG),
            (&["SETRANGE", "k", "9223372036854775807", "x"], TOO_BIG),
            (&["EXISTS", "new"], ":0\r\n"),
        ],
    );
}

#[test]
fn size_limit_follows_proto_max_bulk_len() {
    let server = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut r = server.raw();
    expect(
        &mut r,
        &[
            (&["SETRANGE", "k", "1048575", "x"], ":1048576\r\n"),
            (&["SETRANGE", "k", "1048576", "x"], TOO_BIG),
            (&["APPEND", "k", "x"], TOO_BIG),
            (&["STRLEN", "k"], ":1048576\r\n"),
            (&["SET", "a", "abc"], OK),
            (&["APPEND", "a", "d"], ":4\r\n"),
            // LCS's table must fit the limit too: (600+1)·(600+1)·4 bytes > 1 MB.
            (&["SETRANGE", "l1", "599", "x"], ":600\r\n"),
            (&["SETRANGE", "l2", "599", "y"], ":600\r\n"),
            (
                &["LCS", "l1", "l2", "LEN"],
                "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
            ),
            (&["LCS", "a", "l1", "LEN"], ":0\r\n"),
        ],
    );
}

#[test]
fn lcs_replies() {
    let server = Server::start();
    let mut r = server.raw();
    let idx = "*4\r\n$7\r\nmatches\r\n*2\r\n\
               *2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
               *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n\
               $3\r\nlen\r\n:6\r\n";
    let idx_with_len = "*4\r\n$7\r\nmatches\r\n*2\r\n\
                        *3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                        *3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n\
                        $3\r\nlen\r\n:6\r\n";
    let idx_min4 = "*4\r\n$7\r\nmatches\r\n*1\r\n\
                    *3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
                    $3\r\nlen\r\n:6\r\n";
    expect(
        &mut r,
        &[
            (&["MSET", "k1", "ohmytext", "k2", "mynewtext"], OK),
            (&["LCS", "k1", "k2"], &bulk("mytext")),
            (&["LCS", "k1", "k2", "LEN"], ":6\r\n"),
            (&["LCS", "k1", "k2", "IDX"], idx),
            (&["LCS", "k1", "k2", "idx", "withmatchlen"], idx_with_len),
            (
                &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
                idx_min4,
            ),
            (&["LCS", "k1", "k2", "MINMATCHLEN", "-5", "IDX"], idx),
            // WITHMATCHLEN and MINMATCHLEN only shape IDX replies.
            (&["LCS", "k1", "k2", "WITHMATCHLEN"], &bulk("mytext")),
            (
                &["LCS", "k1", "k2", "LEN", "IDX"],
                "-ERR If you want both the length and indexes, please just use IDX.\r\n",
            ),
            (&["LCS", "k1", "k2", "foo"], SYNTAX),
            (&["LCS", "k1", "k2", "MINMATCHLEN"], SYNTAX),
            (&["LCS", "k1", "k2", "MINMATCHLEN", "x"], NOT_INTEGER),
            (&["LCS", "k1", "missing"], EMPTY),
            (&["LCS", "k1", "missing", "LEN"], ":0\r\n"),
            (
                &["LCS", "missing", "other", "IDX"],
                "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
            ),
            (&["SET", "n1", "12345"], OK),
            (&["SET", "n2", "2x4"], OK),
            (&["LCS", "n1", "n2"], &bulk("24")),
            (
                &["LCS", "k1"],
                "-ERR wrong number of arguments for 'lcs' command\r\n",
            ),
        ],
    );
}

/// Writes mark WATCHed keys changed exactly when Redis signals a modification.
#[test]
fn modifications_are_signalled_like_redis() {
    let server = Server::start();
    let mut watcher = server.raw();
    let mut other = server.raw();
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&["SET", "k", "v"], &["SETNX", "k", "x"], false),
        (&[], &["SETNX", "k", "x"], true),
        (&["SET", "k", "v"], &["SET", "k", "x", "NX"], false),
        (&[], &["SET", "k", "x", "XX"], false),
        (&["SET", "k", "v"], &["SET", "k", "v", "GET", "NX"], false),
        (&[], &["APPEND", "k", ""], true),
        (&["SET", "k", "v"], &["APPEND", "k", ""], true),
        (&[], &["SETRANGE", "k", "0", ""], false),
        (&["SET", "k", "v"], &["SETRANGE", "k", "0", ""], false),
        (&["SET", "k", "v"], &["SETRANGE", "k", "0", "v"], true),
        (&["SET", "k", "v"], &["GETEX", "k"], false),
        (&["SET", "k", "v"], &["GETEX", "k", "PERSIST"], false),
        (
            &["SET", "k", "v", "EX", "100"],
            &["GETEX", "k", "PERSIST"],
            true,
        ),
        (&["SET", "k", "v"], &["GETEX", "k", "EX", "100"], true),
        (&["SET", "k", "v"], &["GETEX", "k", "EXAT", "1"], true),
        (&[], &["GETDEL", "k"], false),
        (&["SET", "k", "v"], &["GETDEL", "k"], true),
        (&["SET", "k", "v"], &["MSETNX", "k", "1", "j", "2"], false),
        (&[], &["MSETNX", "k", "1", "j", "2"], true),
        (&["SET", "k", "1"], &["INCRBY", "k", "0"], true),
        (&["SET", "k", "1"], &["INCRBYFLOAT", "k", "0"], true),
        (&["SET", "k", "v"], &["INCR", "k"], false),
        (&["SET", "k", "v"], &["GETSET", "k", "v"], true),
        (&["SET", "k", "v"], &["SET", "k", "v", "PXAT", "1"], true),
        (&["SET", "k", "v"], &["LCS", "k", "k"], false),
    ];
    for (setup, op, dirty) in cases {
        other.cmd(&["DEL", "k", "j"]);
        if !setup.is_empty() {
            other.cmd(setup);
        }
        assert_eq!(watcher.cmd(&["WATCH", "k"]), OK);
        other.cmd(op);
        assert_eq!(watcher.cmd(&["MULTI"]), OK);
        assert_eq!(watcher.cmd(&["PING"]), "+QUEUED\r\n");
        let exec = watcher.cmd(&["EXEC"]);
        let expected = if *dirty { "*-1\r\n" } else { "*1\r\n+PONG\r\n" };
        assert_eq!(exec, expected, "after {setup:?}, {op:?}");
    }
}
