package bench

import (
	"fmt"
	"math"
	"strings"
)

// findings says, in a few sentences computed from this run, what an
// experiment shows on this machine.
func (r *Report) findings(e Experiment) []string {
	var out []string
	switch kindOf(e.Kind) {
	case kindCPU:
		out = r.cpuFindings(e)
	case kindIO:
		out = r.ioFindings(e)
	case kindOverhead:
		out = r.overheadFindings(e)
	case kindCounter:
		out = counterFindings(e)
	case kindIsolation:
		out = isolationFindings(e)
	}
	for _, row := range e.Rows {
		if row.Error != "" && !(row.Mode == "unsynchronised" && raceEnabled) {
			out = append(out, fmt.Sprintf("%s %s ×%d failed: %s.", langName(row.Lang), row.Mode, row.Workers, strings.TrimRight(row.Error, " .")))
		}
	}
	return out
}

func (r *Report) cpuFindings(e Experiment) []string {
	var out []string
	cores := r.Machine.Cores
	goSeq, okGS := e.row(LangGo, ModeSeq, 1)
	pySeq, okPS := e.row(LangPython, ModeSeq, 1)
	switch {
	case okGS && okPS:
		s := fmt.Sprintf("Go does this %s faster than Python before any parallelism: %s against %s, both sequential.",
			times(pySeq.MedianS/goSeq.MedianS), dur(goSeq.MedianS), dur(pySeq.MedianS))
		if g, ok := e.fastest(LangGo); ok {
			if p, ok := e.fastest(LangPython); ok {
				s += fmt.Sprintf(" Best against best, %s (Go %s, %s; Python %s, %s).",
					times(p.MedianS/g.MedianS), modeLabel(g), dur(g.MedianS), modeLabel(p), dur(p.MedianS))
			}
		}
		out = append(out, s)
	case okGS:
		out = append(out, fmt.Sprintf("Sequential Go takes %s. Python was not run (python3 not found, or --no-python).", dur(goSeq.MedianS)))
	}
	thr, okT := e.near(LangPython, "threads", cores)
	proc, okP := e.near(LangPython, "processes", cores)
	if okT && okP {
		s := fmt.Sprintf("Python threads: %s with %d threads — ", times(thr.Speedup), thr.Workers)
		switch {
		case r.Machine.PythonFreeThreaded:
			s += "this Python is a free-threaded build with the GIL off, so its threads can run Python code at once."
		case thr.Speedup < 1.3:
			s += "the GIL lets one thread run Python code at a time, so CPU-bound threads take turns."
		default:
			s += "more than the GIL allows, so other programs must have slowed the sequential runs; the GIL lets one thread run Python code at a time."
		}
		s += fmt.Sprintf(" Python processes: %s with %d, each with its own interpreter and its own GIL.", times(proc.Speedup), proc.Workers)
		out = append(out, s)
	}
	if g, ok := e.near(LangGo, ModeGoroutines, cores); ok {
		s := fmt.Sprintf("Go goroutines: %s with %d workers on %d cores, in one process sharing its memory.", times(g.Speedup), g.Workers, cores)
		ceiling := math.Min(float64(g.Workers), float64(cores))
		if more, ok := e.row(LangGo, ModeGoroutines, 2*cores); ok && 2*cores != g.Workers {
			s += fmt.Sprintf(" %d workers: %s — ", more.Workers, times(more.Speedup))
			if more.Speedup > 1.05*g.Speedup {
				// More than noise would explain, but no more than the
				// cores: say what bounds it rather than claim it is equal.
				s += fmt.Sprintf("more workers than cores cannot take CPU-bound work past %d×; the gain over %d workers is the runs' scatter.", cores, g.Workers)
			} else {
				s += "more workers than cores add nothing to CPU-bound work."
			}
		}
		switch {
		case okGS && goSeq.MedianS < shortWork && cores > 1:
			s += fmt.Sprintf(" The sequential run takes only %s: too short for the speed-up to show fully.", dur(goSeq.MedianS))
		case g.Speedup > 1.1*ceiling:
			s += fmt.Sprintf(" That is more than %s can give: other programs slowed the sequential runs more than these.", plural(int(ceiling), "core"))
		case r.busy() && g.Speedup < 0.8*ceiling:
			s += " The machine was busy, and other programs took cores from this run."
		}
		out = append(out, s)
	}
	if p, ok := e.near(LangGo, "processes", cores); ok && okGS {
		s := fmt.Sprintf("Go worker processes: %s in all", times(p.Speedup))
		if p.WorkSpeedup > 0 {
			s += fmt.Sprintf(", %s for the work alone: starting and stopping %d worker processes took %s, next to %s of work",
				times(p.WorkSpeedup), p.Workers, dur(p.PoolS), dur(goSeq.MedianS))
			if ceiling := math.Min(float64(p.Workers), float64(cores)); p.WorkSpeedup > 1.1*ceiling {
				s += fmt.Sprintf(" (the work alone went faster than %s allow: other programs slowed the sequential runs more than these)", plural(int(ceiling), "core"))
			}
		}
		out = append(out, s+". In Go, processes are for isolation (experiment 7), not for speed.")
	}
	return out
}

