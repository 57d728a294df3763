//go:build linux || darwin || freebsd

package treecopy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
)

// CopyTrees copies several trees in one run, as Copy does each: one pool
// of workers, one set of hardlinks (names of one file in different trees
// stay one file). Directory trees with the same Dst are merged, as rsync
// merges "a/ b/ dst": for a name in several, the first tree's entry wins
// (but a directory wins over a non-directory, as in rsync),
// and Delete keeps what any of them has.
func CopyTrees(ctx context.Context, trees []Tree, opts Options) (Stats, error) {
	if len(trees) == 0 {
		return Stats{}, fmt.Errorf("%w: nothing to copy", ErrRefused)
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	c := newCopier(opts, stop)
	roots, singles, err := c.plan(trees)
	if err != nil {
		return Stats{}, err
	}
	defer func() {
		for _, r := range roots {
			r.unlock()
		}
	}()
	// One set of hardlinks for every tree: a single file and another
	// name of it in a directory tree stay one file, as with cp -a.
	hl := &hardlinks{seen: map[[2]uint64]*firstName{}}
	for _, j := range singles {
		if hl.later(j) {
			continue
		}
		written, err := c.entry(j)
		if err != nil {
			c.fail(err)
		}
		if written {
			hl.written(j)
		}
	}
	w := &walker{ctx: ctx, c: c, batches: make(chan batch, 2*opts.Workers)}
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() { c.work(ctx, w.batches, hl) })
	}
	var walkErr error
	for _, r := range roots {
		if walkErr = w.dir(r.dir); walkErr != nil {
			break
		}
	}
	close(w.batches)
	wg.Wait()
	if walkErr == nil {
		walkErr = ctx.Err() // cancelled after the walk: the workers stopped copying
	}
	if walkErr != nil {
		return c.finish(walkErr)
	}
	c.linkAll(hl)
	c.dirMetas(w.dirs)
	c.syncParents(roots, singles)
	return c.finish(nil)
}

// work copies the batches the walker sends until there are none left.
func (c *copier) work(ctx context.Context, batches <-chan batch, hl *hardlinks) {
	for b := range batches {
		// A batch is entries of one directory: they are looked up by name
		// in its open descriptors, not by walking each full path again.
		dirs := openDirs(b.srcDir, b.dstDir)
		for _, j := range b.jobs {
			if ctx.Err() != nil {
				break // drain without copying
			}
			j.srcDir, j.dstDir, j.inheritsACL, j.ownGroup, j.parent = dirs.src, dirs.dst, dirs.defaultACL, dirs.ownGroup, b.parent
			if beforeEntry != nil {
				beforeEntry(j.src)
			}
			if j.fi == nil && j.fresh && j.d.Type().IsRegular() && !c.opts.DryRun && dirs.src >= 0 {
				// A new file: its stat comes from the open source, which
				// the copy then reads, instead of from an lstat too.
				j.fi, j.srcFD, j.opened = openSource(dirs.src, j.d.Name())
			}
			if j.fi == nil {
				// The walker only reads directories; the lstat of each
				// entry happens here, in parallel.
				fi, err := dirs.info(j)
				if err != nil {
					c.failSource(j.src, j.rel, "lstat", err)
					continue
				}
				j.fi = fi
			}
			if hl.later(j) {
				j.close()
				continue
			}
			written, err := c.entry(j)
			j.close()
			if err != nil {
				c.fail(err)
			}
			if written {
				hl.written(j)
			}
		}
		if c.opts.Fsync && !c.opts.DryRun && dirs.dst >= 0 {
			c.syncDir(dirs.dst, b.dstDir)
		}
		dirs.close()
	}
}

