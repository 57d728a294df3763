package fetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew/fetch"
)

func inputs(urls ...string) []fetch.Input {
	return slices.Collect(fetch.ReadInputs(strings.NewReader(strings.Join(urls, "\n"))))
}

func runAll(t *testing.T, ctx context.Context, opts fetch.Options, in []fetch.Input) (map[string]fetch.Result, error) {
	t.Helper()
	if opts.BackoffBase == 0 {
		opts.BackoffBase, opts.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	got := map[string]fetch.Result{}
	_, err := fetch.Run(ctx, opts, slices.Values(in), func(r fetch.Result) error {
		got[r.URL] = r
		return nil
	})
	return got, err
}

func TestReadInputs(t *testing.T) {
	long := "http://example.com/" + strings.Repeat("a", fetch.MaxURLLength)
	text := "# comment\n\nhttp://a.example/x\n  https://b.example/  \nnot a url\nftp://c.example/\n" + long + "\nhttp://%zz\n"
	var got []string
	for in := range fetch.ReadInputs(strings.NewReader(text)) {
		s := in.URL
		if in.Err != nil {
			if !errors.Is(in.Err, fetch.ErrBadInput) {
				t.Errorf("line %d: %v does not wrap ErrBadInput", in.Line, in.Err)
			}
			s = "bad"
		}
		got = append(got, s+"@"+string(rune('0'+in.Line)))
	}
	want := []string{"http://a.example/x@3", "https://b.example/@4", "bad@5", "bad@6", "bad@7", "bad@8"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestReadInputsOverlongLineSkipped: a line too long to hold (over
// MaxLineLength) is reported as bad input with its line number and skipped;
// the lines after it are still read. A long comment is just a comment.
func TestReadInputsOverlongLineSkipped(t *testing.T) {
	huge := strings.Repeat("z", 2*fetch.MaxLineLength)
	text := "http://a.example/1\nhttp://a.example/" + huge + "\n#" + huge + "\nhttp://a.example/2\n  http://a.example/3  \n" + huge
	var got []string
	for in := range fetch.ReadInputs(strings.NewReader(text)) {
		s := in.URL
		if in.Err != nil {
			if !errors.Is(in.Err, fetch.ErrBadInput) || !strings.Contains(in.Err.Error(), "longer than") {
				t.Errorf("line %d: error %v, want bad input naming the limit", in.Line, in.Err)
			}
			s = "bad"
		}
		if len(s) > 100 {
			t.Errorf("line %d: URL of %d bytes kept for a skipped line", in.Line, len(s))
		}
		got = append(got, fmt.Sprintf("%s@%d", s, in.Line))
	}
	want := []string{"http://a.example/1@1", "bad@2", "http://a.example/2@4", "http://a.example/3@5", "bad@6"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestRunBadLinesDoNotStopOthers(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<title>ok</title>")) })
	got, err := runAll(t, t.Context(), fetch.Options{}, inputs(srv.URL+"/1", "mailto:x@y", srv.URL+"/2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["mailto:x@y"].Line != 2 || got["mailto:x@y"].Error == "" {
		t.Fatalf("results %+v", got)
	}
	for _, p := range []string{"/1", "/2"} {
		r := got[srv.URL+p]
		if r.Error != "" || r.Status != 200 || r.Title != "ok" || r.Bytes != 17 {
			t.Errorf("%s: %+v", p, r)
		}
		sum := sha256.Sum256([]byte("<title>ok</title>"))
		if r.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("sha256 %s", r.SHA256)
		}
	}
}

func TestRunDirPathTraversal(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.URL.RequestURI())) })
	paths := []string{
		"/../../etc/passwd", "/%2e%2e/%2e%2e/x", "/a/..%2f..%2fb", "/..", "/.hidden",
		"/dir/", "/dir", "/x?q=1", "/x?q=2", "/x?q=../../y", "/", "/%00nul", "/a\\..\\b",
	}
	var urls []string
	for _, p := range paths {
		urls = append(urls, srv.URL+p)
	}
	dir := t.TempDir()
	got, err := runAll(t, t.Context(), fetch.Options{Dir: dir}, inputs(urls...))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, r := range got {
		if r.Error != "" {
			t.Errorf("%s: %s", r.URL, r.Error)
			continue
		}
		rel, err := filepath.Rel(dir, r.File)
		if err != nil || !filepath.IsLocal(rel) {
			t.Errorf("%s saved outside dir: %s", r.URL, r.File)
		}
		if other, dup := files[r.File]; dup {
			t.Errorf("%s and %s share file %s", r.URL, other, r.File)
		}
		files[r.File] = r.URL
	}
	// Nothing may appear in dir but the host directory and the state.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || !entries[0].IsDir() || entries[0].Name() != fetch.StateDir || !entries[1].IsDir() {
		t.Errorf("dir holds %v, want the state and one host directory", entries)
	}
	if len(files) != len(got) {
		t.Errorf("%d files for %d URLs", len(files), len(got))
	}
}

// hostDir is where Run saves srv's files under dir (LayoutFlat).
func hostDir(dir string, srv *httptest.Server) string {
	u, _ := url.Parse(srv.URL)
	return filepath.Join(dir, strings.ReplaceAll(u.Host, ":", "%3A"))
}

// partFile is where Run keeps the unfinished body of srv's file name
// (LayoutFlat) under dir.
func partFile(dir string, srv *httptest.Server, name string) string {
	u, _ := url.Parse(srv.URL)
	sum := sha256.Sum256([]byte(strings.ReplaceAll(u.Host, ":", "%3A") + "/" + name))
	return filepath.Join(dir, fetch.StateDir, "part", hex.EncodeToString(sum[:16]))
}

// TestRunDirSymlinksStayInside plants symbolic links in the download
// directory pointing outside it — as a part file, as a complete file, as
// the host directory and as the state directory itself — and checks that
// no download writes or reads through them: files outside keep their
// content, nothing new appears there, and every such URL fails rather than
// reporting a saved file.
func TestRunDirSymlinksStayInside(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte("downloaded"))
	})
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A part file that is a link out.
	dir := t.TempDir()
	if _, err := fetch.Run(t.Context(), fetch.Options{Dir: dir}, slices.Values([]fetch.Input(nil)), nil); err != nil {
		t.Fatal(err) // creates the state directory
	}
	if err := os.Symlink(victim, partFile(dir, srv, "part")); err != nil {
		t.Fatal(err)
	}
	got, err := runAll(t, t.Context(), fetch.Options{Dir: dir, Continue: true}, inputs(srv.URL+"/part", srv.URL+"/ok"))
	if err != nil {
		t.Fatal(err)
	}
	if r := got[srv.URL+"/part"]; r.Error == "" && r.ResumedFrom != 0 {
		t.Errorf("a part file linked out of the directory was resumed: %+v", r)
	}
	if r := got[srv.URL+"/ok"]; r.Error != "" {
		t.Errorf("/ok beside the link: %s", r.Error)
	}

	// A complete file that is a link out: --continue must not describe
	// (read) the file outside as if it were the download.
	dir2 := t.TempDir()
	hd2 := hostDir(dir2, srv)
	os.MkdirAll(hd2, 0o755)
	os.Symlink(victim, filepath.Join(hd2, "done"))
	got, _ = runAll(t, t.Context(), fetch.Options{Dir: dir2, Continue: true}, inputs(srv.URL+"/done"))
	if r := got[srv.URL+"/done"]; r.Skipped {
		t.Errorf("a link out of the directory taken as the complete download: %+v", r)
	}

	// The host directory itself a link out.
	dir3 := t.TempDir()
	if err := os.Symlink(outside, hostDir(dir3, srv)); err != nil {
		t.Fatal(err)
	}
	got, _ = runAll(t, t.Context(), fetch.Options{Dir: dir3}, inputs(srv.URL+"/y"))
	if r := got[srv.URL+"/y"]; r.Error == "" || r.File != "" {
		t.Errorf("saved through a linked host directory: %+v", r)
	}

	// The state directory a link out: Run refuses to start.
	dir4 := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir4, fetch.StateDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := runAll(t, t.Context(), fetch.Options{Dir: dir4}, inputs(srv.URL+"/z")); err == nil {
		t.Error("Run used a state directory linked out of the download directory")
	}

	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("file outside the directory overwritten: now %q", b)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("files appeared outside the directory: %v", entries)
	}
}