func (r *Report) ioFindings(e Experiment) []string {
	var out []string
	seq, ok := e.row(LangGo, ModeSeq, 1)
	if !ok || e.Tasks == 0 {
		return nil
	}
	latency := 0.0
	if one, ok := idealAt(e, 1); ok {
		latency = one / float64(e.Tasks)
	}
	out = append(out, fmt.Sprintf("One after another, the %d pages take %s: %s each, of which the server's wait is %s.",
		e.Tasks, dur(seq.MedianS), dur(seq.MedianS/float64(e.Tasks)), dur(latency)))
	most := 0
	for _, row := range e.Rows {
		most = max(most, row.Workers)
	}
	if g, ok := e.row(LangGo, ModeGoroutines, most); ok && g.IdealS > 0 {
		out = append(out, fmt.Sprintf("%d goroutines: %s, %s the ideal %d × %s ÷ %d = %s: the waits overlap, so many more workers than cores help.",
			most, dur(g.MedianS), overIdeal(g), e.Tasks, dur(latency), most, dur(g.IdealS)))
	}
	if t, ok := e.row(LangPython, "threads", most); ok && t.IdealS > 0 {
		s := fmt.Sprintf("Python threads: %s with %d, %s the ideal", dur(t.MedianS), most, overIdeal(t))
		if g, ok := e.row(LangGo, ModeGoroutines, most); ok && t.MedianS <= 1.25*g.MedianS {
			s += fmt.Sprintf(", nearly as fast as goroutines (%s)", dur(g.MedianS))
		} else if pySeq, ok := e.row(LangPython, ModeSeq, 1); ok {
			s += fmt.Sprintf(", %s faster than Python's own sequential run", times(pySeq.MedianS/t.MedianS))
		}
		out = append(out, s+": a thread waiting on the network lets go of the GIL, so threads suit IO even in Python.")
	}
	if p, ok := e.row(LangGo, "processes", most); ok {
		out = append(out, fmt.Sprintf("%d worker processes: %s, of which %s to start and stop them — each worker is this program started again.",
			most, dur(p.MedianS), dur(p.PoolS)))
	}
	return out
}

// idealAt returns the ideal time on n workers, if the experiment has one.
func idealAt(e Experiment, n int) (float64, bool) {
	for _, r := range e.Rows {
		if r.IdealS > 0 {
			rounds := float64((e.Tasks + r.Workers - 1) / r.Workers)
			return r.IdealS / rounds * float64((e.Tasks+n-1)/n), true
		}
	}
	return 0, false
}

func overIdeal(r Row) string {
	over := 100 * (r.MedianS/r.IdealS - 1)
	if over < 0 {
		return fmt.Sprintf("%.0f%% under", -over)
	}
	return fmt.Sprintf("%.0f%% over", over)
}

