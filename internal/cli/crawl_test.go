package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestCrawlCommandStates: the messages and exit codes of crew crawl's
// states — a rerun that extends the crawl, one with nothing left, a start
// host that does not answer (4), a directory another crawl holds (1).
func TestCrawlCommandStates(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<a href="/a">a</a>`)
		case "/a":
			fmt.Fprint(w, `<a href="/b">b</a>`)
		case "/slow":
			<-release
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "out")
	crawlCLI := func(args ...string) (int, string) {
		t.Helper()
		var stderr bytes.Buffer
		code := Main(t.Context(), append([]string{"crawl", "-o", out}, args...), Streams{In: strings.NewReader(""), Out: &stderr, Err: &stderr})
		return code, stderr.String()
	}
	if code, msg := crawlCLI("--depth", "1", srv.URL+"/"); code != 0 || !strings.Contains(msg, "1 links found beyond --depth 1") {
		t.Fatalf("depth 1: exit %d, %s", code, msg)
	}
	if code, msg := crawlCLI("--depth", "2"); code != 0 || !strings.Contains(msg, "1 pages in") || !strings.Contains(msg, "in all 3 pages, 3 URLs in urls.txt") {
		t.Errorf("rerun at depth 2: exit %d, %s; want one more page, 3 in all", code, msg)
	}
	if code, msg := crawlCLI("--depth", "2"); code != 0 || !strings.Contains(msg, "nothing left to crawl in "+out) || !strings.Contains(msg, "delete "+filepath.Join(out, "state")) {
		t.Errorf("rerun with nothing left: exit %d, %s", code, msg)
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/"
	dead.Close()
	code, msg := runCLIErr(t, "crawl", "-o", filepath.Join(t.TempDir(), "o"), "--retries", "0", deadURL)
	if code != 4 || !strings.Contains(msg, "start URL "+deadURL+": host unreachable") {
		t.Errorf("unreachable start host: exit %d, %s; want 4 and the host named", code, msg)
	}

	held := filepath.Join(t.TempDir(), "held")
	first := make(chan int, 1)
	go func() {
		code, _ := runCLIErr(t, "crawl", "-q", "--ignore-robots", "-o", held, srv.URL+"/slow")
		first <- code
	}()
	lock := filepath.Join(held, ".crew-crawl.lock")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, _ := os.ReadFile(lock); len(bytes.TrimSpace(b)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first crawl never took its lock")
		}
		time.Sleep(time.Millisecond) // polling the first crawl's lock file
	}
	code, msg = runCLIErr(t, "crawl", "-o", held, srv.URL+"/")
	want := fmt.Sprintf("%s is being crawled by process %d", held, os.Getpid())
	if code != 1 || !strings.Contains(msg, want) {
		t.Errorf("second crawl on a held directory: exit %d, %s; want 1 and %q", code, msg, want)
	}
	close(release)
	if code := <-first; code != 0 {
		t.Errorf("first crawl: exit %d", code)
	}
}

func runCLIErr(t *testing.T, args ...string) (int, string) {
	var stderr bytes.Buffer
	code := Main(t.Context(), args, Streams{In: strings.NewReader(""), Out: &stderr, Err: &stderr})
	return code, stderr.String()
}

// TestCrawlSave: crew crawl --save writes a mirror in the tree layout by
// default and the flat one with --layout flat.
func TestCrawlSave(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<title>home</title><a href="/d/p.html">p</a>`)
		case "/d/p.html":
			fmt.Fprint(w, `<title>p</title>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		layout []string
		files  []string
	}{
		{nil, []string{"index.html", "d/p.html"}},
		{[]string{"--layout", "flat"}, []string{"%root", "d%2Fp.html"}}, // the host too is escaped: HOST%3APORT
	} {
		dir := t.TempDir()
		save := filepath.Join(dir, "mirror")
		args := append([]string{"crawl", "-q", "--ignore-robots", "-o", filepath.Join(dir, "out"), "--save", save}, tc.layout...)
		if code, msg := runCLIErr(t, append(args, srv.URL+"/")...); code != 0 {
			t.Fatalf("%v: exit %d, %s", tc.layout, code, msg)
		}
		h := host
		if tc.layout != nil {
			h = strings.ReplaceAll(host, ":", "%3A")
		}
		for _, f := range tc.files {
			if _, err := os.Stat(filepath.Join(save, h, filepath.FromSlash(f))); err != nil {
				t.Errorf("%v: %v", tc.layout, err)
			}
		}
	}
	if code, msg := runCLIErr(t, "crawl", "--layout", "tree", srv.URL+"/"); code != 2 || !strings.Contains(msg, "--save") {
		t.Errorf("--layout without --save: exit %d, %s; want a usage error", code, msg)
	}
}

// TestCrawlTakesSeconds: --delay and --timeout take bare seconds, as wget's
// --wait and curl's --max-time do, or a Go duration; the delay is kept
// between the requests the server sees.
func TestCrawlTakesSeconds(t *testing.T) {
	var (
		mu     sync.Mutex
		starts []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Content-Type", "text/html")
		if n < 3 {
			fmt.Fprintf(w, `<a href="/%d">next</a><a href="/%d">next</a>`, n+1, n+10)
		}
	}))
	defer srv.Close()
	code, _, stderr := runCLI(t, "", "crawl", "-q", "--ignore-robots", "--delay", "0.05", "--timeout", "5", "-o", t.TempDir(), srv.URL+"/0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) < 5 {
		t.Fatalf("%d requests, want at least 5", len(starts))
	}
	slices.SortFunc(starts, time.Time.Compare)
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 50*time.Millisecond {
			t.Errorf("requests %d and %d %v apart with --delay 0.05", i-1, i, gap)
		}
	}
	for _, bad := range []string{"-1", "soon", "NaN"} {
		if code, _, stderr := runCLI(t, "", "crawl", "--delay", bad, "-o", t.TempDir(), srv.URL); code != exitUsage || !strings.Contains(stderr, "--delay") {
			t.Errorf("--delay %s: exit %d, %q", bad, code, stderr)
		}
	}
}
