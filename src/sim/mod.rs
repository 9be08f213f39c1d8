//! `kopi-sim`: the crash simulation. It shows, with numbers, what each persistence mode keeps
//! of the writes kopi acknowledged when the process is killed or the power fails.
//!
//! For every mode (`none`, `rdb`, `aof-no`, `aof-everysec`, `aof-always`) and crash kind
//! (`kill`, `power-loss`) it starts a real `kopi-server` on loopback in a fresh directory,
//! lets a few clients write `SET sim:<client>:<n> <n>` at a steady total rate, remembering
//! when each reply came, crashes the server, restarts it on the same directory and counts
//! which acknowledged writes came back.
//!
//! # The crash instant
//!
//! A write counts as *acknowledged* when its `+OK` was read before the crash instant `T`.
//! For `kill`, `T` is taken just before the SIGKILL. For `power-loss`, just before the
//! `INFO persistence` request whose synced offset decides what the disk keeps (see
//! [`power`]); replies read after `T` are in flight at the crash: they are neither counted
//! nor checked. The clients keep writing through the crash, as real ones would.
//!
//! # Layout
//! - [`resp`]: the blocking RESP client the writers and the checks use;
//! - [`process`]: starting, killing and restarting `kopi-server`;
//! - [`power`]: what a power cut leaves of the AOF;
//! - [`report`]: the table, the sentences, `results.json` and `chart.svg`;
//! - [`progress`]: the progress bar.

pub mod power;
pub mod process;
pub mod progress;
pub mod report;
pub mod resp;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use process::ServerProcess;
use progress::Progress;
use resp::{Connection, Reply};

/// Keys checked per `MGET` after the restart.
const CHECK_BATCH: usize = 512;
/// A writer that falls further behind its schedule than this stops trying to catch up: the
/// rate stays steady instead of bursting after a stall.
const CATCH_UP_MAX: Duration = Duration::from_millis(50);
/// How often the progress bar is redrawn while the clients write.
const PROGRESS_TICK: Duration = Duration::from_millis(100);
/// The limits on the command line.
const CLIENTS_MAX: usize = 64;
const RATE_MAX: u64 = 1_000_000;
const SECONDS_MAX: f64 = 3600.0;
/// The crash comes `seconds` plus a random part of this after the writes start: a second is
/// the `everysec` fsync period, so the crash lands anywhere in its cycle rather than always
/// at the same phase (just after an fsync, say), which would make one run look better or
/// worse than the mode is.
pub const CRASH_JITTER: Duration = Duration::from_secs(1);

/// How the server under test persists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No AOF, no save points.
    None,
    /// Save points only (`save 1 1`: a snapshot about every second while keys change).
    Rdb,
    /// `appendonly yes` with `appendfsync no`, `everysec`, `always`.
    AofNo,
    AofEverysec,
    AofAlways,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::None,
        Mode::Rdb,
        Mode::AofNo,
        Mode::AofEverysec,
        Mode::AofAlways,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Rdb => "rdb",
            Mode::AofNo => "aof-no",
            Mode::AofEverysec => "aof-everysec",
            Mode::AofAlways => "aof-always",
        }
    }

    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn is_aof(self) -> bool {
        matches!(self, Mode::AofNo | Mode::AofEverysec | Mode::AofAlways)
    }

    /// The server's options for this mode, at the start and at the restart. AOF modes turn
    /// the save points and automatic rewrites off: the result is the AOF's alone, and the
    /// incr file stays the one the power cut works on (see [`power`]).
    pub fn server_args(self) -> Vec<String> {
        let args: &[&str] = match self {
            Mode::None => &["--save", "", "--appendonly", "no"],
            Mode::Rdb => &["--save", "1 1", "--appendonly", "no"],
            Mode::AofNo | Mode::AofEverysec | Mode::AofAlways => &[
                "--save",
                "",
                "--appendonly",
                "yes",
                "--auto-aof-rewrite-percentage",
                "0",
                "--appendfsync",
            ],
        };
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match self {
            Mode::AofNo => args.push("no".into()),
            Mode::AofEverysec => args.push("everysec".into()),
            Mode::AofAlways => args.push("always".into()),
            Mode::None | Mode::Rdb => {}
        }
        args
    }
}

/// How the server is crashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// SIGKILL of the process: the OS keeps everything the process wrote.
    Kill,
    /// The machine loses power: only what was fsynced survives.
    PowerLoss,
}

impl Crash {
    pub const ALL: [Crash; 2] = [Crash::Kill, Crash::PowerLoss];

