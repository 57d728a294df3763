// Package crawl is a polite, trap-bounded, resumable web crawler.
//
// Crawl walks from start URLs breadth-first, fetching each canonical URL at
// most once (see Canonicalizer for the rules), honouring robots.txt and
// per-host politeness, and writes pages.jsonl and urls.txt to Config.Out.
// Its queue and seen-set live on disk in a Frontier, so memory stays
// bounded and a crawl killed with kill -9 resumes from Config.State.
//
//	stats, err := crawl.Crawl(ctx, crawl.Config{
//		Start: []string{"https://example.com/"},
//		Out:   "out", Depth: 2,
//	})
package crawl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/crewrun/crew"
)

// ErrBadConfig reports an invalid Config.
var ErrBadConfig = errors.New("crawl: bad config")

// Scope says which discovered URLs are followed.
type Scope string

// Scopes: the start URL's exact host, its registrable domain (example.com
// covers www.example.com and a.b.example.com), or its URL prefix.
const (
	ScopeHost   Scope = "host"
	ScopeDomain Scope = "domain"
	ScopePrefix Scope = "prefix"
)

// Config describes a crawl. Zero values take the defaults documented on
// each field.
type Config struct {
	Start      []string       // start URLs (may be empty when resuming from State)
	Out        string         // output directory for pages.jsonl and urls.txt (required)
	State      string         // frontier directory; "" uses a temporary one removed afterwards
	Depth      int            // maximum link depth from a start URL; <0 unlimited
	MaxPages   int            // stop after this many fetches; 0 unlimited
	Scope      Scope          // default ScopeHost
	Include    *regexp.Regexp // if set, only matching URLs are followed
	Exclude    *regexp.Regexp // if set, matching URLs are not followed
	AllowHosts []string       // extra hosts followed regardless of Scope

	// IgnoreRobots skips robots.txt. Otherwise its rules and Crawl-delay
	// for UserAgent apply; a robots.txt that cannot be fetched (network
	// error, timeout, 5xx) disallows its whole origin, per RFC 9309, until
	// a later try (a minute on) succeeds; a 4xx one allows everything.
	IgnoreRobots bool
	Workers      int           // concurrent fetches in total; default 8
	PerHost      int           // concurrent fetches per host; default 2
	Delay        time.Duration // minimum gap between requests to one host (robots Crawl-delay if larger)
	UserAgent    string        // default "crew-crawl/1"
	MaxBodySize  int64         // default 10 MiB
	Retries      int           // retries for 429/5xx/network errors; default 2, negative for none
	Timeout      time.Duration // per attempt; default 30s
	Canon        Canonicalizer

	MaxURLLength     int // default 2048
	MaxPathDepth     int // path segments; default 32
	MaxPagesPerHost  int // 0 unlimited
	MaxQueryVariants int // distinct queries per scheme+host+path; default 100

	// Executor runs the visits (fetching and parsing); nil runs them on
	// Workers goroutines in this process. With a process or cluster
	// executor the frontier stays here and only visits travel.
	Executor crew.Executor

	// Progress, if set, is called about once a second and at the end with
	// the crawl's running totals (Queued is the current queue length).
	Progress func(Stats)
}

// Stats summarises a crawl.
type Stats struct {
	Pages      int // fetches recorded in pages.jsonl this run
	Errors     int // of which failed
	Discovered int // new canonical URLs added to urls.txt this run
	Queued     int // URLs left in the frontier (0 when the crawl completed)
}

// Page is one line of pages.jsonl.
type Page struct {
	URL        string `json:"url"`
	Status     int    `json:"status"`
	Depth      int    `json:"depth"`
	Parent     string `json:"parent,omitempty"`
	Title      string `json:"title,omitempty"`
	Bytes      int    `json:"bytes"`
	LinksFound int    `json:"links_found"` // distinct crawlable (http(s), canonical) links on the page, in scope or not
	ElapsedMS  int64  `json:"elapsed_ms"`
	Error      string `json:"error,omitempty"`
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Out == "" {
		return cfg, fmt.Errorf("%w: no output directory", ErrBadConfig)
	}
	if cfg.Scope == "" {
		cfg.Scope = ScopeHost
	}
	switch cfg.Scope {
	case ScopeHost, ScopeDomain, ScopePrefix:
	default:
		return cfg, fmt.Errorf("%w: scope %q (want host, domain or prefix)", ErrBadConfig, cfg.Scope)
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.Workers, 8)
	def(&cfg.PerHost, 2)
	def(&cfg.Retries, 2)
	def(&cfg.MaxURLLength, 2048)
	def(&cfg.MaxPathDepth, 32)
	def(&cfg.MaxQueryVariants, 100)
	if cfg.Retries < 0 {
		cfg.Retries = 0 // none: fetch.Config's zero
	}
	if cfg.Workers < 0 || cfg.PerHost < 0 || cfg.MaxPages < 0 || cfg.Delay < 0 {
		return cfg, fmt.Errorf("%w: negative limit", ErrBadConfig)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "crew-crawl/1"
	}
	if cfg.MaxBodySize == 0 {
		cfg.MaxBodySize = 10 << 20
	}
	return cfg, nil
}

