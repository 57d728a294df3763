package run

// How the sources' values become records: split into columns, combined
// as a cartesian product or linked in step, as GNU parallel combines them.

import (
	"encoding/csv"
	"fmt"
	"io"
	"iter"
	"regexp"
	"strings"
)

// columns splits a value into columns by --colsep or --csv; nil splitter
// keeps it whole.
type columns struct {
	colsep *regexp.Regexp
	csvSep rune // --csv: the field separator
	csv    bool
}

func (c *columns) split(v string, out []string) ([]string, error) {
	switch {
	case v == "":
		return append(out, ""), nil
	case c.csv:
		r := csv.NewReader(strings.NewReader(strings.TrimRight(v, "\n")))
		r.Comma = c.csvSep
		r.FieldsPerRecord = -1
		fields, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("--csv: %q is not a CSV record: %w", v, err)
		}
		return append(out, fields...), nil
	case c.colsep != nil:
		return append(out, c.colsep.Split(v, -1)...), nil
	}
	return append(out, v), nil
}

// splitHeader splits a --header line into column names as Perl's split
// does without a limit: empty names at the end are dropped.
func (c *columns) splitHeader(line string) []string {
	var names []string
	if c.colsep != nil {
		names = c.colsep.Split(line, -1)
	} else {
		names = strings.Split(line, "\t")
	}
	for len(names) > 0 && names[len(names)-1] == "" {
		names = names[:len(names)-1]
	}
	return names
}

// inputSpec is how a run reads its arguments.
type inputSpec struct {
	sources []Source
	stdin   io.Reader
	format  recordFormat
	cols    columns
	link    bool     // --link: sources are read in step, the shorter ones again from the start
	noArg   bool     // -N0, -n0: a job reads a record but uses none of it
	header  []string // --header: the column names, {1} first
}

// records yields the records of the run: one value from each source (or
// their columns), combined as GNU parallel combines them. The sources
// are already open (the header, if any, read).
func (in *inputSpec) records(readers []*recordReader) iter.Seq2[[]string, error] {
	return func(yield func([]string, error) bool) {
		defer func() {
			for _, rr := range readers {
				rr.close()
			}
		}()
		emit := func(values []string) bool {
			rec := make([]string, 0, len(values))
			for _, v := range values {
				var err error
				if rec, err = in.cols.split(v, rec); err != nil {
					yield(nil, err)
					return false
				}
			}
			for i, v := range rec {
				if in.noArg {
					rec[i] = noArg
				} else if strings.IndexByte(v, 0) > 0 {
					// as GNU parallel does: a NUL cannot be passed in an argument
					rec[i] = strings.ReplaceAll(v, "\x00", `\0`)
				}
			}
			return yield(rec, nil)
		}
		var err error
		if in.link {
			err = linkRecords(readers, emit)
		} else {
			err = nestRecords(readers, in.sources, emit)
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

// sourceErr names the source a read failed in.
func sourceErr(i int, err error) error { return fmt.Errorf("input source %d: %w", i+1, err) }

// nestRecords combines the sources as a cartesian product, the first
// varying slowest, linked sources (:::+) paired by position. The first
// source is streamed unless it is linked; the others are read whole.
func nestRecords(readers []*recordReader, sources []Source, emit func([]string) bool) error {
	if len(readers) == 1 {
		for {
			v, err := readers[0].next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return sourceErr(0, err)
			}
			if !emit([]string{v}) {
				return nil
			}
		}
	}
	streamFirst := !(len(sources) > 1 && sources[1].linked)
	vals := make([][]string, len(readers))
	allEmpty := true
	var first string
	firstOK := false
	for i, rr := range readers {
		if i == 0 && streamFirst {
			v, err := rr.next()
			if err != nil && err != io.EOF {
				return sourceErr(i, err)
			}
			first, firstOK = v, err == nil
			allEmpty = allEmpty && !firstOK
			continue
		}
		all, err := rr.all()
		if err != nil {
			return sourceErr(i, err)
		}
		vals[i] = all
		allEmpty = allEmpty && len(all) == 0
	}
	if allEmpty {
		return nil
	}
	// An empty source among others counts as one empty value.
	for i := range vals {
		if (i > 0 || !streamFirst) && len(vals[i]) == 0 {
			vals[i] = []string{""}
		}
	}
	// groups of linked sources: each a range of source indexes
	type group struct{ lo, hi int }
	var groups []group
	for i := range readers {
		if i > 0 && sources[i].linked {
			groups[len(groups)-1].hi = i
		} else {
			groups = append(groups, group{i, i})
		}
	}
	glen := func(g group) int {
		n := -1
		for i := g.lo; i <= g.hi; i++ {
			if n < 0 || len(vals[i]) < n {
				n = len(vals[i])
			}
		}
		return n
	}
	rest := groups
	if streamFirst {
		rest = groups[1:]
	}
	// product of the groups in rest, last varying fastest
	product := func(prefix []string) bool {
		idx := make([]int, len(rest))
		for _, g := range rest {
			if glen(g) == 0 {
				return true
			}
		}
		for {
			values := append([]string(nil), prefix...)
			for k, g := range rest {
				for i := g.lo; i <= g.hi; i++ {
					values = append(values, vals[i][idx[k]])
				}
			}
			if !emit(values) {
				return false
			}
			k := len(idx) - 1
			for ; k >= 0; k-- {
				idx[k]++
				if idx[k] < glen(rest[k]) {
					break
				}
				idx[k] = 0
			}
			if k < 0 {
				return true
			}
		}
	}
	if !streamFirst {
		product(nil)
		return nil
	}
	if !firstOK {
		first = "" // an empty first source among others
	}
	for {
		if !product([]string{first}) || !firstOK {
			return nil
		}
		v, err := readers[0].next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return sourceErr(0, err)
		}
		first = v
	}
}

// linkRecords reads the sources in step (--link): a source at its end
// starts again from its first value, until all are at their ends at once.
// An empty source is refused, as GNU parallel fails on it (exit 255).
func linkRecords(readers []*recordReader, emit func([]string) bool) error {
	seen := make([][]string, len(readers))
	ended := make([]bool, len(readers))
	pos := make([]int, len(readers))
	for {
		values := make([]string, len(readers))
		fresh := make([]bool, len(readers))
		anyFresh := false
		for i, rr := range readers {
			if ended[i] {
				continue
			}
			v, err := rr.next()
			if err == io.EOF {
				ended[i] = true
				continue
			}
			if err != nil {
				return sourceErr(i, err)
			}
			seen[i] = append(seen[i], v)
			values[i], fresh[i], anyFresh = v, true, true
		}
		if !anyFresh {
			return nil
		}
		for i := range readers {
			if fresh[i] {
				continue
			}
			if len(seen[i]) == 0 {
				return fmt.Errorf("--link: input source %d has no values", i+1)
			}
			values[i] = seen[i][pos[i]%len(seen[i])]
			pos[i]++
		}
		if !emit(values) {
			return nil
		}
	}
}
