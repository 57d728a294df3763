package run

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

const jobLogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// openJobLog opens --joblog as GNU parallel does: a new file with a
// header; "+FILE" or a resumed log that has lines is appended to; "-" is
// standard output.
func (r *runner) openJobLog() error {
	path := r.o.JobLog
	appendTo := false
	if p, ok := strings.CutPrefix(path, "+"); ok {
		path, appendTo = p, true
	}
	if r.o.Resume || r.o.ResumeFailed || r.o.RetryFailed {
		r.done = map[int]bool{}
		hasLines, err := readJobLog(path, r.o.ResumeFailed || r.o.RetryFailed, r.done)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		appendTo = appendTo || hasLines
	}
	if path == "-" && !appendTo {
		r.joblog = r.o.Stdout
		_, err := io.WriteString(r.joblog, jobLogHeader)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !appendTo {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("--joblog: %w", err)
	}
	if !appendTo {
		if _, err := f.WriteString(jobLogHeader); err != nil {
			f.Close()
			return fmt.Errorf("--joblog: %w", err)
		}
	}
	r.joblogFile, r.joblog = f, f
	return nil
}

var (
	jobLogSucceeded = regexp.MustCompile(`^(\d+)(?:\t[^\t]+){5}\t0\t0\t`)
	jobLogSeq       = regexp.MustCompile(`^(\d+)`)
	jobLogLine      = regexp.MustCompile(`^\d+\s+[^\s]+\s+([-0-9.]+\s+){6}`)
)

// readJobLog marks the jobs of an earlier run to skip: all of them, or
// with onlySucceeded, those that exited 0 without a signal. hasLines says
// whether the file had any line (then it is appended to).
func readJobLog(path string, onlySucceeded bool, done map[int]bool) (hasLines bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	re := jobLogSeq
	if onlySucceeded {
		re = jobLogSucceeded
	}
	for line := 1; s.Scan(); line++ {
		hasLines = true
		if line == 1 {
			continue // the header, as GNU parallel takes it: whatever it is
		}
		text := s.Text()
		if m := re.FindStringSubmatch(text); m != nil {
			seq, _ := strconv.Atoi(m[1])
			done[seq] = true
		} else if !jobLogLine.MatchString(text) {
			if strings.Count(text, "\t") < 8 {
				continue // a line cut by a crash: that job runs again
			}
			return true, fmt.Errorf("--joblog %s line %d: not a joblog line: %q", path, line, text)
		}
	}
	return hasLines, s.Err()
}

// retryFailedSources makes the jobs of --retry-failed: the commands of
// the joblog's failed jobs, run as they are, each with its old number;
// the command line's command and arguments are ignored, as in GNU
// parallel.
func (r *runner) retryFailedSources() error {
	if r.o.JobLog == "" {
		return errors.New("--retry-failed needs --joblog FILE")
	}
	path := strings.TrimPrefix(r.o.JobLog, "+")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--retry-failed: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	var cmds []string
	for line := 1; s.Scan(); line++ {
		if line == 1 {
			continue
		}
		fields := strings.SplitN(s.Text(), "\t", 9)
		seq, err := strconv.Atoi(fields[0])
		if len(fields) < 9 || err != nil || seq < 1 {
			return fmt.Errorf("--retry-failed: %s line %d: not a joblog line: %q", path, line, s.Text())
		}
		for len(cmds) < seq {
			cmds = append(cmds, "")
		}
		cmds[seq-1] = fields[8]
		if fields[6] == "0" && fields[7] == "0" {
			cmds[seq-1] = "true"
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("--retry-failed: %w", err)
	}
	null := false
	for i, c := range cmds {
		if strings.Contains(c, "\x00") {
			null = true
			cmds[i] = strings.ReplaceAll(c, "\x00", "\n")
		}
	}
	r.o.Command = nil
	r.o.Sources = []Source{Args(cmds...)}
	r.o.Link = false
	if null {
		r.o.Null, r.o.Delimiter = true, ""
	}
	return nil
}

// logFields are the joblog's columns of a job but the command, as GNU
// parallel writes them.
func logFields(j *job) []string {
	host := j.host
	if host == "" {
		host = ":" // GNU parallel's name for this machine
	}
	runtime := float64(j.runtime.Milliseconds()) / 1000
	return []string{
		strconv.Itoa(j.seq), host,
		strconv.FormatFloat(float64(j.start.UnixMilli())/1000, 'f', 3, 64),
		strconv.FormatFloat(runtime, 'f', 3, 64),
		strconv.Itoa(len(j.stdin)), strconv.FormatInt(j.received, 10),
		strconv.Itoa(j.exit), strconv.Itoa(j.signal),
	}
}

// logJob appends the job's joblog line with a single write, so that a
// crash of crew loses no line of a finished job. Newlines in the command
// are written as NUL, as GNU parallel writes them.
func (r *runner) logJob(j *job) {
	if r.joblog == nil || r.o.DryRun {
		return
	}
	f := logFields(j)
	line := fmt.Sprintf("%s\t%s\t%s\t%10s\t%s\t%s\t%s\t%s\t%s\n", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7],
		strings.ReplaceAll(j.cmd, "\n", "\x00"))
	if _, err := io.WriteString(r.joblog, line); err != nil {
		fmt.Fprintf(r.o.Stderr, "crew run: --joblog: %v\n", err)
	}
}
