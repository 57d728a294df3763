#!/usr/bin/env bash
# Side-by-side benchmark of crew fetch against curl --parallel (and, with
# EXTRA=1, aria2c and xargs -P curl) on a local page server.
#
# The page server is pinned to one core and every client to the other
# (taskset), so each tool is measured on the same core and none competes
# with the server. The tools alternate within each round; the tables give
# medians over the rounds, and the crew ÷ curl ratio is the median of the
# per-round ratios. Client CPU (user + system, from GNU time) is reported
# per page.
#
#   bench/fetch/run.sh [ROUNDS]     # default 7 rounds
#   N=5000 MILLION=1000000 EXTRA=1 SERVER_CPU=0 CLIENT_CPU=1 bench/fetch/run.sh
#   SCENARIOS="a b million seq" bench/fetch/run.sh   # pick: (a) latency 0, (b) 20 ms,
#       1M URLs from stdin, sequential vs concurrent (the tutorials' comparison)
#   MILLION_DIR=1 also saves the 1M pages with --dir (a million files: opt in)
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${1:-7}
N=${N:-5000}
MILLION=${MILLION:-1000000}
J=64
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
SRV_PID=
trap 'kill $SRV_PID $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need curl curl
need taskset util-linux
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }
[[ ${EXTRA:-0} == 1 ]] && need aria2c aria2

(cd "$root" && go build -o "$work/crew" ./cmd/crew)
GOWORK=off go build -o "$work/pageserver" .

start_server() { # latency → sets PORT, SRV_PID
	coproc SRV { exec taskset -c "$SERVER_CPU" "$work/pageserver" -latency "$1"; }
	read -r addr <&"${SRV[0]}"
	PORT=${addr##*:}
}

make_list() { # n → $work/list, $work/curl.cfg
	: >"$work/list"; : >"$work/curl.cfg"
	for i in $(seq 1 "$1"); do
		echo "http://127.0.0.1:$PORT/p$i" >>"$work/list"
		printf 'url = "http://127.0.0.1:%s/p%s"\noutput = "/dev/null"\n' "$PORT" "$i" >>"$work/curl.cfg"
	done
}

declare -A CMDS=(
	[crew]="$work/crew fetch -q -j $J --per-host $J -i $work/list -o /dev/null"
	[crew-dir]="$work/crew fetch -q -j $J --per-host $J -i $work/list -o /dev/null --dir $work/out"
	[curl]="curl -s --parallel --parallel-max $J -K $work/curl.cfg"
	[aria2c]="aria2c -q -j $J -i $work/list -d $work/out --allow-overwrite=true --auto-file-renaming=false"
	[xargs-curl]="xargs -a $work/list -P$J -n1 curl -s -o /dev/null"
)
ORDER=(crew curl crew-dir)
[[ ${EXTRA:-0} == 1 ]] && ORDER+=(aria2c xargs-curl)

# run_one name → "seconds cpu_seconds max_rss_kib", the client pinned.
run_one() {
	rm -rf "$work/out"; mkdir -p "$work/out"
	taskset -c "$CLIENT_CPU" /usr/bin/time -o "$work/time" -f '%e %U %S %M' ${CMDS[$1]} >/dev/null 2>"$work/stderr" || true
	read -r e u s m <"$work/time"
	echo "$e $(echo "$u + $s" | bc -l) $m"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

scenario() { # label latency n
	local label=$1 latency=$2 n=$3
	start_server "$latency"
	make_list "$n"
	declare -A secs cpu ratio
	for r in $(seq 1 "$ROUNDS"); do
		declare -A this
		for tool in "${ORDER[@]}"; do # alternate tools within each round
			read -r e c _ <<<"$(run_one "$tool")"
			secs[$tool]+="$e "; cpu[$tool]+="$c "; this[$tool]=$e
		done
		ratio[pages]+="$(echo "${this[curl]} / ${this[crew]}" | bc -l) "
	done
	echo
	echo "### $label: $n URLs, server latency $latency, concurrency $J; server on CPU $SERVER_CPU, each client on CPU $CLIENT_CPU; medians of $ROUNDS rounds"
	echo
	echo "| tool | seconds | pages/s | client CPU µs/page |"
	echo "|---|---:|---:|---:|"
	for tool in "${ORDER[@]}"; do
		local m c
		m=$(tr ' ' '\n' <<<"${secs[$tool]}" | grep . | median)
		c=$(tr ' ' '\n' <<<"${cpu[$tool]}" | grep . | median)
		printf '| %s | %.3f | %.0f | %.1f |\n' "$tool" "$m" "$(echo "$n / $m" | bc -l)" "$(echo "$c * 1000000 / $n" | bc -l)"
	done
	printf '\ncrew ÷ curl --parallel, pages/s (median of per-round ratios): %.2f×\n' \
		"$(tr ' ' '\n' <<<"${ratio[pages]}" | grep . | median)"
	kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
}

million() { # streamed input: 1M URLs from a pipe, peak memory
	start_server 0s
	echo
	echo "### $MILLION URLs from stdin (streamed), latency 0: peak memory"
	echo
	echo "| command | seconds | pages/s | max RSS MiB |"
	echo "|---|---:|---:|---:|"
	for args in "" "--dir $work/out"; do
		[[ -n $args && ${MILLION_DIR:-0} != 1 ]] && continue # 1M files: opt in
		rm -rf "$work/out"
		awk -v port="$PORT" -v n="$MILLION" 'BEGIN { for (i = 1; i <= n; i++) printf "http://127.0.0.1:%s/p%d\n", port, i }' |
			taskset -c "$CLIENT_CPU" /usr/bin/time -o "$work/time" -f '%e %M' \
				"$work/crew" fetch -q -j $J --per-host $J -o /dev/null $args || true
		read -r e m <"$work/time"
		printf '| crew fetch -j %s %s< list | %.1f | %.0f | %.1f |\n' "$J" "$args" "$e" "$(echo "$MILLION / $e" | bc -l)" "$(echo "$m / 1024" | bc -l)"
	done
	kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
}

seq_vs_conc() { # the tutorials' comparison: one download at a time vs many at once
	start_server 20ms
	make_list 200
	echo
	echo "### Sequential vs concurrent (the tutorials' comparison): 200 URLs, latency 20 ms, crew fetch, medians of $ROUNDS"
	echo
	echo "| -j | seconds |"
	echo "|---:|---:|"
	for j in 1 8 64; do
		local ts=""
		for r in $(seq 1 "$ROUNDS"); do
			taskset -c "$CLIENT_CPU" /usr/bin/time -o "$work/time" -f '%e' \
				"$work/crew" fetch -q -j "$j" --per-host "$j" -i "$work/list" -o /dev/null || true
			ts+="$(cat "$work/time") "
		done
		printf '| %s | %.3f |\n' "$j" "$(tr ' ' '\n' <<<"$ts" | grep . | median)"
	done
	kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
}

SCENARIOS=${SCENARIOS:-"a b million seq"}
echo "machine: $(nproc) cores, $(uname -sr); $(curl --version | head -1 | cut -d' ' -f1-2)"
for s in $SCENARIOS; do
	case $s in
	a) scenario "(a) latency 0" 0s "$N" ;;
	b) scenario "(b) latency 20 ms" 20ms 2000 ;;
	million) million ;;
	seq) seq_vs_conc ;;
	*) echo "unknown scenario $s (a, b, million, seq)" >&2; exit 2 ;;
	esac
done
