package cluster_test

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
)

// freeAddrs returns n loopback addresses with ports free at the moment.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	return addrs
}

// threeNodes is a NATS cluster of three server processes on loopback.
type threeNodes struct {
	names []string
	urls  []string
	procs []*exec.Cmd
}

// URL is the client URL listing every node.
func (c *threeNodes) URL() string { return strings.Join(c.urls, ",") }

// startThreeNodes starts three nodes (this test binary, see helperMain)
// with routes to each other and waits until JetStream takes streams with
// three replicas.
func startThreeNodes(t testing.TB) *threeNodes {
	t.Helper()
	addrs := freeAddrs(t, 6)
	client, routes := addrs[:3], addrs[3:]
	c := &threeNodes{}
	for i := range 3 {
		cfg := nodeConfig{
			Listen:        client[i],
			StoreDir:      filepath.Join(t.TempDir(), "store"),
			Name:          "node" + string(rune('a'+i)),
			ClusterListen: routes[i],
			Routes:        routes,
		}
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := startHelper(nodeEnv + "=" + string(js))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
		c.names = append(c.names, cfg.Name)
		c.urls = append(c.urls, "nats://"+client[i])
		c.procs = append(c.procs, cmd)
	}
	// Ready when a stream with three replicas can be created.
	js := jetStreamAt(t, c.URL(), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "READY", Subjects: []string{"ready"}, Replicas: 3, Storage: jetstream.MemoryStorage})
		cancel()
		if err == nil {
			js.DeleteStream(context.Background(), "READY")
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the three nodes did not form a JetStream cluster in 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the condition
	}
}

// kill SIGKILLs the node that leads stream and returns its index.
func (c *threeNodes) killLeader(t testing.TB, stream string) int {
	t.Helper()
	js := jetStreamAt(t, c.URL())
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	leader := s.CachedInfo().Cluster.Leader
	for i, name := range c.names {
		if name == leader {
			c.procs[i].Process.Signal(syscall.SIGKILL)
			c.procs[i].Wait()
			return i
		}
	}
	t.Fatalf("stream %s is led by %q, not one of %q", stream, leader, c.names)
	return -1
}

// logState logs the streams and consumers, to tell where a task is stuck.
func logState(t testing.TB, url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Log(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{"CREW_TASKS", "CREW_RESULTS"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		info := s.CachedInfo()
		t.Logf("%s: %d messages, seq %d..%d, leader %s", name, info.State.Msgs, info.State.FirstSeq, info.State.LastSeq, info.Cluster.Leader)
		for c := range s.ListConsumers(ctx).Info() {
			t.Logf("  %s: pending %d, ack pending %d, redelivered %d, waiting %d, delivered %d, ack floor %d, leader %s",
				c.Name, c.NumPending, c.NumAckPending, c.NumRedelivered, c.NumWaiting, c.Delivered.Stream, c.AckFloor.Stream, c.Cluster.Leader)
		}
	}
}

// TestThreeNodesKillLeader runs tasks on a three-node cluster with
// replicated streams and SIGKILLs the node leading the tasks stream while
// they run: every call completes once, with its result.
func TestThreeNodesKillLeader(t *testing.T) {
	start := time.Now()
	nodes := startThreeNodes(t)
	url := nodes.URL()
	t.Logf("cluster formed in %v", time.Since(start))
	ex, err := cluster.New(t.Context(), url, cluster.Replicas(3), cluster.AckWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	wctx, wcancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- cluster.Work(wctx, url, crew.Workers(2)) }()
	}
	defer func() {
		wcancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Work: %v", err)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	const n = 3000
	seen := make([]int, n)
	got := 0
	start = time.Now()
	var killed time.Time
	for r := range crew.Map(ctx, ex, countedSquare, func(yield func(int) bool) {
		for i := range n {
			if !yield(1_000_000 + i) {
				return
			}
		}
	}, crew.Unordered(), crew.Window(256)) {
		if r.Err != nil {
			logState(t, url)
			t.Fatalf("task %d: %v", r.Index, r.Err)
		}
		if want := (1_000_000 + r.Index) * (1_000_000 + r.Index); r.Value != want {
			t.Fatalf("task %d = %d, want %d", r.Index, r.Value, want)
		}
		seen[r.Index]++
		if got++; got == n/3 {
			killed = time.Now()
			t.Logf("%d results in %v; killed node %d", got, killed.Sub(start), nodes.killLeader(t, "CREW_TASKS"))
		}
	}
	t.Logf("the other %d results in %v", got-n/3, time.Since(killed))
	if got < n {
		logState(t, url)
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("task %d completed %d times", i, c)
		}
	}
	// The workers, started without Replicas, kept the executor's.
	js := jetStreamAt(t, url)
	for _, name := range []string{"CREW_TASKS", "CREW_RESULTS", "KV_CREW_JOBS"} {
		s, err := js.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("%s has %d replicas, want 3", name, r)
		}
	}
}
