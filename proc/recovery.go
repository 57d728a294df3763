package proc

import (
	"fmt"
	"slices"
	"time"

	"github.com/crewrun/crew"
)

// cancel completes every element of bs still waiting, running or waiting
// to run again with its context's error, and tells the workers running
// them to stop.
func (p *Pool) cancel(bs *batch) {
	err := bs.b.Context().Err()
	type told struct {
		w  *procWorker
		id uint64
	}
	var tell []told
	var complete []func()
	p.mu.Lock()
	end := func(j *job) {
		complete = append(complete, p.failedLocked(j, j.from, j.to, err))
		p.finishLocked(j)
	}
	for _, j := range p.queue {
		if j.b == bs && !j.done {
			end(j)
		}
	}
	for j := range p.backoff {
		if j.b == bs {
			end(j)
		}
	}
	for _, w := range p.workers {
		for _, j := range w.inflight {
			if j.b == bs && !j.done && !j.claimed {
				end(j)
				tell = append(tell, told{w, j.id})
			}
		}
	}
	p.mu.Unlock()
	for _, t := range tell {
		t.w.send(&message{Type: msgCancel, ID: t.id})
	}
	for _, c := range complete {
		c()
	}
}

// workerDied handles a worker's end: the element it was running fails
// (or runs again under crew.Retries), the elements queued behind it go
// back to the pool, and a replacement starts unless the pool is closed
// and has no work left.
func (p *Pool) workerDied(w *procWorker, readErr error) {
	waitErr := w.reap()
	close(w.exited)

	p.mu.Lock()
	w.dead = true
	p.workers = slices.DeleteFunc(p.workers, func(x *procWorker) bool { return x == w })
	var complete func()
	// The head of the elements in flight was running if the worker said
	// so, if the watchdog killed it for overrunning (answers finished
	// since were sent meanwhile), or if nothing else was in flight.
	// Otherwise the worker may have died with answers of elements it
	// finished after the head still buffered, and any element in flight
	// may be the one it was running: each goes back to the queue to run
	// alone on an idle worker, so that an element that kills its worker
	// is known, and fails, and the others succeed.
	known := w.running || w.timedOut || w.pending == 1
	if len(w.inflight) > 0 && !known {
		p.requeueLocked(p.aloneLocked(w.inflight))
	} else if len(w.inflight) > 0 {
		if j := w.inflight[0]; !j.done {
			failErr := fmt.Errorf("%w: worker %d (pid %d): %s", crew.ErrWorkerDied, w.id, w.cmd.Process.Pid, exitStatus(waitErr, readErr))
			if w.timedOut {
				failErr = fmt.Errorf("%w after %v: worker %d killed", crew.ErrTimeout, p.cfg.Timeout, w.id)
			}
			complete = p.headDiedLocked(j, failErr)
		}
		var rest []*job
		for _, j := range w.inflight {
			if !j.done {
				rest = append(rest, j)
			}
		}
		p.requeueLocked(rest)
	}
	w.inflight, w.pending = nil, 0
	// A retired worker is replaced too, even with nothing queued now:
	// work submitted later, or run again after a backoff, needs a worker.
	// After Close only what is queued or waiting does; work running on
	// other workers does not.
	replace := !p.closed || len(p.queue) > 0 || len(p.backoff) > 0
	if replace {
		p.starting++
	}
	p.cond.Broadcast()
	p.mu.Unlock()

	if complete != nil {
		complete()
	}
	if replace {
		p.replace()
	}
}

// headDiedLocked takes the first element of j, which was running when its
// worker died with failErr, out of j: it runs again after the policy's
// backoff if it has attempts left, or fails. The returned function, if
// not nil, completes it.
func (p *Pool) headDiedLocked(j *job, failErr error) func() {
	e := &job{b: j.b, from: j.from, to: j.from + 1, tries: j.tries + 1, started: j.started}
	j.from++
	j.tries, j.started = 0, false
	if j.from == j.to {
		p.finishLocked(j)
	}
	p.outstanding++
	if !p.policy.Retryable(j.b.b.Context(), int(e.tries), failErr) {
		complete := p.failedLocked(e, e.from, e.to, failErr)
		p.finishLocked(e)
		return complete
	}
	p.backoff[e] = time.AfterFunc(p.policy.RetryDelay(int(e.tries)), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.backoff[e]; ok { // else cancelled meanwhile
			delete(p.backoff, e)
			p.enqueueLocked(e)
			p.ensureWorkerLocked()
		}
	})
	return nil
}

// aloneLocked returns the elements of jobs not yet done, each in a job
// that goes alone.
func (p *Pool) aloneLocked(jobs []*job) []*job {
	var alone []*job
	for _, j := range jobs {
		if j.done {
			continue
		}
		j.alone = true
		alone = append(alone, j)
		for e := j.from + 1; e < j.to; e++ {
			alone = append(alone, &job{b: j.b, from: e, to: e + 1, alone: true})
			p.outstanding++
		}
		j.to = j.from + 1
	}
	return alone
}

// ensureWorkerLocked starts a worker if none is left or starting — after
// a replacement failed to start — so that what was just queued either
// runs or fails with why no worker could start.
func (p *Pool) ensureWorkerLocked() {
	if len(p.workers) > 0 || p.starting > 0 {
		return
	}
	p.starting++
	// Close waits for the work queued, so it cannot be in wg.Wait yet.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.replace()
	}()
}

// replace starts a worker in place of one that ended; the caller counted
// it in p.starting. If it cannot start, and no worker is left or
// starting, the queued work fails rather than wait forever; so does work
// waiting to run again, when it is due (ensureWorkerLocked).
func (p *Pool) replace() {
	nw, err := p.startWorker()
	p.mu.Lock()
	p.starting--
	if err == nil {
		// Work may have run out meanwhile: after Close, the feed then
		// lets the worker go at once.
		p.lastErr = nil
		p.launch(nw)
		p.mu.Unlock()
		return
	}
	p.lastErr = err
	var complete []func()
	if len(p.workers) == 0 && p.starting == 0 {
		err = fmt.Errorf("%w: no worker could be started: %w", crew.ErrWorkerDied, err)
		for _, j := range p.queue {
			if !j.done {
				complete = append(complete, p.failedLocked(j, j.from, j.to, err))
				p.finishLocked(j)
			}
		}
		p.queue, p.queued = nil, 0
	}
	p.mu.Unlock()
	for _, c := range complete {
		c()
	}
}

// watchdog kills workers whose current element overran the timeout plus
// grace. It runs until Close has nothing left to wait for: a cancelled
// element no longer counts as outstanding, but its worker may still be
// running it, ignoring the cancellation, and Close waits for the worker.
func (p *Pool) watchdog() {
	defer p.wg.Done()
	tick := time.NewTicker(min(max(p.cfg.Timeout/4, 5*time.Millisecond), 250*time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		p.mu.Lock()
		answering := slices.ContainsFunc(p.workers, func(w *procWorker) bool { return w.pending > 0 })
		if p.closed && p.outstanding == 0 && !answering {
			p.mu.Unlock()
			return
		}
		for _, w := range p.workers {
			if w.pending > 0 && !w.dead && time.Since(w.head) > p.cfg.Timeout+p.policy.Grace {
				w.timedOut = true
				w.kill()
			}
		}
		p.mu.Unlock()
	}
}
