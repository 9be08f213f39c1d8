//! The Redis tools a new user reaches for first, run against kopi as that user would:
//! `redis-cli` (one-shot, commands on stdin, `--pipe` mass insertion, `--scan`) and
//! `redis-benchmark`. A tool missing from PATH skips its test with a loud message, or fails
//! it when `CI` is set.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, require_program};

struct Output {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program args...` with `input` on stdin; kills it and fails after `limit`.
fn run(program: &Path, args: &[&str], input: &[u8], limit: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the tool") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let out = out_reader.join().unwrap_or_default();
            panic!(
                "{} {args:?} did not finish within {limit:?}; its output so far:\n{}",
                program.display(),
                String::from_utf8_lossy(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status: status.code(),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

fn cli(program: &Path, server: &Server, args: &[&str], input: &[u8]) -> Output {
    let port = server.port.to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    run(program, &all, input, LIMIT)
}

/// One-shot redis-cli with a command: its output, after checking it exited cleanly.
fn cli_ok(program: &Path, server: &Server, args: &[&str]) -> String {
    let out = cli(program, server, args, b"");
    assert_eq!(
        out.status,
        Some(0),
        "redis-cli {args:?} failed: {}{}",
        out.stdout,
        out.stderr
    );
    out.stdout
}

#[test]
fn redis_cli_one_shot_commands() {
    let Some(cli_path) = require_program("redis-cli", "redis_cli_one_shot_commands") else {
        return;
    };
    let server = Server::start();
    assert_eq!(cli_ok(&cli_path, &server, &["ping"]), "PONG\n");
    assert_eq!(
        cli_ok(&cli_path, &server, &["set", "greeting", "hello world"]),
        "OK\n"
    );
    assert_eq!(
        cli_ok(&cli_path, &server, &["get", "greeting"]),
        "hello world\n"
    );
    // nil prints as an empty line when stdout is not a terminal.
    assert_eq!(cli_ok(&cli_path, &server, &["get", "missing"]), "\n");
    assert_eq!(
        cli_ok(&cli_path, &server, &["exists", "greeting", "missing"]),
        "1\n"
    );
    assert_eq!(
        cli_ok(&cli_path, &server, &["-n", "3", "set", "k", "in db 3"]),
        "OK\n"
    );
    assert_eq!(
        cli_ok(&cli_path, &server, &["-n", "3", "get", "k"]),
        "in db 3\n"
    );
    assert_eq!(cli_ok(&cli_path, &server, &["get", "k"]), "\n");
    assert_eq!(cli_ok(&cli_path, &server, &["dbsize"]), "1\n");
    let out = cli(&cli_path, &server, &["nosuchcommand", "x"], b"");
    assert_eq!(
        out.stdout,
        "ERR unknown command 'nosuchcommand', with args beginning with: 'x' \n\n"
    );
}

/// redis-cli without a command reads commands from stdin, one per line, with quoting.
#[test]
fn redis_cli_reads_commands_from_stdin() {
    let Some(cli_path) = require_program("redis-cli", "redis_cli_reads_commands_from_stdin") else {
        return;
    };
    let server = Server::start();
    let script = b"set a 1\n\
        get a\n\
        foo bar\n\
        get nope\n\
        ping\n\
        set \"a b\" \"hello world\"\n\
        get \"a b\"\n\
        echo 'single quoted'\n\
        exists a nope \"a b\"\n\
        select 2\n\
        get a\n\
        select 0\n\
        del a \"a b\"\n\
        dbsize\n";
    let out = cli(&cli_path, &server, &[], script);
    assert_eq!(out.status, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        out.stdout,
        "OK\n\
         1\n\
         ERR unknown command 'foo', with args beginning with: 'bar' \n\n\
         \n\
         PONG\n\
         OK\n\
         hello world\n\
         single quoted\n\
         2\n\
         OK\n\
         \n\
         OK\n\
         2\n\
         0\n"
    );
}

/// `redis-cli --pipe`: the mass-insertion protocol stream, then its summary line.
#[test]
fn redis_cli_pipe_mass_insertion() {
    let Some(cli_path) = require_program("redis-cli", "redis_cli_pipe_mass_insertion") else {
        return;
    };
    let server = Server::start();
    const N: usize = 20_000;
    let mut input = Vec::new();
    for i in 0..N {
        let key = format!("key:{i}");
        let value = format!("value-{}", i * 7);
        input.extend(common::encode(&[b"SET", key.as_bytes(), value.as_bytes()]));
    }
    let out = cli(&cli_path, &server, &["--pipe"], &input);
    assert_eq!(
        out.status,
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("All data transferred"),
        "stdout: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("errors: 0, replies: {N}")),
        "stdout: {}",
        out.stdout
    );
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["DBSIZE"]), format!(":{N}\r\n"));
    assert_eq!(raw.cmd(&["GET", "key:12345"]), "$11\r\nvalue-86415\r\n");
}

/// `--pipe` counts error replies in its summary and exits non-zero.
#[test]
fn redis_cli_pipe_reports_errors() {
    let Some(cli_path) = require_program("redis-cli", "redis_cli_pipe_reports_errors") else {
        return;
    };
    let server = Server::start();
    let mut input = Vec::new();
    input.extend(common::encode(&[b"SET", b"a", b"1"]));
    input.extend(common::encode(&[b"NOSUCHCOMMAND", b"a"]));
    input.extend(common::encode(&[b"GET", b"a", b"extra"]));
    input.extend(common::encode(&[b"SET", b"b", b"2"]));
    let out = cli(&cli_path, &server, &["--pipe"], &input);
    assert!(
        out.stdout.contains("errors: 2, replies: 4"),
        "stdout: {}",
        out.stdout
    );
    assert_ne!(out.status, Some(0));
}

/// `redis-cli --scan` (and `--pattern`): every key exactly once.
#[test]
fn redis_cli_scan() {
    let Some(cli_path) = require_program("redis-cli", "redis_cli_scan") else {
        return;
    };
    let server = Server::start();
    let mut raw = server.raw();
    let mut users = Vec::new();
    let mut all = Vec::new();
    for i in 0..300 {
        let key = if i % 3 == 0 {
            format!("user:{i}")
        } else {
            format!("session:{i}")
        };
        assert_eq!(raw.cmd(&["SET", &key, "x"]), "+OK\r\n");
        if key.starts_with("user:") {
            users.push(key.clone());
        }
        all.push(key);
    }
    all.sort();
    users.sort();
    let lines = |s: String| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(lines(cli_ok(&cli_path, &server, &["--scan"])), all);
    assert_eq!(
        lines(cli_ok(
            &cli_path,
            &server,
            &["--scan", "--pattern", "user:*"]
        )),
        users
    );
    assert_eq!(
        lines(cli_ok(
            &cli_path,
            &server,
            &["--scan", "--pattern", "nothing:*"]
        )),
        Vec::<String>::new()
    );
}

/// `redis-benchmark -q` on the usual tests: every test reports, no errors, no warnings.
#[test]
fn redis_benchmark_runs_clean() {
    let Some(bench) = require_program("redis-benchmark", "redis_benchmark_runs_clean") else {
        return;
    };
    let server = Server::start();
    let port = server.port.to_string();
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "ping_inline,ping_mbulk,set,get,incr,mset",
        "-n",
        "2000",
        "-q",
    ];
    let out = run(&bench, &args, b"", Duration::from_secs(120));
    // -q rewrites a progress line with \r; the final results end in \n.
    let text = format!("{}\n{}", out.stdout, out.stderr).replace('\r', "\n");
    assert_eq!(out.status, Some(0), "redis-benchmark failed:\n{text}");
    assert!(!text.contains("Error"), "errors reported:\n{text}");
    assert!(!text.contains("WARNING"), "warnings reported:\n{text}");
    for test in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "MSET (10 keys)",
    ] {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{test}: ")) && l.contains("requests per second"));
        assert!(line.is_some(), "no result line for {test}:\n{text}");
    }
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["EXISTS", "key:__rand_int__"]), ":1\r\n");
}
