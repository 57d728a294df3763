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

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

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
	if os.Getenv(nodeEnv) == "" && os.Getenv(workerURLEnv) == "" {
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
