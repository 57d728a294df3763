package fetch_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/crewrun/crew/fetch"
)

// BenchmarkRun fetches small HTML pages from a loopback server with 64
// workers; ns/op is wall time per page and cpu-ns/op the process's CPU
// time per page, client and server together. The sub-benchmarks compare
// the default transport (plain http:// on the fast path) with the net/http
// Transport it falls back to, built from the same Config; run them in
// turn and compare medians:
//
//	for i in $(seq 10); do
//	  go test -run '^$' -bench 'Run/transport=net' -benchtime 10000x ./fetch
//	  go test -run '^$' -bench 'Run/transport=fast' -benchtime 10000x ./fetch
//	done
func BenchmarkRun(b *testing.B) {
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 36)
	srv := serveB(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>page %s</title></head><body><p>%s</p></body></html>\n", r.URL.Path, filler)
	})
	cfg := fetch.Config{PerHost: 64}
	std := fetch.NetHTTPTransport(cfg)
	b.Cleanup(std.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	for _, tc := range []struct {
		name string
		tr   http.RoundTripper
	}{{"fast-path", nil}, {"net-http", std}} {
		b.Run("transport="+tc.name, func(b *testing.B) {
			in := make([]fetch.Input, b.N)
			for i := range in {
				in[i].URL = fmt.Sprintf("%s/p%d", srv.URL, i)
			}
			cfg := cfg
			cfg.Transport = tc.tr
			b.ResetTimer()
			cpu := cpuTime()
			_, err := fetch.Run(b.Context(), fetch.Options{Concurrency: 64, Config: cfg},
				slices.Values(in), func(fetch.Result) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			if cpu >= 0 {
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
