package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// crew run reads its options as GNU parallel does (Perl's Getopt::Long
// with bundling and require_order): options stop at the first word that
// is not one; single letters bundle (-kN1, -j2, -vv); a long option may
// be shortened to any unambiguous prefix (--dry for --dry-run); an
// option whose value is optional (-i, -e, -l) takes the next word only
// if it does not look like an option. Every GNU parallel option is in
// the table: those crew does not support are refused with the reason.

type optKind byte

const (
	optBool     optKind = iota // no value
	optValue                   // a value, from =, the rest of the bundle, or the next word
	optOptional                // an optional value (Getopt::Long's :s)
	optOptNum                  // an optional number (:f): the next word only if it is one
)

type runOpt struct {
	names  []string // long names, the first the canonical one
	short  byte
	kind   optKind
	arg    string // the value's name in --help
	help   string // "" hides the option from --help (aliases, no-ops)
	set    func(f *runFlags, v string) error
	refuse string // not supported: why, said when it is used
}

func boolOpt(p func(f *runFlags) *bool) func(*runFlags, string) error {
	return func(f *runFlags, _ string) error { *p(f) = true; return nil }
}

func strOpt(p func(f *runFlags) *string) func(*runFlags, string) error {
	return func(f *runFlags, v string) error { *p(f) = v; return nil }
}

func listOpt(p func(f *runFlags) *[]string) func(*runFlags, string) error {
	return func(f *runFlags, v string) error { *p(f) = append(*p(f), v); return nil }
}

// notSupported builds a refused option.
func notSupported(names []string, short byte, kind optKind, why string) runOpt {
	return runOpt{names: names, short: short, kind: kind, refuse: why}
}

const (
	whyRemote  = "remote execution over ssh is not supported: crew runs jobs on other machines with --cluster"
	whySQL     = "the SQL options are not supported: crew distributes jobs with --cluster"
	whyTmux    = "tmux output is not supported"
	whyRetired = "has been retired in GNU parallel too"
)

