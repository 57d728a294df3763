// Package proxytest starts a real HTTP forward proxy on loopback for tests
// of proxy support: absolute-form requests are relayed, CONNECT is
// tunnelled, and every request it handles is recorded. Requests for hosts
// under ".invalid" (RFC 2606) are answered by the proxy itself, with
// "proxied", so a test can show a request went through the proxy without
// any name being resolved.
package proxytest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Proxy is a forward proxy listening on 127.0.0.1; URL is its address.
type Proxy struct {
	*httptest.Server
	mu      sync.Mutex
	handled []string
	tunnels sync.WaitGroup
	relay   *http.Transport
}

// New starts a proxy that stops when t ends.
func New(t testing.TB) *Proxy {
	p := &Proxy{relay: &http.Transport{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.CloseClientConnections()
		p.Close()
		p.tunnels.Wait()
		p.relay.CloseIdleConnections()
	})
	return p
}

// Handled returns "METHOD REQUEST-URI" of every request handled so far.
func (p *Proxy) Handled() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.handled)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.handled = append(p.handled, r.Method+" "+r.RequestURI)
	p.mu.Unlock()
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Hostname(), ".invalid") {
		io.WriteString(w, "proxied")
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, r.RequestURI, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Proxy-Connection")
	out.Header.Del("Proxy-Authorization")
	resp, err := p.relay.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Via", "1.1 proxytest")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	dst, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		dst.Close()
		return
	}
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	p.tunnels.Add(2)
	go func() { defer p.tunnels.Done(); io.Copy(dst, rw); dst.Close() }()
	go func() { defer p.tunnels.Done(); io.Copy(conn, dst); conn.Close() }()
}
