//go:build !windows

package run

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
)

var fifoCount atomic.Int64

// fifo makes the named pipe of a --fifo job and writes the block into it
// once the job opens it. If the job never opens it, the cleanup opens it
// for reading itself, so the writer ends.
func (r *runner) fifo(j *job) (func(), error) {
	name := filepath.Join(r.tmpDir(), "par"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(fifoCount.Add(1), 10)+".fifo")
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		return nil, fmt.Errorf("--fifo: %w", err)
	}
	j.tmpFile = name
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.Write(j.stdin)
		f.Close()
	}()
	return func() {
		select {
		case <-done:
		default:
			if f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				io.Copy(io.Discard, f) // until the writer, unblocked, closes
				<-done
				f.Close()
			}
		}
		os.Remove(name)
	}, nil
}
