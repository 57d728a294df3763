#!/usr/bin/env bash
# Side-by-side: crew's process executor against Python's process pools on
# tiny tasks (square an int), 2 workers, pool start-up included on both
# sides, alternating the tools in each of ROUNDS rounds and reporting
# medians. Also crew's worker start-up time
# and the tutorials' sum of primes on 2 worker processes vs sequential Go.
# Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
N=${N:-100000}
N_EXECUTOR=${N_EXECUTOR:-20000} # ProcessPoolExecutor does ~5k tasks/s: keep its run short
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/tiny" ./bench/proc/tiny
out="$bin/results.jsonl"
for _ in $(seq "$ROUNDS"); do
  "$bin/tiny" -mode tiny -n "$N" -workers 2 >>"$out"
  "$bin/tiny" -mode tiny -n "$N" -workers 2 -window 1024 >>"$out"
  python3 bench/proc/pools.py pool "$N" 2 >>"$out"
  python3 bench/proc/pools.py executor "$N_EXECUTOR" 2 >>"$out"
  "$bin/tiny" -mode startup -workers 2 >>"$out"
done
go run ./cmd/crew bench --only sum-primes --workers 2 --no-python -q --out "$bin/bench" | grep -E 'seq|processes' || true
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(mode, key, window=None):
    return statistics.median(r[key] for r in rows if r["mode"] == mode and r.get("window") == window)
crew = med("tiny", "tasks_per_s")
crew1024 = med("tiny", "tasks_per_s", 1024)
pool = med("pool", "tasks_per_s")
ex = med("executor", "tasks_per_s")
print("| tool (2 workers, 100k tiny tasks, pool start-up included) | tasks/s (median) | ÷ Pool.map | crew Map ÷ tool |")
print("|---|---|---|---|")
print(f"| crew proc, Map | {crew:,.0f} | {crew/pool:.2f} | 1.00 |")
print(f"| crew proc, Map with Window(1024) | {crew1024:,.0f} | {crew1024/pool:.2f} | {crew/crew1024:.2f} |")
print(f"| Python multiprocessing.Pool.map (auto chunksize) | {pool:,.0f} | 1.00 | {crew/pool:.2f} |")
print(f"| Python ProcessPoolExecutor.map (chunksize 1) | {ex:,.0f} | {ex/pool:.4f} | {crew/ex:.1f} |")
print(f"\ncrew worker start-up, proc.New to first result: {med('startup', 'startup_ms'):.1f} ms (median)")
PY
