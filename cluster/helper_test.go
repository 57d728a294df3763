package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// jetStreamAt connects to the server at url and returns its JetStream
// API; the connection closes when the test ends.
func jetStreamAt(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// submitAroundPoison submits n Square calls with one exitWorker call,
// which kills every worker that runs it, submitted after the middle one.
func submitAroundPoison(ctx context.Context, ex crew.Executor, n int) (squares []*crew.Future[int], poison *crew.Future[int]) {
	squares = make([]*crew.Future[int], n)
	for i := range n {
		squares[i] = crew.Submit(ctx, ex, crewtest.Square, i)
		if i == n/2 {
			poison = crew.Submit(ctx, ex, exitWorker, 0)
		}
	}
	return squares, poison
}

// waitSquares checks that future i gives i².
func waitSquares(t *testing.T, ctx context.Context, futures []*crew.Future[int]) {
	t.Helper()
	for i, f := range futures {
		if got, err := f.Wait(ctx); err != nil || got != i*i {
			t.Errorf("task %d: %d, %v", i, got, err)
		}
	}
}

// workerURLEnv, when set, makes the test binary a cluster worker for that
// server instead of running tests: the fault tests start and kill such
// processes.
const workerURLEnv = "CREW_CLUSTER_TEST_WORKER"

// nodeConfig is the part of a cluster.ServerConfig a node process gets.
type nodeConfig struct {
	Listen, StoreDir, Name, ClusterListen string
	Routes                                []string
}

// nodeEnv, when set to a JSON nodeConfig, makes the test binary
// a server node instead: the three-node tests start and kill such
// processes.
const nodeEnv = "CREW_CLUSTER_TEST_NODE"

func helperMain() bool {
	if os.Getenv(nodeEnv) == "" && os.Getenv(workerURLEnv) == "" && os.Getenv(submitterURLEnv) == "" {
		return false
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// Stdin is a pipe from the test process (startHelper): it ends when
	// that process does, even if a timeout kills it before its cleanups.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	if url := os.Getenv(submitterURLEnv); url != "" {
		submitterMain(ctx, url)
		return true
	}
	if node := os.Getenv(nodeEnv); node != "" {
		var cfg nodeConfig
		if err := json.Unmarshal([]byte(node), &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		if err := cluster.Serve(ctx, cluster.ServerConfig{Listen: cfg.Listen, StoreDir: cfg.StoreDir, Name: cfg.Name, ClusterListen: cfg.ClusterListen, Routes: cfg.Routes}); err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		return true
	}
	if err := cluster.Work(ctx, os.Getenv(workerURLEnv), crew.Workers(2)); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	return true
}

// startHelper starts this test binary with env (a worker or a node, see
// helperMain), its stdin a pipe that ends with the test process.
func startHelper(env string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil { // closed by Wait
		return nil, err
	}
	return cmd, cmd.Start()
}

// startWorker runs this test binary as a worker process.
func startWorker(t *testing.T, url string) *exec.Cmd {
	t.Helper()
	cmd, err := startHelper(workerURLEnv + "=" + url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// TestWorkerKilled kills a worker process mid-batch: its tasks are
// redelivered to another worker and every call completes exactly once,
// without error.
func TestWorkerKilled(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	first := startWorker(t, url)
	const n = 200
	seen := make([]int, n)
	got := 0
	in := func(yield func(int) bool) {
		for range n {
			if !yield(20) {
				return
			}
		}
	}
	for r := range crew.Map(t.Context(), ex, crewtest.Sleep, in, crew.Unordered(), crew.Window(n)) {
		if r.Err != nil {
			t.Fatalf("task %d: %v", r.Index, r.Err)
		}
		seen[r.Index]++
		got++
		if got == 10 {
			first.Process.Signal(syscall.SIGKILL) // mid-batch: it holds fetched tasks
			first.Wait()
			startWorker(t, url)
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("task %d completed %d times", i, c)
		}
	}
}
