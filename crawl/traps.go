package crawl

import (
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// maxPatterns bounds the patterns remembered for MaxPatternDepth; a site
// with more distinct patterns than this is still bounded by the others.
const maxPatterns = 100_000

// follow applies the trap limits, the scope and the filters to a canonical
// link found at depth. trapped says a trap limit refused it (rather than
// the scope or a filter).
func (k *crawler) follow(s string, depth int) (ok, trapped bool) {
	if len(s) > k.cfg.MaxURLLength {
		return false, true
	}
	host, path, query, ok := splitCanonical(s)
	if !ok || !k.inScope(s, host) {
		return false, false
	}
	if k.cfg.Include != nil && !k.cfg.Include.MatchString(s) {
		return false, false
	}
	if k.cfg.Exclude != nil && k.cfg.Exclude.MatchString(s) {
		return false, false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > k.cfg.MaxPathDepth {
		return false, true
	}
	if k.cfg.MaxSegmentRepeats > 0 && repeats(segs) > k.cfg.MaxSegmentRepeats {
		return false, true
	}
	if k.cfg.MaxPatternDepth > 0 {
		k.patBuf = appendPattern(k.patBuf[:0], host, path, query)
		first, seen := k.patterns[string(k.patBuf)]
		switch {
		case !seen && len(k.patterns) < maxPatterns:
			p := string(k.patBuf)
			k.patterns[p] = depth
			k.newPatterns = append(k.newPatterns, p)
		case seen && depth-first > k.cfg.MaxPatternDepth:
			return false, true
		}
	}
	return true, false
}

// repeats returns how often the most frequent path segment occurs.
func repeats(segs []string) int {
	most := 0
	for i, s := range segs {
		if s == "" {
			continue
		}
		n := 1
		for _, o := range segs[i+1:] {
			if o == s {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// appendPattern appends a URL's pattern to b: the URL with its numbers
// taken out — host, path and query keys kept, every run of digits
// replaced by '#' — so that /cal/2024/05 and /cal/2031/11, or ?y=2001 and
// ?y=3006, share one pattern.
func appendPattern(b []byte, host, path, query string) []byte {
	b = append(b, host...)
	digits := func(s string) {
		in := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= '0' && c <= '9' {
				if !in {
					b = append(b, '#')
				}
				in = true
				continue
			}
			in = false
			b = append(b, c)
		}
	}
	digits(path)
	if query != "" {
		b = append(b, '?')
		digits(query)
	}
	return b
}

// inScope reports whether the canonical URL u, on host, is in the crawl's
// scope or on an allowed host.
func (k *crawler) inScope(u, host string) bool {
	name := hostname(host)
	for _, h := range k.cfg.AllowHosts {
		if strings.EqualFold(h, host) || strings.EqualFold(h, name) {
			return true
		}
	}
	for _, s := range k.scopes {
		switch k.cfg.Scope {
		case ScopeHost:
			if host == s.Host {
				return true
			}
		case ScopeDomain:
			d, err := publicsuffix.EffectiveTLDPlusOne(s.Hostname())
			if err != nil {
				d = s.Hostname()
			}
			if name == d || strings.HasSuffix(name, "."+d) {
				return true
			}
		case ScopePrefix:
			if strings.HasPrefix(u, s.String()) {
				return true
			}
		}
	}
	return false
}

// splitCanonical splits a canonical URL (scheme://host/path?query, as
// Canonicalizer writes it) into its host, escaped path and query.
func splitCanonical(s string) (host, path, query string, ok bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return "", "", "", false
	}
	rest := s[i+3:]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return "", "", "", false
	}
	host, path = rest[:j], rest[j:]
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path, query = path[:q], path[q+1:]
	}
	return host, path, query, host != ""
}

// hostname is host without its port (and an IPv6 address without its
// brackets), as url.URL.Hostname returns it.
func hostname(host string) string {
	u := url.URL{Host: host}
	return u.Hostname()
}

func hostOf(s string) string {
	// Canonical URLs: scheme "://" host [path...].
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if j := strings.IndexAny(rest, "/?"); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	return ""
}
