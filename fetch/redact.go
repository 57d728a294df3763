package fetch

import (
	"net/url"
	"strings"
)

// Redact returns rawURL with any user name and password replaced by
// "REDACTED", for showing a URL in results, errors and logs: credentials
// in a URL (https://user:token@host/) are used for the request but never
// written out. A URL without user info is returned unchanged.
func Redact(rawURL string) string {
	at := strings.IndexByte(rawURL, '@')
	if at < 0 {
		return rawURL // the common case, without parsing
	}
	u, err := url.Parse(rawURL)
	if err == nil {
		if u.User == nil {
			return rawURL
		}
		u.User = url.User("REDACTED")
		return u.String()
	}
	// Unparsable: cut whatever sits between "//" and the last "@" of the
	// authority, which is where user info would be.
	start := strings.Index(rawURL, "//")
	if start < 0 || start > at {
		return rawURL
	}
	end := len(rawURL)
	if i := strings.IndexAny(rawURL[start+2:], "/?#"); i >= 0 {
		end = start + 2 + i
	}
	if at = strings.LastIndexByte(rawURL[:end], '@'); at < start {
		return rawURL
	}
	return rawURL[:start+2] + "REDACTED" + rawURL[at:]
}
