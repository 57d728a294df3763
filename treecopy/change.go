package treecopy

import "io/fs"

// Change is one change Copy made, or would make in a dry run.
type Change struct {
	// Path is the entry's slash-separated path below the transfer root
	// (the Tree's Rel first); "" is the top of a tree copied by its
	// contents.
	Path string
	Type EntryType
	Op   Op
	What What  // for Updated and MetaOnly: what differed
	Size int64 // a regular file's size
	// Bytes is the content written (to be written, in a dry run).
	Bytes int64
	// Target is a symlink's target or, for Linked, the path of the name
	// the entry was linked to.
	Target string
}

// EntryType is the kind of an entry, as rsync's itemized output letters it.
type EntryType byte

// The entry types.
const (
	File    EntryType = 'f'
	Dir     EntryType = 'd'
	Symlink EntryType = 'L'
	Device  EntryType = 'D' // character or block device
	Special EntryType = 'S' // FIFO or socket
)

func typeOf(m fs.FileMode) EntryType {
	switch {
	case m.IsRegular():
		return File
	case m.IsDir():
		return Dir
	case m&fs.ModeSymlink != 0:
		return Symlink
	case m&fs.ModeDevice != 0:
		return Device
	default:
		return Special
	}
}

// Op is what a Change did.
type Op uint8

// The operations.
const (
	Created  Op = iota + 1 // a new entry
	Updated                // content (or a symlink's target, a device's number, the type) replaced
	MetaOnly               // mode, owner, times or xattrs updated; content up to date
	Linked                 // made another name of a file copied (a hardlink)
	Deleted                // removed by Options.Delete
)

// What says which parts of an entry differed.
type What uint16

// The parts.
const (
	Content What = 1 << iota // contents (with Checksum), a symlink's target, a device's number
	Size
	Times // modification time
	Perms
	Owner
	Group
	Xattrs
)

// Itemized returns the change in the 11-character form of rsync's
// --itemize-changes ("YXcstpoguax"): ">f+++++++++" for a new file,
// ".f...p....." for a file whose mode alone changed, "*deleting  " for a
// deletion, and so on.
func (c Change) Itemized() string {
	if c.Op == Deleted {
		return "*deleting  "
	}
	b := []byte("...........")
	switch {
	case c.Op == Linked:
		b[0] = 'h'
	case c.Op == MetaOnly:
		b[0] = '.'
	case c.Type == File:
		b[0] = '>'
	default:
		b[0] = 'c' // made locally: directories, symlinks, devices, specials
	}
	b[1] = byte(c.Type)
	if c.Op == Created || c.Op == Linked {
		copy(b[2:], "+++++++++")
		return string(b)
	}
	for i, w := range []What{Content, Size, Times, Perms, Owner, Group, 0, 0, Xattrs} {
		if w != 0 && c.What&w != 0 {
			b[2+i] = "cstpog..x"[i]
		}
	}
	return string(b)
}
