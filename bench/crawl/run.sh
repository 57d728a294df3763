#!/usr/bin/env bash
# Side-by-side benchmark of crew crawl against a colly v2 crawler
# (bench/crawl/collycrawl: async, robots.txt on, same concurrency and depth)
# on a generated local site (bench/crawl/site: 20 000 pages of ~2 KB, ten
# links each). The two crawlers alternate within each of ROUNDS rounds and
# medians are reported: wall time → pages/s, and peak RSS (GNU time).
# Then the frontier test: crew crawls 10 000 pages of a site where every
# link is a new URL, so its frontier reaches 1 000 000 URLs; peak RSS.
#
#   bench/crawl/run.sh              # ROUNDS=3 PAGES=20000 J=16
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-3}
PAGES=${PAGES:-20000}
J=${J:-16}
root=$(git rev-parse --show-toplevel)
need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
[ -x /usr/bin/time ] || need time time
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/crew" ./cmd/crew)
GOWORK=off go build -o "$tmp/site" ./site
GOWORK=off go build -o "$tmp/collycrawl" ./collycrawl

start_site() { # args → sets URL
	coproc SITE { "$tmp/site" "$@"; }
	read -r URL <&"${SITE[0]}"
}

run_one() { # tool url label-round → appends "tool secs kib pages" to $tmp/results
	local tool=$1 url=$2 out="$tmp/out-$1-$3"
	case $tool in
	crew) /usr/bin/time -f "%e %M" -o "$tmp/t" "$tmp/crew" crawl -q -j "$J" --per-host "$J" --depth 1000 -o "$out" "$url/p/0" ;;
	colly) /usr/bin/time -f "%e %M" -o "$tmp/t" "$tmp/collycrawl" -j "$J" -depth 1000 -out "$out" -url "$url/p/0" ;;
	esac
	echo "$tool $(cat "$tmp/t") $(wc -l <"$out/pages.jsonl")" >>"$tmp/results"
}

report() { # label
	python3 - "$tmp/results" "$1" "$PAGES" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tool, secs, kib, pages = line.split()
    rows.setdefault(tool, []).append((float(secs), int(kib), int(pages)))
label, n = sys.argv[2], int(sys.argv[3])
m = {t: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v), min(r[2] for r in v)) for t, v in rows.items()}
c, k = m["crew"], m["colly"]
print(f"| {label} | {n / c[0]:,.0f} ({c[2]} pages) | {n / k[0]:,.0f} ({k[2]} pages) | "
      f"**{k[0] / c[0]:.2f}×** | {c[1] / 1024:.0f} MiB | {k[1] / 1024:.0f} MiB | **{c[1] / k[1]:.2f}×** |")
PY
}

echo "crew crawl vs colly v2, $PAGES-page local site, -j $J, medians of $ROUNDS alternating rounds"
echo
echo "| latency | crew pages/s | colly pages/s | crew ÷ colly speed | crew peak RSS | colly peak RSS | crew ÷ colly RSS |"
echo "|---|---|---|---|---|---|---|"
for latency in 0 20ms; do
	start_site -pages "$PAGES" -links 10 -latency "$latency"
	: >"$tmp/results"
	for r in $(seq "$ROUNDS"); do
		if ((r % 2)); then run_one crew "$URL" "$latency-$r"; run_one colly "$URL" "$latency-$r"
		else run_one colly "$URL" "$latency-$r"; run_one crew "$URL" "$latency-$r"; fi
	done
	report "$latency"
	kill "$SITE_PID"; wait "$SITE_PID" 2>/dev/null || true
done

echo
start_site -unique -links 100
/usr/bin/time -f "%e %M" -o "$tmp/t" "$tmp/crew" crawl -q -j "$J" --per-host "$J" --depth -1 -n 10000 -o "$tmp/big" "$URL/u/0"
read -r secs kib <"$tmp/t"
queued=$(($(wc -l <"$tmp/big/urls.txt") - $(wc -l <"$tmp/big/pages.jsonl")))
echo "frontier test: 10 000 pages fetched, $(wc -l <"$tmp/big/urls.txt") URLs discovered, $queued left queued:" \
	"peak RSS $((kib / 1024)) MiB, ${secs}s, state $(du -sh "$tmp/big/state" | cut -f1)"
