//go:build linux

package run

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// niceness converts getpriority(2)'s raw value (20 - nice on Linux).
func niceness(raw int) int { return 20 - raw }

func limitsSupported() error { return nil }

// runningProcesses counts the threads running or waiting for a disk
// right now (state R or D), kernel threads left out, less one for the
// counting itself: GNU parallel's --load measure (it runs ps axH).
func runningProcesses() (int, error) {
	tasks, err := filepath.Glob("/proc/[0-9]*/task/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			continue
		}
		if s := b[i+2]; s != 'R' && s != 'D' {
			continue
		}
		// kernel threads have an empty command line
		pid := strings.Split(t, "/")[2]
		if cmd, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && len(cmd) > 0 {
			n++
		}
	}
	return max(n-1, 0), nil
}

// freeMemory is what GNU parallel counts as free: MemFree, Buffers,
// Cached and SwapCached of /proc/meminfo.
func freeMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var sum int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, rest, ok := strings.Cut(s.Text(), ":")
		switch name {
		case "MemFree", "Buffers", "Cached", "SwapCached":
		default:
			continue
		}
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) > 0 {
			v, _ := strconv.ParseInt(fields[0], 10, 64)
			sum += v
		}
	}
	return sum * 1024, s.Err()
}

// CPUs counts this machine's CPUs as GNU parallel does: sockets
// (physical packages), cores (distinct thread-sibling sets) and threads,
// each at most the CPUs this process may run on.
var CPUs = sync.OnceValue(func() CPUCount {
	active := runtime.NumCPU()
	sockets, cores := map[string]bool{}, map[string]bool{}
	threads := 0
	for ; ; threads++ {
		dir := "/sys/devices/system/cpu/cpu" + strconv.Itoa(threads) + "/topology/"
		pkg, err1 := os.ReadFile(dir + "physical_package_id")
		sib, err2 := os.ReadFile(dir + "thread_siblings")
		if err1 != nil || err2 != nil {
			break
		}
		sockets[string(pkg)] = true
		cores[string(sib)] = true
	}
	c := CPUCount{Sockets: len(sockets), Cores: len(cores), Threads: threads}
	if threads == 0 {
		c = CPUCount{1, active, active}
	}
	c.Sockets = max(min(c.Sockets, active), 1)
	c.Cores = max(min(c.Cores, active), 1)
	c.Threads = max(min(c.Threads, active), 1)
	return c
})

// commandLineLimit is the longest line GNU parallel's probe runs: the
// shell gets "echo ccc… && true" as one argument, which Linux allows up
// to MAX_ARG_STRLEN (32 pages) with its NUL.
func commandLineLimit() int {
	limit := 32 * syscall.Getpagesize()
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_STACK, &rl) == nil && rl.Cur/4 < uint64(limit) && rl.Cur/4 >= 131072 {
		limit = int(rl.Cur / 4)
	}
	return limit - 9
}

// parentShell is the shell this process was started from: the nearest
// ancestor whose program is a shell, as GNU parallel looks for it.
func parentShell() string {
	pid := os.Getppid()
	for depth := 0; pid > 1 && depth < 64; depth++ {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			return ""
		}
		argv0, _, _ := bytes.Cut(cmd, []byte{0})
		name := strings.TrimPrefix(filepath.Base(string(argv0)), "-")
		if knownShells[name] {
			if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil {
				if knownShells[filepath.Base(exe)] {
					return exe
				}
			}
			if p, err := lookPathOnce(name); err == nil {
				return p
			}
			return ""
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return ""
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			return ""
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return ""
}
