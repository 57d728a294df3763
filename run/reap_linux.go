//go:build linux

package run

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reapOrder makes jobs that end at about the same time finish (print,
// log, free their slot, count for --halt) oldest first, as GNU parallel
// finishes them: it reaps with waitpid(-1), which Linux answers with the
// oldest child that has ended. Only runs whose outcome shows the order —
// --halt, or a job slot ({%}) in use — pay for it.
type reapOrder struct {
	mu   sync.Mutex
	jobs map[int]*reapEntry
}

type reapEntry struct {
	pid  int
	done chan struct{}
}

func newReapOrder() *reapOrder { return &reapOrder{jobs: map[int]*reapEntry{}} }

func (o *reapOrder) add(seq, pid int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.jobs[seq]; ok {
		e.pid = pid // a retry
		return
	}
	o.jobs[seq] = &reapEntry{pid: pid, done: make(chan struct{})}
}

// waitOlder waits until the older jobs that have ended too are finished.
func (o *reapOrder) waitOlder(seq int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	var older []*reapEntry
	for s, e := range o.jobs {
		if s >= seq {
			continue
		}
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, e.pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.ECHILD || (err == nil && info.Signo != 0) {
			older = append(older, e) // ended (perhaps already reaped by its goroutine)
		}
	}
	o.mu.Unlock()
	if len(older) == 0 {
		return
	}
	t := time.NewTimer(100 * time.Millisecond) // a bound: their goroutines are on their way
	defer t.Stop()
	for _, e := range older {
		select {
		case <-e.done:
		case <-t.C:
			return
		}
	}
}

// remove marks a job finished.
func (o *reapOrder) remove(seq int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.jobs[seq]; ok {
		close(e.done)
		delete(o.jobs, seq)
	}
}
