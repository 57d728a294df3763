package fetch

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wireServer is a scripted HTTP/1.1 server on loopback for responses
// net/http's server never writes. For each request head it reads on a
// connection it calls reply with the connection's number (1, 2, … in the
// order accepted) and the head, writes the bytes reply returns, and closes
// the connection when reply says so.
type wireServer struct {
	addr    string
	conns   atomic.Int32 // connections accepted
	hungUp  atomic.Int32 // connections the client closed
	mu      sync.Mutex
	open    []net.Conn
	wg      sync.WaitGroup
	closeLn func() error
}

func startWire(t *testing.T, reply func(conn int, head string) (out string, closeAfter bool)) *wireServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &wireServer{addr: ln.Addr().String(), closeLn: ln.Close}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.conns.Add(1))
			s.mu.Lock()
			s.open = append(s.open, conn)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					head, err := readHead(br)
					if err != nil {
						if head == "" {
							s.hungUp.Add(1)
						}
						return
					}
					out, closeAfter := reply(n, head)
					if _, err := io.WriteString(conn, out); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		s.closeLn()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// readHead reads a request head up to its blank line.
func readHead(br *bufio.Reader) (string, error) {
	var head strings.Builder
	for {
		l, err := br.ReadString('\n')
		head.WriteString(l)
		if err != nil {
			return head.String(), err
		}
		if l == "\r\n" {
			return head.String(), nil
		}
	}
}

// target is the request target of a request head.
func target(head string) string {
	line, _, _ := strings.Cut(head, "\r\n")
	if f := strings.Fields(line); len(f) == 3 {
		return f[1]
	}
	return ""
}

// transports returns the fast path and net/http's Transport as fetch
// builds them for cfg, both dialling srv whatever the URL's host, and the
// addresses each was asked to dial.
func transports(t *testing.T, cfg Config, srv *wireServer) (fast *h1Transport, std *http.Transport, dialed func() (fast, std []string)) {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var fastAddrs, stdAddrs []string
	dialTo := func(addrs *[]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			*addrs = append(*addrs, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, srv.addr)
		}
	}
	fast = newTransport(&cfg).(*h1Transport)
	fast.dial = dialTo(&fastAddrs)
	std = newTransport(&cfg).(*h1Transport).fallback
	std.DialContext = dialTo(&stdAddrs)
	t.Cleanup(fast.CloseIdleConnections)
	t.Cleanup(std.CloseIdleConnections)
	return fast, std, func() ([]string, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), fastAddrs...), append([]string(nil), stdAddrs...)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling a condition, not synchronising on time
	}
}

// idleCount is the number of connections in the pool.
func (p *h1Pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}
