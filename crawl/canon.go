package crawl

import (
	"errors"
	"fmt"
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

// Canonicalizer turns a URL into the single spelling the crawler uses for
// de-duplication. The rules, applied in order:
//
//   - only http and https are accepted; anything else is ErrSkipURL;
//   - scheme and host are lower-cased, a default port (:80, :443) is dropped;
//   - the fragment is removed;
//   - dot segments are resolved and an empty path becomes "/";
//   - query parameters matching TrackingParams are dropped, the rest are
//     sorted by key (stable for repeated keys); with StripQuery the whole
//     query is dropped.
type Canonicalizer struct {
	TrackingParams []string // nil means DefaultTrackingParams
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
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q", ErrSkipURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: no host", ErrSkipURL)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
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
	clean := path.Clean(p)
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
		u.RawQuery = c.query(u.RawQuery)
	}
	return u, nil
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

func (c Canonicalizer) query(raw string) string {
	if raw == "" {
		return ""
	}
	tracking := c.TrackingParams
	if tracking == nil {
		tracking = DefaultTrackingParams
	}
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

func isTracking(key string, patterns []string) bool {
	key = strings.ToLower(key)
	for _, p := range patterns {
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