// runOptions is GNU parallel's option table, as crew reads it.
var runOptions = []runOpt{
	// input
	{names: []string{"arg-file", "argfile"}, short: 'a', kind: optValue, arg: "FILE", help: "read arguments from FILE (repeatable; - is standard input)", set: func(f *runFlags, v string) error { f.argFiles = append(f.argFiles, v); return nil }},
	{names: []string{"null"}, short: '0', help: "records end with NUL, not newline", set: boolOpt(func(f *runFlags) *bool { return &f.null })},
	{names: []string{"delimiter"}, short: 'd', kind: optValue, arg: "DELIM", help: `records end with DELIM (\n, \t, \0, \NNN octal understood)`, set: func(f *runFlags, v string) error { f.delim, f.delimSet = v, true; return nil }},
	{short: 'E', kind: optValue, arg: "EOF", help: "a record EOF ends the input", set: strOpt(func(f *runFlags) *string { return &f.eof })},
	{names: []string{"eof"}, short: 'e', kind: optOptional, set: strOpt(func(f *runFlags) *string { return &f.eof })},
	{names: []string{"no-run-if-empty", "norunifempty"}, short: 'r', help: "skip records of whitespace only", set: boolOpt(func(f *runFlags) *bool { return &f.noRunIfEmpty })},
	{names: []string{"arg-sep", "argsep"}, kind: optValue, arg: "SEP", help: "use SEP instead of :::", set: strOpt(func(f *runFlags) *string { return &f.argSep })},
	{names: []string{"arg-file-sep", "argfilesep"}, kind: optValue, arg: "SEP", help: "use SEP instead of ::::", set: strOpt(func(f *runFlags) *string { return &f.argFileSep })},
	{names: []string{"link", "xapply"}, help: "read the input sources in step (the shorter ones again from the start)", set: boolOpt(func(f *runFlags) *bool { return &f.link })},
	{names: []string{"col-sep", "colsep"}, short: 'C', kind: optValue, arg: "REGEXP", help: "split records into columns {1} {2} ... (implies --trim lr)", set: strOpt(func(f *runFlags) *string { return &f.colsep })},
	{names: []string{"csv"}, help: "records are CSV (--colsep sets the separator, default ,)", set: boolOpt(func(f *runFlags) *bool { return &f.csv })},
	{names: []string{"header"}, kind: optValue, arg: "RE", help: "the first record of each source names its columns: {name} (: one line; N lines; --pipe: RE)", set: strOpt(func(f *runFlags) *string { return &f.header })},
	{names: []string{"trim"}, kind: optValue, arg: "n|l|r|lr", help: "trim whitespace from the arguments: l left, r right, lr both", set: strOpt(func(f *runFlags) *string { return &f.trim })},
	{names: []string{"shuf"}, help: "run the jobs in random order (reads all the input first)", set: boolOpt(func(f *runFlags) *bool { return &f.shuf })},
	{names: []string{"skip-first-line", "skipfirstline"}, help: "ignore the first line of the input", set: boolOpt(func(f *runFlags) *bool { return &f.skipFirstLine })},
	{names: []string{"filter"}, kind: optValue, arg: "PERL", help: "run only jobs for which this Perl expression (replacement strings filled in) is true", set: listOpt(func(f *runFlags) *[]string { return &f.filter })},

	// arguments per job
	{names: []string{"max-args", "maxargs"}, short: 'n', kind: optValue, arg: "N", help: "N arguments per job (0: read one, use none)", set: func(f *runFlags, v string) error { f.maxArgs, f.maxArgsSet = v, true; return nil }},
	{names: []string{"max-replace-args", "maxreplaceargs"}, short: 'N', kind: optValue, arg: "N", help: "N arguments per job as {1} .. {N}; implies -X (with --pipe: N records per block)", set: func(f *runFlags, v string) error { f.maxReplace, f.maxReplaceSet = v, true; return nil }},
	{short: 'L', kind: optValue, arg: "N", help: "N lines per job (a line ending in whitespace goes on); with --pipe: records of N lines", set: func(f *runFlags, v string) error { f.maxLines, f.maxLinesSet = v, true; return nil }},
	{names: []string{"max-lines", "maxlines"}, short: 'l', kind: optOptNum, set: func(f *runFlags, v string) error {
		if v == "" || v == "0" {
			v = "1"
		}
		f.maxLines, f.maxLinesSet = v, true
		return nil
	}},
	{short: 'X', help: "as many arguments as the command line holds, the word around {} repeated for each", set: boolOpt(func(f *runFlags) *bool { return &f.contextX })},
	{short: 'm', help: "as many arguments as the command line holds", set: boolOpt(func(f *runFlags) *bool { return &f.multi })},
	{names: []string{"xargs"}, help: "as many arguments as the command line holds, not spread over the job slots", set: boolOpt(func(f *runFlags) *bool { return &f.xargs })},
	{names: []string{"max-chars", "maxchars"}, short: 's', kind: optValue, arg: "N", help: "command lines of at most N characters", set: strOpt(func(f *runFlags) *string { return &f.maxChars })},
	{names: []string{"exit"}, short: 'x', set: boolOpt(func(f *runFlags) *bool { return new(bool) })},

	// replacement strings
	{short: 'I', kind: optValue, arg: "STR", help: "use STR instead of {}", set: strOpt(func(f *runFlags) *string { return &f.replace.Arg })},
	{names: []string{"replace"}, short: 'i', kind: optOptional, set: func(f *runFlags, v string) error {
		if v != "" {
			f.replace.Arg = v
		}
		return nil
	}},
	{names: []string{"extensionreplace", "er"}, kind: optValue, arg: "STR", help: "use STR instead of {.}", set: strOpt(func(f *runFlags) *string { return &f.replace.NoExt })},
	{names: []string{"basenamereplace", "bnr"}, kind: optValue, arg: "STR", help: "use STR instead of {/}", set: strOpt(func(f *runFlags) *string { return &f.replace.Basename })},
	{names: []string{"dirnamereplace", "dnr"}, kind: optValue, arg: "STR", help: "use STR instead of {//}", set: strOpt(func(f *runFlags) *string { return &f.replace.Dirname })},
	{names: []string{"basenameextensionreplace", "bner"}, kind: optValue, arg: "STR", help: "use STR instead of {/.}", set: strOpt(func(f *runFlags) *string { return &f.replace.BasenameNoExt })},
	{names: []string{"seqreplace"}, kind: optValue, arg: "STR", help: "use STR instead of {#}", set: strOpt(func(f *runFlags) *string { return &f.replace.Seq })},
	{names: []string{"slotreplace"}, kind: optValue, arg: "STR", help: "use STR instead of {%}", set: strOpt(func(f *runFlags) *string { return &f.replace.Slot })},
	{names: []string{"plus"}, help: "more replacement strings: {..} {+.} {##} {:-x} {%regexp} ...", set: boolOpt(func(f *runFlags) *bool { return &f.replace.Plus })},
	{names: []string{"rpl"}, kind: optValue, arg: "'TAG PERL'", help: "define a replacement string (Perl code, run by perl)", set: func(f *runFlags, v string) error { f.replace.Rpl = append(f.replace.Rpl, v); return nil }},
	{names: []string{"parens"}, kind: optValue, arg: "PARENS", help: "use PARENS instead of {==} around Perl expressions", set: strOpt(func(f *runFlags) *string { return &f.replace.Parens })},
	{names: []string{"quote"}, short: 'q', help: "quote the command, for commands with their own quoting", set: boolOpt(func(f *runFlags) *bool { return &f.quote })},

	// jobs
	{names: []string{"jobs", "max-procs", "maxprocs"}, short: 'j', kind: optValue, arg: "N", help: "jobs at once: N, 0 (many), N% of CPUs, +N or -N CPUs, or a FILE holding that", set: strOpt(func(f *runFlags) *string { return &f.jobs })},
	{short: 'P', kind: optValue, set: strOpt(func(f *runFlags) *string { return &f.jobs })},
	{names: []string{"use-cores-instead-of-threads", "usecoresinsteadofthreads"}, help: "count physical cores for -j N% +N -N", set: func(f *runFlags, _ string) error { f.cpuCount = "cores"; return nil }},
	{names: []string{"use-sockets-instead-of-threads", "usesocketsinsteadofthreads"}, help: "count CPU sockets for -j N% +N -N", set: func(f *runFlags, _ string) error { f.cpuCount = "sockets"; return nil }},
	{names: []string{"use-cpus-instead-of-cores", "usecpusinsteadofcores"}, set: func(f *runFlags, _ string) error { f.cpuCount = "sockets"; return nil }},
	{names: []string{"delay"}, kind: optValue, arg: "TIME", help: "wait TIME between job starts (seconds, or 1m30s, 2h ...)", set: strOpt(func(f *runFlags) *string { return &f.delay })},
	{names: []string{"timeout"}, kind: optValue, arg: "TIME", help: "kill a job's process group after TIME, or N% of the median run time", set: strOpt(func(f *runFlags) *string { return &f.timeout })},
	{names: []string{"term-seq", "termseq"}, kind: optValue, arg: "SEQ", help: "how a job is killed (default TERM,200,TERM,100,TERM,50,KILL,25)", set: strOpt(func(f *runFlags) *string { return &f.termSeq })},
	{names: []string{"retries"}, kind: optValue, arg: "N", help: "run a failing job up to N times (0: until it succeeds)", set: strOpt(func(f *runFlags) *string { return &f.retries })},
	{names: []string{"halt-on-error", "haltonerror", "halt"}, kind: optValue, arg: "WHEN", help: "stop early: now|soon,fail|success|done=N or N%", set: strOpt(func(f *runFlags) *string { return &f.halt })},
	{names: []string{"load"}, kind: optValue, arg: "N", help: "start jobs only while fewer than N processes run (as -j: N% +N -N)", set: strOpt(func(f *runFlags) *string { return &f.load })},
	{names: []string{"memfree"}, kind: optValue, arg: "SIZE", help: "start jobs only with SIZE memory free; below half, kill the youngest", set: strOpt(func(f *runFlags) *string { return &f.memFree })},
	{names: []string{"nice"}, kind: optValue, arg: "N", help: "run jobs at niceness N", set: strOpt(func(f *runFlags) *string { return &f.nice })},
	{names: []string{"env"}, kind: optValue, arg: "VAR", help: "send VAR to --cluster workers (locally jobs have the whole environment)", set: listOpt(func(f *runFlags) *[]string { return &f.env })},
	{names: []string{"process-slot-var", "processslotvar"}, kind: optValue, arg: "VAR", help: "set VAR to the job slot - 1 in each job", set: strOpt(func(f *runFlags) *string { return &f.slotVar })},
	{names: []string{"workdir", "work-dir", "wd"}, kind: optValue, arg: "DIR", help: "run the jobs in DIR (replacement strings filled in)", set: strOpt(func(f *runFlags) *string { return &f.workdir })},
	{names: []string{"tty"}, help: "give the jobs the terminal: -j1 -u, standard input /dev/tty", set: boolOpt(func(f *runFlags) *bool { return &f.tty })},
	{names: []string{"open-tty"}, short: 'o', help: "standard input of each job is /dev/tty", set: boolOpt(func(f *runFlags) *bool { return &f.openTTY })},
	{names: []string{"interactive"}, short: 'p', help: "ask before each job (on /dev/tty)", set: boolOpt(func(f *runFlags) *bool { return &f.interactive })},

	// output
	{names: []string{"keep-order", "keeporder"}, short: 'k', help: "print output in input order", set: boolOpt(func(f *runFlags) *bool { return &f.keep })},
	{names: []string{"no-keep-order", "nokeeporder", "nok", "no-k"}, set: func(f *runFlags, _ string) error { f.noKeep = true; return nil }},
	{names: []string{"group"}, help: "print each job's output whole when it ends (the default)", set: boolOpt(func(f *runFlags) *bool { return &f.group })},
	{names: []string{"ungroup"}, short: 'u', help: "print output as it comes, lines of jobs may mix", set: boolOpt(func(f *runFlags) *bool { return &f.ungroup })},
	{names: []string{"line-buffer", "line-buffered", "linebuffer", "linebuffered", "lb"}, help: "print output line by line as it comes (-k: the oldest job's live)", set: boolOpt(func(f *runFlags) *bool { return &f.lineBuf })},
	{names: []string{"tag"}, help: "start output lines with the arguments and a tab", set: boolOpt(func(f *runFlags) *bool { return &f.tag })},
	{names: []string{"tag-string", "tagstring"}, kind: optValue, arg: "STR", help: "start output lines with STR (replacement strings filled in) and a tab", set: strOpt(func(f *runFlags) *string { return &f.tagString })},
	{names: []string{"verbose"}, short: 't', help: "print each command on stderr when it starts", set: boolOpt(func(f *runFlags) *bool { return &f.printCmd })},
	{short: 'v', help: "print each command on stdout before its output", set: func(f *runFlags, _ string) error { f.verbose++; return nil }},
	{names: []string{"silent"}, set: func(f *runFlags, _ string) error { f.verbose = 0; return nil }},
	{names: []string{"dry-run", "dryrun", "dr"}, help: "print the commands, run nothing", set: boolOpt(func(f *runFlags) *bool { return &f.dry })},
	{names: []string{"output-as-files", "outputasfiles", "files"}, help: "save each job's stdout in a file and print its name", set: boolOpt(func(f *runFlags) *bool { return &f.files })},
	{names: []string{"tmpdir", "tempdir"}, kind: optValue, arg: "DIR", help: "where --files and --cat put their files (default $TMPDIR, /tmp)", set: strOpt(func(f *runFlags) *string { return &f.tmpdir })},
	{names: []string{"results", "result", "res"}, kind: optValue, arg: "NAME", help: "save output under DIR/1/value/..., or in files named by replacement strings, or X.csv/.tsv/.json", set: strOpt(func(f *runFlags) *string { return &f.results })},
	{names: []string{"joblog", "jl"}, kind: optValue, arg: "FILE", help: "log each job in GNU parallel's format (+FILE appends, - is stdout)", set: strOpt(func(f *runFlags) *string { return &f.joblog })},
	{names: []string{"resume"}, help: "skip jobs already in --joblog (or --results)", set: boolOpt(func(f *runFlags) *bool { return &f.resume })},
	{names: []string{"resume-failed", "resumefailed"}, help: "skip jobs in --joblog that succeeded; rerun failed ones", set: boolOpt(func(f *runFlags) *bool { return &f.resumeFailed })},
	{names: []string{"retry-failed", "retryfailed"}, help: "run the failed commands of --joblog again (the command line is ignored)", set: boolOpt(func(f *runFlags) *bool { return &f.retryFailed })},
	{names: []string{"progress"}, help: "show progress on stderr", set: boolOpt(func(f *runFlags) *bool { return &f.progress })},
	{names: []string{"bar"}, help: "show a progress bar on stderr", set: boolOpt(func(f *runFlags) *bool { return &f.bar })},
	{names: []string{"eta"}, help: "show progress and the estimated time left on stderr", set: boolOpt(func(f *runFlags) *bool { return &f.eta })},
	{names: []string{"total-jobs", "totaljobs", "total"}, kind: optValue, arg: "N", help: "the number of jobs, for --bar and --eta", set: strOpt(func(f *runFlags) *string { return &f.totalJobs })},
	{names: []string{"shell-quote", "shellquote", "shell_quote"}, help: "print each command shell-quoted instead of running it", set: func(f *runFlags, _ string) error { f.shellQuote++; return nil }},
	{names: []string{"compress"}, set: boolOpt(func(f *runFlags) *bool { return new(bool) })},
	{names: []string{"compress-program", "compressprogram", "use-compress-program", "usecompressprogram"}, kind: optValue, set: func(*runFlags, string) error { return nil }},
	{names: []string{"decompress-program", "decompressprogram", "use-decompress-program", "usedecompressprogram"}, kind: optValue, set: func(*runFlags, string) error { return nil }},

	// pipe
	{names: []string{"pipe", "spreadstdin"}, help: "split standard input into blocks, one per job's standard input", set: boolOpt(func(f *runFlags) *bool { return &f.pipe })},
	{names: []string{"pipe-part", "pipepart"}, help: "as --pipe, from the seekable files given with -a or :::: (fast)", set: boolOpt(func(f *runFlags) *bool { return &f.pipePart })},
	{names: []string{"block-size", "blocksize", "block"}, kind: optValue, arg: "SIZE", help: "--pipe block size (k=1000, K=1024, M, G ...; default 1M)", set: strOpt(func(f *runFlags) *string { return &f.block })},
	{names: []string{"recstart"}, kind: optValue, arg: "STR", help: "--pipe records start with STR", set: func(f *runFlags, v string) error { f.recStart, f.recStartSet = v, true; return nil }},
	{names: []string{"recend"}, kind: optValue, arg: "STR", help: `--pipe records end with STR (default \n)`, set: func(f *runFlags, v string) error { f.recEnd, f.recEndSet = v, true; return nil }},
	{names: []string{"regexp", "regex"}, help: "--recstart and --recend are regular expressions", set: boolOpt(func(f *runFlags) *bool { return &f.regexp })},
	{names: []string{"remove-rec-sep", "removerecsep", "rrs"}, help: "remove the record separators from the blocks", set: boolOpt(func(f *runFlags) *bool { return &f.rrs })},
	{names: []string{"round-robin", "roundrobin", "round"}, help: "start -j jobs and give each block to whichever is ready", set: boolOpt(func(f *runFlags) *bool { return &f.roundRobin })},
	{names: []string{"tee"}, help: "with --pipe: all of standard input to every job (jobs from ::: values)", set: boolOpt(func(f *runFlags) *bool { return &f.tee })},
	{names: []string{"cat"}, help: "with --pipe: the block in a file, named by {}", set: boolOpt(func(f *runFlags) *bool { return &f.cat })},
	{names: []string{"fifo"}, help: "with --pipe: the block through a named pipe, named by {}", set: boolOpt(func(f *runFlags) *bool { return &f.fifo })},

	// semaphore
	{names: []string{"semaphore"}, help: "work as a counting semaphore (as sem)", set: boolOpt(func(f *runFlags) *bool { return &f.semaphore })},
	{names: []string{"semaphore-name", "semaphorename", "id"}, kind: optValue, arg: "NAME", help: "the semaphore's name (default: the terminal's)", set: func(f *runFlags, v string) error { f.semName, f.semaphore = v, true; return nil }},
	{names: []string{"semaphore-timeout", "semaphoretimeout", "st"}, kind: optValue, arg: "SECS", help: "take the semaphore anyway after SECS (negative: give up, exit 1)", set: func(f *runFlags, v string) error { f.semTimeout, f.semaphore = v, true; return nil }},
	{names: []string{"fg"}, help: "--semaphore: run in the foreground, exit with the command's status", set: func(f *runFlags, _ string) error { f.fg, f.semaphore = true, true; return nil }},
	{names: []string{"bg"}, help: "--semaphore: run in the background (the default)", set: func(f *runFlags, _ string) error { f.bg, f.semaphore = true, true; return nil }},
	{names: []string{"wait"}, help: "--semaphore: wait until every command holding it has ended", set: func(f *runFlags, _ string) error { f.wait, f.semaphore = true, true; return nil }},

	// information
	{names: []string{"help"}, short: 'h', help: "show this help", set: boolOpt(func(f *runFlags) *bool { return &f.help })},
	{names: []string{"version"}, short: 'V', help: "print crew's version", set: boolOpt(func(f *runFlags) *bool { return &f.version })},
	{names: []string{"min-version", "minversion"}, kind: optValue, arg: "V", help: "exit 255 unless the GNU parallel behaviour crew follows (20221122) is at least V", set: strOpt(func(f *runFlags) *string { return &f.minVersion })},
	{names: []string{"number-of-cpus", "numberofcpus"}, set: func(f *runFlags, _ string) error { f.info = "cores"; return nil }},
	{names: []string{"number-of-cores", "numberofcores"}, help: "print the number of physical CPU cores", set: func(f *runFlags, _ string) error { f.info = "cores"; return nil }},
	{names: []string{"number-of-sockets", "numberofsockets"}, help: "print the number of CPU sockets", set: func(f *runFlags, _ string) error { f.info = "sockets"; return nil }},
	{names: []string{"number-of-threads", "numberofthreads"}, help: "print the number of CPU threads", set: func(f *runFlags, _ string) error { f.info = "threads"; return nil }},
	{names: []string{"max-line-length-allowed", "maxlinelengthallowed"}, help: "print the longest command line allowed", set: func(f *runFlags, _ string) error { f.info = "linelen"; return nil }},
	{names: []string{"show-limits", "showlimits"}, help: "print the command line limits", set: boolOpt(func(f *runFlags) *bool { return &f.showLimits })},
	{names: []string{"record-env", "recordenv"}, help: "record the environment's variable names in ~/.parallel/ignored_vars (for --env _)", set: func(f *runFlags, _ string) error { f.info = "record-env"; return nil }},

	// profiles and no-ops
	{names: []string{"profile"}, short: 'J', kind: optValue, arg: "NAME", help: "read options from ~/.parallel/NAME (GNU parallel's profiles)", set: func(*runFlags, string) error { return nil }},
	{names: []string{"plain"}, help: "ignore --profile, $PARALLEL and ~/.parallel/config", set: func(*runFlags, string) error { return nil }},
	{names: []string{"gnu"}, set: func(*runFlags, string) error { return nil }},
	{names: []string{"will-cite", "willcite", "nn", "nonotice", "no-notice"}, set: func(*runFlags, string) error { return nil }},
	{names: []string{"bug"}, set: func(*runFlags, string) error { return nil }},

	// crew's own
	{names: []string{"cluster"}, kind: optValue, arg: "URL", help: "run the jobs on the crew workers of the server at URL (nats://host:4222, or embedded)", set: strOpt(func(f *runFlags) *string { return &f.cluster })},
	{names: []string{"token"}, kind: optValue, arg: "TOKEN", help: "--cluster: the server's token (default $" + tokenEnv + ")", set: strOpt(func(f *runFlags) *string { return &f.auth.token })},
	{names: []string{"nkey"}, kind: optValue, arg: "FILE", help: "--cluster: authenticate with the nkey seed in FILE", set: strOpt(func(f *runFlags) *string { return &f.auth.nkey })},
	{names: []string{"tls-ca"}, kind: optValue, arg: "FILE", help: "--cluster: trust server certificates signed by this CA (PEM)", set: strOpt(func(f *runFlags) *string { return &f.auth.tlsCA })},
	{names: []string{"tls-cert"}, kind: optValue, arg: "FILE", help: "--cluster: client certificate (PEM)", set: strOpt(func(f *runFlags) *string { return &f.auth.tlsCert })},
	{names: []string{"tls-key"}, kind: optValue, arg: "FILE", help: "--cluster: private key of --tls-cert (PEM)", set: strOpt(func(f *runFlags) *string { return &f.auth.tlsKey })},

	// not supported
	notSupported([]string{"sshlogin"}, 'S', optValue, whyRemote),
	notSupported([]string{"sshloginfile", "slf"}, 0, optValue, whyRemote),
	notSupported([]string{"controlmaster"}, 'M', optBool, whyRemote),
	notSupported([]string{"ssh"}, 0, optValue, whyRemote),
	notSupported([]string{"ssh-delay", "sshdelay"}, 0, optValue, whyRemote),
	notSupported([]string{"transfer-file", "transferfile", "transfer-files", "transferfiles", "tf"}, 0, optValue, whyRemote),
	notSupported([]string{"return"}, 0, optValue, whyRemote),
	notSupported([]string{"trc"}, 0, optValue, whyRemote),
	notSupported([]string{"transfer"}, 0, optBool, whyRemote),
	notSupported([]string{"cleanup"}, 0, optBool, whyRemote),
	notSupported([]string{"basefile", "bf"}, 0, optValue, whyRemote),
	notSupported([]string{"rsync-opts", "rsyncopts"}, 0, optValue, whyRemote),
	notSupported([]string{"filter-hosts", "filterhosts", "filter-host"}, 0, optBool, whyRemote),
	notSupported([]string{"onall"}, 0, optBool, whyRemote),
	notSupported([]string{"nonall"}, 0, optBool, whyRemote),
	notSupported([]string{"hgrp", "hostgrp", "hostgroup", "hostgroups"}, 0, optBool, whyRemote),
	notSupported([]string{"sql-master", "sqlmaster"}, 0, optValue, whySQL),
	notSupported([]string{"sql-worker", "sqlworker"}, 0, optValue, whySQL),
	notSupported([]string{"sql-and-worker", "sqlandworker"}, 0, optValue, whySQL),
	notSupported([]string{"sql"}, 0, optValue, whySQL),
	notSupported([]string{"tmux"}, 0, optBool, whyTmux),
	notSupported([]string{"tmux-pane", "tmuxpane"}, 0, optBool, whyTmux),
	notSupported([]string{"latest-line", "latestline", "ll"}, 0, optBool, "--latest-line is not supported; --line-buffer prints every line"),
	notSupported([]string{"color", "colour"}, 0, optBool, "colour output is not supported"),
	notSupported([]string{"color-failed", "colour-failed", "colorfailed", "colourfailed", "color-fail", "colour-fail", "colorfail", "colourfail", "cf"}, 0, optBool, "colour output is not supported"),
	notSupported([]string{"ctag"}, 0, optBool, "colour output is not supported; use --tag"),
	notSupported([]string{"ctag-string", "ctagstring"}, 0, optValue, "colour output is not supported; use --tagstring"),
	notSupported([]string{"memsuspend"}, 0, optValue, "--memsuspend is not supported; --memfree holds back and kills jobs instead"),
	notSupported([]string{"noswap"}, 0, optBool, "--noswap is not supported; --memfree holds back jobs on memory instead"),
	notSupported([]string{"limit"}, 0, optValue, "--limit is not supported; --load and --memfree limit job starts"),
	notSupported([]string{"template", "tmpl"}, 0, optValue, "--template is not supported"),
	notSupported([]string{"shard"}, 0, optValue, "--shard is not supported"),
	notSupported([]string{"bin"}, 0, optValue, "--bin is not supported"),
	notSupported([]string{"group-by", "groupby"}, 0, optValue, "--group-by is not supported"),
	notSupported([]string{"block-timeout", "blocktimeout", "bt"}, 0, optValue, "--block-timeout is not supported"),
	notSupported([]string{"embed"}, 0, optBool, "--embed is not supported: crew is one binary"),
	notSupported([]string{"shebang-wrap", "shebangwrap"}, 0, optBool, "--shebang-wrap is not supported"),
	notSupported([]string{"shell-completion", "shellcompletion"}, 0, optValue, "--shell-completion is not supported; crew completion prints crew's"),
	notSupported([]string{"session"}, 0, optBool, "--session is for env_parallel, which crew does not have"),
	notSupported([]string{"_parset"}, 0, optValue, "--_parset is for parset, which crew does not have"),
	notSupported([]string{"linkinputsource", "xapplyinputsource"}, 0, optValue, "--linkinputsource is internal to GNU parallel; use :::+ and ::::+"),
	notSupported([]string{"debug"}, 'D', optValue, "GNU parallel's debugging output is not supported"),
	notSupported([]string{"tollef"}, 0, optBool, "--tollef "+whyRetired),
	notSupported(nil, 'g', optBool, "-g "+whyRetired+"; use --group"),
	notSupported(nil, 'B', optValue, "-B "+whyRetired+"; use --bf"),
	notSupported(nil, 'T', optBool, "-T "+whyRetired+"; use --tty"),
	notSupported(nil, 'U', optValue, "-U "+whyRetired+"; use --er"),
	notSupported(nil, 'W', optValue, "-W "+whyRetired+"; use --wd"),
	notSupported(nil, 'Y', optBool, "-Y "+whyRetired+"; use --shebang"),
	notSupported(nil, 'H', optValue, "-H "+whyRetired+"; use --halt"),
	notSupported([]string{"ctrl-c", "ctrlc", "no-ctrl-c", "no-ctrlc", "noctrlc"}, 0, optBool, "--ctrl-c "+whyRetired),
}