// TestRunResumeAfterCut cuts the connection half-way, then resumes with
// --continue: the second run must ask for the rest with Range and end with
// the whole body; a third run must skip the complete file.
func TestRunResumeAfterCut(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB
	var cut atomic.Bool
	cut.Store(true)
	var ranges []string
	var mu sync.Mutex
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if cut.Load() {
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Content-Length", "262144")
			w.Write(body[:100_000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
	dir := t.TempDir()
	u := srv.URL + "/big.bin"
	opts := fetch.Options{Dir: dir, Continue: true}

	got, _ := runAll(t, t.Context(), opts, inputs(u))
	if got[u].Error == "" {
		t.Fatalf("first run should fail: %+v", got[u])
	}
	part := partFile(dir, srv, "big.bin")
	fi, err := os.Stat(part)
	if err != nil || fi.Size() != 100_000 {
		t.Fatalf("part file after cut: %v %v", fi, err)
	}

	cut.Store(false)
	got, err = runAll(t, t.Context(), opts, inputs(u))
	if err != nil || got[u].Error != "" {
		t.Fatalf("resume: %v %+v", err, got[u])
	}
	sum := sha256.Sum256(body)
	if r := got[u]; r.Status != 206 || r.Bytes != int64(len(body)) || r.ResumedFrom != 100_000 || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("resumed result %+v", r)
	}
	if b, _ := os.ReadFile(got[u].File); !bytes.Equal(b, body) {
		t.Errorf("saved file differs from body")
	}
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("part file left behind: %v", err)
	}

	got, err = runAll(t, t.Context(), opts, inputs(u))
	if err != nil || !got[u].Skipped || got[u].Status != 304 || got[u].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("third run should skip the complete file: %v %+v", err, got[u])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ranges) != 3 || ranges[0] != "" || ranges[1] != "bytes=100000-" {
		t.Errorf("Range headers seen %q", ranges)
	}
}

