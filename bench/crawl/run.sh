#!/usr/bin/env bash
# Side-by-side benchmark of crew crawl against a colly v2 crawler
# (bench/crawl/collycrawl: async, robots.txt on, same concurrency and depth)
# on a generated local site (bench/crawl/site: 20 000 pages of ~2 KB, ten
# links each). The crawlers alternate within each of ROUNDS rounds (the
# order rotates) and medians are reported: wall time → pages/s, the
# crawler's CPU time (user + system) per page, which other work on the
# machine disturbs less than wall time, and peak RSS (GNU time).
# Then the frontier test: crew crawls 10 000 pages of a site where every
# link is a new URL (100 per page), so its frontier reaches 1 000 000 URLs:
# pages/s and peak RSS, medians of ROUNDS.
# BASE=/path/to/an/older/crew adds that build to both tests, for before and
# after figures from one run.
#
#   bench/crawl/run.sh              # ROUNDS=3 PAGES=20000 J=16
#   BASE=/tmp/crew-before bench/crawl/run.sh
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-3}
PAGES=${PAGES:-20000}
J=${J:-16}
BIG=${BIG:-10000}
root=$(git rev-parse --show-toplevel)
need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
[ -x /usr/bin/time ] || need time time
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/crew" ./cmd/crew)
GOWORK=off go build -o "$tmp/site" ./site
GOWORK=off go build -o "$tmp/collycrawl" ./collycrawl
tools=(crew colly)
if [ -n "${BASE:-}" ]; then
	cp "$BASE" "$tmp/base"
	tools+=(base)
fi

start_site() { # args → sets URL
	coproc SITE { exec "$tmp/site" "$@"; }
	read -r URL <&"${SITE[0]}"
}

run_one() { # tool url label-round [crawl args...] → appends "tool secs kib user sys pages" to $tmp/results
	local tool=$1 url=$2 out="$tmp/out-$1-$3"
	shift 3
	case $tool in
	crew | base) /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" "$tmp/$tool" crawl -q -j "$J" --per-host "$J" -o "$out" "$@" "$url" ;;
	colly) /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" "$tmp/collycrawl" -j "$J" -depth 1000 -out "$out" -url "$url" ;;
	esac
	echo "$tool $(tail -1 "$tmp/t") $(wc -l <"$out/pages.jsonl")" >>"$tmp/results"
	rm -rf "$out"
}

# rotate N: the tools in the order for round N (each tool leads in turn).
rotate() {
	local n=${#tools[@]} i
	for ((i = 0; i < n; i++)); do echo "${tools[(($1 + i) % n)]}"; done
}

report() { # label pages-per-run → one table row per tool, ratios against colly or crew
	python3 - "$tmp/results" "$1" "$2" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tool, secs, kib, user, sys_, pages = line.split()
    rows.setdefault(tool, []).append((float(secs), int(kib), float(user) + float(sys_), int(pages)))
label, n = sys.argv[2], int(sys.argv[3])
med = lambda v, i: statistics.median(r[i] for r in v)
m = {t: (med(v, 0), med(v, 1), med(v, 2), min(r[3] for r in v)) for t, v in rows.items()}
ref = m.get("colly", m["crew"])
for tool in ("crew", "base", "colly"):
    if tool not in m:
        continue
    s, kib, cpu, pages = m[tool]
    print(f"| {label} | {tool} | {n / s:,.0f} | **{ref[0] / s:.2f}×** | {cpu / n * 1e6:,.0f} | **{ref[2] / cpu:.2f}×** | "
          f"{kib / 1024:.0f} MiB | **{kib / ref[1]:.2f}×** | {pages} |")
PY
}

echo "crew crawl vs colly v2, $PAGES-page local site, -j $J, medians of $ROUNDS rotating rounds"
echo
echo "| latency | crawler | pages/s | speed ÷ colly | CPU µs/page | colly CPU ÷ this | peak RSS | RSS ÷ colly | pages |"
echo "|---|---|---|---|---|---|---|---|---|"
for latency in 0 20ms; do
	start_site -pages "$PAGES" -links 10 -latency "$latency"
	: >"$tmp/results"
	for r in $(seq "$ROUNDS"); do
		for tool in $(rotate "$r"); do run_one "$tool" "$URL/p/0" "$latency-$r" --depth 1000; done
	done
	report "$latency" "$PAGES"
	kill "$SITE_PID"; wait "$SITE_PID" 2>/dev/null || true
done

echo
echo "Frontier test: $BIG pages of a site where every link is new (100 per page), medians of $ROUNDS"
echo
echo "| test | crawler | pages/s | speed ÷ crew | CPU µs/page | crew CPU ÷ this | peak RSS | RSS ÷ crew | pages |"
echo "|---|---|---|---|---|---|---|---|---|"
start_site -unique -links 100
tools=("${tools[@]/colly/}")
tools=($(printf '%s\n' "${tools[@]}" | grep .))
: >"$tmp/results"
for r in $(seq "$ROUNDS"); do
	for tool in $(rotate "$r"); do run_one "$tool" "$URL/u/0" "big-$r" --depth -1 -n "$BIG"; done
done
report "100 new links/page" "$BIG"
# The size of the state a 1M-URL frontier leaves, from one more run.
"$tmp/crew" crawl -q -j "$J" --per-host "$J" --depth -1 -n "$BIG" -o "$tmp/big" "$URL/u/0"
kill "$SITE_PID"; wait "$SITE_PID" 2>/dev/null || true
echo
echo "crew's state after $BIG pages: $(wc -l <"$tmp/big/urls.txt") URLs in urls.txt, $(du -sh "$tmp/big/state" | cut -f1) on disk"
