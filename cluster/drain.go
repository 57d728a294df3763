package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// How a worker stops (docs/protocol-cluster.md, "Draining a worker").
// When Work's context ends, the worker drains: it stops fetching, hands
// back at once the tasks it fetched but has not started, lets its
// running tasks finish for up to the drain timeout, stores their results,
// and returns. Past the timeout, or when the StopNow context ends, the
// running tasks' contexts are cancelled and those tasks are handed back
// for another worker (that delivery counts: they did run).
//
// Handing back must not count as a delivery: JetStream counts every
// delivery of a message, and from the third (soloFrom) a task runs alone,
// from the twelfth (maxDeliver) it fails. A Nak would count. So the worker
// publishes a copy of each held task, with the header Crew-Prior saying
// how many deliveries it had had before the one handed back, waits until
// the copy is stored, then acknowledges the original. deliveries adds the
// header to the copy's count, so a task keeps the deliveries it really
// had, and a drain adds none.

const hdrPrior = "Crew-Prior" // deliveries before a hand-back, on a handed-back copy

// defaultDrain is Work's drain timeout without DrainTimeout.
const defaultDrain = 30 * time.Second

type (
	drainKey   struct{}
	stopNowKey struct{}
)

// DrainTimeout sets how long a worker whose context ended lets its
// running tasks finish (default 30 s; crew worker --drain-timeout). 0
// cancels them at once. Either way the tasks it fetched but had not
// started go back to the queue at once, with no delivery counted.
func DrainTimeout(d time.Duration) crew.Option {
	return func(c *executor.Config) error {
		if d < 0 {
			return fmt.Errorf("%w: cluster.DrainTimeout(%v): negative", crew.ErrInvalidOption, d)
		}
		return executor.Custom(drainKey{}, d)(c)
	}
}

// StopNow makes a draining worker stop at once when ctx ends: its running
// tasks are cancelled and handed back (crew worker's second interrupt).
func StopNow(ctx context.Context) crew.Option { return executor.Custom(stopNowKey{}, ctx) }

// Signals returns a context that ends at the first SIGINT or SIGTERM and
// a StopNow option that the second one triggers: Work(ctx, url, now)
// then drains on the first signal and stops at once on the second, as
// crew worker does. release stops listening.
func Signals(parent context.Context) (ctx context.Context, now crew.Option, release func()) {
	ctx, first := context.WithCancel(parent)
	hard, second := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for n := 0; ; {
			select {
			case <-sig:
				if n++; n == 1 {
					first()
				} else {
					second()
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return ctx, StopNow(hard), func() {
		once.Do(func() {
			signal.Stop(sig)
			close(done)
			first()
			second()
		})
	}
}

// stopping is how work stops once its context ends.
type stopping struct {
	timeout time.Duration   // for the running tasks to finish
	now     context.Context // nil, or ends the drain at once
}

// stoppingOf reads Work's drain options.
func stoppingOf(cfg executor.Config) stopping {
	return stopping{timeout: custom(cfg, drainKey{}, defaultDrain), now: custom[context.Context](cfg, stopNowKey{}, nil)}
}

// finishRunning waits for the worker slots, which run their last tasks,
// until the drain timeout or the StopNow context; it then ends the
// worker's life, which cancels the tasks still running, and waits for
// the slots to return.
func (w *worker) finishRunning(stop stopping, endLife func()) {
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	var timeout <-chan time.Time
	if stop.timeout > 0 {
		t := time.NewTimer(stop.timeout)
		defer t.Stop()
		timeout = t.C
	} else {
		endLife()
	}
	var now <-chan struct{}
	if stop.now != nil {
		now = stop.now.Done()
	}
	select {
	case <-done:
	case <-timeout:
	case <-now:
	}
	endLife()
	<-done
}

// deliveries returns how many times m was delivered, counting the
// deliveries of the tasks it was handed back from, not the hand-backs.
func deliveries(m jetstream.Msg) int {
	meta, err := m.Metadata()
	if err != nil {
		return 1
	}
	n := int(meta.NumDelivered)
	if prior := m.Headers().Get(hdrPrior); prior != "" {
		p, _ := strconv.Atoi(prior)
		n += max(p, 0)
	}
	return n
}

// handBack returns tasks this worker fetched but did not start to the
// queue, without counting a delivery (see the top of this file), and
// then those still arriving on msgs until it closes. A task whose copy
// could not be stored (the server is unreachable) is Nak'ed instead: it
// comes back at once, or after AckWait, counted.
func (w *worker) handBack(held []*delivery, j *workerJob, task string, msgs <-chan jetstream.Msg) {
	if msgs != nil {
		for m := range msgs {
			held = append(held, &delivery{job: j, task: task, msg: m, stopBeat: func() {}})
		}
	}
	if len(held) == 0 {
		return
	}
	type copied struct {
		d   *delivery
		fut jetstream.PubAckFuture
		err error
	}
	copies := make([]copied, len(held))
	for i, d := range held {
		c := nats.NewMsg(d.msg.Subject())
		for k, v := range d.msg.Headers() {
			// Not the server's headers: a copy with the original's
			// Nats-Msg-Id would be dropped as a duplicate.
			if !strings.HasPrefix(k, "Nats-") {
				c.Header[k] = v
			}
		}
		c.Header.Set(hdrPrior, strconv.Itoa(deliveries(d.msg)-1))
		c.Data = d.msg.Data()
		fut, err := w.js.PublishMsgAsync(c)
		copies[i] = copied{d, fut, err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	returned := 0
	for _, c := range copies {
		err := c.err
		if err == nil {
			select {
			case ack := <-c.fut.Ok():
				if ack.Duplicate {
					err = errors.New("the copy was taken for a duplicate")
				}
			case err = <-c.fut.Err():
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		c.d.stopBeat()
		if err == nil && c.d.msg.DoubleAck(ctx) == nil {
			returned++
			continue
		}
		c.d.msg.Nak()
	}
	if drainHook != nil {
		drainHook(returned)
	}
}

// drainHook, when set (by the tests), learns how many held tasks a drain
// handed back.
var drainHook func(handedBack int)

// reply encodes the result message of a task.
func (w *worker) reply(out []byte, err error, ran time.Duration, attempts, delivered int) []byte {
	r := reply{Value: out, Error: executor.ToRemote(err), RunNS: int64(ran), By: w.self}
	if attempts > 1 {
		r.Attempts = attempts
	}
	if delivered > 1 {
		r.Delivered = delivered
	}
	body, _ := json.Marshal(r)
	return body
}

// isDraining reports whether the worker has stopped fetching.
func (w *worker) isDraining() bool {
	select {
	case <-w.draining:
		return true
	default:
		return false
	}
}
