package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crewrun/crew"
)

// Run runs the experiments and returns their report. When ctx ends it
// stops early and returns ctx's error — with the report of the
// experiments that finished, if any did (Report.Interrupted names the one
// cut short), so that minutes of measurements are not lost to a ^C.
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
	if cfg.Python != "" {
		py, err := newPythonRunner(cfg.Python)
		if err != nil {
			return nil, fmt.Errorf("bench: python: %w", err)
		}
		defer py.close()
		cfg.py = py
	}
	rep := &Report{Machine: machine(cfg.Python), Quick: cfg.Quick, Started: time.Now().UTC()}
	if cfg.py != nil {
		rep.PythonReps = cfg.pythonReps()
	}
	for _, e := range experiments(cfg) {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, e.name) {
			continue
		}
		res, err := runExperiment(ctx, cfg, e)
		if err != nil {
			err = fmt.Errorf("bench: %s: %w", e.name, err)
			if ctx.Err() == nil || len(rep.Experiments) == 0 {
				return nil, err
			}
			rep.Interrupted = e.name
			rep.Finished = time.Now().UTC()
			rep.finish()
			return rep, err
		}
		rep.Experiments = append(rep.Experiments, res)
	}
	rep.Finished = time.Now().UTC()
	rep.finish()
	return rep, nil
}

func runExperiment(ctx context.Context, cfg Config, e experiment) (Experiment, error) {
	out := Experiment{Number: e.number, Name: e.name, Kind: e.kind.String(), Title: e.title, Label: e.label,
		Question: e.question, Seed: e.seed, Tasks: e.tasks, OtherCores: -1}
	if e.kind == kindIsolation {
		load := startOtherLoad()
		out.Isolation = runIsolation(ctx, cfg)
		out.OtherCores = load.cores()
		return out, ctx.Err()
	}
	minReps, maxReps, budget := cfg.goReps()
	var rows []Row
	var trials []*trial
	add := func(row Row, t *trial) {
		step := fmt.Sprintf("%s: %s %s × %d", e.name, row.Lang, row.Mode, row.Workers)
		t.before = func() { cfg.progress("%s", step) }
		rows, trials = append(rows, row), append(trials, t)
	}
	if e.kind == kindCounter {
		out.Total = counterGoroutines * counterIncrements
		for _, m := range counterModes {
			row := Row{Lang: LangGo, Mode: m.mode, Workers: counterGoroutines}
			if m.mode == "unsynchronised" && raceEnabled {
				row.Error = "skipped under the race detector, which reports this very race"
				out.Rows = append(out.Rows, row)
				continue
			}
			add(row, &trial{minReps: minReps, maxReps: minReps, fn: func(context.Context) (sample, error) {
				return sample{check: m.run()}, nil
			}})
		}
	} else {
		add(Row{Lang: LangGo, Mode: ModeSeq, Workers: 1}, &trial{minReps: minReps, maxReps: maxReps,
			fn: func(ctx context.Context) (sample, error) {
				v, err := e.seq(ctx)
				return sample{check: v}, err
			}})
		workers := cfg.Workers
		if e.kind == kindIO {
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
				add(Row{Lang: LangGo, Mode: mode, Workers: w}, &trial{minReps: minReps, maxReps: maxReps,
					fn: func(ctx context.Context) (sample, error) { return onExecutor(ctx, newEx, opts, e, w) }})
			}
		}
	}
	if cfg.py != nil && e.python != "" {
		for _, row := range pythonModes(cfg, e) {
			add(row, cfg.py.trial(cfg, e, row))
		}
	}
	load := startOtherLoad()
	if err := rounds(ctx, trials, e.kind == kindCPU, budget); err != nil {
		return out, err
	}
	out.OtherCores = load.cores()
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
		case e.kind == kindCounter:
			if row.Error == "" {
				row.Counted, _ = strconv.Atoi(row.Check)
				row.Check = fmt.Sprintf("%d of %d", row.Counted, out.Total)
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
	if e.kind != kindCounter {
		setSpeedups(out.Rows)
	}
	return out, nil
}

// onExecutor runs the experiment once on a new executor. The executor is
// made and closed inside the timing, as the tutorials time their pools,
// and that part is measured apart.
func onExecutor(ctx context.Context, newEx NewExecutor, opts []crew.Option, e experiment, workers int) (sample, error) {
	t0 := time.Now()
	ex, err := newEx(opts...)
	if err != nil {
		return sample{}, err
	}
	pool := time.Since(t0)
	v, err := e.par(ctx, ex, workers)
	c0 := time.Now()
	if cerr := ex.Close(); err == nil {
		err = cerr
	}
	pool += time.Since(c0)
	return sample{check: v, pool: pool}, err
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
		s, ok := seq[r.Lang]
		if !ok || r.MedianS <= 0 || r.Error != "" {
			continue
		}
		rows[i].Speedup = s / r.MedianS
		if r.PoolS > 0 && r.WorkS > 0 {
			rows[i].WorkSpeedup = s / r.WorkS
		}
	}
}

func (k kind) String() string {
	return [...]string{"cpu", "io", "overhead", "counter", "isolation"}[k]
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
