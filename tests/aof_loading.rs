//! The loading state while the AOF is replayed at start-up: clients are accepted, commands
//! without the `loading` flag get `-LOADING`, INFO shows the progress, `key-load-delay` slows
//! the replay down, and a shutdown meanwhile exits cleanly.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, Server};

const LOADING: &str = "-LOADING Redis is loading the dataset in memory\r\n";
const BASE: &str = "appendonlydir/appendonly.aof.1.base.aof";
const INCR: &str = "appendonlydir/appendonly.aof.1.incr.aof";

/// A test-owned directory, removed at the end.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    common::encode(&args)
}

/// An AOF directory as Redis 7.0 lays it out: a RESP base with `keys` keys in db 0
/// (`key:N` = `value:N`), and an incr file that sets `incr-key` in db 2, then `tail`.
/// Returns the directory and the size of both files together.
fn aof_dir(keys: usize, tail: &[u8]) -> (Dir, u64) {
    let d = Dir(common::fresh_dir());
    std::fs::create_dir_all(d.0.join("appendonlydir")).unwrap();
    let mut base = resp(&["SELECT", "0"]);
    for i in 0..keys {
        base.extend(resp(&["SET", &format!("key:{i}"), &format!("value:{i}")]));
    }
    let mut incr = resp(&["SELECT", "2"]);
    incr.extend(resp(&["SET", "incr-key", "from-incr"]));
    incr.extend_from_slice(tail);
    std::fs::write(d.0.join(BASE), &base).unwrap();
    std::fs::write(d.0.join(INCR), &incr).unwrap();
    std::fs::write(
        d.0.join("appendonlydir/appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let total = (base.len() + incr.len()) as u64;
    (d, total)
}

/// Starts kopi on `dir` with the AOF on and returns as soon as it accepts connections,
/// without waiting for the load to end.
fn start_loading(dir: &Path, extra: &[&str]) -> Server {
    let port = common::free_port();
    let log = dir.join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_kopi-server"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes"])
        .args(extra)
        .current_dir(dir)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start kopi-server");
    let mut server = Server {
        port,
        child,
        dir: dir.to_path_buf(),
        log,
        keep_dir: true,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            matches!(server.child.try_wait(), Ok(None)),
            "kopi-server exited: {}",
            server.log_text()
        );
        assert!(Instant::now() < deadline, "kopi-server does not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    server
}

/// The `field:value` lines of an INFO reply, in order.
fn fields(info: &str) -> Vec<(String, String)> {
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(info: &str, name: &str) -> Option<String> {
    fields(info)
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Polls INFO persistence until `loading:0`.
fn wait_loaded(raw: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while field(&raw.cmd(&["INFO", "persistence"]), "loading").as_deref() != Some("0") {
        assert!(Instant::now() < deadline, "loading never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exit(server: &mut Server) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// 20 ms per replayed command: thousands of commands keep the server loading for as long as
/// the test needs, until it sets `key-load-delay` to 0.
const SLOW: &[&str] = &["--key-load-delay", "20000"];

#[test]
fn commands_without_the_loading_flag_get_loading_meanwhile() {
    let (d, total) = aof_dir(3000, b"");
    let server = start_loading(&d.0, SLOW);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), LOADING, "PING has no loading flag");
    assert_eq!(raw.cmd(&["SET", "a", "1"]), LOADING);
    assert_eq!(raw.cmd(&["GET", "key:1"]), LOADING);
    assert_eq!(raw.cmd(&["DBSIZE"]), LOADING);
    assert_eq!(raw.cmd(&["EXISTS", "key:1"]), LOADING);
    // Commands with the flag run.
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "key-load-delay"]),
        "*2\r\n$14\r\nkey-load-delay\r\n$5\r\n20000\r\n"
    );
    assert_eq!(raw.cmd(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["ECHO", "x"]), "$1\r\nx\r\n");
    assert_eq!(raw.cmd(&["CLIENT", "SETNAME", "c"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["WATCH", "key:1"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["UNWATCH"]), "+OK\r\n");
    // Inside MULTI the refusal comes before queueing and dooms the transaction.
    assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", "a", "1"]), LOADING);
    assert_eq!(raw.cmd(&["ECHO", "queued"]), "+QUEUED\r\n");
    assert_eq!(
        raw.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["ECHO", "queued"]), "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["EXEC"]), "*1\r\n$6\r\nqueued\r\n");

    // INFO persistence: loading:1, the AOF not on yet, the progress fields last (once the
    // loader has read its manifest and started replaying: a busy machine may delay it).
    let mut info = raw.cmd(&["INFO", "persistence"]);
    for _ in 0..500 {
        if field(&info, "loading_loaded_bytes").is_some_and(|b| b != "0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        info = raw.cmd(&["INFO", "persistence"]);
    }
    let all = fields(&info);
    assert_eq!(all[0], ("loading".into(), "1".into()), "{info}");
    assert_eq!(all[1], ("async_loading".into(), "0".into()), "{info}");
    assert_eq!(field(&info, "aof_enabled").as_deref(), Some("0"), "{info}");
    assert_eq!(field(&info, "aof_current_size").as_deref(), Some("0"));
    let names: Vec<&str> = all[all.len() - 6..].iter().map(|(k, _)| &k[..]).collect();
    assert_eq!(
        names,
        [
            "loading_start_time",
            "loading_total_bytes",
            "loading_rdb_used_mem",
            "loading_loaded_bytes",
            "loading_loaded_perc",
            "loading_eta_seconds"
        ],
        "{info}"
    );
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start: i64 = field(&info, "loading_start_time").unwrap().parse().unwrap();
    assert!((now_s - 30..=now_s).contains(&start), "{info}");
    assert_eq!(field(&info, "loading_total_bytes"), Some(total.to_string()));
    assert_eq!(field(&info, "loading_rdb_used_mem").as_deref(), Some("0"));
    let loaded: u64 = field(&info, "loading_loaded_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(loaded > 0 && loaded < total, "{info}");
    let perc = field(&info, "loading_loaded_perc").unwrap();
    assert_eq!(
        perc,
        format!("{:.2}", loaded as f64 / total as f64 * 100.0),
        "{info}"
    );
    let eta: i64 = field(&info, "loading_eta_seconds")
        .unwrap()
        .parse()
        .unwrap();
    assert!(eta >= 0, "{info}");
    // The keyspace shows what is loaded so far.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !raw.cmd(&["INFO", "keyspace"]).contains("db0:keys=") {
        assert!(Instant::now() < deadline, "no key loaded yet");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Refusals count as Redis counts them; the replay itself counts nowhere.
    let errors = raw.cmd(&["INFO", "errorstats"]);
    assert!(errors.contains("errorstat_LOADING:count=6\r\n"), "{errors}");
    let commandstats = raw.cmd(&["INFO", "commandstats"]);
    assert!(
        commandstats.contains(
            "cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,failed_calls=0\r\n"
        ),
        "{commandstats}"
    );
    assert!(
        commandstats.contains("cmdstat_select:calls=2,"),
        "only the client's SELECTs: {commandstats}"
    );
    assert!(
        !server.log_text().contains("Ready to accept connections"),
        "not ready while loading"
    );

    // Hurry the rest: the load ends, everything is there, and commands run again.
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "key-load-delay", "0"]),
        "+OK\r\n"
    );
    wait_loaded(&mut raw);
    let info = raw.cmd(&["INFO", "persistence"]);
    assert!(!info.contains("loading_"), "{info}");
    assert_eq!(field(&info, "aof_enabled").as_deref(), Some("1"), "{info}");
    assert_eq!(
        field(&info, "rdb_changes_since_last_save").as_deref(),
        Some("0")
    );
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":3000\r\n");
    assert_eq!(raw.cmd(&["GET", "key:2999"]), "$10\r\nvalue:2999\r\n");
    assert_eq!(raw.cmd(&["SELECT", "2"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["GET", "incr-key"]), "$9\r\nfrom-incr\r\n");
    let commandstats = raw.cmd(&["INFO", "commandstats"]);
    assert!(
        commandstats.contains("cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,"),
        "the clients' counts survive the end of loading: {commandstats}"
    );
    assert!(server.log_text().contains("Ready to accept connections"));
    // The writer runs: a write lands in the incr file.
    assert_eq!(raw.cmd(&["SET", "after", "load"]), "+OK\r\n");
    let incr = std::fs::read(d.0.join(INCR)).unwrap();
    assert!(incr.ends_with(&resp(&["SET", "after", "load"])));
}

#[test]
fn exec_runs_while_loading_when_every_queued_command_has_the_flag() {
    let (d, _) = aof_dir(2000, b"");
    let server = start_loading(&d.0, SLOW);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["INFO", "server"]), "+QUEUED\r\n");
    let exec = raw.cmd(&["EXEC"]);
    assert!(exec.starts_with("*1\r\n$"), "{exec}");
}

