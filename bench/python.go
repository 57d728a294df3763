package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed python/seeds.py
var seedsPy []byte

// FindPython returns the path of python3 if it is on PATH, else "".
func FindPython() string {
	p, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	return p
}

// pythonVersion returns Python's version, and whether it runs without the
// GIL (a free-threaded build, from Python 3.13 on, with the GIL off).
func pythonVersion(python string) (version string, freeThreaded bool) {
	out, err := exec.Command(python, "-c",
		`import platform, sys; print(platform.python_version(), not getattr(sys, "_is_gil_enabled", lambda: True)())`).Output()
	v, free, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if err != nil || !ok {
		return "Python (version unknown)", false
	}
	return "Python " + v, free == "True"
}

// pythonRunner runs the embedded seeds.py, written to a temporary
// directory that close removes.
type pythonRunner struct {
	python, dir, script string
}

func newPythonRunner(python string) (*pythonRunner, error) {
	dir, err := os.MkdirTemp("", "crew-bench-py-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "seeds.py")
	if err := os.WriteFile(script, seedsPy, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &pythonRunner{python: python, dir: dir, script: script}, nil
}

func (p *pythonRunner) close() { os.RemoveAll(p.dir) }

// command returns the command running one experiment in one mode.
func (p *pythonRunner) command(ctx context.Context, name, mode string, workers int, params any) (*exec.Cmd, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, p.python, p.script, name, mode, strconv.Itoa(workers), string(b)), nil
}

// pythonResult is what seeds.py prints: the wall time of the work, pool
// start and stop included, and of that the pool's part.
type pythonResult struct {
	Seconds     float64 `json:"seconds"`
	PoolSeconds float64 `json:"pool_seconds"`
	Check       string  `json:"check"`
}

// pythonModes lists the Python rows of an experiment: mode and workers.
func pythonModes(cfg Config, e experiment) []Row {
	if e.kind == kindCounter {
		return []Row{
			{Lang: LangPython, Mode: "unsynchronised", Workers: counterGoroutines},
			{Lang: LangPython, Mode: "lock", Workers: counterGoroutines},
		}
	}
	rows := []Row{{Lang: LangPython, Mode: ModeSeq, Workers: 1}}
	workers := cfg.PythonWorkers
	if e.kind == kindIO {
		workers = uniq(append(workers, slices.Max(cfg.IOWorkers)))
	}
	for _, mode := range []string{"threads", "processes"} {
		for _, w := range workers {
			rows = append(rows, Row{Lang: LangPython, Mode: mode, Workers: w})
		}
	}
	return rows
}

// pythonTrial times one Python row. Python reports the time of the work
// itself, without the interpreter's start-up.
func (p *pythonRunner) trial(cfg Config, e experiment, row Row) *trial {
	reps := cfg.pythonReps()
	return &trial{minReps: reps, maxReps: reps, fn: func(ctx context.Context) (sample, error) {
		cmd, err := p.command(ctx, e.python, row.Mode, row.Workers, e.params)
		if err != nil {
			return sample{}, err
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return sample{}, fmt.Errorf("python %s %s: %w: %s", e.python, row.Mode, err, lastLine(stderr.String()))
		}
		var res pythonResult
		if err := json.Unmarshal(b, &res); err != nil {
			return sample{}, fmt.Errorf("python %s %s: bad output %q: %w", e.python, row.Mode, b, err)
		}
		return sample{check: res.Check, wall: seconds2d(res.Seconds), pool: seconds2d(res.PoolSeconds)}, nil
	}}
}

func seconds2d(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
