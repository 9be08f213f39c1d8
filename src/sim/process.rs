//! The `kopi-server` processes the simulation starts, crashes and restarts: one at a time,
//! on loopback, in a directory of the simulation's own.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::resp::{Connection, Reply};

/// How long a start (and the load of what the crash left) may take.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often readiness is polled: restart times are measured to about this precision.
const READY_POLL: Duration = Duration::from_millis(2);
/// A port found free can be taken before the server binds it: try a few.
const START_ATTEMPTS: usize = 5;

/// A running `kopi-server` child process.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    /// From the spawn to the first `PONG`.
    pub ready_after: Duration,
}

/// A port nobody listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl ServerProcess {
    /// Starts `server --port P --bind 127.0.0.1 --dir dir <args>` with its log appended to
    /// `log`, and waits until it answers `PING` with `PONG` (retrying while it is `-LOADING`).
    pub fn start(
        server: &Path,
        dir: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<ServerProcess, String> {
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let log_file = File::options()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| format!("{}: {e}", log.display()))?;
            let log_err = log_file
                .try_clone()
                .map_err(|e| format!("{}: {e}", log.display()))?;
            let started = Instant::now();
            let child = Command::new(server)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
                .arg(dir)
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(log_err)
                .spawn()
                .map_err(|e| format!("can't start {}: {e}", server.display()))?;
            let mut process = ServerProcess {
                child,
                port,
                ready_after: Duration::ZERO,
            };
            match process.wait_ready(started) {
                Ok(()) => return Ok(process),
                Err(e) => {
                    last_error = e;
                    process.kill();
                }
            }
        }
        Err(format!(
            "kopi-server did not start ({last_error}); see {}",
            log.display()
        ))
    }

    fn wait_ready(&mut self, started: Instant) -> Result<(), String> {
        while started.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}"));
            }
            if let Ok(mut conn) = Connection::connect(self.port) {
                loop {
                    match conn.call(&[b"PING"]) {
                        Ok(Reply::Simple(s)) if s == "PONG" => {
                            self.ready_after = started.elapsed();
                            return Ok(());
                        }
                        Ok(Reply::Error(e)) if e.starts_with("LOADING") => sleep(READY_POLL),
                        Ok(other) => return Err(format!("PING answered {other:?}")),
                        Err(_) => break,
                    }
                    if started.elapsed() >= READY_TIMEOUT {
                        break;
                    }
                }
            }
            sleep(READY_POLL);
        }
        Err("no PONG in time".into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process ends at once, without a chance to write or sync anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh, empty directory under the system's temporary directory.
pub fn temp_dir(label: &str) -> Result<PathBuf, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kopi-sim-{}-{n}-{label}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}
