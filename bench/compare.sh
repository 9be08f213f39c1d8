#!/usr/bin/env bash
# Side-by-side throughput of kopi and redis-server with redis-benchmark, on loopback.
#
#   bench/compare.sh [ROUNDS]        (default 3 rounds; each round runs kopi then redis)
#
# Environment: TESTS (default set,get,incr,mset), CLIENTS (50), REQUESTS (200000),
# PIPELINES ("1 16"), EXTRA_SERVER_ARGS (e.g. "--appendonly yes --appendfsync always"),
# KOPI and REDIS (the two binaries compared; e.g. two builds of kopi, allocator against
# allocator: the columns keep the names kopi and redis).
# Both servers run with the same options (persistence off unless EXTRA_SERVER_ARGS says
# otherwise), each pinned to CPU 0 when taskset exists, the client to CPU 1.
# Prints one line per test and pipeline depth: median rps of each, min-max, and kopi/redis.
# With an AOF on, it also prints the size of each server's appendonlydir after each round, to
# show that both really wrote one.
set -euo pipefail

ROUNDS=${1:-3}
TESTS=${TESTS:-set,get,incr,mset}
CLIENTS=${CLIENTS:-50}
REQUESTS=${REQUESTS:-200000}
PIPELINES=${PIPELINES:-"1 16"}
EXTRA_SERVER_ARGS=${EXTRA_SERVER_ARGS:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KOPI=${KOPI:-$ROOT/target/release/kopi-server}
REDIS=${REDIS:-$(command -v redis-server)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$KOPI" ] || (cd "$ROOT" && cargo build --release --bin kopi-server)
PIN_SERVER=""; PIN_CLIENT=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER="taskset -c 0"; PIN_CLIENT="taskset -c 1"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_one NAME BINARY PIPELINE -> appends "test rps" lines to $WORK/NAME.P
run_one() {
  local name=$1 bin=$2 pipeline=$3 port pid
  port=$(free_port)
  mkdir -p "$WORK/$name-data"
  # shellcheck disable=SC2086
  $PIN_SERVER "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK/$name-data" $EXTRA_SERVER_ARGS >"$WORK/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  $PIN_CLIENT redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQUESTS" -P "$pipeline" -t "$TESTS" --csv 2>/dev/null \
    | tail -n +2 | tr -d '"' | awk -F, '{print $1, $2}' >>"$WORK/$name.$pipeline"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if [ -d "$WORK/$name-data/appendonlydir" ]; then
    du -sb "$WORK/$name-data/appendonlydir" | cut -f1 >>"$WORK/$name.aof"
  fi
  rm -rf "$WORK/$name-data"
}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# kopi: $("$KOPI" --version)   redis: $("$REDIS" --version | awk '{print $3}')"
echo "# redis-benchmark -c $CLIENTS -n $REQUESTS -t $TESTS, $ROUNDS alternating rounds, server args: ${EXTRA_SERVER_ARGS:-none}"
for pipeline in $PIPELINES; do
  for _ in $(seq "$ROUNDS"); do
    run_one kopi "$KOPI" "$pipeline"
    run_one redis "$REDIS" "$pipeline"
  done
done

python3 - "$WORK" "$PIPELINES" <<'PY'
import sys, statistics, collections
work, pipelines = sys.argv[1], sys.argv[2].split()
print(f"{'test':<22}{'P':>3}{'kopi rps (min-max)':>30}{'redis rps (min-max)':>30}{'kopi/redis':>12}")
for p in pipelines:
    data = {}
    for name in ("kopi", "redis"):
        d = collections.defaultdict(list)
        for line in open(f"{work}/{name}.{p}"):
            test, rps = line.rsplit(" ", 1)
            d[test].append(float(rps))
        data[name] = d
    for test in data["kopi"]:
        k, r = data["kopi"][test], data["redis"].get(test, [0])
        km, rm = statistics.median(k), statistics.median(r)
        print(f"{test:<22}{p:>3}{f'{km:,.0f} ({min(k):,.0f}-{max(k):,.0f})':>30}{f'{rm:,.0f} ({min(r):,.0f}-{max(r):,.0f})':>30}{km / rm if rm else 0:>12.2f}")
PY
for name in kopi redis; do
  if [ -f "$WORK/$name.aof" ]; then
    echo "# $name appendonlydir bytes after each round: $(tr '\n' ' ' <"$WORK/$name.aof")"
  fi
done