#[test]
fn monitor_does_not_see_the_replay() {
    let (d, _) = aof_dir(2000, b"");
    let server = start_loading(&d.0, SLOW);
    let mut monitor = server.raw();
    assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "key-load-delay", "0"]),
        "+OK\r\n"
    );
    wait_loaded(&mut raw);
    assert_eq!(raw.cmd(&["SET", "seen", "1"]), "+OK\r\n");
    // MONITOR shows the client's commands, none of the replayed ones.
    loop {
        let line = String::from_utf8(monitor.read_reply()).unwrap();
        assert!(!line.contains("key:"), "{line}");
        if line.ends_with("\"SET\" \"seen\" \"1\"\r\n") {
            break;
        }
        assert!(line.contains("\"INFO\" \"persistence\""), "{line}");
    }
}

#[test]
fn sigterm_while_loading_exits_cleanly_and_changes_nothing() {
    let (d, _) = aof_dir(2000, b"");
    let base = std::fs::read(d.0.join(BASE)).unwrap();
    let incr = std::fs::read(d.0.join(INCR)).unwrap();
    let mut server = start_loading(&d.0, SLOW);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["SET", "k", "v"]), LOADING);
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    let status = wait_exit(&mut server);
    assert_eq!(status.code(), Some(0));
    let log = server.log_text();
    assert!(
        log.contains(") Received shutdown signal during loading, scheduling shutdown."),
        "{log}"
    );
    assert!(log.contains("User requested shutdown..."), "{log}");
    assert!(log.contains("ready to exit, bye bye..."), "{log}");
    assert!(!log.contains("Ready to accept connections"), "{log}");
    assert!(!log.contains("Calling fsync() on the AOF file."), "{log}");
    assert_eq!(std::fs::read(d.0.join(BASE)).unwrap(), base);
    assert_eq!(std::fs::read(d.0.join(INCR)).unwrap(), incr);
    drop(server);

    // The next start loads it all.
    let server = Server::start_in(&d.0, &["--appendonly", "yes"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), ":2000\r\n");
}

