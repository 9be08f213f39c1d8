//! The command table against a real `redis-server` 7.0: for every command and subcommand kopi
//! has, `COMMAND INFO` and `COMMAND DOCS` must say what Redis says, in RESP2 and RESP3.
//!
//! Two things are left out of the comparison: the order of a container's subcommands (Redis
//! keeps them in a hash table) and the subcommands kopi does not have; and the `arguments`
//! entry of COMMAND DOCS, which kopi's table does not describe.
//!
//! `redis-server` missing from PATH: the tests are skipped with a loud message, or fail when
//! `CI` is set.

mod common;

use std::collections::BTreeSet;
use std::io::BufRead;

use common::{Raw, RedisServer, Server, require_program};

/// A RESP value: a line or blob (`+ - : , # _ ( $ = !`, null as `_`), or an aggregate
/// (`* ~ > % |`; a map holds its keys and values in turn).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Atom(u8, Vec<u8>),
    Agg(u8, Vec<Value>),
}

impl Value {
    fn text(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(b'$' | b'+', text) => Some(text),
            _ => None,
        }
    }

    fn items(&self) -> &[Value] {
        match self {
            Value::Agg(_, items) => items,
            Value::Atom(..) => &[],
        }
    }

    fn show(&self) -> String {
        match self {
            Value::Atom(b'_', _) => "null".into(),
            Value::Atom(b'$' | b'+', text) => format!("{:?}", String::from_utf8_lossy(text)),
            Value::Atom(tag, text) => format!("{}{}", *tag as char, String::from_utf8_lossy(text)),
            Value::Agg(tag, items) => {
                let inner: Vec<String> = items.iter().map(Value::show).collect();
                format!("{}[{}]", *tag as char, inner.join(", "))
            }
        }
    }
}

fn read(r: &mut impl BufRead) -> Value {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read a reply line");
    assert!(line.len() >= 3, "truncated reply line {line:?}");
    let tag = line[0];
    let body = line[1..line.len() - 2].to_vec();
    let count = || -> i64 {
        std::str::from_utf8(&body)
            .ok()
            .and_then(|n| n.parse().ok())
            .expect("a length")
    };
    match tag {
        b'$' | b'=' | b'!' => {
            let n = count();
            if n < 0 {
                return Value::Atom(b'_', Vec::new());
            }
            let mut data = vec![0; n as usize + 2];
            r.read_exact(&mut data).expect("read a blob");
            data.truncate(n as usize);
            Value::Atom(tag, data)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count();
            if n < 0 {
                return Value::Atom(b'_', Vec::new());
            }
            let n = if matches!(tag, b'%' | b'|') { n * 2 } else { n };
            Value::Agg(tag, (0..n).map(|_| read(r)).collect())
        }
        b'_' => Value::Atom(b'_', Vec::new()),
        _ => Value::Atom(tag, body),
    }
}

fn call(raw: &mut Raw, args: &[&str]) -> Value {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    raw.send_cmd(&args);
    read(&mut raw.reader)
}

/// COMMAND INFO's entry with its subcommands (the 10th field) sorted and limited to `keep`.
fn normalize_info(info: &Value, keep: &BTreeSet<Vec<u8>>) -> Value {
    let Value::Agg(tag, fields) = info else {
        return info.clone();
    };
    let mut fields = fields.clone();
    if let Some(Value::Agg(sub_tag, subs)) = fields.get(9) {
        let mut subs: Vec<Value> = subs
            .iter()
            .filter(|sub| {
                sub.items()
                    .first()
                    .and_then(Value::text)
                    .is_some_and(|name| keep.contains(name))
            })
            .map(|sub| normalize_info(sub, keep))
            .collect();
        subs.sort();
        fields[9] = Value::Agg(*sub_tag, subs);
    }
    Value::Agg(*tag, fields)
}

/// COMMAND DOCS's map for one command without `arguments`, its subcommands sorted and limited
/// to `keep`.
fn normalize_docs(docs: &Value, keep: &BTreeSet<Vec<u8>>) -> Value {
    let Value::Agg(tag, items) = docs else {
        return docs.clone();
    };
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let [key, value] = pair else {
            return docs.clone();
        };
        match key.text() {
            Some(b"arguments") => continue,
            Some(b"subcommands") => {
                let Value::Agg(sub_tag, subs) = value else {
                    return docs.clone();
                };
                let mut subs: Vec<(Value, Value)> = subs
                    .chunks(2)
                    .filter(|sub| sub[0].text().is_some_and(|name| keep.contains(name)))
                    .map(|sub| (sub[0].clone(), normalize_docs(&sub[1], keep)))
                    .collect();
                subs.sort();
                let flat = subs.into_iter().flat_map(|(k, v)| [k, v]).collect();
                out.extend([key.clone(), Value::Agg(*sub_tag, flat)]);
            }
            _ => out.extend([key.clone(), value.clone()]),
        }
    }
    Value::Agg(*tag, out)
}

