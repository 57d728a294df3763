// Package crawl is a polite, trap-bounded, resumable web crawler.
//
// Crawl walks from start URLs breadth-first, fetching each canonical URL at
// most once (see Canonicalizer for the rules; redirects are followed hop by
// hop through the same frontier), honouring robots.txt and per-host
// politeness, and writes pages.jsonl and urls.txt to Config.Out. Its queue
// and seen-set live on disk in a Frontier, so memory stays bounded and a
// crawl killed with kill -9 resumes exactly from Config.State; running it
// again later extends it (a larger Depth or MaxPages, new start URLs).
//
//	stats, err := crawl.Crawl(ctx, crawl.Config{
//		Start: []string{"https://example.com/"},
//		Out:   "out", Depth: 2,
//	})
package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/fetch"
)

// ErrBadConfig reports an invalid Config.
var ErrBadConfig = errors.New("crawl: bad config")

// ErrUnreachable reports a start URL whose host never answered (a network
// error or a timeout, for the page or its robots.txt). Crawl returns it,
// wrapped in an *UnreachableError, after crawling whatever else it could.
var ErrUnreachable = errors.New("host unreachable")

// UnreachableError lists the start URLs whose host never answered.
type UnreachableError struct {
	URLs   []string
	Errors []string // why, for each URL
}

func (e *UnreachableError) Error() string {
	var b strings.Builder
	for i, u := range e.URLs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "start URL %s: host unreachable: %s", u, e.Errors[i])
	}
	return b.String()
}

func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// MaxTravellingBody is the largest page body Crawl brings back from an
// Executor's workers for Config.Save: with its encoding it fits the 8 MiB
// messages of a crew cluster.
const MaxTravellingBody = 4 << 20

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
	Start []string // start URLs (may be empty when resuming from State)
	Out   string   // output directory for pages.jsonl and urls.txt (required)
	State string   // frontier directory; "" uses a temporary one removed afterwards
	// Depth is the deepest link level followed from a start URL (0: the
	// start URLs only); <0 unlimited. Links found beyond it are kept in
	// the state, so a later run with a larger Depth follows them.
	Depth int
	// MaxPages stops the crawl once it has visited this many pages in
	// total, earlier runs on the same State included; 0 unlimited.
	MaxPages   int
	Scope      Scope          // default ScopeHost
	Include    *regexp.Regexp // if set, only matching URLs are followed
	Exclude    *regexp.Regexp // if set, matching URLs are not followed
	AllowHosts []string       // extra hosts followed regardless of Scope

	// IgnoreRobots skips robots.txt. Otherwise its rules and Crawl-delay
	// for UserAgent apply; a robots.txt that cannot be fetched (network
	// error, timeout, 5xx) disallows its whole origin, per RFC 9309, until
	// a later try (a minute on) succeeds, and the pages skipped for it are
	// visited again on the next run; a 4xx one allows everything.
	IgnoreRobots bool
	Workers      int           // concurrent fetches in total; default 8
	PerHost      int           // concurrent fetches per host; default 2
	Delay        time.Duration // pause between the end of a request to a host and the start of the next (robots Crawl-delay if larger)
	UserAgent    string        // default "crew-crawl/1"
	MaxBodySize  int64         // default 10 MiB
	Retries      int           // retries for 429/5xx/network errors; default 2, negative for none
	Timeout      time.Duration // per attempt; default 30s
	MaxRedirects int           // longest redirect chain followed; default 10, negative none (recorded, not followed)
	Canon        Canonicalizer

	// Trap limits: links beyond them are not followed. Each has a default
	// (zero takes it); the ones marked so take a negative value for none.
	MaxURLLength      int // default 2048
	MaxPathDepth      int // path segments; default 32
	MaxSegmentRepeats int // times one path segment may occur in a path; default 3, <0 none
	MaxPatternDepth   int // links deeper than the first URL of the same pattern; default 100, <0 none
	MaxPagesPerHost   int // URLs admitted per host; 0 unlimited
	MaxQueryVariants  int // distinct queries per scheme+host+path; default 100, <0 none

	// Save, if set, is a directory where the bodies of the pages fetched
	// with a 2xx status are kept, at Layout's path for each URL (see
	// fetch.Layout): a mirror of the site, as wget -r makes. With an
	// Executor the bodies travel back from the workers, and one over
	// MaxTravellingBody is recorded as an error instead of saved.
	Save   string
	Layout fetch.Layout

	// Executor runs the visits (fetching and parsing); nil runs them on
	// Workers goroutines in this process. With a process or cluster
	// executor the frontier stays here and only visits travel.
	Executor crew.Executor

	// Progress, if set, is called about once a second and at the end with
	// the crawl's running totals.
	Progress func(Stats)
}

