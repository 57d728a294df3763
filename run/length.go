package run

import (
	"fmt"
	"strconv"
)

// -X, -m and --xargs put as many arguments on a command line as fit, and
// which fit is decided as GNU parallel decides it — the same estimate of
// the line's length, against the same maximum — so that the jobs are the
// same: cat list | crew run -m echo runs as many jobs as GNU parallel.

// lineEstimate is GNU parallel's running estimate of a command line's
// length (CommandLine::len) as records are added.
type lineEstimate struct {
	r     *runner
	env   *evalEnv
	sums  map[int]int // per distinct replacement string: the length of its values so far
	nrec  int
	width int // values in the first record
}

func (r *runner) newEstimate(seq int) *lineEstimate {
	return &lineEstimate{r: r, env: r.newEnv(seq, nil), sums: map[int]int{}}
}

// rawColumn reads a replacement string's position as GNU parallel's
// length count does: from the record, 0 meaning its last value.
func rawColumn(raw string) (int, bool) {
	m := positionRe.FindString(raw)
	if m == "" {
		return 0, false
	}
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0, false
	}
	if n > 0 {
		n--
	} else if n == 0 {
		n = -1
	}
	return n, true
}

func (l *lineEstimate) add(rec []string, sign int) {
	t := l.r.tmpl
	x := &expansion{t: t, args: rec, env: l.env, ev: l.r.ev, quoteArg: l.r.quoteArg}
	for idx := range t.replaceCount {
		e := t.exprs[idx]
		if col, ok := rawColumn(e.raw); ok {
			if col < 0 {
				col += len(rec)
			}
			if col >= 0 && col < len(rec) {
				v, _ := x.value(e, col)
				l.sums[idx] += sign * len(v)
			}
			continue
		}
		for i := range rec {
			v, _ := x.value(e, i)
			l.sums[idx] += sign * len(v)
		}
	}
}

func (l *lineEstimate) push(rec []string) {
	if l.nrec == 0 {
		l.width = len(rec)
	}
	l.nrec++
	l.add(rec, 1)
}

func (l *lineEstimate) pop(rec []string) {
	l.nrec--
	l.add(rec, -1)
}

// length is the estimate: exact for plain commands, pessimistic for -q.
func (l *lineEstimate) length() int {
	t := l.r.tmpl
	n := t.noncontext + t.words - 1
	recargs := l.nrec * l.width
	if t.context {
		n += recargs * t.contextLen
		for idx, c := range t.replaceCount {
			n += l.sums[idx] * c
		}
		n += (recargs - 1) * t.contextGroups
	} else {
		n += t.contextLen
		for idx, c := range t.replaceCount {
			n += (recargs - 1 + l.sums[idx]) * c
		}
	}
	if t.quoteWords {
		n *= 3
	}
	if q := l.r.o.ShellQuote; q > 0 {
		for range q {
			n *= 3
		}
		n *= 5
	}
	return n
}

// MaxLineLength is the longest command line GNU parallel would run here
// (--max-line-length-allowed): found by the same search over lengths of
// "echo ccc…" run by the shell, with the system's limits standing in for
// the trial runs.
func MaxLineLength() int {
	limit := commandLineLimit()
	ok := func(n int) bool { return n <= limit }
	n := 324
	for {
		if n > 100_000_000 {
			return n
		}
		n *= 16
		if !ok(n) {
			break
		}
	}
	lo, up := n/16, n
	for !(lo == up || lo == up-1 || float64(lo)/float64(up) > 0.99) {
		mid := int(float64(up-lo)*0.5 + float64(lo))
		if ok(mid) {
			lo = mid
		} else {
			up = mid
		}
	}
	return lo
}

// maxLength is the longest command line -X and -m fill: GNU parallel's
// usable length (room for wrapping, halved), or -s if that is shorter.
func (r *runner) maxLength() int {
	usable := (MaxLineLength() - 3000) / 2
	if s := r.o.MaxChars; s > 0 {
		if s <= usable {
			return s
		}
		fmt.Fprintf(r.o.Stderr, "crew run: Warning: Value for option -s should be < %d.\n", usable)
	}
	return usable
}
