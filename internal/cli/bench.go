package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/bench"
)

type benchOptions struct {
	quick     bool
	workers   []int
	ioWorkers []int
	pages     int
	latency   time.Duration
	only      []string
	out       string
	python    bool
	noPython  bool
	quiet     bool
}

func newBenchCommand(s Streams) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Reproduce the Python tutorials' concurrency timings in Go (and Python)",
		Long: `crew bench runs the timing experiments of the Python concurrency tutorials —
sum of primes and is_prime by trial division, the "complex calculation", downloading
pages, the overhead of tiny tasks, and the shared-counter race — sequentially, on
goroutines and on worker processes, sweeping the number of workers.

When python3 is on PATH it runs Python equivalents (sequential, threads, processes;
standard library only, embedded in crew) beside them, so the effect of Python's GIL
shows on this machine. The IO experiment downloads from a server crew starts on
127.0.0.1 with an injected latency: nothing leaves the machine.

Each configuration is warmed up and repeated; the table shows the median, the
spread, the speed-up over sequential and the CPU use (100% = all cores busy).
Results go to --out: bench.json (with the machine's CPU, cores and Go version),
bench.md, and the plots bench.svg and bench.png.

A full run takes about a minute on 2 cores without Python and about four
minutes with it; --quick takes about 11 s with Python and 3 s without.`,
		Example: `  crew bench --quick                   # seconds: small inputs, 1 and NumCPU workers
  crew bench                           # full run, Python too if installed
  crew bench --no-python --workers 1,2,4,8
  crew bench --only download --pages 320 --latency 20ms --io-workers 8,32,64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "small inputs and few repetitions (seconds)")
	f.IntSliceVar(&o.workers, "workers", nil, "worker counts for CPU experiments (default 1,2,NumCPU,2×NumCPU)")
	f.IntSliceVar(&o.ioWorkers, "io-workers", nil, "worker counts for the IO experiment (default --workers and 16)")
	f.IntVar(&o.pages, "pages", 0, "pages the IO experiment downloads (default 160, quick 16)")
	f.DurationVar(&o.latency, "latency", 0, "the IO server's delay per page (default 50ms, quick 10ms)")
	f.StringSliceVar(&o.only, "only", nil, "run only these experiments: "+strings.Join(bench.ExperimentNames(), ", "))
	f.StringVar(&o.out, "out", "crew-bench", "directory for bench.json, bench.md, bench.svg and bench.png")
	f.BoolVar(&o.python, "python", false, "run the Python equivalents (default: when python3 is on PATH)")
	f.BoolVar(&o.noPython, "no-python", false, "skip the Python equivalents")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	return cmd
}

func runBench(ctx context.Context, s Streams, o benchOptions) error {
	if o.python && o.noPython {
		return usagef("--python and --no-python contradict each other")
	}
	if o.pages < 0 || o.latency < 0 {
		return usagef("--pages and --latency must not be negative")
	}
	for _, w := range append(slices.Clone(o.workers), o.ioWorkers...) {
		if w < 1 {
			return usagef("--workers and --io-workers: %d: a worker count must be at least 1", w)
		}
	}
	cfg := bench.Config{
		Quick: o.quick, Workers: o.workers, IOWorkers: o.ioWorkers,
		Pages: o.pages, Latency: o.latency, Only: o.only,
		Executors: benchExecutors(),
	}
	if !o.noPython {
		cfg.Python = bench.FindPython()
		if o.python && cfg.Python == "" {
			return usagef("--python: python3 is not on PATH")
		}
	}
	if !o.quiet {
		p := newStatusLine(s.Err)
		defer p.done()
		cfg.Progress = p.set
	}
	// Find out now, not after minutes of experiments, that --out is
	// unusable.
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return usagef("--out: %v", err)
	}
	probe, err := os.CreateTemp(o.out, ".crew-bench-probe-*")
	if err != nil {
		return usagef("--out: %v", err)
	}
	probe.Close()
	os.Remove(probe.Name())
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, bench.ErrUnknownExperiment) {
			return usageError{err}
		}
		return err
	}
	if err := rep.WriteTable(s.Out); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"bench.json", rep.WriteJSON},
		{"bench.md", rep.WriteMarkdown},
		{"bench.svg", func(w io.Writer) error { return rep.WritePlot(w, bench.SVG) }},
		{"bench.png", func(w io.Writer) error { return rep.WritePlot(w, bench.PNG) }},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(o.out, f.name), f.write); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	fmt.Fprintf(s.Out, "\nWrote %s/{bench.json,bench.md,bench.svg,bench.png}\n", o.out)
	return nil
}

// writeFileAtomic writes path through a temporary file renamed into place,
// so that an interrupted run never leaves half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	// CreateTemp makes the file private (0600); results are for reading.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
