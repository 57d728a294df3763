package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
	"github.com/crewrun/crew/proc"
)

func TestMain(m *testing.M) {
	proc.ServeIfWorker()
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
		for _, row := range e.Rows {
			if row.Error != "" && !(raceEnabled && row.Mode == "unsynchronised") {
				t.Errorf("%s %s/%s×%d failed: %s", e.Name, row.Lang, row.Mode, row.Workers, row.Error)
			}
		}
	}

	// bench.json has the documented shape.
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Machine struct {
			CPU       string `json:"cpu"`
			Cores     int    `json:"cores"`
			GoVersion string `json:"go_version"`
		} `json:"machine"`
		Quick       bool `json:"quick"`
		Experiments []struct {
			Name string           `json:"name"`
			Rows []map[string]any `json:"rows"`
		} `json:"experiments"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("bench.json does not decode: %v", err)
	}
	if doc.Machine.Cores < 1 || !strings.HasPrefix(doc.Machine.GoVersion, "go") || doc.Machine.CPU == "" || !doc.Quick {
		t.Errorf("bench.json machine/quick fields wrong: %+v quick=%v", doc.Machine, doc.Quick)
	}
	for _, e := range doc.Experiments {
		for _, row := range e.Rows {
			for _, key := range []string{"lang", "mode", "workers", "median_s", "min_s", "max_s", "reps", "cpu_util"} {
				if _, ok := row[key]; !ok {
					t.Errorf("%s row %v lacks %q", e.Name, row, key)
				}
			}
		}
	}

	// The plots are valid SVG and PNG.
	var svg, pngBuf, md, table bytes.Buffer
	if err := rep.WritePlot(&svg, SVG); err != nil {
		t.Fatal(err)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(svg.Bytes(), &root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("bench.svg is not SVG: root %v, err %v", root.XMLName, err)
	}
	if err := rep.WritePlot(&pngBuf, PNG); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pngBuf)
	if err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("bench.png does not decode: %v", err)
	}
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "## sum-primes") {
		t.Errorf("bench.md: %v\n%s", err, md.String())
	}
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "goroutines") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
}

func TestPythonEquivalents(t *testing.T) {
	python := FindPython()
	if python == "" {
		t.Skip("python3 is not on PATH: the Python equivalents cannot be checked")
	}
	rep, err := Run(t.Context(), Config{Quick: true, Python: python, Workers: []int{2}, IOWorkers: []int{4}, Only: []string{"is-prime", "download", "shared-counter"}})
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
			if row.Error != "" || row.MedianS <= 0 {
				t.Errorf("python %s %s: %+v", e.Name, row.Mode, row)
			}
		}
	}
	for _, want := range []string{"is-prime/seq", "is-prime/threads", "is-prime/processes", "download/processes", "shared-counter/lock"} {
		if !modes[want] {
			t.Errorf("no python row for %s (have %v)", want, modes)
		}
	}
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

func TestSpeedupsAndGoals(t *testing.T) {
	rows := []Row{
		{Lang: LangGo, Mode: ModeSeq, Workers: 1, Timing: Timing{MedianS: 1}},
		{Lang: LangGo, Mode: ModeGoroutines, Workers: 2, Timing: Timing{MedianS: 0.5}},
		{Lang: LangPython, Mode: ModeSeq, Workers: 1, Timing: Timing{MedianS: 40}},
		{Lang: LangPython, Mode: "processes", Workers: 2, Timing: Timing{MedianS: 20}},
	}
	setSpeedups(rows)
	if rows[1].Speedup != 2 || rows[3].Speedup != 2 {
		t.Fatalf("speed-ups %v %v, want 2 and 2", rows[1].Speedup, rows[3].Speedup)
	}
	goals := checkGoals(&Report{Machine: Machine{Cores: 2}, Experiments: []Experiment{{Name: "sum-primes", Rows: rows}}})
	want := map[string]bool{"sum-primes: Go best vs Python best": true, "sum-primes: goroutines vs seq": true}
	for _, g := range goals {
		if !want[g.Name] || !g.Pass {
			t.Errorf("goal %+v unexpected or failing", g)
		}
		delete(want, g.Name)
	}
	if len(want) > 0 {
		t.Errorf("goals missing: %v", want)
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
