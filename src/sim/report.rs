//! The simulation's results for people and for programs: a table with one sentence per row,
//! `results.json` and `chart.svg`, all written by hand (no serialization crates).

use std::fmt::Write;

use super::{Crash, Mode, Options, Outcome};

/// The line under the chart's title and the table: what was run.
pub fn subtitle(options: &Options) -> String {
    let rate = if options.rate == 0 {
        "as fast as possible".to_string()
    } else {
        format!("{} SET/s in total", options.rate)
    };
    let seed = options
        .seed
        .map_or(String::new(), |seed| format!(" (seed {seed})"));
    format!(
        "{} clients, {rate}, {} s of writes plus up to {} s before each crash{seed}",
        options.clients,
        options.seconds,
        super::CRASH_JITTER.as_secs_f64()
    )
}

/// The results as a text table.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:<11} {:>12} {:>10} {:>7} {:>12} {:>9} {:>13}",
        "mode",
        "crash",
        "acknowledged",
        "recovered",
        "lost",
        "loss window",
        "restart",
        "throughput"
    );
    for o in outcomes {
        let _ = writeln!(
            out,
            "{:<13} {:<11} {:>12} {:>10} {:>7} {:>9} ms {:>6} ms {:>7.0} SET/s",
            o.mode.name(),
            o.crash.name(),
            o.acknowledged,
            o.recovered,
            o.lost,
            o.loss_window_ms,
            o.restart_ms,
            o.ops_per_sec
        );
    }
    out
}

/// One sentence on what happened, in the picture of a game whose moves are written in a
/// book (the AOF) or photographed now and then (the RDB snapshot), and replayed after the
/// crash.
pub fn explain(o: &Outcome) -> String {
    let (ack, lost, recovered, window) = (o.acknowledged, o.lost, o.recovered, o.loss_window_ms);
    let event = match o.crash {
        Crash::Kill => "the player is knocked out (SIGKILL)",
        Crash::PowerLoss => "the lights go out (power loss)",
    };
    let broken = format!("yet {lost} of {ack} acknowledged moves were missing: a broken promise");
    match (o.mode, o.crash) {
        (Mode::None, _) if recovered == 0 => format!(
            "Nobody writes the moves down, so when {event} the game restarts from an empty \
             board: all {ack} acknowledged moves are gone."
        ),
        (Mode::None, _) => format!(
            "Nobody writes the moves down, yet {recovered} of {ack} came back after {event}: \
             something kept data it should not have."
        ),
        (Mode::Rdb, _) if lost == 0 => format!(
            "A photo of the board is taken about once a second, and when {event} the last one \
             happened to show all {ack} moves."
        ),
        (Mode::Rdb, _) => format!(
            "A photo of the board is taken about once a second and the game resumes from the \
             last one, so when {event} the {lost} moves made after it (the last {window} ms) \
             are gone and {recovered} of {ack} come back."
        ),
        (_, Crash::Kill) if lost == 0 => format!(
            "Every move is written in the book before it is announced, and when {event} the \
             book stays on the table: all {ack} moves are replayed."
        ),
        (_, Crash::Kill) => format!(
            "Every move is written in the book before it is announced, {broken} after {event}."
        ),
        (Mode::AofNo, Crash::PowerLoss) => format!(
            "The moves are written in the book but never pressed to disk (`appendfsync no` \
             leaves that to the OS, and the simulation assumes it had not got to it), so when \
             {event} {lost} of {ack} acknowledged moves fade (the last {window} ms)."
        ),
        (Mode::AofEverysec, Crash::PowerLoss) if lost == 0 => format!(
            "The book is pressed to disk once a second and the last pressing came just in \
             time: when {event} all {ack} moves are replayed."
        ),
        (Mode::AofEverysec, Crash::PowerLoss) => format!(
            "The book is pressed to disk once a second, so when {event} only the moves of the \
             last {window} ms fade: {lost} of {ack}."
        ),
        (Mode::AofAlways, Crash::PowerLoss) if lost == 0 => format!(
            "Each move is pressed to disk before it is announced, so when {event} nothing \
             announced fades: all {ack} moves are replayed."
        ),
        (Mode::AofAlways, Crash::PowerLoss) => {
            format!("Each move is pressed to disk before it is announced, {broken} after {event}.")
        }
    }
}

