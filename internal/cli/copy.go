package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/treecopy"
)

type copyOptions struct {
	workers   int
	checksum  bool
	verify    bool
	dryRun    bool
	quiet     bool
	del       bool
	maxDelete int
	filter    treecopy.Filter
	oneFS     bool
	verbose   bool
	itemize   bool
	progress  bool
	null      bool
	fsync     bool
}

// Exit statuses of crew copy beside the shared ones, as rsync numbers them.
const (
	exitVanished  = 24 // only trouble: source files vanished during the copy
	exitMaxDelete = 25 // --max-delete stopped deletions
)

func newCopyCommand(s Streams) *cobra.Command {
	o := copyOptions{maxDelete: -1}
	cmd := &cobra.Command{
		Use:   "copy [flags] SRC... DST",
		Short: "Copy directory trees in parallel, like cp -a / rsync -a, atomically and resumably",
		Long: `crew copy copies SRC to DST keeping what cp -a keeps: regular files (sparse ones
stay sparse), directories, symlinks as links, hardlinks (of files, symlinks and
FIFOs alike), FIFOs and devices, modes, ownership (when root), nanosecond mtimes
and xattrs.

Where the copy goes (rsync's trailing-slash rule; the same for files and
directories, and the same on every rerun):
  SRC/ DST     the contents of the directory SRC go into DST: DST becomes the copy
  SRC DST/     SRC goes inside DST, as DST/NAME (DST is made if missing)
  SRC DST      as SRC DST/ when DST is an existing directory; a file SRC onto a
               missing DST, or onto a file, makes DST the copy; a directory SRC
               onto a missing DST is refused (cp would make DST the copy, rsync
               DST/SRC): write SRC/ or DST/ to say which; onto a file, refused
  SRC... DST   several sources: each goes into DST as above (DST/NAME, or its
               contents for SRC/), as one run: hardlinks between them are kept;
               a name several SRC/ have comes from the first, as in rsync,
               but a directory wins over a file
Nothing in DST is deleted to make room unless --delete says so: a file where
SRC has a directory (or a non-empty directory where SRC has a file) is reported
and kept, and a directory SRC onto a file DST is refused.

A rerun skips files whose size and mtime match (--checksum compares contents),
applies any change of mode, owner, mtime or xattrs made since, and removes the
temp files of a killed run. In a directory the run creates, a file is written
without a name (O_TMPFILE) and linked in when complete; elsewhere it is written
to a temp name (` + treecopy.TempPrefix + `…) and renamed. A killed copy never leaves
partial content under a final name. That is not durability: after a power cut
recently copied files may be missing or empty unless --fsync was given. Two
copies into one DST at once: the second is refused, naming the first. Like
cp, crew trusts DST while it runs: a directory in DST that someone swaps for a
symlink during the copy can send files through the link (one found between
runs is reported and kept, never followed), so do not copy into a tree that
users you do not trust can write to while the copy runs.

Filters (--exclude, --include, --exclude-from, --include-from) follow rsync's
rules, in command-line order, first match wins: "*" stops at "/", "**" does
not, a leading "/" anchors at the top of the transfer (for SRC without a slash,
that is SRC's parent: /SRC/sub), a trailing "/" matches directories only, a
pattern without "/" matches names at any depth, "dir/***" is dir and all below.
An excluded directory is not entered. --delete keeps excluded entries in DST.

Output: --dry-run and -v list each change, one line each; -i (--itemize-changes)
says why, in rsync's form (YXcstpoguax: >f+++++++++ new file, .f...p..... mode,
.f..t...... mtime, .f........x xattrs, >f.st...... content, cd+++++++++ new
directory, *deleting); names are quoted as ls quotes them, or with -0 printed raw,
each ending in a NUL. Progress: a bar on a terminal, periodic lines with
--progress elsewhere; its total is the data of the regular files in SRC
(allocated size, so a sparse file's holes are not counted).

Exit status: 0 ok; 1 some entries failed, each reported with its path (a full
disk stops the copy at the first "no space left"; --verify found a file that
differs; another copy holds DST); 2 usage error or refused input (SRC missing,
SRC equal to DST or containing it, a directory onto a file); 24 only source
files that vanished during the copy, each reported; 25 --max-delete stopped
deletions; 130 interrupted.`,
		Example: `  crew copy ~/photos/ /mnt/backup/photos     # DST becomes the copy of photos
  crew copy ~/photos /mnt/backup/            # the same: /mnt/backup/photos
  crew copy ~/photos/ /mnt/backup/photos     # rerun: only what changed
  crew copy -i --delete ~/photos/ /mnt/backup/photos   # and remove what photos no longer has
  crew copy --dry-run --delete --max-delete 100 src/ dst  # list; at most 100 deletions
  crew copy --exclude '*.tmp' --exclude /build/ src/ dst      # all but those
  crew copy --include '*/' --include '*.go' --exclude '*' src/ dst  # only .go files
  crew copy a b c.txt /mnt/backup/           # several sources into one directory
  crew copy -x --fsync / /mnt/root-backup/   # one file system; durable when done
  crew copy -n -0 src/ dst | (cd src && xargs -0 ls -ld)  # names with newlines, raw`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("copy needs SRC and DST, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.workers < 0 {
				return usagef("-j must be positive, got %d", o.workers)
			}
			if o.maxDelete >= 0 && !o.del {
				return usagef("--max-delete limits --delete, which was not given")
			}
			trees, err := copyPlan(args[:len(args)-1], args[len(args)-1], o.dryRun, o.fsync)
			if err != nil {
				return err
			}
			return runCopy(cmd, s, o, trees)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.workers, "jobs", "j", 0, "files copied at once (0 = default, 4)")
	f.BoolVarP(&o.checksum, "checksum", "c", false, "skip files by comparing SHA-256 of contents, not size and mtime")
	f.BoolVar(&o.verify, "verify", false, "after copying, compare every file of the copy (copied or found up to date) with its source (SHA-256); differences are errors")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "list what would change; change nothing")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress or summary")
	f.BoolVar(&o.del, "delete", false, "remove from DST what SRC no longer has (excluded entries are kept); let an entry whose type changed replace DST's")
	f.Var((*maxDeleteFlag)(&o.maxDelete), "max-delete", "with --delete: remove at most N entries (0: none, only count them; --dry-run lists them); the rest are kept and the exit status is 25")
	f.Var(&filterFlag{f: &o.filter}, "exclude", "leave out what matches PATTERN (rsync's rules; repeatable)")
	f.Var(&filterFlag{f: &o.filter, include: true}, "include", "copy what matches PATTERN even if a later --exclude matches it")
	f.Var(&filterFlag{f: &o.filter, from: true, stdin: s.In}, "exclude-from", "read exclude patterns from FILE, one a line (- for standard input; # and ; start comments)")
	f.Var(&filterFlag{f: &o.filter, include: true, from: true, stdin: s.In}, "include-from", "read include patterns from FILE, one a line")
	f.BoolVarP(&o.oneFS, "one-file-system", "x", false, "do not cross file systems: mount points are copied as empty directories")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list each change (deletions as 'deleting NAME')")
	f.BoolVarP(&o.itemize, "itemize-changes", "i", false, "list each change with why, as rsync -i does")
	f.BoolVar(&o.progress, "progress", false, "show progress even when standard error is not a terminal (a line every few seconds)")
	f.BoolVarP(&o.null, "null", "0", false, "with --dry-run, -v or -i: end each entry with a NUL, names unquoted")
	f.BoolVar(&o.fsync, "fsync", false, "make each file's data and each directory's entries durable (fsync) before going on")
	return cmd
}

