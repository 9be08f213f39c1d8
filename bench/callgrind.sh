#!/usr/bin/env bash
# Instructions per request of the request path and per key of the RDB loader, counted by
# `valgrind --tool=callgrind`: repeatable whatever else the machine runs, unlike timings.
#
#   bench/callgrind.sh                 # SET and GET 20000 each, RDB load of 200000 keys
#   REQUESTS=50000 KEYS=1000000 bench/callgrind.sh
#   TOP=15 bench/callgrind.sh          # also the 15 costliest functions of each workload
#   OUT=/tmp/cg bench/callgrind.sh     # keep the callgrind.out files there
#   FEATURES=mimalloc bench/callgrind.sh   # built with mimalloc as the allocator
#
# The workloads are those of benches/instructions.rs (built by `cargo bench --no-run`, the
# release profile): SET key:i xxx and GET key:i for i in 0..REQUESTS, parsed from one buffer
# and run PIPELINE (16) per batch under one acquisition of the keyspace lock, as a connection
# runs a read; and loading an RDB file of KEYS string keys (half `int`, half `embstr`) into an
# empty store (both threads: the decoder and the inserting one). Only the measured functions
# are counted (`--collect-atstart=no --toggle-collect`): building the input, the server and
# the file is not. Counts vary by well under 1% between runs (the hash seed is random).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=${REQUESTS:-20000}
KEYS=${KEYS:-200000}
TOP=${TOP:-0}
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  WORK=$OUT
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi

BIN=$(cd "$ROOT" && cargo bench --no-run --bench instructions ${FEATURES:+--features "$FEATURES"} --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')
[ -x "$BIN" ] || { echo "could not build benches/instructions.rs" >&2; exit 1; }

# Runs the workload under callgrind counting only inside the named functions; prints the
# instructions counted.
count() {
  local name=$1
  shift
  local toggles=()
  while [ "$1" != "--" ]; do
    toggles+=("--toggle-collect=$1")
    shift
  done
  shift
  valgrind --tool=callgrind --collect-atstart=no "${toggles[@]}" \
    --callgrind-out-file="$WORK/$name.out" "$BIN" "$@" >/dev/null 2>"$WORK/$name.log"
  awk '/^(summary|totals):/ { print $2; exit }' "$WORK/$name.out"
}

top() {
  if [ "$TOP" -gt 0 ]; then
    callgrind_annotate --threshold=100 "$WORK/$1.out" 2>/dev/null |
      grep -E '^ *[0-9,]+ \(' | head -n "$TOP" | sed 's/^/    /' || true
  fi
}

per() { python3 -c "print(f'{$1 / $2:,.0f}')"; }

echo "# commit $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- src benches || echo ' (modified)'), features: ${FEATURES:-default}, $(valgrind --version)"
set_ir=$(count set 'instructions::measured_serve' -- set "$REQUESTS")
echo "SET (parse + dispatch, 16 per batch): $(per "$set_ir" "$REQUESTS") instructions per request ($set_ir for $REQUESTS)"
top set
get_ir=$(count get 'instructions::measured_serve' -- get "$REQUESTS")
echo "GET (parse + dispatch, 16 per batch): $(per "$get_ir" "$REQUESTS") instructions per request ($get_ir for $REQUESTS)"
top get
"$BIN" rdb-write "$WORK/dump.rdb" "$KEYS"
rdb_ir=$(count rdb 'instructions::measured_rdb_load' 'kopi::persistence::snapshot::decode_rdb' -- rdb-load "$WORK/dump.rdb")
echo "RDB load ($KEYS string keys, both threads): $(per "$rdb_ir" "$KEYS") instructions per key ($rdb_ir)"
top rdb
