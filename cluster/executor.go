package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// inProcessURL stands for the embedded server in the client's server
// list; the connection goes through nats.InProcessServer, never a socket.
const inProcessURL = "nats://in-process"

// maxPending bounds the calls an executor has in the cluster at once;
// Exec blocks beyond it.
const maxPending = 4096

// New returns an executor that runs tasks on the workers of the NATS
// JetStream server at url (nats://host:port). With url "embedded" it
// starts an in-process server with a temporary store and crew.Workers(n)
// local workers, so nothing needs setting up; Close stops them. That
// server opens no port: only this process reaches it, so it needs no
// credentials (Token and NKey are not needed there) and no other worker
// can join. An invalid option fails New.
//
// Every executor is one job: its tasks go to the job's subjects of the
// work-queue stream, one per task name, which only workers that
// registered that name fetch; results come back on the job's subject of
// the results stream, de-duplicated by task id, so each call completes
// exactly once even when a worker dies mid-task and its tasks are
// redelivered. A task no connected worker has registered waits, within
// its context, for one that has.
func New(ctx context.Context, url string, opts ...crew.Option) (crew.Executor, error) {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	e := &submitter{cfg: cfg, id: nuid.Next(), pending: map[string]*pending{}, cancelled: map[string]bool{},
		routed: map[string]bool{}, tendDone: make(chan struct{}), checkJob: make(chan struct{}, 1), slots: make(chan struct{}, maxPending)}
	var extra []nats.Option
	if url == "embedded" {
		srv, stop, err := startServer(ServerConfig{inProcess: true})
		if err != nil {
			return nil, err
		}
		e.stopServer = stop
		url = inProcessURL
		extra = append(extra, nats.InProcessServer(srv))
		e.srv = srv
	}
	if err := e.start(ctx, url, extra); err != nil {
		e.shutdown()
		return nil, err
	}
	return e, nil
}

// submitter is the executor New returns: one job.
type submitter struct {
	cfg   executor.Config
	id    string
	nc    *nats.Conn
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	seq   atomic.Uint64
	slots chan struct{}

	mu        sync.Mutex
	pending   map[string]*pending
	cancelled map[string]bool // cancelled by the caller, no result seen yet: told to workers again until one is
	closed    bool
	drained   chan struct{} // closed when pending empties after Close
	// completing counts the calls taken out of pending whose outcome is
	// not handed to their callers yet: Close waits for them too.
	completing int
	lost       error // the server no longer has the job: see tend

	// The task names routed so far (route), each with its consumer.
	routeMu    sync.Mutex
	routed     map[string]bool
	routedFast sync.Map
	deadSubs   []*nats.Subscription // max-deliveries advisories, one per consumer

	// The job's entry in the jobs bucket, renewed as a heartbeat (tend)
	// and rewritten when a task name is routed.
	specMu   sync.Mutex
	spec     jobSpec
	rev      uint64
	stopTend context.CancelFunc
	tendDone chan struct{}
	checkJob chan struct{} // asks tend to check the job now

	results jetstream.ConsumeContext
	subs    []*nats.Subscription // start requests, ran and started reports

	srv        *server.Server
	stopServer func()
	stopWork   context.CancelFunc
	workDone   chan struct{}
	closeOnce  sync.Once

	resubmitting sync.WaitGroup // submitFailed's timers

	stats *jobStats // the job's record and failures, for the live view (stats.go)
}

// sent is one Exec's batch in the cluster.
type sent struct {
	b    executor.Batch
	base uint64      // sequence of element 0; element i is task id job.(base+i)
	left int         // elements not completed; guarded by submitter.mu
	stop func() bool // unregisters the cancellation callback
}

type pending struct {
	s         *sent
	i         int
	started   bool // counted as Running (a worker said it started)
	counted   bool // counted as Done or Failed (a worker said it ended)
	solo      int  // runs alone on a worker, see onStart
	ran       int  // solo runs that returned
	resubmits int  // publishes retried, see submitFailed
}

