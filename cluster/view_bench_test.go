package cluster_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// BenchmarkMapView is BenchmarkMap with the live view and the metrics on
// (crew serve --ui --metrics) and watched: a page's event stream read as
// it comes, and the metrics scraped every second.
func BenchmarkMapView(b *testing.B) {
	ex, err := cluster.New(b.Context(), "embedded", crew.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var ui, metrics string
	done, err := cluster.ServeEmbeddedView(ctx, ex, "127.0.0.1:0", "127.0.0.1:0", func(u, m string) { ui, metrics = u, m })
	if err != nil {
		b.Fatal(err)
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watch(ctx, b, ui, metrics)
	}()
	defer func() {
		cancel()
		<-watched
		<-done
	}()
	crewtest.BenchmarkMapSquare(b, ex, crew.Unordered())
}

// watch reads the page's events and scrapes the metrics every second
// until ctx ends.
func watch(ctx context.Context, b *testing.B, ui, metrics string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", ui+"api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	events := make(chan struct{})
	go func() {
		defer close(events)
		defer resp.Body.Close()
		s := bufio.NewScanner(resp.Body)
		s.Buffer(nil, 16<<20)
		for s.Scan() {
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-events
			return
		case <-tick.C:
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", metrics, nil)
		if r, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	}
}
