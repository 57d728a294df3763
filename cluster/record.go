package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew/cluster/view"
)

// What executors publish for the live view (docs/protocol-cluster.md,
// "Job records and failures"): JetStream keeps queued and in-flight
// counts in the consumers' info, but not what became of a call, so each
// executor counts its calls — once per call, whatever the redeliveries —
// and keeps a record of its job, and publishes its failures.
const (
	statsBucket    = "CREW_STATS"    // KV: job id → jobRecord, kept after the job ends
	failuresStream = "CREW_FAILURES" // the last failures of each job, and the outcomes of reruns

	failedSubject  = "crew.failed."  // + job id: a failureRecord
	controlSubject = "crew.control." // + job id; core NATS request to the executor: a controlRequest
)

// jobRecord is an executor's account of its job, in the stats bucket
// under the job id. Counts are totals since the job started; the
// executor writes the record every second while they change, at least
// every job heartbeat, and when it closes.
type jobRecord struct {
	Protocol int       `json:"protocol"`
	Program  string    `json:"program"`
	Label    string    `json:"label,omitempty"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Ended    time.Time `json:"ended,omitzero"` // closed, or cancelled from outside
	// Cancelled says who cancelled the job from outside.
	Cancelled string `json:"cancelled,omitempty"`

	Submitted   int64 `json:"submitted"`
	Done        int64 `json:"done"`
	Failed      int64 `json:"failed"`
	CancelledN  int64 `json:"cancelled_calls"`
	Retries     int64 `json:"retries"`
	Redelivered int64 `json:"redelivered"`
	Reruns      int64 `json:"reruns"`
	RerunsOK    int64 `json:"reruns_ok"`

	// Spark: calls done or failed in each of the view.SparkSeconds seconds up
	// to Updated, oldest first.
	Spark    []int64        `json:"spark"`
	Duration view.Histogram `json:"duration"`
}

// failureRecord is a failed call, or the outcome of a rerun, published
// on crew.failed.<job> into CREW_FAILURES, which keeps the last
// view.MaxFailures per job.
type failureRecord struct {
	ID       string    `json:"id"`
	Task     string    `json:"task"`
	Error    string    `json:"error,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	Worker   string    `json:"worker,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Time     time.Time `json:"time"`
	// Args is the call's argument (JSON), kept when at most maxKeptArgs
	// bytes, for a rerun.
	Args json.RawMessage `json:"args,omitempty"`
	// RerunOf, for the outcome of a rerun: the failed call's id; OK, it
	// succeeded.
	RerunOf string `json:"rerun_of,omitempty"`
	OK      bool   `json:"ok,omitempty"`
}

// Bounds of what a failure record keeps.
const (
	maxKeptArgs  = 16 << 10
	maxErrorText = 8 << 10
)

// controlRequest asks a job's executor to cancel the job, or to run a
// failed task again.
type controlRequest struct {
	Op   string          `json:"op"`             // "cancel" or "rerun"
	By   string          `json:"by,omitempty"`   // who asks, for the record
	ID   string          `json:"id,omitempty"`   // rerun: the failed call
	Task string          `json:"task,omitempty"` // rerun: its task name
	Args json.RawMessage `json:"args,omitempty"` // rerun: its argument
}

// controlReply answers a controlRequest.
type controlReply struct {
	Error     string `json:"error,omitempty"`
	Cancelled int    `json:"cancelled,omitempty"` // cancel: the calls it cancelled
	ID        string `json:"id,omitempty"`        // rerun: the new task id
}

// ensureViewStreams creates the objects of the live view if they are
// missing or differ: executors write them, observers read them. As with
// ensureStreams, replicas 0 keeps the replication they have.
func ensureViewStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	want := jetstream.StreamConfig{
		Name:              failuresStream,
		Subjects:          []string{failedSubject + ">"},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: 2 * view.MaxFailures, // failures and their reruns
		MaxBytes:          256 << 20,
	}
	have, err := js.Stream(ctx, failuresStream)
	if err != nil || !sameFailures(have.CachedInfo().Config, want, replicas) {
		if err == nil {
			want.Replicas = cmp.Or(replicas, have.CachedInfo().Config.Replicas)
		}
		want.Replicas = cmp.Or(want.Replicas, replicas, 1)
		if _, err := js.CreateOrUpdateStream(ctx, want); err != nil {
			return fmt.Errorf("cluster: stream %s: %w", failuresStream, explain(err))
		}
	}
	if have, err := js.Stream(ctx, "KV_"+statsBucket); err == nil && (replicas == 0 || have.CachedInfo().Config.Replicas == replicas) {
		return nil
	}
	kv := jetstream.KeyValueConfig{Bucket: statsBucket, Storage: jetstream.FileStorage, Replicas: cmp.Or(replicas, 1)}
	if _, err := js.CreateOrUpdateKeyValue(ctx, kv); err != nil {
		return fmt.Errorf("cluster: bucket %s: %w", statsBucket, explain(err))
	}
	return nil
}

// sameFailures reports whether the failures stream's config c is the one
// wanted, with replicas (0: any).
func sameFailures(c, want jetstream.StreamConfig, replicas int) bool {
	return c.MaxMsgsPerSubject == want.MaxMsgsPerSubject && c.MaxBytes == want.MaxBytes &&
		(replicas == 0 || c.Replicas == replicas)
}
