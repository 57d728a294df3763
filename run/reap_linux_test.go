//go:build linux

package run

import (
	"os/exec"
	"testing"
	"time"
)

// startSleep starts a real process that runs until the test ends.
func startSleep(t *testing.T) int {
	t.Helper()
	c := exec.Command("sleep", "30")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c.Process.Pid
}

// TestReapOrderWaitsForYoungOlderJobs: a job that ended waits for an
// older job still running only while that job is young and for at most
// half its own run time; it never waits for an old one.
func TestReapOrderWaitsForYoungOlderJobs(t *testing.T) {
	t.Run("young", func(t *testing.T) {
		o := newReapOrder()
		o.take(1)
		pid, start := startSleep(t), time.Now()
		o.add(1, pid, start)
		o.take(2)
		began := time.Now()
		o.waitOlder(2, 60*time.Millisecond)
		ended := time.Now()
		// The older job still runs: the younger waits until half its own
		// run time (30 ms) has passed or the older one is no longer young,
		// whichever comes first.
		if want := minTime(began.Add(30*time.Millisecond), start.Add(youngGrace)); ended.Before(want) {
			t.Errorf("waited %v for a young older job; want until %v", ended.Sub(began), want.Sub(began))
		}
		if d := ended.Sub(began); d > 5*time.Second {
			t.Errorf("waited %v for a young older job", d)
		}
	})
	t.Run("old", func(t *testing.T) {
		o := newReapOrder()
		o.take(1)
		o.add(1, startSleep(t), time.Now().Add(-time.Second))
		o.take(2)
		began := time.Now()
		o.waitOlder(2, 20*time.Second)
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("waited %v for an older job that has run a second; want no wait", d)
		}
	})
	t.Run("finished", func(t *testing.T) {
		o := newReapOrder()
		o.take(1)
		o.add(1, startSleep(t), time.Now())
		o.take(2)
		waited := make(chan time.Duration)
		go func() {
			began := time.Now()
			o.waitOlder(2, 20*time.Second)
			waited <- time.Since(began)
		}()
		o.remove(1) // the older job is finished: nothing to wait for
		if d := <-waited; d > 5*time.Second {
			t.Errorf("waited %v after the older job finished", d)
		}
	})
	t.Run("younger", func(t *testing.T) {
		o := newReapOrder()
		o.take(1)
		o.take(2)
		o.add(2, startSleep(t), time.Now())
		began := time.Now()
		o.waitOlder(1, 20*time.Second)
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("waited %v for a younger job", d)
		}
	})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
