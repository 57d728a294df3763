package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/idna"
)

// h1Transport is the default transport's fast path: plain http:// GETs
// without a proxy go over HTTP/1.1 keep-alive connections it keeps itself,
// the request written and the response read by the calling goroutine.
// net/http's Transport gives each connection a reader and a writer
// goroutine and hands every request and response between them over
// channels; for many small pages that hand-over costs more than the
// request. Everything else (https, proxies, request bodies) goes to
// fallback, which has the same settings.
//
// The request is written by net/http's own Request.Write and the response
// read by http.ReadResponse, so the bytes on the wire and the framing rules
// are net/http's; what this file adds is what net/http's Transport adds
// around them: the address dialled (IDNA host names as punycode), the
// 10 MiB cap on response heads (1xx responses included), the pool, and the
// rules for reuse and retry. Like net/http it reuses a connection only
// after a response body was read to its end and neither side asked to
// close, and it retries a request on another connection when a reused one
// fails before any of the response arrived (the server closed it while
// idle; GET is idempotent) — as often as the pool hands out such
// connections, as net/http does, since a pause longer than the server's
// keep-alive timeout leaves every pooled connection dead.
//
// It differs from net/http where net/http is loose, never in what a
// caller is told: it sends nothing more on a connection whose request
// said "Connection: close" in its header (net/http only heeds
// Request.Close), it drops a connection with bytes past the response
// at once (net/http pools it and may hand it to the next request, which
// then fails), and a body's error repeats on every later Read.
type h1Transport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	proxy    func(*http.Request) (*url.URL, error) // nil: never a proxy
	fallback *http.Transport
	pool     h1Pool
}

type h1Conn struct {
	key       string // host:port, as the idle pool knows it
	nc        net.Conn
	br        *bufio.Reader // reads through the h1Conn, for headLeft
	bw        *bufio.Writer
	idleSince time.Time
	headLeft  int64 // bytes the response head may still take; -1 while a body is read
}

// maxResponseHead caps the bytes of a response head, 1xx responses before
// it included: net/http's default (Transport.MaxResponseHeaderBytes).
const maxResponseHead = 10 << 20

// errHeadTooLarge is net/http's error for a head over maxResponseHead.
var errHeadTooLarge = fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxResponseHead)

// Read reads from the connection, within headLeft while a head is read.
func (c *h1Conn) Read(p []byte) (int, error) {
	if c.headLeft < 0 {
		return c.nc.Read(p)
	}
	if c.headLeft == 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > c.headLeft {
		p = p[:c.headLeft]
	}
	n, err := c.nc.Read(p)
	c.headLeft -= int64(n)
	return n, err
}