/// `results.json`: an array with one object per scenario.
pub fn json(outcomes: &[Outcome]) -> String {
    let mut out = String::from("[\n");
    for (i, o) in outcomes.iter().enumerate() {
        let ops = if o.ops_per_sec.is_finite() {
            o.ops_per_sec
        } else {
            0.0
        };
        let _ = write!(
            out,
            "  {{\"mode\": \"{}\", \"crash\": \"{}\", \"acknowledged\": {}, \"recovered\": {}, \
             \"lost\": {}, \"loss_window_ms\": {}, \"restart_ms\": {}, \"ops_per_sec\": {:.1}, \
             \"explanation\": {}}}",
            o.mode.name(),
            o.crash.name(),
            o.acknowledged,
            o.recovered,
            o.lost,
            o.loss_window_ms,
            o.restart_ms,
            ops,
            json_string(&explain(o)),
        );
        out.push_str(if i + 1 < outcomes.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value in `results.json`.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    String(String),
    Number(f64),
}

/// One object of `results.json`: its fields in order.
pub type JsonRow = Vec<(String, JsonValue)>;

/// Reads what [`json`] writes: an array of flat objects whose values are strings or
/// numbers. For the tests and for scripts that check a run; not a general JSON parser.
pub fn parse_json_rows(text: &str) -> Result<Vec<JsonRow>, String> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut rows = Vec::new();
    p.expect(b'[')?;
    if !p.eat(b']') {
        loop {
            rows.push(p.object()?);
            if p.eat(b']') {
                break;
            }
            p.expect(b',')?;
        }
    }
    p.skip_space();
    if p.at != p.bytes.len() {
        return Err(format!("trailing bytes at {}", p.at));
    }
    Ok(rows)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", byte as char, self.at))
        }
    }

    fn object(&mut self) -> Result<JsonRow, String> {
        self.expect(b'{')?;
        let mut fields = Vec::new();
        if self.eat(b'}') {
            return Ok(fields);
        }
        loop {
            let name = self.string()?;
            self.expect(b':')?;
            self.skip_space();
            let value = if self.bytes.get(self.at) == Some(&b'"') {
                JsonValue::String(self.string()?)
            } else {
                JsonValue::Number(self.number()?)
            };
            fields.push((name, value));
            if self.eat(b'}') {
                return Ok(fields);
            }
            self.expect(b',')?;
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let byte = *self.bytes.get(self.at).ok_or("unterminated string")?;
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escaped = *self.bytes.get(self.at).ok_or("unterminated escape")?;
                    self.at += 1;
                    match escaped {
                        b'"' | b'\\' | b'/' => out.push(escaped),
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = self
                                .bytes
                                .get(self.at..self.at + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or("bad \\u escape")?;
                            self.at += 4;
                            let mut buf = [0; 4];
                            out.extend_from_slice(hex.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(format!("unknown escape at {}", self.at)),
                    }
                }
                _ => out.push(byte),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".to_string())
    }

    fn number(&mut self) -> Result<f64, String> {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.at += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad number at {start}"))
    }
}

/// The chart's geometry, in SVG user units.
const CHART_WIDTH: f64 = 960.0;
const CHART_HEIGHT: f64 = 470.0;
const PANEL_TOP: f64 = 110.0;
const PANEL_HEIGHT: f64 = 270.0;
/// The left panel (lost %) and the right one (throughput): x of the axis, width.
const PANELS: [(f64, f64); 2] = [(70.0, 390.0), (550.0, 390.0)];
/// One colour per crash kind, in [`Crash::ALL`] order.
const CRASH_COLOURS: [&str; 2] = ["#4c78a8", "#e45756"];
const FONT: &str = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\"";

/// `chart.svg`: per mode, the share of acknowledged writes lost (left) and the throughput
/// (right), one bar per crash kind.
pub fn svg(outcomes: &[Outcome], subtitle: &str) -> String {
    let mut modes: Vec<Mode> = Vec::new();
    let mut crashes: Vec<Crash> = Vec::new();
    for o in outcomes {
        if !modes.contains(&o.mode) {
            modes.push(o.mode);
        }
        if !crashes.contains(&o.crash) {
            crashes.push(o.crash);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" \
         height=\"{CHART_HEIGHT}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"30\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\" \
         {FONT}>kopi-sim: what a crash takes from acknowledged writes</text>\n\
         <text x=\"{}\" y=\"52\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555\" \
         {FONT}>{}</text>",
        CHART_WIDTH / 2.0,
        CHART_WIDTH / 2.0,
        xml_escape(subtitle)
    );
    // The legend, centred under the subtitle.
    let legend_x = CHART_WIDTH / 2.0 - 170.0;
    for (i, crash) in crashes.iter().enumerate() {
        let x = legend_x + i as f64 * 190.0;
        let label = match crash {
            Crash::Kill => "kill (SIGKILL)",
            Crash::PowerLoss => "power-loss (unsynced dropped)",
        };
        let _ = writeln!(
            out,
            "<rect x=\"{x}\" y=\"66\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"78\" font-size=\"12\" {FONT}>{label}</text>",
            crash_colour(*crash),
            x + 20.0
        );
    }

    let lost_percent = |o: &Outcome| {
        if o.acknowledged == 0 {
            0.0
        } else {
            100.0 * o.lost as f64 / o.acknowledged as f64
        }
    };
    let throughput_max = nice_ceiling(
        outcomes
            .iter()
            .map(|o| o.ops_per_sec)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max),
    );
    let lost = Panel {
        title: "Acknowledged writes lost (%)",
        max: 100.0,
        value: &lost_percent,
        label: &|v| format!("{v:.0}%"),
    };
    let throughput = Panel {
        title: "Throughput (acknowledged SET/s)",
        max: throughput_max,
        value: &|o| o.ops_per_sec,
        label: &|v| format!("{v:.0}"),
    };
    for (panel, place) in [lost, throughput].iter().zip(PANELS) {
        draw_panel(&mut out, panel, place, outcomes, &modes, &crashes);
    }
    out.push_str("</svg>\n");
    out
}

/// One bar chart of the figure.
struct Panel<'a> {
    title: &'a str,
    /// The top of the y axis.
    max: f64,
    /// The bar's height for a scenario, in the axis's unit.
    value: &'a dyn Fn(&Outcome) -> f64,
    /// How a value is written on the axis and above a bar.
    label: &'a dyn Fn(f64) -> String,
}

