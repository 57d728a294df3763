package run

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"regexp"
	"strings"
)

// --pipe splits standard input into chunks of whole records, one job
// each, exactly as GNU parallel's spreadstdin does, so that the jobs get
// the same chunks: it reads up to a block (--block, 1 MB), passes on what
// ends at the last record boundary in it (or, with -N, -L or --csv,
// whole groups of records), and keeps the rest for the next chunk. A
// record is found by --recend (a newline) and --recstart, fixed strings
// or, with --regexp, regular expressions; --header lines are sent at the
// start of every chunk. A record longer than the block makes the block
// grow by 30% (with a warning), as in GNU parallel.

const twoGB = 1<<31 - 1

type blockSplitter struct {
	r          *runner
	header     *regexp.Regexp // --header for --pipe; nil: none
	recStart   string
	recEnd     string
	boundary   *regexp.Regexp // --regexp: recend (group 1) then recstart
	start      *regexp.Regexp // --regexp: recstart at the start
	perChunk   int            // records per chunk (-N, times -L); 0: as many as fit the block
	lines      int            // -L without -N: lines per record
	block      int
	partFiles  []*os.File
	blankLines *regexp.Regexp
}

func newBlockSplitter(r *runner) (*blockSplitter, error) {
	o := &r.o
	b := &blockSplitter{r: r, block: 1 << 20}
	if o.BlockSize > 0 {
		b.block = int(min(o.BlockSize, twoGB))
	}
	if o.Header != "" {
		h := o.Header
		switch {
		case h == ":":
			h = `(.*\n)`
		case isDigits(h):
			n := 0
			fmt.Sscan(h, &n)
			h = strings.Repeat(`(.*\n)`, n)
		}
		re, err := regexp.Compile(`^(?:` + h + `)`)
		if err != nil {
			return nil, fmt.Errorf("--header %q: crew reads it as a Go regular expression: %w", o.Header, err)
		}
		b.header = re
	}
	b.recStart, b.recEnd = o.RecStart, o.RecEnd
	if !o.RecEndSet && o.RecStart == "" {
		b.recEnd = "\n"
	}
	if o.Regexp {
		end := b.recEnd
		if end == "" && o.RecEndSet && o.RecStart == "" {
			end = `(?s:.)`
		}
		var err error
		if b.boundary, err = regexp.Compile(`(?m)(` + end + `)(?:` + b.recStart + `)`); err != nil {
			return nil, fmt.Errorf("--recstart/--recend: crew reads them as Go regular expressions: %w", err)
		}
		b.start = regexp.MustCompile(`^(?:` + b.recStart + `)`)
		b.recEnd = end
	} else {
		b.recStart, b.recEnd = unquoteRecSep(b.recStart), unquoteRecSep(b.recEnd)
	}
	if o.MaxArgs > 0 {
		b.perChunk = o.MaxArgs * max(o.MaxLines, 1)
	} else if o.MaxLines > 0 {
		b.lines = o.MaxLines
	}
	if o.NoRunIfEmpty {
		b.blankLines = regexp.MustCompile(`(?m)^[ \t\n\r\f\v]*\n`)
	}
	if o.PipePart {
		if err := b.openParts(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// unquoteRecSep reads \0 \r \n \t \' \" \\ in --recstart and --recend as
// GNU parallel does when they are not regular expressions.
func unquoteRecSep(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '0':
				b.WriteByte(0)
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 't':
				b.WriteByte('\t')
				i++
				continue
			case '\'', '"', '\\':
				b.WriteByte(s[i+1])
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (b *blockSplitter) close() {
	for _, f := range b.partFiles {
		f.Close()
	}
}

// chunk is a job's input: header and block.
type chunk struct {
	header []byte
	data   []byte
	reader string // -vv --pipe-part: GNU parallel's command that reads this chunk, up to the job's
}

// partReader is the perl program GNU parallel runs to read a --pipe-part
// chunk: pairs of (offset, length) in its arguments, the header's first.
const partReader = `perl -e 'while(@ARGV){sysseek(STDIN,shift,0)||die;$left=shift;while($read=sysread(STDIN,$buf,$left>32767?32767:$left)){$left-=$read;syswrite(STDOUT,$buf);}}'`

func (b *blockSplitter) jobs() iter.Seq2[*job, error] {
	chunks := b.chunks
	if b.r.o.PipePart {
		chunks = b.partChunks
	}
	return func(yield func(*job, error) bool) {
		seq := 0
		for c, err := range chunks() {
			if err != nil {
				yield(nil, err)
				return
			}
			seq++
			data := c.data
			if b.r.o.RemoveRecSep {
				data = b.removeRecSep(data)
			}
			stdin := make([]byte, 0, len(c.header)+len(data))
			stdin = append(append(stdin, c.header...), data...)
			args := []string{""}
			if b.r.o.Cat || b.r.o.Fifo {
				args = []string{"$PARALLEL_TMP"} // {} names the file, which the shell expands
			}
			if !yield(&job{seq: seq, stdin: stdin, args: args, records: [][]string{args}, reader: c.reader}, nil) {
				return
			}
		}
	}
}

// chunks reads standard input into chunks (spreadstdin).
func (b *blockSplitter) chunks() iter.Seq2[chunk, error] {
	return func(yield func(chunk, error) bool) {
		in := b.r.o.Stdin
		var buf []byte
		eof := false
		read := func() error {
			want := b.block - len(buf)%b.block
			for want > 0 {
				if cap(buf)-len(buf) < want {
					nb := make([]byte, len(buf), len(buf)+want)
					copy(nb, buf)
					buf = nb
				}
				n, err := in.Read(buf[len(buf) : len(buf)+want])
				buf = buf[:len(buf)+n]
				want -= n
				if err == io.EOF {
					eof = true
					return nil
				}
				if err != nil {
					return fmt.Errorf("--pipe: reading standard input: %w", err)
				}
			}
			return nil
		}
		var header []byte
		if b.header != nil {
			for {
				if err := read(); err != nil {
					yield(chunk{}, err)
					return
				}
				if loc := b.header.FindIndex(buf); loc != nil {
					header = append([]byte(nil), buf[:loc[1]]...)
					buf = buf[loc[1]:]
					break
				}
				if eof {
					break
				}
			}
		}
		emit := func(end int) bool {
			if end <= 0 {
				return true
			}
			c := chunk{header: header, data: append([]byte(nil), buf[:end]...)}
			buf = buf[end:]
			return yield(c, nil)
		}
		garbage := false
		for {
			before := len(buf)
			if err := read(); err != nil {
				yield(chunk{}, err)
				return
			}
			if b.blankLines != nil {
				buf = b.blankLines.ReplaceAll(buf, nil)
				if len(buf) == 0 {
					if eof {
						break
					}
					continue
				}
			}
			written := false
			for _, end := range b.splits(buf, eof, &garbage) {
				if !emit(end) {
					return
				}
				written = true
			}
			if eof {
				break
			}
			if !written && len(buf) >= before {
				b.grow()
			}
		}
		emit(len(buf))
	}
}

// grow enlarges the block after a read found no record boundary in it.
func (b *blockSplitter) grow() {
	if b.block >= twoGB {
		return
	}
	old := b.block
	b.block = int(min(math.Ceil(float64(b.block)*1.3+1), twoGB))
	fmt.Fprintf(b.r.o.Stderr, "crew run: Warning: A record was longer than %d. Increasing to --blocksize %d.\n", old, b.block)
}

// splits returns where to cut buf, in successive lengths from its start
// (each relative to what is left after the cut before).
func (b *blockSplitter) splits(buf []byte, eof bool, garbage *bool) []int {
	switch {
	case b.lines > 0:
		return b.lineSplit(buf)
	case b.r.o.CSV:
		return b.csvSplit(buf)
	case b.boundary != nil:
		return b.regexpSplits(buf, eof, garbage)
	case b.perChunk > 0:
		return b.nSplits(buf)
	}
	if eof {
		return nil
	}
	i := bytes.LastIndex(buf, []byte(b.recEnd+b.recStart))
	if i < 0 || b.recEnd+b.recStart == "" {
		return nil
	}
	return []int{i + len(b.recEnd)}
}

// nSplits cuts after every perChunk records: at the perChunk-th record
// boundary, searched from the second byte (so a record is never empty at
// the start), again and again.
func (b *blockSplitter) nSplits(buf []byte) []int {
	sep := []byte(b.recEnd + b.recStart)
	var out []int
	for len(buf) > 0 {
		i := 0
		for range b.perChunk {
			if i+1 > len(buf) {
				i = -1
				break
			}
			j := bytes.Index(buf[i+1:], sep)
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 {
			break
		}
		end := i + len(b.recEnd)
		out = append(out, end)
		buf = buf[end:]
	}
	return out
}

// lineSplit passes the most whole -L line records the buffer holds.
func (b *blockSplitter) lineSplit(buf []byte) []int {
	n := bytes.Count(buf, []byte{'\n'})
	pos := bytes.LastIndexByte(buf, '\n')
	for n%b.lines != 0 {
		n--
		if pos <= 0 {
			pos = -1
		} else {
			pos = bytes.LastIndexByte(buf[:pos], '\n')
		}
	}
	return []int{pos + 1}
}

// csvSplit passes up to the last newline with an even number of " before
// it: whole CSV records.
func (b *blockSplitter) csvSplit(buf []byte) []int {
	pos := len(buf)
	for {
		pos = bytes.LastIndexByte(buf[:max(pos, 0)], '\n')
		if pos < 0 || bytes.Count(buf[:pos], []byte{'"'})%2 == 0 {
			break
		}
	}
	return []int{pos + 1}
}

// regexpSplits is --regexp: the last boundary, or with -N every
// perChunk-th one (what comes before the first record start is a chunk of
// its own).
func (b *blockSplitter) regexpSplits(buf []byte, eof bool, garbage *bool) []int {
	if b.perChunk == 0 {
		if eof {
			return nil
		}
		ms := b.boundary.FindAllSubmatchIndex(buf, -1)
		if len(ms) == 0 {
			return nil
		}
		return []int{ms[len(ms)-1][3]}
	}
	var out []int
	if !*garbage {
		*garbage = true
		if !b.start.Match(buf) {
			if m := b.boundary.FindSubmatchIndex(buf); m != nil && m[3] > 0 {
				out = append(out, m[3])
				buf = buf[m[3]:]
			}
		}
	}
	for {
		ms := b.boundary.FindAllSubmatchIndex(buf, b.perChunk+1)
		var cuts []int
		for _, m := range ms {
			if m[3] > 0 {
				cuts = append(cuts, m[3])
			}
		}
		if len(cuts) < b.perChunk {
			return out
		}
		end := cuts[b.perChunk-1]
		out = append(out, end)
		buf = buf[end:]
	}
}

// removeRecSep is --remove-rec-sep: the record separators go.
func (b *blockSplitter) removeRecSep(data []byte) []byte {
	if b.boundary != nil {
		data = b.boundary.ReplaceAll(data, nil)
		data = b.start.ReplaceAll(data, nil)
		end := regexp.MustCompile(`(?:` + b.recEnd + `)$`)
		return end.ReplaceAll(data, nil)
	}
	data = bytes.ReplaceAll(data, []byte(b.recEnd+b.recStart), nil)
	data = bytes.TrimPrefix(data, []byte(b.recStart))
	return bytes.TrimSuffix(data, []byte(b.recEnd))
}

// openParts opens the --pipe-part files, which must be seekable.
func (b *blockSplitter) openParts() error {
	for _, s := range b.r.o.Sources {
		if s.kind != fileSource || s.path == "-" {
			return errors.New("--pipe-part reads files given with -a or ::::, not standard input or ::: values")
		}
		f, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("--pipe-part: %w", err)
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return fmt.Errorf("--pipe-part only works on seekable files, not streams/pipes: %s is not a seekable file", s.path)
		}
		b.partFiles = append(b.partFiles, f)
	}
	if len(b.partFiles) == 0 {
		return errors.New("--pipe-part needs a file (-a FILE or :::: FILE)")
	}
	return nil
}

// partChunks cuts the --pipe-part files at record boundaries near every
// block, as GNU parallel's find_split_positions does. Without --block the
// block is a tenth of a job slot's share of the files (a whole share with
// --round-robin); a negative --block is the number of blocks per slot.
func (b *blockSplitter) partChunks() iter.Seq2[chunk, error] {
	return func(yield func(chunk, error) bool) {
		block := int64(b.block)
		perSlot := int64(0)
		switch {
		case b.r.o.BlockSize < 0:
			perSlot = -b.r.o.BlockSize
		case b.r.o.BlockSize == 0 && b.r.o.RoundRobin:
			perSlot = 1
		case b.r.o.BlockSize == 0:
			perSlot = 10
		}
		if perSlot > 0 {
			var size int64
			for _, f := range b.partFiles {
				fi, _ := f.Stat()
				size += fi.Size()
			}
			block = 1 + size/int64(b.r.maxJobs)/perSlot
		}
		sep := []byte(b.recEnd + b.recStart)
		for _, f := range b.partFiles {
			fi, err := f.Stat()
			if err != nil {
				yield(chunk{}, err)
				return
			}
			size := fi.Size()
			var header []byte
			skip := int64(0)
			if b.header != nil {
				head := make([]byte, min(size, int64(b.block)))
				n, _ := f.ReadAt(head, 0)
				if loc := b.header.FindIndex(head[:n]); loc != nil {
					header = head[:loc[1]]
					skip = int64(loc[1])
				}
			}
			pos := []int64{skip}
			for p := block + skip; p < size; p += block {
				if len(sep) == 0 {
					pos = append(pos, p)
					continue
				}
				found := false
				var buf []byte
				for off := p; off < size && !found; {
					more := make([]byte, 131072)
					n, err := f.ReadAt(more, off)
					buf = append(buf, more[:n]...)
					off += int64(n)
					if b.boundary != nil {
						if m := b.boundary.FindAllSubmatchIndex(buf, -1); len(m) > 0 {
							p += int64(m[len(m)-1][3])
							found = true
						}
					} else if i := bytes.Index(buf, sep); i >= 0 {
						p += int64(i + len(b.recEnd))
						found = true
					}
					if err != nil || n == 0 {
						break
					}
				}
				if !found {
					break
				}
				pos = append(pos, p)
			}
			if pos[len(pos)-1] != size {
				pos = append(pos, size)
			}
			for i := 0; i+1 < len(pos); i++ {
				data := make([]byte, pos[i+1]-pos[i])
				if _, err := f.ReadAt(data, pos[i]); err != nil && err != io.EOF {
					yield(chunk{}, fmt.Errorf("--pipe-part: %w", err))
					return
				}
				c := chunk{header: header, data: data}
				if b.r.o.VeryVerbose {
					c.reader = fmt.Sprintf("<%s %s 0 %d %d %d", Quote(f.Name()), partReader, len(header), pos[i], len(data))
				}
				if !yield(c, nil) {
					return
				}
			}
		}
	}
}
