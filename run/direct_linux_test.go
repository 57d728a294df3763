package run

import (
	"errors"
	"testing"
)

// TestWithoutPidfd runs jobs as on kernels without pidfds: a goroutine
// waits for each.
func TestWithoutPidfd(t *testing.T) {
	pollPidfd = false
	defer func() { pollPidfd = true }()
	out, _, err := runOpts(t, Options{Command: []string{"echo {}; exit {}"}, Sources: []Source{Args("0", "3", "0")}, Jobs: 2, KeepOrder: true})
	var fe *FailedError
	if out != "0\n3\n0\n" || !errors.As(err, &fe) || fe.Failed != 1 {
		t.Errorf("out %q, err %v; want 0 3 0 and one failure", out, err)
	}
	t.Run("timeout", TestTimeoutKillsProcessGroup)
	t.Run("cancel", TestCancelKillsRunningJobs)
}
