package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crewrun/crew/crawl"
	"github.com/crewrun/crew/fetch"
)

type crawlOptions struct {
	input, out, state          string
	depth, maxPages            int
	scope                      string
	include, exclude           string
	allowHosts                 []string
	ignoreRobots, stripQuery   bool
	tracking, session          []string
	jobs, perHost, retries     int
	maxRedirects               int
	delay, timeout             seconds
	userAgent, maxSize         string
	maxURLLength, maxPathDeep  int
	maxRepeats, maxPatternDeep int
	maxPerHost, maxVariants    int
	save                       string
	layout                     fetch.Layout
	clusterURL                 string
	auth                       clusterAuth
	quiet                      bool
}

func newCrawlCommand(s Streams) *cobra.Command {
	var o crawlOptions
	cmd := &cobra.Command{
		Use:   "crawl [flags] URL...",
		Short: "Crawl a site politely, breadth-first, resumably",
		Long: `crew crawl walks a site breadth-first from the start URLs (arguments, or -i
FILE with one URL per line; a line that is not an http(s) URL is reported
with its number and skipped), fetching each page once, and writes to --out:

  pages.jsonl  one JSON object per page visited: url, final_url (for a
               redirect), status, depth, parent, title, bytes, links_found,
               elapsed_ms, error
  urls.txt     every URL admitted to the crawl (to be visited, or visited),
               once each, in the order found; links not followed (out of
               scope, filtered, beyond --depth or refused by a trap limit)
               are not in it

Links come from <a href>, <area href> and <link rel=next>, resolved against
the page and its <base href>; mailto:, javascript:, tel:, data: and links in
comments or scripts are skipped. URLs are canonicalised before
de-duplication: scheme and host lower-cased, default port and fragment
dropped, dot segments resolved, query parameters sorted, tracking
parameters (utm_*, fbclid, gclid; --tracking-params) and session ids (sid,
sessionid, session_id, jsessionid, phpsessid in any case, in the query or as
;jsessionid= path parameters; --session-params) removed.

Redirects are followed through the crawl's own queue, one hop at a time: each
hop is a URL visited once, with a row of its own whose final_url is where the
chain ends and whose title is that page's; a chain that ends on a page
already visited does not fetch it again. At most --max-redirects hops.

Politeness: robots.txt is honoured (rules and Crawl-delay for our user
agent) unless --ignore-robots. As RFC 9309 asks, a robots.txt that cannot be
fetched (network error, timeout, 5xx) disallows its whole site: the pages
skipped are recorded with that reason and visited again on the next run; a
4xx robots.txt allows everything. At most --per-host requests run at once
per host; with --delay (or a Crawl-delay), one at a time, each starting
at least that long after the previous one to the host ended; 429 and 5xx responses are retried with backoff,
honouring Retry-After. Only http and https are fetched; bodies over
--max-size are cut off and recorded as errors; non-HTML responses are
recorded but not parsed.

Traps are bounded by default, even with --depth -1; which limit stops which:
  endless calendars and next-links   --depth; beyond it --max-pattern-depth:
    (/cal/2024/05 -> /cal/2024/06,     a URL more links deeper than the
    ?y=2001 -> ?y=2002 ...)            first URL of its pattern (same host,
                                       path and query keys, numbers ignored)
                                       is not followed; query calendars also
                                       meet --max-query-variants
  ever-deeper paths (/a/x/x/x/...)   --max-segment-repeats (one segment at
                                     most 3 times), --max-path-depth,
                                     --max-url-length
  session ids in URLs                dropped (--session-params), so they
                                     cannot multiply pages
  query permutations and facets      parameters sorted, so an order is one
                                     URL; --max-query-variants distinct
                                     queries per path
  anything else on one host          --max-pages-per-host, --max-pages

State: the queue and the seen-set live on disk in the state directory
(default OUT/state), so memory stays flat on huge crawls. An interrupted
crawl (Ctrl-C, or even kill -9) resumes exactly where it stopped when run
again with the same --out (or --state): after kill -9 only the pages in
flight or not yet committed (at most 1.5 x -j) are fetched again, after
Ctrl-C only those in flight; nothing is recorded twice. Start URLs are
remembered, so resuming needs none. Running a finished crawl again extends
it: a larger --depth follows the links found beyond the old one, new start
URLs are added, and --max-pages counts the whole crawl's pages (5 then 20
visits 20 in all). When nothing is left it says so; to start over, delete
OUT/state or use another --out. Only one crawl at a time may use a
directory: a second one fails at once, naming the process that has it.

Mirror: --save DIR keeps the body of every page fetched with a 2xx status
under DIR (--layout tree, the default, as wget -r: HOST/PATH, index.html for
a path ending in /; --layout flat as crew fetch --dir), and its row names the
file ("saved"). Files are written whole or not at all (temporary name, then
rename); nothing is written outside DIR, even through a symbolic link in it;
a resumed crawl keeps the files already there, a new crawl replaces them.
With --cluster the bodies travel back from the workers; one over 4 MiB is
recorded as an error instead of saved.

With --cluster, pages are fetched and parsed by "crew worker" processes
connected to that server, while the queue stays here; --token or --nkey and
--tls-ca/--tls-cert/--tls-key authenticate as for crew worker.

Exit status: 0 the crawl ran to its end (pages that failed are recorded in
pages.jsonl, not counted as failures), 1 it stopped on an error, an -i line
was skipped, or the directory is in use, 2 usage, 4 a start URL's host did
not answer (wget's "network failure"; the rest is still crawled), 130
interrupted (state saved; run again to resume).`,
		Example: `  crew crawl https://example.com/                  # depth 5, into ./crawl
  crew crawl --depth 2 --max-pages 1000 --out site https://example.com/docs/
  crew crawl --depth 4 --out site                  # go two levels deeper
  crew crawl --scope prefix --exclude '\.pdf$' https://example.com/blog/
  crew crawl --out site                            # resume an interrupted crawl
  crew crawl --save mirror https://example.com/    # a site copy, like wget -r
  crew crawl --session-params '' https://example.com/   # keep session ids
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
	f.IntVarP(&o.maxPages, "max-pages", "n", 0, "stop when the crawl has visited this many pages in all, earlier runs included (0 unlimited)")
	f.StringVar(&o.scope, "scope", "host", "follow links on the start URL's host, domain (with subdomains) or prefix")
	f.StringVar(&o.include, "include", "", "follow only URLs matching `REGEX`")
	f.StringVar(&o.exclude, "exclude", "", "do not follow URLs matching `REGEX`")
	f.StringSliceVar(&o.allowHosts, "allow-host", nil, "also follow links to `HOST` (repeatable)")
	f.BoolVar(&o.ignoreRobots, "ignore-robots", false, "do not read robots.txt")
	f.BoolVar(&o.stripQuery, "strip-query", false, "drop every query string from URLs")
	f.StringSliceVar(&o.tracking, "tracking-params", crawl.DefaultTrackingParams, "query parameters to drop (a trailing * matches any suffix; '' for none)")
	f.StringSliceVar(&o.session, "session-params", crawl.DefaultSessionParams, "session-id parameters to drop from queries and ;paths (any case; '' for none)")
	f.IntVarP(&o.jobs, "jobs", "j", 16, "pages fetched at once in total")
	f.IntVar(&o.perHost, "per-host", 2, "pages fetched at once from one host")
	f.Var(&o.delay, "delay", "pause between requests to one host, in `seconds` or a duration (robots Crawl-delay if larger)")
	f.IntVar(&o.retries, "retries", 2, "retries after network errors, 429 and 5xx")
	f.IntVar(&o.maxRedirects, "max-redirects", 10, "longest redirect chain followed (0: redirects recorded, not followed)")
	o.timeout = seconds(30 * time.Second)
	f.Var(&o.timeout, "timeout", "limit for one request attempt, body included, in `seconds` or a duration")
	f.StringVar(&o.userAgent, "user-agent", "crew-crawl/1", "User-Agent header, also the name matched in robots.txt")
	f.StringVar(&o.maxSize, "max-size", "10M", "largest page body accepted")
	f.IntVar(&o.maxURLLength, "max-url-length", 2048, "do not follow longer URLs")
	f.IntVar(&o.maxPathDeep, "max-path-depth", 32, "do not follow URLs with more path segments")
	f.IntVar(&o.maxRepeats, "max-segment-repeats", 3, "do not follow URLs with one path segment more often than this (0 no limit)")
	f.IntVar(&o.maxPatternDeep, "max-pattern-depth", 100, "do not follow a URL more than this many links deeper than the first of its pattern (0 no limit)")
	f.IntVar(&o.maxPerHost, "max-pages-per-host", 0, "admit at most this many URLs per host (0 unlimited)")
	f.IntVar(&o.maxVariants, "max-query-variants", 100, "admit at most this many distinct queries per path (0 unlimited)")
	f.StringVar(&o.save, "save", "", "keep page bodies under `DIR` (a mirror of the site)")
	o.layout = fetch.LayoutTree
	f.Var(&o.layout, "layout", "file layout under --save: tree (HOST/PATH, as wget -r) or flat (as crew fetch --dir)")
	f.StringVar(&o.clusterURL, "cluster", "", "fetch on crew workers of the server at `URL` (nats://host:4222)")
	o.auth.register(f)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress or summary on stderr")
	return cmd
}

func runCrawl(cmd *cobra.Command, s Streams, o crawlOptions, args []string) error {
	cfg := crawl.Config{
		Out: o.out, State: o.state, Depth: o.depth, MaxPages: o.maxPages,
		Scope: crawl.Scope(o.scope), AllowHosts: o.allowHosts, IgnoreRobots: o.ignoreRobots,
		Workers: o.jobs, PerHost: o.perHost, Delay: time.Duration(o.delay), UserAgent: o.userAgent,
		Retries: o.retries, Timeout: time.Duration(o.timeout), MaxRedirects: o.maxRedirects,
		Canon: crawl.Canonicalizer{
			TrackingParams: nonNil(o.tracking), SessionParams: nonNil(o.session), StripQuery: o.stripQuery,
		},
		MaxURLLength: o.maxURLLength, MaxPathDepth: o.maxPathDeep,
		MaxSegmentRepeats: unlimitedIfZero(o.maxRepeats), MaxPatternDepth: unlimitedIfZero(o.maxPatternDeep),
		MaxPagesPerHost: o.maxPerHost, MaxQueryVariants: unlimitedIfZero(o.maxVariants),
		Save: o.save, Layout: o.layout,
	}
	if cfg.State == "" {
		cfg.State = filepath.Join(o.out, "state")
	}
	switch {
	case o.jobs < 1 || o.perHost < 1:
		return usagef("-j and --per-host must be at least 1")
	case o.maxPages < 0 || o.maxPerHost < 0 || o.maxVariants < 0 || o.retries < 0 || o.maxRepeats < 0 || o.maxPatternDeep < 0:
		return usagef("limits must not be negative")
	case o.maxURLLength < 1 || o.maxPathDeep < 1:
		return usagef("--max-url-length and --max-path-depth must be at least 1")
	case o.maxRedirects < 0:
		return usagef("--max-redirects must not be negative")
	case o.timeout <= 0 || o.delay < 0:
		return usagef("--timeout must be positive and --delay not negative")
	case cmd.Flags().Changed("layout") && o.save == "":
		return usagef("--layout applies to --save DIR; give --save too")
	}
	if o.retries == 0 {
		cfg.Retries = -1 // the flag's 0 means none; Config's zero means the default
	}
	if o.maxRedirects == 0 {
		cfg.MaxRedirects = -1
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
	var skipped int
	if cfg.Start, skipped, err = startURLs(s, o.input, args); err != nil {
		return err
	}
	if len(cfg.Start) == 0 && skipped == 0 {
		if _, err := os.Stat(filepath.Join(cfg.State, "start.txt")); err != nil {
			return usagef("no start URL given and no crawl to resume in %s", cfg.State)
		}
	}
	ctx := cmd.Context()
	if o.clusterURL != "" {
		ex, err := o.auth.executor(ctx, s.Err, o.clusterURL, o.jobs)
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
	if !o.quiet && !errors.Is(err, crawl.ErrLocked) && !errors.Is(err, crawl.ErrBadConfig) {
		if f, ok := s.Err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprint(s.Err, "\r\033[K")
		}
		crawlSummary(s.Err, st, o, time.Since(start))
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("interrupted; run the same command again to resume: %w", ctx.Err())
	case err != nil:
		return err
	case skipped > 0:
		return fmt.Errorf("%d line(s) of %s skipped (reported above)", skipped, o.input)
	}
	return nil
}

// crawlSummary prints what the run did and where the crawl stands.
func crawlSummary(w io.Writer, st crawl.Stats, o crawlOptions, took time.Duration) {
	depth := func() string {
		if st.Held == 0 {
			return ""
		}
		return fmt.Sprintf("; %d links found beyond --depth %d: run again with a larger --depth to follow them", st.Held, o.depth)
	}
	switch {
	case st.Done:
		fmt.Fprintf(w, "crew crawl: nothing left to crawl in %s: all %d URLs in urls.txt visited (%d pages)%s. "+
			"To start over, delete %s or use another --out.\n",
			o.out, st.TotalURLs, st.TotalPages, depth(), stateDir(o))
		return
	case st.AtMaxPages && st.Pages == 0:
		fmt.Fprintf(w, "crew crawl: the crawl has visited %d pages, its --max-pages; %d URLs are left queued: "+
			"run again with a larger --max-pages to go on.\n", st.TotalPages, st.Queued)
		return
	}
	fmt.Fprintf(w, "crew crawl: %d pages in %.1fs (%d errors, %d skipped by robots.txt), %d new URLs",
		st.Pages, took.Seconds(), st.Errors, st.Skipped, st.Discovered)
	if st.Trapped > 0 {
		fmt.Fprintf(w, ", %d links refused by trap limits", st.Trapped)
	}
	if st.Retry > 0 {
		fmt.Fprintf(w, "; %d pages whose host or robots.txt did not answer will be visited again on the next run", st.Retry)
	}
	fmt.Fprintf(w, "\ncrew crawl: in all %d pages, %d URLs in urls.txt, %d left in the queue%s; output in %s\n",
		st.TotalPages, st.TotalURLs, st.Queued, depth(), o.out)
	if st.AtMaxPages && st.Queued > 0 {
		fmt.Fprintf(w, "crew crawl: stopped at --max-pages %d; run again with a larger --max-pages to go on\n", o.maxPages)
	}
}

func stateDir(o crawlOptions) string {
	if o.state != "" {
		return o.state
	}
	return filepath.Join(o.out, "state")
}

// nonNil keeps an empty list given on the command line (”) empty: the
// crawl's nil means its default.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// unlimitedIfZero maps a flag's 0 ("no limit") to the Config's negative
// value (its zero takes the default).
func unlimitedIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// startURLs reads the start URLs from the arguments or from -i. A bad
// argument is a usage error; a bad line of -i is reported with its number
// and skipped, as crew fetch does, and counted in skipped.
func startURLs(s Streams, input string, args []string) (urls []string, skipped int, err error) {
	if input == "" {
		for i, a := range args {
			if _, err := (crawl.Canonicalizer{}).Canonical(nil, a); err != nil {
				return nil, 0, usagef("argument %d %q: not an http(s) URL", i+1, a)
			}
		}
		return args, 0, nil
	}
	if len(args) > 0 {
		return nil, 0, usagef("give start URLs as arguments or with -i, not both")
	}
	var r io.Reader = s.In
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return nil, 0, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	for in := range fetch.ReadInputs(r) {
		if in.Err != nil && !errors.Is(in.Err, fetch.ErrBadInput) {
			return nil, 0, fmt.Errorf("%s: %w", input, in.Err) // reading failed
		}
		if in.Err == nil {
			if _, err := (crawl.Canonicalizer{}).Canonical(nil, in.URL); err != nil {
				in.Err = errors.New("not an http(s) URL")
			}
		}
		if in.Err != nil {
			fmt.Fprintf(s.Err, "crew crawl: %s:%d: %q: %v (line skipped)\n", input, in.Line, in.URL, in.Err)
			skipped++
			continue
		}
		urls = append(urls, in.URL)
	}
	return urls, skipped, nil
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
		line := fmt.Sprintf("crew crawl: %d pages, %d errors, %d skipped, %d queued, %.0f pages/s",
			st.Pages, st.Errors, st.Skipped, st.Queued, float64(st.Pages)/max(el, 1e-3))
		if tty {
			fmt.Fprint(w, "\r\033[K"+line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
}
