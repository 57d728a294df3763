package proc

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// read takes w's frames until w breaks the protocol or dies, then hands
// w to workerDied.
func (p *Pool) read(w *procWorker) {
	defer p.wg.Done()
	var buf []byte // reused: an answer is decoded before the next frame is read
	var m message  // likewise; readFrameInto clears it
	for {
		var err error
		buf, err = readFrameInto(w.from, buf, &m)
		if err == nil {
			switch m.Type {
			case msgRunning:
				p.mu.Lock()
				// Ignored unless about the head: an answer may have overtaken it.
				w.running = len(w.inflight) > 0 && w.inflight[0].id == m.ID
				p.mu.Unlock()
				continue
			case msgRetry:
				p.retrying(w, &m)
				continue
			case msgResult, msgValues:
				err = p.answer(w, &m)
			default:
				err = fmt.Errorf("proc: unexpected %q message from worker %d", m.Type, w.id)
			}
		}
		if err != nil {
			p.workerDied(w, err)
			return
		}
	}
}

// retrying takes a retry frame: the head element's attempt failed and the
// worker runs attempt m.Attempt after m.DelayMS — the pool's clock for
// that element (and its Timeout) starts again then, and a death meanwhile
// is that element's.
func (p *Pool) retrying(w *procWorker, m *message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(w.inflight) == 0 || w.inflight[0].id != m.ID {
		return
	}
	w.inflight[0].tries = int32(max(0, m.Attempt-1))
	w.head = time.Now().Add(time.Duration(m.DelayMS) * time.Millisecond)
	w.running = true
}

// answer takes a result or values frame from w: the answers of the next
// elements of its first job. An error means w broke the protocol.
func (p *Pool) answer(w *procWorker, m *message) error {
	p.mu.Lock()
	if len(w.inflight) == 0 || w.inflight[0].id != m.ID {
		p.mu.Unlock()
		return fmt.Errorf("proc: worker %d answered chunk %d out of order", w.id, m.ID)
	}
	j := w.inflight[0]
	from := j.from
	if j.done { // cancelled: count the answers and drop them
		k := 1
		if m.Type == msgValues {
			var vs []json.RawMessage
			if err := json.Unmarshal(m.Values, &vs); err != nil {
				p.mu.Unlock()
				return fmt.Errorf("proc: worker %d: chunk %d: %w", w.id, m.ID, err)
			}
			k = len(vs)
		}
		if k < 1 || k > j.size() {
			p.mu.Unlock()
			return fmt.Errorf("proc: worker %d sent %d answers for the %d left in chunk %d", w.id, k, j.size(), m.ID)
		}
		p.answeredLocked(w, j, k)
		p.mu.Unlock()
		return nil
	}
	if m.Type == msgResult && m.Error != nil {
		complete := p.failedLocked(j, from, from+1, m.Error.Err())
		p.answeredLocked(w, j, 1)
		after := p.jobAnsweredLocked(w, j)
		p.startHeadLocked(w)
		p.mu.Unlock()
		complete()
		after()
		return nil
	}
	j.claimed = true
	to := j.to
	p.mu.Unlock()
	values := m.Values
	if m.Type == msgResult {
		values = slices.Concat([]byte("["), m.Value, []byte("]"))
	}
	k, err := j.b.b.DecodeResults(int(from), int(to), values)
	if err == nil && k < 1 {
		err = fmt.Errorf("proc: worker %d sent no values for chunk %d", w.id, m.ID)
	}
	p.mu.Lock()
	j.claimed = false
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("proc: worker %d: chunk %d: %w", w.id, m.ID, err)
	}
	if p.cfg.Progress != nil {
		for e := range k {
			if e > 0 || !j.started {
				p.cfg.Progress.Started()
			}
			p.cfg.Progress.Finished(true, nil)
		}
	}
	p.settleLocked(j.b, k)
	p.answeredLocked(w, j, k)
	after := p.jobAnsweredLocked(w, j)
	p.startHeadLocked(w)
	p.mu.Unlock()
	j.b.b.Complete(int(from), int(from)+k, nil)
	after()
	return nil
}

// answeredLocked records k answers for j, the head of w's jobs in
// flight, for w's timing and task count; j leaves the head when it has
// no elements left.
func (p *Pool) answeredLocked(w *procWorker, j *job, k int) {
	j.from += int32(k)
	j.tries, j.started = 0, false
	if j.from == j.to {
		w.inflight[0] = nil
		w.inflight = w.inflight[1:]
	}
	w.pending -= k
	w.running = false
	now := time.Now()
	if d := max(0, now.Sub(w.head)) / time.Duration(k); w.avg == 0 {
		w.avg = d
	} else {
		w.avg = (7*w.avg + d) / 8
	}
	w.head = now
	w.ran += k
	if p.maxTasks > 0 && w.ran >= p.maxTasks {
		w.retiring = true // feed closes its input once the last answer is in
	}
	p.cond.Broadcast()
}

// jobAnsweredLocked finishes job j once all its elements are answered;
// if its context ended while its answers were being decoded, it cancels
// the rest. The returned function completes what that ended; call it
// after unlocking.
func (p *Pool) jobAnsweredLocked(w *procWorker, j *job) func() {
	if j.from == j.to {
		p.finishLocked(j)
		return func() {}
	}
	err := j.b.b.Context().Err()
	if err == nil || j.done {
		return func() {}
	}
	complete := p.failedLocked(j, j.from, j.to, err)
	p.finishLocked(j)
	id := j.id
	return func() {
		w.send(&message{Type: msgCancel, ID: id})
		complete()
	}
}
