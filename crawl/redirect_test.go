package crawl_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/crewrun/crew/crawl"
)

// hitCounter counts the requests for each path of a test site.
type hitCounter struct {
	mu   sync.Mutex
	hits map[string]int
}

func (h *hitCounter) add(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hits == nil {
		h.hits = map[string]int{}
	}
	h.hits[r.URL.RequestURI()]++
}

func (h *hitCounter) get(p string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[p]
}

// fetchedOnce fails the test for every path requested more than once.
func (h *hitCounter) fetchedOnce(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, n := range h.hits {
		if n > 1 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
}

func htmlPage(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><head><title>%s</title></head><body>%s</body></html>", title, body)
}

// TestRedirectChainToFetchedPage: a redirect chain whose end was already
// fetched is followed hop by hop, each hop fetched once, and the end not
// fetched again; each hop's row records where the chain ends and that
// page's own title. A chain to a new page queues it like a link.
func TestRedirectChainToFetchedPage(t *testing.T) {
	var hits hitCounter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r)
		switch p := r.URL.Path; {
		case p == "/":
			htmlPage(w, "home", `<a href="/p/0">p0</a> <a href="/a">a</a>`)
		case p == "/a":
			// Depth 1, so its links come after /p/0 has been fetched.
			htmlPage(w, "a", `<a href="/redir/chain/3">chain</a> <a href="/moved">moved</a> <a href="/redir/chain/2">again</a>`)
		case strings.HasPrefix(p, "/redir/chain/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(p, "/redir/chain/"))
			if n <= 1 {
				http.Redirect(w, r, "/p/0", http.StatusFound)
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/redir/chain/%d", n-1), http.StatusMovedPermanently)
		case p == "/moved":
			http.Redirect(w, r, "/p/new", http.StatusTemporaryRedirect)
		case p == "/p/0":
			htmlPage(w, "page zero", "")
		case p == "/p/new":
			htmlPage(w, "new page", "")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out := t.TempDir()
	st, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: out, Depth: -1, IgnoreRobots: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	hits.fetchedOnce(t)
	rows := map[string]crawl.Page{}
	for _, p := range readPages(t, out) {
		path := strings.TrimPrefix(p.URL, srv.URL)
		if _, dup := rows[path]; dup {
			t.Errorf("two rows for %s", path)
		}
		rows[path] = p
	}
	if len(rows) != 8 || st.Pages != 8 || st.TotalPages != 8 {
		t.Errorf("%d rows, Stats %+v; want 8 (/, /a, /p/0, 3 chain hops, /moved, /p/new)", len(rows), st)
	}
	for _, hop := range []string{"/redir/chain/3", "/redir/chain/2", "/redir/chain/1"} {
		p := rows[hop]
		if p.Final != srv.URL+"/p/0" || p.Title != "page zero" || (p.Status != 301 && p.Status != 302) || p.Error != "" {
			t.Errorf("%s: row %+v; want a 3xx with final_url /p/0 and its title", hop, p)
		}
	}
	if p := rows["/moved"]; p.Final != srv.URL+"/p/new" || p.Title != "new page" || p.Status != 307 {
		t.Errorf("/moved: row %+v; want final_url /p/new, title %q", p, "new page")
	}
	if p := rows["/p/new"]; p.Final != "" || p.Title != "new page" || p.Depth != 2 || p.Parent != srv.URL+"/moved" {
		t.Errorf("/p/new: row %+v; want its own row, at the depth of the redirect, parent the redirect", p)
	}
	if p := rows["/p/0"]; p.Final != "" || p.Title != "page zero" {
		t.Errorf("/p/0: row %+v", p)
	}
}

// TestRedirectChainLimits: a chain longer than MaxRedirects, and a redirect
// loop, end with an error on their hops' rows; nothing is fetched twice.
func TestRedirectChainLimits(t *testing.T) {
	var hits hitCounter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r)
		switch p := r.URL.Path; {
		case p == "/":
			htmlPage(w, "home", `<a href="/long/0">long</a> <a href="/loop/a">loop</a>`)
		case strings.HasPrefix(p, "/long/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(p, "/long/"))
			http.Redirect(w, r, fmt.Sprintf("/long/%d", n+1), http.StatusFound)
		case p == "/loop/a":
			http.Redirect(w, r, "/loop/b", http.StatusFound)
		case p == "/loop/b":
			http.Redirect(w, r, "/loop/a", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out := t.TempDir()
	if _, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: out, Depth: -1, IgnoreRobots: true, MaxRedirects: 3}); err != nil {
		t.Fatal(err)
	}
	hits.fetchedOnce(t)
	long, loop := 0, 0
	for _, p := range readPages(t, out) {
		switch {
		case strings.Contains(p.URL, "/long/"):
			long++
			if p.Error != "more than 3 redirects" {
				t.Errorf("%s: error %q, want more than 3 redirects", p.URL, p.Error)
			}
		case strings.Contains(p.URL, "/loop/"):
			loop++
			if p.Error != "redirect loop" {
				t.Errorf("%s: error %q, want redirect loop", p.URL, p.Error)
			}
		}
	}
	if long != 4 || loop != 2 || hits.get("/long/4") != 0 {
		t.Errorf("%d rows of the long chain (want 4: /long/0-3), %d of the loop (want 2), /long/4 fetched %d times",
			long, loop, hits.get("/long/4"))
	}
}

// TestRedirectsNotFollowed: with MaxRedirects negative a redirect is
// recorded with its target and the target is not fetched.
func TestRedirectsNotFollowed(t *testing.T) {
	var hits hitCounter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r)
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/there", http.StatusFound)
			return
		}
		htmlPage(w, "there", "")
	}))
	defer srv.Close()
	out := t.TempDir()
	if _, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: out, IgnoreRobots: true, MaxRedirects: -1}); err != nil {
		t.Fatal(err)
	}
	rows := readPages(t, out)
	if len(rows) != 1 || rows[0].Final != srv.URL+"/there" || rows[0].Error != "" || hits.get("/there") != 0 {
		t.Errorf("rows %+v, /there fetched %d times; want one row with final_url and no fetch", rows, hits.get("/there"))
	}
}
