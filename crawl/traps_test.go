package crawl_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crewrun/crew/crawl"
)

// trapSite serves / linking to the trap's entry, and the trap itself: a
// generator of URLs without end.
func trapSite(t *testing.T, entry string, trap http.HandlerFunc) (*httptest.Server, *hitCounter) {
	var hits hitCounter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r)
		if r.URL.Path == "/" {
			htmlPage(w, "home", `<a href="`+entry+`">trap</a>`)
			return
		}
		trap(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestDefaultLimitsBoundTraps crawls sites that generate the classic traps
// with --depth unlimited and every other limit at its default: each crawl
// must end, within the bound of the limit that --help says stops it.
func TestDefaultLimitsBoundTraps(t *testing.T) {
	var sessions atomic.Int64
	tests := []struct {
		name     string
		entry    string
		trap     http.HandlerFunc
		maxPages int // pages visited at most, home included
		trapped  bool
	}{
		{"endless calendar in the path (--max-pattern-depth)", "/cal/2024/1", func(w http.ResponseWriter, r *http.Request) {
			var y, m int
			fmt.Sscanf(r.URL.Path, "/cal/%d/%d", &y, &m)
			next, prev := fmt.Sprintf("/cal/%d/%d", y+m/12, m%12+1), fmt.Sprintf("/cal/%d/%d", y-(13-m)/12, (m+10)%12+1)
			htmlPage(w, "cal", `<a href="`+next+`">next</a> <a href="`+prev+`">prev</a>`)
		}, 1 + 1 + 2*100, true}, // 100 links on, forwards and backwards
		{"endless calendar in the query (--max-query-variants)", "/cal?y=2000", func(w http.ResponseWriter, r *http.Request) {
			var y int
			fmt.Sscan(r.URL.Query().Get("y"), &y)
			htmlPage(w, "cal", fmt.Sprintf(`<a href="/cal?y=%d">next</a>`, y+1))
		}, 1 + 100, true},
		{"ever-deeper path (--max-segment-repeats)", "/s/", func(w http.ResponseWriter, r *http.Request) {
			htmlPage(w, "soft 404", `<a href="x/">deeper</a>`)
		}, 1 + 1 + 3, true},
		{"session ids (dropped)", "/shop/1", func(w http.ResponseWriter, r *http.Request) {
			var b strings.Builder
			for i := 1; i <= 3; i++ {
				n := sessions.Add(1)
				fmt.Fprintf(&b, `<a href="/shop/%d?sid=%d">s</a> <a href="/shop/%d;jsessionid=%X">j</a> <a href="/shop/%d?PHPSESSID=%d&amp;Session_Id=%d">p</a>`,
					i, n, i, n, i, n, n)
			}
			htmlPage(w, "shop", b.String())
		}, 1 + 3, false},
		{"query permutations (sorted, then --max-query-variants)", "/search?color=red", func(w http.ResponseWriter, r *http.Request) {
			facets := map[string][]string{"color": {"red", "green", "blue"}, "size": {"s", "m", "l"},
				"brand": {"a", "b", "c"}, "sort": {"asc", "desc"}}
			q := r.URL.Query()
			var b strings.Builder
			for f, vals := range facets {
				for _, v := range vals {
					next := url.Values{}
					for k := range q {
						next.Set(k, q.Get(k))
					}
					next.Set(f, v)
					// Parameters in a random order: each order is the same page.
					keys := make([]string, 0, len(next))
					for k := range next {
						keys = append(keys, k)
					}
					rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
					var parts []string
					for _, k := range keys {
						parts = append(parts, k+"="+next.Get(k))
					}
					fmt.Fprintf(&b, `<a href="/search?%s">f</a> `, strings.Join(parts, "&amp;"))
				}
			}
			htmlPage(w, "search", b.String())
		}, 1 + 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits := trapSite(t, tt.entry, tt.trap)
			out := t.TempDir()
			st, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: out, Depth: -1, IgnoreRobots: true})
			if err != nil {
				t.Fatal(err)
			}
			hits.fetchedOnce(t)
			if st.Pages > tt.maxPages || st.Queued != 0 {
				t.Errorf("%d pages visited, %d queued; the default limits allow at most %d", st.Pages, st.Queued, tt.maxPages)
			}
			if tt.trapped != (st.Trapped > 0) {
				t.Errorf("Stats.Trapped = %d; want a trap limit to have refused links: %v", st.Trapped, tt.trapped)
			}
			if n := len(readPages(t, out)); n != st.Pages {
				t.Errorf("%d rows, Stats.Pages %d", n, st.Pages)
			}
		})
	}
}

// TestDefaultDepthBoundsCalendar: with the default depth (as crew crawl
// uses, 5) a calendar stops five links in.
func TestDefaultDepthBoundsCalendar(t *testing.T) {
	srv, _ := trapSite(t, "/cal?y=2000", func(w http.ResponseWriter, r *http.Request) {
		var y int
		fmt.Sscan(r.URL.Query().Get("y"), &y)
		htmlPage(w, "cal", fmt.Sprintf(`<a href="/cal?y=%d">next</a>`, y+1))
	})
	st, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: t.TempDir(), Depth: 5, IgnoreRobots: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Pages != 6 || st.Held != 1 {
		t.Errorf("Stats %+v; want 6 pages (home and depths 1-5) and the next link held beyond the depth", st)
	}
}

// TestSessionParamsConfigurable: with no session parameters configured,
// session ids are kept, so each one makes a new URL (bounded by
// MaxQueryVariants).
func TestSessionParamsConfigurable(t *testing.T) {
	var n atomic.Int64
	srv, _ := trapSite(t, "/p?sid=0", func(w http.ResponseWriter, r *http.Request) {
		htmlPage(w, "p", fmt.Sprintf(`<a href="/p?sid=%d">again</a>`, n.Add(1)))
	})
	st, err := crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: t.TempDir(), Depth: -1,
		IgnoreRobots: true, MaxQueryVariants: 10, Canon: crawl.Canonicalizer{SessionParams: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Pages != 11 {
		t.Errorf("%d pages; want 11 (home and 10 session variants of /p)", st.Pages)
	}
}
