//go:build unix

package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/run"
)

// TestWorkerSignals: crew worker drains on its first SIGTERM (the
// running command finishes and its result arrives, then it exits 0) and
// stops at once on the second.
func TestWorkerSignals(t *testing.T) {
	const secret = "drain-s3cret"
	url := startServer(t, secret)
	ex, err := cluster.New(t.Context(), url, cluster.Token(secret))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	for _, signals := range []int{1, 2} {
		var stderr lockedBuffer
		cmd := crewProcess(t, "worker", "--server", url, "--token", secret, "-j", "1", "--allow-shell", "--drain-timeout", "1m")
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		ctx, cancel := context.WithCancel(t.Context())
		started := filepath.Join(t.TempDir(), "started")
		sleep := "touch " + started + "; sleep 2"
		if signals == 2 {
			sleep = "touch " + started + "; sleep 60"
		}
		call := crew.Submit(ctx, ex, run.Shell, run.ShellJob{Cmd: sleep})
		waitFor(t, "the command to start", func() bool {
			_, err := os.Stat(started)
			return err == nil
		})
		cmd.Process.Signal(syscall.SIGTERM)
		waitFor(t, "the draining notice", func() bool { return strings.Contains(stderr.String(), "worker draining") })
		if signals == 2 {
			cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%d signal(s): crew worker: %v: %s", signals, err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%d signal(s): crew worker did not exit", signals)
		}
		if signals == 1 {
			if r, err := call.Wait(ctx); err != nil || r.Exit != 0 {
				t.Errorf("the command run while draining: %+v, %v", r, err)
			}
		}
		cancel()
	}
}
