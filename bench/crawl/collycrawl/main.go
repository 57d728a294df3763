// Command collycrawl is the peer in the crawl benchmark: a colly v2
// crawler configured like crew crawl — robots.txt honoured, async, the
// same total and per-host concurrency, same depth, links from <a href>
// and <link rel=next>, every URL written to urls.txt and one JSON line
// per page to pages.jsonl.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/gocolly/colly/v2"
)

func main() {
	start := flag.String("url", "", "start URL")
	depth := flag.Int("depth", 5, "max depth")
	par := flag.Int("j", 16, "parallelism")
	out := flag.String("out", "colly-out", "output dir")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	pf, err := os.Create(filepath.Join(*out, "pages.jsonl"))
	if err != nil {
		log.Fatal(err)
	}
	uf, err := os.Create(filepath.Join(*out, "urls.txt"))
	if err != nil {
		log.Fatal(err)
	}
	pages, urls := bufio.NewWriter(pf), bufio.NewWriter(uf)
	var mu sync.Mutex
	enc := json.NewEncoder(pages)

	c := colly.NewCollector(
		colly.Async(true),
		colly.MaxDepth(*depth+1), // colly counts the start page as depth 1
		colly.UserAgent("colly-bench"),
	)
	c.IgnoreRobotsTxt = false
	domain, err := hostOf(*start)
	if err != nil {
		log.Fatal(err)
	}
	c.AllowedDomains = []string{domain}
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: *par}); err != nil {
		log.Fatal(err)
	}
	c.OnHTML("a[href], link[rel=next]", func(e *colly.HTMLElement) {
		link := e.Request.AbsoluteURL(e.Attr("href"))
		if link == "" {
			return
		}
		if err := e.Request.Visit(link); err == nil {
			mu.Lock()
			urls.WriteString(link + "\n")
			mu.Unlock()
		}
	})
	c.OnScraped(func(r *colly.Response) {
		mu.Lock()
		enc.Encode(map[string]any{"url": r.Request.URL.String(), "status": r.StatusCode,
			"depth": r.Request.Depth - 1, "bytes": len(r.Body)})
		mu.Unlock()
	})
	c.OnError(func(r *colly.Response, err error) {
		mu.Lock()
		enc.Encode(map[string]any{"url": r.Request.URL.String(), "status": r.StatusCode, "error": err.Error()})
		mu.Unlock()
	})
	urls.WriteString(*start + "\n")
	if err := c.Visit(*start); err != nil {
		log.Fatal(err)
	}
	c.Wait()
	pages.Flush()
	urls.Flush()
}
