//go:build darwin || freebsd

package treecopy

// readUmask is unknown here: every copy is created 0600 and chmodded.
func readUmask() uint32 { return 0o777 }
