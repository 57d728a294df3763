package run

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// newRunner checks the options and prepares the run: input sources,
// templates, output, the joblog.
func newRunner(o Options) (*runner, error) {
	if o.Stdout == nil || o.Stderr == nil {
		return nil, errors.New("run: Stdout and Stderr are required")
	}
	if o.Stdin == nil {
		o.Stdin = strings.NewReader("")
	}
	o.Jobs = max(o.Jobs, 1)
	o.Retries = max(o.Retries, 1)
	if o.Tag && o.TagString == "" {
		o.TagString = "{==}" // filled in below with the real parentheses
	}
	r := &runner{o: o, shell: o.Shell, total: -1, maxJobs: o.Jobs}
	if r.shell == "" {
		r.shell = defaultShell
	}
	if o.RetryFailed {
		if err := r.retryFailedSources(); err != nil {
			return nil, err
		}
	}
	rs, err := newRplSet(o.Replace)
	if err != nil {
		return nil, err
	}
	if r.o.TagString == "{==}" {
		r.o.TagString = rs.left + rs.right
	}
	trim := o.Trim
	if trim == "" {
		trim = "n"
		if o.ColSep != "" {
			trim = "lr"
		}
	}
	switch trim {
	case "n", "l", "r", "lr", "rl":
	default:
		return nil, fmt.Errorf("--trim %q: want n, l, r, lr or rl", o.Trim)
	}
	r.ev = newEvaluator(trim, o.Jobs)
	if err := r.setupInput(); err != nil {
		r.close()
		return nil, err
	}
	if err := r.parseTemplates(rs); err != nil {
		r.close()
		return nil, err
	}
	if err := r.prepare(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// setupInput opens the sources and reads the --header names.
func (r *runner) setupInput() error {
	o := &r.o
	delim := o.Delimiter
	if delim == "" {
		delim = recordSep(o.Null)
	}
	r.in = inputSpec{
		sources: o.Sources, stdin: o.Stdin, link: o.Link, noArg: o.NoArgs,
		format: recordFormat{delim: delim, eof: o.EOF, hasEOF: o.EOF != "", ignoreEmpty: o.NoRunIfEmpty,
			continued: o.MaxLines > 0, csv: o.CSV},
	}
	colsep := o.ColSep
	if o.CSV {
		sep := colsep
		if sep == "" {
			sep = ","
		}
		if len([]rune(sep)) != 1 {
			return fmt.Errorf("--csv: the column separator must be one character, not %q", sep)
		}
		r.in.cols = columns{csv: true, csvSep: []rune(sep)[0]}
	} else {
		if colsep == "" && o.Header != "" && !o.Pipe {
			colsep = "\t"
		}
		if colsep != "" {
			re, err := regexp.Compile(colsep)
			if err != nil {
				return fmt.Errorf("--colsep %q: crew reads it as a Go regular expression: %w", colsep, err)
			}
			r.in.cols.colsep = re
		}
	}
	for _, s := range o.Sources {
		if err := s.check(); err != nil {
			return err
		}
	}
	if (o.Pipe && !o.Tee) || o.PipePart {
		return nil
	}
	if len(r.in.sources) == 0 && !o.Tee {
		r.in.sources = []Source{File("-")}
	}
	for _, s := range r.in.sources {
		rr, err := s.open(o.Stdin, r.in.format)
		if err != nil {
			return fmt.Errorf("input file: %w", err)
		}
		r.readers = append(r.readers, rr)
	}
	if o.SkipFirstLine {
		if _, err := r.readers[0].line(); err != nil && err != io.EOF {
			return sourceErr(0, err)
		}
	}
	return nil
}

// headerNames reads the --header line of each source (or, for --header
// 0, takes the :::: files' names) as column names.
func (r *runner) headerNames() ([]string, error) {
	if r.o.Header == "" || len(r.readers) == 0 {
		return nil, nil
	}
	var names []string
	for i, s := range r.in.sources {
		if r.o.Header == "0" {
			if s.kind == fileSource {
				names = append(names, s.path)
			} else {
				names = append(names, strconv.Itoa(i+1))
			}
			continue
		}
		line, err := r.readers[i].headerLine()
		if err != nil {
			return nil, sourceErr(i, err)
		}
		names = append(names, r.in.cols.splitHeader(line)...)
	}
	return names, nil
}

func (r *runner) parseTemplates(rs *rplSet) error {
	o := &r.o
	header, err := r.headerNames()
	if err != nil {
		return err
	}
	r.in.header = header
	topt := templateOptions{quoteWords: o.QuoteCommand, context: o.Context, header: header,
		noAppend: (o.Pipe || o.PipePart) && !o.Tee && !o.Cat && !o.Fifo}
	if r.tmpl, err = parseTemplate(o.Command, rs, topt); err != nil {
		return err
	}
	r.quoteArg = r.tmpl.quoteArgs && !r.tmpl.quoteWords && !o.Cat && !o.Fifo
	plain := templateOptions{noAppend: true, header: header}
	if o.TagString != "" {
		if r.tagTmpl, err = parseTemplate([]string{UnquotePrintf(o.TagString)}, rs, plain); err != nil {
			return err
		}
	}
	if o.Results != "" {
		t, err := parseTemplate([]string{o.Results}, rs, plain)
		if err != nil {
			return err
		}
		if len(t.exprs) > 0 {
			r.resTmpl = t
		}
	}
	if o.Workdir != "" && o.Workdir != "." {
		if r.wdTmpl, err = parseTemplate([]string{o.Workdir}, rs, plain); err != nil {
			return err
		}
	}
	for _, f := range o.Filter {
		t, err := parseTemplate([]string{f}, rs, plain)
		if err != nil {
			return err
		}
		r.filters = append(r.filters, t)
	}
	for _, t := range r.templates() {
		if err := r.ev.prepare(t); err != nil {
			return err
		}
	}
	return nil
}

// streamsFor is the run's streamed-job pipes, made on first use.
func (r *runner) streamsFor() *streams {
	if r.streams == nil {
		r.streams = &streams{}
	}
	return r.streams
}

func (r *runner) templates() []*Template {
	ts := []*Template{r.tmpl}
	for _, t := range append([]*Template{r.tagTmpl, r.resTmpl, r.wdTmpl}, r.filters...) {
		if t != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// prepare does what must happen before the first job: the total, the
// joblog, --results, the limits on starting jobs.
func (r *runner) prepare() error {
	o := &r.o
	r.fill = o.FillLine
	if r.fill || o.MaxChars > 0 {
		r.maxLen = r.maxLength()
	}
	needTotal := o.NeedTotal || o.Shuffle || o.Halt.Percent > 0
	for _, t := range r.templates() {
		r.needTotal = r.needTotal || t.needsTotal
	}
	needTotal = needTotal || r.needTotal
	if o.TotalJobs > 0 {
		r.total = o.TotalJobs
		needTotal = o.Shuffle
	}
	if len(r.readers) > 0 {
		allLists := true
		for _, s := range r.in.sources {
			allLists = allLists && s.isList()
		}
		if needTotal || allLists {
			if err := r.readAllRecords(); err != nil {
				return err
			}
		}
	}
	if o.JobLog != "" && !o.DryRun {
		if err := r.openJobLog(); err != nil {
			return err
		}
	} else if o.Resume || o.ResumeFailed {
		r.done = map[int]bool{}
	}
	if o.Results != "" && !o.DryRun {
		w, err := newResultsWriter(r)
		if err != nil {
			return err
		}
		r.results = w
	}
	var err error
	if r.limits, err = newLimiter(o); err != nil {
		return err
	}
	if (o.Pipe && !o.Tee) || o.PipePart {
		if r.pipe, err = newBlockSplitter(r); err != nil {
			return err
		}
	}
	// --line-buffer prints output as it comes, --pipe feeds standard
	// input, -u passes the output straight on: all need os/exec.
	usesSlot := false
	for _, t := range r.templates() {
		usesSlot = usesSlot || t.usesSlot()
	}
	if o.DryRun {
		r.dryOut = newBatchedOut(o.Stdout, &r.outMu)
	}
	if o.Halt.enabled() || usesSlot {
		r.reap = newReapOrder()
	}
	if !o.LineBuffer && !o.Pipe && !o.PipePart && !o.DryRun && !o.Ungroup && o.Nice == 0 && !o.StdinTTY && !o.JobStdin {
		_ = r.openDirect() // if it fails, jobs run with os/exec
	}
	return nil
}

func (r *runner) close() {
	r.closeDirect()
	if r.joblogFile != nil {
		r.joblogFile.Close()
	}
	for _, rr := range r.readers {
		rr.close()
	}
	if r.results != nil {
		r.results.close()
	}
	if r.ev != nil {
		r.ev.close()
	}
	if r.pipe != nil {
		r.pipe.close()
	}
}

// newEnv is what the replacement strings of a job see.
func (r *runner) newEnv(seq int, j *job) *evalEnv {
	e := &evalEnv{seq: seq, maxJobs: r.maxJobs, total: r.totalJobs, needTotal: r.needTotal}
	if j != nil {
		e.slot, e.args = j.slot, j.args
	}
	return e
}

// totalJobs is the number of jobs, for {##} and total_jobs(): known when
// the input was read first (a template using it makes sure of that).
func (r *runner) totalJobs() int {
	return max(r.total, 0)
}
