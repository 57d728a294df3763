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
)

// Work runs a worker against the server at url until ctx ends (crew
// worker), then returns nil: crew.Workers(n) tasks at a time, of every job
// any executor submits, as long as this binary registered the task. Jobs
// are found in the jobs bucket; tasks are fetched in batches (Batch) from
// each job's durable consumer.
func Work(ctx context.Context, url string, opts ...crew.Option) error {
	cfg, err := crew.NewConfig(opts...)
	if err != nil {
		return err
	}
	nc, err := connect(url, cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := work(ctx, nc, cfg); err != nil && ctx.Err() == nil {
		return err
	}
	// Stopped while starting: the set-up error is only the stop.
	return nil
}

type worker struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	replicas int
	batch    int
	free     chan struct{} // one token per idle worker slot
	tasks    chan *delivery
	acks     chan pendingAck
	acked    chan struct{}
	wg       sync.WaitGroup
	// solo is held shared while a task runs, and exclusively while a
	// task delivered soloFrom times runs alone (see runAlone).
	solo sync.RWMutex
}

// jobsCheck is how often a worker looks for jobs whose executor died (see
// jobHeartbeat) and, after a reconnection and every tenth time, checks
// that it watches the server's jobs bucket. A variable for the tests.
var jobsCheck = time.Second

type delivery struct {
	job      *workerJob
	msg      jetstream.Msg
	stopBeat func() // stops the InProgress heartbeats
}

// workerJob is one job as a worker sees it.
type workerJob struct {
	id        string
	spec      jobSpec
	rev       uint64    // of its entry in the jobs bucket
	seen      time.Time // when the entry was last renewed, or watching resumed
	ctx       context.Context
	cancel    context.CancelFunc
	mu        sync.Mutex
	cancelled map[string]bool               // task ids cancelled by the submitter
	running   map[string]context.CancelFunc // task id → its cancel
}

func work(ctx context.Context, nc *nats.Conn, cfg crew.Config) error {
	// Without a timeout, a result whose PubAck is lost (its stream leader
	// died) would hold up the acks of every later task for good.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batch := custom(cfg, batchKey{}, 64)
	w := &worker{nc: nc, js: js, replicas: custom(cfg, replKey{}, 0), batch: batch, free: make(chan struct{}, cfg.Workers+batch), tasks: make(chan *delivery), acks: make(chan pendingAck, 4096), acked: make(chan struct{})}
	watch, err := w.watchJobs(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if watch != nil {
			watch.watcher.Stop()
		}
	}()
	// Slots for running tasks plus one batch fetched ahead.
	for range cfg.Workers + batch {
		w.free <- struct{}{}
	}
	// The acker outlives ctx by up to ackGrace, so that the results of
	// the last tasks are stored and acked; a task whose result is not
	// stored by then is redelivered, and its duplicate result dropped.
	actx, stopAcks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAcks()
	go w.ack(actx)
	w.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go w.run(ctx)
	}
	jobs := map[string]*workerJob{}
	var fetchers, reapers sync.WaitGroup
	defer func() {
		cancel()
		for _, j := range jobs {
			j.cancel()
		}
		fetchers.Wait()
		reapers.Wait()
		close(w.tasks)
		w.wg.Wait()
		close(w.acks)
		grace := time.AfterFunc(ackGrace, stopAcks)
		defer grace.Stop()
		<-w.acked
	}()
	check := time.NewTicker(jobsCheck)
	defer check.Stop()
	reconnects, checks := nc.Stats().Reconnects, 0
	for {
		var updates <-chan jetstream.KeyValueEntry // nil while there is no watch
		if watch != nil {
			updates = watch.watcher.Updates()
		}
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-updates:
			switch {
			case !ok:
				// The watch ended: its consumer could not be created
				// again after a server restart. Watch again at the next
				// check.
				watch = nil
			case e == nil:
				// The initial values have ended: jobs not among them
				// are gone (the server lost its store).
				for id, j := range jobs {
					if !watch.initial[id] {
						j.cancel()
						delete(jobs, id)
					}
				}
				watch.initial = nil
			case e.Operation() != jetstream.KeyValuePut:
				if j := jobs[e.Key()]; j != nil {
					j.cancel()
					delete(jobs, e.Key())
				}
			default:
				id := e.Key()
				if watch.initial != nil {
					watch.initial[id] = true
				}
				if j := jobs[id]; j != nil {
					j.seen, j.rev = time.Now(), e.Revision() // a heartbeat
					continue
				}
				var spec jobSpec
				if err := json.Unmarshal(e.Value(), &spec); err != nil {
					continue // not a job this version understands
				}
				jctx, jcancel := context.WithCancel(ctx)
				j := &workerJob{id: id, spec: spec, rev: e.Revision(), seen: time.Now(), ctx: jctx, cancel: jcancel, cancelled: map[string]bool{}, running: map[string]context.CancelFunc{}}
				jobs[id] = j
				fetchers.Go(func() { w.fetch(j) })
			}
		case now := <-check.C:
			checks++
			n := nc.Stats().Reconnects
			cut := n != reconnects || !nc.IsConnected() || watch == nil || watch.initial != nil
			reconnects = n
			if cut {
				// Heartbeats could not be seen meanwhile.
				for _, j := range jobs {
					j.seen = now
				}
			}
			if nc.IsConnected() && (cut || checks%10 == 0) && !watch.current(ctx, js) {
				if watch != nil {
					watch.watcher.Stop()
				}
				if watch, err = w.watchJobs(ctx); err != nil {
					watch = nil // again at the next check
				}
				continue
			}
			if cut {
				continue
			}
			kv := watch.kv
			for id, j := range jobs {
				if j.spec.Heartbeat > 0 && now.Sub(j.seen) > staleBeats*j.spec.Heartbeat {
					j.cancel()
					delete(jobs, id)
					reapers.Go(func() { w.reap(ctx, kv, j) })
				}
			}
		}
	}
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

