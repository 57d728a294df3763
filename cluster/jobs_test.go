package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// addJob registers job id with spec (JSON) and creates its task consumer,
// as New does, with nothing behind it: the job of an executor that was
// killed (SIGKILL) and so never removed it.
func addJob(t *testing.T, js jetstream.JetStream, id, spec string) {
	t.Helper()
	if _, err := js.CreateOrUpdateConsumer(t.Context(), "CREW_TASKS", jetstream.ConsumerConfig{
		Durable: "job-" + id, FilterSubject: "crew.task." + id, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxDeliver: cluster.MaxDeliver,
	}); err != nil {
		t.Fatal(err)
	}
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
		addJob(t, js, fmt.Sprintf("idle%d", i), `{}`)
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
