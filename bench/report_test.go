package bench

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

// cpuReport is a report of one CPU-bound experiment with the given Go and
// Python medians (seq, goroutines ×2, Python seq, Python processes ×2).
func cpuReport(goSeq, goPar, pySeq, pyPar float64) *Report {
	rows := []Row{
		{Lang: LangGo, Mode: ModeSeq, Workers: 1, Timing: Timing{MedianS: goSeq, MinS: goSeq, MaxS: goSeq, Reps: 3, Cores: 1}},
		{Lang: LangGo, Mode: ModeGoroutines, Workers: 2, Timing: Timing{MedianS: goPar, MinS: goPar, MaxS: goPar, Reps: 3, Cores: 2}},
		{Lang: LangPython, Mode: ModeSeq, Workers: 1, Timing: Timing{MedianS: pySeq, MinS: pySeq, MaxS: pySeq, Reps: 3, Cores: 1}},
		{Lang: LangPython, Mode: "processes", Workers: 2, Timing: Timing{MedianS: pyPar, MinS: pyPar, MaxS: pyPar, Reps: 3, Cores: 2}},
	}
	setSpeedups(rows)
	return &Report{Machine: Machine{Cores: 2, LoadAtStart: 0.5},
		Experiments: []Experiment{{Number: 1, Name: "sum-primes", Kind: "cpu", Rows: rows, OtherCores: 0.1}}}
}

func goalNamed(t *testing.T, goals []Goal, part string) Goal {
	t.Helper()
	for _, g := range goals {
		if strings.Contains(g.Name, part) {
			return g
		}
	}
	t.Fatalf("no goal %q among %+v", part, goals)
	return Goal{}
}

func TestSpeedupsAndGoals(t *testing.T) {
	rep := cpuReport(1, 0.5, 40, 20)
	if rows := rep.Experiments[0].Rows; rows[1].Speedup != 2 || rows[3].Speedup != 2 {
		t.Fatalf("speed-ups %v %v, want 2 and 2", rows[1].Speedup, rows[3].Speedup)
	}
	goals := rep.checkGoals()
	if g := goalNamed(t, goals, "Go faster than Python"); g.Verdict != Met || !g.Pass || g.Measured != 40 {
		t.Errorf("Go against Python: %+v, want met at 40×", g)
	}
	if g := goalNamed(t, goals, "goroutines use the cores"); g.Verdict != Met || g.Why == "" {
		t.Errorf("goroutines: %+v, want met, saying why it matters", g)
	}

	// Missed on a quiet machine: not met, no excuse.
	rep = cpuReport(1, 0.8, 40, 20)
	if g := goalNamed(t, rep.checkGoals(), "goroutines use the cores"); g.Verdict != NotMet || g.Pass || strings.Contains(g.Why, "busy") {
		t.Errorf("1.25× on a quiet machine: %+v, want not met", g)
	}
	// Missed on a busy machine: not met, and said why.
	rep.Machine.LoadAtStart = 5
	if g := goalNamed(t, rep.checkGoals(), "goroutines use the cores"); g.Verdict != NotMet || !strings.Contains(g.Why, "busy") {
		t.Errorf("1.25× on a busy machine: %+v, want not met, blaming the load", g)
	}
	// Work too short: not checked.
	rep = cpuReport(0.005, 0.004, 40, 20)
	if g := goalNamed(t, rep.checkGoals(), "goroutines use the cores"); g.Verdict != NotChecked || !strings.Contains(g.Why, "too short") {
		t.Errorf("5 ms of work: %+v, want not checked: too short", g)
	}
	// A --quick run checks nothing but isolation.
	rep = cpuReport(1, 0.5, 40, 20)
	rep.Quick = true
	for _, g := range rep.checkGoals() {
		if g.Verdict != NotChecked || !strings.Contains(g.Why, "--quick") {
			t.Errorf("--quick: %+v, want not checked", g)
		}
	}
	// More than the cores allow: the sequential runs were slowed.
	rep = cpuReport(1, 0.4, 40, 20)
	if g := goalNamed(t, rep.checkGoals(), "goroutines use the cores"); g.Verdict != NotChecked || !strings.Contains(g.Why, "more than 2 cores") {
		t.Errorf("2.5× on 2 cores: %+v, want not checked", g)
	}
	// One core: nothing to check.
	rep = cpuReport(1, 1, 40, 40)
	rep.Machine.Cores = 1
	if g := goalNamed(t, rep.checkGoals(), "goroutines use the cores"); g.Verdict != NotChecked {
		t.Errorf("one core: %+v, want not checked", g)
	}
}