// reap removes from the server the job j, whose executor stopped renewing
// its entry (see jobHeartbeat): the entry, unless it was renewed
// meanwhile, the job's consumer and its queued tasks, which nobody waits
// for. Every worker may try; the entry's revision lets one do it.
func (w *worker) reap(ctx context.Context, kv jetstream.KeyValue, j *workerJob) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := kv.Purge(ctx, j.id, jetstream.LastRevision(j.rev)); err != nil {
		return
	}
	w.js.DeleteConsumer(ctx, tasksStream, "job-"+j.id)
	if s, err := w.js.Stream(ctx, tasksStream); err == nil {
		s.Purge(ctx, jetstream.WithPurgeSubject(taskSubject+j.id))
	}
}

// fetch pulls j's tasks as worker slots come free. While j has tasks
// queued it takes every idle slot (up to Batch) and fetches that many
// without waiting; once it finds the queue empty it waits for the next
// task holding no slot, and takes one when the task comes. A job with
// nothing queued, or one whose executor died, thus keeps no slot from the
// jobs that have tasks.
func (w *worker) fetch(j *workerJob) {
	sub, err := w.nc.Subscribe(cancelSubject+j.id, func(m *nats.Msg) {
		id := string(m.Data)
		j.mu.Lock()
		j.cancelled[id] = true
		if c := j.running[id]; c != nil {
			c()
		}
		j.mu.Unlock()
	})
	if err == nil {
		defer sub.Unsubscribe()
	}
	cons, err := w.js.Consumer(j.ctx, tasksStream, "job-"+j.id)
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
			got, slots = w.handOver(j, batch.Messages(), slots)
			err = batch.Error()
		}
		for range slots - got {
			w.free <- struct{}{}
		}
		empty = got < want
		if j.ctx.Err() != nil {
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
func (w *worker) handOver(j *workerJob, msgs <-chan jetstream.Msg, slots int) (passed, held int) {
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
			waiting = append(waiting, &delivery{job: j, msg: m, stopBeat: heartbeat(m, ackWait(j.spec)/3)})
		case <-free:
			slots++
		case run <- next:
			waiting = waiting[1:]
			passed++
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

// run is one worker slot: it runs deliveries one at a time with its own
// crew.Worker per job, so that initializers run once per slot.
func (w *worker) run(ctx context.Context) {
	defer w.wg.Done()
	states := map[string]*crew.Worker{}
	defer func() {
		for _, s := range states {
			s.Close()
		}
	}()
	for d := range w.tasks {
		if meta, err := d.msg.Metadata(); err == nil && meta.NumDelivered >= soloFrom {
			w.runAlone(ctx, d, states)
		} else {
			w.solo.RLock()
			w.handle(ctx, d, states)
			w.solo.RUnlock()
		}
		w.free <- struct{}{}
		if len(states) > 16 { // forget the states of ended jobs
			for id, s := range states {
				if id != d.job.id {
					s.Close()
					delete(states, id)
				}
			}
		}
	}
}

// runAlone runs a task delivered soloFrom times or more while no other
// task of this worker runs, after asking the executor (executor.onStart):
// its workers died (or stalled), maybe because of this task, so if this
// run kills the worker too, the death is this task's alone. The executor
// may answer that the call has completed or failed; the task is then
// acked without running.
func (w *worker) runAlone(ctx context.Context, d *delivery, states map[string]*crew.Worker) {
	w.solo.Lock()
	defer w.solo.Unlock()
	id := d.msg.Headers().Get(hdrID)
	reply, err := w.nc.Request(startSubject+d.job.id, []byte(id), 5*time.Second)
	if err == nil && (string(reply.Data) == startSkip || string(reply.Data) == startFail) {
		d.stopBeat()
		d.msg.Ack()
		return
	}
	// Run it: the executor said so, or cannot be asked (then only the
	// consumer's MaxDeliver stops a task that kills its workers). Then
	// tell it that this run did not kill the worker.
	w.handle(ctx, d, states)
	w.nc.Publish(ranSubject+d.job.id, []byte(id))
}

func (w *worker) handle(ctx context.Context, d *delivery, states map[string]*crew.Worker) {
	j, m := d.job, d.msg
	id := m.Headers().Get(hdrID)
	j.mu.Lock()
	skip := j.cancelled[id]
	delete(j.cancelled, id)
	tctx, cancel := context.WithCancel(j.ctx)
	if !skip {
		j.running[id] = cancel
	}
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		delete(j.running, id)
		j.mu.Unlock()
		cancel()
	}()

	var out []byte
	var err error
	st := states[j.id]
	if st == nil {
		// The job's lifetime, not this task's: values outlive the task
		// that built them; without Initialize, Init.From keeps them here.
		st, err = crew.NewWorker(j.ctx, j.spec.Inits)
		if err == nil {
			states[j.id] = st
		}
	}
	if skip {
		err = context.Canceled // the submitter stopped waiting for it
	} else if err == nil {
		out, err = runAttempts(tctx, st, j.spec, m.Headers().Get(hdrTask), m.Data())
	}
	if tctx.Err() != nil && j.ctx.Err() != nil {
		d.stopBeat()
		return // the worker or job stopped: leave the task for redelivery
	}
	body, _ := json.Marshal(reply{Value: out, Error: crew.ToRemote(err)})
	res := nats.NewMsg(resultSubject + j.id)
	res.Header.Set(hdrID, id)
	res.Data = body
	// The result must be stored before the task is acknowledged: the
	// acker waits for the PubAck, then acks the task. Publishing is
	// pipelined so that a worker slot moves on at once.
	fut, perr := w.js.PublishMsgAsync(res)
	if w.unstorable(res, perr) {
		fut, perr = w.js.PublishMsgAsync(res)
	}
	// The heartbeats, running since the fetch (AckWait is a worker's
	// lease), go on until the ack, however long storing the result takes.
	a := pendingAck{fut: fut, err: perr, task: m, res: res, stopBeat: d.stopBeat}
	select {
	case w.acks <- a:
	default:
		select {
		case w.acks <- a:
		case <-ctx.Done():
			// Stopping, and the acker is stuck behind results that
			// cannot be stored (the server is unreachable): leave the
			// task for redelivery.
			d.stopBeat()
		}
	}
}

// unstorable reports whether err, from publishing the result res, is one
// that publishing again will not mend: the result is larger than the
// server takes in a message. It then makes res an error result that says
// so, for the call to fail with.
func (w *worker) unstorable(res *nats.Msg, err error) bool {
	if !errors.Is(err, nats.ErrMaxPayload) && !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		return false
	}
	size := len(res.Data)
	res.Data, _ = json.Marshal(reply{Error: crew.ToRemote(fmt.Errorf(
		"cluster: the result of task %s is %d bytes, more than the server takes in a message (max_payload %d bytes): %w",
		res.Header.Get(hdrID), size, w.nc.MaxPayload(), err))})
	return true
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

// runAttempts runs the task under the job's timeout and retries.
func runAttempts(ctx context.Context, st *crew.Worker, spec jobSpec, task string, arg []byte) ([]byte, error) {
	if st != nil {
		ctx = st.Context(ctx)
	}
	cfg := crew.Config{RetryBackoff: spec.Backoff}
	for attempt := 0; ; attempt++ {
		out, err := attemptOnce(ctx, spec.Timeout, task, arg)
		if err == nil || attempt >= spec.Retries || crew.IsPermanent(err) || errors.Is(err, crew.ErrUnknownTask) || ctx.Err() != nil {
			return out, err
		}
		t := time.NewTimer(cfg.RetryDelay(attempt + 1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}

func attemptOnce(ctx context.Context, timeout time.Duration, task string, arg []byte) ([]byte, error) {
	if timeout <= 0 {
		return crew.RunEncoded(ctx, task, arg)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := crew.RunEncoded(actx, task, arg)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) && !errors.Is(err, crew.ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", crew.ErrTimeout, timeout, err)
	}
	return out, err
}

// ackWait is the lease a worker holds on a delivery between heartbeats.
func ackWait(spec jobSpec) time.Duration {
	if spec.AckWait > 0 {
		return spec.AckWait
	}
	return 30 * time.Second
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
