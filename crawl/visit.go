package crawl

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"sync"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/fetch"
	"github.com/temoto/robotstxt"
)

// Visit is the task that fetches one page: it checks robots.txt, fetches
// the URL, reads the title and returns the page's links in canonical form.
// Crawl runs it on its executor, so with a process or cluster executor the
// fetching and parsing happen in the workers while the frontier stays with
// the coordinator. Workers must link package crawl so the task is
// registered.
var Visit = crew.Register("crawl.visit", visit)

// VisitArg is Visit's argument: the item to fetch and how to fetch it.
type VisitArg struct {
	Item Item      `json:"i"`
	Opts VisitOpts `json:"o"`
}

// VisitOpts are the fetch settings a worker needs. They travel with every
// call so that workers need no configuration of their own.
type VisitOpts struct {
	UserAgent    string        `json:"ua"`
	MaxBodySize  int64         `json:"max"`
	Timeout      time.Duration `json:"t"`
	Retries      int           `json:"r"`
	PerHost      int           `json:"ph"`
	IgnoreRobots bool          `json:"nr,omitempty"`
	Tracking     []string      `json:"tp,omitempty"`
	StripQuery   bool          `json:"sq,omitempty"`
}

// VisitResult is what Visit returns: the page record, the canonical links
// found on it (each once, http(s) only), the canonical URL it was
// redirected to when that differs, and the host's robots.txt Crawl-delay.
type VisitResult struct {
	Item       Item          `json:"i"`
	Page       Page          `json:"p"`
	Links      []string      `json:"l,omitempty"`
	Final      string        `json:"f,omitempty"`
	CrawlDelay time.Duration `json:"cd,omitempty"`
}

// visitor holds what a worker keeps between visits: an HTTP client and the
// robots.txt rules per origin.
type visitor struct {
	client *fetch.Client
	mu     sync.Mutex
	robots map[string]*robotsEntry
}

// How long robots.txt answers are kept. RFC 9309 §2.4 asks crawlers not to
// use a copy older than 24 hours; a failed fetch, which disallows the whole
// origin, is tried again sooner. Variables for tests.
var (
	robotsMaxAge = 24 * time.Hour
	robotsRetry  = time.Minute
)

// robotsEntry is one origin's robots.txt. lock (a one-slot semaphore, so a
// waiting visit can give up when its context ends) is held while fetching,
// so an origin's robots.txt is fetched once however many visits need it.
type robotsEntry struct {
	lock    chan struct{}
	fetched time.Time        // zero: never fetched
	group   *robotstxt.Group // the rules for our user agent; nil allows all
	denied  error            // if set, the whole origin is disallowed, and why
}

func newVisitor(o VisitOpts) (*visitor, error) {
	cl, err := fetch.NewClient(fetch.Config{
		Timeout: o.Timeout, Retries: o.Retries, PerHost: o.PerHost,
		MaxBodySize: o.MaxBodySize, UserAgent: o.UserAgent,
	})
	if err != nil {
		return nil, err
	}
	return &visitor{client: cl, robots: map[string]*robotsEntry{}}, nil
}

type visitorKey struct{}

// clientKey is the part of VisitOpts that shapes the HTTP client; a worker
// process keeps one visitor per distinct key.
type clientKey struct {
	ua      string
	max     int64
	timeout time.Duration
	retries int
	perHost int
}

var workerVisitors sync.Map // clientKey → *visitor, in worker processes

// visitorFor returns the crawl's own visitor when the task runs in the
// crawling process, or this worker process's visitor for the options.
func visitorFor(ctx context.Context, o VisitOpts) (*visitor, error) {
	if v, ok := ctx.Value(visitorKey{}).(*visitor); ok {
		return v, nil
	}
	k := clientKey{o.UserAgent, o.MaxBodySize, o.Timeout, o.Retries, o.PerHost}
	if v, ok := workerVisitors.Load(k); ok {
		return v.(*visitor), nil
	}
	v, err := newVisitor(o)
	if err != nil {
		return nil, err
	}
	actual, _ := workerVisitors.LoadOrStore(k, v)
	return actual.(*visitor), nil
}

