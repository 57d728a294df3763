package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// table is one experiment's results, ready for the terminal, Markdown or
// HTML: cells, and notes that cells refer to as [n].
type table struct {
	head  []string
	right []bool // right-aligned columns
	rows  [][]string
	notes []string // referred to by cells as [n]
	// remark is said of the whole table, under the notes.
	remark string
}

// note adds a note and returns its marker.
func (t *table) note(text string) string {
	t.notes = append(t.notes, text)
	return fmt.Sprintf("[%d]", len(t.notes))
}

// columnHelp explains every column a table may have, in this order.
var columnHelp = []struct{ col, help string }{
	{"median", "wall time, the median of the runs; starting and stopping a pool is included, as the tutorials time their pools"},
	{"spread", "the fastest and the slowest run, and how many runs there were (the error bars of the charts)"},
	{"×seq", "speed-up: the same language's sequential median divided by this median; above 1× is faster"},
	{"pool", "of the median, the time spent starting and stopping the executor's workers"},
	{"work ×seq", "the speed-up of the work alone, the pool's start and stop left out"},
	{"ideal", "pages × latency ÷ workers, rounded up to whole rounds: no pool can wait less"},
	{"vs ideal", "how much longer than the ideal the run took"},
	{"per task", "(median − pool) ÷ tasks: what one tiny task costs"},
	{"cores", "CPU time ÷ wall time: how many cores were busy on average (1.00 = one core all the time)"},
	{"counted", "the shared counter's final value"},
	{"lost", "increments lost (right answer − counted); in experiment 7, tasks that never answered"},
	{"outcome", "finished: every task answered; died: the program ended first; hung: still waiting when the bench killed it"},
	{"values", "tasks that returned a value"},
	{"errors", "tasks that returned an error (crew.ErrWorkerDied, crew.ErrTimeout, BrokenProcessPool, …)"},
	{"left running", "tasks that failed with a timeout but still ran when the batch ended: a goroutine cannot be stopped"},
	{"time", "from the batch's start to its end, its death or the kill"},
}

func (r *Report) table(e Experiment) table {
	var t table
	switch kindOf(e.Kind) {
	case kindCPU:
		t.head = []string{"lang", "mode", "workers", "median", "spread", "×seq", "pool", "work ×seq", "cores"}
	case kindIO:
		t.head = []string{"lang", "mode", "workers", "median", "spread", "×seq", "pool", "ideal", "vs ideal", "cores"}
	case kindOverhead:
		t.head = []string{"lang", "mode", "workers", "median", "spread", "pool", "per task", "cores"}
	case kindCounter:
		t.head = []string{"lang", "mode", "threads", "median", "counted", "lost"}
	case kindIsolation:
		t.head = []string{"lang", "mode", "batch", "outcome", "values", "errors", "lost", "left running", "time", "pool"}
	}
	t.right = make([]bool, len(t.head))
	for i, h := range t.head {
		t.right[i] = i >= 2 && h != "outcome" && h != "batch"
	}
	if kindOf(e.Kind) == kindIsolation {
		for _, run := range e.Isolation {
			row := []string{run.Lang, run.Mode, run.Batch}
			if run.Error != "" {
				row = append(row, "not run "+t.note(run.Error), "", "", "", "", "", "")
			} else {
				pool := ""
				if run.PoolS > 0 {
					pool = dur(run.PoolS)
				}
				row = append(row, run.Outcome, fmt.Sprint(run.Completed), fmt.Sprint(run.Failed), fmt.Sprint(run.Lost()), fmt.Sprint(run.Abandoned), dur(run.ElapsedS), pool)
			}
			t.rows = append(t.rows, row)
		}
		return t
	}
	for _, row := range e.Rows {
		cells := []string{row.Lang, row.Mode, fmt.Sprint(row.Workers)}
		if row.Error != "" || row.Reps == 0 {
			cells = append(cells, "— "+t.note(row.Error))
			for len(cells) < len(t.head) {
				cells = append(cells, "")
			}
			t.rows = append(t.rows, cells)
			continue
		}
		for _, h := range t.head[3:] {
			cells = append(cells, r.cell(e, row, h))
		}
		t.rows = append(t.rows, cells)
	}
	if r.PythonReps == 1 && slices.ContainsFunc(e.Rows, func(row Row) bool { return row.Lang == LangPython }) {
		t.remark = "Python rows ran once (--quick): no spread."
	}
	return t
}

