#!/usr/bin/env python3
"""Crash soak: SIGKILL, restart, verify, again and again, under a write load.

For each fsync policy, for --minutes: kopi-server runs on one data directory
(appendonly yes) while --clients connections write. Each client sets fresh keys
c<client>:<n> (n counting up across the whole soak) and increments its own counter
key; now and then a BGREWRITEAOF is ordered so kills also land inside rewrites. After
a random 0.2-4 s the server gets SIGKILL, is restarted on the same directory, and
checked:

  * every key acknowledged in this round is there with its value (a lost
    acknowledged write is a violation under every policy: SIGKILL keeps the page
    cache, and kopi writes before it replies);
  * per client, what survived is a prefix: no key n present while an acknowledged
    key m < n is missing;
  * every counter is at least its last acknowledged value and at most the number of
    increments sent;
  * DBSIZE is at least every key acknowledged since the start, at most every key
    sent.

A violation stops the soak with the data directory kept. Prints one line per
round and a summary per policy; --json writes the summary.

  python3 bench/soak.py [--minutes 10] [--policies always,everysec,no]
                        [--server target/release/kopi-server] [--clients 8] [--rate 5000]
                        [--json soak.json] [--seed N]
Not part of CI: bounded in time, loopback only, ends only the servers it started.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass

    def read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("closed")
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b":"):
            return int(rest) if kind == b":" else rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("bad reply %r" % line)

    def cmd(self, *args):
        self.sock.sendall(encode(*args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        return [self.read() for _ in commands]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(server, data, policy, log):
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
             "--appendonly", "yes", "--appendfsync", policy, "--save", ""],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                c = Conn(port, timeout=2)
                reply = c.cmd("PING")
                c.close()
                if reply == "PONG":
                    return proc, port
            except (OSError, ConnectionError):
                pass
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raise SystemExit("kopi-server did not start; see its log in " + data)


class Client(threading.Thread):
    """Writes fresh keys and increments a counter until stopped or disconnected."""

    def __init__(self, cid, port, next_n, counter_sent, stop, interval):
        super().__init__(daemon=True)
        self.interval = interval      # seconds between writes (0: as fast as replies come)
        self.cid, self.port, self.stop = cid, port, stop
        self.next_n = next_n          # the first key number of this round
        self.sent_to = next_n         # key numbers below this were sent
        self.acked = []               # key numbers acknowledged this round
        self.counter_sent = counter_sent
        self.counter_acked = None
        self.errors = []

    def run(self):
        try:
            conn = Conn(self.port)
        except OSError:
            return
        n = self.next_n
        try:
            while not self.stop.is_set():
                key = "c%d:%d" % (self.cid, n)
                self.sent_to = n + 1
                self.counter_sent += 1
                replies = conn.pipeline([("SET", key, "v%d" % n), ("INCR", "counter:%d" % self.cid)])
                if replies[0] != "OK" or not isinstance(replies[1], int):
                    self.errors.append((key, replies))
                    return
                self.acked.append(n)
                self.counter_acked = replies[1]
                n += 1
                if self.interval:
                    time.sleep(self.interval)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            conn.close()


def verify(port, clients, acked_total, sent_total):
    """Checks the restarted server; returns a list of violations."""
    conn = Conn(port, timeout=60)
    bad = []
    for c in clients:
        if c.acked:
            keys = ["c%d:%d" % (c.cid, n) for n in range(c.next_n, c.sent_to)]
            values = []
            for i in range(0, len(keys), 1000):
                values.extend(conn.cmd("MGET", *keys[i:i + 1000]))
            present = [v is not None for v in values]
            acked = set(c.acked)
            for n, v in zip(range(c.next_n, c.sent_to), values):
                if n in acked and v != b"v%d" % n:
                    bad.append("client %d: acknowledged c%d:%d is %r" % (c.cid, c.cid, n, v))
            first_missing = next((i for i, p in enumerate(present) if not p), None)
            if first_missing is not None and any(present[first_missing:]):
                bad.append("client %d: not a prefix from c%d:%d" % (c.cid, c.cid, c.next_n + first_missing))
        counter = conn.cmd("GET", "counter:%d" % c.cid)
        counter = int(counter) if counter is not None else 0
        if c.counter_acked is not None and counter < c.counter_acked:
            bad.append("client %d: counter %d < acknowledged %d" % (c.cid, counter, c.counter_acked))
        if counter > c.counter_sent:
            bad.append("client %d: counter %d > sent %d" % (c.cid, counter, c.counter_sent))
    size = conn.cmd("DBSIZE") - len(clients)
    if size < acked_total:
        bad.append("DBSIZE %d < acknowledged keys %d" % (size, acked_total))
    if size > sent_total:
        bad.append("DBSIZE %d > keys sent %d" % (size, sent_total))
    conn.close()
    return bad, size


def soak(args, policy, rng):
    data = tempfile.mkdtemp(prefix="kopi-soak-%s-" % policy)
    log = open(os.path.join(data, "server.log"), "ab")
    next_n = [0] * args.clients
    counters = [0] * args.clients
    acked_total = sent_total = 0
    rounds = rewrites = 0
    started = time.time()
    deadline = started + args.minutes * 60
    proc, port = start_server(args.server, data, policy, log)
    while time.time() < deadline:
        rounds += 1
        stop = threading.Event()
        interval = args.clients / args.rate if args.rate else 0
        clients = [Client(i, port, next_n[i], counters[i], stop, interval)
                   for i in range(args.clients)]
        for c in clients:
            c.start()
        run_for = rng.uniform(0.2, 4.0)
        rewrite_at = rng.uniform(0.0, run_for) if rng.random() < 0.5 else None
        t0 = time.time()
        if rewrite_at is not None:
            time.sleep(rewrite_at)
            try:
                c = Conn(port, timeout=2)
                c.cmd("BGREWRITEAOF")
                c.close()
                rewrites += 1
            except (OSError, ConnectionError):
                pass
        time.sleep(max(0.0, run_for - (time.time() - t0)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for c in clients:
            c.join(timeout=30)
        for c in clients:
            if c.errors:
                raise SystemExit("%s: error reply %r (data kept in %s)" % (policy, c.errors[0], data))
        acked_round = sum(len(c.acked) for c in clients)
        sent_round = sum(c.sent_to - c.next_n for c in clients)
        acked_total += acked_round
        sent_total += sent_round
        t_restart = time.time()
        proc, port = start_server(args.server, data, policy, log)
        restart_s = time.time() - t_restart
        bad, size = verify(port, clients, acked_total, sent_total)
        print("%-8s round %4d: killed after %.2f s%s, %6d acknowledged, %6d sent, restart %.2f s, %8d keys: %s"
              % (policy, rounds, run_for, " (rewrite)" if rewrite_at is not None else "",
                 acked_round, sent_round, restart_s, size, "ok" if not bad else "VIOLATION"),
              flush=True)
        if bad:
            for b in bad:
                print("  " + b)
            proc.kill()
            proc.wait()
            raise SystemExit("%s: violation; data kept in %s" % (policy, data))
        # Keys sent but not acknowledged may or may not be there: never reuse their numbers.
        for c in clients:
            next_n[c.cid] = c.sent_to
            counters[c.cid] = c.counter_sent
    proc.kill()
    proc.wait()
    log.close()
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    return {
        "policy": policy, "minutes": round((time.time() - started) / 60, 1), "rounds": rounds,
        "kills_during_rewrite_orders": rewrites, "acknowledged_writes": acked_total,
        "sent_writes": sent_total, "violations": 0,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--policies", default="always,everysec,no")
    p.add_argument("--server", default="target/release/kopi-server")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rate", type=float, default=5000,
                   help="writes per second, all clients together, at most (0: unbounded)")
    p.add_argument("--json")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--keep", action="store_true", help="keep the data directories")
    args = p.parse_args()
    if not os.path.exists(args.server):
        raise SystemExit("no %s: build it first (cargo build --release)" % args.server)
    rng = random.Random(args.seed)
    print("soak: %s, %d clients, at most %g writes/s, %.1f min per policy, seed %d"
          % (args.server, args.clients, args.rate, args.minutes, args.seed), flush=True)
    results = [soak(args, policy, rng) for policy in args.policies.split(",")]
    print()
    for r in results:
        print("%(policy)-8s %(minutes)5.1f min, %(rounds)4d SIGKILLs (%(kills_during_rewrite_orders)d with a "
              "rewrite ordered), %(acknowledged_writes)d acknowledged writes, %(violations)d violations" % r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": args.seed, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
