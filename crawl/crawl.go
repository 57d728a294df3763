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
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/crewrun/crew/fetch"
	"github.com/temoto/robotstxt"
	"golang.org/x/net/publicsuffix"
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

	IgnoreRobots bool
	Workers      int           // concurrent fetches in total; default 8
	PerHost      int           // concurrent fetches per host; default 2
	Delay        time.Duration // minimum gap between requests to one host (robots Crawl-delay if larger)
	UserAgent    string        // default "crew-crawl/1"
	MaxBodySize  int64         // default 10 MiB
	Retries      int           // retries for 429/5xx/network errors; default 2
	Timeout      time.Duration // per attempt; default 30s
	Canon        Canonicalizer

	MaxURLLength     int // default 2048
	MaxPathDepth     int // path segments; default 32
	MaxPagesPerHost  int // 0 unlimited
	MaxQueryVariants int // distinct queries per scheme+host+path; default 100

	Progress io.Writer // one line per second when set
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
	LinksFound int    `json:"links_found"`
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

type result struct {
	item  Item
	page  Page
	links []*url.URL
}

// Crawl runs a crawl until the frontier is empty, MaxPages is reached or
// ctx is cancelled; on cancellation the state is saved and ctx's error is
// returned.
func Crawl(ctx context.Context, c Config) (Stats, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	cl, err := fetch.NewClient(fetch.Config{
		Timeout: cfg.Timeout, Retries: cfg.Retries, PerHost: cfg.PerHost,
		MaxBodySize: cfg.MaxBodySize, UserAgent: cfg.UserAgent,
	})
	if err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	defer cl.CloseIdleConnections()
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
	fr, err := OpenFrontier(state)
	if err != nil {
		return Stats{}, err
	}
	defer fr.Close()

	k := &crawler{cfg: cfg, client: cl, fr: fr, robots: map[string]*robotsEntry{},
		hostPages: map[string]int{}, variants: map[string]int{}, last: map[string]time.Time{}}
	pagesF, err := os.OpenFile(filepath.Join(cfg.Out, "pages.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	defer pagesF.Close()
	urlsF, err := os.OpenFile(filepath.Join(cfg.Out, "urls.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return Stats{}, fmt.Errorf("crawl: %w", err)
	}
	defer urlsF.Close()
	k.pages, k.urls = bufio.NewWriter(pagesF), bufio.NewWriter(urlsF)
	defer k.urls.Flush()
	defer k.pages.Flush()

	var starts []Item
	for _, s := range cfg.Start {
		u, err := cfg.Canon.Canonical(nil, s)
		if err != nil {
			return Stats{}, fmt.Errorf("%w: start URL %q: %v", ErrBadConfig, s, err)
		}
		k.scopes = append(k.scopes, u)
		starts = append(starts, Item{URL: u.String()})
	}
	if err := k.record(fr.Push(starts)); err != nil {
		return k.stats, err
	}
	return k.run(ctx)
}

type robotsEntry struct {
	once  sync.Once
	group *robotstxt.Group
}

type crawler struct {
	cfg    Config
	client *fetch.Client
	fr     *Frontier
	scopes []*url.URL
	pages  *bufio.Writer
	urls   *bufio.Writer
	stats  Stats

	hostPages map[string]int // coordinator only
	variants  map[string]int // coordinator only

	mu     sync.Mutex
	robots map[string]*robotsEntry
	last   map[string]time.Time
}

func (k *crawler) record(added []Item, err error) error {
	if err != nil {
		return err
	}
	for _, it := range added {
		k.stats.Discovered++
		k.urls.WriteString(it.URL)
		k.urls.WriteByte('\n')
	}
	return nil
}

func (k *crawler) run(ctx context.Context) (Stats, error) {
	jobs := make(chan Item)
	results := make(chan result)
	var wg sync.WaitGroup
	for range k.cfg.Workers {
		wg.Go(func() {
			for it := range jobs {
				r := k.visit(ctx, it)
				select {
				case results <- r:
				case <-ctx.Done():
				}
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	active, dispatched := 0, 0
	for {
		for active < k.cfg.Workers && (k.cfg.MaxPages == 0 || dispatched < k.cfg.MaxPages) {
			it, ok, err := k.fr.Pop()
			if err != nil {
				return k.stats, err
			}
			if !ok {
				break
			}
			if k.cfg.MaxPagesPerHost > 0 {
				h := hostOf(it.URL)
				if k.hostPages[h] >= k.cfg.MaxPagesPerHost {
					if _, err := k.fr.Done(it, nil); err != nil {
						return k.stats, err
					}
					continue
				}
				k.hostPages[h]++
			}
			select {
			case jobs <- it:
			case <-ctx.Done():
				return k.stats, ctx.Err()
			}
			active++
			dispatched++
		}
		if active == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return k.stats, ctx.Err()
		case <-tick.C:
			if k.cfg.Progress != nil {
				el := time.Since(start).Seconds()
				fmt.Fprintf(k.cfg.Progress, "crawl: %d pages, %d errors, %d discovered, %.1f pages/s\n",
					k.stats.Pages, k.stats.Errors, k.stats.Discovered, float64(k.stats.Pages)/el)
			}
		case r := <-results:
			active--
			if err := k.finish(r); err != nil {
				return k.stats, err
			}
		}
	}
	if k.cfg.MaxPages > 0 && dispatched >= k.cfg.MaxPages {
		k.stats.Queued = k.fr.Len()
	}
	return k.stats, nil
}

func (k *crawler) finish(r result) error {
	k.stats.Pages++
	if r.page.Error != "" {
		k.stats.Errors++
	}
	b, err := json.Marshal(r.page)
	if err != nil {
		return err
	}
	k.pages.Write(b)
	k.pages.WriteByte('\n')
	var next []Item
	if k.cfg.Depth < 0 || r.item.Depth < k.cfg.Depth {
		for _, l := range r.links {
			if it, ok := k.admit(l, r.item); ok {
				next = append(next, it)
			}
		}
	}
	return k.record(k.fr.Done(r.item, next))
}

// admit canonicalises a link and applies scope, filters and trap limits.
func (k *crawler) admit(l *url.URL, parent Item) (Item, bool) {
	u, err := k.cfg.Canon.Canonical(nil, l.String())
	if err != nil {
		return Item{}, false
	}
	s := u.String()
	if len(s) > k.cfg.MaxURLLength || strings.Count(strings.Trim(u.Path, "/"), "/")+1 > k.cfg.MaxPathDepth {
		return Item{}, false
	}
	if !k.inScope(u) || (k.cfg.Include != nil && !k.cfg.Include.MatchString(s)) ||
		(k.cfg.Exclude != nil && k.cfg.Exclude.MatchString(s)) {
		return Item{}, false
	}
	if u.RawQuery != "" {
		p := u.Scheme + "://" + u.Host + u.EscapedPath()
		if k.variants[p] >= k.cfg.MaxQueryVariants {
			return Item{}, false
		}
		// Counted before de-duplication: re-finding a known variant costs
		// a slot, which only makes the bound tighter.
		k.variants[p]++
	}
	return Item{URL: s, Depth: parent.Depth + 1, Parent: parent.URL}, true
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

// visit fetches one page; it runs on a worker goroutine.
func (k *crawler) visit(ctx context.Context, it Item) result {
	r := result{item: it, page: Page{URL: it.URL, Depth: it.Depth, Parent: it.Parent}}
	u, err := url.Parse(it.URL)
	if err != nil {
		r.page.Error = err.Error()
		return r
	}
	delay := k.cfg.Delay
	if !k.cfg.IgnoreRobots {
		g := k.robotsFor(ctx, u)
		if g != nil {
			if !g.Test(u.RequestURI()) {
				r.page.Error = "disallowed by robots.txt"
				return r
			}
			delay = max(delay, g.CrawlDelay)
		}
	}
	if err := k.wait(ctx, u.Host, delay); err != nil {
		r.page.Error = err.Error()
		return r
	}
	resp, err := k.client.Get(ctx, it.URL)
	if resp != nil {
		r.page.Status = resp.Status
		r.page.Bytes = len(resp.Body)
		r.page.ElapsedMS = resp.Elapsed.Milliseconds()
	}
	if err != nil {
		r.page.Error = err.Error()
		return r
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "text/html" && mt != "application/xhtml+xml" && ct != "" {
		return r // recorded, not parsed
	}
	r.page.Title = fetch.Title(resp.Body, ct)
	final := u
	if f, err := url.Parse(resp.FinalURL); err == nil && resp.FinalURL != "" {
		final = f
	}
	r.links = Links(final, resp.Body)
	r.page.LinksFound = len(r.links)
	return r
}

// wait enforces the gap between requests to one host.
func (k *crawler) wait(ctx context.Context, host string, gap time.Duration) error {
	if gap <= 0 {
		return nil
	}
	k.mu.Lock()
	now := time.Now()
	at := k.last[host].Add(gap)
	if at.Before(now) {
		at = now
	}
	k.last[host] = at
	k.mu.Unlock()
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *crawler) robotsFor(ctx context.Context, u *url.URL) *robotstxt.Group {
	origin := u.Scheme + "://" + u.Host
	k.mu.Lock()
	e := k.robots[origin]
	if e == nil {
		e = &robotsEntry{}
		k.robots[origin] = e
	}
	k.mu.Unlock()
	e.once.Do(func() {
		resp, err := k.client.Get(ctx, origin+"/robots.txt")
		var data *robotstxt.RobotsData
		switch {
		case resp != nil:
			data, err = robotstxt.FromStatusAndBytes(resp.Status, resp.Body)
		}
		if err != nil || data == nil {
			return // unreachable robots.txt: allow all
		}
		e.group = data.FindGroup(k.cfg.UserAgent)
	})
	return e.group
}

func hostOf(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Host
	}
	return ""
}