func (r *Report) overheadFindings(e Experiment) []string {
	var out []string
	cores := r.Machine.Cores
	seq, okS := e.row(LangGo, ModeSeq, 1)
	g, okG := e.near(LangGo, ModeGoroutines, cores)
	if !okS || !okG {
		return nil
	}
	s := fmt.Sprintf("A plain Go loop makes the %s calls in %s (%s each). Through crew, a tiny task costs %s on goroutines",
		thousands(e.Tasks), dur(seq.MedianS), micros(perTask(seq, e.Tasks)*1e6), micros(perTask(g, e.Tasks)*1e6))
	if p, ok := e.near(LangGo, "processes", cores); ok {
		s += fmt.Sprintf(" and %s on worker processes, where arguments and results cross a pipe as JSON, in chunks (starting and stopping the %d workers: %s more)",
			micros(perTask(p, e.Tasks)*1e6), p.Workers, dur(p.PoolS))
	}
	out = append(out, s+".")
	pp, okP := e.near(LangPython, "processes", cores)
	pt, okT := e.near(LangPython, "threads", cores)
	if okP && okT {
		out = append(out, fmt.Sprintf("Python: %s a task with Pool.map, which sends chunks too, and %s with a thread pool, which makes a future per item.",
			micros(perTask(pp, e.Tasks)*1e6), micros(perTask(pt, e.Tasks)*1e6)))
	}
	out = append(out, "A task should take much longer than this cost, or be batched with others, for a pool to pay off.")
	return out
}

func counterFindings(e Experiment) []string {
	var out []string
	total := e.Total
	for _, row := range e.Rows {
		if row.Lang != LangGo || row.Mode != "unsynchronised" {
			continue
		}
		switch lost := total - row.Counted; {
		case row.Error != "":
			out = append(out, "The unsynchronised count is not run under the race detector, which stops the program at the race — the lesson itself.")
		case lost > 0:
			out = append(out, fmt.Sprintf("Unsynchronised, %d goroutines lost %s of %s increments (%.0f%%): a goroutine reads the count, another runs before it writes the count back plus one (the bench lets the scheduler switch there every %sth increment, as the tutorial's sleeps do), and what the other added is overwritten. go run -race reports this race, with both stacks.",
				row.Workers, thousands(lost), thousands(total), 100*float64(lost)/float64(total), thousands(yieldEvery)))
		default:
			out = append(out, "Unsynchronised, the count came out right this time, by luck: the race is there all the same, and go run -race reports it.")
		}
	}
	a, okA := e.row(LangGo, "atomic", counterGoroutines)
	c, okC := e.row(LangGo, "channel", counterGoroutines)
	if okA && okC {
		out = append(out, fmt.Sprintf("sync/atomic counts %s of %s, at %s an increment; a channel to one goroutine that owns the counter (the tutorial's queue and counter thread) counts %s, at %s.",
			thousands(a.Counted), thousands(total), nanos(a.MedianS/float64(total)), thousands(c.Counted), nanos(c.MedianS/float64(total))))
	}
	u, okU := e.row(LangPython, "unsynchronised", counterGoroutines)
	l, okL := e.row(LangPython, "lock", counterGoroutines)
	if okU && okL {
		s := fmt.Sprintf("Python, unsynchronised: %s of %s", thousands(u.Counted), thousands(total))
		if u.Counted == total {
			s += " — right by luck: the race is there all the same"
		} else {
			s += fmt.Sprintf(" (%s lost): the GIL does not make a read followed by a write safe", thousands(total-u.Counted))
		}
		out = append(out, s+fmt.Sprintf("; with a Lock: %s.", thousands(l.Counted)))
	}
	return out
}

func nanos(s float64) string { return fmt.Sprintf("%.1f ns", s*1e9) }

