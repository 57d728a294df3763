// Downloads fetches the same list of pages three ways — one after another
// with one client, on goroutines with a client per worker, and on worker
// processes whose initializer makes each one a client — the tutorials'
// download_all_sites with requests.Session, threads and a Pool
// initializer. The pages come from a server this program starts on
// 127.0.0.1 that answers after 20 ms, so it runs offline.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/proc"
)

// client is each worker's own HTTP client: Python's set_global_session.
var client = crew.RegisterInit("examples.http-client", func(context.Context) (*http.Client, error) {
	return &http.Client{Timeout: 10 * time.Second}, nil
})

var download = crew.Register("examples.download", func(ctx context.Context, url string) (int, error) {
	c, err := client.From(ctx)
	if err != nil {
		return 0, err
	}
	return get(ctx, c, url)
})

func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return int(n), err
}

func main() {
	proc.ServeIfWorker() // worker processes start here and never return
	ctx := context.Background()
	urls, stop := serve(40, 20*time.Millisecond)
	defer stop()

	start := time.Now()
	c := &http.Client{}
	total := 0
	for _, u := range urls {
		n, err := get(ctx, c, u)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		total += n
	}
	report("sequential, one client", total, len(urls), start)

	// crew.Initialize builds each worker's client when it starts.
	for _, mode := range []string{"goroutines", "processes"} {
		var ex crew.Executor = crew.Goroutines(crew.Workers(8), crew.Initialize(client))
		if mode == "processes" {
			var err error
			if ex, err = proc.New(crew.Workers(8), crew.Initialize(client)); err != nil {
				fmt.Println("error:", err)
				return
			}
		}
		start = time.Now()
		total = 0
		for r := range crew.Map(ctx, ex, download, slices.Values(urls), crew.Unordered()) {
			if r.Err != nil {
				fmt.Println("error:", r.Err)
				continue
			}
			total += r.Value
		}
		ex.Close()
		report(mode+", 8 workers, a client each", total, len(urls), start)
	}
}

func report(how string, bytes, pages int, start time.Time) {
	fmt.Printf("%-36s %d pages, %d bytes in %v\n", how+":", pages, bytes, time.Since(start).Round(10*time.Millisecond))
}

// serve starts a loopback server whose pages answer after latency.
func serve(pages int, latency time.Duration) ([]string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency) // the simulated network
		fmt.Fprintf(w, "<title>%s</title>page body\n", r.URL.Path)
	})}
	go srv.Serve(ln)
	var urls []string
	for i := range pages {
		urls = append(urls, fmt.Sprintf("http://%s/page/%d", ln.Addr(), i))
	}
	return urls, func() { srv.Close() }
}
