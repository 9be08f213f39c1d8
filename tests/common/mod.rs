//! Test support: start the real `kopi-server` binary on a free loopback port, talk to it with
//! the `redis` crate or raw RESP bytes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    pub child: Child,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// The directory belongs to the test ([`Server::start_in`]): not removed on drop.
    pub keep_dir: bool,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts `kopi-server --port P --bind 127.0.0.1 --dir D <extra...>` in a fresh directory.
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = fresh_dir();
        let mut server = Server::start_in(&dir, extra);
        server.keep_dir = false;
        server
    }

    /// Starts the server in `dir` (which the test owns and removes): for restarts on the
    /// same data.
    pub fn start_in(dir: &std::path::Path, extra: &[&str]) -> Server {
        let dir = dir.to_path_buf();
        for _attempt in 0..5 {
            let port = free_port();
            let log = dir.join("server.log");
            let mut args: Vec<String> = vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--dir".into(),
                dir.display().to_string(),
            ];
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(env!("CARGO_BIN_EXE_kopi-server"))
                .args(&args)
                .current_dir(&dir)
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start kopi-server");
            let mut server = Server {
                port,
                child,
                dir: dir.clone(),
                log,
                keep_dir: true,
            };
            if server.wait_ready() {
                return server;
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        panic!("kopi-server did not start");
    }

    /// Ready means this server said so in its log and accepts connections: a free port can
    /// be taken by another test between `free_port` and the bind, and then the server exits.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let log = self.log_text();
                if log.contains("Ready to accept connections") {
                    return true;
                }
                // Initialized but not ready: the AOF is loading (clients would get -LOADING).
                if log.contains("Server initialized") {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                // A quieter loglevel or another log file: alive a moment later is enough.
                std::thread::sleep(Duration::from_millis(50));
                if !log.contains("Failed listening") && matches!(self.child.try_wait(), Ok(None)) {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap()
    }

    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().unwrap()
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A new empty directory under the temp dir.
pub fn fresh_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kopi-test-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    N.fetch_add(1, Ordering::Relaxed) * 1_000_000_000 + nanos
}

/// A real `redis-server` this test started on a free loopback port: `--port P --bind 127.0.0.1
/// --daemonize no --dir D --logfile L` after the caller's `extra` (so `extra` may begin with a
/// config file). Killed, by its own pid, on drop.
pub struct RedisServer {
    pub port: u16,
    pub dir: PathBuf,
    pub child: Child,
    pub log: PathBuf,
    /// The directory belongs to the test ([`RedisServer::start_in`]): not removed on drop.
    pub keep_dir: bool,
}

impl RedisServer {
    /// Starts it in a fresh directory, removed on drop; panics with its log if it refuses.
    pub fn start(program: &Path, extra: &[&str]) -> RedisServer {
        let dir = fresh_dir();
        match RedisServer::try_start_in(program, &dir, extra) {
            Ok(mut server) => {
                server.keep_dir = false;
                server
            }
            Err(log) => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!("redis-server refused to start:\n{log}");
            }
        }
    }

    /// Starts it in `dir` (which the test owns: kept on drop); panics with its log if it
    /// refuses.
    pub fn start_in(program: &Path, dir: &Path, extra: &[&str]) -> RedisServer {
        RedisServer::try_start_in(program, dir, extra)
            .unwrap_or_else(|log| panic!("redis-server refused to start:\n{log}"))
    }

    /// Starts it in `dir` and waits until it is ready: `Err` with its log if it exited first.
    /// A port another process took first is retried on another one.
    pub fn try_start_in(program: &Path, dir: &Path, extra: &[&str]) -> Result<RedisServer, String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut server = RedisServer::spawn(program, dir, free_port(), extra);
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(log) if log.contains("Address already in use") && attempt < 5 => continue,
                Err(log) => return Err(log),
            }
        }
    }

    /// Starts it in `dir` on `port` (0: no TCP listener) without waiting for anything.
    pub fn spawn(program: &Path, dir: &Path, port: u16, extra: &[&str]) -> RedisServer {
        let log = dir.join(format!("redis-{port}-{}.log", unique()));
        let child = Command::new(program)
            .args(extra)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        RedisServer {
            port,
            dir: dir.to_path_buf(),
            child,
            log,
            keep_dir: true,
        }
    }

    /// Ready: it logged so and answers PING with PONG. `Err` with its log if it exited.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(self.log_text());
            }
            let log = self.log_text();
            if log.contains("Ready to accept connections") && self.pong() {
                return Ok(());
            }
            assert!(Instant::now() < deadline, "redis-server hangs:\n{log}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn pong(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A raw RESP connection: send bytes, read whole replies as bytes.
pub struct Raw {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Sends a command as a RESP array of bulk strings.
    pub fn send_cmd(&mut self, args: &[&[u8]]) {
        self.send(&encode(args));
    }

    /// Sends a command and returns its whole reply, raw.
    pub fn cmd(&mut self, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_cmd(&args);
        String::from_utf8_lossy(&self.read_reply()).into_owned()
    }

    /// Reads one complete RESP2/RESP3 reply and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        read_value(&mut self.reader, &mut out).expect("read reply");
        out
    }

    /// True if the server closed the connection (reads EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one RESP value from `r`, appending its raw bytes to `out`.
pub fn read_value(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "eof",
        ));
    }
    out.extend_from_slice(&line);
    let body = std::str::from_utf8(&line[1..line.len().saturating_sub(2)])
        .unwrap_or("")
        .to_string();
    match line[0] {
        b'$' | b'=' | b'!' => {
            let n: i64 = body.parse().unwrap_or(-1);
            if n >= 0 {
                let mut data = vec![0u8; n as usize + 2];
                r.read_exact(&mut data)?;
                out.extend_from_slice(&data);
            }
        }
        b'*' | b'~' | b'>' => {
            let n: i64 = body.parse().unwrap_or(-1);
            for _ in 0..n.max(0) {
                read_value(r, out)?;
            }
        }
        b'%' | b'|' => {
            let n: i64 = body.parse().unwrap_or(-1);
            for _ in 0..n.max(0) * 2 {
                read_value(r, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The path of `name` on `PATH`, if it is there and executable.
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// The external program a test compares kopi with (`redis-server`, `redis-cli`, ...).
///
/// Missing on a developer machine: the test says so loudly on stderr and is skipped (`None`).
/// Missing where `CI` is set: the test fails, since CI must run it.
pub fn require_program(name: &str, test: &str) -> Option<PathBuf> {
    if let Some(path) = find_program(name) {
        return Some(path);
    }
    let hint = "install it with `apt-get install redis-server redis-tools` or run .ci/run";
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {name} not found on PATH and CI is set, so this test must run; {hint}");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing tests.
    let line = "*".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{line}\nSKIPPED: {name} not found on PATH; {test} did not run ({hint})\n{line}\n"
    );
    None
}

/// The commands of the last incr file of the AOF in `dir` (annotations left out), each as its
/// arguments.
pub fn incr_file_commands(dir: &std::path::Path) -> Vec<Vec<String>> {
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    let name = manifest
        .lines()
        .find(|l| l.contains("type i"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("an incr file")
        .to_string();
    let bytes = std::fs::read(dir.join("appendonlydir").join(name)).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut lines = text.split("\r\n").filter(|l| !l.starts_with('#'));
    let mut out = Vec::new();
    while let Some(header) = lines.next() {
        let Some(n) = header.strip_prefix('*') else {
            continue;
        };
        let n: usize = n.parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            lines.next();
            args.push(lines.next().unwrap().to_string());
        }
        out.push(args);
    }
    out
}
