//go:build windows

package run

import "errors"

func (r *runner) fifo(*job) (func(), error) {
	return nil, errors.New("--fifo is not supported on Windows (no named pipes in the file system); use --cat")
}
