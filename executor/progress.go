package executor

import "sync"

// Progress is a snapshot of an executor's counts of elements (calls);
// crew.Progress has the same fields.
type Progress struct {
	Submitted int64 // accepted by the executor
	Running   int64 // started, not finished
	Done      int64 // finished without error
	Failed    int64 // finished with an error
	Abandoned int64 // timed out and abandoned, still running (see Policy.Grace)
}

// Tracker keeps an executor's Progress and reports every change to a
// function (crew.OnProgress). Its methods do nothing on a nil Tracker, so
// executors call them unconditionally.
//
// The contract, the same on every executor (crewtest checks it): each
// element is reported Submitted once, before it can start; then either
// Started and Finished(true, …), or — if it never ran (cancelled while
// queued, refused) — Finished(false, …) alone. So an element costs the
// function three calls, or two, and Running never counts more elements
// than the executor runs at once.
type Tracker struct {
	mu sync.Mutex
	p  Progress
	fn func(Progress)
}

// NewTracker returns a Tracker that calls fn, serialised, after every
// change.
func NewTracker(fn func(Progress)) *Tracker { return &Tracker{fn: fn} }

func (t *Tracker) update(f func(*Progress)) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.p)
	if t.fn != nil {
		t.fn(t.p)
	}
}

// Snapshot returns the counts now.
func (t *Tracker) Snapshot() Progress {
	if t == nil {
		return Progress{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.p
}

// Submitted records n elements accepted. Call it before any of them can
// start, so that no count ever runs ahead of it.
func (t *Tracker) Submitted(n int) {
	if t == nil {
		return
	}
	for range n {
		t.update(func(p *Progress) { p.Submitted++ })
	}
}

// Withdrawn takes back Submitted for n elements the executor then
// refused (its Exec returned an error).
func (t *Tracker) Withdrawn(n int) {
	if t == nil {
		return
	}
	for range n {
		t.update(func(p *Progress) { p.Submitted-- })
	}
}

// Started records an element that began running.
func (t *Tracker) Started() { t.update(func(p *Progress) { p.Running++ }) }

// Finished records an element's outcome; started says whether Started was
// recorded for it.
func (t *Tracker) Finished(started bool, err error) {
	t.update(func(p *Progress) {
		if started {
			p.Running--
		}
		if err != nil {
			p.Failed++
		} else {
			p.Done++
		}
	})
}

func (t *Tracker) abandoned(delta int64) { t.update(func(p *Progress) { p.Abandoned += delta }) }
