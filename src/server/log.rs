//! The server log, in Redis's line format: `pid:M 26 Nov 2026 19:08:22.123 * message`.
//! `logfile ""` writes to standard output.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 0,
    Verbose = 1,
    Notice = 2,
    Warning = 3,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static TARGET: Mutex<Option<std::fs::File>> = Mutex::new(None);

pub fn set_level(name: &str) {
    let level = match name {
        "debug" => Level::Debug,
        "verbose" => Level::Verbose,
        "warning" => Level::Warning,
        _ => Level::Notice,
    };
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Sends the log to `path` (appending), or to standard output when `path` is empty.
pub fn set_file(path: &str) -> std::io::Result<()> {
    let file = if path.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )
    };
    *TARGET.lock().unwrap_or_else(|e| e.into_inner()) = file;
    Ok(())
}

pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

pub fn log(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    raw(&format!("{}{message}\n", prefix('M', level)));
}

/// The start of a log line, `pid:<role> <timestamp> <mark> `: role `M` for the server, `C`
/// for a child or a tool (Redis's `redis-check-aof` logs its manifest errors with `C`).
pub fn prefix(role: char, level: Level) -> String {
    let mark = match level {
        Level::Debug => '.',
        Level::Verbose => '-',
        Level::Notice => '*',
        Level::Warning => '#',
    };
    format!("{}:{} {} {} ", std::process::id(), role, timestamp(), mark)
}

/// Writes text to the log target as it is (the start-up banner).
pub fn raw(text: &str) {
    let mut target = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    match target.as_mut() {
        Some(file) => {
            let _ = file.write_all(text.as_bytes());
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

pub fn notice(message: &str) {
    log(Level::Notice, message);
}

pub fn warning(message: &str) {
    log(Level::Warning, message);
}

pub fn verbose(message: &str) {
    log(Level::Verbose, message);
}

/// `26 Nov 2026 19:08:22.123` in UTC.
fn timestamp() -> String {
    let ms = crate::util::now_ms();
    let secs = ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}