// TestRunResumeChecksContentRange: a resumed download (10 000 of 65 536
// bytes in the part file) is marked complete only when the server's answer
// really continues the part file to the end. A 206 for another range, or
// of a resource of another size, makes the download start over with a plain
// request (which these servers may answer wrongly too: then it fails with
// ErrBadRange and leaves the part file as it was); a 206 that stops short
// fails, keeping what it did add for the next --continue; a 200 (Range
// ignored) starts over from byte 0.
func TestRunResumeChecksContentRange(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<12)  // 64 KiB
	other := bytes.Repeat([]byte("fedcba9876543210"), 1<<11) // 32 KiB: a new version
	const cut = 10_000
	total := len(body)
	partial := func(w http.ResponseWriter, cr string, data []byte) {
		if cr != "" {
			w.Header().Set("Content-Range", cr)
		}
		w.WriteHeader(http.StatusPartialContent)
		w.Write(data)
	}
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter, r *http.Request)
		want     []byte // the saved file, nil when the run must fail
		wantPart int    // bytes in the part file after a failure
	}{
		{"206 from byte 0, then whole", func(w http.ResponseWriter, r *http.Request) {
			partial(w, fmt.Sprintf("bytes 0-%d/%d", total-1, total), body)
		}, body, 0},
		{"206 from a later byte", func(w http.ResponseWriter, r *http.Request) {
			partial(w, fmt.Sprintf("bytes 20000-%d/%d", total-1, total), body[20000:])
		}, nil, cut},
		{"206 without Content-Range", func(w http.ResponseWriter, r *http.Request) {
			partial(w, "", body[cut:])
		}, nil, cut},
		{"206 stopping before the end", func(w http.ResponseWriter, r *http.Request) {
			partial(w, fmt.Sprintf("bytes %d-19999/%d", cut, total), body[cut:20000])
		}, nil, 20000},
		{"206 body shorter than its range", func(w http.ResponseWriter, r *http.Request) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", cut, total-1, total), body[cut:15000])
		}, nil, 15000},
		{"206 of another size, then the new version whole", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") == "" {
				w.Write(other)
				return
			}
			partial(w, fmt.Sprintf("bytes %d-%d/%d", cut, len(other)-1, len(other)), other[cut:])
		}, other, 0},
		{"200 ignoring Range", func(w http.ResponseWriter, r *http.Request) {
			w.Write(body)
		}, body, 0},
		{"206 continuing to the end", func(w http.ResponseWriter, r *http.Request) {
			partial(w, fmt.Sprintf("bytes %d-%d/%d", cut, total-1, total), body[cut:])
		}, body, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var fix atomic.Bool // answer correctly from now on
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case calls.Add(1) == 1:
					w.Header().Set("Content-Length", fmt.Sprint(total))
					w.Write(body[:cut])
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler) // cut the first download
				case fix.Load():
					http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
				default:
					tt.answer(w, r)
				}
			})
			dir := t.TempDir()
			u := srv.URL + "/f.bin"
			final := filepath.Join(hostDir(dir, srv), "f.bin")
			opts := fetch.Options{Dir: dir, Continue: true}
			if got, _ := runAll(t, t.Context(), opts, inputs(u)); got[u].Error == "" {
				t.Fatalf("first run should be cut: %+v", got[u])
			}

			got, err := runAll(t, t.Context(), opts, inputs(u))
			if err != nil {
				t.Fatal(err)
			}
			r := got[u]
			if tt.want != nil {
				saved, _ := os.ReadFile(final)
				if r.Error != "" || !bytes.Equal(saved, tt.want) || r.Bytes != int64(len(tt.want)) {
					t.Fatalf("result %+v; saved %d bytes, want %d", r, len(saved), len(tt.want))
				}
				return
			}
			if !errors.Is(r.Err, fetch.ErrBadRange) || r.File != "" {
				t.Errorf("result %+v, want an error wrapping ErrBadRange", r)
			}
			if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a wrong file was marked complete: %v", err)
			}
			if b, _ := os.ReadFile(partFile(dir, srv, "f.bin")); !bytes.Equal(b, body[:tt.wantPart]) {
				t.Errorf("part file holds %d bytes, want the body's first %d", len(b), tt.wantPart)
			}

			// Whatever is kept resumes correctly from a server that behaves.
			fix.Store(true)
			got, _ = runAll(t, t.Context(), opts, inputs(u))
			saved, _ := os.ReadFile(final)
			if r := got[u]; r.Error != "" || !bytes.Equal(saved, body) || r.ResumedFrom != int64(tt.wantPart) {
				t.Errorf("resume from a correct server: %+v; saved %d bytes", r, len(saved))
			}
		})
	}
}

