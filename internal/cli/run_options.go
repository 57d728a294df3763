package cli

// Turning crew run's flags and operands into run.Options: what each
// GNU parallel option means, checked before anything runs.

import (
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/crewrun/crew/run"
)

// options turns the flags and the rest of the command line into
// run.Options.
func (f *runFlags) options(s Streams, rest []string) (run.Options, error) {
	o := run.Options{
		KeepOrder: f.keep && !f.noKeep, LineBuffer: f.lineBuf, Ungroup: f.ungroup, Tag: f.tag, TagString: f.tagString,
		DryRun: f.dry, Null: f.null, ColSep: f.colsep, CSV: f.csv, Header: f.header, Trim: f.trim,
		QuoteCommand: f.quote, Replace: f.replace, Link: f.link, NoRunIfEmpty: f.noRunIfEmpty, EOF: f.eof,
		JobLog: f.joblog, Resume: f.resume, ResumeFailed: f.resumeFailed, RetryFailed: f.retryFailed,
		Results: f.results, Pipe: f.pipe || f.roundRobin || f.cat || f.fifo, PipePart: f.pipePart, RoundRobin: f.roundRobin,
		Tee: f.tee, Cat: f.cat, Fifo: f.fifo, Regexp: f.regexp, RemoveRecSep: f.rrs,
		RecStart: f.recStart, RecEnd: f.recEnd, RecEndSet: f.recEndSet,
		Verbose: f.verbose > 0, VeryVerbose: f.verbose > 1, PrintCmd: f.printCmd || f.interactive, Interactive: f.interactive,
		Files: f.files, TmpDir: f.tmpdir, ShellQuote: f.shellQuote, Shuffle: f.shuf, Filter: f.filter,
		Env: f.env, SlotVar: f.slotVar, Workdir: f.workdir, SkipFirstLine: f.skipFirstLine,
		Shell: run.DefaultShell(), Stdin: s.In, Stdout: s.Out, Stderr: s.Err,
	}
	if f.pipePart {
		o.Pipe = false
	}
	if f.delimSet {
		if f.delim == "" {
			return o, runUsage("-d '': Perl's paragraph mode is not supported")
		}
		o.Delimiter = unquotePrintfCLI(f.delim)
		o.Null = false
	}
	if f.group && (f.ungroup || f.lineBuf) {
		return o, runUsage("--group cannot be combined with --ungroup or --line-buffer")
	}
	if f.ungroup && f.lineBuf {
		return o, runUsage("--ungroup cannot be combined with --line-buffer")
	}
	if f.dry {
		o.Ungroup = false
	}
	cpus := run.CPUs()
	ncpu := cpus.Threads
	switch f.cpuCount {
	case "cores":
		ncpu = cpus.Cores
	case "sockets":
		ncpu = cpus.Sockets
	}
	jobs := f.jobs
	if jobs == "" {
		jobs = "100%"
		if f.tee {
			jobs = "0"
		}
		if f.tty {
			jobs = "1"
		}
	}
	var err error
	if o.Jobs, err = run.ParseJobs(jobs, ncpu); err != nil {
		if fi, statErr := os.Stat(jobs); statErr == nil && !fi.IsDir() {
			o.JobsFile = jobs
			b, _ := os.ReadFile(jobs)
			if o.Jobs, err = run.ParseJobs(string(b), ncpu); err != nil {
				return o, runUsage("-j %s: %v", jobs, err)
			}
		} else {
			return o, runUsage("-j %v", err)
		}
	}
	if f.tty {
		o.Ungroup = !f.group
		o.StdinTTY = true
	}
	o.StdinTTY = o.StdinTTY || f.openTTY
	if err := f.argCounts(&o); err != nil {
		return o, err
	}
	if f.maxChars != "" {
		n, err := unitNumber(f.maxChars)
		if err != nil || n < 1 {
			return o, runUsage("-s %q: want a number of characters", f.maxChars)
		}
		o.MaxChars = int(min(n, math.MaxInt32))
	}
	if f.timeout != "" {
		if p, ok := strings.CutSuffix(f.timeout, "%"); ok {
			v, err := strconv.ParseFloat(p, 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return o, runUsage("--timeout %q: want seconds or a percentage", f.timeout)
			}
			o.TimeoutPct = v
		} else if o.Timeout, err = parseDuration(f.timeout); err != nil {
			return o, runUsage("--timeout %q: %v", f.timeout, err)
		}
	}
	if f.delay != "" {
		if o.Delay, err = parseDuration(f.delay); err != nil {
			return o, runUsage("--delay %q: %v", f.delay, err)
		}
	}
	if f.termSeq != "" {
		if o.TermSeq, err = run.ParseTermSeq(f.termSeq); err != nil {
			return o, runUsage("%v", err)
		}
	}
	if f.halt != "" {
		if o.Halt, err = run.ParseHalt(f.halt); err != nil {
			return o, runUsage("%v", err)
		}
	}
	if f.retries != "" {
		n, err := strconv.Atoi(f.retries)
		if err != nil || n < 0 {
			return o, runUsage("--retries %q: want a whole number ≥ 0 (crew does not read replacement strings in it)", f.retries)
		}
		o.Retries = n
		if n == 0 {
			o.Retries = math.MaxInt32 // GNU parallel's "infinite"
		}
	}
	if f.load != "" {
		if o.Load, err = parseLoad(f.load, ncpu); err != nil {
			return o, runUsage("--load %q: %v", f.load, err)
		}
	}
	if f.memFree != "" {
		n, err := unitNumber(f.memFree)
		if err != nil || n < 0 {
			return o, runUsage("--memfree %q: want a size like 1G", f.memFree)
		}
		o.MemFree = n
	}
	if f.nice != "" {
		if o.Nice, err = strconv.Atoi(f.nice); err != nil {
			return o, runUsage("--nice %q: want a whole number", f.nice)
		}
	}
	if f.block != "" {
		n, err := unitNumber(f.block)
		if err != nil || (n <= 0 && !f.pipePart) || n > 1<<40 {
			return o, runUsage("--block %q: want a size like 512K or 1M", f.block)
		}
		o.BlockSize = n
	}
	if f.totalJobs != "" {
		n, err := strconv.Atoi(f.totalJobs)
		if err != nil || n < 0 {
			return o, runUsage("--total-jobs %q: want a whole number", f.totalJobs)
		}
		o.TotalJobs = n
	}
	if (f.resume || f.resumeFailed) && f.joblog == "" && f.results == "" {
		return o, runUsage("--resume and --resume-failed need --joblog FILE or --results")
	}
	if err := f.sources(&o, rest); err != nil {
		return o, err
	}
	return o, nil
}

