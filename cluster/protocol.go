package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew/executor"
)

// protocolVersion is the version of docs/protocol-cluster.md this package
// speaks. It is in every job's spec and every worker's announcement;
// workers leave alone jobs of another version.
const protocolVersion = 2

// Names of the JetStream objects crew uses (docs/protocol-cluster.md).
const (
	tasksStream   = "CREW_TASKS"   // work queue: one subject per job and task name
	resultsStream = "CREW_RESULTS" // results: one subject per job
	jobsBucket    = "CREW_JOBS"    // KV: job id → job spec
	workersBucket = "CREW_WORKERS" // KV: worker id → its announcement

	taskSubject     = "crew.task."     // + job id + "." + task token
	resultSubject   = "crew.result."   // + job id
	cancelSubject   = "crew.cancel."   // + job id; core NATS, payload = task id
	startSubject    = "crew.start."    // + job id; core NATS request, payload = task id, reply a start* word
	ranSubject      = "crew.ran."      // + job id; core NATS, payload = task id: a solo run returned
	progressSubject = "crew.progress." // + job id; core NATS, payload "s|d|f <task id>": started, done, failed (jobs with progress)

	hdrTask = "Crew-Task" // registered task name
	hdrID   = "Crew-Id"   // task id: job id "." sequence
)

// taskToken turns a task name into a subject token and consumer name
// part: letters, digits and '-' stay, every other byte becomes '_' and two
// hex digits ("crewtest.square" → "crewtest_2esquare").
func taskToken(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// consumerName is the durable consumer of a job's tasks of one name.
func consumerName(job, task string) string { return "job-" + job + "-" + taskToken(task) }

// taskSubjectOf is the subject of a job's tasks of one name.
func taskSubjectOf(job, task string) string { return taskSubject + job + "." + taskToken(task) }

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
	Protocol int           `json:"protocol"`
	Tasks    []string      `json:"tasks,omitempty"` // task names submitted so far: one consumer each
	Inits    []string      `json:"inits,omitempty"`
	Timeout  time.Duration `json:"timeout_ns,omitempty"`
	Retries  int           `json:"retries,omitempty"`
	Backoff  time.Duration `json:"backoff_ns,omitempty"`
	AckWait  time.Duration `json:"ack_wait_ns,omitempty"`
	// Heartbeat is how often the executor renews the entry.
	Heartbeat time.Duration `json:"heartbeat_ns,omitempty"`
	// Progress asks workers to say when a task starts and ends
	// (crew.progress).
	Progress bool `json:"progress,omitempty"`
}

// policy is the attempt policy workers apply to the job's tasks: a task
// that ignores its context is abandoned past the deadline and its grace.
func (s jobSpec) policy(progress *executor.Tracker) executor.Policy {
	return executor.Policy{Timeout: s.Timeout, Retries: s.Retries, Backoff: s.Backoff, Grace: executor.Grace(s.Timeout), Progress: progress}
}

// reply is the body of a result message.
type reply struct {
	Value json.RawMessage       `json:"value,omitempty"`
	Error *executor.RemoteError `json:"error,omitempty"`
	// For the job's record (stats.go): the run's time on the worker, its
	// attempts and deliveries when more than one, and the worker
	// (host:pid).
	RunNS     int64  `json:"ns,omitempty"`
	Attempts  int    `json:"attempts,omitempty"`
	Delivered int    `json:"delivered,omitempty"`
	By        string `json:"by,omitempty"`
}

// tasksMaxBytes bounds the tasks queued on the server: beyond it,
// submitting waits (back-pressure). A variable for the tests.
var tasksMaxBytes int64 = 1 << 30

// workersTTL is how long a worker's announcement outlives its last
// renewal (every announceEvery) in the workers bucket. Variables for the
// tests.
var (
	announceEvery = 5 * time.Second
	workersTTL    = 30 * time.Second
)

// ensureStreams creates or updates the streams and buckets crew needs.
// Every client (executor or worker) calls it, so no set-up step is
// needed; it writes only what is missing or differs, as updating a
// stream while others create consumers on it is needless churn.
// replicas 0 keeps the replication of objects that exist (and creates
// missing ones with 1), so that a client without Replicas does not undo
// another's Replicas(3).
func ensureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, want := range []jetstream.StreamConfig{{
		Name:       tasksStream,
		Subjects:   []string{taskSubject + ">"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardNew,
		MaxBytes:   tasksMaxBytes,
		Duplicates: 5 * time.Second,
	}, {
		Name:       resultsStream,
		Subjects:   []string{resultSubject + ">"},
		Retention:  jetstream.InterestPolicy, // a result is dropped once its executor has it
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardOld,
		MaxBytes:   1 << 30,
		MaxAge:     24 * time.Hour,
		Duplicates: time.Second, // the executor de-duplicates results by task id itself
	}} {
		have, err := js.Stream(ctx, want.Name)
		if err == nil {
			c := have.CachedInfo().Config
			want.Replicas = cmp.Or(replicas, c.Replicas)
			if slices.Equal(c.Subjects, want.Subjects) && c.Retention == want.Retention && c.Storage == want.Storage &&
				c.Discard == want.Discard && c.MaxBytes == want.MaxBytes && c.MaxAge == want.MaxAge &&
				c.Duplicates == want.Duplicates && c.Replicas == want.Replicas {
				continue
			}
		}
		want.Replicas = cmp.Or(want.Replicas, replicas, 1)
		if _, err := js.CreateOrUpdateStream(ctx, want); err != nil {
			return fmt.Errorf("cluster: stream %s: %w", want.Name, explain(err))
		}
	}
	for _, want := range []jetstream.KeyValueConfig{
		{Bucket: jobsBucket, Storage: jetstream.FileStorage},
		{Bucket: workersBucket, Storage: jetstream.FileStorage, TTL: workersTTL},
	} {
		have, err := js.Stream(ctx, "KV_"+want.Bucket)
		if err == nil {
			c := have.CachedInfo().Config
			want.Replicas = cmp.Or(replicas, c.Replicas)
			if c.MaxAge == want.TTL && c.Replicas == want.Replicas {
				continue
			}
		}
		want.Replicas = cmp.Or(want.Replicas, replicas, 1)
		if _, err := js.CreateOrUpdateKeyValue(ctx, want); err != nil {
			return fmt.Errorf("cluster: bucket %s: %w", want.Bucket, explain(err))
		}
	}
	return nil
}
