package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
	"github.com/crewrun/crew/proc"
)

func TestMain(m *testing.M) {
	proc.ServeIfWorker()
	ServeIfChild()
	goleak.VerifyTestMain(m)
}

func TestQuickRunEndToEnd(t *testing.T) {
	var steps []string
	rep, err := Run(t.Context(), Config{Quick: true, Progress: func(s string) { steps = append(steps, s) },
		Executors: map[string]NewExecutor{"processes": proc.New}})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Error("no progress reported")
	}
	if got, want := names(rep), ExperimentNames(); !slices.Equal(got, want) {
		t.Fatalf("experiments %v, want %v", got, want)
	}
	for _, e := range rep.Experiments {
		if e.Question == "" || e.Seed == "" || e.Label == "" || len(e.Findings) == 0 {
			t.Errorf("%s: question %q, seed %q, label %q, findings %q: want all", e.Name, e.Question, e.Seed, e.Label, e.Findings)
		}
		for _, row := range e.Rows {
			if row.Error != "" && !(raceEnabled && row.Mode == "unsynchronised") {
				t.Errorf("%s %s/%s×%d failed: %s", e.Name, row.Lang, row.Mode, row.Workers, row.Error)
			}
			if row.Error == "" && (row.Reps < 2 || row.MinS > row.MedianS || row.MedianS > row.MaxS) {
				t.Errorf("%s %s/%s×%d: %d reps, min %v median %v max %v", e.Name, row.Lang, row.Mode, row.Workers, row.Reps, row.MinS, row.MedianS, row.MaxS)
			}
			if row.Mode == "processes" && row.Error == "" && (row.PoolS <= 0 || row.WorkS <= 0 || row.PoolS >= row.MedianS) {
				t.Errorf("%s processes×%d: pool %v and work %v of %v: want both, apart", e.Name, row.Workers, row.PoolS, row.WorkS, row.MedianS)
			}
		}
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "--quick") }) {
		t.Errorf("a --quick run does not say so: %q", rep.Warnings)
	}
	iso, _ := rep.experiment("isolation")
	if len(iso.Isolation) != 3 {
		t.Fatalf("isolation batches: %+v, want goroutines crash, goroutines hang, processes", iso.Isolation)
	}
	checkIsolation(t, iso.Isolation)

	// bench.json has the documented shape.
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Machine struct {
			CPU       string  `json:"cpu"`
			Cores     int     `json:"cores"`
			GoVersion string  `json:"go_version"`
			Load      float64 `json:"load_at_start"`
		} `json:"machine"`
		Quick       bool `json:"quick"`
		Experiments []struct {
			Name     string           `json:"name"`
			Question string           `json:"question"`
			Rows     []map[string]any `json:"rows"`
		} `json:"experiments"`
		Goals []map[string]any `json:"goals"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("bench.json does not decode: %v", err)
	}
	if doc.Machine.Cores < 1 || !strings.HasPrefix(doc.Machine.GoVersion, "go") || doc.Machine.CPU == "" || !doc.Quick {
		t.Errorf("bench.json machine/quick fields wrong: %+v quick=%v", doc.Machine, doc.Quick)
	}
	for _, e := range doc.Experiments {
		for _, row := range e.Rows {
			for _, key := range []string{"lang", "mode", "workers", "median_s", "min_s", "max_s", "reps", "cores_busy", "cpu_util"} {
				if _, ok := row[key]; !ok {
					t.Errorf("%s row %v lacks %q", e.Name, row, key)
				}
			}
		}
	}
	for _, g := range doc.Goals {
		if g["verdict"] == Met && !slices.Contains([]string{"experiment 7: worker processes isolate a crash and a hang"}, g["name"].(string)) {
			t.Errorf("goal %v met on a --quick run: quick runs check isolation only", g)
		}
	}

	// Every output is written; the charts are valid SVG and PNG.
	for _, chart := range rep.Charts() {
		checkChart(t, rep, chart)
	}
	var md, table, page bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "## 1. CPU-bound") {
		t.Errorf("bench.md: %v\n%s", err, md.String())
	}
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "goroutines") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	checkTerminal(t, table.String())
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, name := range ExperimentNames() {
		if !strings.Contains(page.String(), `data-name="`+name+`"`) {
			t.Errorf("bench.html has no section for %s", name)
		}
	}
	for _, ref := range []string{"src=", "<link", "@import", "url(http", `href="http`, "<script"} {
		if strings.Contains(page.String(), ref) {
			t.Errorf("bench.html is not self-contained: it has %q", ref)
		}
	}
}