func TestIsolationGoal(t *testing.T) {
	good := IsolationRun{Lang: LangGo, Mode: "processes", Batch: "crash+hang", Tasks: 12, Outcome: "finished", Completed: 10, Failed: 2,
		Crash: &Fate{Task: 5, Result: "crew.ErrWorkerDied", AtS: 0.05}, Hang: &Fate{Task: 8, Result: "crew.ErrTimeout", AtS: 0.4}}
	for _, tc := range []struct {
		name string
		run  func(IsolationRun) IsolationRun
		want string
	}{
		{"isolated", func(r IsolationRun) IsolationRun { return r }, Met},
		{"a task lost", func(r IsolationRun) IsolationRun { r.Completed--; return r }, NotMet},
		{"crash reported as a timeout", func(r IsolationRun) IsolationRun {
			r.Crash = &Fate{Task: 5, Result: "crew.ErrTimeout"}
			return r
		}, NotMet},
		{"hang never answered", func(r IsolationRun) IsolationRun { r.Hang = &Fate{Task: 8, Result: "no result"}; return r }, NotMet},
	} {
		rep := &Report{Machine: Machine{Cores: 2}, Experiments: []Experiment{{Number: 7, Name: "isolation", Kind: "isolation",
			Isolation: []IsolationRun{tc.run(good)}}}}
		if g := goalNamed(t, rep.checkGoals(), "isolate"); g.Verdict != tc.want {
			t.Errorf("%s: %+v, want %s", tc.name, g, tc.want)
		}
	}
}

func TestBusyMachineWarned(t *testing.T) {
	quiet := cpuReport(1, 0.5, 40, 20)
	if w := quiet.warnings(); len(w) != 0 {
		t.Errorf("quiet machine warned: %q", w)
	}
	for _, tc := range []struct {
		name, want string
		busy       func(*Report)
	}{
		{"load above the cores", "load average was 3.50", func(r *Report) { r.Machine.LoadAtStart = 3.5 }},
		{"sequential short of a core", "less than 90% of a core (experiment 1, Go: 70%)", func(r *Report) { r.Experiments[0].Rows[0].Cores = 0.7 }},
		{"other programs", "other programs kept 0.8 of the 2 cores busy", func(r *Report) { r.Experiments[0].OtherCores = 0.8 }},
	} {
		r := cpuReport(1, 0.5, 40, 20)
		tc.busy(r)
		w := strings.Join(r.warnings(), "\n")
		if !strings.Contains(w, "The machine was busy") || !strings.Contains(w, tc.want) {
			t.Errorf("%s: warnings %q, want %q", tc.name, w, tc.want)
		}
		r.finish()
		var table bytes.Buffer
		r.WriteTable(&table)
		if !strings.Contains(table.String(), "! The machine was busy") {
			t.Errorf("%s: the terminal table does not warn:\n%s", tc.name, table.String())
		}
	}
}

func TestFindingsSayWhatTheNumbersShow(t *testing.T) {
	rep := cpuReport(0.125, 0.061, 7.57, 3.92)
	rep.Experiments[0].Rows = append(rep.Experiments[0].Rows,
		Row{Lang: LangPython, Mode: "threads", Workers: 2, Timing: Timing{MedianS: 8.02, MinS: 8, MaxS: 8.1, Reps: 3}})
	setSpeedups(rep.Experiments[0].Rows)
	rep.finish()
	text := strings.Join(rep.Experiments[0].Findings, " ")
	for _, want := range []string{"61× faster than Python", "0.94× with 2 threads", "the GIL", "1.93× with 2", "2.05× with 2 workers on 2 cores"} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	if sum := strings.Join(rep.Summary, " "); !strings.Contains(sum, "use every core") || !strings.Contains(sum, "gain nothing") {
		t.Errorf("summary: %s", sum)
	}
	// Goroutines that did not use the cores are not said to.
	slow := cpuReport(1, 0.9, 40, 20)
	slow.finish()
	if sum := strings.Join(slow.Summary, " "); strings.Contains(sum, "use every core") || !strings.Contains(sum, "measured 1.11×") {
		t.Errorf("1.11× summarised as: %s", sum)
	}
}

