//go:build linux

package run

import (
	"bytes"
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A job started directly costs a fork, an exec and a wait, as with xargs:
// its stdout and stderr are anonymous in-memory files (memfd), which it
// writes without crew copying anything while it runs, read once when it
// ends — GNU parallel likewise gives each job deleted temporary files —
// and crew waits for it through its pidfd in the Go runtime's poller, so
// no goroutine or blocked thread waits per job.

// directIO is what a runner needs to start jobs directly: /dev/null for
// their standard input.
type directIO struct {
	devNull int
}

func (r *runner) openDirect() error {
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	r.directIO = directIO{devNull: fd}
	r.direct = true
	return nil
}

func (r *runner) closeDirect() {
	if r.direct {
		syscall.Close(r.devNull)
	}
}

// attemptDirect runs one attempt of j; false means it could not try
// (no memfd) and the caller should run the job another way.
func (r *runner) attemptDirect(ctx context.Context, j *job) bool {
	outFD, err := unix.MemfdCreate("crew-run-stdout", unix.MFD_CLOEXEC)
	if err != nil {
		return false
	}
	defer syscall.Close(outFD)
	errFD, err := unix.MemfdCreate("crew-run-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		return false
	}
	defer syscall.Close(errFD)

	path, argv, err := r.argv(j.cmd)
	if err != nil {
		j.startErr, j.exit = err, 127
		j.stderr.WriteString("crew run: " + err.Error() + "\n")
		return true
	}
	j.start = time.Now()
	c, err := startChild(path, j.dir, argv, r.jobEnv(j), []uintptr{uintptr(r.devNull), uintptr(outFD), uintptr(errFD)})
	if err != nil {
		j.startErr = &os.PathError{Op: "fork/exec", Path: path, Err: err}
		j.exit = 127
		j.stderr.WriteString("crew run: " + j.startErr.Error() + "\n")
		return true
	}
	defer c.close()
	r.reap.add(j.seq, c.pid, j.start)
	h := &procHandle{kill: func() { syscall.Kill(-c.pid, syscall.SIGTERM) }}
	r.limits.track(j.seq, h)
	defer r.limits.untrack(j.seq)
	var deadline time.Time
	if t := r.timeout(); t > 0 {
		deadline = j.start.Add(t)
	}
	stop := context.AfterFunc(ctx, c.interrupt)
	exited := c.wait(ctx, deadline)
	stop()
	// A job that has ended by the time the run is halted or cancelled, or
	// its time is up, is done, not killed: it finished in time.
	if !exited && c.wait(context.Background(), time.Now().Add(time.Millisecond)) && r.endedInTime(j) {
		exited = true
	}
	if !exited {
		if ctx.Err() == nil {
			j.timedOut = true
			r.warnTimeout(j)
		} else {
			j.killed = true
		}
		if !r.killGroup(func(s syscall.Signal) { syscall.Kill(-c.pid, s) }, func(d time.Duration) bool { return c.wait(context.Background(), time.Now().Add(d)) }) {
			c.wait(context.Background(), time.Time{})
		}
	}
	j.runtime = time.Since(j.start)
	if !j.killed {
		r.reap.waitOlder(j.seq, j.runtime)
	}
	for _, o := range []struct {
		fd  int
		buf *bytes.Buffer
	}{{outFD, &j.stdout}, {errFD, &j.stderr}} {
		if err := readFile(o.fd, o.buf); err != nil {
			j.stderr.WriteString("crew run: reading the job's output: " + err.Error() + "\n")
		}
	}
	j.received = int64(j.stdout.Len())
	switch {
	case c.err != nil:
		j.startErr = c.err
		j.exit = 255
	case c.status.Signaled():
		j.signal = int(c.status.Signal())
	default:
		j.exit = c.status.ExitStatus()
	}
	r.markKilled(j, h)
	return true
}

// readFile appends the whole of the file fd to b.
func readFile(fd int, b *bytes.Buffer) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Size == 0 {
		return nil
	}
	b.Grow(int(st.Size))
	buf := b.AvailableBuffer()[:st.Size]
	n := 0
	for n < len(buf) {
		m, err := syscall.Pread(fd, buf[n:], int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if m == 0 {
			break
		}
		n += m
	}
	b.Write(buf[:n])
	return nil
}

// child is a started job process, in a process group of its own.
type child struct {
	pid    int
	status syscall.WaitStatus
	err    error // from wait4

	// With a pidfd, waiting is a read of it in the runtime's poller, and
	// a read deadline ends the wait early.
	pidf *os.File
	// Without (kernels before 5.3), a goroutine waits and closes exited.
	exited      chan struct{}
	interrupted chan struct{}
}

// pollPidfd says whether to wait for jobs through their pidfds; tests
// turn it off to check the way kernels without pidfds (before 5.3) wait.
var pollPidfd = true

func startChild(path, dir string, argv, env []string, files []uintptr) (*child, error) {
	pidfd := -1
	sys := &syscall.SysProcAttr{Setpgid: true}
	if pollPidfd {
		sys.PidFD = &pidfd
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: files, Sys: sys})
	if err != nil {
		return nil, err
	}
	c := &child{pid: pid}
	if pidfd >= 0 {
		if err := syscall.SetNonblock(pidfd, true); err != nil {
			syscall.Close(pidfd)
		} else if c.pidf = os.NewFile(uintptr(pidfd), "pidfd"); c.pidf.SetReadDeadline(time.Time{}) == nil {
			return c, nil // in the poller
		} else {
			c.pidf.Close()
			c.pidf = nil
		}
	}
	c.exited = make(chan struct{})
	c.interrupted = make(chan struct{})
	go func() {
		defer close(c.exited)
		for {
			_, err := syscall.Wait4(c.pid, &c.status, 0, nil)
			if err != syscall.EINTR {
				c.err = err
				return
			}
		}
	}()
	return c, nil
}

// wait waits until the child has exited and been reaped (true), or the
// deadline passes (zero: no deadline) or ctx ends (false).
func (c *child) wait(ctx context.Context, deadline time.Time) bool {
	interruptible := ctx.Done() != nil
	if c.pidf == nil {
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			timeout = t.C
		}
		var interrupted <-chan struct{}
		if interruptible {
			interrupted = c.interrupted
		}
		select {
		case <-c.exited:
			return true
		case <-timeout:
		case <-interrupted:
		}
		return false
	}
	c.pidf.SetReadDeadline(deadline) // cannot fail: startChild checked that it works
	// interrupt sets the deadline to now once ctx ends; if it did so before
	// the line above, ctx has ended by now.
	if interruptible && ctx.Err() != nil {
		return false
	}
	rc, err := c.pidf.SyscallConn()
	if err != nil {
		c.err = err
		return true
	}
	err = rc.Read(func(uintptr) bool {
		for {
			pid, err := syscall.Wait4(c.pid, &c.status, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				c.err = err
				return true
			}
			return pid != 0
		}
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	if err != nil {
		c.err = err
	}
	return true
}

// interrupt ends a wait with a ctx.
func (c *child) interrupt() {
	if c.pidf != nil {
		c.pidf.SetReadDeadline(time.Now())
		return
	}
	close(c.interrupted)
}

func (c *child) close() {
	if c.pidf != nil {
		c.pidf.Close()
	}
}
