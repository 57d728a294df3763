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
