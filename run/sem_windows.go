//go:build windows

package run

import (
	"context"
	"errors"
	"io"
	"time"
)

// Semaphore is GNU parallel's counting semaphore; it needs hard link
// counts and flock, so on Windows OpenSemaphore refuses.
type Semaphore struct{}

var ErrSemaphoreTimeout = errors.New("semaphore timed out")

func OpenSemaphore(string, int, io.Writer) (*Semaphore, error) {
	return nil, errors.New("--semaphore is not supported on Windows")
}

func (s *Semaphore) HolderFile() string                           { return "" }
func (s *Semaphore) Acquire(context.Context, time.Duration) error { return errors.ErrUnsupported }
func (s *Semaphore) Release()                                     {}
func (s *Semaphore) HandOver(string) error                        { return errors.ErrUnsupported }