// linkAll makes the further names of files with several, once every
// first name is copied.
func (c *copier) linkAll(hl *hardlinks) {
	for _, l := range hl.links {
		if !l.first.written && sameFile(l.first.dst, l.dst) {
			c.skip.Add(1) // already linked by an earlier run
			continue
		}
		ch := Change{Path: l.rel, Type: l.typ, Op: Linked, Target: l.first.rel}
		if c.opts.DryRun {
			c.stats.Links++
			c.report(ch)
			continue
		}
		if err := hardlink(l.first.dst, l.dst); err != nil {
			c.fail(err)
			continue
		}
		l.parent.touch() // its mtime is set again, and with Fsync it is synced
		c.stats.Links++
		c.report(ch)
	}
}

// dirMetas gives the copied directories their metadata, deepest first, so
// that a read-only parent is locked only after its children got theirs.
func (c *copier) dirMetas(dirs []*dirMeta) {
	sort.SliceStable(dirs, func(i, k int) bool { return len(dirs[i].dst) > len(dirs[k].dst) })
	for _, d := range dirs {
		if d.failed {
			continue
		}
		switch {
		case d.fresh:
			c.stats.Dirs++
		case d.what != 0:
			c.stats.Meta++
		default:
			c.stats.DirsUpToDate++
		}
		if c.opts.DryRun || !d.fresh && d.what == 0 && !d.touched.Load() {
			continue
		}
		if err := c.meta(d.src, d.dst, d.fi); err != nil {
			if _, serr := os.Lstat(d.src); errors.Is(serr, fs.ErrNotExist) {
				c.failSource(d.src, d.rel, "lstat", serr) // gone since it was read
			} else {
				c.fail(err)
			}
		}
		if c.opts.Fsync {
			if err := c.syncPath(d.dst); err != nil {
				c.fail(err)
			}
		}
	}
}

// syncParents makes durable, with Fsync, the entries this run made in
// directories it does not otherwise sync: each new top of a directory
// tree, and each single file, in the directory holding it.
func (c *copier) syncParents(roots []*rootDir, singles []job) {
	if !c.opts.Fsync || c.opts.DryRun {
		return
	}
	done := map[string]bool{}
	syncDirOf := func(p string) {
		if dir, ok := parentPath(p); ok && !done[dir] {
			done[dir] = true
			if err := c.syncPath(dir); err != nil {
				c.fail(err)
			}
		}
	}
	for _, r := range roots {
		if r.dir.created {
			syncDirOf(r.dir.dst)
		}
	}
	for _, j := range singles {
		syncDirOf(j.dst)
	}
}

func (c *copier) finish(err error) (Stats, error) {
	s := c.stats
	s.Files, s.Bytes, s.Skipped = c.files.Load(), c.bytes.Load(), c.skip.Load()
	s.Symlinks, s.Special, s.Meta = c.syms.Load(), c.spec.Load(), s.Meta+c.meta_.Load()
	s.Deleted, s.NotDeleted = c.deleted.Load(), c.notDeleted.Load()
	if c.full != nil {
		return s, c.full
	}
	if err != nil {
		return s, err
	}
	switch {
	case len(s.Errors) > 0:
		return s, fmt.Errorf("%w: %d failed, first: %w", ErrPartial, len(s.Errors), s.Errors[0])
	case s.NotDeleted > 0:
		return s, fmt.Errorf("%w: %d not deleted", ErrMaxDelete, s.NotDeleted)
	case len(s.Vanished) > 0:
		return s, fmt.Errorf("%w: %d, first: %s", ErrVanished, len(s.Vanished), Quote(s.Vanished[0]))
	}
	return s, nil
}

// copier holds one run's options, counters and errors.
type copier struct {
	opts Options
	root bool // running as root: ownership is copied
	stop context.CancelCauseFunc
	// dstRoots are the tops of the copy. Each may be a directory that held
	// other things before (a shared folder): its own xattrs and ACLs are
	// added to, never removed, as with cp -a.
	dstRoots map[string]bool
	stats    Stats
	mu       sync.Mutex
	full     error // the first ENOSPC, which stopped the copy
	files    atomic.Int64
	bytes    atomic.Int64
	skip     atomic.Int64
	syms     atomic.Int64
	spec     atomic.Int64
	meta_    atomic.Int64
	deleted  atomic.Int64
	// notDeleted counts what MaxDelete kept; deleteBudget what it still allows.
	notDeleted   atomic.Int64
	deleteBudget atomic.Int64
	dstLinks     dstLinks

	noTmpfile   atomic.Bool // O_TMPFILE or /proc is missing: use temp names
	noEmptyPath atomic.Bool // linkat(AT_EMPTY_PATH) is refused
}