// Stats summarises a crawl. The first group counts this run, the second
// the whole crawl, earlier runs on the same state included.
type Stats struct {
	Pages      int // pages visited this run: one row each in pages.jsonl
	Errors     int // of Pages, fetches that failed (network, HTTP status ≥ 400, too large)
	Skipped    int // of Pages, not fetched because of robots.txt (disallowed, or unreachable)
	Retry      int // of Pages, kept to be visited again on the next run (their host did not answer)
	Discovered int // URLs added to urls.txt this run
	Trapped    int // links not followed this run because a trap limit refused them

	TotalPages int  // pages visited by the whole crawl
	TotalURLs  int  // URLs admitted by the whole crawl: the lines of urls.txt
	Queued     int  // admitted URLs not visited yet (those in flight when interrupted included)
	Held       int  // URLs found beyond Depth, followed by a run with a larger Depth
	Done       bool // the run began with nothing to visit
	AtMaxPages bool // the crawl stopped at MaxPages
}

// Page is one line of pages.jsonl.
type Page struct {
	URL   string `json:"url"`
	Final string `json:"final_url,omitempty"` // where a redirect (status 3xx) ends
	// Status is the HTTP status; 0 when no response was received.
	Status     int    `json:"status"`
	Depth      int    `json:"depth"`
	Parent     string `json:"parent,omitempty"`
	Title      string `json:"title,omitempty"` // for a redirect, the title of the page at final_url
	Bytes      int    `json:"bytes"`
	LinksFound int    `json:"links_found"` // distinct crawlable (http(s), canonical) links on the page, in scope or not
	ElapsedMS  int64  `json:"elapsed_ms"`
	Error      string `json:"error,omitempty"`
	Saved      string `json:"saved,omitempty"` // with Config.Save, where the body is, under it
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
	def(&cfg.MaxRedirects, 10)
	def(&cfg.MaxURLLength, 2048)
	def(&cfg.MaxPathDepth, 32)
	def(&cfg.MaxSegmentRepeats, 3)
	def(&cfg.MaxPatternDepth, 100)
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
// visited or ctx is cancelled. On cancellation the state is saved (pages
// in flight go back to the queue) and ctx's error is returned. A start
// URL whose host never answered makes it return an *UnreachableError
// once the rest is crawled; another crawl using Out or State makes it
// return a *LockedError at once.
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
	unlock, err := lockDir(cfg.Out)
	if err != nil {
		return Stats{}, err
	}
	defer unlock()
	state := cfg.State
	if state == "" {
		if state, err = os.MkdirTemp("", "crew-crawl-"); err != nil {
			return Stats{}, fmt.Errorf("crawl: %w", err)
		}
		defer os.RemoveAll(state)
	} else if err := os.MkdirAll(state, 0o755); err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	if !sameDir(state, cfg.Out) {
		unlockState, err := lockDir(state)
		if err != nil {
			return Stats{}, err
		}
		defer unlockState()
	}
	if err := saveScopes(state, &scopes); err != nil {
		return Stats{}, err
	}
	if len(scopes) == 0 {
		return Stats{}, fmt.Errorf("%w: no start URL (and no earlier crawl in the state directory)", ErrBadConfig)
	}
	_, err = os.Stat(filepath.Join(state, "frontier.db"))
	fresh := errors.Is(err, os.ErrNotExist)
	fr, err := OpenFrontier(state, Limits{Depth: cfg.Depth, PagesPerHost: cfg.MaxPagesPerHost, QueryVariants: max(cfg.MaxQueryVariants, 0)})
	if err != nil {
		return Stats{}, err
	}
	defer fr.Close()

	k := &crawler{cfg: cfg, fr: fr, scopes: scopes, hosts: map[string]*hostState{}}
	if err := k.openOutput(fresh); err != nil {
		return Stats{}, err
	}
	defer k.closeOutput()
	if k.patterns, err = fr.Patterns(); err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	k.opts = VisitOpts{
		UserAgent: cfg.UserAgent, MaxBodySize: cfg.MaxBodySize, Timeout: cfg.Timeout,
		Retries: cfg.Retries, PerHost: cfg.PerHost, IgnoreRobots: cfg.IgnoreRobots,
		Tracking: cfg.Canon.TrackingParams, Session: cfg.Canon.SessionParams,
		NoSession:  cfg.Canon.SessionParams != nil && len(cfg.Canon.SessionParams) == 0,
		StripQuery: cfg.Canon.StripQuery, Bodies: cfg.Save != "", Delay: cfg.Delay,
	}
	if cfg.Executor != nil {
		k.opts.BodyLimit = MaxTravellingBody
	}
	if cfg.Save != "" {
		if k.mirror, err = openMirror(cfg.Save, cfg.Layout, fresh); err != nil {
			return Stats{}, err
		}
		defer k.mirror.close()
	}
	if err := k.record(nil, starts, true); err != nil {
		return k.finalStats(), err
	}
	if fr.Queued() == 0 {
		k.stats.Done = true
		return k.finalStats(), k.flushWaiting()
	}
	if cfg.MaxPages > 0 && fr.Totals().Visited >= cfg.MaxPages {
		k.stats.AtMaxPages = true
		return k.finalStats(), nil
	}
	err = k.run(ctx)
	st := k.finalStats()
	if err == nil && len(k.unreachable.URLs) > 0 {
		err = &k.unreachable
	}
	return st, err
}

func (k *crawler) finalStats() Stats {
	st := k.stats
	tot := k.fr.Totals()
	st.TotalPages, st.TotalURLs = tot.Visited, tot.URLs
	st.Queued, st.Held = k.fr.Queued(), k.fr.Held()
	return st
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
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
