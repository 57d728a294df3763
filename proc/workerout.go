package proc

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew/executor"
)

// workerOut buffers the frames a worker sends. What is buffered and not
// flushed at once goes out within a delay, by a timer armed only then, or
// when an element starts: an idle worker never wakes up for it, and a
// busy one once per element that outlasts the delay, which matters on a
// machine whose cores all run tasks.
//
// When the timer finds an element running, it also sends a running frame
// naming it, and the answer to that element is then sent as soon as it
// ends. So if the worker dies, the pool knows which element it was
// running when the last frame it received says so; otherwise the worker
// may have died with answers of elements run after the last one it sent
// still buffered (within the delay), and the pool cannot tell which
// element killed it. Sending a frame as every element starts would tell
// it always, but at a system call per tiny task.
type workerOut struct {
	mu    sync.Mutex
	w     *bufio.Writer
	vals  []byte    // a values frame's array
	buf   []byte    // a values or result frame
	chunk *chunkRun // the chunk running, if any

	delay time.Duration
	timer *time.Timer
	armed atomic.Bool // the timer will flush
}

func newWorkerOut(out io.Writer, delay time.Duration) *workerOut {
	o := &workerOut{w: bufio.NewWriterSize(out, 64<<10), delay: delay}
	o.timer = time.AfterFunc(time.Hour, o.flush)
	o.timer.Stop()
	return o
}

// later makes sure what is buffered now, and the running chunk's progress,
// is sent within the delay, with a running frame if an element is running
// then.
func (o *workerOut) later() {
	if o.armed.CompareAndSwap(false, true) {
		o.timer.Reset(o.delay)
	}
}

// stop stops the flush timer.
func (o *workerOut) stop() { o.timer.Stop() }

// flushedLocked disarms the flush timer after everything buffered was
// sent: what is written later arms it again.
func (o *workerOut) flushedLocked() {
	if o.armed.CompareAndSwap(true, false) {
		o.timer.Stop()
	}
}

// flushLocked sends everything buffered now.
func (o *workerOut) flushLocked() error {
	err := o.w.Flush()
	o.flushedLocked()
	return err
}

func (o *workerOut) appendValuesLocked(id uint64, b executor.Decoded, from, to int) (int, error) {
	if from >= to {
		return from, nil
	}
	vals, err := b.AppendResults(o.vals[:0], from, to)
	if err == nil {
		o.vals = vals
		o.buf = appendValues(o.buf[:0], id, vals)
		return to, writeRaw(o.w, o.buf)
	}
	if to-from > 1 {
		for i := from; i < to; i++ {
			if _, err := o.appendValuesLocked(id, b, i, i+1); err != nil {
				return i, err
			}
		}
		return to, nil
	}
	return to, writeFrame(o.w, &message{Type: msgResult, ID: id, Error: executor.ToRemote(err)})
}

func (o *workerOut) flushIf(flush bool) error {
	if !flush {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flushLocked()
}

func (o *workerOut) send(m *message, flush bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := writeFrame(o.w, m); err != nil {
		return err
	}
	if flush {
		return o.flushLocked()
	}
	o.later()
	return nil
}

// flush frames the running chunk's progress and sends everything
// buffered, and a running frame if an element is running.
func (o *workerOut) flush() {
	o.armed.Store(false)
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.chunk; c != nil {
		var err error
		c.framed, err = o.appendValuesLocked(c.id, c.d, c.framed, int(c.ran.Load()))
		if err == nil && c.framed < c.n && o.runningLocked(c.id) == nil {
			c.owed.Store(int64(c.framed) + 1)
		}
	}
	o.w.Flush()
}

// retry sends the answers before element i of c, which failed, and a
// retry frame saying that its attempt number attempt starts after delay.
func (o *workerOut) retry(c *chunkRun, i, attempt int, delay time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	c.framed, err = o.appendValuesLocked(c.id, c.d, c.framed, i)
	if err == nil {
		err = writeFrame(o.w, &message{Type: msgRetry, ID: c.id, Attempt: attempt, DelayMS: delay.Milliseconds()})
	}
	if err == nil {
		o.flushLocked()
	}
}

// runningLocked writes a running frame for chunk id.
func (o *workerOut) runningLocked(id uint64) error {
	o.buf = appendRunning(o.buf[:0], id)
	return writeRaw(o.w, o.buf)
}

// answerOwed sends the answers up to element i, which ended after a
// running frame named it.
func (o *workerOut) answerOwed(c *chunkRun, i int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !c.owedBy(i) {
		return nil // the flush timer named a later element meanwhile, and sent this one
	}
	c.owed.Store(0)
	var err error
	c.framed, err = o.appendValuesLocked(c.id, c.d, c.framed, i+1)
	if err == nil {
		err = o.flushLocked()
	}
	return err
}