    pub fn name(self) -> &'static str {
        match self {
            Crash::Kill => "kill",
            Crash::PowerLoss => "power-loss",
        }
    }

    pub fn parse(name: &str) -> Option<Crash> {
        Crash::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What one scenario measured; one row of the table and of `results.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub mode: Mode,
    pub crash: Crash,
    /// Writes whose `+OK` arrived before the crash instant.
    pub acknowledged: u64,
    /// Of those, how many the restarted server has (with the right value).
    pub recovered: u64,
    pub lost: u64,
    /// From the acknowledgement of the first lost write to the crash; 0 if none was lost.
    pub loss_window_ms: u64,
    /// From the restart's spawn to the first `PONG`.
    pub restart_ms: u64,
    /// Acknowledged writes per second while the clients wrote.
    pub ops_per_sec: f64,
}

/// The command line, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub server: Option<PathBuf>,
    pub out: PathBuf,
    /// How long the clients write before the crash, per scenario.
    pub seconds: f64,
    /// Writes per second, all clients together; 0: as fast as the server answers.
    pub rate: u64,
    pub clients: usize,
    pub modes: Vec<Mode>,
    pub crashes: Vec<Crash>,
    /// Keep the servers' directories (their paths are printed).
    pub keep: bool,
    /// Picks each scenario's crash moment within [`CRASH_JITTER`] after `seconds`; printed,
    /// so a run can be replayed. None: taken from the clock.
    pub seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            server: None,
            out: PathBuf::from("kopi-sim-out"),
            seconds: 5.0,
            rate: 5000,
            clients: 4,
            modes: Mode::ALL.to_vec(),
            crashes: Crash::ALL.to_vec(),
            keep: false,
            seed: None,
        }
    }
}

pub const USAGE: &str = "\
Usage: kopi-sim [--quick] [--out DIR] [--server PATH] [--seconds S] [--rate OPS]
                [--clients N] [--modes LIST] [--crashes LIST] [--keep]

Starts kopi-server once per persistence mode and crash kind, writes keys from several
clients, crashes the server, restarts it and counts which acknowledged writes survived.

  --quick          2 s per scenario at 2000 writes/s (the whole run takes under a minute)
  --out DIR        where results.json and chart.svg go (default kopi-sim-out)
  --server PATH    the kopi-server to test (default: the one next to kopi-sim)
  --seconds S      how long the clients write before the crash (default 5)
  --rate OPS       writes per second, all clients together; 0 = as fast as possible
                   (default 5000)
  --clients N      writing connections (default 4)
  --modes LIST     comma-separated from none,rdb,aof-no,aof-everysec,aof-always (default all)
  --crashes LIST   comma-separated from kill,power-loss (default both)
  --seed N         where in its last second each crash falls (default: from the clock;
                   printed with the results)
  --keep           keep the servers' directories
";

/// Parses the arguments after the program name. `Ok(None)` means `--help`.
pub fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                options.seconds = 2.0;
                options.rate = 2000;
            }
            "--keep" => options.keep = true,
            "--seed" => {
                let v = value("--seed")?;
                options.seed = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("--seed {v}: give a number"))?,
                );
            }
            "--out" => options.out = PathBuf::from(value("--out")?),
            "--server" => options.server = Some(PathBuf::from(value("--server")?)),
            "--seconds" => {
                let v = value("--seconds")?;
                options.seconds = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| (0.1..=SECONDS_MAX).contains(s))
                    .ok_or_else(|| format!("--seconds {v}: give 0.1 to {SECONDS_MAX}"))?;
            }
            "--rate" => {
                let v = value("--rate")?;
                options.rate = v
                    .parse::<u64>()
                    .ok()
                    .filter(|r| *r <= RATE_MAX)
                    .ok_or_else(|| format!("--rate {v}: give 0 to {RATE_MAX}"))?;
            }
            "--clients" => {
                let v = value("--clients")?;
                options.clients = v
                    .parse::<usize>()
                    .ok()
                    .filter(|c| (1..=CLIENTS_MAX).contains(c))
                    .ok_or_else(|| format!("--clients {v}: give 1 to {CLIENTS_MAX}"))?;
            }
            "--modes" => {
                let v = value("--modes")?;
                options.modes = parse_list(&v, Mode::parse).map_err(|m| format!("--modes: {m}"))?;
            }
            "--crashes" => {
                let v = value("--crashes")?;
                options.crashes =
                    parse_list(&v, Crash::parse).map_err(|m| format!("--crashes: {m}"))?;
            }
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

fn parse_list<T: PartialEq>(list: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    let mut items = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let item = parse(name).ok_or_else(|| format!("unknown name {name:?}"))?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if items.is_empty() {
        return Err("the list is empty".into());
    }
    Ok(items)
}

/// `--server`, or `kopi-server` in the directory of the running executable (where cargo
/// puts both).
pub fn find_server(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("--server {}: no such file", path.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("where am I? {e}"))?;
    let beside = exe.with_file_name("kopi-server");
    if beside.is_file() {
        Ok(beside)
    } else {
        Err(format!(
            "{} not found; build it (cargo build --bin kopi-server) or pass --server PATH",
            beside.display()
        ))
    }
}

/// The whole tool: parse, run every scenario, write the files, print the table. Returns the
/// exit status.
pub fn main(args: &[String]) -> i32 {
    let options = match parse_args(args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return 0;
        }
        Err(message) => {
            eprintln!("kopi-sim: {message}");
            return 2;
        }
    };
    match run(&options) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("kopi-sim: {message}");
            1
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let server = find_server(options.server.as_deref())?;
    let mut options = options.clone();
    let seed = *options.seed.get_or_insert_with(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let options = &options;
    let mut rng = SmallRng::seed_from_u64(seed);
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let scenarios: Vec<(Mode, Crash)> = options
        .modes
        .iter()
        .flat_map(|&m| options.crashes.iter().map(move |&c| (m, c)))
        .collect();
    let mut progress = Progress::new(scenarios.len());
    let mut outcomes = Vec::new();
    for (index, &(mode, crash)) in scenarios.iter().enumerate() {
        let jitter = CRASH_JITTER.mul_f64(rng.random::<f64>());
        let outcome = run_scenario(
            &server,
            options,
            (mode, crash),
            jitter,
            index,
            &mut progress,
        )?;
        progress.line(&format!(
            "{}/{} {} {}: {} acknowledged, {} recovered, {} lost, restart {} ms",
            index + 1,
            scenarios.len(),
            mode.name(),
            crash.name(),
            outcome.acknowledged,
            outcome.recovered,
            outcome.lost,
            outcome.restart_ms
        ));
        outcomes.push(outcome);
    }
    progress.finish();

    let json_path = options.out.join("results.json");
    let chart_path = options.out.join("chart.svg");
    std::fs::write(&json_path, report::json(&outcomes))
        .map_err(|e| format!("{}: {e}", json_path.display()))?;
    std::fs::write(
        &chart_path,
        report::svg(&outcomes, &report::subtitle(options)),
    )
    .map_err(|e| format!("{}: {e}", chart_path.display()))?;
    println!("{}", report::table(&outcomes));
    for outcome in &outcomes {
        println!(
            "{} / {}: {}",
            outcome.mode.name(),
            outcome.crash.name(),
            report::explain(outcome)
        );
    }
    println!();
    println!("{}", report::subtitle(options));
    println!("Wrote {} and {}", json_path.display(), chart_path.display());
    Ok(())
}

/// What a writing client brings back: when each of its writes was acknowledged (write `n`
/// is `sim:<client>:<n>`, acknowledged at `acks[n]`).
struct ClientLog {
    acks: Vec<Instant>,
}

/// One client: `SET sim:<client>:<n> <n>` one at a time, on a schedule of `interval` per
/// write, until `stop` or until the connection fails (the crash).
fn write_keys(
    port: u16,
    client: usize,
    interval: Duration,
    stop: &AtomicBool,
    acked: &AtomicU64,
) -> ClientLog {
    let mut log = ClientLog { acks: Vec::new() };
    let Ok(mut conn) = Connection::connect(port) else {
        return log;
    };
    let mut due = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if due > now {
            sleep(due - now);
        } else if now - due > CATCH_UP_MAX {
            due = now;
        }
        due += interval;
        let n = log.acks.len();
        let key = format!("sim:{client}:{n}");
        let value = n.to_string();
        match conn.call(&[b"SET", key.as_bytes(), value.as_bytes()]) {
            Ok(Reply::Simple(ok)) if ok == "OK" => {
                log.acks.push(Instant::now());
                acked.fetch_add(1, Ordering::Relaxed);
            }
            // An error reply (MISCONF, ...) is not an acknowledgement: try the key again.
            Ok(_) => {}
            Err(_) => break,
        }
    }
    log
}

/// One mode and crash kind: start, write for `options.seconds` plus `jitter`, crash,
/// restart, count.
fn run_scenario(
    server: &Path,
    options: &Options,
    (mode, crash): (Mode, Crash),
    jitter: Duration,
    index: usize,
    progress: &mut Progress,
) -> Result<Outcome, String> {
    let label = format!("{} {}", mode.name(), crash.name());
    let dir = process::temp_dir(&format!("{}-{}", mode.name(), crash.name()))?;
    let log = dir.join("kopi-server.log");
    let args = mode.server_args();
    let status = |progress: &mut Progress, fraction: f64, what: &str| {
        progress.update(index, fraction, &format!("{label}: {what}"));
    };
    status(progress, 0.0, "starting");
    let mut first = ServerProcess::start(server, &dir, &args, &log)?;
    let aof_start = if mode.is_aof() {
        Some(power::AofStart::read(&dir, first.port)?)
    } else {
        None
    };
    // Opened before the writes start, so the crash does not wait for a connect.
    let mut info_conn = Connection::connect(first.port).map_err(|e| format!("connect: {e}"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let interval = if options.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(options.clients as f64 / options.rate as f64)
    };
    let writing = Duration::from_secs_f64(options.seconds) + jitter;
    let started = Instant::now();
    let writers: Vec<_> = (0..options.clients)
        .map(|client| {
            let (stop, acked, port) = (Arc::clone(&stop), Arc::clone(&acked), first.port);
            std::thread::spawn(move || write_keys(port, client, interval, &stop, &acked))
        })
        .collect();
    while started.elapsed() < writing {
        let elapsed = started.elapsed();
        status(
            progress,
            0.8 * elapsed.as_secs_f64() / writing.as_secs_f64(),
            &format!(
                "writing {:.1}/{:.1} s, {} acknowledged",
                elapsed.as_secs_f64(),
                writing.as_secs_f64(),
                acked.load(Ordering::Relaxed)
            ),
        );
        sleep(PROGRESS_TICK.min(writing.saturating_sub(elapsed)));
    }

    status(progress, 0.8, "crashing");
    let crash_at;
    let mut power_cut = None;
    match (crash, aof_start) {
        (Crash::PowerLoss, Some(start)) => {
            crash_at = Instant::now();
            let synced = power::synced_offsets(&mut info_conn)?;
            first.kill();
            power_cut = Some(power::cut(&dir, &start, synced)?);
        }
        // Without an AOF, a power cut and a kill leave the same files: nothing (`none`), or
        // the last `dump.rdb`, which a save makes durable (fsync, rename, directory fsync)
        // before it counts as done; see docs/tools.md.
        _ => {
            crash_at = Instant::now();
            first.kill();
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(info_conn);
    let logs: Vec<ClientLog> = writers
        .into_iter()
        .map(|w| w.join().map_err(|_| "a writer panicked".to_string()))
        .collect::<Result<_, _>>()?;
    let written_for = crash_at.saturating_duration_since(started);

    status(progress, 0.85, "restarting");
    let restarted = ServerProcess::start(server, &dir, &args, &log)?;
    status(progress, 0.9, "counting");
    let mut conn = Connection::connect(restarted.port).map_err(|e| format!("connect: {e}"))?;
    let mut acks_per_client = Vec::new();
    let mut recovered_per_client = Vec::new();
    for (client, log) in logs.iter().enumerate() {
        // A client writes one key at a time, so its acknowledgements are in time order.
        let acknowledged = log.acks.partition_point(|&t| t < crash_at);
        acks_per_client.push(&log.acks[..acknowledged]);
        recovered_per_client.push(recovered_keys(&mut conn, client, acknowledged)?);
    }
    let restart_ms = restarted.ready_after.as_millis() as u64;
    drop(restarted);

    let tally = tally(&acks_per_client, &recovered_per_client, crash_at);
    if let Some(cut) = power_cut {
        progress.line(&format!(
            "{label}: power cut at synced offset {} of {} written bytes ({} bytes dropped)",
            cut.kept_bytes,
            cut.file_bytes,
            cut.file_bytes - cut.kept_bytes
        ));
    }
    if options.keep {
        progress.line(&format!("{label}: kept {}", dir.display()));
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(Outcome {
        mode,
        crash,
        acknowledged: tally.acknowledged,
        recovered: tally.recovered,
        lost: tally.acknowledged - tally.recovered,
        loss_window_ms: tally.loss_window_ms,
        restart_ms,
        ops_per_sec: tally.acknowledged as f64 / written_for.as_secs_f64().max(f64::MIN_POSITIVE),
    })
}

/// Which of `client`'s writes `0..count` the server has, with the value they were written
/// with.
fn recovered_keys(conn: &mut Connection, client: usize, count: usize) -> Result<Vec<bool>, String> {
    let mut found = Vec::with_capacity(count);
    let mut start = 0;
    while start < count {
        let end = (start + CHECK_BATCH).min(count);
        let keys: Vec<String> = (start..end).map(|n| format!("sim:{client}:{n}")).collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(|k| k.as_bytes()));
        let values = match conn.call(&args).map_err(|e| format!("MGET: {e}"))? {
            Reply::Array(Some(values)) if values.len() == end - start => values,
            other => return Err(format!("MGET answered {other:?}")),
        };
        for (n, value) in (start..end).zip(values) {
            let expected = n.to_string();
            found.push(matches!(value, Reply::Bulk(Some(v)) if v == expected.as_bytes()));
        }
        start = end;
    }
    Ok(found)
}

/// The counts of one scenario.
#[derive(Debug, PartialEq, Eq)]
struct Tally {
    acknowledged: u64,
    recovered: u64,
    loss_window_ms: u64,
}

/// Counts acknowledged and recovered writes over all clients (`acks[c][n]`: when client
/// `c`'s write `n` was acknowledged; `recovered[c][n]`: whether it came back). The loss
/// window runs from the earliest acknowledgement among the lost writes to the crash: how
/// far back in time the crash reached.
fn tally(acks: &[&[Instant]], recovered: &[Vec<bool>], crash_at: Instant) -> Tally {
    let mut tally = Tally {
        acknowledged: 0,
        recovered: 0,
        loss_window_ms: 0,
    };
    let mut first_lost: Option<Instant> = None;
    for (acks, recovered) in acks.iter().zip(recovered) {
        for (&at, &back) in acks.iter().zip(recovered) {
            tally.acknowledged += 1;
            if back {
                tally.recovered += 1;
            } else if first_lost.is_none_or(|first| at < first) {
                first_lost = Some(at);
            }
        }
    }
    if let Some(first) = first_lost {
        tally.loss_window_ms = crash_at.saturating_duration_since(first).as_millis() as u64;
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn loss_window_runs_from_the_first_lost_acknowledgement_to_the_crash() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let crash_at = at(3000);
        // Client 0 lost its writes from 2100 ms on, client 1 from 2500 ms on.
        let a: Vec<Instant> = [1000, 2100, 2900].into_iter().map(at).collect();
        let b: Vec<Instant> = [1500, 2500].into_iter().map(at).collect();
        let tally = tally(
            &[&a, &b],
            &[vec![true, false, false], vec![true, false]],
            crash_at,
        );
        assert_eq!(
            tally,
            Tally {
                acknowledged: 5,
                recovered: 2,
                loss_window_ms: 900
            }
        );
    }

    #[test]
    fn nothing_lost_means_no_loss_window() {
        let t0 = Instant::now();
        let a = vec![t0, t0 + Duration::from_millis(5)];
        let tally = tally(&[&a], &[vec![true, true]], t0 + Duration::from_secs(1));
        assert_eq!(tally.loss_window_ms, 0);
        assert_eq!((tally.acknowledged, tally.recovered), (2, 2));
    }

    #[test]
    fn quick_sets_short_runs_and_lists_narrow_the_scenarios() {
        let options = parse_args(&strings(&[
            "--quick",
            "--out",
            "x",
            "--modes",
            "aof-always,none",
            "--crashes",
            "power-loss",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(options.seconds, 2.0);
        assert_eq!(options.rate, 2000);
        assert_eq!(options.out, PathBuf::from("x"));
        assert_eq!(options.modes, vec![Mode::AofAlways, Mode::None]);
        assert_eq!(options.crashes, vec![Crash::PowerLoss]);
        assert_eq!(parse_args(&strings(&["--help"])).unwrap(), None);
    }

    #[test]
    fn refuses_bad_arguments() {
        for bad in [
            &["--modes", "aof-sometimes"][..],
            &["--crashes", ""],
            &["--clients", "0"],
            &["--rate", "-1"],
            &["--seconds", "0"],
            &["--out"],
            &["--fast"],
        ] {
            assert!(parse_args(&strings(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn aof_modes_turn_off_what_would_blur_the_result() {
        let args = Mode::AofEverysec.server_args();
        assert!(args.windows(2).any(|w| w == ["--appendfsync", "everysec"]));
        assert!(
            args.windows(2)
                .any(|w| w == ["--auto-aof-rewrite-percentage", "0"])
        );
        assert!(args.windows(2).any(|w| w == ["--save", ""]));
        assert!(
            Mode::Rdb
                .server_args()
                .windows(2)
                .any(|w| w == ["--save", "1 1"])
        );
    }
}
