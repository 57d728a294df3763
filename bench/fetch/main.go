// Command pageserver serves small HTML pages on loopback for the crew fetch
// benchmark: every path returns a ~1 KiB page with a title, after an
// optional fixed latency. It imports only the standard library.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	latency := flag.Duration("latency", 0, "delay before each response")
	flag.Parse()
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 36)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr()) // the script reads the port from here
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *latency > 0 {
			time.Sleep(*latency) // simulated server latency, not synchronisation
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>page %s</title></head><body><p>%s</p></body></html>\n", r.URL.Path, filler)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
