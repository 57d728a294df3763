package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
)

// submitterURLEnv, when set to a server URL, makes the test binary a
// program that maps many tasks there and exits at its first error,
// without closing its executor, as programs do (log.Fatal).
const submitterURLEnv = "CREW_CLUSTER_TEST_SUBMITTER"

func submitterMain(ctx context.Context, url string) {
	ex, err := cluster.New(ctx, url, cluster.Label("exits on the first error"))
	if err != nil {
		fmt.Println("New:", err)
		os.Exit(1)
	}
	base := int(time.Now().UnixNano()%1e9) * 1000
	in := func(yield func(int) bool) {
		for i := range 5000 {
			if !yield(base + i) {
				return
			}
		}
	}
	n := 0
	for r := range crew.Map(ctx, ex, countedNap, in) {
		if r.Err != nil {
			fmt.Println("error:", r.Err)
			os.Exit(3)
		}
		if n++; n == 10 {
			fmt.Println("started")
		}
	}
	fmt.Println("the Map ended without error")
	os.Exit(1)
}

// TestCancelAnsweredBeforeCallsFail: a program whose Map fails with
// ErrJobCancelled often exits at once. By then the cancel must be
// complete — recorded as a cancel, the job removed, crew cancel answered
// — or crew cancel waits 30 s and reports "context deadline exceeded"
// for a job it has cancelled, and the view shows it lost.
func TestCancelAnsweredBeforeCallsFail(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	startWork(t, url, 30*time.Second, crew.Workers(2))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), submitterURLEnv+"="+url)
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil { // closed by Wait: the helper stops with the test
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "started" {
		t.Fatalf("the program said %q, want started", lines.Text())
	}

	o, err := cluster.Observe(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	job := jobIn(t, o, view.Running)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	c, err := o.Cancel(ctx, job, "TestCancelAnsweredBeforeCallsFail")
	if err != nil {
		t.Fatalf("Cancel after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if c.Calls == 0 || c.Removed {
		t.Errorf("Cancel = %+v, want the executor's answer with the calls it failed", c)
	}
	if !lines.Scan() || !strings.Contains(lines.Text(), "cancelled from outside (by TestCancelAnsweredBeforeCallsFail)") {
		t.Errorf("the program said %q, want its calls cancelled from outside", lines.Text())
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("the program ended with %v, want exit status 3", err)
	}
	if got := jobIn(t, o, view.Cancelled); got != job {
		t.Errorf("cancelled job %s, want %s", got, job)
	}
}

// jobIn waits for a job in state and returns its id.
func jobIn(t *testing.T, o *cluster.Observer, state string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := o.State(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range st.Jobs {
			if j.State == state {
				return j.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no job %s: %+v", state, st.Jobs)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
