#!/usr/bin/env bash
# Times crew primes on the inputs of the Python tutorials and on 1e9,
# alternating the configurations within each round (the machines are
# shared and noisy) and printing the median wall time of each.
#
#   bench/primes/run.sh [rounds]     # default 5 rounds
set -euo pipefail
rounds=${1:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(mktemp -d)/crew
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$root" && go build -o "$bin" ./cmd/crew)

configs=(
  "primes sum 1e9 --algo fast --mode goroutines -j 2"
  "primes sum 1e9 --algo fast --mode seq"
  "primes sum 3e6 --algo trial --mode seq"
  "primes sum 3e6 --algo fast --mode seq"
  "primes sum 1e6 2e6 3e6 --algo fast --mode goroutines -j 2"
  "primes sum 1e6 2e6 3e6 --algo trial --mode seq"
  "primes sum 1e6 2e6 3e6 --algo trial --mode goroutines -j 2"
  "primes sum 1e6 2e6 3e6 --algo trial --mode processes -j 2"
  "primes check 1116281 1297337 104395303 472882027 533000389 817504243 982451653 112272535095293 112582705942171 112272535095293 115280095190773 115797848077099 1099726899285419 --algo trial --mode goroutines -j 2"
  "primes check 1116281 1297337 104395303 472882027 533000389 817504243 982451653 112272535095293 112582705942171 112272535095293 115280095190773 115797848077099 1099726899285419 --algo fast --mode seq"
)
declare -A times
for ((r = 0; r < rounds; r++)); do
  for c in "${configs[@]}"; do
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bin" $c >/dev/null
    end=$(date +%s.%N)
    times[$c]+="$(echo "$end - $start" | bc) "
  done
done
printf '| command | median wall (s) of %d |\n|---|---|\n' "$rounds"
for c in "${configs[@]}"; do
  med=$(tr ' ' '\n' <<<"${times[$c]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  short=$c
  if ((${#short} > 90)); then short="${c%% --algo*}"; short="primes check <the tutorial's 13 numbers> --algo${c#*--algo}"; fi
  printf '| `crew %s` | %.3f |\n' "$short" "$med"
done
