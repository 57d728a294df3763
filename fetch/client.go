package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrUnsupportedScheme reports a URL whose scheme is not http or https.
	ErrUnsupportedScheme = errors.New("unsupported URL scheme")
	// ErrTooManyRedirects reports a redirect chain longer than Config.MaxRedirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrRedirectLoop reports a redirect back to a URL already visited in the chain.
	ErrRedirectLoop = errors.New("redirect loop")
	// ErrTooLarge reports a body longer than Config.MaxBodySize.
	ErrTooLarge = errors.New("body exceeds maximum size")
	// ErrBadRange reports a 206 Partial Content response that does not
	// continue a download where it stopped, or stops before its end.
	ErrBadRange = errors.New("partial response does not fit the download")
)

// StatusError reports an HTTP response with status 400 or above. Get
// returns it together with the response, so callers still see headers and
// body.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// Config configures a Client. The zero value is usable; zero fields take
// the defaults documented on each field.
type Config struct {
	// Timeout bounds one attempt, from dialing to the last body byte. Default 30s.
	Timeout time.Duration
	// ConnectTimeout bounds establishing a TCP connection. Default 10s.
	ConnectTimeout time.Duration
	// Retries is how many times a failed attempt is repeated after network
	// errors, 429 and 5xx responses; other 4xx are never retried. 0 means no retries.
	Retries int
	// BackoffBase is the first retry delay; it doubles each retry, with full
	// jitter, up to BackoffMax. Defaults 200ms and 10s. A Retry-After header
	// on a 429/503 replaces the computed delay (capped at MaxRetryAfter).
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter caps a server-requested Retry-After delay. Default 60s.
	MaxRetryAfter time.Duration
	// PerHost limits concurrent requests to one host (host:port). Default 8.
	PerHost int
	// Rate limits requests per second to one host; 0 means unlimited.
	Rate float64
	// MaxBodySize caps a response body in bytes; 0 means unlimited. When
	// Run resumes a download it caps the whole file, the part already
	// saved included.
	MaxBodySize int64
	// MaxRedirects is the longest redirect chain followed. Default 10;
	// negative means redirects are not followed.
	MaxRedirects int
	// UserAgent is sent with every request. Default "crew-fetch/1".
	UserAgent string
	// Header is added to every request, as curl -H does. A key holding
	// several values sends several header lines; a key whose value is nil
	// sends nothing in place of the client's own header (only User-Agent
	// has one to remove); "Host" sets the request's Host. The headers a
	// download needs (Range, If-Range and the conditionals of Run's
	// Continue) replace any given here.
	Header http.Header
	// User, if set, is sent as HTTP Basic credentials with each request,
	// and with redirects that stay on the same host (Go's net/http drops
	// Authorization on a redirect to another domain, as curl does without
	// --location-trusted). Credentials in a URL itself, or an Authorization
	// in Header, come first.
	User *url.Userinfo
	// Netrc, if set, gives Basic credentials by host name to any request,
	// redirects included, that has none from the URL, Header or User.
	Netrc *Netrc
	// Jar, if set, keeps the cookies responses set and sends them back on
	// later requests (see CookieJar for curl's and wget's file format).
	Jar http.CookieJar
	// InsecureSkipVerify accepts any TLS certificate, as curl --insecure.
	InsecureSkipVerify bool
	// RootCAs, if set, are the only certificate authorities trusted, as
	// curl --cacert; nil means the system's.
	RootCAs *x509.CertPool
	// Proxy, if set, is the proxy for every request: an http://, https://
	// or socks5:// URL, with user info for proxy authentication. Nil means
	// the environment's: HTTP_PROXY, HTTPS_PROXY and NO_PROXY (or their
	// lower-case forms), which never apply to loopback hosts (see
	// http.ProxyFromEnvironment).
	Proxy *url.URL
	// LimitRate caps the bytes per second read from all response bodies
	// together; 0 means unlimited.
	LimitRate int64
	// Transport replaces the default transport (keep-alive, HTTP/2 where
	// offered). ConnectTimeout, InsecureSkipVerify, RootCAs and Proxy do
	// not apply to a replaced transport.
	Transport http.RoundTripper
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Timeout < 0 || cfg.ConnectTimeout < 0 || cfg.Retries < 0 || cfg.PerHost < 0 ||
		cfg.Rate < 0 || cfg.MaxBodySize < 0 || cfg.BackoffBase < 0 || cfg.BackoffMax < 0 || cfg.LimitRate < 0 {
		return cfg, errors.New("fetch: negative value in Config")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 30*time.Second)
	def(&cfg.ConnectTimeout, 10*time.Second)
	def(&cfg.BackoffBase, 200*time.Millisecond)
	def(&cfg.BackoffMax, 10*time.Second)
	def(&cfg.MaxRetryAfter, 60*time.Second)
	if cfg.PerHost == 0 {
		cfg.PerHost = 8
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = 10
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "crew-fetch/1"
	}
	return cfg, nil
}

