package view_test

import (
	"net"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
	"github.com/crewrun/crew/crewtest"
)

// TestCountsSurviveRestart: a server restarted on the same store shows
// the jobs' counts and failures as they were, and goes on counting.
func TestCountsSurviveRestart(t *testing.T) {
	store := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	first := serveUntil(t, cluster.ServerConfig{Listen: addr, StoreDir: store})
	work(t, first.nats, 1)
	ex, err := cluster.New(t.Context(), first.nats, cluster.Label("before and after"))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	id := jobID(t, first.ui, "before and after")
	run := func(from, to int) {
		for n := from; n < to; n++ {
			crew.Submit(t.Context(), ex, crewtest.Half, n).Wait(t.Context())
		}
	}
	run(0, 100) // 50 done, 50 failed
	waitState(t, first.ui, "the first 100 calls", func(p view.Page) bool {
		j, _ := job(p, id)
		return j.Done == 50 && j.Failed == 50 && len(j.Failures) == 50
	})
	first.stop()

	second := serveUntil(t, cluster.ServerConfig{Listen: addr, StoreDir: store})
	p := waitState(t, second.ui, "the counts after the restart", func(p view.Page) bool {
		j, _ := job(p, id)
		return j.Done == 50 && j.Failed == 50 && len(j.Failures) == 50
	})
	if j, _ := job(p, id); j.State != view.Running || j.Label != "before and after" || j.Failures[0].Error != "99 is odd" {
		t.Errorf("after the restart: %s %q, newest failure %q", j.State, j.Label, j.Failures[0].Error)
	}
	run(100, 120) // the executor and the worker reconnected
	waitState(t, second.ui, "the counts going on", func(p view.Page) bool {
		j, _ := job(p, id)
		return j.Done == 60 && j.Failed == 60 && j.Submitted == 120
	})
}
