package cluster

import (
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fetch pulls j's tasks called task as worker slots come free. While
// they are queued it takes every idle slot (up to Batch) and fetches
// that many without waiting; once it finds the queue empty it waits for
// the next task holding no slot, and takes one when the task comes. A
// job with nothing queued, or one whose executor died, thus keeps no
// slot from the jobs that have tasks.
func (w *worker) fetch(j *workerJob, task string) {
	cons, err := w.js.Consumer(j.ctx, tasksStream, consumerName(j.id, task))
	if err != nil {
		return // the job ended before we saw it
	}
	empty := false // the last fetch found no more tasks queued
	for {
		var batch jetstream.MessageBatch
		want, slots := 1, 0
		if empty {
			batch, err = cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		} else {
			select {
			case <-w.free:
			case <-j.ctx.Done():
				return
			case <-w.draining:
				return
			}
			slots = 1
		more:
			for slots < w.batch {
				select {
				case <-w.free:
					slots++
				default:
					break more
				}
			}
			want = slots
			batch, err = cons.FetchNoWait(want)
		}
		got := 0
		if err == nil {
			got, slots = w.handOver(j, task, batch.Messages(), slots)
			err = batch.Error()
		}
		for range slots - got {
			w.free <- struct{}{}
		}
		empty = got < want
		if j.ctx.Err() != nil || w.isDraining() {
			return
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			return // the job was cancelled or closed
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			pause(j.ctx, 250*time.Millisecond) // server unreachable: do not spin
		}
	}
}

// handOver passes the tasks of a batch to the worker slots as they come
// free; it holds slots worker slots already and takes one more for each
// task beyond them. It returns how many tasks it passed and how many slots
// it holds. Every task gets heartbeats from the moment it arrives, not
// only once it runs: a task may wait behind Workers+Batch others for
// longer than AckWait, and a redelivery must mean that this worker died
// or stalled.
func (w *worker) handOver(j *workerJob, task string, msgs <-chan jetstream.Msg, slots int) (passed, held int) {
	var waiting []*delivery
	for msgs != nil || len(waiting) > 0 {
		var run chan<- *delivery // nil, so not ready, unless the next task has a slot
		var next *delivery
		if len(waiting) > 0 && passed < slots {
			run, next = w.tasks, waiting[0]
		}
		var free <-chan struct{} // nil unless a task waits without a slot
		if passed+len(waiting) > slots {
			free = w.free
		}
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			waiting = append(waiting, &delivery{job: j, task: task, msg: m, stopBeat: heartbeat(m, ackWait(j.spec)/3)})
		case <-free:
			slots++
		case run <- next:
			waiting = waiting[1:]
			passed++
		case <-w.draining:
			w.handBack(waiting, j, task, msgs)
			return passed, slots
		case <-j.ctx.Done():
			// Left to be redelivered. Wait for the fetch to end (within
			// its expiry) so that its goroutine does not outlive us.
			for _, d := range waiting {
				d.stopBeat()
			}
			if msgs != nil {
				for range msgs {
				}
			}
			return passed, slots
		}
	}
	return passed, slots
}

// heartbeat sends InProgress for m every d until stopped.
func heartbeat(m jetstream.Msg, d time.Duration) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock() // the timer may fire before t is assigned
	t = time.AfterFunc(d, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		m.InProgress()
		t.Reset(d)
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}
