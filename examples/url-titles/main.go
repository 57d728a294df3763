// Url-titles downloads a list of pages concurrently and prints each one's
// <title>, reporting errors such as a 403 instead of stopping — the
// tutorials' title scraper, on package fetch (what `crew fetch` uses:
// per-host limits, retries, charset-aware titles). A loopback server
// stands in for the internet.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/fetch"
)

// client is one fetch.Client per worker.
var client = crew.RegisterInit("examples.fetch-client", func(context.Context) (*fetch.Client, error) {
	return fetch.NewClient(fetch.Config{Retries: 1, MaxBodySize: 1 << 20})
})

var title = crew.Register("examples.title", func(ctx context.Context, url string) (string, error) {
	c, err := client.From(ctx)
	if err != nil {
		return "", err
	}
	resp, err := c.Get(ctx, url)
	var se *fetch.StatusError
	if errors.As(err, &se) {
		return "", fmt.Errorf("HTTP %d", se.Code)
	}
	if err != nil {
		return "", err
	}
	return fetch.Title(resp.Body, resp.Header.Get("Content-Type")), nil
})

func main() {
	base, stop := serve()
	defer stop()
	urls := []string{base + "/python", base + "/go", base + "/forbidden", base + "/latin1"}
	ex := crew.Goroutines(crew.Workers(4), crew.Initialize(client))
	defer ex.Close()
	for r := range crew.Map(context.Background(), ex, title, slices.Values(urls)) {
		if r.Err != nil {
			fmt.Printf("%s: error: %v\n", urls[r.Index][len(base):], r.Err)
			continue
		}
		fmt.Printf("%s: %q\n", urls[r.Index][len(base):], r.Value)
	}
}

func serve() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/python", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<html><head><title>Welcome to Python.org</title></head></html>")
	})
	mux.HandleFunc("/go", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<title>The Go Programming Language</title>")
	})
	mux.HandleFunc("/forbidden", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no robots", http.StatusForbidden)
	})
	mux.HandleFunc("/latin1", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		w.Write([]byte("<title>Caf\xe9 cr\xe8me</title>")) // Latin-1 bytes
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }
}
