// Package examples holds one runnable program per program of the Python
// tutorials crew's users come from (see docs/from-python.md). This test
// builds every example and runs it offline, so that none rots.
package examples

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// outputs lists, for each example, its arguments and what its output must
// contain (in order).
var outputs = map[string]struct {
	args []string
	want []string
}{
	"spawn":          {nil, []string{"spawned #0 with 0", "spawned #4 with 40"}},
	"pool-map":       {nil, []string{"[0 1 4 9 16 25 36 49 64 81 100 121 144 169 196 225 256 289 324 361]"}},
	"as-completed":   {nil, []string{"task 1 done", "task 3 done", "task 2 done", "task 0 done"}},
	"shared-counter": {nil, []string{"atomic: 2000000", "channel: 2000000"}},
	"ping-pong":      {nil, []string{"ping got 0", "pong got 1", "ping got 2", "pong got 5"}},
	"cpu-count":      {nil, []string{"CPUs: ", "GOMAXPROCS: "}},
	"downloads": {nil, []string{"sequential, one client:", "40 pages, 1310 bytes",
		"goroutines, 8 workers, a client each: 40 pages, 1310 bytes", "processes, 8 workers, a client each: 40 pages, 1310 bytes"}},
	"cpu-threads-vs-processes": {nil, []string{"sequential:  sum 142913828922", "goroutines:  sum 142913828922", "same as sequential: true",
		"processes:   sum 142913828922", "same as sequential: true"}},
	"sum-primes":  {nil, []string{"[37550402023 142913828922 312471072265]", "same answers: true"}},
	"is-prime":    {nil, []string{"1116281 is prime: true", "112272535095293 is prime: true", "1099726899285419 is prime: false"}},
	"file-copier": {nil, []string{"first copy: 50 files copied, 0 skipped", "rerun: 0 files copied, 50 skipped"}},
	"spider": {nil, []string{"fetched 7 pages (0 errors, 3 skipped by robots.txt), discovered 7 URLs",
		"urls.txt: / /blog/ /docs /news /private/blog /private/docs /private/news",
		`/: "Home" at depth 0, 3 links`, "/private/news: disallowed by robots.txt"}},
	"url-titles": {nil, []string{`/python: "Welcome to Python.org"`, `/go: "The Go Programming Language"`, "/forbidden: error: HTTP 403", `/latin1: "Café crème"`}},
}

func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("*/main.go")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/...: %v\n%s", err, out)
	}
	for _, d := range dirs {
		name := filepath.Dir(d)
		t.Run(name, func(t *testing.T) {
			spec, ok := outputs[name]
			if !ok {
				t.Fatalf("example %s has no expected output in examples_test.go", name)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, name), spec.args...)
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, out)
			}
			rest := string(out)
			for _, w := range spec.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%s output lacks %q (in order):\n%s", name, w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
