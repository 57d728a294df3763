package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crewrun/crew/cluster"
)

// startServer runs a cluster server with a token on a free loopback port
// until the test ends, and returns its URL.
func startServer(t *testing.T, token string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- cluster.Serve(ctx, cluster.ServerConfig{Listen: "127.0.0.1:0", Token: token, Ready: func(u string) { ready <- u }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case u := <-ready:
		return u
	case err := <-done:
		t.Fatalf("Serve: %v", err)
		return ""
	}
}

// startWorker runs `crew worker ARGS...` in-process until stop is called.
func startWorker(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		var out strings.Builder
		Main(ctx, append([]string{"worker"}, args...), Streams{In: strings.NewReader(""), Out: &out, Err: &out})
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// TestClusterCommands drives crew run --cluster and crew crawl --cluster
// against a real server and a crew worker: the output is the local
// mode's, and shell jobs run only on a worker started with --allow-shell.
func TestClusterCommands(t *testing.T) {
	url := startServer(t, "s3cret")
	marker := filepath.Join(t.TempDir(), "ran")
	runArgs := []string{"run", "--cluster", url, "--token", "s3cret", "-j", "4", "-k", "echo", "{}", "{#}", ":::", "a b", "c'd", "$x"}

	stop := startWorker(t, "--server", url, "--token", "s3cret", "-j", "2")
	code, _, stderr := runCLI(t, "", "run", "--cluster", url, "--token", "s3cret", "touch", marker, ":::", "1")
	if code != 1 || !strings.Contains(stderr, "--allow-shell") {
		t.Errorf("crew run --cluster on a worker without --allow-shell: exit %d, stderr %q; want 1 naming --allow-shell", code, stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a worker without --allow-shell ran the job")
	}
	stop()

	startWorker(t, "--server", url, "--token", "s3cret", "-j", "2", "--allow-shell")
	wantCode, want, _ := runCLI(t, "", append([]string{"run", "-k"}, runArgs[5:]...)...)
	code, out, stderr := runCLI(t, "", runArgs...)
	if code != wantCode || out != want {
		t.Errorf("crew run --cluster: exit %d, output %q (stderr %q); local: exit %d, output %q", code, out, stderr, wantCode, want)
	}

	code, _, stderr = runCLI(t, "", "run", "--cluster", url, "--token", "wrong", "true", ":::", "1")
	if code != 255 || !strings.Contains(stderr, "authorization") {
		t.Errorf("wrong token: exit %d, stderr %q; want 255 and an authorization error", code, stderr)
	}

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<a href="/a">a</a><a href="/b">b</a>`)
		case "/a", "/b":
			fmt.Fprint(w, `<a href="/c">c</a><a href="/">home</a>`)
		case "/c":
			fmt.Fprint(w, `end`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer site.Close()
	crawled := func(args ...string) string {
		dir := filepath.Join(t.TempDir(), "out")
		code, _, stderr := runCLI(t, "", append([]string{"crawl", "-q", "-o", dir}, append(args, site.URL+"/")...)...)
		if code != 0 {
			t.Fatalf("crew crawl %q: exit %d: %s", args, code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(dir, "urls.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	local, remote := crawled(), crawled("--cluster", url, "--token", "s3cret")
	if strings.Count(local, "\n") != 4 || local != remote {
		t.Errorf("crew crawl --cluster found\n%s\nlocally\n%s", remote, local)
	}
}
