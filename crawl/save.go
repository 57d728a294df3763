package crawl

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"

	"github.com/crewrun/crew/fetch"
)

// mirror keeps page bodies under a directory (Config.Save) at the paths
// Config.Layout gives, as wget -r does. All file work goes through an
// os.Root, so nothing is written outside the directory, even through a
// symbolic link placed in it. Bodies are written to a temporary name and
// renamed, so a file is either whole or absent; a resumed crawl keeps the
// files already there (its in-flight pages are fetched again, not saved
// again), a new crawl replaces them.
type mirror struct {
	root      *os.Root
	layout    fetch.Layout
	overwrite bool
}

func openMirror(dir string, layout fetch.Layout, fresh bool) (*mirror, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("crawl: save: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("crawl: save: %w", err)
	}
	return &mirror{root: root, layout: layout, overwrite: fresh}, nil
}

func (m *mirror) close() { m.root.Close() }

// save writes the body of the page at u and returns its path under the
// directory (slash-separated).
func (m *mirror) save(u string, body []byte) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	p, err := m.layout.Path(pu)
	if err != nil {
		return "", err
	}
	if !m.overwrite {
		if _, err := m.root.Stat(p); err == nil {
			return p, nil
		}
	}
	if dir := path.Dir(p); dir != "." {
		if err := m.root.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := p + ".crew-" + hex.EncodeToString(rnd[:])
	f, err := m.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, werr := f.Write(body)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		if info, err := m.root.Stat(p); err == nil && info.IsDir() {
			werr = fmt.Errorf("%s is a directory (another URL's path goes through it)", p)
		} else {
			werr = m.root.Rename(tmp, p)
		}
	}
	if werr != nil {
		m.root.Remove(tmp)
		if errors.Is(werr, fs.ErrExist) || errors.Is(werr, fs.ErrInvalid) {
			return "", fmt.Errorf("%s: %w", p, werr)
		}
		return "", werr
	}
	return p, nil
}
