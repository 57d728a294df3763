//go:build linux || darwin || freebsd

package treecopy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// entry copies one non-directory entry; copied reports that it was
// written (or, in a dry run, would be), not skipped as up to date.
func (c *copier) entry(j job) (copied bool, err error) {
	mode := j.fi.Mode()
	s := j.fi.Sys().(*unixStat)
	if p := c.opts.Progress; p != nil {
		p.Entries.Add(1)
		if mode.IsRegular() {
			p.Data.Add(dataSize(s))
		}
	}
	ch := Change{Path: j.rel, Type: typeOf(mode), Op: Created, Size: j.fi.Size()}
	if !j.fresh {
		same, dst, exists, err := c.sameContent(j)
		if err != nil {
			return false, err
		}
		if exists && same && !c.dstLinks.split(s, &dst) {
			if what := c.metaDiff(s, &dst, j.src, j.dst, false); what != 0 {
				c.meta_.Add(1)
				if !c.opts.DryRun {
					if err := c.meta(j.src, j.dst, j.fi); err != nil {
						return false, vanishedOr(j.src, err)
					}
				}
				c.report(c.withTarget(Change{Path: j.rel, Type: ch.Type, Op: MetaOnly, What: what, Size: ch.Size}, j.src))
			} else {
				c.skip.Add(1)
			}
			if c.opts.Verify && mode.IsRegular() && !c.opts.DryRun {
				return false, verify(j.src, j.dst)
			}
			return false, nil
		}
		if exists {
			ch.Op = Updated
			ch.What = c.contentDiff(s, &dst, same)
		}
	}
	if mode.IsRegular() {
		ch.Bytes = ch.Size
	}
	if c.opts.DryRun {
		c.count(ch.Type, ch.Bytes)
		c.report(c.withTarget(ch, j.src))
		return true, nil
	}
	if mode.IsRegular() && j.fresh {
		// A new directory has nothing to replace: no temporary name needed.
		n, err := c.copyUnnamed(j)
		if err == nil {
			return true, c.written(j, ch, n)
		}
		if err != errNoTmpfile {
			return false, err
		}
	}
	n, err := c.viaTemp(j)
	if err != nil {
		return false, err
	}
	return true, c.written(j, ch, n)
}

