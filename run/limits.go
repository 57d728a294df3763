package run

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The limits on starting a job, besides Jobs: -j FILE (the number read
// from a file, read again when it changes), --load (the number of
// processes running or waiting for a disk right now, as GNU parallel
// counts it) and --memfree (free memory; below half of it the youngest
// job is killed and, with --retries, run again later).

// maxJobsFromFile bounds the goroutines taking jobs when -j names a file
// whose number may grow while the run goes on.
const maxJobsFromFile = 256

// limiter holds back job starts. A nil *limiter holds back nothing and
// costs nothing.
type limiter struct {
	jobsFile string
	memFree  int64
	load     float64
	poll     time.Duration

	mu       sync.Mutex
	changed  chan struct{}
	running  int
	allowed  int
	fileMod  time.Time
	lastRead time.Time
	procs    map[int]*procHandle // running jobs by seq, for --memfree
	done     chan struct{}
	watching sync.WaitGroup
}

// procHandle lets the limiter kill a running job's process group.
type procHandle struct {
	kill      func()
	memKilled bool
}

func newLimiter(o *Options) (*limiter, error) {
	if o.JobsFile == "" && o.MemFree <= 0 && o.Load <= 0 {
		return nil, nil
	}
	if o.MemFree > 0 || o.Load > 0 {
		if err := limitsSupported(); err != nil {
			return nil, err
		}
	}
	l := &limiter{jobsFile: o.JobsFile, memFree: o.MemFree, load: o.Load, allowed: o.Jobs,
		changed: make(chan struct{}), procs: map[int]*procHandle{}, done: make(chan struct{}), poll: time.Second}
	if l.jobsFile != "" {
		if err := l.readJobsFile(true); err != nil {
			return nil, err
		}
	}
	if l.memFree > 0 {
		l.watching.Add(1)
		go l.watchMemory()
	}
	return l, nil
}

// ParseJobs reads -j's value: N, 0 (as many as possible), N% of the CPUs
// (rounded up), +N or -N CPUs. A value that names a file is the caller's
// to read (see Options.JobsFile).
func ParseJobs(s string, cpus int) (int, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || p <= 0 || math.IsInf(p, 0) {
			return 0, fmt.Errorf("%q: want a positive percentage", s)
		}
		return max(1, int(math.Ceil(float64(cpus)*p/100))), nil
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, "-"):
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("%q: want +N or -N", s)
		}
		return max(1, cpus+n), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want a whole number ≥ 0, N%%, +N, -N or a file", s)
	}
	if n == 0 {
		return maxJobsFromFile, nil // "as many as possible": bounded so that file handles last
	}
	return n, nil
}

// readJobsFile reads -j FILE again if it changed (at most once a second,
// unless first).
func (l *limiter) readJobsFile(first bool) error {
	if !first && time.Since(l.lastRead) < time.Second {
		return nil
	}
	l.lastRead = time.Now()
	// The first read must succeed; later, a file being rewritten keeps
	// the count it had.
	fail := func(err error) error {
		if first {
			return fmt.Errorf("-j %s: %w", l.jobsFile, err)
		}
		return nil
	}
	fi, err := os.Stat(l.jobsFile)
	if err != nil {
		return fail(err)
	}
	if !first && !fi.ModTime().After(l.fileMod) {
		return nil
	}
	l.fileMod = fi.ModTime()
	b, err := os.ReadFile(l.jobsFile)
	if err != nil {
		return fail(err)
	}
	n, err := ParseJobs(string(b), CPUs().Threads)
	if err != nil {
		return fail(err)
	}
	l.allowed = min(n, maxJobsFromFile)
	return nil
}

// wait blocks until a job may start, and counts it as running; false if
// ctx ends or the run stops first.
func (l *limiter) wait(ctx context.Context, stop <-chan struct{}) bool {
	if l == nil {
		return true
	}
	for {
		l.mu.Lock()
		if l.jobsFile != "" {
			l.readJobsFile(false)
		}
		ok := l.running < l.allowed && l.loadOK() && l.memOK()
		if ok {
			l.running++
			l.mu.Unlock()
			return true
		}
		ch := l.changed
		l.mu.Unlock()
		if !l.pause(ctx, stop, ch) {
			return false
		}
	}
}

// pause waits for a poll period or until wake is closed (nil: never); false
// when ctx ends or the run stops first.
func (l *limiter) pause(ctx context.Context, stop, wake <-chan struct{}) bool {
	t := time.NewTimer(l.poll)
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
	return true
}

// release counts a job as ended (or a wait that took no job).
func (l *limiter) release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.running--
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// waitMemory holds back a retry until --memfree allows a start (a job
// killed for memory goes back to wait, as in GNU parallel).
func (l *limiter) waitMemory(ctx context.Context, stop <-chan struct{}) bool {
	if l == nil || l.memFree <= 0 {
		return true
	}
	for !l.memOK() {
		if !l.pause(ctx, stop, nil) {
			return false
		}
	}
	return true
}

func (l *limiter) loadOK() bool {
	if l.load <= 0 {
		return true
	}
	n, err := runningProcesses()
	return err == nil && float64(n) < l.load
}

func (l *limiter) memOK() bool {
	if l.memFree <= 0 {
		return true
	}
	free, err := freeMemory()
	return err == nil && free >= l.memFree
}

// track registers a running job's process for --memfree.
func (l *limiter) track(seq int, h *procHandle) {
	if l == nil || l.memFree <= 0 {
		return
	}
	l.mu.Lock()
	l.procs[seq] = h
	l.mu.Unlock()
}

func (l *limiter) untrack(seq int) {
	if l == nil || l.memFree <= 0 {
		return
	}
	l.mu.Lock()
	delete(l.procs, seq)
	l.mu.Unlock()
}

// watchMemory kills the youngest job while free memory is below half of
// --memfree, as GNU parallel does.
func (l *limiter) watchMemory() {
	defer l.watching.Done()
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		free, err := freeMemory()
		if err != nil || free >= l.memFree/2 {
			continue
		}
		l.mu.Lock()
		youngest := -1
		for seq, h := range l.procs {
			if seq > youngest && !h.memKilled {
				youngest = seq
			}
		}
		var h *procHandle
		if youngest >= 0 {
			h = l.procs[youngest]
			h.memKilled = true
		}
		l.mu.Unlock()
		if h != nil {
			h.kill()
		}
	}
}

func (l *limiter) stop() {
	if l == nil {
		return
	}
	close(l.done)
	l.watching.Wait()
}

// CPUCount is the number of CPUs counted three ways, as GNU parallel's
// --number-of-sockets, --number-of-cores and --number-of-threads print
// them (each at most the CPUs this process may run on).
type CPUCount struct{ Sockets, Cores, Threads int }