// TestFindingsOnScatteredRuns: figures a busy machine scatters are not
// read as a lesson they contradict — 4 workers faster than 2 on 2 cores is
// not "adds nothing", and processes' work faster than the cores allow is
// put down to the slowed sequential run.
func TestFindingsOnScatteredRuns(t *testing.T) {
	rep := cpuReport(0.055, 0.036, 3.95, 3.84)
	rows := &rep.Experiments[0].Rows
	*rows = append(*rows,
		Row{Lang: LangGo, Mode: ModeGoroutines, Workers: 4, Timing: Timing{MedianS: 0.0328, MinS: 0.02, MaxS: 0.05, Reps: 9}},
		Row{Lang: LangGo, Mode: "processes", Workers: 2, Timing: Timing{MedianS: 0.141, MinS: 0.1, MaxS: 0.3, Reps: 8, PoolS: 0.121, WorkS: 0.02}})
	setSpeedups(*rows)
	rep.finish()
	text := strings.Join(rep.Experiments[0].Findings, " ")
	for _, want := range []string{"4 workers: 1.68× — more workers than cores cannot take CPU-bound work past 2×", "the work alone went faster than 2 cores allow"} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "add nothing") {
		t.Errorf("4 workers at 1.68× against 1.53× with 2 said to add nothing:\n%s", text)
	}
	// Where the figures agree with the lesson, it is stated plainly.
	rep = cpuReport(0.1, 0.051, 4, 3.9)
	rows = &rep.Experiments[0].Rows
	*rows = append(*rows, Row{Lang: LangGo, Mode: ModeGoroutines, Workers: 4, Timing: Timing{MedianS: 0.052, MinS: 0.05, MaxS: 0.06, Reps: 9}})
	setSpeedups(*rows)
	rep.finish()
	if text := strings.Join(rep.Experiments[0].Findings, " "); !strings.Contains(text, "4 workers: 1.92× — more workers than cores add nothing") || strings.Contains(text, "went faster than") {
		t.Errorf("findings of a quiet run:\n%s", text)
	}
}

func TestEvenTicks(t *testing.T) {
	var a plot.Axis
	evenAxis(&a, 0, 2.16, 5, nil)
	var labels []string
	for _, tk := range a.Tick.Marker.Ticks(a.Min, a.Max) {
		labels = append(labels, tk.Label)
	}
	if want := []string{"0.0", "0.5", "1.0", "1.5", "2.0", "2.5"}; !slices.Equal(labels, want) || a.Max != 2.5 {
		t.Errorf("ticks %q up to %v, want %q up to 2.5", labels, a.Max, want)
	}
	evenAxis(&a, -0.3, 7, 4, nil)
	for _, tk := range a.Tick.Marker.Ticks(a.Min, a.Max) {
		if strings.HasPrefix(tk.Label, "-0") && tk.Value == 0 {
			t.Errorf("a tick reads %q", tk.Label)
		}
	}
	for span, want := range map[float64]float64{1: 0.2, 7: 2, 800000: 200000, 0.03: 0.01} {
		if got := niceStep(span, 5); math.Abs(got-want) > want*1e-9 {
			t.Errorf("niceStep(%v) = %v, want %v", span, got, want)
		}
	}
	for v, want := range map[float64]float64{0.013: 0.01, 0.7: 0.5, 3: 2, 1: 1} {
		if got := roundLog(v, false); math.Abs(got-want) > 1e-12 {
			t.Errorf("roundLog(%v, down) = %v, want %v", v, got, want)
		}
	}
	for v, want := range map[float64]float64{0.013: 0.02, 0.7: 1, 3: 5, 1: 1} {
		if got := roundLog(v, true); math.Abs(got-want) > 1e-12 {
			t.Errorf("roundLog(%v, up) = %v, want %v", v, got, want)
		}
	}
}

func TestTableFitsAndFormats(t *testing.T) {
	rep := cpuReport(124.9e-3, 60.7e-3, 7.57, 3.92)
	rep.Experiments[0].Rows[1].MinS, rep.Experiments[0].Rows[1].MaxS = 58.2e-3, 1.3
	rep.Experiments[0].Rows = append(rep.Experiments[0].Rows, Row{Lang: LangGo, Mode: "processes", Workers: 16, Error: strings.Repeat("a very long error ", 20)})
	rep.Machine.CPU = strings.Repeat("Very Long CPU Name ", 8)
	rep.Started, rep.Finished = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 10, 4, 7, 0, time.UTC)
	rep.finish()
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	checkTerminal(t, b.String())
	for _, want := range []string{"58.2 ms–1.30 s ×3", "took 4m7s", "[1] a very long error"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	for s, want := range map[float64]string{12.34: "12.3 s", 1.234: "1.23 s", 0.1249: "125 ms", 0.0012: "1.2 ms", 0.00045: "450 µs"} {
		if got := dur(s); got != want {
			t.Errorf("dur(%v) = %q, want %q", s, got, want)
		}
	}
	if got := thousands(1234567); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
}

