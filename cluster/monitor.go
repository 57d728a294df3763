package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// monitorEvery is how often Serve's notices look at the workers and
// jobs. A variable for the tests.
var monitorEvery = 2 * time.Second

// monitor logs, until ctx ends, the workers joining and leaving the
// server srv and the tasks that wait because no live worker runs them.
func monitor(ctx context.Context, srv *server.Server, cfg ServerConfig) {
	opts := []nats.Option{nats.Name("crew serve"), nats.InProcessServer(srv), nats.MaxReconnects(-1)}
	switch {
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.monitor != nil:
		pub, _ := cfg.monitor.PublicKey()
		opts = append(opts, nats.Nkey(pub, cfg.monitor.Sign))
	}
	nc, err := nats.Connect(inProcessURL, opts...)
	if err != nil {
		cfg.Log(fmt.Sprintf("crew: cannot watch the workers: %v", err))
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	m := &watcher{js: js, log: cfg.Log, workers: map[string]WorkerInfo{}, waiting: map[string]bool{}, foreign: map[string]bool{}}
	tick := time.NewTicker(monitorEvery)
	defer tick.Stop()
	for {
		m.look(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// watcher remembers what the notices said, to say each thing once.
type watcher struct {
	js      jetstream.JetStream
	log     func(string)
	workers map[string]WorkerInfo // by id
	waiting map[string]bool       // job/task keys said to wait
	foreign map[string]bool       // jobs of another protocol version, said
}

func (m *watcher) look(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, monitorEvery)
	defer cancel()
	live, err := readWorkers(ctx, m.js)
	if err != nil {
		return // not up yet, or going down
	}
	now := map[string]WorkerInfo{}
	runs := map[string]bool{} // task names some live worker runs
	for _, w := range live {
		now[w.ID] = w
		for _, t := range w.Tasks {
			runs[t] = true
		}
		if _, ok := m.workers[w.ID]; !ok {
			m.log(fmt.Sprintf("crew: worker %s (pid %d, %s) joined: %d slots, tasks %s", w.Host, w.PID, w.Version, w.Slots, strings.Join(w.Tasks, " ")))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.workers)) {
		if _, ok := now[id]; !ok {
			w := m.workers[id]
			m.log(fmt.Sprintf("crew: worker %s (pid %d) left", w.Host, w.PID))
		}
	}
	m.workers = now

	kv, err := m.js.KeyValue(ctx, jobsBucket)
	if err != nil {
		return
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return
	}
	still := map[string]bool{}
	for job := range keys.Keys() {
		e, err := kv.Get(ctx, job)
		if err != nil {
			continue
		}
		var spec jobSpec
		if json.Unmarshal(e.Value(), &spec) != nil {
			continue
		}
		if spec.Protocol != protocolVersion {
			if !m.foreign[job] {
				m.foreign[job] = true
				m.log(fmt.Sprintf("crew: job %s speaks cluster protocol %d; workers of this version (%d) leave it alone", job, spec.Protocol, protocolVersion))
			}
			continue
		}
		for _, task := range spec.Tasks {
			if runs[task] {
				continue
			}
			c, err := m.js.Consumer(ctx, tasksStream, consumerName(job, task))
			if errors.Is(err, jetstream.ErrConsumerNotFound) || err != nil {
				continue
			}
			queued := c.CachedInfo().NumPending
			if queued == 0 {
				continue
			}
			key := job + "/" + task
			still[key] = true
			if !m.waiting[key] {
				m.log(fmt.Sprintf("crew: %d %q task(s) of job %s wait: no connected worker has registered %q. crew worker runs only crew's own tasks (shell jobs only with --allow-shell); your program's tasks need your program's binary running cluster.Work", queued, task, job, task))
			}
		}
	}
	for key := range m.waiting {
		if !still[key] {
			job, task, _ := strings.Cut(key, "/")
			if runs[task] {
				m.log(fmt.Sprintf("crew: a worker that runs %q joined: job %s's tasks run", task, job))
			}
		}
	}
	m.waiting = still
}
