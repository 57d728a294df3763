package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/crewrun/crew/executor"
)

// onStart answers a worker about to run a task alone (its soloFrom-th
// delivery or later). A redelivery means the worker that held the task
// before died (or stalled past AckWait); it may have held many tasks, and
// only one of them need have killed it, so deliveries cannot tell which
// task kills its workers.
// A task run alone can: each earlier solo run whose worker never reported
// that it returned (crew.ran) was a death of its own, and after soloDeaths
// of them the call fails. Solo runs that returned do not count: the
// result may just be slow to store (a stream leader died).
func (e *submitter) onStart(m *nats.Msg) {
	id := string(m.Data)
	e.mu.Lock()
	p := e.pending[id]
	deaths := 0
	if p != nil {
		deaths = p.solo - p.ran
		p.solo++
	}
	e.mu.Unlock()
	switch {
	case p == nil:
		m.Respond([]byte(startSkip))
	case deaths >= soloDeaths:
		e.finish(id, nil, fmt.Errorf("%w: task %s killed the worker it ran alone on %d times", executor.ErrWorkerDied, id, deaths))
		m.Respond([]byte(startFail))
	default:
		m.Respond([]byte(startRun))
	}
}

// onRan counts a solo run that returned (see onStart).
func (e *submitter) onRan(m *nats.Msg) {
	e.mu.Lock()
	if p := e.pending[string(m.Data)]; p != nil {
		p.ran++
	}
	e.mu.Unlock()
}

// deadLetter fails the task named in a max-deliveries advisory.
func (e *submitter) deadLetter(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries int    `json:"deliveries"`
	}
	if json.Unmarshal(m.Data, &adv) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, tasksStream)
	if err != nil {
		return
	}
	raw, err := s.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return
	}
	id := raw.Header.Get(hdrID)
	s.DeleteMsg(ctx, adv.StreamSeq)
	e.finish(id, nil, fmt.Errorf("%w: task %s delivered %d times without a result", executor.ErrWorkerDied, id, adv.Deliveries))
}
