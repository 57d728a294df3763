//go:build !linux

package run

import "time"

// reapOrder is Linux-only: elsewhere jobs that end together finish in
// whatever order their goroutines run.
type reapOrder struct{}

func newReapOrder() *reapOrder               { return nil }
func (o *reapOrder) take(int)                {}
func (o *reapOrder) add(int, int, time.Time) {}
func (o *reapOrder) waitOlder(int)           {}
func (o *reapOrder) remove(int)              {}
