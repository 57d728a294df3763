//go:build !linux && !darwin && !freebsd

package treecopy

import (
	"context"
	"fmt"
	"runtime"
)

// CopyTrees copies several trees in one run; see the Linux build. Here it
// refuses: the copier's file-system calls (*at lookups, xattrs, device
// numbers, flock) are those of Linux, macOS and FreeBSD, and a copy that
// silently dropped some of what cp -a keeps would be worse than none.
func CopyTrees(ctx context.Context, trees []Tree, opts Options) (Stats, error) {
	return Stats{}, fmt.Errorf("%w (%s): crew copy runs on Linux, macOS and FreeBSD", ErrUnsupported, runtime.GOOS)
}