func (e *submitter) start(ctx context.Context, url string, extra []nats.Option) error {
	nc, err := connect(url, e.cfg, extra...)
	if err != nil {
		return err
	}
	e.nc = nc
	e.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(maxPending),
		jetstream.WithPublishAsyncTimeout(publishTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			e.submitFailed(m, err)
		}))
	if err != nil {
		return err
	}
	if err := ensureStreams(ctx, e.js, custom(e.cfg, replKey{}, 0)); err != nil {
		return err
	}
	if e.kv, err = e.js.KeyValue(ctx, jobsBucket); err != nil {
		return fmt.Errorf("cluster: jobs bucket: %w", explain(err))
	}
	e.spec = jobSpec{Protocol: protocolVersion, Inits: e.cfg.Inits, Timeout: e.cfg.Timeout, Retries: e.cfg.Retries, Backoff: e.cfg.RetryBackoff,
		AckWait: custom(e.cfg, ackWaitKey{}, time.Duration(0)), Heartbeat: jobHeartbeat, Progress: e.cfg.Progress != nil}
	// Workers ask before running a task alone (from its soloFrom-th
	// delivery): the deaths of such runs are the task's own.
	for subject, handle := range map[string]nats.MsgHandler{
		startSubject + e.id:    e.onStart,
		ranSubject + e.id:      e.onRan,
		progressSubject + e.id: e.onProgress,
	} {
		if subject == progressSubject+e.id && !e.spec.Progress {
			continue
		}
		sub, err := nc.Subscribe(subject, handle)
		if err != nil {
			return fmt.Errorf("cluster: subscribe %s: %w", subject, explain(err))
		}
		e.subs = append(e.subs, sub)
	}
	// A durable consumer, stored with the stream: its interest in the
	// job's results (the stream has Interest retention) survives a
	// server restart, so results that workers publish before this
	// executor has reconnected wait for it.
	results, err := e.js.CreateOrUpdateConsumer(ctx, resultsStream, jetstream.ConsumerConfig{
		Durable:       "res-" + e.id,
		FilterSubject: resultSubject + e.id,
		// Explicit, not All: when the consumer's leader changes, results
		// that the old leader sent on a pull the client never got count as
		// delivered, and acking a later result would ack them too.
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           10 * time.Second,
		MaxAckPending:     -1,
		InactiveThreshold: time.Hour, // removed if the executor dies
	})
	if err != nil {
		return fmt.Errorf("cluster: results consumer: %w", explain(err))
	}
	// Short pulls with frequent heartbeats: when the consumer's leader
	// changes (a cluster node died), the pull waiting on the old one is
	// lost, and Consume only notices when two heartbeats are missing.
	// Errors that may mean the consumer is gone (the server restarted
	// without its store) make tend check the job at once.
	onErr := jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
			errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, nats.ErrNoResponders) {
			select {
			case e.checkJob <- struct{}{}:
			default:
			}
		}
	})
	if e.results, err = results.Consume(e.onResult, jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second), onErr); err != nil {
		return fmt.Errorf("cluster: results: %w", explain(err))
	}
	body, _ := json.Marshal(e.spec)
	if e.rev, err = e.kv.Create(ctx, e.id, body); err != nil {
		return fmt.Errorf("cluster: register job: %w", explain(err))
	}
	if err := e.startStats(ctx); err != nil {
		return err
	}
	tctx, stop := context.WithCancel(context.Background())
	e.stopTend = stop
	go e.tend(tctx)
	if err := e.listenControl(); err != nil {
		return err
	}
	if e.srv != nil {
		wctx, cancel := context.WithCancel(context.Background())
		e.stopWork, e.workDone = cancel, make(chan struct{})
		wnc, err := connect(url, e.cfg, nats.InProcessServer(e.srv))
		if err != nil {
			return err
		}
		go func() {
			defer close(e.workDone)
			defer wnc.Close()
			work(wctx, wnc, e.cfg, stopping{}) // nothing waits for a result: stop at once
		}()
	}
	return nil
}