// viaTemp makes j's copy under a temp name beside its destination and
// renames it into place.
func (c *copier) viaTemp(j job) (n int64, err error) {
	mode := j.fi.Mode()
	var tmp string
	switch {
	case mode.IsRegular():
		// Content and metadata go through the open files; the temp name
		// is renamed below, as for every other entry type.
		tmp, n, err = c.copyFile(j)
		if err != nil {
			return 0, err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(j.src)
		if err != nil {
			return 0, sourceError("readlink", j.src, err)
		}
		if tmp, err = withTempName(j.dst, func(tmp string) error { return os.Symlink(target, tmp) }); err != nil {
			return 0, pathError("symlink", j.dst, err)
		}
	default:
		if tmp, err = withTempName(j.dst, func(tmp string) error { return mknod(tmp, j.fi) }); err != nil {
			return 0, pathError("mknod", j.dst, err)
		}
	}
	if !mode.IsRegular() {
		if err := c.meta(j.src, tmp, j.fi); err != nil {
			os.Remove(tmp)
			return 0, vanishedOr(j.src, renamed(err, tmp, j.dst))
		}
	}
	if err := c.replace(tmp, j.dst, j.rel, j.parent); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}

// written counts and reports the entry j, whose copy is in place with n
// bytes of content, and verifies it if asked.
func (c *copier) written(j job, ch Change, n int64) error {
	j.parent.touch()
	c.count(ch.Type, n)
	if p := c.opts.Progress; p != nil && ch.Type == File {
		p.Copied.Add(n)
	}
	ch.Bytes = n
	c.report(c.withTarget(ch, j.src))
	if c.opts.Verify && ch.Type == File {
		return verify(j.src, j.dst)
	}
	return nil
}

// count counts an entry of type typ copied (or, in a dry run, that would
// be) with n bytes of content.
func (c *copier) count(typ EntryType, n int64) {
	switch typ {
	case File:
		c.files.Add(1)
		c.bytes.Add(n)
	case Symlink:
		c.syms.Add(1)
	default:
		c.spec.Add(1)
	}
}

// withTarget gives a symlink's change its target, when changes are
// reported.
func (c *copier) withTarget(ch Change, src string) Change {
	if ch.Type == Symlink && c.opts.OnChange != nil {
		ch.Target, _ = os.Readlink(src)
	}
	return ch
}

// dataSize is the data a regular file holds: its allocated size, but no
// more than its length (a sparse file's holes are not copied).
func dataSize(s *unixStat) int64 {
	return min(int64(s.Blocks)*512, s.Size)
}

// replace renames tmp to dst. A directory at dst (the source changed
// type since the last copy) is replaced when empty, or with Delete; one
// holding files the source does not have is otherwise kept and reported,
// as cp -a and rsync do, never deleted with its content.
func (c *copier) replace(tmp, dst, rel string, parent *dirMeta) error {
	err := rename(tmp, dst)
	if isDirError(err) {
		rerr := rmdir(dst)
		switch {
		case rerr == nil:
			err = rename(tmp, dst)
		case isNotEmpty(rerr) && c.opts.Delete:
			dir, derr := openDstPath(filepath.Dir(dst))
			if derr != nil {
				return pathError("open", filepath.Dir(dst), derr)
			}
			ok := c.remove(dir, dst, rel, true, parent)
			dir.close()
			if !ok {
				return pathError("replace", dst, errors.New("directory not emptied (the source has a non-directory there)"))
			}
			err = rename(tmp, dst)
		case isNotEmpty(rerr):
			return pathError("replace", dst, errors.New("a non-empty directory in the copy: kept (the source now has a non-directory there; --delete replaces it)"))
		}
	}
	if err != nil {
		return pathError("rename into place", dst, err)
	}
	return nil
}

var (
	tempSeq atomic.Uint64
	pid     = strconv.Itoa(os.Getpid())
)

// tempName returns a name beside dst, short enough for a 255-byte final
// name's directory.
func tempName(dst string) string {
	dir, _ := parentPath(dst)
	return joinPath(dir, TempPrefix+pid+"-"+strconv.FormatUint(tempSeq.Add(1), 10))
}

// withTempName calls make with temp names beside dst until one is free
// (a source may hold an entry of that very name), returning it.
func withTempName(dst string, make func(tmp string) error) (string, error) {
	for {
		tmp := tempName(dst)
		err := make(tmp)
		if !errors.Is(err, fs.ErrExist) {
			return tmp, err
		}
	}
}

// sameContent reports whether j's destination exists and already holds
// what its source does: for a regular file the same size and mtime (or,
// with Options.Checksum, content); for a symlink the same target; for a
// FIFO, socket or device the same type and device number. dst is the
// destination's lstat.
func (c *copier) sameContent(j job) (same bool, dst unixStat, exists bool, err error) {
	if err := c.lstatDst(j, &dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, dst, false, nil
		}
		return false, dst, false, pathError("lstat", j.dst, err)
	}
	s := j.fi.Sys().(*unixStat)
	if fileType(&dst) != fileType(s) {
		return false, dst, true, nil
	}
	switch {
	case j.fi.Mode().IsRegular():
		if dst.Size != s.Size {
			return false, dst, true, nil
		}
		if c.opts.Checksum {
			a, err := hashFile(j.src)
			if err != nil {
				return false, dst, true, sourceError("read", j.src, err)
			}
			b, err := hashFile(j.dst)
			return err == nil && bytes.Equal(a, b), dst, true, nil
		}
		return sameMtime(&dst, s), dst, true, nil
	case j.fi.Mode()&fs.ModeSymlink != 0:
		a, err := os.Readlink(j.src)
		if err != nil {
			return false, dst, true, sourceError("readlink", j.src, err)
		}
		b, err := os.Readlink(j.dst)
		return err == nil && a == b, dst, true, nil
	default:
		return dst.Rdev == s.Rdev, dst, true, nil
	}
}

// contentDiff says what differs between an entry and its existing copy
// whose content is to be replaced; sameContent is what sameContent found
// (true only for a hardlink split).
func (c *copier) contentDiff(s, dst *unixStat, sameContent bool) What {
	var w What
	if fileType(s) != fileType(dst) {
		return Content
	}
	if fileType(s) != typeReg || c.opts.Checksum {
		w |= Content // a symlink's target, a device's number; or a checksum
	}
	if sameContent {
		w &^= Content
	}
	if s.Size != dst.Size {
		w |= Size
	}
	return w | c.attrDiff(s, dst)
}

// attrDiff says which of mode, owner and mtime differ.
func (c *copier) attrDiff(s, dst *unixStat) What {
	var w What
	if !sameMtime(s, dst) {
		w |= Times
	}
	if fileType(s) != typeSymlink && s.Mode&0o7777 != dst.Mode&0o7777 {
		w |= Perms
	}
	if c.root && s.Uid != dst.Uid {
		w |= Owner
	}
	if c.root && s.Gid != dst.Gid {
		w |= Group
	}
	return w
}

