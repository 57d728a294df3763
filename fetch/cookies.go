package fetch

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// CookieJar is an http.CookieJar that reads and writes the Netscape cookie
// file format of curl (-b FILE, -c FILE) and wget (--load-cookies,
// --save-cookies): one cookie per line, seven fields separated by tabs,
//
//	DOMAIN  SUBDOMAINS  PATH  SECURE  EXPIRES  NAME  VALUE
//
// where DOMAIN starts with "." when SUBDOMAINS is TRUE, SECURE is TRUE or
// FALSE, EXPIRES is a Unix time (0 for a session cookie), and a line
// starting with "#HttpOnly_" holds an HttpOnly cookie; other lines starting
// with "#", and blank lines, are comments. Cookies follow RFC 6265: a
// Domain attribute that is a public suffix (co.uk) or does not cover the
// request's host is refused; Secure cookies go only over https.
// A CookieJar is safe for concurrent use.
type CookieJar struct {
	mu      sync.Mutex
	cookies map[cookieKey]*jarCookie
	seq     uint64 // creation order, for sorting
	now     func() time.Time
}

type cookieKey struct{ domain, path, name string }

type jarCookie struct {
	domain   string // lower case, no leading dot
	hostOnly bool
	path     string
	secure   bool
	httpOnly bool
	expires  time.Time // zero: a session cookie
	name     string
	value    string
	seq      uint64
}

// NewCookieJar returns an empty jar.
func NewCookieJar() *CookieJar {
	return &CookieJar{cookies: map[cookieKey]*jarCookie{}, now: time.Now}
}

// SetCookies stores the cookies a response from u set.
func (j *CookieJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	host := canonicalHost(u.Host)
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	for _, c := range cookies {
		e := &jarCookie{name: c.Name, value: c.Value, secure: c.Secure, httpOnly: c.HttpOnly}
		if !cookieDomain(e, host, c.Domain) {
			continue
		}
		e.path = c.Path
		if e.path == "" || e.path[0] != '/' {
			e.path = defaultCookiePath(u.Path)
		}
		if strings.ContainsAny(e.domain+e.path+e.name+e.value, "\t\r\n") {
			continue // cannot be written to a cookie file, nor sent
		}
		switch {
		case c.MaxAge < 0:
			e.expires = now.Add(-time.Second)
		case c.MaxAge > 0:
			e.expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			e.expires = c.Expires
		}
		j.put(e, now)
	}
}

// put stores e, or deletes its key when e has expired.
func (j *CookieJar) put(e *jarCookie, now time.Time) {
	k := cookieKey{e.domain, e.path, e.name}
	if !e.expires.IsZero() && !e.expires.After(now) {
		delete(j.cookies, k)
		return
	}
	if old, ok := j.cookies[k]; ok {
		e.seq = old.seq
	} else {
		j.seq++
		e.seq = j.seq
	}
	j.cookies[k] = e
}

// cookieDomain sets e's domain from the cookie's Domain attribute, as
// RFC 6265 §5.3 steps 4–6 say, or reports false to refuse the cookie.
func cookieDomain(e *jarCookie, host, attr string) bool {
	d := strings.ToLower(strings.TrimPrefix(attr, "."))
	if d == "" {
		e.domain, e.hostOnly = host, true
		return host != ""
	}
	if d == host {
		e.domain = d
		return true
	}
	if net.ParseIP(host) != nil || !strings.HasSuffix(host, "."+d) {
		return false // an IP address, or a domain that does not cover host
	}
	if ps, _ := publicsuffix.PublicSuffix(d); ps == d {
		return false // a "supercookie" for a whole public suffix
	}
	e.domain = d
	return true
}

// Cookies returns the cookies to send with a request to u, longest path
// first, then oldest first (RFC 6265 §5.4).
func (j *CookieJar) Cookies(u *url.URL) []*http.Cookie {
	host := canonicalHost(u.Host)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	var match []*jarCookie
	for k, e := range j.cookies {
		if !e.expires.IsZero() && !e.expires.After(now) {
			delete(j.cookies, k)
			continue
		}
		if e.secure && u.Scheme != "https" {
			continue
		}
		if e.hostOnly && host != e.domain || !e.hostOnly && host != e.domain && !strings.HasSuffix(host, "."+e.domain) {
			continue
		}
		if !pathMatch(path, e.path) {
			continue
		}
		match = append(match, e)
	}
	slices.SortFunc(match, func(a, b *jarCookie) int {
		if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]*http.Cookie, len(match))
	for i, e := range match {
		out[i] = &http.Cookie{Name: e.name, Value: e.value, Quoted: needsQuotes(e.value)}
	}
	return out
}