func TestReadReport(t *testing.T) {
	rep := cpuReport(1, 0.5, 40, 20)
	rep.finish()
	var js bytes.Buffer
	rep.WriteJSON(&js)
	again, err := ReadReport(&js)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Experiments[0].Findings, rep.Experiments[0].Findings) || len(again.Goals) != len(rep.Goals) {
		t.Errorf("read back: findings %q goals %+v; wrote %q %+v", again.Experiments[0].Findings, again.Goals, rep.Experiments[0].Findings, rep.Goals)
	}
	for _, bad := range []string{"", "{", "[]", `{"machine":{"cores":0}}`, `{"machine":{"cores":2},"experiments":[{"name":"x","kind":"nope"}]}`} {
		if _, err := ReadReport(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadReport(%q) accepted it", bad)
		}
	}
}

// FuzzReadReport reads arbitrary bench.json files and draws everything
// from them: a report read with --from must never crash crew.
func FuzzReadReport(f *testing.F) {
	rep := cpuReport(1, 0.5, 40, 20)
	var js bytes.Buffer
	rep.WriteJSON(&js)
	f.Add(js.Bytes())
	if b, err := os.ReadFile("testdata/quick.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"machine":{"cores":2},"experiments":[{"name":"d","kind":"io","tasks":3,"rows":[{"lang":"go","mode":"seq","workers":1,"median_s":-1,"reps":1,"ideal_s":0.1}]}]}`))
	f.Add([]byte(`{"machine":{"cores":4},"experiments":[{"name":"i","kind":"isolation","isolation":[{"lang":"go","mode":"processes","tasks":-3,"completed":9}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadReport(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		r.WriteTable(&out)
		r.WriteMarkdown(&out)
		if err := r.WriteHTML(&out); err != nil {
			t.Fatalf("WriteHTML: %v", err)
		}
		for _, c := range r.Charts() {
			for _, format := range []string{SVG, PNG} {
				if err := r.WriteChart(&out, c, format); err != nil {
					t.Fatalf("chart %s: %v", c, err)
				}
			}
		}
	})
}

// TestRecordedRunRenders draws a recorded --quick run with Python and
// every experiment: the terminal table fits and explains its columns, the
// page has every section, and every chart is valid in both formats.
func TestRecordedRunRenders(t *testing.T) {
	rep := readReportFile(t, "testdata/quick.json")
	var table, page bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	checkTerminal(t, table.String())
	for _, want := range []string{"python  threads", "BrokenProcessPool", "the GIL", "! The machine was busy", "Python rows ran once (--quick)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, name := range ExperimentNames() {
		if strings.Count(page.String(), `data-name="`+name+`"`) != 1 {
			t.Errorf("bench.html: no section for %s", name)
		}
	}
	if got := strings.Count(page.String(), "<svg"); got != len(ExperimentNames())+1 {
		t.Errorf("bench.html has %d charts, want one per experiment and the headline", got)
	}
	if charts := rep.Charts(); len(charts) != 6 {
		t.Errorf("charts %v, want six", charts)
	}
	for _, c := range rep.Charts() {
		checkChart(t, rep, c)
	}
}

// TestDocsReportIsDrawnFromItsData: the report of a full run shown in the
// README and docs/from-python.md is what this code draws from that run's
// bench.json — not edited by hand, not left behind by a change to the
// report.
func TestDocsReportIsDrawnFromItsData(t *testing.T) {
	const dir = "../docs/bench"
	rep := readReportFile(t, dir+"/bench.json")
	if rep.Quick || rep.PythonReps < 3 || len(rep.Experiments) != len(ExperimentNames()) {
		t.Errorf("docs/bench/bench.json: quick %v, Python rows ×%d, %d experiments: want a full run with Python and every experiment",
			rep.Quick, rep.PythonReps, len(rep.Experiments))
	}
	files := map[string]func(*bytes.Buffer) error{
		"bench.md":   func(b *bytes.Buffer) error { return rep.WriteMarkdown(b) },
		"bench.html": func(b *bytes.Buffer) error { return rep.WriteHTML(b) },
	}
	for _, c := range rep.Charts() {
		files[ChartFile(c, SVG)] = func(b *bytes.Buffer) error { return rep.WriteChart(b, c, SVG) }
	}
	for name, write := range files {
		var want bytes.Buffer
		if err := write(&want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("docs/bench/%s is not what the report draws from docs/bench/bench.json: run\n\tgo run ./cmd/crew bench --from docs/bench/bench.json --out docs/bench", name)
		}
	}
}

// readReportFile reads a bench.json.
func readReportFile(t *testing.T, path string) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ReadReport(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rep
}
