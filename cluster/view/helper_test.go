package view_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// failedOnce remembers the arguments onceOdd has failed for.
var failedOnce sync.Map

// onceOdd returns n for an even n; an odd n fails the first time it runs
// and succeeds after, so that a rerun of its failure succeeds.
var onceOdd = crew.Register("viewtest.once-odd", func(_ context.Context, n int) (int, error) {
	if n%2 == 1 {
		if _, again := failedOnce.LoadOrStore(n, true); !again {
			return 0, fmt.Errorf("%d is odd\nsecond line of the error", n)
		}
	}
	return n, nil
})

// served is a cluster.Serve with its view.
type served struct {
	nats, ui, metrics string
	stop              func() // stops it (again at the end of the test)
}

// serve runs cluster.Serve with cfg and its view on loopback ports until
// the test ends.
func serve(t *testing.T, cfg cluster.ServerConfig) served {
	t.Helper()
	return serveUntil(t, cfg)
}

// serveUntil runs cluster.Serve with cfg and its view on loopback ports
// until its stop is called or the test ends.
func serveUntil(t *testing.T, cfg cluster.ServerConfig) served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.UI == "" {
		cfg.UI = "127.0.0.1:0"
	}
	if cfg.Metrics == "" {
		cfg.Metrics = "127.0.0.1:0"
	}
	var s served
	ready := make(chan struct{})
	cfg.ViewReady = func(ui, metrics string) { s.ui, s.metrics = ui, metrics }
	cfg.Ready = func(url string) {
		s.nats = url
		close(ready)
	}
	errc := make(chan error, 1)
	go func() { errc <- cluster.Serve(ctx, cfg) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	select {
	case <-ready:
	case err := <-errc:
		errc <- nil // for stop
		t.Fatalf("Serve: %v", err)
	}
	return s
}

// work runs n workers of two slots in this process until the test ends.
func work(t *testing.T, url string, n int, opts ...crew.Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := cluster.Work(ctx, url, append([]crew.Option{crew.Workers(2)}, opts...)...); err != nil {
				t.Errorf("Work: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// state reads the JSON behind the page.
func state(t *testing.T, ui string) view.Page {
	t.Helper()
	resp, err := http.Get(ui + "api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p view.Page
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitState polls the page's JSON until ok accepts it, and fails the
// test with what it last saw after 30 s.
func waitState(t *testing.T, ui, what string, ok func(view.Page) bool) view.Page {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := state(t, ui)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(p, "", "  ")
			t.Fatalf("the view never showed %s; last:\n%s", what, b)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
}

// job finds a job in a page.
func job(p view.Page, id string) (view.Job, bool) {
	for _, j := range p.Jobs {
		if j.ID == id {
			return j, true
		}
	}
	return view.Job{}, false
}

// control posts a control request to the page's API with the token (none
// if empty) and returns the status and body.
func control(t *testing.T, ui, path, token string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", ui+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Crew-Control", "1")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// jobID returns the job id of an executor, as the view shows it: the one
// running job whose label is label.
func jobID(t *testing.T, ui, label string) string {
	t.Helper()
	var id string
	waitState(t, ui, "the job labelled "+label, func(p view.Page) bool {
		for _, j := range p.Jobs {
			if j.Label == label && j.State == view.Running {
				id = j.ID
				return true
			}
		}
		return false
	})
	return id
}
