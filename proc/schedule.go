package proc

import (
	"slices"
	"time"
)

// maxFrameElements bounds the elements sent to a worker in one frame.
const maxFrameElements = 1024

// frameFor returns how many queued elements w should take now: enough
// for about two milliseconds of its work (targetFor), and no more than
// its share of the queue, so that tiny tasks travel in large frames and
// long ones spread out.
func (p *Pool) frameFor(w *procWorker) int {
	share := (p.queued + len(p.workers) - 1) / max(1, len(p.workers))
	return max(1, min(p.targetFor(w), share, p.quota(w)))
}

// targetFor returns how many elements make about two milliseconds of w's
// work, as measured so far: 1 while nothing is known.
func (p *Pool) targetFor(w *procWorker) int {
	if w.avg == 0 {
		return 1 // a probe: nothing is known yet about how long tasks take
	}
	return max(1, min(int(2*time.Millisecond/w.avg), maxFrameElements))
}

// quota is how many more elements w may be given before
// MaxTasksPerWorker retires it.
func (p *Pool) quota(w *procWorker) int {
	if p.maxTasks == 0 {
		return 1 << 30
	}
	return p.maxTasks - w.ran - w.pending
}

// feed sends w work as it has room for it, until w is dead, retired, or
// the pool closed with nothing left for it.
func (p *Pool) feed(w *procWorker) {
	defer p.wg.Done()
	var buf []byte
	for {
		p.mu.Lock()
		for {
			if w.dead {
				p.mu.Unlock()
				return
			}
			// After Close, an idle worker goes once nothing is queued
			// and nothing waits to run again.
			idle := w.pending == 0
			if (p.closed && len(p.queue) == 0 && len(p.backoff) == 0 && idle) || (w.retiring && idle) {
				p.mu.Unlock()
				w.toWorker.Close() // the worker finishes and exits on EOF
				return
			}
			// Elements a worker may hold: tiny ones in two frames;
			// longer ones one running and one queued behind it while
			// there is plenty of work — so that the worker never waits
			// for the pool, which on a busy machine may be scheduled
			// late — and one at a time near the end, so that the last
			// elements spread over all workers.
			limit := 1
			switch {
			case w.avg > 0 && w.avg < time.Millisecond:
				limit = 2 * p.frameFor(w)
			case w.avg > 0 && p.queued >= len(p.workers):
				limit = 2
			}
			if len(p.queue) > 0 && !w.retiring && p.quota(w) > 0 && w.pending < max(limit, 1) && p.aloneAllowsLocked(w) {
				break
			}
			p.cond.Wait()
		}
		sent := p.takeLocked(p.frameFor(w))
		if len(sent) == 0 {
			p.mu.Unlock()
			continue
		}
		if w.pending == 0 {
			w.head = time.Now()
		}
		for _, j := range sent {
			w.pending += j.size()
		}
		w.inflight = append(w.inflight, sent...)
		p.startHeadLocked(w)
		p.mu.Unlock()
		var unsendable []*job
		buf, unsendable = appendJobs(buf[:0], sent)
		if len(unsendable) > 0 {
			// Taken back before anything is written, so that the worker's
			// answers still match the jobs in flight.
			p.unsendable(w, unsendable)
		}
		if len(buf) == 0 {
			continue
		}
		w.wmu.Lock()
		_, err := w.out.Write(buf)
		if err == nil {
			err = w.out.Flush()
		}
		w.wmu.Unlock()
		if err != nil {
			w.kill() // the reader sees it die and requeues the work
		}
	}
}

// startHeadLocked counts the element w runs now as Running, once: the
// first unanswered element of its first job. A worker runs its elements
// one at a time, in order, so Running never exceeds the workers.
func (p *Pool) startHeadLocked(w *procWorker) {
	if len(w.inflight) == 0 {
		return
	}
	if j := w.inflight[0]; !j.started && !j.done {
		j.started = true
		p.cfg.Progress.Started()
	}
}

// aloneAllowsLocked reports whether w may take work, as far as elements
// that go alone are concerned: it holds none, and if one is next in the
// queue, w is idle.
func (p *Pool) aloneAllowsLocked(w *procWorker) bool {
	if len(w.inflight) > 0 && w.inflight[0].alone {
		return false
	}
	// The first job not already done decides: a cancelled one ahead of a
	// job that goes alone would otherwise let a busy worker take it.
	for _, next := range p.queue {
		if !next.done {
			return !next.alone || w.pending == 0
		}
	}
	return true
}

// takeLocked takes up to n elements from the front of the queue, splitting
// a job if it holds more. A job that goes alone is taken only first, and
// then alone.
func (p *Pool) takeLocked(n int) []*job {
	var taken []*job
	for count := 0; count < n && len(p.queue) > 0; {
		j := p.queue[0]
		if j.alone && !j.done && count > 0 {
			break
		}
		if !j.done && j.size() > n-count {
			part := &job{b: j.b, from: j.from, to: j.from + int32(n-count), tries: j.tries, started: j.started}
			j.from, j.tries, j.started = part.to, 0, false
			p.queued -= part.size()
			p.outstanding++
			j = part
		} else {
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.queued -= j.size()
			if j.done {
				continue
			}
		}
		p.nextID++
		j.id = p.nextID
		taken = append(taken, j)
		count += j.size()
		if j.alone {
			break
		}
	}
	return taken
}

// unsendable handles jobs whose arguments did not encode as one array (an
// argument JSON cannot represent, say) or made too large a frame: each
// element becomes a job of its own, so that only the culprits fail.
func (p *Pool) unsendable(w *procWorker, jobs []*job) {
	var complete []func()
	p.mu.Lock()
	for _, j := range jobs {
		i := slices.Index(w.inflight, j)
		if i < 0 || j.done {
			continue // the worker died meanwhile and the job went back to the queue
		}
		w.inflight = slices.Delete(w.inflight, i, i+1)
		w.pending -= j.size()
		if j.size() == 1 {
			args, err := j.b.b.EncodeArgs(int(j.from), int(j.to))
			if err == nil {
				err = frameTooBig(len(args))
			}
			complete = append(complete, p.failedLocked(j, j.from, j.to, err))
			p.finishLocked(j)
			continue
		}
		var singles []*job
		for e := j.from; e < j.to; e++ {
			s := &job{b: j.b, from: e, to: e + 1, alone: j.alone}
			if e == j.from {
				s.tries, s.started = j.tries, j.started
			}
			p.outstanding++
			singles = append(singles, s)
		}
		p.finishLocked(j)
		p.requeueLocked(singles)
	}
	p.startHeadLocked(w)
	p.mu.Unlock()
	for _, c := range complete {
		c()
	}
}
