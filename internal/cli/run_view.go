package cli

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/crewrun/crew/run"
)

// shellFailure tells the cluster's live view which crew run --cluster
// jobs failed (cluster.CountAsFailed): a command's exit status is its
// task's value, so without it every command would count as done. The text
// is the exit status or signal, the worker's host and the last line of
// the command's standard error.
func shellFailure(task string, value []byte) (string, bool) {
	if task != "run.shell" {
		return "", false
	}
	var r run.ShellResult
	if json.Unmarshal(value, &r) != nil || r.Exit == 0 && r.Signal == 0 && !r.TimedOut {
		return "", false
	}
	what := fmt.Sprintf("exit status %d", r.Exit)
	switch {
	case r.TimedOut:
		what = "timed out"
	case r.Signal != 0:
		what = fmt.Sprintf("killed by signal %d", r.Signal)
	}
	if r.Host != "" {
		what += " on " + r.Host
	}
	if last := lastLine(r.Stderr); last != "" {
		what += ": " + last
	}
	if len(r.Stderr) > 0 {
		what += "\n\n" + string(r.Stderr[max(len(r.Stderr)-4096, 0):])
	}
	return what, true
}

// lastLine returns the last non-empty line of b.
func lastLine(b []byte) string {
	b = bytes.TrimRight(b, "\r\n\t ")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(bytes.TrimSpace(b))
}
