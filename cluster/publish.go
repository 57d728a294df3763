package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// route makes sure the job has a consumer for the tasks named task, and
// that workers know of it (the job's spec lists the task names): workers
// fetch only from the consumers of tasks they registered, so a task never
// reaches a worker that lacks it.
func (e *submitter) route(task string) error {
	if _, ok := e.routedFast.Load(task); ok {
		return nil
	}
	e.routeMu.Lock()
	defer e.routeMu.Unlock()
	if e.routed[task] {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := consumerName(e.id, task)
	_, err := e.js.CreateOrUpdateConsumer(ctx, tasksStream, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: taskSubjectOf(e.id, task),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait(e.spec),
		MaxDeliver:    maxDeliver, // redeliveries after worker deaths; task retries run on the worker
		MaxAckPending: max(maxPending, e.cfg.Workers*custom(e.cfg, batchKey{}, 64)),
		MaxWaiting:    4096,
	})
	if err != nil {
		return fmt.Errorf("cluster: consumer for task %q: %w", task, explain(err))
	}
	// A task delivered MaxDeliver times without an ack killed its
	// workers: fail it instead of leaving the caller waiting.
	sub, err := e.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+tasksStream+"."+name, e.deadLetter)
	if err != nil {
		return fmt.Errorf("cluster: advisories: %w", explain(err))
	}
	e.deadSubs = append(e.deadSubs, sub)
	e.specMu.Lock()
	e.spec.Tasks = append(e.spec.Tasks, task)
	err = e.putSpecLocked(ctx)
	e.specMu.Unlock()
	if err != nil {
		return err
	}
	e.routed[task] = true
	e.routedFast.Store(task, true)
	if w := custom[io.Writer](e.cfg, noticeKey{}, nil); w != nil && e.srv == nil {
		e.noticeIfNoWorker(ctx, w, task)
	}
	return nil
}

// noticeIfNoWorker tells w when no live worker runs task.
func (e *submitter) noticeIfNoWorker(ctx context.Context, w io.Writer, task string) {
	workers, err := readWorkers(ctx, e.js)
	if err != nil {
		return
	}
	for _, wi := range workers {
		if slices.Contains(wi.Tasks, task) {
			return
		}
	}
	fmt.Fprintf(w, "crew: no connected worker runs %q (of %d connected): its tasks wait until one that has registered it connects. crew worker runs crew's own tasks, and shell jobs only with --allow-shell; a program's own tasks need its binary running cluster.Work\n", task, len(workers))
}

// putSpecLocked writes the job's spec, expecting the entry's last
// revision; with specMu held.
func (e *submitter) putSpecLocked(ctx context.Context) error {
	body, _ := json.Marshal(e.spec)
	rev, err := e.kv.Update(ctx, e.id, body, e.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// The last write was stored, its answer lost: write over it.
		var entry jetstream.KeyValueEntry
		if entry, err = e.kv.Get(ctx, e.id); err == nil {
			rev, err = e.kv.Update(ctx, e.id, body, entry.Revision())
		}
	}
	if err != nil {
		return fmt.Errorf("cluster: update job %s: %w", e.id, explain(err))
	}
	e.rev = rev
	return nil
}

// Resubmitting: how long to wait between attempts, and how many (for
// failures other than a full tasks stream, which wait as long as the call's
// context allows). Variables for the tests.
var (
	resubmitWait = 250 * time.Millisecond
	maxResubmits = 60
)

// submitFailed handles a task whose publish failed. Failures that pass —
// the connection's server went away (the client reconnects to another or
// the same one), the stream has no leader while a cluster elects one —
// are retried for maxResubmits × resubmitWait with the same Msg-Id; a full
// tasks stream (more queued than its MaxBytes) is back-pressure, retried
// until there is room or the call's context ends; other failures, and
// lasting ones, fail the call. A retry after the Duplicates
// window (5 s) of a publish that was in fact stored queues the task twice;
// finish drops the second result.
func (e *submitter) submitFailed(m *nats.Msg, err error) {
	id := m.Header.Get(hdrID)
	if passing(err) {
		e.mu.Lock()
		p := e.pending[id]
		retry := p != nil && (p.resubmits < maxResubmits || streamFull(err))
		if retry {
			p.resubmits++
			e.resubmitting.Add(1) // under e.mu: before finish can let Close proceed
		}
		e.mu.Unlock()
		if retry {
			time.AfterFunc(resubmitWait, func() {
				defer e.resubmitting.Done()
				e.mu.Lock()
				p := e.pending[id]
				e.mu.Unlock()
				if p == nil {
					return // cancelled meanwhile: no task to queue
				}
				if _, err := e.js.PublishMsgAsync(m, jetstream.WithMsgID(id)); err != nil {
					e.submitFailed(m, err)
				}
			})
			return
		}
	}
	e.finish(id, nil, fmt.Errorf("cluster: submit: %w", explain(err)))
}

// publishTimeout is how long a client waits for a PubAck before it
// publishes again: a stream leader that dies between storing a message and
// answering leaves the future pending until then.
const publishTimeout = 10 * time.Second

// streamFull reports whether a publish was refused because the tasks
// stream holds its MaxBytes (DiscardNew): room comes as workers ack tasks.
func streamFull(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && api.ErrorCode == jsStreamStoreFailed && strings.Contains(api.Description, "maximum bytes")
}

// jsStreamStoreFailed is nats-server's error code for a message the stream
// could not store (JSStreamStoreFailedF).
const jsStreamStoreFailed = 10077

// passing reports whether a publish error is likely to go away.
func passing(err error) bool {
	var api *jetstream.APIError
	var netErr *net.OpError // the connection broke; the client reconnects
	return errors.As(err, &netErr) || errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, jetstream.ErrTooManyStalledMsgs) ||
		errors.As(err, &api) && api.Code == 503
}
