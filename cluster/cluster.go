package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
// can join.
//
// Every executor is one job: its tasks go to the job's subject of the
// work-queue stream, results come back on the job's subject of the
// results stream, de-duplicated by task id, so each call completes exactly
// once even when a worker dies mid-task and its tasks are redelivered.
func New(ctx context.Context, url string, opts ...crew.Option) (crew.Executor, error) {
	cfg, err := crew.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	e := &executor{cfg: cfg, id: nuid.Next(), pending: map[string]*pending{}, cancelled: map[string]bool{}, tendDone: make(chan struct{}), checkJob: make(chan struct{}, 1), slots: make(chan struct{}, maxPending)}
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

type executor struct {
	cfg   crew.Config
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
	lost      error         // the server no longer has the job: see tend

	// tend's: the job's entry in the jobs bucket, renewed as a heartbeat.
	spec     []byte
	rev      uint64
	stopTend context.CancelFunc
	tendDone chan struct{}
	checkJob chan struct{} // asks tend to check the job now

	results    jetstream.ConsumeContext
	advisories *nats.Subscription
	starts     *nats.Subscription
	ran        *nats.Subscription

	srv        *server.Server
	stopServer func()
	stopWork   context.CancelFunc
	workDone   chan struct{}
	closeOnce  sync.Once

	resubmitting sync.WaitGroup // submitFailed's timers
}

type pending struct {
	call      crew.Call
	stop      func() bool // stops the context watch
	solo      int         // runs alone on a worker, see onStart
	ran       int         // solo runs that returned
	resubmits int         // publishes retried, see submitFailed
}

func (e *executor) start(ctx context.Context, url string, extra []nats.Option) error {
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
	batch := custom(e.cfg, batchKey{}, 64)
	spec := jobSpec{Inits: e.cfg.Inits, Timeout: e.cfg.Timeout, Retries: e.cfg.Retries, Backoff: e.cfg.RetryBackoff, AckWait: custom(e.cfg, ackWaitKey{}, time.Duration(0)), Heartbeat: jobHeartbeat}
	_, err = e.js.CreateOrUpdateConsumer(ctx, tasksStream, jetstream.ConsumerConfig{
		Durable:       "job-" + e.id,
		FilterSubject: taskSubject + e.id,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait(spec),
		MaxDeliver:    maxDeliver, // redeliveries after worker deaths; task retries run on the worker
		MaxAckPending: max(maxPending, e.cfg.Workers*batch),
		MaxWaiting:    4096,
	})
	if err != nil {
		return fmt.Errorf("cluster: job consumer: %w", explain(err))
	}
	// Workers ask before running a task alone (from its soloFrom-th
	// delivery): the deaths of such runs are the task's own.
	e.starts, err = nc.Subscribe(startSubject+e.id, e.onStart)
	if err != nil {
		return fmt.Errorf("cluster: start requests: %w", explain(err))
	}
	e.ran, err = nc.Subscribe(ranSubject+e.id, func(m *nats.Msg) {
		e.mu.Lock()
		if p := e.pending[string(m.Data)]; p != nil {
			p.ran++
		}
		e.mu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("cluster: ran reports: %w", explain(err))
	}
	// A task delivered MaxDeliver times without an ack killed its workers:
	// fail it instead of leaving the caller waiting.
	e.advisories, err = nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."+tasksStream+".job-"+e.id, e.deadLetter)
	if err != nil {
		return fmt.Errorf("cluster: advisories: %w", explain(err))
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
	e.spec, _ = json.Marshal(spec)
	if e.rev, err = e.kv.Create(ctx, e.id, e.spec); err != nil {
		return fmt.Errorf("cluster: register job: %w", explain(err))
	}
	tctx, stop := context.WithCancel(context.Background())
	e.stopTend = stop
	go e.tend(tctx)
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
			work(wctx, wnc, e.cfg)
		}()
	}
	return nil
}

func (e *executor) Exec(c crew.Call) error {
	ctx := c.Context()
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	arg, err := c.EncodeArg()
	if err != nil {
		<-e.slots
		return err
	}
	id := e.id + "." + strconv.FormatUint(e.seq.Add(1), 10)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.slots
		return crew.ErrClosed
	}
	if e.lost != nil {
		e.mu.Unlock()
		<-e.slots
		return e.lost
	}
	p := &pending{call: c}
	e.pending[id] = p
	e.mu.Unlock()
	e.cfg.Progress.Submitted()
	e.cfg.Progress.Started()
	stop := context.AfterFunc(ctx, func() {
		// The caller stops waiting at once; the workers are told to
		// cancel the task if it runs, or skip it if it has not started.
		if e.finish(id, nil, ctx.Err()) {
			e.mu.Lock()
			e.cancelled[id] = true
			e.mu.Unlock()
			e.nc.Publish(cancelSubject+e.id, []byte(id))
		}
	})
	e.mu.Lock()
	p.stop = stop // read by finish under e.mu
	e.mu.Unlock()
	m := nats.NewMsg(taskSubject + e.id)
	m.Header.Set(hdrTask, c.Task())
	m.Header.Set(hdrID, id)
	m.Data = arg
	if _, err := e.js.PublishMsgAsync(m, jetstream.WithMsgID(id)); err != nil {
		e.submitFailed(m, err)
	}
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
func (e *executor) submitFailed(m *nats.Msg, err error) {
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

// finish completes the pending call id with a reply or err, once; it
// reports whether it did.
func (e *executor) finish(id string, r *reply, err error) bool {
	e.mu.Lock()
	p := e.pending[id]
	delete(e.pending, id)
	var stop func() bool
	if p != nil {
		stop = p.stop
	}
	last := e.closed && len(e.pending) == 0 && p != nil
	e.mu.Unlock()
	if p == nil {
		return false // a duplicate result, or one for a call already cancelled
	}
	if stop != nil {
		stop()
	}
	if r != nil {
		err = r.Error.Err()
		if err == nil {
			err = p.call.DecodeResult(r.Value)
		}
	}
	e.cfg.Progress.Finished(true, err)
	p.call.Complete(err)
	<-e.slots
	if last {
		close(e.drained)
	}
	return true
}

func (e *executor) onResult(m jetstream.Msg) {
	if id := m.Headers().Get(hdrID); id != "" {
		e.mu.Lock()
		delete(e.cancelled, id)
		e.mu.Unlock()
	}
	var r reply
	if err := json.Unmarshal(m.Data(), &r); err != nil {
		r = reply{Error: crew.ToRemote(fmt.Errorf("cluster: bad result: %w", err))}
	}
	e.finish(m.Headers().Get(hdrID), &r, nil)
	// A result whose ack is lost comes again after AckWait; finish
	// drops it.
	m.Ack()
}

// onStart answers a worker about to run a task alone (its soloFrom-th
// delivery or later). A redelivery means the worker that held the task
// before died (or stalled past AckWait); it may have held many tasks, and
// only one of them need have killed it, so deliveries cannot tell which
// task kills its workers.
// A task run alone can: each earlier solo run whose worker never reported
// that it returned (crew.ran) was a death of its own, and after soloDeaths
// of them the call fails. Solo runs that returned do not count: the
// result may just be slow to store (a stream leader died).
func (e *executor) onStart(m *nats.Msg) {
	id := string(m.Data)
	e.mu.Lock()
	p := e.pending[id]
	deaths := 0
	if p != nil {
		deaths = p.solo - p.ran
		p.solo++
	}
	e.mu.Unlock()
	switch {
	case p == nil:
		m.Respond([]byte(startSkip))
	case deaths >= soloDeaths:
		e.finish(id, nil, fmt.Errorf("%w: task %s killed the worker it ran alone on %d times", crew.ErrWorkerDied, id, deaths))
		m.Respond([]byte(startFail))
	default:
		m.Respond([]byte(startRun))
	}
}

// deadLetter fails the task named in a max-deliveries advisory.
func (e *executor) deadLetter(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries int    `json:"deliveries"`
	}
	if json.Unmarshal(m.Data, &adv) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, tasksStream)
	if err != nil {
		return
	}
	raw, err := s.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return
	}
	id := raw.Header.Get(hdrID)
	s.DeleteMsg(ctx, adv.StreamSeq)
	e.finish(id, nil, fmt.Errorf("%w: task %s delivered %d times without a result", crew.ErrWorkerDied, id, adv.Deliveries))
}

