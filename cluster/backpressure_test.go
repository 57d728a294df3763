package cluster_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
)

// gate holds gatedTask's calls until it is closed.
var gate atomic.Pointer[chan struct{}]

var gatedTask = crew.Register("cluster-test.gated", func(ctx context.Context, s string) (int, error) {
	select {
	case <-*gate.Load():
		return len(s), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// TestFullStreamWaits fills the tasks stream (shrunk to 32 KiB) while the
// only worker is held: the calls that do not fit are published again and
// again, past the resubmit budget for passing failures, without failing;
// once the worker goes on, every call completes.
func TestFullStreamWaits(t *testing.T) {
	cluster.SetSubmitLimits(t, 32<<10, 2, 10*time.Millisecond)
	open := make(chan struct{})
	gate.Store(&open)
	ctx := t.Context()
	ex, err := cluster.New(ctx, "embedded", crew.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	var release sync.Once
	openGate := func() { release.Do(func() { close(open) }) }
	defer openGate() // before Close, which waits for the held worker
	arg := strings.Repeat("x", 1024)
	var futures []*crew.Future[int]
	for range 100 {
		futures = append(futures, crew.Submit(ctx, ex, gatedTask, arg))
	}
	deadline := time.Now().Add(30 * time.Second)
	for cluster.MostResubmits(ex) <= 3*2 {
		if time.Now().After(deadline) {
			t.Fatalf("no call was resubmitted more than the budget (most %d): the stream never filled?", cluster.MostResubmits(ex))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
	for i, f := range futures {
		select {
		case <-f.Done():
			v, err := f.Wait(ctx)
			t.Fatalf("call %d finished while the worker was held: %v, %v", i, v, err)
		default:
		}
	}
	openGate()
	for i, f := range futures {
		if v, err := f.Wait(ctx); err != nil || v != len(arg) {
			t.Fatalf("call %d: %v, %v", i, v, err)
		}
	}
}