#[test]
fn shutdown_while_loading_exits_without_a_reply() {
    let (d, _) = aof_dir(2000, b"");
    let incr = std::fs::read(d.0.join(INCR)).unwrap();
    let mut server = start_loading(&d.0, &["--key-load-delay", "20000", "--save", "3600 1"]);
    let mut raw = server.raw();
    raw.send(&resp(&["SHUTDOWN"]));
    assert!(raw.closed(), "no reply, the connection closes");
    assert_eq!(wait_exit(&mut server).code(), Some(0));
    let log = server.log_text();
    assert!(log.contains("User requested shutdown..."), "{log}");
    assert!(
        !log.contains("no RDB snapshot"),
        "nothing is saved while loading: {log}"
    );
    assert_eq!(std::fs::read(d.0.join(INCR)).unwrap(), incr);
}

#[test]
fn a_failed_load_exits_and_never_serves() {
    // Corruption after the incr's commands: found only once everything before it replayed.
    let (d, _) = aof_dir(500, b"+garbage\r\n");
    let mut server = start_loading(&d.0, SLOW);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["GET", "key:1"]), LOADING);
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "key-load-delay", "0"]),
        "+OK\r\n"
    );
    assert_eq!(wait_exit(&mut server).code(), Some(1));
    assert!(raw.closed(), "the client is dropped, never served");
    let log = server.log_text();
    assert!(
        log.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof"),
        "{log}"
    );
    assert!(!log.contains("Ready to accept connections"), "{log}");
}

