package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/crewrun/crew"
)

// hostState is the coordinator's politeness book-keeping for one host.
type hostState struct {
	ready  []Item        // popped from the frontier, waiting for a slot
	active int           // visits in flight
	next   time.Time     // earliest start of the next visit
	delay  time.Duration // gap between visits: max(Delay, Crawl-delay)
}

// crawler is one run of a crawl: the coordinator that owns the frontier,
// schedules visits politely and records their results.
type crawler struct {
	cfg    Config
	opts   VisitOpts
	fr     *Frontier
	scopes []*url.URL
	stats  Stats

	pagesF, urlsF     *os.File
	pagesOff, urlsOff int64  // sizes of the files after the last write
	rows, lines       []byte // what the current batch appends to them

	patterns    map[string]int // URL pattern → depth first seen at (see follow)
	newPatterns []string       // patterns first seen in the current batch
	patBuf      []byte
	unreachable UnreachableError
	mirror      *mirror // with Config.Save

	hosts   map[string]*hostState
	waiting []string // hosts with ready items, round robin
	nready  int
	drained bool // the frontier's queue is empty (until the next commit adds to it)
}

func (k *crawler) host(u string) (string, *hostState) {
	h := hostOf(u)
	hs := k.hosts[h]
	if hs == nil {
		hs = &hostState{delay: k.cfg.Delay}
		k.hosts[h] = hs
	}
	return h, hs
}

// refill tops up the ready items from the frontier: one transaction for a
// batch, so the disk is touched once per many pages.
func (k *crawler) refill() error {
	want := k.readyMax() - k.nready
	if k.drained || want < k.readyMax()/2 {
		return nil
	}
	items, err := k.fr.Pop(want)
	if err != nil {
		return err
	}
	if len(items) < want {
		k.drained = true
	}
	for _, it := range items {
		h, hs := k.host(it.URL)
		if len(hs.ready) == 0 {
			k.waiting = append(k.waiting, h)
		}
		hs.ready = append(hs.ready, it)
	}
	k.nready += len(items)
	return nil
}

func (k *crawler) readyMax() int { return max(256, 8*k.cfg.Workers) }

// next picks the next item to visit: round robin over hosts with ready
// items, skipping hosts at their concurrency limit or inside their delay.
// When nothing is eligible it returns the earliest time something will be
// (zero if it waits only for slots).
func (k *crawler) next(now time.Time) (Item, bool, time.Time) {
	var wake time.Time
	for range len(k.waiting) {
		h := k.waiting[0]
		k.waiting = append(k.waiting[1:], h)
		hs := k.hosts[h]
		if hs.active >= k.cfg.PerHost {
			continue
		}
		if now.Before(hs.next) {
			if wake.IsZero() || hs.next.Before(wake) {
				wake = hs.next
			}
			continue
		}
		it := hs.ready[0]
		hs.ready = hs.ready[1:]
		if len(hs.ready) == 0 {
			hs.ready = nil
			k.waiting = k.waiting[:len(k.waiting)-1] // h is last
		}
		hs.active++
		if hs.delay > 0 {
			hs.next = now.Add(hs.delay)
		}
		k.nready--
		return it, true, time.Time{}
	}
	return Item{}, false, wake
}

