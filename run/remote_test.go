//go:build unix

package run

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
)

// TestRemoteJobs runs jobs as Shell tasks on the cluster executor (an
// embedded NATS server, two workers in this process): the output, the
// exit statuses, the joblog and the timeouts are those of a local run,
// and nothing runs until the worker allows shell commands.
func TestRemoteJobs(t *testing.T) {
	ex, err := cluster.New(t.Context(), "embedded", crew.Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()

	t.Run("refused without AllowShell", func(t *testing.T) {
		AllowShell(false)
		marker := filepath.Join(t.TempDir(), "ran")
		_, stderr, err := runOpts(t, Options{Command: []string{"touch", marker}, Sources: []Source{Args("x")}, Executor: ex})
		var fe *FailedError
		if !errors.As(err, &fe) || fe.Failed != 1 {
			t.Fatalf("err = %v, want 1 failed job", err)
		}
		if !strings.Contains(stderr, "--allow-shell") {
			t.Errorf("stderr does not say how to allow shell commands: %q", stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("the command ran on a worker that did not allow shell commands")
		}
	})

	AllowShell(true)
	defer AllowShell(false)
	t.Run("same as local", func(t *testing.T) {
		for _, o := range []Options{
			{Command: []string{"echo", "{}", "{#}"}, Sources: []Source{Args("a b", "c'd", "$HOME", "e")}, KeepOrder: true, Jobs: 3},
			{Command: []string{"sh", "-c", "'echo out {}; echo err {} >&2; exit {}'"}, Sources: []Source{Args("0", "1", "2")}, KeepOrder: true, Jobs: 2},
			{Command: []string{"wc", "-l"}, Pipe: true, BlockSize: 10, KeepOrder: true},
			{Command: []string{"echo", "{}"}, Sources: []Source{Args("x", "y")}, Tag: true, KeepOrder: true},
		} {
			const pipeInput = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"
			if o.Pipe {
				o.Stdin = strings.NewReader(pipeInput)
			}
			lout, lerr, lexit := runOpts(t, o)
			if o.Pipe {
				o.Stdin = strings.NewReader(pipeInput)
			}
			o.Executor = ex
			rout, rerr, rexit := runOpts(t, o)
			if lout != rout || lerr != rerr || errString(lexit) != errString(rexit) {
				t.Errorf("%v:\nlocal  stdout %q stderr %q err %v\nremote stdout %q stderr %q err %v",
					o.Command, lout, lerr, lexit, rout, rerr, rexit)
			}
		}
	})

	t.Run("joblog names the worker", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "log")
		if _, _, err := runOpts(t, Options{Command: []string{"true"}, Sources: []Source{Args("1", "2")}, JobLog: log, Executor: ex}); err != nil {
			t.Fatal(err)
		}
		host, _ := os.Hostname()
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 {
			t.Fatalf("joblog:\n%s", b)
		}
		for _, l := range lines[1:] {
			if f := strings.Split(l, "\t"); len(f) != 9 || f[1] != host || f[6] != "0" {
				t.Errorf("joblog line %q: want host %q and exit 0", l, host)
			}
		}
	})

	t.Run("timeout kills the remote job", func(t *testing.T) {
		start := time.Now()
		_, stderr, err := runOpts(t, Options{Command: []string{"sleep", "{}"}, Sources: []Source{Args("30")}, Timeout: 200 * time.Millisecond, Executor: ex})
		var fe *FailedError
		if !errors.As(err, &fe) || fe.Failed != 1 {
			t.Fatalf("err = %v, want 1 failed job", err)
		}
		if !strings.Contains(stderr, "timed out") {
			t.Errorf("stderr = %q, want the timeout warning", stderr)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("the timed-out job took %v", d)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRemoteRunStopsWhenExecutorCloses: an executor that takes no more
// calls ends the run with one error, not a failed job per input left.
func TestRemoteRunStopsWhenExecutorCloses(t *testing.T) {
	ex := crew.Goroutines()
	ex.Close()
	values := make([]string, 50)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	out, stderr, err := runOpts(t, Options{Command: []string{"echo", "{}"}, Sources: []Source{Args(values...)}, Jobs: 2, Executor: ex})
	if !errors.Is(err, crew.ErrClosed) || out != "" || strings.Count(stderr, "closed") > 0 {
		t.Errorf("run on a closed executor: err %v, stdout %q, stderr %q; want one error wrapping ErrClosed, nothing printed per job", err, out, stderr)
	}
}
