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

// ErrJobCancelled reports that a job was cancelled from outside its
// program: by crew cancel, or the cancel button of crew serve's live
// view. The job's pending calls fail with an error wrapping it, and so do
// its later calls: the executor has to be created again. It wraps
// context.Canceled, so errors.Is(err, context.Canceled) holds too and code
// that stops on a cancelled context stops here as well; the message says
// that the cancel came from outside, and from whom.
var ErrJobCancelled = fmt.Errorf("cluster: job cancelled from outside: %w", context.Canceled)

// jobCancelled is the error of the calls of a job cancelled from outside.
type jobCancelled struct{ job, by string }

func (e *jobCancelled) Error() string {
	return fmt.Sprintf("cluster: job %s was cancelled from outside (by %s): context canceled", e.job, e.by)
}

// Is makes errors.Is true for ErrJobCancelled and context.Canceled.
func (e *jobCancelled) Is(target error) bool {
	return target == ErrJobCancelled || target == context.Canceled
}

// listenControl subscribes to the job's control requests.
func (e *submitter) listenControl() error {
	sub, err := e.nc.Subscribe(controlSubject+e.id, e.onControl)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s: %w", controlSubject+e.id, explain(err))
	}
	e.mu.Lock()
	e.subs = append(e.subs, sub)
	e.mu.Unlock()
	return nil
}

// onControl answers a control request on crew.control.<job>: cancel the
// job, or run a failed task again.
func (e *submitter) onControl(m *nats.Msg) {
	var req controlRequest
	var rep controlReply
	if err := json.Unmarshal(m.Data, &req); err != nil {
		rep.Error = "bad request: " + err.Error()
	} else {
		switch req.Op {
		case "cancel":
			by := req.By
			if by == "" {
				by = "an unnamed client"
			}
			e.cancelJob(by, func(n int) {
				rep.Cancelled = n
				body, _ := json.Marshal(rep)
				m.Respond(body)
			})
			return
		case "rerun":
			id, err := e.rerun(req)
			if err != nil {
				rep.Error = err.Error()
			}
			rep.ID = id
		default:
			rep.Error = fmt.Sprintf("unknown operation %q", req.Op)
		}
	}
	body, _ := json.Marshal(rep)
	m.Respond(body)
}

// cancelJob cancels the job from outside: every pending call fails with
// a jobCancelled error, later ones too, and the job is removed from the
// server, so that the workers cancel the tasks they run and the queued
// ones are dropped. answer is given how many calls it cancelled.
//
// The callers learn of the cancel last: a program often stops (exits) on
// the first error, so the job's record, its removal from the server and
// the answer to whoever cancelled are done before any call fails.
func (e *submitter) cancelJob(by string, answer func(cancelled int)) {
	err := &jobCancelled{job: e.id, by: by}
	// Renewals would find the job gone and fail the calls with
	// ErrJobLost instead.
	e.stopTend()
	<-e.tendDone
	e.mu.Lock()
	if e.lost == nil {
		e.lost = err
	}
	ids := make([]string, 0, len(e.pending))
	for id := range e.pending {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	var completes []func()
	for _, id := range ids {
		if complete, ok := e.settle(id, nil, err); ok {
			completes = append(completes, complete)
		}
	}
	e.stats.end(by)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.removeJob(ctx)
	answer(len(completes))
	for _, complete := range completes {
		complete()
	}
}

// removeJob removes the job from the server: its entry in the jobs
// bucket (workers stop fetching its tasks and cancel those they run), its
// consumers and its queued tasks.
func (e *submitter) removeJob(ctx context.Context) {
	e.kv.Purge(ctx, e.id)
	e.routeMu.Lock()
	for task := range e.routed {
		e.js.DeleteConsumer(ctx, tasksStream, consumerName(e.id, task))
	}
	e.routeMu.Unlock()
	if s, err := e.js.Stream(ctx, tasksStream); err == nil {
		s.Purge(ctx, jetstream.WithPurgeSubject(taskSubject+e.id+".>"))
	}
}

// errJobEnded refuses a rerun in a job that no longer runs tasks.
var errJobEnded = errors.New("the job has ended: nothing would receive the result")

// rerun queues the failed call req.ID's task again, with its argument,
// under a new task id; its outcome is recorded (stats.rerunDone), but the
// call itself, which has returned its error to its caller, is not
// changed.
func (e *submitter) rerun(req controlRequest) (string, error) {
	if req.ID == "" || req.Task == "" || len(req.Args) == 0 {
		return "", errors.New("rerun: need the task's id, name and argument")
	}
	e.mu.Lock()
	ended := e.closed || e.lost != nil
	e.mu.Unlock()
	if ended {
		return "", errJobEnded
	}
	if err := e.route(req.Task); err != nil {
		return "", err
	}
	id := e.stats.rerunID(req.ID, req.Task)
	m := nats.NewMsg(taskSubjectOf(e.id, req.Task))
	m.Header.Set(hdrTask, req.Task)
	m.Header.Set(hdrID, id)
	m.Data = req.Args
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return "", fmt.Errorf("rerun: %w", explain(err))
	}
	return id, nil
}
