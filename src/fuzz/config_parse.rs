//! `config_parse`: the `redis.conf` parser, CONFIG SET's checks, CONFIG GET and CONFIG
//! REWRITE's text, on arbitrary input.
//!
//! The input (read with [`arbitrary`]) is a config text, then up to eight CONFIG SET pairs
//! whose names are mostly real parameters (any of them, aliases included) and whose values are
//! mostly taken from a list of interesting ones (units, percentages, extremes, enum names).
//!
//! - The text is loaded as a config file. When it loads, the CONFIG REWRITE text written over
//!   it, and the text written from scratch with every parameter, must load again to the same
//!   values.
//! - Each pair is set alone (CONFIG SET name value). When accepted, CONFIG GET of the name
//!   must give a value that CONFIG SET accepts again without changing anything.
//! - All pairs are set at once: accepted, or refused with nothing changed.
//!
//! Lines that would touch the file system or the process (`include`, `dir`) are dropped from
//! the text; CONFIG SET runs without protected parameters (so `dir` is refused).

use arbitrary::Unstructured;

use crate::protocol::split::split_args;
use crate::server::config::{Config, PARAMS, lookup_param};

/// Values worth trying for any parameter.
const VALUES: &[&str] = &[
    "",
    "yes",
    "no",
    "YES",
    "0",
    "1",
    "-1",
    "100",
    "1k",
    "1kb",
    "1mb",
    "1gb",
    "5GB",
    "100%",
    "0%",
    "101%",
    "-5%",
    "%",
    "777",
    "0777",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "2147483648",
    "4294967296",
    "everysec",
    "always",
    "allkeys-lru",
    "noeviction",
    "nosave save",
    "save nosave",
    "default",
    "notice",
    "local",
    "3600 1 300 100",
    "normal 0 0 0",
    "pubsub 32mb 8mb 60",
    "replica 1 2 3 4",
    "1 2 3",
    "-2001 0 0",
    "KEA",
    "Ag$lshzxeKEtmdn",
    "x",
    "50 99 99.9",
    "100.1",
    "nan",
    "no one",
    "127.0.0.1 ::1",
    "\"",
    " ",
    "1 ",
    " 1",
    "+1",
    "0x10",
    "1e3",
    "99999999999999999999mb",
];

/// The fuzz target's body (`fuzz/fuzz_targets/config_parse.rs`).
pub fn fuzz_one(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((text, pairs)) = input(&mut u) else {
        return;
    };

    let mut config = Config::default();
    if config.load_text(&text, &[], 0).is_ok() {
        check_rewrite(&config, &text, false);
        check_rewrite(&config, "", true);
    } else {
        config = Config::default();
    }

    for (name, value) in &pairs {
        check_set_get_set(&config, name, value);
    }

    let before = values(&config);
    let all: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    if config.set_runtime(&all, false).is_err() {
        assert_eq!(
            before,
            values(&config),
            "a refused CONFIG SET changed the configuration"
        );
    }
}

type Input = (String, Vec<(String, String)>);

fn input(u: &mut Unstructured<'_>) -> arbitrary::Result<Input> {
    let text_len = usize::from(u.arbitrary::<u16>()?).min(u.len());
    let text = String::from_utf8_lossy(u.bytes(text_len)?).into_owned();
    let mut pairs = Vec::new();
    for _ in 0..u.int_in_range(0..=8u8)? {
        let name = if u.ratio(7, 8)? {
            let param = u.choose(PARAMS)?;
            match param.alias {
                Some(alias) if u.arbitrary()? => alias.to_string(),
                _ => param.name.to_string(),
            }
        } else {
            u.arbitrary::<String>()?
        };
        let value = if u.ratio(3, 4)? {
            u.choose(VALUES)?.to_string()
        } else {
            u.arbitrary::<String>()?
        };
        pairs.push((name, value));
    }
    Ok((without_side_effects(&text), pairs))
}

/// `text` without the lines that name another file (`include`) or change the working
/// directory (`dir`), split into lines as [`Config::load_text`] splits them.
fn without_side_effects(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let trimmed = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            let first = split_args(trimmed.as_bytes())
                .and_then(|words| words.into_iter().next())
                .unwrap_or_default();
            if first.eq_ignore_ascii_case(b"include") || first.eq_ignore_ascii_case(b"dir") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every parameter's value, in table order.
fn values(config: &Config) -> Vec<String> {
    PARAMS
        .iter()
        .map(|p| config.get(p.name).to_string())
        .collect()
}

/// CONFIG REWRITE over `old` gives a text that loads to the same values.
fn check_rewrite(config: &Config, old: &str, force_all: bool) {
    let rewritten = without_side_effects(&config.rewrite_text(old, force_all));
    let mut again = Config::default();
    if let Err(e) = again.load_text(&rewritten, &[], 0) {
        panic!(
            "the rewritten config does not load: {e}\n--- old:\n{old}\n--- rewritten:\n{rewritten}"
        );
    }
    for param in PARAMS {
        if param.name == "dir" {
            continue;
        }
        assert_eq!(
            config.get(param.name),
            again.get(param.name),
            "`{}` changed through CONFIG REWRITE\n--- old:\n{old}\n--- rewritten:\n{rewritten}",
            param.name
        );
    }
}

/// CONFIG SET name value; when accepted, CONFIG GET name, and CONFIG SET of what it gave
/// must be accepted and change nothing.
fn check_set_get_set(base: &Config, name: &str, value: &str) {
    let mut config = base.clone();
    if config
        .set_runtime(&[(name.as_bytes(), value.as_bytes())], false)
        .is_err()
    {
        return;
    }
    assert!(lookup_param(name).is_some(), "CONFIG SET accepted `{name}`");
    let got = config.matching(&[name.as_bytes()]);
    let [(_, read_back)] = &got[..] else {
        panic!("CONFIG GET {name} after CONFIG SET gave {got:?}");
    };
    let before = values(&config);
    if let Err(e) = config.set_runtime(&[(name.as_bytes(), read_back.as_bytes())], false) {
        panic!("CONFIG SET {name} {value:?} then CONFIG GET gave {read_back:?}, refused: {e}");
    }
    assert_eq!(
        before,
        values(&config),
        "CONFIG SET {name} {read_back:?} (as CONFIG GET gave it) changed the configuration"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_loads_and_round_trips() {
        let files = crate::fuzz::corpus::files("config_parse");
        assert!(files.len() >= 5, "the corpus has {} files", files.len());
        for (_, bytes) in files {
            fuzz_one(&bytes);
        }
    }

    #[test]
    fn include_and_dir_lines_are_dropped() {
        let text = "port 1\n  include /etc/x\nDIR /\n\"dir\" /tmp\nmaxclients 5";
        assert_eq!(without_side_effects(text), "port 1\n\n\n\nmaxclients 5");
    }

    #[test]
    fn set_get_set_round_trips_for_every_value_of_the_list() {
        let config = Config::default();
        for param in PARAMS {
            for value in VALUES {
                check_set_get_set(&config, param.name, value);
            }
        }
    }
}
