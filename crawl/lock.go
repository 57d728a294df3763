package crawl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrLocked reports an output or state directory in use by another crawl.
var ErrLocked = errors.New("directory in use by another crawl")

// LockedError names the directory and the process crawling it.
type LockedError struct {
	Dir string
	PID int // 0 when the other process could not be identified
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is being crawled by another process", e.Dir)
	}
	return fmt.Sprintf("%s is being crawled by process %d", e.Dir, e.PID)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockName is the lock file a crawl keeps in its output and state
// directories. It is left in place afterwards: removing it would let two
// processes each hold a lock on a different file of the same name.
const lockName = ".crew-crawl.lock"

// lockDir takes dir's crawl lock without waiting and writes our process
// id into the lock file; the returned function releases it. A lock held by
// another process is a *LockedError naming that process. The lock is the
// operating system's (flock, LockFileEx), so it goes with its holder even
// after kill -9.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("crawl: lock %s: %w", dir, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("crawl: lock %s: %w", dir, err)
	}
	if !ok {
		defer f.Close()
		return nil, &LockedError{Dir: dir, PID: lockHolder(f)}
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// lockHolder reads the process id the lock's holder wrote, waiting briefly
// for a holder that has just taken the lock and not written it yet.
func lockHolder(f *os.File) int {
	deadline := time.Now().Add(500 * time.Millisecond)
	buf := make([]byte, 32)
	for {
		n, _ := f.ReadAt(buf, 0)
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(buf[:n]))); err == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}
