package crawl_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crewrun/crew/crawl"
	"github.com/crewrun/crew/proc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	proc.ServeIfWorker() // TestCrawlOnExecutors runs visits in worker processes
	if start := os.Getenv("CRAWL_TEST_CHILD"); start != "" {
		crawlChild(start) // never returns
	}
	goleak.VerifyTestMain(m)
}

// site is a generated test site with a known reachable set.
type site struct {
	mu   sync.Mutex
	hits map[string]int
	srv  *httptest.Server
}

func newSite(t *testing.T) *site {
	s := &site{hits: map[string]int{}}
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>%s</title></head><body>%s</body></html>", title, body)
	}
	flaky := 0
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.RequestURI()]++
		s.mu.Unlock()
		switch p := r.URL.Path; {
		case p == "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private/\n")
		case p == "/":
			page(w, "home", `<a href="a.html">a</a> <a href="/a.html#top">a again</a>
				<a href="`+s.srv.URL+`/b.html?utm_source=x&amp;fbclid=y">b</a>
				<a href="mailto:x@y.z">m</a><a href="javascript:void(0)">j</a><a href="tel:1">t</a>
				<!-- <a href="/in-comment.html">c</a> -->
				<script>document.write('<a href="/in-script.html">s</a>')</script>
				<a href="/dir/base.html">base</a> <a href="/private/secret.html">p</a>
				<a href="/cal?y=2000">cal</a> <a href="/s/1/">session</a>
				<a href="/loop">loop</a> <a href="/missing">404</a> <a href="/broken">500</a>
				<a href="/flaky">429</a> <a href="/huge">huge</a> <a href="/file.bin">bin</a>
				<a href="/latin1">latin1</a> <a href="http://elsewhere.invalid/">out</a>`)
		case p == "/a.html", p == "/b.html", p == "/other/d.html", p == "/private/secret.html":
			page(w, p, `<a href="/">home</a>`)
		case p == "/dir/base.html":
			page(w, "base", `<base href="/other/"><a href="d.html">d</a>`)
		case p == "/cal":
			var y int
			fmt.Sscan(r.URL.Query().Get("y"), &y)
			page(w, "cal", fmt.Sprintf(`<a href="/cal?y=%d">next</a>`, y+1))
		case strings.HasPrefix(p, "/s/"):
			// A path trap: every page links one level deeper.
			page(w, "session", `<a href="x/">deeper</a>`)
		case p == "/loop":
			http.Redirect(w, r, "/loop2", http.StatusFound)
		case p == "/loop2":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case p == "/broken":
			http.Error(w, "boom", http.StatusInternalServerError)
		case p == "/flaky":
			s.mu.Lock()
			flaky++
			n := flaky
			s.mu.Unlock()
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			page(w, "flaky", "")
		case p == "/huge":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		case p == "/file.bin":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte(`<a href="/never.html">`))
		case p == "/latin1":
			w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
			w.Write([]byte("<title>caf\xe9</title>"))
		default:
			http.NotFound(w, r)
		}
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func readPages(t *testing.T, dir string) []crawl.Page {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "pages.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []crawl.Page
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p crawl.Page
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestCrawlSite(t *testing.T) {
	s := newSite(t)
	out := t.TempDir()
	st, err := crawl.Crawl(context.Background(), crawl.Config{
		Start: []string{s.srv.URL + "/"}, Out: out, Depth: -1,
		MaxQueryVariants: 5, MaxPathDepth: 4, MaxBodySize: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	pages := readPages(t, out)
	byPath := map[string]crawl.Page{}
	for _, p := range pages {
		path := strings.TrimPrefix(p.URL, s.srv.URL)
		if _, dup := byPath[path]; dup {
			t.Errorf("%s fetched twice", path)
		}
		byPath[path] = p
	}
	var got []string
	for p := range byPath {
		got = append(got, p)
	}
	slices.Sort(got)
	want := []string{"/", "/a.html", "/b.html", "/broken", "/cal?y=2000", "/cal?y=2001", "/cal?y=2002",
		"/cal?y=2003", "/cal?y=2004", "/dir/base.html", "/file.bin", "/flaky", "/huge", "/latin1", "/loop",
		"/loop2", "/missing", "/other/d.html", "/private/secret.html", "/s/1/", "/s/1/x/", "/s/1/x/x/"}
	if !slices.Equal(got, want) {
		t.Errorf("visited\n%q\nwant\n%q", got, want)
	}
	if st.Pages != len(want) {
		t.Errorf("Stats.Pages = %d, want %d", st.Pages, len(want))
	}
	s.mu.Lock()
	if s.hits["/private/secret.html"] != 0 {
		t.Error("robots.txt disallow ignored")
	}
	s.mu.Unlock()
	checks := map[string]func(crawl.Page) bool{
		"/private/secret.html": func(p crawl.Page) bool { return strings.Contains(p.Error, "robots") },
		"/missing":             func(p crawl.Page) bool { return p.Status == 404 && p.Error != "" },
		"/broken":              func(p crawl.Page) bool { return p.Status == 500 },
		"/flaky":               func(p crawl.Page) bool { return p.Status == 200 && p.Error == "" },
		"/huge":                func(p crawl.Page) bool { return p.Error != "" },
		"/loop":                func(p crawl.Page) bool { return p.Status == 302 && p.Error == "redirect loop" },
		"/loop2":               func(p crawl.Page) bool { return p.Status == 302 && p.Error == "redirect loop" },
		"/file.bin":            func(p crawl.Page) bool { return p.Status == 200 && p.LinksFound == 0 },
		"/latin1":              func(p crawl.Page) bool { return p.Title == "café" },
		"/other/d.html":        func(p crawl.Page) bool { return p.Parent == s.srv.URL+"/dir/base.html" && p.Depth == 2 },
	}
	for path, ok := range checks {
		if p := byPath[path]; !ok(p) {
			t.Errorf("%s: unexpected record %+v", path, p)
		}
	}
}

func TestCrawlResumeSkipsSeen(t *testing.T) {
	s := newSite(t)
	out, state := t.TempDir(), t.TempDir()
	cfg := crawl.Config{Start: []string{s.srv.URL + "/a.html"}, Out: out, State: state, Depth: -1, MaxPages: 1}
	if _, err := crawl.Crawl(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.MaxPages = 0
	if _, err := crawl.Crawl(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	pages := readPages(t, out)
	if len(pages) < 2 || pages[0].URL != s.srv.URL+"/a.html" || pages[1].URL != s.srv.URL+"/" {
		t.Fatalf("resume did not continue the queue: %+v", pages)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hits["/a.html"] != 1 {
		t.Errorf("/a.html fetched %d times across resume", s.hits["/a.html"])
	}
}

// TestCrawlRetries: Config.Retries is the number of repeats after a 5xx;
// zero takes the default (2) and a negative value means none.
func TestCrawlRetries(t *testing.T) {
	for _, tc := range []struct{ retries, attempts int }{{-1, 1}, {1, 2}, {0, 3}} {
		t.Run(fmt.Sprint(tc.retries), func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				http.Error(w, "down", http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			cfg := crawl.Config{Start: []string{srv.URL + "/"}, Out: t.TempDir(), IgnoreRobots: true, Retries: tc.retries}
			if _, err := crawl.Crawl(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			if got := int(hits.Load()); got != tc.attempts {
				t.Errorf("Retries %d: %d attempts, want %d", tc.retries, got, tc.attempts)
			}
		})
	}
}
