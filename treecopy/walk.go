//go:build linux || darwin || freebsd

package treecopy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
)

// walker reads the source tree and hands its entries to the workers, one
// directory's entries in one or more batches. Paths are built by
// appending names, not by filepath.Join, whose cleaning of every path
// was a quarter of a rerun's CPU time.
type walker struct {
	ctx     context.Context
	c       *copier
	batches chan batch
	dirs    []*dirMeta // every directory, for its metadata at the end
}

// batch is up to batchSize entries of the directory srcDir, to copy into
// dstDir.
type batch struct {
	srcDir, dstDir string
	parent         *dirMeta
	jobs           []job
}

// job is one non-directory entry to copy.
type job struct {
	rel   string
	src   string
	dst   string
	d     fs.DirEntry // from the walk; its Info fills fi in a worker
	fi    fs.FileInfo
	fresh bool // dst's directory was created by this run: nothing to compare with or replace
	// srcDir and dstDir are src's and dst's directories open with
	// O_PATH, to reach each by its name alone, or -1.
	srcDir, dstDir int
	// inheritsACL is set when dst's directory has a default ACL, which
	// a file made there inherits as its access ACL.
	inheritsACL bool
	// ownGroup is set when dst's directory has our group: a file made
	// there is then ours, user and group, with no need to ask it.
	ownGroup bool
	// srcFD is the source, already open (opened), for a new file whose
	// lstat was taken from the open file.
	srcFD  int
	opened bool
	// madeMode is the mode the copy was created with (see createMode),
	// 0 if none is known yet.
	madeMode uint32
	parent   *dirMeta // dst's directory, or nil at a top
}

// dirJob is a directory to copy: the source directories merged into dst
// (one, unless trees were merged), reported as rel.
type dirJob struct {
	srcs    []string
	dst     string
	rel     string      // "" at the top of a tree copied by its contents
	fi      fs.FileInfo // the first source's lstat: the metadata copied
	follow  bool        // a top: may be reached through a symlink
	dev     uint64      // the device of the tree's top, for OneFileSystem
	mount   bool        // a mount point OneFileSystem does not enter
	created bool        // made before the walk (to lock it)
	keep    []string    // names other trees copy into dst: not deleted
	parent  *dirMeta
}

// dirMeta is a directory of the copy, whose metadata is applied once its
// entries are in place.
type dirMeta struct {
	src, dst, rel string
	fi            fs.FileInfo
	fresh         bool        // made by this run
	what          What        // how an existing copy's metadata differed
	touched       atomic.Bool // an entry was made, replaced or removed in it
	failed        bool        // not made: nothing to apply
}

func (m *dirMeta) touch() {
	if m != nil {
		m.touched.Store(true)
	}
}

// relPath is the path of name in the directory reported as rel.
func relPath(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// srcEntry is an entry of one of a dirJob's source directories.
type srcEntry struct {
	d   fs.DirEntry
	src int // index in dirJob.srcs
}

// dir copies the directory d: it makes its destination (or finds it and
// cleans it of a killed run's temp files, and, with Delete, of what the
// source no longer has), queues its other entries in batches, then
// descends into its subdirectories. An unreadable directory is created,
// like cp -a does, and reported with its path. Only a top may be reached
// through a symlink: a subdirectory swapped for one during the copy is
// not followed.
func (w *walker) dir(d dirJob) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	c := w.c
	entries, names, gone := w.read(d)
	if gone {
		return nil // vanished since its parent was read: nothing to make
	}
	m := &dirMeta{src: d.srcs[0], dst: d.dst, rel: d.rel, fi: d.fi}
	dst, err := c.openDst(d, m)
	if err != nil {
		m.failed = true
		c.fail(err)
		return nil
	}
	w.dirs = append(w.dirs, m)
	if m.fresh {
		d.parent.touch()
		c.report(Change{Path: d.rel, Type: Dir, Op: Created})
	} else if m.what != 0 {
		c.report(Change{Path: d.rel, Type: Dir, Op: MetaOnly, What: m.what})
	}
	if dst.fd >= 0 {
		if !m.fresh {
			if err := c.cleanDst(d, m, dst, names); err != nil {
				c.fail(err)
			}
		}
		dst.close()
	}
	if p := c.opts.Progress; p != nil {
		p.Entries.Add(1)
	}
	var subdirs []srcEntry
	for s := range d.srcs {
		b := batch{srcDir: d.srcs[s], dstDir: d.dst, parent: m}
		for _, e := range entries {
			if e.src != s {
				continue
			}
			if e.d.IsDir() {
				subdirs = append(subdirs, e)
				continue
			}
			name := e.d.Name()
			b.jobs = append(b.jobs, job{rel: relPath(d.rel, name), src: joinPath(d.srcs[s], name), dst: joinPath(d.dst, name),
				d: e.d, fresh: m.fresh, srcDir: -1, dstDir: -1})
			if len(b.jobs) == batchSize {
				if err := w.send(b); err != nil {
					return err
				}
				b.jobs = nil
			}
		}
		if len(b.jobs) > 0 {
			if err := w.send(b); err != nil {
				return err
			}
		}
	}
	for i, e := range subdirs {
		if e.src < 0 {
			continue // merged into an earlier one
		}
		name := e.d.Name()
		p := joinPath(d.srcs[e.src], name)
		sub, err := e.d.Info()
		if err != nil {
			c.failSource(p, relPath(d.rel, name), "lstat", err)
			continue
		}
		next := dirJob{srcs: []string{p}, dst: joinPath(d.dst, name), rel: relPath(d.rel, name), fi: sub, dev: d.dev, parent: m}
		for k := i + 1; k < len(subdirs); k++ { // the same directory in later merged sources
			if subdirs[k].src >= 0 && subdirs[k].d.Name() == name {
				next.srcs = append(next.srcs, joinPath(d.srcs[subdirs[k].src], name))
				subdirs[k].src = -1
			}
		}
		if c.opts.OneFileSystem && uint64(sub.Sys().(*unixStat).Dev) != d.dev {
			next.mount = true
		}
		if err := w.dir(next); err != nil {
			return err
		}
	}
	return nil
}

