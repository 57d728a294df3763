//go:build unix

package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// TestTopPTY runs crew top in a pseudo-terminal against a server with a
// running job: it draws the job and its worker, and exits 0 on q.
func TestTopPTY(t *testing.T) {
	const secret = "top-s3cret"
	url := startServer(t, secret)
	startWorker(t, "--server", url, "--token", secret, "-j", "2")
	ex, err := cluster.New(t.Context(), url, cluster.Token(secret), cluster.Label("top test"))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ctx, cancelCalls := context.WithCancel(t.Context())
	defer cancelCalls()
	for i := range 3 {
		crew.Submit(ctx, ex, crewtest.Block, i)
	}

	cmd := crewProcess(t, "top", "--server", url, "--token-file", tokenFile(t, secret), "--interval", "200ms")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		s := shown()
		if strings.Contains(s, "top test") && strings.Contains(s, "running") && strings.Contains(s, "2/2") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("crew top never showed the running job and its busy worker:\n%q", s)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
	if s := shown(); !strings.Contains(s, "\x1b[?1049h") || strings.Contains(s, secret) {
		t.Errorf("crew top did not switch to the alternate screen, or showed the token")
	}
	if _, err := io.WriteString(tty, "q"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("crew top after q: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatal("crew top did not exit 10 s after q")
	}
	tty.Close()
	<-read
	if s := shown(); !strings.HasSuffix(strings.TrimRight(s, "\r\n"), "\x1b[?1049l") {
		t.Errorf("crew top did not leave the alternate screen: ...%q", s[max(len(s)-80, 0):])
	}
}
