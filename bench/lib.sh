# Sourced by the side-by-side benchmark scripts (aof-load.sh, aof-rewrite.sh, rdb-load.sh,
# rdb-bgsave.sh): the binaries, a scratch directory removed at exit, the servers stopped at
# exit (only those this run started: aof_bench.py lists each with its binary in WORK/pids),
# a fresh release build of kopi, and the header lines every run prints.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KOPI=$ROOT/target/release/kopi-server
REDIS=$(command -v redis-server)
WORK=$(mktemp -d)

cleanup() {
  if [ -f "$WORK/pids" ]; then
    while read -r pid bin; do
      if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ]; then kill "$pid" 2>/dev/null || true; fi
    done <"$WORK/pids"
    sleep 0.5
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release --bin kopi-server)

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# kopi: $("$KOPI" --version)   redis: $("$REDIS" --version | awk '{print $3}')"
