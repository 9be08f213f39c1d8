#!/usr/bin/env bash
# BGREWRITEAOF of kopi and redis-server under a light load, side by side, on loopback.
#
#   bench/aof-rewrite.sh [KEYS]      (default 1000000)
#
# Environment: ROUNDS (default 3), RATE (requests/s of the load, default 1000), IDLE_S (seconds
# of load measured before the rewrite, default 5).
# Both servers run with appendonly yes, appendfsync everysec, aof-use-rdb-preamble no and auto
# rewrite off, and get SET key:i value:i for i < KEYS through `redis-cli --pipe`. Then, ROUNDS
# times and alternating between the servers: one connection sends GET and SET of random keys at
# RATE per second (its own process), IDLE_S seconds pass, BGREWRITEAOF is sent and INFO
# persistence polled every 20 ms until aof_rewrite_in_progress:0. Reported per round and as
# medians: the rewrite's duration (and aof_last_rewrite_time_sec), the server's VmRSS before
# (the highest sample of the idle period) and its peak during the rewrite, sampled every 50 ms;
# for Redis the forked child is added twice over: "peak" adds the child's private pages
# (Private_Clean + Private_Dirty of smaps_rollup: the memory the fork really costs), "srv+child
# RSS" adds the child's whole VmRSS (an upper bound that counts shared pages twice). Latency of
# the load (p50/p99/max in microseconds from send to reply; "from schedule" also counts the wait
# for a late send) is pooled over the rounds, idle vs during the rewrite.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RATE=${RATE:-1000}
IDLE_S=${IDLE_S:-5}
KEYS=${1:-1000000}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
echo "# $KEYS keys, $ROUNDS alternating rounds, servers not pinned"
python3 "$ROOT/bench/aof_bench.py" rewrite "$WORK" "$KOPI" "$REDIS" "$ROUNDS" "$RATE" "$IDLE_S" "$KEYS"
