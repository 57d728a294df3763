package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// outcome is what a caller of a RoundTripper sees of one request.
type outcome struct {
	Status        string
	Proto         string
	Header        http.Header
	ContentLength int64
	Close         bool
	Body          string
	ReadErr       string // the body's read error, "" at a clean end
	Trailer       http.Header
	Err           string // RoundTrip's error
}

func roundTrip(rt http.RoundTripper, ctx context.Context, url string, edit func(*http.Request)) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outcome{Err: "NewRequest: " + err.Error()}
	}
	if edit != nil {
		edit(req)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return outcome{Err: err.Error()}
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	o := outcome{Status: resp.Status, Proto: resp.Proto, Header: resp.Header, ContentLength: resp.ContentLength,
		Close: resp.Close, Body: string(body), Trailer: resp.Trailer}
	if rerr != nil {
		o.ReadErr = rerr.Error()
	}
	return o
}

func (o outcome) String() string {
	type plain outcome // without this method
	s := fmt.Sprintf("%+v", plain(o))
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// wireReplies are responses, well-formed and not, that net/http's server
// never writes; the bool closes the connection after the bytes.
var wireReplies = map[string]struct {
	out   string
	close bool
}{
	"/ok":              {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	"/chunked-trailer": {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3;ext=1\r\nabc\r\n2;a=\"b\"\r\nde\r\n0\r\nX-T: tv\r\n\r\n", false},
	"/chunk-ext-space": {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ; a=b\r\nde\r\n0\r\n\r\n", false},
	"/until-close":     {"HTTP/1.1 200 OK\r\n\r\nread until the server closes", true},
	"/http10":          {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	"/says-close":      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false},
	"/http10-ka":       {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false},
	"/204-length":      {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false},
	"/304-length":      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", false},
	"/100-then-200":    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	"/103-then-200":    {"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", false},
	"/101":             {"HTTP/1.1 101 Switching Protocols\r\n\r\nxyz", true},
	"/101-upgrade":     {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nnew protocol", true},
	"/folded":          {"HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\nContent-Length: 2\r\n\r\nok", false},
	"/cl-twice-same":   {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", false},
	"/cl-twice-differ": {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk", true},
	"/te-and-cl":       {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false},
	"/te-gzip-chunked": {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", true},
	"/te-http10":       {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", true},
	"/lf-only":         {"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false},
	"/short-body":      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", true},
	"/short-chunked":   {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nok", true},
	"/bad-chunk":       {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n", true},
	"/nul-in-header":   {"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", false},
	"/space-colon":     {"HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 2\r\n\r\nok", false},
	"/negative-cl":     {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", true},
	"/bad-status":      {"HTTP/1.1 abc\r\n\r\n", true},
	"/hang-up":         {"", true},
	"/partial-head":    {"HTTP/1.1 200 OK\r\nContent-Le", true},
	"/past-length":     {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE", false},
	"/1xx-flood":       {strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 300_000) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
	"/huge-head":       {"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 11<<20) + "\r\nContent-Length: 2\r\n\r\nok", true},
}

// replyScripted answers from wireReplies; /echo… returns the request head
// as the body. The server keeps a connection open after a response saying
// or a request asking "Connection: close" unless wireReplies closes it, so
// a client that reused such a connection would be seen doing it.
func replyScripted(conn int, head string) (string, bool) {
	p := target(head)
	if strings.HasPrefix(p, "/echo") {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Conn: %d\r\nContent-Length: %d\r\n\r\n%s", conn, len(head), head), false
	}
	r, ok := wireReplies[p]
	if !ok {
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false
	}
	return r.out, r.close
}

// TestH1MatchesNetHTTPOnTheWire sends the same requests through the fast
// path and through net/http's Transport to a scripted server, and compares
// everything a caller sees: the request bytes the server got, status,
// headers, body, trailers, and the error of the round trip or of the body,
// word for word. After each case a plain request on the same transport
// must still succeed, so no response leaves a connection out of step.
func TestH1MatchesNetHTTPOnTheWire(t *testing.T) {
	srv := startWire(t, replyScripted)
	fast, std, _ := transports(t, Config{}, srv)
	paths := []string{"/echo", "/echo/é?q=ü&r=%2F", "/echo/a%20b"}
	for p := range wireReplies {
		if p != "/huge-head" && p != "/1xx-flood" { // 11 MiB each: TestH1WireErrors
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		t.Run(strings.TrimPrefix(p, "/"), func(t *testing.T) {
			base := "http://" + srv.addr
			a := roundTrip(fast, t.Context(), base+p, nil)
			b := roundTrip(std, t.Context(), base+p, nil)
			a.Header.Del("X-Conn")
			b.Header.Del("X-Conn")
			if a.String() != b.String() {
				t.Errorf("fast path %v\nnet/http  %v", a, b)
			}
			for name, rt := range map[string]http.RoundTripper{"fast path": fast, "net/http": std} {
				if name == "net/http" && p == "/past-length" {
					continue // a race of net/http's own: see TestH1Reuse
				}
				if o := roundTrip(rt, t.Context(), base+"/ok", nil); o.Body != "ok" || o.Err != "" || o.ReadErr != "" {
					t.Errorf("%s: the request after %s: %v", name, p, o)
				}
			}
		})
	}
}

// TestH1WireErrors pins the failures the comparison above holds equal to
// what they must be, on both paths: no short body or broken chunk passes
// for a complete one, and an oversized head is refused.
func TestH1WireErrors(t *testing.T) {
	t.Parallel() // the 11 MiB heads take seconds under -race
	srv := startWire(t, replyScripted)
	fast, std, _ := transports(t, Config{}, srv)
	for p, want := range map[string]string{
		"/short-body":    io.ErrUnexpectedEOF.Error(),
		"/short-chunked": io.ErrUnexpectedEOF.Error(),
		"/bad-chunk":     "invalid byte in chunk length",
		"/huge-head":     "server response headers exceeded 10485760 bytes",
		"/1xx-flood":     "server response headers exceeded 10485760 bytes",
		"/hang-up":       "EOF",
		"/partial-head":  "malformed MIME header",
	} {
		a := roundTrip(fast, t.Context(), "http://"+srv.addr+p, nil)
		b := roundTrip(std, t.Context(), "http://"+srv.addr+p, nil)
		if got := a.Err + a.ReadErr; !strings.Contains(got, want) || a.String() != b.String() {
			t.Errorf("%s: want an error saying %q\nfast path %v\nnet/http  %v", p, want, a, b)
		}
	}
}

// TestH1WireAnswers pins the successes the comparison holds equal: the
// body and trailer of a chunked response, empty bodies where the status
// allows none, the final response after 1xx ones, a protocol switch's
// stream.
func TestH1WireAnswers(t *testing.T) {
	srv := startWire(t, replyScripted)
	fast, _, _ := transports(t, Config{}, srv)
	for p, want := range map[string]string{
		"/chunked-trailer": "200 abcde X-T=tv",
		"/204-length":      "204  X-T=",
		"/304-length":      "304  X-T=",
		"/100-then-200":    "200 ok X-T=",
		"/103-then-200":    "200 body X-T=",
		"/101-upgrade":     "101 new protocol X-T=",
		"/until-close":     "200 read until the server closes X-T=",
		"/past-length":     "200 ok X-T=",
	} {
		o := roundTrip(fast, t.Context(), "http://"+srv.addr+p, nil)
		got := fmt.Sprintf("%.3s %s X-T=%s", o.Status, o.Body, o.Trailer.Get("X-T"))
		if got != want || o.Err != "" || o.ReadErr != "" {
			t.Errorf("%s: %q, want %q (%v)", p, got, want, o)
		}
	}
}

// TestH1Reuse follows which connection serves each request of a sequence,
// on the fast path and on net/http: a connection is reused only after its
// response was read to the end and when neither side asked to close it.
func TestH1Reuse(t *testing.T) {
	steps := []struct {
		what string
		path string
		edit func(*http.Request)
		read int // bytes read before Close; -1 reads to the end
	}{
		{"first request", "/echo", nil, -1},
		{"body read to its end: reused", "/echo", nil, -1},
		{"body closed unread: reused, then dropped", "/echo/long", nil, 3},
		{"a new connection", "/echo", nil, -1},
		{"request Connection: close", "/echo", func(r *http.Request) { r.Header.Set("Connection", "close") }, -1},
		{"a new connection", "/echo", nil, -1},
		{"Request.Close", "/echo", func(r *http.Request) { r.Close = true }, -1},
		{"a new connection", "/echo", nil, -1},
		{"chunked with trailers: reused", "/chunked-trailer", nil, -1},
		{"204 closed unread: reused", "/204-length", nil, 0},
		{"304 closed unread: reused", "/304-length", nil, 0},
		{"after a 1xx: reused", "/103-then-200", nil, -1},
		{"HTTP/1.0 keep-alive: reused", "/http10-ka", nil, -1},
		{"still the same connection", "/echo", nil, -1},
		{"body until the server closes", "/until-close", nil, -1},
		{"a new connection", "/echo", nil, -1},
		{"response Connection: close", "/says-close", nil, -1},
		{"a new connection", "/echo", nil, -1},
		{"HTTP/1.0 without keep-alive", "/http10", nil, -1},
		{"a new connection", "/echo", nil, -1},
		// net/http gives this connection back to the pool and closes it
		// when its reader finds the bytes: a request in between fails
		// ("malformed HTTP version"), now and then. Fast path only.
		{"bytes past Content-Length: dropped", "/past-length", nil, -1},
		{"a new connection", "/echo", nil, -1},
	}
	want := []int{1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 6, 6, 7, 7, 8}
	// net/http honours Request.Close but not a Connection: close the
	// caller put in the header: it reuses that connection if the server
	// keeps it open (this one does). The fast path sends no further
	// request on it, as RFC 9112 (9.6) asks; the answers are the same.
	wantStd := []int{1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 5, 5, 6}
	long := func(conn int, head string) (string, bool) {
		if target(head) == "/echo/long" {
			body := strings.Repeat("x", 64<<10)
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Conn: %d\r\nContent-Length: %d\r\n\r\n%s", conn, len(body), body), false
		}
		return replyScripted(conn, head)
	}
	srvFast, srvStd := startWire(t, long), startWire(t, long)
	fast, _, _ := transports(t, Config{}, srvFast)
	_, std, _ := transports(t, Config{}, srvStd)
	run := func(rt http.RoundTripper, srv *wireServer) (conns []int) {
		for _, s := range steps {
			if rt != http.RoundTripper(fast) && s.path == "/past-length" {
				break
			}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.addr+s.path, nil)
			if s.edit != nil {
				s.edit(req)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
			if s.read < 0 {
				io.Copy(io.Discard, resp.Body)
			} else {
				io.CopyN(io.Discard, resp.Body, int64(s.read))
			}
			resp.Body.Close()
			// An echo names its connection; any other response came on
			// the newest one, a new one if the count went up.
			n := int(srv.conns.Load())
			if c := resp.Header.Get("X-Conn"); c != "" {
				fmt.Sscan(c, &n)
			}
			conns = append(conns, n)
		}
		return conns
	}
	gotFast, gotStd := run(fast, srvFast), run(std, srvStd)
	if !slices.Equal(gotFast, want) || !slices.Equal(gotStd, wantStd) {
		for i, s := range steps {
			t.Logf("step %2d %-45s fast path %d net/http %d", i, s.what, gotFast[i], at(gotStd, i))
		}
		t.Errorf("connections\nfast path %v, want %v\nnet/http  %v, want %v", gotFast, want, gotStd, wantStd)
	}
}

// TestH1RetriesOnlyReusedConnections: a request that finds its pooled
// connection closed by the server goes out again on a new one, however
// many dead ones the pool holds; a new connection that fails is not tried
// again.
func TestH1RetriesOnlyReusedConnections(t *testing.T) {
	const n = 4
	arrived := make(chan struct{}, n)
	release := make(chan struct{})
	srv := startWire(t, func(conn int, head string) (string, bool) {
		switch target(head) {
		case "/hold": // answered once n requests wait, each on its connection
			arrived <- struct{}{}
			<-release
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
		case "/then-close": // keep-alive promised, connection closed at once
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true
		case "/hang-up":
			return "", true
		}
		return replyScripted(conn, head)
	})
	fast, _, _ := transports(t, Config{PerHost: n}, srv)
	base := "http://" + srv.addr

	// n connections in the pool, then the server closes them all.
	done := make(chan outcome, n)
	for range n {
		go func() { done <- roundTrip(fast, t.Context(), base+"/hold", nil) }()
	}
	for range n {
		<-arrived
	}
	close(release)
	for range n {
		if o := <-done; o.Body != "ok" {
			t.Fatalf("/hold: %v", o)
		}
	}
	if idle := fast.pool.idleCount(); idle != n {
		t.Fatalf("%d idle connections, want %d", idle, n)
	}
	srv.mu.Lock()
	for _, c := range srv.open {
		c.Close()
	}
	srv.mu.Unlock()
	if o := roundTrip(fast, t.Context(), base+"/echo", nil); o.Err != "" || o.ReadErr != "" || !strings.HasPrefix(o.Body, "GET /echo") {
		t.Fatalf("after the server closed %d idle connections: %v", n, o)
	}
	if got := srv.conns.Load(); got != n+1 {
		t.Errorf("%d connections, want %d: the dead ones skipped, one new", got, n+1)
	}

	// The server closes right after a keep-alive response: the next
	// request meets the closed connection and is sent again.
	for range 3 {
		if o := roundTrip(fast, t.Context(), base+"/then-close", nil); o.Body != "ok" || o.Err != "" {
			t.Fatalf("/then-close: %v", o)
		}
	}

	// A fresh connection hung up on: one attempt, an error.
	fast.CloseIdleConnections()
	before := srv.conns.Load()
	if o := roundTrip(fast, t.Context(), base+"/hang-up", nil); o.Err == "" {
		t.Errorf("/hang-up: no error: %v", o)
	}
	if got := srv.conns.Load() - before; got != 1 {
		t.Errorf("/hang-up on a new connection made %d connections, want 1 (no retry)", got)
	}
}

// TestH1CancelFreesConnection: cancelling a request while its body is
// read ends the read with the context's error, again on every later Read,
// closes the connection (the server sees it go) and keeps it out of the
// pool; a Read after Close fails. net/http's Transport is held to the same.
func TestH1CancelFreesConnection(t *testing.T) {
	for _, name := range []string{"fast path", "net/http"} {
		t.Run(name, func(t *testing.T) {
			// The server sends 7 of 100 bytes and waits for the next request.
			srv := startWire(t, func(conn int, head string) (string, bool) {
				if target(head) == "/stall" {
					return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", false
				}
				return replyScripted(conn, head)
			})
			fast, std, _ := transports(t, Config{}, srv)
			var rt http.RoundTripper = fast
			if name == "net/http" {
				rt = std
			}
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.addr+"/stall", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 7)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
				t.Errorf("Read after cancel: %v, want context.Canceled", err)
			}
			// The fast path repeats the error; net/http's next Read
			// reports the closed connection. Neither may look like an end.
			if _, err := resp.Body.Read(buf); err == nil || err == io.EOF || name == "fast path" && !errors.Is(err, context.Canceled) {
				t.Errorf("second Read after cancel: %v, want an error", err)
			}
			resp.Body.Close()
			if _, err := resp.Body.Read(buf); err == nil || err.Error() != "http: read on closed response body" {
				t.Errorf("Read after Close: %v", err)
			}
			waitFor(t, "the server to see the connection closed", func() bool { return srv.hungUp.Load() == 1 })
			if n := fast.pool.idleCount(); n != 0 {
				t.Errorf("%d idle connections after a cancelled body, want 0", n)
			}
			if o := roundTrip(rt, t.Context(), "http://"+srv.addr+"/ok", nil); o.Body != "ok" || srv.conns.Load() != 2 {
				t.Errorf("next request: %v on connection %d, want a new one", o, srv.conns.Load())
			}
		})
	}
}

// TestH1PoolExpires: an idle connection is closed after the pool's TTL
// (net/http's IdleConnTimeout), not kept until its host is asked again.
func TestH1PoolExpires(t *testing.T) {
	srv := startWire(t, replyScripted)
	fast, _, _ := transports(t, Config{}, srv)
	fast.pool.ttl = 20 * time.Millisecond
	for range 3 {
		if o := roundTrip(fast, t.Context(), "http://"+srv.addr+"/ok", nil); o.Body != "ok" {
			t.Fatal(o)
		}
		waitFor(t, "the idle connection to be closed", func() bool { return fast.pool.idleCount() == 0 })
	}
	waitFor(t, "the server to see 3 connections closed", func() bool { return srv.hungUp.Load() == 3 })
}

// TestH1DialsAsNetHTTP: the address dialled, and the request line and Host
// header sent, for host names outside ASCII, IPv6 literals, empty ports
// and Host overrides, are net/http's; requests net/http refuses are
// refused with its error.
func TestH1DialsAsNetHTTP(t *testing.T) {
	srv := startWire(t, func(conn int, head string) (string, bool) {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(head), head), false
	})
	fast, std, dialed := transports(t, Config{}, srv)
	for _, tc := range []struct {
		url  string
		host string
		h    http.Header
	}{
		{url: "http://bücher.example/x"},
		{url: "http://BÜCHER.example:8080/x"},
		{url: "http://[fe80::1%25eth0]:81/x"},
		{url: "http://[::1]/x"},
		{url: "http://h.example:/x"},
		{url: "http://h.example/x", host: "ü.example"},
		{url: "http://h.example/x", host: "bad host\x01"},
		{url: "http://h.example/x", h: http.Header{"X-A": {"a\tb "}}},
		{url: "http://h.example/x", h: http.Header{"X-Evil": {"a\r\nInjected: yes"}}},
		{url: "http://h.example/x", h: http.Header{"Bad Name": {"v"}}},
		{url: "http://h.example/x", h: http.Header{"User-Agent": {"u1", "u2"}}},
		{url: "http://h.example/x", h: http.Header{"User-Agent": {""}}},
		{url: "http://h.example/x", h: http.Header{"Accept-Encoding": {"gzip"}}},
		{url: "http://h.example/x", h: http.Header{"Content-Length": {"5"}, "Transfer-Encoding": {"chunked"}, "Trailer": {"X"}}},
		{url: "http:///x"},
	} {
		edit := func(r *http.Request) {
			r.Host = tc.host
			if tc.h != nil {
				r.Header = tc.h.Clone()
			}
		}
		a := roundTrip(fast, t.Context(), tc.url, edit)
		b := roundTrip(std, t.Context(), tc.url, edit)
		if a.Body != b.Body || a.Err != b.Err {
			t.Errorf("%s Host %q %v:\nfast path %q %s\nnet/http  %q %s", tc.url, tc.host, tc.h, a.Body, a.Err, b.Body, b.Err)
		}
	}
	f, s := dialed()
	if !slices.Equal(f, s) || !slices.Contains(f, "xn--bcher-kva.example:80") {
		t.Errorf("dialled\nfast path %q\nnet/http  %q", f, s)
	}
}

func at(s []int, i int) int {
	if i < len(s) {
		return s[i]
	}
	return 0
}
