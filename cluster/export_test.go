package cluster

import (
	"context"
	"net"
	"time"

	"github.com/crewrun/crew"
)

// IgnoreStartRequests makes ex behave like an executor that predates
// crew.start: workers asking before a solo run get no answer, so only the
// consumer's MaxDeliver stops a task that kills its workers.
func IgnoreStartRequests(ex crew.Executor) error {
	e := ex.(*submitter)
	for _, sub := range e.subs {
		if sub.Subject == startSubject+e.id {
			return sub.Unsubscribe()
		}
	}
	return nil
}

// MaxDeliver is the consumer's bound on deliveries.
const MaxDeliver = maxDeliver

// SetSubmitLimits shrinks the tasks stream and the resubmit budget for
// one test (call before New), restoring them when it ends.
func SetSubmitLimits(t interface{ Cleanup(func()) }, maxBytes int64, resubmits int, wait time.Duration) {
	oldBytes, oldN, oldWait := tasksMaxBytes, maxResubmits, resubmitWait
	tasksMaxBytes, maxResubmits, resubmitWait = maxBytes, resubmits, wait
	t.Cleanup(func() { tasksMaxBytes, maxResubmits, resubmitWait = oldBytes, oldN, oldWait })
}

// MostResubmits is the largest number of times one pending call of ex has
// been published again.
func MostResubmits(ex crew.Executor) int {
	e := ex.(*submitter)
	e.mu.Lock()
	defer e.mu.Unlock()
	most := 0
	for _, p := range e.pending {
		most = max(most, p.resubmits)
	}
	return most
}

// EmbeddedAddr is the client listener address of the server that
// New("embedded") started for ex, nil when it listens on no port.
func EmbeddedAddr(ex crew.Executor) net.Addr {
	return ex.(*submitter).srv.Addr()
}

// SetJobHeartbeat makes executors renew their jobs every d, and workers
// check for stale jobs every d/4, for one test (call before New and Work).
func SetJobHeartbeat(t interface{ Cleanup(func()) }, d time.Duration) {
	oldBeat, oldCheck := jobHeartbeat, jobsCheck
	jobHeartbeat, jobsCheck = d, d/4
	t.Cleanup(func() { jobHeartbeat, jobsCheck = oldBeat, oldCheck })
}

// ConsumerName is the durable consumer of a job's tasks of one name.
func ConsumerName(job, task string) string { return consumerName(job, task) }

// TaskSubject is the subject of a job's tasks of one name.
func TaskSubject(job, task string) string { return taskSubjectOf(job, task) }

// ProtocolVersion is the version of docs/protocol-cluster.md.
const ProtocolVersion = protocolVersion

// SetAnnounceEvery makes workers renew their announcements every d, and
// the workers bucket forget them after 3d, for one test (call before
// Work or New).
func SetAnnounceEvery(t interface{ Cleanup(func()) }, d time.Duration) {
	oldEvery, oldTTL := announceEvery, workersTTL
	announceEvery, workersTTL = d, 3*d
	t.Cleanup(func() { announceEvery, workersTTL = oldEvery, oldTTL })
}

// SetMonitorEvery makes Serve's notices look at the workers and jobs
// every d, for one test (call before Serve).
func SetMonitorEvery(t interface{ Cleanup(func()) }, d time.Duration) {
	old := monitorEvery
	monitorEvery = d
	t.Cleanup(func() { monitorEvery = old })
}

// SetDrainHook makes draining workers report how many held tasks they
// handed back to fn, for one test.
func SetDrainHook(t interface{ Cleanup(func()) }, fn func(handedBack int)) {
	drainHook = fn
	t.Cleanup(func() { drainHook = nil })
}

// ServeEmbeddedView serves the live view and metrics of the embedded
// server of ex (New("embedded")) until ctx ends; done is closed once
// they stopped.
func ServeEmbeddedView(ctx context.Context, ex crew.Executor, ui, metrics string, ready func(ui, metrics string)) (done <-chan struct{}, err error) {
	return startView(ctx, ex.(*submitter).srv, ServerConfig{UI: ui, Metrics: metrics, ViewReady: ready})
}
