#!/usr/bin/env bash
# Start-up time of kopi and redis-server loading an AOF dir, side by side, on loopback.
#
#   bench/aof-load.sh [KEYS...]      (default 1000000; e.g. bench/aof-load.sh 1000000 10000000)
#
# Environment: ROUNDS (default 3).
# For each KEYS, each server writes its own AOF dir (appendonly yes, aof-use-rdb-preamble no,
# auto rewrite off): SET key:i value:i for every i through `redis-cli --pipe`, BGREWRITEAOF (so
# the keys are in a RESP base file), then KEYS/10 SETs and KEYS/10 INCRs in the incr file. Redis
# also writes one dir with its default RDB preamble, as a reference. Then, ROUNDS times and
# alternating, each server starts on a fresh copy of its own dir and of the other's (the same
# files for both: an apples-to-apples load), and Redis on its RDB-preamble dir. Each start-up is
# timed from the process start until PING answers PONG (a -LOADING reply is retried), and the
# server's "DB loaded from append only file: X seconds" log line is read; DBSIZE is checked.
# Prints a line per start-up, then medians (min-max) and redis/kopi ratios of the times.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || set -- 1000000
echo "# $ROUNDS alternating rounds; servers not pinned; files in the page cache (each dir is copied just before its load)"
python3 "$ROOT/bench/aof_bench.py" load "$WORK" "$KOPI" "$REDIS" "$ROUNDS" "$@"