// maxDeleteFlag is --max-delete: -1 (no limit) until set, shown without a
// default.
type maxDeleteFlag int

func (m *maxDeleteFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("want a count of entries, 0 or more")
	}
	*m = maxDeleteFlag(n)
	return nil
}

func (m *maxDeleteFlag) String() string {
	if *m < 0 {
		return ""
	}
	return strconv.Itoa(int(*m))
}

func (m *maxDeleteFlag) Type() string { return "N" }

// copyPlan turns SRC... DST into the trees to copy, by the rule crew copy
// --help states; a directory SRC onto a missing DST, without a slash on
// either to say which of cp's and rsync's readings is meant, is refused.
func copyPlan(srcs []string, dst string, dryRun, fsync bool) ([]treecopy.Tree, error) {
	dfi, derr := os.Stat(dst)
	dstIsDir := derr == nil && dfi.IsDir()
	into := len(srcs) > 1 || strings.HasSuffix(dst, "/") || dstIsDir
	if into && derr == nil && !dstIsDir {
		return nil, usageError{fmt.Errorf("%w: destination %s is not a directory (several sources, or DST/, copy into a directory)", treecopy.ErrRefused, treecopy.Quote(dst))}
	}
	var trees []treecopy.Tree
	for _, src := range srcs {
		sfi, err := os.Lstat(src)
		if err != nil {
			return nil, usageError{fmt.Errorf("%w: source %s: %w", treecopy.ErrRefused, treecopy.Quote(src), errors.Unwrap(err))}
		}
		if contents(src) {
			if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
				return nil, usagef("%s: a trailing slash copies a directory's contents, and this is not a directory", treecopy.Quote(src))
			}
			trees = append(trees, treecopy.Tree{Src: src, Dst: dst})
			continue
		}
		name := filepath.Base(src)
		switch {
		case into:
			trees = append(trees, treecopy.Tree{Src: src, Dst: joinDst(dst, name), Rel: name + "/"})
		case sfi.IsDir() && derr == nil:
			// cp -a -T refuses too: "cannot overwrite non-directory with directory".
			return nil, usageError{fmt.Errorf("%w: destination %s is a %s, not replaced by a copy of the directory %s",
				treecopy.ErrRefused, treecopy.Quote(dst), describeDst(dst), treecopy.Quote(src))}
		case sfi.IsDir():
			return nil, usagef("%s does not exist: write %s %s to make it the copy of %s, or %s %s to copy %s into it as %s",
				treecopy.Quote(dst), treecopy.Quote(src+"/"), treecopy.Quote(dst), treecopy.Quote(src),
				treecopy.Quote(src), treecopy.Quote(dst+"/"), treecopy.Quote(src), treecopy.Quote(joinDst(dst, name)))
		default:
			trees = append(trees, treecopy.Tree{Src: src, Dst: dst})
		}
	}
	// DST is made here only when no tree fills it (SRC/ DST makes and
	// locks it itself, and reports it as a new directory, as rsync does).
	if into && errors.Is(derr, fs.ErrNotExist) && !dryRun && !slices.ContainsFunc(trees, func(t treecopy.Tree) bool { return t.Dst == dst }) {
		if err := os.Mkdir(dst, 0o777); err != nil {
			return nil, fmt.Errorf("make destination directory: %w", err)
		}
		if fsync {
			if err := syncDir(filepath.Dir(strings.TrimRight(dst, "/"))); err != nil {
				return nil, fmt.Errorf("make destination directory: %w", err)
			}
		}
	}
	return trees, nil
}