// Client is an HTTP client for fetching many URLs politely: it limits
// concurrency and request rate per host, retries transient failures with
// jittered exponential backoff, caps body sizes and follows redirects up to
// a limit. A Client is safe for concurrent use.
type Client struct {
	cfg   Config
	http  *http.Client
	mu    sync.Mutex
	hosts map[string]*hostLimit
	bytes *rate.Limiter // LimitRate; nil when unlimited
}

type hostLimit struct {
	slots   chan struct{}
	limiter *rate.Limiter
}

// NewClient returns a Client configured by cfg, or an error if cfg holds a
// negative value.
func NewClient(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tr := cfg.Transport
	if tr == nil {
		tr = newTransport(&cfg)
	}
	c := &Client{cfg: cfg, hosts: map[string]*hostLimit{}}
	if cfg.LimitRate > 0 {
		c.bytes = rate.NewLimiter(rate.Limit(cfg.LimitRate), rateBurst(cfg.LimitRate))
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect, Jar: cfg.Jar}
	return c, nil
}

// newTransport builds the default transport for cfg: keep-alive, HTTP/2
// where offered, cfg's TLS and proxy settings; plain http:// without a
// proxy takes a leaner path (see h1Transport). Bodies are asked for as
// stored, without Accept-Encoding, as curl and wget do: the bytes saved,
// hashed and counted are the resource's own, and Range requests (resuming)
// address the same bytes.
func newTransport(cfg *Config) http.RoundTripper {
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	proxy := http.ProxyFromEnvironment
	if cfg.Proxy != nil {
		proxy = http.ProxyURL(cfg.Proxy)
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          maxIdleTotal,
		MaxIdleConnsPerHost:   cfg.PerHost,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
	}
	if cfg.InsecureSkipVerify || cfg.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, RootCAs: cfg.RootCAs}
	}
	return &h1Transport{dial: dialer.DialContext, proxy: proxy, fallback: tr, pool: h1Pool{max: cfg.PerHost, ttl: idleConnTimeout}}
}

// idleConnTimeout is how long an unused connection is kept.
const idleConnTimeout = 90 * time.Second

// maxIdleTotal caps the connections kept open unused, over all hosts: a
// list of ten thousand sites would otherwise hold a socket per site for
// idleConnTimeout, past a default limit of 1024 open files. curl's
// connection cache is bounded too.
const maxIdleTotal = 256

// rateBurst is the most bytes one read may take from a LimitRate limiter:
// a second's worth, at most 64 KiB, so the rate stays smooth.
func rateBurst(perSecond int64) int { return int(min(max(perSecond, 1), 64<<10)) }

// Config returns the client's configuration with defaults applied.
func (c *Client) Config() Config { return c.cfg }

// CloseIdleConnections closes kept-alive connections not in use.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.cfg.MaxRedirects < 0 {
		return http.ErrUseLastResponse
	}
	if err := checkScheme(req.URL); err != nil {
		return err
	}
	next := req.URL.String()
	for _, v := range via {
		if v.URL.String() == next {
			return fmt.Errorf("%w: %s", ErrRedirectLoop, Redact(next))
		}
	}
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("%w (%d)", ErrTooManyRedirects, c.cfg.MaxRedirects)
	}
	// Credentials from the first URL's user info go on to the same host,
	// as curl sends them; net/http drops them on every redirect.
	if first := via[0].URL; first.User != nil && req.URL.User == nil && req.URL.Host == first.Host && req.Header.Get("Authorization") == "" {
		password, _ := first.User.Password()
		req.SetBasicAuth(first.User.Username(), password)
	}
	c.netrcAuth(req)
	return nil
}

