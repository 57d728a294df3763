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
	pyWorkers []int
	pages     int
	latency   time.Duration
	only      []string
	out       string
	python    bool
	noPython  bool
	quiet     bool
	from      string
}

func newBenchCommand(s Streams) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Reproduce the Python tutorials' concurrency timings in Go (and Python)",
		Long: `crew bench runs the experiments of the Python concurrency tutorials —
sum of primes and is_prime by trial division, the "complex calculation", downloading
pages, the cost of tiny tasks, the shared-counter race, and what happens to a batch when
one task crashes and one hangs — sequentially, on goroutines and on worker processes,
sweeping the number of workers.

When python3 is on PATH it runs Python equivalents (sequential, threads, processes;
standard library only, embedded in crew) beside them, so the effect of Python's GIL
shows on this machine. The IO experiment downloads from a server crew starts on
127.0.0.1 with an injected latency: nothing leaves the machine.

Go rows are warmed up and run 3 to 9 times, Python rows 3 times (--quick: 2–3 and 1);
the table shows the median and the spread, the speed-up over the same language's
sequential run, the time to start and stop a pool, and the cores kept busy; every
column is explained under it. A busy machine (load above the cores, sequential runs
short of a core, other programs using the CPU) is warned about.

Results go to --out: bench.html (open it in a browser: per experiment the tutorial's
question, a chart, the table and what the numbers say), bench.json, bench.md, and
the charts as SVG and PNG (bench.png is the headline: time per mode, Go and Python).
Stopped with ^C, it writes the report of the experiments that finished, says which
one it cut short, and exits with status 130.

On the project's 2 cores, shared with other work (a load average of 6 to 18), a full
run took 7 to 8 minutes with Python and 79 s without, and --quick 8 to 16 s without
Python; a quiet machine takes less.`,
		Example: `  crew bench --quick                   # seconds: small inputs, 1 and NumCPU workers
  crew bench                           # full run, Python too if installed
  crew bench --no-python --workers 1,2,4,8
  crew bench --only download --pages 320 --latency 50ms --io-workers 8,32,64
  crew bench --only isolation          # a crash and a hang, on goroutines and processes
  crew bench --from crew-bench/bench.json --out report   # draw an earlier run again`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.from != "" {
				for _, name := range []string{"quick", "workers", "io-workers", "python-workers", "pages", "latency", "only", "python", "no-python"} {
					if cmd.Flags().Changed(name) {
						return usagef("--from draws the report of an earlier run again: --%s would change nothing", name)
					}
				}
			}
			return runBench(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "small inputs and few repetitions (seconds)")
	f.IntSliceVar(&o.workers, "workers", nil, "worker counts for CPU experiments (default 1,2,NumCPU,2×NumCPU)")
	f.IntSliceVar(&o.ioWorkers, "io-workers", nil, "worker counts for the IO experiment (default --workers and 16)")
	f.IntSliceVar(&o.pyWorkers, "python-workers", nil, "worker counts of Python's threads and processes (default NumCPU; IO adds the most --io-workers)")
	f.IntVar(&o.pages, "pages", 0, "pages the IO experiment downloads (default 160, quick 16)")
	f.DurationVar(&o.latency, "latency", 0, "the IO server's delay per page (default 20ms, quick 10ms)")
	f.StringSliceVar(&o.only, "only", nil, "run only these experiments: "+strings.Join(bench.ExperimentNames(), ", "))
	f.StringVar(&o.out, "out", "crew-bench", "directory for bench.html, bench.json, bench.md and the charts (.svg, .png)")
	f.BoolVar(&o.python, "python", false, "run the Python equivalents (default: when python3 is on PATH)")
	f.BoolVar(&o.noPython, "no-python", false, "skip the Python equivalents")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	f.StringVar(&o.from, "from", "", "run nothing: write the table and --out's files again from this bench.json of an earlier run")
	return cmd
}

func runBench(ctx context.Context, s Streams, o benchOptions) error {
	if o.python && o.noPython {
		return usagef("--python and --no-python contradict each other")
	}
	if o.pages < 0 || o.latency < 0 {
		return usagef("--pages and --latency must not be negative")
	}
	for _, w := range slices.Concat(o.workers, o.ioWorkers, o.pyWorkers) {
		if w < 1 {
			return usagef("--workers, --io-workers and --python-workers: %d: a worker count must be at least 1", w)
		}
	}
	cfg := bench.Config{
		Quick: o.quick, Workers: o.workers, IOWorkers: o.ioWorkers, PythonWorkers: o.pyWorkers,
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
	var rep *bench.Report
	if o.from != "" {
		f, err := os.Open(o.from)
		if err != nil {
			return usagef("--from: %v", err)
		}
		rep, err = bench.ReadReport(f)
		f.Close()
		if err != nil {
			return usagef("--from %s: %v", o.from, err)
		}
	} else {
		if warn := bench.BusyNow(); warn != "" {
			fmt.Fprintf(s.Err, "crew bench: %s\n", warn)
		}
		var err error
		if rep, err = bench.Run(ctx, cfg); err != nil {
			if errors.Is(err, bench.ErrUnknownExperiment) {
				return usageError{err}
			}
			if rep == nil {
				return err
			}
			// Interrupted: what finished is written, then the exit
			// status says the run was cut short.
			if werr := writeBench(s, o.out, rep); werr != nil {
				return errors.Join(err, werr)
			}
			return err
		}
	}
	return writeBench(s, o.out, rep)
}

// writeBench prints the report's table and writes its files to dir.
func writeBench(s Streams, dir string, rep *bench.Report) error {
	if err := rep.WriteTable(s.Out); err != nil {
		return err
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"bench.html", rep.WriteHTML},
		{"bench.json", rep.WriteJSON},
		{"bench.md", rep.WriteMarkdown},
	}
	for _, chart := range rep.Charts() {
		for _, format := range []string{bench.SVG, bench.PNG} {
			files = append(files, struct {
				name  string
				write func(io.Writer) error
			}{bench.ChartFile(chart, format), func(w io.Writer) error { return rep.WriteChart(w, chart, format) }})
		}
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	fmt.Fprintf(s.Out, "\nWrote %s: open it in a browser.\nBeside it: bench.json, bench.md and %d charts (.svg and .png).\n",
		filepath.Join(dir, "bench.html"), len(rep.Charts()))
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
