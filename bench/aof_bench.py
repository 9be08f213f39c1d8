#!/usr/bin/env python3
"""AOF measurements of kopi next to redis-server, on loopback (python3 standard library only).

Driven by bench/aof-load.sh and bench/aof-rewrite.sh, which build kopi, make the temporary
directory and clean up; see their headers for usage. Subcommands:

  aof_bench.py load WORK KOPI REDIS ROUNDS KEYS...
      For each KEYS: builds an AOF dir of KEYS keys with each server (a deterministic fill of
      SET key:i value:i through `redis-cli --pipe`, BGREWRITEAOF so the keys are in a RESP base
      file, then KEYS/10 SETs of existing keys and KEYS/10 INCRs of one counter into the incr
      file), then times ROUNDS alternating start-ups of each server on its own dir and on the
      other's, and of Redis on a dir it wrote with its default RDB preamble.
  aof_bench.py rewrite WORK KOPI REDIS ROUNDS RATE IDLE_S KEYS
      Fills KEYS keys into each server, then ROUNDS times, alternating: runs a fixed-rate
      GET/SET load on one connection, IDLE_S seconds idle, then BGREWRITEAOF; reports the
      rewrite's duration, the memory of the server (and of Redis's forked child) sampled every
      50 ms, and the load's latency before and during the rewrite.
  aof_bench.py loadgen PORT RATE KEYS OUT
      The load of `rewrite`, run as its own process (so that the sampling threads of the
      measuring process never delay it); stops on SIGTERM and writes one line per request:
      scheduled, sent and answered times in ns of CLOCK_MONOTONIC.

Every server process started is listed in WORK/pids (the shell scripts' traps kill what is
left of those, and only those).
"""

import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

LOADED_RE = re.compile(rb"DB loaded from (?:append only file|disk): ([0-9.]+) seconds")


class Error(str):
    """An error reply."""


