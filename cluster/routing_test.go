package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// logLines collects Serve's notices.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

// has reports whether a line holds every one of parts.
func (l *logLines) has(parts ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, func(line string) bool {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				return false
			}
		}
		return true
	})
}

// TestTasksReachOnlyWorkersThatRunThem: workers that run different task
// sets share a server (crew worker beside a program's own workers). A
// task goes only to a worker that runs it — none fails with "unknown
// task" on a worker that lacks it, as 2 of 3 runs did when every worker
// took every task — and with no such worker connected it waits (Serve's
// log says why) until one connects.
func TestTasksReachOnlyWorkersThatRunThem(t *testing.T) {
	cluster.SetMonitorEvery(t, 50*time.Millisecond)
	cluster.SetAnnounceEvery(t, 50*time.Millisecond)
	var log logLines
	url := serve(t, cluster.ServerConfig{Log: log.add})
	ex, err := cluster.New(t.Context(), url, crew.Workers(4))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	// A worker without square: it runs the other tasks of this binary.
	startWork(t, url, 5*time.Second, crew.Workers(2), cluster.Without(crewtest.Square.Name()))

	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var squares []*crew.Future[int]
	for i := range 50 {
		squares = append(squares, crew.Submit(ctx, ex, crewtest.Square, i))
	}
	for r := range crew.Map(t.Context(), ex, crewtest.Half, slices.Values([]int{2, 4, 6, 8})) {
		if r.Err != nil || r.Value != (r.Index+1) {
			t.Errorf("half on the worker that runs it: %+v", r)
		}
	}
	for i, f := range squares {
		if _, err := f.Wait(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("square(%d) with no worker running square: %v; want it to wait until its context ended", i, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !log.has("wait", crewtest.Square.Name(), "cluster.Work") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling Serve's log
	}
	if !log.has("wait", crewtest.Square.Name(), "cluster.Work") {
		t.Errorf("Serve's log never said that square tasks wait, and why:\n%s", strings.Join(log.lines, "\n"))
	}

	// A worker that runs square connects: the calls run.
	startWork(t, url, 5*time.Second, crew.Workers(2))
	for i := range 100 {
		squares[i%50] = crew.Submit(t.Context(), ex, crewtest.Square, i)
		if i%50 == 49 {
			for k, f := range squares {
				if got, err := f.Wait(t.Context()); err != nil || got != (i-49+k)*(i-49+k) {
					t.Fatalf("square(%d) = %d, %v", i-49+k, got, err)
				}
			}
		}
	}
	// Announcements are renewed every 50 ms and live 150 ms: under load
	// one can lapse for a moment, so the view is read until it settles.
	var workers []cluster.WorkerInfo
	with := 0
	for deadline := time.Now().Add(10 * time.Second); ; {
		workers, err = cluster.ListWorkers(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		with = 0
		for _, w := range workers {
			if slices.Contains(w.Tasks, crewtest.Square.Name()) {
				with++
			}
		}
		if len(workers) == 2 && with == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the workers bucket
	}
	for _, w := range workers {
		if w.Protocol != cluster.ProtocolVersion || w.Slots != 2 || w.Host == "" || w.PID == 0 || !slices.Contains(w.Tasks, crewtest.Half.Name()) {
			t.Errorf("announcement %+v", w)
		}
	}
	if len(workers) != 2 || with != 1 {
		t.Errorf("%d workers announced, %d with square; want 2, 1: %+v", len(workers), with, workers)
	}
	if !log.has("joined") {
		t.Errorf("Serve's log never said a worker joined:\n%s", strings.Join(log.lines, "\n"))
	}
}
