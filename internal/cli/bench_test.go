package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crewrun/crew/bench"
	"github.com/crewrun/crew/internal/browsertest"
)

func TestBenchCommandWritesFiles(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "", "bench", "--quick", "--no-python", "--only", "overhead,shared-counter", "--out", out)
	if code != 0 {
		t.Fatalf("crew bench: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "5. Overhead") || !strings.Contains(stdout, "800,000") {
		t.Errorf("table lacks the experiments:\n%s", stdout)
	}
	if !strings.Contains(stderr, "overhead: go goroutines × 2") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	for _, name := range []string{"bench.html", "bench.json", "bench.md", "bench.svg", "bench.png",
		"bench-overhead.svg", "bench-overhead.png", "bench-counter.svg", "bench-counter.png"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want -rw-r--r--", name, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "bench-speedup.png")); err == nil {
		t.Error("bench-speedup.png written for a run without the CPU-bound experiments")
	}
}

// TestBenchCommandCounterOnly runs the one experiment without timings to
// compare: the files are still written, the headline chart saying there is
// nothing to draw.
func TestBenchCommandCounterOnly(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI(t, "", "bench", "--quick", "--no-python", "-q", "--only", "shared-counter", "--out", out)
	if code != 0 {
		t.Fatalf("crew bench --only shared-counter: exit %d\n%s", code, stderr)
	}
	for _, name := range []string{"bench.html", "bench.json", "bench.md", "bench.svg", "bench.png", "bench-counter.png"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if j, _ := os.ReadFile(filepath.Join(out, "bench.json")); !strings.Contains(string(j), `"goals": []`) {
		t.Errorf("bench.json of a --quick counter run: want \"goals\": [], got\n%s", j)
	}
}

func TestBenchCommandBadInput(t *testing.T) {
	report := filepath.Join("..", "..", "bench", "testdata", "quick.json")
	notJSON := filepath.Join(t.TempDir(), "bench.json")
	if err := os.WriteFile(notJSON, []byte("{\"machine\": "), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"bench", "--only", "nope"},
		{"bench", "--python", "--no-python"},
		{"bench", "--workers", "x"},
		{"bench", "extra"},
		{"bench", "--workers", "0"},
		{"bench", "--io-workers", "2,-1"},
		{"bench", "--python-workers", "0"},
		{"bench", "--from", filepath.Join(t.TempDir(), "missing.json")},
		{"bench", "--from", notJSON},
		{"bench", "--from", report, "--quick"},
		{"bench", "--from", report, "--only", "download"},
	} {
		code, _, stderr := runCLI(t, "", append(args, "--out", t.TempDir())...)
		if code != exitUsage || stderr == "" {
			t.Errorf("crew %q: exit %d, stderr %q; want exit 2 with a message", args, code, stderr)
		}
	}
	// An --out that cannot be written is refused before any experiment runs.
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "", "bench", "--quick", "--no-python", "--only", "overhead", "--out", filepath.Join(file, "out"))
	if code != exitUsage || !strings.Contains(stderr, "--out") || strings.Contains(stdout, "overhead") {
		t.Errorf("crew bench --out under a file: exit %d, stdout %q, stderr %q; want exit 2 naming --out, before running", code, stdout, stderr)
	}
}

// TestBenchInterruptedWritesWhatFinished: crew bench stopped during an
// experiment (as by ^C) writes the table and files of those that finished,
// says which one it cut short, and exits 130.
func TestBenchInterruptedWritesWhatFinished(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := t.TempDir()
	var stdout bytes.Buffer
	stderr := &cancelOn{text: "shared-counter:", cancel: cancel}
	code := Main(ctx, []string{"bench", "--quick", "--no-python", "--only", "overhead,shared-counter", "--out", out},
		Streams{In: strings.NewReader(""), Out: &stdout, Err: stderr})
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitInterrupted, stderr.buf.String())
	}
	if !strings.Contains(stdout.String(), "5. Overhead") || !strings.Contains(stdout.String(), "interrupted during shared-counter") {
		t.Errorf("stdout lacks overhead's table or the interruption:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.buf.String(), "shared-counter") {
		t.Errorf("stderr does not name the experiment cut short: %q", stderr.buf.String())
	}
	j, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.ReadReport(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if rep.Interrupted != "shared-counter" || len(rep.Experiments) != 1 {
		t.Errorf("bench.json: interrupted %q, %d experiments; want overhead's, interrupted during shared-counter", rep.Interrupted, len(rep.Experiments))
	}
	if _, err := os.Stat(filepath.Join(out, "bench.html")); err != nil {
		t.Error(err)
	}
}

// cancelOn collects what is written and calls cancel once it holds text.
type cancelOn struct {
	buf    bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.text) {
		c.cancel()
	}
	return len(p), nil
}

// TestBenchFrom draws a recorded run again: the same table, every file.
func TestBenchFrom(t *testing.T) {
	report := filepath.Join("..", "..", "bench", "testdata", "quick.json")
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "", "bench", "--from", report, "--out", out)
	if code != 0 {
		t.Fatalf("crew bench --from: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"7. Isolation", "python  processes", "BrokenProcessPool", "Goals"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table drawn from %s lacks %q", report, want)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 15 { // html, json, md and 6 charts in two formats
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("--from wrote %v, want 15 files", names)
	}
}

