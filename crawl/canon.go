package crawl

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"sort"
	"strings"
)

// ErrSkipURL reports a link the crawler never fetches: a non-http(s)
// scheme (mailto:, javascript:, tel:, data:, ...) or an unparsable URL.
var ErrSkipURL = errors.New("crawl: url not crawlable")

// DefaultTrackingParams are the query parameters Canonicalizer drops by
// default. A trailing '*' matches any suffix, so "utm_*" drops utm_source.
var DefaultTrackingParams = []string{"utm_*", "fbclid", "gclid"}

// DefaultSessionParams are the session-id parameters Canonicalizer drops by
// default, in the query (?sid=…) and as path parameters (;jsessionid=…).
// A site that puts a fresh session id in every link would otherwise make
// every page a new URL.
var DefaultSessionParams = []string{"sid", "sessionid", "session_id", "jsessionid", "phpsessid"}

// Canonicalizer turns a URL into the single spelling the crawler uses for
// de-duplication. The rules, applied in order:
//
//   - only http and https are accepted; anything else is ErrSkipURL;
//   - scheme and host are lower-cased, a default port (:80, :443) is dropped;
//   - the fragment is removed;
//   - dot segments are resolved and an empty path becomes "/";
//   - path parameters (";name=value" in a path segment) and query
//     parameters named in SessionParams are dropped;
//   - query parameters matching TrackingParams are dropped, the rest are
//     sorted by key (stable for repeated keys); with StripQuery the whole
//     query is dropped.
//
// Parameter names match without regard to case.
type Canonicalizer struct {
	TrackingParams []string // nil means DefaultTrackingParams; empty, none
	SessionParams  []string // nil means DefaultSessionParams; empty, none
	StripQuery     bool
}

// Canonical resolves ref against base (base may be nil) and returns its
// canonical form.
func (c Canonicalizer) Canonical(base *url.URL, ref string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSkipURL, err)
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	return c.canonicalURL(u)
}

// canonicalURL puts an absolute URL in canonical form, in place.
func (c Canonicalizer) canonicalURL(u *url.URL) (*url.URL, error) {
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q", ErrSkipURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: no host", ErrSkipURL)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return nil, fmt.Errorf("%w: no host name", ErrSkipURL)
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("%w: host %q", ErrSkipURL, host)
		}
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	u.Opaque = ""
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	clean := path.Clean(c.dropPathParams(p))
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if err := setEscapedPath(u, clean); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSkipURL, err)
	}
	u.ForceQuery = false
	if c.StripQuery {
		u.RawQuery = ""
	} else {
		u.RawQuery = escapeQuery(c.query(u.RawQuery))
	}
	return u, nil
}

// escapeQuery percent-encodes the spaces and control characters that
// url.Parse lets into a raw query, so that the canonical URL reads back
// as itself (a trailing space would otherwise be trimmed).
func escapeQuery(q string) string {
	if !strings.ContainsFunc(q, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return q
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = p, ""
	if u.EscapedPath() != escaped {
		u.RawPath = escaped
	}
	return nil
}

func (c Canonicalizer) sessionParams() []string {
	if c.SessionParams == nil {
		return DefaultSessionParams
	}
	return c.SessionParams
}

// dropPathParams removes session-id path parameters (";jsessionid=…")
// from each segment of an escaped path.
func (c Canonicalizer) dropPathParams(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	session := c.sessionParams()
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		parts := strings.Split(seg, ";")
		if len(parts) == 1 {
			continue
		}
		kept := parts[:1]
		for _, param := range parts[1:] {
			key, _, _ := strings.Cut(param, "=")
			if k, err := url.PathUnescape(key); err == nil {
				key = k
			}
			if !isTracking(key, session) {
				kept = append(kept, param)
			}
		}
		segs[i] = strings.Join(kept, ";")
	}
	return strings.Join(segs, "/")
}

func (c Canonicalizer) query(raw string) string {
	if raw == "" {
		return ""
	}
	tracking := c.TrackingParams
	if tracking == nil {
		tracking = DefaultTrackingParams
	}
	tracking = append(tracking[:len(tracking):len(tracking)], c.sessionParams()...)
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == "" {
			continue
		}
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
		if !isTracking(key, tracking) {
			kept = append(kept, p)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		ki, _, _ := strings.Cut(kept[i], "=")
		kj, _, _ := strings.Cut(kept[j], "=")
		return ki < kj
	})
	return strings.Join(kept, "&")
}

// isTracking reports whether key matches one of patterns, ignoring case;
// a pattern ending in '*' matches any key it prefixes.
func isTracking(key string, patterns []string) bool {
	key = strings.ToLower(key)
	for _, p := range patterns {
		p = strings.ToLower(p)
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(key, prefix) {
				return true
			}
		} else if key == p {
			return true
		}
	}
	return false
}
