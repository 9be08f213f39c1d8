//! What the simulation shows while it runs, on standard error: a bar redrawn in place on a
//! terminal, plain lines (one per phase) when the output goes to a file or a pipe, so CI
//! logs stay readable.

use std::io::Write;

/// Characters in the bar.
const BAR_WIDTH: usize = 24;

pub struct Progress {
    terminal: bool,
    scenarios: usize,
    /// The bar is on screen and the next plain line must start on a fresh one.
    drawn: bool,
}

impl Progress {
    pub fn new(scenarios: usize) -> Progress {
        // SAFETY: isatty only inspects the descriptor number.
        let terminal = unsafe { libc::isatty(libc::STDERR_FILENO) } == 1;
        Progress {
            terminal,
            scenarios,
            drawn: false,
        }
    }

    /// Redraws the bar: scenario `index` (from 0) is `fraction` done; `what` says how.
    /// Off a terminal this prints nothing: [`line`](Self::line) reports the phases there.
    pub fn update(&mut self, index: usize, fraction: f64, what: &str) {
        if !self.terminal {
            return;
        }
        let total = self.scenarios.max(1) as f64;
        let overall = ((index as f64 + fraction.clamp(0.0, 1.0)) / total).clamp(0.0, 1.0);
        let text = format!(
            "\r\x1b[2K{} {:>3.0}%  {}/{} {what}",
            bar(overall),
            overall * 100.0,
            (index + 1).min(self.scenarios),
            self.scenarios,
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        self.drawn = true;
    }

    /// A line that stays: on a terminal it replaces the bar, which the next update redraws.
    pub fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = err.write_all(b"\r\x1b[2K");
            self.drawn = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// Clears the bar at the end.
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = std::io::stderr().write_all(b"\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// `[#########...............]` for a fraction in 0..=1.
pub fn bar(fraction: f64) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(BAR_WIDTH - filled))
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bar_fills_in_proportion() {
        assert_eq!(bar(0.0), format!("[{}]", ".".repeat(24)));
        assert_eq!(bar(0.5), format!("[{}{}]", "#".repeat(12), ".".repeat(12)));
        assert_eq!(bar(2.0), format!("[{}]", "#".repeat(24)));
    }
}