// Close waits for every call taken to complete, then removes the job and,
// for an embedded executor, stops its workers and server.
func (e *executor) Close() error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		e.drained = make(chan struct{})
		if len(e.pending) == 0 {
			close(e.drained)
		}
	}
	drained := e.drained
	e.mu.Unlock()
	<-drained
	e.closeOnce.Do(e.shutdown)
	return nil
}

func (e *executor) shutdown() {
	// No call is pending any more, so a resubmit timer still to fire
	// finds nothing to publish; wait for it so it publishes nothing after
	// the purge below, and leaves no goroutine behind.
	e.resubmitting.Wait()
	// Before the purge: a renewal after it would find the job gone.
	if e.stopTend != nil {
		e.stopTend()
		<-e.tendDone
	}
	if e.nc != nil && e.js != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if e.kv != nil {
			e.kv.Purge(ctx, e.id)
		}
		e.js.DeleteConsumer(ctx, tasksStream, "job-"+e.id)
		e.js.DeleteConsumer(ctx, resultsStream, "res-"+e.id)
		if s, err := e.js.Stream(ctx, resultsStream); err == nil {
			s.Purge(ctx, jetstream.WithPurgeSubject(resultSubject+e.id))
		}
		if s, err := e.js.Stream(ctx, tasksStream); err == nil {
			s.Purge(ctx, jetstream.WithPurgeSubject(taskSubject+e.id))
		}
		cancel()
	}
	if e.results != nil {
		e.results.Stop()
		<-e.results.Closed()
	}
	if e.advisories != nil {
		e.advisories.Unsubscribe()
	}
	if e.starts != nil {
		e.starts.Unsubscribe()
	}
	if e.ran != nil {
		e.ran.Unsubscribe()
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
func (e *executor) tend(ctx context.Context) {
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
func (e *executor) renewJob(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := e.kv.Update(ctx, e.id, e.spec, e.rev)
	switch {
	case err == nil:
		e.rev = rev
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		entry, err := e.kv.Get(ctx, e.id)
		if err == nil && entry.Operation() == jetstream.KeyValuePut && string(entry.Value()) == string(e.spec) {
			e.rev = entry.Revision() // the last update was stored, its answer lost
		} else if err == nil || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return fmt.Errorf("its entry in %s was removed", jobsBucket)
		}
	case errors.Is(err, nats.ErrNoResponders):
		if _, err := e.js.Stream(ctx, "KV_"+jobsBucket); errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("the bucket %s is gone", jobsBucket)
		}
	}
	for _, c := range [...]struct{ stream, name string }{{tasksStream, "job-" + e.id}, {resultsStream, "res-" + e.id}} {
		if _, err := e.js.Consumer(ctx, c.stream, c.name); errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("its consumer %s on %s is gone", c.name, c.stream)
		}
	}
	return nil
}

// lose fails every pending call, and every later one, with err.
func (e *executor) lose(err error) {
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
