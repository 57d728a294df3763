package fetch_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew/fetch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t *testing.T, cfg fetch.Config) *fetch.Client {
	t.Helper()
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	c, err := fetch.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server { return serveB(t, h) }

func serveB(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestGetStatusAndRetries(t *testing.T) {
	tests := []struct {
		status       int
		wantAttempts int
	}{
		{200, 1},
		{403, 1}, // 4xx other than 429 are never retried
		{404, 1},
		{500, 3},
		{503, 3},
		{429, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			var hits atomic.Int32
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, "body")
			})
			c := newClient(t, fetch.Config{Retries: 2})
			resp, err := c.Get(t.Context(), srv.URL)
			var se *fetch.StatusError
			if tt.status >= 400 {
				if !errors.As(err, &se) || se.Code != tt.status {
					t.Fatalf("err = %v, want StatusError %d", err, tt.status)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if resp.Attempts != tt.wantAttempts || int(hits.Load()) != tt.wantAttempts {
				t.Errorf("attempts = %d, server hits = %d, want %d", resp.Attempts, hits.Load(), tt.wantAttempts)
			}
			if resp.Status != tt.status || string(resp.Body) != "body" {
				t.Errorf("status %d body %q", resp.Status, resp.Body)
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "ok")
	})
	c := newClient(t, fetch.Config{Retries: 1})
	start := time.Now()
	resp, err := c.Get(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The backoff alone is at most 5ms; only Retry-After explains a second.
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, want ≥ 1s (Retry-After)", d)
	}
	if resp.Attempts != 2 || resp.Status != 200 {
		t.Errorf("attempts %d status %d", resp.Attempts, resp.Status)
	}
}

func TestTimeoutRetriedThenFails(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-r.Context().Done() // slower than any timeout
	})
	c := newClient(t, fetch.Config{Timeout: 50 * time.Millisecond, Retries: 1})
	resp, err := c.Get(t.Context(), srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if resp.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", resp.Attempts)
	}
}

func TestSlowBodyTimesOut(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "start")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	c := newClient(t, fetch.Config{Timeout: 50 * time.Millisecond})
	_, err := c.Get(t.Context(), srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded while reading the body", err)
	}
}

func TestRedirects(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/chain/"):
			var n int
			fmt.Sscan(strings.TrimPrefix(p, "/chain/"), &n)
			if n == 0 {
				fmt.Fprint(w, "end")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusFound)
		case p == "/loop/a":
			http.Redirect(w, r, "/loop/b", http.StatusFound)
		case p == "/loop/b":
			http.Redirect(w, r, "/loop/a", http.StatusMovedPermanently)
		case p == "/ftp":
			http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
		}
	})
	c := newClient(t, fetch.Config{MaxRedirects: 5})
	resp, err := c.Get(t.Context(), srv.URL+"/chain/5")
	if err != nil || resp.FinalURL != srv.URL+"/chain/0" || string(resp.Body) != "end" {
		t.Fatalf("chain of 5: %v, final %s", err, resp.FinalURL)
	}
	for path, want := range map[string]error{
		"/chain/6": fetch.ErrTooManyRedirects,
		"/loop/a":  fetch.ErrRedirectLoop,
		"/ftp":     fetch.ErrUnsupportedScheme,
	} {
		if _, err := c.Get(t.Context(), srv.URL+path); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", path, err, want)
		}
	}
}

func TestMaxBodySize(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1<<16)
		for range 1 << 10 { // 64 MiB unless the client hangs up
			if _, err := fmt.Fprint(w, chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, fetch.Config{MaxBodySize: 100_000})
	resp, err := c.Get(t.Context(), srv.URL)
	if !errors.Is(err, fetch.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if len(resp.Body) != 100_000 {
		t.Errorf("kept %d bytes, want exactly the cap", len(resp.Body))
	}
}

// TestMaxBodySizeStreamStaysOver reads a capped stream past the cap and
// then again, as a bufio.Reader or a caller that logs and continues does:
// every later Read must keep failing with ErrTooLarge and no bytes, never a
// negative count (which makes bufio panic).
func TestMaxBodySizeStreamStaysOver(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("line\n", 1000)))
	})
	c := newClient(t, fetch.Config{MaxBodySize: 100})
	_, body, err := c.Open(t.Context(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	br := bufio.NewReader(body)
	var n int
	for {
		line, err := br.ReadString('\n')
		n += len(line)
		if err != nil {
			if !errors.Is(err, fetch.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			break
		}
	}
	if n != 100 {
		t.Errorf("read %d bytes, want exactly the cap", n)
	}
	for range 3 {
		if line, err := br.ReadString('\n'); line != "" || !errors.Is(err, fetch.ErrTooLarge) {
			t.Errorf("read again: %q, %v; want nothing and ErrTooLarge", line, err)
		}
		if n, err := body.Read(make([]byte, 10)); n != 0 || !errors.Is(err, fetch.ErrTooLarge) {
			t.Errorf("Read again: %d, %v; want 0, ErrTooLarge", n, err)
		}
	}
}

func TestUnsupportedScheme(t *testing.T) {
	c := newClient(t, fetch.Config{})
	for _, u := range []string{"ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)"} {
		if _, err := c.Get(t.Context(), u); !errors.Is(err, fetch.ErrUnsupportedScheme) {
			t.Errorf("%s: err = %v", u, err)
		}
	}
}

// TestPerHostLimitHeld measures concurrency on the server side.
func TestPerHostLimitHeld(t *testing.T) {
	const perHost = 3
	var cur, peak atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		// Hold the request long enough for others to pile up if the
		// client let them through.
		select {
		case <-time.After(20 * time.Millisecond):
		case <-r.Context().Done():
		}
	})
	c := newClient(t, fetch.Config{PerHost: perHost})
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if _, err := c.Get(t.Context(), srv.URL); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > perHost || p < 2 {
		t.Errorf("peak concurrency on server = %d, want 2..%d", p, perHost)
	}
}

func TestRateLimit(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newClient(t, fetch.Config{Rate: 20, PerHost: 16})
	start := time.Now()
	var wg sync.WaitGroup
	for range 30 { // burst 20, then 10 more at 20/s ≈ 0.5s
		wg.Go(func() { c.Get(t.Context(), srv.URL) })
	}
	wg.Wait()
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("30 requests at 20/s took %v, want ≥ 0.4s", d)
	}
}