/// Draws `panel` with its y axis at `left`, `width` wide: one group of bars per mode, one
/// bar per crash kind.
fn draw_panel(
    out: &mut String,
    panel: &Panel,
    (left, width): (f64, f64),
    outcomes: &[Outcome],
    modes: &[Mode],
    crashes: &[Crash],
) {
    let Panel {
        title,
        max,
        value,
        label,
    } = *panel;
    const TICKS: usize = 5;
    let bottom = PANEL_TOP + PANEL_HEIGHT;
    let max = if max > 0.0 { max } else { 1.0 };
    let y_of = |v: f64| bottom - PANEL_HEIGHT * (v / max).clamp(0.0, 1.0);
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\" \
         {FONT}>{}</text>",
        left + width / 2.0,
        PANEL_TOP - 14.0,
        xml_escape(title)
    );
    // Grid lines and the y axis's labels.
    for tick in 0..=TICKS {
        let v = max * tick as f64 / TICKS as f64;
        let y = y_of(v);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" {FONT}>{}</text>",
            left + width,
            left - 6.0,
            y + 4.0,
            xml_escape(&label(v))
        );
    }
    let _ = writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{PANEL_TOP}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#333\"/>\
         <line x1=\"{left}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"#333\"/>",
        left + width
    );
    let group = width / modes.len().max(1) as f64;
    let bar = (group * 0.8 / crashes.len().max(1) as f64).min(30.0);
    for (m, mode) in modes.iter().enumerate() {
        let centre = left + group * (m as f64 + 0.5);
        let bars_left = centre - bar * crashes.len() as f64 / 2.0;
        for (c, crash) in crashes.iter().enumerate() {
            let Some(o) = outcomes
                .iter()
                .find(|o| o.mode == *mode && o.crash == *crash)
            else {
                continue;
            };
            let v = value(o);
            let v = if v.is_finite() { v } else { 0.0 };
            let x = bars_left + bar * c as f64;
            let y = y_of(v);
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
                 <title>{} / {}: {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\" \
                 {FONT}>{}</text>",
                bar - 2.0,
                (bottom - y).max(0.0),
                crash_colour(*crash),
                mode.name(),
                crash.name(),
                xml_escape(&label(v)),
                x + (bar - 2.0) / 2.0,
                y - 4.0,
                xml_escape(&label(v))
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{centre:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" \
             {FONT}>{}</text>",
            bottom + 18.0,
            mode.name()
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555\" \
         {FONT}>persistence mode</text>",
        left + width / 2.0,
        bottom + 40.0
    );
}

fn crash_colour(crash: Crash) -> &'static str {
    match crash {
        Crash::Kill => CRASH_COLOURS[0],
        Crash::PowerLoss => CRASH_COLOURS[1],
    }
}

/// The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten)
/// that is at least `v`: an axis's top that leaves the tallest bar most of the height.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|&top| top >= v)
        .unwrap_or(10.0 * magnitude)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(mode: Mode, crash: Crash, acknowledged: u64, lost: u64) -> Outcome {
        Outcome {
            mode,
            crash,
            acknowledged,
            recovered: acknowledged - lost,
            lost,
            loss_window_ms: if lost > 0 { 850 } else { 0 },
            restart_ms: 12,
            ops_per_sec: 1999.5,
        }
    }

    fn sample() -> Vec<Outcome> {
        vec![
            outcome(Mode::None, Crash::Kill, 4000, 4000),
            outcome(Mode::AofEverysec, Crash::PowerLoss, 4000, 1600),
            outcome(Mode::AofAlways, Crash::PowerLoss, 3000, 0),
        ]
    }

    #[test]
    fn json_reads_back_field_for_field() {
        let text = json(&sample());
        let rows = parse_json_rows(&text).unwrap();
        assert_eq!(rows.len(), 3);
        let get = |row: &JsonRow, name: &str| {
            row.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            get(&rows[1], "mode"),
            JsonValue::String("aof-everysec".into())
        );
        assert_eq!(
            get(&rows[1], "crash"),
            JsonValue::String("power-loss".into())
        );
        assert_eq!(get(&rows[1], "acknowledged"), JsonValue::Number(4000.0));
        assert_eq!(get(&rows[1], "recovered"), JsonValue::Number(2400.0));
        assert_eq!(get(&rows[1], "lost"), JsonValue::Number(1600.0));
        assert_eq!(get(&rows[1], "loss_window_ms"), JsonValue::Number(850.0));
        assert_eq!(get(&rows[1], "restart_ms"), JsonValue::Number(12.0));
        assert_eq!(get(&rows[1], "ops_per_sec"), JsonValue::Number(1999.5));
        assert_eq!(
            get(&rows[2], "explanation"),
            JsonValue::String(explain(&sample()[2]))
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            json_string("a \"b\" \\ \n\u{1}"),
            r#""a \"b\" \\ \n\u0001""#
        );
        let rows = parse_json_rows(r#"[{"s": "a \"b\" \\ \n\u0001"}]"#).unwrap();
        assert_eq!(rows[0][0].1, JsonValue::String("a \"b\" \\ \n\u{1}".into()));
        assert_eq!(parse_json_rows("[]").unwrap(), Vec::<JsonRow>::new());
        assert!(parse_json_rows("[{\"a\": 1}").is_err());
        assert!(parse_json_rows("[{\"a\": 1}] x").is_err());
    }

    #[test]
    fn svg_has_both_panels_a_bar_per_outcome_and_the_legend() {
        let svg = svg(&sample(), "4 clients <test>");
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Acknowledged writes lost (%)"));
        assert!(svg.contains("Throughput (acknowledged SET/s)"));
        assert!(svg.contains("kill (SIGKILL)") && svg.contains("power-loss (unsynced dropped)"));
        assert!(svg.contains("4 clients &lt;test&gt;"));
        // Two panels, one bar per outcome in each.
        assert_eq!(svg.matches("<title>").count(), 2 * sample().len());
        assert!(svg.contains("<title>aof-everysec / power-loss: 40%</title>"));
        assert!(svg.contains("<title>none / kill: 100%</title>"));
        assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(1999.5), 2000.0);
        assert_eq!(nice_ceiling(2001.0), 2500.0);
        assert_eq!(nice_ceiling(8001.0), 10000.0);
        assert_eq!(nice_ceiling(7.0), 8.0);
        assert_eq!(nice_ceiling(9.0), 10.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn every_row_gets_a_sentence_with_its_numbers() {
        let everysec = explain(&sample()[1]);
        assert!(everysec.contains("850 ms") && everysec.contains("1600 of 4000"));
        assert!(explain(&sample()[0]).contains("all 4000 acknowledged moves are gone"));
        assert!(explain(&sample()[2]).contains("nothing announced fades"));
        let broken = explain(&outcome(Mode::AofNo, Crash::Kill, 10, 1));
        assert!(broken.contains("broken promise"), "{broken}");
    }

    #[test]
    fn table_has_a_row_per_outcome() {
        let table = table(&sample());
        assert_eq!(table.lines().count(), 4);
        assert!(
            table
                .lines()
                .nth(3)
                .unwrap()
                .starts_with("aof-always    power-loss")
        );
    }
}
