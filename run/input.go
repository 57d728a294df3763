package run

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"regexp"
	"strings"
)

// Source is one input source. Several sources combine as a cartesian
// product, the first varying slowest, as with GNU parallel's ::: and ::::.
// The zero Source is an empty list, like Args(): the product of sources
// one of which is empty is empty, and Run then runs no job.
type Source struct {
	kind sourceKind
	args []string  // ::: values
	path string    // :::: file, "-" for standard input
	r    io.Reader // an open reader
}

type sourceKind byte

const (
	listSource   sourceKind = iota // Args, and the zero Source
	fileSource                     // File
	readerSource                   // Reader
)

// isList says whether s is a ::: list (Args, or the zero Source).
func (s Source) isList() bool { return s.kind == listSource }

// Args is a ::: source: the given values, perhaps none (a glob that
// matched nothing): then no job runs, as with GNU parallel. As in GNU parallel, a value
// with newlines counts as one value per line, unless records end with NUL
// (Options.Null, -0): then each value is one, whatever it holds.
func Args(values ...string) Source { return Source{args: values} }

// File is a :::: source: the lines (or NUL-separated records) of a file;
// "-" is standard input. Run refuses a file that is missing or a
// directory before it starts any job, and stops at a read error without
// running a job for the record the error cut.
func File(path string) Source { return Source{kind: fileSource, path: path} }

// Reader is a source reading records from r.
func Reader(r io.Reader) Source { return Source{kind: readerSource, r: r} }

// check refuses a :::: file that cannot be a file of arguments — missing,
// unreadable or a directory — so that the run stops before any job starts
// rather than when the source is read.
func (s Source) check() error {
	if s.kind == readerSource && s.r == nil {
		return errors.New("input source: Reader(nil)")
	}
	if s.kind != fileSource || s.path == "-" {
		return nil
	}
	if s.path == "" {
		return errors.New(`input file: File("") names no file`)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("input file: %w", err)
	}
	if fi.IsDir() {
		return fmt.Errorf("input file %s is a directory, not a file of arguments", s.path)
	}
	return nil
}

// records streams a source's records.
func (s Source) records(stdin io.Reader, sep byte) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if s.isList() {
			for _, a := range s.args {
				for _, v := range s.splitArg(a, sep) {
					if !yield(v, nil) {
						return
					}
				}
			}
			return
		}
		r := s.r
		if s.path == "-" {
			r = stdin
		} else if s.kind == fileSource {
			f, err := os.Open(s.path)
			if err != nil {
				yield("", err)
				return
			}
			defer f.Close()
			r = f
		}
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := br.ReadString(sep)
			if err != nil && err != io.EOF {
				// What came before a failed read is no record: yielding it
				// would run a job with a cut (or, at the start, empty)
				// argument, and rm -rf /data/{} would remove /data/''.
				yield("", err)
				return
			}
			if len(line) > 0 && line[len(line)-1] == sep {
				line = line[:len(line)-1]
			} else if err == io.EOF && line == "" {
				return
			}
			if !yield(line, nil) {
				return
			}
			if err == io.EOF {
				return
			}
		}
	}
}

// splitArg returns the records of a ::: value: its lines when records
// end with newline, else the value itself.
func (Source) splitArg(a string, sep byte) []string {
	if sep != '\n' {
		return []string{a}
	}
	return strings.Split(a, "\n")
}

// count returns how many records a ::: source has, or -1 for a file.
func (s Source) count(sep byte) int {
	if !s.isList() {
		return -1
	}
	n := 0
	for _, a := range s.args {
		n += len(s.splitArg(a, sep))
	}
	return n
}

// recordSep is the byte records end with.
func recordSep(null bool) byte {
	if null {
		return 0
	}
	return '\n'
}

// argLists yields each job's arguments: the cartesian product of the
// sources (all but the first read into memory, the first streamed), each
// value split into columns by colsep if set, grouped n records per job.
func argLists(sources []Source, stdin io.Reader, null bool, colsep *regexp.Regexp, n int) iter.Seq2[[]string, error] {
	sep := recordSep(null)
	return func(yield func([]string, error) bool) {
		rest := make([][]string, len(sources)-1)
		for i, s := range sources[1:] {
			for v, err := range s.records(stdin, sep) {
				if err != nil {
					yield(nil, fmt.Errorf("input source %d: %w", i+2, err))
					return
				}
				rest[i] = append(rest[i], v)
			}
			if len(rest[i]) == 0 {
				return // an empty source makes an empty product
			}
		}
		var group []string
		count := 0
		emit := func(values []string) bool {
			for _, v := range values {
				if colsep != nil {
					group = append(group, colsep.Split(v, -1)...)
				} else {
					group = append(group, v)
				}
			}
			count++
			if count < n {
				return true
			}
			ok := yield(group, nil)
			group, count = nil, 0
			return ok
		}
		idx := make([]int, len(rest))
		for first, err := range sources[0].records(stdin, sep) {
			if err != nil {
				yield(nil, fmt.Errorf("input source 1: %w", err))
				return
			}
			for {
				values := []string{first}
				for i, r := range rest {
					values = append(values, r[idx[i]])
				}
				if !emit(values) {
					return
				}
				// next combination of the other sources, last varying fastest
				k := len(idx) - 1
				for ; k >= 0; k-- {
					idx[k]++
					if idx[k] < len(rest[k]) {
						break
					}
					idx[k] = 0
				}
				if k < 0 {
					break
				}
			}
		}
		if count > 0 {
			yield(group, nil)
		}
	}
}
