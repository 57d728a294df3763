package crawl_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crawl"
	"github.com/crewrun/crew/proc"
)

// TestCrawlOnExecutors crawls the test site with its visits on worker
// processes and on the cluster executor (embedded NATS server, two
// workers): the frontier stays here, only visits travel, and the pages
// recorded must be the same as on goroutines — what `crew crawl --cluster`
// relies on.
func TestCrawlOnExecutors(t *testing.T) {
	crawlWith := func(t *testing.T, ex crew.Executor) map[string]int {
		s := newSite(t)
		out := t.TempDir()
		_, err := crawl.Crawl(t.Context(), crawl.Config{
			Start: []string{s.srv.URL + "/"}, Out: out, Depth: -1,
			MaxQueryVariants: 5, MaxPathDepth: 4, MaxBodySize: 64 << 10,
			Executor: ex,
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, p := range readPages(t, out) {
			path := strings.TrimPrefix(p.URL, s.srv.URL)
			if _, dup := got[path]; dup {
				t.Errorf("%s fetched twice", path)
			}
			got[path] = p.Status
		}
		return got
	}
	want := crawlWith(t, nil)
	if len(want) < 20 {
		t.Fatalf("goroutine crawl found only %d pages", len(want))
	}
	executors := map[string]func(context.Context) (crew.Executor, error){
		"proc": func(context.Context) (crew.Executor, error) { return proc.New(crew.Workers(2)) },
		"cluster": func(ctx context.Context) (crew.Executor, error) {
			return cluster.New(ctx, "embedded", crew.Workers(2))
		},
	}
	for _, name := range slices.Sorted(maps.Keys(executors)) {
		t.Run(name, func(t *testing.T) {
			ex, err := executors[name](t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer ex.Close()
			got := crawlWith(t, ex)
			if !maps.Equal(got, want) {
				t.Errorf("pages (path → status) differ from the goroutine crawl:\n got %v\nwant %v", got, want)
			}
		})
	}
}
