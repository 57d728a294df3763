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
	"runtime"
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

func pythonVersion(python string) string {
	out, err := exec.Command(python, "--version").CombinedOutput()
	if err != nil {
		return "python (version unknown)"
	}
	return strings.TrimSpace(string(out))
}

// runPython runs the experiment's Python equivalent in every mode and
// worker count; failures become rows with an error rather than aborting
// the Go results.
func runPython(ctx context.Context, cfg Config, e experiment) []Row {
	dir, err := os.MkdirTemp("", "crew-bench-py-")
	if err != nil {
		return []Row{{Lang: LangPython, Mode: ModeSeq, Error: err.Error()}}
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "seeds.py")
	if err := os.WriteFile(script, seedsPy, 0o644); err != nil {
		return []Row{{Lang: LangPython, Mode: ModeSeq, Error: err.Error()}}
	}
	params, err := json.Marshal(e.params)
	if err != nil {
		return []Row{{Lang: LangPython, Mode: ModeSeq, Error: err.Error()}}
	}
	type config struct {
		mode    string
		workers int
	}
	var configs []config
	if e.counter {
		configs = []config{{"unsynchronised", counterGoroutines}, {"lock", counterGoroutines}}
	} else {
		configs = []config{{ModeSeq, 1}}
		workers := cfg.Workers
		if e.ioBound {
			workers = cfg.IOWorkers
		}
		for _, mode := range []string{"threads", "processes"} {
			for _, w := range workers {
				configs = append(configs, config{mode, w})
			}
		}
	}
	maxReps, budget := 3, 5*time.Second
	if cfg.Quick || e.counter {
		maxReps, budget = 1, 0
	}
	var rows []Row
	for _, c := range configs {
		cfg.progress("%s: python %s × %d", e.name, c.mode, c.workers)
		row := Row{Lang: LangPython, Mode: c.mode, Workers: c.workers}
		var reported []float64
		t, check, err := repeat(ctx, false, maxReps, budget, runtime.NumCPU(), func(ctx context.Context) (any, error) {
			var out pythonResult
			cmd := exec.CommandContext(ctx, cfg.Python, script, e.python, c.mode, strconv.Itoa(c.workers), string(params))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("python %s %s: %w: %s", e.python, c.mode, err, strings.TrimSpace(lastLine(stderr.String())))
			}
			if err := json.Unmarshal(b, &out); err != nil {
				return nil, fmt.Errorf("python %s %s: bad output %q: %w", e.python, c.mode, b, err)
			}
			reported = append(reported, out.Seconds)
			return out.Check, nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return rows
			}
			row.Error = err.Error()
			rows = append(rows, row)
			continue
		}
		// Python reports the time of the work itself, without the
		// interpreter's start-up; keep the CPU share measured around it.
		util := t.CPUUtil
		t = timingOf(reported)
		t.CPUUtil = util
		row.Timing, row.Check = t, check.(string)
		if e.counter {
			want := counterGoroutines * counterIncrements
			got, _ := strconv.Atoi(row.Check)
			row.Check = fmt.Sprintf("%d of %d", got, want)
			if got != want {
				row.Note = fmt.Sprintf("lost %d increments", want-got)
			}
		}
		if e.ideal != nil {
			row.IdealS = e.ideal(c.workers)
		}
		rows = append(rows, row)
	}
	return rows
}

type pythonResult struct {
	Seconds float64 `json:"seconds"`
	Check   string  `json:"check"`
}

func timingOf(walls []float64) Timing {
	s := append([]float64(nil), walls...)
	sortFloats(s)
	return Timing{MedianS: median(s), MinS: s[0], MaxS: s[len(s)-1], Reps: len(s)}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
