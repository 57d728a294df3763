package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFetchCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		w.Write([]byte("<title>caf\xe9</title>"))
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantRows int
		wantErr  string
	}{
		{"all ok from args", []string{"fetch", srv.URL + "/a", srv.URL + "/b"}, "", 0, 2, ""},
		{"stdin with bad line", []string{"fetch", "--quiet"}, "# list\n" + srv.URL + "/a\n\nftp://x/\n", 1, 2, ""},
		{"bad line reported with number", []string{"fetch"}, srv.URL + "/a\nnot-a-url\n", 1, 2, "line 2:"},
		{"over-long line skipped, later lines read", []string{"fetch"}, srv.URL + "/a\n" + srv.URL + "/" + strings.Repeat("z", 2<<20) + "\n" + srv.URL + "/b\n", 1, 3, "line 2: bad input: line longer than"},
		{"duplicate line reported, fetched once, not a failure", []string{"fetch", "--dir", t.TempDir()}, srv.URL + "/a\n" + srv.URL + "/a#top\n", 0, 2, "1 ok, 0 failed, 0 skipped, 1 duplicate;"},
		{"404 fails", []string{"fetch", "-q", srv.URL + "/missing"}, "", 1, 1, ""},
		{"usage", []string{"fetch", "-j", "0", srv.URL}, "", 2, 0, ""},
		{"continue without dir", []string{"fetch", "--continue", srv.URL}, "", 2, 0, ""},
		{"bad size", []string{"fetch", "--max-size", "lots", srv.URL}, "", 2, 0, ""},
		{"size too large", []string{"fetch", "--max-size", "9999999999G", srv.URL}, "", 2, 0, "--max-size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(t.Context(), tt.args, Streams{In: strings.NewReader(tt.stdin), Out: &out, Err: &errb})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != tt.wantRows {
				t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), tt.wantRows, out.String())
			}
			for _, l := range lines {
				var row map[string]any
				if err := json.Unmarshal([]byte(l), &row); err != nil {
					t.Fatalf("invalid JSON line %q: %v", l, err)
				}
				if row["error"] == nil && row["duplicate"] == nil && row["title"] != "café" {
					t.Errorf("title %v", row["title"])
				}
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
		})
	}
}

// crew fetch collects garbage less often (GOGC=400) unless GOGC is set.
func TestFetchLessGC(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<title>t</title>"))
	}))
	defer srv.Close()
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // restore this process's settings
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		gogc string
		want int
	}{{"", 400}, {"150", 100}} {
		t.Setenv("GOGC", tc.gogc)
		debug.SetGCPercent(100)
		if code, _, stderr := runCLI(t, "", "fetch", "-q", srv.URL); code != 0 {
			t.Fatalf("GOGC=%q: exit %d: %s", tc.gogc, code, stderr)
		}
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q in the environment: crew fetch left GC percent %d, want %d", tc.gogc, got, tc.want)
		}
		if got := debug.SetMemoryLimit(-1); got != 40<<20 {
			t.Errorf("crew fetch left the memory limit at %d, want 40 MiB", got)
		}
	}
}
