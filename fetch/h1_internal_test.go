package fetch

import (
	"net/http"
	"net/url"
	"testing"
)

// TestFastPathTaken: the default transport sends plain http:// GETs on
// the fast path, and https, proxied requests and request bodies to
// net/http.
func TestFastPathTaken(t *testing.T) {
	proxied, _ := url.Parse("http://127.0.0.1:3128")
	plain := newTransport(&Config{PerHost: 2}).(*h1Transport)
	viaProxy := newTransport(&Config{PerHost: 2, Proxy: proxied}).(*h1Transport)
	req := func(method, u string) *http.Request {
		r, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		tr   *h1Transport
		req  *http.Request
		fast bool
	}{
		{plain, req("GET", "http://127.0.0.1:1/x"), true},
		{plain, req("GET", "https://127.0.0.1:1/x"), false},
		{plain, req("POST", "http://127.0.0.1:1/x"), false},
		{viaProxy, req("GET", "http://127.0.0.1:1/x"), false},
	} {
		if got := tc.tr.fast(tc.req); got != tc.fast {
			t.Errorf("fast(%s %s) = %v", tc.req.Method, tc.req.URL, got)
		}
	}
}
