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
	NoTracking   bool          `json:"ntp,omitempty"` // Tracking is empty, not the default
	Session      []string      `json:"sp,omitempty"`
	NoSession    bool          `json:"nsp,omitempty"` // Session is empty, not the default
	StripQuery   bool          `json:"sq,omitempty"`
	Delay        time.Duration `json:"dl,omitempty"` // Config.Delay
	Bodies       bool          `json:"b,omitempty"`  // return the bodies of 2xx pages (for Config.Save)
	// BodyLimit, if set, is the largest body returned: a larger one is an
	// error, as it would not fit a cluster's message.
	BodyLimit int64 `json:"bl,omitempty"`
}

func (o VisitOpts) canonicalizer() Canonicalizer {
	c := Canonicalizer{TrackingParams: o.Tracking, SessionParams: o.Session, StripQuery: o.StripQuery}
	if o.NoTracking {
		c.TrackingParams = []string{}
	}
	if o.NoSession {
		c.SessionParams = []string{}
	}
	return c
}

// VisitResult is what Visit returns: the page record, the canonical links
// found on it (each once, http(s) only) or the canonical URL it redirects
// to, and the host's robots.txt Crawl-delay.
type VisitResult struct {
	Item       Item          `json:"i"`
	Page       Page          `json:"p"`
	Links      []string      `json:"l,omitempty"`
	Redirect   string        `json:"rd,omitempty"`
	CrawlDelay time.Duration `json:"cd,omitempty"`
	// Skipped: robots.txt kept the page from being fetched.
	Skipped bool `json:"sk,omitempty"`
	// NoAnswer, if set, is why the host did not answer at all (a network
	// error or a timeout), for the page or its robots.txt.
	NoAnswer string `json:"na,omitempty"`
	// Retry: the visit is to be made again on the crawl's next run (the
	// host did not answer, or its robots.txt was unreachable).
	Retry bool `json:"rt,omitempty"`
	// Body is the page's body, for a 2xx page when VisitOpts.Bodies is set.
	Body []byte `json:"body,omitempty"`
}

// visitor holds what a worker keeps between visits: an HTTP client and the
// robots.txt rules per origin.
type visitor struct {
	client *fetch.Client
	mu     sync.Mutex
	robots map[string]*robotsEntry
	gates  map[string]*hostGate // host → the turn of its requests under a delay
}

// hostGate orders one host's requests while a delay applies to it: turn
// holds a token while one is in flight (a channel, so a waiting visit can
// give up when its context ends), last is when the previous one ended.
// Both belong to whoever holds the token.
type hostGate struct {
	turn chan struct{}
	last time.Time
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
	// Redirects are not followed by the client but through the frontier,
	// so that each hop is a URL visited once.
	cl, err := fetch.NewClient(fetch.Config{
		Timeout: o.Timeout, Retries: o.Retries, PerHost: o.PerHost,
		MaxBodySize: o.MaxBodySize, UserAgent: o.UserAgent, MaxRedirects: -1,
	})
	if err != nil {
		return nil, err
	}
	return &visitor{client: cl, robots: map[string]*robotsEntry{}, gates: map[string]*hostGate{}}, nil
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
			r.Skipped = true
			var ue *robotsUnreachable
			if errors.As(err, &ue) {
				r.Retry, r.NoAnswer = true, ue.noAnswer
			}
			return r, nil
		}
		if g != nil {
			r.CrawlDelay = g.CrawlDelay
			if !g.Test(u.RequestURI()) {
				r.Page.Error = "disallowed by robots.txt"
				r.Skipped = true
				return r, nil
			}
		}
	}
	done, err := v.space(ctx, u.Host, max(a.Opts.Delay, r.CrawlDelay))
	if err != nil {
		r.Page.Error = err.Error()
		return r, nil
	}
	resp, err := v.client.Get(ctx, it.URL)
	done()
	if resp != nil {
		r.Page.Status = resp.Status
		r.Page.Bytes = len(resp.Body)
		r.Page.ElapsedMS = resp.Elapsed.Milliseconds()
	}
	if err != nil {
		r.Page.Error = err.Error()
		if r.Page.Status == 0 && ctx.Err() == nil {
			r.NoAnswer, r.Retry = err.Error(), true
		}
		return r, nil
	}
	if a.Opts.Bodies && resp.Status >= 200 && resp.Status < 300 {
		if l := a.Opts.BodyLimit; l > 0 && int64(len(resp.Body)) > l {
			r.Page.Error = fmt.Sprintf("not saved: a body of %d bytes does not travel back from a worker (at most %d)", len(resp.Body), l)
		} else {
			r.Body = resp.Body
		}
	}
	canon := a.Opts.canonicalizer()
	if isRedirect(resp.Status) {
		if loc := resp.Header.Get("Location"); loc != "" {
			t, err := canon.Canonical(u, loc)
			if err != nil {
				r.Page.Error = fmt.Sprintf("redirect to %q: %v", loc, err)
				return r, nil
			}
			r.Redirect = t.String()
		}
		return r, nil
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); ct != "" && mt != "text/html" && mt != "application/xhtml+xml" {
		return r, nil // recorded, not parsed
	}
	r.Page.Title = fetch.Title(resp.Body, ct)
	links := Links(u, resp.Body)
	seen := make(map[string]struct{}, len(links))
	for _, l := range links {
		c, err := canon.canonicalURL(l) // l is resolved, and ours to change
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

// space waits for host's turn when delay is positive: until no other
// request of this visitor to host is in flight and delay has passed since
// the last one ended; done ends this request's turn. Counting the delay
// from the end of the previous request, as wget --wait does, rather than
// from its start keeps the gap the server sees at least delay however late
// a goroutine runs on a busy machine. The coordinator already spaces its
// visits; this holds the gap where the request leaves, however long a
// visit waited to be run.
func (v *visitor) space(ctx context.Context, host string, delay time.Duration) (done func(), err error) {
	if delay <= 0 {
		return func() {}, nil
	}
	v.mu.Lock()
	g := v.gates[host]
	if g == nil {
		g = &hostGate{turn: make(chan struct{}, 1)}
		v.gates[host] = g
	}
	v.mu.Unlock()
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if wait := time.Until(g.last.Add(delay)); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			<-g.turn
			return nil, ctx.Err()
		}
	}
	return func() {
		g.last = time.Now()
		<-g.turn
	}, nil
}

