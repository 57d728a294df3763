package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// WorkerInfo is a worker's announcement: what it runs and how it is
// doing. Every worker (Work, crew worker) keeps one in the workers bucket
// CREW_WORKERS under its ID, renewed every Heartbeat; the bucket forgets
// an entry 30 s after its last renewal, so the entries are the live
// workers (docs/protocol-cluster.md).
type WorkerInfo struct {
	ID        string        `json:"id"`
	Host      string        `json:"host"`
	PID       int           `json:"pid"`
	Version   string        `json:"version"`  // the worker binary's module version and Go version
	Protocol  int           `json:"protocol"` // of docs/protocol-cluster.md
	Tasks     []string      `json:"tasks"`    // the task names it runs
	Slots     int           `json:"slots"`    // tasks it runs at once (crew.Workers)
	Running   int64         `json:"running"`
	Abandoned int64         `json:"abandoned"` // timed out, ignoring their context, still running
	Done      int64         `json:"done"`
	Failed    int64         `json:"failed"`
	Jobs      int           `json:"jobs"` // executors whose tasks it may take
	Started   time.Time     `json:"started"`
	Updated   time.Time     `json:"updated"`
	Heartbeat time.Duration `json:"heartbeat_ns"`
	Draining  bool          `json:"draining,omitempty"` // stopped fetching, finishing its running tasks
}

// announcer keeps a worker's announcement in the workers bucket, from a
// goroutine of its own: a server that does not answer must not hold up
// the worker.
type announcer struct {
	w        *worker
	kv       jetstream.KeyValue // nil if the bucket could not be opened: try again at the next beat
	info     WorkerInfo
	jobs     atomic.Int64
	draining atomic.Bool
	poke     chan struct{} // renew now
	done     chan struct{}
}

// announce starts announcing w until ctx ends; withdraw then removes the
// announcement.
func (w *worker) announce(ctx context.Context) *announcer {
	host, _ := os.Hostname()
	a := &announcer{w: w, done: make(chan struct{}), poke: make(chan struct{}, 1), info: WorkerInfo{
		ID: nuid.Next(), Host: host, PID: os.Getpid(), Version: version(), Protocol: protocolVersion,
		Tasks: w.taskNames(), Slots: w.slots, Started: time.Now(), Heartbeat: announceEvery,
	}}
	go func() {
		defer close(a.done)
		tick := time.NewTicker(announceEvery)
		defer tick.Stop()
		for {
			a.put(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-a.poke:
			}
		}
	}()
	return a
}

// drain says at once that the worker is draining.
func (a *announcer) drain() {
	a.draining.Store(true)
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

// put renews the announcement with the counts now.
func (a *announcer) put(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, announceEvery)
	defer cancel()
	if a.kv == nil {
		kv, err := a.w.js.KeyValue(ctx, workersBucket)
		if err != nil {
			return
		}
		a.kv = kv
	}
	p := a.w.progress.Snapshot()
	a.info.Running, a.info.Abandoned, a.info.Done, a.info.Failed = p.Running, p.Abandoned, p.Done, p.Failed
	a.info.Jobs, a.info.Updated, a.info.Draining = int(a.jobs.Load()), time.Now(), a.draining.Load()
	body, _ := json.Marshal(a.info)
	a.kv.Put(ctx, a.info.ID, body)
}

// withdraw removes the announcement once the worker stopped; if the
// server cannot be reached, the bucket forgets it after its TTL.
func (a *announcer) withdraw() {
	<-a.done
	if a.kv == nil || !a.w.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.kv.Delete(ctx, a.info.ID)
}

// version returns the running binary's module path and version, and the
// Go version.
func version() string {
	v := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Path + "@" + bi.Main.Version + " " + v
	}
	return v
}

// ListWorkers returns the announcements of the workers of the server at url
// (those renewed in the last 30 s), sorted by host and pid. opts are the
// client options (Token, NKey, TLS).
func ListWorkers(ctx context.Context, url string, opts ...crew.Option) ([]WorkerInfo, error) {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	nc, err := connect(url, cfg)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return readWorkers(ctx, js)
}

// readWorkers reads the workers bucket.
func readWorkers(ctx context.Context, js jetstream.JetStream) ([]WorkerInfo, error) {
	kv, err := js.KeyValue(ctx, workersBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil // no worker ever connected
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", workersBucket, explain(err))
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: bucket %s: %w", workersBucket, explain(err))
	}
	var out []WorkerInfo
	for key := range keys.Keys() {
		e, err := kv.Get(ctx, key)
		if err != nil {
			continue // gone meanwhile
		}
		var info WorkerInfo
		if json.Unmarshal(e.Value(), &info) == nil {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b WorkerInfo) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.PID, b.PID), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
