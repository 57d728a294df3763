package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/crewrun/crew/treecopy"
)

type copyOptions struct {
	workers  int
	checksum bool
	verify   bool
	dryRun   bool
	quiet    bool
}

func newCopyCommand(s Streams) *cobra.Command {
	var o copyOptions
	cmd := &cobra.Command{
		Use:   "copy [flags] SRC DST",
		Short: "Copy a directory tree in parallel, like cp -a, atomically and resumably",
		Long: `crew copy makes DST a copy of the tree SRC, keeping what cp -a keeps:
regular files (sparse ones stay sparse), directories, symlinks as links,
hardlink groups, FIFOs and devices, modes, ownership (when root),
nanosecond mtimes and xattrs. A single file (or symlink) SRC copied onto
an existing directory DST goes inside it, as DST/SRC's name.

Files are copied by -j workers at once. In a directory this run creates,
a file is written without a name (O_TMPFILE) and linked in when complete;
in a directory that already exists (a resumed or updated copy), it is
written to a temp name (` + treecopy.TempPrefix + `…) and renamed into place. Either way a killed copy never leaves partial content
under a final name; the next run removes leftover temp files and skips
files whose size and mtime already match (--checksum compares contents
instead), applying to them any change of mode, owner, mtime or xattrs
made to the source since.

Exit status: 0 ok, 1 some files failed (each is reported with its path),
2 usage error or refused input (SRC missing, SRC equal to DST, DST inside SRC).`,
		Example: `  crew copy ~/photos /mnt/backup/photos        # first copy
  crew copy ~/photos /mnt/backup/photos        # rerun: only changed files
  crew copy --dry-run --checksum src dst       # list what differs
  crew copy -j 16 --verify src dst`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("copy needs SRC and DST, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.workers < 0 {
				return usagef("-j must be positive, got %d", o.workers)
			}
			opts := treecopy.Options{Workers: o.workers, Checksum: o.checksum, Verify: o.verify, DryRun: o.dryRun}
			var bar *progressbar.ProgressBar
			var mu sync.Mutex
			var entries int64 // copied so far, for the bar
			switch {
			case o.dryRun:
				opts.OnEntry = func(rel string, _ int64) {
					mu.Lock()
					fmt.Fprintln(s.Out, rel)
					mu.Unlock()
				}
			case !o.quiet && isTerminal(s.Err):
				bar = progressbar.NewOptions64(-1,
					progressbar.OptionSetWriter(s.Err),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowCount(),
					progressbar.OptionSetDescription("copy"),
					progressbar.OptionThrottle(100_000_000))
				opts.OnEntry = func(_ string, n int64) {
					mu.Lock()
					if entries++; entries%16 == 1 {
						bar.Describe(fmt.Sprintf("copy: %d entries", entries))
					}
					bar.Add64(n)
					mu.Unlock()
				}
				// The bar gets a total, hence a percentage and an ETA, once a
				// walk beside the copy has added up the source's sizes.
				sizeCtx, stopSizing := context.WithCancel(cmd.Context())
				sized := make(chan struct{})
				go func() {
					defer close(sized)
					if total, err := treeSize(sizeCtx, args[0]); err == nil && total > 0 {
						mu.Lock()
						bar.ChangeMax64(total)
						mu.Unlock()
					}
				}()
				defer func() { stopSizing(); <-sized }()
			}
			stats, err := treecopy.Copy(cmd.Context(), args[0], args[1], opts)
			if bar != nil {
				mu.Lock()
				bar.Describe(fmt.Sprintf("copy: %d entries", entries))
				bar.Finish()
				mu.Unlock()
				fmt.Fprintln(s.Err)
			}
			switch {
			case errors.Is(err, treecopy.ErrRefused):
				return usageError{err}
			case errors.Is(err, treecopy.ErrPartial):
				for _, e := range stats.Errors {
					fmt.Fprintf(s.Err, "crew copy: %v\n", e)
				}
				return errQuiet
			case err != nil:
				return err
			}
			if !o.quiet && !o.dryRun {
				fmt.Fprintf(s.Err, "copied %d files (%d bytes), %d symlinks, %d hardlinks, %d special, %d dirs; %d up to date\n",
					stats.Files, stats.Bytes, stats.Symlinks, stats.Links, stats.Special, stats.Dirs, stats.Skipped)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.workers, "jobs", "j", 0, "files copied at once (0 = default, 4)")
	f.BoolVar(&o.checksum, "checksum", false, "skip files by comparing SHA-256 of contents, not size and mtime")
	f.BoolVar(&o.verify, "verify", false, "re-read both sides after copying and compare SHA-256")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be copied; change nothing")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar or summary")
	return cmd
}

// treeSize returns the bytes in the regular files below root.
func treeSize(ctx context.Context, root string) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil || !d.Type().IsRegular() {
			return nil // the copy reports what cannot be read
		}
		if fi, err := d.Info(); err == nil {
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
