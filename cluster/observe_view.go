package cluster

import (
	"cmp"
	"slices"
	"time"

	"github.com/crewrun/crew/cluster/view"
)

// jobView builds a job's view from its spec (if it is live: in the jobs
// bucket), its record (if its executor wrote one) and its failures.
func jobView(id string, spec jobSpec, live bool, rec jobRecord, recorded bool, failures []failureRecord, now time.Time) view.Job {
	j := view.Job{ID: id, Tasks: slices.Clone(spec.Tasks), State: view.Running, Spark: make([]int64, view.SparkSeconds), Failures: []view.Failure{}}
	if j.Tasks == nil {
		j.Tasks = []string{}
	}
	if recorded {
		j.Program, j.Label, j.Host, j.PID = rec.Program, rec.Label, rec.Host, rec.PID
		j.Started, j.Ended = rec.Started, rec.Ended
		j.Submitted, j.Done, j.Failed, j.Cancelled = rec.Submitted, rec.Done, rec.Failed, rec.CancelledN
		j.Retries, j.Redelivered, j.Reruns, j.RerunsOK = rec.Retries, rec.Redelivered, rec.Reruns, rec.RerunsOK
		j.Retried = j.Retries + j.Redelivered
		j.Duration = rec.Duration
		j.P50, j.P99 = rec.Duration.Quantile(0.5), rec.Duration.Quantile(0.99)
		// The record's spark ends when it was written: shift it by the
		// seconds since (nothing completed then, or it would have been
		// written again).
		shift := min(max(int(now.Sub(rec.Updated)/time.Second), 0), view.SparkSeconds)
		if len(rec.Spark) == view.SparkSeconds {
			copy(j.Spark, rec.Spark[shift:])
		}
		for _, n := range j.Spark[view.SparkSeconds-10:] {
			j.Rate10s += float64(n)
		}
		// Over the part of the 10 s that the job has lived.
		j.Rate10s /= min(max(now.Sub(rec.Started).Seconds(), 1), 10)
	}
	switch {
	case recorded && !rec.Ended.IsZero():
		j.State = view.Finished
		if rec.Cancelled != "" {
			j.State, j.Reason = view.Cancelled, "cancelled by "+rec.Cancelled
		}
	case !live && recorded && now.Sub(rec.Updated) > jobHeartbeat+5*time.Second:
		// The record is renewed every job heartbeat while the job runs,
		// and its spec is written before it: the job is gone.
		j.State, j.Reason = view.Lost, "its executor stopped without closing it (killed, or cut off), or the server lost its store"
	}
	end := now
	if !j.Ended.IsZero() {
		end = j.Ended
	}
	if !j.Started.IsZero() {
		j.Age = now.Sub(j.Started).Seconds()
		if d := end.Sub(j.Started).Seconds(); d > 0 {
			j.Rate = float64(j.Done+j.Failed) / d
		}
	}
	j.Failures = failureViews(failures, j.State == view.Running)
	return j
}

// failureViews turns a job's failure records, oldest first, into its
// failures, newest first, each with its reruns.
func failureViews(records []failureRecord, running bool) []view.Failure {
	reruns := map[string][]view.Rerun{}
	for _, r := range records {
		if r.RerunOf != "" {
			reruns[r.RerunOf] = append(reruns[r.RerunOf], view.Rerun{ID: r.ID, OK: r.OK, Error: r.Error, Worker: r.Worker, Time: r.Time})
		}
	}
	out := []view.Failure{}
	for i := len(records) - 1; i >= 0 && len(out) < view.MaxFailures; i-- {
		r := records[i]
		if r.RerunOf != "" {
			continue
		}
		out = append(out, view.Failure{ID: r.ID, Task: r.Task, Error: r.Error, Kind: r.Kind, Worker: r.Worker,
			Attempts: max(r.Attempts, 1), Time: r.Time, Retryable: running && len(r.Args) > 0, Reruns: reruns[r.ID]})
	}
	return out
}

// workerView turns an announcement into a worker's view; false for one
// the bucket would have forgotten (its TTL has passed: the watch is not
// told of expiries).
func workerView(w WorkerInfo, now time.Time) (view.Worker, bool) {
	beat := cmp.Or(w.Heartbeat, announceEvery)
	silent := now.Sub(w.Updated)
	if silent > max(workersTTL, 6*beat) {
		return view.Worker{}, false
	}
	return view.Worker{ID: w.ID, Host: w.Host, PID: w.PID, Version: w.Version, Tasks: slices.Clone(w.Tasks), Slots: w.Slots,
		Busy: w.Running, Abandoned: w.Abandoned, Done: w.Done, Failed: w.Failed, Jobs: w.Jobs, Started: w.Started,
		Heartbeat: w.Updated, Quiet: silent > 2*beat, Draining: w.Draining}, true
}

// union returns the keys of both maps.
func union[A, B any](a map[string]A, b map[string]B) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// sortJobs puts running jobs first, then the others; each newest first.
func sortJobs(jobs []view.Job) {
	slices.SortFunc(jobs, func(a, b view.Job) int {
		ar, br := a.State == view.Running, b.State == view.Running
		if ar != br {
			if ar {
				return -1
			}
			return 1
		}
		return cmp.Or(b.Started.Compare(a.Started), cmp.Compare(a.ID, b.ID))
	})
}

// sortWorkers orders workers by host, pid and id.
func sortWorkers(ws []view.Worker) {
	slices.SortFunc(ws, func(a, b view.Worker) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.PID, b.PID), cmp.Compare(a.ID, b.ID))
	})
}
