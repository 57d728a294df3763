package run

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// FailedError reports jobs that failed; like GNU parallel, the exit status
// is their number, at most 101.
type FailedError struct{ Failed int }

func (e *FailedError) Error() string { return fmt.Sprintf("%d job(s) failed", e.Failed) }

// ExitStatus returns GNU parallel's exit status for the failures.
func (e *FailedError) ExitStatus() int { return min(e.Failed, 101) }

// HaltError reports a run that Options.Halt concerned: stopped early, or
// (with a percentage) ended with GNU parallel's percentage status. Status
// is the exit status GNU parallel gives.
type HaltError struct {
	Status  int
	Command string // the job that stopped the run; "" if none did
	Reason  string // "failed", "succeeded" or "finished"; "" if nothing stopped the run
}

func (e *HaltError) Error() string {
	if e.Command == "" {
		return fmt.Sprintf("exit status %d", e.Status)
	}
	return fmt.Sprintf("halted: this job %s: %s", e.Reason, e.Command)
}

// Halt says when to stop early (GNU parallel's --halt).
type Halt struct {
	Now       bool // kill running jobs (else: let them finish, start no more)
	OnSuccess bool // count successes instead of failures
	OnDone    bool // count finished jobs, failed or not
	Count     int  // stop when this many are counted
	Percent   int  // or when this share of all jobs is
	Set       bool // halt even with Count 0: at the first job counted (GNU parallel's fail=0)
}

func (h Halt) enabled() bool { return h.Set || h.Count > 0 || h.Percent > 0 }

// ParseHalt reads --halt: never, now|soon,fail|success|done=N or =N%,
// the old numeric forms 0 (never), 1 (soon,fail=1), 2 (now,fail=1), -1
// (soon,success=1), -2 (now,success=1), and N% (soon,fail=N%).
func ParseHalt(s string) (Halt, error) {
	switch s {
	case "", "never", "0":
		return Halt{}, nil
	case "1":
		s = "soon,fail=1"
	case "2":
		s = "now,fail=1"
	case "-1":
		s = "soon,success=1"
	case "-2":
		s = "now,success=1"
	}
	if p, ok := strings.CutSuffix(s, "%"); ok && isDigits(p) {
		s = "soon,fail=" + s
	}
	when, cond, ok := strings.Cut(s, ",")
	if !ok || (when != "now" && when != "soon") {
		return Halt{}, fmt.Errorf("--halt %q: want never, or now|soon,fail=N|success=N|done=N (N or N%%)", s)
	}
	kind, val, ok := strings.Cut(cond, "=")
	if !ok || (kind != "fail" && kind != "success" && kind != "done") {
		return Halt{}, fmt.Errorf("--halt %q: the condition is fail=, success= or done=", s)
	}
	h := Halt{Set: true, Now: when == "now", OnSuccess: kind == "success", OnDone: kind == "done"}
	if p, isPct := strings.CutSuffix(val, "%"); isPct {
		n, err := strconv.Atoi(p)
		if err != nil || !isDigits(p) {
			return Halt{}, fmt.Errorf("--halt %q: the percentage is a whole number, like 10%%", s)
		}
		h.Percent = n
	} else {
		n, err := strconv.Atoi(val)
		if err != nil || !isDigits(val) {
			return Halt{}, fmt.Errorf("--halt %q: the count is a whole number ≥ 0", s)
		}
		h.Count = n
	}
	return h, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// halter applies --halt as GNU parallel's should_we_halt does. Its
// methods are called under the runner's output lock.
type halter struct {
	h             Halt
	stderr        io.Writer
	total         func() int // all jobs, for a percentage
	failed, done  int
	limit         float64 // the count to reach; for a percentage set at the first check
	limitSet      bool
	status        int
	statusSet     bool
	stopped       *HaltError
	runningOthers func() int
}

// check counts a finished job and says whether the run halts now; its
// messages go to stderr as GNU parallel's do.
func (hl *halter) check(j *job) *HaltError {
	hl.done++
	failed := j.failed()
	if failed {
		hl.failed++
	}
	if !hl.h.enabled() || hl.stopped != nil {
		return nil
	}
	var count int
	counted := false
	switch {
	case failed && !hl.h.OnSuccess && !hl.h.OnDone:
		fmt.Fprintf(hl.stderr, "crew run: This job failed:\n%s\n", j.cmd)
		count, counted = hl.failed, true
	case !failed && hl.h.OnSuccess:
		fmt.Fprintf(hl.stderr, "crew run: This job succeeded:\n%s\n", j.cmd)
		count, counted = hl.done-hl.failed, true
	}
	if hl.h.OnDone {
		fmt.Fprintf(hl.stderr, "crew run: This job finished:\n%s\n", j.cmd)
		count, counted = hl.done, true
	}
	if !counted {
		return nil
	}
	if !hl.limitSet {
		hl.limitSet = true
		hl.limit = float64(hl.h.Count)
		if hl.h.Percent > 0 {
			hl.limit = float64(hl.total()) * float64(hl.h.Percent) / 100
		}
	}
	if float64(count) < hl.limit {
		return nil
	}
	reason := "failed"
	switch {
	case hl.h.OnSuccess:
		reason = "succeeded"
		hl.status, hl.statusSet = 0, true
	case hl.h.OnDone:
		reason = "finished"
		fallthrough
	default:
		hl.status, hl.statusSet = hl.failStatus(j), true
	}
	if !hl.h.Now {
		if n := hl.runningOthers(); n > 0 {
			fmt.Fprintf(hl.stderr, "crew run: Starting no more jobs. Waiting for %d jobs to finish.\n", n)
		}
	}
	hl.stopped = &HaltError{Status: hl.status, Command: j.cmd, Reason: reason}
	return hl.stopped
}

// failStatus is GNU parallel's exit status when fail= or done= halts: the
// share of jobs failed in percent, or their number (at most 101); with a
// count of 1, the halting job's own status (128 + its signal).
func (hl *halter) failStatus(j *job) int {
	if hl.h.Percent > 0 {
		return int(math.Ceil(float64(hl.failed) / float64(max(hl.total(), 1)) * 100))
	}
	if hl.h.Count == 1 {
		switch {
		case j.exit != 0:
			return j.exit
		case j.signal != 0:
			return j.signal + 128
		}
		return 0
	}
	return min(hl.failed, 101)
}

// final is the run's exit status when it was not halted: with --halt, a
// percentage of the jobs started, else the failures (at most 101).
func (hl *halter) final(started int) int {
	if hl.h.Percent > 0 {
		return int(math.Ceil(float64(hl.failed) / float64(max(started, 1)) * 100))
	}
	return min(hl.failed, 101)
}