// argCounts reads -n, -N, -L, -l, -X, -m and --xargs as GNU parallel
// combines them.
func (f *runFlags) argCounts(o *run.Options) error {
	num := func(flag, v string) (int, error) {
		n, err := unitNumber(v)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return 0, runUsage("%s %q: want a whole number ≥ 0", flag, v)
		}
		return int(n), nil
	}
	maxArgs, set := 0, false
	if f.maxArgsSet {
		n, err := num("-n", f.maxArgs)
		if err != nil {
			return err
		}
		maxArgs, set = n, true
	}
	if f.maxLinesSet {
		n, err := num("-L", f.maxLines)
		if err != nil {
			return err
		}
		o.MaxLines = n
		if !f.pipe && !set {
			maxArgs, set = n, true
			if n == 0 {
				o.MaxLines = 1
			}
		}
	}
	if f.maxReplaceSet {
		n, err := num("-N", f.maxReplace)
		if err != nil {
			return err
		}
		maxArgs, set = n, true
	}
	context := f.contextX
	if (f.maxLinesSet || f.maxReplaceSet) && !f.xargs && !f.multi && !f.pipe && !f.pipePart {
		context = true
	}
	o.Context = context
	o.FillLine = f.contextX || f.multi || f.xargs
	o.Spread = f.contextX || f.multi
	if set {
		if maxArgs == 0 {
			o.NoArgs = true
			o.MaxArgs = 1
			o.FillLine, o.Spread = false, false
		} else {
			o.MaxArgs = maxArgs
		}
	}
	return nil
}

// sources splits the rest of the command line into the command and its
// ::: and :::: groups (with --arg-sep and --arg-file-sep), and adds -a
// files first, as GNU parallel orders them.
func (f *runFlags) sources(o *run.Options, rest []string) error {
	argSep, fileSep := ":::", "::::"
	if f.argSep != "" {
		argSep = f.argSep
	}
	if f.argFileSep != "" {
		fileSep = f.argFileSep
	}
	isSep := func(a string) bool {
		return a == argSep || a == argSep+"+" || a == fileSep || a == fileSep+"+"
	}
	i := 0
	for i < len(rest) && !isSep(rest[i]) {
		i++
	}
	o.Command = rest[:i]
	if i == len(rest)-1 {
		// GNU parallel's reading of the command line drops a separator
		// that ends it right after the command: the input is then read
		// from standard input (echo x ::: runs echo x with its lines).
		rest = rest[:i]
	}
	for _, a := range f.argFiles {
		if err := checkArgFile("-a", a); err != nil {
			return err
		}
		o.Sources = append(o.Sources, run.File(a))
	}
	for i < len(rest) {
		marker := rest[i]
		j := i + 1
		for j < len(rest) && !isSep(rest[j]) {
			j++
		}
		values := rest[i+1 : j]
		linked := strings.HasSuffix(marker, "+") && marker != argSep && marker != fileSep
		if marker == argSep || marker == argSep+"+" {
			src := run.Args(values...)
			if linked {
				src = src.Linked()
			}
			o.Sources = append(o.Sources, src)
		} else {
			for _, v := range values {
				if err := checkArgFile(marker, v); err != nil {
					return err
				}
				src := run.File(v)
				if linked {
					src = src.Linked()
				}
				o.Sources = append(o.Sources, src)
			}
		}
		i = j
	}
	if (o.Pipe && !o.Tee) && len(o.Sources) > 0 {
		return runUsage("--pipe reads standard input: it takes no ::: or :::: sources (--pipe-part reads files)")
	}
	return nil
}

// checkArgFile refuses a file of arguments (given after :::: or with -a,
// named by flag) that is missing or a directory, before any job runs: read
// as a file, a directory fails only once jobs may have started.
func checkArgFile(flag, path string) error {
	if path == "-" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return runUsage("%s %s: %w", flag, path, err)
	}
	if fi.IsDir() {
		return runUsage("%s %s: is a directory, not a file of arguments", flag, path)
	}
	return nil
}