func (r *Report) cell(e Experiment, row Row, col string) string {
	switch col {
	case "median":
		return dur(row.MedianS)
	case "spread":
		if row.Reps == 1 {
			return "1 run"
		}
		return spread(row.MinS, row.MaxS) + fmt.Sprintf(" ×%d", row.Reps)
	case "×seq":
		if row.Speedup > 0 {
			return times(row.Speedup)
		}
	case "pool":
		if row.PoolS > 0 {
			return dur(row.PoolS)
		}
	case "work ×seq":
		if row.WorkSpeedup > 0 {
			return times(row.WorkSpeedup)
		}
	case "ideal":
		if row.IdealS > 0 {
			return dur(row.IdealS)
		}
	case "vs ideal":
		if row.IdealS > 0 {
			return fmt.Sprintf("%+.0f%%", 100*(row.MedianS/row.IdealS-1))
		}
	case "per task":
		return micros(perTask(row, e.Tasks) * 1e6)
	case "cores":
		if row.Cores > 0 {
			return fmt.Sprintf("%.2f", row.Cores)
		}
	case "counted":
		return thousands(row.Counted)
	case "lost":
		return thousands(e.Total - row.Counted)
	}
	return ""
}

// spread writes a range of seconds in one unit: 120.1–130.2 ms.
func spread(lo, hi float64) string {
	a, b := dur(lo), dur(hi)
	ua, ub := a[strings.LastIndexByte(a, ' ')+1:], b[strings.LastIndexByte(b, ' ')+1:]
	if ua == ub {
		return strings.TrimSuffix(a, " "+ua) + "–" + b
	}
	return a + "–" + b
}

// termWidth is the terminal width the table is laid out for.
const termWidth = 100

// WriteTable writes the report for a terminal, no line wider than 100
// columns: the machine and warnings, then per experiment its question,
// table, notes and findings, then what the columns mean and the goals.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "%s\n", wrap(fmt.Sprintf("crew bench: the Python tutorials' experiments on %d cores (%s), %s %s/%s%s.",
		m.Cores, m.CPU, m.GoVersion, m.OS, m.Arch, pythonPart(m)), termWidth, "", ""))
	fmt.Fprintf(&b, "%s\n", wrap(r.runLine(), termWidth, "", ""))
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "\n%s\n", wrap(warn, termWidth, "! ", "  "))
	}
	if len(r.Summary) > 0 {
		fmt.Fprintf(&b, "\n%s\n", wrap(strings.Join(r.Summary, " "), termWidth, "", ""))
	}
	used := map[string]bool{}
	for _, e := range r.Experiments {
		fmt.Fprintf(&b, "\n%s\n", wrap(fmt.Sprintf("%d. %s", e.Number, e.Title), termWidth, "", "   "))
		fmt.Fprintf(&b, "%s\n", wrap(e.Question+" ("+e.Seed+")", termWidth, "   ", "   "))
		t := r.table(e)
		for _, h := range t.head {
			used[h] = true
		}
		b.WriteString("\n")
		writeAligned(&b, t, "   ")
		for i, n := range t.notes {
			fmt.Fprintf(&b, "%s\n", wrap(n, termWidth, fmt.Sprintf("   [%d] ", i+1), "       "))
		}
		if t.remark != "" {
			fmt.Fprintf(&b, "%s\n", wrap(t.remark, termWidth, "   ", "   "))
		}
		for _, f := range e.Findings {
			fmt.Fprintf(&b, "%s\n", wrap(f, termWidth, "   → ", "     "))
		}
	}
	if len(r.Experiments) > 0 {
		b.WriteString("\nColumns:\n")
		for _, c := range columnHelp {
			if used[c.col] {
				fmt.Fprintf(&b, "%s\n", wrap(c.help, termWidth, fmt.Sprintf("  %-12s ", c.col), strings.Repeat(" ", 15)))
			}
		}
	}
	r.writeGoalLines(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func pythonPart(m Machine) string {
	if m.Python == "" {
		return ", without Python"
	}
	return ", " + m.Python
}

func (r *Report) runLine() string {
	kind := "A full run"
	if r.Quick {
		kind = "A --quick run"
	}
	return fmt.Sprintf("%s started %s and took %s.", kind, r.Started.Format("2006-01-02 15:04 MST"),
		r.Finished.Sub(r.Started).Round(time.Second))
}

func (r *Report) writeGoalLines(b *strings.Builder) {
	if len(r.Goals) == 0 {
		return
	}
	b.WriteString("\nGoals (targets the bench checks itself against):\n")
	for _, g := range r.Goals {
		fmt.Fprintf(b, "%s\n", wrap(fmt.Sprintf("%s: %s (target %s).", g.Name, g.Detail, g.Target), termWidth,
			fmt.Sprintf("  %-13s", g.Verdict), strings.Repeat(" ", 15)))
		if g.Why != "" {
			fmt.Fprintf(b, "%s\n", wrap(g.Why, termWidth, strings.Repeat(" ", 15), strings.Repeat(" ", 15)))
		}
	}
}

// writeAligned writes a table's head and rows in aligned columns.
func writeAligned(b *strings.Builder, t table, indent string) {
	width := make([]int, len(t.head))
	for i, h := range t.head {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var l strings.Builder
		l.WriteString(indent)
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				l.WriteString("  ")
			}
			if t.right[i] {
				l.WriteString(pad + c)
			} else {
				l.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(t.head)
	for _, row := range t.rows {
		line(row)
	}
}

// wrap breaks text into lines of at most width runes, the first starting
// with first and the others with rest.
func wrap(text string, width int, first, rest string) string {
	var lines []string
	cur := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) > width {
			lines = append(lines, cur)
			cur, empty = rest, true
		}
		if !empty {
			cur += " "
		}
		cur += word
		empty = false
	}
	return strings.Join(append(lines, cur), "\n")
}

