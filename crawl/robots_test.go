package crawl_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew/crawl"
)

// robotsSite serves "/" linking to "/page", and robots.txt through
// robots; it counts requests for pages and for robots.txt.
type robotsSite struct {
	srv           *httptest.Server
	pages, robots atomic.Int32
}

func newRobotsSite(t *testing.T, robots func(w http.ResponseWriter, n int32)) *robotsSite {
	s := &robotsSite{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			robots(w, s.robots.Add(1))
			return
		}
		s.pages.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<a href="/page">page</a>`))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func resetConn(http.ResponseWriter) { panic(http.ErrAbortHandler) }

// TestRobotsUnreachableDisallows: RFC 9309 §2.3.1 — a robots.txt that
// cannot be fetched (connection reset) or answers 5xx disallows the whole
// site, and each skipped page says why; a 4xx allows everything.
func TestRobotsUnreachableDisallows(t *testing.T) {
	tests := []struct {
		name      string
		robots    func(w http.ResponseWriter, n int32)
		wantPages int32
		wantErr   string
		noAnswer  bool // the start URL's host gave no HTTP answer: Crawl fails with ErrUnreachable
	}{
		{"connection reset", func(w http.ResponseWriter, _ int32) { resetConn(w) }, 0, "robots.txt unreachable", true},
		{"503", func(w http.ResponseWriter, _ int32) { w.WriteHeader(http.StatusServiceUnavailable) }, 0, "robots.txt answered HTTP 503", false},
		{"404", func(w http.ResponseWriter, _ int32) { w.WriteHeader(http.StatusNotFound) }, 2, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRobotsSite(t, tt.robots)
			out := t.TempDir()
			st, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{s.srv.URL + "/"}, Out: out, Depth: 1, Retries: -1})
			if tt.noAnswer != errors.Is(err, crawl.ErrUnreachable) || (err != nil && !tt.noAnswer) {
				t.Fatalf("Crawl: %v (want ErrUnreachable: %v)", err, tt.noAnswer)
			}
			if tt.wantErr != "" && (st.Skipped != 1 || st.Errors != 0 || st.Retry != 1) {
				t.Errorf("stats %+v: want the page counted as skipped (not an error) and kept for retry", st)
			}
			if n := s.pages.Load(); n != tt.wantPages {
				t.Errorf("%d pages fetched, want %d", n, tt.wantPages)
			}
			pages := readPages(t, out)
			if tt.wantErr == "" {
				return
			}
			if len(pages) != 1 || !strings.Contains(pages[0].Error, tt.wantErr) || !strings.Contains(pages[0].Error, "disallow") {
				t.Errorf("pages.jsonl %+v; want the start page skipped with an error saying %q", pages, tt.wantErr)
			}
		})
	}
}

func visitArg(srv *httptest.Server, path, agent string) crawl.VisitArg {
	return crawl.VisitArg{
		Item: crawl.Item{URL: srv.URL + path},
		Opts: crawl.VisitOpts{UserAgent: agent, MaxBodySize: 1 << 20, Timeout: 5 * time.Second},
	}
}

// TestRobotsRetriedAfterFailure: a robots.txt that could not be fetched
// keeps its site disallowed for a while (without asking again on every
// visit), then is fetched again, and its rules apply from then on.
func TestRobotsRetriedAfterFailure(t *testing.T) {
	s := newRobotsSite(t, func(w http.ResponseWriter, n int32) {
		if n == 1 {
			resetConn(w)
		}
		w.Write([]byte("User-agent: *\nDisallow: /private\n"))
	})
	arg := visitArg(s.srv, "/page", "robots-retry-test/1") // a worker's visitor of its own
	for range 2 {
		r, err := crawl.Visit.Call(t.Context(), arg)
		if err != nil || !strings.Contains(r.Page.Error, "robots.txt unreachable") {
			t.Fatalf("visit: %v, page %+v; want disallowed, robots.txt unreachable", err, r.Page)
		}
	}
	if n := s.robots.Load(); n != 1 {
		t.Errorf("robots.txt fetched %d times before the retry interval", n)
	}
	defer crawl.SetRobotsRetry(0)()
	if r, err := crawl.Visit.Call(t.Context(), arg); err != nil || r.Page.Error != "" || r.Page.Status != 200 {
		t.Errorf("visit after the retry interval: %v, page %+v", err, r.Page)
	}
	if r, _ := crawl.Visit.Call(t.Context(), visitArg(s.srv, "/private", "robots-retry-test/1")); r.Page.Error != "disallowed by robots.txt" {
		t.Errorf("rules fetched on retry not applied: page %+v", r.Page)
	}
	if n, p := s.robots.Load(), s.pages.Load(); n != 2 || p != 1 {
		t.Errorf("robots.txt fetched %d times (want 2), pages %d (want 1)", n, p)
	}
}

// TestRobotsNotCachedFromCancelledVisit: a visit whose context ends while
// it fetches robots.txt must not leave its failure behind as the site's
// robots.txt — in a crew worker that cache outlives the crawl.
func TestRobotsNotCachedFromCancelledVisit(t *testing.T) {
	s := newRobotsSite(t, func(w http.ResponseWriter, _ int32) {
		w.Write([]byte("User-agent: *\nDisallow: /private\n"))
	})
	arg := visitArg(s.srv, "/private", "robots-cancel-test/1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if r, _ := crawl.Visit.Call(ctx, arg); r.Page.Error == "" {
		t.Errorf("cancelled visit succeeded: %+v", r.Page)
	}
	r, err := crawl.Visit.Call(t.Context(), arg)
	if err != nil || r.Page.Error != "disallowed by robots.txt" {
		t.Errorf("visit after a cancelled one: %v, page %+v; want disallowed by robots.txt", err, r.Page)
	}
	if n := s.pages.Load(); n != 0 {
		t.Errorf("%d disallowed pages fetched", n)
	}
}
