package fetch

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFastPathTaken: the default transport sends plain http:// GETs on
// the fast path, and https, proxied requests, request bodies and what
// net/http refuses or treats specially to net/http.
func TestFastPathTaken(t *testing.T) {
	proxied, _ := url.Parse("http://127.0.0.1:3128")
	plain := newTransport(&Config{PerHost: 2}).(*h1Transport)
	viaProxy := newTransport(&Config{PerHost: 2, Proxy: proxied}).(*h1Transport)
	req := func(method, u string, edit func(*http.Request)) *http.Request {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader("x")
		}
		r, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(r)
		}
		return r
	}
	for _, tc := range []struct {
		what string
		tr   *h1Transport
		req  *http.Request
		fast bool
	}{
		{"plain GET", plain, req("GET", "http://127.0.0.1:1/x", nil), true},
		{"https", plain, req("GET", "https://127.0.0.1:1/x", nil), false},
		{"POST with a body", plain, req("POST", "http://127.0.0.1:1/x", nil), false},
		{"HEAD", plain, req("HEAD", "http://127.0.0.1:1/x", nil), false},
		{"proxy", viaProxy, req("GET", "http://127.0.0.1:1/x", nil), false},
		{"no host", plain, req("GET", "http:///x", nil), false},
		{"bad header", plain, req("GET", "http://127.0.0.1:1/x", func(r *http.Request) { r.Header.Set("X", "a\nb") }), false},
		{"upgrade", plain, req("GET", "http://127.0.0.1:1/x", func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }), false},
		{"client trace", plain, req("GET", "http://127.0.0.1:1/x", func(r *http.Request) {
			*r = *r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{}))
		}), false},
	} {
		if got := tc.tr.fast(tc.req); got != tc.fast {
			t.Errorf("%s: fast(%s %s) = %v", tc.what, tc.req.Method, tc.req.URL, got)
		}
	}
}

// TestIdlePoolCappedOverall: connections to many hosts are kept idle up
// to maxIdleTotal in all; past it the one idle longest is closed.
func TestIdlePoolCappedOverall(t *testing.T) {
	p := &h1Pool{max: 4, ttl: time.Hour}
	defer p.closeIdle()
	var far []net.Conn // the other ends, which see a close as EOF
	for i := range maxIdleTotal + 10 {
		a, b := net.Pipe()
		far = append(far, b)
		p.put(&h1Conn{key: fmt.Sprintf("host%d:80", i), nc: a})
	}
	if p.n != maxIdleTotal {
		t.Errorf("%d idle connections kept, want %d", p.n, maxIdleTotal)
	}
	for i, b := range far {
		b.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := b.Read(make([]byte, 1))
		closed := errors.Is(err, io.EOF)
		if want := i < 10; closed != want {
			t.Errorf("connection %d: closed %v, want %v (%v)", i, closed, want, err)
		}
	}
	if _, ok := p.get("host0:80"); ok {
		t.Error("the evicted host's connection was handed out")
	}
	if _, ok := p.get(fmt.Sprintf("host%d:80", maxIdleTotal+9)); !ok {
		t.Error("the newest connection is not kept")
	}
}
