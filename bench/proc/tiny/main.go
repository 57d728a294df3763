// Command tiny measures the process executor on tiny tasks: squaring N
// ints with crew.Map on proc.New(crew.Workers(w)), pool start-up
// included, and the start-up time from proc.New to the first result. It
// prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
	"github.com/crewrun/crew/proc"
)

var square = crew.Register("tiny.square", func(_ context.Context, n int) (int, error) { return n * n, nil })

var sumPrimes = crew.Register("tiny.sum-primes", func(_ context.Context, n uint64) (uint64, error) { return primes.SumTrial(n) })

func main() {
	proc.ServeIfWorker()
	n := flag.Int("n", 100_000, "tiny tasks")
	workers := flag.Int("workers", 2, "worker processes")
	mode := flag.String("mode", "tiny", "tiny, startup or primes")
	window := flag.Int("window", 0, "crew.Map window for -mode tiny (0: Map's default)")
	flag.Parse()
	ctx := context.Background()
	out := map[string]any{"mode": *mode, "workers": *workers}
	switch *mode {
	case "startup":
		start := time.Now()
		ex, err := proc.New(crew.Workers(*workers))
		check(err)
		_, err = crew.Submit(ctx, ex, square, 3).Wait(ctx)
		check(err)
		out["startup_ms"] = float64(time.Since(start).Microseconds()) / 1000
		check(ex.Close())
	case "tiny":
		// Pool start-up is inside the timing, as it is in pools.py.
		start := time.Now()
		ex, err := proc.New(crew.Workers(*workers))
		check(err)
		in := func(yield func(int) bool) {
			for i := range *n {
				if !yield(i) {
					return
				}
			}
		}
		sum := 0
		var mopts []crew.MapOption
		if *window > 0 {
			mopts = append(mopts, crew.Window(*window))
			out["window"] = *window
		}
		for r := range crew.Map(ctx, ex, square, in, mopts...) {
			check(r.Err)
			sum += r.Value & 1
		}
		check(ex.Close())
		d := time.Since(start) // Close too: pools.py times its with-block
		out["n"], out["seconds"], out["tasks_per_s"] = *n, d.Seconds(), float64(*n)/d.Seconds()
	case "primes":
		// The tutorials' sum of primes ≤ 1e6, 2e6, 3e6 (6k±1 trial
		// division): sequential Go against 2 worker processes, one
		// task per sum as in the tutorials' Pool(2).map.
		inputs := []uint64{1_000_000, 2_000_000, 3_000_000}
		start := time.Now()
		for _, x := range inputs {
			_, err := primes.SumTrial(x)
			check(err)
		}
		seq := time.Since(start)
		ex, err := proc.New(crew.Workers(*workers))
		check(err)
		start = time.Now()
		for r := range crew.Map(ctx, ex, sumPrimes, func(yield func(uint64) bool) {
			for _, x := range inputs {
				if !yield(x) {
					return
				}
			}
		}) {
			check(r.Err)
		}
		par := time.Since(start)
		check(ex.Close())
		out["seq_s"], out["processes_s"], out["speedup"] = seq.Seconds(), par.Seconds(), seq.Seconds()/par.Seconds()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
