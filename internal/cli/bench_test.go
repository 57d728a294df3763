package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchCommandWritesFiles(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "", "bench", "--quick", "--no-python", "--only", "overhead,shared-counter", "--out", out)
	if code != 0 {
		t.Fatalf("crew bench: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "overhead") || !strings.Contains(stdout, "800000 of 800000") {
		t.Errorf("table lacks the experiments:\n%s", stdout)
	}
	if !strings.Contains(stderr, "overhead: go goroutines × 2") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	for _, name := range []string{"bench.json", "bench.md", "bench.svg", "bench.png"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want -rw-r--r--", name, fi.Mode().Perm())
		}
	}
}

// TestBenchCommandCounterOnly runs the one experiment without speed-ups:
// the files are still written, the plot saying there is nothing to draw.
func TestBenchCommandCounterOnly(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI(t, "", "bench", "--quick", "--no-python", "-q", "--only", "shared-counter", "--out", out)
	if code != 0 {
		t.Fatalf("crew bench --only shared-counter: exit %d\n%s", code, stderr)
	}
	for _, name := range []string{"bench.json", "bench.md", "bench.svg", "bench.png"} {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if j, _ := os.ReadFile(filepath.Join(out, "bench.json")); !strings.Contains(string(j), `"goals": []`) {
		t.Errorf("bench.json of a --quick run: want \"goals\": [], got\n%s", j)
	}
}

func TestBenchCommandBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--only", "nope"},
		{"bench", "--python", "--no-python"},
		{"bench", "--workers", "x"},
		{"bench", "extra"},
		{"bench", "--workers", "0"},
		{"bench", "--io-workers", "2,-1"},
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
