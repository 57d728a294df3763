//go:build !windows

package run

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gnuSemHolder is GNU parallel's sem holding a semaphore until release.
type gnuSemHolder struct {
	cmd  *exec.Cmd
	dir  string
	done chan error
}

// holdWithGNUSem starts `sem --fg` on the semaphore and waits until its
// job runs, that is until sem holds a place.
func holdWithGNUSem(t *testing.T, id string, count string) *gnuSemHolder {
	t.Helper()
	h := &gnuSemHolder{dir: t.TempDir(), done: make(chan error, 1)}
	h.cmd = exec.Command("sem", "--id", id, "-j", count, "--fg", "touch started; while [ -e started ] && [ ! -e release ]; do sleep 0.01; done")
	h.cmd.Dir = h.dir
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() { h.cmd.Process.Kill(); <-h.done })
	waitForFile(t, filepath.Join(h.dir, "started"), h.done)
	return h
}

func (h *gnuSemHolder) release(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-h.done; err != nil {
		t.Fatalf("GNU sem holding the semaphore: %v", err)
	}
	h.done <- nil // for the cleanup
}

// waitForFile polls for a file a process makes, failing if it ends first.
func waitForFile(t *testing.T, path string, ended chan error) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-ended:
			ended <- err
			t.Fatalf("the process ended (%v) before it made %s", err, path)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond) // polling for the file
	}
}

// gnuSemTry runs `sem --st -0.3 --fg true`: exit 0 if it got a place
// within 0.3 s, 1 if it gave up.
func gnuSemTry(t *testing.T, id, count string) int {
	t.Helper()
	out, err := exec.Command("sem", "--id", id, "-j", count, "--st", "-0.3", "--fg", "true").CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.ExitCode() == 1 && !strings.Contains(string(out), "timed out") {
			t.Fatalf("sem exited 1 without timing out: %s", out)
		}
		return ee.ExitCode()
	}
	t.Fatalf("sem: %v\n%s", err, out)
	return -1
}

// TestSemaphoreSharedWithGNUSem: crew's --semaphore and GNU parallel's
// sem, given the same id, are one semaphore: each waits while the other
// holds every place, takes a free place beside the other, and clears a
// holder the other left behind when it died.
func TestSemaphoreSharedWithGNUSem(t *testing.T) {
	if _, err := exec.LookPath("sem"); err != nil {
		t.Skip("GNU parallel's sem is not installed (.ci/run installs it)")
	}
	home := t.TempDir()
	t.Setenv("PARALLEL_HOME", home)
	os.WriteFile(filepath.Join(home, "will-cite"), nil, 0o644)

	t.Run("GNU holds", func(t *testing.T) {
		h := holdWithGNUSem(t, "gnu-holds", "1")
		s, err := OpenSemaphore("gnu-holds", 1, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Acquire(t.Context(), -300*time.Millisecond); !errors.Is(err, ErrSemaphoreTimeout) {
			t.Fatalf("crew took the place GNU sem holds: %v", err)
		}
		h.release(t)
		if err := s.Acquire(t.Context(), -30*time.Second); err != nil {
			t.Fatalf("crew after GNU sem released: %v", err)
		}
		s.Release()
	})

	t.Run("crew holds", func(t *testing.T) {
		s, err := OpenSemaphore("crew-holds", 1, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Acquire(t.Context(), -30*time.Second); err != nil {
			t.Fatal(err)
		}
		if code := gnuSemTry(t, "crew-holds", "1"); code != 1 {
			s.Release()
			t.Fatalf("GNU sem took the place crew holds: exit %d", code)
		}
		s.Release()
		if code := gnuSemTry(t, "crew-holds", "1"); code != 0 {
			t.Fatalf("GNU sem after crew released: exit %d", code)
		}
	})

	t.Run("count", func(t *testing.T) {
		h := holdWithGNUSem(t, "count", "2")
		s, err := OpenSemaphore("count", 2, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Acquire(t.Context(), -30*time.Second); err != nil {
			t.Fatalf("crew beside one GNU sem holder of -j2: %v", err)
		}
		if code := gnuSemTry(t, "count", "2"); code != 1 {
			t.Errorf("a third holder of -j2 (GNU sem) got in: exit %d", code)
		}
		s.Release()
		h.release(t)
	})

	t.Run("dead GNU holder", func(t *testing.T) {
		h := holdWithGNUSem(t, "dead", "1")
		// sem --fg runs the job in a child: killing sem leaves its link.
		h.cmd.Process.Signal(syscall.SIGKILL)
		<-h.done
		h.done <- nil
		s, err := OpenSemaphore("dead", 1, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Acquire(t.Context(), -30*time.Second); err != nil {
			t.Fatalf("crew after the GNU sem holder died: %v", err)
		}
		s.Release()
		os.Remove(filepath.Join(h.dir, "started")) // ends its orphaned job
	})
}
