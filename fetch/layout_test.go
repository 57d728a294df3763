package fetch

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// treeCases are URL paths (after "http://HOST") and where wget -x saves
// them under HOST/ (GNU Wget 1.21.3, recorded; TestLayoutTreeMatchesWget
// checks them against wget itself when it is installed).
var treeCases = []struct{ path, want string }{
	{"/", "index.html"},
	{"", "index.html"},
	{"/d/", "d/index.html"},
	{"/a%20b/c%2Fd", "a b/c%2Fd"},
	{"/q?x=1/2&y=%20z", "q?x=1%2F2&y= z"},
	{"/?x=1", "index.html?x=1"},
	{"/q?", "q?"},
	{"/q?a=%2F%25%3F%01", "q?a=%2F%?%01"},
	{"/a+b?x=y+z&%zz", "a+b?x=y+z&%zz"},
	{"/%2e%2e/up", "%2E%2E/up"},
	{"/a/%2E%2E/b", "a/%2E%2E/b"},
	{"/a/%2e/b", "a/b"},
	{"/..%2F..%2Fetc", "..%2F..%2Fetc"},
	{"/ctl%01x", "ctl%01x"},
	{"/sp%7F", "sp%7F"},
	{"/x%25y", "x%y"},
	{"/p%3Fq", "p?q"},
	{"/bs%5C", `bs\`},
	{"/a/./b/../c", "a/c"},
	{"//e//f", "e/f"},
	{"/../../x", "x"},
	{"/a/..", "index.html"},
	{"/u%C3%A9", "ué"},
}

// crewOnlyCases differ from wget on purpose (see Layout.Path): names stay
// valid, printable UTF-8.
var crewOnlyCases = []struct{ path, want string }{
	{"/c1%C2%85", "c1%C2%85"},
	{"/bad%FFutf8", "bad%FFutf8"},
	{"/nul%00", "nul%00"},
	{"/a/%2e", "a/index.html"},
}

func TestLayoutTree(t *testing.T) {
	for _, c := range append(treeCases, crewOnlyCases...) {
		u := mustParse(t, "http://Example.COM:8080"+c.path)
		got, err := LayoutTree.Path(u)
		if want := "example.com:8080/" + c.want; err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", c.path, got, err, want)
		}
	}
}

func TestLayoutTreeHost(t *testing.T) {
	for raw, want := range map[string]string{
		"http://h:80/":        "h/index.html",
		"https://h:443/":      "h/index.html",
		"https://h:80/":       "h:80/index.html",
		"http://user:pw@h/x":  "h/x",
		"http://[::1]:81/x#f": "[::1]:81/x",
	} {
		got, err := LayoutTree.Path(mustParse(t, raw))
		if err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

func TestLayoutTreeWindowsNames(t *testing.T) {
	for raw, want := range map[string]string{
		"http://h:81/a?b=1":      "h+81/a@b=1",
		"http://h/x%3Ay%2A%22":   "h/x%3Ay%2A%22",
		"http://h/CON":           "h/%43ON",
		"http://h/nul.txt":       "h/%6Eul.txt",
		"http://h/dot.":          "h/dot%2E",
		"http://h/sp%20":         "h/sp%20",
		"http://h/a%5Cb/c":       "h/a%5Cb/c",
		"http://[::1]:8080/x":    "[%3A%3A1]+8080/x",
		"http://h/console.d/x.y": "h/console.d/x.y",
	} {
		if got := treePath(mustParse(t, raw), true); got != want {
			t.Errorf("windows Path(%q) = %q; want %q", raw, got, want)
		}
	}
}

func TestLayoutLongNames(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	got, _ := LayoutTree.Path(mustParse(t, "http://h/"+long+"/"+long))
	parts := strings.Split(got, "/")
	if len(parts) != 3 || parts[1] != parts[2] || len(parts[1]) > maxNameLen || !utf8.ValidString(got) {
		t.Errorf("long names: %q", got)
	}
	other, _ := LayoutTree.Path(mustParse(t, "http://h/"+long+"x/"+long))
	if other == got {
		t.Error("names differing past the cut share a path")
	}
	deep := "http://h" + strings.Repeat("/abcdefghij", 300)
	got, _ = LayoutTree.Path(mustParse(t, deep))
	if len(got) > maxPathLen || !strings.HasPrefix(got, "h/abcdefghij/") {
		t.Errorf("deep path: %d bytes, %q…", len(got), got[:40])
	}
	deeper, _ := LayoutTree.Path(mustParse(t, deep+"/k"))
	if deeper == got {
		t.Error("deep paths differing past the cut share a path")
	}
}

func TestLayoutFlatIsFileName(t *testing.T) {
	for _, raw := range []string{"http://H:1/a/b?c=d", "http://h/", "https://h/%2F..", "http://" + strings.Repeat("h", 300) + "/"} {
		u := mustParse(t, raw)
		got, err := LayoutFlat.Path(u)
		if err != nil || filepath.FromSlash(got) != FileName(u) {
			t.Errorf("flat Path(%q) = %q, %v; FileName %q", raw, got, err, FileName(u))
		}
	}
	if _, err := LayoutFlat.Path(&url.URL{Path: "/x"}); err != ErrNoHost {
		t.Errorf("no host: %v", err)
	}
}

func TestParseLayout(t *testing.T) {
	for _, s := range []string{"flat", "tree"} {
		l, err := ParseLayout(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLayout(%q) = %v, %v", s, l, err)
		}
	}
	var l Layout
	if err := l.Set("Tree"); err == nil || !strings.Contains(err.Error(), "flat or tree") {
		t.Errorf("Set(Tree) = %v", err)
	}
}

// TestLayoutTreeMatchesWget saves treeCases with wget -x and compares
// where it put them with Path.
func TestLayoutTreeMatchesWget(t *testing.T) {
	wget, err := exec.LookPath("wget")
	if err != nil {
		t.Skip("wget not installed")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	saved := regexp.MustCompile(`-> "(.*)" \[`)
	for _, c := range treeCases {
		dir := t.TempDir()
		cmd := exec.Command(wget, "-nv", "-x", "--no-config", srv.URL+c.path)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		m := saved.FindSubmatch(out)
		if err != nil || m == nil {
			t.Errorf("wget %s: %v\n%s", c.path, err, out)
			continue
		}
		want, _ := LayoutTree.Path(mustParse(t, srv.URL+c.path))
		// wget names "/a/%2e/b" "a/./b", which is the file a/b.
		if path.Clean(string(m[1])) != want {
			t.Errorf("%s: wget saved %q, Path says %q", c.path, m[1], want)
		}
	}
}

func mustParse(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// FuzzLayoutPath checks Path's promises on any URL: a local, clean,
// bounded, valid UTF-8 path that the file system accepts.
func FuzzLayoutPath(f *testing.F) {
	for _, c := range append(treeCases, crewOnlyCases...) {
		f.Add("http://h:1" + c.path)
	}
	f.Add("http://h/" + strings.Repeat("a/", 600))
	f.Add("http://h/" + strings.Repeat("%FF", 100) + "?" + strings.Repeat("%C2%85", 70))
	f.Add("https://[fe80::1%25eth0]:8443/a/../../../b?")
	f.Add("http://H/COM1.txt/x./y%20")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if u.Hostname() == "" {
			if _, err := LayoutTree.Path(u); err != ErrNoHost {
				t.Fatalf("Path(%q) without a host name: %v", raw, err)
			}
			return
		}
		for _, l := range []Layout{LayoutFlat, LayoutTree} {
			p, err := l.Path(u)
			if err != nil {
				t.Fatalf("%v.Path(%q): %v", l, raw, err)
			}
			checkRelPath(t, raw, p, false)
			if again, _ := l.Path(u); again != p {
				t.Fatalf("%v.Path(%q) not deterministic: %q then %q", l, raw, p, again)
			}
			root, err := os.OpenRoot(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := root.MkdirAll(path.Dir(p), 0o755); err != nil {
				t.Fatalf("%v.Path(%q) = %q: %v", l, raw, p, err)
			}
			if err := root.WriteFile(p, nil, 0o644); err != nil {
				t.Fatalf("%v.Path(%q) = %q: %v", l, raw, p, err)
			}
			root.Close()
		}
		checkRelPath(t, raw, treePath(u, true), true)
	})
}

func checkRelPath(t *testing.T, raw, p string, windows bool) {
	t.Helper()
	if len(p) > maxPathLen || !utf8.ValidString(p) || !filepath.IsLocal(filepath.FromSlash(p)) || path.Clean(p) != p {
		t.Fatalf("Path(%q) = %q: not a clean local path of at most %d bytes", raw, p, maxPathLen)
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." || len(c) > maxNameLen {
			t.Fatalf("Path(%q) = %q: bad component %q", raw, p, c)
		}
		if bytes.ContainsFunc([]byte(c), func(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f }) {
			t.Fatalf("Path(%q) = %q: control character in %q", raw, p, c)
		}
		if windows && (strings.ContainsAny(c, `\:*?"<>|`) || strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ")) {
			t.Fatalf("windows Path(%q) = %q: name %q not allowed on Windows", raw, p, c)
		}
	}
}
