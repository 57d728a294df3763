package fetch_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
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

// requestLog records the Range and conditional headers a server saw.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, h := range []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"} {
		if v := r.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s; ", h, v)
		}
	}
	l.seen = append(l.seen, strings.TrimSuffix(b.String(), "; "))
}

func (l *requestLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// TestRunContinueBySizeWithoutValidators: a server that sends neither ETag
// nor Last-Modified (a 2 MiB file cut half-way) used to be downloaded
// again whole. Now the rest is asked for with Range from the part file's
// size, only the rest crosses the network, and the next run keeps the
// complete file after a 416 whose total is its size.
func TestRunContinueBySizeWithoutValidators(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	var cut atomic.Bool
	cut.Store(true)
	var sent atomic.Int64
	var log requestLog
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		if cut.Load() {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:1<<20])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		// No modification time, no ETag: nothing to validate with.
		http.ServeContent(countingWriter{w, &sent}, r, "", time.Time{}, bytes.NewReader(body))
	})
	dir := t.TempDir()
	u := srv.URL + "/big.bin"
	opts := fetch.Options{Dir: dir, Continue: true}
	if got, _ := runAll(t, t.Context(), opts, inputs(u)); got[u].Error == "" {
		t.Fatalf("first run should be cut: %+v", got[u])
	}
	cut.Store(false)
	got, err := runAll(t, t.Context(), opts, inputs(u))
	sum := sha256.Sum256(body)
	if r := got[u]; err != nil || r.Error != "" || r.Status != 206 || r.ResumedFrom != 1<<20 || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("resume by size: %v %+v", err, r)
	}
	if n := sent.Load(); n != 1<<20 {
		t.Errorf("the server sent %d bytes for the resume, want the missing 1 MiB", n)
	}
	got, _ = runAll(t, t.Context(), opts, inputs(u))
	if r := got[u]; !r.Skipped || r.Status != 416 || r.Bytes != int64(len(body)) {
		t.Errorf("complete file without validators not kept by size: %+v", r)
	}
	want := []string{"", "Range: bytes=1048576-", "Range: bytes=2097152-"}
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// TestRunContinueChecksCompleteFiles: with Continue, a complete file is
// kept when the server says it is current — 304 to its ETag or its
// Last-Modified (kept on the file), or, with no validator, the same size —
// and downloaded again when it is not.
func TestRunContinueChecksCompleteFiles(t *testing.T) {
	v1, v2 := []byte("version one"), []byte("version two, longer")
	tests := []struct {
		name     string
		serve    func(w http.ResponseWriter, r *http.Request, body []byte)
		wantSeen string // the second run's request
	}{
		{"ETag", func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Header().Set("ETag", fmt.Sprintf(`"%d"`, len(body)))
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		}, `If-None-Match: "11"`},
		{"Last-Modified", func(w http.ResponseWriter, r *http.Request, body []byte) {
			http.ServeContent(w, r, "", time.Unix(int64(1e9+len(body)), 0), bytes.NewReader(body))
		}, "If-Modified-Since: Sun, 09 Sep 2001 01:46:51 GMT"},
		{"size, 416", func(w http.ResponseWriter, r *http.Request, body []byte) {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		}, "Range: bytes=11-"},
		{"size, Range ignored", func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Write(body)
		}, "Range: bytes=11-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body atomic.Pointer[[]byte]
			body.Store(&v1)
			var log requestLog
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				log.add(r)
				tt.serve(w, r, *body.Load())
			})
			dir := t.TempDir()
			u := srv.URL + "/f"
			opts := fetch.Options{Dir: dir, Continue: true}
			runAll(t, t.Context(), opts, inputs(u))
			got, _ := runAll(t, t.Context(), opts, inputs(u))
			if r := got[u]; !r.Skipped || r.Bytes != int64(len(v1)) || r.Error != "" {
				t.Errorf("unchanged file: %+v, want it kept", r)
			}
			want := tt.wantSeen
			if !fetch.AttrsSupported(dir) {
				want = "Range: bytes=11-" // no validators kept: checked by size
			}
			if seen := log.get(); len(seen) != 2 || seen[1] != want {
				t.Errorf("requests %q, want the second %q", seen, want)
			}
			body.Store(&v2)
			got, _ = runAll(t, t.Context(), opts, inputs(u))
			saved, _ := os.ReadFile(filepath.Join(hostDir(dir, srv), "f"))
			if r := got[u]; r.Skipped || r.Error != "" || !bytes.Equal(saved, v2) {
				t.Errorf("changed file: %+v, saved %q; want the new version", r, saved)
			}
		})
	}
}

