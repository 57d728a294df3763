#!/usr/bin/env bash
# Side-by-side tree copy benchmark: crew copy vs cp -a, rsync -a, tar|tar,
# and a rerun over an unchanged copy: crew copy vs rsync -a.
# Destinations are fresh distinct dirs; nothing is deleted between timed runs
# (on an ext4 without journal, creating files right after deleting a big tree
# is slow for about a minute). Each timed run starts after a sync, so no
# tool pays for writing back the previous one's data. Tools alternate within
# each round; the table shows medians. Everything is removed at the end.
# Usage: bench/copy/bench.sh [rounds]   (from the repo root; VERBOSE=1 prints every timing)
set -euo pipefail
RUNS=${1:-3}
command -v rsync >/dev/null || { apt-get update -qq && apt-get install -y -qq rsync; }
W=$(mktemp -d /tmp/crew-bench-copy.XXXX)
trap 'rm -rf "$W"' EXIT
go build -o "$W/crew" ./cmd/crew
CREW=$W/crew

mkdir -p "$W/small"
head -c 4096 /dev/urandom > "$W/blk"
for d in $(seq 0 199); do
  mkdir "$W/small/d$d"
  for f in $(seq 0 99); do cp "$W/blk" "$W/small/d$d/f$f"; done
done
mkdir -p "$W/big" && head -c $((1<<30)) /dev/urandom > "$W/big/file"
sync
entries() { find "$W/$1" | wc -l; }

t() { local s e; sync; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
declare -A T
n=0
for run in $(seq "$RUNS"); do
  for set in small big; do
    for tool in crew cp rsync tar; do
      n=$((n+1)); D=$W/out$n
      case $tool in
        crew)  x=$(t "$CREW" copy -q "$W/$set/" "$D"); CD=$D;;
        cp)    x=$(t cp -a "$W/$set" "$D");;
        rsync) x=$(t rsync -a "$W/$set/" "$D/"); RD=$D;;
        tar)   mkdir "$D"; x=$(t bash -c "tar -C '$W/$set' -cf - . | tar -C '$D' -xf -");;
      esac
      T[$set.$tool]+="$x "; [ -n "${VERBOSE:-}" ] && echo "round $run $set $tool $x" >&2
    done
    # Reruns over unchanged copies, alternating which goes first.
    if [ $((run % 2)) = 1 ]; then
      T[$set.rerun]+="$(t "$CREW" copy -q "$W/$set/" "$CD") "; T[$set.rsync-rerun]+="$(t rsync -a "$W/$set/" "$RD/") "
    else
      T[$set.rsync-rerun]+="$(t rsync -a "$W/$set/" "$RD/") "; T[$set.rerun]+="$(t "$CREW" copy -q "$W/$set/" "$CD") "
    fi
  done
done
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
printf '| set | tool | median s | cp -a time / tool time |\n|---|---|---|---|\n'
for set in small big; do
  cp=$(echo "${T[$set.cp]}" | med)
  for tool in crew cp rsync tar; do
    m=$(echo "${T[$set.$tool]}" | med)
    printf '| %s | %s | %.3f | %.2f× |\n' "$set" "$tool" "$m" "$(echo "$cp / $m" | bc -l)"
  done
done
printf '\n| set | rerun over an unchanged copy | median s | µs per entry | rsync -a time / tool time |\n|---|---|---|---|---|\n'
for set in small big; do
  e=$(entries "$set"); r=$(echo "${T[$set.rsync-rerun]}" | med)
  for tool in rerun rsync-rerun; do
    m=$(echo "${T[$set.$tool]}" | med)
    name=crew; [ "$tool" = rsync-rerun ] && name="rsync -a"
    printf '| %s | %s | %.3f | %.1f | %.2f× |\n' "$set" "$name" "$m" "$(echo "$m * 1000000 / $e" | bc -l)" "$(echo "$r / $m" | bc -l)"
  done
done
