package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crewrun/crew/crawl"
)

type crawlOptions struct {
	input, out, state         string
	depth, maxPages           int
	scope                     string
	include, exclude          string
	allowHosts                []string
	ignoreRobots, stripQuery  bool
	tracking                  []string
	jobs, perHost, retries    int
	delay, timeout            time.Duration
	userAgent, maxSize        string
	maxURLLength, maxPathDeep int
	maxPerHost, maxVariants   int
	clusterURL                string
	auth                      clusterAuth
	quiet                     bool
}

func newCrawlCommand(s Streams) *cobra.Command {
	var o crawlOptions
	cmd := &cobra.Command{
		Use:   "crawl [flags] URL...",
		Short: "Crawl a site politely, breadth-first, resumably",
		Long: `crew crawl walks a site breadth-first from the start URLs (arguments, or -i
FILE with one URL per line), fetching each page once, and writes to --out:

  pages.jsonl  one JSON object per fetch: url, status, depth, parent, title,
               bytes, links_found, elapsed_ms, error
  urls.txt     every canonical URL discovered, one per line

Links come from <a href>, <area href> and <link rel=next>, resolved against
the page and its <base href>; mailto:, javascript:, tel:, data: and links in
comments or scripts are skipped. URLs are canonicalised before
de-duplication: scheme and host lower-cased, default port and fragment
dropped, dot segments resolved, query parameters sorted, tracking
parameters (utm_*, fbclid, gclid; see --tracking-params) removed.

Politeness: robots.txt is honoured (rules and Crawl-delay for our user
agent) unless --ignore-robots. As RFC 9309 asks, a robots.txt that cannot be
fetched (network error, timeout, 5xx) disallows its whole site: the pages
skipped are recorded with that reason, and robots.txt is tried again a
minute later; a 4xx robots.txt allows everything. At most --per-host requests run at once per
host, --delay apart; 429 and 5xx responses are retried with backoff,
honouring Retry-After. Only http and https are fetched; bodies over
--max-size are cut off and recorded as errors; non-HTML responses are
recorded but not parsed.

Traps are bounded: URLs longer than --max-url-length, deeper than
--max-path-depth path segments, beyond --max-pages-per-host, or beyond
--max-query-variants distinct queries of one path are not followed.

The queue and the seen-set live on disk in the state directory (default
OUT/state), so memory stays flat on huge crawls, and an interrupted crawl
(Ctrl-C, or even kill -9) resumes where it stopped when run again with the
same --out (or --state): only the pages that were in flight are fetched
again. Start URLs are remembered, so resuming needs none.

With --cluster, pages are fetched and parsed by "crew worker" processes
connected to that server, while the queue stays here; --token or --nkey and
--tls-ca/--tls-cert/--tls-key authenticate as for crew worker.

Exit status: 0 the crawl ran to its end (pages that failed are recorded in
pages.jsonl, not counted as failures), 1 it stopped on an error, 2 usage,
130 interrupted (state saved; run again to resume).`,
		Example: `  crew crawl https://example.com/                  # depth 5, into ./crawl
  crew crawl --depth 2 --max-pages 1000 --out site https://example.com/docs/
  crew crawl --scope prefix --exclude '\.pdf$' https://example.com/blog/
  crew crawl --out site                            # resume an interrupted crawl
  crew crawl --cluster nats://10.0.0.1:4222 -j 64 https://example.com/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCrawl(cmd, s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.input, "input", "i", "", "read start URLs from `FILE` (- for stdin)")
	f.StringVarP(&o.out, "out", "o", "crawl", "output `DIR` for pages.jsonl and urls.txt")
	f.StringVar(&o.state, "state", "", "keep the queue and seen-set in `DIR` (default OUT/state)")
	f.IntVarP(&o.depth, "depth", "d", 5, "follow links this many levels from a start URL (-1 unlimited)")
	f.IntVarP(&o.maxPages, "max-pages", "n", 0, "stop after fetching this many pages (0 unlimited)")
	f.StringVar(&o.scope, "scope", "host", "follow links on the start URL's host, domain (with subdomains) or prefix")
	f.StringVar(&o.include, "include", "", "follow only URLs matching `REGEX`")
	f.StringVar(&o.exclude, "exclude", "", "do not follow URLs matching `REGEX`")
	f.StringSliceVar(&o.allowHosts, "allow-host", nil, "also follow links to `HOST` (repeatable)")
	f.BoolVar(&o.ignoreRobots, "ignore-robots", false, "do not read robots.txt")
	f.BoolVar(&o.stripQuery, "strip-query", false, "drop every query string from URLs")
	f.StringSliceVar(&o.tracking, "tracking-params", crawl.DefaultTrackingParams, "query parameters to drop (a trailing * matches any suffix)")
	f.IntVarP(&o.jobs, "jobs", "j", 16, "pages fetched at once in total")
	f.IntVar(&o.perHost, "per-host", 2, "pages fetched at once from one host")
	f.DurationVar(&o.delay, "delay", 0, "minimum gap between requests to one host (robots Crawl-delay if larger)")
	f.IntVar(&o.retries, "retries", 2, "retries after network errors, 429 and 5xx")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "limit for one request attempt, body included")
	f.StringVar(&o.userAgent, "user-agent", "crew-crawl/1", "User-Agent header, also the name matched in robots.txt")
	f.StringVar(&o.maxSize, "max-size", "10M", "largest page body accepted")
	f.IntVar(&o.maxURLLength, "max-url-length", 2048, "do not follow longer URLs")
	f.IntVar(&o.maxPathDeep, "max-path-depth", 32, "do not follow URLs with more path segments")
	f.IntVar(&o.maxPerHost, "max-pages-per-host", 0, "admit at most this many URLs per host (0 unlimited)")
	f.IntVar(&o.maxVariants, "max-query-variants", 100, "admit at most this many distinct queries per path")
	f.StringVar(&o.clusterURL, "cluster", "", "fetch on crew workers of the server at `URL` (nats://host:4222)")
	o.auth.register(f)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	return cmd
}

func runCrawl(cmd *cobra.Command, s Streams, o crawlOptions, args []string) error {
	cfg := crawl.Config{
		Out: o.out, State: o.state, Depth: o.depth, MaxPages: o.maxPages,
		Scope: crawl.Scope(o.scope), AllowHosts: o.allowHosts, IgnoreRobots: o.ignoreRobots,
		Workers: o.jobs, PerHost: o.perHost, Delay: o.delay, UserAgent: o.userAgent,
		Retries: o.retries, Timeout: o.timeout,
		Canon:        crawl.Canonicalizer{TrackingParams: o.tracking, StripQuery: o.stripQuery},
		MaxURLLength: o.maxURLLength, MaxPathDepth: o.maxPathDeep,
		MaxPagesPerHost: o.maxPerHost, MaxQueryVariants: o.maxVariants,
	}
	if cfg.State == "" {
		cfg.State = filepath.Join(o.out, "state")
	}
	switch {
	case o.jobs < 1 || o.perHost < 1:
		return usagef("-j and --per-host must be at least 1")
	case o.maxPages < 0 || o.maxPerHost < 0 || o.maxVariants < 0 || o.retries < 0:
		return usagef("limits must not be negative")
	case o.maxURLLength < 1 || o.maxPathDeep < 1:
		return usagef("--max-url-length and --max-path-depth must be at least 1")
	case o.timeout <= 0 || o.delay < 0:
		return usagef("--timeout must be positive and --delay not negative")
	}
	if o.retries == 0 {
		cfg.Retries = -1 // the flag's 0 means none; Config's zero means the default
	}
	if o.maxVariants == 0 {
		cfg.MaxQueryVariants = -1 // the flag's 0 means unlimited; Config's zero means the default
	}
	if o.depth < 0 {
		cfg.Depth = -1
	}
	switch cfg.Scope {
	case crawl.ScopeHost, crawl.ScopeDomain, crawl.ScopePrefix:
	default:
		return usagef("--scope %q: want host, domain or prefix", o.scope)
	}
	var err error
	if cfg.MaxBodySize, err = parseSize(o.maxSize); err != nil {
		return usagef("--max-size: %v", err)
	}
	for _, re := range []struct {
		flag, expr string
		dst        **regexp.Regexp
	}{{"--include", o.include, &cfg.Include}, {"--exclude", o.exclude, &cfg.Exclude}} {
		if re.expr == "" {
			continue
		}
		if *re.dst, err = regexp.Compile(re.expr); err != nil {
			return usagef("%s: %v", re.flag, err)
		}
	}
	if cfg.Start, err = startURLs(s, o.input, args); err != nil {
		return err
	}
	if len(cfg.Start) == 0 {
		if _, err := os.Stat(filepath.Join(cfg.State, "start.txt")); err != nil {
			return usagef("no start URL given and no crawl to resume in %s", cfg.State)
		}
	}
	ctx := cmd.Context()
	if o.clusterURL != "" {
		ex, err := o.auth.executor(ctx, o.clusterURL, o.jobs)
		if err != nil {
			return err
		}
		defer ex.Close()
		cfg.Executor = ex
	}
	start := time.Now()
	if !o.quiet {
		cfg.Progress = crawlProgress(s.Err, start)
	}
	st, err := crawl.Crawl(ctx, cfg)
	if !o.quiet {
		if f, ok := s.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprint(s.Err, "\r\033[K")
		}
		fmt.Fprintf(s.Err, "crew crawl: %d pages (%d errors) in %.1fs, %d URLs discovered, %d left in the queue; output in %s\n",
			st.Pages, st.Errors, time.Since(start).Seconds(), st.Discovered, st.Queued, o.out)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted; run the same command again to resume: %w", ctx.Err())
	}
	return err
}

// startURLs reads the start URLs from the arguments or from -i, reporting
// a bad one with its line number.
func startURLs(s Streams, input string, args []string) ([]string, error) {
	if input == "" {
		for i, a := range args {
			if _, err := (crawl.Canonicalizer{}).Canonical(nil, a); err != nil {
				return nil, usagef("argument %d %q: not an http(s) URL", i+1, a)
			}
		}
		return args, nil
	}
	if len(args) > 0 {
		return nil, usagef("give start URLs as arguments or with -i, not both")
	}
	var r io.Reader = s.In
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if _, err := (crawl.Canonicalizer{}).Canonical(nil, l); err != nil {
			return nil, usagef("%s:%d: %q: not an http(s) URL", input, n, l)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("%s: %v", input, err)
	}
	return out, nil
}

// crawlProgress reports progress on w: one rewritten line on a terminal,
// otherwise a line every ten seconds.
func crawlProgress(w io.Writer, start time.Time) func(crawl.Stats) {
	f, ok := w.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	var last time.Time
	return func(st crawl.Stats) {
		now := time.Now()
		if !tty && now.Sub(last) < 10*time.Second {
			return
		}
		last = now
		el := now.Sub(start).Seconds()
		line := fmt.Sprintf("crew crawl: %d pages, %d errors, %d queued, %.0f pages/s",
			st.Pages, st.Errors, st.Queued, float64(st.Pages)/max(el, 1e-3))
		if tty {
			fmt.Fprint(w, "\r\033[K"+line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
}
