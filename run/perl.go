package run

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Perl code in replacement strings — {= code =}, --rpl, and the --plus
// strings built on Perl regular expressions — runs in one perl process
// per run, started only when a template needs it, with the functions and
// variables GNU parallel gives such code: $_ (the argument, trimmed as
// --trim says), @arg (all the job's arguments, $arg[1] the first),
// $job->seq() and $job->slot(), seq(), slot(), total_jobs(), skip(),
// uq(), Q(), pQ(), hash() and the yyyy_mm_dd... time functions. As in GNU
// parallel, the code runs in package Arg, its variables live from one job
// to the next, and a value is computed once per argument and job.

// perlDriver reads requests on standard input and answers on standard
// output; strings travel as a length and the bytes:
//
//	E id len\ncode      compile code as expression id      → "OK\n" or "ERR len\nmessage"
//	J seq slot total n\n then n × (len\nbytes)   the job's context (@arg, seq, slot)
//	V id len\nvalue     run expression id with $_ = value  → "R uq skip len\nresult" or "ERR len\nmessage"
//	F len\ncode         evaluate code (--filter)           → "R 0 skip 0|1\n" or "ERR ..."
const perlDriver = `
use strict; no warnings;
use POSIX ();
binmode STDIN; binmode STDOUT; $| = 1;
sub readn { my $n = shift; my $buf = ''; while (length($buf) < $n) { my $r = read(STDIN, $buf, $n - length($buf), length($buf)); exit 0 unless $r; } return $buf; }
sub reply_err { my $m = shift; $m =~ s/\s+$//; print "ERR ", length($m), "\n", $m; }
sub uniq { return keys %{{ map { $_ => 1 } @_ }}; }
sub make_regexp_ungreedy {
    my $regexp = shift; my ($class_state, $escape_state, $found, $ungreedy) = (0, 0, 0, "");
    for my $c (split (//, $regexp)) {
        if ($found) { if ($c ne "?") { $ungreedy .= "?"; } $found = 0; }
        $ungreedy .= $c;
        if ($escape_state) { $escape_state = 0; next; }
        if ($c eq "\\") { $escape_state = 1; next; }
        if ($c eq '[') { $class_state = 1; next; }
        if ($class_state) { if ($c eq ']') { $class_state = 0; } next; }
        if ($c =~ /[*}+]/) { $found = 1; }
    }
    if ($found) { $ungreedy .= '?'; }
    return $ungreedy;
}
sub Q { local $_ = $_[0]; if (/[^-_.+a-z0-9\/]/i) { s/'/'"'"'/g; $_ = "'$_'"; s/^''//; s/''$//; return $_; } elsif ($_ eq "") { return "''"; } return $_; }
sub pQ { my $a = $_[0]; if (defined $a) { $a =~ s/[\\\"\$\@]/\\$&/go; } return $a; }
package CrewJob;
sub seq { return $_[0]{seq} } sub slot { return $_[0]{slot} } sub skip { $Arg::Skip = 1 }
package Arg;
our (@arg, $Skip, $Unquote, $Total, $job);
sub Q { return ::Q($_[0]) } sub pQ { return ::pQ($_[0]) }
sub hash { require B; return B::hash(@_) }
sub total_jobs { return $Total } sub slot { return $job->{slot} } sub seq { return $job->{seq} }
sub skip { $Skip = 1 } sub uq { $Unquote = 1 }
sub yyyy_mm_dd_hh_mm_ss { POSIX::strftime("%Y-%m-%dT%H:%M:%S", localtime(time())) }
sub yyyy_mm_dd_hh_mm { POSIX::strftime("%Y-%m-%dT%H:%M", localtime(time())) }
sub yyyy_mm_dd { POSIX::strftime("%Y-%m-%d", localtime(time())) }
sub hh_mm_ss { POSIX::strftime("%H:%M:%S", localtime(time())) }
sub hh_mm { POSIX::strftime("%H:%M", localtime(time())) }
sub yyyymmddhhmmss { POSIX::strftime("%Y%m%d%H%M%S", localtime(time())) }
sub yyyymmddhhmm { POSIX::strftime("%Y%m%d%H%M", localtime(time())) }
sub yyyymmdd { POSIX::strftime("%Y%m%d", localtime(time())) }
sub hhmmss { POSIX::strftime("%H%M%S", localtime(time())) }
sub hhmm { POSIX::strftime("%H%M", localtime(time())) }
package main;
$Global::max_jobs_running = $ENV{CREW_MAX_JOBS} || 1;
$Arg::job = bless { seq => 0, slot => 0 }, 'CrewJob';
my %sub;
while (defined(my $line = <STDIN>)) {
    chomp $line;
    my ($cmd, @f) = split / /, $line;
    if ($cmd eq 'E') {
        my $code = readn($f[1]);
        my $s = eval "package Arg; sub { no strict; no warnings; my \$job = shift; $code\n }";
        if ($s) { $sub{$f[0]} = $s; print "OK\n"; } else { reply_err($@); }
    } elsif ($cmd eq 'J') {
        $Arg::job->{seq} = $f[0]; $Arg::job->{slot} = $f[1]; $Arg::Total = $f[2];
        @Arg::arg = (undef);
        for (1 .. $f[3]) { my $l = <STDIN>; chomp $l; push @Arg::arg, readn($l); }
        $Arg::Skip = 0;
    } elsif ($cmd eq 'V') {
        my $v = readn($f[1]);
        $Arg::Unquote = 0;
        my $r;
        my $ok = eval { local $_ = $v; $sub{$f[0]}->($Arg::job); $r = $_; 1 };
        if (!$ok) { reply_err($@); next; }
        $r = "" unless defined $r;
        print "R ", ($Arg::Unquote ? 1 : 0), " ", ($Arg::Skip ? 1 : 0), " ", length($r), "\n", $r;
    } elsif ($cmd eq 'F') {
        my $code = readn($f[0]);
        my $r = eval "package Arg; no strict; no warnings; $code\n";
        if ($@) { reply_err($@); next; }
        print "R 0 ", ($Arg::Skip ? 1 : 0), " 1\n", ($r ? 1 : 0);
    }
}
`

