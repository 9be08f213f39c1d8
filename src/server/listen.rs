//! Start-up: banner, listeners (`bind`, `port`, `unixsocket`), pidfile, signals, shutdown.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{Signal, SignalKind};

use super::connection::{Peer, is_local_ip, serve};
use super::{Server, log};

/// Runs the server until SHUTDOWN or SIGTERM/SIGINT. Returns the process exit code.
pub async fn run(server: Arc<Server>) -> i32 {
    let config = server.config.read().clone();
    let port = config.get_i64("port") as u16;
    let pid = std::process::id();
    // Handled from the start, so a signal during start-up is a clean shutdown too.
    let mut sigterm = signal(SignalKind::terminate());
    let mut sigint = signal(SignalKind::interrupt());
    print_banner(&server, port, pid);
    if let Err(message) = server.load_users_at_startup() {
        log::warning(&message);
        return 1;
    }

    for param in &config.given {
        let Some(p) = super::config::find_param(param) else {
            continue;
        };
        if p.flags & super::config::IMPLEMENTED == 0 {
            log::warning(&format!(
                "Config option '{}' is accepted and shown by CONFIG GET but has no effect in kopi yet",
                p.name
            ));
        }
    }
    let mut tcp_listeners = Vec::new();
    if port != 0 {
        let backlog = config.get_i64("tcp-backlog").clamp(1, u32::MAX as i64) as u32;
        for addr in config.get("bind").split(' ').filter(|a| !a.is_empty()) {
            match bind_tcp(addr, port, backlog) {
                Ok(listener) => tcp_listeners.push(listener),
                Err(BindError { message, fatal }) => {
                    let shown = addr.trim_start_matches('-');
                    log::warning(&format!(
                        "Warning: Could not create server TCP listening socket {shown}:{port}: {message}"
                    ));
                    if fatal {
                        log::warning(&format!("Failed listening on port {port} (TCP), aborting."));
                        return 1;
                    }
                }
            }
        }
    }
    if let Some(first) = tcp_listeners.first() {
        server.port.store(
            first.local_addr().map(|a| a.port() as usize).unwrap_or(0),
            Ordering::Relaxed,
        );
    }
    let unix_path = config.get("unixsocket").to_string();
    let mut unix_listener = None;
    if !unix_path.is_empty() {
        let perm = u32::from_str_radix(config.get("unixsocketperm"), 8).unwrap_or(0);
        match bind_unix(&unix_path, perm) {
            Ok(listener) => unix_listener = Some(listener),
            Err(message) => {
                log::warning(&format!("Failed opening Unix socket: {message}"));
                return 1;
            }
        }
    }
    if tcp_listeners.is_empty() && unix_listener.is_none() {
        log::warning("Configured to not listen anywhere, exiting.");
        return 1;
    }

    let pidfile = config.get("pidfile").to_string();
    if !pidfile.is_empty() {
        let _ = std::fs::write(&pidfile, format!("{pid}\n"));
    }

    log::notice("Server initialized");
    // The AOF loads on a thread of its own while the listeners accept: until it is loaded and
    // its writer runs, commands without the `loading` flag get -LOADING (no write can slip in
    // before the writer records it).
    // Without AOF, `dump.rdb` loads the same way.
    let appendonly = config.get_bool("appendonly");
    let load = appendonly || crate::persistence::snapshot::dump_path(&server).is_file();
    if load {
        server.loading.begin(crate::util::now_ms() / 1000);
    }
    let listening_tcp = !tcp_listeners.is_empty();
    for listener in tcp_listeners {
        tokio::spawn(accept_tcp(server.clone(), listener));
    }
    let listening_unix = unix_listener.is_some();
    if let Some(listener) = unix_listener {
        tokio::spawn(accept_unix(server.clone(), listener, unix_path.clone()));
    }
    let mut stopped_while_loading = false;
    if load {
        match load_data(&server, appendonly, &mut sigterm, &mut sigint).await {
            Loaded::Ready => server.loading.finish(),
            Loaded::Failed(message) => {
                log::warning(&message);
                return 1;
            }
            Loaded::Stopped => stopped_while_loading = true,
        }
    }
    if !stopped_while_loading {
        tokio::spawn(super::cron(server.clone()));
        tokio::spawn(clients_cron(server.clone()));
        if listening_tcp {
            log::notice("Ready to accept connections");
        }
        if listening_unix {
            log::notice(&format!(
                "The server is now ready to accept connections at {unix_path}"
            ));
        }
        loop {
            let signalled = tokio::select! {
                _ = recv_signal(&mut sigterm) => {
                    signal_log("Received SIGTERM scheduling shutdown...");
                    true
                }
                _ = recv_signal(&mut sigint) => {
                    signal_log("Received SIGINT scheduling shutdown...");
                    true
                }
                _ = server.shutdown.notified() => false,
            };
            if !signalled || final_save(&server) {
                break;
            }
            log::warning(
                "SIGTERM received but errors trying to shut down the server, check the logs for more information",
            );
        }
    }
    server.shutdown_requested.store(true, Ordering::SeqCst);
    log::warning("User requested shutdown...");
    // A BGSAVE stops at its next step on the shutdown flag and removes its temp file.
    let waiting = std::time::Instant::now();
    while server.rdb.in_progress() && waiting.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    if !pidfile.is_empty() {
        log::notice("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    if !unix_path.is_empty() {
        log::notice("Removing the unix socket file.");
        if let Err(e) = std::fs::remove_file(&unix_path) {
            log::warning(&format!(
                "Error removing the unix socket file: {}",
                strerror(&e)
            ));
        }
    }
    if let Some(aof) = server.aof() {
        log::notice("Calling fsync() on the AOF file.");
        aof.shutdown();
    }
    log::warning("kopi is now ready to exit, bye bye...");
    0
}

/// How loading the AOF at start-up ended.
enum Loaded {
    /// Loaded, and the writer runs.
    Ready,
    /// The start is refused: the log line saying why.
    Failed(String),
    /// A signal or SHUTDOWN came first; the loader has stopped.
    Stopped,
}

/// A signal's shutdown saves the dataset first when `save` points are set (SHUTDOWN made its
/// own decision). False when that save failed: the server keeps running, as Redis does.
fn final_save(server: &Server) -> bool {
    if server.final_save_done.load(Ordering::SeqCst)
        || server.config.read().get("save").trim().is_empty()
    {
        return true;
    }
    log::notice("Saving the final RDB snapshot before exiting.");
    let mut state = server.state.lock();
    match crate::persistence::snapshot::save(server, &mut state) {
        Ok(()) => true,
        Err(_) => {
            log::warning("Error trying to save the DB, can't exit.");
            false
        }
    }
}

/// Prepares the AOF directory, loads it and starts the writer (or, with `appendonly no`,
/// loads `dump.rdb`), on a thread of its own, while the accept loops serve clients
/// (`-LOADING`). A shutdown (signal or SHUTDOWN) meanwhile stops the loader at its next
/// checkpoint and waits for it: nothing is written to the AOF directory after that, and the
/// writer never starts.
async fn load_data(
    server: &Arc<Server>,
    appendonly: bool,
    sigterm: &mut Option<Signal>,
    sigint: &mut Option<Signal>,
) -> Loaded {
    let (done, mut outcome) = tokio::sync::oneshot::channel();
    let loader = server.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-load".into())
        .spawn(move || {
            let _ = done.send(if appendonly {
                crate::persistence::aof::open_at_start(&loader)
            } else {
                crate::persistence::snapshot::load_at_start(&loader)
            });
        });
    if let Err(e) = spawned {
        return Loaded::Failed(format!("Can't start loading the AOF: {}", strerror(&e)));
    }
    let signalled = tokio::select! {
        result = &mut outcome => {
            return match result {
                Ok(Ok(())) => Loaded::Ready,
                Ok(Err(message)) => Loaded::Failed(message),
                Err(_) => Loaded::Failed("Loading the dataset failed unexpectedly".into()),
            };
        }
        _ = recv_signal(sigterm) => true,
        _ = recv_signal(sigint) => true,
        _ = server.shutdown.notified() => false,
    };
    if signalled {
        signal_log("Received shutdown signal during loading, scheduling shutdown.");
    }
    server.shutdown_requested.store(true, Ordering::SeqCst);
    server.loading.request_stop();
    // The loader notices at its next checkpoint; if it finished first, its writer is shut
    // down with the rest.
    let _ = outcome.await;
    Loaded::Stopped
}

fn signal(kind: SignalKind) -> Option<Signal> {
    tokio::signal::unix::signal(kind).ok()
}

async fn recv_signal(signal: &mut Option<Signal>) {
    match signal.as_mut() {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Redis's signal handler line: `pid:signal-handler (unix time) message`.
fn signal_log(message: &str) {
    log::raw(&format!(
        "{}:signal-handler ({}) {}\n",
        std::process::id(),
        crate::util::now_ms() / 1000,
        message
    ));
}

/// The text of an OS error without Rust's ` (os error N)` suffix, as `strerror` gives it.
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

struct BindError {
    message: String,
    /// False when Redis carries on without this address: an optional (`-`) address that is
    /// not available here, or an address family the system does not support.
    fatal: bool,
}

/// Listens on one `bind` address: `1.2.3.4`, `::1`, `*` (every IPv4 address), `::*` (every
/// IPv6 address); a leading `-` makes the address optional.
fn bind_tcp(addr: &str, port: u16, backlog: u32) -> Result<TcpListener, BindError> {
    let optional = addr.starts_with('-');
    let host = addr.trim_start_matches('-');
    let ip: IpAddr = match host {
        "*" => Ipv4Addr::UNSPECIFIED.into(),
        "::*" => Ipv6Addr::UNSPECIFIED.into(),
        h => resolve(h, port)?,
    };
    let sock = SocketAddr::new(ip, port);
    let fail = |e: std::io::Error, stage: &str| {
        let code = e.raw_os_error().unwrap_or(0);
        let unsupported = [
            libc::ENOPROTOOPT,
            libc::EPROTONOSUPPORT,
            libc::ESOCKTNOSUPPORT,
            libc::EPFNOSUPPORT,
            libc::EAFNOSUPPORT,
        ]
        .contains(&code);
        BindError {
            message: format!("{stage}{}", strerror(&e)),
            fatal: !(unsupported || (optional && code == libc::EADDRNOTAVAIL)),
        }
    };
    let socket = if ip.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| fail(e, "socket: "))?;
    socket
        .set_reuseaddr(true)
        .map_err(|e| fail(e, "setsockopt SO_REUSEADDR: "))?;
    if ip.is_ipv6() {
        // IPv6 only, so `* -::*` binds both families on one port.
        socket2::SockRef::from(&socket)
            .set_only_v6(true)
            .map_err(|e| fail(e, "setsockopt: "))?;
    }
    socket.bind(sock).map_err(|e| fail(e, "bind: "))?;
    socket.listen(backlog).map_err(|e| fail(e, "listen: "))
}

/// A `bind` address that is not an IP literal is a host name, resolved as Redis does: to an
/// IPv6 address if it contains `:`, else to an IPv4 one.
fn resolve(host: &str, port: u16) -> Result<IpAddr, BindError> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    let unknown = |message: String| BindError {
        message,
        fatal: true,
    };
    let want_v6 = host.contains(':');
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map_err(|e| {
        let text = e.to_string();
        let text = text
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&text);
        unknown(text.to_string())
    })?;
    addrs
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv6() == want_v6)
        .ok_or_else(|| unknown("Name or service not known".into()))
}

