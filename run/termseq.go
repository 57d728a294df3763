package run

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TermStep is one step of how a job is killed (--term-seq): a signal to
// its process group, then up to Wait for it to end.
type TermStep struct {
	Signal syscall.Signal
	Wait   time.Duration
}

// defaultTermSeq is GNU parallel's TERM,200,TERM,100,TERM,50,KILL,25.
var defaultTermSeq = []TermStep{
	{syscall.SIGTERM, 200 * time.Millisecond}, {syscall.SIGTERM, 100 * time.Millisecond},
	{syscall.SIGTERM, 50 * time.Millisecond}, {syscall.SIGKILL, 25 * time.Millisecond},
}

// ParseTermSeq reads --term-seq: signal names (TERM, INT, KILL ...) and
// milliseconds to wait after each, comma-separated.
func ParseTermSeq(s string) ([]TermStep, error) {
	parts := strings.Split(s, ",")
	var steps []TermStep
	for i := 0; i < len(parts); i += 2 {
		name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(parts[i])), "SIG")
		sig, ok := signalByName[name]
		if !ok {
			return nil, fmt.Errorf("--term-seq %q: %q is not a signal crew knows", s, parts[i])
		}
		step := TermStep{Signal: sig}
		if i+1 < len(parts) {
			ms, err := strconv.Atoi(strings.TrimSpace(parts[i+1]))
			if err != nil || ms < 0 {
				return nil, fmt.Errorf("--term-seq %q: %q is not a number of milliseconds", s, parts[i+1])
			}
			step.Wait = time.Duration(ms) * time.Millisecond
		}
		steps = append(steps, step)
	}
	return steps, nil
}
