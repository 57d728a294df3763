package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCrawlCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<title>home</title><a href="/a?utm_source=x">a</a><a href="/b#f">b</a><a href="/nope">404</a>`)
		case "/a", "/b":
			fmt.Fprint(w, `<a href="/">home</a><a href="/c">c</a>`)
		case "/c":
			fmt.Fprint(w, `<a href="/d">d</a>`)
		case "/d":
			fmt.Fprint(w, `the end`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	urls := filepath.Join(dir, "start.txt")
	os.WriteFile(urls, []byte("# start\n"+srv.URL+"/\n"), 0o644)
	badURLs := filepath.Join(dir, "bad.txt")
	os.WriteFile(badURLs, []byte(srv.URL+"/\nftp://x/\n"), 0o644)

	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantPages int
		wantErr   string
	}{
		{"depth 1", []string{"--depth", "1", srv.URL + "/"}, 0, 4, "4 pages in"},
		{"whole site from -i", []string{"-i", urls}, 0, 6, "6 pages"},
		{"max pages", []string{"-n", "2", srv.URL + "/"}, 0, 2, "left in the queue"},
		{"exclude", []string{"--exclude", "/[cd]$", srv.URL + "/"}, 0, 4, ""},
		{"bad URL argument", []string{"mailto:x@y"}, 2, -1, `argument 1 "mailto:x@y"`},
		{"bad line in -i: reported, skipped, exit 1", []string{"-i", badURLs}, 1, 6, `bad.txt:2: "ftp://x/"`},
		{"bad regex", []string{"--include", "(", srv.URL}, 2, -1, "--include"},
		{"bad scope", []string{"--scope", "planet", srv.URL}, 2, -1, "--scope"},
		{"nothing to resume", []string{}, 2, -1, "no start URL"},
		{"size too large", []string{"--max-size", "9999999999G", srv.URL}, 2, -1, "--max-size"},
		{"zero jobs", []string{"-j", "0", srv.URL}, 2, -1, "-j"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			var stdout, stderr bytes.Buffer
			args := append([]string{"crawl", "-o", out}, tt.args...)
			code := Main(t.Context(), args, Streams{In: strings.NewReader(""), Out: &stdout, Err: &stderr})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.wantErr)
			}
			if tt.wantPages < 0 {
				return
			}
			data, err := os.ReadFile(filepath.Join(out, "pages.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(data, []byte("\n")); n != tt.wantPages {
				t.Errorf("%d pages recorded, want %d:\n%s", n, tt.wantPages, data)
			}
		})
	}

	t.Run("interrupted then resumed with the same --out", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var stderr bytes.Buffer
		if code := Main(ctx, []string{"crawl", "-o", out, srv.URL + "/"}, Streams{Out: &stderr, Err: &stderr}); code != 130 {
			t.Fatalf("exit %d, want 130; %s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "run the same command again to resume") {
			t.Errorf("no resume hint: %s", stderr.String())
		}
		stderr.Reset()
		if code := Main(t.Context(), []string{"crawl", "-o", out}, Streams{Out: &stderr, Err: &stderr}); code != 0 {
			t.Fatalf("resume: exit %d; %s", code, stderr.String())
		}
		data, _ := os.ReadFile(filepath.Join(out, "pages.jsonl"))
		if n := bytes.Count(data, []byte("\n")); n != 6 {
			t.Errorf("resumed crawl recorded %d pages, want 6", n)
		}
	})
}

// TestRetriesZeroMeansOneAttempt: --retries 0 makes a single attempt in
// both crew crawl and crew fetch (crawl.Config's zero is its default, 2).
func TestRetriesZeroMeansOneAttempt(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"crawl", "-q", "--ignore-robots", "--retries", "0", "-o", t.TempDir(), srv.URL + "/"},
		{"fetch", "-q", "--retries", "0", srv.URL + "/"},
	} {
		hits.Store(0)
		code, _, stderr := runCLI(t, "", args...)
		if code == 2 {
			t.Fatalf("%q: usage error: %s", args, stderr)
		}
		if n := hits.Load(); n != 1 {
			t.Errorf("crew %s --retries 0: %d attempts, want 1", args[0], n)
		}
	}
}
