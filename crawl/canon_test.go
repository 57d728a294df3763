package crawl_test

import (
	"net/url"
	"testing"

	"github.com/crewrun/crew/crawl"
)

func TestCanonical(t *testing.T) {
	base, _ := url.Parse("http://example.com/a/b/page.html")
	tests := []struct {
		in, want string
		strip    bool
	}{
		{"HTTP://Example.COM:80/x", "http://example.com/x", false},
		{"https://example.com:443", "https://example.com/", false},
		{"https://example.com:8443/", "https://example.com:8443/", false},
		{"c.html#frag", "http://example.com/a/b/c.html", false},
		{"../../c/./d/../e", "http://example.com/c/e", false},
		{"/x/?b=2&a=1&utm_source=tw&fbclid=1&gclid=2", "http://example.com/x/?a=1&b=2", false},
		{"/x?b=2&a=1", "http://example.com/x", true},
		{"//other.org/p", "http://other.org/p", false},
		{"/p%20q", "http://example.com/p%20q", false},
		{"/x?b=1&SID=9&sessionid=8&Session_Id=7&JSESSIONID=6&phpsessid=5", "http://example.com/x?b=1", false},
		{"/shop;jsessionid=A1B2/cart;JSessionID=C3?x=1", "http://example.com/shop/cart?x=1", false},
		{"/m;v=2;sid=1/n", "http://example.com/m;v=2/n", false},
	}
	for _, tt := range tests {
		u, err := crawl.Canonicalizer{StripQuery: tt.strip}.Canonical(base, tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := u.String(); got != tt.want {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"mailto:a@b.c", "javascript:void(0)", "tel:123", "data:text/plain,x", "ftp://x/"} {
		if _, err := (crawl.Canonicalizer{}).Canonical(base, bad); err == nil {
			t.Errorf("Canonical(%q) accepted", bad)
		}
	}
}

// FuzzCanonical checks that canonicalisation never panics and is idempotent.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"http://a.b/c?d=1#e", "HTTPS://X:443/./y/../z?utm_a=1&b", "/rel", "http://[::1]:80/"} {
		f.Add(s)
	}
	base, _ := url.Parse("http://example.com/dir/")
	f.Fuzz(func(t *testing.T, s string) {
		var c crawl.Canonicalizer
		u, err := c.Canonical(base, s)
		if err != nil {
			return
		}
		once := u.String()
		v, err := c.Canonical(nil, once)
		if err != nil {
			t.Fatalf("canonical %q of %q rejected: %v", once, s, err)
		}
		if twice := v.String(); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
	})
}

// TestSessionParamsOff: an empty SessionParams keeps session ids, an
// empty TrackingParams keeps tracking parameters.
func TestSessionParamsOff(t *testing.T) {
	c := crawl.Canonicalizer{SessionParams: []string{}, TrackingParams: []string{}}
	u, err := c.Canonical(nil, "http://e.org/a;jsessionid=1?utm_source=x&sid=2")
	if err != nil || u.String() != "http://e.org/a;jsessionid=1?sid=2&utm_source=x" {
		t.Errorf("Canonical = %v, %v", u, err)
	}
}
