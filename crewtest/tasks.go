package crewtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crewrun/crew"
)

// The suite's tasks are registered at package level so that worker
// processes running the same test binary know them. Their names start with
// "crewtest." so that a worker written in another language can implement
// them (docs/protocol.md).
var (
	// Square returns n*n.
	Square = crew.Register("crewtest.square", func(_ context.Context, n int) (int, error) {
		return n * n, nil
	})
	// Fail returns an error with the given message.
	Fail = crew.Register("crewtest.fail", func(_ context.Context, msg string) (int, error) {
		return 0, errors.New(msg)
	})
	// Panic panics with the given message.
	Panic = crew.Register("crewtest.panic", func(_ context.Context, msg string) (int, error) {
		panic(msg)
	})
	// Sleep works for ms milliseconds (or until cancelled) and returns ms.
	Sleep = crew.Register("crewtest.sleep", func(ctx context.Context, ms int) (int, error) {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	// Ignore sleeps ms milliseconds ignoring its context, and returns ms:
	// a task that Timeout can only abandon or kill.
	Ignore = crew.Register("crewtest.ignore", func(_ context.Context, ms int) (int, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	})
	// Half returns n/2 for an even n and fails for an odd one.
	Half = crew.Register("crewtest.half", func(_ context.Context, n int) (int, error) {
		if n%2 != 0 {
			return 0, fmt.Errorf("%d is odd", n)
		}
		return n / 2, nil
	})
	// Block waits until its context ends, then returns the context's error.
	Block = crew.Register("crewtest.block", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	// Flaky fails until it has been attempted more than Fails times,
	// counting attempts in files under Dir so that attempts in different
	// processes count together. It returns the attempt number.
	Flaky = crew.Register("crewtest.flaky", func(_ context.Context, a FlakyArg) (int, error) {
		for n := 1; ; n++ {
			f, err := os.OpenFile(filepath.Join(a.Dir, fmt.Sprint("attempt-", n)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if errors.Is(err, os.ErrExist) {
				continue
			}
			if err != nil {
				return 0, crew.Permanent(err)
			}
			f.Close()
			if n <= a.Fails {
				err := fmt.Errorf("flaky: attempt %d fails", n)
				if a.Permanent {
					err = crew.Permanent(err)
				}
				return 0, err
			}
			return n, nil
		}
	})
	// WorkerID returns the value of the WorkerIdentity initializer in the
	// worker that runs it.
	WorkerID = crew.Register("crewtest.worker-id", func(ctx context.Context, _ int) (uint64, error) {
		return WorkerIdentity.From(ctx)
	})
	// WorkerIdentity gives each worker a random number.
	WorkerIdentity = crew.RegisterInit("crewtest.identity", func(context.Context) (uint64, error) {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b[:]) | 1, nil
	})
)

// FlakyArg is the argument of Flaky.
type FlakyArg struct {
	Dir       string `json:"dir"`
	Fails     int    `json:"fails"`
	Permanent bool   `json:"permanent"`
}