// WriteMarkdown writes the report as Markdown: the machine, warnings, the
// headline, per experiment its question, table and findings, the columns
// and the goals.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# crew bench\n\n%d cores (%s), %s %s/%s%s. %s\n", m.Cores, m.CPU, m.GoVersion, m.OS, m.Arch, pythonPart(m), r.runLine())
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "\n> **Warning.** %s\n", warn)
	}
	if len(r.Summary) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(r.Summary, " "))
	}
	// The charts are the files written beside this one.
	fmt.Fprintf(&b, "\n![Time per mode, Go and Python on one log scale](%s)\n", ChartFile(ChartTime, PNG))
	used := map[string]bool{}
	drawn := map[string]bool{}
	for _, e := range r.Experiments {
		fmt.Fprintf(&b, "\n## %d. %s\n\n*%s* (%s)\n\n", e.Number, e.Title, e.Question, e.Seed)
		if c := chartOf[kindOf(e.Kind)]; !drawn[c] {
			drawn[c] = true
			fmt.Fprintf(&b, "![%s](%s)\n\n", chartAlt(c), ChartFile(c, SVG))
		}
		t := r.table(e)
		fmt.Fprintf(&b, "| %s |\n|", strings.Join(t.head, " | "))
		for i, h := range t.head {
			used[h] = true
			if t.right[i] {
				b.WriteString("---:|")
			} else {
				b.WriteString("---|")
			}
		}
		b.WriteString("\n")
		for _, row := range t.rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
		for i, n := range t.notes {
			fmt.Fprintf(&b, "\n[%d] %s\n", i+1, n)
		}
		if t.remark != "" {
			fmt.Fprintf(&b, "\n%s\n", t.remark)
		}
		for _, f := range e.Findings {
			fmt.Fprintf(&b, "\n- %s", f)
		}
		if len(e.Findings) > 0 {
			b.WriteString("\n")
		}
	}
	if len(r.Experiments) > 0 {
		b.WriteString("\n## Columns\n\n")
		for _, c := range columnHelp {
			if used[c.col] {
				fmt.Fprintf(&b, "- **%s**: %s\n", c.col, c.help)
			}
		}
	}
	if len(r.Goals) > 0 {
		b.WriteString("\n## Goals\n\n| verdict | goal | measured | target | why |\n|---|---|---|---|---|\n")
		for _, g := range r.Goals {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", g.Verdict, g.Name, g.Detail, g.Target, g.Why)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