// fast reports whether req can take the fast path: a plain http:// GET
// without a body or a proxy. Anything net/http would refuse (no host, a
// header that breaks the framing) or treat specially (a protocol upgrade,
// an httptrace.ClientTrace) goes to net/http too, so such requests get its
// answers, its errors and its hooks.
func (t *h1Transport) fast(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" || req.Method != http.MethodGet ||
		req.Body != nil && req.Body != http.NoBody || !validHeaders(req.Header) || req.Header.Get("Upgrade") != "" ||
		httptrace.ContextClientTrace(req.Context()) != nil {
		return false
	}
	if t.proxy == nil {
		return true
	}
	p, err := t.proxy(req)
	return err == nil && p == nil
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.fast(req) {
		return t.fallback.RoundTrip(req)
	}
	addr := canonicalAddr(req.URL)
	ctx := req.Context()
	for {
		c, reused := t.pool.get(addr)
		if c == nil {
			nc, err := t.dial(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			c = &h1Conn{key: addr, nc: nc, bw: bufio.NewWriterSize(nc, 4<<10)}
			c.br = bufio.NewReaderSize(c, 16<<10)
		}
		resp, retry, err := t.exchange(ctx, c, req, reused)
		if err == nil {
			return resp, nil
		}
		// A retry takes another pooled connection or dials a new one,
		// on which a failure is final: the loop ends.
		if !retry || ctx.Err() != nil {
			return nil, err
		}
	}
}

// exchange sends req on c and reads the response head. On failure c is
// closed; retry says c was reused and failed before any of the response
// arrived.
func (t *h1Transport) exchange(ctx context.Context, c *h1Conn, req *http.Request, reused bool) (resp *http.Response, retry bool, err error) {
	// Cancelling ctx (or its deadline: the attempt's timeout) makes any
	// blocked read or write on c return at once.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error, retry bool) (*http.Response, bool, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, retry, err
	}
	err = req.Write(c.bw)
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		// A write that failed on a reused connection is the server
		// having closed it; a request Write refuses is refused anywhere.
		return fail(err, reused && errors.As(err, new(*net.OpError)))
	}
	c.headLeft = maxResponseHead
	if _, err := c.br.Peek(1); err != nil {
		return fail(err, reused)
	}
	for {
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			if c.headLeft == 0 {
				err = errHeadTooLarge
			}
			// net/http's words, so a bad response reads the same on
			// either path.
			return fail(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err), false)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	c.headLeft = -1
	b := &h1Body{t: t, c: c, rc: resp.Body, ctx: ctx, stop: stop}
	b.reusable = !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols &&
		!httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	switch {
	case isProtocolSwitch(resp):
		// What follows is the new protocol's, up to the end of the
		// connection, as net/http hands it over (without its write side:
		// the fast path never asks for an upgrade).
		b.rc = io.NopCloser(c.br)
	case resp.Body == http.NoBody:
		// Nothing more to read: the connection is free now, as net/http
		// frees it, whether or not the caller reads or closes the body.
		b.finish(true)
		return resp, false, nil
	}
	resp.Body = b
	return resp, false, nil
}

// isProtocolSwitch reports a 101 response switching protocols, as
// net/http tells one.
func isProtocolSwitch(resp *http.Response) bool {
	return resp.StatusCode == http.StatusSwitchingProtocols && resp.Header.Get("Upgrade") != "" &&
		httpguts.HeaderValuesContainsToken(resp.Header["Connection"], "Upgrade")
}

// errReadOnClosedBody is net/http's error for a Read after Close.
var errReadOnClosedBody = errors.New("http: read on closed response body")

// h1Body is a response body on the fast path: read to its end it gives
// its connection back for reuse; closed early it closes the connection.
// As net/http's body it may be closed while a Read is under way, and a
// Read error sticks: every Read after it returns it again.
type h1Body struct {
	t        *h1Transport
	c        *h1Conn
	rc       io.ReadCloser // net/http's framing of the body on c.br
	ctx      context.Context
	stop     func() bool
	reusable bool

	mu       sync.Mutex
	closed   bool
	rerr     error // sticky Read error, io.EOF at the end
	finished bool  // the connection went back to the pool or was closed
}

func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	closed, rerr := b.closed, b.rerr
	b.mu.Unlock()
	if closed {
		return 0, errReadOnClosedBody
	}
	if rerr != nil {
		return 0, rerr
	}
	n, err := b.rc.Read(p)
	if err == nil {
		return n, nil
	}
	if err != io.EOF && b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rerr == nil {
		b.rerr = err
	}
	if !b.finished {
		b.finish(err == io.EOF)
	}
	return n, b.rerr
}

func (b *h1Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.finished {
		b.finish(false)
	}
	return nil
}

// finish gives the connection back or closes it, once.
func (b *h1Body) finish(atEOF bool) {
	b.finished = true
	// Reuse only a connection whose response ended cleanly, that no
	// cancellation touched, and that holds no bytes past the response.
	if b.stop() && atEOF && b.reusable && b.c.br.Buffered() == 0 {
		b.t.pool.put(b.c)
		return
	}
	b.c.nc.Close()
}

// canonicalAddr is the host:port a URL connects to, as net/http dials it:
// a host name outside ASCII in its IDNA (punycode) form.
func canonicalAddr(u *url.URL) string {
	host := u.Hostname()
	if !isASCII(host) {
		if v, err := idna.Lookup.ToASCII(host); err == nil {
			host = v
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(host, port)
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validHeaders reports whether h holds only header names and values that
// keep the request's framing intact: net/http's Transport refuses the
// others, and Request.Write alone would drop a bad name silently.
func validHeaders(h http.Header) bool {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}
