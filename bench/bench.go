package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
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
	Quick     bool          // small inputs, fewer repetitions: seconds, not minutes
	Workers   []int         // worker counts for CPU experiments; default 1, 2, NumCPU, 2×NumCPU
	IOWorkers []int         // worker counts for the IO experiment; default Workers and 16
	Pages     int           // pages the IO experiment downloads; default 160 (16 quick)
	Latency   time.Duration // the IO server's delay per page; default 50 ms (10 ms quick)
	Only      []string      // experiment names to run; all when empty
	// Executors are the modes beyond "seq" and "goroutines", run in the
	// order of their names.
	Executors map[string]NewExecutor
	// Python is the python3 to run the Python equivalents with; empty
	// skips them.
	Python string
	// Progress is told what is about to run.
	Progress func(step string)

	urls []string // the IO experiment's pages, set by Run
}

// Modes lists the Go modes; Python's are seq, threads and processes.
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

func (c *Config) setDefaults() error {
	n := runtime.NumCPU()
	if len(c.Workers) == 0 {
		c.Workers = []int{1, 2, n, 2 * n}
		if c.Quick {
			c.Workers = []int{1, n}
		}
	}
	if len(c.IOWorkers) == 0 {
		c.IOWorkers = append(slices.Clone(c.Workers), 16)
	}
	for _, w := range append(slices.Clone(c.Workers), c.IOWorkers...) {
		if w < 1 {
			return fmt.Errorf("bench: worker count %d: must be at least 1", w)
		}
	}
	c.Workers, c.IOWorkers = uniq(c.Workers), uniq(c.IOWorkers)
	if c.Pages == 0 {
		c.Pages = 160
		if c.Quick {
			c.Pages = 16
		}
	}
	if c.Latency == 0 {
		c.Latency = 50 * time.Millisecond
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

// ErrUnknownExperiment reports a name in Config.Only that is no experiment.
var ErrUnknownExperiment = errors.New("bench: unknown experiment")

func uniq(ns []int) []int {
	ns = slices.Clone(ns)
	slices.Sort(ns)
	return slices.Compact(ns)
}

// Run runs the experiments and returns their report. It stops early, with
// ctx's error, when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	srv, base, err := startPageServer(cfg.Latency)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	for i := range cfg.Pages {
		cfg.urls = append(cfg.urls, fmt.Sprintf("%s/page/%d", base, i))
	}
	rep := &Report{Machine: machine(cfg.Python), Quick: cfg.Quick, Started: time.Now().UTC()}
	for _, e := range experiments(cfg) {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, e.name) {
			continue
		}
		res, err := runExperiment(ctx, cfg, e)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", e.name, err)
		}
		rep.Experiments = append(rep.Experiments, res)
	}
	rep.Finished = time.Now().UTC()
	rep.Goals = checkGoals(rep)
	return rep, nil
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		c.Progress(fmt.Sprintf(format, args...))
	}
}