// run visits the frontier's items until it is empty, MaxPages is reached
// or ctx ends.
func (k *crawler) run(ctx context.Context) error {
	ex := k.cfg.Executor
	if ex == nil {
		ex = crew.Goroutines(crew.Workers(k.cfg.Workers))
		defer ex.Close()
		v, err := newVisitor(k.opts)
		if err != nil {
			return fmt.Errorf("crawl: %w", err)
		}
		defer v.client.CloseIdleConnections()
		ctx = context.WithValue(ctx, visitorKey{}, v)
	}
	mctx, cancel := context.WithCancel(ctx)
	jobs := make(chan VisitArg)
	results := make(chan crew.Result[VisitResult], k.cfg.Workers)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(results)
		in := func(yield func(VisitArg) bool) {
			for a := range jobs {
				if !yield(a) {
					return
				}
			}
		}
		for r := range crew.Map(mctx, ex, Visit, in, crew.Unordered(), crew.Window(k.cfg.Workers)) {
			results <- r
		}
	})
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(jobs)
		}
	}
	defer func() {
		stop()
		cancel()
		for range results {
		}
		wg.Wait()
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var wake *time.Timer
	active := 0
	// Results are committed in batches: one frontier transaction per
	// commitEvery visits, or sooner when the crawl needs their links (no
	// ready items, nothing in flight) or commitDelay has passed.
	commitEvery := max(1, k.cfg.Workers/2)
	pending := make([]VisitResult, 0, k.cfg.Workers)
	commitTimer := time.NewTimer(time.Hour)
	commitTimer.Stop()
	defer commitTimer.Stop()
	commit := func() error {
		commitTimer.Stop()
		if len(pending) == 0 {
			return nil
		}
		err := k.record(pending, nil, false)
		clear(pending)
		pending = pending[:0]
		return err
	}
	for {
		if len(pending) > 0 && (len(pending) >= commitEvery || active == 0 || (k.nready == 0 && k.drained)) {
			if err := commit(); err != nil {
				return err
			}
		}
		if err := k.refill(); err != nil {
			return err
		}
		var wakeAt time.Time
		for !stopped && active < k.cfg.Workers {
			if k.cfg.MaxPages > 0 && k.fr.Totals().Visited+len(pending)+active >= k.cfg.MaxPages {
				k.stats.AtMaxPages = true
				stop()
				break
			}
			it, ok, at := k.next(time.Now())
			if !ok {
				wakeAt = at
				break
			}
			select {
			case jobs <- VisitArg{Item: it, Opts: k.opts}:
			case <-ctx.Done():
				return errors.Join(ctx.Err(), commit())
			}
			active++
			if k.nready < k.readyMax()/2 {
				if err := k.refill(); err != nil {
					return err
				}
			}
		}
		if active == 0 && (stopped || (k.nready == 0 && k.drained)) {
			break
		}
		var timerC <-chan time.Time
		if !wakeAt.IsZero() && active < k.cfg.Workers {
			if wake == nil {
				wake = time.NewTimer(time.Until(wakeAt))
				defer wake.Stop()
			} else {
				wake.Reset(time.Until(wakeAt))
			}
			timerC = wake.C
		}
		select {
		case <-ctx.Done():
			// Visits already back are recorded; those in flight are
			// visited again on resume.
			return errors.Join(ctx.Err(), commit())
		case <-timerC:
		case <-tick.C:
			k.progress()
		case <-commitTimer.C:
			if err := commit(); err != nil {
				return err
			}
		case r, ok := <-results:
			if !ok {
				return ctx.Err()
			}
			if len(pending) == 0 {
				commitTimer.Reset(commitDelay)
			}
			for {
				if r.Err != nil {
					// The executor could not run the visit (a worker died,
					// the cluster went away): the item stays in flight and
					// is fetched again on resume.
					return fmt.Errorf("crawl: %w", r.Err)
				}
				k.returned(&r.Value)
				pending = append(pending, r.Value)
				active--
				if r, ok = tryRecv(results); !ok {
					break
				}
			}
		}
	}
	if err := commit(); err != nil {
		return err
	}
	// The crawl reached its end (or MaxPages): redirect hops still waiting
	// for their target are recorded with what is known.
	if err := k.flushWaiting(); err != nil {
		return err
	}
	k.progress()
	return nil
}

// commitDelay bounds how long a visit's result waits to be committed.
const commitDelay = 20 * time.Millisecond

func tryRecv[T any](c <-chan T) (T, bool) {
	select {
	case v, ok := <-c:
		return v, ok
	default:
		var zero T
		return zero, false
	}
}

func (k *crawler) progress() {
	if k.cfg.Progress != nil {
		k.cfg.Progress(k.finalStats())
	}
}
