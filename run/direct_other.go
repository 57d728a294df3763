//go:build !linux

package run

import (
	"context"
	"errors"
)

// Elsewhere than on Linux, jobs run with os/exec (attemptExec).
type directIO struct{}

func (r *runner) openDirect() error { return errors.ErrUnsupported }

func (r *runner) closeDirect() {}

func (r *runner) attemptDirect(context.Context, *job) bool { return false }