#[test]
fn key_load_delay_is_a_hidden_parameter_acted_on() {
    let (d, _) = aof_dir(10, b"");
    let server = Server::start_in(&d.0, &["--appendonly", "yes", "--key-load-delay", "-5"]);
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), ":10\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "key-load-delay"]),
        "*2\r\n$14\r\nkey-load-delay\r\n$2\r\n-5\r\n"
    );
    assert!(
        !server.log_text().contains("'key-load-delay' is accepted"),
        "no 'has no effect' warning"
    );
}

/// The same requests to Redis 7.0 and to kopi, each loading the same AOF slowly: the same
/// replies, the same INFO persistence fields in the same order, the same error counts.
#[test]
fn replies_while_loading_match_redis() {
    let Some(redis) = common::require_program("redis-server", "replies_while_loading_match_redis")
    else {
        return;
    };
    // Redis serves its clients every 1024 commands: a small delay keeps it responsive.
    let delay = ["--key-load-delay", "50"];
    let (kd, total) = aof_dir(200_000, b"");
    let (rd, _) = aof_dir(200_000, b"");
    let kopi = start_loading(&kd.0, &delay);
    let mut redis_args = vec!["--appendonly", "yes", "--save", ""];
    redis_args.extend(delay);
    let port = common::free_port();
    let mut redis = common::RedisServer::spawn(&redis, &rd.0, port, &redis_args);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server does not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut k = kopi.raw();
    let mut r = redis.raw();
    let requests: &[&[&str]] = &[
        &["PING"],
        &["SET", "a", "1"],
        &["GET", "key:1"],
        &["DBSIZE"],
        &["TYPE", "key:1"],
        &["CONFIG", "GET", "key-load-delay"],
        &["SELECT", "1"],
        &["SELECT", "0"],
        &["ECHO", "x"],
        &["WATCH", "key:1"],
        &["UNWATCH"],
        &["MULTI"],
        &["SET", "a", "1"],
        &["PING"],
        &["EXEC"],
        &["MULTI"],
        &["ECHO", "y"],
        &["EXEC"],
        &["AUTH", "x"],
        &["INFO", "errorstats"],
    ];
    for request in requests {
        assert_eq!(k.cmd(request), r.cmd(request), "{request:?}");
    }
    let names = |info: &str| -> Vec<String> { fields(info).into_iter().map(|(k, _)| k).collect() };
    let kopi_info = k.cmd(&["INFO", "persistence"]);
    let redis_info = r.cmd(&["INFO", "persistence"]);
    assert_eq!(
        names(&kopi_info),
        names(&redis_info),
        "{kopi_info}\n{redis_info}"
    );
    for name in [
        "loading",
        "async_loading",
        "aof_enabled",
        "loading_total_bytes",
    ] {
        assert_eq!(field(&kopi_info, name), field(&redis_info, name), "{name}");
    }
    assert_eq!(
        field(&kopi_info, "loading_total_bytes"),
        Some(total.to_string())
    );
    for raw in [&mut k, &mut r] {
        assert_eq!(
            raw.cmd(&["CONFIG", "SET", "key-load-delay", "0"]),
            "+OK\r\n"
        );
        wait_loaded(raw);
        assert_eq!(raw.cmd(&["DBSIZE"]), ":200000\r\n");
    }
    redis.stop();
}
