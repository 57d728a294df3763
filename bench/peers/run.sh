#!/usr/bin/env bash
# Side-by-side benchmark of crew's goroutine executor and other Go worker
# pools (issue: crew foundation). Prints Go benchmark results (6 runs each,
# interleaved by go test -count) summarised by benchstat, then the peak RSS
# of a 10M-input Map.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp)
go test -run '^$' -bench . -benchmem -benchtime 1000000x -count 6 | tee "$out"
echo
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$out" || true
echo
for n in 1000000 10000000; do go run ./maprss -n $n; done
go run ./maprss -n 10000000 -unordered
