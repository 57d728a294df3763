package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Job heartbeats: an executor renews its job's entry in the jobs bucket
// every jobHeartbeat, and says so in the job's spec; workers drop a job
// whose entry went unrenewed for staleBeats heartbeats, and remove it from
// the server, as the job of an executor that died without Close (SIGKILL,
// a lost machine). jobHeartbeat is a variable for the tests.
var jobHeartbeat = 10 * time.Second

const staleBeats = 6

// ErrJobLost reports that the server no longer has an executor's job: it
// restarted without its store (crew serve without --store), or the
// workers took the executor for dead, cut off from the server for
// staleBeats job heartbeats (a minute). The pending calls fail with it,
// and so do later ones: the executor has to be created again.
var ErrJobLost = errors.New("cluster: the server lost this executor's job")

// tend repeats the cancel message of every cancelled task whose result has
// not come back (a worker that had not yet seen the job when the first one
// was sent would otherwise run it), and every jobHeartbeat renews the
// job's entry and checks that the server still has the job, until ctx
// ends.
func (e *submitter) tend(ctx context.Context) {
	defer close(e.tendDone)
	resend := time.NewTicker(200 * time.Millisecond)
	defer resend.Stop()
	beat := time.NewTicker(jobHeartbeat)
	defer beat.Stop()
	missing := 0 // checks in a row that found the job gone
	for {
		select {
		case <-ctx.Done():
			return
		case <-resend.C:
			e.mu.Lock()
			ids := make([]string, 0, len(e.cancelled))
			for id := range e.cancelled {
				ids = append(ids, id)
			}
			e.mu.Unlock()
			for _, id := range ids {
				e.nc.Publish(cancelSubject+e.id, []byte(id))
			}
			continue
		case <-beat.C:
		case <-e.checkJob:
		}
		// Twice in a row, a check apart: not a passing state of a
		// cluster electing leaders.
		if gone := e.renewJob(ctx); gone == nil {
			missing = 0
		} else if missing++; missing >= 2 {
			e.lose(fmt.Errorf("%w: %w (did it restart without its store, or was this executor cut off from it for %v?)", ErrJobLost, gone, staleBeats*jobHeartbeat))
			return
		}
	}
}

// renewJob renews the job's entry in the jobs bucket and returns an error
// if the server has lost the entry or one of the job's consumers; nil if
// all are there, or if it cannot tell (the server is unreachable).
func (e *submitter) renewJob(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e.specMu.Lock()
	spec, _ := json.Marshal(e.spec)
	rev, err := e.kv.Update(ctx, e.id, spec, e.rev)
	switch {
	case err == nil:
		e.rev = rev
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		entry, err := e.kv.Get(ctx, e.id)
		if err == nil && entry.Operation() == jetstream.KeyValuePut && string(entry.Value()) == string(spec) {
			e.rev = entry.Revision() // the last update was stored, its answer lost
		} else if err == nil || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			e.specMu.Unlock()
			return fmt.Errorf("its entry in %s was removed", jobsBucket)
		}
	case errors.Is(err, nats.ErrNoResponders):
		if _, err := e.js.Stream(ctx, "KV_"+jobsBucket); errors.Is(err, jetstream.ErrStreamNotFound) {
			e.specMu.Unlock()
			return fmt.Errorf("the bucket %s is gone", jobsBucket)
		}
	}
	consumers := []struct{ stream, name string }{{resultsStream, "res-" + e.id}}
	for _, task := range e.spec.Tasks {
		consumers = append(consumers, struct{ stream, name string }{tasksStream, consumerName(e.id, task)})
	}
	e.specMu.Unlock()
	for _, c := range consumers {
		if _, err := e.js.Consumer(ctx, c.stream, c.name); errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("its consumer %s on %s is gone", c.name, c.stream)
		}
	}
	return nil
}

// lose fails every pending call, and every later one, with err.
func (e *submitter) lose(err error) {
	e.mu.Lock()
	e.lost = err
	ids := make([]string, 0, len(e.pending))
	for id := range e.pending {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.finish(id, nil, err)
	}
}
