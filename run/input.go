package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Source is one input source. Several sources combine as a cartesian
// product, the first varying slowest, as with GNU parallel's ::: and ::::;
// a source made Linked pairs its values with the source before it instead
// (:::+ and ::::+), up to the shorter's end.
//
// As in GNU parallel, an empty source among others that have values
// counts as one empty value; when all are empty, no job runs. The zero
// Source is an empty list, like Args().
type Source struct {
	kind   sourceKind
	args   []string  // ::: values
	path   string    // :::: file, "-" for standard input
	r      io.Reader // an open reader
	linked bool
}

type sourceKind byte

const (
	listSource   sourceKind = iota // Args, and the zero Source
	fileSource                     // File
	readerSource                   // Reader
)

// Args is a ::: source: the given values, perhaps none (a glob that
// matched nothing). As in GNU parallel, the values are read back as
// records, so a value holding the record delimiter (a newline, unless
// Options.Delimiter or Null says otherwise) counts as several, and
// Options.EOF, NoRunIfEmpty and MaxLines apply to them.
func Args(values ...string) Source { return Source{args: values} }

// File is a :::: source: the records of a file; "-" is standard input.
// Run refuses a file that is missing or a directory before it starts any
// job, and stops at a read error without running a job for the record
// the error cut.
func File(path string) Source { return Source{kind: fileSource, path: path} }

// Reader is a source reading records from r.
func Reader(r io.Reader) Source { return Source{kind: readerSource, r: r} }

// Linked returns s linked to the source before it (GNU parallel's :::+
// and ::::+): the nth value of each goes into the nth job, and the
// shorter ends them both.
func (s Source) Linked() Source { s.linked = true; return s }

// isList says whether s is a ::: list (Args, or the zero Source).
func (s Source) isList() bool { return s.kind == listSource }

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

// recordFormat is how values are read from a source, as GNU parallel's
// read_arg_from_fh reads them.
type recordFormat struct {
	delim       string // the record delimiter; "" is Perl's paragraph mode
	eof         string // -E: a record equal to it ends the source
	hasEOF      bool
	ignoreEmpty bool // -r: skip records of whitespace only
	continued   bool // -L: a record ending in whitespace goes on in the next
	csv         bool // a record with an odd number of " goes on in the next
}

// recordReader reads the records of one source.
type recordReader struct {
	f      recordFormat
	br     *bufio.Reader
	closer io.Closer
	done   bool
}

func (s Source) open(stdin io.Reader, f recordFormat) (*recordReader, error) {
	rr := &recordReader{f: f}
	var r io.Reader
	switch {
	case s.isList():
		var b strings.Builder
		for _, a := range s.args {
			b.WriteString(a)
			b.WriteString(f.delim)
		}
		r = strings.NewReader(b.String())
	case s.kind == fileSource && s.path == "-":
		r = stdin
	case s.kind == fileSource:
		file, err := os.Open(s.path)
		if err != nil {
			return nil, err
		}
		r, rr.closer = file, file
	default:
		r = s.r
	}
	rr.br = bufio.NewReaderSize(r, 64<<10)
	return rr, nil
}

func (rr *recordReader) close() {
	if rr.closer != nil {
		rr.closer.Close()
		rr.closer = nil
	}
}

// line reads one raw record, its delimiter still on; io.EOF at the end.
// What came before a failed read is no record: a job with a cut (or, at
// the start, empty) argument could do harm (rm -rf /data/{}).
func (rr *recordReader) line() (string, error) {
	if rr.done {
		return "", io.EOF
	}
	d := rr.f.delim
	var s string
	var err error
	switch {
	case d == "":
		s, err = rr.paragraph()
	case len(d) == 1:
		s, err = rr.br.ReadString(d[0])
	default:
		var b strings.Builder
		for {
			var chunk string
			chunk, err = rr.br.ReadString(d[len(d)-1])
			b.WriteString(chunk)
			if err != nil || strings.HasSuffix(b.String(), d) {
				break
			}
		}
		s = b.String()
	}
	if err != nil && err != io.EOF {
		rr.done = true
		return "", err
	}
	if err == io.EOF {
		rr.done = true
		if s == "" {
			return "", io.EOF
		}
	}
	return s, nil
}