// checkIsolation checks what experiment 7 reports: the goroutines batches
// died and hung, the processes batch showed isolation.
func checkIsolation(t *testing.T, runs []IsolationRun) {
	t.Helper()
	for _, r := range runs {
		if r.Error != "" {
			t.Errorf("%s %s %s: %s", r.Lang, r.Mode, r.Batch, r.Error)
			continue
		}
		switch {
		case r.Mode == ModeGoroutines && r.Batch == faultCrash:
			if r.Outcome != "died" || !strings.Contains(r.Status, "exit status 3") || r.Lost() == 0 || r.Crash == nil || r.Crash.Result != "no result" {
				t.Errorf("goroutines with a crash: %+v; want died with exit status 3, results lost", r)
			}
		case r.Mode == ModeGoroutines && r.Batch == faultHang:
			// crew.Goroutines abandons a task that overruns Timeout and
			// ignores its context: the batch ends, the goroutine runs on.
			if r.Outcome != "finished" || r.Completed != r.Tasks-1 || r.Hang == nil || r.Hang.Result != "crew.ErrTimeout" || r.Abandoned != 1 {
				t.Errorf("goroutines with a hang: %+v, hang %+v; want every other task done, the hang failed with ErrTimeout and left running", r, r.Hang)
			}
		case r.Lang == LangGo && r.Mode == "processes":
			if !r.isolationOK() || r.PoolS <= 0 || r.Crash.AtS <= 0 || r.Hang.AtS < 0.3 {
				t.Errorf("processes: %+v, crash %+v, hang %+v; want the others done, ErrWorkerDied and ErrTimeout", r, r.Crash, r.Hang)
			}
		case r.Lang == LangPython && r.Batch == faultCrash:
			if r.Outcome != "finished" || r.Crash == nil || r.Crash.Result != "BrokenProcessPool" {
				t.Errorf("python with a crash: %+v crash %+v; want BrokenProcessPool", r, r.Crash)
			}
		case r.Lang == LangPython && r.Batch == faultHang:
			if r.Outcome != "hung" || r.Completed != r.Tasks-1 {
				t.Errorf("python with a hang: %+v; want hung with every other task done", r)
			}
		default:
			t.Errorf("unexpected batch %+v", r)
		}
	}
}