// evaluator evaluates replacement strings for a run: natives in Go, the
// rest in a perl process it starts when first needed.
type evaluator struct {
	trim    string // --trim: "n" (or ""), "l", "r", "lr", "rl"
	maxJobs int

	mu      sync.Mutex
	perl    *perlProc
	perlErr error
	lookup  sync.Once
	path    string // perl's, "" if not on PATH
	defined map[string]int
	lastJob *evalEnv
}

type perlProc struct {
	cmd    *exec.Cmd
	in     *bufio.Writer
	inPipe io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

func newEvaluator(trim string, maxJobs int) *evaluator {
	return &evaluator{trim: trim, maxJobs: maxJobs, defined: map[string]int{}}
}

// trimmed is the argument as replacement strings see it (--trim).
func (ev *evaluator) trimmed(s string) string {
	switch ev.trim {
	case "l":
		return strings.TrimLeft(s, " \t\n\r\f\v")
	case "r":
		return strings.TrimRight(s, " \t\n\r\f\v")
	case "lr", "rl":
		return strings.Trim(s, " \t\n\r\f\v")
	}
	return s
}

func (ev *evaluator) perlAvailable() bool {
	ev.lookup.Do(func() { ev.path, _ = exec.LookPath("perl") })
	return ev.path != ""
}

// start starts perl once; its failure is kept and returned each time.
func (ev *evaluator) start() error {
	if ev.perl != nil || ev.perlErr != nil {
		return ev.perlErr
	}
	if !ev.perlAvailable() {
		ev.perlErr = ErrNoPerl
		return ev.perlErr
	}
	p := &perlProc{}
	p.cmd = exec.Command(ev.path, "-e", perlDriver)
	p.cmd.Env = append(os.Environ(), "CREW_MAX_JOBS="+strconv.Itoa(ev.maxJobs))
	p.cmd.Stderr = &p.stderr
	w, err := p.cmd.StdinPipe()
	if err == nil {
		var r io.ReadCloser
		if r, err = p.cmd.StdoutPipe(); err == nil {
			p.out = bufio.NewReader(r)
			err = p.cmd.Start()
		}
	}
	if err != nil {
		ev.perlErr = fmt.Errorf("starting perl: %w", err)
		return ev.perlErr
	}
	p.inPipe, p.in = w, bufio.NewWriter(w)
	ev.perl = p
	return nil
}

// close ends the perl process, if any.
func (ev *evaluator) close() {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.perl != nil {
		ev.perl.inPipe.Close()
		ev.perl.cmd.Wait()
		ev.perl = nil
	}
}

// compile defines the code in perl (once), returning its id; perl's
// compile error names the code.
func (ev *evaluator) compile(code string) (int, error) {
	if id, ok := ev.defined[code]; ok {
		return id, nil
	}
	if err := ev.start(); err != nil {
		return 0, err
	}
	id := len(ev.defined) + 1
	p := ev.perl
	fmt.Fprintf(p.in, "E %d %d\n%s", id, len(code), code)
	if err := p.in.Flush(); err != nil {
		return 0, ev.died(err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return 0, ev.died(err)
	}
	if line != "OK\n" {
		msg, err := ev.readErr(line)
		if err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("cannot use the Perl code %q: %s", code, msg)
	}
	ev.defined[code] = id
	return id, nil
}

// prepare compiles the template's Perl code up front, so that an error
// in it stops the run before any job starts, as in GNU parallel.
func (ev *evaluator) prepare(t *Template) error {
	if !t.needsPerl {
		return nil
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range t.exprs {
		if e.nat == nil {
			if _, err := ev.compile(e.code); err != nil {
				return err
			}
		}
	}
	return nil
}

func (ev *evaluator) sendJob(env *evalEnv) {
	p := ev.perl
	total := -1
	if env.needTotal {
		total = env.total()
	}
	fmt.Fprintf(p.in, "J %d %d %d %d\n", env.seq, env.slot, total, len(env.args))
	for _, a := range env.args {
		fmt.Fprintf(p.in, "%d\n%s", len(a), a)
	}
	ev.lastJob = env
}

// perlEval runs e's code with $_ = arg for the job env describes.
func (ev *evaluator) perlEval(e *expr, arg string, env *evalEnv) (evalResult, error) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	id, err := ev.compile(e.code)
	if err != nil {
		return evalResult{}, err
	}
	p := ev.perl
	if ev.lastJob != env {
		ev.sendJob(env)
	}
	fmt.Fprintf(p.in, "V %d %d\n%s", id, len(arg), arg)
	if err := p.in.Flush(); err != nil {
		return evalResult{}, ev.died(err)
	}
	uq, skip, v, err := ev.readResult(e.code)
	if err != nil {
		return evalResult{}, err
	}
	env.skip = env.skip || skip
	return evalResult{value: v, unquoted: uq}, nil
}

// filter evaluates --filter's code (already expanded) for a job.
func (ev *evaluator) filter(code string, env *evalEnv) (bool, error) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if err := ev.start(); err != nil {
		return false, err
	}
	p := ev.perl
	if ev.lastJob != env {
		ev.sendJob(env)
	}
	fmt.Fprintf(p.in, "F %d\n%s", len(code), code)
	if err := p.in.Flush(); err != nil {
		return false, ev.died(err)
	}
	_, skip, v, err := ev.readResult(code)
	if err != nil {
		return false, err
	}
	env.skip = env.skip || skip
	return v == "1", nil
}

func (ev *evaluator) readResult(code string) (uq, skip bool, v string, err error) {
	p := ev.perl
	line, err := p.out.ReadString('\n')
	if err != nil {
		return false, false, "", ev.died(err)
	}
	if !strings.HasPrefix(line, "R ") {
		msg, err := ev.readErr(line)
		if err != nil {
			return false, false, "", err
		}
		return false, false, "", fmt.Errorf("the Perl code %q failed: %s", code, msg)
	}
	f := strings.Fields(line)
	if len(f) != 4 {
		return false, false, "", ev.died(fmt.Errorf("unexpected answer %q", line))
	}
	n, err := strconv.Atoi(f[3])
	if err != nil {
		return false, false, "", ev.died(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(p.out, buf); err != nil {
		return false, false, "", ev.died(err)
	}
	return f[1] == "1", f[2] == "1", string(buf), nil
}

func (ev *evaluator) readErr(line string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ERR ")))
	if !strings.HasPrefix(line, "ERR ") || err != nil {
		return "", ev.died(fmt.Errorf("unexpected answer %q", line))
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(ev.perl.out, buf); err != nil {
		return "", ev.died(err)
	}
	return string(buf), nil
}

// died reports perl's end: its stderr says why.
func (ev *evaluator) died(err error) error {
	p := ev.perl
	if p != nil {
		p.inPipe.Close()
		p.cmd.Wait()
		if msg := strings.TrimSpace(p.stderr.String()); msg != "" {
			err = errors.New(msg)
		}
	}
	ev.perl = nil
	ev.perlErr = fmt.Errorf("perl: %w", err)
	return ev.perlErr
}