// needsQuotes reports whether a value only travels in double quotes:
// net/http drops a cookie whose value has a space or comma otherwise.
func needsQuotes(v string) bool { return strings.ContainsAny(v, " ,") }

func canonicalHost(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// defaultCookiePath is RFC 6265 §5.1.4's default-path of a request path.
func defaultCookiePath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if p == "" || p[0] != '/' || i <= 0 {
		return "/"
	}
	return p[:i]
}

// pathMatch is RFC 6265 §5.1.4's path-match.
func pathMatch(reqPath, cookiePath string) bool {
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return len(reqPath) == len(cookiePath) || strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// Load adds the cookies of a Netscape cookie file; expired ones are
// skipped. An error names the line. Lines with six fields (an empty
// value, as some tools write them) are accepted.
func (j *CookieJar) Load(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		httpOnly := false
		if rest, ok := strings.CutPrefix(line, "#HttpOnly_"); ok {
			line, httpOnly = rest, true
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) == 6 {
			f = append(f, "")
		}
		if len(f) != 7 {
			return fmt.Errorf("cookie file line %d: %d tab-separated fields, want 7", n, len(f))
		}
		exp, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil || exp < 0 {
			return fmt.Errorf("cookie file line %d: expiry %q is not a Unix time", n, f[4])
		}
		sub, err1 := parseTrue(f[1])
		secure, err2 := parseTrue(f[3])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("cookie file line %d: want TRUE or FALSE, got %q and %q", n, f[1], f[3])
		}
		domain := strings.ToLower(f[0])
		e := &jarCookie{
			domain:   strings.TrimPrefix(domain, "."),
			hostOnly: !sub && !strings.HasPrefix(domain, "."),
			path:     f[2],
			secure:   secure,
			httpOnly: httpOnly,
			name:     f[5],
			value:    f[6],
		}
		if e.domain == "" || e.path == "" || e.path[0] != '/' {
			return fmt.Errorf("cookie file line %d: empty domain or a path not starting with /", n)
		}
		if exp > 0 {
			e.expires = time.Unix(exp, 0)
		}
		j.put(e, now)
	}
	return sc.Err()
}

func parseTrue(s string) (bool, error) {
	switch strings.ToUpper(s) {
	case "TRUE":
		return true, nil
	case "FALSE":
		return false, nil
	}
	return false, fmt.Errorf("not TRUE or FALSE: %q", s)
}

// Save writes the jar's cookies, session cookies included (with expiry 0,
// as curl -c does), in the Netscape format, sorted for stable output.
func (j *CookieJar) Save(w io.Writer) error {
	j.mu.Lock()
	var all []*jarCookie
	now := j.now()
	for _, e := range j.cookies {
		if e.expires.IsZero() || e.expires.After(now) {
			all = append(all, e)
		}
	}
	j.mu.Unlock()
	slices.SortFunc(all, func(a, b *jarCookie) int {
		return cmp.Or(strings.Compare(a.domain, b.domain), strings.Compare(a.path, b.path), strings.Compare(a.name, b.name))
	})
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, "# Netscape HTTP Cookie File\n# Written by crew fetch. Edit at your own risk.\n\n")
	for _, e := range all {
		domain, sub := e.domain, "FALSE"
		if !e.hostOnly {
			domain, sub = "."+e.domain, "TRUE"
		}
		if e.httpOnly {
			domain = "#HttpOnly_" + domain
		}
		var exp int64
		if !e.expires.IsZero() {
			exp = e.expires.Unix()
		}
		fmt.Fprintf(bw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", domain, sub, e.path, strings.ToUpper(strconv.FormatBool(e.secure)), exp, e.name, e.value)
	}
	return bw.Flush()
}
