package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew/internal/proxytest"
)

// headerRecorder is a server that remembers the headers of the last
// request for each path and sets a cookie on /set-cookie.
type headerRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	last map[string]http.Header
}

func newHeaderRecorder(t *testing.T) *headerRecorder {
	h := &headerRecorder{last: map[string]http.Header{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.last[r.URL.Path] = r.Header.Clone()
		h.mu.Unlock()
		if r.URL.Path == "/set-cookie" {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s1"})
			http.SetCookie(w, &http.Cookie{Name: "pref", Value: "dark", Path: "/", MaxAge: 3600, HttpOnly: true})
		}
		w.Write([]byte("<title>ok</title>"))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *headerRecorder) get(path string) http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last[path]
}

// fetchOK runs crew fetch with args and fails the test unless it exits 0.
func fetchOK(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := runCLI(t, "", append([]string{"fetch"}, args...)...)
	if code != 0 {
		t.Fatalf("crew fetch %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// curlOK runs curl with args when it is installed, or skips the test.
func curlOK(t *testing.T, args ...string) {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	if out, err := exec.Command(curl, append([]string{"-s", "-S", "-o", os.DevNull}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestFetchRequestFlagsMatchCurl sends the same flags with crew fetch and
// curl and compares the headers the server got.
func TestFetchRequestFlagsMatchCurl(t *testing.T) {
	srv := newHeaderRecorder(t)
	dir := t.TempDir()
	netrc := filepath.Join(dir, "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login nora password n3trc\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		headers []string // compared
		absent  []string // sent by neither
	}{
		{"-H repeated, dropped, empty", []string{"-H", "X-A: 1", "-H", "X-A: 2", "-H", "User-Agent:", "-H", "X-Empty;"},
			[]string{"X-A", "X-Empty"}, []string{"User-Agent"}},
		{"--user-agent", []string{"--user-agent", "agent/7"}, []string{"User-Agent"}, nil},
		{"--user", []string{"--user", "alice:pa:ss"}, []string{"Authorization"}, nil},
		{"--netrc-file", []string{"--netrc-file", netrc}, []string{"Authorization"}, nil},
		{"--cookie literal", []string{"--cookie", "a=1; b=2"}, []string{"Cookie"}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crewPath, curlPath := fmt.Sprintf("/crew%d", i), fmt.Sprintf("/curl%d", i)
			fetchOK(t, append(tt.args, "-q", srv.URL+crewPath)...)
			curlOK(t, append(tt.args, srv.URL+curlPath)...)
			crewH, curlH := srv.get(crewPath), srv.get(curlPath)
			for _, h := range tt.headers {
				if !slices.Equal(crewH.Values(h), curlH.Values(h)) || len(crewH.Values(h)) == 0 {
					t.Errorf("%s: crew sent %q, curl %q", h, crewH.Values(h), curlH.Values(h))
				}
			}
			for _, h := range tt.absent {
				if _, ok := crewH[h]; ok {
					t.Errorf("%s sent by crew: %q", h, crewH.Values(h))
				}
				if _, ok := curlH[h]; ok {
					t.Errorf("%s sent by curl: %q", h, curlH.Values(h))
				}
			}
		})
	}
}

// TestFetchCookieFilesMatchCurl: a jar curl -c wrote is read by crew
// --cookie, and one crew --cookie-jar wrote is read by curl -b; both send
// the same Cookie header from it.
func TestFetchCookieFilesMatchCurl(t *testing.T) {
	srv := newHeaderRecorder(t)
	dir := t.TempDir()
	crewJar, curlJar := filepath.Join(dir, "crew.jar"), filepath.Join(dir, "curl.jar")
	fetchOK(t, "-q", "--cookie", crewJar, "--cookie-jar", crewJar, srv.URL+"/set-cookie") // no file yet: an empty jar
	saved, _ := os.ReadFile(crewJar)
	if !strings.Contains(string(saved), "\tsid\ts1\n") || !strings.Contains(string(saved), "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t") {
		t.Errorf("crew's jar:\n%s", saved)
	}
	fetchOK(t, "-q", "--cookie", crewJar, srv.URL+"/crew-reads-crew")
	curlOK(t, "-c", curlJar, srv.URL+"/set-cookie")
	fetchOK(t, "-q", "--cookie", curlJar, srv.URL+"/crew-reads-curl")
	curlOK(t, "-b", crewJar, srv.URL+"/curl-reads-crew")
	want := "pref=dark; sid=s1"
	for _, p := range []string{"/crew-reads-crew", "/crew-reads-curl", "/curl-reads-crew"} {
		got := strings.Split(srv.get(p).Get("Cookie"), "; ")
		slices.Sort(got)
		if strings.Join(got, "; ") != want {
			t.Errorf("%s: Cookie %q, want %q", p, srv.get(p).Get("Cookie"), want)
		}
	}
}

// TestFetchTLSFlagsMatchCurl: a server whose certificate no system trusts
// fails without flags (curl too) and works with --insecure or --cacert.
func TestFetchTLSFlagsMatchCurl(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)

	if code, _, stderr := runCLI(t, "", "fetch", srv.URL); code != exitFailed || !strings.Contains(stderr, "certificate") {
		t.Errorf("untrusted certificate: exit %d, %s", code, stderr)
	}
	fetchOK(t, "-q", "--insecure", srv.URL)
	fetchOK(t, "-q", "--cacert", ca, srv.URL)
	if code, _, stderr := runCLI(t, "", "fetch", "--cacert", filepath.Join(t.TempDir(), "none.pem"), srv.URL); code != exitUsage {
		t.Errorf("missing --cacert file: exit %d %s", code, stderr)
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		if err := exec.Command(curl, "-s", "-o", os.DevNull, srv.URL).Run(); err == nil {
			t.Error("curl accepted the untrusted certificate; the comparison means nothing")
		}
		curlOK(t, "--insecure", srv.URL)
		curlOK(t, "--cacert", ca, srv.URL)
	}
}

// TestFetchProxyMatchesCurl sends a request through a real forward proxy
// with crew --proxy and curl --proxy, with and without the scheme.
func TestFetchProxyMatchesCurl(t *testing.T) {
	srv := newHeaderRecorder(t)
	proxy := proxytest.New(t)
	hostport := strings.TrimPrefix(proxy.URL, "http://")
	fetchOK(t, "-q", "--proxy", proxy.URL, srv.URL+"/crew")
	fetchOK(t, "-q", "--proxy", hostport, srv.URL+"/crew-bare")
	want := []string{"GET " + srv.URL + "/crew", "GET " + srv.URL + "/crew-bare"}
	if _, err := exec.LookPath("curl"); err == nil {
		curlOK(t, "--proxy", hostport, srv.URL+"/curl")
		want = append(want, "GET "+srv.URL+"/curl")
	}
	if got := proxy.Handled(); !slices.Equal(got, want) {
		t.Errorf("proxy handled %q, want %q", got, want)
	}
	if code, _, _ := runCLI(t, "", "fetch", "--proxy", "ftp://x", srv.URL); code != exitUsage {
		t.Errorf("--proxy ftp://: exit %d, want %d", code, exitUsage)
	}
}

// TestFetchCredentialsNeverEchoed: a password in a URL or --user, and a
// token in -H, appear neither on stdout nor on stderr.
func TestFetchCredentialsNeverEchoed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/missing", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	withPassword := strings.Replace(srv.URL, "http://", "http://alice:hunter2@", 1)
	code, stdout, stderr := runCLI(t, "", "fetch", "--user", "bob:swordfish", "-H", "Authorization: Bearer t0ken",
		withPassword+"/redirect", "http://carol:pa55@127.0.0.1:1/unreachable", "http://dave:pw@/no-host")
	if code != exitFailed {
		t.Errorf("exit %d", code)
	}
	for _, secret := range []string{"hunter2", "swordfish", "t0ken", "pa55", "dave"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("%q echoed:\n%s\n%s", secret, stdout, stderr)
		}
	}
	if !strings.Contains(stdout, `"url":"http://REDACTED@127.0.0.1`) {
		t.Errorf("url not shown redacted:\n%s", stdout)
	}
}

// TestFetchURLLength: URLs far past the old 8 KiB limit are fetched by
// default, --max-url-length lowers or raises the limit, and a longer URL
// is a bad line, named.
func TestFetchURLLength(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	u20k := srv.URL + "/?sig=" + strings.Repeat("a", 20_000)
	u100k := srv.URL + "/?sig=" + strings.Repeat("b", 100_000)
	fetchOK(t, "-q", u20k)
	if code, _, stderr := runCLI(t, u100k+"\n", "fetch"); code != exitFailed || !strings.Contains(stderr, "line 1: bad input: URL longer than 65536 bytes") {
		t.Errorf("100 kB URL by default: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, u100k+"\n", "fetch", "-q", "--max-url-length", "200K"); code != 0 {
		t.Errorf("100 kB URL with --max-url-length 200K: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "fetch", "--max-url-length", "10K", u20k); code != exitFailed || !strings.Contains(stderr, "argument 1: bad input: URL longer than 10240 bytes") {
		t.Errorf("--max-url-length 10K: exit %d, %s", code, stderr)
	}
}

// TestFetchTimeoutSeconds: timeouts take bare seconds, as curl's do, or Go
// durations; a slow server is cut at the limit.
func TestFetchTimeoutSeconds(t *testing.T) {
	srv := stallingServer(t)
	start := time.Now()
	code, stdout, _ := runCLI(t, "", "fetch", "--timeout", "0.3", "--retries", "0", srv.URL+"/slow/1")
	if code != exitFailed || !strings.Contains(stdout, "deadline exceeded") || time.Since(start) > 10*time.Second {
		t.Errorf("--timeout 0.3: exit %d after %v: %s", code, time.Since(start), stdout)
	}
	for _, ok := range []string{"5", "2.5", "1m", "500ms", "0"} {
		var o seconds
		if err := o.Set(ok); err != nil {
			t.Errorf("--timeout %s: %v", ok, err)
		}
	}
	for _, bad := range []string{"-1", "abc", "NaN", "1e300"} {
		if code, _, stderr := runCLI(t, "", "fetch", "--timeout", bad, srv.URL); code != exitUsage || !strings.Contains(stderr, "--timeout") {
			t.Errorf("--timeout %s: exit %d %s", bad, code, stderr)
		}
	}
}

// TestFetchSummary: the summary on stderr counts each outcome; --quiet
// silences it.
func TestFetchSummary(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write(bytes.Repeat([]byte("x"), 1500))
	}))
	defer srv.Close()
	dir := t.TempDir()
	list := strings.Join([]string{srv.URL + "/a", srv.URL + "/b", srv.URL + "/a", srv.URL + "/missing"}, "\n")
	code, _, stderr := runCLI(t, list, "fetch", "--dir", dir)
	if code != exitFailed || !regexpMatch(`crew fetch: 2 ok, 1 failed, 0 skipped, 1 duplicate; 3.\d kB received in \d+ms \(.*/s\)\n$`, stderr) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, list, "fetch", "--dir", dir, "--continue")
	if !strings.Contains(stderr, "crew fetch: 0 ok, 1 failed, 2 skipped, 1 duplicate;") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, list, "fetch", "-q", "--dir", dir); code != exitFailed || stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q", code, stderr)
	}
}

