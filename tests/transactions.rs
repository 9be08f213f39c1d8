//! MULTI / EXEC / DISCARD / WATCH / UNWATCH, with Redis 7.0's semantics and texts.

mod common;
use common::Server;

#[test]
fn exec_runs_the_queue_and_returns_every_reply() {
    let server = Server::start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", "missing"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*3\r\n+OK\r\n$1\r\n1\r\n$-1\r\n");
}

#[test]
fn queue_time_errors_abort_the_transaction() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["MULTI"]);
    assert_eq!(c.cmd(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["NOPE"]),
        "-ERR unknown command 'NOPE', with args beginning with: \r\n"
    );
    assert_eq!(
        c.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(
        c.cmd(&["GET", "a"]),
        "$-1\r\n",
        "nothing of an aborted transaction runs"
    );
}

#[test]
fn run_time_errors_do_not_stop_the_other_commands() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "x"]);
    c.cmd(&["SET", "b", "1", "EX", "0"]);
    c.cmd(&["GET", "a"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*3\r\n+OK\r\n-ERR invalid expire time in 'set' command\r\n$1\r\nx\r\n"
    );
}

#[test]
fn misuse_texts() {
    let server = Server::start();
    let mut c = server.raw();
    assert_eq!(c.cmd(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(c.cmd(&["DISCARD"]), "-ERR DISCARD without MULTI\r\n");
    c.cmd(&["MULTI"]);
    assert_eq!(c.cmd(&["MULTI"]), "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(
        c.cmd(&["WATCH", "x"]),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*1\r\n+OK\r\n",
        "neither nested MULTI nor WATCH abort it"
    );
}

#[test]
fn discard_drops_the_queue() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "a", "1"]);
    assert_eq!(c.cmd(&["DISCARD"]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), "$-1\r\n");
}

#[test]
fn a_watched_key_changed_by_another_client_fails_exec() {
    let server = Server::start();
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["SET", "w", "1"]);
    assert_eq!(c.cmd(&["WATCH", "w"]), "+OK\r\n");
    other.cmd(&["SET", "w", "2"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "w", "3"]);
    assert_eq!(c.cmd(&["EXEC"]), "*-1\r\n");
    assert_eq!(c.cmd(&["GET", "w"]), "$1\r\n2\r\n");
}

#[test]
fn exec_succeeds_when_watched_keys_are_untouched_and_unwatches_after() {
    let server = Server::start();
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["WATCH", "w", "v"]);
    other.cmd(&["SET", "unrelated", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "w", "mine"]);
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+OK\r\n");
    // After EXEC nothing is watched any more.
    other.cmd(&["SET", "w", "theirs"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "w"]);
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n$6\r\ntheirs\r\n");
}

#[test]
fn unwatch_and_discard_forget_the_watched_keys() {
    let server = Server::start();
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["WATCH", "w"]);
    assert_eq!(c.cmd(&["UNWATCH"]), "+OK\r\n");
    other.cmd(&["SET", "w", "x"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+PONG\r\n");

    c.cmd(&["WATCH", "w"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["DISCARD"]);
    other.cmd(&["SET", "w", "y"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+PONG\r\n");
}

#[test]
fn watch_remembers_the_db_of_the_key() {
    let server = Server::start();
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["WATCH", "k"]);
    other.cmd(&["SET", "k", "db0"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*1\r\n+PONG\r\n",
        "a change in db 0 is not a change in db 3"
    );

    c.cmd(&["WATCH", "k"]);
    c.cmd(&["SELECT", "0"]);
    other.cmd(&["SELECT", "3"]);
    other.cmd(&["SET", "k", "db3"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), "*-1\r\n");
}

#[test]
fn a_watched_key_that_expires_fails_exec() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["SET", "e", "1", "PX", "50"]);
    c.cmd(&["WATCH", "e"]);
    std::thread::sleep(std::time::Duration::from_millis(120));
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), "*-1\r\n");
}

#[test]
fn watching_an_already_expired_key_and_its_deletion_do_not_fail_exec() {
    let server = Server::start();
    let mut c = server.raw();
    c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    c.cmd(&["SET", "stale", "1", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    c.cmd(&["WATCH", "stale"]);
    let mut other = server.raw();
    other.cmd(&["DEL", "stale"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+PONG\r\n");
}

#[test]
fn flushall_touches_watched_keys_that_exist() {
    let server = Server::start();
    let mut c = server.raw();
    let mut other = server.raw();
    c.cmd(&["SET", "x", "1"]);
    c.cmd(&["WATCH", "x"]);
    other.cmd(&["FLUSHALL"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(c.cmd(&["EXEC"]), "*-1\r\n");

    c.cmd(&["WATCH", "absent"]);
    other.cmd(&["FLUSHALL"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["PING"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*1\r\n+PONG\r\n",
        "FLUSHALL does not touch keys that did not exist"
    );
}

#[test]
fn swapdb_touches_watched_keys_that_exist_in_either_db() {
    let server = Server::start();
    let mut c = server.raw();
    let mut other = server.raw();
    other.cmd(&["SELECT", "1"]);
    other.cmd(&["SET", "x", "in-db1"]);
    c.cmd(&["WATCH", "x"]);
    other.cmd(&["SWAPDB", "0", "1"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["GET", "x"]);
    assert_eq!(c.cmd(&["EXEC"]), "*-1\r\n");
}

#[test]
fn a_blocked_pipeline_inside_multi_is_atomic_for_other_clients() {
    let server = Server::start();
    let mut c = server.raw();
    let mut queued = Vec::new();
    queued.extend_from_slice(&common::encode(&[b"MULTI"]));
    for i in 0..100 {
        queued.extend_from_slice(&common::encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    queued.extend_from_slice(&common::encode(&[b"EXEC"]));
    c.send(&queued);
    let mut other = server.raw();
    // The other client sees either none or all of the keys.
    let seen = other.cmd(&["EXISTS", "k0", "k99"]);
    assert!(seen == ":0\r\n" || seen == ":2\r\n", "{seen}");
    for _ in 0..102 {
        c.read_reply();
    }
    assert_eq!(other.cmd(&["EXISTS", "k0", "k99"]), ":2\r\n");
}
