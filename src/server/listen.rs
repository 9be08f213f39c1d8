//! Start-up: banner, listeners (`bind`, `port`, `unixsocket`), pidfile, signals, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::{TcpListener, UnixListener};

use super::connection::{Peer, serve};
use super::{Server, log};

/// Runs the server until SHUTDOWN or SIGTERM/SIGINT. Returns the process exit code.
pub async fn run(server: Arc<Server>) -> i32 {
    let config = server.config.read().clone();
    let port = config.get_i64("port") as u16;
    let pid = std::process::id();
    print_banner(&server, port, pid);

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
    if config.get_bool("appendonly") {
        log::warning(
            "appendonly yes: AOF persistence is not implemented yet; data is NOT persisted",
        );
    }

    let mut tcp_listeners = Vec::new();
    if port != 0 {
        for addr in config.get("bind").split(' ').filter(|a| !a.is_empty()) {
            let optional = addr.starts_with('-');
            let host = addr.trim_start_matches('-');
            let host = match host {
                "*" => "0.0.0.0",
                "::*" => "::",
                h => h,
            };
            let sock: SocketAddr = match format!("{host}:{port}")
                .parse()
                .or_else(|_| format!("[{host}]:{port}").parse())
            {
                Ok(s) => s,
                Err(_) => {
                    log::warning(&format!(
                        "Failed listening on port {port} (tcp), aborting: invalid address {host}"
                    ));
                    return 1;
                }
            };
            match bind_tcp(sock, config.get_i64("tcp-backlog") as u32) {
                Ok(listener) => tcp_listeners.push(listener),
                Err(e) if optional => {
                    log::verbose(&format!("Skipping optional address {host}: {e}"))
                }
                Err(e) => {
                    log::warning(&format!(
                        "Warning: Could not create server TCP listening socket {host}:{port}: {e}"
                    ));
                    log::warning(&format!("Failed listening on port {port} (tcp), aborting."));
                    return 1;
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
        let _ = std::fs::remove_file(&unix_path);
        match UnixListener::bind(&unix_path) {
            Ok(l) => {
                let perm = u32::from_str_radix(config.get("unixsocketperm"), 8).unwrap_or(0);
                if perm != 0 {
                    use std::os::unix::fs::PermissionsExt;
                    let _ =
                        std::fs::set_permissions(&unix_path, std::fs::Permissions::from_mode(perm));
                }
                unix_listener = Some(l);
            }
            Err(e) => {
                log::warning(&format!("Failed opening Unix socket: {e}"));
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
    for listener in tcp_listeners {
        tokio::spawn(accept_tcp(server.clone(), listener));
    }
    if let Some(listener) = unix_listener {
        tokio::spawn(accept_unix(server.clone(), listener, unix_path.clone()));
    }
    tokio::spawn(super::cron(server.clone()));
    log::notice("Ready to accept connections");

    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let sigterm_recv = async {
        match sigterm.as_mut() {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sigterm_recv => log::warning("Received SIGTERM scheduling shutdown..."),
        _ = tokio::signal::ctrl_c() => log::warning("Received SIGINT scheduling shutdown..."),
        _ = server.shutdown.notified() => {}
    }
    log::warning("User requested shutdown...");
    if !pidfile.is_empty() {
        log::notice("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    if !unix_path.is_empty() {
        log::notice("Removing the unix socket file.");
        let _ = std::fs::remove_file(&unix_path);
    }
    log::warning("kopi is now ready to exit, bye bye...");
    0
}

fn bind_tcp(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if addr.is_ipv6() {
        // Listen on IPv6 only, so `* -::*` can bind both families on one port.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&socket);
        let on: libc::c_int = 1;
        // SAFETY: setsockopt on a valid socket fd with a correctly sized int option.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                &on as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}

async fn accept_tcp(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let keepalive = server.config.read().get_i64("tcp-keepalive");
        if keepalive > 0 {
            let sock = socket2::SockRef::from(&stream);
            let ka = socket2::TcpKeepalive::new()
                .with_time(std::time::Duration::from_secs(keepalive as u64));
            let _ = sock.set_tcp_keepalive(&ka);
        }
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let is_local = addr.ip().is_loopback()
            || matches!(addr.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
        let peer = Peer {
            addr: addr.to_string(),
            laddr,
            fd,
            is_local,
            is_unix: false,
        };
        tokio::spawn(serve(server.clone(), stream, peer));
    }
}

async fn accept_unix(server: Arc<Server>, listener: UnixListener, path: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let peer = Peer {
            addr: format!("{path}:0"),
            laddr: path.clone(),
            fd,
            is_local: true,
            is_unix: true,
        };
        tokio::spawn(serve(server.clone(), stream, peer));
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