func isolationFindings(e Experiment) []string {
	var out []string
	for _, run := range e.Isolation {
		out = append(out, describeRun(run))
	}
	return out
}

// describeRun says what happened to one batch, from what was measured.
func describeRun(r IsolationRun) string {
	who := fmt.Sprintf("On %s %s", langName(r.Lang), r.Mode)
	if r.Lang == LangPython {
		who = "On Python's ProcessPoolExecutor"
	}
	if r.Error != "" {
		return fmt.Sprintf("%s, the batch with a %s could not be run: %s.", who, r.Batch, r.Error)
	}
	results := fmt.Sprintf("%d of %d tasks returned a value", r.Completed, r.Tasks)
	if r.Failed > 0 {
		results += fmt.Sprintf(", %d an error", r.Failed)
	}
	if lost := r.Lost(); lost > 0 {
		results += fmt.Sprintf(", %d never answered", lost)
	}
	switch r.Outcome {
	case "died":
		return fmt.Sprintf("%s, the crash took the whole program down after %s (%s): %s.", who, dur(r.ElapsedS), r.Status, results)
	case "hung":
		s := fmt.Sprintf("%s, the batch with a hang was still waiting after %s, when the bench killed it: %s.", who, dur(r.ElapsedS), results)
		if r.Lang == LangGo && r.Hang != nil && r.Hang.Result == "no result" {
			s += " The Timeout cancelled the hung task's context, but a goroutine cannot be stopped from outside: it ignored the context and never returned."
		} else if r.Hang != nil && r.Hang.Result != "no result" {
			s += fmt.Sprintf(" as_completed gave up on the hung task at %s (%s), but the pool cannot kill its worker, and leaving the with block waits for it for ever.", dur(r.Hang.AtS), r.Hang.Result)
		}
		return s
	}
	s := fmt.Sprintf("%s, the batch with a %s finished in %s", who, strings.ReplaceAll(r.Batch, "+", " and a "), dur(r.ElapsedS))
	if r.PoolS > 0 {
		s += fmt.Sprintf(" (and %s to start and stop the pool)", dur(r.PoolS))
	}
	s += ": " + results + "."
	for _, f := range []struct {
		what string
		fate *Fate
	}{{"crashing", r.Crash}, {"hung", r.Hang}} {
		if f.fate == nil {
			continue
		}
		if f.fate.AtS > 0 {
			s += fmt.Sprintf(" The %s task (%d) failed with %s after %s.", f.what, f.fate.Task, f.fate.Result, dur(f.fate.AtS))
		} else {
			s += fmt.Sprintf(" The %s task (%d): %s.", f.what, f.fate.Task, f.fate.Result)
		}
	}
	if r.Lang == LangGo && r.isolationOK() {
		s += " Its dead worker was replaced and the overdue one killed; the rest of the batch never noticed."
	}
	if r.Abandoned > 0 {
		s += fmt.Sprintf(" But a goroutine cannot be stopped from outside: the hung one ignored its cancelled context and was abandoned, %s still running when the batch ended — holding its memory, files or a core until the program exits.",
			plural(r.Abandoned, "task"))
	}
	if r.Lang == LangPython && r.Failed > 1 {
		s += " One dead worker broke the whole pool: every task still pending failed with it."
	}
	return s
}

