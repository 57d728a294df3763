//go:build !linux

package run

// reapOrder is Linux-only: elsewhere jobs that end together finish in
// whatever order their goroutines run.
type reapOrder struct{}

func newReapOrder() *reapOrder     { return nil }
func (o *reapOrder) add(int, int)  {}
func (o *reapOrder) waitOlder(int) {}
func (o *reapOrder) remove(int)    {}
