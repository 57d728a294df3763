package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asCrew is the environment variable that makes this test binary run as
// crew itself (see init), so tests can start, signal and kill a real crew
// process without building one.
const asCrew = "CREW_TEST_BINARY_AS_CREW"

func init() {
	// In this test process crew fetch runs many times in-process: its soft
	// memory limit (lessGC) is for a crew process, not for the tests.
	if os.Getenv("GOMEMLIMIT") == "" {
		os.Setenv("GOMEMLIMIT", "off")
	}
	if os.Getenv(asCrew) == "1" { // as cmd/crew's main does
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Main(ctx, os.Args[1:], StdStreams())
		stop()
		os.Exit(code)
	}
}

// crewProcess returns a command running crew with args.
func crewProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCrew+"=1")
	return cmd
}

// stallingServer answers /fast/... at once and holds /slow/... until the
// client goes away.
func stallingServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			w.Write([]byte("<title>never finishes"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		fmt.Fprintf(w, "<title>page %s</title>", r.URL.Path)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// stallingList is 30 fast URLs, then 4 that never finish (holding all of
// -j 4), then fast ones that are never reached.
func stallingList(srv *httptest.Server) string {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "%s/fast/%d\n", srv.URL, i)
	}
	for i := range 4 {
		fmt.Fprintf(&b, "%s/slow/%d\n", srv.URL, i)
	}
	for i := range 30 {
		fmt.Fprintf(&b, "%s/later/%d\n", srv.URL, i)
	}
	return b.String()
}

// checkJSONLines checks that out is whole JSON Lines, every URL in it a
// /fast/ one, and returns how many lines it has.
func checkJSONLines(t *testing.T, out []byte) int {
	t.Helper()
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Errorf("output ends mid-line: %q", out[max(0, len(out)-80):])
	}
	n := 0
	for line := range bytes.Lines(out) {
		var row struct {
			URL    string `json:"url"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", n+1, err, line)
		}
		if !strings.Contains(row.URL, "/fast/") || row.Status != 200 {
			t.Errorf("line %d: %+v", n+1, row)
		}
		n++
	}
	return n
}

// TestFetchKilledKeepsFinishedLines kills -9 a real crew fetch while four
// downloads hang: every result already known (the 30 fast pages) must be
// in its output, each line whole — written to -o FILE, or to a pipe read as
// it comes — and must have got there while the process still ran.
func TestFetchKilledKeepsFinishedLines(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kill -9 is POSIX")
	}
	srv := stallingServer(t)
	list := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte(stallingList(srv)), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("-o file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "results.jsonl")
		cmd := crewProcess(t, "fetch", "-q", "-j", "4", "--per-host", "4", "-i", list, "-o", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _ := os.ReadFile(out)
			if bytes.Count(b, []byte("\n")) >= 30 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("after 30 s the file holds %d lines while crew runs, want 30:\n%s", bytes.Count(b, []byte("\n")), b)
			}
			time.Sleep(10 * time.Millisecond) // polling a file another process writes
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		b, _ := os.ReadFile(out)
		if n := checkJSONLines(t, b); n != 30 {
			t.Errorf("%d lines after kill -9, want the 30 finished", n)
		}
	})

	t.Run("pipe", func(t *testing.T) {
		cmd := crewProcess(t, "fetch", "-q", "-j", "4", "--per-host", "4", "-i", list)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		br := bufio.NewReader(stdout)
		lines := make(chan error, 1)
		go func() {
			for range 30 {
				line, err := br.ReadBytes('\n')
				got.Write(line)
				if err != nil {
					lines <- err
					return
				}
			}
			lines <- nil
		}()
		select {
		case err := <-lines:
			if err != nil {
				t.Fatalf("reading the pipe while crew runs: %v\n%s", err, got.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-lines
			t.Fatalf("after 30 s the pipe gave %d lines while crew runs, want 30", bytes.Count(got.Bytes(), []byte("\n")))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		rest, _ := io.ReadAll(br)
		got.Write(rest)
		cmd.Wait()
		if n := checkJSONLines(t, got.Bytes()); n != 30 {
			t.Errorf("%d lines after kill -9, want the 30 finished", n)
		}
	})
}

// TestFetchInterruptedSummary: SIGINT stops a real crew fetch with status
// 130; the lines so far are whole and the summary says what was done.
func TestFetchInterruptedSummary(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGINT is POSIX")
	}
	srv := stallingServer(t)
	out := filepath.Join(t.TempDir(), "results.jsonl")
	cmd := crewProcess(t, "fetch", "-j", "4", "--per-host", "4", "-o", out)
	cmd.Stdin = strings.NewReader(stallingList(srv))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for b, _ := os.ReadFile(out); bytes.Count(b, []byte("\n")) < 30; b, _ = os.ReadFile(out) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("no 30 lines in 30 s")
		}
		time.Sleep(10 * time.Millisecond) // polling a file another process writes
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d (%v), want %d; stderr %s", code, err, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "crew fetch: 30 ok, 0 failed, 0 skipped, 0 duplicates, 4 interrupted;") ||
		!strings.Contains(stderr.String(), "before the interruption") || !strings.Contains(stderr.String(), "crew: interrupted") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	b, _ := os.ReadFile(out)
	checkJSONLines(t, b)
}
