package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
	"github.com/crewrun/crew/crewtest"
)

// tokenFile writes token to a file of the test's.
func tokenFile(t *testing.T, token string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestJobsCancel drives crew serve --ui with --token-file, crew worker,
// crew jobs (table and --json) and crew cancel against a job of blocked
// calls: the calls fail with ErrJobCancelled, and crew jobs shows the job
// cancelled.
func TestJobsCancel(t *testing.T) {
	const secret = "jobs-s3cret"
	tf := tokenFile(t, secret)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var serveErr, workerErr lockedBuffer
	serveCode := goMain(ctx, &wg, &serveErr, "serve", "--listen", "127.0.0.1:0", "--token-file", tf, "--ui", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	url := servedURL(t, &serveErr, serveCode)
	if !regexp.MustCompile(`live view on http://127\.0\.0\.1:\d+/`).MatchString(serveErr.String()) ||
		!regexp.MustCompile(`metrics on http://127\.0\.0\.1:\d+/metrics`).MatchString(serveErr.String()) {
		t.Errorf("crew serve did not say where the view and metrics are: %s", serveErr.String())
	}
	workerCode := goMain(ctx, &wg, &workerErr, "worker", "--server", url, "--token-file", tf, "-j", "2")

	ex, err := cluster.New(ctx, url, cluster.Token(secret), cluster.Label("blocked calls"))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	var calls []*crew.Future[int]
	for i := range 5 {
		calls = append(calls, crew.Submit(ctx, ex, crewtest.Block, i))
	}
	var job view.Job
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, out, stderr := runCLI(t, "", "jobs", "--server", url, "--token-file", tf, "--json")
		if code != 0 {
			t.Fatalf("crew jobs --json: exit %d: %s", code, stderr)
		}
		var st view.State
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("crew jobs --json: %v: %s", err, out)
		}
		if len(st.Jobs) == 1 && st.Jobs[0].InFlight+st.Jobs[0].Queued == 5 && len(st.Workers) == 1 {
			job = st.Jobs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("crew jobs never showed the 5 calls in flight: %s", out)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
	code, out, _ := runCLI(t, "", "jobs", "--server", url, "--token-file", tf)
	if code != 0 || !strings.Contains(out, job.ID) || !strings.Contains(out, "running") || !strings.Contains(out, ": blocked calls") ||
		!strings.Contains(out, "IN FLIGHT") {
		t.Errorf("crew jobs: exit %d\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "", "jobs", "--server", url); code == 0 || !strings.Contains(stderr, "uthoriz") {
		t.Errorf("crew jobs without the token: exit %d, %s", code, stderr)
	}

	if code, _, stderr := runCLI(t, "", "cancel", "--server", url, "--token-file", tf, "no-such-job"); code != exitUsage || !strings.Contains(stderr, "no such job") {
		t.Errorf("crew cancel of an unknown job: exit %d, %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "", "cancel", "--server", url, "--token-file", tf, job.ID)
	if code != 0 || !strings.Contains(out, "5 pending call(s) failed with ErrJobCancelled") {
		t.Fatalf("crew cancel: exit %d, %s %s", code, out, stderr)
	}
	for i, f := range calls {
		if _, err := f.Wait(ctx); !errors.Is(err, cluster.ErrJobCancelled) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "by crew cancel (") {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if code, _, stderr := runCLI(t, "", "cancel", "--server", url, "--token-file", tf, job.ID); code != exitFailed || !strings.Contains(stderr, "already ended") {
		t.Errorf("crew cancel of an ended job: exit %d, %s", code, stderr)
	}
	code, out, _ = runCLI(t, "", "jobs", "--server", url, "--token-file", tf)
	if code != 0 || !regexp.MustCompile(job.ID+`\s+cancelled\s+0\s+0\s+0\s+0\s+0`).MatchString(out) {
		t.Errorf("crew jobs after the cancel: exit %d\n%s", code, out)
	}
	for _, out := range []string{serveErr.String(), workerErr.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("the token was logged: %s", out)
		}
	}
	cancel()
	exitedCleanly(t, map[string]<-chan int{"serve": serveCode, "worker": workerCode})
}

// TestServeWarnsBeyondLoopback: crew serve warns when its port, its live
// view or its metrics can be reached from other machines and the cluster
// takes no credentials. The addresses are TEST-NET ones this machine does
// not have, so the warning is printed and then the listen fails: nothing
// is exposed.
func TestServeWarnsBeyondLoopback(t *testing.T) {
	for _, tc := range []struct {
		args []string
		warn string // "" for none
	}{
		{[]string{"--listen", "192.0.2.1:0"}, "192.0.2.1:0 is reachable from other machines"},
		{[]string{"--listen", "127.0.0.1:0", "--ui", "192.0.2.1:0"}, "the live view at 192.0.2.1:0 is reachable"},
		{[]string{"--listen", "127.0.0.1:0", "--metrics", "192.0.2.1:0"}, "the metrics at 192.0.2.1:0 are reachable"},
		{[]string{"--listen", "127.0.0.1:0", "--ui", "192.0.2.1:0", "--token", "t"}, ""},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		var out lockedBuffer
		code := Main(ctx, append([]string{"serve"}, tc.args...), Streams{In: strings.NewReader(""), Out: &out, Err: &out})
		cancel()
		switch {
		case tc.warn == "" && strings.Contains(out.String(), "warning"):
			t.Errorf("crew serve %q warned: %s", tc.args, out.String())
		case tc.warn != "" && !strings.Contains(out.String(), "warning: "+tc.warn):
			t.Errorf("crew serve %q: exit %d, no warning %q: %s", tc.args, code, tc.warn, out.String())
		}
	}
}

func TestViewFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--ui", "127.0.0.1:99999"},
		{"serve", "--metrics", "nohost:port"},
		{"serve", "--history", "0"},
		{"serve", "--token", "a", "--token-file", "/dev/null"},
		{"serve", "--token-file", "/nonexistent/token"},
		{"worker", "--drain-timeout", "-1s"},
		{"top", "--interval", "1ms"},
		{"cancel"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code != exitUsage || stderr == "" {
			t.Errorf("crew %q: exit %d, %q; want %d with a message", args, code, stderr, exitUsage)
		}
	}
}