/// Listens on the unix socket `path` (replacing a stale file), with permissions `perm`
/// when not 0.
fn bind_unix(path: &str, perm: u32) -> Result<UnixListener, String> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| format!("bind: {}", strerror(&e)))?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm));
    }
    Ok(listener)
}

/// Redis's `anetKeepAlive`: probes after `interval` seconds idle, then every third of it,
/// and the peer is dead after 3 unanswered probes.
pub fn set_keepalive<S: std::os::fd::AsFd>(stream: &S, interval_s: i64) -> std::io::Result<()> {
    if interval_s <= 0 {
        return Ok(());
    }
    let interval = Duration::from_secs(interval_s as u64);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(interval)
        .with_interval(Duration::from_secs((interval_s as u64 / 3).max(1)))
        .with_retries(3);
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

async fn accept_tcp(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {}", strerror(&e)));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if log::enabled(log::Level::Verbose) {
            log::verbose(&format!("Accepted {}:{}", addr.ip(), addr.port()));
        }
        let _ = stream.set_nodelay(true);
        let _ = set_keepalive(&stream, server.config.read().get_i64("tcp-keepalive"));
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?:0".into());
        let peer = Peer {
            addr: addr.to_string(),
            laddr,
            fd: std::os::fd::AsRawFd::as_raw_fd(&stream),
            is_local: is_local_ip(addr.ip()),
            unix_path: None,
        };
        match stream.into_std().and_then(super::socket::Socket::new) {
            Ok(socket) => {
                tokio::spawn(serve(server.clone(), socket, peer));
            }
            Err(e) => log::warning(&format!("Registering client connection: {}", strerror(&e))),
        }
    }
}

