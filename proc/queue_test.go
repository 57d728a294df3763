package proc

import "testing"

// TestAloneCallNotTakenByBusyWorker checks that a call that must run alone
// (after a worker died with it unanswered) is not handed to a worker with
// calls in flight, also when a cancelled call is ahead of it in the queue.
func TestAloneCallNotTakenByBusyWorker(t *testing.T) {
	cancelled := &job{id: 1, alone: true, done: true}
	lone := &job{id: 2, alone: true}
	p := &Pool{queue: []*job{cancelled, lone}, queued: 2}
	busy := &procWorker{inflight: []*job{{id: 3}, {id: 4}}, pending: 2}
	if p.aloneAllowsLocked(busy) {
		for _, j := range p.takeLocked(8) {
			if j == lone {
				t.Fatalf("a call that goes alone was taken by a worker with %d calls in flight", busy.pending)
			}
		}
	}
	idle := &procWorker{}
	if !p.aloneAllowsLocked(idle) {
		t.Fatal("an idle worker may not take the call that goes alone")
	}
}