func visit(ctx context.Context, a VisitArg) (VisitResult, error) {
	it := a.Item
	r := VisitResult{Item: it, Page: Page{URL: it.URL, Depth: it.Depth, Parent: it.Parent}}
	v, err := visitorFor(ctx, a.Opts)
	if err != nil {
		return r, crew.Permanent(err)
	}
	u, err := url.Parse(it.URL)
	if err != nil {
		r.Page.Error = err.Error()
		return r, nil
	}
	if !a.Opts.IgnoreRobots {
		g, err := v.robotsFor(ctx, u)
		if err != nil {
			r.Page.Error = err.Error()
			return r, nil
		}
		if g != nil {
			r.CrawlDelay = g.CrawlDelay
			if !g.Test(u.RequestURI()) {
				r.Page.Error = "disallowed by robots.txt"
				return r, nil
			}
		}
	}
	resp, err := v.client.Get(ctx, it.URL)
	if resp != nil {
		r.Page.Status = resp.Status
		r.Page.Bytes = len(resp.Body)
		r.Page.ElapsedMS = resp.Elapsed.Milliseconds()
	}
	if err != nil {
		r.Page.Error = err.Error()
		return r, nil
	}
	canon := Canonicalizer{TrackingParams: a.Opts.Tracking, StripQuery: a.Opts.StripQuery}
	final := u
	if resp.FinalURL != "" && resp.FinalURL != it.URL {
		if f, err := canon.Canonical(nil, resp.FinalURL); err == nil {
			final = f
			if s := f.String(); s != it.URL {
				r.Final = s
			}
		}
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); ct != "" && mt != "text/html" && mt != "application/xhtml+xml" {
		return r, nil // recorded, not parsed
	}
	r.Page.Title = fetch.Title(resp.Body, ct)
	links := Links(final, resp.Body)
	seen := make(map[string]struct{}, len(links))
	for _, l := range links {
		c, err := canon.Canonical(nil, l.String())
		if err != nil {
			continue
		}
		s := c.String()
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		r.Links = append(r.Links, s)
	}
	r.Page.LinksFound = len(r.Links)
	return r, nil
}

// robotsFor returns the robots.txt group for this visitor's user agent at
// u's origin (nil allows everything), or an error saying why the whole
// origin is disallowed. Following RFC 9309 §2.3.1: a robots.txt that is
// unavailable (4xx, or too many redirects) allows everything; one that is
// unreachable (a network error, a timeout, 5xx) disallows everything until
// a later fetch succeeds. A fetch cut short by ctx is not remembered.
func (v *visitor) robotsFor(ctx context.Context, u *url.URL) (*robotstxt.Group, error) {
	origin := u.Scheme + "://" + u.Host
	v.mu.Lock()
	e := v.robots[origin]
	if e == nil {
		e = &robotsEntry{lock: make(chan struct{}, 1)}
		v.robots[origin] = e
	}
	v.mu.Unlock()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("robots.txt: %w", ctx.Err())
	}
	defer func() { <-e.lock }()
	maxAge := robotsMaxAge
	if e.denied != nil {
		maxAge = robotsRetry
	}
	if !e.fetched.IsZero() && time.Since(e.fetched) < maxAge {
		return e.group, e.denied
	}
	group, denied, err := v.fetchRobots(ctx, origin)
	if err != nil {
		return nil, err
	}
	e.group, e.denied, e.fetched = group, denied, time.Now()
	return group, denied
}

// fetchRobots fetches origin's robots.txt and returns the group for our
// user agent, or denied set when the origin is to be disallowed entirely;
// err is set only when ctx ended the fetch.
func (v *visitor) fetchRobots(ctx context.Context, origin string) (group *robotstxt.Group, denied, err error) {
	resp, err := v.client.Get(ctx, origin+"/robots.txt")
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("robots.txt: %w", ctx.Err())
	}
	switch {
	case errors.Is(err, fetch.ErrTooManyRedirects) || errors.Is(err, fetch.ErrRedirectLoop):
		return nil, nil, nil // unavailable: allow all
	case resp.Status == 0:
		return nil, fmt.Errorf("disallowed: robots.txt unreachable, which disallows the whole site (RFC 9309): %w", err), nil
	case resp.Status >= 500:
		return nil, fmt.Errorf("disallowed: robots.txt answered HTTP %d, which disallows the whole site (RFC 9309)", resp.Status), nil
	case resp.Status >= 400:
		return nil, nil, nil // unavailable: allow all
	}
	// 2xx (a body over the size cap is parsed as far as it was read).
	data, err := robotstxt.FromStatusAndBytes(resp.Status, resp.Body)
	if err != nil {
		return nil, nil, nil
	}
	return data.FindGroup(v.client.Config().UserAgent), nil, nil
}