// TestFetchLayoutFlag: --layout tree saves as wget -x does; a bad value is
// a usage error.
func TestFetchLayoutFlag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }))
	defer srv.Close()
	dir := t.TempDir()
	stdout, _ := fetchOK(t, "-q", "--dir", dir, "--layout", "tree", srv.URL+"/a/", srv.URL+"/a/b")
	host := strings.TrimPrefix(srv.URL, "http://")
	for p, want := range map[string]string{"a/index.html": "/a/", "a/b": "/a/b"} {
		if b, _ := os.ReadFile(filepath.Join(dir, host, p)); string(b) != want {
			t.Errorf("%s holds %q, want %q\n%s", p, b, want, stdout)
		}
	}
	if code, _, stderr := runCLI(t, "", "fetch", "--layout", "deep", srv.URL); code != exitUsage || !strings.Contains(stderr, "flat or tree") {
		t.Errorf("--layout deep: exit %d %s", code, stderr)
	}
}

// TestFetchLimitRateFlag: --limit-rate caps the bytes per second of all
// downloads together.
func TestFetchLimitRateFlag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("z"), 40<<10))
	}))
	defer srv.Close()
	start := time.Now()
	fetchOK(t, "-q", "--limit-rate", "40K", srv.URL+"/1", srv.URL+"/2")
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("80 KiB at 40 KiB/s took %v", d)
	}
	if code, _, _ := runCLI(t, "", "fetch", "--limit-rate", "fast", srv.URL); code != exitUsage {
		t.Errorf("--limit-rate fast: exit %d", code)
	}
}