def encode(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return Error(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise ConnectionError("connection closed")
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ValueError(f"unexpected reply line {line!r}")


class Conn:
    def __init__(self, port, timeout=600.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.sock.makefile("rb", buffering=65536)

    def cmd(self, *args):
        self.sock.sendall(encode(*args))
        return read_reply(self.f)

    def info(self, section):
        text = self.cmd("INFO", section)
        out = {}
        for line in text.decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def close(self):
        self.f.close()
        self.sock.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kb(pid):
    """VmRSS of a process in kB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def private_kb(pid):
    """Private_Clean + Private_Dirty of a process in kB: for a forked child, the pages that
    are no longer shared with its parent (0 once it is gone)."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        return 0
    return total


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


class Server:
    """One server process on a free loopback port with its own data dir."""

    def __init__(self, work, kind, binary, data_dir, rdb_preamble=False, extra=(), appendonly=True):
        self.work, self.kind, self.binary, self.data_dir = work, kind, binary, data_dir
        self.port = free_port()
        self.args = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--dir", data_dir,
            "--appendonly", "yes" if appendonly else "no",
            "--aof-use-rdb-preamble", "yes" if rdb_preamble else "no",
            "--auto-aof-rewrite-percentage", "0",
            *extra,
        ]
        self.log_path = data_dir.rstrip("/") + ".log"
        self.proc = None
        self.started_ns = 0

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        log = open(self.log_path, "wb")
        self.started_ns = time.monotonic_ns()
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        with open(os.path.join(self.work, "pids"), "a") as f:
            f.write(f"{self.proc.pid} {self.binary}\n")
        return self

    def wait_ready(self, timeout_s=600.0):
        """Seconds from the process start until PING answers PONG (not -LOADING)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                c = Conn(self.port, timeout=timeout_s)
            except OSError:
                time.sleep(0.002)
                continue
            try:
                reply = c.cmd("PING")
            except (OSError, ConnectionError):
                reply = None
            c.close()
            if reply == "PONG":
                return (time.monotonic_ns() - self.started_ns) / 1e9
            time.sleep(0.005)
        raise RuntimeError(f"{self.kind} not ready after {timeout_s} s")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def log_tail(self):
        return self.log_text()[-2000:].decode(errors="replace")

    def loaded_seconds(self):
        m = LOADED_RE.search(self.log_text())
        return float(m.group(1)) if m else float("nan")


def pipe_commands(port, chunks):
    """Sends the RESP chunks through `redis-cli --pipe`; fails unless every reply is OK."""
    p = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for chunk in chunks:
        p.stdin.write(chunk)
    p.stdin.close()
    out = p.stdout.read().decode(errors="replace")
    p.wait()
    if p.returncode != 0 or "errors: 0," not in out:
        raise RuntimeError(f"redis-cli --pipe failed: {out}")


def fill_chunks(keys, chunk=20000):
    """SET key:i value:i for i in 0..keys."""
    for start in range(0, keys, chunk):
        yield b"".join(encode(b"SET", b"key:%d" % i, b"value:%d" % i)
                       for i in range(start, min(keys, start + chunk)))


def update_chunks(count, chunk=20000):
    """SET key:i value:i:updated and INCR counter, count times each."""
    for start in range(0, count, chunk):
        yield b"".join(encode(b"SET", b"key:%d" % i, b"value:%d:updated" % i) + encode(b"INCR", b"counter")
                       for i in range(start, min(count, start + chunk)))


def bgrewriteaof(conn, timeout_s=600.0, poll_s=0.02):
    """Orders a rewrite and waits for its end. Returns (seconds from the order until
    aof_rewrite_in_progress:0, the INFO persistence fields after it)."""
    before = int(conn.info("persistence").get("aof_rewrites", "0"))
    started = time.monotonic_ns()
    reply = conn.cmd("BGREWRITEAOF")
    if isinstance(reply, Error):
        raise RuntimeError(f"BGREWRITEAOF: {reply}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = conn.info("persistence")
        if (info.get("aof_rewrite_in_progress") == "0" and info.get("aof_rewrite_scheduled") == "0"
                and int(info.get("aof_rewrites", "0")) > before):
            elapsed = (time.monotonic_ns() - started) / 1e9
            if info.get("aof_last_bgrewrite_status") != "ok":
                raise RuntimeError(f"rewrite failed: {info}")
            return elapsed, started, info
        time.sleep(poll_s)
    raise RuntimeError("rewrite did not end in time")


def bgsave(conn, timeout_s=600.0, poll_s=0.02):
    """Orders a BGSAVE and waits for its end, as `bgrewriteaof` does."""
    before = int(conn.info("persistence").get("rdb_saves", "0"))
    started = time.monotonic_ns()
    reply = conn.cmd("BGSAVE")
    if isinstance(reply, Error):
        raise RuntimeError(f"BGSAVE: {reply}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = conn.info("persistence")
        if info.get("rdb_bgsave_in_progress") == "0" and int(info.get("rdb_saves", "0")) > before:
            elapsed = (time.monotonic_ns() - started) / 1e9
            if info.get("rdb_last_bgsave_status") != "ok":
                raise RuntimeError(f"BGSAVE failed: {info}")
            return elapsed, started, info
        time.sleep(poll_s)
    raise RuntimeError("BGSAVE did not end in time")


def dir_summary(data_dir):
    aof = os.path.join(data_dir, "appendonlydir")
    files = sorted(os.listdir(aof))
    sizes = {f: os.path.getsize(os.path.join(aof, f)) for f in files}
    return ", ".join(f"{f} {sizes[f] / 1e6:.1f} MB" for f in files if not f.endswith("manifest"))


def med_range(values, fmt="{:.3f}"):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


# ---------------------------------------------------------------------------------------------
# load


def build_dir(work, kind, binary, name, keys, rdb_preamble):
    data = os.path.join(work, "src", name)
    server = Server(work, kind, binary, data, rdb_preamble=rdb_preamble).start()
    try:
        server.wait_ready()
        pipe_commands(server.port, fill_chunks(keys))
        c = Conn(server.port)
        bgrewriteaof(c)
        pipe_commands(server.port, update_chunks(keys // 10))
        size = c.cmd("DBSIZE")
        c.close()
    finally:
        server.stop()
    expected = keys + (1 if keys // 10 else 0)
    if size != expected:
        raise RuntimeError(f"{name}: DBSIZE {size}, expected {expected}")
    if not os.path.isdir(os.path.join(data, "appendonlydir")):
        raise RuntimeError(f"{name}: no appendonlydir")
    print(f"#   {name:<11} {dir_summary(data)}", flush=True)
    return data, expected


def time_startups(work, servers, dirs, combos, rounds, expected_of, args_of):
    """ROUNDS times, each (server kind, source dir) of `combos` in turn: starts the server on a
    fresh copy of the dir, times it until PONG, reads its load log line and RSS, checks DBSIZE.
    Returns {combo: {"ready": [...], "log": [...], "rss": [...]}}."""
    results = {c: {"ready": [], "log": [], "rss": []} for c in combos}
    for r in range(rounds):
        for kind, src in combos:
            data = os.path.join(work, "run", f"{kind}-on-{src}")
            shutil.rmtree(data, ignore_errors=True)
            shutil.copytree(dirs[src], data)
            server = Server(work, kind, servers[kind], data, **args_of(src)).start()
            try:
                ready = server.wait_ready()
                c = Conn(server.port)
                size = c.cmd("DBSIZE")
                c.close()
                rss = rss_kb(server.proc.pid) / 1024
            finally:
                server.stop()
            if size != expected_of(src):
                raise RuntimeError(f"{kind} on {src}: DBSIZE {size}, expected {expected_of(src)}")
            logged = server.loaded_seconds()
            res = results[(kind, src)]
            res["ready"].append(ready)
            res["log"].append(logged)
            res["rss"].append(rss)
            print(f"#   round {r + 1}: {kind:<5} loads {src:<9} ready {ready:.3f} s, "
                  f"log {logged:.3f} s, RSS {rss:.0f} MB", flush=True)
            shutil.rmtree(data, ignore_errors=True)
            os.remove(server.log_path)
    return results


def cmd_load(work, kopi, redis, rounds, key_counts):
    servers = {"kopi": kopi, "redis": redis}
    for keys in key_counts:
        print(f"# {keys} keys: SET key:i value:i, BGREWRITEAOF, then {keys // 10} SETs + "
              f"{keys // 10} INCRs in the incr file", flush=True)
        dirs = {}
        expected = 0
        for name, kind, preamble in (("kopi", "kopi", False), ("redis", "redis", False),
                                     ("redis-rdb", "redis", True)):
            t0 = time.monotonic()
            dirs[name], expected = build_dir(work, kind, servers[kind], name, keys, preamble)
            print(f"#     built in {time.monotonic() - t0:.1f} s", flush=True)
        # (server, dir it loads): own dirs first, then each other's, then Redis's default.
        combos = [("kopi", "kopi"), ("redis", "redis"), ("kopi", "redis"), ("redis", "kopi"),
                  ("redis", "redis-rdb")]
        results = time_startups(work, servers, dirs, combos, rounds, lambda src: expected,
                                lambda src: {"rdb_preamble": src == "redis-rdb"})
        print(f"{'server':<7}{'loads dir of':<14}{'until PONG, s (min-max)':>26}"
              f"{'log line, s (min-max)':>26}{'RSS MB':>8}")
        for kind, src in combos:
            res = results[(kind, src)]
            label = "redis (RDB)" if src == "redis-rdb" else src
            print(f"{kind:<7}{label:<14}{med_range(res['ready']):>26}{med_range(res['log']):>26}"
                  f"{statistics.median(res['rss']):>8.0f}")

        def ratio(a, b):
            return statistics.median(results[a]["ready"]) / statistics.median(results[b]["ready"])

        print(f"redis/kopi start-up time: own dirs {ratio(('redis', 'redis'), ('kopi', 'kopi')):.2f}, "
              f"kopi's dir {ratio(('redis', 'kopi'), ('kopi', 'kopi')):.2f}, "
              f"redis's dir {ratio(('redis', 'redis'), ('kopi', 'redis')):.2f}, "
              f"redis with RDB preamble vs kopi's own {ratio(('redis', 'redis-rdb'), ('kopi', 'kopi')):.2f}",
              flush=True)


# ---------------------------------------------------------------------------------------------
# rdb-load


def build_rdb(work, kind, binary, name, keys, aof):
    """A dump.rdb (aof False) or an RDB-preamble AOF dir (aof True) of `keys` keys, plus, in
    the AOF case, keys/10 SETs and INCRs in the incr file."""
    data = os.path.join(work, "src", name)
    server = Server(work, kind, binary, data, rdb_preamble=True, appendonly=aof).start()
    try:
        server.wait_ready()
        pipe_commands(server.port, fill_chunks(keys))
        c = Conn(server.port)
        if aof:
            bgrewriteaof(c)
            pipe_commands(server.port, update_chunks(keys // 10))
        elif c.cmd("SAVE") != "OK":
            raise RuntimeError(f"{name}: SAVE failed")
        size = c.cmd("DBSIZE")
        c.close()
    finally:
        server.stop()
    expected = keys + (1 if aof and keys // 10 else 0)
    if size != expected:
        raise RuntimeError(f"{name}: DBSIZE {size}, expected {expected}")
    if aof:
        print(f"#   {name:<11} {dir_summary(data)}", flush=True)
    else:
        print(f"#   {name:<11} dump.rdb {os.path.getsize(os.path.join(data, 'dump.rdb')) / 1e6:.1f} MB",
              flush=True)
    return data, expected


def cmd_rdb_load(work, kopi, redis, rounds, key_counts):
    servers = {"kopi": kopi, "redis": redis}
    for keys in key_counts:
        print(f"# {keys} keys: SET key:i value:i; dump.rdb by SAVE; the AOF dirs: BGREWRITEAOF "
              f"(RDB base), then {keys // 10} SETs + {keys // 10} INCRs in the incr file", flush=True)
        dirs, expected = {}, {}
        for name, kind, aof in (("kopi", "kopi", False), ("redis", "redis", False),
                                ("kopi-aof", "kopi", True), ("redis-aof", "redis", True)):
            t0 = time.monotonic()
            dirs[name], expected[name] = build_rdb(work, kind, servers[kind], name, keys, aof)
            print(f"#     built in {time.monotonic() - t0:.1f} s", flush=True)
        combos = [("kopi", "kopi"), ("redis", "redis"), ("kopi", "redis"), ("redis", "kopi"),
                  ("kopi", "kopi-aof"), ("redis", "redis-aof"), ("kopi", "redis-aof"),
                  ("redis", "kopi-aof")]
        results = time_startups(work, servers, dirs, combos, rounds, lambda src: expected[src],
                                lambda src: {"rdb_preamble": True,
                                             "appendonly": src.endswith("-aof")})
        print(f"{'server':<7}{'loads':<20}{'until PONG, s (min-max)':>26}"
              f"{'log line, s (min-max)':>26}{'RSS MB':>8}")
        for kind, src in combos:
            res = results[(kind, src)]
            owner = src.split("-")[0]
            label = f"{owner}'s " + ("AOF dir" if src.endswith("-aof") else "dump.rdb")
            print(f"{kind:<7}{label:<20}{med_range(res['ready']):>26}{med_range(res['log']):>26}"
                  f"{statistics.median(res['rss']):>8.0f}")

        def ratio(a, b):
            return statistics.median(results[a]["ready"]) / statistics.median(results[b]["ready"])

        print(f"redis/kopi start-up time: dump.rdb own {ratio(('redis', 'redis'), ('kopi', 'kopi')):.2f}, "
              f"same file (redis's) {ratio(('redis', 'redis'), ('kopi', 'redis')):.2f}, "
              f"same file (kopi's) {ratio(('redis', 'kopi'), ('kopi', 'kopi')):.2f}; "
              f"RDB-preamble AOF own {ratio(('redis', 'redis-aof'), ('kopi', 'kopi-aof')):.2f}, "
              f"same dir (redis's) {ratio(('redis', 'redis-aof'), ('kopi', 'redis-aof')):.2f}",
              flush=True)


# ---------------------------------------------------------------------------------------------
# rewrite


def cmd_loadgen(port, rate, keys, out_path):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    c = Conn(port, timeout=600)
    rng = random.Random(12345)
    interval = int(1e9 / rate)
    samples = []
    next_ns = time.monotonic_ns()
    i = 0
    while not stop:
        now = time.monotonic_ns()
        if now < next_ns:
            time.sleep((next_ns - now) / 1e9)
        k = rng.randrange(keys)
        if i % 2:
            req = encode(b"SET", b"key:%d" % k, b"value:%d" % k)
        else:
            req = encode(b"GET", b"key:%d" % k)
        sent = time.monotonic_ns()
        c.sock.sendall(req)
        reply = read_reply(c.f)
        done = time.monotonic_ns()
        if isinstance(reply, Error):
            raise RuntimeError(f"load: {reply}")
        samples.append((next_ns, sent, done))
        i += 1
        next_ns += interval
    with open(out_path, "w") as f:
        f.writelines(f"{a} {b} {c}\n" for a, b, c in samples)


class MemorySampler(threading.Thread):
    """Every 50 ms: (time ns, server VmRSS kB, children's VmRSS kB, children's private kB)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            kids = children(self.pid)
            self.samples.append((time.monotonic_ns(), rss_kb(self.pid),
                                 sum(rss_kb(k) for k in kids), sum(private_kb(k) for k in kids)))
            self.done.wait(0.05)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def latency_stats(lat_us):
    s = sorted(lat_us)
    return {"n": len(s), "p50": percentile(s, 50), "p99": percentile(s, 99), "max": s[-1] if s else float("nan")}


def rewrite_round(work, server, keys, rate, idle_s, job=None):
    out = os.path.join(work, f"load-{server.kind}.txt")
    sampler = MemorySampler(server.proc.pid)
    sampler.start()
    gen = subprocess.Popen([sys.executable, os.path.abspath(__file__), "loadgen", str(server.port),
                            str(rate), str(keys), out])
    try:
        time.sleep(0.5)  # the load's connection is up and warm
        idle_from = time.monotonic_ns()
        time.sleep(idle_s)
        c = Conn(server.port)
        elapsed, ordered, info = (job or bgrewriteaof)(c)
        done = time.monotonic_ns()
        c.close()
        time.sleep(0.2)
    finally:
        gen.send_signal(signal.SIGTERM)
        gen.wait(timeout=60)
        sampler.done.set()
        sampler.join()
    if gen.returncode != 0:
        raise RuntimeError("load generator failed")
    rows = [tuple(map(int, line.split())) for line in open(out)]
    os.remove(out)
    idle = [(d - s) / 1e3 for _, s, d in rows if idle_from <= s < ordered]
    during = [(d - s) / 1e3 for _, s, d in rows if ordered <= s <= done]
    idle_sched = [(d - t) / 1e3 for t, _, d in rows if idle_from <= t < ordered]
    during_sched = [(d - t) / 1e3 for t, _, d in rows if ordered <= t <= done]
    before = [m for t, m, _, _ in sampler.samples if idle_from <= t < ordered]
    during_mem = [(m, k, p) for t, m, k, p in sampler.samples if ordered <= t <= done]
    rss_before = max(before) / 1024
    peak_phys = max((m + p for m, _, p in during_mem), default=0) / 1024
    peak_sum = max((m + k for m, k, _ in during_mem), default=0) / 1024
    peak_server = max((m for m, _, _ in during_mem), default=0) / 1024
    return {
        "rewrite_s": elapsed,
        "last_rewrite_time_sec": int(info.get("rdb_last_bgsave_time_sec", "-1") if job
                                     else info.get("aof_last_rewrite_time_sec", "-1")),
        "cow_kb": int(info.get("aof_last_cow_size", "0")) / 1024,
        "rss_before": rss_before,
        "peak_server": peak_server,
        "peak_phys": peak_phys,
        "peak_sum": peak_sum,
        "mem_samples": len(during_mem),
        "idle": idle, "during": during, "idle_sched": idle_sched, "during_sched": during_sched,
    }


def cmd_rewrite(work, kopi, redis, rounds, rate, idle_s, keys, job=None):
    servers = []
    results = {"kopi": [], "redis": []}
    what = "BGSAVE" if job else "BGREWRITEAOF"
    try:
        for kind, binary in (("kopi", kopi), ("redis", redis)):
            s = Server(work, kind, binary, os.path.join(work, kind), appendonly=job is None).start()
            servers.append(s)
            s.wait_ready()
            t0 = time.monotonic()
            pipe_commands(s.port, fill_chunks(keys))
            c = Conn(s.port)
            size = c.cmd("DBSIZE")
            c.close()
            if size != keys:
                raise RuntimeError(f"{kind}: DBSIZE {size}, expected {keys}")
            print(f"# {kind}: filled {keys} keys in {time.monotonic() - t0:.1f} s, "
                  f"RSS {rss_kb(s.proc.pid) / 1024:.0f} MB", flush=True)
        print(f"# load: one connection, {rate} requests/s alternating GET and SET of random key:i; "
              f"{idle_s} s idle, then {what}; latencies in microseconds", flush=True)
        for r in range(rounds):
            for s in servers:
                res = rewrite_round(work, s, keys, rate, idle_s, job)
                results[s.kind].append(res)
                li, ld = latency_stats(res["idle"]), latency_stats(res["during"])
                growth = (res["peak_phys"] / res["rss_before"] - 1) * 100
                print(f"#   round {r + 1}: {s.kind:<5} {what} {res['rewrite_s']:.2f} s "
                      f"(last time_sec {res['last_rewrite_time_sec']}), "
                      f"RSS before {res['rss_before']:.0f} MB, peak {res['peak_phys']:.0f} MB "
                      f"({growth:+.1f}%), server+child RSS peak {res['peak_sum']:.0f} MB; "
                      f"p99 idle {li['p99']:.0f} during {ld['p99']:.0f} (n={ld['n']}), "
                      f"max during {ld['max']:.0f}", flush=True)
    finally:
        for s in servers:
            s.stop()
    print(f"{'server':<7}{what + ' s (min-max)':>22}{'RSS before MB':>15}{'peak MB':>9}{'growth':>9}"
          f"{'srv+child RSS':>15}{'growth':>9}")
    for kind, rs in results.items():
        before = statistics.median(x["rss_before"] for x in rs)
        peak = statistics.median(x["peak_phys"] for x in rs)
        peak_sum = statistics.median(x["peak_sum"] for x in rs)
        growth = statistics.median((x["peak_phys"] / x["rss_before"] - 1) * 100 for x in rs)
        growth_sum = statistics.median((x["peak_sum"] / x["rss_before"] - 1) * 100 for x in rs)
        print(f"{kind:<7}{med_range([x['rewrite_s'] for x in rs], '{:.2f}'):>22}{before:>15.0f}"
              f"{peak:>9.0f}{growth:>8.1f}%{peak_sum:>15.0f}{growth_sum:>8.1f}%")
    print(f"{'server':<7}{'phase':<8}{'requests':>9}{'p50 us':>9}{'p99 us':>9}{'max us':>10}"
          f"{'p99 from schedule':>19}{'p99 ratio':>11}")
    for kind, rs in results.items():
        idle = latency_stats([v for x in rs for v in x["idle"]])
        during = latency_stats([v for x in rs for v in x["during"]])
        idle_sched = latency_stats([v for x in rs for v in x["idle_sched"]])
        during_sched = latency_stats([v for x in rs for v in x["during_sched"]])
        for phase, st, sch in (("idle", idle, idle_sched), ("during", during, during_sched)):
            ratio = st["p99"] / idle["p99"]
            print(f"{kind:<7}{phase:<8}{st['n']:>9}{st['p50']:>9.0f}{st['p99']:>9.0f}{st['max']:>10.0f}"
                  f"{sch['p99']:>19.0f}{ratio:>11.2f}")


def main():
    sub = sys.argv[1]
    if sub == "loadgen":
        port, rate, keys, out = sys.argv[2:6]
        cmd_loadgen(int(port), int(rate), int(keys), out)
        return
    work, kopi, redis, rounds = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    if sub == "load":
        cmd_load(work, kopi, redis, rounds, [int(k) for k in sys.argv[6:]])
    elif sub == "rdb-load":
        cmd_rdb_load(work, kopi, redis, rounds, [int(k) for k in sys.argv[6:]])
    elif sub == "rewrite":
        rate, idle_s, keys = int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
        cmd_rewrite(work, kopi, redis, rounds, rate, idle_s, keys)
    elif sub == "bgsave":
        rate, idle_s, keys = int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
        cmd_rewrite(work, kopi, redis, rounds, rate, idle_s, keys, job=bgsave)
    else:
        raise SystemExit(f"unknown subcommand {sub}")


if __name__ == "__main__":
    main()
