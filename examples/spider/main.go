// Spider crawls a small site from one start page and writes every URL it
// finds to urls.txt — the tutorials' process-pool spider, done with package
// crawl: each canonical URL is fetched once, robots.txt is honoured, links
// come from an HTML tokenizer (not a regex), and the queue lives on disk so
// a killed crawl resumes. The visits (fetch + parse) run in a pool of
// worker processes, as in the tutorial; the frontier stays in this process.
// A loopback server stands in for the internet.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crawl"
	"github.com/crewrun/crew/proc"
)

func main() {
	proc.ServeIfWorker() // in a worker process this serves crawl.visit and never returns

	base, stop := serve()
	defer stop()

	ex, err := proc.New(crew.Workers(4))
	if err != nil {
		fail(err)
	}
	defer ex.Close()

	out, err := os.MkdirTemp("", "spider")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(out)

	stats, err := crawl.Crawl(context.Background(), crawl.Config{
		Start:    []string{base + "/"},
		Out:      out,
		Depth:    3,
		Executor: ex,
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("fetched %d pages (%d errors, %d skipped by robots.txt), discovered %d URLs\n", stats.Pages, stats.Errors, stats.Skipped, stats.Discovered)

	// urls.txt holds every discovered canonical URL, like the tutorial's;
	// pages.jsonl one record per fetch (robots.txt refusals included).
	urls := lines(filepath.Join(out, "urls.txt"), func(s string) string { return strings.TrimPrefix(s, base) })
	fmt.Println("urls.txt:", strings.Join(urls, " "))
	for _, p := range lines(filepath.Join(out, "pages.jsonl"), func(s string) string {
		var p crawl.Page
		if err := json.Unmarshal([]byte(s), &p); err != nil {
			fail(err)
		}
		if p.Error != "" {
			return fmt.Sprintf("%s: %s", strings.TrimPrefix(p.URL, base), p.Error)
		}
		return fmt.Sprintf("%s: %q at depth %d, %d links", strings.TrimPrefix(p.URL, base), p.Title, p.Depth, p.LinksFound)
	}) {
		fmt.Println(p)
	}
}

// lines returns the lines of a file, each passed through f, sorted (the
// crawl's order depends on which worker answers first).
func lines(name string, f func(string) string) []string {
	file, err := os.Open(name)
	if err != nil {
		fail(err)
	}
	defer file.Close()
	var out []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		out = append(out, f(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		fail(err)
	}
	slices.Sort(out)
	return out
}

// serve starts a tiny site: the index links to three sections (once with a
// fragment and a tracking parameter, which canonicalise away), each section
// links back and to a page robots.txt forbids.
func serve() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `<title>Home</title>
			<a href="/news">News</a> <a href="docs">Docs</a> <a href="/blog/">Blog</a>
			<a href="/news#top">News again</a> <a href="/docs?utm_source=home">Docs again</a>
			<a href="mailto:me@example.com">mail</a>`)
	})
	for _, section := range []string{"/news", "/docs", "/blog/"} {
		mux.HandleFunc(section, func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `<title>%s</title><a href="/">home</a> <a href="/private/%s">secret</a>`,
				section, strings.Trim(section, "/"))
		})
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "spider:", err)
	os.Exit(1)
}