// The option table indexed once.
var (
	runLong  = map[string]*runOpt{}
	runShort = map[byte]*runOpt{}
	runNames []string // long names, sorted, for abbreviations
)

func init() {
	for i := range runOptions {
		o := &runOptions[i]
		for _, n := range o.names {
			runLong[n] = o
			runNames = append(runNames, n)
		}
		if o.short != 0 {
			runShort[o.short] = o
		}
	}
	sort.Strings(runNames)
}

// lookupLong finds a long option by name or unambiguous prefix.
func lookupLong(name string) (*runOpt, error) {
	if o, ok := runLong[name]; ok {
		return o, nil
	}
	var found *runOpt
	var names []string
	i := sort.SearchStrings(runNames, name)
	for ; i < len(runNames) && strings.HasPrefix(runNames[i], name); i++ {
		o := runLong[runNames[i]]
		if found != nil && o != found {
			names = append(names, "--"+runNames[i])
			continue
		}
		if found == nil {
			names = append(names, "--"+runNames[i])
		}
		found = o
	}
	switch {
	case found == nil:
		return nil, fmt.Errorf("unknown option: --%s", name)
	case len(names) > 1:
		return nil, fmt.Errorf("option --%s is ambiguous (%s)", name, strings.Join(names, ", "))
	}
	return found, nil
}

