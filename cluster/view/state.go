// Package view shows a crew cluster to people and to monitoring: the live
// web page of crew serve --ui (its assets embedded, so it works offline),
// the JSON behind it, and the Prometheus metrics of crew serve --metrics.
//
// It knows nothing of NATS. A Source (package cluster's Observer) reads
// the cluster's state — jobs, workers, failures — and carries out the
// page's control requests; this package renders, streams and guards them.
package view

import (
	"math"
	"time"
)

// State is the cluster at one moment: what the page shows, what
// /api/state returns and what crew jobs --json prints.
type State struct {
	Time    time.Time `json:"time"`
	Jobs    []Job     `json:"jobs"`    // running first, then ended, newest first
	Workers []Worker  `json:"workers"` // by host and pid
}

// Job states.
const (
	Running   = "running"   // its executor is connected and renews it
	Finished  = "finished"  // its executor closed it
	Cancelled = "cancelled" // cancelled from outside (crew cancel, the page)
	Lost      = "lost"      // gone from the server without a close: its executor died, or the server lost its store
)

// Job is one executor's job (cluster.New): who submitted it, what it has
// queued, in flight and done, how fast, and its recent failures.
type Job struct {
	ID      string   `json:"id"`
	Program string   `json:"program"`         // the submitting program's name
	Label   string   `json:"label,omitempty"` // what it runs; crew run --cluster: the command template
	Host    string   `json:"host"`
	PID     int      `json:"pid"`
	Tasks   []string `json:"tasks"` // the task names it submitted
	State   string   `json:"state"`
	// Reason says why a job ended other than by its close.
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	Age     float64   `json:"age_s"` // seconds since it started

	// From JetStream, now: tasks waiting for a worker, and tasks a worker
	// holds (running or fetched ahead) whose result is not stored yet.
	Queued   int64   `json:"queued"`
	InFlight int64   `json:"in_flight"`
	Queues   []Queue `json:"queues,omitempty"`

	// Counted by the executor, once per call, whatever the redeliveries:
	// calls submitted, and calls completed with a value (Done), with an
	// error (Failed) or cancelled by their caller or from outside.
	Submitted int64 `json:"submitted"`
	Done      int64 `json:"done"`
	Failed    int64 `json:"failed"`
	Cancelled int64 `json:"cancelled"`
	// Retried is Retries + Redelivered: the calls' runs beyond their
	// first. Retries are the attempts crew.Retries made after an error;
	// Redelivered, the deliveries after a worker died or stalled (a
	// drained worker's hand-backs are not counted).
	Retried     int64 `json:"retried"`
	Retries     int64 `json:"retries"`
	Redelivered int64 `json:"redelivered"`
	// Reruns are failed tasks run again from the page (Observer.Rerun); the
	// ones that succeeded are RerunsOK.
	Reruns   int64 `json:"reruns"`
	RerunsOK int64 `json:"reruns_ok"`

	// Rate10s is the calls done or failed per second over the last 10 s,
	// or over the job's life while it is younger (cancelled calls did no
	// work); Rate, over the job's life.
	Rate10s float64 `json:"rate_10s"`
	Rate    float64 `json:"rate"`
	// Spark is the calls done or failed in each of the last SparkSeconds
	// seconds, oldest first.
	Spark []int64 `json:"spark"`
	// P50 and P99 are percentiles of the tasks' run time on the workers,
	// in seconds, from Duration (within its bucket resolution); 0 when
	// no task has completed.
	P50      float64   `json:"p50_s"`
	P99      float64   `json:"p99_s"`
	Duration Histogram `json:"duration"`

	// Failures are the job's last failed calls, newest first (the server
	// keeps MaxFailures per job).
	Failures []Failure `json:"failures"`
}

// Completed returns the calls that completed, one way or another.
func (j Job) Completed() int64 { return j.Done + j.Failed + j.Cancelled }

