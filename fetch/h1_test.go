package fetch_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew/fetch"
)

// countConns starts srv counting the connections it accepts.
func countConns(h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.Start()
	return srv, &n
}

// TestFastPathReusesConnections: sequential requests share one connection;
// a body closed early, or a response with bytes past its end, is not
// reused; a connection the server closed while idle is replaced without
// an error.
func TestFastPathReusesConnections(t *testing.T) {
	srv, conns := countConns(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write(make([]byte, 1<<20))
		case "/chunked":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		default:
			w.Write([]byte("ok"))
		}
	})
	defer srv.Close()
	c := newClient(t, fetch.Config{MaxBodySize: 1000})
	get := func(path, want string) {
		t.Helper()
		resp, err := c.Get(t.Context(), srv.URL+path)
		if want != "" && (err != nil || string(resp.Body) != want) {
			t.Fatalf("%s: %v %q", path, err, resp.Body)
		}
	}
	for range 20 {
		get("/", "ok")
	}
	get("/chunked", "ab")
	get("/", "ok")
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 22 sequential requests, want 1", n)
	}
	if _, err := c.Get(t.Context(), srv.URL+"/big"); !errors.Is(err, fetch.ErrTooLarge) {
		t.Fatalf("/big: %v", err)
	}
	get("/", "ok")
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after a body cut short, want 2 (it is not reused)", n)
	}
	get("/close", "bye")
	get("/", "ok")
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections after Connection: close, want 3", n)
	}
	srv.CloseClientConnections() // the server drops the idle connection
	get("/", "ok")
	if n := conns.Load(); n != 4 {
		t.Errorf("%d connections after the server closed the idle one, want 4", n)
	}
}

// rawServer answers every connection with the bytes reply returns for the
// request line it read.
func rawServer(t *testing.T, reply func(requestLine string) string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(conn)
			line, _ := br.ReadString('\n')
			for {
				l, err := br.ReadString('\n')
				if err != nil || l == "\r\n" {
					break
				}
			}
			io.WriteString(conn, reply(strings.TrimSpace(line)))
			conn.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestFastPathResponses reads responses net/http's server does not write:
// an interim 103, HTTP/1.0 without a length, bytes past Content-Length.
func TestFastPathResponses(t *testing.T) {
	base := rawServer(t, func(line string) string {
		switch {
		case strings.Contains(line, "/early"):
			return "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
		case strings.Contains(line, "/http10"):
			return "HTTP/1.0 200 OK\r\n\r\nuntil the end"
		case strings.Contains(line, "/extra"):
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE"
		case strings.Contains(line, "/bad"):
			return "HTTP/1.1 abc\r\n\r\n"
		}
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	})
	c := newClient(t, fetch.Config{})
	for path, want := range map[string]string{"/early": "body", "/http10": "until the end", "/extra": "ok"} {
		resp, err := c.Get(t.Context(), base+path)
		if err != nil || string(resp.Body) != want || resp.Status != 200 {
			t.Errorf("%s: %v %d %q", path, err, resp.Status, resp.Body)
		}
	}
	if _, err := c.Get(t.Context(), base+"/bad"); err == nil || !strings.Contains(err.Error(), "malformed HTTP status code") {
		t.Errorf("/bad: %v", err)
	}
}

// TestFastPathCancel: cancelling the context stops a request waiting for
// its response head or its body at once, with the context's error.
func TestFastPathCancel(t *testing.T) {
	block := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	defer close(block)
	c := newClient(t, fetch.Config{})
	for _, path := range []string{"/head", "/body"} {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Get(ctx, srv.URL+path)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
			t.Errorf("%s: %v after %v, want context.Canceled at once", path, err, time.Since(start))
		}
	}
}

// TestFastPathMatchesNetHTTP fetches the same resources through the fast
// path and through net/http's Transport and compares what the caller sees.
func TestFastPathMatchesNetHTTP(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo-UA", r.Header.Get("User-Agent"))
		w.Header().Set("X-Echo-Host", r.Host)
		w.Header().Add("X-Multi", "1")
		w.Header().Add("X-Multi", "2")
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/target?x=1", http.StatusMovedPermanently)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		default:
			fmt.Fprintf(w, "%s %s", r.URL.RequestURI(), r.Header.Get("X-Custom"))
		}
	})
	cfg := fetch.Config{Header: http.Header{"X-Custom": {"v"}, "Host": {"vhost.example"}}, UserAgent: "ua/1"}
	fast := newClient(t, cfg)
	cfg.Transport = &http.Transport{DisableCompression: true}
	slow := newClient(t, cfg)
	for _, p := range []string{"/a?b=c%20d", "/redirect", "/nocontent", "/notmodified", "/%7Euser/"} {
		a, errA := fast.Get(t.Context(), srv.URL+p)
		b, errB := slow.Get(t.Context(), srv.URL+p)
		for _, r := range []*fetch.Response{a, b} {
			r.Header.Del("Date")
			r.Elapsed = 0
		}
		if fmt.Sprint(errA) != fmt.Sprint(errB) || fmt.Sprintf("%+v", *a) != fmt.Sprintf("%+v", *b) {
			t.Errorf("%s:\nfast %v %+v\nnet/http %v %+v", p, errA, *a, errB, *b)
		}
	}
	cfg.Transport.(*http.Transport).CloseIdleConnections()
}

