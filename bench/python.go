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

type pyTrials struct {
	rows   []Row
	trials []*trial
}

// pythonTrials prepares the experiment's Python equivalent in every mode
// and worker count, run from a copy of the embedded script that cleanup
// removes.
func pythonTrials(cfg Config, e experiment) (pyTrials, func(), error) {
	var out pyTrials
	dir, err := os.MkdirTemp("", "crew-bench-py-")
	if err != nil {
		return out, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	script := filepath.Join(dir, "seeds.py")
	params, err := json.Marshal(e.params)
	if err == nil {
		err = os.WriteFile(script, seedsPy, 0o644)
	}
	if err != nil {
		cleanup()
		return out, nil, err
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
	for _, c := range configs {
		out.rows = append(out.rows, Row{Lang: LangPython, Mode: c.mode, Workers: c.workers})
		out.trials = append(out.trials, &trial{once: cfg.Quick, fn: func(ctx context.Context) (any, time.Duration, error) {
			// Python reports the time of the work itself, without the
			// interpreter's start-up.
			cmd := exec.CommandContext(ctx, cfg.Python, script, e.python, c.mode, strconv.Itoa(c.workers), string(params))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			if err != nil {
				return nil, 0, fmt.Errorf("python %s %s: %w: %s", e.python, c.mode, err, lastLine(stderr.String()))
			}
			var res pythonResult
			if err := json.Unmarshal(b, &res); err != nil {
				return nil, 0, fmt.Errorf("python %s %s: bad output %q: %w", e.python, c.mode, b, err)
			}
			return res.Check, time.Duration(res.Seconds * float64(time.Second)), nil
		}})
	}
	return out, cleanup, nil
}

type pythonResult struct {
	Seconds float64 `json:"seconds"`
	Check   string  `json:"check"`
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
