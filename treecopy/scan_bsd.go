//go:build darwin || freebsd

package treecopy

import (
	"os"
	"strings"
)

// scan returns the directory's entries named like temp files and, with
// all, every entry.
func (d dstDir) scan(all bool) ([]dent, error) {
	f, err := os.Open(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	var out []dent
	for _, e := range ents {
		if all || strings.HasPrefix(e.Name(), TempPrefix) {
			out = append(out, dent{name: e.Name(), dir: e.IsDir()})
		}
	}
	return out, err
}
