package treecopy

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// readUmask reads the umask from /proc/self/status, which shows it
// without changing it (umask(2) can only set it).
func readUmask() uint32 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o777
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(m)
			}
		}
	}
	return 0o777
}
