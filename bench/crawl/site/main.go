// Command site serves a generated web site for crawler benchmarks: pages
// /p/0 … /p/N-1, each linking to -links others (the first two links make a
// tree from /p/0, so every page is reachable; the rest are pseudo-random),
// plus robots.txt. Pages are rendered once at start; -latency delays every
// response. It prints its base URL on stdout and serves until killed.
//
//	go run ./site -pages 20000 -links 10 -latency 20ms
//
// With -unique, the site is an endless tree: page /u/N links to
// /u/(N×links+1) … /u/(N×links+links), so every link is a new URL and a
// crawl of P pages discovers P×links URLs: the frontier-size test.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func main() {
	pages := flag.Int("pages", 20000, "number of pages")
	links := flag.Int("links", 10, "links per page")
	latency := flag.Duration("latency", 0, "delay before each response")
	unique := flag.Bool("unique", false, "every link a new page (frontier growth test)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	body := make([][]byte, *pages)
	if !*unique {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range body {
			body[i] = render(i, func(j int) string {
				switch j {
				case 0, 1:
					if c := 2*i + 1 + j; c < *pages {
						return "/p/" + strconv.Itoa(c)
					}
				}
				return "/p/" + strconv.Itoa(rng.IntN(*pages))
			}, *links)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *latency > 0 {
			time.Sleep(*latency)
		}
		p := r.URL.Path
		switch {
		case p == "/robots.txt":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("User-agent: *\nDisallow: /private/\n"))
			return
		case p == "/":
			http.Redirect(w, r, "/p/0", http.StatusFound)
			return
		case *unique && strings.HasPrefix(p, "/u/"):
			n, err := strconv.Atoi(p[3:])
			if err != nil || n < 0 {
				break
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(render(n, func(j int) string { return "/u/" + strconv.Itoa(n*(*links)+1+j) }, *links))
			return
		case strings.HasPrefix(p, "/p/"):
			n, err := strconv.Atoi(p[3:])
			if err == nil && n >= 0 && n < len(body) && body[n] != nil {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write(body[n])
				return
			}
		}
		http.NotFound(w, r)
	})
	log.Fatal(http.Serve(ln, h))
}

// render writes a page of about 2 KB: a head, some text and the links.
func render(n int, link func(int) string, links int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html><head><meta charset=utf-8><title>Page %d</title>"+
		"<link rel=stylesheet href=/style.css></head><body><h1>Page %d</h1><nav><ul>", n, n)
	for j := range links {
		fmt.Fprintf(&b, `<li><a href="%s">link %d</a></li>`, link(j), j)
	}
	b.WriteString("</ul></nav><main>")
	for range 12 {
		b.WriteString("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.</p>")
	}
	b.WriteString("</main></body></html>")
	return []byte(b.String())
}
