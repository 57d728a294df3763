package bench

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/crewrun/crew"
)

// NewExecutor makes an executor with the given options; Config.Executors
// maps mode names to them (for example "processes" to proc.New).
type NewExecutor func(opts ...crew.Option) (crew.Executor, error)

// Config says what to run. The zero value runs everything at full size on
// goroutines only, without Python.
type Config struct {
	Quick     bool  // small inputs, fewer repetitions: seconds, not minutes
	Workers   []int // worker counts for the Go CPU experiments; default 1, 2, NumCPU, 2×NumCPU
	IOWorkers []int // worker counts for the IO experiment; default Workers but 1, and 16
	// PythonWorkers are the worker counts of Python's threads and
	// processes, default NumCPU; the IO experiment adds the largest of
	// IOWorkers. Each Python run takes seconds, so the sweep is short.
	PythonWorkers []int
	Pages         int           // pages the IO experiment downloads; default 160 (16 quick)
	Latency       time.Duration // the IO server's delay per page; default 20 ms (10 ms quick)
	Only          []string      // experiment names to run; all when empty
	// Executors are the modes beyond "seq" and "goroutines", run in the
	// order of their names. Experiment 7 runs its processes batch on
	// Executors["processes"] when there is one.
	Executors map[string]NewExecutor
	// Python is the python3 to run the Python equivalents with; empty
	// skips them.
	Python string
	// Progress is told what is about to run.
	Progress func(step string)

	urls []string      // the IO experiment's pages, set by Run
	py   *pythonRunner // set by Run when Python is given
}

// Modes and languages of the rows. Go's modes are seq, goroutines and the
// names of Config.Executors; Python's are seq, threads and processes.
const (
	ModeSeq        = "seq"
	ModeGoroutines = "goroutines"
	LangGo         = "go"
	LangPython     = "python"
)

// ExperimentNames lists the experiments in the order Run runs them.
func ExperimentNames() []string {
	var names []string
	for _, e := range experiments(Config{}) {
		names = append(names, e.name)
	}
	return names
}

// ErrUnknownExperiment reports a name in Config.Only that is no experiment.
var ErrUnknownExperiment = errors.New("bench: unknown experiment")

func (c *Config) setDefaults() error {
	n := runtime.NumCPU()
	if len(c.Workers) == 0 {
		c.Workers = []int{1, 2, n, 2 * n}
		if c.Quick {
			c.Workers = []int{1, n}
		}
	}
	if len(c.IOWorkers) == 0 {
		// One worker waits as long as the sequential run: it is left out.
		c.IOWorkers = append(slices.DeleteFunc(slices.Clone(c.Workers), func(w int) bool { return w == 1 }), 16)
	}
	if len(c.PythonWorkers) == 0 {
		c.PythonWorkers = []int{n}
	}
	for _, w := range slices.Concat(c.Workers, c.IOWorkers, c.PythonWorkers) {
		if w < 1 {
			return fmt.Errorf("bench: worker count %d: must be at least 1", w)
		}
	}
	c.Workers, c.IOWorkers, c.PythonWorkers = uniq(c.Workers), uniq(c.IOWorkers), uniq(c.PythonWorkers)
	if c.Pages == 0 {
		c.Pages = 160
		if c.Quick {
			c.Pages = 16
		}
	}
	if c.Latency == 0 {
		c.Latency = 20 * time.Millisecond
		if c.Quick {
			c.Latency = 10 * time.Millisecond
		}
	}
	if c.Pages < 1 || c.Latency < 0 {
		return fmt.Errorf("bench: need pages ≥ 1 and latency ≥ 0 (got %d, %v)", c.Pages, c.Latency)
	}
	known := ExperimentNames()
	for _, name := range c.Only {
		if !slices.Contains(known, name) {
			return fmt.Errorf("%w %q (known: %s)", ErrUnknownExperiment, name, strings.Join(known, ", "))
		}
	}
	return nil
}

// Repetitions. Go rows run at least goMinReps times and, while they have
// taken less than the budget, up to goMaxReps; a Python row takes seconds,
// so it runs exactly pythonReps times.
func (c Config) goReps() (minReps, maxReps int, budget time.Duration) {
	if c.Quick {
		return 2, 3, 250 * time.Millisecond
	}
	return 3, 9, time.Second
}

func (c Config) pythonReps() int {
	if c.Quick {
		return 1
	}
	return 3
}

func uniq(ns []int) []int {
	ns = slices.Clone(ns)
	slices.Sort(ns)
	return slices.Compact(ns)
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, args...))
	}
}
