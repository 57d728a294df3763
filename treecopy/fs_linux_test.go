package treecopy

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// lstatAt must describe every kind of entry exactly as os.Lstat does.
func TestLstatAtMatchesOS(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), []byte("content"), 0o640))
	must(os.Chmod(filepath.Join(dir, "file"), 0o4755|os.ModeSetgid))
	must(os.Mkdir(filepath.Join(dir, "dir"), 0o1777))
	must(os.Chmod(filepath.Join(dir, "dir"), 0o777|os.ModeSticky))
	must(os.Symlink("file", filepath.Join(dir, "link")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	must(err)
	defer l.Close()
	names := []string{"file", "dir", "link", "fifo", "sock"}
	if os.Geteuid() == 0 {
		must(unix.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(unix.Mknod(filepath.Join(dir, "loop"), syscall.S_IFBLK|0o660, int(unix.Mkdev(7, 200))))
		names = append(names, "null", "loop")
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	must(err)
	defer unix.Close(fd)
	for _, name := range names {
		want, err := os.Lstat(filepath.Join(dir, name))
		must(err)
		got, err := lstatAt(fd, name)
		must(err)
		if got.Name() != want.Name() || got.Mode() != want.Mode() || got.Size() != want.Size() ||
			!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() ||
			*got.Sys().(*unixStat) != *want.Sys().(*unixStat) {
			t.Errorf("%s: lstatAt gives %v %v %d %v, os.Lstat %v %v %d %v", name,
				got.Name(), got.Mode(), got.Size(), got.ModTime(), want.Name(), want.Mode(), want.Size(), want.ModTime())
		}
	}
	if _, err := lstatAt(fd, "missing"); !os.IsNotExist(err) {
		t.Errorf("lstatAt of a missing name: %v, want not exist", err)
	}
}
