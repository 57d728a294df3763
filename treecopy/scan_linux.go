package treecopy

import (
	"bytes"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// scan returns the directory's entries named like temp files and, with
// all, every entry. The names are found in the raw directory records, so
// that a rerun over thousands of directories allocates nothing for names
// it keeps.
func (d dstDir) scan(all bool) ([]dent, error) {
	if _, err := unix.Seek(d.fd, 0, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, 16<<10)
	prefix := []byte(TempPrefix)
	var out []dent
	for {
		n, err := unix.Getdents(d.fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return out, err
		}
		if n <= 0 {
			return out, nil
		}
		// struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
		for rec := buf[:n]; len(rec) >= 19; {
			reclen := int(*(*uint16)(unsafe.Pointer(&rec[16])))
			if reclen < 19 || reclen > len(rec) {
				break
			}
			name := rec[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			typ := rec[18]
			rec = rec[reclen:]
			if !all && !bytes.HasPrefix(name, prefix) || string(name) == "." || string(name) == ".." {
				continue
			}
			e := dent{name: string(name), dir: typ == unix.DT_DIR}
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if unix.Fstatat(d.fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
					e.dir = st.Mode&unix.S_IFMT == unix.S_IFDIR
				}
			}
			out = append(out, e)
		}
	}
}