// metaDiff says how the metadata of a copy whose content is up to date,
// with lstat dst, differs from its source's, s: mode, owner (if root) or
// mtime, all in the stats already taken, and xattrs — compared only when
// the source's inode changed (ctime) after the copy's last did, since the
// copy's ctime is when it was last written, so a later source ctime means
// a chmod, chown or xattr change since. top says dst is a top of the
// copy, whose own extra xattrs are left.
func (c *copier) metaDiff(s, dst *unixStat, src, dstPath string, top bool) What {
	w := c.attrDiff(s, dst)
	if ctimeAfter(s, dst) && xattrsDiffer(src, dstPath, !top) {
		w |= Xattrs
	}
	return w
}

// hardlinks finds the entries that are further names of a file already
// being copied: those become links once every copy is done.
type hardlinks struct {
	mu    sync.Mutex
	seen  map[[2]uint64]*firstName // (dev, inode) → its first name met
	links []link
}

// firstName is the destination of the name of a file copied; written
// reports that it was (or, in a dry run, would be) written, not skipped,
// so that its other names need linking again.
type firstName struct {
	dst, rel string
	written  bool
}

type link struct {
	first    *firstName
	dst, rel string
	typ      EntryType
	parent   *dirMeta
}

// later reports whether j is another name of a file met before, recording
// the link to make; the first name met is copied.
func (h *hardlinks) later(j job) bool {
	key, ok := linkKey(j)
	if !ok {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if first, ok := h.seen[key]; ok {
		h.links = append(h.links, link{first, j.dst, j.rel, typeOf(j.fi.Mode()), j.parent})
		return true
	}
	h.seen[key] = &firstName{dst: j.dst, rel: j.rel}
	return false
}

// written records that j, a first name, was written.
func (h *hardlinks) written(j job) {
	if key, ok := linkKey(j); ok {
		h.mu.Lock()
		h.seen[key].written = true
		h.mu.Unlock()
	}
}

// linkKey is the identity of j's source if it has more than one name:
// files, symlinks, FIFOs and devices alike (cp -a keeps all as one).
func linkKey(j job) ([2]uint64, bool) {
	st, ok := j.fi.Sys().(*unixStat)
	if !ok || st.Nlink < 2 || j.fi.IsDir() {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true
}

// dstLinks finds copies that share an inode although their sources no
// longer do (a hardlink split in the source since the last run): each
// copy with more than one name is recorded with its source's identity,
// and a second source met for the same copy is split off.
type dstLinks struct {
	mu sync.Mutex
	m  map[[2]uint64][2]uint64 // copy's (dev, inode) → source's
}

// split reports whether the up-to-date copy dst of s must be copied anew
// to stop sharing its inode with the copy of another source.
func (l *dstLinks) split(s, dst *unixStat) bool {
	if dst.Nlink < 2 {
		return false
	}
	key, src := [2]uint64{uint64(dst.Dev), uint64(dst.Ino)}, [2]uint64{uint64(s.Dev), uint64(s.Ino)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.m[key]; ok {
		return prev != src
	}
	l.m[key] = src
	return false
}

// sameFile reports whether a and b are names of one file.
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

// hardlink makes dst another name for first, atomically replacing dst.
func hardlink(first, dst string) error {
	tmp, err := withTempName(dst, func(tmp string) error { return os.Link(first, tmp) })
	if err != nil {
		return pathError("link", dst, unwrapErrno(err))
	}
	if err := rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return pathError("rename into place", dst, err)
	}
	return nil
}

func hashFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// ErrVerify is returned, wrapped, for a copy whose content differs from
// its source's when Options.Verify reads both back.
var ErrVerify = errors.New("content differs from the source (SHA-256)")

func verify(src, dst string) error {
	a, err := hashFile(src)
	if err != nil {
		return sourceError("verify", src, err)
	}
	b, err := hashFile(dst)
	if err != nil {
		return pathError("verify", dst, err)
	}
	if !bytes.Equal(a, b) {
		return pathError("verify", dst, ErrVerify)
	}
	return nil
}

// renamed replaces, in err's message, the temp name tmp by dst.
func renamed(err error, tmp, dst string) error {
	var pe *PathError
	if errors.As(err, &pe) && pe.Path == tmp {
		return &PathError{Op: pe.Op, Path: dst, Err: pe.Err}
	}
	return err
}

// isNoSpace reports whether err is a full disk or quota.
func isNoSpace(err error) bool { return isENOSPC(err) }