// syncDir makes the entries of the directory dir durable (--fsync: the
// DST this command made).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// describeDst names the type of the existing non-directory dst for
// messages.
func describeDst(dst string) string {
	fi, err := os.Lstat(dst)
	switch {
	case err != nil:
		return "non-directory"
	case fi.Mode().IsRegular():
		return "file"
	case fi.Mode()&fs.ModeSymlink != 0:
		return "symlink to a non-directory"
	default:
		return "special file"
	}
}

// contents reports whether src names a directory's contents: a trailing
// slash, or a last element with no name of its own ("." or "..").
func contents(src string) bool {
	if strings.HasSuffix(src, "/") {
		return true
	}
	base := filepath.Base(src)
	return base == "." || base == ".."
}

func joinDst(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// runCopy copies the trees, shows progress and changes, and reports.
func runCopy(cmd *cobra.Command, s Streams, o copyOptions, trees []treecopy.Tree) error {
	opts := treecopy.Options{Workers: o.workers, Checksum: o.checksum, Verify: o.verify, DryRun: o.dryRun,
		Delete: o.del, OneFileSystem: o.oneFS, Fsync: o.fsync, Progress: &treecopy.Progress{}}
	switch {
	case o.maxDelete == 0:
		opts.MaxDelete = -1
	case o.maxDelete > 0:
		opts.MaxDelete = o.maxDelete
	}
	if o.filter.Len() > 0 {
		opts.Filter = &o.filter
	}
	list := newChangeList(s.Out, o)
	if list != nil {
		opts.OnChange = list.print
	}
	start := time.Now()
	var prog *copyProgress
	if !o.quiet && (o.progress || isTerminal(s.Err)) {
		prog = startProgress(cmd.Context(), s.Err, isTerminal(s.Err), opts.Progress, trees)
	}
	stats, err := treecopy.CopyTrees(cmd.Context(), trees, opts)
	if prog != nil {
		prog.stop()
	}
	if list != nil {
		list.flush()
	}
	return copyReport(s, o, stats, err, time.Since(start))
}

// copyReport prints the failures and the summary, and returns the error
// that gives the exit status.
func copyReport(s Streams, o copyOptions, stats treecopy.Stats, err error, elapsed time.Duration) error {
	switch {
	case errors.Is(err, treecopy.ErrRefused):
		return usageError{err}
	case err != nil && !errors.Is(err, treecopy.ErrPartial) && !errors.Is(err, treecopy.ErrNoSpace) &&
		!errors.Is(err, treecopy.ErrVanished) && !errors.Is(err, treecopy.ErrMaxDelete):
		return err
	}
	for _, e := range stats.Errors {
		fmt.Fprintf(s.Err, "crew copy: %v\n", e)
	}
	for _, p := range stats.Vanished {
		fmt.Fprintf(s.Err, "crew copy: file vanished: %s (it was listed, then gone before it was copied)\n", treecopy.Quote(p))
	}
	if errors.Is(err, treecopy.ErrNoSpace) {
		var cause error = err
		if pe := (*treecopy.PathError)(nil); errors.As(err, &pe) {
			cause = pe
		}
		fmt.Fprintf(s.Err, "crew copy: %v\ncrew copy: stopped at the first full-disk error; copied %d files (%s) before it, the rest not copied\n",
			cause, stats.Files, humanBytes(stats.Bytes))
	}
	if stats.NotDeleted > 0 {
		fmt.Fprintf(s.Err, "crew copy: --max-delete %d reached: %d entries not deleted\n", o.maxDelete, stats.NotDeleted)
	}
	if !o.quiet {
		fmt.Fprintln(s.Err, summary(stats, o.dryRun, elapsed))
	}
	switch {
	case len(stats.Errors) > 0 || errors.Is(err, treecopy.ErrNoSpace):
		return errQuiet
	case stats.NotDeleted > 0:
		return exitStatus{exitMaxDelete, errQuiet}
	case len(stats.Vanished) > 0:
		return exitStatus{exitVanished, errQuiet}
	}
	return nil
}