// looksNumeric is what Getopt::Long takes as an optional number.
func looksNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// parseRunArgs reads the options at the front of args into f and
// returns the rest: the command and its ::: groups.
func parseRunArgs(f *runFlags, args []string) ([]string, error) {
	i := 0
	apply := func(o *runOpt, name, v string) error {
		if o.refuse != "" {
			return fmt.Errorf("%s: %s", name, o.refuse)
		}
		if err := o.set(f, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--":
			return args[i+1:], nil
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			o, err := lookupLong(name)
			if err != nil {
				return nil, err
			}
			i++
			switch o.kind {
			case optBool:
				if hasVal {
					return nil, fmt.Errorf("option --%s takes no value", name)
				}
			case optValue:
				if !hasVal {
					if i >= len(args) {
						return nil, fmt.Errorf("option --%s needs a value", name)
					}
					val = args[i]
					i++
				}
			case optOptional, optOptNum:
				if !hasVal && i < len(args) && !strings.HasPrefix(args[i], "-") && (o.kind == optOptional || looksNumeric(args[i])) {
					val = args[i]
					i++
				}
			}
			if err := apply(o, "--"+name, val); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			i++
			for k := 1; k < len(a); k++ {
				o, ok := runShort[a[k]]
				if !ok {
					return nil, fmt.Errorf("unknown option: -%c", a[k])
				}
				name := "-" + string(a[k])
				if o.kind == optBool {
					if err := apply(o, name, ""); err != nil {
						return nil, err
					}
					continue
				}
				val := a[k+1:]
				if val == "" {
					switch {
					case o.kind == optValue:
						if i >= len(args) {
							return nil, fmt.Errorf("option %s needs a value", name)
						}
						val = args[i]
						i++
					case i < len(args) && !strings.HasPrefix(args[i], "-") && (o.kind == optOptional || looksNumeric(args[i])):
						val = args[i]
						i++
					}
				} else if o.kind == optOptNum && !looksNumeric(val) {
					// -l0 is a number; -lfoo is not: the rest are options
					if err := apply(o, name, ""); err != nil {
						return nil, err
					}
					continue
				}
				if err := apply(o, name, val); err != nil {
					return nil, err
				}
				break
			}
		default:
			return args[i:], nil
		}
	}
	return nil, nil
}
