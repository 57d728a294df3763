package bench

import (
	"fmt"
	"runtime"
	"strings"
)

// Thresholds of a busy machine.
const (
	// seqCoreShare is the least of a core a CPU-bound sequential run gets
	// on a quiet machine.
	seqCoreShare = 0.9
	// otherCoresBusy is how many cores other programs may use, on
	// average, before the figures are suspect.
	otherCoresBusy = 0.5
	// shortWork is a sequential time below which parallel speed-up
	// cannot show fully: starting workers and the CPU clocking up weigh in.
	shortWork = 0.02
)

// warnings says what makes this run's figures less than trustworthy.
func (r *Report) warnings() []string {
	w := []string{} // [] in bench.json, not null
	if r.Interrupted != "" {
		w = append(w, fmt.Sprintf("The run was interrupted during %s: this report holds the %s that finished before it.",
			r.Interrupted, plural(len(r.Experiments), "experiment")))
	}
	if b := r.busyReasons(); len(b) > 0 {
		w = append(w, "The machine was busy: "+strings.Join(b, "; ")+
			". Timings are noisy and speed-ups understate what it can do: run the bench again when it is quiet.")
	}
	if r.Quick {
		py := ""
		if r.PythonReps > 0 {
			py = fmt.Sprintf(", Python rows %d", r.PythonReps)
		}
		w = append(w, fmt.Sprintf("A --quick run: small inputs and few repetitions (Go rows 2–3%s), "+
			"to check that the bench works; run it without --quick for figures.", py))
	}
	return w
}

// busyReasons lists the signs that other programs took CPU from the run.
func (r *Report) busyReasons() []string {
	var out []string
	cores := r.Machine.Cores
	if r.Machine.LoadAtStart > float64(cores) {
		out = append(out, fmt.Sprintf("its load average was %.2f when the bench started, above its %d cores",
			r.Machine.LoadAtStart, cores))
	}
	var slow []string
	for _, e := range r.Experiments {
		if e.Kind != kindCPU.String() {
			continue
		}
		for _, row := range e.Rows {
			if row.Mode != ModeSeq || row.Reps == 0 || row.Cores <= 0 || (row.Lang != LangGo && !childrenCounted) {
				continue
			}
			if row.Cores < seqCoreShare {
				slow = append(slow, fmt.Sprintf("experiment %d, %s: %.0f%%", e.Number, langName(row.Lang), 100*row.Cores))
			}
		}
	}
	if len(slow) > 0 {
		out = append(out, "sequential runs got less than 90% of a core ("+strings.Join(slow, ", ")+")")
	}
	worst, at := 0.0, 0
	for _, e := range r.Experiments {
		if e.OtherCores > worst {
			worst, at = e.OtherCores, e.Number
		}
	}
	if worst >= otherCoresBusy {
		out = append(out, fmt.Sprintf("other programs kept %.1f of the %d cores busy on average during experiment %d", worst, cores, at))
	}
	return out
}

// busy says whether other programs took CPU from the run.
func (r *Report) busy() bool { return len(r.busyReasons()) > 0 }

func langName(lang string) string {
	if lang == LangPython {
		return "Python"
	}
	return "Go"
}

// BusyNow says, before a run, whether the machine is already busy: a
// sentence to warn with, or "" (also where the system does not say).
func BusyNow() string {
	l, ok := loadAverage()
	cores := runtime.NumCPU()
	if !ok || l <= float64(cores) {
		return ""
	}
	return fmt.Sprintf("the machine is busy (load average %.2f on %d cores): timings will be noisy and speed-ups low", l, cores)
}
