#!/usr/bin/env bash
# Side-by-side benchmark of crew run against xargs and GNU parallel
# (hyperfine alternates nothing, so each tool gets warm-up and several
# runs; read the ratios). Installs parallel and hyperfine from Debian if
# missing. Measures:
#   1. 2000 jobs of /bin/true at -j2
#   2. 2000 jobs of `echo {}` at -j2 (output grouped per job)
#   3. peak RSS of `seq 1000000 | crew run --dry-run echo`
#   4. start-up: `crew run true ::: 1`
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
RUNS=${RUNS:-5}
echo "## 2000 x /bin/true, -j2"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$tmp/true.md" \
  "bash -c 'xargs -P2 -n1 /bin/true < $tmp/in'" \
  "bash -c '$tmp/crew run -j2 /bin/true < $tmp/in'" \
  "bash -c 'parallel -j2 /bin/true < $tmp/in'" >/dev/null
cat "$tmp/true.md"
echo
echo "## 2000 x echo {}, -j2"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$tmp/echo.md" \
  "bash -c 'xargs -P2 -n1 echo < $tmp/in > /dev/null'" \
  "bash -c '$tmp/crew run -j2 echo {} < $tmp/in > /dev/null'" \
  "bash -c 'parallel -j2 echo {} < $tmp/in > /dev/null'" >/dev/null
cat "$tmp/echo.md"
echo
echo "## seq 1000000 | crew run --dry-run echo: peak RSS"
seq 1000000 | /usr/bin/time -f "crew run: %M KiB peak RSS, %e s" "$tmp/crew" run --dry-run echo >/dev/null
echo
echo "## start-up: crew run true ::: 1"
hyperfine -N --warmup 3 --runs 30 "$tmp/crew run true ::: 1" "parallel true ::: 1" --export-markdown "$tmp/start.md" >/dev/null
cat "$tmp/start.md"
