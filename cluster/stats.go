package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster/view"
	"github.com/crewrun/crew/executor"
)

// labelKey is the Label option's key.
type labelKey struct{}

// Label describes what an executor's job runs, for the live view and
// crew jobs (crew run --cluster gives its command template). The view
// also shows the program's name, host and pid, never its arguments, which
// may hold secrets.
func Label(s string) crew.Option { return executor.Custom(labelKey{}, s) }

// judgeKey is the CountAsFailed option's key.
type judgeKey struct{}

// CountAsFailed makes the job's record (the live view, crew jobs, the
// metrics) count as failed the calls whose value judge says failed: it
// gets the task name and the value's JSON and returns the failure's text.
// The calls themselves still return their values; only the count and the
// failures list change. crew run --cluster counts so the commands that
// exit non-zero, whose exit status is their task's value.
func CountAsFailed(judge func(task string, value []byte) (failure string, failed bool)) crew.Option {
	return executor.Custom(judgeKey{}, judge)
}

// statsEvery is how often an executor writes its job record while its
// counts change. A variable for the tests.
var statsEvery = time.Second

// jobStats is an executor's account of its calls: the job record it keeps
// in the stats bucket, and the failures it publishes.
type jobStats struct {
	e     *submitter
	kv    jetstream.KeyValue
	judge func(task string, value []byte) (string, bool)

	mu        sync.Mutex
	rec       jobRecord
	hist      [view.Buckets]uint64
	spark     [view.SparkSeconds]int64 // a ring; next is the oldest
	next      int
	counted   int64 // calls completed at the last tick
	dirty     bool  // counts changed since the last write
	written   time.Time
	reruns    map[string]rerunOf // rerun task id → the failed call
	rerunSeq  int
	stopFlush context.CancelFunc
	flushed   chan struct{}
}

type rerunOf struct{ id, task string }

// startStats opens the stats bucket, writes the job's first record and
// starts writing it every statsEvery while it changes.
func (e *submitter) startStats(ctx context.Context) error {
	if err := ensureViewStreams(ctx, e.js, custom(e.cfg, replKey{}, 0)); err != nil {
		return err
	}
	kv, err := e.js.KeyValue(ctx, statsBucket)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	now := time.Now()
	s := &jobStats{e: e, kv: kv, judge: custom[func(string, []byte) (string, bool)](e.cfg, judgeKey{}, nil), reruns: map[string]rerunOf{}, flushed: make(chan struct{}), rec: jobRecord{
		Protocol: protocolVersion, Program: filepath.Base(os.Args[0]), Label: custom(e.cfg, labelKey{}, ""),
		Host: host, PID: os.Getpid(), Started: now,
	}}
	e.stats = s
	s.write(ctx)
	fctx, stop := context.WithCancel(context.Background())
	s.stopFlush = stop
	go s.flush(fctx)
	return nil
}

// flush writes the record every statsEvery while it changes, and every
// job heartbeat regardless, until ctx ends.
func (s *jobStats) flush(ctx context.Context) {
	defer close(s.flushed)
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		done := s.rec.Done + s.rec.Failed // cancelled calls did no work
		s.spark[s.next] = done - s.counted
		s.next = (s.next + 1) % len(s.spark)
		s.counted = done
		write := s.dirty || time.Since(s.written) >= jobHeartbeat
		s.mu.Unlock()
		if write {
			s.write(ctx)
		}
	}
}

// write puts the record now.
func (s *jobStats) write(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s.mu.Lock()
	rec := s.rec
	rec.Updated = time.Now()
	rec.Spark = make([]int64, 0, len(s.spark))
	rec.Spark = append(append(rec.Spark, s.spark[s.next:]...), s.spark[:s.next]...)
	last := len(s.hist)
	for last > 0 && s.hist[last-1] == 0 {
		last--
	}
	rec.Duration.Counts = append([]uint64(nil), s.hist[:last]...)
	s.dirty, s.written = false, rec.Updated
	s.mu.Unlock()
	body, _ := json.Marshal(rec)
	if _, err := s.kv.Put(ctx, s.e.id, body); err != nil {
		s.mu.Lock()
		s.dirty = true // again at the next tick
		s.mu.Unlock()
	}
}

// end stops the writes and writes the last record, marked ended (and
// cancelled, by whom, if by is not empty).
func (s *jobStats) end(by string) {
	s.stopFlush()
	<-s.flushed
	s.mu.Lock()
	if s.rec.Ended.IsZero() {
		s.rec.Ended = time.Now()
		s.rec.Cancelled = by
	}
	s.mu.Unlock()
	s.write(context.Background())
}