// paragraph reads a record in Perl's paragraph mode: up to a run of two
// or more newlines, which it keeps; newlines before it are skipped.
func (rr *recordReader) paragraph() (string, error) {
	for {
		b, err := rr.br.Peek(1)
		if err != nil || b[0] != '\n' {
			break
		}
		rr.br.ReadByte()
	}
	var out strings.Builder
	for {
		l, err := rr.br.ReadString('\n')
		out.WriteString(l)
		if err != nil {
			return out.String(), err
		}
		if l == "\n" {
			for {
				b, err := rr.br.Peek(1)
				if err != nil || b[0] != '\n' {
					break
				}
				rr.br.ReadByte()
				out.WriteByte('\n')
			}
			return out.String(), nil
		}
	}
}

// chomp removes the delimiter from the end of a record, as Perl's chomp
// does (in paragraph mode: all the newlines).
func (rr *recordReader) chomp(s string) string {
	if rr.f.delim == "" {
		return strings.TrimRight(s, "\n")
	}
	return strings.TrimSuffix(s, rr.f.delim)
}

// next returns the next value, or io.EOF.
func (rr *recordReader) next() (string, error) {
	var prepend strings.Builder
	havePrepend, half := false, false
	for {
		raw, err := rr.line()
		if err == io.EOF {
			if havePrepend {
				return prepend.String(), nil
			}
			return "", io.EOF
		}
		if err != nil {
			return "", err
		}
		if rr.f.csv {
			if strings.Count(raw, `"`)%2 == 1 {
				half = !half
			}
			if half {
				prepend.WriteString(raw)
				havePrepend = true
				continue
			}
		}
		arg := rr.chomp(raw)
		if rr.f.hasEOF && arg == rr.f.eof {
			rr.done = true
			rr.close()
			if havePrepend {
				return prepend.String(), nil
			}
			return "", io.EOF
		}
		if havePrepend {
			arg = prepend.String() + arg
			prepend.Reset()
			havePrepend = false
		}
		if rr.f.ignoreEmpty && strings.TrimFunc(arg, isPerlSpace) == "" {
			continue
		}
		if rr.f.continued && arg != "" && isPerlSpace(rune(arg[len(arg)-1])) {
			prepend.WriteString(arg)
			havePrepend = true
			continue
		}
		return arg, nil
	}
}

// all reads the rest of the source.
func (rr *recordReader) all() ([]string, error) {
	var out []string
	for {
		v, err := rr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// headerLine reads the first raw record of a source as GNU parallel
// reads a --header line: chomped, a final CR removed.
func (rr *recordReader) headerLine() (string, error) {
	raw, err := rr.line()
	if err == io.EOF {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(rr.chomp(raw), "\r"), nil
}

// recordSep is the delimiter records end with by default.
func recordSep(null bool) string {
	if null {
		return "\x00"
	}
	return "\n"
}

// UnquotePrintf reads \t \n \r \NNN (octal) and \N as GNU parallel's
// unquote_printf does, for -d and --tagstring.
func UnquotePrintf(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; {
		case c == 't':
			b.WriteByte('\t')
			i++
		case c == 'n':
			b.WriteByte('\n')
			i++
		case c == 'r':
			b.WriteByte('\r')
			i++
		case c >= '0' && c <= '9':
			n := 1
			for n < 3 && i+1+n < len(s) && s[i+1+n] >= '0' && s[i+1+n] <= '9' {
				n++
			}
			if n == 2 {
				n = 1 // \NN is \N followed by N
			}
			v := 0
			for _, d := range s[i+1 : i+1+n] {
				v = v*8 + int(d-'0')
			}
			b.WriteByte(byte(v))
			i += n
		default:
			b.WriteByte('\\')
		}
	}
	return b.String()
}