func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
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

// robotsUnreachable is why a whole origin is disallowed: its robots.txt
// could not be fetched (noAnswer: why the host did not answer at all) or
// answered 5xx.
type robotsUnreachable struct {
	noAnswer string
	msg      string
}

func (e *robotsUnreachable) Error() string { return e.msg }

// maxRobotsRedirects is how many redirects are followed for robots.txt
// (RFC 9309 §2.3.1.2 asks for at least five).
const maxRobotsRedirects = 5

// fetchRobots fetches origin's robots.txt and returns the group for our
// user agent, or denied set when the origin is to be disallowed entirely;
// err is set only when ctx ended the fetch.
func (v *visitor) fetchRobots(ctx context.Context, origin string) (group *robotstxt.Group, denied, err error) {
	target := origin + "/robots.txt"
	var resp *fetch.Response
	for hop := 0; ; hop++ {
		resp, err = v.client.Get(ctx, target)
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("robots.txt: %w", ctx.Err())
		}
		loc := ""
		if resp != nil && isRedirect(resp.Status) {
			loc = resp.Header.Get("Location")
		}
		if loc == "" {
			break
		}
		if hop == maxRobotsRedirects {
			return nil, nil, nil // unavailable: allow all
		}
		base, _ := url.Parse(target)
		next, perr := base.Parse(loc)
		if perr != nil || (next.Scheme != "http" && next.Scheme != "https") {
			return nil, nil, nil
		}
		target = next.String()
	}
	switch {
	case resp.Status == 0:
		return nil, &robotsUnreachable{noAnswer: err.Error(),
			msg: fmt.Sprintf("disallowed: robots.txt unreachable, which disallows the whole site (RFC 9309): %v", err)}, nil
	case resp.Status >= 500:
		return nil, &robotsUnreachable{msg: fmt.Sprintf("disallowed: robots.txt answered HTTP %d, which disallows the whole site (RFC 9309)", resp.Status)}, nil
	case resp.Status >= 300:
		return nil, nil, nil // unavailable (4xx, or a redirect without a target): allow all
	}
	// 2xx (a body over the size cap is parsed as far as it was read).
	data, err := robotstxt.FromStatusAndBytes(resp.Status, resp.Body)
	if err != nil {
		return nil, nil, nil
	}
	return data.FindGroup(v.client.Config().UserAgent), nil, nil
}
