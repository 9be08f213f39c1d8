//! Protocol edge cases, compared byte for byte with what Redis 7.0 sends.

mod common;
use common::Server;

#[test]
fn pipelined_requests_get_replies_in_order() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$1\r\n1\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
}

#[test]
fn inline_commands_with_quotes() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"SET k \"hello world\"\r\nGET k\r\n\r\nECHO 'it\\'s'\n");
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    assert_eq!(raw.read_reply(), b"$11\r\nhello world\r\n");
    assert_eq!(raw.read_reply(), b"$4\r\nit's\r\n");
}

fn protocol_error_closes(input: &[u8], expected: &[u8]) {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(input);
    assert_eq!(
        raw.read_reply(),
        expected,
        "reply to {:?}",
        String::from_utf8_lossy(input)
    );
    assert!(
        raw.closed(),
        "connection must be closed after a protocol error"
    );
}

#[test]
fn protocol_errors_are_redis_texts_and_close_the_connection() {
    protocol_error_closes(
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    protocol_error_closes(
        b"*1\r\n$x\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    protocol_error_closes(
        b"*1\r\nfoo\r\n",
        b"-ERR Protocol error: expected '$', got 'f'\r\n",
    );
    protocol_error_closes(
        b"SET \"a\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    protocol_error_closes(
        &vec![b'x'; 70_000],
        b"-ERR Protocol error: too big inline request\r\n",
    );
}

#[test]
fn commands_before_a_protocol_error_still_run() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"PING\r\n*1\r\n$-5\r\n");
    assert_eq!(raw.read_reply(), b"+PONG\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(raw.closed());
}

#[test]
fn bulk_longer_than_proto_max_bulk_len_is_refused() {
    let server = Server::start_with(&["--proto-max-bulk-len", "1mb"]);
    let mut raw = server.raw();
    raw.send(b"*2\r\n$3\r\nGET\r\n$2000000\r\n");
    assert_eq!(
        raw.read_reply(),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
}

#[test]
fn a_declared_huge_request_reserves_no_memory_and_keeps_the_server_alive() {
    let server = Server::start();
    let mut raw = server.raw();
    raw.send(b"*2147483647\r\n$536870912\r\nab");
    let mut other = server.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn unknown_command_and_wrong_arity_texts() {
    let server = Server::start();
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["FOO", "a", "b"]),
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        raw.cmd(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
}
