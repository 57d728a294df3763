package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
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
// Like net/http it reuses a connection only after a response body was read
// to its end, and retries a request once on a new connection when a reused
// one turns out to have been closed by the server before any of the
// response arrived (GET is idempotent).
type h1Transport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	proxy    func(*http.Request) (*url.URL, error) // nil: never a proxy
	maxIdle  int                                   // idle connections kept per host
	idleTTL  time.Duration
	fallback *http.Transport

	mu   sync.Mutex
	idle map[string][]*h1Conn // by host:port; most recently used last
}

type h1Conn struct {
	key       string // host:port, as the idle pool knows it
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// fast reports whether req can take the fast path.
func (t *h1Transport) fast(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Method != http.MethodGet || req.Body != nil && req.Body != http.NoBody {
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
	if err := checkHeaders(req.Header); err != nil {
		return nil, err
	}
	addr := canonicalAddr(req.URL)
	ctx := req.Context()
	for try := 0; ; try++ {
		c, reused := t.get(addr)
		if c == nil {
			nc, err := t.dial(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			c = &h1Conn{key: addr, nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 4<<10)}
		}
		resp, retry, err := t.exchange(ctx, c, req, reused)
		if err == nil {
			return resp, nil
		}
		if !retry || try > 0 || ctx.Err() != nil {
			return nil, err
		}
	}
}

// exchange sends req on c and reads the response head. On failure c is
// closed; retry says nothing of a response arrived on a reused connection.
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
	writeRequest(c.bw, req)
	if err := c.bw.Flush(); err != nil {
		return fail(err, reused)
	}
	for {
		if _, err := c.br.Peek(1); err != nil {
			return fail(err, reused && isClosedConn(err))
		}
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err, false)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	resp.Body = &h1Body{t: t, c: c, rc: resp.Body, ctx: ctx, stop: stop, reusable: !resp.Close}
	return resp, false, nil
}

// isClosedConn reports an error showing the server closed an idle
// connection: the end of the stream, or a reset.
func isClosedConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err)
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// get takes an idle connection to addr, if there is a fresh one.
func (t *h1Transport) get(addr string) (*h1Conn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.idle[addr]
	for len(cs) > 0 {
		c := cs[len(cs)-1]
		cs = cs[:len(cs)-1]
		t.idle[addr] = cs
		if time.Since(c.idleSince) < t.idleTTL {
			return c, true
		}
		c.nc.Close()
	}
	return nil, false
}

// put keeps c for another request to its host, or closes it when enough
// are kept already.
func (t *h1Transport) put(c *h1Conn) {
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*h1Conn{}
	}
	if cs := t.idle[c.key]; len(cs) < t.maxIdle {
		c.idleSince = time.Now()
		t.idle[c.key] = append(cs, c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		c.nc.Close()
	}
}

// h1Body is a response body on the fast path: read to its end it gives
// its connection back for reuse; closed early it closes the connection.
type h1Body struct {
	t        *h1Transport
	c        *h1Conn
	rc       io.ReadCloser // net/http's framing of the body on c.br
	ctx      context.Context
	stop     func() bool
	reusable bool
	done     bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(false)
	}
	return n, err
}

func (b *h1Body) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

func (b *h1Body) finish(atEOF bool) {
	b.done = true
	// Reuse only a connection whose response ended cleanly, that no
	// cancellation touched, and that holds no bytes past the response.
	if b.stop() && atEOF && b.reusable && b.c.br.Buffered() == 0 {
		b.t.put(b.c)
		return
	}
	b.c.nc.Close()
}

// canonicalAddr is the host:port a URL connects to.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// writeRequest writes req's request line and headers as net/http would:
// Host (req.Host, else the URL's), User-Agent unless the header holds one
// (an empty one sends none), then the other headers in sorted order. No
// Accept-Encoding is added: bodies arrive as the server stores them.
func writeRequest(w *bufio.Writer, req *http.Request) {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	w.WriteString("GET ")
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	if _, ok := req.Header["User-Agent"]; !ok {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		if k != "Host" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			if k == "User-Agent" && v == "" {
				continue
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
}

// checkHeaders refuses header names and values that would break the
// request's framing, as net/http does.
func checkHeaders(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
		}
	}
	return nil
}
