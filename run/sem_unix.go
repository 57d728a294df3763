//go:build !windows

package run

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Semaphore is GNU parallel's counting semaphore (sem, --semaphore),
// kept the way GNU parallel keeps it so that crew and GNU parallel share
// one: a directory $PARALLEL_HOME/semaphores/id-NAME holding a file
// id-NAME with a hard link per holder, named PID@HOST; a holder that died
// is found by its PID and its link removed. A lock file next to the
// directory (flock) makes each change atomic.
type Semaphore struct {
	count    int // holders allowed
	lockfile string
	lockdir  string
	idfile   string
	pidfile  string
	lock     *os.File
	warn     io.Writer
}

// ErrSemaphoreTimeout is returned by Acquire when a negative timeout ran
// out: the caller gives up, as sem --st -N does (exit status 1).
var ErrSemaphoreTimeout = errors.New("semaphore timed out")

// semaphoreID is GNU parallel's file name for a semaphore: characters
// other than - _ letters and digits written in hex.
func semaphoreID(name string) string {
	var b strings.Builder
	b.WriteString("id-")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
		} else {
			b.WriteString(hex.EncodeToString([]byte{c}))
		}
	}
	return b.String()
}

// SemaphoreDir is where GNU parallel keeps semaphores:
// $PARALLEL_HOME/semaphores, else $XDG_CACHE_HOME/parallel/semaphores if
// that directory exists, else ~/.parallel/semaphores.
func SemaphoreDir() string {
	if h := os.Getenv("PARALLEL_HOME"); h != "" {
		return filepath.Join(h, "semaphores")
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		if fi, err := os.Stat(filepath.Join(x, "parallel")); err == nil && fi.IsDir() {
			return filepath.Join(x, "parallel", "semaphores")
		}
	}
	home, _ := os.UserHomeDir()
	if home == "" {
		home = "/tmp"
	}
	return filepath.Join(home, ".parallel", "semaphores")
}

// OpenSemaphore names a semaphore that count holders may hold at once;
// warnings (a stolen semaphore, a long wait) go to warn.
func OpenSemaphore(name string, count int, warn io.Writer) (*Semaphore, error) {
	if count < 1 {
		return nil, fmt.Errorf("semaphore %q: the count must be at least 1, not %d", name, count)
	}
	dir := SemaphoreDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("semaphore: %w", err)
	}
	id := semaphoreID(name)
	lockdir := filepath.Join(dir, id)
	return &Semaphore{
		count: count, lockfile: lockdir + ".lock", lockdir: lockdir, idfile: filepath.Join(lockdir, id),
		pidfile: filepath.Join(lockdir, strconv.Itoa(os.Getpid())+"@"+hostname()), warn: warn,
	}, nil
}

// HolderFile is the link that marks this holder, for HandOver.
func (s *Semaphore) HolderFile() string { return s.pidfile }

// Acquire waits for a place, polling ever more slowly up to a second. A
// positive timeout takes the semaphore anyway once it has passed; a
// negative one gives up with ErrSemaphoreTimeout.
func (s *Semaphore) Acquire(ctx context.Context, timeout time.Duration) error {
	start := time.Now()
	sleep := time.Millisecond
	for {
		ok, err := s.linkIfRoom()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		s.removeDead()
		if timeout > 0 && time.Since(start) > timeout {
			fmt.Fprintln(s.warn, "crew run: Warning: Semaphore timed out. Stealing the semaphore.")
			if f, err := os.OpenFile(s.idfile, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				f.Close()
			}
			return os.Link(s.idfile, s.pidfile)
		}
		if timeout < 0 && time.Since(start) > -timeout {
			fmt.Fprintln(s.warn, "crew run: Warning: Semaphore timed out. Exiting.")
			return ErrSemaphoreTimeout
		}
		sleep = min(time.Duration(float64(sleep)*1.1), time.Second)
		t := time.NewTimer(time.Duration(rand.Int64N(int64(sleep)) + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// linkIfRoom adds this holder's link if fewer than count hold it.
func (s *Semaphore) linkIfRoom() (bool, error) {
	if err := s.lockFile(); err != nil {
		return false, err
	}
	defer s.unlockFile()
	if s.nlinks() >= s.count+1 { // the id file is one link itself
		return false, nil
	}
	if err := os.MkdirAll(s.lockdir, 0o755); err != nil {
		return false, err
	}
	if f, err := os.OpenFile(s.idfile, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		f.Close()
	} else {
		return false, err
	}
	if err := os.Link(s.idfile, s.pidfile); err != nil && !os.IsExist(err) {
		return false, err
	}
	return true, nil
}

func (s *Semaphore) nlinks() int {
	var st syscall.Stat_t
	if syscall.Stat(s.idfile, &st) != nil {
		return 0
	}
	return int(st.Nlink)
}

// removeDead removes the links of holders on this host that have died.
func (s *Semaphore) removeDead() {
	entries, _ := os.ReadDir(s.lockdir)
	host := hostname()
	for _, e := range entries {
		pid, h, ok := strings.Cut(e.Name(), "@")
		if !ok || h != host {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil {
			continue
		}
		if err := syscall.Kill(n, 0); err == syscall.ESRCH {
			os.Remove(filepath.Join(s.lockdir, e.Name()))
		}
	}
}

// Release gives the place back; the last holder removes the directory.
func (s *Semaphore) Release() {
	os.Remove(s.pidfile)
	if s.nlinks() == 1 {
		if s.lockFile() == nil {
			if s.nlinks() == 1 {
				os.Remove(s.idfile)
				os.Remove(s.lockdir)
			}
			s.unlockFile()
		}
	}
}

// HandOver makes the holder file from, made by another process, this
// process's (a background sem takes over its parent's place).
func (s *Semaphore) HandOver(from string) error {
	if from == s.pidfile {
		return nil
	}
	if err := os.Link(s.idfile, s.pidfile); err != nil && !os.IsExist(err) {
		return err
	}
	os.Remove(from)
	return nil
}

func (s *Semaphore) lockFile() error {
	start := time.Now()
	sleep := 100 * time.Millisecond
	for {
		f, err := os.OpenFile(s.lockfile, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("semaphore: %w", err)
		}
		os.Chmod(s.lockfile, 0o666)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			s.lock = f
			return nil
		}
		f.Close()
		if time.Since(start) > 30*time.Second {
			fmt.Fprintln(s.warn, "crew run: Warning: Semaphore stuck for 30 seconds. Consider using --semaphore-timeout.")
			start = time.Now()
		}
		sleep = min(time.Duration(float64(sleep)*1.1), time.Second)
		time.Sleep(time.Duration(rand.Int64N(int64(sleep)) + 1))
	}
}

func (s *Semaphore) unlockFile() {
	if s.lock != nil {
		os.Remove(s.lockfile)
		s.lock.Close()
		s.lock = nil
	}
}