async fn accept_unix(server: Arc<Server>, listener: UnixListener, path: String) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {}", strerror(&e)));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if log::enabled(log::Level::Verbose) {
            log::verbose(&format!("Accepted connection to {path}"));
        }
        let peer = Peer {
            addr: format!("{path}:0"),
            laddr: format!("{path}:0"),
            fd: std::os::fd::AsRawFd::as_raw_fd(&stream),
            is_local: true,
            unix_path: Some(path.clone()),
        };
        match stream.into_std().and_then(super::socket::Socket::new) {
            Ok(socket) => {
                tokio::spawn(serve(server.clone(), socket, peer));
            }
            Err(e) => log::warning(&format!("Registering client connection: {}", strerror(&e))),
        }
    }
}

/// Closes clients idle longer than `timeout` seconds, as Redis's `clientsCron`: idle time in
/// whole seconds must exceed the limit; MONITOR clients and clients waiting out a CLIENT
/// PAUSE are exempt.
async fn clients_cron(server: Arc<Server>) {
    loop {
        let hz = server.limits.hz.load(Ordering::Relaxed).max(1) as u64;
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        let timeout_s = server.limits.timeout_s.load(Ordering::Relaxed);
        if timeout_s <= 0 {
            continue;
        }
        let now_s = crate::util::now_ms() / 1000;
        for handle in server.clients.all() {
            if handle.idle_exempt.load(Ordering::Relaxed) {
                continue;
            }
            let last_s = handle.last_interaction_ms.load(Ordering::Relaxed) / 1000;
            if now_s - last_s > timeout_s {
                log::verbose("Closing idle client");
                server.clients.kill(handle.id);
            }
        }
    }
}