/// Every command and subcommand name in kopi's COMMAND reply.
fn command_names(raw: &mut Raw) -> Vec<String> {
    let mut names = Vec::new();
    for info in call(raw, &["COMMAND"]).items() {
        let fields = info.items();
        let subcommands = fields.get(9).map(Value::items).unwrap_or_default();
        let entries = fields
            .first()
            .into_iter()
            .chain(subcommands.iter().filter_map(|sub| sub.items().first()));
        for name in entries {
            let name = name.text().expect("a command name");
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    names.sort();
    names
}

/// The first element of COMMAND DOCS's reply for one name (RESP2 array or RESP3 map).
fn docs_of(reply: &Value) -> Value {
    reply
        .items()
        .get(1)
        .cloned()
        .unwrap_or(Value::Atom(b'_', Vec::new()))
}

/// Each name whose COMMAND INFO or DOCS differs, with both replies, after normalization.
fn differences(kopi: &mut Raw, redis: &mut Raw, names: &[String]) -> Vec<String> {
    let keep: BTreeSet<Vec<u8>> = names.iter().map(|n| n.as_bytes().to_vec()).collect();
    let mut out = Vec::new();
    for name in names {
        let info = |raw: &mut Raw| {
            let reply = call(raw, &["COMMAND", "INFO", name]);
            normalize_info(reply.items().first().expect("one entry"), &keep)
        };
        let (a, b) = (info(kopi), info(redis));
        if a != b {
            out.push(format!(
                "COMMAND INFO {name}\n  kopi:  {}\n  redis: {}",
                a.show(),
                b.show()
            ));
        }
        let docs =
            |raw: &mut Raw| normalize_docs(&docs_of(&call(raw, &["COMMAND", "DOCS", name])), &keep);
        let (a, b) = (docs(kopi), docs(redis));
        if a != b {
            out.push(format!(
                "COMMAND DOCS {name}\n  kopi:  {}\n  redis: {}",
                a.show(),
                b.show()
            ));
        }
    }
    out
}

fn start_both(test: &str) -> Option<(Server, RedisServer)> {
    let program = require_program("redis-server", test)?;
    Some((
        Server::start(),
        RedisServer::start(&program, &["--save", "", "--appendonly", "no"]),
    ))
}

#[test]
fn command_info_and_docs_match_redis_for_every_command() {
    let Some((kopi, redis)) = start_both("command_info_and_docs_match_redis_for_every_command")
    else {
        return;
    };
    let mut report = Vec::new();
    for protocol in ["2", "3"] {
        let mut k = kopi.raw();
        let mut r = Raw::connect(redis.port);
        call(&mut k, &["HELLO", protocol]);
        call(&mut r, &["HELLO", protocol]);
        let names = command_names(&mut k);
        assert!(
            names.len() > 100,
            "kopi lists only {} commands",
            names.len()
        );
        for difference in differences(&mut k, &mut r, &names) {
            report.push(format!("RESP{protocol} {difference}"));
        }
    }
    assert!(
        report.is_empty(),
        "{} differences from redis-server:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn command_getkeysandflags_matches_redis() {
    let Some((kopi, redis)) = start_both("command_getkeysandflags_matches_redis") else {
        return;
    };
    let mut k = kopi.raw();
    let mut r = Raw::connect(redis.port);
    let cases: &[&[&str]] = &[
        &["set", "k", "v"],
        &["set", "k", "v", "GET"],
        &["set", "k", "v", "nx", "get", "ex", "10"],
        &["set", "k", "v", "xget"],
        &["setnx", "k", "v"],
        &["getex", "k", "persist"],
        &["getdel", "k"],
        &["copy", "a", "b"],
        &["rename", "a", "b"],
        &["renamenx", "a", "b"],
        &["mset", "a", "1", "b", "2"],
        &["msetnx", "a", "1", "b", "2"],
        &["del", "a", "b"],
        &["exists", "a", "b"],
        &["lcs", "a", "b"],
        &["append", "k", "v"],
        &["expire", "k", "10"],
        &["watch", "a", "b"],
        &["object", "encoding", "k"],
    ];
    for case in cases {
        let mut args = vec!["COMMAND", "GETKEYSANDFLAGS"];
        args.extend_from_slice(case);
        let (a, b) = (call(&mut k, &args), call(&mut r, &args));
        assert!(
            a == b,
            "COMMAND GETKEYSANDFLAGS {}\n  kopi:  {}\n  redis: {}",
            case.join(" "),
            a.show(),
            b.show()
        );
    }
}
