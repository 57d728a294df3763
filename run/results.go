package run

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// --results, as GNU parallel writes it, in one of four forms:
//
//	DIR                 DIR/1/<value>/2/<value>/{seq,stdout,stderr}: the source numbers
//	                    (or --header names) and values, / in a value written \_
//	NAME{}...           a file per job named by filling the replacement strings: NAME,
//	                    NAME.err, NAME.seq; or, if the name ends in /, that directory's
//	                    seq, stdout and stderr
//	X.csv, X.tsv        one row per job: the joblog's columns, the values, stdout, stderr
//	X.json              one JSON object per line and job
//
// -.csv, -.tsv and -.json write the table to standard output, and nothing
// else goes there. Nothing of the jobs' output is printed otherwise.

type resultsWriter struct {
	mode   byte // 'd' directory, 't' template, 'c' CSV/TSV, 'j' JSON
	sep    byte
	table  *bufio.Writer
	file   *os.File
	header bool // the CSV header row is written
}

func newResultsWriter(r *runner) (*resultsWriter, error) {
	name := r.o.Results
	w := &resultsWriter{mode: 'd'}
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".csv"):
		w.mode, w.sep = 'c', ','
	case strings.HasSuffix(lower, ".tsv"):
		w.mode, w.sep = 'c', '\t'
	case strings.HasSuffix(lower, ".json"):
		w.mode = 'j'
	case r.resTmpl != nil:
		w.mode = 't'
	}
	if w.mode == 'c' || w.mode == 'j' {
		if name == "-.csv" || name == "-.tsv" || name == "-.json" {
			w.table = bufio.NewWriter(r.o.Stdout)
			// nothing else goes to stdout or stderr
			r.o.Stdout, r.o.Stderr = io.Discard, io.Discard
			return w, nil
		}
		f, err := os.Create(name)
		if err != nil {
			return nil, fmt.Errorf("--results: %w", err)
		}
		w.file, w.table = f, bufio.NewWriter(f)
		return w, nil
	}
	if w.mode == 'd' {
		if err := os.MkdirAll(name, 0o755); err != nil {
			return nil, fmt.Errorf("--results: %w", err)
		}
	}
	return w, nil
}

func (w *resultsWriter) close() {
	if w.table != nil {
		w.table.Flush()
	}
	if w.file != nil {
		w.file.Close()
	}
}

// paths returns where a job's stdout, stderr and seq go (directory and
// template forms).
func (w *resultsWriter) paths(r *runner, j *job) (stdout, stderr, seq string, err error) {
	if w.mode == 't' {
		x := &expansion{t: r.resTmpl, args: jobArgs(j), env: j.env, ev: r.ev}
		if j.env == nil {
			x.env = r.newEnv(j.seq, j)
		}
		out, err := x.expand()
		if err != nil {
			return "", "", "", err
		}
		if strings.HasSuffix(out, "/") {
			return out + "stdout", out + "stderr", out + "seq", nil
		}
		return out, out + ".err", out + ".seq", nil
	}
	dir := r.resultsDirName(j, 0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if !errors.Is(err, syscall.ENAMETOOLONG) {
			return "", "", "", err
		}
		dir = r.resultsDirName(j, 255) // each part cut to a file name's length
	}
	return filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr"), filepath.Join(dir, "seq"), nil
}

func jobArgs(j *job) []string {
	if len(j.args) == 0 {
		return []string{""}
	}
	return j.args
}

// exists says whether a job's results are there already (--resume).
func (w *resultsWriter) exists(r *runner, j *job) bool {
	if w.mode == 'c' || w.mode == 'j' {
		return false
	}
	out, _, _, err := w.paths(r, j)
	if err != nil {
		return false
	}
	_, err = os.Stat(out)
	return err == nil
}

func (w *resultsWriter) write(r *runner, j *job) error {
	switch w.mode {
	case 'c':
		return w.writeCSV(r, j)
	case 'j':
		return w.writeJSON(r, j)
	}
	out, errf, seq, err := w.paths(r, j)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{seq, []byte(strconv.Itoa(j.seq))}, {out, j.stdout.Bytes()}, {errf, j.stderr.Bytes()}} {
		if err := os.WriteFile(f.name, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// resultsDirName is DIR/<name>/<value>/... for the job's records, each
// record's columns in the order of their names (numbers first), as GNU
// parallel lays them out; limit > 0 cuts each part to that many bytes.
func (r *runner) resultsDirName(j *job, limit int) string {
	parts := []string{r.o.Results}
	cut := func(s string) string {
		if limit > 0 && len(s) > limit {
			return s[:limit]
		}
		return s
	}
	for _, rec := range j.records {
		for _, n := range r.headerOrder(len(rec)) {
			parts = append(parts, cut(r.columnName(n)), cut(escapeResultName(rec[n-1])))
		}
	}
	return filepath.Join(parts...)
}

// columnName is a column's --header name, or its number.
func (r *runner) columnName(n int) string {
	if n-1 < len(r.in.header) {
		return r.in.header[n-1]
	}
	return strconv.Itoa(n)
}

// headerOrder is columns 1..n ordered by name: numerically, then as
// strings, as Perl's <=> then cmp order them.
func (r *runner) headerOrder(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i + 1
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		na, nb := r.columnName(a), r.columnName(b)
		if c := perlNumCompare(na, nb); c != 0 {
			return c
		}
		return strings.Compare(na, nb)
	})
	return idx
}

