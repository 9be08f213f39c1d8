//! Workloads shared by the micro-benchmarks and the instruction-count driver: an in-process
//! server, pipelines of requests in the wire format, and a request loop shaped like a
//! connection's (parse a batch, run it under one acquisition of the keyspace lock, drop the
//! replies as if written).

#![allow(dead_code)]

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kopi::commands;
use kopi::protocol::request::ParseLimits;
use kopi::protocol::{Protocol, Reply, RequestParser};
use kopi::server::Server;
use kopi::server::client::{Client, ClientHandle, Peer};
use kopi::server::config::Config;

/// Requests per batch: what `redis-benchmark -P 16` sends per read.
pub const PIPELINE: usize = 16;

pub const LIMITS: ParseLimits = ParseLimits {
    proto_max_bulk_len: 512 * 1024 * 1024,
    authenticated: true,
};

/// An in-process server with one authenticated client, as the tests build them.
pub struct Harness {
    pub server: Arc<Server>,
    pub client: Client,
    pub reply: Reply,
}

impl Harness {
    pub fn new() -> Harness {
        let server = Server::new(Config::default());
        let peer = Peer::internal();
        let client = Client::new(ClientHandle::detached(1, &peer), peer, true);
        Harness {
            server,
            client,
            reply: Reply::new(Protocol::Resp2),
        }
    }

    /// Runs one request (given as words) and returns its reply.
    pub fn run(&mut self, words: &[&[u8]]) -> Vec<u8> {
        let args: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w)).collect();
        self.reply.buf.clear();
        let mut state = self.server.state.lock();
        commands::execute(
            &self.server,
            &mut state,
            &mut self.client,
            &mut self.reply,
            &args,
        );
        self.reply.buf.clone()
    }

    /// Parses and runs every request in `input`, `PIPELINE` at a time, as a connection does.
    /// Returns the bytes of replies produced.
    pub fn serve(&mut self, input: &mut BytesMut) -> usize {
        let mut parser = RequestParser::new();
        let mut batch: Vec<Vec<Bytes>> = Vec::with_capacity(PIPELINE);
        let mut replied = 0;
        loop {
            while batch.len() < PIPELINE {
                match parser.next(input, LIMITS).expect("well-formed requests") {
                    Some(args) => batch.push(args),
                    None => break,
                }
            }
            if batch.is_empty() {
                return replied;
            }
            {
                let mut state = self.server.state.lock();
                for args in &batch {
                    self.reply.protocol = self.client.protocol;
                    commands::execute(
                        &self.server,
                        &mut state,
                        &mut self.client,
                        &mut self.reply,
                        args,
                    );
                }
            }
            batch.clear();
            replied += self.reply.buf.len();
            self.reply.buf.clear();
        }
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

/// `key:<12 digits>`, the shape of `redis-benchmark -r`'s keys.
pub fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// Appends one request as a RESP multibulk.
pub fn resp(out: &mut Vec<u8>, words: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", words.len()).as_bytes());
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends one request as an inline line.
pub fn inline(out: &mut Vec<u8>, words: &[&[u8]]) {
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out.extend_from_slice(b"\r\n");
}

/// `SET key:i xxx` for `i` in `0..n` (redis-benchmark's default 3-byte value).
pub fn sets(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        resp(&mut out, &[b"SET", &key(i), b"xxx"]);
    }
    out
}

/// `GET key:i` for `i` in `0..n`.
pub fn gets(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        resp(&mut out, &[b"GET", &key(i)]);
    }
    out
}
