//go:build linux

package treecopy

// NoTmpfile makes Copy write every file under a temp name, as where the
// kernel or file system has no O_TMPFILE; it returns the undo.
func NoTmpfile() (undo func()) {
	tmpfile = false
	return func() { tmpfile = true }
}

// NoEmptyPath makes Copy link unnamed files by their /proc name, as it
// does when not root; it returns the undo.
func NoEmptyPath() (undo func()) {
	emptyPath = false
	return func() { emptyPath = true }
}

// Fsyncs is the number of fsyncs made so far.
func Fsyncs() int64 { return fsyncs.Load() }

// BeforeDir sets a function called by the walk before it reads each
// source directory; it returns the undo.
func BeforeDir(f func(src string)) (undo func()) {
	beforeDir = f
	return func() { beforeDir = nil }
}

// BeforeEntry sets a function called in a worker before each entry's lstat
// (to make a source vanish, say); it returns the undo.
func BeforeEntry(f func(src string)) (undo func()) {
	beforeEntry = f
	return func() { beforeEntry = nil }
}

// BeforeDelete sets a function called before each entry that Delete
// removes is opened or removed; it returns the undo.
func BeforeDelete(f func(path string)) (undo func()) {
	beforeDelete = f
	return func() { beforeDelete = nil }
}

// OnFsync sets a function called with the path of each directory that
// Fsync syncs; it returns the undo.
func OnFsync(f func(path string)) (undo func()) {
	onFsync = f
	return func() { onFsync = nil }
}