// read lists the entries of d's source directories that the filter lets
// through, the first source's winning a name that several have; names
// holds every name listed, filtered or not; gone reports that every
// source directory vanished since its parent was read.
func (w *walker) read(d dirJob) (entries []srcEntry, names map[string]bool, gone bool) {
	if d.mount {
		return nil, nil, false
	}
	vanished := 0
	if beforeDir != nil {
		beforeDir(d.srcs[0])
	}
	c := w.c
	merged := len(d.srcs) > 1
	// With merged sources: the index in entries of each name's entry, and
	// whether it is a directory.
	var at map[string]int
	var dirs map[string]bool
	if merged {
		at, dirs = map[string]int{}, map[string]bool{}
	}
	if merged || c.opts.Delete {
		names = map[string]bool{}
		for _, n := range d.keep {
			names[n] = true
		}
	}
	for s, src := range d.srcs {
		flags := os.O_RDONLY | dirFlag
		if !d.follow {
			flags |= noFollowFlag
		}
		f, err := os.OpenFile(src, flags, 0)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				vanished++
			}
			c.failSource(src, d.rel, "open", err)
			continue
		}
		ents, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			c.failSource(src, d.rel, "read directory", err)
			continue
		}
		for _, e := range ents {
			name, isDir := e.Name(), e.IsDir()
			if names != nil {
				names[name] = true
			}
			if c.opts.Filter != nil && c.opts.Filter.Excluded(relPath(d.rel, name), isDir) {
				continue
			}
			if merged {
				// As rsync merges its sources: the first one's entry
				// wins, but a directory wins over a non-directory, and
				// directories of one name merge.
				if i, ok := at[name]; ok {
					switch {
					case isDir && dirs[name]:
						entries = append(entries, srcEntry{e, s})
					case isDir:
						entries[i], dirs[name] = srcEntry{e, s}, true
					}
					continue
				}
				if slices.Contains(d.keep, name) {
					continue // another tree is copied into d under that name
				}
				at[name], dirs[name] = len(entries), isDir
			}
			entries = append(entries, srcEntry{e, s})
		}
	}
	return entries, names, vanished == len(d.srcs)
}