// netrcAuth sets Basic credentials from Netrc on a request that has none.
func (c *Client) netrcAuth(req *http.Request) {
	if c.cfg.Netrc == nil || req.URL.User != nil || req.Header.Get("Authorization") != "" {
		return
	}
	if login, password, ok := c.cfg.Netrc.Lookup(req.URL.Hostname()); ok {
		req.SetBasicAuth(login, password)
	}
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w %q", ErrUnsupportedScheme, u.Scheme)
	}
	if u.Hostname() == "" {
		return ErrNoHost
	}
	return nil
}

func (c *Client) host(h string) *hostLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	hl, ok := c.hosts[h]
	if !ok {
		hl = &hostLimit{slots: make(chan struct{}, c.cfg.PerHost)}
		if c.cfg.Rate > 0 {
			burst := max(1, int(c.cfg.Rate))
			hl.limiter = rate.NewLimiter(rate.Limit(c.cfg.Rate), burst)
		}
		c.hosts[h] = hl
	}
	return hl
}

// Response is a fetched resource.
type Response struct {
	URL      string      // URL requested
	FinalURL string      // URL after redirects
	Status   int         // HTTP status code of the final response
	Header   http.Header // headers of the final response
	Body     []byte      // body, read whole (Get) — nil from Open
	Attempts int         // attempts made, 1 when the first succeeded
	Elapsed  time.Duration
}

// Get fetches rawURL and reads its body whole. A body longer than
// MaxBodySize yields ErrTooLarge; a status of 400 or more yields a
// *StatusError, returned together with the response.
func (c *Client) Get(ctx context.Context, rawURL string) (*Response, error) {
	start := time.Now()
	resp, stream, err := c.Open(ctx, rawURL, nil)
	if stream == nil {
		return resp, err
	}
	defer stream.Close()
	body, rerr := io.ReadAll(stream)
	resp.Body = body
	resp.Elapsed = time.Since(start)
	if rerr != nil {
		return resp, fmt.Errorf("fetch %s: %w", Redact(rawURL), rerr)
	}
	return resp, err
}

// Open fetches rawURL with extra request headers (for Range or
// conditional requests; may be nil) and returns the response and its body
// as a stream, which the caller must close. The stream holds the host's
// concurrency slot and the attempt's timeout until closed, and fails with
// ErrTooLarge past MaxBodySize. On a status of 400 or more it returns the
// response, the stream and a *StatusError. Retries happen only before the
// body is handed over.
func (c *Client) Open(ctx context.Context, rawURL string, header http.Header) (*Response, io.ReadCloser, error) {
	start := time.Now()
	res := &Response{URL: rawURL}
	u, err := url.Parse(rawURL)
	if err == nil {
		err = checkScheme(u)
	}
	if err != nil {
		return res, nil, fmt.Errorf("fetch %s: %w", Redact(rawURL), err)
	}
	hl := c.host(u.Host)
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		hr, body, retryAfter, err := c.attempt(ctx, hl, u, header)
		if hr != nil {
			res.Status = hr.StatusCode
			res.Header = hr.Header
			res.FinalURL = hr.Request.URL.String()
		}
		res.Elapsed = time.Since(start)
		retry := attempt <= c.cfg.Retries && ctx.Err() == nil && retryable(hr, err)
		if !retry {
			if err != nil {
				return res, body, fmt.Errorf("fetch %s: %w", Redact(rawURL), err)
			}
			return res, body, nil
		}
		if body != nil {
			body.Close()
		}
		delay := c.backoff(attempt)
		if retryAfter > 0 {
			delay = min(retryAfter, c.cfg.MaxRetryAfter)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, nil, fmt.Errorf("fetch %s: %w", Redact(rawURL), ctx.Err())
		case <-t.C:
		}
	}
}

