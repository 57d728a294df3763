package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// workerJob is one job as a worker sees it.
type workerJob struct {
	id   string
	spec jobSpec // as first seen: only its task names change later
	// The work loop's: the last revision of its entry in the jobs bucket,
	// when that was renewed (or watching resumed), the job's task names
	// and those this worker fetches.
	rev       uint64
	seen      time.Time
	tasks     []string
	fetching  map[string]bool
	ctx       context.Context
	cancel    context.CancelFunc
	sub       *nats.Subscription // cancellations
	mu        sync.Mutex
	cancelled map[string]bool               // task ids cancelled by the submitter
	running   map[string]context.CancelFunc // task id → its cancel
}

// startJob begins a worker's part in job id: it listens for the
// submitter's cancellations; the caller starts the fetchers.
func (w *worker) startJob(ctx context.Context, id string, spec jobSpec) *workerJob {
	jctx, cancel := context.WithCancel(ctx)
	j := &workerJob{id: id, spec: spec, fetching: map[string]bool{}, ctx: jctx, cancel: cancel,
		cancelled: map[string]bool{}, running: map[string]context.CancelFunc{}}
	var err error
	j.sub, err = w.nc.Subscribe(cancelSubject+id, func(m *nats.Msg) {
		id := string(m.Data)
		j.mu.Lock()
		j.cancelled[id] = true
		if c := j.running[id]; c != nil {
			c()
		}
		j.mu.Unlock()
	})
	if err != nil {
		cancel()
		return nil // the connection is closing; the job is seen again on the next watch
	}
	return j
}

// end stops the worker's part in j: its fetchers return, its held tasks
// are left for redelivery.
func (j *workerJob) end() {
	j.cancel()
	j.sub.Unsubscribe()
}

// jobsWatch is a worker's watch of the jobs bucket.
type jobsWatch struct {
	kv      jetstream.KeyValue
	watcher jetstream.KeyWatcher
	// created is when the bucket's stream was created: a server that
	// restarted without its store has another one, which the watch does
	// not see.
	created time.Time
	initial map[string]bool // the jobs among the initial values, until they end
}

// watchJobs creates the streams and the jobs bucket if they are missing
// (the server restarted without its store) and watches the bucket.
func (w *worker) watchJobs(ctx context.Context) (*jobsWatch, error) {
	if err := ensureStreams(ctx, w.js, w.replicas); err != nil {
		return nil, err
	}
	s, err := w.js.Stream(ctx, "KV_"+jobsBucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: jobs bucket: %w", explain(err))
	}
	kv, err := w.js.KeyValue(ctx, jobsBucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: jobs bucket: %w", explain(err))
	}
	watcher, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: watch jobs: %w", explain(err))
	}
	return &jobsWatch{kv: kv, watcher: watcher, created: s.CachedInfo().Created, initial: map[string]bool{}}, nil
}

// current reports whether jw watches the server's jobs bucket: not if
// there is no watch, nor if the bucket is gone or was created again. It
// also reports true when the server cannot be asked.
func (jw *jobsWatch) current(ctx context.Context, js jetstream.JetStream) bool {
	if jw == nil {
		return false
	}
	s, err := js.Stream(ctx, "KV_"+jobsBucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return false
	}
	return err != nil || s.CachedInfo().Created.Equal(jw.created)
}

// reap removes from the server the job id, whose executor stopped renewing
// its entry (see jobHeartbeat): the entry, unless it was renewed
// meanwhile, the job's consumers and its queued tasks, which nobody waits
// for. Every worker may try; the entry's revision lets one do it.
func (w *worker) reap(ctx context.Context, kv jetstream.KeyValue, id string, rev uint64, tasks []string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := kv.Purge(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return
	}
	for _, task := range tasks {
		w.js.DeleteConsumer(ctx, tasksStream, consumerName(id, task))
	}
	if s, err := w.js.Stream(ctx, tasksStream); err == nil {
		s.Purge(ctx, jetstream.WithPurgeSubject(taskSubject+id+".>"))
	}
}