// Queue is the JetStream consumer of a job's tasks of one name.
type Queue struct {
	Task     string `json:"task"`
	Queued   int64  `json:"queued"`
	InFlight int64  `json:"in_flight"`
	// Redelivering is how many of the in-flight tasks are on a second or
	// later delivery.
	Redelivering int64 `json:"redelivering"`
}

// Failure is a call that failed.
type Failure struct {
	ID       string    `json:"id"` // the task id: job id "." sequence
	Task     string    `json:"task"`
	Error    string    `json:"error"`          // the full text
	Kind     string    `json:"kind,omitempty"` // timeout, panic, worker_died, …
	Worker   string    `json:"worker,omitempty"`
	Attempts int       `json:"attempts"`
	Time     time.Time `json:"time"`
	// Retryable says whether it can be run again: its job is running and
	// its arguments were small enough to keep.
	Retryable bool    `json:"retryable"`
	Reruns    []Rerun `json:"reruns,omitempty"`
}

// Rerun is the outcome of running a failed task again.
type Rerun struct {
	ID     string    `json:"id"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	Worker string    `json:"worker,omitempty"`
	Time   time.Time `json:"time"`
}

// Worker is a worker process (crew worker, or a program calling
// cluster.Work), as it last announced itself.
type Worker struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	Tasks     []string  `json:"tasks"` // the task names it runs
	Slots     int       `json:"slots"`
	Busy      int64     `json:"busy"` // slots running a task
	Abandoned int64     `json:"abandoned"`
	Done      int64     `json:"done"`
	Failed    int64     `json:"failed"`
	Jobs      int       `json:"jobs"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"` // its last announcement
	// Quiet: no announcement for two of its heartbeats; the server
	// forgets it after 30 s.
	Quiet    bool `json:"quiet"`
	Draining bool `json:"draining"`
}

// SparkSeconds is the length of Job.Spark.
const SparkSeconds = 60

// MaxFailures is how many failures per job the server keeps.
const MaxFailures = 100

// Histogram counts durations in buckets whose upper bounds grow by a
// quarter power of two from 1 µs (bucket i holds durations up to
// 2^(i/4) µs; the last one everything longer), so a percentile read from it
// is within 19 % of the true one.
type Histogram struct {
	Counts []uint64 `json:"counts,omitempty"` // by bucket; trailing zeros dropped
	Sum    float64  `json:"sum_s"`            // of the durations, in seconds
}

// Buckets is the number of histogram buckets: the bounds reach 2^32 µs
// (71 minutes), and the last bucket is unbounded.
const Buckets = 4*32 + 2

// Bucket returns the bucket of a duration.
func Bucket(d time.Duration) int {
	us := float64(d) / float64(time.Microsecond)
	if us <= 1 {
		return 0
	}
	return min(int(math.Ceil(4*math.Log2(us)-1e-9)), Buckets-1)
}

// UpperBound returns the upper bound of bucket i in seconds; +Inf for the
// last.
func UpperBound(i int) float64 {
	if i >= Buckets-1 {
		return math.Inf(1)
	}
	return math.Exp2(float64(i)/4) * 1e-6
}

// Total returns how many durations h counted.
func (h Histogram) Total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Add adds o's counts to h's.
func (h *Histogram) Add(o Histogram) {
	for len(h.Counts) < len(o.Counts) {
		h.Counts = append(h.Counts, 0)
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Sum += o.Sum
}

// Quantile returns the q-quantile (0 < q ≤ 1) in seconds, interpolated
// within its bucket on a log scale; 0 for an empty histogram.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Total()
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			hi := UpperBound(i)
			lo := UpperBound(i - 1)
			if i == 0 {
				return hi
			}
			if math.IsInf(hi, 1) {
				return lo
			}
			f := (rank - seen) / float64(c)
			return lo * math.Pow(hi/lo, f)
		}
		seen += float64(c)
	}
	return UpperBound(len(h.Counts) - 2)
}
