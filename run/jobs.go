package run

import (
	"bytes"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"strings"
	"time"
)

type job struct {
	seq      int
	records  [][]string // the records the job read: a value (or the columns) of each source
	args     []string   // the records flattened: what {} is filled from; [""] when there are none
	cmd      string
	reader   string         // -vv --pipe-part: GNU parallel's command that reads the job's chunk
	stdin    []byte         // --pipe block
	stdinR   *io.PipeReader // --round-robin, --tee: standard input streamed in
	dir      string         // --workdir
	slot     int
	env      *evalEnv
	start    time.Time
	runtime  time.Duration
	exit     int
	signal   int
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	received int64
	timedOut bool
	// killed: crew ended the job because the run was cancelled or halted
	// (--halt now), not because of anything the job did. Like GNU
	// parallel, crew then neither prints nor logs it, nor counts it as
	// failed, so that --resume runs it again.
	killed   bool
	startErr error
	skipped  bool   // already in the joblog (--resume)
	dropped  bool   // skip() in a replacement string, --filter, or no to --interactive: exit -2
	host     string // the worker's host name when run on Options.Executor
	tmpFile  string // --cat, --fifo: $PARALLEL_TMP
	tag      string // --tag, --tagstring: what each output line starts with

	// --line-buffer -k: whole lines held while an older job is unfinished
	heldOut, heldErr bytes.Buffer
}

// failed says whether the job counts as failed, as in GNU parallel: an
// exit status other than 0 (-1 for a timeout, -2 for a dropped job), or a
// signal.
func (j *job) failed() bool { return j.exit != 0 || j.signal != 0 || j.startErr != nil }

func flatten(recs [][]string) []string {
	if len(recs) == 1 {
		return recs[0]
	}
	var out []string
	for _, r := range recs {
		out = append(out, r...)
	}
	return out
}

// gather reads a job's records: up to maxArgs of them (all there are if
// maxArgs ≤ 0), fewer when est finds the command line would grow too long.
func (r *runner) gather(p *pushback, maxArgs int, est *lineEstimate) ([][]string, error) {
	recs := make([][]string, 0, max(min(maxArgs, 64), 1))
	for maxArgs <= 0 || len(recs) < maxArgs {
		rec, err, ok := p.get()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		recs = append(recs, rec)
		if est == nil {
			continue
		}
		est.push(rec)
		if l := est.length(); l >= r.maxLen {
			if len(recs) > 1 {
				est.pop(rec)
				p.unget(rec)
				return recs[:len(recs)-1], nil
			}
			args := strings.Join(rec, " ")
			if len(args) > 50 {
				args = args[:50] + "..."
			}
			return nil, fmt.Errorf("command line too long (%d >= %d) at input %d: %s", l, r.maxLen, p.number, args)
		}
	}
	return recs, nil
}

// pushback wraps a record stream so that records can be put back.
type pushback struct {
	next   func() ([]string, error, bool)
	back   [][]string
	err    error // a read error found while looking ahead
	number int   // records handed out, for error messages
}

func (p *pushback) get() ([]string, error, bool) {
	if n := len(p.back); n > 0 {
		r := p.back[n-1]
		p.back = p.back[:n-1]
		p.number++
		return r, nil, true
	}
	if p.err != nil {
		return nil, p.err, true
	}
	r, err, ok := p.next()
	if ok && err == nil {
		p.number++
	}
	return r, err, ok
}

func (p *pushback) unget(recs ...[]string) {
	for i := len(recs) - 1; i >= 0; i-- {
		p.back = append(p.back, recs[i])
		p.number--
	}
}

// empty says whether no record is left, reading one ahead if needed.
func (p *pushback) empty() bool {
	if len(p.back) > 0 || p.err != nil {
		return false
	}
	r, err, ok := p.next()
	switch {
	case !ok:
		return true
	case err != nil:
		p.err = err
		return false
	}
	p.back = append(p.back, r)
	return false
}

// recordSeq yields the run's records: streamed, or read whole first and
// shuffled (--shuf) when the total is needed.
func (r *runner) recordSeq() iter.Seq2[[]string, error] {
	if r.allRecords == nil {
		return r.in.records(r.readers)
	}
	return func(yield func([]string, error) bool) {
		for _, rec := range r.allRecords {
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// readAllRecords reads every record before any job starts, for the total
// (--eta, --bar, {##}, --halt N%) and for --shuf, as GNU parallel does.
func (r *runner) readAllRecords() error {
	recs := [][]string{}
	for rec, err := range r.in.records(r.readers) {
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	if r.o.Shuffle {
		rand.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	}
	r.allRecords = recs
	per := max(r.o.MaxArgs, 1)
	r.total = (len(recs) + per - 1) / per
	return nil
}

// argJobs makes the jobs: MaxArgs records each, or with -X, -m and
// --xargs as many as the command line length allows, as GNU parallel's
// populate does.
func (r *runner) argJobs() iter.Seq2[*job, error] {
	return func(yield func(*job, error) bool) {
		next, stop := iter.Pull2(r.recordSeq())
		defer stop()
		p := &pushback{next: next}
		maxArgs := r.o.MaxArgs
		if maxArgs <= 0 && !r.fill {
			maxArgs = 1
		}
		spread := false
		for seq := 1; ; seq++ {
			var est *lineEstimate
			if r.fill || r.o.MaxChars > 0 {
				est = r.newEstimate(seq)
			}
			recs, err := r.gather(p, maxArgs, est)
			if err != nil {
				yield(nil, err)
				return
			}
			if r.o.Spread && !spread && r.maxJobs > 0 && p.empty() {
				spread = true
				if len(recs) > 1 {
					// The input has ended: what is left is spread over the
					// job slots. A part of records that fitted fits.
					maxArgs = (len(recs) + r.maxJobs - 1) / r.maxJobs
					p.unget(recs...)
					if recs, err = r.gather(p, maxArgs, nil); err != nil {
						yield(nil, err)
						return
					}
				}
			}
			if len(recs) == 0 {
				return
			}
			j := &job{seq: seq, records: recs, args: flatten(recs)}
			if !yield(j, nil) {
				return
			}
		}
	}
}
