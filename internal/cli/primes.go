package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
)

type primesOptions struct {
	algo    string
	mode    string
	workers int
	verbose bool
	json    bool
}

func newPrimesCommand(s Streams) *cobra.Command {
	o := primesOptions{algo: primes.AlgoFast, mode: "goroutines", workers: runtime.NumCPU()}
	cmd := &cobra.Command{
		Use:   "primes (sum|count|check) N...",
		Short: "Sum, count or test primes, by trial division or fast",
		Long: `crew primes answers the tutorials' prime questions, one line per N:

  sum N     the sum of the primes ≤ N        (the tutorials: 1e6, 2e6, 3e6)
  count N   how many primes are ≤ N
  check N   whether N is prime               (the tutorials' list of 13 numbers)

--algo trial is the tutorials' algorithm (trial division by 6k±1 for sums and
counts, by every number up to √N for checks); --algo fast (the default) is a
segmented sieve spread over -j goroutines and a deterministic Miller–Rabin test,
exact for every 64-bit number. Both give the same answers.

--mode says where the inputs run: seq (one after another), goroutines (up to -j
at once), or processes (worker processes, like Python's multiprocessing).
N may be written 1000000, 1_000_000, 1e6, 2^61-1 or 2^64-59. Sums stop with an
error past about 2.9e10, where they overflow 64 bits.`,
		Example: `  crew primes sum 1e6 2e6 3e6 --algo trial -v
  crew primes sum 1e9                       # about a second on 2 cores
  crew primes check 1116281 1099726899285419 2^61-1
  crew primes count 1e8 --json`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrimes(cmd.Context(), s, o, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.algo, "algo", o.algo, "trial or fast")
	f.StringVar(&o.mode, "mode", o.mode, "seq, goroutines or processes")
	f.IntVarP(&o.workers, "jobs", "j", o.workers, "workers (and sieve goroutines)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "add each answer's time and the total")
	f.BoolVar(&o.json, "json", false, "one JSON object per answer")
	return cmd
}

func runPrimes(ctx context.Context, s Streams, o primesOptions, op string, args []string) error {
	switch op {
	case primes.OpSum, primes.OpCount, primes.OpCheck:
	default:
		return usagef("unknown operation %q: want sum, count or check", op)
	}
	if o.algo != primes.AlgoFast && o.algo != primes.AlgoTrial {
		return usagef("--algo %q: want fast or trial", o.algo)
	}
	if o.workers < 1 {
		return usagef("-j %d: need at least 1", o.workers)
	}
	qs := make([]primes.Query, len(args))
	for i, a := range args {
		n, err := primes.ParseNumber(a)
		if err != nil {
			return usagef("argument %d: %v", i+1, err)
		}
		qs[i] = primes.Query{Op: op, N: n, Algo: o.algo, Workers: 1}
	}
	var ex crew.Executor
	switch o.mode {
	case "seq":
		if len(qs) == 1 {
			qs[0].Workers = 1
		}
	case "goroutines", "processes":
		// Inputs share the workers; a lone input's sieve uses them all.
		per := max(1, o.workers/len(qs))
		for i := range qs {
			qs[i].Workers = per
		}
		var err error
		if ex, err = newExecutor(o.mode, crew.Workers(o.workers)); err != nil {
			return err
		}
		defer ex.Close()
	default:
		return usagef("--mode %q: want seq, goroutines or processes", o.mode)
	}
	start := time.Now()
	enc := json.NewEncoder(s.Out)
	failed := 0
	for r := range primes.SolveAll(ctx, ex, qs) {
		if r.Err != nil {
			if ctx.Err() != nil {
				break // interrupted: one message below, not one per input
			}
			failed++
			fmt.Fprintf(s.Err, "crew primes: %v\n", r.Err)
			continue
		}
		switch {
		case o.json:
			if err := enc.Encode(r.Value); err != nil {
				return err
			}
		case o.verbose:
			fmt.Fprintf(s.Out, "%s  [%s]\n", r.Value, time.Duration(r.Value.ElapsedMS*float64(time.Millisecond)).Round(time.Microsecond))
		default:
			fmt.Fprintln(s.Out, r.Value)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.verbose && !o.json {
		fmt.Fprintf(s.Out, "total %s (%s, %s, -j %d)\n", time.Since(start).Round(time.Microsecond), o.algo, o.mode, o.workers)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d failed: %w", failed, len(qs), errQuiet)
	}
	return nil
}
