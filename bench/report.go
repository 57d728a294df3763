package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Report is the outcome of Run, written as bench.json.
type Report struct {
	Machine  Machine   `json:"machine"`
	Quick    bool      `json:"quick"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// PythonReps is how many times each Python row ran (0: no Python).
	PythonReps  int          `json:"python_reps"`
	Experiments []Experiment `json:"experiments"`
	// Interrupted names the experiment that was running when the run was
	// stopped; the report holds the ones that finished before it.
	Interrupted string `json:"interrupted,omitempty"`
	// Warnings say why the figures may mislead: a busy machine, a short
	// run.
	Warnings []string `json:"warnings"`
	Goals    []Goal   `json:"goals"`
	// Summary is the headline, in sentences computed from the results.
	Summary []string `json:"summary"`
}

// Experiment holds one experiment's rows: every language, mode and worker
// count.
type Experiment struct {
	Number   int    `json:"number"`
	Name     string `json:"name"`
	Kind     string `json:"kind"` // cpu, io, overhead, counter or isolation
	Title    string `json:"title"`
	Label    string `json:"label"`    // a few words, for charts
	Question string `json:"question"` // the tutorial's question
	Seed     string `json:"seed"`     // the tutorial that asks it
	Tasks    int    `json:"tasks,omitempty"`
	Total    int    `json:"total,omitempty"` // the shared counter's right answer
	Rows     []Row  `json:"rows"`
	// Isolation holds experiment 7's batches.
	Isolation []IsolationRun `json:"isolation,omitempty"`
	// OtherCores is how many cores other programs kept busy, on average,
	// while this experiment ran (-1: unknown).
	OtherCores float64 `json:"other_cores"`
	// Findings say what the numbers show on this machine.
	Findings []string `json:"findings"`
}

// Row is one configuration's measurement.
type Row struct {
	Lang    string `json:"lang"`
	Mode    string `json:"mode"`
	Workers int    `json:"workers"`
	Timing
	// Speedup is the same language's sequential time over this row's
	// (pool start and stop included); WorkSpeedup leaves them out.
	Speedup     float64 `json:"speedup_vs_seq,omitempty"`
	WorkSpeedup float64 `json:"work_speedup_vs_seq,omitempty"`
	IdealS      float64 `json:"ideal_s,omitempty"`
	Counted     int     `json:"counted,omitempty"` // the shared counter's final value
	Check       string  `json:"check,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// Goal is one of the targets the bench checks itself against.
type Goal struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	// Verdict is "met", "not met" or "not checked"; Pass is Verdict == "met".
	Verdict string `json:"verdict"`
	Pass    bool   `json:"pass"`
	Detail  string `json:"detail"` // the measurement, in words
	Why     string `json:"why"`    // what the goal means, or why it was not checked
}

// Goal verdicts.
const (
	Met        = "met"
	NotMet     = "not met"
	NotChecked = "not checked"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// finish derives what the report says from its measurements.
func (r *Report) finish() {
	r.Warnings = r.warnings()
	r.Goals = r.checkGoals()
	for i := range r.Experiments {
		r.Experiments[i].Findings = r.findings(r.Experiments[i])
	}
	r.Summary = r.summary()
}

// experiment returns the experiment with that name, if it ran.
func (r *Report) experiment(name string) (Experiment, bool) {
	for _, e := range r.Experiments {
		if e.Name == name {
			return e, true
		}
	}
	return Experiment{}, false
}

// row returns the experiment's row for lang, mode and workers.
func (e Experiment) row(lang, mode string, workers int) (Row, bool) {
	for _, r := range e.Rows {
		if r.Lang == lang && r.Mode == mode && r.Workers == workers && r.Error == "" && r.Reps > 0 {
			return r, true
		}
	}
	return Row{}, false
}

// near returns lang and mode's row with the most workers up to cores, or
// failing that the fewest workers: the row to quote for "on N cores".
func (e Experiment) near(lang, mode string, cores int) (Row, bool) {
	var best Row
	found := false
	for _, r := range e.Rows {
		if r.Lang != lang || r.Mode != mode || r.Error != "" || r.Reps == 0 {
			continue
		}
		if !found {
			best, found = r, true
			continue
		}
		switch w, b := r.Workers, best.Workers; {
		case w <= cores && (b > cores || w > b):
			best = r
		case w > cores && b > cores && w < b:
			best = r
		}
	}
	return best, found
}

// fastest returns the lang's fastest row, seq included.
func (e Experiment) fastest(lang string) (Row, bool) {
	var best Row
	found := false
	for _, r := range e.Rows {
		if r.Lang == lang && r.Error == "" && r.MedianS > 0 && (!found || r.MedianS < best.MedianS) {
			best, found = r, true
		}
	}
	return best, found
}

// ReadReport reads a bench.json written by WriteJSON, so that the other
// files — HTML, Markdown, charts — can be drawn again from it without
// running anything. What the report says (warnings, goals, findings) is
// derived again from the measurements.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("bench: reading a report: %w", err)
	}
	if r.Machine.Cores < 1 || len(r.Experiments) == 0 && r.Started.IsZero() {
		return nil, errors.New("bench: reading a report: not a bench.json (no machine, no experiments)")
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("bench: reading a report: %w", err)
	}
	r.finish()
	return &r, nil
}

// validate refuses what no run writes: negative or infinite times,
// impossible counts.
func (r *Report) validate() error {
	bad := func(vs ...float64) bool {
		for _, v := range vs {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return true
			}
		}
		return false
	}
	if r.Machine.Cores > 1<<16 || bad(r.Machine.LoadAtStart+1) || r.PythonReps < 0 {
		return errors.New("impossible machine or repetitions")
	}
	for _, e := range r.Experiments {
		if kindOf(e.Kind) < 0 {
			return fmt.Errorf("experiment %q has an unknown kind %q", e.Name, e.Kind)
		}
		if e.Tasks < 0 || e.Total < 0 || bad(e.OtherCores+1) {
			return fmt.Errorf("experiment %q: impossible tasks, total or load", e.Name)
		}
		for _, row := range e.Rows {
			t := row.Timing
			if row.Workers < 1 || row.Workers > 1<<16 || t.Reps < 0 || row.Counted < 0 || row.Counted > e.Total ||
				bad(t.MedianS, t.MinS, t.MaxS, t.PoolS, t.WorkS, t.Cores, t.CPUUtil, row.Speedup, row.WorkSpeedup, row.IdealS) ||
				t.Reps > 0 && (t.MinS <= 0 || t.MinS > t.MedianS || t.MedianS > t.MaxS || t.PoolS > t.MaxS) {
				return fmt.Errorf("experiment %q: row %s %s ×%d has impossible figures", e.Name, row.Lang, row.Mode, row.Workers)
			}
		}
		for _, run := range e.Isolation {
			if run.Tasks < 0 || run.Tasks > 1<<20 || run.Completed < 0 || run.Failed < 0 || run.Completed+run.Failed > run.Tasks || bad(run.ElapsedS, run.PoolS) {
				return fmt.Errorf("experiment %q: batch %s %s has impossible figures", e.Name, run.Mode, run.Batch)
			}
		}
	}
	return nil
}