// summary is the headline: what the run shows, across experiments.
func (r *Report) summary() []string {
	var out []string
	cores := r.Machine.Cores
	lo, hi := math.Inf(1), 0.0
	var thr, proc, gor []float64
	for _, e := range r.Experiments {
		if e.Kind != kindCPU.String() {
			continue
		}
		g, okG := e.fastest(LangGo)
		p, okP := e.fastest(LangPython)
		if okG && okP {
			ratio := p.MedianS / g.MedianS
			lo, hi = math.Min(lo, ratio), math.Max(hi, ratio)
		}
		if t, ok := e.near(LangPython, "threads", cores); ok {
			thr = append(thr, t.Speedup)
		}
		if p, ok := e.near(LangPython, "processes", cores); ok {
			proc = append(proc, p.Speedup)
		}
		if g, ok := e.near(LangGo, ModeGoroutines, cores); ok {
			gor = append(gor, g.Speedup)
		}
	}
	if hi > 0 {
		out = append(out, fmt.Sprintf("On the CPU-bound experiments Go is %s faster than Python, best mode against best mode.", span(lo, hi)))
	}
	if len(thr) > 0 {
		tlo, thi := slices2(thr)
		if !r.Machine.PythonFreeThreaded {
			s := fmt.Sprintf("Python's threads gain nothing on CPU-bound work (%s sequential speed): the GIL runs one at a time", span(tlo, thi))
			if thi >= 1.3 {
				s = fmt.Sprintf("Python's threads cannot run Python code at once under the GIL (measured: %s sequential speed, above 1× only where other programs slowed the sequential runs)", span(tlo, thi))
			}
			if plo, phi := slices2(proc); len(proc) > 0 && plo >= 1.3 {
				s += fmt.Sprintf("; its processes are what use the cores (%s)", span(plo, phi))
			} else if len(proc) > 0 {
				s += fmt.Sprintf("; its processes, which can use the cores, reached %s in this run", span(plo, phi))
			}
			out = append(out, s+".")
		} else {
			out = append(out, fmt.Sprintf("This Python is free-threaded, without the GIL: its threads reached %s sequential speed on CPU-bound work.", span(tlo, thi)))
		}
	}
	if len(gor) > 0 {
		glo, ghi := slices2(gor)
		switch {
		case cores >= 2 && glo >= 0.75*float64(cores):
			out = append(out, fmt.Sprintf("Go's goroutines use every core in one process: %s sequential speed on %d cores.", span(glo, ghi), cores))
		case cores < 2:
			out = append(out, "With one core, nothing runs in parallel: goroutines, threads and processes only take turns.")
		default:
			why := "the work or the machine kept them from it"
			switch {
			case r.Quick && r.busy():
				why = "the --quick work is too short to show it, and the machine was busy"
			case r.Quick:
				why = "the --quick work is too short to show it"
			case r.busy():
				why = "the machine was busy, and the figures scatter"
			}
			out = append(out, fmt.Sprintf("Go's goroutines measured %s sequential speed on %d cores in this run, where %d× is what %d cores allow: %s.", span(glo, ghi), cores, cores, cores, why))
		}
	}
	if e, ok := r.experiment("download"); ok {
		most := 0
		for _, row := range e.Rows {
			most = max(most, row.Workers)
		}
		if g, ok := e.row(LangGo, ModeGoroutines, most); ok && g.IdealS > 0 {
			s := fmt.Sprintf("Waiting is another matter: %d goroutines download the pages %s faster than one after another", most, times(g.Speedup))
			if t, ok := e.row(LangPython, "threads", most); ok {
				s += fmt.Sprintf(", and %d Python threads %s faster: threads suit IO even under the GIL", most, times(t.Speedup))
			}
			out = append(out, s+".")
		}
	}
	if e, ok := r.experiment("isolation"); ok {
		for _, run := range e.Isolation {
			if run.Lang == LangGo && run.Mode == "processes" && run.isolationOK() {
				out = append(out, "Processes are for isolation, not speed: a task that crashed or hung cost one worker process, killed and replaced; on goroutines the crash ended the program, and the hung task ran on where nothing could stop it.")
			}
		}
	}
	return out
}

func slices2(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// span writes a range of ratios: 2.0×, or 1.8–2.1×.
func span(lo, hi float64) string {
	if times(lo) == times(hi) {
		return times(lo)
	}
	return strings.TrimSuffix(times(lo), "×") + "–" + times(hi)
}

// times writes a ratio: 0.94×, 1.93×, 62×.
func times(x float64) string {
	switch {
	case x >= 20:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	case x < 0.01:
		return fmt.Sprintf("%.3f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}