// Crawl runs a crawl until the frontier is empty, MaxPages pages have been
// fetched or ctx is cancelled. On cancellation the state is saved (pages
// in flight go back to the queue) and ctx's error is returned.
func Crawl(ctx context.Context, c Config) (Stats, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	var starts []Item
	var scopes []*url.URL
	for _, s := range cfg.Start {
		u, err := cfg.Canon.Canonical(nil, s)
		if err != nil {
			return Stats{}, fmt.Errorf("%w: start URL %q: %v", ErrBadConfig, s, err)
		}
		scopes = append(scopes, u)
		starts = append(starts, Item{URL: u.String()})
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	state := cfg.State
	if state == "" {
		if state, err = os.MkdirTemp("", "crew-crawl-"); err != nil {
			return Stats{}, fmt.Errorf("crawl: %w", err)
		}
		defer os.RemoveAll(state)
	} else if err := os.MkdirAll(state, 0o755); err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	if err := saveScopes(state, &scopes); err != nil {
		return Stats{}, err
	}
	if len(scopes) == 0 {
		return Stats{}, fmt.Errorf("%w: no start URL (and no earlier crawl in the state directory)", ErrBadConfig)
	}
	_, err = os.Stat(filepath.Join(state, "frontier.db"))
	fresh := errors.Is(err, os.ErrNotExist)
	fr, err := OpenFrontier(state, Limits{PagesPerHost: cfg.MaxPagesPerHost, QueryVariants: cfg.MaxQueryVariants})
	if err != nil {
		return Stats{}, err
	}
	defer fr.Close()

	k := &crawler{cfg: cfg, fr: fr, scopes: scopes, hosts: map[string]*hostState{}}
	// A new frontier starts new output files; a resumed one appends.
	flags := os.O_CREATE | os.O_APPEND | os.O_WRONLY
	if fresh {
		flags |= os.O_TRUNC
	}
	if k.pagesF, err = os.OpenFile(filepath.Join(cfg.Out, "pages.jsonl"), flags, 0o644); err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	defer k.pagesF.Close()
	if k.urlsF, err = os.OpenFile(filepath.Join(cfg.Out, "urls.txt"), flags, 0o644); err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	defer k.urlsF.Close()
	k.opts = VisitOpts{
		UserAgent: cfg.UserAgent, MaxBodySize: cfg.MaxBodySize, Timeout: cfg.Timeout,
		Retries: cfg.Retries, PerHost: cfg.PerHost, IgnoreRobots: cfg.IgnoreRobots,
		Tracking: cfg.Canon.TrackingParams, StripQuery: cfg.Canon.StripQuery,
	}
	added, err := fr.Push(starts)
	if err != nil {
		return Stats{}, err
	}
	if err := k.writeURLs(added); err != nil {
		return k.stats, err
	}
	return k.run(ctx)
}

// saveScopes records the start URLs in the state directory, so a resumed
// crawl keeps its scope; with no start URLs given it loads them.
func saveScopes(state string, scopes *[]*url.URL) error {
	p := filepath.Join(state, "start.txt")
	if len(*scopes) > 0 {
		var b strings.Builder
		for _, u := range *scopes {
			b.WriteString(u.String() + "\n")
		}
		if old, err := os.ReadFile(p); err == nil {
			// Keep earlier start URLs in scope too.
			for _, l := range strings.Fields(string(old)) {
				if !strings.Contains(b.String(), l+"\n") {
					b.WriteString(l + "\n")
				}
			}
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("crawl: %w", err)
		}
		*scopes = (*scopes)[:0]
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	for _, l := range strings.Fields(string(data)) {
		u, err := url.Parse(l)
		if err != nil {
			return fmt.Errorf("crawl: %s: %w", p, err)
		}
		*scopes = append(*scopes, u)
	}
	return nil
}

// hostState is the coordinator's politeness book-keeping for one host.
type hostState struct {
	ready  []Item        // popped from the frontier, waiting for a slot
	active int           // visits in flight
	next   time.Time     // earliest start of the next visit
	delay  time.Duration // gap between visits: max(Delay, Crawl-delay)
}

type crawler struct {
	cfg    Config
	opts   VisitOpts
	fr     *Frontier
	scopes []*url.URL
	stats  Stats

	pagesF, urlsF *os.File
	buf           []byte

	hosts   map[string]*hostState
	waiting []string // hosts with ready items, round robin
	nready  int
	drained bool // the frontier's queue is empty (until the next Complete)
}

func (k *crawler) writeURLs(added []Item) error {
	k.buf = k.buf[:0]
	for _, it := range added {
		k.buf = append(k.buf, it.URL...)
		k.buf = append(k.buf, '\n')
	}
	k.stats.Discovered += len(added)
	if _, err := k.urlsF.Write(k.buf); err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	return nil
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

func (k *crawler) run(ctx context.Context) (Stats, error) {
	ex := k.cfg.Executor
	if ex == nil {
		ex = crew.Goroutines(crew.Workers(k.cfg.Workers))
		defer ex.Close()
		v, err := newVisitor(k.opts)
		if err != nil {
			return k.stats, fmt.Errorf("crawl: %w", err)
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
	active, dispatched := 0, 0
	batch := make([]VisitResult, 0, k.cfg.Workers)
	for {
		if err := k.refill(); err != nil {
			return k.stats, err
		}
		var wakeAt time.Time
		for !stopped && active < k.cfg.Workers {
			if k.cfg.MaxPages > 0 && dispatched >= k.cfg.MaxPages {
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
				return k.stats, ctx.Err()
			}
			active++
			dispatched++
			if k.nready < k.readyMax()/2 {
				if err := k.refill(); err != nil {
					return k.stats, err
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
			return k.stats, ctx.Err()
		case <-timerC:
		case <-tick.C:
			k.progress()
		case r, ok := <-results:
			if !ok {
				return k.stats, ctx.Err()
			}
			batch = batch[:0]
			for {
				if r.Err != nil {
					// The executor could not run the visit (a worker died,
					// the cluster went away): the item stays in flight and
					// is fetched again on resume.
					return k.stats, fmt.Errorf("crawl: %w", r.Err)
				}
				batch = append(batch, r.Value)
				active--
				if r, ok = tryRecv(results); !ok {
					break
				}
			}
			if err := k.finish(batch); err != nil {
				return k.stats, err
			}
		}
	}
	k.stats.Queued = k.fr.Len() + k.nready
	k.progress()
	return k.stats, nil
}

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
		st := k.stats
		st.Queued = k.fr.Len() + k.nready
		k.cfg.Progress(st)
	}
}

// finish records a batch of visits: their pages.jsonl lines first, then
// one frontier transaction that retires them and queues their new links,
// then the new URLs in urls.txt. A kill between the steps repeats work
// (the batch is fetched again) but never loses it.
func (k *crawler) finish(batch []VisitResult) error {
	k.buf = k.buf[:0]
	var done, found []Item
	var seenOnly []string
	for i := range batch {
		r := &batch[i]
		_, hs := k.host(r.Item.URL)
		hs.active--
		if r.CrawlDelay > hs.delay {
			hs.delay = r.CrawlDelay
			hs.next = time.Now().Add(hs.delay)
		}
		k.stats.Pages++
		if r.Page.Error != "" {
			k.stats.Errors++
		}
		b, err := json.Marshal(r.Page)
		if err != nil {
			return err
		}
		k.buf = append(append(k.buf, b...), '\n')
		done = append(done, r.Item)
		if r.Final != "" {
			seenOnly = append(seenOnly, r.Final)
		}
		if k.cfg.Depth >= 0 && r.Item.Depth >= k.cfg.Depth {
			continue
		}
		for _, l := range r.Links {
			if k.follow(l) {
				found = append(found, Item{URL: l, Depth: r.Item.Depth + 1, Parent: r.Item.URL})
			}
		}
	}
	if _, err := k.pagesF.Write(k.buf); err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	added, err := k.fr.Complete(done, found, seenOnly)
	if err != nil {
		return err
	}
	if len(added) > 0 {
		k.drained = false
	}
	return k.writeURLs(added)
}

// follow applies the URL-shape trap limits, the scope and the filters to a
// canonical link.
func (k *crawler) follow(s string) bool {
	if len(s) > k.cfg.MaxURLLength {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || strings.Count(strings.Trim(u.Path, "/"), "/")+1 > k.cfg.MaxPathDepth {
		return false
	}
	if !k.inScope(u) {
		return false
	}
	if k.cfg.Include != nil && !k.cfg.Include.MatchString(s) {
		return false
	}
	return k.cfg.Exclude == nil || !k.cfg.Exclude.MatchString(s)
}

func (k *crawler) inScope(u *url.URL) bool {
	for _, h := range k.cfg.AllowHosts {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, u.Hostname()) {
			return true
		}
	}
	for _, s := range k.scopes {
		switch k.cfg.Scope {
		case ScopeHost:
			if u.Host == s.Host {
				return true
			}
		case ScopeDomain:
			d, err := publicsuffix.EffectiveTLDPlusOne(s.Hostname())
			if err != nil {
				d = s.Hostname()
			}
			h := u.Hostname()
			if h == d || strings.HasSuffix(h, "."+d) {
				return true
			}
		case ScopePrefix:
			if strings.HasPrefix(u.String(), s.String()) {
				return true
			}
		}
	}
	return false
}

func hostOf(s string) string {
	// Canonical URLs: scheme "://" host [path...].
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	return ""
}
