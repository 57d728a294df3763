package crawl_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crewrun/crew/crawl"
)

// TestRerunExtendsDepth: running a finished crawl again with a larger
// depth follows the links it found beyond the old one, fetching nothing
// twice; the same depth again says there is nothing left; a new start URL
// extends it too.
func TestRerunExtendsDepth(t *testing.T) {
	s := newChainSite(t, 30, "", 0) // /i links to /i+1 … /i+3
	out, state := t.TempDir(), t.TempDir()
	cfg := crawl.Config{Start: []string{s.srv.URL + "/0"}, Out: out, State: state, Depth: 1}
	st, err := crawl.Crawl(t.Context(), cfg)
	if err != nil || st.Pages != 4 || st.Held != 3 {
		t.Fatalf("depth 1: %+v, %v; want 4 pages (/0-/3) and 3 links held (/4-/6)", st, err)
	}
	cfg.Depth = 2
	st, err = crawl.Crawl(t.Context(), cfg)
	if err != nil || st.Pages != 3 || st.TotalPages != 7 || st.Held != 3 || st.Done {
		t.Fatalf("rerun at depth 2: %+v, %v; want 3 more pages (/4-/6), 7 in all, 3 held", st, err)
	}
	st, err = crawl.Crawl(t.Context(), cfg)
	if err != nil || !st.Done || st.Pages != 0 || st.TotalPages != 7 || st.TotalURLs != 7 {
		t.Fatalf("rerun at the same depth: %+v, %v; want nothing left (Done), totals 7 pages, 7 URLs", st, err)
	}
	cfg.Start = []string{s.srv.URL + "/20"}
	st, err = crawl.Crawl(t.Context(), cfg)
	if err != nil || st.Pages != 7 || st.TotalPages != 14 {
		for _, p := range readPages(t, out) {
			t.Log(p.URL, p.Depth)
		}
		t.Fatalf("rerun with a new start URL: %+v, %v; want 7 more pages (/20-/26, depth 2)", st, err)
	}
	s.mu.Lock()
	n := len(s.starts)
	s.mu.Unlock()
	if n != 14 {
		t.Errorf("%d page requests for 14 pages: something was fetched twice", n)
	}
	rows := readPages(t, out)
	if len(rows) != 14 {
		t.Errorf("%d rows in pages.jsonl after four runs, want 14", len(rows))
	}
	urls, _ := os.ReadFile(filepath.Join(out, "urls.txt"))
	if n := strings.Count(string(urls), "\n"); n != 14 {
		t.Errorf("urls.txt has %d lines, want 14 (every URL admitted, once)", n)
	}
}

// TestMaxPagesIsTheCrawlsTotal: --max-pages 5 then 20 visits 20 pages in
// all, and a third run at 20 visits none and says why.
func TestMaxPagesIsTheCrawlsTotal(t *testing.T) {
	s := newChainSite(t, 40, "", 0)
	out, state := t.TempDir(), t.TempDir()
	cfg := crawl.Config{Start: []string{s.srv.URL + "/0"}, Out: out, State: state, Depth: -1, MaxPages: 5}
	if st, err := crawl.Crawl(t.Context(), cfg); err != nil || st.Pages != 5 || !st.AtMaxPages || st.Queued == 0 {
		t.Fatalf("first run: %+v, %v", st, err)
	}
	cfg.MaxPages = 20
	if st, err := crawl.Crawl(t.Context(), cfg); err != nil || st.Pages != 15 || st.TotalPages != 20 || !st.AtMaxPages {
		t.Fatalf("second run: %+v, %v; want 15 more pages, 20 in all", st, err)
	}
	if st, err := crawl.Crawl(t.Context(), cfg); err != nil || st.Pages != 0 || !st.AtMaxPages || st.Done {
		t.Fatalf("third run: %+v, %v; want no page, stopped at MaxPages", st, err)
	}
	if n := len(readPages(t, out)); n != 20 {
		t.Errorf("%d rows, want 20", n)
	}
}

// TestRobotsUnreachableRetriedOnNextRun: pages skipped because robots.txt
// could not be read are recorded as skipped (not errors), kept, and
// visited on the next run once robots.txt answers.
func TestRobotsUnreachableRetriedOnNextRun(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		pages.Add(1)
		htmlPage(w, "page", `<a href="/next">next</a>`)
	}))
	defer srv.Close()
	out, state := t.TempDir(), t.TempDir()
	cfg := crawl.Config{Start: []string{srv.URL + "/"}, Out: out, State: state, Depth: -1, Retries: -1}
	st, err := crawl.Crawl(t.Context(), cfg)
	if err != nil || st.Skipped != 1 || st.Errors != 0 || st.Retry != 1 || pages.Load() != 0 {
		t.Fatalf("robots.txt down: %+v, %v; want the start page skipped, kept for retry", st, err)
	}
	down.Store(false)
	st, err = crawl.Crawl(t.Context(), cfg)
	if err != nil || st.Pages != 2 || st.Skipped != 0 || pages.Load() != 2 {
		t.Fatalf("robots.txt up: %+v, %v (pages fetched %d); want / and /next", st, err, pages.Load())
	}
	if st, _ := crawl.Crawl(t.Context(), cfg); !st.Done {
		t.Errorf("third run: %+v; want nothing left", st)
	}
}

// TestUnreachableStartHost: a start URL whose host does not answer makes
// Crawl fail with ErrUnreachable naming it (after crawling the rest).
func TestUnreachableStartHost(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/"
	dead.Close() // nothing listens on its port now
	live := newChainSite(t, 3, "", 0)
	st, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{deadURL, live.srv.URL + "/0"}, Out: t.TempDir(), Depth: -1, Retries: -1})
	var ue *crawl.UnreachableError
	if !errors.Is(err, crawl.ErrUnreachable) || !errors.As(err, &ue) || len(ue.URLs) != 1 || ue.URLs[0] != deadURL {
		t.Fatalf("Crawl: %v; want ErrUnreachable naming %s", err, deadURL)
	}
	if !strings.Contains(err.Error(), "host unreachable") || st.Pages != 4 || st.Retry != 1 {
		t.Errorf("error %q, stats %+v; want the live site's 3 pages crawled too", err, st)
	}
}
