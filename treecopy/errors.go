package treecopy

import (
	"errors"
	"io/fs"
	"os"
)

// PathError is an error about one entry of the copy, named by the path
// the user knows (never by a temp name), quoted as ls quotes it.
type PathError struct {
	Op   string
	Path string
	Err  error
}

func (e *PathError) Error() string { return e.Op + " " + Quote(e.Path) + ": " + e.Err.Error() }
func (e *PathError) Unwrap() error { return e.Err }

// pathError is a PathError whose Err is the bare cause: an fs.PathError
// or os.LinkError inside (naming some other path) is unwrapped.
func pathError(op, path string, err error) error {
	var pe *PathError
	if errors.As(err, &pe) {
		return err
	}
	return &PathError{Op: op, Path: path, Err: unwrapErrno(err)}
}

// vanishedError is a source entry that no longer exists.
type vanishedError struct{ path string }

func (e *vanishedError) Error() string { return "vanished: " + Quote(e.path) }
func (e *vanishedError) Unwrap() error { return fs.ErrNotExist }

// sourceError is pathError for an error reading the source entry path;
// one that is gone vanished.
func sourceError(op, path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &vanishedError{path}
	}
	return pathError(op, path, err)
}

// vanishedOr is err, or a vanishedError if the source src no longer
// exists (an error reading its metadata came from its going).
func vanishedOr(src string, err error) error {
	if _, serr := os.Lstat(src); errors.Is(serr, fs.ErrNotExist) {
		return &vanishedError{src}
	}
	return err
}

// unwrapErrno returns the cause inside an fs.PathError, os.LinkError or
// os.SyscallError.
func unwrapErrno(err error) error {
	for {
		switch e := err.(type) {
		case *fs.PathError:
			err = e.Err
		case *os.LinkError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}
