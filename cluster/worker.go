package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// Work runs a worker against the server at url until ctx ends, then
// returns nil: crew.Workers(n) tasks at a time, of every job any executor
// submits, for the task names this program registered — and only those:
// a worker fetches a job's tasks of a name from that name's consumer, so
// it never receives a task it lacks. It announces itself (host, pid,
// version, task names, slots, counts) in the workers bucket
// (docs/protocol-cluster.md) so that crew serve can tell when tasks wait
// for a worker that has them.
//
// crew worker is Work in the crew binary: it runs crew's own tasks (crew
// run --cluster's shell jobs, crew crawl's visits, …). The tasks of your
// program need your program's binary running Work — a main that calls
// cluster.Work(ctx, url) when started as a worker, say.
func Work(ctx context.Context, url string, opts ...crew.Option) error {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		return err
	}
	nc, err := connect(url, cfg)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := work(ctx, nc, cfg, stoppingOf(cfg)); err != nil && ctx.Err() == nil {
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
	slots    int
	without  []string
	progress *executor.Tracker // running and abandoned tasks, for the announcement
	free     chan struct{}     // one token per idle worker slot
	tasks    chan *delivery
	acks     chan pendingAck
	acked    chan struct{}
	wg       sync.WaitGroup
	// solo is held shared while a task runs, and exclusively while a
	// task delivered soloFrom times runs alone (see runAlone).
	solo sync.RWMutex
	// draining is closed when the worker stops fetching (drain.go).
	draining chan struct{}
	self     string // host:pid, in the results of failed tasks
}

// jobsCheck is how often a worker looks for jobs whose executor died (see
// jobHeartbeat) and, after a reconnection and every tenth time, checks
// that it watches the server's jobs bucket. A variable for the tests.
var jobsCheck = time.Second

type delivery struct {
	job      *workerJob
	task     string
	msg      jetstream.Msg
	stopBeat func() // stops the InProgress heartbeats
	// delivered counts the task's deliveries, this one included, but not
	// those a draining worker handed back without running it (drain.go).
	delivered int
}

// runs reports whether this worker runs the tasks called name.
func (w *worker) runs(name string) bool {
	if slices.Contains(w.without, name) {
		return false
	}
	_, err := executor.Lookup(name)
	return err == nil
}

// taskNames returns the names of the tasks this worker runs.
func (w *worker) taskNames() []string {
	return slices.DeleteFunc(executor.Tasks(), func(n string) bool { return !w.runs(n) })
}

func work(ctx context.Context, nc *nats.Conn, cfg executor.Config, stop stopping) error {
	// Without a timeout, a result whose PubAck is lost (its stream leader
	// died) would hold up the acks of every later task for good.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return err
	}
	// The jobs and the running tasks live until the drain that follows
	// ctx's end is over (drain.go).
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batch := custom(cfg, batchKey{}, 64)
	host, _ := os.Hostname()
	w := &worker{nc: nc, js: js, replicas: custom(cfg, replKey{}, 0), batch: batch, slots: cfg.Workers,
		without: custom[[]string](cfg, withoutKey{}, nil), progress: executor.NewTracker(nil),
		free: make(chan struct{}, cfg.Workers+batch), tasks: make(chan *delivery), acks: make(chan pendingAck, 4096), acked: make(chan struct{}),
		draining: make(chan struct{}), self: host + ":" + strconv.Itoa(os.Getpid())}
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
		go w.run(life)
	}
	a := w.announce(life)
	jobs := map[string]*workerJob{}
	var fetchers, reapers sync.WaitGroup
	defer func() {
		// Drain: stop fetching and hand back the tasks not started, let
		// the running ones finish (drain.go).
		cancel()
		close(w.draining)
		a.drain()
		fetchers.Wait()
		reapers.Wait()
		close(w.tasks)
		w.finishRunning(stop, endLife)
		for _, j := range jobs {
			j.end()
		}
		close(w.acks)
		grace := time.AfterFunc(ackGrace, stopAcks)
		defer grace.Stop()
		<-w.acked
		a.withdraw()
	}()
	check := time.NewTicker(jobsCheck)
	defer check.Stop()
	reconnects, checks := nc.Stats().Reconnects, 0
	for {
		a.jobs.Store(int64(len(jobs)))
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
						j.end()
						delete(jobs, id)
					}
				}
				watch.initial = nil
			case e.Operation() != jetstream.KeyValuePut:
				if j := jobs[e.Key()]; j != nil {
					j.end()
					delete(jobs, e.Key())
				}
			default:
				id := e.Key()
				if watch.initial != nil {
					watch.initial[id] = true
				}
				var spec jobSpec
				if json.Unmarshal(e.Value(), &spec) != nil || spec.Protocol != protocolVersion {
					continue // not a job this version understands
				}
				j := jobs[id]
				if j == nil {
					if j = w.startJob(life, id, spec); j == nil {
						continue
					}
					jobs[id] = j
				}
				j.seen, j.rev = time.Now(), e.Revision() // a heartbeat, or new task names
				j.tasks = spec.Tasks
				for _, task := range spec.Tasks {
					if !j.fetching[task] && w.runs(task) {
						j.fetching[task] = true
						fetchers.Go(func() { w.fetch(j, task) })
					}
				}
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
					tasks := j.tasks
					j.end()
					delete(jobs, id)
					reapers.Go(func() { w.reap(ctx, kv, j.id, j.rev, tasks) })
				}
			}
		}
	}
}

