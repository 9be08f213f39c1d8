//! Micro-benchmarks of the request path: the parser, command dispatch, and the AOF effects
//! buffer. `cargo bench --bench micro`; timings only mean something on a quiet machine
//! (`bench/callgrind.sh` gives instruction counts that do not depend on it).

mod workload;

use bytes::{Bytes, BytesMut};
use divan::{Bencher, black_box};
use kopi::commands;
use kopi::commands::propagate::Effects;
use kopi::protocol::RequestParser;
use workload::{Harness, LIMITS, PIPELINE, key};

fn main() {
    divan::main();
}

/// A pipeline of 8 SETs and 8 GETs, as one read brings it in.
fn pipeline(encode: fn(&mut Vec<u8>, &[&[u8]])) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..PIPELINE / 2 {
        encode(&mut out, &[b"SET", &key(i), b"xxx"]);
        encode(&mut out, &[b"GET", &key(i)]);
    }
    out
}

fn parse_all(input: &[u8]) -> usize {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::from(input);
    let mut n = 0;
    while let Some(args) = parser.next(&mut buf, LIMITS).unwrap() {
        n += args.len();
        black_box(args);
    }
    n
}

mod parse {
    use super::*;

    /// 16 requests (SET and GET) in RESP multibulk form.
    #[divan::bench]
    fn resp_pipeline_16(bencher: Bencher) {
        let input = pipeline(workload::resp);
        bencher
            .counter(divan::counter::ItemsCount::new(PIPELINE))
            .bench(|| parse_all(black_box(&input)));
    }

    /// The same 16 requests as inline lines.
    #[divan::bench]
    fn inline_pipeline_16(bencher: Bencher) {
        let input = pipeline(workload::inline);
        bencher
            .counter(divan::counter::ItemsCount::new(PIPELINE))
            .bench(|| parse_all(black_box(&input)));
    }
}

mod dispatch {
    use super::*;

    /// `commands::execute` of one request on an in-process server holding 1000 keys;
    /// `setup` prepares keys the request needs.
    fn run(bencher: Bencher, words: &[&[u8]], setup: &[&[&[u8]]]) {
        let mut h = Harness::new();
        for i in 0..1000 {
            h.run(&[b"SET", &key(i), b"xxx"]);
        }
        for request in setup {
            h.run(request);
        }
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w)).collect();
        let server = h.server.clone();
        let mut state = server.state.lock();
        bencher.bench_local(|| {
            commands::execute(&server, &mut state, &mut h.client, &mut h.reply, &args);
            h.reply.buf.clear();
        });
    }

    #[divan::bench]
    fn get(bencher: Bencher) {
        run(bencher, &[b"GET", b"key:000000000500"], &[]);
    }

    #[divan::bench]
    fn set(bencher: Bencher) {
        run(bencher, &[b"SET", b"key:000000000500", b"xxx"], &[]);
    }

    #[divan::bench]
    fn incr(bencher: Bencher) {
        run(bencher, &[b"INCR", b"counter"], &[]);
    }

    #[divan::bench]
    fn lpush(bencher: Bencher) {
        // The list grows by one element per iteration, as redis-benchmark's LPUSH test.
        run(bencher, &[b"LPUSH", b"list", b"xxx"], &[]);
    }

    #[divan::bench]
    fn hset(bencher: Bencher) {
        run(
            bencher,
            &[b"HSET", b"hash", b"field", b"xxx"],
            &[&[b"HSET", b"hash", b"other", b"yyy"]],
        );
    }

    /// SET with the effects buffer on (AOF enabled): dispatch plus the record's encoding.
    #[divan::bench]
    fn set_recorded(bencher: Bencher) {
        let mut h = Harness::new();
        h.server.state.lock().effects.set_enabled(true);
        let args: Vec<Bytes> = [&b"SET"[..], b"key:000000000500", b"xxx"]
            .iter()
            .map(|w| Bytes::copy_from_slice(w))
            .collect();
        let server = h.server.clone();
        let mut state = server.state.lock();
        let mut written = Vec::new();
        bencher.bench_local(|| {
            commands::execute(&server, &mut state, &mut h.client, &mut h.reply, &args);
            h.reply.buf.clear();
            state.effects.take(&mut written);
            written.clear();
        });
    }
}

mod aof {
    use super::*;

    fn recording() -> Effects {
        let mut effects = Effects::default();
        effects.set_enabled(true);
        effects
    }

    /// One unit with one effect (a SET), then handed to the writer.
    #[divan::bench]
    fn append_set(bencher: Bencher) {
        let mut effects = recording();
        let mut written = Vec::new();
        let key = key(500);
        bencher.bench_local(|| {
            effects.begin_unit(0);
            effects.push(0, &[&b"SET"[..], &key, b"xxx"]);
            effects.end_unit();
            effects.take(&mut written);
            written.clear();
        });
    }

    /// A pipeline's worth of units (16 SETs) taken by the writer at once: group commit.
    #[divan::bench]
    fn append_16_then_take(bencher: Bencher) {
        let mut effects = recording();
        let mut written = Vec::new();
        let keys: Vec<Vec<u8>> = (0..PIPELINE).map(key).collect();
        bencher
            .counter(divan::counter::ItemsCount::new(PIPELINE))
            .bench_local(|| {
                for key in &keys {
                    effects.begin_unit(0);
                    effects.push(0, &[&b"SET"[..], key, b"xxx"]);
                    effects.end_unit();
                }
                effects.take(&mut written);
                written.clear();
            });
    }

    /// A unit of two effects (a transaction): MULTI is inserted before the first.
    #[divan::bench]
    fn append_multi_exec(bencher: Bencher) {
        let mut effects = recording();
        let mut written = Vec::new();
        bencher.bench_local(|| {
            effects.begin_unit(0);
            effects.push(0, &[&b"SET"[..], b"a", b"1"]);
            effects.push(0, &[&b"INCR"[..], b"b"]);
            effects.end_unit();
            effects.take(&mut written);
            written.clear();
        });
    }
}
