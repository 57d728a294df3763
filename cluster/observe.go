package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster/view"
	"github.com/crewrun/crew/executor"
)

// ErrNoJob reports a job id that the server does not know.
var ErrNoJob = errors.New("cluster: no such job")

// Observer watches a cluster for the live view (crew serve --ui), crew
// jobs and crew top, and carries out their control requests. It keeps
// copies of the jobs, job records and workers buckets and of the recent
// failures, updated as they change; State adds the consumers' counts,
// read at the time.
type Observer struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	owned bool // Close closes nc
	stop  context.CancelFunc
	wg    sync.WaitGroup

	ready   chan struct{} // the copies are complete
	waiting sync.WaitGroup

	mu       sync.Mutex
	specs    map[string]jobSpec
	records  map[string]jobRecord
	workers  map[string]WorkerInfo
	failures map[string][]failureRecord // by job, oldest first
	trimmed  map[string]bool
	// history, when positive, is how many ended jobs to keep: older
	// ones are removed from the stats bucket and the failures stream.
	history int
}

// Observe connects to the server at url and watches it; opts are the
// client options (Token, NKey, TLS). Close it when done.
func Observe(ctx context.Context, url string, opts ...crew.Option) (*Observer, error) {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	nc, err := connect(url, cfg)
	if err != nil {
		return nil, err
	}
	o, err := observe(ctx, nc, 0)
	if err != nil {
		nc.Close()
		return nil, err
	}
	o.owned = true
	return o, nil
}

// observe starts watching through nc.
func observe(ctx context.Context, nc *nats.Conn, history int) (*Observer, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if err := ensureStreams(ctx, js, 0); err != nil {
		return nil, err
	}
	if err := ensureViewStreams(ctx, js, 0); err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(context.Background())
	o := &Observer{nc: nc, js: js, stop: stop, ready: make(chan struct{}), history: history,
		specs: map[string]jobSpec{}, records: map[string]jobRecord{}, workers: map[string]WorkerInfo{},
		failures: map[string][]failureRecord{}, trimmed: map[string]bool{}}
	for bucket, apply := range map[string]func(key string, value []byte){
		jobsBucket: func(key string, v []byte) {
			var spec jobSpec
			if v == nil || json.Unmarshal(v, &spec) != nil {
				delete(o.specs, key)
			} else {
				o.specs[key] = spec
			}
		},
		statsBucket: func(key string, v []byte) {
			var rec jobRecord
			if v == nil || json.Unmarshal(v, &rec) != nil {
				delete(o.records, key)
			} else {
				o.records[key] = rec
			}
		},
		workersBucket: func(key string, v []byte) {
			var info WorkerInfo
			if v == nil || json.Unmarshal(v, &info) != nil {
				delete(o.workers, key)
			} else {
				o.workers[key] = info
			}
		},
	} {
		if err := o.watch(ctx, wctx, bucket, apply); err != nil {
			o.Close()
			return nil, err
		}
	}
	if err := o.watchFailures(ctx, wctx); err != nil {
		o.Close()
		return nil, err
	}
	go func() {
		o.waiting.Wait()
		close(o.ready)
	}()
	return o, nil
}

// watch keeps o's copy of a bucket with apply (nil value: deleted).
func (o *Observer) watch(ctx, wctx context.Context, bucket string, apply func(key string, value []byte)) error {
	kv, err := o.js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", bucket, explain(err))
	}
	w, err := kv.WatchAll(wctx)
	if err != nil {
		return fmt.Errorf("cluster: watch %s: %w", bucket, explain(err))
	}
	o.waiting.Add(1)
	o.wg.Go(func() {
		defer w.Stop()
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					o.waiting.Done()
				}
				continue
			}
			var v []byte
			if e.Operation() == jetstream.KeyValuePut {
				v = e.Value()
			}
			o.mu.Lock()
			apply(e.Key(), v)
			o.mu.Unlock()
		}
		if initial {
			o.waiting.Done()
		}
	})
	return nil
}