// run is one worker slot: it runs deliveries one at a time with its own
// executor.Worker per job, so that initializers run once per slot.
func (w *worker) run(ctx context.Context) {
	defer w.wg.Done()
	states := map[string]*executor.Worker{}
	defer func() {
		for _, s := range states {
			s.Close()
		}
	}()
	for d := range w.tasks {
		if d.delivered = deliveries(d.msg); d.delivered >= soloFrom {
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
// task of this worker runs, after asking the executor (onStart): its
// workers died (or stalled), maybe because of this task, so if this run
// kills the worker too, the death is this task's alone. The executor may
// answer that the call has completed or failed; the task is then acked
// without running.
func (w *worker) runAlone(ctx context.Context, d *delivery, states map[string]*executor.Worker) {
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

func (w *worker) handle(ctx context.Context, d *delivery, states map[string]*executor.Worker) {
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
	var ran time.Duration
	attempts := 0
	st := states[j.id]
	if st == nil {
		// The job's lifetime, not this task's: values outlive the task
		// that built them; without Initialize, Init.From keeps them here.
		st, err = executor.NewWorker(j.ctx, j.spec.Inits)
		if err == nil {
			states[j.id] = st
		}
	}
	if skip {
		err = context.Canceled // the submitter stopped waiting for it
	} else if err == nil {
		if j.spec.Progress {
			w.nc.Publish(progressSubject+j.id, []byte("s "+id))
		}
		w.progress.Started()
		start := time.Now()
		out, attempts, err = w.runTask(st.Context(tctx), j.spec, d.task, m.Data())
		ran = time.Since(start)
		w.progress.Finished(true, err)
		if j.spec.Progress {
			// Before this slot can start another task, and before the
			// result, which reaches the executor later.
			ended := "d "
			if err != nil {
				ended = "f "
			}
			w.nc.Publish(progressSubject+j.id, []byte(ended+id))
		}
	}
	if tctx.Err() != nil && j.ctx.Err() != nil {
		// The worker or job stopped: redeliver the task now, not after
		// AckWait.
		d.stopBeat()
		m.Nak()
		return
	}
	body := w.reply(out, err, ran, attempts, d.delivered)
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

// runTask runs the task called name on arg, one JSON value, under the
// job's attempt policy, and returns its JSON result and how many attempts
// it took.
func (w *worker) runTask(ctx context.Context, spec jobSpec, name string, arg []byte) ([]byte, int, error) {
	task, err := executor.Lookup(name)
	if err != nil {
		return nil, 1, err
	}
	args := make([]byte, 0, len(arg)+2)
	d, err := task.Decode(append(append(append(args, '['), arg...), ']'))
	if err != nil {
		return nil, 1, err
	}
	policy, attempts := spec.policy(w.progress), 1
	if spec.Retries > 0 {
		policy.BeforeRetry = func(n int, _ time.Duration) { attempts = n }
	}
	if err := policy.Run(ctx, d, 0); err != nil {
		return nil, attempts, err
	}
	out, err := d.AppendResults(nil, 0, 1)
	if err != nil {
		return nil, attempts, err
	}
	return out[1 : len(out)-1], attempts, nil
}

// unstorable reports whether err, from publishing the result res, is one
// that publishing again will not mend: the result is larger than the
// server takes in a message. It then makes res an error result that says
// so, for the call to fail with.
func (w *worker) unstorable(res *nats.Msg, err error) bool {
	if !isTooLarge(err) {
		return false
	}
	size := len(res.Data)
	res.Data, _ = json.Marshal(reply{Error: executor.ToRemote(fmt.Errorf(
		"cluster: the result of task %s is %d bytes, more than the server takes in a message (max_payload %d bytes): %w",
		res.Header.Get(hdrID), size, w.nc.MaxPayload(), err))})
	return true
}

// ackWait is the lease a worker holds on a delivery between heartbeats.
func ackWait(spec jobSpec) time.Duration {
	if spec.AckWait > 0 {
		return spec.AckWait
	}
	return 30 * time.Second
}
