package crawl_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crawl"
	"github.com/crewrun/crew/fetch"
	"github.com/crewrun/crew/proc"
)

// TestSaveMirror: with Save, the bodies of the pages fetched are kept in
// the layout's tree, each row names its file, nothing is written outside
// the directory (a symbolic link in it is not followed), and a resumed
// crawl does not rewrite files already saved.
func TestSaveMirror(t *testing.T) {
	var hits hitCounter
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add(r)
		switch r.URL.Path {
		case "/":
			htmlPage(w, "home", `<a href="/docs/a.html">a</a> <a href="/docs/">docs</a> <a href="/esc/x.html">x</a> <a href="/redir">r</a> <a href="/404">404</a>`)
		case "/docs/a.html":
			htmlPage(w, "a", `<a href="/docs/b.html">b</a>`)
		case "/docs/", "/docs/b.html", "/esc/x.html":
			htmlPage(w, r.URL.Path, "")
		case "/redir":
			http.Redirect(w, r, "/docs/a.html", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	out, save, outside := t.TempDir(), t.TempDir(), t.TempDir()
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := os.MkdirAll(filepath.Join(save, host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(save, host, "esc")); err != nil {
		t.Fatal(err)
	}
	cfg := crawl.Config{Start: []string{srv.URL + "/"}, Out: out, State: filepath.Join(out, "state"), Depth: -1,
		IgnoreRobots: true, Save: save, Layout: fetch.LayoutTree, MaxPages: 4}
	if _, err := crawl.Crawl(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	// Mark the files saved so far, and put one in place for a page not
	// fetched yet (as a page in flight at a kill -9 leaves it): the
	// resumed run must not rewrite them.
	if hits.get("/docs/b.html") != 0 {
		t.Fatal("the first run went too far for this test")
	}
	os.WriteFile(filepath.Join(save, host, "docs", "b.html"), nil, 0o644)
	marked := map[string]bool{}
	filepath.WalkDir(save, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			os.WriteFile(p, []byte("kept"), 0o644)
			marked[p] = true
		}
		return nil
	})
	cfg.MaxPages = 0
	if _, err := crawl.Crawl(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/":            "index.html",
		"/docs/a.html": "docs/a.html",
		"/docs/":       "docs/index.html",
		"/docs/b.html": "docs/b.html",
	}
	rows := map[string]crawl.Page{}
	for _, p := range readPages(t, out) {
		rows[strings.TrimPrefix(p.URL, srv.URL)] = p
	}
	for path, file := range want {
		p := rows[path]
		if p.Saved != host+"/"+file || p.Error != "" {
			t.Errorf("%s: row %+v; want saved as %s", path, p, host+"/"+file)
			continue
		}
		full := filepath.Join(save, host, filepath.FromSlash(file))
		body, err := os.ReadFile(full)
		switch {
		case err != nil:
			t.Errorf("%s: %v", path, err)
		case marked[full] && string(body) != "kept":
			t.Errorf("%s was saved again by the resumed crawl", file)
		case !marked[full] && !strings.Contains(string(body), "<title>"):
			t.Errorf("%s holds %q", file, body)
		}
	}
	if p := rows["/esc/x.html"]; p.Saved != "" || !strings.Contains(p.Error, "save:") {
		t.Errorf("/esc/x.html, through a symbolic link out of the directory: row %+v; want a save error", p)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside the save directory: %v", entries)
	}
	for _, path := range []string{"/redir", "/404"} {
		if p := rows[path]; p.Saved != "" {
			t.Errorf("%s saved (%s); only 2xx pages are", path, p.Saved)
		}
	}
	hits.fetchedOnce(t)
}

// TestSaveOnExecutorBodyLimit: with an executor, a body too large to come
// back from a worker is recorded as not saved; the others are saved.
func TestSaveOnExecutorBodyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			htmlPage(w, "home", `<a href="/big">big</a>`)
		case "/big":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(make([]byte, crawl.MaxTravellingBody+1))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ex, err := proc.New(crew.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	out, save := t.TempDir(), t.TempDir()
	_, err = crawl.Crawl(t.Context(), crawl.Config{Start: []string{srv.URL + "/"}, Out: out, Depth: -1,
		IgnoreRobots: true, Save: save, Executor: ex})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range readPages(t, out) {
		switch strings.TrimPrefix(p.URL, srv.URL) {
		case "/":
			if p.Saved == "" || p.Error != "" {
				t.Errorf("/: %+v; want saved", p)
			}
		case "/big":
			if p.Saved != "" || !strings.Contains(p.Error, "not saved") {
				t.Errorf("/big: %+v; want an error saying it was not saved", p)
			}
		}
	}
}
