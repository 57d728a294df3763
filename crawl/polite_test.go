package crawl_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew/crawl"
)

// chainSite serves /0 … /n-1, page i linking to the next three, with the
// given robots.txt; it records when each page request started and the
// most requests it ever served at once.
type chainSite struct {
	srv      *httptest.Server
	mu       sync.Mutex
	starts   []time.Time
	inFlight int
	maxIn    int
}

func newChainSite(t *testing.T, n int, robots string, latency time.Duration) *chainSite {
	s := &chainSite{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, robots)
			return
		}
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil || i >= n {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		s.starts = append(s.starts, time.Now())
		s.inFlight++
		s.maxIn = max(s.maxIn, s.inFlight)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		time.Sleep(latency) // the page's latency, not synchronisation
		w.Header().Set("Content-Type", "text/html")
		for j := i + 1; j < min(i+4, n); j++ {
			fmt.Fprintf(w, `<a href="/%d">%d</a>`, j, j)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func TestPerHostConcurrency(t *testing.T) {
	s := newChainSite(t, 40, "", 20*time.Millisecond)
	st, err := crawl.Crawl(context.Background(), crawl.Config{
		Start: []string{s.srv.URL + "/0"}, Out: t.TempDir(), Depth: -1, Workers: 8, PerHost: 3,
	})
	if err != nil || st.Pages != 40 {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxIn > 3 {
		t.Errorf("%d requests at once to one host, PerHost is 3", s.maxIn)
	}
	if s.maxIn < 2 {
		t.Errorf("never more than %d request at once: PerHost 3 not used", s.maxIn)
	}
}

func TestCrawlDelay(t *testing.T) {
	const delay = 60 * time.Millisecond
	s := newChainSite(t, 6, "User-agent: *\nCrawl-delay: 0.06\n", 0)
	st, err := crawl.Crawl(context.Background(), crawl.Config{
		Start: []string{s.srv.URL + "/0"}, Out: t.TempDir(), Depth: -1, Workers: 4, PerHost: 4,
	})
	if err != nil || st.Pages != 6 {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortFunc(s.starts, time.Time.Compare)
	// The first page goes out before robots.txt is read; from then on
	// requests are Crawl-delay apart.
	for i := 2; i < len(s.starts); i++ {
		if gap := s.starts[i].Sub(s.starts[i-1]); gap < delay-5*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart, Crawl-delay is %v", i-1, i, gap, delay)
		}
	}
}

func TestDelayOption(t *testing.T) {
	const delay = 40 * time.Millisecond
	s := newChainSite(t, 5, "", 0)
	_, err := crawl.Crawl(context.Background(), crawl.Config{
		Start: []string{s.srv.URL + "/0"}, Out: t.TempDir(), Depth: -1, Delay: delay, IgnoreRobots: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortFunc(s.starts, time.Time.Compare)
	for i := 1; i < len(s.starts); i++ {
		if gap := s.starts[i].Sub(s.starts[i-1]); gap < delay-5*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart, Delay is %v", i-1, i, gap, delay)
		}
	}
}