// TestRunDuplicateTargetsFetchedOnce: with Dir, inputs that would be saved
// to the same file — the same line again, or a URL differing only in
// fragment or scheme — are not downloaded (concurrently, into one part
// file) again: each later one is reported as a duplicate of the first, not
// as a failure.
func TestRunDuplicateTargetsFetchedOnce(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1<<20)
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(body)
	})
	u := srv.URL + "/same"
	dir := t.TempDir()
	in := inputs(u, srv.URL+"/other", u, u+"#frag", strings.Replace(u, "http:", "https:", 1))
	var results []fetch.Result
	st, err := fetch.Run(t.Context(), fetch.Options{Dir: dir}, slices.Values(in), func(r fetch.Result) error {
		results = append(results, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("%d requests for 2 distinct files", n)
	}
	for _, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("line %d: %v", r.Line, r.Err)
		case r.Line <= 2 && r.Duplicate:
			t.Errorf("line %d reported as a duplicate", r.Line)
		case r.Line > 2 && (!r.Duplicate || r.DuplicateOf != 1 || r.File != "" || r.Bytes != 0):
			t.Errorf("line %d: %+v, want a duplicate of line 1", r.Line, r)
		}
	}
	if st.OK != 2 || st.Duplicates != 3 || st.Failed != 0 {
		t.Errorf("stats %+v, want 2 ok and 3 duplicates", st)
	}
	if saved, _ := os.ReadFile(filepath.Join(hostDir(dir, srv), "same")); !bytes.Equal(saved, body) {
		t.Errorf("saved file has %d bytes, want %d", len(saved), len(body))
	}
}

func TestRunMaxSizeRemovesPart(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 1<<20)) })
	dir := t.TempDir()
	got, _ := runAll(t, t.Context(), fetch.Options{Dir: dir, Config: fetch.Config{MaxBodySize: 1000}}, inputs(srv.URL+"/huge"))
	r := got[srv.URL+"/huge"]
	if !strings.Contains(r.Error, fetch.ErrTooLarge.Error()) || r.File != "" {
		t.Errorf("result %+v", r)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if d.IsDir() && d.Name() == fetch.StateDir {
			if parts, _ := os.ReadDir(filepath.Join(p, "part")); len(parts) > 0 {
				left = append(left, "part file "+parts[0].Name())
			}
			return filepath.SkipDir
		}
		if !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("files left: %q", left)
	}
}