// TestRunNoSideFiles: a finished download leaves nothing beside its files
// (no NAME%meta or NAME%part): what resuming needs is in StateDir alone,
// and its part directory is empty.
func TestRunNoSideFiles(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"x"`)
		w.Write([]byte(r.URL.Path))
	})
	for _, layout := range []fetch.Layout{fetch.LayoutFlat, fetch.LayoutTree} {
		dir := t.TempDir()
		opts := fetch.Options{Dir: dir, Layout: layout}
		got, err := runAll(t, t.Context(), opts, inputs(srv.URL+"/a", srv.URL+"/b/c", srv.URL+"/"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, r := range got {
			if r.Error != "" {
				t.Fatalf("%v: %s", layout, r.Error)
			}
			want[r.File] = true
		}
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			switch {
			case d.IsDir() && d.Name() == fetch.StateDir:
				parts, _ := os.ReadDir(filepath.Join(p, "part"))
				if len(parts) != 0 {
					t.Errorf("%v: part files left: %v", layout, parts)
				}
				return filepath.SkipDir
			case !d.IsDir() && !want[p]:
				t.Errorf("%v: side file %s", layout, p)
			}
			return nil
		})
	}
}

// TestRunDirInUse: a second Run on a directory another Run is using fails
// at once, naming the process, instead of waiting or mixing part files.
func TestRunDirInUse(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, err := runAll(t, t.Context(), fetch.Options{Dir: dir}, inputs(srv.URL+"/slow"))
		done <- err
	}()
	<-started
	start := time.Now()
	_, err := runAll(t, t.Context(), fetch.Options{Dir: dir}, inputs(srv.URL+"/other"))
	close(release)
	if !errors.Is(err, fetch.ErrDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Errorf("second Run: %v, want ErrDirInUse naming process %d", err, os.Getpid())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Run took %v to fail", d)
	}
	if err := <-done; err != nil {
		t.Errorf("first Run: %v", err)
	}
}

// TestRunChecksums: a checksum given with the input is always checked, the
// server's Repr-Digest or Digest with Verify; a mismatch fails the URL and
// leaves no file and no part file.
func TestRunChecksums(t *testing.T) {
	body := []byte("the body")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	bad := strings.Repeat("0", 64)
	b64 := func(hexsum string) string {
		b, _ := hex.DecodeString(hexsum)
		return base64.StdEncoding.EncodeToString(b)
	}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repr-good":
			w.Header().Set("Repr-Digest", "sha-512=:AAAA:, sha-256=:"+b64(good)+":")
		case "/repr-bad":
			w.Header().Set("Repr-Digest", "sha-256=:"+b64(bad)+":")
		case "/digest-good":
			w.Header().Set("Digest", "MD5=xyz, SHA-256="+b64(good))
		case "/digest-bad":
			w.Header().Set("Digest", "SHA-256="+b64(bad))
		}
		w.Write(body)
	})
	tests := []struct {
		path, line   string
		verify       bool
		wantVerified bool
		wantErr      bool
	}{
		{"/plain", "sha256=" + good, false, true, false},
		{"/plain", "sha256=" + strings.ToUpper(good), false, true, false},
		{"/plain", "sha256=" + bad, false, false, true},
		{"/repr-good", "", true, true, false},
		{"/repr-bad", "", true, false, true},
		{"/repr-bad", "", false, false, false}, // not asked to verify
		{"/digest-good", "", true, true, false},
		{"/digest-bad", "", true, false, true},
		{"/plain", "", true, false, false}, // nothing to check against
	}
	for _, tt := range tests {
		for _, withDir := range []bool{false, true} {
			name := fmt.Sprintf("%s %s verify=%v dir=%v", tt.path, tt.line, tt.verify, withDir)
			opts := fetch.Options{Verify: tt.verify}
			if withDir {
				opts.Dir = t.TempDir()
			}
			in := inputs(srv.URL + tt.path + " " + tt.line)
			got, _ := runAll(t, t.Context(), opts, in)
			r := got[srv.URL+tt.path]
			if r.Verified != tt.wantVerified || errors.Is(r.Err, fetch.ErrChecksum) != tt.wantErr || !tt.wantErr && r.Err != nil {
				t.Errorf("%s: %+v", name, r)
			}
			if withDir && tt.wantErr {
				if r.File != "" {
					t.Errorf("%s: file reported for a body that failed its checksum", name)
				}
				entries, _ := os.ReadDir(hostDir(opts.Dir, srv))
				parts, _ := os.ReadDir(filepath.Join(opts.Dir, fetch.StateDir, "part"))
				if len(entries)+len(parts) != 0 {
					t.Errorf("%s: left %v and part files %v", name, entries, parts)
				}
			}
		}
	}
	// A bad checksum field is a bad input line, named.
	for in := range fetch.ReadInputs(strings.NewReader(srv.URL + "/x sha256=abc\n")) {
		if !errors.Is(in.Err, fetch.ErrBadInput) || !strings.Contains(in.Err.Error(), "64 hex digits") {
			t.Errorf("short checksum: %v", in.Err)
		}
	}
}

// TestRunChecksumAfterResume: a resumed download (no validators, so
// trusted on size) is proved by the server's Repr-Digest of the whole
// resource: joined from the wrong version it fails and is discarded.
func TestRunChecksumAfterResume(t *testing.T) {
	v1 := bytes.Repeat([]byte("a"), 100_000)
	v2 := bytes.Repeat([]byte("b"), 100_000) // same size: size alone cannot tell
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", "100000")
			w.Write(v1[:40_000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		sum := sha256.Sum256(v2)
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(v2))
	})
	dir := t.TempDir()
	u := srv.URL + "/f"
	opts := fetch.Options{Dir: dir, Continue: true, Verify: true}
	runAll(t, t.Context(), opts, inputs(u))
	got, _ := runAll(t, t.Context(), opts, inputs(u))
	if r := got[u]; !errors.Is(r.Err, fetch.ErrChecksum) || r.ResumedFrom != 40_000 {
		t.Fatalf("spliced versions: %+v, want ErrChecksum after resuming from 40000", r)
	}
	got, _ = runAll(t, t.Context(), opts, inputs(u))
	saved, _ := os.ReadFile(filepath.Join(hostDir(dir, srv), "f"))
	if r := got[u]; r.Err != nil || !r.Verified || r.ResumedFrom != 0 || !bytes.Equal(saved, v2) {
		t.Errorf("after the discarded splice: %+v, want the new version fetched whole", r)
	}
}

// TestRunLayoutTree saves with wget's tree layout, and refuses (loudly,
// deleting nothing) a file where a directory must go and the reverse.
func TestRunLayoutTree(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.RequestURI()) })
	dir := t.TempDir()
	host := strings.TrimPrefix(srv.URL, "http://")
	in := inputs(srv.URL+"/", srv.URL+"/a/", srv.URL+"/a/b.html?x=1", srv.URL+"/f", srv.URL+"/f/g", srv.URL+"/d/x", srv.URL+"/d")
	var results []fetch.Result
	_, err := fetch.Run(t.Context(), fetch.Options{Dir: dir, Layout: fetch.LayoutTree, Concurrency: 1}, slices.Values(in), func(r fetch.Result) error {
		results = append(results, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/": "index.html", "/a/": "a/index.html", "/a/b.html?x=1": "a/b.html?x=1", "/f": "f", "/d/x": "d/x",
	}
	for _, r := range results {
		p := strings.TrimPrefix(r.URL, srv.URL)
		rel, ok := want[p]
		if !ok {
			if !errors.Is(r.Err, fetch.ErrPathConflict) {
				t.Errorf("%s: %+v, want ErrPathConflict", p, r)
			}
			continue
		}
		file := filepath.Join(dir, host, filepath.FromSlash(rel))
		if b, _ := os.ReadFile(file); r.Err != nil || r.File != file || string(b) != p {
			t.Errorf("%s: %+v; %s holds %q", p, r, file, b)
		}
	}
}

// TestRunStreamsInput: the first request goes out while the input is still
// open, and results come before the input ends.
func TestRunStreamsInput(t *testing.T) {
	hit := make(chan string, 4)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { hit <- r.URL.Path })
	pr, pw := io.Pipe()
	emitted := make(chan string, 4)
	done := make(chan error, 1)
	go func() {
		_, err := fetch.Run(t.Context(), fetch.Options{}, fetch.ReadInputs(pr), func(r fetch.Result) error {
			emitted <- r.URL
			return nil
		})
		done <- err
	}()
	fmt.Fprintln(pw, srv.URL+"/first")
	select {
	case p := <-hit:
		if p != "/first" {
			t.Errorf("first request for %s", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no request while the input stays open")
	}
	if u := <-emitted; u != srv.URL+"/first" {
		t.Errorf("first result for %s", u)
	}
	fmt.Fprintln(pw, srv.URL+"/second")
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if u := <-emitted; u != srv.URL+"/second" {
		t.Errorf("second result for %s", u)
	}
}

// TestRunRedactsCredentials: a password in a URL is used for the request
// but never written out: not in url or final_url, not in errors, not in the
// resume state.
func TestRunRedactsCredentials(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		user, pw, ok := r.BasicAuth()
		switch {
		case !ok || user != "alice" || pw != "s3cret":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "/target", http.StatusFound)
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
		default:
			w.Write([]byte("ok"))
		}
	})
	withCreds := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := fetch.Run(t.Context(), fetch.Options{Dir: dir}, slices.Values(inputs(withCreds+"/ok", withCreds+"/missing", withCreds+"/redirect")), func(r fetch.Result) error {
		fmt.Fprintf(&out, "%+v\n", r)
		if !strings.HasPrefix(r.URL, "http://REDACTED@") {
			t.Errorf("url %q not redacted", r.URL)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(out.String(), "alice") {
		t.Errorf("credentials in the results:\n%s", out.String())
	}
	if strings.Count(out.String(), "Status:200") != 2 || !strings.Contains(out.String(), "HTTP 404") {
		t.Errorf("the requests did not carry the credentials:\n%s", out.String())
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if b, _ := os.ReadFile(p); !d.IsDir() && bytes.Contains(b, []byte("s3cret")) {
			t.Errorf("password written to %s", p)
		}
		return nil
	})
	if got := fetch.Redact("http://u:p@h/x"); got != "http://REDACTED@h/x" {
		t.Errorf("Redact = %q", got)
	}
	if got := fetch.Redact("http://u:p@h/%zz"); strings.Contains(got, "u:p") {
		t.Errorf("Redact of an unparsable URL = %q", got)
	}
}