// perlNumCompare compares the leading numbers of two strings as Perl's
// <=> does (no number is 0).
func perlNumCompare(a, b string) int {
	fa, fb := perlNumber(a), perlNumber(b)
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

func perlNumber(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || (end == 0 && (s[end] == '-' || s[end] == '+'))) {
		end++
	}
	for end > 0 {
		if f, err := strconv.ParseFloat(s[:end], 64); err == nil {
			return f
		}
		end--
	}
	return 0
}

// escapeResultName writes \ \t NUL and / as \\ \t \0 \_, so that a value
// is one directory name.
func escapeResultName(s string) string {
	if !strings.ContainsAny(s, "\\\t\x00/") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\x00", `\0`, "/", `\_`)
	return r.Replace(s)
}

// perlIncrement is Perl's magic string increment, which names the CSV
// columns V1, V2 ... V9, W0, W1 ...
func perlIncrement(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		switch c := b[i]; {
		case c == '9':
			b[i] = '0'
		case c == 'z':
			b[i] = 'a'
		case c == 'Z':
			b[i] = 'A'
		default:
			b[i]++
			return string(b)
		}
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9':
		return "1" + string(b)
	case c >= 'a' && c <= 'z':
		return "a" + string(b)
	}
	return "A" + string(b)
}

// csvField quotes a field as GNU parallel's combine_ref does: in "" when
// it holds ", whitespace, the separator or a NUL.
func (w *resultsWriter) csvField(s string) string {
	quote := strings.ContainsAny(s, "\" \t\n\r\f\v\x00") || strings.IndexByte(s, w.sep) >= 0
	s = strings.ReplaceAll(s, `"`, `""`)
	if quote {
		return `"` + s + `"`
	}
	return s
}

func (w *resultsWriter) row(fields []string) {
	for i, f := range fields {
		if i > 0 {
			w.table.WriteByte(w.sep)
		}
		w.table.WriteString(w.csvField(f))
	}
	w.table.WriteByte('\n')
}

func (w *resultsWriter) writeCSV(r *runner, j *job) error {
	vals := j.args
	if !w.header {
		w.header = true
		names := []string{"Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval", "Signal", "Command"}
		v := "V1"
		for i := range vals {
			if r.o.Header != "" {
				names = append(names, r.columnName(i+1))
			} else {
				names = append(names, v)
				v = perlIncrement(v)
			}
		}
		w.row(append(names, "Stdout", "Stderr"))
	}
	fields := append(logFields(j), j.cmd)
	fields = append(fields, vals...)
	var out, errOut strings.Builder
	r.writeTagged(&out, j, j.stdout.Bytes())
	r.writeTagged(&errOut, j, j.stderr.Bytes())
	w.row(append(fields, out.String(), errOut.String()))
	return w.table.Flush()
}

func jsonQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\"`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (w *resultsWriter) writeJSON(r *runner, j *job) error {
	f := logFields(j)
	var vs []string
	for _, v := range j.args {
		vs = append(vs, `"`+jsonQuote(v)+`"`)
	}
	var out, errOut strings.Builder
	r.writeTagged(&out, j, j.stdout.Bytes())
	r.writeTagged(&errOut, j, j.stderr.Bytes())
	fmt.Fprintf(w.table, `{ "Seq": %s, "Host": "%s", "Starttime": %s, "JobRuntime": %s, "Send": %s, "Receive": %s, "Exitval": %s, "Signal": %s, "Command": "%s", "V": [ %s ], "Stdout": "%s", "Stderr": "%s" }`+"\n",
		f[0], jsonQuote(f[1]), f[2], f[3], f[4], f[5], f[6], f[7], jsonQuote(j.cmd), strings.Join(vs, ","),
		jsonQuote(out.String()), jsonQuote(errOut.String()))
	return w.table.Flush()
}
