#!/usr/bin/env bash
# Side-by-side benchmark of crew run against xargs and GNU parallel, the
# tools alternating within each of ROUNDS rounds (the machine is shared:
# alternating spreads its drift over all tools), medians reported.
# Installs parallel and hyperfine from Debian if missing. Measures:
#   1. 2000 jobs of /bin/true at -j2
#   2. 2000 jobs of `echo {}` at -j2 (output grouped per job)
#   3. peak RSS of `seq 1000000 | crew run --dry-run echo`
#   4. start-up: `crew run true ::: 1` (hyperfine)
# BASELINE=/path/to/an/older/crew adds that binary to the alternation, to
# compare a change before and after in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need parallel parallel
need hyperfine hyperfine
[ -x /usr/bin/time ] || need time time
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/crew" ./cmd/crew
seq 2000 >"$tmp/in"
ROUNDS=${ROUNDS:-7}

declare -A cmds=(
  [true-xargs]="xargs -P2 -n1 /bin/true < $tmp/in"
  [true-crew]="$tmp/crew run -j2 /bin/true < $tmp/in"
  [true-parallel]="parallel -j2 /bin/true < $tmp/in"
  [echo-xargs]="xargs -P2 -n1 echo < $tmp/in > /dev/null"
  [echo-crew]="$tmp/crew run -j2 echo {} < $tmp/in > /dev/null"
  [echo-parallel]="parallel -j2 echo {} < $tmp/in > /dev/null"
)
order=(true-xargs true-crew true-parallel echo-xargs echo-crew echo-parallel)
if [ -n "${BASELINE:-}" ]; then
  cmds[true-base]="$BASELINE run -j2 /bin/true < $tmp/in"
  cmds[echo-base]="$BASELINE run -j2 echo {} < $tmp/in > /dev/null"
  order=(true-xargs true-base true-crew true-parallel echo-xargs echo-base echo-crew echo-parallel)
fi
for name in "${order[@]}"; do bash -c "${cmds[$name]}"; done # warm-up
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
  for name in "${order[@]}"; do
    s=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$tmp/cpu" bash -c "${cmds[$name]}"
    e=$(date +%s.%N)
    echo "$name $s $e $(cat "$tmp/cpu")" >>"$tmp/times"
  done
done
echo "load average (1, 5, 15 min) before the rounds: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/times" "$ROUNDS" <<'PY'
import statistics, sys
t, cpu = {}, {}
for line in open(sys.argv[1]):
    name, s, e, user, system = line.split()
    t.setdefault(name, []).append(float(e) - float(s))
    cpu.setdefault(name, []).append(float(user) + float(system))
m = {k: statistics.median(v) for k, v in t.items()}
mc = {k: statistics.median(v) for k, v in cpu.items()}
print(f"Medians of {sys.argv[2]} alternating rounds, 2000 jobs at -j2 (seconds):\n")
print("| jobs | xargs -P2 -n1 | crew run | GNU parallel | crew ÷ xargs throughput | crew faster than parallel |")
print("|---|---|---|---|---|---|")
for job, label in (("true", "/bin/true"), ("echo", "echo {}")):
    x, c, p = m[job + "-xargs"], m[job + "-crew"], m[job + "-parallel"]
    print(f"| {label} | {x:.3f} | {c:.3f} | {p:.3f} | {x / c:.2f}× | {p / c:.1f}× |")
# The fastest run of each: what the tools do when the rest of a shared
# machine leaves them alone for a moment.
print("\nFastest of the rounds (seconds):\n")
print("| jobs | xargs -P2 -n1 | crew run | GNU parallel | crew ÷ xargs | crew faster than parallel |")
print("|---|---|---|---|---|---|")
for job, label in (("true", "/bin/true"), ("echo", "echo {}")):
    x, c, p = (min(t[job + "-" + tool]) for tool in ("xargs", "crew", "parallel"))
    print(f"| {label} | {x:.3f} | {c:.3f} | {p:.3f} | {x / c:.2f}× | {p / c:.1f}× |")
# CPU time of all processes (the tool and its jobs), which load from
# elsewhere on the machine disturbs far less than the wall time.
print("\nCPU seconds, user + system, of the tool and its jobs (medians):\n")
tools = [("xargs", "xargs -P2 -n1"), ("crew", "crew run"), ("parallel", "GNU parallel")]
if "true-base" in m:
    tools.insert(1, ("base", "BASELINE crew run"))
print("| jobs | " + " | ".join(label for _, label in tools) + " |")
print("|---" * (len(tools) + 1) + "|")
for job, label in (("true", "/bin/true"), ("echo", "echo {}")):
    print(f"| {label} | " + " | ".join(f"{mc[job + '-' + tool]:.2f}" for tool, _ in tools) + " |")
if "true-base" in m:
    print("\nBASELINE crew, same rounds:\n")
    print("| jobs | BASELINE crew run | its ÷ xargs throughput | faster than parallel |")
    print("|---|---|---|---|")
    for job, label in (("true", "/bin/true"), ("echo", "echo {}")):
        x, b, p = m[job + "-xargs"], m[job + "-base"], m[job + "-parallel"]
        print(f"| {label} | {b:.3f} | {x / b:.2f}× | {p / b:.1f}× |")
PY
echo
echo "seq 1000000 | crew run --dry-run echo:"
seq 1000000 | /usr/bin/time -f "  %M KiB peak RSS, %e s" "$tmp/crew" run --dry-run echo >/dev/null
echo
echo "start-up, crew run true ::: 1 (hyperfine, 30 runs):"
hyperfine -N --warmup 3 --runs 30 "$tmp/crew run true ::: 1" "parallel true ::: 1" --export-markdown "$tmp/start.md" >/dev/null
cat "$tmp/start.md"
