package crawl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew/crawl"
)

const childWorkers = 6

// crawlChild is the crawl the kill -9 test runs in a subprocess.
func crawlChild(start string) {
	_, err := crawl.Crawl(context.Background(), crawl.Config{
		Start: []string{start}, Out: os.Getenv("CRAWL_TEST_OUT"), State: os.Getenv("CRAWL_TEST_STATE"),
		Depth: -1, Workers: childWorkers, PerHost: childWorkers,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestKill9Resume kills a crawling process with SIGKILL part way, resumes
// the crawl from its state directory, and checks that every page was
// recorded and that no more pages were fetched twice than were not yet
// committed: in flight, or back and waiting for their batch's commit (at
// most Workers + Workers/2 - 1).
func TestKill9Resume(t *testing.T) {
	const n = 400
	var mu sync.Mutex
	hits := map[int]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
		if err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		hits[i]++
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // latency, so the kill lands mid-crawl
		w.Header().Set("Content-Type", "text/html")
		for _, c := range []int{2*i + 1, 2*i + 2, (i * 7) % n} {
			if c < n {
				fmt.Fprintf(w, `<a href="/p/%d">x</a>`, c)
			}
		}
	}))
	defer srv.Close()
	out, state := t.TempDir(), t.TempDir()
	start := srv.URL + "/p/0"

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CRAWL_TEST_CHILD="+start, "CRAWL_TEST_OUT="+out, "CRAWL_TEST_STATE="+state)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pages := filepath.Join(out, "pages.jsonl")
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(pages)
		if bytes.Count(data, []byte("\n")) >= n/4 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child crawl made no progress: %s", stderr.String())
		}
		time.Sleep(time.Millisecond) // polling the child's output file
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	before := len(readPages(t, out))
	if before >= n {
		t.Fatalf("the child finished (%d pages) before it was killed; the test needs a slower site", before)
	}

	st, err := crawl.Crawl(context.Background(), crawl.Config{Out: out, State: state, Depth: -1, Workers: childWorkers, PerHost: childWorkers})
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 0 {
		t.Errorf("resumed crawl left %d queued", st.Queued)
	}
	seen := map[string]int{}
	rows := readPages(t, out)
	for _, p := range rows {
		seen[p.URL]++
	}
	if len(seen) != n || len(rows) != n {
		t.Errorf("%d rows, %d distinct pages recorded, want %d of each: rows written before the kill but not committed must be cut off on resume", len(rows), len(seen), n)
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for i := range n {
		switch hits[i] {
		case 0:
			t.Errorf("/p/%d never fetched", i)
		case 1:
		default:
			twice++
		}
	}
	if uncommitted := childWorkers + childWorkers/2 - 1; twice > uncommitted {
		t.Errorf("%d pages fetched twice; at most %d were not committed at the kill", twice, uncommitted)
	}
	t.Logf("killed after %d pages; %d refetched on resume", before, twice)
	urls, err := os.ReadFile(filepath.Join(out, "urls.txt"))
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	lines := strings.Fields(string(urls))
	for _, l := range lines {
		distinct[l] = true
	}
	if len(distinct) != n || len(lines) != n {
		t.Errorf("urls.txt has %d lines, %d distinct URLs, want %d of each", len(lines), len(distinct), n)
	}
}

// TestInterruptedCountsAreTrue: after an interruption, the queue count is
// what the resumed run visits, and the totals (pages, URLs) of both runs
// match pages.jsonl and urls.txt.
func TestInterruptedCountsAreTrue(t *testing.T) {
	const n = 200
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	served := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/" {
			for i := range n {
				fmt.Fprintf(w, `<a href="/p/%d">p</a>`, i)
			}
			return
		}
		mu.Lock()
		served++
		if served == n/4 {
			cancel()
		}
		mu.Unlock()
	}))
	defer srv.Close()
	out, state := t.TempDir(), t.TempDir()
	cfg := crawl.Config{Start: []string{srv.URL + "/"}, Out: out, State: state, Depth: -1, IgnoreRobots: true}
	st, err := crawl.Crawl(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Crawl: %v, want context.Canceled", err)
	}
	rows := len(readPages(t, out))
	if st.Queued != n+1-rows || st.TotalURLs != n+1 || st.TotalPages != rows || st.Pages != rows {
		t.Fatalf("interrupted: %+v with %d rows; want Queued %d, TotalURLs %d, TotalPages and Pages %d", st, rows, n+1-rows, n+1, rows)
	}
	st2, err := crawl.Crawl(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Pages != st.Queued || st2.TotalPages != n+1 || st2.TotalURLs != n+1 || st2.Discovered != 0 || st2.Queued != 0 {
		t.Errorf("resumed: %+v; want %d pages (the queue count after the interruption), totals %d, nothing new", st2, st.Queued, n+1)
	}
	if rows := len(readPages(t, out)); rows != n+1 {
		t.Errorf("%d rows after the resume, want %d", rows, n+1)
	}
}