// TestRunMaxSizeCountsResumedBytes: MaxBodySize caps the whole file, not
// only what one response adds: resuming 10 000 bytes with a 206 for the
// remaining 55 536 of 65 536 fails with ErrTooLarge under a 60 000-byte
// cap, and the part file goes as it does for a fresh download.
func TestRunMaxSizeCountsResumedBytes(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:10_000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
	dir := t.TempDir()
	u := srv.URL + "/f.bin"
	opts := fetch.Options{Dir: dir, Continue: true, Config: fetch.Config{MaxBodySize: 60_000}}
	if got, _ := runAll(t, t.Context(), opts, inputs(u)); got[u].Error == "" {
		t.Fatalf("first run should be cut: %+v", got[u])
	}
	got, _ := runAll(t, t.Context(), opts, inputs(u))
	if r := got[u]; !errors.Is(r.Err, fetch.ErrTooLarge) || r.File != "" {
		t.Errorf("resume past the cap: %+v, want ErrTooLarge", r)
	}
	entries, _ := os.ReadDir(hostDir(dir, srv))
	parts, _ := os.ReadDir(filepath.Join(dir, fetch.StateDir, "part"))
	if len(entries)+len(parts) != 0 {
		t.Errorf("files left: %v, part files %v", entries, parts)
	}
}

// TestRunCancel: cancelling stops in-flight downloads, every result
// already emitted stands, and Run returns the context's error.
func TestRunCancel(t *testing.T) {
	started := make(chan struct{}, 64)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			return
		}
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	in := inputs(srv.URL+"/fast", srv.URL+"/slow1", srv.URL+"/slow2")
	for i := range 50 {
		in = append(in, fetch.Input{URL: srv.URL + "/more" + string(rune('a'+i%26))})
	}
	go func() {
		<-started
		<-started
		cancel()
	}()
	var n int
	_, err := fetch.Run(ctx, fetch.Options{Concurrency: 4, Dir: t.TempDir()}, slices.Values(in), func(r fetch.Result) error {
		n++
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if n >= len(in) {
		t.Errorf("all %d URLs reported despite cancellation", n)
	}
}

func TestFileNameMapping(t *testing.T) {
	tests := map[string]string{
		"http://Example.COM/":                   "example.com/%root",
		"http://example.com":                    "example.com/%root",
		"http://example.com//":                  "example.com/%2F",
		"http://example.com/a/b.html":           "example.com/a%2Fb.html",
		"http://example.com/a/b.html?x=1&y=2":   "example.com/a%2Fb.html%3Fx%3D1%26y%3D2",
		"http://example.com:8080/../etc/passwd": "example.com%3A8080/%2E.%2Fetc%2Fpasswd",
		"http://example.com/.htaccess":          "example.com/%2Ehtaccess",
		"http://example.com/caf%C3%A9":          "example.com/caf%25C3%25A9",
	}
	for in, want := range tests {
		u, _ := url.Parse(in)
		if got := filepath.ToSlash(fetch.FileName(u)); got != want {
			t.Errorf("FileName(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzFileName(f *testing.F) {
	for _, s := range []string{"http://a/", "http://a/../../x", "http://a/x?q=1", "http://[::1]:80/.%2e/", "http://a/" + strings.Repeat("z", 300)} {
		f.Add(s, "http://a/x?q=2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ua, err1 := fetch.ParseURL(a)
		ub, err2 := fetch.ParseURL(b)
		if err1 != nil || err2 != nil {
			return
		}
		na, nb := fetch.FileName(ua), fetch.FileName(ub)
		for _, n := range []string{na, nb} {
			if !filepath.IsLocal(n) || strings.Count(filepath.ToSlash(n), "/") != 1 {
				t.Fatalf("FileName gave %q", n)
			}
			for _, part := range strings.Split(filepath.ToSlash(n), "/") {
				if part == "" || part == "." || part == ".." || len(part) > 255 || strings.HasPrefix(part, ".") {
					t.Fatalf("bad component %q in %q", part, n)
				}
			}
		}
		same := strings.EqualFold(ua.Host, ub.Host) && ua.EscapedPath() == ub.EscapedPath() &&
			ua.RawQuery == ub.RawQuery && ua.ForceQuery == ub.ForceQuery
		// Treat "" and "/" paths as the same resource.
		if !same && strings.EqualFold(ua.Host, ub.Host) && ua.RawQuery == ub.RawQuery && ua.ForceQuery == ub.ForceQuery &&
			strings.TrimPrefix(ua.EscapedPath(), "/") == "" && strings.TrimPrefix(ub.EscapedPath(), "/") == "" {
			same = true
		}
		if !same && na == nb {
			t.Fatalf("%q and %q both map to %q", a, b, na)
		}
	})
}
