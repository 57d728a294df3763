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
		}
	}
}

func TestBenchCommandBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--only", "nope"},
		{"bench", "--python", "--no-python"},
		{"bench", "--workers", "x"},
		{"bench", "extra"},
	} {
		code, _, stderr := runCLI(t, "", append(args, "--out", t.TempDir())...)
		if code != exitUsage || stderr == "" {
			t.Errorf("crew %q: exit %d, stderr %q; want exit 2 with a message", args, code, stderr)
		}
	}
}