// TestFetchDuplicatesMatchWget: a URL listed twice with --dir is fetched
// once and the run succeeds, as wget -nc's does.
func TestFetchDuplicatesMatchWget(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.Write([]byte("x"))
	}))
	defer srv.Close()
	requests := func() int { mu.Lock(); defer mu.Unlock(); return hits }
	code, stdout, _ := runCLI(t, srv.URL+"/f\n"+srv.URL+"/f\n", "fetch", "--dir", t.TempDir())
	rows := map[float64]map[string]any{} // by line
	for line := range strings.Lines(stdout) {
		var row map[string]any
		json.Unmarshal([]byte(line), &row)
		rows[row["line"].(float64)] = row
	}
	if code != 0 || requests() != 1 || len(rows) != 2 || rows[2]["duplicate"] != true || rows[2]["duplicate_of"] != 1.0 || rows[1]["status"] != 200.0 {
		t.Errorf("exit %d, %d requests, rows %v", code, requests(), rows)
	}
	wget, err := exec.LookPath("wget")
	if err != nil {
		t.Skip("wget not installed")
	}
	cmd := exec.Command(wget, "-q", "-nc", "--no-config", srv.URL+"/f", srv.URL+"/f")
	cmd.Dir = t.TempDir()
	if err := cmd.Run(); err != nil || requests() != 2 {
		t.Errorf("wget -nc with a URL twice: %v, %d requests in all; crew's exit 0 claims wget's", err, requests())
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// TestFetchProxyFromEnvironment: without --proxy, HTTP_PROXY is used (in a
// fresh crew process, as the environment is read once per process).
func TestFetchProxyFromEnvironment(t *testing.T) {
	proxy := proxytest.New(t)
	cmd := crewProcess(t, "fetch", "--retries", "0", "http://site.invalid/x")
	cmd.Env = append(cmd.Env, "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), `"status":200`) {
		t.Errorf("%v: %s", err, out)
	}
	if got := proxy.Handled(); !slices.Equal(got, []string{"GET http://site.invalid/x"}) {
		t.Errorf("proxy handled %q", got)
	}
}

// TestFetchNetrcDefaultFile: --netrc reads $NETRC (else ~/.netrc); with no
// such file it goes on without credentials, as curl -n does.
func TestFetchNetrcDefaultFile(t *testing.T) {
	srv := newHeaderRecorder(t)
	netrc := filepath.Join(t.TempDir(), "netrc")
	os.WriteFile(netrc, []byte("machine 127.0.0.1 login nora password n3trc\n"), 0o600)
	t.Setenv("NETRC", netrc)
	fetchOK(t, "-q", "--netrc", srv.URL+"/with")
	if got := srv.get("/with").Get("Authorization"); got != "Basic bm9yYTpuM3RyYw==" {
		t.Errorf("Authorization %q", got)
	}
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "absent"))
	fetchOK(t, "-q", "--netrc", srv.URL+"/without")
	if got := srv.get("/without").Get("Authorization"); got != "" {
		t.Errorf("Authorization %q without a netrc file", got)
	}
	if code, _, stderr := runCLI(t, "", "fetch", "--netrc-file", filepath.Join(t.TempDir(), "absent"), srv.URL); code != exitUsage || !strings.Contains(stderr, "--netrc") {
		t.Errorf("--netrc-file that does not exist: exit %d %s", code, stderr)
	}
}