// watchFailures keeps o's copy of the failures stream: each job's last
// failures and reruns.
func (o *Observer) watchFailures(ctx, wctx context.Context) error {
	s, err := o.js.Stream(ctx, failuresStream)
	if err != nil {
		return fmt.Errorf("cluster: stream %s: %w", failuresStream, explain(err))
	}
	last := s.CachedInfo().State.LastSeq
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return fmt.Errorf("cluster: stream %s: %w", failuresStream, explain(err))
	}
	o.waiting.Add(1)
	var once sync.Once
	caughtUp := func() { once.Do(o.waiting.Done) }
	if last == 0 {
		caughtUp()
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		var f failureRecord
		job := m.Subject()[len(failedSubject):]
		if json.Unmarshal(m.Data(), &f) == nil {
			o.mu.Lock()
			fs := append(o.failures[job], f)
			if len(fs) > 2*view.MaxFailures {
				fs = fs[len(fs)-2*view.MaxFailures:]
			}
			o.failures[job] = fs
			o.mu.Unlock()
		}
		if meta, err := m.Metadata(); err == nil && meta.Sequence.Stream >= last {
			caughtUp()
		}
	})
	if err != nil {
		caughtUp()
		return fmt.Errorf("cluster: stream %s: %w", failuresStream, explain(err))
	}
	o.wg.Go(func() {
		<-wctx.Done()
		cc.Stop()
		caughtUp()
	})
	return nil
}

// Close stops watching, and closes the connection Observe made.
func (o *Observer) Close() {
	o.stop()
	o.wg.Wait()
	if o.owned {
		o.nc.Close()
	}
}

// State returns the cluster's state now: the copies, and each running
// job's queued and in-flight tasks read from its consumers.
func (o *Observer) State(ctx context.Context) (view.State, error) {
	select {
	case <-o.ready:
	case <-ctx.Done():
		return view.State{}, ctx.Err()
	}
	o.mu.Lock()
	specs := make(map[string]jobSpec, len(o.specs))
	for id, s := range o.specs {
		specs[id] = s
	}
	records := make(map[string]jobRecord, len(o.records))
	for id, r := range o.records {
		records[id] = r
	}
	workers := make([]WorkerInfo, 0, len(o.workers))
	for _, w := range o.workers {
		workers = append(workers, w)
	}
	failures := make(map[string][]failureRecord, len(o.failures))
	for id, f := range o.failures {
		failures[id] = f // appended to only under o.mu, and never in place
	}
	o.mu.Unlock()

	now := time.Now()
	st := view.State{Time: now, Jobs: []view.Job{}, Workers: []view.Worker{}}
	for id := range union(specs, records) {
		spec, live := specs[id]
		rec, recorded := records[id]
		j := jobView(id, spec, live, rec, recorded, failures[id], now)
		if j.State == view.Running && live {
			o.queues(ctx, &j, spec)
		}
		st.Jobs = append(st.Jobs, j)
	}
	sortJobs(st.Jobs)
	if o.history > 0 {
		o.trim(st.Jobs)
	}
	for _, w := range workers {
		if v, ok := workerView(w, now); ok {
			st.Workers = append(st.Workers, v)
		}
	}
	sortWorkers(st.Workers)
	return st, nil
}

// queues reads the consumers of a running job.
func (o *Observer) queues(ctx context.Context, j *view.Job, spec jobSpec) {
	for _, task := range spec.Tasks {
		c, err := o.js.Consumer(ctx, tasksStream, consumerName(j.ID, task))
		if err != nil {
			continue // gone meanwhile
		}
		info := c.CachedInfo()
		q := view.Queue{Task: task, Queued: int64(info.NumPending), InFlight: int64(info.NumAckPending), Redelivering: int64(info.NumRedelivered)}
		j.Queues = append(j.Queues, q)
		j.Queued += q.Queued
		j.InFlight += q.InFlight
	}
}

// trim removes the records and failures of the ended jobs beyond the
// newest o.history (jobs are sorted: running first, then ended, newest
// first).
func (o *Observer) trim(jobs []view.Job) {
	ended := 0
	for _, j := range jobs {
		if j.State == view.Running {
			continue
		}
		if ended++; ended <= o.history || o.trimmed[j.ID] {
			continue
		}
		o.trimmed[j.ID] = true
		o.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if kv, err := o.js.KeyValue(ctx, statsBucket); err == nil {
				kv.Purge(ctx, j.ID)
			}
			if s, err := o.js.Stream(ctx, failuresStream); err == nil {
				s.Purge(ctx, jetstream.WithPurgeSubject(failedSubject+j.ID))
			}
			o.mu.Lock()
			delete(o.failures, j.ID)
			o.mu.Unlock()
		})
	}
}

// controlTimeout bounds the wait for an executor's answer to a control
// request (a cancel waits for the server to remove the job).
const controlTimeout = 30 * time.Second

// Cancellation is what Cancel did.
type Cancellation struct {
	// Calls is how many pending calls the job's executor failed with
	// ErrJobCancelled.
	Calls int
	// Removed: the executor did not answer, so the job was removed from
	// the server directly (its workers cancel its running tasks, its
	// queued tasks are dropped); nobody was waiting for their results.
	Removed bool
}

