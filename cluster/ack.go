package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// isTooLarge reports whether a publish failed because the message is
// larger than the server or stream takes.
func isTooLarge(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum)
}

type pendingAck struct {
	fut      jetstream.PubAckFuture
	err      error
	task     jetstream.Msg
	res      *nats.Msg
	stopBeat func()
}

// Storing results: how long a stopping worker goes on trying, and the
// pause between attempts. Variables for the tests.
var (
	ackGrace     = 2 * time.Second
	ackRetryWait = 250 * time.Millisecond
)

// ack acknowledges each task once its result is stored, until ctx ends.
// When storing fails it publishes again, every ackRetryWait, keeping the
// task alive with InProgress: a finished task is never Nak'ed, as that
// would run it twice. A result that the server will never take (too
// large) is replaced by an error result that fails the call.
func (w *worker) ack(ctx context.Context) {
	defer close(w.acked)
	for a := range w.acks {
		err := a.err
		if err == nil {
			select {
			case <-a.fut.Ok():
			case err = <-a.fut.Err():
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		for err != nil && ctx.Err() == nil {
			w.unstorable(a.res, err)
			a.task.InProgress()
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = w.js.PublishMsg(pctx, a.res)
			cancel()
			if err != nil {
				pause(ctx, ackRetryWait)
			}
		}
		a.stopBeat()
		if err == nil {
			a.task.Ack()
		} // else stopped: redelivery redoes the task, the executor drops the duplicate
	}
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