// checkChart draws a chart in both formats and checks them: SVG that
// parses, a PNG that decodes, of a size a reader can read.
func checkChart(t *testing.T, rep *Report, chart string) {
	t.Helper()
	var svg, pngBuf bytes.Buffer
	if err := rep.WriteChart(&svg, chart, SVG); err != nil {
		t.Fatalf("%s: %v", chart, err)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(svg.Bytes(), &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("%s: not SVG: root %v, err %v", ChartFile(chart, SVG), root.XMLName, err)
	}
	if strings.Contains(svg.String(), "NaN") || strings.Contains(svg.String(), "Inf") {
		t.Errorf("%s has NaN or Inf coordinates", ChartFile(chart, SVG))
	}
	if err := rep.WriteChart(&pngBuf, chart, PNG); err != nil {
		t.Fatal(err)
	}
	size := pngBuf.Len()
	img, err := png.Decode(&pngBuf)
	if err != nil {
		t.Fatalf("%s does not decode: %v", ChartFile(chart, PNG), err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 300 || size < 20_000 {
		t.Errorf("%s: %dx%d px, %d bytes: want at least 1000x300 px with something drawn", ChartFile(chart, PNG), b.Dx(), b.Dy(), size)
	}
}

// checkTerminal checks that the table fits 100 columns and explains every
// column it shows.
func checkTerminal(t *testing.T, out string) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > termWidth {
			t.Errorf("line %d is %d columns wide (> %d): %q", i+1, n, termWidth, line)
		}
	}
	_, help, ok := strings.Cut(out, "\nColumns:\n")
	if !ok {
		t.Fatalf("no column explanations:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "lang" {
			continue
		}
		for _, col := range splitHead(line) {
			if col == "lang" || col == "mode" || col == "workers" || col == "threads" || col == "batch" {
				continue
			}
			if !strings.Contains("\n"+help, "\n  "+col+" ") {
				t.Errorf("column %q is not explained under the table", col)
			}
		}
	}
}

// splitHead splits a table's head line at runs of two or more spaces.
func splitHead(line string) []string {
	var out []string
	for _, f := range strings.Split(strings.TrimSpace(line), "  ") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func TestPythonEquivalents(t *testing.T) {
	python := FindPython()
	if python == "" {
		t.Skip("python3 is not on PATH: the Python equivalents cannot be checked")
	}
	rep, err := Run(t.Context(), Config{Quick: true, Python: python, Workers: []int{2}, IOWorkers: []int{4},
		Only: []string{"is-prime", "download", "shared-counter", "isolation"}})
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]bool{}
	for _, e := range rep.Experiments {
		for _, row := range e.Rows {
			if row.Lang != LangPython {
				continue
			}
			modes[e.Name+"/"+row.Mode] = true
			if row.Error != "" || row.MedianS <= 0 || row.Reps != 1 {
				t.Errorf("python %s %s: %+v", e.Name, row.Mode, row)
			}
			if row.Mode == "processes" && row.PoolS <= 0 {
				t.Errorf("python %s processes: no pool time", e.Name)
			}
		}
	}
	for _, want := range []string{"is-prime/seq", "is-prime/threads", "is-prime/processes", "download/processes", "shared-counter/lock"} {
		if !modes[want] {
			t.Errorf("no python row for %s (have %v)", want, modes)
		}
	}
	iso, _ := rep.experiment("isolation")
	var py []IsolationRun
	for _, r := range iso.Isolation {
		if r.Lang == LangPython {
			py = append(py, r)
		}
	}
	if len(py) != 2 {
		t.Fatalf("python isolation batches: %+v, want a crash and a hang", py)
	}
	checkIsolation(t, py)
}

func TestParallelIsPrimeAgreesWithTrialDivision(t *testing.T) {
	ex := crew.Goroutines(crew.Workers(3))
	defer ex.Close()
	nums := []uint64{0, 1, 2, 3, 4, 25, 65521, 65537, 1 << 16, 4295098369 /* 65537² */, 999_999_999_989, 1099726899285419}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		nums = append(nums, r.Uint64N(1<<34))
	}
	got, err := parallelIsPrime(t.Context(), ex, 3, nums)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nums {
		if want := primes.IsPrimeTrial(n); got[i] != want {
			t.Errorf("parallelIsPrime(%d) = %v, trial division says %v", n, got[i], want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Workers: []int{0}}, {Only: []string{"nope"}}, {Pages: -1}} {
		if _, err := Run(t.Context(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted a bad config", cfg)
		}
	}
}

func TestShort(t *testing.T) {
	for n, want := range map[uint64]string{3_000_000: "3e6", 20_000_000: "2e7", 1234: "1234", 100: "100", 1_500_000: "1500000"} {
		if got := short(n); got != want {
			t.Errorf("short(%d) = %q, want %q", n, got, want)
		}
	}
}

func names(r *Report) []string {
	var out []string
	for _, e := range r.Experiments {
		out = append(out, e.Name)
	}
	return out
}

// TestInterruptedRunKeepsWhatFinished: a run stopped during an experiment
// returns ctx's error and the report of the experiments before it, which
// says it was cut short.
func TestInterruptedRunKeepsWhatFinished(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rep, err := Run(ctx, Config{Quick: true, Only: []string{"overhead", "shared-counter"}, Progress: func(step string) {
		if strings.HasPrefix(step, "shared-counter:") {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "shared-counter") {
		t.Fatalf("err %v, want context.Canceled during shared-counter", err)
	}
	if rep == nil || !slices.Equal(names(rep), []string{"overhead"}) || rep.Interrupted != "shared-counter" {
		t.Fatalf("report %+v, want overhead's, interrupted during shared-counter", rep)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool {
		return strings.Contains(w, "interrupted during shared-counter") && strings.Contains(w, "1 experiment that finished")
	}) {
		t.Errorf("warnings %q do not say the run was cut short", rep.Warnings)
	}
	// Stopped before any experiment finished, there is nothing to report.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if rep, err := Run(ctx, Config{Quick: true, Only: []string{"overhead"}}); rep != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v, %v; want no report and context.Canceled", rep, err)
	}
}
