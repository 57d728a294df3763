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
	"time"

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
// against a real server and crew workers: the output is the local mode's,
// and shell jobs go only to a worker started with --allow-shell — beside
// one without it they wait, saying why, until such a worker connects.
func TestClusterCommands(t *testing.T) {
	url := startServer(t, "s3cret")
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	runArgs := []string{"run", "--cluster", url, "--token", "s3cret", "-j", "4", "-k", "echo", "{}", "{#}", ":::", "a b", "c'd", "$x"}

	startWorker(t, "--server", url, "--token", "s3cret", "-j", "2")
	var waiting lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(t.Context(), []string{"run", "--cluster", url, "--token", "s3cret", "touch", filepath.Join(dir, "{}"), ":::", "ran"},
			Streams{In: strings.NewReader(""), Out: &waiting, Err: &waiting})
	}()
	waitFor(t, "the notice that no worker runs shell jobs", func() bool {
		return strings.Contains(waiting.String(), `no connected worker runs "run.shell"`) && strings.Contains(waiting.String(), "--allow-shell")
	})
	if _, err := os.Stat(marker); err == nil {
		t.Error("a worker without --allow-shell ran the job")
	}
	startWorker(t, "--server", url, "--token", "s3cret", "-j", "2", "--allow-shell")
	if c := <-done; c != 0 {
		t.Errorf("crew run --cluster once a worker with --allow-shell connected: exit %d, stderr %q", c, waiting.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the job never ran: %v", err)
	}

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

// waitFor polls cond until it holds, failing the test after 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