func newCopier(opts Options, stop context.CancelCauseFunc) *copier {
	c := &copier{opts: opts, root: os.Geteuid() == 0, stop: stop, dstRoots: map[string]bool{}}
	c.dstLinks.m = map[[2]uint64][2]uint64{}
	switch {
	case opts.MaxDelete > 0:
		c.deleteBudget.Store(int64(opts.MaxDelete))
	case opts.MaxDelete < 0:
		c.deleteBudget.Store(0)
	default:
		c.deleteBudget.Store(1 << 62)
	}
	return c
}

// fail records a failed entry; the first ENOSPC or EDQUOT stops the copy.
func (c *copier) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gone *vanishedError
	if errors.As(err, &gone) {
		c.stats.Vanished = append(c.stats.Vanished, gone.path)
		return
	}
	if isNoSpace(err) {
		if c.full == nil {
			c.full = fmt.Errorf("%w: %w", ErrNoSpace, err)
			c.stop(c.full)
		}
		return
	}
	if c.full != nil && errors.Is(err, context.Canceled) {
		return
	}
	c.stats.Errors = append(c.stats.Errors, err)
}

// failSource records an error reading the source entry src: one that no
// longer exists vanished, as rsync says, and is counted apart.
func (c *copier) failSource(src, rel, op string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		c.mu.Lock()
		c.stats.Vanished = append(c.stats.Vanished, src)
		c.mu.Unlock()
		return
	}
	c.fail(pathError(op, src, err))
}

func (c *copier) report(ch Change) {
	if c.opts.OnChange != nil {
		c.opts.OnChange(ch)
	}
}

// plan checks each tree and sorts them into directory roots, merged by
// destination, and single entries.
func (c *copier) plan(trees []Tree) (roots []*rootDir, singles []job, err error) {
	byDst := map[string]*rootDir{}
	fail := func(err error) ([]*rootDir, []job, error) {
		for _, r := range roots {
			r.unlock()
		}
		return nil, nil, err
	}
	for _, t := range trees {
		r, single, err := c.planTree(t)
		if err == errExcluded {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if r == nil {
			singles = append(singles, single)
			continue
		}
		key := filepath.Clean(r.dir.dst)
		if prev, ok := byDst[key]; ok {
			prev.dir.srcs = append(prev.dir.srcs, r.dir.srcs...)
			continue
		}
		if !c.opts.DryRun {
			if err := r.lock(); err != nil {
				return fail(err)
			}
		}
		byDst[key] = r
		roots = append(roots, r)
		c.dstRoots[r.dir.dst] = true
	}
	// A tree copied into a directory another tree fills (a b/ dst: dst/a
	// beside the contents of b) is something the source has, for Delete.
	for _, t := range trees {
		d := filepath.Clean(t.Dst)
		if r, ok := byDst[filepath.Dir(d)]; ok && d != filepath.Dir(d) {
			r.dir.keep = append(r.dir.keep, filepath.Base(d))
		}
	}
	return roots, singles, nil
}

// beforeEntry and beforeDir, if set (by tests), are called before each
// entry's lstat and before each directory is read; beforeDelete before
// each entry Delete removes is opened or removed.
var beforeEntry, beforeDir, beforeDelete func(path string)

// onFsync, if set (by tests), is called with each path Options.Fsync
// syncs by its path (directories, mostly).
var onFsync func(path string)

// fsyncs counts the fsyncs Options.Fsync made, for tests.
var fsyncs atomic.Int64