// Exec publishes b's elements, one task message each, to the subject of
// b's task name, which only workers that registered it fetch. It blocks
// while maxPending tasks are in the cluster.
func (e *submitter) Exec(b executor.Batch) error {
	ctx := b.Context()
	n := b.Len()
	e.mu.Lock()
	err := e.lost
	if e.closed {
		err = crew.ErrClosed
	}
	e.mu.Unlock()
	if err == nil {
		err = e.route(b.Task())
	}
	if err != nil {
		return err
	}
	e.cfg.Progress.Submitted(n)
	e.stats.submitted(n)
	s := &sent{b: b, base: e.seq.Add(uint64(n)) - uint64(n) + 1, left: n}
	for i := range n {
		select {
		case e.slots <- struct{}{}:
		case <-ctx.Done():
			if i == 0 {
				e.cfg.Progress.Withdrawn(n)
				e.stats.submitted(-n)
				return ctx.Err()
			}
			e.neverSent(s, i, ctx.Err())
			return nil
		}
		id := e.id + "." + strconv.FormatUint(s.base+uint64(i), 10)
		e.mu.Lock()
		if e.closed || e.lost != nil {
			err := e.lost
			if err == nil {
				err = crew.ErrClosed
			}
			e.mu.Unlock()
			<-e.slots
			if i == 0 {
				e.cfg.Progress.Withdrawn(n)
				e.stats.submitted(-n)
				return err
			}
			e.neverSent(s, i, err)
			return nil
		}
		e.pending[id] = &pending{s: s, i: i}
		if i == 0 {
			// The caller stops waiting at once; the workers are told to
			// cancel the tasks they run, or skip those not started.
			s.stop = context.AfterFunc(ctx, func() { e.cancel(s, ctx.Err()) })
		}
		e.mu.Unlock()
		args, err := b.EncodeArgs(i, i+1)
		if err != nil {
			e.finish(id, nil, err)
			continue
		}
		m := nats.NewMsg(taskSubjectOf(e.id, b.Task()))
		m.Header.Set(hdrTask, b.Task())
		m.Header.Set(hdrID, id)
		m.Data = args[1 : len(args)-1] // the array's one element
		if _, err := e.js.PublishMsgAsync(m, jetstream.WithMsgID(id)); err != nil {
			e.submitFailed(m, err)
		}
	}
	return nil
}

// neverSent completes elements [from, Len) of s, which were not
// published, with err.
func (e *submitter) neverSent(s *sent, from int, err error) {
	n := s.b.Len()
	e.mu.Lock()
	e.settleLocked(s, n-from)
	e.mu.Unlock()
	e.stats.unsent(n-from, err)
	for range n - from {
		e.cfg.Progress.Finished(false, err)
	}
	s.b.Complete(from, n, err)
}

// cancel completes the elements of s still pending with err, and tells
// the workers to cancel them, or skip them if they have not started.
func (e *submitter) cancel(s *sent, err error) {
	for i := range s.b.Len() {
		id := e.id + "." + strconv.FormatUint(s.base+uint64(i), 10)
		if e.finish(id, nil, err) {
			e.mu.Lock()
			e.cancelled[id] = true
			e.mu.Unlock()
			e.nc.Publish(cancelSubject+e.id, []byte(id))
		}
	}
}

// finish completes the pending call id with a reply or err, once; it
// reports whether it did.
func (e *submitter) finish(id string, r *reply, err error) bool {
	complete, ok := e.settle(id, r, err)
	if ok {
		complete()
	}
	return ok
}

// settle takes the pending call id out of the pending calls and counts
// its outcome (a reply or err), once; it reports whether it did, and
// returns what hands the outcome to the call's caller. Until that runs,
// the call looks pending to its caller and Close waits for it.
func (e *submitter) settle(id string, r *reply, err error) (complete func(), ok bool) {
	e.mu.Lock()
	p := e.pending[id]
	delete(e.pending, id)
	if p != nil {
		e.completing++
		e.settleLocked(p.s, 1)
	}
	e.mu.Unlock()
	if p == nil {
		return nil, false // a duplicate result, or one for a call already cancelled
	}
	b := p.s.b
	if r != nil {
		err = r.Error.Err()
		if err == nil {
			value := make([]byte, 0, len(r.Value)+2)
			value = append(append(append(value, '['), r.Value...), ']')
			if _, derr := b.DecodeResults(p.i, p.i+1, value); derr != nil {
				err = derr
			}
		}
	}
	switch {
	case p.counted:
	case r != nil: // it ran, and its notices were lost
		if !p.started {
			e.cfg.Progress.Started()
		}
		e.cfg.Progress.Finished(true, err)
	default:
		e.cfg.Progress.Finished(p.started, err)
	}
	e.stats.finished(p, id, r, err)
	return func() {
		b.Complete(p.i, p.i+1, err)
		<-e.slots
		e.mu.Lock()
		e.completing--
		last := e.closed && len(e.pending) == 0 && e.completing == 0
		e.mu.Unlock()
		if last {
			close(e.drained)
		}
	}, true
}

