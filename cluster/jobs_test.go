package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// addJob registers job id with spec (JSON fields after the protocol
// version and task names) and creates its consumer for crewtest.square,
// as New does, with nothing behind it: the job of an executor that was
// killed (SIGKILL) and so never removed it.
func addJob(t *testing.T, js jetstream.JetStream, id, spec string) {
	t.Helper()
	task := crewtest.Square.Name()
	if _, err := js.CreateOrUpdateConsumer(t.Context(), "CREW_TASKS", jetstream.ConsumerConfig{
		Durable: cluster.ConsumerName(id, task), FilterSubject: cluster.TaskSubject(id, task), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: cluster.MaxDeliver,
	}); err != nil {
		t.Fatal(err)
	}
	spec = fmt.Sprintf(`{"protocol":%d,"tasks":[%q]%s}`, cluster.ProtocolVersion, task, spec)
	kv, err := js.KeyValue(t.Context(), "CREW_JOBS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(t.Context(), id, []byte(spec)); err != nil {
		t.Fatal(err)
	}
}

// TestIdleJobsHoldNoSlots: a worker fetches from every job on the server,
// and waits on the ones with nothing queued; those waits must not hold
// the worker's slots, or a job with tasks waits for them to expire. Here
// the idle jobs are those of killed executors that predate job heartbeats,
// so that nothing removes them.
func TestIdleJobsHoldNoSlots(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url) // creates the streams
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	js := jetStreamAt(t, url)
	for i := range 4 {
		addJob(t, js, fmt.Sprintf("idle%d", i), ``)
	}
	startWork(t, url, 5*time.Second, crew.Workers(1), cluster.Batch(2))
	// One call at a time, as crew run -j 1 submits.
	start := time.Now()
	for i := range 20 {
		if got, err := crew.Submit(t.Context(), ex, crewtest.Square, i).Wait(t.Context()); err != nil || got != i*i {
			t.Fatalf("square of %d: %d, %v", i, got, err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("20 calls took %v beside 4 idle jobs", d)
	}
}

// TestDeadJobRemoved: the job of an executor that stopped renewing its
// entry (killed with SIGKILL, so without Close) is dropped by the workers
// and removed from the server, while a live
// executor's job, renewed, outlasts the same time.
func TestDeadJobRemoved(t *testing.T) {
	cluster.SetJobHeartbeat(t, 100*time.Millisecond) // stale after 600 ms
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	js := jetStreamAt(t, url)
	addJob(t, js, "dead", `,"heartbeat_ns":100000000`)
	startWork(t, url, 5*time.Second, crew.Workers(1))
	kv, err := js.KeyValue(t.Context(), "CREW_JOBS")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, kerr := kv.Get(t.Context(), "dead")
		_, cerr := js.Consumer(t.Context(), "CREW_TASKS", cluster.ConsumerName("dead", crewtest.Square.Name()))
		if errors.Is(kerr, jetstream.ErrKeyNotFound) && errors.Is(cerr, jetstream.ErrConsumerNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead job is still there: entry %v, consumer %v", kerr, cerr)
		}
		time.Sleep(20 * time.Millisecond) // polling the condition
	}
	if got, err := crew.Submit(t.Context(), ex, crewtest.Square, 4).Wait(t.Context()); err != nil || got != 16 {
		t.Errorf("the live job after the dead one was removed: %d, %v", got, err)
	}
}

// TestServerLostStore restarts a server that keeps no store (crew serve
// without --store) under a running worker and executor: the executor's
// pending call fails with ErrJobLost instead of waiting for good (and so
// its Close returns), and the worker watches the new server's jobs, so a
// new executor's calls run.
func TestServerLostStore(t *testing.T) {
	cluster.SetJobHeartbeat(t, 200*time.Millisecond)
	url, stop := startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:0"})
	startWork(t, url, 5*time.Second, crew.Workers(2))
	old, err := cluster.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	lost := crew.Submit(ctx, old, crewtest.Sleep, 20_000)
	waitHeld(t, url, 1)
	stop()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
	startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:" + port})

	if _, err := lost.Wait(ctx); !errors.Is(err, cluster.ErrJobLost) {
		t.Errorf("the call the server lost: %v, want ErrJobLost", err)
	}
	if _, err := crew.Submit(ctx, old, crewtest.Square, 2).Wait(ctx); !errors.Is(err, cluster.ErrJobLost) {
		t.Errorf("a call to the executor whose job was lost: %v, want ErrJobLost", err)
	}
	ex, err := cluster.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if got, err := crew.Submit(ctx, ex, crewtest.Square, 3).Wait(ctx); err != nil || got != 9 {
		t.Errorf("a new job on the restarted server: %d, %v", got, err)
	}
}
