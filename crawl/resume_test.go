package crawl_test

import (
	"bytes"
	"context"
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
// recorded and that no more pages were fetched twice than were in flight.
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
	for _, p := range readPages(t, out) {
		seen[p.URL]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct pages recorded, want %d", len(seen), n)
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
	if twice > childWorkers {
		t.Errorf("%d pages fetched twice; at most %d were in flight at the kill", twice, childWorkers)
	}
	t.Logf("killed after %d pages; %d refetched on resume", before, twice)
	urls, err := os.ReadFile(filepath.Join(out, "urls.txt"))
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, l := range strings.Fields(string(urls)) {
		distinct[l] = true
	}
	if len(distinct) != n {
		t.Errorf("urls.txt has %d distinct URLs, want %d", len(distinct), n)
	}
}