func (w *walker) send(b batch) error {
	select {
	case w.batches <- b:
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// joinPath is dir/name, with one slash between them.
func joinPath(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// cleanDst removes, from the existing destination directory dst, the temp
// files a killed run left and, with Delete, what the source no longer
// has. names are the source's names, when read (else they are read
// lazily, only if a temp name turns up).
func (c *copier) cleanDst(d dirJob, m *dirMeta, dst dstDir, names map[string]bool) error {
	ents, err := dst.scan(c.opts.Delete)
	if err != nil || len(ents) == 0 {
		return err
	}
	if names == nil {
		names = map[string]bool{}
		for _, n := range d.keep {
			names[n] = true
		}
		for _, src := range d.srcs {
			if f, err := os.Open(src); err == nil {
				list, _ := f.Readdirnames(-1)
				f.Close()
				for _, n := range list {
					names[n] = true
				}
			}
		}
	}
	for _, e := range ents {
		if names[e.name] {
			continue
		}
		if isTempName([]byte(e.name)) && !e.dir {
			if !c.opts.DryRun {
				if err := dst.unlink(e.name, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return pathError("remove", joinPath(d.dst, e.name), err)
				}
				m.touch()
			}
			continue
		}
		if !c.opts.Delete || d.mount {
			continue
		}
		if c.opts.Filter != nil && c.opts.Filter.Excluded(relPath(d.rel, e.name), e.dir) {
			continue // excluded entries are protected, as in rsync
		}
		c.remove(dst, joinPath(d.dst, e.name), relPath(d.rel, e.name), e.dir, m)
	}
	return nil
}

// remove deletes the entry path (reported as rel) from its directory,
// open as dst, with all it holds, as far as MaxDelete lets it.
func (c *copier) remove(dst dstDir, path, rel string, isDir bool, m *dirMeta) bool {
	if beforeDelete != nil {
		beforeDelete(path)
	}
	if isDir {
		// By name in its open parent, never by path again: a directory
		// swapped for a symlink meanwhile is refused, not followed out
		// of the destination.
		sub, err := dst.openSub(lastElem(path))
		if err != nil {
			c.fail(pathError("open", path, err))
			return false
		}
		ents, err := sub.scan(true)
		all := err == nil
		if err != nil {
			c.fail(pathError("read directory", path, err))
		}
		for _, e := range ents {
			if !c.remove(sub, joinPath(path, e.name), relPath(rel, e.name), e.dir, nil) {
				all = false
			}
		}
		sub.close()
		if !all {
			c.notDeletedDir()
			return false
		}
	}
	if !c.takeDelete() {
		return false
	}
	typ := File
	if isDir {
		typ = Dir
	}
	if !c.opts.DryRun {
		if err := dst.unlink(filepath.Base(path), isDir); err != nil {
			c.fail(pathError("delete", path, err))
			return false
		}
		m.touch()
	}
	c.deleted.Add(1)
	c.report(Change{Path: rel, Type: typ, Op: Deleted})
	return true
}

// takeDelete reports whether MaxDelete allows one more deletion, counting
// it; one refused is counted as not deleted.
func (c *copier) takeDelete() bool {
	if c.deleteBudget.Add(-1) < 0 {
		c.notDeleted.Add(1)
		return false
	}
	return true
}

// notDeletedDir counts a directory kept because some of its entries were.
func (c *copier) notDeletedDir() { c.notDeleted.Add(1) }

// openDst makes or opens d's destination directory, recording in m
// whether it is new and how its metadata differs from the source's. An
// existing non-directory is replaced only with Delete (the source no
// longer has it); otherwise that directory of the source is reported
// and not copied. In a dry run nothing is made; a missing directory
// reads as new.
func (c *copier) openDst(d dirJob, m *dirMeta) (dstDir, error) {
	dst, created, err := makeDir(d.dst, c.opts.DryRun || d.created, c.opts.DryRun)
	if errors.Is(err, errNotDir) {
		if d.parent == nil && d.follow {
			return dstDir{fd: -1}, fmt.Errorf("%w: %s is not a directory, not replaced by a copy of the directory %s",
				ErrRefused, Quote(d.dst), Quote(d.srcs[0]))
		}
		if !c.opts.Delete {
			return dstDir{fd: -1}, pathError("copy directory onto", d.dst,
				errors.New("not a directory in the copy: kept (the source has a directory there; --delete replaces it)"))
		}
		if !c.takeDelete() {
			return dstDir{fd: -1}, pathError("copy directory onto", d.dst, errors.New("not a directory in the copy: kept (--max-delete reached)"))
		}
		c.deleted.Add(1)
		c.report(Change{Path: d.rel, Type: File, Op: Deleted})
		if c.opts.DryRun {
			m.fresh = true
			return dstDir{fd: -1}, nil
		}
		if err := os.Remove(d.dst); err != nil {
			return dstDir{fd: -1}, pathError("delete", d.dst, err)
		}
		dst, created, err = makeDir(d.dst, false, false)
	}
	if err != nil {
		return dstDir{fd: -1}, err
	}
	m.fresh = created || d.created
	if !m.fresh && dst.fd >= 0 {
		m.what = c.metaDiff(d.fi.Sys().(*unixStat), &dst.st, d.srcs[0], d.dst, d.parent == nil)
	}
	if !c.opts.DryRun && !m.fresh && dst.st.Mode&0o700 != 0o700 {
		// Writable by us until its metadata is applied at the end.
		if err := dst.chmod(uint32(dst.st.Mode)&0o7777 | 0o700); err != nil {
			dst.close()
			return dstDir{fd: -1}, pathError("chmod", d.dst, err)
		}
		m.touched.Store(true)
	}
	return dst, nil
}

// rootDir is the top of a directory tree to copy, and the lock held on
// its destination while the copy runs.
type rootDir struct {
	dir    dirJob
	lockFD int
}

// planTree checks one tree: a directory tree becomes a rootDir, a single
// entry a job.
func (c *copier) planTree(t Tree) (*rootDir, job, error) {
	src, dst := t.Src, t.Dst
	// The source is used as spelled, not cleaned: "link/" follows a
	// symlink to a directory, as it does for cp -a, and "" is missing.
	sfi, err := os.Lstat(src)
	if err != nil {
		return nil, job{}, fmt.Errorf("%w: source: %w", ErrRefused, pathError("lstat", src, unwrapErrno(err)))
	}
	if dfi, err := os.Stat(dst); err == nil && dfi.IsDir() {
		if !sfi.IsDir() {
			// A file (or symlink) copied onto a directory goes inside
			// it, as with cp -a; replacing the directory would lose what
			// it holds.
			dst = joinPath(dst, filepath.Base(src))
		} else if lfi, err := os.Lstat(dst); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			// A symlink to a directory is followed, as by cp -a and
			// rsync -a: the trailing slash makes every system call on
			// the root, O_NOFOLLOW and AT_SYMLINK_NOFOLLOW ones included,
			// act on the directory rather than on the link.
			dst += "/"
		}
	}
	const special = fs.ModeDevice | fs.ModeCharDevice | fs.ModeNamedPipe | fs.ModeSocket
	if lfi, err := os.Lstat(dst); err == nil && lfi.Mode()&special != 0 && lfi.Mode().Type() != sfi.Mode().Type() {
		// A device or FIFO is something to write to, not a file to
		// replace (crew copy f /dev/full used to swap the device node
		// for a regular file).
		return nil, job{}, fmt.Errorf("%w: destination %s is a %s, not replaced by a copy of %s", ErrRefused, Quote(dst), kind(lfi.Mode()), Quote(src))
	}
	if err := checkPaths(src, sfi, dst); err != nil {
		return nil, job{}, err
	}
	rel := strings.TrimSuffix(t.Rel, "/")
	if rel != "" && c.opts.Filter.Excluded(rel, sfi.IsDir()) {
		return nil, job{}, errExcluded
	}
	if !sfi.IsDir() {
		if rel == "" {
			rel = filepath.Base(src)
		}
		j := job{rel: rel, src: src, dst: dst, fi: sfi, srcDir: -1, dstDir: -1}
		if dir, ok := parentPath(dst); ok {
			j.inheritsACL = hasDefaultACL(dir)
		}
		return nil, j, nil
	}
	if lfi, err := os.Lstat(strings.TrimSuffix(dst, "/")); err == nil && !lfi.IsDir() && lfi.Mode()&fs.ModeSymlink == 0 {
		// cp -a -T refuses too: "cannot overwrite non-directory with directory".
		return nil, job{}, fmt.Errorf("%w: destination %s is a %s, not replaced by a copy of the directory %s",
			ErrRefused, Quote(dst), describeType(lfi.Mode()), Quote(src))
	}
	if lfi, err := os.Lstat(strings.TrimSuffix(dst, "/")); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		if _, err := os.Stat(dst); err != nil {
			target, _ := os.Readlink(strings.TrimSuffix(dst, "/"))
			return nil, job{}, fmt.Errorf("%w: destination %s is a symlink to %s, which does not exist: not replaced by a copy of the directory %s",
				ErrRefused, Quote(dst), Quote(target), Quote(src))
		}
	}
	d := dirJob{srcs: []string{src}, dst: dst, rel: rel, fi: sfi, follow: true, dev: uint64(sfi.Sys().(*unixStat).Dev)}
	if sfi.Mode()&fs.ModeSymlink != 0 { // "link/": the directory it points to
		if fi, err := os.Stat(src); err == nil {
			d.fi, d.dev = fi, uint64(fi.Sys().(*unixStat).Dev)
		}
	}
	return &rootDir{dir: d, lockFD: -1}, job{}, nil
}

// errExcluded is a tree whose top the filter leaves out.
var errExcluded = errors.New("excluded")

// describeType names a file type for messages.
func describeType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	default:
		return kind(m)
	}
}

// parentPath is the directory holding the last element of p, spelled so
// that the kernel resolves it as it would p: by cutting off that element,
// never by cleaning (filepath.Dir("link/../x") is ".", where the kernel
// goes to the parent of the link's target). ok is false for "/".
func parentPath(p string) (parent string, ok bool) {
	p = strings.TrimRight(p, "/")
	switch i := strings.LastIndexByte(p, '/'); {
	case p == "":
		return "", false // "/" or ""
	case i < 0:
		return ".", true
	case i == 0:
		return "/", true
	default:
		return p[:i], true
	}
}

// kind names a special file's type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	default:
		return "socket"
	}
}
