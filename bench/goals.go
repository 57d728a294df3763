package bench

import (
	"fmt"
	"strings"
)

// checkGoals compares the report with the project's targets. A goal the
// run cannot judge — inputs too small, one core — is "not checked", with
// the reason; one missed on a busy machine says so.
func (r *Report) checkGoals() []Goal {
	goals := []Goal{} // [] in bench.json, not null, when there are none
	cores := r.Machine.Cores
	busy := r.busy()
	judge := func(g Goal, pass bool, skip string) Goal {
		switch {
		case skip != "":
			g.Verdict, g.Why = NotChecked, skip
		case pass:
			g.Verdict, g.Pass = Met, true
		default:
			g.Verdict = NotMet
			if busy {
				g.Why += " Missed on a busy machine: run the bench again when it is quiet."
			}
		}
		return g
	}
	quick := ""
	if r.Quick {
		quick = "--quick inputs are too small for this target to mean anything; run without --quick."
	}
	for _, e := range r.Experiments {
		switch kindOf(e.Kind) {
		case kindCPU:
			if g, ok := e.fastest(LangGo); ok {
				if p, ok := e.fastest(LangPython); ok && e.Number <= 2 {
					ratio := p.MedianS / g.MedianS
					goals = append(goals, judge(Goal{
						Name:     fmt.Sprintf("experiment %d: Go faster than Python, best against best", e.Number),
						Target:   "≥ 30×",
						Measured: ratio,
						Detail:   fmt.Sprintf("%.1f× (Go %s, %s; Python %s, %s)", ratio, modeLabel(g), dur(g.MedianS), modeLabel(p), dur(p.MedianS)),
						Why:      "Go compiles to machine code where CPython interprets bytecode: the gap is there before any parallelism.",
					}, ratio >= 30, quick))
				}
			}
			seq, okS := e.row(LangGo, ModeSeq, 1)
			best, okB := bestSpeedup(e, LangGo, ModeGoroutines, min(cores, 2))
			if !okS || !okB {
				continue
			}
			skip := quick
			switch {
			case cores < 2:
				skip = "one core: there is nothing to run in parallel."
			case skip == "" && seq.MedianS < shortWork:
				skip = fmt.Sprintf("the sequential run takes %s: too short for parallel speed-up to show.", dur(seq.MedianS))
			case skip == "" && best.Speedup > 1.1*float64(min(best.Workers, cores)):
				skip = fmt.Sprintf("%s is more than %s can give: other programs slowed the sequential runs, so this run cannot tell.", times(best.Speedup), plural(min(best.Workers, cores), "core"))
			}
			goals = append(goals, judge(Goal{
				Name:     fmt.Sprintf("experiment %d: goroutines use the cores", e.Number),
				Target:   "≥ 1.8× sequential on 2+ cores",
				Measured: best.Speedup,
				Detail:   fmt.Sprintf("%.2f× with %s on %d cores", best.Speedup, plural(best.Workers, "worker"), cores),
				Why:      fmt.Sprintf("With no GIL, CPU-bound goroutines run on every core at once; %d cores allow at most %d×, and 1.8× is 90%% of 2×.", cores, cores),
			}, best.Speedup >= 1.8, skip))
		case kindIO:
			var most Row
			for _, row := range e.Rows {
				if row.Lang == LangGo && row.Mode == ModeGoroutines && row.Error == "" && row.IdealS > 0 && row.Workers > most.Workers {
					most = row
				}
			}
			if most.Workers < 16 {
				continue
			}
			over := most.MedianS/most.IdealS - 1
			goals = append(goals, judge(Goal{
				Name:     fmt.Sprintf("experiment %d: goroutines overlap the waits", e.Number),
				Target:   "within 15% of pages × latency ÷ workers",
				Measured: over,
				Detail:   fmt.Sprintf("%d goroutines: %s against the ideal %s (%+.0f%%)", most.Workers, dur(most.MedianS), dur(most.IdealS), 100*over),
				Why:      "A goroutine waiting on the network costs no core, so many more workers than cores still help until the waits all overlap.",
			}, over <= 0.15, quick))
		case kindIsolation:
			for _, run := range e.Isolation {
				if run.Lang != LangGo || run.Mode != "processes" {
					continue
				}
				goals = append(goals, judge(Goal{
					Name:   fmt.Sprintf("experiment %d: worker processes isolate a crash and a hang", e.Number),
					Target: "every other task completes; the crash fails with crew.ErrWorkerDied, the hang with crew.ErrTimeout",
					Detail: isolationDetail(run),
					Why:    "This is what processes are for in Go: a task that ends its process or never returns costs one worker, not the program.",
				}, run.isolationOK(), ""))
			}
		}
	}
	return goals
}

// bestSpeedup returns lang and mode's row with the highest speed-up among
// those with at least atLeast workers.
func bestSpeedup(e Experiment, lang, mode string, atLeast int) (Row, bool) {
	var best Row
	for _, r := range e.Rows {
		if r.Lang == lang && r.Mode == mode && r.Error == "" && r.Workers >= atLeast && r.Speedup > best.Speedup {
			best = r
		}
	}
	return best, best.Speedup > 0
}

func isolationDetail(r IsolationRun) string {
	if r.Error != "" {
		return "not run: " + r.Error
	}
	parts := []string{fmt.Sprintf("%d of %d tasks completed", r.Completed, r.Tasks)}
	if r.Crash != nil {
		parts = append(parts, "the crash: "+r.Crash.Result)
	}
	if r.Hang != nil {
		parts = append(parts, "the hang: "+r.Hang.Result)
	}
	return strings.Join(parts, "; ")
}

// plural writes a count and a noun: 1 worker, 2 workers.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
