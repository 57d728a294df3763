//go:build linux

package run

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reapOrder makes jobs that end at about the same time finish (print,
// log, free their slot, count for --halt) oldest first, as GNU parallel
// finishes them: it reaps with waitpid(-1), which Linux answers with the
// oldest child that has ended, and only after it has started the jobs it
// could — which takes it milliseconds a job, so quick jobs have mostly
// ended in the order they started. A job that ends while an older one,
// started less than youngGrace ago, still runs waits for it — until the
// older one is youngGrace old, and for at most half its own run time: so
// the tutorial's `-j2 --halt now,fail=1 echo {}\; exit {} ::: 0 0 1 2 3`
// prints 0 0 1, as documented, rather than 0 0 2 when the second job's
// process happened to end first. Only runs whose outcome shows the order —
// --halt, or a job slot ({%}) in use — pay for it.
type reapOrder struct {
	mu   sync.Mutex
	jobs map[int]*reapEntry
}

type reapEntry struct {
	pid   int
	start time.Time
	done  chan struct{}
}

// youngGrace is how long after its start a running job holds back
// younger jobs that have ended.
const youngGrace = 50 * time.Millisecond

func newReapOrder() *reapOrder { return &reapOrder{jobs: map[int]*reapEntry{}} }

// take registers a job as it is handed to a slot, before its process
// starts: a younger job whose slot goroutine ran first must see it.
func (o *reapOrder) take(seq int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.jobs[seq]; !ok {
		o.jobs[seq] = &reapEntry{start: time.Now(), done: make(chan struct{})}
	}
}

// add records the process of a job's attempt.
func (o *reapOrder) add(seq, pid int, start time.Time) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.jobs[seq]; ok {
		e.pid, e.start = pid, start // a retry
		return
	}
	o.jobs[seq] = &reapEntry{pid: pid, start: start, done: make(chan struct{})}
}

// ended reports whether the job's process has ended (or has been reaped
// already by its goroutine), without reaping it.
func (e *reapEntry) ended() bool {
	if e.pid == 0 {
		return false // not started yet
	}
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, e.pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == unix.ECHILD || (err == nil && info.Signo != 0)
}

// waitOlder waits until the older jobs that have ended too are finished,
// and for older jobs still running that started less than youngGrace ago.
func (o *reapOrder) waitOlder(seq int, runtime time.Duration) {
	if o == nil {
		return
	}
	now := time.Now()
	// A job waits for the older ones at most as long as it ran itself, so
	// quick jobs beside a slower young one are slowed by half at most.
	limit := now.Add(runtime / 2)
	o.mu.Lock()
	var older []*reapEntry
	for s, e := range o.jobs {
		if s < seq && (now.Sub(e.start) < youngGrace || e.ended()) {
			older = append(older, e)
		}
	}
	o.mu.Unlock()
	if len(older) == 0 {
		return
	}
	slices.SortFunc(older, func(a, b *reapEntry) int { return a.start.Compare(b.start) })
	for _, e := range older {
		young := time.NewTimer(min(time.Until(e.start.Add(youngGrace)), time.Until(limit)))
		select {
		case <-e.done:
			young.Stop()
			continue
		case <-young.C:
		}
		if !e.ended() {
			continue // a long job: the younger one does not wait for it
		}
		// Ended: its goroutine is on its way to finish it.
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-e.done:
		case <-t.C:
		}
		t.Stop()
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
