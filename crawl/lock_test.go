package crawl_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew/crawl"
)

// TestSecondCrawlOnLockedDir: while a crawl process works in a directory,
// a second crawl there (another process, then this one) fails at once
// naming the first process, instead of waiting for its lock.
func TestSecondCrawlOnLockedDir(t *testing.T) {
	release := make(chan struct{})
	requested := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		select {
		case requested <- struct{}{}:
		default:
		}
		select { // the first crawl's page is answered when the test says so
		case <-release:
		case <-r.Context().Done():
		}
		htmlPage(w, "held", "")
	}))
	defer srv.Close()
	defer close(release)
	out := t.TempDir()
	state := filepath.Join(out, "state")
	child := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CRAWL_TEST_CHILD="+srv.URL+"/", "CRAWL_TEST_OUT="+out, "CRAWL_TEST_STATE="+state)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	first, firstErr := child()
	defer func() {
		first.Process.Kill()
		first.Wait()
	}()
	select {
	case <-requested:
	case <-time.After(30 * time.Second):
		t.Fatalf("the first crawl never fetched its page: %s", firstErr)
	}

	second, secondErr := child()
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		want := fmt.Sprintf("%s is being crawled by process %d", out, first.Process.Pid)
		if err == nil || !strings.Contains(secondErr.String(), want) {
			t.Errorf("second crawl process: %v, stderr %q; want a failure saying %q", err, secondErr, want)
		}
	case <-time.After(30 * time.Second):
		second.Process.Kill()
		<-done
		t.Fatal("the second crawl process waited for the lock instead of failing")
	}

	start := time.Now()
	_, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: out, State: state})
	var le *crawl.LockedError
	if !errors.As(err, &le) || !errors.Is(err, crawl.ErrLocked) || le.PID != first.Process.Pid || le.Dir != out {
		t.Errorf("Crawl in this process: %v; want a LockedError naming %s and process %d", err, out, first.Process.Pid)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusal took %v", d)
	}
}
