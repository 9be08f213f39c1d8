#!/usr/bin/env bash
# Start-up time of kopi and redis-server loading a dump.rdb and an RDB-preamble AOF dir, side
# by side, on loopback.
#
#   bench/rdb-load.sh [KEYS...]      (default 1000000; e.g. bench/rdb-load.sh 1000000 10000000)
#
# Environment: ROUNDS (default 3).
# For each KEYS, each server makes a dump.rdb (appendonly no: SET key:i value:i for every i
# through `redis-cli --pipe`, then SAVE) and an AOF dir with its default RDB preamble
# (appendonly yes: the same fill, BGREWRITEAOF so the keys are in a .base.rdb, then KEYS/10
# SETs and KEYS/10 INCRs in the incr file). Then, ROUNDS times and alternating, each server
# starts on a fresh copy of its own files and of the other's. Each start-up is timed from the
# process start until PING answers PONG (a -LOADING reply is retried), and the server's "DB
# loaded from ..." log line is read; DBSIZE is checked. Prints a line per start-up, then
# medians (min-max) and redis/kopi ratios of the times.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || set -- 1000000
echo "# $ROUNDS alternating rounds; servers not pinned; files in the page cache (each is copied just before its load)"
python3 "$ROOT/bench/aof_bench.py" rdb-load "$WORK" "$KOPI" "$REDIS" "$ROUNDS" "$@"