fn print_banner(server: &Server, port: u16, pid: u32) {
    let file = server
        .config
        .read()
        .file
        .as_ref()
        .map(|f| f.display().to_string());
    log::notice("oO0OoO0OoO0Oo kopi is starting oO0OoO0OoO0Oo");
    log::notice(&format!(
        "kopi version={}, bits=64, pid={}, just started",
        env!("CARGO_PKG_VERSION"),
        pid
    ));
    match &file {
        Some(f) => log::notice(&format!("Configuration loaded from {f}")),
        None => log::warning("Warning: no config file specified, using the default config."),
    }
    log::raw(&format!(
        "                 _\n   | |/ / _ \\| _ \\_ _|   kopi {} (Redis 7.0 compatible)\n   | ' < (_) |  _/| |    Port: {}\n   |_|\\_\\___/|_| |___|   PID: {}\n\n",
        env!("CARGO_PKG_VERSION"),
        port,
        pid
    ));
    log::notice(&format!("Running mode=standalone, port={port}."));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn keepalive_as_redis_sets_it() {
        let (_client, server) = pair();
        set_keepalive(&server, 300).unwrap();
        let sock = socket2::SockRef::from(&server);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(300));
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(100)
        );
        assert_eq!(sock.tcp_keepalive_retries().unwrap(), 3);

        set_keepalive(&server, 2).unwrap();
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(1)
        );

        let (_client, untouched) = pair();
        set_keepalive(&untouched, 0).unwrap();
        assert!(!socket2::SockRef::from(&untouched).keepalive().unwrap());
    }

    #[tokio::test]
    async fn bind_addresses() {
        let listener = bind_tcp("-127.0.0.1", 0, 16)
            .map_err(|e| e.message)
            .unwrap();
        assert!(listener.local_addr().unwrap().ip().is_loopback());
        let missing = bind_tcp("192.0.2.1", 0, 16).err().unwrap();
        assert_eq!(missing.message, "bind: Cannot assign requested address");
        assert!(missing.fatal);
        assert!(!bind_tcp("-192.0.2.1", 0, 16).err().unwrap().fatal);
        let unknown = bind_tcp("999.1.1.1", 0, 16).err().unwrap();
        assert!(unknown.fatal);
    }

    #[test]
    fn os_error_text_without_rust_suffix() {
        let e = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(strerror(&e), "Address already in use");
    }
}