// TestFetchStreamsStdin: crew fetch requests the first URL of its standard
// input while the input is still open, and writes its line at once.
func TestFetchStreamsStdin(t *testing.T) {
	hit := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- r.URL.Path }))
	defer srv.Close()
	pr, pw := io.Pipe()
	out := &lineBuffer{lines: make(chan string, 2)}
	done := make(chan int, 1)
	go func() { done <- Main(t.Context(), []string{"fetch", "-q"}, Streams{In: pr, Out: out, Err: io.Discard}) }()
	fmt.Fprintln(pw, srv.URL+"/first")
	select {
	case <-hit:
	case <-time.After(10 * time.Second):
		t.Fatal("no request while standard input stays open")
	}
	select {
	case line := <-out.lines:
		if !strings.Contains(line, "/first") {
			t.Errorf("first line %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result line while standard input stays open")
	}
	fmt.Fprintln(pw, srv.URL+"/second")
	pw.Close()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	<-hit
}

// lineBuffer passes each Write on as one line.
type lineBuffer struct{ lines chan string }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.lines <- string(p)
	return len(p), nil
}

// TestFetchResumeRangeMatchesWget: on the same partial download (no
// validators), wget -c and crew --continue ask for the same Range.
func TestFetchResumeRangeMatchesWget(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 20_000)
	var mu sync.Mutex
	ranges := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges[r.URL.Path] = append(ranges[r.URL.Path], r.Header.Get("Range"))
		first := len(ranges[r.URL.Path]) == 1
		mu.Unlock()
		if first { // cut the first download after 50 000 bytes
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:50_000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	defer srv.Close()
	dir := t.TempDir()
	runCLI(t, "", "fetch", "-q", "--retries", "0", "--dir", dir, srv.URL+"/crew")
	fetchOK(t, "-q", "--dir", dir, "--continue", srv.URL+"/crew")
	if b, _ := os.ReadFile(filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "%3A"), "crew")); !bytes.Equal(b, body) {
		t.Errorf("crew's resumed file has %d bytes, want %d", len(b), len(body))
	}
	wget, err := exec.LookPath("wget")
	if err != nil {
		t.Skip("wget not installed")
	}
	wdir := t.TempDir()
	os.WriteFile(filepath.Join(wdir, "wget"), body[:50_000], 0o644) // what the cut left
	mu.Lock()
	ranges["/wget"] = []string{""} // as if cut once already
	mu.Unlock()
	cmd := exec.Command(wget, "-q", "-c", "--no-config", "--tries=1", srv.URL+"/wget")
	cmd.Dir = wdir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wget -c: %v %s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if c, w := ranges["/crew"], ranges["/wget"]; len(c) != 2 || len(w) != 2 || c[1] != w[1] || c[1] != "bytes=50000-" {
		t.Errorf("resume requests: crew %q, wget %q", c, w)
	}
}

