package crawl_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/crewrun/crew/crawl"
)

// benchSite serves n pages of about 2 KB, each linking to 10 others (a
// tree from /p/0 plus pseudo-random links), like bench/crawl's site.
func benchSite(b *testing.B, n int) *httptest.Server {
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([][]byte, n)
	for i := range body {
		var s strings.Builder
		fmt.Fprintf(&s, "<!doctype html><html><head><title>Page %d</title></head><body><ul>", i)
		for j := range 10 {
			c := 2*i + 1 + j
			if j > 1 || c >= n {
				c = rng.IntN(n)
			}
			fmt.Fprintf(&s, `<li><a href="/p/%d">link</a></li>`, c)
		}
		s.WriteString("</ul>" + strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>", 20) + "</body></html>")
		body[i] = []byte(s.String())
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
		if err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(body[i])
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkCrawl crawls a 2000-page local site (latency 0) per iteration:
// the crawler's own cost per page, server included.
func BenchmarkCrawl(b *testing.B) {
	const n = 2000
	srv := benchSite(b, n)
	b.ReportAllocs()
	for b.Loop() {
		st, err := crawl.Crawl(context.Background(), crawl.Config{
			Start: []string{srv.URL + "/p/0"}, Out: b.TempDir(), Depth: -1, Workers: 16, PerHost: 16,
		})
		if err != nil || st.Pages != n {
			b.Fatalf("%+v %v", st, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "pages/s")
}

// uniqueSite is an endless tree: /u/N links to links new pages, so every
// link is a URL never seen before and the frontier grows by links per page.
func uniqueSite(b *testing.B, links int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/u/"))
		if err != nil || n < 0 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var s strings.Builder
		fmt.Fprintf(&s, "<!doctype html><html><head><title>Page %d</title></head><body><ul>", n)
		for j := range links {
			fmt.Fprintf(&s, `<li><a href="/u/%d">link %d</a></li>`, n*links+1+j, j)
		}
		s.WriteString("</ul></body></html>")
		w.Write([]byte(s.String()))
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkCrawlNewLinks fetches 3000 pages of a site where each page
// links to 100 URLs never seen before: the seen-set's insert cost (300 000
// new URLs per iteration) against the fetching and parsing.
func BenchmarkCrawlNewLinks(b *testing.B) {
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("CRAWL_BENCH_PAGES")); err == nil {
		n = v
	}
	srv := uniqueSite(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		st, err := crawl.Crawl(context.Background(), crawl.Config{
			Start: []string{srv.URL + "/u/0"}, Out: b.TempDir(), Depth: -1, MaxPages: n, Workers: 16, PerHost: 16,
		})
		if err != nil || st.Pages != n {
			b.Fatalf("%+v %v", st, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "pages/s")
}
