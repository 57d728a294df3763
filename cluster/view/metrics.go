package view

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metrics of crew serve --metrics. They are read from the same state
// as the page (at most Config.Every old), so they agree with it. Counters
// are the executors' once-per-call counts; they survive a server restart
// on the same store, and a job's series end when it is trimmed from the
// history.
var (
	descJobs = prometheus.NewDesc("crew_jobs",
		"Jobs the server knows, by state (running, finished, cancelled, lost).", []string{"state"}, nil)
	descTasks = prometheus.NewDesc("crew_tasks",
		"Tasks of a running job now: queued (waiting for a worker) or in_flight (held by a worker, result not stored).", []string{"job", "state"}, nil)
	descTasksTotal = prometheus.NewDesc("crew_tasks_total",
		"Calls of a job completed, by outcome: done, failed, cancelled; and submitted.", []string{"job", "state"}, nil)
	descRetries = prometheus.NewDesc("crew_task_retries_total",
		"Attempts crew.Retries made after a task's error.", []string{"job"}, nil)
	descRedeliveries = prometheus.NewDesc("crew_task_redeliveries_total",
		"Deliveries of tasks after the first, when a worker died or stalled (a drained worker's hand-backs are not counted).", []string{"job"}, nil)
	descRedelivering = prometheus.NewDesc("crew_tasks_redelivering",
		"In-flight tasks of a job on their second or later delivery now.", []string{"job"}, nil)
	descQueue = prometheus.NewDesc("crew_queue_depth",
		"Tasks waiting for a worker, by job and task name.", []string{"job", "task"}, nil)
	descDuration = prometheus.NewDesc("crew_task_duration_seconds",
		"Run time of a job's tasks on the workers.", []string{"job"}, nil)
	descWorkers = prometheus.NewDesc("crew_workers",
		"Workers announced in the last 30 s, by state: live, quiet (no heartbeat for two of them), draining.", []string{"state"}, nil)
	descSlots = prometheus.NewDesc("crew_worker_slots",
		"Worker slots (tasks run at once) of the live workers: total, busy.", []string{"state"}, nil)
)

// metricBounds are the histogram bounds exported to Prometheus: every
// eighth bucket bound (powers of four from 1 µs; the view keeps finer
// ones).
var metricBounds = func() []int {
	var out []int
	for i := 8; i < Buckets-1; i += 8 {
		out = append(out, i)
	}
	return out
}()

// metrics returns the handler of /metrics.
func (h *hub) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{h}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

type collector struct{ h *hub }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descTasks, descTasksTotal, descRetries, descRedeliveries, descRedelivering, descQueue, descDuration, descWorkers, descSlots} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.current()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	jobs := map[string]int{Running: 0, Finished: 0, Cancelled: 0, Lost: 0}
	for _, j := range st.Jobs {
		jobs[j.State]++
		if j.State == Running {
			gauge(descTasks, float64(j.Queued), j.ID, "queued")
			gauge(descTasks, float64(j.InFlight), j.ID, "in_flight")
			var redelivering int64
			for _, q := range j.Queues {
				gauge(descQueue, float64(q.Queued), j.ID, q.Task)
				redelivering += q.Redelivering
			}
			gauge(descRedelivering, float64(redelivering), j.ID)
		}
		counter(descTasksTotal, float64(j.Submitted), j.ID, "submitted")
		counter(descTasksTotal, float64(j.Done), j.ID, "done")
		counter(descTasksTotal, float64(j.Failed), j.ID, "failed")
		counter(descTasksTotal, float64(j.Cancelled), j.ID, "cancelled")
		counter(descRetries, float64(j.Retries), j.ID)
		counter(descRedeliveries, float64(j.Redelivered), j.ID)
		ch <- histogram(j)
	}
	for state, n := range jobs {
		gauge(descJobs, float64(n), state)
	}
	var live, quiet, draining, slots, busy float64
	for _, w := range st.Workers {
		switch {
		case w.Quiet:
			quiet++
		default:
			live++
			slots += float64(w.Slots)
			busy += float64(w.Busy)
		}
		if w.Draining {
			draining++
		}
	}
	gauge(descWorkers, live, "live")
	gauge(descWorkers, quiet, "quiet")
	gauge(descWorkers, draining, "draining")
	gauge(descSlots, slots, "total")
	gauge(descSlots, busy, "busy")
}

// histogram exports a job's duration histogram with metricBounds.
func histogram(j Job) prometheus.Metric {
	buckets := make(map[float64]uint64, len(metricBounds))
	var cum uint64
	next := 0
	for _, b := range metricBounds {
		for ; next <= b && next < len(j.Duration.Counts); next++ {
			cum += j.Duration.Counts[next]
		}
		buckets[UpperBound(b)] = cum
	}
	return prometheus.MustNewConstHistogram(descDuration, j.Duration.Total(), j.Duration.Sum, buckets, j.ID)
}
