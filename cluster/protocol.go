package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
)

// Names of the JetStream objects crew uses (docs/protocol-cluster.md).
const (
	tasksStream   = "CREW_TASKS"   // work queue: one subject per job
	resultsStream = "CREW_RESULTS" // results: one subject per job
	jobsBucket    = "CREW_JOBS"    // KV: job id → job spec

	taskSubject   = "crew.task."   // + job id
	resultSubject = "crew.result." // + job id
	cancelSubject = "crew.cancel." // + job id; core NATS, payload = task id
	startSubject  = "crew.start."  // + job id; core NATS request, payload = task id, reply a start* word
	ranSubject    = "crew.ran."    // + job id; core NATS, payload = task id: a solo run returned

	hdrTask = "Crew-Task" // registered task name
	hdrID   = "Crew-Id"   // task id: job id "." sequence
)

// soloFrom is the delivery from which a task runs alone on its worker.
// The second delivery runs among others: a worker that died once (a lost
// machine, a kill) must not make every task it held run one at a time.
const soloFrom = 3

// Replies to a worker's request to run a redelivered task alone.
const (
	startRun  = "run"  // run it
	startSkip = "skip" // its call has completed: ack it without running it
	startFail = "fail" // it killed its worker too often: its call failed, ack it
)

// soloDeaths is how many times a redelivered task may kill the worker it
// runs alone on (a solo run that never reported crew.ran) before its call
// fails with crew.ErrWorkerDied.
const soloDeaths = 3

// maxDeliver bounds the deliveries of a task; it only matters when the
// executor does not answer start requests (see soloDeaths). A task held,
// not run, by a worker that another task killed gets a delivery too, so it
// is well above the soloFrom-1+soloDeaths deaths a task that kills its
// workers causes.
const maxDeliver = 12

// jobSpec is what a worker needs to know about a job; it travels in the
// jobs KV bucket under the job id.
type jobSpec struct {
	Inits   []string      `json:"inits,omitempty"`
	Timeout time.Duration `json:"timeout_ns,omitempty"`
	Retries int           `json:"retries,omitempty"`
	Backoff time.Duration `json:"backoff_ns,omitempty"`
	AckWait time.Duration `json:"ack_wait_ns,omitempty"`
	// Heartbeat is how often the executor renews the entry; 0 (an
	// executor that predates heartbeats) never.
	Heartbeat time.Duration `json:"heartbeat_ns,omitempty"`
}

// reply is the body of a result message.
type reply struct {
	Value json.RawMessage   `json:"value,omitempty"`
	Error *crew.RemoteError `json:"error,omitempty"`
}

// ensureStreams creates or updates the streams and bucket crew needs. Every
// client (executor or worker) calls it, so no set-up step is needed.
// replicas 0 keeps the replication of objects that exist (and creates
// missing ones with 1), so that a client without Replicas does not undo
// another's Replicas(3).
// tasksMaxBytes bounds the tasks queued on the server: beyond it,
// submitting waits (back-pressure). A variable for the tests.
var tasksMaxBytes int64 = 1 << 30

func ensureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	repl := func(stream string) int {
		if replicas > 0 {
			return replicas
		}
		if s, err := js.Stream(ctx, stream); err == nil {
			return s.CachedInfo().Config.Replicas
		}
		return 1
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       tasksStream,
		Subjects:   []string{taskSubject + ">"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardNew,
		MaxBytes:   tasksMaxBytes,
		Duplicates: 5 * time.Second,
		Replicas:   repl(tasksStream),
	})
	if err != nil {
		return fmt.Errorf("cluster: stream %s: %w", tasksStream, explain(err))
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       resultsStream,
		Subjects:   []string{resultSubject + ">"},
		Retention:  jetstream.InterestPolicy, // a result is dropped once its executor has it
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardOld,
		MaxBytes:   1 << 30,
		MaxAge:     24 * time.Hour,
		Duplicates: time.Second, // the executor de-duplicates results by task id itself
		Replicas:   repl(resultsStream),
	})
	if err != nil {
		return fmt.Errorf("cluster: stream %s: %w", resultsStream, explain(err))
	}
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   jobsBucket,
		Storage:  jetstream.FileStorage,
		Replicas: repl("KV_" + jobsBucket),
	})
	if err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", jobsBucket, explain(err))
	}
	return nil
}
