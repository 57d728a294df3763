#!/usr/bin/env bash
# Side-by-side benchmark of crew fetch against aria2c, curl --parallel and
# xargs -P curl, on a local page server (one host, so crew runs with
# --per-host equal to -j: the per-host limit would otherwise be the cap).
#
#   bench/fetch/run.sh [ROUNDS]        # default 3 rounds, medians reported
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${1:-3}
J=64
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need aria2c aria2
need curl curl

(cd "$root" && go build -o "$work/crew" ./cmd/crew)
GOWORK=off go build -o "$work/pageserver" .

start_server() { # latency → sets PORT
	coproc SRV { "$work/pageserver" -latency "$1"; }
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
	[aria2c]="aria2c -q -j $J -i $work/list -d $work/out --allow-overwrite=true --auto-file-renaming=false"
	[curl-parallel]="curl -s --parallel --parallel-max $J -K $work/curl.cfg"
	[xargs-curl]="xargs -P$J -n1 curl -s -o /dev/null"
)
ORDER=(crew crew-dir aria2c curl-parallel xargs-curl)

time_one() { # name → seconds
	rm -rf "$work/out"; mkdir -p "$work/out"
	local t0 t1
	t0=$(date +%s.%N)
	if [[ $1 == xargs-curl ]]; then ${CMDS[$1]} <"$work/list" >/dev/null; else ${CMDS[$1]} >/dev/null || true; fi
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

scenario() { # label latency n
	local label=$1 latency=$2 n=$3
	start_server "$latency"
	make_list "$n"
	declare -A times
	for r in $(seq 1 "$ROUNDS"); do
		for tool in "${ORDER[@]}"; do # alternate tools within each round
			times[$tool]+="$(time_one "$tool") "
		done
	done
	echo
	echo "### $label: $n URLs, server latency $latency, concurrency $J, medians of $ROUNDS"
	echo
	echo "| tool | seconds | pages/s |"
	echo "|---|---:|---:|"
	for tool in "${ORDER[@]}"; do
		local m
		m=$(tr ' ' '\n' <<<"${times[$tool]}" | grep . | median)
		printf '| %s | %.3f | %.0f |\n' "$tool" "$m" "$(echo "$n / $m" | bc -l)"
	done
	if [[ $latency != 0s ]]; then
		local ms=${latency%ms}
		printf '\nideal N·latency/concurrency = %.3f s\n' "$(echo "$n * $ms / 1000 / $J" | bc -l)"
	fi
	kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
}

seq_vs_conc() { # the seeds' comparison: one at a time vs many at once
	start_server 20ms
	make_list 200
	echo
	echo "### Sequential vs concurrent (seeds' comparison): 200 URLs, latency 20ms, crew fetch"
	echo
	echo "| -j | seconds |"
	echo "|---:|---:|"
	for j in 1 8 64; do
		local ts=""
		for r in $(seq 1 "$ROUNDS"); do
			local t0 t1; t0=$(date +%s.%N)
			"$work/crew" fetch -q -j "$j" --per-host "$j" -i "$work/list" -o /dev/null
			t1=$(date +%s.%N); ts+="$(echo "$t1 - $t0" | bc -l) "
		done
		printf '| %s | %.3f |\n' "$j" "$(tr ' ' '\n' <<<"$ts" | grep . | median)"
	done
	kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
}

echo "machine: $(nproc) cores, $(uname -sr); $(curl --version | head -1 | cut -d' ' -f1-2); $(aria2c --version | head -1)"
scenario "(a) latency 0" 0s 5000
scenario "(b) latency 20 ms" 20ms 2000
seq_vs_conc