// TestFetchTimeoutMatchesCurl: a bare number of seconds is a timeout for
// both crew --timeout and curl --max-time.
func TestFetchTimeoutMatchesCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	srv := stallingServer(t)
	start := time.Now()
	err = exec.Command(curl, "-s", "-o", os.DevNull, "--max-time", "0.3", srv.URL+"/slow/1").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 28 || time.Since(start) > 10*time.Second {
		t.Fatalf("curl --max-time 0.3: %v after %v", err, time.Since(start))
	}
	start = time.Now()
	if code, _, _ := runCLI(t, "", "fetch", "-q", "--retries", "0", "--timeout", "0.3", srv.URL+"/slow/1"); code != exitFailed || time.Since(start) > 10*time.Second {
		t.Errorf("crew --timeout 0.3: exit %d after %v", code, time.Since(start))
	}
}

// TestFetchUserWithoutPassword: --user USER asks for the password on the
// terminal, as curl does; with no terminal it is a usage error, not an
// empty password.
func TestFetchUserWithoutPassword(t *testing.T) {
	if f, err := os.Open("/dev/tty"); err == nil {
		f.Close()
		t.Skip("a terminal is attached: crew would ask for the password")
	}
	code, _, stderr := runCLI(t, "", "fetch", "--user", "alice", "http://127.0.0.1:1/")
	if code != exitUsage || !strings.Contains(stderr, "no password given") {
		t.Errorf("exit %d, %s", code, stderr)
	}
}
