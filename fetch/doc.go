// Package fetch downloads many URLs concurrently, correctly and
// resumably. It provides two layers:
//
//   - Client, a polite HTTP client: per-host concurrency and rate limits,
//     retries with jittered exponential backoff (network errors, 429, 5xx,
//     honouring Retry-After; never other 4xx), body size caps, redirect
//     limits with loop detection, http(s) only. crew crawl builds on it.
//   - Run, which fetches a stream of URLs with a bounded number of workers
//     in bounded memory, optionally saving bodies under a directory (see
//     Layout) and resuming partial downloads with HTTP Range.
//
// Client also takes curl's request options (headers, Basic credentials,
// .netrc, a cookie jar in the Netscape format, TLS trust, a proxy, a rate
// limit), and never shows the user info of a URL (see Redact).
//
// The smallest use:
//
//	c, err := fetch.NewClient(fetch.Config{Retries: 2})
//	if err != nil { ... }
//	resp, err := c.Get(ctx, "https://example.com/")
//	fmt.Println(resp.Status, fetch.Title(resp.Body, resp.Header.Get("Content-Type")))
package fetch