// attempt makes one request. On success (any status) it returns a body
// stream that releases the host slot and the attempt's context on Close.
func (c *Client) attempt(ctx context.Context, hl *hostLimit, u *url.URL, header http.Header) (*http.Response, io.ReadCloser, time.Duration, error) {
	select {
	case hl.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, 0, ctx.Err()
	}
	release := func() { <-hl.slots }
	if hl.limiter != nil {
		if err := hl.limiter.Wait(ctx); err != nil {
			release()
			return nil, nil, 0, err
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	// The URL is parsed already: build the request from it rather than
	// print it and parse it again.
	req, err := http.NewRequestWithContext(actx, http.MethodGet, "", nil)
	if err != nil {
		cancel()
		release()
		return nil, nil, 0, err
	}
	req.URL, req.Host = u, strings.TrimSuffix(u.Host, ":")
	c.setHeaders(req, header)
	hr, err := c.http.Do(req)
	if err != nil {
		cancel()
		release()
		return nil, nil, 0, unwrapURLError(err)
	}
	body := &stream{ctx: actx, rc: hr.Body, limit: c.cfg.MaxBodySize, rate: c.bytes, done: func() { cancel(); release() }}
	if hr.StatusCode >= 400 {
		return hr, body, retryAfter(hr.Header.Get("Retry-After")), &StatusError{Code: hr.StatusCode}
	}
	return hr, body, 0, nil
}

// setHeaders puts on req: Config.Header, the User-Agent (unless Header
// names one), then header (the call's own, which wins), and credentials.
func (c *Client) setHeaders(req *http.Request, header http.Header) {
	for k, vs := range c.cfg.Header {
		if k == "Host" {
			if len(vs) > 0 {
				req.Host = vs[0]
			}
			continue
		}
		req.Header[k] = vs
	}
	if _, ok := c.cfg.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if c.cfg.User != nil && req.URL.User == nil && req.Header.Get("Authorization") == "" {
		password, _ := c.cfg.User.Password()
		req.SetBasicAuth(c.cfg.User.Username(), password)
	}
	c.netrcAuth(req)
}

// unwrapURLError drops net/http's *url.Error wrapper, whose message
// repeats the URL the caller already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func retryable(hr *http.Response, err error) bool {
	if hr != nil {
		return hr.StatusCode == http.StatusTooManyRequests || hr.StatusCode >= 500
	}
	if err == nil || errors.Is(err, context.Canceled) ||
		errors.Is(err, ErrUnsupportedScheme) || errors.Is(err, ErrTooManyRedirects) || errors.Is(err, ErrRedirectLoop) {
		return false
	}
	return true // network errors and per-attempt timeouts
}

// backoff returns the delay before retry number attempt: a uniformly
// random duration up to BackoffBase·2^(attempt-1), capped at BackoffMax
// ("full jitter", so many clients do not retry in lockstep).
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase << min(attempt-1, 30)
	if d <= 0 || d > c.cfg.BackoffMax {
		d = c.cfg.BackoffMax
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// stream is a response body that enforces the size cap and releases the
// attempt's resources exactly once on Close. It reads at most one byte past
// the cap, to tell a body of exactly limit bytes from a longer one; from then
// on every Read returns 0, ErrTooLarge.
type stream struct {
	ctx   context.Context
	rc    io.ReadCloser
	limit int64
	rate  *rate.Limiter
	n     int64
	once  sync.Once
	done  func()
}

func (s *stream) Read(p []byte) (int, error) {
	if s.limit > 0 && s.n > s.limit {
		// Already over: the byte past the cap was dropped, and reading
		// on must not report it (or a negative count) again.
		return 0, ErrTooLarge
	}
	if s.limit > 0 && int64(len(p)) > s.limit-s.n+1 {
		p = p[:s.limit-s.n+1]
	}
	if s.rate != nil {
		p = p[:min(len(p), s.rate.Burst())]
	}
	n, err := s.rc.Read(p)
	if s.rate != nil && n > 0 {
		// Pay for what arrived before handing it over: reading stops
		// while the account is overdrawn, the socket's buffer fills, and
		// TCP slows the sender down to the rate.
		if werr := s.rate.WaitN(s.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	s.n += int64(n)
	if s.limit > 0 && s.n > s.limit {
		return n - int(s.n-s.limit), ErrTooLarge
	}
	return n, err
}

func (s *stream) Close() error {
	err := s.rc.Close()
	s.once.Do(s.done)
	return err
}