// TestBenchReportInChromium runs crew bench --quick, opens bench.html in
// headless Chromium, checks that every experiment's section, chart and
// table are there and laid out, and saves a screenshot (go test -artifacts
// keeps it).
func TestBenchReportInChromium(t *testing.T) {
	chromium := findChromium(t)
	out := t.TempDir()
	start := time.Now()
	code, stdout, stderr := runCLI(t, "", "bench", "--quick", "--no-python", "-q", "--out", out)
	if code != 0 {
		t.Fatalf("crew bench --quick: exit %d\n%s", code, stderr)
	}
	t.Logf("crew bench --quick --no-python took %v", time.Since(start).Round(time.Millisecond))

	// The terminal table fits 100 columns (the closing line names --out).
	for i, line := range strings.Split(stdout, "\n") {
		if n := utf8.RuneCountInString(line); n > 100 && !strings.Contains(line, out) {
			t.Errorf("stdout line %d is %d columns wide: %q", i+1, n, line)
		}
	}

	// The charts: PNGs that decode, of a readable size, and SVGs.
	pngs, _ := filepath.Glob(filepath.Join(out, "bench*.png"))
	if len(pngs) != 6 {
		t.Errorf("charts %v, want the headline and five more", pngs)
	}
	for _, p := range pngs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if bb := img.Bounds(); bb.Dx() < 1000 || bb.Dy() < 300 || len(b) < 20_000 {
			t.Errorf("%s: %dx%d px, %d bytes; want at least 1000x300 px with something drawn", filepath.Base(p), bb.Dx(), bb.Dy(), len(b))
		}
		if _, err := os.Stat(strings.TrimSuffix(p, ".png") + ".svg"); err != nil {
			t.Errorf("no SVG beside %s: %v", p, err)
		}
	}

	// A copy of the page with a script that reports what the browser laid
	// out, read back from the DOM Chromium dumps.
	page, err := os.ReadFile(filepath.Join(out, "bench.html"))
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(out, "probe.html")
	if err := os.WriteFile(probe, bytes.Replace(page, []byte("</body>"), []byte(layoutProbe+"</body>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := runChromium(t, chromium, "--window-size=1100,900", "--dump-dom", "file://"+probe)
	m := regexp.MustCompile(`<pre id="layout-check">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe did not run; Chromium's DOM:\n%.2000s", dom)
	}
	var layout struct {
		Headline float64 `json:"headline"`
		Height   int     `json:"height"`
		// Overflows are the goal table's cells whose text runs into the
		// next cell.
		Overflows []string `json:"overflows"`
		Sections  []struct {
			Name     string  `json:"name"`
			H2       string  `json:"h2"`
			Question string  `json:"question"`
			Seed     string  `json:"seed"`
			ChartW   float64 `json:"chartW"`
			ChartH   float64 `json:"chartH"`
			Rows     int     `json:"rows"`
			Findings int     `json:"findings"`
		} `json:"sections"`
	}
	if err := json.Unmarshal([]byte(htmlUnescape(string(m[1]))), &layout); err != nil {
		t.Fatalf("probe output %q: %v", m[1], err)
	}
	if layout.Headline < 600 {
		t.Errorf("the headline chart is %.0f px wide, want it across the page", layout.Headline)
	}
	if len(layout.Overflows) > 0 {
		t.Errorf("goal table cells overflow into their neighbours: %q", layout.Overflows)
	}
	var names []string
	for _, s := range layout.Sections {
		names = append(names, s.Name)
		if s.H2 == "" || !strings.HasSuffix(s.Question, "?") || !strings.Contains(s.Seed, "seed 00") ||
			s.ChartW < 600 || s.ChartH < 150 || s.Rows < 3 || s.Findings < 1 {
			t.Errorf("section %s laid out as %+v: want a title, question, seed, a chart of at least 600×150 px, a table and findings", s.Name, s)
		}
	}
	if want := bench.ExperimentNames(); !slices.Equal(names, want) {
		t.Errorf("sections %v, want %v", names, want)
	}

	// The screenshot, of the whole page.
	shot := filepath.Join(t.ArtifactDir(), "bench-report.png")
	height := min(max(layout.Height, 900), 16000)
	runChromium(t, chromium, "--hide-scrollbars", "--window-size=1100,"+strconv.Itoa(height), "--screenshot="+shot, "file://"+filepath.Join(out, "bench.html"))
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dy() < 2000 {
		t.Errorf("screenshot: %v, want a tall page", err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(b))
}

// layoutProbe reports, into the DOM, what the browser laid out.
const layoutProbe = `<script>
(function () {
  function text(s, sel) { var e = s.querySelector(sel); return e ? e.textContent.trim() : ""; }
  var out = {sections: []};
  document.querySelectorAll("section.experiment").forEach(function (s) {
    var svg = s.querySelector("figure.chart svg"), r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    out.sections.push({name: s.dataset.name, h2: text(s, "h2"), question: text(s, ".question"), seed: text(s, ".seed"),
      chartW: r.width, chartH: r.height, rows: s.querySelectorAll("table.results tbody tr").length,
      findings: s.querySelectorAll("ul.findings li").length});
  });
  var h = document.querySelector("#headline figure.chart svg");
  out.headline = h ? h.getBoundingClientRect().width : 0;
  out.height = document.documentElement.scrollHeight;
  out.overflows = [];
  document.querySelectorAll("table.goals td").forEach(function (td) {
    if (td.scrollWidth > td.clientWidth + 1) out.overflows.push(td.textContent.trim());
  });
  var pre = document.createElement("pre");
  pre.id = "layout-check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
`

// findChromium returns Debian's chromium, or skips the test (see
// browsertest.Chromium).
func findChromium(t *testing.T) string { return browsertest.Chromium(t) }

// runChromium runs headless Chromium with a fresh profile and returns its
// standard output.
func runChromium(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %q: %v\n%s", args, err, lastLines(stderr.String(), 10))
	}
	return b
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&quot;", `"`, "&lt;", "<", "&gt;", ">", "&#39;", "'", "&amp;", "&").Replace(s)
}