// submitted counts n calls submitted (negative: withdrawn).
func (s *jobStats) submitted(n int) {
	s.mu.Lock()
	s.rec.Submitted += int64(n)
	s.dirty = true
	s.mu.Unlock()
}

// unsent counts n calls completed with err without being published.
func (s *jobStats) unsent(n int, err error) {
	s.mu.Lock()
	if cancelled(err) {
		s.rec.CancelledN += int64(n)
	} else {
		s.rec.Failed += int64(n)
	}
	s.dirty = true
	s.mu.Unlock()
}

// cancelled reports whether a call that ended with err, without a
// worker's result, was cancelled: by its caller's context, or from
// outside (ErrJobCancelled wraps context.Canceled).
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// finished counts the call p, completed with the worker's reply r (nil
// if it completed without one) and err, and publishes it if it failed.
func (s *jobStats) finished(p *pending, id string, r *reply, err error) {
	judged := ""
	if err == nil && r != nil && s.judge != nil {
		if text, failed := s.judge(p.s.b.Task(), r.Value); failed {
			judged = cmp.Or(text, "failed")
		}
	}
	s.mu.Lock()
	s.dirty = true
	if r != nil {
		if r.RunNS > 0 {
			d := time.Duration(r.RunNS)
			s.hist[view.Bucket(d)]++
			s.rec.Duration.Sum += d.Seconds()
		}
		s.rec.Retries += int64(max(r.Attempts-1, 0))
		s.rec.Redelivered += int64(max(r.Delivered-1, 0))
	}
	switch {
	case err == nil && judged == "":
		s.rec.Done++
		s.mu.Unlock()
		return
	case r == nil && cancelled(err):
		s.rec.CancelledN++
		s.mu.Unlock()
		return
	}
	s.rec.Failed++
	s.mu.Unlock()
	f := failureRecord{ID: id, Task: p.s.b.Task(), Attempts: 1, Time: time.Now()}
	if judged != "" {
		f.Error = judged
	} else {
		f.Error, f.Kind = errorText(r, err)
	}
	if r != nil {
		f.Worker, f.Attempts = r.By, max(r.Attempts, 1)
	}
	if args, err := p.s.b.EncodeArgs(p.i, p.i+1); err == nil && len(args)-2 <= maxKeptArgs {
		f.Args = json.RawMessage(args[1 : len(args)-1])
	}
	s.publish(f)
}

// errorText returns the full text of a call's error and its kind; a
// panic's text ends with its stack.
func errorText(r *reply, err error) (text, kind string) {
	re := executor.ToRemote(err)
	if r != nil && r.Error != nil {
		re = r.Error
	}
	text = re.Message
	if re.Stack != "" {
		text += "\n\n" + re.Stack
	}
	if len(text) > maxErrorText {
		text = text[:maxErrorText] + "\n… (cut)"
	}
	return text, re.Kind
}

// publish puts a failure record in the failures stream; core NATS, as
// the record is worth less than the time a PubAck takes.
func (s *jobStats) publish(f failureRecord) {
	body, _ := json.Marshal(f)
	s.e.nc.Publish(failedSubject+s.e.id, body)
}

// rerunID registers a rerun of the failed call id, of task, and returns
// the rerun's task id.
func (s *jobStats) rerunID(id, task string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rerunSeq++
	rid := id + "~r" + strconv.Itoa(s.rerunSeq)
	s.reruns[rid] = rerunOf{id, task}
	s.rec.Reruns++
	s.dirty = true
	return rid
}

// rerunDone records the outcome of rerun id, reporting false if id is no
// rerun of this job.
func (s *jobStats) rerunDone(id string, r *reply) bool {
	s.mu.Lock()
	of, ok := s.reruns[id]
	delete(s.reruns, id)
	ok = ok && r != nil
	judged := ""
	if ok && r.Error == nil && s.judge != nil {
		if text, failed := s.judge(of.task, r.Value); failed {
			judged = cmp.Or(text, "failed")
		}
	}
	if ok && r.Error == nil && judged == "" {
		s.rec.RerunsOK++
		s.dirty = true
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	f := failureRecord{ID: id, Task: of.task, RerunOf: of.id, OK: r.Error == nil && judged == "", Worker: r.By, Attempts: max(r.Attempts, 1), Time: time.Now(), Error: judged}
	if r.Error != nil {
		f.Error, f.Kind = errorText(r, nil)
	}
	s.publish(f)
	return true
}