// TestFastPathRefusesBadHeaders: a header value holding a line break is
// refused, not written into the request.
func TestFastPathRefusesBadHeaders(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newClient(t, fetch.Config{Header: http.Header{"X-Evil": {"a\r\nInjected: yes"}}})
	if _, err := c.Get(t.Context(), srv.URL); err == nil || !strings.Contains(err.Error(), "invalid header") {
		t.Errorf("header with CRLF: %v", err)
	}
}

// TestFastPathBodyCaps: MaxBodySize holds on the fast path whatever the
// framing (length, chunks, until the server closes), and a body shorter
// than its Content-Length or cut mid-chunk is an error, never a complete
// page.
func TestFastPathBodyCaps(t *testing.T) {
	big := strings.Repeat("x", 5000)
	base := rawServer(t, func(line string) string {
		switch {
		case strings.Contains(line, "/length"):
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big)
		case strings.Contains(line, "/chunked"):
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(big), big)
		case strings.Contains(line, "/until-close"):
			return "HTTP/1.1 200 OK\r\n\r\n" + big
		case strings.Contains(line, "/short"):
			return "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nonly this"
		case strings.Contains(line, "/cut-chunk"):
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\nonly this"
		}
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	})
	capped := newClient(t, fetch.Config{MaxBodySize: 4999})
	exact := newClient(t, fetch.Config{MaxBodySize: 5000})
	for _, p := range []string{"/length", "/chunked", "/until-close"} {
		if _, err := capped.Get(t.Context(), base+p); !errors.Is(err, fetch.ErrTooLarge) {
			t.Errorf("%s over the cap: %v, want ErrTooLarge", p, err)
		}
		if resp, err := exact.Get(t.Context(), base+p); err != nil || len(resp.Body) != 5000 {
			t.Errorf("%s at the cap: %v, %d bytes", p, err, len(resp.Body))
		}
	}
	for _, p := range []string{"/short", "/cut-chunk"} {
		if _, err := exact.Get(t.Context(), base+p); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v, want io.ErrUnexpectedEOF", p, err)
		}
	}
}

// TestFastPathRedirectsAcrossSchemes: a redirect from http:// to https://
// and back leaves and rejoins the fast path with the same result, and the
// same credentials sent, as net/http alone.
func TestFastPathRedirectsAcrossSchemes(t *testing.T) {
	var plainURL string
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/back" {
			http.Redirect(w, r, plainURL+"/end", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "tls %s %s", r.URL.Path, r.Header.Get("Authorization"))
	}))
	defer secure.Close()
	plain := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-tls":
			http.Redirect(w, r, secure.URL+"/there", http.StatusMovedPermanently)
		case "/307":
			http.Redirect(w, r, secure.URL+"/back", http.StatusTemporaryRedirect)
		default:
			fmt.Fprintf(w, "plain %s %s", r.URL.Path, r.Header.Get("Authorization"))
		}
	})
	plainURL = plain.URL
	cfg := fetch.Config{InsecureSkipVerify: true, User: url.UserPassword("u", "p")}
	fast := newClient(t, cfg)
	tr := &http.Transport{DisableCompression: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	cfg.Transport = tr
	slow := newClient(t, cfg)
	for p, want := range map[string]string{"/to-tls": "tls /there Basic dTpw", "/307": "plain /end Basic dTpw"} {
		a, errA := fast.Get(t.Context(), plain.URL+p)
		b, errB := slow.Get(t.Context(), plain.URL+p)
		if errA != nil || errB != nil || string(a.Body) != want || string(b.Body) != want || a.FinalURL != b.FinalURL {
			t.Errorf("%s: fast path %v %s %q; net/http %v %s %q; want %q", p, errA, a.FinalURL, a.Body, errB, b.FinalURL, b.Body, want)
		}
	}
}