// settleLocked records k elements of s completed.
func (e *submitter) settleLocked(s *sent, k int) {
	s.left -= k
	if s.left == 0 && s.stop != nil {
		s.stop()
	}
}

func (e *submitter) onResult(m jetstream.Msg) {
	id := m.Headers().Get(hdrID)
	if id != "" {
		e.mu.Lock()
		delete(e.cancelled, id)
		e.mu.Unlock()
	}
	var r reply
	if err := json.Unmarshal(m.Data(), &r); err != nil {
		r = reply{Error: executor.ToRemote(fmt.Errorf("cluster: bad result: %w", err))}
	}
	if !e.finish(id, &r, nil) {
		e.stats.rerunDone(id, &r)
	}
	// A result whose ack is lost comes again after AckWait; finish
	// drops it.
	m.Ack()
}

// onProgress counts a task as Running when its worker says it started,
// and Done or Failed when it says it ended: a worker's notices come in
// the order it sent them, so Running never counts more tasks than the
// workers run, as results travel another way and come later.
func (e *submitter) onProgress(m *nats.Msg) {
	what, id, ok := strings.Cut(string(m.Data), " ")
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock() // the counts change under e.mu: before or after finish, not during
	p := e.pending[id]
	switch {
	case p == nil || p.counted:
	case what == "s" && !p.started:
		p.started = true
		e.cfg.Progress.Started()
	case (what == "d" || what == "f") && p.started:
		p.counted = true
		var err error
		if what == "f" {
			err = errFailedRemotely
		}
		e.cfg.Progress.Finished(true, err)
	}
}

// errFailedRemotely stands for a task's error in progress counts, before
// the error itself arrives with the result.
var errFailedRemotely = errors.New("cluster: the task failed")

// Close waits for every call taken to complete, then removes the job and,
// for an embedded executor, stops its workers and server.
func (e *submitter) Close() error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		e.drained = make(chan struct{})
		if len(e.pending) == 0 && e.completing == 0 {
			close(e.drained)
		}
	}
	drained := e.drained
	e.mu.Unlock()
	<-drained
	e.closeOnce.Do(e.shutdown)
	return nil
}

func (e *submitter) shutdown() {
	// No call is pending any more, so a resubmit timer still to fire
	// finds nothing to publish; wait for it so it publishes nothing after
	// the purge below, and leaves no goroutine behind.
	e.resubmitting.Wait()
	// Before the purge: a renewal after it would find the job gone.
	if e.stopTend != nil {
		e.stopTend()
		<-e.tendDone
	}
	if e.stats != nil {
		e.stats.end("")
	}
	if e.nc != nil && e.js != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if e.kv != nil {
			e.kv.Purge(ctx, e.id)
		}
		e.routeMu.Lock()
		for task := range e.routed {
			e.js.DeleteConsumer(ctx, tasksStream, consumerName(e.id, task))
		}
		e.routeMu.Unlock()
		e.js.DeleteConsumer(ctx, resultsStream, "res-"+e.id)
		if s, err := e.js.Stream(ctx, resultsStream); err == nil {
			s.Purge(ctx, jetstream.WithPurgeSubject(resultSubject+e.id))
		}
		if s, err := e.js.Stream(ctx, tasksStream); err == nil {
			s.Purge(ctx, jetstream.WithPurgeSubject(taskSubject+e.id+".>"))
		}
		cancel()
	}
	if e.results != nil {
		e.results.Stop()
		<-e.results.Closed()
	}
	for _, sub := range append(e.subs, e.deadSubs...) {
		sub.Unsubscribe()
	}
	if e.stopWork != nil {
		e.stopWork()
		<-e.workDone
	}
	if e.nc != nil {
		e.nc.Close()
	}
	if e.stopServer != nil {
		e.stopServer()
	}
}