func runExperiment(ctx context.Context, cfg Config, e experiment) (Experiment, error) {
	out := Experiment{Name: e.name, Title: e.title, Seed: e.seed}
	maxReps, budget := 9, time.Second
	if cfg.Quick {
		maxReps, budget = 2, time.Second
	}
	var rows []Row
	var trials []*trial
	add := func(row Row, t *trial) {
		step := fmt.Sprintf("%s: %s %s × %d", e.name, row.Lang, row.Mode, row.Workers)
		t.before = func() { cfg.progress("%s", step) }
		rows, trials = append(rows, row), append(trials, t)
	}
	if e.counter {
		for _, m := range counterModes {
			row := Row{Lang: LangGo, Mode: m.mode, Workers: counterGoroutines}
			if m.mode == "unsynchronised" && raceEnabled {
				row.Error = "skipped under the race detector, which reports this very race"
				out.Rows = append(out.Rows, row)
				continue
			}
			add(row, &trial{fn: func(context.Context) (any, time.Duration, error) { return m.run(), 0, nil }})
		}
		maxReps = 1
	} else {
		add(Row{Lang: LangGo, Mode: ModeSeq, Workers: 1}, &trial{fn: func(ctx context.Context) (any, time.Duration, error) {
			v, err := e.seq(ctx)
			return v, 0, err
		}})
		workers := cfg.Workers
		if e.ioBound {
			workers = cfg.IOWorkers
		}
		modes := []string{ModeGoroutines}
		for name := range cfg.Executors {
			modes = append(modes, name)
		}
		slices.Sort(modes[1:])
		for _, mode := range modes {
			newEx := NewExecutor(func(opts ...crew.Option) (crew.Executor, error) { return crew.Goroutines(opts...), nil })
			if mode != ModeGoroutines {
				newEx = cfg.Executors[mode]
			}
			for _, w := range workers {
				opts := append([]crew.Option{crew.Workers(w)}, e.opts...)
				// The executor is made and closed inside the timing, as the
				// tutorials time their pools.
				add(Row{Lang: LangGo, Mode: mode, Workers: w}, &trial{fn: func(ctx context.Context) (any, time.Duration, error) {
					ex, err := newEx(opts...)
					if err != nil {
						return nil, 0, err
					}
					v, err := e.par(ctx, ex, w)
					if cerr := ex.Close(); err == nil {
						err = cerr
					}
					return v, 0, err
				}})
			}
		}
	}
	if cfg.Python != "" && e.python != "" {
		py, cleanup, err := pythonTrials(cfg, e)
		if err != nil {
			out.Rows = append(out.Rows, Row{Lang: LangPython, Mode: ModeSeq, Error: err.Error()})
		} else {
			defer cleanup()
			for i := range py.rows {
				add(py.rows[i], py.trials[i])
			}
		}
	}
	if err := rounds(ctx, trials, !e.ioBound && !e.counter, maxReps, budget); err != nil {
		return out, err
	}
	cpus := runtime.NumCPU()
	var want string
	for i, row := range rows {
		t := trials[i]
		if t.err != nil {
			row.Error = t.err.Error()
		} else {
			row.Timing, row.Check = t.timing(cpus), fmt.Sprint(t.check)
		}
		switch {
		case e.counter:
			total := counterGoroutines * counterIncrements
			got, _ := strconv.Atoi(row.Check)
			row.Check = fmt.Sprintf("%d of %d", got, total)
			if row.Error == "" && got != total {
				row.Note = fmt.Sprintf("lost %d increments: a data race", total-got)
				if row.Lang == LangGo {
					row.Note += " (go run -race reports it)"
				}
			}
		case i == 0:
			want = row.Check
		case row.Error == "" && row.Check != want:
			row.Error = fmt.Sprintf("result %s differs from Go's sequential %s", row.Check, want)
		}
		if e.ideal != nil && row.Error == "" {
			row.IdealS = e.ideal(row.Workers)
		}
		out.Rows = append(out.Rows, row)
	}
	if !e.counter {
		setSpeedups(out.Rows)
	}
	return out, nil
}

// setSpeedups fills each row's speed-up against its language's seq row.
func setSpeedups(rows []Row) {
	seq := map[string]float64{}
	for _, r := range rows {
		if r.Mode == ModeSeq && r.Error == "" {
			seq[r.Lang] = r.MedianS
		}
	}
	for i, r := range rows {
		if s, ok := seq[r.Lang]; ok && r.MedianS > 0 && r.Error == "" {
			rows[i].Speedup = s / r.MedianS
		}
	}
}

// startPageServer serves small HTML pages on loopback after delay.
func startPageServer(delay time.Duration) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("bench: page server: %w", err)
	}
	body := strings.Repeat("<p>crew bench filler paragraph.</p>\n", 50)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<!doctype html><title>Page %s</title>\n%s", r.URL.Path, body)
		}),
	}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Python    string `json:"python,omitempty"`
}

func machine(python string) Machine {
	m := Machine{CPU: cpuModel(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if python != "" {
		m.Python = pythonVersion(python)
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