// Cancel cancels job from outside (crew cancel): its executor fails its
// pending calls with an error wrapping ErrJobCancelled, and removes the
// job from the server, so that workers cancel its running tasks and its
// queued tasks are dropped. by says who cancels, for the error and the
// record. If the executor does not answer, Cancel removes the job itself.
func (o *Observer) Cancel(ctx context.Context, job, by string) (Cancellation, error) {
	spec, live, rec, recorded := o.job(ctx, job)
	if !live && !recorded {
		return Cancellation{}, fmt.Errorf("%w: %s", ErrNoJob, job)
	}
	if !live && !rec.Ended.IsZero() {
		return Cancellation{}, fmt.Errorf("cluster: job %s has already ended", job)
	}
	body, _ := json.Marshal(controlRequest{Op: "cancel", By: by})
	rctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	reply, err := o.nc.RequestWithContext(rctx, controlSubject+job, body)
	if err == nil {
		var rep controlReply
		if err := json.Unmarshal(reply.Data, &rep); err != nil {
			return Cancellation{}, fmt.Errorf("cluster: cancel %s: bad reply: %w", job, err)
		}
		if rep.Error != "" {
			return Cancellation{}, fmt.Errorf("cluster: cancel %s: %s", job, rep.Error)
		}
		return Cancellation{Calls: rep.Cancelled}, nil
	}
	if !errors.Is(err, nats.ErrNoResponders) {
		return Cancellation{}, fmt.Errorf("cluster: cancel %s: %w", job, explain(err))
	}
	// Its executor is gone: remove the job as its workers would a
	// minute later, and record that it was cancelled.
	if kv, err := o.js.KeyValue(ctx, jobsBucket); err == nil {
		kv.Purge(ctx, job)
	}
	for _, task := range spec.Tasks {
		o.js.DeleteConsumer(ctx, tasksStream, consumerName(job, task))
	}
	if s, err := o.js.Stream(ctx, tasksStream); err == nil {
		s.Purge(ctx, jetstream.WithPurgeSubject(taskSubject+job+".>"))
	}
	if recorded {
		rec.Ended, rec.Cancelled = time.Now(), by+" (its executor did not answer)"
		body, _ := json.Marshal(rec)
		if kv, err := o.js.KeyValue(ctx, statsBucket); err == nil {
			kv.Put(ctx, job, body)
		}
	}
	return Cancellation{Removed: true}, nil
}

// Rerun runs the failed call id of job again, with the same argument,
// under a new task id, which it returns. The job must be running: its
// executor queues the task and records the outcome (the view shows it
// with the failure), but the call itself has returned its error to its
// caller and is not changed. Calls whose argument was larger than 16 KiB
// cannot be rerun (the failure record does not keep it).
func (o *Observer) Rerun(ctx context.Context, job, id, by string) (string, error) {
	if _, live, _, recorded := o.job(ctx, job); !live && !recorded {
		return "", fmt.Errorf("%w: %s", ErrNoJob, job)
	}
	o.mu.Lock()
	var f *failureRecord
	for i, r := range o.failures[job] {
		if r.ID == id && r.RerunOf == "" {
			f = &o.failures[job][i]
		}
	}
	var req controlRequest
	if f != nil {
		req = controlRequest{Op: "rerun", By: by, ID: f.ID, Task: f.Task, Args: f.Args}
	}
	o.mu.Unlock()
	switch {
	case f == nil:
		return "", fmt.Errorf("cluster: job %s has no failed call %s among its last %d failures", job, id, view.MaxFailures)
	case len(req.Args) == 0:
		return "", fmt.Errorf("cluster: the argument of %s was larger than %d KiB and not kept: it cannot be rerun", id, maxKeptArgs>>10)
	}
	body, _ := json.Marshal(req)
	rctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	reply, err := o.nc.RequestWithContext(rctx, controlSubject+job, body)
	if errors.Is(err, nats.ErrNoResponders) {
		return "", fmt.Errorf("cluster: rerun %s: job %s's executor does not answer: %w", id, job, errJobEnded)
	}
	if err != nil {
		return "", fmt.Errorf("cluster: rerun %s: %w", id, explain(err))
	}
	var rep controlReply
	if err := json.Unmarshal(reply.Data, &rep); err != nil {
		return "", fmt.Errorf("cluster: rerun %s: bad reply: %w", id, err)
	}
	if rep.Error != "" {
		return "", fmt.Errorf("cluster: rerun %s: %s", id, rep.Error)
	}
	return rep.ID, nil
}

// job returns what o knows of a job, once its copies are complete.
func (o *Observer) job(ctx context.Context, id string) (spec jobSpec, live bool, rec jobRecord, recorded bool) {
	select {
	case <-o.ready:
	case <-ctx.Done():
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	spec, live = o.specs[id]
	rec, recorded = o.records[id]
	return spec, live, rec, recorded
}
